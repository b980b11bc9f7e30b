//! Email addresses: RFC 5322 addr-spec (with RFC 6532 UTF-8), case-insensitive identity.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

use crate::error::Violation;

/// Longest address accepted, in characters (RFC 5321 path limit less the brackets).
pub const MAX_EMAIL_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;
const MAX_LABEL_LEN: usize = 63;

/// A valid email address.
///
/// Displayed as entered (trimmed); compared, stored for lookup and made unique through its
/// identity key: NFKC-normalised and lowercased.
///
/// ```
/// use roster_domain::user::Email;
///
/// let email = Email::parse("  Ada.Lovelace@Example.COM ").unwrap();
/// assert_eq!(email.as_str(), "Ada.Lovelace@Example.COM");
/// assert_eq!(email.key(), "ada.lovelace@example.com");
/// assert_eq!(email.key(), Email::parse("ada.lovelace@example.com").unwrap().key());
/// // Personal data stays out of logs.
/// assert_eq!(format!("{email:?}"), r#"Email("A***@Example.COM")"#);
///
/// let refused = Email::parse("not an address").unwrap_err();
/// assert_eq!(refused.code, "invalid_email");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email {
    display: String,
    key: String,
}

impl Email {
    /// Parses an address.
    ///
    /// # Errors
    /// `too_long` past 254 characters, `invalid_email` when it is not an addr-spec.
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        let display = raw.trim();
        if display.chars().count() > MAX_EMAIL_LEN {
            return Err(Violation::new(
                "too_long",
                "email must be at most 254 characters",
            ));
        }
        if !is_addr_spec(display) {
            return Err(Violation::new(
                "invalid_email",
                "email is not a valid address",
            ));
        }
        Ok(Self {
            display: display.to_owned(),
            key: identity_key(display),
        })
    }

    /// The address as the user entered it, trimmed.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The identity key: NFKC-normalised, lowercased. Two addresses are the same account's
    /// when their keys are equal.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The local part (before the last `@`), as displayed.
    pub fn local_part(&self) -> &str {
        self.display
            .rsplit_once('@')
            .map_or(self.display.as_str(), |(local, _)| local)
    }

    /// The address with most of the local part hidden, for logs: `a***@example.com`.
    pub fn masked(&self) -> String {
        match self.display.rsplit_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => "***".to_owned(),
        }
    }
}

/// The identity key of any string that might be an address: used for lookups of a login.
pub fn identity_key(raw: &str) -> String {
    raw.trim().nfkc().collect::<String>().to_lowercase()
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Emails are personal data: debug output masks them so they never reach logs whole.
        f.debug_tuple("Email").field(&self.masked()).finish()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

fn is_dot_atom(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

fn is_quoted_string(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')) else {
        return false;
    };
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) if escaped == ' ' || escaped == '\t' || is_visible(escaped) => {}
                _ => return false,
            },
            '"' => return false,
            c if c == ' ' || c == '\t' || is_visible(c) => {}
            _ => return false,
        }
    }
    true
}

fn is_visible(c: char) -> bool {
    c.is_ascii_graphic() || (!c.is_ascii() && !c.is_control())
}

fn is_domain(s: &str) -> bool {
    if let Some(literal) = s.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
        return !literal.is_empty()
            && literal
                .chars()
                .all(|c| c.is_ascii_graphic() && !matches!(c, '[' | ']' | '\\'));
    }
    !s.is_empty()
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.chars().count() <= MAX_LABEL_LEN
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

fn is_addr_spec(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    local.len() <= MAX_LOCAL_LEN
        && (is_dot_atom(local) || is_quoted_string(local))
        && is_domain(domain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_plain_address_is_accepted_and_displayed_as_entered() {
        let email = Email::parse("  Ada.Lovelace@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Ada.Lovelace@Example.COM");
        assert_eq!(email.key(), "ada.lovelace@example.com");
    }

    #[test]
    fn addresses_differing_in_case_or_compatibility_form_share_one_identity() {
        let a = Email::parse("ADA@example.com").unwrap();
        let b = Email::parse("ada@example.com").unwrap();
        // U+FF41 FULLWIDTH LATIN SMALL LETTER A normalises to "a" under NFKC.
        let c = Email::parse("\u{FF41}da@example.com").unwrap();
        assert_eq!(a.key(), b.key());
        assert_eq!(b.key(), c.key());
    }

    #[test]
    fn an_email_without_at_is_rejected() {
        assert_eq!(
            Email::parse("ada.example.com").unwrap_err().code,
            "invalid_email"
        );
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for bad in [
            "",
            "@example.com",
            "ada@",
            "ada@@example.com",
            ".ada@example.com",
            "ada.@example.com",
            "a..da@example.com",
            "ada@-example.com",
            "ada@example..com",
            "ada lovelace@example.com",
            "ada@exa mple.com",
            "\"unterminated@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn unusual_but_valid_addresses_are_accepted() {
        for good in [
            "a+tag@example.com",
            "\"ada lovelace\"@example.com",
            "ada@localhost",
            "ada@[127.0.0.1]",
            "o'brien@example.ie",
            "用户@例子.广告",
        ] {
            assert!(Email::parse(good).is_ok(), "{good:?} should be accepted");
        }
    }

    #[test]
    fn an_address_longer_than_254_characters_is_too_long() {
        let long = format!("{}@{}.com", "a".repeat(60), "b".repeat(200));
        assert_eq!(Email::parse(&long).unwrap_err().code, "too_long");
    }

    #[test]
    fn debug_output_masks_the_address() {
        let email = Email::parse("ada@example.com").unwrap();
        assert_eq!(format!("{email:?}"), "Email(\"a***@example.com\")");
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_accepted_keys_are_lowercase(raw in "\\PC{0,80}") {
            if let Ok(email) = Email::parse(&raw) {
                prop_assert_eq!(email.key(), email.key().to_lowercase());
                prop_assert!(email.as_str().contains('@'));
            }
        }

        #[test]
        fn simple_generated_addresses_round_trip(local in "[a-z0-9]{1,20}", domain in "[a-z]{1,20}\\.[a-z]{2,6}") {
            let raw = format!("{local}@{domain}");
            let email = Email::parse(&raw).unwrap();
            prop_assert_eq!(email.as_str(), raw.as_str());
        }
    }
}
