//! Throwaway databases for tests (feature `testing`): a fresh SQLite file, or a fresh
//! PostgreSQL database on the server named by `ROSTER_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Each is dropped when its guard is.

use std::path::PathBuf;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::{BackendKind, Database, DatabaseConfig, EmailKeys};

/// The PostgreSQL server tests use.
pub fn postgres_admin_url() -> String {
    std::env::var("ROSTER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `url` with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let prefix = base.rsplit_once('/').map_or(base, |(p, _)| p);
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDatabase {
    /// Its URL.
    pub url: String,
    /// Its backend.
    pub kind: BackendKind,
    name: String,
    dir: Option<PathBuf>,
    keys: EmailKeys,
    master_key: Vec<u8>,
}

impl TestDatabase {
    /// A fresh database of the given kind, migrated.
    ///
    /// # Panics
    /// When the database cannot be created: tests must fail loudly, never skip.
    #[expect(
        clippy::panic,
        reason = "test helper: a missing database must fail the test"
    )]
    pub async fn create(kind: BackendKind) -> Self {
        let name = format!("roster_test_{}", uuid::Uuid::now_v7().simple());
        let master_key = EmailKeys::random_master_key();
        let keys =
            EmailKeys::new(&master_key, &[]).unwrap_or_else(|e| panic!("test email key: {e}"));
        let db = match kind {
            BackendKind::Sqlite => {
                let dir = std::env::temp_dir().join(&name);
                let url = format!("sqlite://{}", dir.join("roster.db").display());
                Self {
                    url,
                    kind,
                    name,
                    dir: Some(dir),
                    keys,
                    master_key: master_key.clone(),
                }
            }
            BackendKind::Postgres => {
                let admin = postgres_admin_url();
                let mut conn = AsyncPgConnection::establish(&admin)
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "PostgreSQL for tests at {} is not reachable: {e}",
                            crate::redact_url(&admin)
                        )
                    });
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
                Self {
                    url: with_database(&admin, &name),
                    kind,
                    name,
                    dir: None,
                    keys,
                    master_key: master_key.clone(),
                }
            }
        };
        let database = db.connect(2).await;
        if let Err(e) = database.migrate().await {
            panic!("migrating {}: {e}", db.name);
        }
        db
    }

    /// A pool over this database, with this test database's email key (random, made once
    /// per test database).
    pub async fn connect(&self, pool_size: usize) -> Database {
        self.connect_with(pool_size, self.keys.clone()).await
    }

    /// A pool over this database with the given email keys (rotation tests).
    ///
    /// # Panics
    /// When the pool cannot be built.
    #[expect(clippy::panic, reason = "test helper")]
    pub async fn connect_with(&self, pool_size: usize, keys: EmailKeys) -> Database {
        Database::connect(
            &DatabaseConfig {
                url: self.url.clone(),
                pool_size,
                timeout: Duration::from_secs(5),
            },
            keys,
        )
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.name))
    }

    /// The email keys [`TestDatabase::connect`] uses.
    pub fn email_keys(&self) -> &EmailKeys {
        &self.keys
    }

    /// The master email key of this database in base64, as `ROSTER_EMAIL_ENCRYPTION_KEY`
    /// takes it: every app started over this database reads what the others wrote.
    pub fn email_key_base64(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&self.master_key)
    }
}

/// A pooled connection taken out of a pool and held, to exhaust it in tests. Dropping it
/// returns the connection.
pub struct HeldConnection {
    _held: Box<dyn std::any::Any + Send>,
}

/// Takes one connection from `db`'s pool and keeps it until the guard is dropped.
///
/// # Panics
/// When no connection can be had.
#[expect(clippy::panic, reason = "test helper")]
pub async fn hold_connection(db: &Database) -> HeldConnection {
    let held: Result<Box<dyn std::any::Any + Send>, String> = match &db.backend {
        crate::db::Backend::Sqlite(pool) => match pool.get().await {
            Ok(conn) => Ok(Box::new(conn)),
            Err(e) => Err(e.to_string()),
        },
        crate::db::Backend::Postgres(pool) => match pool.get().await {
            Ok(conn) => Ok(Box::new(conn)),
            Err(e) => Err(e.to_string()),
        },
    };
    match held {
        Ok(held) => HeldConnection { _held: held },
        Err(e) => panic!("cannot take a connection: {e}"),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match self.kind {
            BackendKind::Sqlite => {
                if let Some(dir) = &self.dir {
                    let _ = std::fs::remove_dir_all(dir);
                }
            }
            BackendKind::Postgres => {
                let name = self.name.clone();
                // Drop may run inside a runtime: do the async work on a thread of its own.
                let handle = std::thread::spawn(move || {
                    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    runtime.block_on(async move {
                        if let Ok(mut conn) =
                            AsyncPgConnection::establish(&postgres_admin_url()).await
                        {
                            let _ = diesel::sql_query(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .execute(&mut conn)
                            .await;
                        }
                    });
                });
                let _ = handle.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_swapped_in_a_url() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
