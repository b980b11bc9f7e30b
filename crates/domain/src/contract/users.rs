//! [`UserRepository`](crate::ports::UserRepository) checks: whole round trips, case-insensitive uniqueness under
//! concurrency, one transaction per call, single-use tokens.

use chrono::{DateTime, Duration, Utc};
use futures_util::future::join_all;

use super::{
    Check, Store, checks, due_mail, login_event, new_user, plain, session_for, t0,
    with_confirmation,
};
use crate::audit::{Actor, AuditAction, AuditEvent, RequestContext};
use crate::mail::{MailKind, OutgoingMail};
use crate::ports::{ConfirmOutcome, CreateUserError, LoginKey, ResetOutcome, TokenIssue};
use crate::role::RoleName;
use crate::token::{NewOneTimeToken, TokenHash, TokenPurpose};
use crate::user::{PasswordHash, UserId, UserStatus, Username};

/// Every [`UserRepository`](crate::ports::UserRepository) check, in order.
pub fn checks() -> Vec<Check> {
    checks![
        a_created_user_reads_back_whole,
        uniqueness_is_case_insensitive_and_a_refused_create_stores_nothing,
        concurrent_creates_of_one_email_store_exactly_one,
        a_confirmation_token_confirms_once,
        concurrent_confirmations_with_one_token_confirm_once,
        an_expired_confirmation_deletes_the_pending_account,
        an_active_admin_is_detected,
        an_issued_token_replaces_the_earlier_one_and_queues_its_mail,
        a_reset_token_sets_the_password_once_and_revokes_every_session,
        concurrent_resets_with_one_token_reset_once,
        an_expired_reset_token_changes_nothing,
        an_update_applies_its_fields_and_a_refused_one_changes_nothing,
        a_deleted_account_takes_its_sessions_and_tokens_along,
    ]
}

/// A created user reads back whole.
pub async fn a_created_user_reads_back_whole(s: Store) {
    let mut input = new_user("Ada@Example.com", "Ada_L", UserStatus::Pending);
    input.roles = vec![RoleName::parse("USER").unwrap(), RoleName::admin()];
    let created = s.users.create(input.clone(), plain(&input)).await.unwrap();
    assert_eq!(created.id, input.id);
    assert_eq!(created.email.as_ref().unwrap().as_str(), "Ada@Example.com");
    assert_eq!(created.username.as_str(), "Ada_L");
    assert_eq!(created.status, UserStatus::Pending);
    assert_eq!(
        created.roles,
        vec![RoleName::admin(), RoleName::user()],
        "roles sorted by name"
    );
    assert_eq!(
        created.created_at,
        t0(),
        "microseconds survive the round trip"
    );
    assert_eq!(created.login_count, 0);

    let found = s.users.find_by_id(input.id).await.unwrap().unwrap();
    assert_eq!(found, created);
    let by_email = s
        .users
        .find_for_login(&LoginKey::Email("ada@example.com".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_email.user.id, input.id);
    assert_eq!(by_email.password_hash.unwrap().as_str(), "$2b$04$hash");
    let by_name = s
        .users
        .find_for_login(&LoginKey::Username("ada_l".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_name.user.id, input.id);
    assert!(
        s.users
            .find_for_login(&LoginKey::Username("nobody".into()))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.users
            .username_exists(&Username::parse("ADA_L").unwrap())
            .await
            .unwrap()
    );
    assert!(
        !s.users
            .username_exists(&Username::parse("ada_m").unwrap())
            .await
            .unwrap()
    );
    assert!(
        s.users
            .find_by_id(UserId::generate())
            .await
            .unwrap()
            .is_none()
    );
}

/// Uniqueness is case insensitive and a refused create stores nothing.
pub async fn uniqueness_is_case_insensitive_and_a_refused_create_stores_nothing(s: Store) {
    let first = new_user("ada@example.com", "ada", UserStatus::Pending);
    s.users
        .create(
            first.clone(),
            with_confirmation(&first, "h1", t0() + Duration::days(1)),
        )
        .await
        .unwrap();

    let same_email = new_user("ADA@EXAMPLE.COM", "other", UserStatus::Pending);
    let err = s
        .users
        .create(
            same_email.clone(),
            with_confirmation(&same_email, "h2", t0()),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, CreateUserError::EmailTaken), "{err:?}");

    let same_name = new_user("other@example.com", "ADA", UserStatus::Pending);
    let err = s
        .users
        .create(same_name.clone(), with_confirmation(&same_name, "h3", t0()))
        .await
        .unwrap_err();
    assert!(matches!(err, CreateUserError::UsernameTaken), "{err:?}");

    let mut ext1 = new_user("e1@example.com", "ext1", UserStatus::Active);
    ext1.external_id = Some("bot-42".into());
    s.users.create(ext1.clone(), plain(&ext1)).await.unwrap();
    let mut ext2 = new_user("e2@example.com", "ext2", UserStatus::Active);
    ext2.external_id = Some("bot-42".into());
    let err = s
        .users
        .create(ext2.clone(), plain(&ext2))
        .await
        .unwrap_err();
    assert!(matches!(err, CreateUserError::ExternalIdTaken), "{err:?}");

    // The refused creations left no user, no mail, no token behind.
    assert!(s.users.find_by_id(same_email.id).await.unwrap().is_none());
    assert!(s.users.find_by_id(same_name.id).await.unwrap().is_none());
    let queued = due_mail(&s, t0()).await;
    assert_eq!(
        queued.len(),
        1,
        "only the first registration's mail is queued"
    );
    assert_eq!(queued[0].mail.to, "ada@example.com");
    let outcome = s
        .users
        .confirm_email(&TokenHash::new("h2"), t0(), &RequestContext::default())
        .await
        .unwrap();
    assert_eq!(outcome, ConfirmOutcome::Invalid);
}

/// Concurrent creates of one email store exactly one.
pub async fn concurrent_creates_of_one_email_store_exactly_one(s: Store) {
    let users = s.users.clone();
    let attempts = (0..8).map(|i| {
        let users = users.clone();
        async move {
            let user = new_user(
                &format!("RACE@example.com{}", ""),
                &format!("racer{i}"),
                UserStatus::Pending,
            );
            users.create(user.clone(), plain(&user)).await
        }
    });
    let results = join_all(attempts).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let taken = results
        .iter()
        .filter(|r| matches!(r, Err(CreateUserError::EmailTaken)))
        .count();
    assert_eq!((ok, taken), (1, 7), "{results:?}");
}

/// A confirmation token confirms once.
pub async fn a_confirmation_token_confirms_once(s: Store) {
    let user = new_user("ada@example.com", "ada", UserStatus::Pending);
    s.users
        .create(
            user.clone(),
            with_confirmation(&user, "tok", t0() + Duration::hours(24)),
        )
        .await
        .unwrap();
    let ctx = RequestContext::default();
    let ConfirmOutcome::Confirmed(confirmed) = s
        .users
        .confirm_email(&TokenHash::new("tok"), t0() + Duration::hours(1), &ctx)
        .await
        .unwrap()
    else {
        panic!("expected confirmation");
    };
    assert_eq!(confirmed.status, UserStatus::Active);
    assert!(confirmed.email_verified);
    assert_eq!(confirmed.updated_at, t0() + Duration::hours(1));
    let again = s
        .users
        .confirm_email(&TokenHash::new("tok"), t0() + Duration::hours(1), &ctx)
        .await
        .unwrap();
    assert_eq!(again, ConfirmOutcome::Invalid);
}

/// Concurrent confirmations with one token confirm once.
pub async fn concurrent_confirmations_with_one_token_confirm_once(s: Store) {
    let user = new_user("ada@example.com", "ada", UserStatus::Pending);
    s.users
        .create(
            user.clone(),
            with_confirmation(&user, "tok", t0() + Duration::hours(24)),
        )
        .await
        .unwrap();
    let users = s.users.clone();
    let attempts = (0..6).map(|_| {
        let users = users.clone();
        async move {
            users
                .confirm_email(&TokenHash::new("tok"), t0(), &RequestContext::default())
                .await
                .unwrap()
        }
    });
    let outcomes = join_all(attempts).await;
    let confirmed = outcomes
        .iter()
        .filter(|o| matches!(o, ConfirmOutcome::Confirmed(_)))
        .count();
    assert_eq!(confirmed, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, ConfirmOutcome::Confirmed(_) | ConfirmOutcome::Invalid))
    );
}

/// An expired confirmation deletes the pending account.
pub async fn an_expired_confirmation_deletes_the_pending_account(s: Store) {
    let user = new_user("ada@example.com", "ada", UserStatus::Pending);
    let expires = t0() + Duration::hours(24);
    s.users
        .create(user.clone(), with_confirmation(&user, "tok", expires))
        .await
        .unwrap();
    let outcome = s
        .users
        .confirm_email(&TokenHash::new("tok"), expires, &RequestContext::default())
        .await
        .unwrap();
    assert_eq!(outcome, ConfirmOutcome::Expired);
    assert!(s.users.find_by_id(user.id).await.unwrap().is_none());
    // The address and username are free again.
    let again = new_user("ADA@example.com", "ada", UserStatus::Pending);
    s.users.create(again.clone(), plain(&again)).await.unwrap();
}

/// An active admin is detected.
pub async fn an_active_admin_is_detected(s: Store) {
    assert!(!s.users.active_admin_exists().await.unwrap());
    let mut pending_admin = new_user("p@example.com", "padmin", UserStatus::Pending);
    pending_admin.roles = vec![RoleName::admin()];
    s.users
        .create(pending_admin.clone(), plain(&pending_admin))
        .await
        .unwrap();
    assert!(
        !s.users.active_admin_exists().await.unwrap(),
        "a pending admin does not count"
    );
    let mut admin = new_user("a@example.com", "admin", UserStatus::Active);
    admin.roles = vec![RoleName::admin()];
    s.users.create(admin.clone(), plain(&admin)).await.unwrap();
    assert!(s.users.active_admin_exists().await.unwrap());
}

fn reset_issue(user: UserId, hash: &str, expires_at: DateTime<Utc>) -> TokenIssue {
    TokenIssue {
        token: NewOneTimeToken {
            hash: TokenHash::new(hash),
            purpose: TokenPurpose::PasswordReset,
            user_id: user,
            email: None,
            created_at: t0(),
            expires_at,
        },
        mail: OutgoingMail {
            to: "ada@example.com".into(),
            to_name: None,
            kind: MailKind::PasswordReset {
                token: format!("raw-{hash}"),
                expires_at,
            },
        },
        audit: AuditEvent::new(
            t0(),
            Actor::System,
            AuditAction::PasswordResetRequested,
            Some(user),
            &RequestContext::default(),
        ),
    }
}

fn reset_event(user: UserId) -> AuditEvent {
    AuditEvent::new(
        t0(),
        Actor::User(user),
        AuditAction::PasswordReset,
        Some(user),
        &RequestContext::default(),
    )
}

/// An issued token replaces the earlier one and queues its mail.
pub async fn an_issued_token_replaces_the_earlier_one_and_queues_its_mail(s: Store) {
    let user = new_user("ada@example.com", "ada", UserStatus::Pending);
    s.users
        .create(
            user.clone(),
            with_confirmation(&user, "first", t0() + Duration::hours(24)),
        )
        .await
        .unwrap();
    let mut issue = reset_issue(user.id, "second", t0() + Duration::hours(24));
    issue.token.purpose = TokenPurpose::EmailConfirmation;
    issue.token.email = user.email.clone();
    s.users.issue_token(issue).await.unwrap();
    let ctx = RequestContext::default();
    let first = s
        .users
        .confirm_email(&TokenHash::new("first"), t0(), &ctx)
        .await
        .unwrap();
    assert_eq!(
        first,
        ConfirmOutcome::Invalid,
        "the old token stopped working"
    );
    let claimed = s
        .outbox
        .claim_due(t0(), 10, Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2, "the registration mail and the new one");
    let second = s
        .users
        .confirm_email(&TokenHash::new("second"), t0(), &ctx)
        .await
        .unwrap();
    assert!(matches!(second, ConfirmOutcome::Confirmed(_)), "{second:?}");
}

/// A reset token sets the password once and revokes every session.
pub async fn a_reset_token_sets_the_password_once_and_revokes_every_session(s: Store) {
    let user = new_user("ada@example.com", "ada", UserStatus::Active);
    s.users.create(user.clone(), plain(&user)).await.unwrap();
    let sessions = [session_for(user.id, t0()), session_for(user.id, t0())];
    for session in &sessions {
        s.sessions
            .start(session.clone(), login_event(user.id), 0)
            .await
            .unwrap();
    }
    s.users
        .issue_token(reset_issue(user.id, "reset", t0() + Duration::hours(2)))
        .await
        .unwrap();
    let hash = TokenHash::new("reset");
    let owner = s.users.password_reset_owner(&hash, t0()).await.unwrap();
    assert_eq!(owner.map(|u| u.id), Some(user.id));
    assert!(
        s.users
            .password_reset_owner(&hash, t0() + Duration::hours(2))
            .await
            .unwrap()
            .is_none(),
        "expired at its expiry instant"
    );
    let stranger = UserId::generate();
    let new_hash = PasswordHash::new("$2b$04$new");
    assert_eq!(
        s.users
            .reset_password(&hash, stranger, &new_hash, t0(), reset_event(stranger))
            .await
            .unwrap(),
        ResetOutcome::Invalid,
        "a token only resets its own user"
    );
    let outcome = s
        .users
        .reset_password(&hash, user.id, &new_hash, t0(), reset_event(user.id))
        .await
        .unwrap();
    assert_eq!(outcome, ResetOutcome::Reset(user.id));
    let stored = s
        .users
        .find_for_login(&LoginKey::Username("ada".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.password_hash.unwrap().as_str(), "$2b$04$new");
    for session in &sessions {
        assert!(
            s.sessions
                .live_session_user(session.id, user.id, t0())
                .await
                .unwrap()
                .is_none()
        );
    }
    let again = s
        .users
        .reset_password(&hash, user.id, &new_hash, t0(), reset_event(user.id))
        .await
        .unwrap();
    assert_eq!(again, ResetOutcome::Invalid, "single use");
}

/// Concurrent resets with one token reset once.
pub async fn concurrent_resets_with_one_token_reset_once(s: Store) {
    let user = new_user("ada@example.com", "ada", UserStatus::Active);
    s.users.create(user.clone(), plain(&user)).await.unwrap();
    s.users
        .issue_token(reset_issue(user.id, "reset", t0() + Duration::hours(2)))
        .await
        .unwrap();
    let users = s.users.clone();
    let attempts = (0..6).map(|_| {
        let users = users.clone();
        let id = user.id;
        async move {
            users
                .reset_password(
                    &TokenHash::new("reset"),
                    id,
                    &PasswordHash::new("$2b$04$new"),
                    t0(),
                    reset_event(id),
                )
                .await
                .unwrap()
        }
    });
    let outcomes = join_all(attempts).await;
    let reset = outcomes
        .iter()
        .filter(|o| matches!(o, ResetOutcome::Reset(_)))
        .count();
    assert_eq!(reset, 1, "{outcomes:?}");
}

/// An expired reset token changes nothing.
pub async fn an_expired_reset_token_changes_nothing(s: Store) {
    let user = new_user("ada@example.com", "ada", UserStatus::Active);
    s.users.create(user.clone(), plain(&user)).await.unwrap();
    let expires = t0() + Duration::hours(2);
    s.users
        .issue_token(reset_issue(user.id, "reset", expires))
        .await
        .unwrap();
    let outcome = s
        .users
        .reset_password(
            &TokenHash::new("reset"),
            user.id,
            &PasswordHash::new("$2b$04$new"),
            expires,
            reset_event(user.id),
        )
        .await
        .unwrap();
    assert_eq!(outcome, ResetOutcome::Invalid);
    let stored = s
        .users
        .find_for_login(&LoginKey::Username("ada".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.password_hash.unwrap().as_str(), "$2b$04$hash");
}

fn no_change(user: UserId, now: DateTime<Utc>) -> crate::ports::AccountUpdate {
    crate::ports::AccountUpdate {
        user,
        username: None,
        name: None,
        phone: None,
        avatar_url: None,
        profile: None,
        email: None,
        password_hash: None,
        revoke_other_sessions: None,
        token: None,
        mail: None,
        audit: AuditEvent::new(
            now,
            Actor::User(user),
            AuditAction::UserUpdated,
            Some(user),
            &RequestContext::default(),
        ),
        now,
    }
}

/// An update applies its fields, keeps uniqueness, and changes nothing when refused.
pub async fn an_update_applies_its_fields_and_a_refused_one_changes_nothing(s: Store) {
    use crate::ports::UpdateUserError;
    use crate::user::{Email, Name};
    let ada = new_user("ada@example.com", "ada", UserStatus::Active);
    s.users.create(ada.clone(), plain(&ada)).await.unwrap();
    let bob = new_user("bob@example.com", "bob", UserStatus::Active);
    s.users.create(bob.clone(), plain(&bob)).await.unwrap();
    let before = s.users.find_by_id(bob.id).await.unwrap().unwrap();
    let later = t0() + Duration::hours(1);

    let mut clash = no_change(bob.id, later);
    clash.username = Some(Username::parse("ADA").unwrap());
    clash.name = Some(Some(Name::parse("Robert").unwrap()));
    let err = s.users.update_account(clash).await.unwrap_err();
    assert!(matches!(err, UpdateUserError::UsernameTaken), "{err:?}");
    let mut clash = no_change(bob.id, later);
    clash.email = Some(Email::parse("Ada@Example.COM").unwrap());
    clash.name = Some(Some(Name::parse("Robert").unwrap()));
    let err = s.users.update_account(clash).await.unwrap_err();
    assert!(matches!(err, UpdateUserError::EmailTaken), "{err:?}");
    assert_eq!(
        s.users.find_by_id(bob.id).await.unwrap().unwrap(),
        before,
        "a refused update changes nothing"
    );
    let err = s
        .users
        .update_account(no_change(UserId::generate(), later))
        .await
        .unwrap_err();
    assert!(matches!(err, UpdateUserError::NotFound), "{err:?}");

    // Two sessions; the update keeps the current one and ends the other.
    let current = session_for(bob.id, t0());
    let other = session_for(bob.id, t0());
    for session in [&current, &other] {
        s.sessions
            .start(session.clone(), login_event(bob.id), 0)
            .await
            .unwrap();
    }
    let mut update = no_change(bob.id, later);
    update.username = Some(Username::parse("Robert_T").unwrap());
    update.name = Some(Some(Name::parse("Robert").unwrap()));
    update.email = Some(Email::parse("Robert@Example.com").unwrap());
    update.password_hash = Some(PasswordHash::new("$2b$04$changed"));
    update.revoke_other_sessions = Some(current.id);
    let updated = s.users.update_account(update).await.unwrap();
    assert_eq!(updated.username.as_str(), "Robert_T");
    assert_eq!(updated.name.as_ref().map(Name::as_str), Some("Robert"));
    assert_eq!(
        updated.email.as_ref().map(Email::as_str),
        Some("Robert@Example.com")
    );
    assert!(!updated.email_verified, "a new email starts unverified");
    assert_eq!(updated.updated_at, later);
    assert_eq!(updated.created_at, before.created_at);
    assert_eq!(
        s.users.find_by_id(bob.id).await.unwrap().unwrap(),
        updated,
        "reads back as returned"
    );
    let stored = s
        .users
        .find_for_login(&LoginKey::Email("robert@example.com".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.user.id, bob.id);
    assert_eq!(stored.password_hash.unwrap().as_str(), "$2b$04$changed");
    assert!(
        s.users
            .find_for_login(&LoginKey::Email("bob@example.com".into()))
            .await
            .unwrap()
            .is_none(),
        "the old address is free"
    );
    assert!(
        s.users
            .username_exists(&Username::parse("robert_t").unwrap())
            .await
            .unwrap()
    );
    let live = |id| {
        let sessions = s.sessions.clone();
        async move {
            sessions
                .live_session_user(id, bob.id, later)
                .await
                .unwrap()
                .is_some()
        }
    };
    assert!(live(current.id).await, "the current session stays");
    assert!(!live(other.id).await, "the other session ends");

    // Cleared fields read back cleared.
    let mut clear = no_change(bob.id, later);
    clear.name = Some(None);
    let cleared = s.users.update_account(clear).await.unwrap();
    assert!(cleared.name.is_none());
}

/// A deleted account takes its sessions and tokens along, and frees its identity.
pub async fn a_deleted_account_takes_its_sessions_and_tokens_along(s: Store) {
    let user = new_user("ada@example.com", "ada", UserStatus::Active);
    s.users
        .create(
            user.clone(),
            with_confirmation(&user, "tok", t0() + Duration::days(1)),
        )
        .await
        .unwrap();
    let session = session_for(user.id, t0());
    s.sessions
        .start(session.clone(), login_event(user.id), 0)
        .await
        .unwrap();
    let erased = AuditEvent::new(
        t0(),
        Actor::User(user.id),
        AuditAction::UserDeleted,
        Some(user.id),
        &RequestContext::default(),
    );
    assert!(
        s.users
            .delete_account(user.id, erased.clone())
            .await
            .unwrap()
    );
    assert!(s.users.find_by_id(user.id).await.unwrap().is_none());
    assert!(
        s.sessions
            .live_session_user(session.id, user.id, t0())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.sessions
            .live_sessions(user.id, t0())
            .await
            .unwrap()
            .is_empty()
    );
    let outcome = s
        .users
        .confirm_email(&TokenHash::new("tok"), t0(), &RequestContext::default())
        .await
        .unwrap();
    assert_eq!(outcome, ConfirmOutcome::Invalid, "its tokens are gone");
    assert!(
        !s.users.delete_account(user.id, erased).await.unwrap(),
        "nothing left to delete"
    );
    let again = new_user("ADA@example.com", "Ada", UserStatus::Active);
    s.users.create(again.clone(), plain(&again)).await.unwrap();
}
