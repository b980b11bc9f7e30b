//! Sessions: refresh rotation and reuse, logout, logout-all, the sessions list.

use chrono::Duration;
use roster_persistence_diesel::BackendKind;
use serde_json::{Value, json};

use crate::helpers::{Options, PASSWORD, Reply, TestApp, read, spawn_app, spawn_with};
use crate::on_both_backends;

/// A login's (access token, refresh token).
fn tokens(reply: &Reply) -> (String, String) {
    assert_eq!(reply.status, 200, "{reply:?}");
    let data = &reply.body["data"];
    (
        data["access_token"].as_str().unwrap().to_owned(),
        data["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn refresh(app: &TestApp, refresh_token: &str) -> Reply {
    app.post(
        "/api/auth/refresh",
        &json!({"refresh_token": refresh_token}),
    )
    .await
}

async fn post_with(app: &TestApp, path: &str, access: &str) -> Reply {
    read(
        app.client
            .post(app.url(path))
            .bearer_auth(access)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn delete_with(app: &TestApp, path: &str, access: &str) -> Reply {
    read(
        app.client
            .delete(app.url(path))
            .bearer_auth(access)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Logs `email` (already active) in from a client calling itself `agent`.
async fn login_as(app: &TestApp, email: &str, agent: &str) -> (String, String) {
    let reply = read(
        app.client
            .post(app.url("/api/auth/login"))
            .header("user-agent", agent)
            .json(&json!({"login": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    tokens(&reply)
}

async fn me_status(app: &TestApp, access: &str) -> u16 {
    app.get("/api/users/me", Some(access)).await.status
}

async fn a_refresh_rotates_the_tokens_and_a_replayed_token_ends_the_session(kind: BackendKind) {
    let app = spawn_app(kind).await;
    app.active_user("ada@example.com").await;
    let (_, first_refresh) = login_as(&app, "ada@example.com", "laptop").await;

    app.clock.advance(Duration::minutes(10));
    let refreshed = refresh(&app, &first_refresh).await;
    assert_eq!(refreshed.status, 200, "{refreshed:?}");
    assert_eq!(refreshed.header("cache-control"), Some("no-store"));
    let data = &refreshed.body["data"];
    assert_eq!(data["token_type"], "Bearer");
    assert_eq!(data["expires_in"], 1800);
    assert_eq!(data["user"]["email"], "ada@example.com");
    let (access, second_refresh) = tokens(&refreshed);
    assert_ne!(second_refresh, first_refresh, "the refresh token rotates");
    assert_eq!(
        me_status(&app, &access).await,
        200,
        "the new access token works"
    );

    // Someone replays the first, rotated token: the whole session ends.
    let replay = refresh(&app, &first_refresh).await;
    assert_eq!(replay.status, 401, "{replay:?}");
    assert_eq!(replay.code(), "token_reused");
    assert_eq!(
        me_status(&app, &access).await,
        401,
        "access tokens of the session die"
    );
    let next = refresh(&app, &second_refresh).await;
    assert_eq!(next.status, 401, "{next:?}");
    assert_eq!(
        next.code(),
        "invalid_token",
        "the legitimate chain is revoked too"
    );
}

async fn concurrent_refreshes_with_one_token_succeed_exactly_once(kind: BackendKind) {
    let app = spawn_app(kind).await;
    app.active_user("ada@example.com").await;
    let (_, refresh_token) = login_as(&app, "ada@example.com", "laptop").await;
    let attempts = (0..5).map(|_| refresh(&app, &refresh_token));
    let replies = futures_util::future::join_all(attempts).await;
    let ok: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(ok.len(), 1, "{replies:?}");
    for reply in replies.iter().filter(|r| r.status != 200) {
        assert_eq!(reply.status, 401, "{reply:?}");
        assert_eq!(reply.code(), "token_reused");
    }
    // The session never forks into two live chains: the one successor issued is dead too.
    let (access, successor) = tokens(ok[0]);
    assert_eq!(refresh(&app, &successor).await.status, 401);
    assert_eq!(me_status(&app, &access).await, 401);
}

async fn a_refresh_token_expires_and_never_outlives_its_session(kind: BackendKind) {
    let app = spawn_with(
        kind,
        Options {
            vars: vec![
                ("ROSTER_REFRESH_TOKEN_TTL", "3600".into()),
                ("ROSTER_SESSION_MAX_LIFETIME", "7200".into()),
            ],
            ..Options::default()
        },
    )
    .await;
    app.active_user("ada@example.com").await;

    let (_, unused) = login_as(&app, "ada@example.com", "laptop").await;
    app.clock.advance(Duration::seconds(3600));
    let expired = refresh(&app, &unused).await;
    assert_eq!(expired.status, 401, "{expired:?}");
    assert_eq!(expired.code(), "invalid_token");

    // Refreshing every 50 minutes keeps a session going, but not past its two hours.
    let (_, mut current) = login_as(&app, "ada@example.com", "laptop").await;
    for _ in 0..2 {
        app.clock.advance(Duration::minutes(50));
        let reply = refresh(&app, &current).await;
        current = tokens(&reply).1;
    }
    // 100 minutes in: the last token would live to 160 minutes, but the session ends at 120.
    app.clock.advance(Duration::minutes(20));
    let at_end = refresh(&app, &current).await;
    assert_eq!(at_end.status, 401, "{at_end:?}");
    assert_eq!(at_end.code(), "invalid_token");
}

async fn unknown_or_malformed_refresh_requests_are_refused(kind: BackendKind) {
    let app = spawn_app(kind).await;
    let unknown = refresh(&app, "c29tZXRoaW5nIHRoYXQgd2FzIG5ldmVyIGlzc3VlZA").await;
    assert_eq!(unknown.status, 401, "{unknown:?}");
    assert_eq!(unknown.code(), "invalid_token");
    let empty = refresh(&app, "").await;
    assert_eq!(empty.code(), "invalid_token");
    let huge = refresh(&app, &"a".repeat(5000)).await;
    assert_eq!(huge.code(), "invalid_token");
    let missing = app.post("/api/auth/refresh", &json!({})).await;
    assert_eq!(missing.status, 422, "{missing:?}");
    assert_eq!(missing.body["errors"][0]["field"], "refresh_token");
    let extra = app
        .post(
            "/api/auth/refresh",
            &json!({"refresh_token": "x", "user_id": "y"}),
        )
        .await;
    assert_eq!(extra.status, 400);
    assert_eq!(extra.code(), "unknown_field");
    let wrong_type = app
        .post("/api/auth/refresh", &json!({"refresh_token": 42}))
        .await;
    assert_eq!(wrong_type.status, 400);
    let get = app.get("/api/auth/refresh", None).await;
    assert_eq!(get.status, 405);
}

async fn logout_ends_this_session_at_once_and_logout_all_ends_every_one(kind: BackendKind) {
    let app = spawn_app(kind).await;
    app.active_user("ada@example.com").await;
    let (laptop, laptop_refresh) = login_as(&app, "ada@example.com", "laptop").await;
    let (phone, phone_refresh) = login_as(&app, "ada@example.com", "phone").await;
    let (tablet, _) = login_as(&app, "ada@example.com", "tablet").await;

    let out = post_with(&app, "/api/auth/logout", &laptop).await;
    assert_eq!(out.status, 204, "{out:?}");
    assert_eq!(out.body, Value::Null);
    let me = app.get("/api/users/me", Some(&laptop)).await;
    assert_eq!(me.status, 401, "the access token stops at once");
    assert_eq!(me.code(), "invalid_token");
    let refreshed = refresh(&app, &laptop_refresh).await;
    assert_eq!(refreshed.status, 401);
    assert_eq!(refreshed.code(), "invalid_token");
    assert_eq!(me_status(&app, &phone).await, 200, "other sessions live on");
    let again = post_with(&app, "/api/auth/logout", &laptop).await;
    assert_eq!(again.status, 401);

    let all = post_with(&app, "/api/auth/logout-all", &phone).await;
    assert_eq!(all.status, 204, "{all:?}");
    assert_eq!(me_status(&app, &phone).await, 401);
    assert_eq!(me_status(&app, &tablet).await, 401);
    assert_eq!(refresh(&app, &phone_refresh).await.status, 401);

    let anonymous = app.post("/api/auth/logout", &json!({})).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.code(), "missing_token");
    // Logging in again works as usual.
    let (fresh, _) = login_as(&app, "ada@example.com", "laptop").await;
    assert_eq!(me_status(&app, &fresh).await, 200);
}

async fn the_sessions_list_shows_own_live_sessions_and_one_can_be_ended(kind: BackendKind) {
    let app = spawn_app(kind).await;
    app.active_user("ada@example.com").await;
    app.active_user("bob@example.com").await;
    let (bob, _) = login_as(&app, "bob@example.com", "bob-laptop").await;
    app.clock.advance(Duration::minutes(1));
    let (laptop, _) = login_as(&app, "ada@example.com", "laptop").await;
    app.clock.advance(Duration::minutes(1));
    let (phone, phone_refresh) = login_as(&app, "ada@example.com", "phone").await;

    let listed = app.get("/api/auth/sessions", Some(&laptop)).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    let sessions = listed.body["data"].as_array().unwrap();
    // active_user logged in once too, from no particular agent.
    assert_eq!(sessions.len(), 3, "{listed:?}");
    assert_eq!(listed.body["meta"]["total_items"], 3);
    assert_eq!(listed.body["meta"]["page"], 1);
    assert_eq!(listed.body["meta"]["next_cursor"], Value::Null);
    let agents: Vec<_> = sessions.iter().map(|s| s["user_agent"].clone()).collect();
    assert!(agents.contains(&json!("laptop")) && agents.contains(&json!("phone")));
    assert!(
        !agents.contains(&json!("bob-laptop")),
        "only the caller's own"
    );
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["user_agent"], "laptop");
    assert_eq!(current[0]["ip"], "127.0.0.1");
    for key in ["id", "created_at", "last_used_at"] {
        assert!(current[0][key].is_string(), "{key}: {current:?}");
    }
    let phone_session = sessions
        .iter()
        .find(|s| s["user_agent"] == "phone")
        .unwrap();
    let phone_id = phone_session["id"].as_str().unwrap().to_owned();

    // A refresh marks the session used.
    app.clock.advance(Duration::minutes(5));
    tokens(&refresh(&app, &phone_refresh).await);
    let listed = app.get("/api/auth/sessions", Some(&laptop)).await;
    let first = &listed.body["data"][0];
    assert_eq!(first["id"], phone_id.as_str(), "most recently used first");
    assert_ne!(first["last_used_at"], first["created_at"]);

    // Another user's session, an unknown one and garbage are not the caller's to end.
    let bobs = app.get("/api/auth/sessions", Some(&bob)).await;
    let bob_id = bobs.body["data"][0]["id"].as_str().unwrap().to_owned();
    let foreign = delete_with(&app, &format!("/api/auth/sessions/{bob_id}"), &laptop).await;
    assert_eq!(foreign.status, 404, "{foreign:?}");
    assert_eq!(foreign.code(), "not_found");
    assert_eq!(me_status(&app, &bob).await, 200);
    let unknown = delete_with(
        &app,
        &format!("/api/auth/sessions/{}", uuid::Uuid::now_v7()),
        &laptop,
    )
    .await;
    assert_eq!(unknown.status, 404);
    let garbage = delete_with(&app, "/api/auth/sessions/not-a-uuid", &laptop).await;
    assert_eq!(garbage.status, 400);

    let ended = delete_with(&app, &format!("/api/auth/sessions/{phone_id}"), &laptop).await;
    assert_eq!(ended.status, 204, "{ended:?}");
    assert_eq!(me_status(&app, &phone).await, 401);
    assert_eq!(me_status(&app, &laptop).await, 200);
    let listed = app.get("/api/auth/sessions", Some(&laptop)).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 2);
    let twice = delete_with(&app, &format!("/api/auth/sessions/{phone_id}"), &laptop).await;
    assert_eq!(twice.status, 404);

    let anonymous = app.get("/api/auth/sessions", None).await;
    assert_eq!(anonymous.status, 401);
}

async fn a_cross_origin_caller_is_never_granted_cors_access(kind: BackendKind) {
    let app = spawn_app(kind).await;
    let access = app.active_user("ada@example.com").await;
    let evil = "https://evil.example";
    let read_me = app
        .client
        .get(app.url("/api/auth/sessions"))
        .bearer_auth(&access)
        .header("origin", evil)
        .send()
        .await
        .unwrap();
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/auth/sessions"))
        .header("origin", evil)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    for reply in [read(read_me).await, read(preflight).await] {
        let granted: Vec<_> = reply
            .headers
            .keys()
            .filter(|name| name.as_str().starts_with("access-control-"))
            .collect();
        assert!(granted.is_empty(), "{reply:?}");
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    }
}

on_both_backends!(
    a_cross_origin_caller_is_never_granted_cors_access,
    a_refresh_rotates_the_tokens_and_a_replayed_token_ends_the_session,
    concurrent_refreshes_with_one_token_succeed_exactly_once,
    a_refresh_token_expires_and_never_outlives_its_session,
    unknown_or_malformed_refresh_requests_are_refused,
    logout_ends_this_session_at_once_and_logout_all_ends_every_one,
    the_sessions_list_shows_own_live_sessions_and_one_can_be_ended,
);
