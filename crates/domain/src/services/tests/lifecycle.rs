//! `Accounts`: resending the confirmation and resetting a password.

use std::sync::{Arc, Mutex};

use super::accounts::{
    accounts, hasher_hashing_once, hasher_never_called, secrets_hashing, secrets_in_turn,
};
use super::{codes, ctx, sample_user, stored_hash, t0};
use crate::audit::AuditAction;
use crate::mail::MailKind;
use crate::ports::{
    LoginKey, MockSecretTokens, MockUserRepository, ResetOutcome, StoredCredentials, TokenIssue,
};
use crate::services::ResetPasswordError;
use crate::token::{TokenHash, TokenPurpose};
use crate::user::{Email, User, UserStatus};

fn ada_email() -> Email {
    Email::parse("Ada@Example.com").unwrap()
}

/// A repository that finds `user` (or nobody) by Ada's address and records issued tokens.
fn users_finding(user: Option<User>) -> (MockUserRepository, Arc<Mutex<Vec<TokenIssue>>>) {
    let mut users = MockUserRepository::new();
    users
        .expect_find_for_login()
        .withf(|key| *key == LoginKey::Email("ada@example.com".to_owned()))
        .times(1)
        .returning(move |_| {
            Ok(user.clone().map(|user| StoredCredentials {
                user,
                password_hash: Some(stored_hash()),
            }))
        });
    let issued = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&issued);
    users.expect_issue_token().returning(move |issue| {
        seen.lock().unwrap().push(issue);
        Ok(())
    });
    (users, issued)
}

#[tokio::test]
async fn a_pending_account_gets_a_new_confirmation_mail_with_a_fresh_token() {
    let user = sample_user(UserStatus::Pending);
    let (users, issued) = users_finding(Some(user.clone()));
    accounts(users, hasher_never_called(), secrets_in_turn())
        .resend_confirmation(&ada_email(), &ctx())
        .await
        .unwrap();
    let issued = issued.lock().unwrap();
    assert_eq!(issued.len(), 1);
    let issue = &issued[0];
    assert_eq!(issue.token.purpose, TokenPurpose::EmailConfirmation);
    assert_eq!(issue.token.user_id, user.id);
    assert_eq!(issue.token.hash, TokenHash::new("hash-of-secret-0"));
    assert_eq!(issue.token.expires_at, t0() + chrono::Duration::hours(24));
    assert_eq!(issue.mail.to, "ada@example.com");
    assert_eq!(
        issue.mail.kind,
        MailKind::Confirmation {
            token: "raw-secret-0".to_owned(),
            expires_at: t0() + chrono::Duration::hours(24)
        }
    );
    assert_eq!(issue.audit.action, AuditAction::ConfirmationResent);
    assert_eq!(issue.audit.user_id, Some(user.id));
}

#[tokio::test]
async fn an_active_or_unknown_address_gets_no_confirmation_mail() {
    for found in [None, Some(sample_user(UserStatus::Active))] {
        let (users, issued) = users_finding(found);
        accounts(users, hasher_never_called(), MockSecretTokens::new())
            .resend_confirmation(&ada_email(), &ctx())
            .await
            .unwrap();
        assert!(issued.lock().unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_reset_request_mails_a_reset_token_valid_for_the_reset_ttl() {
    let user = sample_user(UserStatus::Active);
    let (users, issued) = users_finding(Some(user.clone()));
    accounts(users, hasher_never_called(), secrets_in_turn())
        .request_password_reset(&ada_email(), &ctx())
        .await
        .unwrap();
    let issued = issued.lock().unwrap();
    assert_eq!(issued.len(), 1);
    let issue = &issued[0];
    assert_eq!(issue.token.purpose, TokenPurpose::PasswordReset);
    assert_eq!(issue.token.expires_at, t0() + chrono::Duration::hours(2));
    assert!(matches!(issue.mail.kind, MailKind::PasswordReset { .. }));
    assert_eq!(issue.audit.action, AuditAction::PasswordResetRequested);
}

#[tokio::test]
async fn a_reset_request_for_an_unknown_or_deactivated_account_sends_nothing() {
    for found in [None, Some(sample_user(UserStatus::Deactivated))] {
        let (users, issued) = users_finding(found);
        accounts(users, hasher_never_called(), MockSecretTokens::new())
            .request_password_reset(&ada_email(), &ctx())
            .await
            .unwrap();
        assert!(issued.lock().unwrap().is_empty());
    }
}

fn users_owning_reset_token(owner: Option<User>) -> MockUserRepository {
    let mut users = MockUserRepository::new();
    users
        .expect_password_reset_owner()
        .withf(|hash, now| *hash == TokenHash::new("hash-of-reset") && *now == t0())
        .times(1)
        .returning(move |_, _| Ok(owner.clone()));
    users
}

#[tokio::test]
async fn a_valid_reset_token_sets_the_new_password_hash() {
    let user = sample_user(UserStatus::Active);
    let id = user.id;
    let mut users = users_owning_reset_token(Some(user));
    users
        .expect_reset_password()
        .withf(move |hash, owner, password_hash, _, audit| {
            *hash == TokenHash::new("hash-of-reset")
                && *owner == id
                && *password_hash == stored_hash()
                && audit.action == AuditAction::PasswordReset
        })
        .times(1)
        .returning(move |_, _, _, _, _| Ok(ResetOutcome::Reset(id)));
    accounts(users, hasher_hashing_once(), secrets_hashing("reset"))
        .reset_password("reset", "N3w!password", &ctx())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unknown_reset_token_is_invalid_and_hashes_nothing() {
    let users = users_owning_reset_token(None);
    let result = accounts(users, hasher_never_called(), secrets_hashing("reset"))
        .reset_password("reset", "N3w!password", &ctx())
        .await;
    assert!(matches!(result, Err(ResetPasswordError::InvalidToken)));
}

#[tokio::test]
async fn a_weak_new_password_lists_each_broken_rule() {
    let users = users_owning_reset_token(Some(sample_user(UserStatus::Active)));
    let result = accounts(users, hasher_never_called(), secrets_hashing("reset"))
        .reset_password("reset", "short", &ctx())
        .await;
    let Err(ResetPasswordError::Invalid(errors)) = result else {
        panic!("{result:?}");
    };
    let codes = codes(&errors.0);
    assert!(codes.contains(&("password", "too_short")), "{codes:?}");
    assert!(
        codes.contains(&("password", "missing_uppercase")),
        "{codes:?}"
    );
    assert!(codes.contains(&("password", "missing_digit")), "{codes:?}");
}

#[tokio::test]
async fn a_reset_token_used_meanwhile_is_invalid() {
    let user = sample_user(UserStatus::Active);
    let mut users = users_owning_reset_token(Some(user));
    users
        .expect_reset_password()
        .times(1)
        .returning(|_, _, _, _, _| Ok(ResetOutcome::Invalid));
    let result = accounts(users, hasher_hashing_once(), secrets_hashing("reset"))
        .reset_password("reset", "N3w!password", &ctx())
        .await;
    assert!(matches!(result, Err(ResetPasswordError::InvalidToken)));
}
