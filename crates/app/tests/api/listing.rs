//! Listing users: paging by page and by cursor in every sort and order, each filter, the
//! validation of every parameter, sealed cursors, and who may list.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use diesel::ExpressionMethods;
use diesel_async::RunQueryDsl;
use roster_domain::audit::{Actor, AuditAction, AuditEvent, RequestContext};
use roster_domain::ports::{CreationEffects, PasswordHasher, SessionRepository, UserRepository};
use roster_domain::role::RoleName;
use roster_domain::session::{NewSession, SessionId};
use roster_domain::token::TokenHash;
use roster_domain::user::{Email, Name, NewUser, Password, Profile, UserId, UserStatus, Username};
use roster_persistence_diesel::BackendKind;
use roster_persistence_diesel::types::Id;
use roster_persistence_diesel::{DieselSessionRepository, DieselUserRepository};
use serde_json::{Value, json};

use crate::helpers::{Options, PASSWORD, TestApp, read, spawn_with};

/// A user as the test knows it, to compute what each filter must return.
#[derive(Debug, Clone)]
struct Person {
    id: String,
    username: String,
    status: UserStatus,
    roles: Vec<&'static str>,
}

/// What to create.
struct Spec {
    username: String,
    name: Option<String>,
    status: UserStatus,
    roles: Vec<&'static str>,
    tenants: Vec<&'static str>,
    created_at: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
    password: bool,
}

/// Creates users through the real repositories, fast (no bcrypt, no HTTP).
struct Seeder {
    users: DieselUserRepository,
    sessions: DieselSessionRepository,
    hasher: Arc<roster_crypto::BcryptHasher>,
    db: Arc<roster_persistence_diesel::testing::TestDatabase>,
    memberships: Vec<(UserId, &'static str, bool, DateTime<Utc>)>,
}

impl Seeder {
    async fn new(app: &TestApp) -> Self {
        let db = app.db.connect(2).await;
        Self {
            users: DieselUserRepository::new(db.clone()),
            sessions: DieselSessionRepository::new(db),
            hasher: app.services.hasher.clone(),
            db: app.db.clone(),
            memberships: Vec::new(),
        }
    }

    async fn create(&mut self, spec: Spec) -> Person {
        let id = UserId::generate();
        let email = format!("{}@example.com", spec.username);
        let password_hash = if spec.password {
            Some(
                self.hasher
                    .hash(&Password::parse(PASSWORD, &[]).unwrap())
                    .await
                    .unwrap(),
            )
        } else {
            None
        };
        let user = NewUser {
            id,
            external_id: None,
            email: Some(Email::parse(&email).unwrap()),
            email_verified: true,
            username: Username::parse(&spec.username).unwrap(),
            name: spec.name.as_deref().map(|n| Name::parse(n).unwrap()),
            phone: None,
            avatar_url: None,
            profile: Profile::default(),
            status: spec.status,
            roles: spec
                .roles
                .iter()
                .map(|r| RoleName::parse(r).unwrap())
                .collect(),
            password_hash,
            created_at: spec.created_at,
        };
        let ctx = RequestContext::default();
        let audit = AuditEvent::new(
            spec.created_at,
            Actor::System,
            AuditAction::UserCreated,
            Some(id),
            &ctx,
        );
        self.users
            .create(
                user,
                CreationEffects {
                    token: None,
                    mail: None,
                    audit,
                },
            )
            .await
            .unwrap();
        if let Some(at) = spec.last_login_at {
            let session = NewSession {
                id: SessionId::generate(),
                user_id: id,
                refresh_token_hash: TokenHash::new(uuid::Uuid::now_v7().simple().to_string()),
                created_at: at,
                refresh_expires_at: at + Duration::days(1),
                expires_at: at + Duration::days(2),
                ip: None,
                user_agent: None,
            };
            let audit = AuditEvent::new(at, Actor::User(id), AuditAction::Login, Some(id), &ctx);
            self.sessions.start(session, audit, 0).await.unwrap();
        }
        for (i, tenant) in spec.tenants.iter().enumerate() {
            self.memberships.push((id, tenant, i == 0, spec.created_at));
        }
        Person {
            id: id.to_string(),
            username: spec.username,
            status: spec.status,
            roles: spec.roles,
        }
    }

    /// Stores the tenant memberships collected so far (no route writes them yet).
    async fn store_memberships(&mut self) {
        use roster_persistence_diesel::schema::tenant_memberships as tm;
        let rows: Vec<_> = self
            .memberships
            .drain(..)
            .map(|(user, tenant, main, at)| {
                (
                    tm::user_id.eq(Id(user.as_uuid())),
                    tm::tenant_id.eq(tenant.to_owned()),
                    tm::role.eq("USER".to_owned()),
                    tm::is_main.eq(main),
                    tm::created_at.eq(at.naive_utc()),
                )
            })
            .collect();
        if rows.is_empty() {
            return;
        }
        match self.db.kind {
            BackendKind::Sqlite => {
                use diesel_async::{AsyncConnection as _, SimpleAsyncConnection as _};
                let path = self.db.url.trim_start_matches("sqlite://").to_owned();
                let mut conn = diesel_async::sync_connection_wrapper::SyncConnectionWrapper::<
                    diesel::SqliteConnection,
                >::establish(&path)
                .await
                .unwrap();
                conn.batch_execute("PRAGMA busy_timeout = 5000;")
                    .await
                    .unwrap();
                for row in rows {
                    diesel::insert_into(tm::table)
                        .values(row)
                        .execute(&mut conn)
                        .await
                        .unwrap();
                }
            }
            BackendKind::Postgres => {
                use diesel_async::AsyncConnection as _;
                let mut conn = diesel_async::AsyncPgConnection::establish(&self.db.url)
                    .await
                    .unwrap();
                for row in rows {
                    diesel::insert_into(tm::table)
                        .values(row)
                        .execute(&mut conn)
                        .await
                        .unwrap();
                }
            }
        }
    }
}

fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap()
}

/// An app with a bootstrap ADMIN (`root`), logged in.
async fn app_with_admin(kind: BackendKind) -> (TestApp, String, Person) {
    let app = spawn_with(
        kind,
        Options {
            vars: vec![
                ("ROSTER_BOOTSTRAP_ADMIN_EMAIL", "root@example.com".into()),
                ("ROSTER_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD.into()),
            ],
            ..Options::default()
        },
    )
    .await;
    let login = app.login("root", PASSWORD).await;
    assert_eq!(login.status, 200, "{login:?}");
    let token = login.body["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = app.get("/api/users/me", Some(&token)).await;
    let admin = Person {
        id: me.body["data"]["id"].as_str().unwrap().to_owned(),
        username: "root".into(),
        status: UserStatus::Active,
        roles: vec!["ADMIN"],
    };
    (app, token, admin)
}

/// The seeded population of the paging test: ties in every sort key, missing names and
/// logins, every status, several roles and tenants.
async fn seed_many(seeder: &mut Seeder, n: usize, base: DateTime<Utc>) -> Vec<Person> {
    let mut people = Vec::with_capacity(n);
    for i in 0..n {
        let number = (i * 7919) % n;
        let spec = Spec {
            username: format!("u{number:04}x{}", i % 3),
            name: (i % 4 != 0).then(|| format!("Person {:03}", (i * 31) % (n / 2))),
            status: match i % 10 {
                0 => UserStatus::Deactivated,
                1 => UserStatus::Pending,
                _ => UserStatus::Active,
            },
            roles: match i % 5 {
                0 => vec!["MANAGER", "USER"],
                _ if i % 7 == 0 => vec!["CONTRIBUTOR", "USER"],
                _ => vec!["USER"],
            },
            tenants: match i % 6 {
                0 => vec!["acme", "globex"],
                2 | 4 => vec!["acme"],
                _ => vec![],
            },
            // Three users share each creation time; ids break the tie.
            created_at: base + Duration::seconds(i64::try_from(i / 3).unwrap()),
            last_login_at: (i % 3 != 0).then(|| {
                base + Duration::days(1) + Duration::minutes(i64::try_from((i * 13) % 50).unwrap())
            }),
            password: false,
        };
        people.push(seeder.create(spec).await);
    }
    seeder.store_memberships().await;
    people
}

async fn list(app: &TestApp, token: &str, query: &str) -> Value {
    let reply = app.get(&format!("/api/users?{query}"), Some(token)).await;
    assert_eq!(reply.status, 200, "{query}: {reply:?}");
    reply.body
}

fn ids(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The sort key of a listed user as the contract orders it: missing sorts smallest.
fn key(user: &Value, sort: &str) -> (Option<String>, String) {
    let value = match sort {
        "username" => user["username"].as_str().map(str::to_lowercase),
        other => user[other].as_str().map(str::to_owned),
    };
    (value, user["id"].as_str().unwrap().to_owned())
}

fn assert_ordered(users: &[Value], sort: &str, order: &str) {
    for pair in users.windows(2) {
        let (a, b) = (key(&pair[0], sort), key(&pair[1], sort));
        match order {
            "asc" => assert!(a < b, "{sort} {order}: {a:?} then {b:?}"),
            _ => assert!(a > b, "{sort} {order}: {a:?} then {b:?}"),
        }
    }
}

/// Walks every page by cursor; returns the users in order.
async fn walk_by_cursor(app: &TestApp, token: &str, query: &str, limit: u64) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut page = 1;
    let mut body = list(app, token, &format!("{query}&limit={limit}")).await;
    loop {
        assert_eq!(body["meta"]["page"], page, "{query}");
        assert_eq!(body["meta"]["limit"], limit);
        if page > 1 {
            assert!(body["meta"].get("total_items").is_none(), "{body}");
            assert!(body["meta"].get("total_pages").is_none(), "{body}");
        }
        let data = body["data"].as_array().unwrap().clone();
        assert!(data.len() as u64 <= limit);
        seen.extend(data.iter().cloned());
        match body["meta"]["next_cursor"].as_str() {
            Some(cursor) => {
                assert_eq!(data.len() as u64, limit, "only a full page has a next one");
                page += 1;
                body = list(
                    app,
                    token,
                    &format!("{query}&limit={limit}&cursor={cursor}"),
                )
                .await;
            }
            None => break,
        }
        assert!(page < 1000, "runaway paging");
    }
    seen
}

/// Walks every page by number; returns the users in order.
async fn walk_by_page(app: &TestApp, token: &str, query: &str, limit: u64) -> Vec<Value> {
    let mut seen = Vec::new();
    let first = list(app, token, &format!("{query}&limit={limit}")).await;
    let total = first["meta"]["total_items"].as_u64().unwrap();
    let pages = first["meta"]["total_pages"].as_u64().unwrap();
    assert_eq!(pages, total.div_ceil(limit));
    for page in 1..=pages {
        let body = list(app, token, &format!("{query}&limit={limit}&page={page}")).await;
        assert_eq!(body["meta"]["page"], page);
        assert_eq!(body["meta"]["total_items"], total);
        assert_eq!(
            body["meta"]["next_cursor"].is_null(),
            page == pages,
            "page {page} of {pages}"
        );
        seen.extend(body["data"].as_array().unwrap().iter().cloned());
    }
    let beyond = list(
        app,
        token,
        &format!("{query}&limit={limit}&page={}", pages + 1),
    )
    .await;
    assert_eq!(ids(&beyond), Vec::<String>::new());
    assert!(beyond["meta"]["next_cursor"].is_null());
    assert_eq!(seen.len() as u64, total);
    seen
}

fn id_set<'a>(people: impl IntoIterator<Item = &'a Person>) -> BTreeSet<String> {
    people.into_iter().map(|p| p.id.clone()).collect()
}

fn listed_set(users: &[Value]) -> BTreeSet<String> {
    let set: BTreeSet<String> = users
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(set.len(), users.len(), "a user was listed twice");
    set
}

async fn paging_sees_every_user_once_in_each_sort_and_order(kind: BackendKind) {
    let (app, token, admin) = app_with_admin(kind).await;
    let mut seeder = Seeder::new(&app).await;
    // Whole microseconds, as the service's clock gives them.
    let base = micros(Utc::now() - Duration::days(30));
    let mut people = seed_many(&mut seeder, 240, base).await;
    people.push(admin);
    let visible = id_set(
        people
            .iter()
            .filter(|p| p.status != UserStatus::Deactivated),
    );
    for sort in ["created_at", "username", "name", "last_login_at"] {
        for order in ["asc", "desc"] {
            let query = format!("sort={sort}&order={order}");
            let by_cursor = walk_by_cursor(&app, &token, &query, 23).await;
            assert_eq!(listed_set(&by_cursor), visible, "{query} by cursor");
            assert_ordered(&by_cursor, sort, order);
            let by_page = walk_by_page(&app, &token, &query, 23).await;
            assert_eq!(
                ids_of(&by_page),
                ids_of(&by_cursor),
                "{query}: pages = cursors"
            );
        }
    }
    // Deactivated users join with include_inactive; a cursor walk still sees each once.
    let all = walk_by_cursor(
        &app,
        &token,
        "sort=name&order=asc&include_inactive=true",
        50,
    )
    .await;
    assert_eq!(listed_set(&all), id_set(&people));
    // The default: newest first, ten per page, with totals.
    let first = list(&app, &token, "").await;
    assert_eq!(first["meta"]["limit"], 10);
    assert_eq!(first["meta"]["page"], 1);
    assert_eq!(first["meta"]["total_items"], visible.len());
    assert_eq!(first["meta"]["total_pages"], visible.len().div_ceil(10));
    assert_ordered(first["data"].as_array().unwrap(), "created_at", "desc");
    // count=true brings the totals back to a cursor page.
    let cursor = first["meta"]["next_cursor"].as_str().unwrap();
    let counted = list(&app, &token, &format!("cursor={cursor}&count=true")).await;
    assert_eq!(counted["meta"]["page"], 2);
    assert_eq!(counted["meta"]["total_items"], visible.len());
    // Users hold no secrets in a list.
    let text = first.to_string();
    assert!(
        !text.contains("password") && !text.contains("$2b$"),
        "{text}"
    );
}

fn ids_of(users: &[Value]) -> Vec<String> {
    users
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Username, name, status, roles, tenants.
type FewSpec = (
    &'static str,
    Option<&'static str>,
    UserStatus,
    Vec<&'static str>,
    Vec<&'static str>,
);

/// A small population for the filters.
async fn seed_few(seeder: &mut Seeder, base: DateTime<Utc>) -> Vec<Person> {
    let specs: Vec<FewSpec> = vec![
        (
            "ada",
            Some("Ada Lovelace"),
            UserStatus::Active,
            vec!["USER"],
            vec!["acme"],
        ),
        (
            "grace",
            Some("Grace Hopper"),
            UserStatus::Active,
            vec!["MANAGER"],
            vec!["acme", "globex"],
        ),
        (
            "alan",
            Some("Alan Turing"),
            UserStatus::Deactivated,
            vec!["USER"],
            vec!["globex"],
        ),
        (
            "edsger",
            None,
            UserStatus::Pending,
            vec!["USER", "CONTRIBUTOR"],
            vec![],
        ),
        (
            "percent",
            Some("100% sure"),
            UserStatus::Active,
            vec!["USER"],
            vec![],
        ),
        (
            "hundred",
            Some("100 sure"),
            UserStatus::Active,
            vec!["USER"],
            vec![],
        ),
        (
            "snake_case",
            Some("Snake Person"),
            UserStatus::Active,
            vec!["USER"],
            vec![],
        ),
        (
            "snakexcase",
            Some("Snake Twin"),
            UserStatus::Active,
            vec!["USER"],
            vec![],
        ),
        (
            "slashy",
            Some("Back\\Slash"),
            UserStatus::Active,
            vec!["USER"],
            vec![],
        ),
        (
            "plainer",
            Some("Back Slash"),
            UserStatus::Active,
            vec!["USER"],
            vec![],
        ),
        (
            "barbara",
            Some("Barbara Liskov"),
            UserStatus::Active,
            vec!["MANAGER", "USER"],
            vec![],
        ),
    ];
    let mut people = Vec::new();
    for (i, (username, name, status, roles, tenants)) in specs.into_iter().enumerate() {
        people.push(
            seeder
                .create(Spec {
                    username: username.into(),
                    name: name.map(str::to_owned),
                    status,
                    roles,
                    tenants,
                    created_at: base + Duration::seconds(i64::try_from(i).unwrap()),
                    last_login_at: None,
                    password: false,
                })
                .await,
        );
    }
    seeder.store_memberships().await;
    people
}

fn usernames(body: &Value) -> BTreeSet<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn each_filter_selects_its_users(kind: BackendKind) {
    let (app, token, admin) = app_with_admin(kind).await;
    let mut seeder = Seeder::new(&app).await;
    let people = seed_few(&mut seeder, micros(Utc::now() - Duration::days(1))).await;
    let get = |query: String| {
        let (app, token) = (&app, &token);
        async move { usernames(&list(app, token, &format!("limit=100&{query}")).await) }
    };
    let model = |pred: &dyn Fn(&Person) -> bool| -> BTreeSet<String> {
        people
            .iter()
            .chain(std::iter::once(&admin))
            .filter(|p| pred(p))
            .map(|p| p.username.clone())
            .collect()
    };
    // email and username: exact, any case.
    assert_eq!(
        get(format!("email={}", encode("ADA@Example.COM"))).await,
        names(&["ada"])
    );
    assert_eq!(get("email=nobody%40example.com".into()).await, names(&[]));
    assert_eq!(get("username=GRACE".into()).await, names(&["grace"]));
    assert_eq!(get("username=gra".into()).await, names(&[]));
    // q: a substring of username or name, any case.
    assert_eq!(get("q=LOVE".into()).await, names(&["ada"]));
    assert_eq!(
        get("q=snake".into()).await,
        names(&["snake_case", "snakexcase"])
    );
    // %, _ and \ are plain characters.
    assert_eq!(
        get(format!("q={}", encode("100%"))).await,
        names(&["percent"])
    );
    assert_eq!(
        get(format!("q={}", encode("e_c"))).await,
        names(&["snake_case"])
    );
    assert_eq!(
        get(format!("q={}", encode("k\\s"))).await,
        names(&["slashy"])
    );
    assert_eq!(get(format!("q={}", encode("%"))).await, names(&["percent"]));
    // role, status, tenant, include_inactive.
    assert_eq!(
        get("role=MANAGER".into()).await,
        model(&|p| p.roles.contains(&"MANAGER") && p.status != UserStatus::Deactivated)
    );
    assert_eq!(
        get("role=MANAGER".into()).await,
        names(&["grace", "barbara"])
    );
    assert_eq!(get("status=pending".into()).await, names(&["edsger"]));
    assert_eq!(get("status=deactivated".into()).await, names(&["alan"]));
    assert_eq!(
        get("status=active".into()).await,
        model(&|p| p.status == UserStatus::Active)
    );
    assert_eq!(get("tenant_id=globex".into()).await, names(&["grace"]));
    assert_eq!(
        get("tenant_id=globex&include_inactive=true".into()).await,
        names(&["grace", "alan"])
    );
    assert_eq!(get("include_inactive=true".into()).await, model(&|_| true));
    assert_eq!(
        get("include_inactive=false".into()).await,
        model(&|p| p.status != UserStatus::Deactivated)
    );
    assert_eq!(
        get("tenant_id=acme&role=MANAGER".into()).await,
        names(&["grace"])
    );
    assert_eq!(get("role=CONTRIBUTOR".into()).await, names(&["edsger"]));
    // A custom-format role that does not exist is refused, not an empty list.
    let unknown = app.get("/api/users?role=GHOST", Some(&token)).await;
    assert_eq!(unknown.status, 422, "{unknown:?}");
    assert_eq!(unknown.body["errors"][0]["field"], "role");
    assert_eq!(unknown.body["errors"][0]["code"], "unknown_role");

    // by-role: the active holders only.
    let by_role = app
        .get("/api/users/by-role/USER?limit=100", Some(&token))
        .await;
    assert_eq!(by_role.status, 200, "{by_role:?}");
    assert_eq!(
        usernames(&by_role.body),
        model(&|p| p.roles.contains(&"USER") && p.status == UserStatus::Active)
    );
    let by_role = app
        .get("/api/users/by-role/MANAGER?q=grace", Some(&token))
        .await;
    assert_eq!(usernames(&by_role.body), names(&["grace"]));
    for (path, code) in [
        ("/api/users/by-role/GHOST", "unknown_role"),
        ("/api/users/by-role/manager", "invalid_role"),
    ] {
        let reply = app.get(path, Some(&token)).await;
        assert_eq!(reply.status, 422, "{path}: {reply:?}");
        assert_eq!(reply.body["errors"][0]["code"], code);
    }
    let reply = app
        .get("/api/users/by-role/USER?status=deactivated", Some(&token))
        .await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.code(), "unknown_field");

    // POST /api/users/search: the same filters as a body.
    let search = post_search(
        &app,
        &token,
        &json!({"q": "snake", "sort": "username", "order": "asc", "limit": 1}),
    )
    .await;
    assert_eq!(search.status, 200, "{search:?}");
    assert_eq!(search.body["data"][0]["username"], "snake_case");
    assert_eq!(search.body["meta"]["total_items"], 2);
    let cursor = search.body["meta"]["next_cursor"].as_str().unwrap();
    let next = post_search(
        &app,
        &token,
        &json!({"q": "snake", "sort": "username", "order": "asc", "limit": 1, "cursor": cursor}),
    )
    .await;
    assert_eq!(next.body["data"][0]["username"], "snakexcase");
    assert!(next.body["meta"]["next_cursor"].is_null());
    // The cursor of the body works in the query string too: same filters, same list.
    let via_get = list(
        &app,
        &token,
        &format!("q=snake&sort=username&order=asc&limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(via_get["data"][0]["username"], "snakexcase");
    let unknown = post_search(&app, &token, &json!({"q": "a", "roles": ["ADMIN"]})).await;
    assert_eq!(unknown.status, 400, "{unknown:?}");
    assert_eq!(unknown.code(), "unknown_field");
    let wrong_type = post_search(&app, &token, &json!({"limit": "ten"})).await;
    assert_eq!(wrong_type.status, 400, "{wrong_type:?}");
    let bad = post_search(&app, &token, &json!({"limit": 0, "page": -1})).await;
    assert_eq!(bad.status, 422, "{bad:?}");
    let fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["page", "limit"]);
}

async fn post_search(app: &TestApp, token: &str, body: &Value) -> crate::helpers::Reply {
    read(
        app.client
            .post(app.url("/api/users/search"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn bad_parameters_get_422_and_unknown_ones_400(kind: BackendKind) {
    let (app, token, _) = app_with_admin(kind).await;
    for (query, field, code) in [
        ("page=0", "page", "out_of_range"),
        ("page=-1", "page", "invalid_number"),
        ("page=x", "page", "invalid_number"),
        ("limit=0", "limit", "out_of_range"),
        ("limit=101", "limit", "out_of_range"),
        ("limit=", "limit", "invalid_number"),
        ("sort=email", "sort", "invalid_sort"),
        ("order=up", "order", "invalid_order"),
        ("status=gone", "status", "invalid_status"),
        (
            "include_inactive=yes",
            "include_inactive",
            "invalid_boolean",
        ),
        ("count=1", "count", "invalid_boolean"),
        ("role=admin", "role", "invalid_role"),
        ("tenant_id=a%20b", "tenant_id", "invalid_tenant_id"),
        ("email=nope", "email", "invalid_email"),
        ("username=a", "username", "too_short"),
        ("q=", "q", "invalid_q"),
        ("cursor=abc&page=2", "cursor", "cursor_with_page"),
        ("cursor=abc", "cursor", "invalid_cursor"),
    ] {
        let reply = app.get(&format!("/api/users?{query}"), Some(&token)).await;
        assert_eq!(reply.status, 422, "{query}: {reply:?}");
        assert_eq!(reply.code(), "validation_failed");
        let errors = reply.body["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{query}: {errors:?}");
        assert_eq!(errors[0]["field"], field, "{query}");
        assert_eq!(errors[0]["code"], code, "{query}: {errors:?}");
    }
    // Several bad values: one entry each.
    let reply = app
        .get("/api/users?page=0&limit=500&order=sideways", Some(&token))
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.body["errors"].as_array().unwrap().len(), 3);
    // Unknown or repeated parameters: 400, as unknown body fields are.
    for query in ["sort_by=name", "access_token=x", "page=1&page=2"] {
        let reply = app.get(&format!("/api/users?{query}"), Some(&token)).await;
        assert_eq!(reply.status, 400, "{query}: {reply:?}");
    }
    let reply = app.get("/api/users?sort_by=name", Some(&token)).await;
    assert_eq!(reply.code(), "unknown_field");
}

async fn altered_cursors_and_cursors_of_other_filters_get_422(kind: BackendKind) {
    let (app, token, _) = app_with_admin(kind).await;
    let mut seeder = Seeder::new(&app).await;
    seed_few(&mut seeder, micros(Utc::now() - Duration::days(1))).await;
    let first = list(&app, &token, "limit=2&sort=username&order=asc").await;
    let cursor = first["meta"]["next_cursor"].as_str().unwrap().to_owned();
    // The cursor works with its own filters, whatever the limit.
    list(
        &app,
        &token,
        &format!("limit=5&sort=username&order=asc&cursor={cursor}"),
    )
    .await;
    let mut refused = vec![
        format!("limit=2&sort=username&order=desc&cursor={cursor}"),
        format!("limit=2&sort=name&order=asc&cursor={cursor}"),
        format!("limit=2&sort=username&order=asc&q=a&cursor={cursor}"),
        format!("limit=2&sort=username&order=asc&include_inactive=true&cursor={cursor}"),
        format!("limit=2&sort=username&order=asc&role=USER&cursor={cursor}"),
    ];
    // Every single-character change of the cursor breaks its seal.
    let chars: Vec<char> = cursor.chars().collect();
    for i in (0..chars.len()).step_by(7) {
        let mut altered = chars.clone();
        altered[i] = if altered[i] == 'A' { 'B' } else { 'A' };
        let altered: String = altered.into_iter().collect();
        refused.push(format!("limit=2&sort=username&order=asc&cursor={altered}"));
    }
    refused.push(format!(
        "limit=2&sort=username&order=asc&cursor={}",
        &cursor[..cursor.len() - 1]
    ));
    for query in refused {
        let reply = app.get(&format!("/api/users?{query}"), Some(&token)).await;
        assert_eq!(reply.status, 422, "{query}: {reply:?}");
        assert_eq!(reply.body["errors"][0]["field"], "cursor", "{query}");
        assert_eq!(reply.body["errors"][0]["code"], "invalid_cursor", "{query}");
    }
    // A cursor of another installation (another JWT secret) does not open either.
    let (other, other_token, _) = app_with_admin(kind).await;
    let reply = other
        .get(
            &format!("/api/users?limit=2&sort=username&order=asc&cursor={cursor}"),
            Some(&other_token),
        )
        .await;
    assert_eq!(reply.status, 422, "{reply:?}");
}

async fn only_admins_and_managers_list_users(kind: BackendKind) {
    let (app, admin_token, _) = app_with_admin(kind).await;
    let mut seeder = Seeder::new(&app).await;
    seeder
        .create(Spec {
            username: "boss".into(),
            name: Some("The Boss".into()),
            status: UserStatus::Active,
            roles: vec!["MANAGER"],
            tenants: vec![],
            created_at: micros(Utc::now()),
            last_login_at: None,
            password: true,
        })
        .await;
    let login = app.login("boss", PASSWORD).await;
    assert_eq!(login.status, 200, "{login:?}");
    let manager = login.body["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let user = app.active_user("plain@example.com").await;
    for token in [&admin_token, &manager] {
        let reply = app.get("/api/users", Some(token)).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        let reply = app.get("/api/users/by-role/ADMIN", Some(token)).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.body["data"][0]["username"], "root");
        let reply = post_search(&app, token, &json!({})).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.body["meta"]["total_items"], 3);
    }
    for path in [
        "/api/users",
        "/api/users/by-role/USER",
        "/api/users?limit=0",
    ] {
        let reply = app.get(path, Some(&user)).await;
        assert_eq!(reply.status, 403, "{path}: {reply:?}");
        assert_eq!(reply.code(), "forbidden");
        let reply = app.get(path, None).await;
        assert_eq!(reply.status, 401, "{path}: {reply:?}");
    }
    let reply = post_search(&app, &user, &json!({"unknown": 1})).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    let reply = app.post("/api/users/search", &json!({})).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    // A token in the query string is never taken.
    let reply = app
        .get(&format!("/api/users?access_token={admin_token}"), None)
        .await;
    assert_eq!(reply.status, 401, "{reply:?}");
}

crate::on_both_backends!(
    paging_sees_every_user_once_in_each_sort_and_order,
    each_filter_selects_its_users,
    bad_parameters_get_422_and_unknown_ones_400,
    altered_cursors_and_cursors_of_other_filters_get_422,
    only_admins_and_managers_list_users,
);
