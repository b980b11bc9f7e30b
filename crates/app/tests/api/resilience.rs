//! Mail over real SMTP, and a database that goes away and comes back.

use std::time::Duration;

use roster_mailer::Transport;
use roster_mailer::testing::FakeSmtpServer;
use roster_persistence_diesel::BackendKind;
use serde_json::json;

use crate::helpers::{Options, PASSWORD, spawn_with};
use crate::on_both_backends;

async fn the_confirmation_mail_travels_over_smtp(kind: BackendKind) {
    let smtp = FakeSmtpServer::start().await.unwrap();
    let app = spawn_with(
        kind,
        Options {
            vars: vec![("ROSTER_MAIL_FROM", "Roster <no-reply@roster.test>".into())],
            transport: Some(Transport::from_smtp_url(&smtp.url()).unwrap()),
            ..Options::default()
        },
    )
    .await;
    assert_eq!(app.register("ada@example.com", PASSWORD).await.status, 201);
    let mail = smtp
        .next_mail(Duration::from_secs(10))
        .await
        .expect("mail over SMTP");
    assert_eq!(mail.rcpt_to, vec!["ada@example.com".to_owned()]);
    assert_eq!(mail.mail_from, "no-reply@roster.test");
    let link = mail.link("/confirm").expect("a confirmation link");
    assert!(
        link.starts_with("http://roster.test/confirm?token="),
        "{link}"
    );
    let token = mail.confirmation_token().unwrap();
    assert_eq!(app.confirm(&token).await.status, 200);
}

/// PostgreSQL goes away (its database is dropped under the running service) and comes back.
async fn a_lost_database_answers_503_and_the_service_recovers(kind: BackendKind) {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let app = spawn_with(kind, Options::default()).await;
    let token = app.active_user("ada@example.com").await;
    let name = app.db.url.rsplit('/').next().unwrap().to_owned();
    let admin_url = roster_persistence_diesel::testing::postgres_admin_url();
    let mut admin = AsyncPgConnection::establish(&admin_url).await.unwrap();
    diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();

    let down = app.get("/api/users/me", Some(&token)).await;
    assert_eq!((down.status, down.code()), (503, "service_unavailable"));
    assert!(down.header("retry-after").is_some());
    let not_ready = app.get("/ready", None).await;
    assert_eq!(not_ready.status, 503);
    let register = app
        .post(
            "/api/auth/register",
            &json!({"email": "bob@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(register.status, 503, "{register:?}");
    assert!(
        !register
            .body
            .to_string()
            .to_lowercase()
            .contains("postgres"),
        "no infrastructure detail leaks"
    );

    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    app.db.connect(1).await.migrate().await.unwrap();
    let mut recovered = false;
    for _ in 0..50 {
        if app.get("/ready", None).await.status == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the service recovers by itself");
    assert_eq!(app.register("bob@example.com", PASSWORD).await.status, 201);
}

mod postgres_only {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_database_answers_503_and_the_service_recovers() {
        super::a_lost_database_answers_503_and_the_service_recovers(
            roster_persistence_diesel::BackendKind::Postgres,
        )
        .await;
    }
}

on_both_backends!(the_confirmation_mail_travels_over_smtp);
