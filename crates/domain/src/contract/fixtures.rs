//! Builders the checks share, public so that an adapter's own tests can reuse them.
#![allow(clippy::unwrap_used, reason = "test fixtures: fixed valid inputs")]

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::Store;
use crate::audit::{Actor, AuditAction, AuditEvent, RequestContext};
use crate::mail::{MailKind, OutgoingMail};
use crate::ports::{CreationEffects, RefreshRotation};
use crate::role::RoleName;
use crate::session::{NewSession, SessionId};
use crate::token::{NewOneTimeToken, TokenHash, TokenPurpose};
use crate::user::{Email, NewUser, PasswordHash, Profile, UserId, UserStatus, Username};

/// The instant the checks start at: a round date plus microseconds, which every store
/// MUST keep.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap() + Duration::microseconds(123_456)
}

/// A user to create at [`t0`] with role USER and a fake hash, in `status`.
pub fn new_user(email: &str, username: &str, status: UserStatus) -> NewUser {
    NewUser {
        id: UserId::generate(),
        external_id: None,
        email: Some(Email::parse(email).unwrap()),
        email_verified: false,
        username: Username::parse(username).unwrap(),
        name: None,
        phone: None,
        avatar_url: None,
        profile: Profile::default(),
        status,
        roles: vec![RoleName::user()],
        password_hash: Some(PasswordHash::new("$2b$04$hash")),
        created_at: t0(),
    }
}

/// The audit event of creating `user`.
pub fn audit(user: &NewUser) -> AuditEvent {
    AuditEvent::new(
        t0(),
        Actor::System,
        AuditAction::UserCreated,
        Some(user.id),
        &RequestContext::default(),
    )
}

/// Creation effects with nothing but the audit event.
pub fn plain(user: &NewUser) -> CreationEffects {
    CreationEffects {
        token: None,
        mail: None,
        audit: audit(user),
    }
}

/// Creation effects of a registration: a confirmation token with hash `hash` expiring at
/// `expires_at`, and its mail (carrying `raw-{hash}`).
pub fn with_confirmation(user: &NewUser, hash: &str, expires_at: DateTime<Utc>) -> CreationEffects {
    CreationEffects {
        token: Some(NewOneTimeToken {
            hash: TokenHash::new(hash),
            purpose: TokenPurpose::EmailConfirmation,
            user_id: user.id,
            email: user.email.clone(),
            created_at: t0(),
            expires_at,
        }),
        mail: Some(OutgoingMail {
            to: user.email.as_ref().unwrap().as_str().to_owned(),
            to_name: None,
            kind: MailKind::Confirmation {
                token: format!("raw-{hash}"),
                expires_at,
            },
        }),
        audit: audit(user),
    }
}

/// The audit event of a login.
pub fn login_event(user: UserId) -> AuditEvent {
    AuditEvent::new(
        t0(),
        Actor::User(user),
        AuditAction::Login,
        Some(user),
        &RequestContext::default(),
    )
}

/// A session of `user` started at `at`: refresh token for 7 days, session for 30.
pub fn session_for(user: UserId, at: DateTime<Utc>) -> NewSession {
    NewSession {
        id: SessionId::generate(),
        user_id: user,
        refresh_token_hash: TokenHash::new(uuid::Uuid::now_v7().to_string()),
        created_at: at,
        refresh_expires_at: at + Duration::days(7),
        expires_at: at + Duration::days(30),
        ip: Some("127.0.0.1".into()),
        user_agent: Some("test".into()),
    }
}

/// A refresh rotation presenting `presented` and storing `next`, with a 7-day TTL.
pub fn rotation(presented: &str, next: &str, now: DateTime<Utc>) -> RefreshRotation {
    RefreshRotation {
        presented: TokenHash::new(presented),
        next: TokenHash::new(next),
        now,
        refresh_ttl: Duration::days(7),
        ctx: RequestContext::default(),
    }
}

/// An active user with one session started at t0 whose refresh token hashes to `r0`.
pub async fn user_with_session(s: &Store) -> (UserId, NewSession) {
    let user = new_user("ada@example.com", "ada", UserStatus::Active);
    s.users.create(user.clone(), plain(&user)).await.unwrap();
    let mut session = session_for(user.id, t0());
    session.refresh_token_hash = TokenHash::new("r0");
    s.sessions
        .start(session.clone(), login_event(user.id), 0)
        .await
        .unwrap();
    (user.id, session)
}

/// Whether `session` is live at `now`.
pub async fn is_live(s: &Store, session: &NewSession, now: DateTime<Utc>) -> bool {
    s.sessions
        .live_session_user(session.id, session.user_id, now)
        .await
        .unwrap()
        .is_some()
}

/// The messages due in the outbox at `now`, claimed for a minute.
pub async fn due_mail(s: &Store, now: DateTime<Utc>) -> Vec<crate::mail::QueuedMail> {
    s.outbox
        .claim_due(now, 1_000, Duration::minutes(1))
        .await
        .unwrap()
}
