//! The account lifecycle: resending the confirmation and resetting a forgotten password.

use std::time::Duration;

use roster_mailer::SentMail;
use roster_persistence_diesel::BackendKind;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, spawn_app};
use crate::on_both_backends;

const NEW_PASSWORD: &str = "N3w!passphrase";

/// How long a test waits to be sure that a mail is *not* coming.
const QUIET: Duration = Duration::from_millis(1500);

async fn mail_to(app: &TestApp, email: &str) -> SentMail {
    app.mailbox
        .next_for(email, Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("no mail to {email}"))
}

fn reset_token(mail: &SentMail) -> String {
    let link = mail.link("/reset-password").expect("a reset link");
    assert!(
        link.starts_with("http://roster.test/reset-password?token="),
        "{link}"
    );
    roster_mailer::token_of_link(&link).unwrap().to_owned()
}

async fn request_reset(app: &TestApp, email: &str) {
    let reply = app
        .post("/api/auth/password-reset/request", &json!({"email": email}))
        .await;
    assert_eq!(reply.status, 202, "{reply:?}");
    assert_eq!(reply.body, json!({"data": {}}));
}

async fn reset(app: &TestApp, token: &str, password: &str) -> crate::helpers::Reply {
    app.post(
        "/api/auth/password-reset/confirm",
        &json!({"token": token, "password": password}),
    )
    .await
}

async fn a_resent_confirmation_link_works_and_the_old_one_no_longer_does(kind: BackendKind) {
    let app = spawn_app(kind).await;
    assert_eq!(app.register("ada@example.com", PASSWORD).await.status, 201);
    let old = app.confirmation_token("ada@example.com").await;

    let resent = app
        .post(
            "/api/auth/resend-confirmation",
            &json!({"email": "ADA@example.com"}),
        )
        .await;
    assert_eq!(resent.status, 202, "{resent:?}");
    assert_eq!(resent.body, json!({"data": {}}));
    let new = app.confirmation_token("ada@example.com").await;
    assert_ne!(old, new);

    let with_old = app.confirm(&old).await;
    assert_eq!((with_old.status, with_old.code()), (400, "invalid_token"));
    let with_new = app.confirm(&new).await;
    assert_eq!(with_new.status, 200, "{with_new:?}");
    assert_eq!(with_new.body["data"]["status"], "active");
}

async fn resending_to_an_active_or_unknown_address_answers_202_and_mails_nothing(
    kind: BackendKind,
) {
    let app = spawn_app(kind).await;
    app.active_user("ada@example.com").await;
    for email in ["ada@example.com", "nobody@example.com"] {
        let reply = app
            .post("/api/auth/resend-confirmation", &json!({"email": email}))
            .await;
        assert_eq!(reply.status, 202, "{reply:?}");
        assert_eq!(reply.body, json!({"data": {}}));
    }
    assert!(
        app.mailbox
            .next_for("ada@example.com", QUIET)
            .await
            .is_none()
    );
    assert!(
        app.mailbox
            .next_for("nobody@example.com", QUIET)
            .await
            .is_none()
    );
}

async fn a_resend_without_an_address_is_refused_as_a_validation_error(kind: BackendKind) {
    let app = spawn_app(kind).await;
    for path in [
        "/api/auth/resend-confirmation",
        "/api/auth/password-reset/request",
    ] {
        let missing = app.post(path, &json!({})).await;
        assert_eq!((missing.status, missing.code()), (422, "validation_failed"));
        assert_eq!(missing.body["errors"][0]["field"], "email");
        let unknown = app
            .post(path, &json!({"email": "a@example.com", "role": "ADMIN"}))
            .await;
        assert_eq!((unknown.status, unknown.code()), (400, "unknown_field"));
    }
}

async fn a_reset_link_sets_a_new_password_and_ends_every_session(kind: BackendKind) {
    let app = spawn_app(kind).await;
    let access = app.active_user("ada@example.com").await;
    assert_eq!(app.get("/api/users/me", Some(&access)).await.status, 200);

    request_reset(&app, "Ada@Example.COM").await;
    let mail = mail_to(&app, "ada@example.com").await;
    assert!(mail.subject.contains("Roster"), "{}", mail.subject);
    assert!(
        mail.text.contains("UTC"),
        "the expiry is named: {}",
        mail.text
    );
    assert!(
        mail.html.contains("/reset-password?token="),
        "{}",
        mail.html
    );
    let token = reset_token(&mail);

    let weak = reset(&app, &token, "short").await;
    assert_eq!((weak.status, weak.code()), (422, "validation_failed"));
    let rules: Vec<&str> = weak.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"too_short"), "{rules:?}");
    assert!(rules.contains(&"missing_uppercase"), "{rules:?}");
    assert!(rules.contains(&"missing_digit"), "{rules:?}");
    let same = reset(&app, &token, "ada@example.com").await;
    assert_eq!(same.status, 422, "{same:?}");

    let done = reset(&app, &token, NEW_PASSWORD).await;
    assert_eq!(done.status, 204, "{done:?}");
    assert!(done.body.is_null());

    let me = app.get("/api/users/me", Some(&access)).await;
    assert_eq!(me.status, 401, "the old session ended: {me:?}");
    let old = app.login("ada@example.com", PASSWORD).await;
    assert_eq!((old.status, old.code()), (401, "invalid_credentials"));
    assert_eq!(app.login("ada@example.com", NEW_PASSWORD).await.status, 200);

    let again = reset(&app, &token, "An0ther!password").await;
    assert_eq!((again.status, again.code()), (400, "invalid_token"));
}

async fn a_reset_link_stops_working_when_the_reset_ttl_has_passed(kind: BackendKind) {
    let app = spawn_app(kind).await;
    app.active_user("ada@example.com").await;
    request_reset(&app, "ada@example.com").await;
    let token = reset_token(&mail_to(&app, "ada@example.com").await);
    app.clock.advance(chrono::Duration::hours(2));
    let late = reset(&app, &token, NEW_PASSWORD).await;
    assert_eq!((late.status, late.code()), (400, "invalid_token"));
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status, 200);
}

async fn a_second_reset_request_replaces_the_first_link(kind: BackendKind) {
    let app = spawn_app(kind).await;
    app.active_user("ada@example.com").await;
    request_reset(&app, "ada@example.com").await;
    let first = reset_token(&mail_to(&app, "ada@example.com").await);
    request_reset(&app, "ada@example.com").await;
    let second = reset_token(&mail_to(&app, "ada@example.com").await);
    let with_first = reset(&app, &first, NEW_PASSWORD).await;
    assert_eq!(
        (with_first.status, with_first.code()),
        (400, "invalid_token")
    );
    assert_eq!(reset(&app, &second, NEW_PASSWORD).await.status, 204);
}

async fn a_reset_for_an_unknown_address_answers_the_same_and_mails_nothing(kind: BackendKind) {
    let app = spawn_app(kind).await;
    request_reset(&app, "nobody@example.com").await;
    assert!(
        app.mailbox
            .next_for("nobody@example.com", QUIET)
            .await
            .is_none()
    );
    let unknown = reset(&app, "not-a-token-we-issued", NEW_PASSWORD).await;
    assert_eq!((unknown.status, unknown.code()), (400, "invalid_token"));
}

async fn two_concurrent_resets_with_one_link_succeed_exactly_once(kind: BackendKind) {
    let app = spawn_app(kind).await;
    app.active_user("ada@example.com").await;
    request_reset(&app, "ada@example.com").await;
    let token = reset_token(&mail_to(&app, "ada@example.com").await);
    let (a, b) = tokio::join!(
        reset(&app, &token, NEW_PASSWORD),
        reset(&app, &token, "An0ther!password")
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [204, 400], "{a:?} {b:?}");
    let winner = if a.status == 204 {
        NEW_PASSWORD
    } else {
        "An0ther!password"
    };
    assert_eq!(app.login("ada@example.com", winner).await.status, 200);
}

on_both_backends!(
    a_resent_confirmation_link_works_and_the_old_one_no_longer_does,
    resending_to_an_active_or_unknown_address_answers_202_and_mails_nothing,
    a_resend_without_an_address_is_refused_as_a_validation_error,
    a_reset_link_sets_a_new_password_and_ends_every_session,
    a_reset_link_stops_working_when_the_reset_ttl_has_passed,
    a_second_reset_request_replaces_the_first_link,
    a_reset_for_an_unknown_address_answers_the_same_and_mails_nothing,
    two_concurrent_resets_with_one_link_succeed_exactly_once,
);
