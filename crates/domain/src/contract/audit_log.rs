//! [`AuditLog`](crate::ports::AuditLog) checks: events are accepted, including events about
//! users that no longer exist (the log outlives the accounts it describes).

use super::{Check, Store, checks, new_user, plain, t0};
use crate::audit::{Actor, AuditAction, AuditEvent, RequestContext};
use crate::user::{UserId, UserStatus};

/// Every [`AuditLog`](crate::ports::AuditLog) check, in order.
pub fn checks() -> Vec<Check> {
    checks![events_are_recorded_about_present_absent_and_no_users]
}

/// Events are recorded about present, absent (erased or unknown) and no users.
pub async fn events_are_recorded_about_present_absent_and_no_users(s: Store) {
    let ctx = RequestContext {
        ip: Some("192.0.2.1".into()),
        user_agent: Some("test".into()),
    };
    let user = new_user("ada@example.com", "ada", UserStatus::Active);
    s.users.create(user.clone(), plain(&user)).await.unwrap();
    let failed = AuditEvent::new(
        t0(),
        Actor::System,
        AuditAction::LoginFailed,
        Some(user.id),
        &ctx,
    )
    .with("login", "a***@example.com");
    s.audit.record(failed).await.unwrap();

    let erased = AuditEvent::new(
        t0(),
        Actor::User(user.id),
        AuditAction::UserDeleted,
        Some(user.id),
        &ctx,
    );
    assert!(s.users.delete_account(user.id, erased).await.unwrap());
    let after = AuditEvent::new(
        t0(),
        Actor::System,
        AuditAction::LoginFailed,
        Some(user.id),
        &ctx,
    );
    s.audit.record(after).await.unwrap();
    let unknown = AuditEvent::new(
        t0(),
        Actor::Service("billing".into()),
        AuditAction::LoginFailed,
        Some(UserId::generate()),
        &ctx,
    );
    s.audit.record(unknown).await.unwrap();
    let anonymous = AuditEvent::new(t0(), Actor::System, AuditAction::LoginFailed, None, &ctx);
    s.audit.record(anonymous).await.unwrap();
}
