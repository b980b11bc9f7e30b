#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed step must fail the test"
)]

//! Emails at rest, on SQLite and PostgreSQL: what the database holds is unreadable, lookups
//! still find the address, a wrong key or a tampered value fails cleanly, and a key rotation
//! keeps every row readable until `rekey_emails` has moved it to the new key.

use chrono::{DateTime, Duration, TimeZone, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Nullable, Text};
use roster_domain::InfraError;
use roster_domain::audit::{Actor, AuditAction, AuditEvent, RequestContext};
use roster_domain::mail::{MailKind, OutgoingMail};
use roster_domain::ports::{
    AccountUpdate, CreateUserError, CreationEffects, LoginKey, Outbox, UpdateUserError,
    UserRepository,
};
use roster_domain::role::RoleName;
use roster_domain::token::{NewOneTimeToken, TokenHash, TokenPurpose};
use roster_domain::user::{Email, NewUser, PasswordHash, Profile, UserId, UserStatus, Username};
use roster_persistence_diesel::testing::TestDatabase;
use roster_persistence_diesel::{
    BackendKind, Database, DieselOutbox, DieselUserRepository, EmailKeys, RekeyReport,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap()
}

fn key(byte: u8) -> Vec<u8> {
    vec![byte; 32]
}

fn keys(current: u8, previous: &[u8]) -> EmailKeys {
    let previous: Vec<Vec<u8>> = previous.iter().map(|b| key(*b)).collect();
    EmailKeys::new(&key(current), &previous).unwrap()
}

fn new_user(email: &str, username: &str) -> NewUser {
    NewUser {
        id: UserId::generate(),
        external_id: None,
        email: Some(Email::parse(email).unwrap()),
        email_verified: false,
        username: Username::parse(username).unwrap(),
        name: None,
        phone: None,
        avatar_url: None,
        profile: Profile::default(),
        status: UserStatus::Pending,
        roles: vec![RoleName::user()],
        password_hash: Some(PasswordHash::new("$2b$04$hash")),
        created_at: t0(),
    }
}

/// A creation that also stores a pending address (a confirmation token) and queues mail.
fn with_mail(user: &NewUser, hash: &str) -> CreationEffects {
    let expires_at = t0() + Duration::hours(24);
    CreationEffects {
        token: Some(NewOneTimeToken {
            hash: TokenHash::new(hash),
            purpose: TokenPurpose::EmailConfirmation,
            user_id: user.id,
            email: user.email.clone(),
            created_at: t0(),
            expires_at,
        }),
        mail: Some(OutgoingMail {
            to: user.email.as_ref().unwrap().as_str().to_owned(),
            to_name: Some("Ada".into()),
            kind: MailKind::Confirmation {
                token: format!("raw-{hash}"),
                expires_at,
            },
        }),
        audit: AuditEvent::new(
            t0(),
            Actor::System,
            AuditAction::UserCreated,
            Some(user.id),
            &RequestContext::default(),
        ),
    }
}

fn by_email(raw: &str) -> LoginKey {
    LoginKey::Email(roster_domain::user::identity_key(raw))
}

#[derive(Debug, QueryableByName)]
struct RawText {
    #[diesel(sql_type = Nullable<Text>)]
    value: Option<String>,
}

/// Every text value of the email-bearing columns, as the database holds them.
async fn raw_values(db: &TestDatabase) -> Vec<String> {
    let sql = "SELECT email AS value FROM users UNION ALL SELECT email_key FROM users \
               UNION ALL SELECT email FROM one_time_tokens \
               UNION ALL SELECT recipient FROM mail_outbox UNION ALL SELECT payload FROM mail_outbox \
               UNION ALL SELECT last_error FROM mail_outbox UNION ALL SELECT details FROM audit_events";
    let rows: Vec<RawText> = match db.kind {
        BackendKind::Sqlite => {
            use diesel::{Connection as _, RunQueryDsl as _};
            let path = db.url.trim_start_matches("sqlite://");
            let mut conn = diesel::SqliteConnection::establish(path).unwrap();
            diesel::sql_query(sql).load(&mut conn).unwrap()
        }
        BackendKind::Postgres => {
            use diesel_async::{AsyncConnection as _, RunQueryDsl as _};
            let mut conn = diesel_async::AsyncPgConnection::establish(&db.url)
                .await
                .unwrap();
            diesel::sql_query(sql).load(&mut conn).await.unwrap()
        }
    };
    rows.into_iter().filter_map(|r| r.value).collect()
}

async fn execute(db: &TestDatabase, sql: &str) {
    match db.kind {
        BackendKind::Sqlite => {
            use diesel::{Connection as _, RunQueryDsl as _};
            let path = db.url.trim_start_matches("sqlite://");
            let mut conn = diesel::SqliteConnection::establish(path).unwrap();
            diesel::sql_query(sql).execute(&mut conn).unwrap();
        }
        BackendKind::Postgres => {
            use diesel_async::{AsyncConnection as _, RunQueryDsl as _};
            let mut conn = diesel_async::AsyncPgConnection::establish(&db.url)
                .await
                .unwrap();
            diesel::sql_query(sql).execute(&mut conn).await.unwrap();
        }
    }
}

fn assert_unreadable(values: &[String], addresses: &[&str]) {
    for value in values {
        let lower = value.to_lowercase();
        for address in addresses {
            let address = address.to_lowercase();
            let local = address.split('@').next().unwrap();
            assert!(
                !lower.contains(&address) && !lower.contains(local),
                "{value:?} gives away {address}"
            );
        }
    }
}

async fn emails_are_stored_encrypted_and_found_by_any_variant(kind: BackendKind) {
    let db = TestDatabase::create(kind).await;
    let database = db.connect(2).await;
    let users = DieselUserRepository::new(database.clone());
    let ada = new_user("Zephyrine.Quirk@Example.org", "ada");
    let mut effects = with_mail(&ada, "h-ada");
    // A careless caller's detail: stored without the address.
    effects.audit = effects
        .audit
        .with("note", "registered as Zephyrine.Quirk@Example.org today");
    users.create(ada.clone(), effects).await.unwrap();

    let raw = raw_values(&db).await;
    assert!(
        raw.iter()
            .any(|v| v.contains("registered as <address> today")),
        "{raw:?}"
    );
    assert_unreadable(&raw, &["zephyrine.quirk@example.org"]);
    let read = users.find_by_id(ada.id).await.unwrap().unwrap();
    assert_eq!(
        read.email.unwrap().as_str(),
        "Zephyrine.Quirk@Example.org",
        "displayed as entered"
    );
    for variant in [
        "zephyrine.quirk@example.org",
        "  ZEPHYRINE.QUIRK@EXAMPLE.ORG ",
        "ｚｅｐｈｙｒｉｎｅ.quirk@example.org",
    ] {
        let found = users.find_for_login(&by_email(variant)).await.unwrap();
        assert_eq!(found.map(|c| c.user.id), Some(ada.id), "{variant}");
    }
    assert_eq!(
        database.email_index("zephyrine.quirk@example.org"),
        database.email_indexes("zephyrine.quirk@example.org")[0]
    );

    let twin = new_user("ZEPHYRINE.quirk@example.org", "twin");
    let refused = users.create(twin.clone(), with_mail(&twin, "h-twin")).await;
    assert!(
        matches!(refused, Err(CreateUserError::EmailTaken)),
        "{refused:?}"
    );

    let outbox = DieselOutbox::new(database);
    let mails = outbox
        .claim_due(t0(), 10, Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].mail.to, "Zephyrine.Quirk@Example.org");
    assert_eq!(mails[0].mail.to_name.as_deref(), Some("Ada"));
}

async fn a_wrong_key_reads_nothing_and_fails_without_panicking(kind: BackendKind) {
    let db = TestDatabase::create(kind).await;
    let users = DieselUserRepository::new(db.connect(2).await);
    let ada = new_user("ada@example.org", "ada");
    users
        .create(ada.clone(), with_mail(&ada, "h-ada"))
        .await
        .unwrap();

    let stranger = db.connect_with(2, keys(9, &[])).await;
    let users = DieselUserRepository::new(stranger.clone());
    assert!(matches!(
        users.find_by_id(ada.id).await,
        Err(InfraError::Unexpected(_))
    ));
    assert!(
        users
            .find_for_login(&by_email("ada@example.org"))
            .await
            .unwrap()
            .is_none(),
        "another key's index does not match"
    );
    // The unreadable message is abandoned, not retried forever and not a panic.
    let outbox = DieselOutbox::new(stranger);
    assert!(
        outbox
            .claim_due(t0(), 10, Duration::minutes(1))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_tampered_or_moved_ciphertext_fails(kind: BackendKind) {
    let db = TestDatabase::create(kind).await;
    let users = DieselUserRepository::new(db.connect(2).await);
    let ada = new_user("ada@example.org", "ada");
    let bob = new_user("bob@example.org", "bob");
    for user in [&ada, &bob] {
        users
            .create(
                user.clone(),
                with_mail(user, &format!("h-{}", user.username.as_str())),
            )
            .await
            .unwrap();
    }
    // Bob's ciphertext copied into Ada's row: it is bound to Bob's row and does not decrypt.
    execute(
        &db,
        "UPDATE users SET email = (SELECT email FROM users WHERE username = 'bob') \
         WHERE username = 'ada'",
    )
    .await;
    assert!(matches!(
        users.find_by_id(ada.id).await,
        Err(InfraError::Unexpected(_))
    ));
    // One character of Bob's ciphertext changed.
    execute(
        &db,
        "UPDATE users SET email = substr(email, 1, length(email) - 2) || \
         CASE WHEN substr(email, length(email) - 1, 1) = 'A' THEN 'B' ELSE 'A' END || \
         substr(email, length(email)) WHERE username = 'bob'",
    )
    .await;
    assert!(matches!(
        users.find_by_id(bob.id).await,
        Err(InfraError::Unexpected(_))
    ));
}

async fn a_rotation_keeps_rows_readable_and_rekey_moves_them_to_the_new_key(kind: BackendKind) {
    let db = TestDatabase::create(kind).await;
    let old = db.connect_with(2, keys(1, &[])).await;
    let old_users = DieselUserRepository::new(old.clone());
    let mut created = Vec::new();
    for (i, name) in ["ada", "bob", "cyd", "dee", "eve"].iter().enumerate() {
        let user = new_user(&format!("{name}.rotation@example.org"), name);
        let effects = if i % 2 == 0 {
            with_mail(&user, &format!("h-{name}"))
        } else {
            CreationEffects {
                token: None,
                mail: None,
                audit: with_mail(&user, "unused").audit,
            }
        };
        old_users.create(user.clone(), effects).await.unwrap();
        created.push(user);
    }

    // Rolled out: key 2 is current, key 1 still read.
    let rotating: Database = db.connect_with(2, keys(2, &[1])).await;
    let users = DieselUserRepository::new(rotating.clone());
    for user in &created {
        let address = user.email.as_ref().unwrap().as_str();
        assert_eq!(
            users
                .find_by_id(user.id)
                .await
                .unwrap()
                .unwrap()
                .email
                .unwrap()
                .as_str(),
            address
        );
        let found = users.find_for_login(&by_email(address)).await.unwrap();
        assert_eq!(found.map(|c| c.user.id), Some(user.id), "{address}");
    }
    // An address still indexed under the old key is taken all the same.
    let twin = new_user("ADA.rotation@example.org", "twin");
    let refused = users.create(twin.clone(), with_mail(&twin, "h-twin")).await;
    assert!(
        matches!(refused, Err(CreateUserError::EmailTaken)),
        "{refused:?}"
    );
    // Nor can an account change to it.
    let change = AccountUpdate {
        user: created[1].id,
        username: None,
        name: None,
        phone: None,
        avatar_url: None,
        profile: None,
        email: Some(Email::parse("Ada.Rotation@example.org").unwrap()),
        password_hash: None,
        revoke_other_sessions: None,
        token: None,
        mail: None,
        audit: with_mail(&created[1], "unused").audit,
        now: t0(),
    };
    let refused = users.update_account(change).await;
    assert!(
        matches!(refused, Err(UpdateUserError::EmailTaken)),
        "{refused:?}"
    );
    // A user written now is written under the new key.
    let fay = new_user("fay.rotation@example.org", "fay");
    users
        .create(fay.clone(), with_mail(&fay, "h-fay"))
        .await
        .unwrap();

    let report = rotating.rekey_emails(2).await.unwrap();
    assert_eq!(
        report,
        RekeyReport {
            users: 5,
            tokens: 3,
            outbox: 3,
            failed: 0
        }
    );
    assert_eq!(
        rotating.rekey_emails(2).await.unwrap(),
        RekeyReport::default()
    );

    // The old key dropped: everything is readable and found under the new key alone.
    let new = db.connect_with(2, keys(2, &[])).await;
    let users = DieselUserRepository::new(new.clone());
    for user in created.iter().chain([&fay]) {
        let address = user.email.as_ref().unwrap().as_str();
        let found = users.find_for_login(&by_email(address)).await.unwrap();
        assert_eq!(found.map(|c| c.user.id), Some(user.id), "{address}");
    }
    let mails = DieselOutbox::new(new)
        .claim_due(t0(), 10, Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(mails.len(), 4);
    // And the old key alone reads nothing any more.
    assert!(
        DieselUserRepository::new(old)
            .find_by_id(created[0].id)
            .await
            .is_err()
    );
    assert_unreadable(
        &raw_values(&db).await,
        &["ada.rotation@example.org", "fay.rotation@example.org"],
    );
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(roster_persistence_diesel::BackendKind::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(roster_persistence_diesel::BackendKind::Postgres).await;
                }
            )*
        }
    };
}

on_both_backends!(
    emails_are_stored_encrypted_and_found_by_any_variant,
    a_wrong_key_reads_nothing_and_fails_without_panicking,
    a_tampered_or_moved_ciphertext_fails,
    a_rotation_keeps_rows_readable_and_rekey_moves_them_to_the_new_key,
);
