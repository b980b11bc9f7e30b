//! [`Maintenance`](crate::ports::Maintenance) checks: job leases are exclusive and run out;
//! cleanup removes exactly what its cutoffs call stale.

use chrono::Duration;
use futures_util::future::join_all;

use super::{
    Check, Store, checks, is_live, login_event, new_user, plain, session_for, t0, with_confirmation,
};
use crate::audit::{Actor, AuditAction, AuditEvent, RequestContext};
use crate::mail::{MailKind, OutgoingMail};
use crate::ports::{CleanupCutoffs, CleanupReport, ConfirmOutcome, TokenIssue};
use crate::session::RevokeReason;
use crate::token::{NewOneTimeToken, TokenHash, TokenPurpose};
use crate::user::UserStatus;

/// Every [`Maintenance`](crate::ports::Maintenance) check, in order.
pub fn checks() -> Vec<Check> {
    checks![
        a_job_lease_is_held_by_one_holder_until_it_runs_out,
        concurrent_lease_attempts_give_the_lease_to_one_holder,
        cleanup_removes_expired_pending_accounts_tokens_and_dead_sessions_only,
    ]
}

/// A job lease is held by one holder until it runs out.
pub async fn a_job_lease_is_held_by_one_holder_until_it_runs_out(s: Store) {
    let m = &s.maintenance;
    let until = t0() + Duration::minutes(2);
    assert!(m.try_lease("cleanup", "a", t0(), until).await.unwrap());
    assert!(
        !m.try_lease(
            "cleanup",
            "b",
            t0() + Duration::minutes(1),
            t0() + Duration::minutes(3)
        )
        .await
        .unwrap(),
        "someone else holds it"
    );
    assert!(
        m.try_lease("other-job", "b", t0(), until).await.unwrap(),
        "leases are per job"
    );
    assert!(
        m.try_lease(
            "cleanup",
            "a",
            t0() + Duration::minutes(1),
            t0() + Duration::minutes(4)
        )
        .await
        .unwrap(),
        "its holder renews it"
    );
    assert!(
        !m.try_lease(
            "cleanup",
            "b",
            t0() + Duration::minutes(3),
            t0() + Duration::minutes(5)
        )
        .await
        .unwrap(),
        "the renewal holds"
    );
    assert!(
        m.try_lease(
            "cleanup",
            "b",
            t0() + Duration::minutes(4),
            t0() + Duration::minutes(6)
        )
        .await
        .unwrap(),
        "a lease that ran out is free"
    );
    assert!(
        !m.try_lease(
            "cleanup",
            "a",
            t0() + Duration::minutes(5),
            t0() + Duration::minutes(7)
        )
        .await
        .unwrap()
    );
}

/// Concurrent lease attempts give the lease to one holder.
pub async fn concurrent_lease_attempts_give_the_lease_to_one_holder(s: Store) {
    let attempts = (0..6).map(|n| {
        let maintenance = s.maintenance.clone();
        async move {
            maintenance
                .try_lease(
                    "cleanup",
                    &format!("holder-{n}"),
                    t0(),
                    t0() + Duration::minutes(1),
                )
                .await
                .unwrap()
        }
    });
    let won = join_all(attempts).await;
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
}

/// Cleanup removes expired pending accounts, expired tokens and dead sessions, and nothing
/// else.
pub async fn cleanup_removes_expired_pending_accounts_tokens_and_dead_sessions_only(s: Store) {
    // A pending account whose link ran out, and one whose link was resent and still works.
    let stale = new_user("stale@example.com", "stale", UserStatus::Pending);
    s.users
        .create(
            stale.clone(),
            with_confirmation(&stale, "stale", t0() + Duration::days(1)),
        )
        .await
        .unwrap();
    let waiting = new_user("waiting@example.com", "waiting", UserStatus::Pending);
    s.users
        .create(
            waiting.clone(),
            with_confirmation(&waiting, "waiting", t0() + Duration::days(3)),
        )
        .await
        .unwrap();
    // An active account with an expired reset token, a revoked and a live session.
    let active = new_user("active@example.com", "active", UserStatus::Active);
    s.users
        .create(active.clone(), plain(&active))
        .await
        .unwrap();
    let expires_at = t0() + Duration::hours(2);
    s.users
        .issue_token(TokenIssue {
            token: NewOneTimeToken {
                hash: TokenHash::new("reset"),
                purpose: TokenPurpose::PasswordReset,
                user_id: active.id,
                email: None,
                created_at: t0(),
                expires_at,
            },
            mail: OutgoingMail {
                to: "active@example.com".into(),
                to_name: None,
                kind: MailKind::PasswordReset {
                    token: "raw-reset".into(),
                    expires_at,
                },
            },
            audit: AuditEvent::new(
                t0(),
                Actor::System,
                AuditAction::PasswordResetRequested,
                Some(active.id),
                &RequestContext::default(),
            ),
        })
        .await
        .unwrap();
    let revoked = session_for(active.id, t0());
    let live = session_for(active.id, t0());
    for session in [&revoked, &live] {
        s.sessions
            .start(session.clone(), login_event(active.id), 0)
            .await
            .unwrap();
    }
    assert!(
        s.sessions
            .revoke(
                revoked.id,
                active.id,
                t0() + Duration::hours(1),
                RevokeReason::Logout,
                login_event(active.id),
            )
            .await
            .unwrap()
    );

    let now = t0() + Duration::days(2);
    let report = s
        .maintenance
        .cleanup(CleanupCutoffs {
            now,
            pending_created_before: t0() + Duration::days(1),
            sessions_dead_before: t0() + Duration::days(1),
        })
        .await
        .unwrap();
    assert_eq!(
        report,
        CleanupReport {
            pending_accounts: 1,
            tokens: 1,
            sessions: 1,
        }
    );
    assert!(s.users.find_by_id(stale.id).await.unwrap().is_none());
    assert!(s.users.find_by_id(waiting.id).await.unwrap().is_some());
    assert!(s.users.find_by_id(active.id).await.unwrap().is_some());
    assert!(is_live(&s, &live, now).await, "a live session stays");
    assert!(
        s.users
            .password_reset_owner(&TokenHash::new("reset"), t0())
            .await
            .unwrap()
            .is_none(),
        "the expired token is gone"
    );
    let outcome = s
        .users
        .confirm_email(&TokenHash::new("waiting"), now, &RequestContext::default())
        .await
        .unwrap();
    assert!(
        matches!(outcome, ConfirmOutcome::Confirmed(_)),
        "the resent link still works: {outcome:?}"
    );

    let again = s
        .maintenance
        .cleanup(CleanupCutoffs {
            now,
            pending_created_before: t0() + Duration::days(1),
            sessions_dead_before: t0() + Duration::days(1),
        })
        .await
        .unwrap();
    assert_eq!(again, CleanupReport::default(), "nothing left to clean");
}
