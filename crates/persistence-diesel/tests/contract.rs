#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed step must fail the test"
)]

//! The port contract, run against SQLite and PostgreSQL alike. The checks themselves live in
//! the domain (`roster_domain::contract`, feature `contract-tests`), so that every adapter,
//! ours or a consumer's, proves the same promises; this file hands them a fresh database per
//! check and adds what only this adapter has (migrations, the pool, URL schemes).

use roster_domain::InfraError;
use roster_domain::contract::{self, Store};
use roster_domain::ports::UserRepository;
use roster_domain::user::{UserId, UserStatus};
use roster_persistence_diesel::testing::TestDatabase;
use roster_persistence_diesel::{
    BackendKind, Database, DatabaseConfig, DieselAuditLog, DieselMaintenance, DieselOutbox,
    DieselSessionRepository, DieselUserAdministration, DieselUserDirectory, DieselUserRepository,
};
use std::sync::Arc;

/// Every storage port of this adapter over one fresh, migrated database.
async fn store(kind: BackendKind) -> Store {
    let db = TestDatabase::create(kind).await;
    let database = db.connect(4).await;
    Store::new(
        Arc::new(DieselUserRepository::new(database.clone())),
        Arc::new(DieselSessionRepository::new(database.clone())),
        Arc::new(DieselAuditLog::new(database.clone())),
        Arc::new(DieselOutbox::new(database.clone())),
        Arc::new(DieselMaintenance::new(database.clone())),
        Arc::new(DieselUserAdministration::new(database.clone())),
        Arc::new(DieselUserDirectory::new(database)),
    )
    .keeping(db)
}

macro_rules! contract_on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    roster_domain::contract::$name(|| super::store(roster_persistence_diesel::BackendKind::Sqlite)).await;
                }
            )*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn migrations_revert_and_reapply() {
                super::migrations_revert_and_reapply(roster_persistence_diesel::BackendKind::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn an_exhausted_pool_is_unavailable_after_the_timeout_not_a_hang() {
                super::an_exhausted_pool_is_unavailable_after_the_timeout_not_a_hang(roster_persistence_diesel::BackendKind::Sqlite).await;
            }
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    roster_domain::contract::$name(|| super::store(roster_persistence_diesel::BackendKind::Postgres)).await;
                }
            )*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn migrations_revert_and_reapply() {
                super::migrations_revert_and_reapply(roster_persistence_diesel::BackendKind::Postgres).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn an_exhausted_pool_is_unavailable_after_the_timeout_not_a_hang() {
                super::an_exhausted_pool_is_unavailable_after_the_timeout_not_a_hang(roster_persistence_diesel::BackendKind::Postgres).await;
            }
        }
    };
}

// One test per port and backend; each runs every check of that port on fresh databases.
contract_on_both_backends!(
    user_repository_contract,
    session_repository_contract,
    outbox_contract,
    maintenance_contract,
    audit_log_contract,
    user_administration_contract,
    user_directory_contract,
);

async fn migrations_revert_and_reapply(kind: BackendKind) {
    let db = TestDatabase::create(kind).await;
    let database = db.connect(4).await;
    let users = DieselUserRepository::new(database.clone());
    database.revert_all().await.unwrap();
    assert!(
        users.find_by_id(UserId::generate()).await.is_err(),
        "tables are gone"
    );
    database.migrate().await.unwrap();
    let user = contract::fixtures::new_user("ada@example.com", "ada", UserStatus::Active);
    users
        .create(user.clone(), contract::fixtures::plain(&user))
        .await
        .unwrap();
    database.ping().await.unwrap();
}

async fn an_exhausted_pool_is_unavailable_after_the_timeout_not_a_hang(kind: BackendKind) {
    let db = TestDatabase::create(kind).await;
    let database = Database::connect(
        &DatabaseConfig {
            url: db.url.clone(),
            pool_size: 1,
            timeout: std::time::Duration::from_millis(300),
        },
        db.email_keys().clone(),
    )
    .unwrap();
    let users = DieselUserRepository::new(database.clone());
    users.find_by_id(UserId::generate()).await.unwrap();
    let held = roster_persistence_diesel::testing::hold_connection(&database).await;
    let started = std::time::Instant::now();
    let err = users.find_by_id(UserId::generate()).await.unwrap_err();
    assert!(matches!(err, InfraError::Unavailable(_)), "{err:?}");
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(250),
        "waited for the timeout: {waited:?}"
    );
    drop(held);
    users
        .find_by_id(UserId::generate())
        .await
        .expect("usable again once a connection is back");
}

#[test]
fn an_unknown_url_scheme_is_an_error_not_a_sqlite_file() {
    let err = Database::connect(
        &DatabaseConfig {
            url: "mysql://root:secret@localhost/db".into(),
            pool_size: 1,
            timeout: std::time::Duration::from_secs(1),
        },
        roster_persistence_diesel::EmailKeys::random().unwrap(),
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("unsupported database URL scheme"),
        "{message}"
    );
    assert!(
        !message.contains("secret"),
        "the password is redacted: {message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_unavailable_quickly_not_a_hang() {
    let db = Database::connect(
        &DatabaseConfig {
            url: "postgres://postgres@127.0.0.1:1/nowhere".into(),
            pool_size: 1,
            timeout: std::time::Duration::from_millis(500),
        },
        roster_persistence_diesel::EmailKeys::random().unwrap(),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let users = DieselUserRepository::new(db.clone());
    let err = users.find_by_id(UserId::generate()).await.unwrap_err();
    assert!(matches!(err, InfraError::Unavailable(_)), "{err:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(matches!(db.ping().await, Err(InfraError::Unavailable(_))));
}
