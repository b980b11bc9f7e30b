//! `MailDelivery`: the outbox worker's round, its retries and backoff.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{storage_down, t0};
use crate::mail::{MailKind, OutgoingMail, QueuedMail};
use crate::ports::{DeliveryError, MockMailSender, MockOutbox};
use crate::services::{DeliveryReport, MailDelivery, RetryPolicy};

/// Five attempts, 5 s doubling up to 1 h, two-minute leases.
fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::seconds(5),
        max_delay: Duration::hours(1),
        lease: Duration::minutes(2),
    }
}

/// A queued message to `to` that has failed `attempts` times before.
fn queued(to: &str, attempts: u32) -> QueuedMail {
    QueuedMail {
        id: Uuid::now_v7(),
        mail: OutgoingMail {
            to: to.to_owned(),
            to_name: None,
            kind: MailKind::Confirmation {
                token: "raw-secret".to_owned(),
                expires_at: t0() + Duration::hours(24),
            },
        },
        attempts,
    }
}

/// A transport that delivers to `ok@...`, is busy for `busy@...` and rejects `gone@...`.
fn sender() -> MockMailSender {
    let mut sender = MockMailSender::new();
    sender
        .expect_send()
        .returning(|mail| match mail.to.split('@').next() {
            Some("ok") => Ok(()),
            Some("busy") => Err(DeliveryError::Transient("421 try again later".to_owned())),
            _ => Err(DeliveryError::Permanent("550 no such mailbox".to_owned())),
        });
    sender
}

/// An outbox that hands out `due` once, at [`t0`], for a batch of 10.
fn outbox_with(due: Vec<QueuedMail>) -> MockOutbox {
    let mut outbox = MockOutbox::new();
    outbox
        .expect_claim_due()
        .withf(|now, limit, lease| *now == t0() && *limit == 10 && *lease == policy().lease)
        .times(1)
        .returning(move |_, _, _| Ok(due.clone()));
    outbox
}

type Failures = Arc<Mutex<Vec<(Uuid, String, Option<DateTime<Utc>>)>>>;

/// Records each `mark_failed`.
fn record_failures(outbox: &mut MockOutbox) -> Failures {
    let failures = Failures::default();
    let sink = Arc::clone(&failures);
    outbox
        .expect_mark_failed()
        .returning(move |id, error, retry_at| {
            sink.lock().unwrap().push((id, error.to_owned(), retry_at));
            Ok(())
        });
    failures
}

fn delivery(outbox: MockOutbox, sender: MockMailSender) -> MailDelivery {
    MailDelivery::new(Arc::new(outbox), Arc::new(sender), super::clock(), policy())
}

/// One round over `due`: the report and each recorded failure.
async fn one_round(
    due: Vec<QueuedMail>,
) -> (DeliveryReport, Vec<(Uuid, String, Option<DateTime<Utc>>)>) {
    let mut outbox = outbox_with(due);
    outbox.expect_mark_sent().returning(|_, _| Ok(()));
    let failures = record_failures(&mut outbox);
    let report = delivery(outbox, sender()).run_once(10).await.unwrap();
    let failures = failures.lock().unwrap().clone();
    (report, failures)
}

// ---------------------------------------------------------------------------------------------
// run_once

#[tokio::test]
async fn a_delivered_message_is_marked_sent() {
    let mail = queued("ok@example.com", 0);
    let id = mail.id;
    let mut outbox = outbox_with(vec![mail]);
    outbox
        .expect_mark_sent()
        .withf(move |sent, now| *sent == id && *now == t0())
        .times(1)
        .returning(|_, _| Ok(()));
    outbox.expect_mark_failed().never();

    let report = delivery(outbox, sender()).run_once(10).await.unwrap();

    assert_eq!(
        report,
        DeliveryReport {
            sent: 1,
            retried: 0,
            abandoned: 0
        }
    );
}

#[tokio::test]
async fn a_first_transient_failure_is_retried_after_the_base_delay() {
    let mail = queued("busy@example.com", 0);
    let id = mail.id;

    let (report, failures) = one_round(vec![mail]).await;

    assert_eq!(
        report,
        DeliveryReport {
            sent: 0,
            retried: 1,
            abandoned: 0
        }
    );
    assert_eq!(failures.len(), 1);
    let (failed, error, retry_at) = &failures[0];
    assert_eq!(*failed, id);
    assert!(
        error.contains("421 try again later"),
        "operators see why: {error}"
    );
    assert_eq!(*retry_at, Some(t0() + Duration::seconds(5)));
}

#[tokio::test]
async fn a_transient_failure_is_retried_after_the_backoff_of_the_next_attempt() {
    let (report, failures) = one_round(vec![queued("busy@example.com", 2)]).await;

    assert_eq!(report.retried, 1);
    assert_eq!(failures[0].2, Some(t0() + policy().backoff(3)));
    assert_eq!(failures[0].2, Some(t0() + Duration::seconds(20)));
}

#[tokio::test]
async fn a_permanent_failure_is_abandoned_at_once() {
    let (report, failures) = one_round(vec![queued("gone@example.com", 0)]).await;

    assert_eq!(
        report,
        DeliveryReport {
            sent: 0,
            retried: 0,
            abandoned: 1
        }
    );
    let (_, error, retry_at) = &failures[0];
    assert_eq!(*retry_at, None);
    assert!(
        error.contains("550 no such mailbox"),
        "operators see why: {error}"
    );
}

#[tokio::test]
async fn a_transient_failure_of_the_last_allowed_attempt_abandons_the_message() {
    let last = policy().max_attempts - 1;

    let (report, failures) = one_round(vec![queued("busy@example.com", last)]).await;

    assert_eq!(
        report,
        DeliveryReport {
            sent: 0,
            retried: 0,
            abandoned: 1
        }
    );
    assert_eq!(failures[0].2, None);
}

#[tokio::test]
async fn a_transient_failure_before_the_last_allowed_attempt_is_still_retried() {
    let second_to_last = policy().max_attempts - 2;

    let (report, failures) = one_round(vec![queued("busy@example.com", second_to_last)]).await;

    assert_eq!(report.retried, 1);
    assert_eq!(failures[0].2, Some(t0() + Duration::seconds(40)));
}

#[tokio::test]
async fn the_report_counts_sent_retried_and_abandoned_messages() {
    let due = vec![
        queued("ok@example.com", 0),
        queued("busy@example.com", 0),
        queued("ok@example.org", 3),
        queued("gone@example.com", 0),
        queued("busy@example.org", policy().max_attempts - 1),
    ];

    let (report, failures) = one_round(due).await;

    assert_eq!(
        report,
        DeliveryReport {
            sent: 2,
            retried: 1,
            abandoned: 2
        }
    );
    assert_eq!(failures.len(), 3);
}

#[tokio::test]
async fn an_empty_outbox_sends_nothing() {
    let mut sender = MockMailSender::new();
    sender.expect_send().never();

    let report = delivery(outbox_with(vec![]), sender)
        .run_once(10)
        .await
        .unwrap();

    assert_eq!(report, DeliveryReport::default());
}

#[tokio::test]
async fn an_unreadable_outbox_is_an_error_and_sends_nothing() {
    let mut outbox = MockOutbox::new();
    outbox
        .expect_claim_due()
        .returning(|_, _, _| Err(storage_down()));
    let mut sender = MockMailSender::new();
    sender.expect_send().never();

    let result = delivery(outbox, sender).run_once(10).await;

    assert!(result.is_err());
}

// ---------------------------------------------------------------------------------------------
// RetryPolicy::backoff

#[test]
fn the_backoff_doubles_after_each_failure() {
    let policy = policy();
    let delays: Vec<i64> = (1..=5).map(|n| policy.backoff(n).num_seconds()).collect();
    assert_eq!(delays, vec![5, 10, 20, 40, 80]);
}

#[test]
fn the_backoff_is_capped_at_the_max_delay() {
    let policy = policy();
    // 5 s * 2^10 = 5120 s, past the one-hour cap.
    assert_eq!(policy.backoff(11), Duration::hours(1));
    assert_eq!(policy.backoff(200), Duration::hours(1));
    assert_eq!(policy.backoff(u32::MAX), Duration::hours(1));
}

#[test]
fn the_default_policy_starts_at_five_seconds_and_caps_at_one_hour() {
    let policy = RetryPolicy::default();
    assert_eq!(policy.backoff(1), Duration::seconds(5));
    assert_eq!(
        policy.backoff(policy.max_attempts),
        Duration::seconds(5 * 512)
    );
    assert!((1..=64).all(|n| policy.backoff(n) <= Duration::hours(1)));
}
