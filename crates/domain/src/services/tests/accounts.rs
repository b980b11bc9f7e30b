//! `Accounts`: registration, email confirmation and the administrator bootstrap.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::Duration;

use super::{
    clock, codes, ctx, generated, sample_user, storage_down, stored_hash, t0, user_from_new,
};
use crate::audit::{Actor, AuditAction};
use crate::mail::{MailKind, OutgoingMail};
use crate::ports::{
    ConfirmOutcome, CreateUserError, CreationEffects, MockPasswordHasher, MockSecretTokens,
    MockUserRepository,
};
use crate::role::RoleName;
use crate::services::{
    Accounts, AccountsConfig, AccountsPorts, BootstrapError, ConfirmError, NewAdmin, RegisterError,
    RegisterInput,
};
use crate::token::{TokenHash, TokenPurpose};
use crate::user::{NewUser, User, UserStatus, Username};

fn confirmation_ttl() -> Duration {
    Duration::hours(24)
}

pub(super) fn accounts(
    users: MockUserRepository,
    hasher: MockPasswordHasher,
    secrets: MockSecretTokens,
) -> Accounts {
    Accounts::new(
        AccountsPorts {
            users: Arc::new(users),
            hasher: Arc::new(hasher),
            secrets: Arc::new(secrets),
            clock: clock(),
        },
        AccountsConfig {
            confirmation_ttl: confirmation_ttl(),
            reset_ttl: Duration::hours(2),
        },
    )
}

/// A hasher that must hash exactly once (and never verify).
pub(super) fn hasher_hashing_once() -> MockPasswordHasher {
    let mut hasher = MockPasswordHasher::new();
    hasher
        .expect_hash()
        .times(1)
        .returning(|_| Ok(stored_hash()));
    hasher
}

/// A hasher that must not be used at all.
pub(super) fn hasher_never_called() -> MockPasswordHasher {
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().never();
    hasher
}

/// Secrets handing out `generated(0)`, `generated(1)`, ... in turn.
pub(super) fn secrets_in_turn() -> MockSecretTokens {
    let next = AtomicUsize::new(0);
    let mut secrets = MockSecretTokens::new();
    secrets
        .expect_generate()
        .returning(move || generated(next.fetch_add(1, Ordering::SeqCst)));
    secrets
}

type Created = Arc<Mutex<Vec<(NewUser, CreationEffects)>>>;

/// Records every `create`; answers with `failures` in turn, then stores successfully.
fn record_creates(users: &mut MockUserRepository, failures: Vec<CreateUserError>) -> Created {
    let created = Created::default();
    let seen = Arc::clone(&created);
    let mut failures = failures.into_iter();
    users.expect_create().returning(move |user, effects| {
        let stored = user_from_new(&user);
        seen.lock().unwrap().push((user, effects));
        failures.next().map_or(Ok(stored), Err)
    });
    created
}

/// Every username is free.
fn all_usernames_free(users: &mut MockUserRepository) {
    users.expect_username_exists().returning(|_| Ok(false));
}

/// Ada's registration, without a username.
fn ada() -> RegisterInput {
    RegisterInput {
        email: Some("ada@example.com".to_owned()),
        password: Some("Str0ng!pass".to_owned()),
        username: None,
        name: Some("Ada Lovelace".to_owned()),
    }
}

/// Registers Ada with the explicit username `ada_l`; returns the result and what was stored.
async fn register_ada_l() -> (User, NewUser, CreationEffects) {
    let mut users = MockUserRepository::new();
    let created = record_creates(&mut users, vec![]);
    let input = RegisterInput {
        username: Some("ada_l".to_owned()),
        ..ada()
    };
    let user = accounts(users, hasher_hashing_once(), secrets_in_turn())
        .register(input, &ctx())
        .await
        .unwrap();
    let mut created = created.lock().unwrap();
    assert_eq!(created.len(), 1, "one user is stored");
    let (new, effects) = created.remove(0);
    (user, new, effects)
}

fn field_codes(error: &RegisterError) -> Vec<(&str, &'static str)> {
    match error {
        RegisterError::Invalid(errors) => codes(&errors.0),
        other => panic!("expected field errors, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// register

#[tokio::test]
async fn a_valid_registration_hashes_the_password_once() {
    let mut users = MockUserRepository::new();
    let created = record_creates(&mut users, vec![]);
    let mut hasher = MockPasswordHasher::new();
    hasher
        .expect_hash()
        .withf(|password| password.expose() == "Str0ng!pass")
        .times(1)
        .returning(|_| Ok(stored_hash()));
    let input = RegisterInput {
        username: Some("ada_l".to_owned()),
        ..ada()
    };

    accounts(users, hasher, secrets_in_turn())
        .register(input, &ctx())
        .await
        .unwrap();

    let created = created.lock().unwrap();
    assert_eq!(
        created[0].0.password_hash,
        Some(stored_hash()),
        "the hash is what gets stored"
    );
}

#[tokio::test]
async fn a_valid_registration_stores_a_pending_unverified_user_with_the_user_role() {
    let (user, new, _) = register_ada_l().await;

    assert_eq!(new.status, UserStatus::Pending);
    assert!(!new.email_verified);
    assert_eq!(new.roles, vec![RoleName::user()]);
    assert_eq!(
        new.email.as_ref().map(|e| e.as_str()),
        Some("ada@example.com")
    );
    assert_eq!(new.username.as_str(), "ada_l");
    assert_eq!(new.name.as_ref().map(|n| n.as_str()), Some("Ada Lovelace"));
    assert_eq!(new.external_id, None);
    assert_eq!(new.created_at, t0());
    assert_eq!(user.id, new.id, "the stored user is handed back");
    assert_eq!(user.status, UserStatus::Pending);
}

#[tokio::test]
async fn a_registration_stores_a_confirmation_token_that_expires_after_the_ttl() {
    let (_, new, effects) = register_ada_l().await;

    let token = effects.token.expect("a confirmation token is stored");
    assert_eq!(token.purpose, TokenPurpose::EmailConfirmation);
    assert_eq!(token.expires_at, t0() + confirmation_ttl());
    assert_eq!(token.created_at, t0());
    assert_eq!(token.user_id, new.id);
    assert_eq!(
        token.hash,
        generated(0).hash,
        "only the hash of the secret is stored"
    );
    assert_eq!(
        token.email, new.email,
        "the token confirms the registered address"
    );
}

#[tokio::test]
async fn the_confirmation_mail_goes_to_the_address_with_the_generated_raw_token() {
    let (_, _, effects) = register_ada_l().await;

    assert_eq!(
        effects.mail,
        Some(OutgoingMail {
            to: "ada@example.com".to_owned(),
            to_name: Some("Ada Lovelace".to_owned()),
            kind: MailKind::Confirmation {
                token: generated(0).raw,
                expires_at: t0() + confirmation_ttl(),
            },
        })
    );
}

#[tokio::test]
async fn a_registration_records_a_user_created_audit_event() {
    let (_, new, effects) = register_ada_l().await;

    let audit = effects.audit;
    assert_eq!(audit.action, AuditAction::UserCreated);
    assert_eq!(audit.user_id, Some(new.id));
    assert_eq!(audit.actor, Actor::System);
    assert_eq!(audit.at, t0());
    assert_eq!(audit.ip, ctx().ip);
    assert_eq!(
        audit.details.get("via").map(String::as_str),
        Some("register")
    );
}

#[tokio::test]
async fn a_missing_email_and_a_weak_password_are_reported_together_without_hashing() {
    let input = RegisterInput {
        email: None,
        password: Some("abc".to_owned()),
        ..ada()
    };

    let error = accounts(
        MockUserRepository::new(),
        hasher_never_called(),
        MockSecretTokens::new(),
    )
    .register(input, &ctx())
    .await
    .unwrap_err();

    assert_eq!(
        field_codes(&error),
        vec![
            ("email", "required"),
            ("password", "too_short"),
            ("password", "missing_uppercase"),
            ("password", "missing_digit"),
            ("password", "missing_symbol"),
        ]
    );
}

#[tokio::test]
async fn every_broken_field_is_reported_at_once() {
    let input = RegisterInput {
        email: Some("not-an-address".to_owned()),
        password: None,
        username: Some("a b".to_owned()),
        name: Some("A".to_owned()),
    };

    let error = accounts(
        MockUserRepository::new(),
        hasher_never_called(),
        MockSecretTokens::new(),
    )
    .register(input, &ctx())
    .await
    .unwrap_err();

    assert_eq!(
        field_codes(&error),
        vec![
            ("email", "invalid_email"),
            ("username", "invalid_username"),
            ("name", "too_short"),
            ("password", "required"),
        ]
    );
}

#[tokio::test]
async fn registering_with_a_taken_email_reports_email_taken() {
    let mut users = MockUserRepository::new();
    all_usernames_free(&mut users);
    let created = record_creates(&mut users, vec![CreateUserError::EmailTaken]);

    let result = accounts(users, hasher_hashing_once(), secrets_in_turn())
        .register(ada(), &ctx())
        .await;

    assert!(
        matches!(result, Err(RegisterError::EmailTaken)),
        "{result:?}"
    );
    assert_eq!(
        created.lock().unwrap().len(),
        1,
        "a taken email is not retried"
    );
}

#[tokio::test]
async fn without_a_username_the_email_local_part_becomes_the_username() {
    let mut users = MockUserRepository::new();
    users
        .expect_username_exists()
        .withf(|u| u.key() == "ada")
        .times(1)
        .returning(|_| Ok(false));
    let created = record_creates(&mut users, vec![]);

    let user = accounts(users, hasher_hashing_once(), secrets_in_turn())
        .register(ada(), &ctx())
        .await
        .unwrap();

    assert_eq!(user.username.as_str(), "ada");
    assert_eq!(created.lock().unwrap()[0].0.username.as_str(), "ada");
}

#[tokio::test]
async fn a_derived_username_that_is_taken_gets_the_next_free_suffix() {
    let mut users = MockUserRepository::new();
    users
        .expect_username_exists()
        .returning(|u| Ok(u.key() == "ada"));
    record_creates(&mut users, vec![]);

    let user = accounts(users, hasher_hashing_once(), secrets_in_turn())
        .register(ada(), &ctx())
        .await
        .unwrap();

    assert_eq!(user.username.as_str(), "ada-2");
}

#[tokio::test]
async fn a_derived_username_drops_characters_a_username_cannot_hold() {
    let mut users = MockUserRepository::new();
    all_usernames_free(&mut users);
    record_creates(&mut users, vec![]);
    let input = RegisterInput {
        email: Some("ada+news@example.com".to_owned()),
        ..ada()
    };

    let user = accounts(users, hasher_hashing_once(), secrets_in_turn())
        .register(input, &ctx())
        .await
        .unwrap();

    assert_eq!(user.username.as_str(), "adanews");
}

#[tokio::test]
async fn a_crowded_derived_username_falls_back_to_a_random_suffix() {
    let mut users = MockUserRepository::new();
    users.expect_username_exists().returning(|_| Ok(true));
    record_creates(&mut users, vec![]);

    let user = accounts(users, hasher_hashing_once(), secrets_in_turn())
        .register(ada(), &ctx())
        .await
        .unwrap();

    let username = user.username.as_str();
    assert!(username.starts_with("ada-"), "{username}");
    assert!(Username::parse(username).is_ok(), "{username}");
}

#[tokio::test]
async fn a_crowded_long_derived_username_still_registers() {
    let mut users = MockUserRepository::new();
    users.expect_username_exists().returning(|_| Ok(true));
    record_creates(&mut users, vec![]);
    let input = RegisterInput {
        email: Some("abcdefghijklmnopqrstuvwxyz0123@example.com".to_owned()),
        ..ada()
    };

    let result = accounts(users, hasher_hashing_once(), secrets_in_turn())
        .register(input, &ctx())
        .await;

    let user = result.unwrap();
    assert!(
        user.username.as_str().starts_with("abcdefghij"),
        "{:?}",
        user.username
    );
}

#[tokio::test]
async fn a_derived_username_lost_to_a_concurrent_registration_is_retried_with_the_next_one() {
    let mut users = MockUserRepository::new();
    all_usernames_free(&mut users);
    let created = record_creates(&mut users, vec![CreateUserError::UsernameTaken]);

    let user = accounts(users, hasher_hashing_once(), secrets_in_turn())
        .register(ada(), &ctx())
        .await
        .unwrap();

    assert_eq!(user.username.as_str(), "ada-2");
    let created = created.lock().unwrap();
    let names: Vec<&str> = created
        .iter()
        .map(|(new, _)| new.username.as_str())
        .collect();
    assert_eq!(names, vec!["ada", "ada-2"]);
    // The retry's mail carries the secret whose hash the retry stores.
    let (_, effects) = &created[1];
    let token = effects.token.as_ref().unwrap();
    let Some(OutgoingMail {
        kind: MailKind::Confirmation { token: raw, .. },
        ..
    }) = &effects.mail
    else {
        panic!("the retry queues a confirmation mail");
    };
    let pair = (0..2)
        .map(generated)
        .find(|g| g.hash == token.hash)
        .unwrap();
    assert_eq!(raw, &pair.raw);
}

#[tokio::test]
async fn a_derived_username_that_keeps_losing_races_eventually_reports_username_taken() {
    let mut users = MockUserRepository::new();
    all_usernames_free(&mut users);
    let failures = (0..50).map(|_| CreateUserError::UsernameTaken).collect();
    let created = record_creates(&mut users, failures);

    let result = accounts(users, hasher_hashing_once(), secrets_in_turn())
        .register(ada(), &ctx())
        .await;

    assert!(
        matches!(result, Err(RegisterError::UsernameTaken)),
        "{result:?}"
    );
    let attempts = created.lock().unwrap().len();
    assert!(
        (2..=10).contains(&attempts),
        "retried a few times, not forever: {attempts}"
    );
}

#[tokio::test]
async fn an_explicit_username_that_is_taken_reports_username_taken_without_retrying() {
    let mut users = MockUserRepository::new();
    users.expect_username_exists().never();
    let created = record_creates(&mut users, vec![CreateUserError::UsernameTaken]);
    let input = RegisterInput {
        username: Some("ada_l".to_owned()),
        ..ada()
    };

    let result = accounts(users, hasher_hashing_once(), secrets_in_turn())
        .register(input, &ctx())
        .await;

    assert!(
        matches!(result, Err(RegisterError::UsernameTaken)),
        "{result:?}"
    );
    assert_eq!(created.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_password_equal_to_the_email_is_refused_as_same_as_identity() {
    let input = RegisterInput {
        email: Some("ada@example1.com".to_owned()),
        password: Some("Ada@Example1.com".to_owned()),
        ..ada()
    };

    let error = accounts(
        MockUserRepository::new(),
        hasher_never_called(),
        MockSecretTokens::new(),
    )
    .register(input, &ctx())
    .await
    .unwrap_err();

    assert_eq!(field_codes(&error), vec![("password", "same_as_identity")]);
}

#[tokio::test]
async fn a_password_equal_to_the_chosen_username_is_refused_as_same_as_identity() {
    let input = RegisterInput {
        username: Some("Ada.Love-1".to_owned()),
        password: Some("ADA.love-1".to_owned()),
        ..ada()
    };

    let error = accounts(
        MockUserRepository::new(),
        hasher_never_called(),
        MockSecretTokens::new(),
    )
    .register(input, &ctx())
    .await
    .unwrap_err();

    assert_eq!(field_codes(&error), vec![("password", "same_as_identity")]);
}

/// Ada registering as `Ada.Love-1@example.com`, whose derived username equals her password.
fn password_equal_to_derived_username() -> RegisterInput {
    RegisterInput {
        email: Some("Ada.Love-1@example.com".to_owned()),
        password: Some("ADA.love-1".to_owned()),
        ..ada()
    }
}

#[tokio::test]
async fn a_password_equal_to_the_derived_username_is_refused_as_same_as_identity() {
    let mut users = MockUserRepository::new();
    all_usernames_free(&mut users);
    users.expect_create().never();
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().returning(|_| Ok(stored_hash()));

    let error = accounts(users, hasher, secrets_in_turn())
        .register(password_equal_to_derived_username(), &ctx())
        .await
        .unwrap_err();

    assert_eq!(field_codes(&error), vec![("password", "same_as_identity")]);
}

#[tokio::test]
async fn a_password_equal_to_the_derived_username_is_refused_without_hashing() {
    let mut users = MockUserRepository::new();
    all_usernames_free(&mut users);
    users.expect_create().never();

    let result = accounts(users, hasher_never_called(), MockSecretTokens::new())
        .register(password_equal_to_derived_username(), &ctx())
        .await;

    assert!(
        matches!(result, Err(RegisterError::Invalid(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_hashing_failure_stores_nothing() {
    let mut users = MockUserRepository::new();
    users.expect_create().never();
    let mut hasher = MockPasswordHasher::new();
    hasher
        .expect_hash()
        .times(1)
        .returning(|_| Err(storage_down()));
    let input = RegisterInput {
        username: Some("ada_l".to_owned()),
        ..ada()
    };

    let result = accounts(users, hasher, MockSecretTokens::new())
        .register(input, &ctx())
        .await;

    assert!(matches!(result, Err(RegisterError::Infra(_))), "{result:?}");
}

// ---------------------------------------------------------------------------------------------
// confirm

/// Secrets that hash exactly `raw` to `hash-of-<raw>`.
pub(super) fn secrets_hashing(raw: &'static str) -> MockSecretTokens {
    let mut secrets = MockSecretTokens::new();
    secrets
        .expect_hash()
        .withf(move |presented| presented == raw)
        .times(1)
        .returning(|presented| TokenHash::new(format!("hash-of-{presented}")));
    secrets
}

/// A repository answering a confirmation of `hash-of-<raw>` with `outcome`.
fn users_confirming(raw: &str, outcome: ConfirmOutcome) -> MockUserRepository {
    let expected = TokenHash::new(format!("hash-of-{raw}"));
    let mut users = MockUserRepository::new();
    users
        .expect_confirm_email()
        .withf(move |hash, now, request| *hash == expected && *now == t0() && *request == ctx())
        .times(1)
        .returning(move |_, _, _| Ok(outcome.clone()));
    users
}

#[tokio::test]
async fn a_valid_token_confirms_the_email_and_returns_the_active_user() {
    let confirmed = sample_user(UserStatus::Active);
    let users = users_confirming(
        "the-token",
        ConfirmOutcome::Confirmed(Box::new(confirmed.clone())),
    );

    let user = accounts(users, hasher_never_called(), secrets_hashing("the-token"))
        .confirm("the-token", &ctx())
        .await
        .unwrap();

    assert_eq!(user, confirmed);
}

#[tokio::test]
async fn an_expired_token_reports_token_expired() {
    let users = users_confirming("the-token", ConfirmOutcome::Expired);

    let result = accounts(users, hasher_never_called(), secrets_hashing("the-token"))
        .confirm("the-token", &ctx())
        .await;

    assert!(
        matches!(result, Err(ConfirmError::TokenExpired)),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_unknown_or_used_token_reports_invalid_token() {
    let users = users_confirming("the-token", ConfirmOutcome::Invalid);

    let result = accounts(users, hasher_never_called(), secrets_hashing("the-token"))
        .confirm("the-token", &ctx())
        .await;

    assert!(
        matches!(result, Err(ConfirmError::InvalidToken)),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_empty_token_is_invalid_without_touching_the_repository() {
    let mut users = MockUserRepository::new();
    users.expect_confirm_email().never();
    let mut secrets = MockSecretTokens::new();
    secrets.expect_hash().never();

    let result = accounts(users, hasher_never_called(), secrets)
        .confirm("", &ctx())
        .await;

    assert!(
        matches!(result, Err(ConfirmError::InvalidToken)),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_ten_kilobyte_token_is_invalid_without_touching_the_repository() {
    let mut users = MockUserRepository::new();
    users.expect_confirm_email().never();
    let mut secrets = MockSecretTokens::new();
    secrets.expect_hash().never();
    let huge = "A".repeat(10 * 1024);

    let result = accounts(users, hasher_never_called(), secrets)
        .confirm(&huge, &ctx())
        .await;

    assert!(
        matches!(result, Err(ConfirmError::InvalidToken)),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_storage_failure_during_confirmation_is_an_infrastructure_error() {
    let mut users = MockUserRepository::new();
    users
        .expect_confirm_email()
        .times(1)
        .returning(|_, _, _| Err(storage_down()));

    let result = accounts(users, hasher_never_called(), secrets_hashing("the-token"))
        .confirm("the-token", &ctx())
        .await;

    assert!(matches!(result, Err(ConfirmError::Infra(_))), "{result:?}");
}

// ---------------------------------------------------------------------------------------------
// create_admin and bootstrap_admin

fn root() -> NewAdmin {
    NewAdmin {
        email: "root@example.com".to_owned(),
        username: None,
        password: "Adm1n!pass".to_owned(),
    }
}

#[tokio::test]
async fn bootstrap_does_nothing_when_an_active_admin_exists() {
    let mut users = MockUserRepository::new();
    users
        .expect_active_admin_exists()
        .times(1)
        .returning(|| Ok(true));
    users.expect_create().never();

    let created = accounts(users, hasher_never_called(), MockSecretTokens::new())
        .bootstrap_admin(root())
        .await
        .unwrap();

    assert_eq!(created, None);
}

#[tokio::test]
async fn bootstrap_creates_an_active_verified_admin_when_none_exists() {
    let mut users = MockUserRepository::new();
    users
        .expect_active_admin_exists()
        .times(1)
        .returning(|| Ok(false));
    all_usernames_free(&mut users);
    let created = record_creates(&mut users, vec![]);

    let admin = accounts(users, hasher_hashing_once(), MockSecretTokens::new())
        .bootstrap_admin(root())
        .await
        .unwrap()
        .expect("an admin is created");

    assert_eq!(admin.status, UserStatus::Active);
    assert!(admin.email_verified);
    assert_eq!(admin.roles, vec![RoleName::admin()]);
    assert_eq!(admin.username.as_str(), "root");
    let created = created.lock().unwrap();
    let (new, effects) = &created[0];
    assert_eq!(new.password_hash, Some(stored_hash()));
    assert!(
        effects.token.is_none(),
        "no confirmation token for a verified admin"
    );
    assert!(
        effects.mail.is_none(),
        "no confirmation mail for a verified admin"
    );
    assert_eq!(effects.audit.action, AuditAction::UserCreated);
    assert_eq!(effects.audit.actor, Actor::System);
    assert_eq!(effects.audit.user_id, Some(new.id));
}

#[tokio::test]
async fn bootstrap_uses_the_configured_username_when_given() {
    let mut users = MockUserRepository::new();
    users.expect_active_admin_exists().returning(|| Ok(false));
    users.expect_username_exists().never();
    record_creates(&mut users, vec![]);
    let admin = NewAdmin {
        username: Some("Operator".to_owned()),
        ..root()
    };

    let created = accounts(users, hasher_hashing_once(), MockSecretTokens::new())
        .bootstrap_admin(admin)
        .await
        .unwrap()
        .unwrap();

    assert_eq!(created.username.as_str(), "Operator");
}

#[tokio::test]
async fn bootstrap_with_a_weak_password_reports_the_field_rules_and_creates_nothing() {
    let mut users = MockUserRepository::new();
    users.expect_active_admin_exists().returning(|| Ok(false));
    users.expect_create().never();
    let admin = NewAdmin {
        password: "admin".to_owned(),
        ..root()
    };

    let result = accounts(users, hasher_never_called(), MockSecretTokens::new())
        .bootstrap_admin(admin)
        .await;

    let Err(BootstrapError::Invalid(errors)) = result else {
        panic!("{result:?}")
    };
    assert!(
        codes(&errors.0).contains(&("password", "too_short")),
        "{errors:?}"
    );
}

#[tokio::test]
async fn creating_an_admin_with_a_taken_email_says_the_email_is_taken() {
    let mut users = MockUserRepository::new();
    all_usernames_free(&mut users);
    record_creates(&mut users, vec![CreateUserError::EmailTaken]);

    let result = accounts(users, hasher_hashing_once(), MockSecretTokens::new())
        .create_admin(root(), Actor::System)
        .await;

    assert!(
        matches!(result, Err(BootstrapError::Taken("email"))),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_admin_password_equal_to_the_derived_username_is_refused() {
    let mut users = MockUserRepository::new();
    all_usernames_free(&mut users);
    users.expect_create().never();
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().returning(|_| Ok(stored_hash()));
    let admin = NewAdmin {
        email: "Adm1n-pass@example.com".to_owned(),
        username: None,
        password: "ADM1N-pass".to_owned(),
    };

    let result = accounts(users, hasher, MockSecretTokens::new())
        .create_admin(admin, Actor::System)
        .await;

    let Err(BootstrapError::Invalid(errors)) = result else {
        panic!("{result:?}")
    };
    assert_eq!(codes(&errors.0), vec![("password", "same_as_identity")]);
}
