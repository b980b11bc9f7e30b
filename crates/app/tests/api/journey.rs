//! The first journey: register, confirm by mail, log in, read `/me`, and its failures.

use chrono::Duration;
use roster_persistence_diesel::BackendKind;
use serde_json::json;

use crate::helpers::{Options, PASSWORD, spawn_app, spawn_with};
use crate::on_both_backends;

fn is_micro_timestamp(value: &serde_json::Value) -> bool {
    let Some(s) = value.as_str() else {
        return false;
    };
    // 2026-11-22T18:30:00.123456Z
    s.len() == 27
        && s.ends_with('Z')
        && s.as_bytes()[19] == b'.'
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

async fn the_whole_journey_works(kind: BackendKind) {
    let app = spawn_app(kind).await;

    let registered = app
        .post(
            "/api/auth/register",
            &json!({"email": " Ada@Example.com ", "password": PASSWORD, "name": "Ada Lovelace"}),
        )
        .await;
    assert_eq!(registered.status, 201, "{registered:?}");
    let user = &registered.body["data"];
    assert_eq!(
        user["email"], "Ada@Example.com",
        "displayed as entered, trimmed"
    );
    assert_eq!(user["username"], "Ada", "defaults to the local part");
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user["status"], "pending");
    assert_eq!(user["email_verified"], false);
    assert_eq!(user["roles"], json!(["USER"]));
    assert_eq!(user["tenants"], json!([]));
    assert_eq!(user["login_count"], 0);
    assert!(
        is_micro_timestamp(&user["created_at"]),
        "{}",
        user["created_at"]
    );
    assert_eq!(
        uuid::Uuid::parse_str(user["id"].as_str().unwrap())
            .unwrap()
            .get_version_num(),
        7
    );
    for secret in ["password", "password_hash", "email_key", "username_key"] {
        assert!(user.get(secret).is_none(), "{secret} must never be sent");
    }

    let token = app.confirmation_token("Ada@Example.com").await;
    assert_eq!(token.len(), 43, "32 bytes, base64url without padding");
    let confirmed = app.confirm(&token).await;
    assert_eq!(confirmed.status, 200, "{confirmed:?}");
    assert_eq!(confirmed.body["data"]["status"], "active");
    assert_eq!(confirmed.body["data"]["email_verified"], true);

    let login = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(login.status, 200, "{login:?}");
    assert_eq!(login.header("cache-control"), Some("no-store"));
    let tokens = &login.body["data"];
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 1800);
    assert!(tokens["refresh_token"].as_str().unwrap().len() >= 43);
    assert_eq!(tokens["user"]["login_count"], 1);
    assert!(is_micro_timestamp(&tokens["user"]["last_login_at"]));
    let access = tokens["access_token"].as_str().unwrap();

    for path in ["/api/users/me", "/api/auth/me"] {
        let me = app.get(path, Some(access)).await;
        assert_eq!(me.status, 200, "{path}: {me:?}");
        assert_eq!(me.body["data"]["id"], user["id"]);
        assert_eq!(me.body["data"]["email"], "Ada@Example.com");
        assert_eq!(me.header("cache-control"), Some("no-store"));
    }

    // The username logs in too, in any case.
    assert_eq!(app.login("ADA", PASSWORD).await.status, 200);
}

async fn a_duplicate_email_in_another_case_or_a_taken_username_is_a_conflict(kind: BackendKind) {
    let app = spawn_app(kind).await;
    assert_eq!(app.register("ada@example.com", PASSWORD).await.status, 201);
    let again = app.register("ADA@EXAMPLE.COM", PASSWORD).await;
    assert_eq!((again.status, again.code()), (409, "email_taken"));
    let same_name = app
        .post(
            "/api/auth/register",
            &json!({"email": "other@example.com", "password": PASSWORD, "username": "ADA"}),
        )
        .await;
    assert_eq!(
        (same_name.status, same_name.code()),
        (409, "username_taken")
    );
    // A derived username steps aside instead: ada@elsewhere gets ada-2.
    let derived = app.register("ada@elsewhere.org", PASSWORD).await;
    assert_eq!(derived.status, 201);
    assert_eq!(derived.body["data"]["username"], "ada-2");
}

async fn a_weak_password_lists_every_broken_rule(kind: BackendKind) {
    let app = spawn_app(kind).await;
    let reply = app
        .post(
            "/api/auth/register",
            &json!({"email": "not-an-email", "password": "abc"}),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (422, "validation_failed"));
    let errors: Vec<(String, String)> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("email", "invalid_email"),
        ("password", "too_short"),
        ("password", "missing_uppercase"),
        ("password", "missing_digit"),
        ("password", "missing_symbol"),
    ]
    .iter()
    .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
    .collect();
    assert_eq!(errors, expected);
    assert!(
        reply.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );

    let too_long = app
        .register("ada@example.com", &format!("Aa1!{}", "x".repeat(69)))
        .await;
    assert_eq!(
        too_long.body["errors"][0]["code"], "too_long",
        "73 bytes are refused, never truncated"
    );
    let same = app.register("Ada@Example1.com", "ada@example1.COM").await;
    assert!(
        same.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["code"] == "same_as_identity"),
        "{same:?}"
    );
    let missing = app.post("/api/auth/register", &json!({})).await;
    assert_eq!(missing.status, 422);
    assert_eq!(
        missing.body["errors"].as_array().unwrap().len(),
        2,
        "{missing:?}"
    );
    // Nothing was created by any of these.
    assert_eq!(app.register("ada@example.com", PASSWORD).await.status, 201);
}

async fn wrong_password_and_unknown_login_get_the_same_answer(kind: BackendKind) {
    let app = spawn_app(kind).await;
    app.active_user("ada@example.com").await;
    let wrong = app.login("ada@example.com", "Wr0ng!pass").await;
    let unknown = app.login("nobody@example.com", PASSWORD).await;
    let unknown_name = app.login("nobody", PASSWORD).await;
    for reply in [&wrong, &unknown, &unknown_name] {
        assert_eq!((reply.status, reply.code()), (401, "invalid_credentials"));
    }
    let strip = |body: &serde_json::Value| {
        let mut body = body.clone();
        body.as_object_mut().unwrap().remove("request_id");
        body
    };
    assert_eq!(strip(&wrong.body), strip(&unknown.body));
}

async fn an_unconfirmed_account_cannot_log_in_but_keeps_its_secret(kind: BackendKind) {
    let app = spawn_app(kind).await;
    assert_eq!(app.register("ada@example.com", PASSWORD).await.status, 201);
    let reply = app.login("ada@example.com", PASSWORD).await;
    assert_eq!((reply.status, reply.code()), (403, "email_not_confirmed"));
    // Without the right password the status of the account is not revealed.
    let wrong = app.login("ada@example.com", "Wr0ng!pass").await;
    assert_eq!((wrong.status, wrong.code()), (401, "invalid_credentials"));
}

async fn a_confirmation_token_works_once(kind: BackendKind) {
    let app = spawn_app(kind).await;
    app.register("ada@example.com", PASSWORD).await;
    let token = app.confirmation_token("ada@example.com").await;
    assert_eq!(app.confirm(&token).await.status, 200);
    let again = app.confirm(&token).await;
    assert_eq!((again.status, again.code()), (400, "invalid_token"));
    let bogus = app.confirm("not-a-token").await;
    assert_eq!((bogus.status, bogus.code()), (400, "invalid_token"));
    let missing = app.post("/api/auth/confirm", &json!({})).await;
    assert_eq!((missing.status, missing.code()), (422, "validation_failed"));
}

async fn an_expired_confirmation_is_gone_and_frees_the_address(kind: BackendKind) {
    let app = spawn_app(kind).await;
    app.register("ada@example.com", PASSWORD).await;
    let token = app.confirmation_token("ada@example.com").await;
    app.clock.advance(Duration::hours(24));
    let reply = app.confirm(&token).await;
    assert_eq!((reply.status, reply.code()), (410, "token_expired"));
    assert_eq!(
        app.login("ada@example.com", PASSWORD).await.status,
        401,
        "the pending account is gone"
    );
    let again = app.register("ada@example.com", PASSWORD).await;
    assert_eq!(again.status, 201, "the address is free again: {again:?}");
    assert_eq!(
        again.body["data"]["username"], "ada",
        "and so is the username"
    );
}

async fn the_cookie_carries_the_access_token(kind: BackendKind) {
    let app = spawn_app(kind).await;
    app.active_user("ada@example.com").await;
    let response = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&json!({"login": "ada", "password": PASSWORD, "set_cookie": true}))
        .send()
        .await
        .unwrap();
    let cookie = response
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("access_token="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "the test public URL is http: {cookie}"
    );
    let value = cookie.split(';').next().unwrap().to_owned();
    let me = app
        .client
        .get(app.url("/api/users/me"))
        .header("cookie", value)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
}

async fn an_access_token_dies_at_its_expiry_with_no_leeway(kind: BackendKind) {
    let app = spawn_app(kind).await;
    let token = app.active_user("ada@example.com").await;
    app.clock.advance(Duration::seconds(1799));
    assert_eq!(app.get("/api/users/me", Some(&token)).await.status, 200);
    app.clock.advance(Duration::seconds(1));
    let reply = app.get("/api/users/me", Some(&token)).await;
    assert_eq!((reply.status, reply.code()), (401, "token_expired"));
}

async fn the_bootstrap_admin_exists_once_and_logs_in(kind: BackendKind) {
    let app = spawn_with(
        kind,
        Options {
            vars: vec![
                ("ROSTER_BOOTSTRAP_ADMIN_EMAIL", "root@example.com".into()),
                ("ROSTER_BOOTSTRAP_ADMIN_PASSWORD", "R00t!password".into()),
            ],
            ..Options::default()
        },
    )
    .await;
    let login = app.login("root@example.com", "R00t!password").await;
    assert_eq!(login.status, 200, "{login:?}");
    assert_eq!(login.body["data"]["user"]["roles"], json!(["ADMIN"]));
    assert_eq!(login.body["data"]["user"]["email_verified"], true);
    assert_eq!(login.body["data"]["user"]["username"], "root");
}

on_both_backends!(
    the_whole_journey_works,
    a_duplicate_email_in_another_case_or_a_taken_username_is_a_conflict,
    a_weak_password_lists_every_broken_rule,
    wrong_password_and_unknown_login_get_the_same_answer,
    an_unconfirmed_account_cannot_log_in_but_keeps_its_secret,
    a_confirmation_token_works_once,
    an_expired_confirmation_is_gone_and_frees_the_address,
    the_cookie_carries_the_access_token,
    an_access_token_dies_at_its_expiry_with_no_leeway,
    the_bootstrap_admin_exists_once_and_logs_in,
);
