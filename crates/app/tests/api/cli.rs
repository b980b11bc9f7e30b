//! The `roster` binary itself: bad settings, `migrate`, `create-admin`, and a graceful stop.

use std::process::{Command, Stdio};
use std::time::Duration;

use roster_persistence_diesel::BackendKind;
use roster_persistence_diesel::testing::TestDatabase;

fn roster(data_dir: &std::path::Path, db_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ROSTER_CONFIG", "")
        .env("ROSTER_DATA_DIR", data_dir)
        .env("ROSTER_DATABASE_URL", db_url)
        .env("ROSTER_BCRYPT_COST", "4")
        .env("ROSTER_LOG", "warn")
        .stdin(Stdio::null());
    command
}

fn temp_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("roster-cli-{}", uuid::Uuid::now_v7()))
}

#[test]
fn a_bad_setting_stops_the_start_naming_the_variable() {
    let dir = temp_dir();
    let output = roster(&dir, "sqlite://x.db")
        .env("ROSTER_ACCESS_TOKEN_TTL", "soon")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ROSTER_ACCESS_TOKEN_TTL"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one clear line: {stderr}");
    let unknown = roster(&dir, "mysql://root@localhost/x")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("ROSTER_DATABASE_URL"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_then_create_admin_then_serve_and_stop_gracefully_on_sigterm() {
    let db = TestDatabase::create(BackendKind::Postgres).await;
    let dir = temp_dir();
    let migrate = roster(&dir, &db.url).arg("migrate").output().unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );

    let admin = roster(&dir, &db.url)
        .args([
            "create-admin",
            "--email",
            "root@example.com",
            "--username",
            "root",
        ])
        .env("ROSTER_ADMIN_PASSWORD", "R00t!password")
        .output()
        .unwrap();
    assert!(
        admin.status.success(),
        "{}",
        String::from_utf8_lossy(&admin.stderr)
    );
    let weak = roster(&dir, &db.url)
        .args(["create-admin", "--email", "other@example.com"])
        .env("ROSTER_ADMIN_PASSWORD", "weak")
        .output()
        .unwrap();
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password"));

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = roster(&dir, &db.url)
        .arg("serve")
        .env("ROSTER_BIND", format!("127.0.0.1:{port}"))
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..100 {
        if client.get(format!("{base}/health")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the server came up");
    let login = client
        .post(format!("{base}/api/auth/login"))
        .json(&serde_json::json!({"login": "root", "password": "R00t!password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200, "the created admin logs in");

    let kill = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let mut exited = None;
    for _ in 0..200 {
        if let Some(status) = server.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = exited.unwrap_or_else(|| {
        let _ = server.kill();
        panic!("roster did not stop within 10 s of SIGTERM")
    });
    assert!(status.success(), "exit status {status:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn cleanup_runs_once_and_says_what_it_deleted() {
    let dir = temp_dir();
    let url = format!("sqlite://{}", dir.join("roster.db").display());
    let output = roster(&dir, &url).arg("cleanup").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "cleanup: deleted 0 pending account(s), 0 expired token(s), 0 dead session(s)"
        ),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
