//! Administration routes, for each actor: ADMIN, MANAGER, a plain user, no credentials.

use reqwest::Method;
use roster_persistence_diesel::BackendKind;
use serde_json::{Value, json};

use crate::helpers::{Options, PASSWORD, Reply, TestApp, read, spawn_with};
use crate::on_both_backends;

pub const ROOT_EMAIL: &str = "root@example.com";
pub const ROOT_PASSWORD: &str = "R00t!password";

/// An app with a bootstrap ADMIN (`root`), and optionally internal API keys.
pub async fn spawn_admin_app(kind: BackendKind, keys: Option<&str>) -> TestApp {
    let mut vars = vec![
        ("ROSTER_BOOTSTRAP_ADMIN_EMAIL", ROOT_EMAIL.to_owned()),
        ("ROSTER_BOOTSTRAP_ADMIN_PASSWORD", ROOT_PASSWORD.to_owned()),
    ];
    if let Some(keys) = keys {
        vars.push(("ROSTER_INTERNAL_API_KEYS", keys.to_owned()));
    }
    spawn_with(
        kind,
        Options {
            vars,
            ..Options::default()
        },
    )
    .await
}

pub async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    read(request.send().await.unwrap()).await
}

pub fn token_of(login: &Reply) -> String {
    assert_eq!(login.status, 200, "{login:?}");
    login.body["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub fn id_of(reply: &Reply) -> String {
    reply.body["data"]["id"].as_str().unwrap().to_owned()
}

/// Root's access token.
pub async fn root_token(app: &TestApp) -> String {
    token_of(&app.login(ROOT_EMAIL, ROOT_PASSWORD).await)
}

/// Creates an active user with `roles` through the API as root; returns (id, token).
pub async fn user_with(app: &TestApp, root: &str, email: &str, roles: &[&str]) -> (String, String) {
    let created = send(
        app,
        Method::POST,
        "/api/users",
        Some(root),
        Some(
            &json!({"email": email, "password": PASSWORD, "roles": roles, "email_verified": true}),
        ),
    )
    .await;
    assert_eq!(created.status, 201, "{created:?}");
    (id_of(&created), token_of(&app.login(email, PASSWORD).await))
}

const NOBODY: &str = "01936f3e-8a1b-7c3d-9e4f-0a1b2c3d4e5f";

async fn reading_by_id_follows_the_policy(kind: BackendKind) {
    let app = spawn_admin_app(kind, None).await;
    let root = root_token(&app).await;
    let (user_id, user) = user_with(&app, &root, "ada@example.com", &["USER"]).await;
    let (other_id, _) = user_with(&app, &root, "bob@example.com", &["USER"]).await;
    let (_, manager) = user_with(&app, &root, "meg@example.com", &["MANAGER"]).await;

    let own = app.get(&format!("/api/users/{user_id}"), Some(&user)).await;
    assert_eq!(own.status, 200);
    assert_eq!(own.body["data"]["email"], "ada@example.com");
    // Another id, existing or not, malformed or not: the same 403.
    for id in [other_id.as_str(), NOBODY, "not-a-uuid"] {
        let reply = app.get(&format!("/api/users/{id}"), Some(&user)).await;
        assert_eq!((reply.status, reply.code()), (403, "forbidden"), "{id}");
    }
    for token in [&manager, &root] {
        assert_eq!(
            app.get(&format!("/api/users/{other_id}"), Some(token))
                .await
                .status,
            200
        );
        let missing = app.get(&format!("/api/users/{NOBODY}"), Some(token)).await;
        assert_eq!((missing.status, missing.code()), (404, "not_found"));
    }
    let anonymous = app.get(&format!("/api/users/{user_id}"), None).await;
    assert_eq!(anonymous.status, 401);
}

async fn an_admin_creates_users_and_others_may_not(kind: BackendKind) {
    let app = spawn_admin_app(kind, None).await;
    let root = root_token(&app).await;
    let created = send(
        &app,
        Method::POST,
        "/api/users",
        Some(&root),
        Some(
            &json!({"email": "Grace@Example.com", "name": "Grace Hopper", "phone": "+15551234567",
                     "profile": {"first_name": "Grace"}, "roles": ["MANAGER", "USER"]}),
        ),
    )
    .await;
    assert_eq!(created.status, 201, "{created:?}");
    let user = &created.body["data"];
    assert_eq!(user["status"], "active");
    assert_eq!(user["username"], "Grace");
    assert_eq!(user["email_verified"], false);
    assert_eq!(user["roles"], json!(["MANAGER", "USER"]));
    assert_eq!(user["profile"]["first_name"], "Grace");
    assert!(user.get("password_hash").is_none());
    // Created without a password: no password logs it in.
    let login = app.login("grace@example.com", PASSWORD).await;
    assert_eq!((login.status, login.code()), (401, "invalid_credentials"));

    let taken = send(
        &app,
        Method::POST,
        "/api/users",
        Some(&root),
        Some(&json!({"email": "GRACE@example.com"})),
    )
    .await;
    assert_eq!((taken.status, taken.code()), (409, "email_taken"));
    let unknown_role = send(
        &app,
        Method::POST,
        "/api/users",
        Some(&root),
        Some(&json!({"email": "x@example.com", "roles": ["NOPE"]})),
    )
    .await;
    assert_eq!(unknown_role.status, 422);
    assert_eq!(unknown_role.body["errors"][0]["code"], "unknown_role");
    let invalid = send(
        &app,
        Method::POST,
        "/api/users",
        Some(&root),
        Some(&json!({"email": "nope", "phone": "12", "password": "weak"})),
    )
    .await;
    assert_eq!(invalid.status, 422);
    let fields: Vec<&str> = invalid.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"email") && fields.contains(&"phone") && fields.contains(&"password"),
        "{fields:?}"
    );
    let sneaky = send(
        &app,
        Method::POST,
        "/api/users",
        Some(&root),
        Some(&json!({"email": "y@example.com", "status": "active"})),
    )
    .await;
    assert_eq!((sneaky.status, sneaky.code()), (400, "unknown_field"));

    let (_, manager) = user_with(&app, &root, "meg@example.com", &["MANAGER"]).await;
    let (_, user) = user_with(&app, &root, "ada@example.com", &["USER"]).await;
    for token in [&manager, &user] {
        let refused = send(
            &app,
            Method::POST,
            "/api/users",
            Some(token),
            Some(&json!({"email": "z@example.com"})),
        )
        .await;
        assert_eq!((refused.status, refused.code()), (403, "forbidden"));
    }
    let anonymous = send(
        &app,
        Method::POST,
        "/api/users",
        None,
        Some(&json!({"email": "z@example.com"})),
    )
    .await;
    assert_eq!(anonymous.status, 401);
    // Nothing was created by the refused calls.
    assert_eq!(
        app.get("/api/users/by-email/z@example.com", Some(&root))
            .await
            .status,
        404
    );
}

async fn a_manager_changes_only_profile_fields_of_users_who_are_not_admin(kind: BackendKind) {
    let app = spawn_admin_app(kind, None).await;
    let root = root_token(&app).await;
    let (root_id, _) = {
        let me = app.get("/api/users/me", Some(&root)).await;
        (id_of(&me), ())
    };
    let (user_id, user) = user_with(&app, &root, "ada@example.com", &["USER"]).await;
    let (_, manager) = user_with(&app, &root, "meg@example.com", &["MANAGER"]).await;
    let path = format!("/api/users/{user_id}");

    let changed = send(&app, Method::PATCH, &path, Some(&manager), Some(&json!({"name": "Ada King", "phone": "+441234567890", "profile": {"last_name": "King"}}))).await;
    assert_eq!(changed.status, 200, "{changed:?}");
    assert_eq!(changed.body["data"]["name"], "Ada King");
    assert_eq!(changed.body["data"]["profile"]["last_name"], "King");
    for body in [
        json!({"username": "ada2"}),
        json!({"email": "new@example.com"}),
        json!({"email_verified": false}),
        json!({"name": "Ok Name", "username": "ada3"}),
    ] {
        let refused = send(&app, Method::PATCH, &path, Some(&manager), Some(&body)).await;
        assert_eq!(
            (refused.status, refused.code()),
            (403, "forbidden"),
            "{body}"
        );
    }
    let admin_target = send(
        &app,
        Method::PATCH,
        &format!("/api/users/{root_id}"),
        Some(&manager),
        Some(&json!({"name": "Not Root"})),
    )
    .await;
    assert_eq!(
        (admin_target.status, admin_target.code()),
        (403, "forbidden")
    );
    let by_user = send(
        &app,
        Method::PATCH,
        &path,
        Some(&user),
        Some(&json!({"name": "Self Service"})),
    )
    .await;
    assert_eq!(
        by_user.status, 403,
        "users change themselves through /api/users/me"
    );

    let by_admin = send(&app, Method::PATCH, &path, Some(&root), Some(&json!({"email": "ada.king@example.com", "email_verified": true, "username": "countess"}))).await;
    assert_eq!(by_admin.status, 200, "{by_admin:?}");
    assert_eq!(by_admin.body["data"]["email"], "ada.king@example.com");
    assert_eq!(by_admin.body["data"]["email_verified"], true);
    assert_eq!(app.login("countess", PASSWORD).await.status, 200);
    let password = send(
        &app,
        Method::PATCH,
        &path,
        Some(&root),
        Some(&json!({"password": "N3w!password"})),
    )
    .await;
    assert_eq!((password.status, password.code()), (400, "unknown_field"));
    let invalid = send(
        &app,
        Method::PATCH,
        &path,
        Some(&root),
        Some(&json!({"phone": "call me"})),
    )
    .await;
    assert_eq!(invalid.status, 422);
    let taken = send(
        &app,
        Method::PATCH,
        &path,
        Some(&root),
        Some(&json!({"email": "MEG@example.com"})),
    )
    .await;
    assert_eq!((taken.status, taken.code()), (409, "email_taken"));
    let missing = send(
        &app,
        Method::PATCH,
        &format!("/api/users/{NOBODY}"),
        Some(&manager),
        Some(&json!({"name": "Nobody Here"})),
    )
    .await;
    assert_eq!(missing.status, 404);
}

async fn deactivation_ends_sessions_at_once_and_reactivation_restores_login(kind: BackendKind) {
    let app = spawn_admin_app(kind, None).await;
    let root = root_token(&app).await;
    let (user_id, user) = user_with(&app, &root, "ada@example.com", &["USER"]).await;
    let (_, manager) = user_with(&app, &root, "meg@example.com", &["MANAGER"]).await;
    assert_eq!(app.get("/api/users/me", Some(&user)).await.status, 200);

    let refused = send(
        &app,
        Method::PATCH,
        &format!("/api/users/{user_id}/deactivate"),
        Some(&manager),
        None,
    )
    .await;
    assert_eq!((refused.status, refused.code()), (403, "forbidden"));
    assert_eq!(app.get("/api/users/me", Some(&user)).await.status, 200);

    let deactivated = send(
        &app,
        Method::PATCH,
        &format!("/api/users/{user_id}/deactivate"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(deactivated.status, 200, "{deactivated:?}");
    assert_eq!(deactivated.body["data"]["status"], "deactivated");
    assert!(deactivated.body["data"]["deactivated_at"].is_string());
    let dead = app.get("/api/users/me", Some(&user)).await;
    assert_eq!(dead.status, 401, "the token dies at once");
    let login = app.login("ada@example.com", PASSWORD).await;
    assert_eq!((login.status, login.code()), (403, "account_deactivated"));
    // The address stays taken while deactivated.
    let taken = app.register("ada@example.com", PASSWORD).await;
    assert_eq!(taken.status, 409);

    let reactivated = send(
        &app,
        Method::PATCH,
        &format!("/api/users/{user_id}/reactivate"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(reactivated.status, 200);
    assert_eq!(reactivated.body["data"]["status"], "active");
    assert_eq!(reactivated.body["data"]["deactivated_at"], Value::Null);
    assert_eq!(
        app.get("/api/users/me", Some(&user)).await.status,
        401,
        "revoked sessions stay revoked"
    );
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status, 200);
    let missing = send(
        &app,
        Method::PATCH,
        &format!("/api/users/{NOBODY}/deactivate"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(missing.status, 404);
}

async fn the_last_active_admin_cannot_be_taken_away(kind: BackendKind) {
    let app = spawn_admin_app(kind, None).await;
    let root = root_token(&app).await;
    let root_id = id_of(&app.get("/api/users/me", Some(&root)).await);
    // Root holds ADMIN only: removing it is last_admin, which comes before last_role.
    for (method, path) in [
        (Method::DELETE, format!("/api/users/{root_id}/roles/ADMIN")),
        (Method::PATCH, format!("/api/users/{root_id}/deactivate")),
        (Method::DELETE, format!("/api/users/{root_id}")),
    ] {
        let refused = send(&app, method.clone(), &path, Some(&root), None).await;
        assert_eq!(
            (refused.status, refused.code()),
            (409, "last_admin"),
            "{method} {path}"
        );
    }
    assert_eq!(
        app.get("/api/users/me", Some(&root)).await.body["data"]["roles"],
        json!(["ADMIN"])
    );

    let (second_id, second) =
        user_with(&app, &root, "second@example.com", &["ADMIN", "USER"]).await;
    let demoted = send(
        &app,
        Method::DELETE,
        &format!("/api/users/{second_id}/roles/ADMIN"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(demoted.status, 200, "{demoted:?}");
    assert_eq!(demoted.body["data"]["roles"], json!(["USER"]));
    // The role is read on every request: the demoted admin is refused at once.
    let refused = send(&app, Method::GET, "/api/roles", Some(&second), None).await;
    assert_eq!(refused.status, 403);

    // Two admins demoting each other at the same moment: exactly one wins.
    let added = send(
        &app,
        Method::POST,
        &format!("/api/users/{second_id}/roles"),
        Some(&root),
        Some(&json!({"role": "ADMIN"})),
    )
    .await;
    assert_eq!(added.status, 200);
    let demote_second = format!("/api/users/{second_id}/roles/ADMIN");
    let demote_root = format!("/api/users/{root_id}/roles/ADMIN");
    let (a, b) = tokio::join!(
        send(&app, Method::DELETE, &demote_second, Some(&root), None),
        send(&app, Method::DELETE, &demote_root, Some(&second), None),
    );
    // The loser is refused as `last_admin` (409), or `forbidden` (403) when it was demoted
    // before it asked, or `last_role` (400: root's only role is ADMIN) when the other admin
    // still counted as it asked and was demoted just after.
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert!(
        matches!(statuses, [200, 409] | [200, 403] | [200, 400]),
        "exactly one demotion passes: {a:?} {b:?}"
    );
    let mut admins = 0;
    for token in [&root, &second] {
        let me = app.get("/api/users/me", Some(token)).await;
        if me.body["data"]["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("ADMIN"))
        {
            admins += 1;
        }
    }
    assert_eq!(admins, 1, "exactly one active ADMIN remains");
}

async fn roles_are_added_and_removed_by_their_rules(kind: BackendKind) {
    let app = spawn_admin_app(kind, None).await;
    let root = root_token(&app).await;
    let (user_id, _) = user_with(&app, &root, "ada@example.com", &["USER"]).await;
    let (_, manager) = user_with(&app, &root, "meg@example.com", &["MANAGER"]).await;
    let roles = format!("/api/users/{user_id}/roles");

    let added = send(
        &app,
        Method::POST,
        &roles,
        Some(&root),
        Some(&json!({"role": "CONTRIBUTOR"})),
    )
    .await;
    assert_eq!(added.status, 200, "{added:?}");
    assert_eq!(added.body["data"]["roles"], json!(["CONTRIBUTOR", "USER"]));
    let again = send(
        &app,
        Method::POST,
        &roles,
        Some(&root),
        Some(&json!({"role": "CONTRIBUTOR"})),
    )
    .await;
    assert_eq!((again.status, again.code()), (400, "role_already_assigned"));
    let unknown = send(
        &app,
        Method::POST,
        &roles,
        Some(&root),
        Some(&json!({"role": "NOPE"})),
    )
    .await;
    assert_eq!((unknown.status, unknown.code()), (422, "unknown_role"));
    let malformed = send(
        &app,
        Method::POST,
        &roles,
        Some(&root),
        Some(&json!({"role": "admin"})),
    )
    .await;
    assert_eq!(malformed.status, 422);
    let by_manager = send(
        &app,
        Method::POST,
        &roles,
        Some(&manager),
        Some(&json!({"role": "MAINTAINER"})),
    )
    .await;
    assert_eq!((by_manager.status, by_manager.code()), (403, "forbidden"));

    let not_held = send(
        &app,
        Method::DELETE,
        &format!("{roles}/MAINTAINER"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(
        (not_held.status, not_held.code()),
        (404, "role_not_assigned")
    );
    let removed = send(
        &app,
        Method::DELETE,
        &format!("{roles}/CONTRIBUTOR"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(removed.status, 200);
    assert_eq!(removed.body["data"]["roles"], json!(["USER"]));
    let last = send(
        &app,
        Method::DELETE,
        &format!("{roles}/USER"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!((last.status, last.code()), (400, "last_role"));
    let by_manager = send(
        &app,
        Method::DELETE,
        &format!("{roles}/USER"),
        Some(&manager),
        None,
    )
    .await;
    assert_eq!(by_manager.status, 403);
}

async fn custom_roles_are_created_by_admins_and_listed_for_managers(kind: BackendKind) {
    let app = spawn_admin_app(kind, None).await;
    let root = root_token(&app).await;
    let (user_id, user) = user_with(&app, &root, "ada@example.com", &["USER"]).await;
    let (_, manager) = user_with(&app, &root, "meg@example.com", &["MANAGER"]).await;

    let listed = app.get("/api/roles", Some(&manager)).await;
    assert_eq!(listed.status, 200);
    let names: Vec<&str> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["ADMIN", "CONTRIBUTOR", "MAINTAINER", "MANAGER", "USER"]
    );
    assert_eq!(app.get("/api/roles", Some(&user)).await.status, 403);

    let created = send(
        &app,
        Method::POST,
        "/api/roles",
        Some(&root),
        Some(&json!({"name": "SUPPORT", "description": "Support staff"})),
    )
    .await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.body["data"]["built_in"], false);
    let again = send(
        &app,
        Method::POST,
        "/api/roles",
        Some(&root),
        Some(&json!({"name": "SUPPORT"})),
    )
    .await;
    assert_eq!((again.status, again.code()), (409, "role_exists"));
    for bad in ["support", "S", "9LIVES", "A-B"] {
        let refused = send(
            &app,
            Method::POST,
            "/api/roles",
            Some(&root),
            Some(&json!({"name": bad})),
        )
        .await;
        assert_eq!(refused.status, 422, "{bad}");
    }
    let by_manager = send(
        &app,
        Method::POST,
        "/api/roles",
        Some(&manager),
        Some(&json!({"name": "OTHER"})),
    )
    .await;
    assert_eq!(by_manager.status, 403);
    let assigned = send(
        &app,
        Method::POST,
        &format!("/api/users/{user_id}/roles"),
        Some(&root),
        Some(&json!({"role": "SUPPORT"})),
    )
    .await;
    assert_eq!(assigned.status, 200);
    // A custom role grants nothing.
    assert_eq!(app.get("/api/roles", Some(&user)).await.status, 403);
}

async fn tenant_memberships_keep_exactly_one_main(kind: BackendKind) {
    let app = spawn_admin_app(kind, None).await;
    let root = root_token(&app).await;
    let (user_id, _) = user_with(&app, &root, "ada@example.com", &["USER"]).await;
    let (_, manager) = user_with(&app, &root, "meg@example.com", &["MANAGER"]).await;
    let tenants = format!("/api/users/{user_id}/tenants");
    let main_of = |reply: &Reply| -> Vec<(String, bool)> {
        reply.body["data"]["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["tenant_id"].as_str().unwrap().to_owned(),
                    t["main"].as_bool().unwrap(),
                )
            })
            .collect()
    };

    let first = send(
        &app,
        Method::PUT,
        &format!("{tenants}/acme"),
        Some(&root),
        Some(&json!({"role": "MANAGER"})),
    )
    .await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(
        main_of(&first),
        [("acme".to_owned(), true)],
        "the first is main"
    );
    let second = send(
        &app,
        Method::PUT,
        &format!("{tenants}/beta"),
        Some(&root),
        Some(&json!({"role": "USER"})),
    )
    .await;
    assert_eq!(
        main_of(&second),
        [("acme".to_owned(), true), ("beta".to_owned(), false)]
    );
    let switched = send(
        &app,
        Method::PUT,
        &format!("{tenants}/beta"),
        Some(&root),
        Some(&json!({"role": "USER", "main": true})),
    )
    .await;
    assert_eq!(
        main_of(&switched),
        [("acme".to_owned(), false), ("beta".to_owned(), true)]
    );
    let unset = send(
        &app,
        Method::PUT,
        &format!("{tenants}/beta"),
        Some(&root),
        Some(&json!({"role": "USER", "main": false})),
    )
    .await;
    assert_eq!((unset.status, unset.code()), (400, "main_tenant_required"));
    let role_changed = send(
        &app,
        Method::PUT,
        &format!("{tenants}/acme"),
        Some(&root),
        Some(&json!({"role": "USER"})),
    )
    .await;
    assert_eq!(role_changed.body["data"]["tenants"][0]["role"], "USER");
    let unknown = send(
        &app,
        Method::PUT,
        &format!("{tenants}/gamma"),
        Some(&root),
        Some(&json!({"role": "NOPE"})),
    )
    .await;
    assert_eq!((unknown.status, unknown.code()), (422, "unknown_role"));
    let no_role = send(
        &app,
        Method::PUT,
        &format!("{tenants}/gamma"),
        Some(&root),
        Some(&json!({})),
    )
    .await;
    assert_eq!(no_role.status, 422);
    let by_manager = send(
        &app,
        Method::PUT,
        &format!("{tenants}/gamma"),
        Some(&manager),
        Some(&json!({"role": "USER"})),
    )
    .await;
    assert_eq!(by_manager.status, 403);

    let removed = send(
        &app,
        Method::DELETE,
        &format!("{tenants}/beta"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(removed.status, 200);
    assert_eq!(
        main_of(&removed),
        [("acme".to_owned(), true)],
        "the remaining one becomes main"
    );
    let missing = send(
        &app,
        Method::DELETE,
        &format!("{tenants}/beta"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(
        (missing.status, missing.code()),
        (404, "membership_not_found")
    );
}

async fn lookups_by_email_and_username_are_for_admins_and_managers(kind: BackendKind) {
    let app = spawn_admin_app(kind, None).await;
    let root = root_token(&app).await;
    let (user_id, user) = user_with(&app, &root, "Ada.Lovelace@Example.com", &["USER"]).await;
    let (_, manager) = user_with(&app, &root, "meg@example.com", &["MANAGER"]).await;
    for token in [&root, &manager] {
        let by_email = app
            .get("/api/users/by-email/ADA.LOVELACE@example.COM", Some(token))
            .await;
        assert_eq!(by_email.status, 200, "{by_email:?}");
        assert_eq!(id_of(&by_email), user_id);
        let by_username = app
            .get("/api/users/by-username/ada.lovelace", Some(token))
            .await;
        assert_eq!(id_of(&by_username), user_id);
        assert_eq!(
            app.get("/api/users/by-email/nobody@example.com", Some(token))
                .await
                .status,
            404
        );
        assert_eq!(
            app.get("/api/users/by-username/nobody", Some(token))
                .await
                .status,
            404
        );
    }
    let refused = app
        .get("/api/users/by-email/meg@example.com", Some(&user))
        .await;
    assert_eq!((refused.status, refused.code()), (403, "forbidden"));
    assert_eq!(
        app.get("/api/users/by-username/meg", Some(&user))
            .await
            .status,
        403
    );
    assert_eq!(
        app.get("/api/users/by-username/meg", None).await.status,
        401
    );
}

async fn deleting_a_user_answers_with_it_and_erases_it(kind: BackendKind) {
    let app = spawn_admin_app(kind, None).await;
    let root = root_token(&app).await;
    let (user_id, user) = user_with(&app, &root, "ada@example.com", &["USER"]).await;
    let (_, manager) = user_with(&app, &root, "meg@example.com", &["MANAGER"]).await;
    let path = format!("/api/users/{user_id}");
    assert_eq!(
        send(&app, Method::DELETE, &path, Some(&manager), None)
            .await
            .status,
        403
    );
    let deleted = send(&app, Method::DELETE, &path, Some(&root), None).await;
    assert_eq!(deleted.status, 200, "{deleted:?}");
    assert_eq!(id_of(&deleted), user_id);
    assert_eq!(deleted.body["data"]["email"], "ada@example.com");
    assert_eq!(app.get(&path, Some(&root)).await.status, 404);
    assert_eq!(app.get("/api/users/me", Some(&user)).await.status, 401);
    assert_eq!(
        send(&app, Method::DELETE, &path, Some(&root), None)
            .await
            .status,
        404
    );
    // The address is free again.
    assert_eq!(app.register("ada@example.com", PASSWORD).await.status, 201);
}

async fn the_audit_log_is_filtered_paged_and_for_admins_only(kind: BackendKind) {
    let app = spawn_admin_app(kind, None).await;
    let root = root_token(&app).await;
    let root_id = id_of(&app.get("/api/users/me", Some(&root)).await);
    let (user_id, _) = user_with(&app, &root, "ada@example.com", &["USER"]).await;
    let (_, manager) = user_with(&app, &root, "meg@example.com", &["MANAGER"]).await;
    send(
        &app,
        Method::PATCH,
        &format!("/api/users/{user_id}"),
        Some(&root),
        Some(&json!({"email": "ada2@example.com"})),
    )
    .await;
    send(
        &app,
        Method::PATCH,
        &format!("/api/users/{user_id}/deactivate"),
        Some(&root),
        None,
    )
    .await;
    send(
        &app,
        Method::PATCH,
        &format!("/api/users/{user_id}/reactivate"),
        Some(&root),
        None,
    )
    .await;

    let all = app
        .get(
            &format!("/api/audit-events?user_id={user_id}&limit=100"),
            Some(&root),
        )
        .await;
    assert_eq!(all.status, 200, "{all:?}");
    let actions: Vec<&str> = all.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions[..3],
        ["user.reactivated", "user.deactivated", "user.updated"],
        "newest first: {actions:?}"
    );
    assert!(actions.contains(&"user.created"));
    assert_eq!(all.body["meta"]["total_items"], actions.len());
    assert!(
        !all.body.to_string().contains("ada2@example.com"),
        "no address in audit details"
    );
    assert!(
        !all.body.to_string().contains("ada@example.com"),
        "no address in audit details"
    );

    let filtered = app
        .get(
            &format!(
                "/api/audit-events?user_id={user_id}&action=user.deactivated&actor_id={root_id}"
            ),
            Some(&root),
        )
        .await;
    assert_eq!(filtered.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(filtered.body["data"][0]["actor_id"], root_id);
    assert_eq!(filtered.body["data"][0]["details"]["sessions"], "revoked");

    let paged = app
        .get(
            &format!("/api/audit-events?user_id={user_id}&limit=2&page=2"),
            Some(&root),
        )
        .await;
    assert_eq!(paged.body["meta"]["page"], 2);
    assert_eq!(paged.body["meta"]["limit"], 2);
    assert_eq!(paged.body["data"][0]["action"], actions[2]);
    let future = app
        .get("/api/audit-events?since=2999-01-01T00:00:00Z", Some(&root))
        .await;
    assert_eq!(future.body["data"], json!([]));
    assert_eq!(future.body["meta"]["total_items"], 0);

    for bad in [
        "limit=0",
        "limit=101",
        "page=0",
        "since=yesterday",
        "user_id=42",
        "action=user.exploded",
        "since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z",
    ] {
        let refused = app
            .get(&format!("/api/audit-events?{bad}"), Some(&root))
            .await;
        assert_eq!(refused.status, 422, "{bad}: {refused:?}");
    }
    assert_eq!(
        app.get("/api/audit-events?colour=red", Some(&root))
            .await
            .status,
        400
    );
    assert_eq!(
        app.get("/api/audit-events", Some(&manager)).await.status,
        403
    );
    assert_eq!(app.get("/api/audit-events", None).await.status, 401);
}

async fn admin_creation_counts_against_the_register_rate_limit(kind: BackendKind) {
    let app = spawn_with(
        kind,
        Options {
            vars: vec![
                ("ROSTER_BOOTSTRAP_ADMIN_EMAIL", ROOT_EMAIL.to_owned()),
                ("ROSTER_BOOTSTRAP_ADMIN_PASSWORD", ROOT_PASSWORD.to_owned()),
                ("ROSTER_RATE_LIMITS", "on".to_owned()),
                ("ROSTER_RATE_LIMIT_REGISTER", "2/1h".to_owned()),
            ],
            ..Options::default()
        },
    )
    .await;
    let root = root_token(&app).await;
    for n in 0..2 {
        let email = format!("user{n}@example.com");
        let created = send(
            &app,
            Method::POST,
            "/api/users",
            Some(&root),
            Some(&json!({"email": email})),
        )
        .await;
        assert_eq!(created.status, 201, "{created:?}");
    }
    let limited = send(
        &app,
        Method::POST,
        "/api/users",
        Some(&root),
        Some(&json!({"email": "user9@example.com"})),
    )
    .await;
    assert_eq!((limited.status, limited.code()), (429, "rate_limited"));
    assert!(limited.header("retry-after").is_some());
    // Other admin routes are not counted.
    assert_eq!(app.get("/api/roles", Some(&root)).await.status, 200);
}

/// Every administration route, asked by every kind of caller: the permissions matrix of
/// docs/permissions.md, end to end. Refusals change nothing.
async fn every_admin_route_answers_each_actor_as_the_matrix_says(kind: BackendKind) {
    let app = spawn_admin_app(kind, Some("crm:crm-key-0123456789abcdef")).await;
    let root = root_token(&app).await;
    let (target, _) = user_with(&app, &root, "target@example.com", &["USER", "CONTRIBUTOR"]).await;
    let (_, manager) = user_with(&app, &root, "meg@example.com", &["MANAGER"]).await;
    let (_, user) = user_with(&app, &root, "ada@example.com", &["USER", "MAINTAINER"]).await;
    let before = app
        .get(&format!("/api/users/{target}"), Some(&root))
        .await
        .body;
    // (method, path, body, manager's status)
    let routes: Vec<(Method, String, Option<Value>, u16)> = vec![
        (Method::GET, format!("/api/users/{target}"), None, 200),
        (
            Method::GET,
            "/api/users/by-email/target@example.com".into(),
            None,
            200,
        ),
        (
            Method::GET,
            "/api/users/by-username/target".into(),
            None,
            200,
        ),
        (Method::GET, "/api/roles".into(), None, 200),
        (
            Method::POST,
            "/api/users".into(),
            Some(json!({"email": "new@example.com"})),
            403,
        ),
        (
            Method::PATCH,
            format!("/api/users/{target}"),
            Some(json!({"username": "renamed"})),
            403,
        ),
        (Method::DELETE, format!("/api/users/{target}"), None, 403),
        (
            Method::PATCH,
            format!("/api/users/{target}/deactivate"),
            None,
            403,
        ),
        (
            Method::PATCH,
            format!("/api/users/{target}/reactivate"),
            None,
            403,
        ),
        (
            Method::POST,
            format!("/api/users/{target}/roles"),
            Some(json!({"role": "MANAGER"})),
            403,
        ),
        (
            Method::DELETE,
            format!("/api/users/{target}/roles/CONTRIBUTOR"),
            None,
            403,
        ),
        (
            Method::PUT,
            format!("/api/users/{target}/tenants/acme"),
            Some(json!({"role": "USER"})),
            403,
        ),
        (
            Method::DELETE,
            format!("/api/users/{target}/tenants/acme"),
            None,
            403,
        ),
        (
            Method::POST,
            "/api/roles".into(),
            Some(json!({"name": "SUPPORT"})),
            403,
        ),
        (Method::GET, "/api/audit-events".into(), None, 403),
    ];
    for (method, path, body, manager_status) in &routes {
        let by_manager = send(&app, method.clone(), path, Some(&manager), body.as_ref()).await;
        assert_eq!(
            by_manager.status, *manager_status,
            "MANAGER {method} {path}: {by_manager:?}"
        );
        let by_user = send(&app, method.clone(), path, Some(&user), body.as_ref()).await;
        assert_eq!(
            (by_user.status, by_user.code()),
            (403, "forbidden"),
            "USER {method} {path}"
        );
        let anonymous = send(&app, method.clone(), path, None, body.as_ref()).await;
        assert_eq!(anonymous.status, 401, "none {method} {path}");
        let mut with_key = app
            .client
            .request(method.clone(), app.url(path))
            .header("X-Api-Key", "crm-key-0123456789abcdef");
        if let Some(body) = body {
            with_key = with_key.json(body);
        }
        let by_key = read(with_key.send().await.unwrap()).await;
        assert_eq!(
            by_key.status, 401,
            "an API key is not a bearer token: {method} {path}"
        );
    }
    let after = app
        .get(&format!("/api/users/{target}"), Some(&root))
        .await
        .body;
    assert_eq!(before, after, "no refused call changed the target");
    assert_eq!(
        app.get("/api/users/by-email/new@example.com", Some(&root))
            .await
            .status,
        404
    );
    // ADMIN may do each of them (in an order that keeps every call meaningful).
    for (method, path, body, _) in routes
        .iter()
        .filter(|(m, p, _, _)| !(m == Method::DELETE && p == &format!("/api/users/{target}")))
    {
        let by_admin = send(&app, method.clone(), path, Some(&root), body.as_ref()).await;
        assert!(
            by_admin.status == 200 || by_admin.status == 201,
            "ADMIN {method} {path}: {by_admin:?}"
        );
    }
    let deleted = send(
        &app,
        Method::DELETE,
        &format!("/api/users/{target}"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(deleted.status, 200);
}

on_both_backends!(
    every_admin_route_answers_each_actor_as_the_matrix_says,
    admin_creation_counts_against_the_register_rate_limit,
    reading_by_id_follows_the_policy,
    an_admin_creates_users_and_others_may_not,
    a_manager_changes_only_profile_fields_of_users_who_are_not_admin,
    deactivation_ends_sessions_at_once_and_reactivation_restores_login,
    the_last_active_admin_cannot_be_taken_away,
    roles_are_added_and_removed_by_their_rules,
    custom_roles_are_created_by_admins_and_listed_for_managers,
    tenant_memberships_keep_exactly_one_main,
    lookups_by_email_and_username_are_for_admins_and_managers,
    deleting_a_user_answers_with_it_and_erases_it,
    the_audit_log_is_filtered_paged_and_for_admins_only,
);
