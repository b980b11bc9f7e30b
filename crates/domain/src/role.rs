//! Role names and the built-in roles.

use std::fmt;

use crate::error::Violation;

/// A role name: `^[A-Z][A-Z0-9_]{1,31}$`.
///
/// ```
/// use roster_domain::role::RoleName;
///
/// let auditor = RoleName::parse("AUDITOR").unwrap();
/// assert!(!auditor.is_admin());
/// assert!(RoleName::admin().is_admin());
/// assert_eq!(RoleName::parse("auditor").unwrap_err().code, "invalid_role");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleName(String);

impl RoleName {
    /// Everything.
    pub const ADMIN: &'static str = "ADMIN";
    /// Reads all users; edits the profile fields of users who are not ADMIN.
    pub const MANAGER: &'static str = "MANAGER";
    /// No privileges beyond one's own account.
    pub const USER: &'static str = "USER";
    /// No privileges beyond one's own account.
    pub const MAINTAINER: &'static str = "MAINTAINER";
    /// No privileges beyond one's own account.
    pub const CONTRIBUTOR: &'static str = "CONTRIBUTOR";
    /// The built-in roles, present in every installation.
    pub const BUILT_IN: [&'static str; 5] = [
        Self::ADMIN,
        Self::MANAGER,
        Self::USER,
        Self::MAINTAINER,
        Self::CONTRIBUTOR,
    ];

    /// Parses a role name.
    ///
    /// # Errors
    /// `invalid_role` unless it matches `^[A-Z][A-Z0-9_]{1,31}$`.
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        let mut chars = raw.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_uppercase());
        let rest_ok = chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if first_ok && rest_ok && (2..=32).contains(&raw.len()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Violation::new(
                "invalid_role",
                "role must match ^[A-Z][A-Z0-9_]{1,31}$",
            ))
        }
    }

    /// The `ADMIN` role.
    pub fn admin() -> Self {
        Self(Self::ADMIN.to_owned())
    }

    /// The `USER` role, given to every registered user.
    pub fn user() -> Self {
        Self(Self::USER.to_owned())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is `ADMIN`.
    pub fn is_admin(&self) -> bool {
        self.0 == Self::ADMIN
    }
}

impl fmt::Debug for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn built_in_roles_are_valid_role_names() {
        for role in RoleName::BUILT_IN {
            assert!(RoleName::parse(role).is_ok());
        }
    }

    #[test]
    fn lowercase_short_or_long_names_are_rejected() {
        for bad in [
            "admin",
            "A",
            "1ADMIN",
            "AD-MIN",
            &format!("A{}", "B".repeat(32)),
        ] {
            assert!(RoleName::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn parsing_agrees_with_the_pattern(raw in "[A-Za-z0-9_-]{0,40}") {
            let expected = raw.len() >= 2 && raw.len() <= 32
                && raw.starts_with(|c: char| c.is_ascii_uppercase())
                && raw.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            prop_assert_eq!(RoleName::parse(&raw).is_ok(), expected);
        }
    }
}
