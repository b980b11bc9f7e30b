//! The connection pools, one per backend, chosen by the URL's scheme.

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::{Connection as _, SqliteConnection};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;
use roster_domain::InfraError;

use crate::error::DbError;

pub(crate) type SqliteConn = SyncConnectionWrapper<SqliteConnection>;
pub(crate) type PgConn = AsyncPgConnection;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// How long SQLite waits for a competing writer before giving up (milliseconds).
const SQLITE_BUSY_TIMEOUT_MS: u64 = 5_000;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `sqlite://PATH`, `postgres://...` or `postgresql://...`.
    pub url: String,
    /// Connections in the pool.
    pub pool_size: usize,
    /// How long a request waits for a connection before it is answered "unavailable".
    pub timeout: Duration,
}

/// Why the database could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The URL's scheme is neither SQLite nor PostgreSQL.
    #[error(
        "unsupported database URL scheme in {0:?}: expected sqlite://, postgres:// or postgresql://"
    )]
    UnknownScheme(String),
    /// The pool could not be built.
    #[error("could not build the connection pool: {0}")]
    Pool(String),
    /// The SQLite file's folder could not be created.
    #[error("could not create {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Migrations failed.
    #[error("migrations failed: {0}")]
    Migration(String),
}

/// Which way migrations go.
#[derive(Debug, Clone, Copy)]
enum Direction {
    Up,
    RevertAll,
}

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

#[derive(Clone)]
pub(crate) enum Backend {
    Sqlite(Pool<SqliteConn>),
    Postgres(Pool<PgConn>),
}

/// A pooled database, shared by every repository. Cheap to clone.
#[derive(Clone)]
pub struct Database {
    pub(crate) backend: Backend,
    url: String,
    /// The multi-threaded runtime the database was opened on, where every query runs.
    runtime: Option<tokio::runtime::Handle>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.kind())
            .finish_non_exhaustive()
    }
}

/// The SQLite file path of a `sqlite://` URL.
fn sqlite_path(url: &str) -> Option<&str> {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
}

fn sqlite_setup(path: String) -> ManagerConfig<SqliteConn> {
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(move |_url| {
        let path = path.clone();
        async move {
            let mut conn = SqliteConn::establish(&path).await?;
            conn.batch_execute(&format!(
                // busy_timeout first: switching to WAL needs a lock that a writer on another
                // connection may hold, and only a set busy timeout makes this wait for it.
                "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA foreign_keys = ON; \
                 PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
            ))
            .await
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    config
}

impl Database {
    /// Builds the pool for `config.url`. Connections are opened lazily; a database that is
    /// down now is not an error here (see [`Database::ping`]).
    ///
    /// # Errors
    /// [`SetupError`] for an unknown scheme or a pool that cannot be built.
    pub fn connect(config: &DatabaseConfig) -> Result<Self, SetupError> {
        let url = config.url.clone();
        let backend = if let Some(path) = sqlite_path(&url) {
            if let Some(parent) = Path::new(path)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent).map_err(|source| SetupError::Folder {
                    path: parent.to_owned(),
                    source,
                })?;
            }
            let manager = AsyncDieselConnectionManager::<SqliteConn>::new_with_config(
                path,
                sqlite_setup(path.to_owned()),
            );
            Backend::Sqlite(
                Pool::builder(manager)
                    .max_size(config.pool_size)
                    .wait_timeout(Some(config.timeout))
                    .create_timeout(Some(config.timeout))
                    .runtime(deadpool::Runtime::Tokio1)
                    .build()
                    .map_err(|e| SetupError::Pool(e.to_string()))?,
            )
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut manager_config = ManagerConfig::<PgConn>::default();
            // A closed connection is detected by the connection itself (`is_broken`), so the
            // cheap check suffices and saves a round trip per checkout.
            manager_config.recycling_method = RecyclingMethod::Fast;
            let manager = AsyncDieselConnectionManager::<PgConn>::new_with_config(
                url.clone(),
                manager_config,
            );
            Backend::Postgres(
                Pool::builder(manager)
                    .max_size(config.pool_size)
                    .wait_timeout(Some(config.timeout))
                    .create_timeout(Some(config.timeout))
                    .recycle_timeout(Some(config.timeout))
                    .runtime(deadpool::Runtime::Tokio1)
                    .build()
                    .map_err(|e| SetupError::Pool(e.to_string()))?,
            )
        } else {
            return Err(SetupError::UnknownScheme(redact_url(&url)));
        };
        // Queries run as tasks of this (multi-threaded) runtime, never inside the caller's
        // future: a caller that is dropped half way (a client gone, an extractor failed) then
        // cannot cut a query or a transaction short, and diesel-async's SQLite wrapper (which
        // must block to finish a cancelled query, impossible on actix's single-threaded
        // workers) is never cancelled at all. PostgreSQL connections are opened and driven here
        // too, not on whichever HTTP worker asked first.
        let runtime = tokio::runtime::Handle::try_current()
            .ok()
            .filter(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        Ok(Self {
            backend,
            url,
            runtime,
        })
    }

    /// Runs `work` to completion as a task of the database's runtime, whatever becomes of
    /// the caller. Every port call goes through here.
    pub(crate) fn spawn<F>(&self, work: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.runtime {
            Some(runtime) => runtime.spawn(work),
            None => tokio::spawn(work),
        }
    }

    /// Which backend this is.
    pub fn kind(&self) -> BackendKind {
        match self.backend {
            Backend::Sqlite(_) => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// Runs pending migrations (embedded in the binary). Safe to call at every start.
    ///
    /// # Errors
    /// [`SetupError::Migration`] when the database is unreachable or a migration fails.
    pub async fn migrate(&self) -> Result<(), SetupError> {
        self.run_migrations(Direction::Up).await
    }

    /// Reverts every migration (for tests of the down migrations).
    ///
    /// # Errors
    /// [`SetupError::Migration`] when a down migration fails.
    pub async fn revert_all(&self) -> Result<(), SetupError> {
        self.run_migrations(Direction::RevertAll).await
    }

    /// Migrates with a synchronous connection of this backend, on the blocking pool (the
    /// migration harness is synchronous).
    async fn run_migrations(&self, direction: Direction) -> Result<(), SetupError> {
        fn apply<DB: diesel::backend::Backend>(
            harness: &mut impl MigrationHarness<DB>,
            migrations: EmbeddedMigrations,
            direction: Direction,
        ) -> Result<(), String> {
            match direction {
                Direction::Up => harness.run_pending_migrations(migrations).map(|_| ()),
                Direction::RevertAll => harness.revert_all_migrations(migrations).map(|_| ()),
            }
            .map_err(|e| e.to_string())
        }
        let url = self.url.clone();
        let kind = self.kind();
        let outcome = tokio::task::spawn_blocking(move || -> Result<(), String> {
            match kind {
                BackendKind::Sqlite => {
                    let path = sqlite_path(&url).unwrap_or(&url);
                    let mut conn = SqliteConnection::establish(path).map_err(|e| e.to_string())?;
                    diesel::connection::SimpleConnection::batch_execute(
                        &mut conn,
                        &format!(
                            "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; \
                             PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL;"
                        ),
                    )
                    .map_err(|e| e.to_string())?;
                    apply(&mut conn, SQLITE_MIGRATIONS, direction)
                }
                BackendKind::Postgres => {
                    let mut conn =
                        <AsyncConnectionWrapper<PgConn> as diesel::Connection>::establish(&url)
                            .map_err(|e| e.to_string())?;
                    apply(&mut conn, POSTGRES_MIGRATIONS, direction)
                }
            }
        })
        .await
        .map_err(|e| SetupError::Migration(e.to_string()))?;
        outcome.map_err(SetupError::Migration)
    }

    /// Whether the database answers a trivial query now.
    ///
    /// # Errors
    /// [`InfraError::Unavailable`] when it does not.
    pub async fn ping(&self) -> Result<(), InfraError> {
        let this = self.clone();
        let result = self
            .spawn(async move { this.ping_inner().await })
            .await
            .map_err(InfraError::unavailable)?;
        result.map_err(|e| match InfraError::from(e) {
            InfraError::Unexpected(e) => InfraError::Unavailable(e),
            other => other,
        })
    }

    async fn ping_inner(&self) -> Result<(), DbError> {
        use diesel_async::RunQueryDsl;
        crate::with_conn!(self, conn => {
            diesel::sql_query("SELECT 1").execute(conn).await.map(|_| ()).map_err(DbError::from)
        })
    }

    /// The stored lookup value of an email identity key; the encryption work turns it into a
    /// keyed blind index.
    pub fn email_index(&self, key: &str) -> String {
        key.to_owned()
    }

    /// Pool statistics: (connections open, connections idle, maximum).
    pub fn pool_status(&self) -> (usize, usize, usize) {
        let status = match &self.backend {
            Backend::Sqlite(pool) => pool.status(),
            Backend::Postgres(pool) => pool.status(),
        };
        (status.size, status.available, status.max_size)
    }
}

/// A URL with any password replaced, fit for error messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Runs `$body` with `$conn` bound to a pooled connection of whichever backend is in use.
/// The body is expanded once per backend, so each copy is type-checked against its backend.
#[macro_export]
#[doc(hidden)]
macro_rules! with_conn {
    ($db:expr, $conn:ident => $body:expr) => {
        match &$db.backend {
            $crate::db::Backend::Sqlite(pool) => {
                let mut pooled = pool.get().await.map_err($crate::error::DbError::from)?;
                let $conn: &mut $crate::db::SqliteConn = &mut pooled;
                $body
            }
            $crate::db::Backend::Postgres(pool) => {
                let mut pooled = pool.get().await.map_err($crate::error::DbError::from)?;
                let $conn: &mut $crate::db::PgConn = &mut pooled;
                $body
            }
        }
    };
}

/// Runs `$body` inside one transaction, `BEGIN IMMEDIATE` on SQLite (so concurrent writers
/// queue on the busy timeout instead of failing on lock upgrade), a plain transaction on
/// PostgreSQL. The body returns `Result<_, DbError>`; an `Err` rolls back.
#[macro_export]
#[doc(hidden)]
macro_rules! in_transaction {
    ($db:expr, $conn:ident => $body:expr) => {
        match &$db.backend {
            $crate::db::Backend::Sqlite(pool) => {
                let mut pooled = pool.get().await.map_err($crate::error::DbError::from)?;
                let conn: &mut $crate::db::SqliteConn = &mut pooled;
                conn.immediate_transaction(async |$conn: &mut $crate::db::SqliteConn| $body)
                    .await
            }
            $crate::db::Backend::Postgres(pool) => {
                let mut pooled = pool.get().await.map_err($crate::error::DbError::from)?;
                let conn: &mut $crate::db::PgConn = &mut pooled;
                diesel_async::AsyncConnection::transaction(
                    conn,
                    async |$conn: &mut $crate::db::PgConn| $body,
                )
                .await
            }
        }
    };
}
