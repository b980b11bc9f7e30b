//! Login sessions and the claims of access tokens.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::audit::{Actor, AuditAction, AuditEvent, RequestContext};
use crate::role::RoleName;
use crate::token::TokenHash;
use crate::user::{UserId, UserStatus};

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
///
/// ```
/// use chrono::{Duration, Utc};
/// use roster_domain::session::SessionPolicy;
///
/// let policy = SessionPolicy {
///     access_ttl: Duration::minutes(15),
///     refresh_ttl: Duration::days(7),
///     max_lifetime: Duration::days(30),
/// };
/// let login = Utc::now();
/// assert_eq!(policy.refresh_expiry(login, login), login + Duration::days(7));
/// // A refresh near the end of the session never outlives it.
/// let late = login + Duration::days(28);
/// assert_eq!(policy.refresh_expiry(login, late), login + Duration::days(30));
/// ```
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

/// Why a session was revoked, as stored in `revoke_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    /// The user logged out of this session.
    Logout,
    /// The user logged out of every session.
    LogoutAll,
    /// The user revoked this session from the sessions list.
    RevokedByUser,
    /// A rotated refresh token of the session was presented again.
    TokenReused,
}

impl RevokeReason {
    /// Stable name, as stored and written into audit details.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::LogoutAll => "logout_all",
            Self::RevokedByUser => "revoked_by_user",
            Self::TokenReused => "token_reused",
        }
    }
}

/// A presented refresh token as stored, with its session and the session's user; read inside
/// the transaction that may rotate it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedRefreshToken {
    /// The session the token belongs to.
    pub session_id: SessionId,
    /// The session's user.
    pub user_id: UserId,
    /// When the token stops working.
    pub token_expires_at: DateTime<Utc>,
    /// Whether the token was already rotated (presented before).
    pub used: bool,
    /// The session's absolute end.
    pub session_expires_at: DateTime<Utc>,
    /// Whether the session was revoked.
    pub session_revoked: bool,
    /// The user's status now.
    pub user_status: UserStatus,
}

/// What presenting a refresh token does, decided by [`decide_refresh`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshDecision {
    /// Mark the token used, issue its successor valid until `next_expires_at`, and record
    /// the session as used now.
    Rotate {
        /// Expiry of the new refresh token.
        next_expires_at: DateTime<Utc>,
    },
    /// The token was rotated before: someone replays it. Revoke the whole session (with
    /// [`RevokeReason::TokenReused`]) and record `audit`.
    RevokeForReuse {
        /// The audit event of the revocation.
        audit: Box<AuditEvent>,
    },
    /// Expired token, ended or revoked session, or inactive user: change nothing, refuse.
    Refuse,
}

/// The rule for a presented refresh token. Adapters call it inside the transaction that
/// reads the token, so the decision and its effect are atomic. An adapter whose conditional
/// "mark used" finds the token already used (a concurrent call won) MUST apply
/// [`reuse_decision`] instead: a token is never rotated twice.
///
/// ```
/// use chrono::{Duration, Utc};
/// use roster_domain::audit::RequestContext;
/// use roster_domain::session::{PresentedRefreshToken, RefreshDecision, SessionId, decide_refresh};
/// use roster_domain::user::{UserId, UserStatus};
///
/// let now = Utc::now();
/// let mut token = PresentedRefreshToken {
///     session_id: SessionId::generate(),
///     user_id: UserId::generate(),
///     token_expires_at: now + Duration::days(7),
///     used: false,
///     session_expires_at: now + Duration::days(30),
///     session_revoked: false,
///     user_status: UserStatus::Active,
/// };
/// let ctx = RequestContext::default();
/// assert_eq!(
///     decide_refresh(&token, now, Duration::days(7), &ctx),
///     RefreshDecision::Rotate { next_expires_at: now + Duration::days(7) }
/// );
/// // Presented again after its rotation: someone replays it, so the session goes.
/// token.used = true;
/// assert!(matches!(
///     decide_refresh(&token, now, Duration::days(7), &ctx),
///     RefreshDecision::RevokeForReuse { .. }
/// ));
/// ```
pub fn decide_refresh(
    found: &PresentedRefreshToken,
    now: DateTime<Utc>,
    refresh_ttl: Duration,
    ctx: &RequestContext,
) -> RefreshDecision {
    if found.used {
        return reuse_decision(found, now, ctx);
    }
    let live = !found.session_revoked
        && now < found.session_expires_at
        && now < found.token_expires_at
        && found.user_status == UserStatus::Active;
    if live {
        RefreshDecision::Rotate {
            next_expires_at: (now + refresh_ttl).min(found.session_expires_at),
        }
    } else {
        RefreshDecision::Refuse
    }
}

/// The decision for a replayed (already rotated) refresh token: revoke its session.
pub fn reuse_decision(
    found: &PresentedRefreshToken,
    now: DateTime<Utc>,
    ctx: &RequestContext,
) -> RefreshDecision {
    let audit = AuditEvent::new(
        now,
        Actor::System,
        AuditAction::SessionRevoked,
        Some(found.user_id),
        ctx,
    )
    .with("session_id", found.session_id.to_string())
    .with("reason", RevokeReason::TokenReused.as_str());
    RefreshDecision::RevokeForReuse {
        audit: Box::new(audit),
    }
}

/// A live session as its owner sees it in the sessions list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Id.
    pub id: SessionId,
    /// Login time.
    pub created_at: DateTime<Utc>,
    /// Last login or refresh.
    pub last_used_at: DateTime<Utc>,
    /// Client IP at login.
    pub ip: Option<String>,
    /// Client user agent at login.
    pub user_agent: Option<String>,
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

    fn presented(now: DateTime<Utc>) -> PresentedRefreshToken {
        PresentedRefreshToken {
            session_id: SessionId::generate(),
            user_id: UserId::generate(),
            token_expires_at: now + Duration::days(7),
            used: false,
            session_expires_at: now + Duration::days(30),
            session_revoked: false,
            user_status: UserStatus::Active,
        }
    }

    #[test]
    fn a_fresh_refresh_token_rotates_and_its_successor_never_outlives_the_session() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let ctx = RequestContext::default();
        let found = presented(now);
        assert_eq!(
            decide_refresh(&found, now, Duration::days(7), &ctx),
            RefreshDecision::Rotate {
                next_expires_at: now + Duration::days(7)
            }
        );
        let mut recent = found.clone();
        recent.token_expires_at = now + Duration::days(26);
        let late = now + Duration::days(25);
        assert_eq!(
            decide_refresh(&recent, late, Duration::days(7), &ctx),
            RefreshDecision::Rotate {
                next_expires_at: now + Duration::days(30)
            }
        );
    }

    #[test]
    fn a_used_refresh_token_revokes_its_session_even_when_expired() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let mut found = presented(now);
        found.used = true;
        found.token_expires_at = now;
        let decision = decide_refresh(&found, now, Duration::days(7), &RequestContext::default());
        let RefreshDecision::RevokeForReuse { audit } = decision else {
            panic!("expected a revocation, got {decision:?}");
        };
        assert_eq!(audit.action, AuditAction::SessionRevoked);
        assert_eq!(audit.user_id, Some(found.user_id));
        assert_eq!(audit.details["reason"], "token_reused");
    }

    #[test]
    fn expired_tokens_ended_or_revoked_sessions_and_inactive_users_are_refused() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let ctx = RequestContext::default();
        let ttl = Duration::days(7);
        let mut expired = presented(now);
        expired.token_expires_at = now;
        let mut ended = presented(now);
        ended.session_expires_at = now;
        let mut revoked = presented(now);
        revoked.session_revoked = true;
        let mut deactivated = presented(now);
        deactivated.user_status = UserStatus::Deactivated;
        for found in [expired, ended, revoked, deactivated] {
            assert_eq!(
                decide_refresh(&found, now, ttl, &ctx),
                RefreshDecision::Refuse,
                "{found:?}"
            );
        }
    }
}
