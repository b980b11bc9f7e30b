//! Usernames: `^[A-Za-z0-9_.-]{3,32}$`, unique case-insensitively.

use std::fmt;

use crate::error::Violation;

/// Shortest username.
pub const MIN_USERNAME_LEN: usize = 3;
/// Longest username.
pub const MAX_USERNAME_LEN: usize = 32;

/// A valid username, displayed as entered; its identity key is its lowercase form.
///
/// ```
/// use roster_domain::user::Username;
///
/// let name = Username::parse("Ada_L").unwrap();
/// assert_eq!((name.as_str(), name.key()), ("Ada_L", "ada_l"));
/// assert_eq!(Username::parse("ad").unwrap_err().code, "too_short");
/// assert_eq!(Username::parse("ada lovelace").unwrap_err().code, "invalid_username");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Username {
    display: String,
    key: String,
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

impl Username {
    /// Parses a username.
    ///
    /// # Errors
    /// `too_short`, `too_long` or `invalid_username` (a character outside `A-Za-z0-9_.-`).
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        if !raw.chars().all(allowed) {
            return Err(Violation::new(
                "invalid_username",
                "username may contain only ASCII letters, digits, '_', '.' and '-'",
            ));
        }
        if raw.len() < MIN_USERNAME_LEN {
            return Err(Violation::new(
                "too_short",
                "username must be at least 3 characters",
            ));
        }
        if raw.len() > MAX_USERNAME_LEN {
            return Err(Violation::new(
                "too_long",
                "username must be at most 32 characters",
            ));
        }
        Ok(Self {
            display: raw.to_owned(),
            key: raw.to_ascii_lowercase(),
        })
    }

    /// A valid username derived from arbitrary text (an email's local part): disallowed
    /// characters are dropped, short results padded, long ones cut so that a `-N` suffix fits.
    pub fn derive_base(source: &str) -> String {
        let mut base: String = source.chars().filter(|c| allowed(*c)).collect();
        base.truncate(MAX_USERNAME_LEN - 6);
        while base.len() < MIN_USERNAME_LEN {
            base.push('_');
        }
        base
    }

    /// The `n`-th candidate for a base: `ada`, `ada-2`, `ada-3`, ...
    pub fn candidate(base: &str, n: u32) -> Option<Self> {
        if n <= 1 {
            Self::parse(base).ok()
        } else {
            Self::parse(&format!("{base}-{n}")).ok()
        }
    }

    /// The username as entered.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The identity key (lowercase).
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Username").field(&self.display).finish()
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn usernames_are_case_insensitive_but_displayed_as_entered() {
        let name = Username::parse("Ada_L.ov-e").unwrap();
        assert_eq!(name.as_str(), "Ada_L.ov-e");
        assert_eq!(name.key(), "ada_l.ov-e");
    }

    #[test]
    fn a_username_with_a_space_or_non_ascii_letter_is_rejected() {
        assert_eq!(
            Username::parse("ada l").unwrap_err().code,
            "invalid_username"
        );
        assert_eq!(Username::parse("adé").unwrap_err().code, "invalid_username");
    }

    #[test]
    fn length_bounds_are_three_and_thirty_two() {
        assert_eq!(Username::parse("ab").unwrap_err().code, "too_short");
        assert!(Username::parse("abc").is_ok());
        assert!(Username::parse(&"a".repeat(32)).is_ok());
        assert_eq!(
            Username::parse(&"a".repeat(33)).unwrap_err().code,
            "too_long"
        );
    }

    #[test]
    fn a_base_derived_from_an_email_local_part_is_valid() {
        assert_eq!(Username::derive_base("ada"), "ada");
        assert_eq!(Username::derive_base("a+b"), "ab_");
        assert_eq!(Username::derive_base("用户"), "___");
        assert_eq!(Username::candidate("ada", 1).unwrap().as_str(), "ada");
        assert_eq!(Username::candidate("ada", 2).unwrap().as_str(), "ada-2");
    }

    proptest! {
        #[test]
        fn any_derived_candidate_is_a_valid_username(source in "\\PC{0,80}", n in 1u32..100_000) {
            let base = Username::derive_base(&source);
            prop_assert!(Username::candidate(&base, n).is_some());
        }

        #[test]
        fn parsing_agrees_with_the_specified_pattern(raw in "[A-Za-z0-9_.\\- é]{0,40}") {
            let matches = (3..=32).contains(&raw.len())
                && raw.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            prop_assert_eq!(Username::parse(&raw).is_ok(), matches);
        }
    }
}
