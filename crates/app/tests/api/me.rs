//! Self-service: changing and erasing one's own account.

use roster_persistence_diesel::BackendKind;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Reply, TestApp, read, spawn_app};
use crate::on_both_backends;

const NEW_PASSWORD: &str = "N3w!passphrase";

async fn patch_me(app: &TestApp, token: &str, body: &Value) -> Reply {
    read(
        app.client
            .patch(app.url("/api/users/me"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn delete_me(app: &TestApp, token: &str, body: &Value) -> Reply {
    read(
        app.client
            .delete(app.url("/api/users/me"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn access_token(login: &Reply) -> String {
    assert_eq!(login.status, 200, "{login:?}");
    login.body["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn profile_fields_change_and_null_clears_while_absent_keeps(kind: BackendKind) {
    let app = spawn_app(kind).await;
    let token = app.active_user("ada@example.com").await;
    let changed = patch_me(
        &app,
        &token,
        &json!({
            "name": "Ada Lovelace",
            "phone": "+441234567890",
            "avatar_url": "https://example.com/a.png",
            "username": "countess",
            "profile": {"first_name": "Ada", "birth_date": "1815-12-10"}
        }),
    )
    .await;
    assert_eq!(changed.status, 200, "{changed:?}");
    let user = &changed.body["data"];
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user["phone"], "+441234567890");
    assert_eq!(user["avatar_url"], "https://example.com/a.png");
    assert_eq!(user["username"], "countess");
    assert_eq!(user["profile"]["first_name"], "Ada");
    assert_eq!(user["profile"]["birth_date"], "1815-12-10");

    let cleared = patch_me(&app, &token, &json!({"phone": null, "profile": null})).await;
    assert_eq!(cleared.status, 200, "{cleared:?}");
    let user = &cleared.body["data"];
    assert_eq!(user["phone"], Value::Null, "null clears");
    assert_eq!(user["profile"]["first_name"], Value::Null);
    assert_eq!(user["name"], "Ada Lovelace", "absent stays");

    let me = app.get("/api/users/me", Some(&token)).await;
    assert_eq!(me.body["data"]["username"], "countess");
    assert_eq!(app.login("countess", PASSWORD).await.status, 200);
}

async fn each_broken_profile_field_is_reported(kind: BackendKind) {
    let app = spawn_app(kind).await;
    let token = app.active_user("ada@example.com").await;
    let reply = patch_me(
        &app,
        &token,
        &json!({
            "name": "A",
            "phone": "12",
            "avatar_url": "ftp://x",
            "username": "no spaces",
            "profile": {"birth_date": "2999-01-01"}
        }),
    )
    .await;
    assert_eq!((reply.status, reply.code()), (422, "validation_failed"));
    let fields: Vec<&str> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for field in [
        "name",
        "phone",
        "avatar_url",
        "username",
        "profile.birth_date",
    ] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
    let roles = patch_me(&app, &token, &json!({"roles": ["ADMIN"]})).await;
    assert_eq!((roles.status, roles.code()), (400, "unknown_field"));
    let taken_name = {
        app.active_user("bob@example.com").await;
        patch_me(&app, &token, &json!({"username": "BOB"})).await
    };
    assert_eq!(
        (taken_name.status, taken_name.code()),
        (409, "username_taken")
    );
}

async fn an_email_or_password_change_needs_the_current_password(kind: BackendKind) {
    let app = spawn_app(kind).await;
    let token = app.active_user("ada@example.com").await;
    for change in [
        json!({"email": "new@example.com"}),
        json!({"password": NEW_PASSWORD}),
    ] {
        let missing = patch_me(&app, &token, &change).await;
        assert_eq!(
            (missing.status, missing.code()),
            (403, "current_password_required")
        );
        let mut wrong = change.clone();
        wrong["current_password"] = json!("Wr0ng!password");
        let wrong = patch_me(&app, &token, &wrong).await;
        assert_eq!((wrong.status, wrong.code()), (403, "wrong_password"));
    }
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status, 200);
}

async fn a_new_email_is_unverified_until_its_confirmation_link_is_used(kind: BackendKind) {
    let app = spawn_app(kind).await;
    let token = app.active_user("ada@example.com").await;
    app.active_user("bob@example.com").await;
    let taken = patch_me(
        &app,
        &token,
        &json!({"email": "BOB@example.com", "current_password": PASSWORD}),
    )
    .await;
    assert_eq!((taken.status, taken.code()), (409, "email_taken"));

    let changed = patch_me(
        &app,
        &token,
        &json!({"email": "Ada@New.example", "current_password": PASSWORD}),
    )
    .await;
    assert_eq!(changed.status, 200, "{changed:?}");
    assert_eq!(changed.body["data"]["email"], "Ada@New.example");
    assert_eq!(changed.body["data"]["email_verified"], false);

    let confirmation = app.confirmation_token("Ada@New.example").await;
    let confirmed = app.confirm(&confirmation).await;
    assert_eq!(confirmed.status, 200, "{confirmed:?}");
    assert_eq!(confirmed.body["data"]["email"], "Ada@New.example");
    assert_eq!(confirmed.body["data"]["email_verified"], true);
    assert_eq!(app.login("ada@new.example", PASSWORD).await.status, 200);
}

async fn a_new_password_ends_every_other_session_but_not_this_one(kind: BackendKind) {
    let app = spawn_app(kind).await;
    let this = app.active_user("ada@example.com").await;
    let other = access_token(&app.login("ada@example.com", PASSWORD).await);
    let changed = patch_me(
        &app,
        &this,
        &json!({"password": NEW_PASSWORD, "current_password": PASSWORD}),
    )
    .await;
    assert_eq!(changed.status, 200, "{changed:?}");
    assert_eq!(app.get("/api/users/me", Some(&this)).await.status, 200);
    assert_eq!(app.get("/api/users/me", Some(&other)).await.status, 401);
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status, 401);
    assert_eq!(app.login("ada@example.com", NEW_PASSWORD).await.status, 200);
}

async fn deleting_the_account_erases_it_and_frees_its_address(kind: BackendKind) {
    let app = spawn_app(kind).await;
    let token = app.active_user("ada@example.com").await;
    let other = access_token(&app.login("ada@example.com", PASSWORD).await);
    let missing = delete_me(&app, &token, &json!({})).await;
    assert_eq!(
        (missing.status, missing.code()),
        (403, "current_password_required")
    );
    let wrong = delete_me(&app, &token, &json!({"current_password": "Wr0ng!pass"})).await;
    assert_eq!((wrong.status, wrong.code()), (403, "wrong_password"));

    let deleted = delete_me(&app, &token, &json!({"current_password": PASSWORD})).await;
    assert_eq!(deleted.status, 204, "{deleted:?}");
    assert!(deleted.body.is_null());
    assert_eq!(app.get("/api/users/me", Some(&token)).await.status, 401);
    assert_eq!(app.get("/api/users/me", Some(&other)).await.status, 401);
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status, 401);
    assert_eq!(app.register("ada@example.com", PASSWORD).await.status, 201);
}

on_both_backends!(
    profile_fields_change_and_null_clears_while_absent_keeps,
    each_broken_profile_field_is_reported,
    an_email_or_password_change_needs_the_current_password,
    a_new_email_is_unverified_until_its_confirmation_link_is_used,
    a_new_password_ends_every_other_session_but_not_this_one,
    deleting_the_account_erases_it_and_frees_its_address,
);
