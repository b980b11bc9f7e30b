//! Emails at rest: after registrations, an email change waiting for its confirmation and
//! reset mail still queued, neither the SQLite files (database and WAL) nor a `pg_dump` of
//! the PostgreSQL database holds any of the addresses, in any case; yet login by email,
//! the duplicate check and a reset by email work.

use std::time::Duration;

use roster_persistence_diesel::BackendKind;
use serde_json::json;

use crate::helpers::{Options, PASSWORD, TestApp, read, spawn_with};
use crate::on_both_backends;

const ADA: &str = "Quintessa.Marblewood@Example.org";
const ADA_NEW: &str = "Percival.Nightingale@Example.net";
const BOB: &str = "thaddeus.oakenshield@example.com";
const CYD: &str = "WINIFRED.BRAMBLECOTE@example.com";

/// Delivers what the outbox holds now (the mail worker is off in these tests).
async fn deliver(app: &TestApp) {
    app.services.mail_delivery.run_once(100).await.unwrap();
}

async fn register(app: &TestApp, email: &str, username: &str) -> u16 {
    app.post(
        "/api/auth/register",
        &json!({"email": email, "password": PASSWORD, "username": username}),
    )
    .await
    .status
}

/// Everything the database holds, as the files or a dump show it, lowercased.
fn stored_bytes(app: &TestApp) -> Vec<u8> {
    let mut bytes = Vec::new();
    match app.db.kind {
        BackendKind::Sqlite => {
            let path = app.db.url.trim_start_matches("sqlite://").to_owned();
            let mut found = 0;
            for file in [path.clone(), format!("{path}-wal"), format!("{path}-shm")] {
                if let Ok(content) = std::fs::read(&file) {
                    found += content.len();
                    bytes.extend(content);
                }
            }
            assert!(found > 0, "no database file at {path}");
        }
        BackendKind::Postgres => {
            let output = std::process::Command::new("pg_dump")
                .args(["--no-owner", "--dbname", &app.db.url])
                .output()
                .expect("pg_dump runs");
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            bytes = output.stdout;
        }
    }
    bytes.to_ascii_lowercase()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.to_ascii_lowercase();
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

async fn no_address_is_stored_in_clear_yet_lookups_work(kind: BackendKind) {
    let app = spawn_with(
        kind,
        Options {
            no_mail_worker: true,
            ..Options::default()
        },
    )
    .await;
    assert_eq!(register(&app, ADA, "ada").await, 201);
    assert_eq!(register(&app, BOB, "bob").await, 201);
    assert_eq!(register(&app, CYD, "cyd").await, 201);
    deliver(&app).await;
    for address in [ADA, BOB] {
        let token = app.confirmation_token(address).await;
        assert_eq!(app.confirm(&token).await.status, 200);
    }

    // Login by email, in another case than registered.
    let login = app.login(&ADA.to_uppercase(), PASSWORD).await;
    assert_eq!(login.status, 200, "{login:?}");
    assert_eq!(login.body["data"]["user"]["email"], ADA, "shown as entered");
    let token = login.body["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The same address again, in other case: taken.
    let twin = app
        .post(
            "/api/auth/register",
            &json!({"email": ADA.to_lowercase(), "password": PASSWORD, "username": "twin"}),
        )
        .await;
    assert_eq!((twin.status, twin.code()), (409, "email_taken"));

    // Ada changes her address: it waits for confirmation, its mail queued.
    let changed = read(
        app.client
            .patch(app.url("/api/users/me"))
            .bearer_auth(&token)
            .json(&json!({"email": ADA_NEW, "current_password": PASSWORD}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(changed.status, 200, "{changed:?}");
    assert_eq!(changed.body["data"]["email"], ADA_NEW);
    // Resets requested for Bob and Cyd: queued, not sent.
    for address in [BOB, CYD] {
        let reply = app
            .post(
                "/api/auth/password-reset/request",
                &json!({"email": address.to_lowercase()}),
            )
            .await;
        assert_eq!(reply.status, 202);
    }
    // The requests answer at once and queue their mail in the background: wait for it.
    let mut waited = 0;
    while app.services.outbox.depth().await.unwrap() < 3 {
        assert!(waited < 500, "the reset mail was never queued");
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
    }

    let stored = stored_bytes(&app);
    // The scan does see what is stored in clear (usernames are public data).
    assert!(contains(&stored, "cyd") && contains(&stored, "bob"));
    for address in [ADA, ADA_NEW, BOB, CYD] {
        assert!(
            !contains(&stored, address),
            "{address} is stored in clear ({kind:?})"
        );
    }

    // The queued reset reaches Bob, by the address he registered, and works.
    deliver(&app).await;
    let mail = app
        .mailbox
        .next_for(BOB, Duration::from_secs(10))
        .await
        .expect("the reset mail");
    let link = mail.link("/reset-password").expect("a reset link");
    let reset_token = roster_mailer::token_of_link(&link).unwrap().to_owned();
    let reset = app
        .post(
            "/api/auth/password-reset/confirm",
            &json!({"token": reset_token, "password": "An0ther!pass"}),
        )
        .await;
    assert_eq!(reset.status, 204, "{reset:?}");
    assert_eq!(app.login(BOB, "An0ther!pass").await.status, 200);
    // Ada's new address, once confirmed, is her login.
    let confirm = app.confirmation_token(ADA_NEW).await;
    assert_eq!(app.confirm(&confirm).await.status, 200);
    assert_eq!(
        app.login(&ADA_NEW.to_lowercase(), PASSWORD).await.status,
        200
    );
    assert_eq!(app.login(ADA, PASSWORD).await.status, 401);
}

on_both_backends!(no_address_is_stored_in_clear_yet_lookups_work);

const KEY_1: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const KEY_2: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

fn roster(dir: &std::path::Path, key: &str, old_keys: &str) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_roster"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ROSTER_CONFIG", "")
        .env("ROSTER_DATA_DIR", dir)
        .env(
            "ROSTER_DATABASE_URL",
            format!("sqlite://{}", dir.join("roster.db").display()),
        )
        .env("ROSTER_EMAIL_ENCRYPTION_KEY", key)
        .env("ROSTER_EMAIL_ENCRYPTION_OLD_KEYS", old_keys)
        .env("ROSTER_BCRYPT_COST", "4")
        .env("ROSTER_ADMIN_PASSWORD", "R00t!password")
        .env("ROSTER_LOG", "warn")
        .stdin(std::process::Stdio::null());
    command
}

/// The operator's rotation: a new current key with the old one still read, `roster rekey`,
/// then the old key dropped.
#[test]
fn roster_rekey_moves_stored_emails_to_the_new_key() {
    let dir = std::env::temp_dir().join(format!("roster-rekey-{}", uuid::Uuid::now_v7()));
    let admin = |key: &str, email: &str, username: &str| {
        roster(&dir, key, "")
            .args(["create-admin", "--email", email, "--username", username])
            .output()
            .unwrap()
    };
    let created = admin(KEY_1, "Ottoline.Fairweather@example.org", "root");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );

    let bad = roster(&dir, KEY_2, "not-a-key")
        .arg("rekey")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("ROSTER_EMAIL_ENCRYPTION_OLD_KEYS"));

    let rekey = roster(&dir, KEY_2, KEY_1).arg("rekey").output().unwrap();
    let stderr = String::from_utf8_lossy(&rekey.stderr);
    assert!(rekey.status.success(), "{stderr}");
    assert!(stderr.contains("rewrote 1 user(s)"), "{stderr}");
    let again = roster(&dir, KEY_2, KEY_1).arg("rekey").output().unwrap();
    assert!(String::from_utf8_lossy(&again.stderr).contains("rewrote 0 user(s)"));

    // Under the new key alone the address is found: it is taken.
    let twin = admin(KEY_2, "OTTOLINE.fairweather@example.org", "twin");
    assert!(!twin.status.success());
    assert!(
        String::from_utf8_lossy(&twin.stderr).contains("email"),
        "{}",
        String::from_utf8_lossy(&twin.stderr)
    );
    // The old key alone no longer reads what was rewritten: Roster refuses to start with it,
    // naming the key the data needs.
    let stale = roster(&dir, KEY_1, "").arg("migrate").output().unwrap();
    let stderr = String::from_utf8_lossy(&stale.stderr);
    assert!(!stale.status.success());
    assert!(
        stderr.contains("ROSTER_EMAIL_ENCRYPTION_KEY")
            && stderr.contains("stored emails are encrypted under key"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
