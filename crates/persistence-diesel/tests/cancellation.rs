//! A caller that is dropped half way (a client that went away, an extractor that failed
//! first) must neither break the pool nor panic: actix runs handlers on single-threaded
//! runtimes, where diesel-async's SQLite wrapper cannot finish a cancelled query.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use std::time::Duration;

use roster_domain::ports::UserRepository;
use roster_domain::user::UserId;
use roster_persistence_diesel::testing::TestDatabase;
use roster_persistence_diesel::{BackendKind, Database, DatabaseConfig, DieselUserRepository};

fn dropped_callers_leave_the_pool_usable(kind: BackendKind) {
    // Opened on a multi-threaded runtime, as `roster serve` does...
    let main = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (guard, users) = main.block_on(async {
        let db = TestDatabase::create(kind).await;
        let database = Database::connect(
            &DatabaseConfig {
                url: db.url.clone(),
                pool_size: 1,
                timeout: Duration::from_secs(5),
            },
            db.email_keys().clone(),
        )
        .unwrap();
        (db, DieselUserRepository::new(database))
    });
    // ...and called from a single-threaded runtime, as an actix worker does.
    let worker = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    worker.block_on(async {
        for round in 0..200_u64 {
            let early = Duration::from_micros(10 + round % 7 * 40);
            let _ = tokio::time::timeout(early, users.find_by_id(UserId::generate())).await;
            users.find_by_id(UserId::generate()).await.unwrap();
        }
    });
    drop(worker);
    main.block_on(async move { drop(guard) });
}

#[test]
fn sqlite_dropped_callers_leave_the_pool_usable() {
    dropped_callers_leave_the_pool_usable(BackendKind::Sqlite);
}

#[test]
fn postgres_dropped_callers_leave_the_pool_usable() {
    dropped_callers_leave_the_pool_usable(BackendKind::Postgres);
}
