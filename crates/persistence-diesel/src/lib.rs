//! # roster-persistence-diesel
//!
//! The persistence adapter of Roster's hexagon: implements the domain's storage ports
//! ([`roster_domain::ports::UserRepository`], `SessionRepository`, `AuditLog`, `Outbox`) with
//! diesel and diesel-async over **SQLite** (embedded default, through `SyncConnectionWrapper`)
//! and **PostgreSQL** (`AsyncPgConnection`), each behind a deadpool pool, chosen by the URL's
//! scheme. An unknown scheme is an error, never a silent SQLite file.
//!
//! Invariants:
//! * One portable [`schema`]; each query body is written once and expanded per backend by the
//!   crate's `with_conn!`/`in_transaction!` macros, so every copy is type-checked against its
//!   real backend.
//! * Every port call that changes state is one transaction (SQLite: `BEGIN IMMEDIATE`), and is
//!   run detached from the caller's future, so a dropped request cannot cut it short.
//! * Infrastructure errors become [`roster_domain::InfraError`] here: an exhausted pool or an
//!   unreachable database is `Unavailable` (HTTP 503), never a hang.
//! * Email addresses are stored encrypted (AEAD) and found through a keyed blind index
//!   ([`vault`]): no column holds a readable address, and every email lookup and uniqueness
//!   check goes through [`Database::email_index`] / [`Database::email_indexes`].
//! * Migrations are embedded (`migrations/sqlite`, `migrations/postgres`, same versions).

mod admin;
pub mod db;
mod error;
mod listing;
mod maintenance;
mod models;
mod outbox;
mod rekey;
pub mod schema;
mod sessions;
#[cfg(feature = "testing")]
pub mod testing;
pub mod types;
mod users;
pub mod vault;

pub use admin::DieselUserAdministration;
pub use db::{BackendKind, Database, DatabaseConfig, SetupError, redact_url};
pub use listing::DieselUserDirectory;
pub use maintenance::DieselMaintenance;
pub use outbox::DieselOutbox;
pub use rekey::RekeyReport;
pub use sessions::{DieselAuditLog, DieselSessionRepository};
pub use users::DieselUserRepository;
pub use vault::{EmailKeys, KeyError};
