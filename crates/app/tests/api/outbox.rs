//! The outbox keeps its promise: mail survives an SMTP outage and a worker that died
//! between the commit and the send.

use std::sync::Arc;
use std::time::Duration;

use roster_domain::services::RetryPolicy;
use roster_mailer::Transport;
use roster_mailer::testing::FakeSmtpServer;
use roster_persistence_diesel::BackendKind;

use crate::helpers::{Options, PASSWORD, spawn_with};
use crate::on_both_backends;

async fn mail_queued_while_smtp_is_down_arrives_once_it_is_back(kind: BackendKind) {
    let smtp = FakeSmtpServer::start().await.unwrap();
    let addr = smtp.addr();
    let policy = RetryPolicy {
        max_attempts: 5,
        base_delay: chrono::Duration::seconds(10),
        max_delay: chrono::Duration::seconds(10),
        lease: chrono::Duration::seconds(30),
    };
    // The test drives the worker's rounds itself, so each step is deterministic.
    let app = spawn_with(
        kind,
        Options {
            transport: Some(Transport::from_smtp_url(&smtp.url()).unwrap()),
            retry_policy: Some(policy),
            no_mail_worker: true,
            ..Options::default()
        },
    )
    .await;
    drop(smtp);

    assert_eq!(app.register("ada@example.com", PASSWORD).await.status, 201);
    let failed = app.services.mail_delivery.run_once(10).await.unwrap();
    assert_eq!(failed.retried, 1, "SMTP is down: {failed:?}");

    let smtp = FakeSmtpServer::start_at(addr).await.unwrap();
    app.clock.advance(chrono::Duration::seconds(9));
    let early = app.services.mail_delivery.run_once(10).await.unwrap();
    assert_eq!(early.sent, 0, "the backoff is respected: {early:?}");
    app.clock.advance(chrono::Duration::seconds(1));
    let sent = app.services.mail_delivery.run_once(10).await.unwrap();
    assert_eq!(sent.sent, 1, "{sent:?}");

    let mail = smtp
        .next_mail(Duration::from_secs(5))
        .await
        .expect("the mail arrives");
    assert_eq!(mail.rcpt_to, vec!["ada@example.com".to_owned()]);
    let token = mail.confirmation_token().unwrap();
    assert_eq!(app.confirm(&token).await.status, 200);
}

async fn mail_committed_before_the_worker_died_is_sent_after_the_restart_exactly_once(
    kind: BackendKind,
) {
    // The first instance commits the registration but never sends: its worker is dead.
    let first = spawn_with(
        kind,
        Options {
            no_mail_worker: true,
            ..Options::default()
        },
    )
    .await;
    assert_eq!(
        first.register("ada@example.com", PASSWORD).await.status,
        201
    );
    assert!(
        first
            .mailbox
            .next_for("ada@example.com", Duration::from_millis(500))
            .await
            .is_none(),
        "nothing was sent"
    );
    let database = Arc::clone(&first.db);
    let clock = Arc::clone(&first.clock);
    first.shut_down().await;

    // A new instance over the same database delivers it.
    let second = spawn_with(
        kind,
        Options {
            database: Some(database),
            clock: Some(clock),
            ..Options::default()
        },
    )
    .await;
    let token = second.confirmation_token("ada@example.com").await;
    assert_eq!(second.confirm(&token).await.status, 200);
    let again = second.services.mail_delivery.run_once(10).await.unwrap();
    assert_eq!(again.sent, 0, "{again:?}");
    assert!(
        second
            .mailbox
            .next_for("ada@example.com", Duration::from_millis(1500))
            .await
            .is_none(),
        "sent exactly once"
    );
    assert_eq!(second.mailbox.messages_to("ada@example.com").len(), 1);
}

on_both_backends!(
    mail_queued_while_smtp_is_down_arrives_once_it_is_back,
    mail_committed_before_the_worker_died_is_sent_after_the_restart_exactly_once,
);
