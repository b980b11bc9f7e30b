//! Abuse protection: the rate limits, per login and per client IP, in memory and in Redis.

use chrono::Duration;
use roster_persistence_diesel::BackendKind;
use serde_json::json;

use crate::helpers::{Options, PASSWORD, Reply, TestApp, read, spawn_with};
use crate::on_both_backends;

fn limits(vars: &[(&'static str, &str)]) -> Options {
    let mut all = vec![("ROSTER_RATE_LIMITS", "on".to_owned())];
    all.extend(vars.iter().map(|(k, v)| (*k, (*v).to_owned())));
    Options {
        vars: all,
        ..Options::default()
    }
}

fn assert_limited(reply: &Reply, max_wait: u64) {
    assert_eq!(reply.status, 429, "{reply:?}");
    assert_eq!(reply.code(), "rate_limited");
    let wait: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=max_wait).contains(&wait), "Retry-After {wait}");
}

async fn login_from(app: &TestApp, login: &str, password: &str, forwarded: Option<&str>) -> Reply {
    let mut request = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&json!({"login": login, "password": password}));
    if let Some(ip) = forwarded {
        request = request.header("x-forwarded-for", ip);
    }
    read(request.send().await.unwrap()).await
}

async fn a_login_that_is_guessed_at_is_refused_for_a_while_even_with_the_right_password(
    kind: BackendKind,
) {
    let app = spawn_with(kind, limits(&[("ROSTER_RATE_LIMIT_LOGIN_LOGIN", "3/15m")])).await;
    app.active_user("ada@example.com").await; // the first attempt: a success, and it counts
    for login in ["ada@example.com", "ADA@example.com "] {
        let wrong = app.login(login, "Wr0ng!pass").await;
        assert_eq!(wrong.status, 401, "{wrong:?}");
    }
    let right = app.login("ada@example.com", PASSWORD).await;
    assert_limited(&right, 900);
    assert!(
        right.body["detail"].as_str().unwrap().contains("try again"),
        "{right:?}"
    );
    // Other logins are not affected, whether or not they exist.
    assert_eq!(app.login("nobody@example.com", PASSWORD).await.status, 401);

    app.clock.advance(Duration::minutes(15));
    let later = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(later.status, 200, "the window has passed: {later:?}");
}

async fn registrations_confirmations_and_logins_are_limited_per_client_address(kind: BackendKind) {
    let app = spawn_with(
        kind,
        limits(&[
            ("ROSTER_RATE_LIMIT_REGISTER", "2/1h"),
            ("ROSTER_RATE_LIMIT_CONFIRM_IP", "2/15m"),
            ("ROSTER_RATE_LIMIT_LOGIN_IP", "3/15m"),
        ]),
    )
    .await;
    assert_eq!(app.register("ada@example.com", PASSWORD).await.status, 201);
    let invalid = app.register("not an email", PASSWORD).await;
    assert_eq!(invalid.status, 422, "a refused request counts too");
    assert_limited(&app.register("bob@example.com", PASSWORD).await, 3600);
    let malformed = read(
        app.client
            .post(app.url("/api/auth/register"))
            .header("content-type", "application/json")
            .body("{")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_limited(&malformed, 3600);

    let token = app.confirmation_token("ada@example.com").await;
    assert_eq!(app.confirm("wrong").await.status, 400);
    assert_eq!(app.confirm(&token).await.status, 200);
    assert_limited(&app.confirm(&token).await, 900);

    for login in ["a@example.com", "b@example.com", "c@example.com"] {
        assert_eq!(app.login(login, PASSWORD).await.status, 401);
    }
    assert_limited(&app.login("ada@example.com", PASSWORD).await, 900);

    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for refused in [
        r#"roster_rate_limited_total{rule="register"} 2"#,
        r#"roster_rate_limited_total{rule="confirm_ip"} 1"#,
        r#"roster_rate_limited_total{rule="login_ip"} 1"#,
    ] {
        assert!(
            metrics.contains(refused),
            "missing {refused:?} in:\n{metrics}"
        );
    }

    app.clock.advance(Duration::hours(1));
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status, 200);
    assert_eq!(app.register("bob@example.com", PASSWORD).await.status, 201);
}

async fn with_rate_limits_off_nothing_is_ever_refused(kind: BackendKind) {
    let app = spawn_with(
        kind,
        Options {
            vars: vec![
                ("ROSTER_RATE_LIMITS", "off".into()),
                ("ROSTER_RATE_LIMIT_LOGIN_LOGIN", "1/15m".into()),
                ("ROSTER_RATE_LIMIT_LOGIN_IP", "1/15m".into()),
            ],
            ..Options::default()
        },
    )
    .await;
    for _ in 0..5 {
        assert_eq!(app.login("ada@example.com", PASSWORD).await.status, 401);
    }
}

async fn forwarded_addresses_count_only_behind_a_trusted_proxy(kind: BackendKind) {
    // Untrusted peer: X-Forwarded-For is ignored, every request is 127.0.0.1's.
    let app = spawn_with(kind, limits(&[("ROSTER_RATE_LIMIT_LOGIN_IP", "2/15m")])).await;
    for (n, ip) in ["198.51.100.1", "198.51.100.2"].iter().enumerate() {
        let login = format!("user{n}@example.com");
        assert_eq!(
            login_from(&app, &login, PASSWORD, Some(ip)).await.status,
            401
        );
    }
    assert_limited(
        &login_from(&app, "x@example.com", PASSWORD, Some("198.51.100.3")).await,
        900,
    );

    // Behind a trusted proxy: the right-most untrusted forwarded address is the client.
    let app = spawn_with(
        kind,
        limits(&[
            ("ROSTER_RATE_LIMIT_LOGIN_IP", "2/15m"),
            ("ROSTER_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8"),
        ]),
    )
    .await;
    app.active_user("ada@example.com").await;
    let via_proxies = "203.0.113.50, 198.51.100.1, 10.1.2.3";
    let ok = login_from(&app, "ada@example.com", PASSWORD, Some(via_proxies)).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    let access = ok.body["data"]["access_token"].as_str().unwrap().to_owned();
    let sessions = app.get("/api/auth/sessions", Some(&access)).await;
    let current = sessions.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()
        .clone();
    assert_eq!(
        current["ip"], "198.51.100.1",
        "the session records the client"
    );
    assert_eq!(
        login_from(&app, "x@example.com", PASSWORD, Some("198.51.100.1"))
            .await
            .status,
        401
    );
    assert_limited(
        &login_from(
            &app,
            "y@example.com",
            PASSWORD,
            Some("7.7.7.7, 198.51.100.1"),
        )
        .await,
        900,
    );
    let other = login_from(&app, "z@example.com", PASSWORD, Some("198.51.100.2")).await;
    assert_eq!(
        other.status, 401,
        "another client is not limited: {other:?}"
    );
}

async fn limits_in_redis_hold_across_instances(kind: BackendKind) {
    let prefix = format!("roster-test:{}:", uuid::Uuid::now_v7());
    let redis = std::env::var("ROSTER_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let options = || {
        limits(&[
            ("ROSTER_REDIS_URL", &redis),
            ("ROSTER_REDIS_KEY_PREFIX", &prefix),
            ("ROSTER_RATE_LIMIT_LOGIN_LOGIN", "3/15m"),
        ])
    };
    let first = spawn_with(kind, options()).await;
    let second = spawn_with(kind, options()).await;
    assert_eq!(first.login("ada@example.com", PASSWORD).await.status, 401);
    assert_eq!(second.login("ada@example.com", PASSWORD).await.status, 401);
    assert_eq!(first.login("ADA@example.com", PASSWORD).await.status, 401);
    assert_limited(&second.login("ada@example.com", PASSWORD).await, 900);
    assert_limited(&first.login("ada@example.com", PASSWORD).await, 900);
    assert_eq!(
        second.login("bob@example.com", PASSWORD).await.status,
        401,
        "other logins are counted apart"
    );
}

/// `reset_request` counts per address (known or not, so it reveals nothing); `reset_ip`
/// counts requests and confirmations per client; `confirm_ip` covers resending too.
async fn password_resets_and_resends_are_limited(kind: BackendKind) {
    let app = spawn_with(
        kind,
        limits(&[
            ("ROSTER_RATE_LIMIT_RESET_REQUEST", "2/24h"),
            ("ROSTER_RATE_LIMIT_RESET_IP", "4/15m"),
            ("ROSTER_RATE_LIMIT_CONFIRM_IP", "2/15m"),
        ]),
    )
    .await;
    let reset = |email: &'static str| {
        let app = &app;
        async move {
            app.post("/api/auth/password-reset/request", &json!({"email": email}))
                .await
        }
    };
    assert_eq!(reset("ada@example.com").await.status, 202);
    assert_eq!(
        reset("ADA@example.com").await.status,
        202,
        "one address, any case"
    );
    assert_limited(&reset("ada@example.com").await, 24 * 3600);
    // Another address has its own allowance, but the client's shared one runs out: the
    // limited request above counted too (3 so far), this is the 4th, the next the 5th.
    assert_eq!(reset("nobody@example.com").await.status, 202);
    let confirm = app
        .post(
            "/api/auth/password-reset/confirm",
            &json!({"token": "x", "password": PASSWORD}),
        )
        .await;
    assert_limited(&confirm, 900);

    assert_eq!(
        app.post(
            "/api/auth/resend-confirmation",
            &json!({"email": "a@example.com"})
        )
        .await
        .status,
        202
    );
    assert_eq!(
        app.post(
            "/api/auth/resend-confirmation",
            &json!({"email": "b@example.com"})
        )
        .await
        .status,
        202
    );
    assert_limited(
        &app.post(
            "/api/auth/resend-confirmation",
            &json!({"email": "c@example.com"}),
        )
        .await,
        900,
    );

    app.clock.advance(Duration::minutes(15));
    assert_eq!(
        reset("bob@example.com").await.status,
        202,
        "the per-client window has passed"
    );
    assert_limited(&reset("ada@example.com").await, 24 * 3600);
    app.clock.advance(Duration::hours(24));
    assert_eq!(
        reset("ada@example.com").await.status,
        202,
        "and the per-address one too"
    );
}

on_both_backends!(
    password_resets_and_resends_are_limited,
    a_login_that_is_guessed_at_is_refused_for_a_while_even_with_the_right_password,
    registrations_confirmations_and_logins_are_limited_per_client_address,
    with_rate_limits_off_nothing_is_ever_refused,
    forwarded_addresses_count_only_behind_a_trusted_proxy,
    limits_in_redis_hold_across_instances,
);
