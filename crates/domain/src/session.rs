//! Login sessions and the claims of access tokens.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::role::RoleName;
use crate::token::TokenHash;
use crate::user::UserId;

/// A session's id (UUID v7); access tokens name it in their `sid` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(Uuid);

impl SessionId {
    /// A fresh id.
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }
    /// Wraps a UUID.
    pub fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }
    /// The UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Lifetimes that shape a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Lifetime of an access token.
    pub access_ttl: Duration,
    /// Lifetime of a refresh token.
    pub refresh_ttl: Duration,
    /// Absolute lifetime of a session from login, whatever its refreshes.
    pub max_lifetime: Duration,
}

impl SessionPolicy {
    /// When a refresh token issued at `now` for a session started at `started_at` expires:
    /// the refresh TTL, but never past the session's absolute end.
    pub fn refresh_expiry(&self, started_at: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
        (now + self.refresh_ttl).min(started_at + self.max_lifetime)
    }
}

/// A session to be created at login.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Id.
    pub id: SessionId,
    /// Owner.
    pub user_id: UserId,
    /// SHA-256 of the current refresh token.
    pub refresh_token_hash: TokenHash,
    /// Login time.
    pub created_at: DateTime<Utc>,
    /// When the current refresh token stops working.
    pub refresh_expires_at: DateTime<Utc>,
    /// When the session ends whatever happens.
    pub expires_at: DateTime<Utc>,
    /// Client IP at login.
    pub ip: Option<String>,
    /// Client user agent at login.
    pub user_agent: Option<String>,
}

/// The claims of an access token, independent of its encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    /// Subject: the user.
    pub sub: UserId,
    /// The session.
    pub sid: SessionId,
    /// Roles at issue time (informational: access is decided on current roles).
    pub roles: Vec<RoleName>,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// Unique token id.
    pub jti: Uuid,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_token_never_outlives_its_session() {
        let policy = SessionPolicy {
            access_ttl: Duration::minutes(30),
            refresh_ttl: Duration::days(7),
            max_lifetime: Duration::days(30),
        };
        let start = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(
            policy.refresh_expiry(start, start),
            start + Duration::days(7)
        );
        let late = start + Duration::days(28);
        assert_eq!(
            policy.refresh_expiry(start, late),
            start + Duration::days(30)
        );
    }
}
