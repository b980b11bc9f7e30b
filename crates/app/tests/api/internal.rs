//! The internal API: `X-Api-Key`, provisioning by external id, the atomic upsert.

use reqwest::Method;
use roster_persistence_diesel::BackendKind;
use serde_json::{Value, json};

use crate::admin::{id_of, root_token, send, spawn_admin_app, user_with};
use crate::helpers::{Reply, TestApp, read};
use crate::on_both_backends;

const KEYS: &str = "crm:crm-key-0123456789abcdef,bot:bot-key-0123456789abcdef";
const CRM: &str = "crm-key-0123456789abcdef";

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let mut request = app.client.request(method, app.url(path));
    if let Some(key) = key {
        request = request.header("X-Api-Key", key);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    read(request.send().await.unwrap()).await
}

async fn the_internal_api_needs_a_configured_key(kind: BackendKind) {
    let closed = spawn_admin_app(kind, None).await;
    let reply = call(
        &closed,
        Method::POST,
        "/internal/users",
        Some(CRM),
        Some(&json!({"external_id": "x1"})),
    )
    .await;
    assert_eq!(reply.status, 401, "no keys configured: {reply:?}");
    drop(closed);

    let app = spawn_admin_app(kind, Some(KEYS)).await;
    let missing = call(
        &app,
        Method::GET,
        "/internal/users/by-external-id/x1",
        None,
        None,
    )
    .await;
    assert_eq!((missing.status, missing.code()), (401, "missing_api_key"));
    for wrong in [
        "crm-key-0123456789abcdeF",
        "crm",
        "",
        "crm:crm-key-0123456789abcdef",
    ] {
        let refused = call(
            &app,
            Method::POST,
            "/internal/users",
            Some(wrong),
            Some(&json!({"external_id": "x1"})),
        )
        .await;
        assert_eq!(refused.status, 401, "{wrong:?}");
    }
    // A user's bearer token is not a key, and a key is not a bearer token.
    let root = root_token(&app).await;
    let bearer = send(
        &app,
        Method::GET,
        "/internal/users/by-external-id/x1",
        Some(&root),
        None,
    )
    .await;
    assert_eq!(bearer.status, 401);
    let as_bearer = send(&app, Method::GET, "/api/users/me", Some(CRM), None).await;
    assert_eq!(as_bearer.status, 401);
    // Every internal route refuses a missing or wrong key, and changes nothing.
    let created = call(
        &app,
        Method::POST,
        "/internal/users",
        Some(CRM),
        Some(&json!({"external_id": "kept"})),
    )
    .await;
    let kept = id_of(&created);
    for (method, path, body) in [
        (
            Method::POST,
            "/internal/users".to_owned(),
            Some(json!({"external_id": "x1"})),
        ),
        (Method::GET, format!("/internal/users/{kept}"), None),
        (
            Method::PATCH,
            format!("/internal/users/{kept}"),
            Some(json!({"name": "Changed Name"})),
        ),
        (Method::DELETE, format!("/internal/users/{kept}"), None),
        (
            Method::DELETE,
            format!("/internal/users/{kept}?hard=true"),
            None,
        ),
        (
            Method::GET,
            "/internal/users/by-external-id/kept".to_owned(),
            None,
        ),
        (
            Method::PUT,
            "/internal/users/by-external-id/x1".to_owned(),
            Some(json!({"name": "New Name"})),
        ),
    ] {
        for key in [None, Some("wrong-key-0123456789abcdef")] {
            let refused = call(&app, method.clone(), &path, key, body.as_ref()).await;
            assert_eq!(refused.status, 401, "{method} {path} with {key:?}");
        }
    }
    let unchanged = call(
        &app,
        Method::GET,
        &format!("/internal/users/{kept}"),
        Some(CRM),
        None,
    )
    .await;
    assert_eq!(unchanged.body["data"], created.body["data"]);
    // Nothing was created by the refused calls.
    let found = call(
        &app,
        Method::GET,
        "/internal/users/by-external-id/x1",
        Some(CRM),
        None,
    )
    .await;
    assert_eq!(found.status, 404);
    let other_key = call(
        &app,
        Method::GET,
        "/internal/users/by-external-id/x1",
        Some("bot-key-0123456789abcdef"),
        None,
    )
    .await;
    assert_eq!(other_key.status, 404, "the second key works too");
}

async fn a_service_provisions_reads_changes_and_deletes_users(kind: BackendKind) {
    let app = spawn_admin_app(kind, Some(KEYS)).await;
    let created = call(
        &app,
        Method::POST,
        "/internal/users",
        Some(CRM),
        Some(&json!({"external_id": "tg-42", "name": "Ada Lovelace"})),
    )
    .await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(
        created.body["data"]["username"], "tg-42",
        "username defaults to the external id"
    );
    assert_eq!(
        created.body["data"]["email"],
        Value::Null,
        "email is optional here"
    );
    assert_eq!(created.body["data"]["external_id"], "tg-42");
    assert_eq!(created.body["data"]["status"], "active");
    let id = id_of(&created);

    let again = call(
        &app,
        Method::POST,
        "/internal/users",
        Some(CRM),
        Some(&json!({"external_id": "tg-42", "username": "other"})),
    )
    .await;
    assert_eq!((again.status, again.code()), (409, "external_id_taken"));
    let invalid = call(
        &app,
        Method::POST,
        "/internal/users",
        Some(CRM),
        Some(&json!({"external_id": "has space"})),
    )
    .await;
    assert_eq!(invalid.status, 422);
    let unknown = call(
        &app,
        Method::POST,
        "/internal/users",
        Some(CRM),
        Some(&json!({"external_id": "tg-43", "roles_extra": []})),
    )
    .await;
    assert_eq!((unknown.status, unknown.code()), (400, "unknown_field"));
    let with_email = call(
        &app,
        Method::POST,
        "/internal/users",
        Some(CRM),
        Some(&json!({"email": "grace@example.com"})),
    )
    .await;
    assert_eq!(with_email.status, 201);
    assert_eq!(with_email.body["data"]["username"], "grace");

    let read = call(
        &app,
        Method::GET,
        &format!("/internal/users/{id}"),
        Some(CRM),
        None,
    )
    .await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["data"]["name"], "Ada Lovelace");
    let by_external = call(
        &app,
        Method::GET,
        "/internal/users/by-external-id/tg-42",
        Some(CRM),
        None,
    )
    .await;
    assert_eq!(id_of(&by_external), id);

    let patched = call(&app, Method::PATCH, &format!("/internal/users/{id}"), Some(CRM), Some(&json!({"name": "Ada King", "email": "ada@example.com", "email_verified": true, "external_id": "tg-42b"}))).await;
    assert_eq!(patched.status, 200, "{patched:?}");
    assert_eq!(patched.body["data"]["external_id"], "tg-42b");
    assert_eq!(patched.body["data"]["email_verified"], true);
    let password = call(
        &app,
        Method::PATCH,
        &format!("/internal/users/{id}"),
        Some(CRM),
        Some(&json!({"password": "Str0ng!pass"})),
    )
    .await;
    assert_eq!(password.status, 400);

    let soft = call(
        &app,
        Method::DELETE,
        &format!("/internal/users/{id}"),
        Some(CRM),
        None,
    )
    .await;
    assert_eq!(soft.status, 204);
    assert_eq!(soft.body, Value::Null);
    let kept = call(
        &app,
        Method::GET,
        &format!("/internal/users/{id}"),
        Some(CRM),
        None,
    )
    .await;
    assert_eq!(kept.body["data"]["status"], "deactivated");
    let hard = call(
        &app,
        Method::DELETE,
        &format!("/internal/users/{id}?hard=true"),
        Some(CRM),
        None,
    )
    .await;
    assert_eq!(hard.status, 204);
    assert_eq!(
        call(
            &app,
            Method::GET,
            &format!("/internal/users/{id}"),
            Some(CRM),
            None
        )
        .await
        .status,
        404
    );
    assert_eq!(
        call(
            &app,
            Method::DELETE,
            &format!("/internal/users/{id}"),
            Some(CRM),
            None
        )
        .await
        .status,
        404
    );

    // Every change is audited with the key's name as the actor.
    let root = root_token(&app).await;
    let audit = app
        .get(
            &format!("/api/audit-events?user_id={id}&limit=100"),
            Some(&root),
        )
        .await;
    let events = audit.body["data"].as_array().unwrap();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "user.deleted",
            "user.deactivated",
            "user.updated",
            "user.created"
        ]
    );
    assert!(
        events.iter().all(|e| e["actor_id"] == "service:crm"),
        "{events:?}"
    );
    assert!(!audit.body.to_string().contains("ada@example.com"));
}

async fn the_last_admin_rule_holds_for_services_too(kind: BackendKind) {
    let app = spawn_admin_app(kind, Some(KEYS)).await;
    let root = root_token(&app).await;
    let root_id = id_of(&app.get("/api/users/me", Some(&root)).await);
    for path in [
        format!("/internal/users/{root_id}"),
        format!("/internal/users/{root_id}?hard=true"),
    ] {
        let refused = call(&app, Method::DELETE, &path, Some(CRM), None).await;
        assert_eq!(
            (refused.status, refused.code()),
            (409, "last_admin"),
            "{path}"
        );
    }
    let (user_id, _) = user_with(&app, &root, "ada@example.com", &["USER"]).await;
    assert_eq!(
        call(
            &app,
            Method::DELETE,
            &format!("/internal/users/{user_id}"),
            Some(CRM),
            None
        )
        .await
        .status,
        204
    );
}

async fn the_upsert_creates_once_then_syncs_the_fields_given(kind: BackendKind) {
    let app = spawn_admin_app(kind, Some(KEYS)).await;
    let path = "/internal/users/by-external-id/crm-7";
    let created = call(
        &app,
        Method::PUT,
        path,
        Some(CRM),
        Some(&json!({"name": "Ada Lovelace", "email": "ada@example.com"})),
    )
    .await;
    assert_eq!(created.status, 201, "{created:?}");
    let id = id_of(&created);
    let same = call(
        &app,
        Method::PUT,
        path,
        Some(CRM),
        Some(&json!({"name": "Ada Lovelace", "email": "ada@example.com"})),
    )
    .await;
    assert_eq!(same.status, 200);
    assert_eq!(id_of(&same), id);
    assert_eq!(
        same.body["data"]["updated_at"], created.body["data"]["updated_at"],
        "nothing to sync, nothing changed"
    );
    let synced = call(
        &app,
        Method::PUT,
        path,
        Some(CRM),
        Some(&json!({"name": "Ada King", "phone": "+441234567890"})),
    )
    .await;
    assert_eq!(synced.status, 200);
    assert_eq!(synced.body["data"]["name"], "Ada King");
    assert_eq!(synced.body["data"]["phone"], "+441234567890");
    assert_eq!(
        synced.body["data"]["email"], "ada@example.com",
        "absent fields stay"
    );
    let in_body = call(
        &app,
        Method::PUT,
        path,
        Some(CRM),
        Some(&json!({"external_id": "other"})),
    )
    .await;
    assert_eq!(in_body.status, 400);
    let bad = call(
        &app,
        Method::PUT,
        "/internal/users/by-external-id/has%20space",
        Some(CRM),
        Some(&json!({})),
    )
    .await;
    assert_eq!(bad.status, 422);
    let taken = call(
        &app,
        Method::PUT,
        "/internal/users/by-external-id/crm-8",
        Some(CRM),
        Some(&json!({"email": "ADA@example.com"})),
    )
    .await;
    assert_eq!((taken.status, taken.code()), (409, "email_taken"));
}

async fn concurrent_upserts_of_one_new_id_create_exactly_one_user(kind: BackendKind) {
    let app = spawn_admin_app(kind, Some(KEYS)).await;
    let path = "/internal/users/by-external-id/race-1";
    let body = json!({"name": "Racing Ada"});
    let calls = (0..20).map(|_| call(&app, Method::PUT, path, Some(CRM), Some(&body)));
    let replies = futures_util::future::join_all(calls).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    let updated = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(
        (created, updated),
        (1, 19),
        "{:?}",
        replies
            .iter()
            .map(|r| (r.status, r.body.clone()))
            .collect::<Vec<_>>()
    );
    let ids: std::collections::HashSet<String> = replies.iter().map(id_of).collect();
    assert_eq!(ids.len(), 1, "every call names the same user");
    let root = root_token(&app).await;
    let id = ids.into_iter().next().unwrap();
    let audit = app
        .get(
            &format!("/api/audit-events?user_id={id}&action=user.created"),
            Some(&root),
        )
        .await;
    assert_eq!(audit.body["meta"]["total_items"], 1, "one creation");
}

async fn a_service_lists_users_like_an_admin_and_pages_by_cursor(kind: BackendKind) {
    let app = spawn_admin_app(kind, Some(KEYS)).await;
    for n in 0..5 {
        let created = call(
            &app,
            Method::POST,
            "/internal/users",
            Some(CRM),
            Some(&json!({"external_id": format!("svc-{n}"), "name": format!("Listed {n}")})),
        )
        .await;
        assert_eq!(created.status, 201, "{created:?}");
    }
    let refused = call(&app, Method::GET, "/internal/users", None, None).await;
    assert_eq!((refused.status, refused.code()), (401, "missing_api_key"));
    let wrong = call(
        &app,
        Method::GET,
        "/internal/users",
        Some("nope-0123456789abcdef"),
        None,
    )
    .await;
    assert_eq!(wrong.status, 401);

    // Two pages of two by cursor, then the rest: the five services' users, each once, in
    // creation order (the bootstrap admin is filtered out by `q`).
    let mut seen = Vec::new();
    let mut path = "/internal/users?q=listed&sort=created_at&order=asc&limit=2".to_owned();
    loop {
        let page = call(&app, Method::GET, &path, Some(CRM), None).await;
        assert_eq!(page.status, 200, "{page:?}");
        for user in page.body["data"].as_array().unwrap() {
            seen.push(user["external_id"].as_str().unwrap().to_owned());
        }
        match page.body["meta"]["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!(
                    "/internal/users?q=listed&sort=created_at&order=asc&limit=2&cursor={cursor}"
                );
            }
            None => break,
        }
    }
    assert_eq!(seen, ["svc-0", "svc-1", "svc-2", "svc-3", "svc-4"]);

    let bad = call(
        &app,
        Method::GET,
        "/internal/users?limit=0",
        Some(CRM),
        None,
    )
    .await;
    assert_eq!(bad.status, 422, "{bad:?}");
    let unknown = call(
        &app,
        Method::GET,
        "/internal/users?colour=red",
        Some(CRM),
        None,
    )
    .await;
    assert_eq!((unknown.status, unknown.code()), (400, "unknown_field"));
}

on_both_backends!(
    a_service_lists_users_like_an_admin_and_pages_by_cursor,
    the_internal_api_needs_a_configured_key,
    a_service_provisions_reads_changes_and_deletes_users,
    the_last_admin_rule_holds_for_services_too,
    the_upsert_creates_once_then_syncs_the_fields_given,
    concurrent_upserts_of_one_new_id_create_exactly_one_user,
);
