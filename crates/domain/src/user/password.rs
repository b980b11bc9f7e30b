//! Passwords: the policy for new passwords, and redacted wrappers for plaintext.

use std::fmt;

use crate::error::Violation;

/// Fewest bytes in a password.
pub const MIN_PASSWORD_BYTES: usize = 8;
/// Most bytes in a password: bcrypt's limit. Longer passwords are refused, never truncated.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// A plaintext password that satisfies the policy. Its `Debug` is redacted and it is never
/// serialisable, so it cannot reach a log or a response.
///
/// ```
/// use roster_domain::user::Password;
///
/// let password = Password::parse("Correct-Horse-42", &["ada@example.com", "ada"]).unwrap();
/// assert!(!format!("{password:?}").contains("Horse"));
///
/// // Every broken rule is reported, not just the first.
/// let broken = Password::parse("ada", &["ada"]).unwrap_err();
/// let codes: Vec<_> = broken.iter().map(|v| v.code).collect();
/// assert!(codes.contains(&"too_short"));
/// assert!(codes.contains(&"missing_digit"));
/// assert!(codes.contains(&"same_as_identity"));
/// ```
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Checks a new password against every rule and reports each broken one.
    ///
    /// `identities` are strings the password must not equal (the account's email and
    /// username), compared case-insensitively.
    ///
    /// # Errors
    /// One [`Violation`] per broken rule: `too_short`, `too_long`, `missing_lowercase`,
    /// `missing_uppercase`, `missing_digit`, `missing_symbol`, `same_as_identity`.
    pub fn parse(raw: &str, identities: &[&str]) -> Result<Self, Vec<Violation>> {
        let mut broken = Vec::new();
        if raw.len() < MIN_PASSWORD_BYTES {
            broken.push(Violation::new(
                "too_short",
                "password must be at least 8 bytes",
            ));
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            broken.push(Violation::new(
                "too_long",
                "password must be at most 72 bytes",
            ));
        }
        if !raw.chars().any(char::is_lowercase) {
            broken.push(Violation::new(
                "missing_lowercase",
                "password needs a lowercase letter",
            ));
        }
        if !raw.chars().any(char::is_uppercase) {
            broken.push(Violation::new(
                "missing_uppercase",
                "password needs an uppercase letter",
            ));
        }
        if !raw.chars().any(|c| c.is_ascii_digit()) {
            broken.push(Violation::new("missing_digit", "password needs a digit"));
        }
        if !raw.chars().any(|c| !c.is_alphanumeric()) {
            broken.push(Violation::new(
                "missing_symbol",
                "password needs a character that is neither a letter nor a digit",
            ));
        }
        let lowered = raw.to_lowercase();
        if identities
            .iter()
            .any(|identity| identity.trim().to_lowercase() == lowered)
        {
            broken.push(Violation::new(
                "same_as_identity",
                "password must not equal the email or username",
            ));
        }
        if broken.is_empty() {
            Ok(Self(raw.to_owned()))
        } else {
            Err(broken)
        }
    }

    /// The plaintext, for the hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A password as typed at login: any string, checked only against a stored hash.
#[derive(Clone)]
pub struct PasswordAttempt(String);

impl PasswordAttempt {
    /// Wraps what the client sent.
    pub fn new(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// The plaintext, for the hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordAttempt(<redacted>)")
    }
}

/// A stored password hash in its scheme's own encoding (`$2b$12$...`). Redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps an encoded hash produced by a [`crate::ports::PasswordHasher`] or read back
    /// from storage.
    pub fn new(encoded: impl Into<String>) -> Self {
        Self(encoded.into())
    }

    /// The encoded hash.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn codes(raw: &str, identities: &[&str]) -> Vec<&'static str> {
        match Password::parse(raw, identities) {
            Ok(_) => vec![],
            Err(v) => v.into_iter().map(|v| v.code).collect(),
        }
    }

    #[test]
    fn a_strong_password_is_accepted() {
        assert!(codes("Str0ng!pass", &["ada@example.com", "ada"]).is_empty());
    }

    #[test]
    fn each_broken_rule_is_reported_separately() {
        assert_eq!(
            codes("abc", &[]),
            vec![
                "too_short",
                "missing_uppercase",
                "missing_digit",
                "missing_symbol"
            ]
        );
        assert_eq!(codes("ABCDEFGH1!", &[]), vec!["missing_lowercase"]);
    }

    #[test]
    fn a_password_over_72_bytes_is_refused_not_truncated() {
        let long = format!("Aa1!{}", "x".repeat(69));
        assert_eq!(long.len(), 73);
        assert_eq!(codes(&long, &[]), vec!["too_long"]);
        // 72 bytes exactly is fine; multi-byte characters count as bytes.
        assert!(codes(&format!("Aa1!{}", "x".repeat(68)), &[]).is_empty());
        assert_eq!(
            codes(&format!("Aa1!{}", "é".repeat(35)), &[]),
            vec!["too_long"]
        );
    }

    #[test]
    fn a_password_equal_to_the_email_or_username_is_refused() {
        assert_eq!(
            codes("Ada.Love1!", &["x@y.z", "ada.love1!"]),
            vec!["same_as_identity"]
        );
        assert_eq!(
            codes("Ada@Example1.com", &["ada@example1.com"]),
            vec!["same_as_identity"]
        );
    }

    #[test]
    fn debug_output_never_shows_the_plaintext() {
        let password = Password::parse("Str0ng!pass", &[]).unwrap();
        assert!(!format!("{password:?}").contains("Str0ng"));
        assert!(!format!("{:?}", PasswordAttempt::new("secret")).contains("secret"));
        assert!(!format!("{:?}", PasswordHash::new("$2b$04$abc")).contains("$2b"));
    }

    proptest! {
        #[test]
        fn accepted_passwords_satisfy_every_rule(raw in "\\PC{0,90}") {
            if let Ok(password) = Password::parse(&raw, &[]) {
                let p = password.expose();
                prop_assert!((8..=72).contains(&p.len()));
                prop_assert!(p.chars().any(char::is_lowercase));
                prop_assert!(p.chars().any(char::is_uppercase));
                prop_assert!(p.chars().any(|c| c.is_ascii_digit()));
                prop_assert!(p.chars().any(|c| !c.is_alphanumeric()));
            }
        }
    }
}
