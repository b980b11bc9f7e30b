//! HTTP hygiene: bodies, media types, methods, credentials and headers, as the contract says.

use roster_persistence_diesel::BackendKind;
use serde_json::json;

use crate::helpers::{PASSWORD, read, spawn_app};
use crate::on_both_backends;

async fn unknown_fields_are_refused_and_change_nothing(kind: BackendKind) {
    let app = spawn_app(kind).await;
    let reply = app
        .post(
            "/api/auth/register",
            &json!({"email": "ada@example.com", "password": PASSWORD, "roles": ["ADMIN"]}),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (400, "unknown_field"));
    assert!(reply.body["detail"].as_str().unwrap().contains("roles"));
    // Nothing was stored: the address is still free.
    assert_eq!(app.register("ada@example.com", PASSWORD).await.status, 201);
}

async fn malformed_oversized_and_foreign_bodies_get_their_own_answers(kind: BackendKind) {
    let app = spawn_app(kind).await;
    let url = app.url("/api/auth/register");
    let malformed = read(
        app.client
            .post(&url)
            .header("content-type", "application/json")
            .body("{\"email\":")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (malformed.status, malformed.code()),
        (400, "malformed_json")
    );
    let wrong_type = app
        .post(
            "/api/auth/register",
            &json!({"email": 42, "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (wrong_type.status, wrong_type.code()),
        (400, "invalid_body")
    );
    let not_json = read(
        app.client
            .post(&url)
            .header("content-type", "text/plain")
            .body("email=a")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (not_json.status, not_json.code()),
        (415, "unsupported_media_type")
    );
    let huge =
        json!({"email": "ada@example.com", "password": PASSWORD, "name": "x".repeat(70 * 1024)});
    let too_large = app.post("/api/auth/register", &huge).await;
    assert_eq!(
        (too_large.status, too_large.code()),
        (413, "payload_too_large")
    );
}

async fn wrong_methods_and_unknown_paths_are_problems(kind: BackendKind) {
    let app = spawn_app(kind).await;
    let wrong = read(
        app.client
            .get(app.url("/api/auth/register"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((wrong.status, wrong.code()), (405, "method_not_allowed"));
    assert_eq!(wrong.header("allow"), Some("POST"));
    let put_me = read(
        app.client
            .put(app.url("/api/users/me"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(put_me.status, 405);
    assert_eq!(put_me.header("allow"), Some("GET, PATCH, DELETE"));
    let missing = app.get("/api/nothing-here", None).await;
    assert_eq!((missing.status, missing.code()), (404, "not_found"));
}

async fn credentials_come_only_from_one_header_or_the_cookie(kind: BackendKind) {
    let app = spawn_app(kind).await;
    let token = app.active_user("ada@example.com").await;
    let none = app.get("/api/users/me", None).await;
    assert_eq!((none.status, none.code()), (401, "missing_token"));
    let garbage = app.get("/api/users/me", Some("not.a.jwt")).await;
    assert_eq!((garbage.status, garbage.code()), (401, "invalid_token"));
    let in_query = app
        .get(&format!("/api/users/me?access_token={token}"), None)
        .await;
    assert_eq!(
        in_query.status, 401,
        "a token in the query string is never accepted"
    );
    let two = read(
        app.client
            .get(app.url("/api/users/me"))
            .header("authorization", format!("Bearer {token}"))
            .header("authorization", "Bearer other")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        two.status, 401,
        "two Authorization headers never grant the first one's access"
    );
    let basic = read(
        app.client
            .get(app.url("/api/users/me"))
            .basic_auth("ada", Some(PASSWORD))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(basic.status, 401);
    // A token signed with another key is refused.
    let mut forged: Vec<&str> = token.split('.').collect();
    forged[2] = "c2lnbmF0dXJl";
    assert_eq!(
        app.get("/api/users/me", Some(&forged.join(".")))
            .await
            .status,
        401
    );
}

async fn oversized_headers_are_refused(kind: BackendKind) {
    let app = spawn_app(kind).await;
    let huge = "x".repeat(80 * 1024);
    let response = app
        .client
        .get(app.url("/api/users/me"))
        .header("x-filler", huge)
        .send()
        .await;
    match response {
        Ok(response) => assert!(
            [431, 401].contains(&response.status().as_u16()),
            "{response:?}"
        ),
        // Closing the connection on an oversized head is also a refusal.
        Err(error) => assert!(
            error.is_request() || error.is_connect() || error.is_body(),
            "{error:?}"
        ),
    }
    assert_eq!(
        app.get("/health", None).await.status,
        200,
        "the server is unharmed"
    );
}

async fn every_response_carries_the_security_headers(kind: BackendKind) {
    let app = spawn_app(kind).await;
    for reply in [
        app.get("/health", None).await,
        app.get("/ready", None).await,
        app.get("/api/users/me", None).await,
        app.get("/nope", None).await,
        app.register("bad", "bad").await,
    ] {
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{reply:?}"
        );
        assert!(
            reply
                .header("x-request-id")
                .is_some_and(|id| !id.is_empty()),
            "{reply:?}"
        );
    }
    let echoed = read(
        app.client
            .get(app.url("/health"))
            .header("x-request-id", "abc-123")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(echoed.header("x-request-id"), Some("abc-123"));
}

async fn health_and_readiness_answer(kind: BackendKind) {
    let app = spawn_app(kind).await;
    let health = app.get("/health", None).await;
    assert_eq!(
        (health.status, health.body.clone()),
        (200, json!({"status": "ok"}))
    );
    let ready = app.get("/ready", None).await;
    assert_eq!(ready.status, 200);
}

async fn metrics_count_requests_by_route_template_and_report_the_pool_and_outbox(
    kind: BackendKind,
) {
    let app = spawn_app(kind).await;
    assert_eq!(app.register("ada@example.com", PASSWORD).await.status, 201);
    app.confirmation_token("ada@example.com").await;
    app.get("/api/users/me", Some("junk")).await;
    app.get("/no/such/path/12345", None).await;
    // The worker marks the mail sent just after the mailbox received it: wait for that.
    let mut text = String::new();
    for _ in 0..100 {
        let response = app.client.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/openmetrics-text")
        );
        text = response.text().await.unwrap();
        if text.contains("roster_mail_sent_total 1") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for expected in [
        r#"roster_http_requests_total{method="POST",route="/api/auth/register",status="201"} 1"#,
        r#"roster_http_requests_total{method="GET",route="/api/users/me",status="401"} 1"#,
        r#"roster_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        r#"roster_db_pool_connections{state="max"} 4"#,
        "roster_outbox_pending 0",
        "roster_mail_sent_total 1",
        "roster_password_hash_queue 0",
        "roster_http_request_duration_seconds_bucket",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("12345"), "raw paths never become labels");
}

async fn the_openapi_document_and_swagger_ui_are_served_from_the_binary(kind: BackendKind) {
    let app = spawn_app(kind).await;
    let doc = app.get("/api/openapi.json", None).await;
    assert_eq!(doc.status, 200);
    assert!(
        doc.body["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc.body["openapi"]
    );
    assert!(doc.body["paths"]["/api/auth/register"]["post"].is_object());
    assert!(doc.body["components"]["securitySchemes"]["bearer"].is_object());
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .arg("openapi")
        .output()
        .unwrap();
    assert!(cli.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(
        printed, doc.body,
        "`roster openapi` prints the served document"
    );

    let redirect = app.client.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(redirect.status(), 308);
    let ui = app.client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(ui.status(), 200);
    let html = ui.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("cdn") && !html.contains("unpkg"),
        "no CDN: {html}"
    );
    let init = app
        .client
        .get(app.url("/api/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(init.status(), 200);
    assert!(
        init.text()
            .await
            .unwrap()
            .contains("/api/docs/openapi.json")
    );
}

on_both_backends!(
    unknown_fields_are_refused_and_change_nothing,
    malformed_oversized_and_foreign_bodies_get_their_own_answers,
    wrong_methods_and_unknown_paths_are_problems,
    credentials_come_only_from_one_header_or_the_cookie,
    every_response_carries_the_security_headers,
    oversized_headers_are_refused,
    health_and_readiness_answer,
    metrics_count_requests_by_route_template_and_report_the_pool_and_outbox,
    the_openapi_document_and_swagger_ui_are_served_from_the_binary,
);
