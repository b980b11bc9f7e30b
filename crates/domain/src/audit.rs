//! Audit events: who did what to whom, when and from where.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::user::UserId;

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A user acting through the API.
    User(UserId),
    /// A trusted service through the internal API, by its key's name.
    Service(String),
    /// Roster itself (jobs, bootstrap) or an anonymous caller (registration, failed login).
    System,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(id) => write!(f, "{id}"),
            Self::Service(name) => write!(f, "service:{name}"),
            Self::System => f.write_str("system"),
        }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// An account was created (registration, admin, provisioning, bootstrap).
    UserCreated,
    /// An email address was confirmed.
    EmailConfirmed,
    /// A pending account whose confirmation expired was deleted.
    PendingUserExpired,
    /// A new confirmation mail replaced the previous one.
    ConfirmationResent,
    /// A password reset mail was sent.
    PasswordResetRequested,
    /// The password was set with a reset token; every session was revoked.
    PasswordReset,
    /// The user changed their own account (fields named in details).
    UserUpdated,
    /// The account was erased.
    UserDeleted,
    /// Successful login.
    Login,
    /// Failed login.
    LoginFailed,
    /// A user logged out of one session.
    Logout,
    /// A user logged out of every session.
    LogoutAll,
    /// A session was revoked (by its user from the sessions list, or for refresh token reuse).
    SessionRevoked,
    /// An account was deactivated (soft-deleted); its sessions were revoked.
    UserDeactivated,
    /// A deactivated account was made active again.
    UserReactivated,
    /// A role was given to a user (the role in details).
    RoleAdded,
    /// A role was taken from a user (the role in details).
    RoleRemoved,
    /// A tenant membership was added or changed (tenant and role in details).
    TenantSet,
    /// A tenant membership was removed (the tenant in details).
    TenantRemoved,
    /// A custom role was created (its name in details).
    RoleCreated,
}

impl AuditAction {
    /// Stable name, as stored and filtered on.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserCreated => "user.created",
            Self::EmailConfirmed => "user.email_confirmed",
            Self::PendingUserExpired => "user.pending_expired",
            Self::ConfirmationResent => "user.confirmation_resent",
            Self::PasswordResetRequested => "user.password_reset_requested",
            Self::PasswordReset => "user.password_reset",
            Self::UserUpdated => "user.updated",
            Self::UserDeleted => "user.deleted",
            Self::Login => "session.login",
            Self::LoginFailed => "session.login_failed",
            Self::Logout => "session.logout",
            Self::LogoutAll => "session.logout_all",
            Self::SessionRevoked => "session.revoked",
            Self::UserDeactivated => "user.deactivated",
            Self::UserReactivated => "user.reactivated",
            Self::RoleAdded => "user.role_added",
            Self::RoleRemoved => "user.role_removed",
            Self::TenantSet => "user.tenant_set",
            Self::TenantRemoved => "user.tenant_removed",
            Self::RoleCreated => "role.created",
        }
    }

    /// Every action, for validating the `action` filter of the audit log.
    pub const ALL: [Self; 20] = [
        Self::UserCreated,
        Self::EmailConfirmed,
        Self::PendingUserExpired,
        Self::ConfirmationResent,
        Self::PasswordResetRequested,
        Self::PasswordReset,
        Self::UserUpdated,
        Self::UserDeleted,
        Self::Login,
        Self::LoginFailed,
        Self::Logout,
        Self::LogoutAll,
        Self::SessionRevoked,
        Self::UserDeactivated,
        Self::UserReactivated,
        Self::RoleAdded,
        Self::RoleRemoved,
        Self::TenantSet,
        Self::TenantRemoved,
        Self::RoleCreated,
    ];

    /// The action with this stable name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == raw)
    }
}

/// The request facts worth recording: client IP and user agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// Client IP as determined by the HTTP adapter.
    pub ip: Option<String>,
    /// User agent, truncated by the HTTP adapter.
    pub user_agent: Option<String>,
}

/// One audit event. `details` never hold secrets or unmasked personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Id (UUID v7).
    pub id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: Actor,
    /// What.
    pub action: AuditAction,
    /// The user acted upon, if any.
    pub user_id: Option<UserId>,
    /// Client IP.
    pub ip: Option<String>,
    /// Extra facts, flat.
    pub details: BTreeMap<String, String>,
}

impl AuditEvent {
    /// A new event with no details.
    pub fn new(
        at: DateTime<Utc>,
        actor: Actor,
        action: AuditAction,
        user_id: Option<UserId>,
        ctx: &RequestContext,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            at,
            actor,
            action,
            user_id,
            ip: ctx.ip.clone(),
            details: BTreeMap::new(),
        }
    }

    /// Adds a detail.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }
}
