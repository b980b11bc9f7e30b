//! The user: its entity, status and validated field types.

mod email;
mod fields;
mod password;
mod username;

use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use email::{Email, MAX_EMAIL_LEN, identity_key};
pub use fields::{AvatarUrl, Name, Phone, Profile, ProfileInput};
pub use password::{
    MAX_PASSWORD_BYTES, MIN_PASSWORD_BYTES, Password, PasswordAttempt, PasswordHash,
};
pub use username::{MAX_USERNAME_LEN, MIN_USERNAME_LEN, Username};

use crate::role::RoleName;
use crate::tenant::TenantMembership;

/// A user's id: a UUID v7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(Uuid);

impl UserId {
    /// A fresh, time-ordered id.
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    /// Wraps a stored or parsed UUID.
    pub fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where an account is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserStatus {
    /// Registered; the email address is not confirmed yet. Cannot log in.
    Pending,
    /// Can log in.
    Active,
    /// Soft-deleted: cannot log in; keeps its email and username.
    Deactivated,
}

impl UserStatus {
    /// The status as stored and sent (`pending`, `active`, `deactivated`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Deactivated => "deactivated",
        }
    }

    /// Parses a stored status.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(Self::Pending),
            "active" => Some(Self::Active),
            "deactivated" => Some(Self::Deactivated),
            _ => None,
        }
    }
}

/// A user account as read back from storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Id (UUID v7).
    pub id: UserId,
    /// The id a provisioning service knows this user by.
    pub external_id: Option<String>,
    /// Email; only users created through the internal API may lack one.
    pub email: Option<Email>,
    /// Whether the current email was confirmed.
    pub email_verified: bool,
    /// Username.
    pub username: Username,
    /// Display name.
    pub name: Option<Name>,
    /// Phone.
    pub phone: Option<Phone>,
    /// Avatar URL.
    pub avatar_url: Option<AvatarUrl>,
    /// Personal profile.
    pub profile: Profile,
    /// Lifecycle status.
    pub status: UserStatus,
    /// Roles, never empty, sorted by name.
    pub roles: Vec<RoleName>,
    /// Tenant memberships.
    pub tenants: Vec<TenantMembership>,
    /// Last successful login.
    pub last_login_at: Option<DateTime<Utc>>,
    /// Number of successful logins.
    pub login_count: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When the account was deactivated, while it is.
    pub deactivated_at: Option<DateTime<Utc>>,
}

impl User {
    /// Whether the user holds `role`.
    pub fn has_role(&self, role: &RoleName) -> bool {
        self.roles.contains(role)
    }
}

/// A user to be created, fully validated.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Id to create the user with.
    pub id: UserId,
    /// External id, for provisioned users.
    pub external_id: Option<String>,
    /// Email.
    pub email: Option<Email>,
    /// Whether the email counts as confirmed.
    pub email_verified: bool,
    /// Username.
    pub username: Username,
    /// Display name.
    pub name: Option<Name>,
    /// Phone.
    pub phone: Option<Phone>,
    /// Avatar URL.
    pub avatar_url: Option<AvatarUrl>,
    /// Profile.
    pub profile: Profile,
    /// Initial status.
    pub status: UserStatus,
    /// Roles (non-empty).
    pub roles: Vec<RoleName>,
    /// Password hash; `None` for a user who must reset before logging in.
    pub password_hash: Option<PasswordHash>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}
