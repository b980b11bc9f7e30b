//! [`Outbox`](crate::ports::Outbox) checks: leases, retries, abandonment, and no message
//! handed to two concurrent claimers.

use chrono::Duration;
use futures_util::future::join_all;

use super::{Check, Store, checks, new_user, t0, with_confirmation};
use crate::mail::MailKind;
use crate::user::UserStatus;

/// Every [`Outbox`](crate::ports::Outbox) check, in order.
pub fn checks() -> Vec<Check> {
    checks![
        outbox_messages_are_leased_sent_retried_and_abandoned,
        concurrent_claims_never_share_a_message,
    ]
}

/// Outbox messages are leased sent retried and abandoned.
pub async fn outbox_messages_are_leased_sent_retried_and_abandoned(s: Store) {
    let a = new_user("a@example.com", "aaa", UserStatus::Pending);
    let b = new_user("b@example.com", "bbb", UserStatus::Pending);
    s.users
        .create(
            a.clone(),
            with_confirmation(&a, "ta", t0() + Duration::days(1)),
        )
        .await
        .unwrap();
    s.users
        .create(
            b.clone(),
            with_confirmation(&b, "tb", t0() + Duration::days(1)),
        )
        .await
        .unwrap();
    let lease = Duration::minutes(2);

    let claimed = s.outbox.claim_due(t0(), 10, lease).await.unwrap();
    assert_eq!(claimed.len(), 2);
    let first = &claimed[0];
    assert_eq!(first.mail.to, "a@example.com");
    assert_eq!(
        first.mail.kind,
        MailKind::Confirmation {
            token: "raw-ta".into(),
            expires_at: t0() + Duration::days(1)
        }
    );
    assert_eq!(first.attempts, 0);
    assert!(
        s.outbox
            .claim_due(t0(), 10, lease)
            .await
            .unwrap()
            .is_empty(),
        "leased messages are not handed out twice"
    );

    s.outbox.mark_sent(first.id, t0()).await.unwrap();
    s.outbox
        .mark_failed(
            claimed[1].id,
            "connection refused",
            Some(t0() + Duration::minutes(1)),
        )
        .await
        .unwrap();
    assert!(
        s.outbox
            .claim_due(t0() + Duration::seconds(59), 10, lease)
            .await
            .unwrap()
            .is_empty()
    );
    let retried = s
        .outbox
        .claim_due(t0() + Duration::minutes(1), 10, lease)
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].attempts, 1);

    // A worker that dies holding a lease: the message comes back when the lease runs out.
    let later = t0() + Duration::minutes(1) + lease;
    let again = s.outbox.claim_due(later, 10, lease).await.unwrap();
    assert_eq!(again.len(), 1);
    s.outbox
        .mark_failed(again[0].id, "550 no such user", None)
        .await
        .unwrap();
    assert!(
        s.outbox
            .claim_due(later + Duration::days(1), 10, lease)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Concurrent claims never share a message.
pub async fn concurrent_claims_never_share_a_message(s: Store) {
    for i in 0..10 {
        let u = new_user(
            &format!("u{i}@example.com"),
            &format!("user{i}"),
            UserStatus::Pending,
        );
        s.users
            .create(
                u.clone(),
                with_confirmation(&u, &format!("t{i}"), t0() + Duration::days(1)),
            )
            .await
            .unwrap();
    }
    let outbox = s.outbox.clone();
    let claims = (0..4).map(|_| {
        let outbox = outbox.clone();
        async move {
            outbox
                .claim_due(t0(), 10, Duration::minutes(2))
                .await
                .unwrap()
        }
    });
    let mut ids: Vec<_> = join_all(claims)
        .await
        .into_iter()
        .flat_map(|claimed| claimed.into_iter().map(|m| m.id))
        .collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!((total, ids.len()), (10, 10));
}
