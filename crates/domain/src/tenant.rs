//! Tenant memberships: a user belongs to tenants, each with a role, exactly one main.

use chrono::{DateTime, Utc};

use crate::error::Violation;
use crate::role::RoleName;

/// A tenant's id as the integrating product names it: 1 to 64 characters of
/// `A-Za-z0-9_.:-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// Parses a tenant id.
    ///
    /// # Errors
    /// `invalid_tenant_id` for an empty, too long or oddly spelled id.
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Violation::new(
                "invalid_tenant_id",
                "tenant_id must be 1 to 64 of A-Za-z0-9_.:-",
            ))
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user's membership of one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantMembership {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The user's role in it.
    pub role: RoleName,
    /// Whether this is the user's main tenant (exactly one is, when there are any).
    pub main: bool,
    /// When the membership began.
    pub created_at: DateTime<Utc>,
}
