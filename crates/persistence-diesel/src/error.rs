//! Translation of diesel and pool errors into the domain's terms, at the boundary.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::deadpool::PoolError;
use roster_domain::InfraError;

/// An error inside this adapter, before translation.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    #[error("no database connection available")]
    Pool(#[from] PoolError),
    #[error(transparent)]
    Query(#[from] DieselError),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The address is held by a row still indexed under a previous key (during a rotation).
    #[error("email taken (under a previous key)")]
    EmailTakenUnderOtherKey,
}

impl From<crate::vault::VaultError> for DbError {
    fn from(error: crate::vault::VaultError) -> Self {
        // The message names what failed, never the value.
        DbError::Corrupt(format!("encrypted email field: {error}"))
    }
}

/// Which unique constraint a violation broke, when it is one of the users table's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UniqueClash {
    Email,
    Username,
    ExternalId,
    Other,
}

impl DbError {
    /// The clash a unique violation reports. PostgreSQL names the index; SQLite names the
    /// column in its message. Both name columns that end with the keys below.
    pub(crate) fn unique_clash(&self) -> Option<UniqueClash> {
        if matches!(self, DbError::EmailTakenUnderOtherKey) {
            return Some(UniqueClash::Email);
        }
        let DbError::Query(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)) =
            self
        else {
            return None;
        };
        let text = format!(
            "{} {}",
            info.constraint_name().unwrap_or_default(),
            info.message()
        );
        Some(if text.contains("email_key") {
            UniqueClash::Email
        } else if text.contains("username_key") {
            UniqueClash::Username
        } else if text.contains("external_id") {
            UniqueClash::ExternalId
        } else {
            UniqueClash::Other
        })
    }
}

fn is_unavailable(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(kind, info) => {
            matches!(kind, DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand)
                // SQLite under write contention past busy_timeout.
                || info.message().contains("database is locked")
        }
        _ => false,
    }
}

impl From<DbError> for InfraError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Pool(e) => InfraError::unavailable(e),
            DbError::Query(e) if is_unavailable(&e) => InfraError::unavailable(e),
            other => InfraError::unexpected(other),
        }
    }
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(what.to_string())
}
