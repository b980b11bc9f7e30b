//! Profile fields: display name, phone, avatar URL and the nested profile.

use std::fmt;

use chrono::NaiveDate;

use crate::error::{Collector, Violation};

macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// The value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.0).finish()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_newtype!(
    /// A display name: 2 to 100 characters after trimming.
    Name
);
string_newtype!(
    /// A phone number in E.164: `+` and 8 to 15 digits.
    Phone
);
string_newtype!(
    /// An `http` or `https` URL of at most 2048 characters.
    AvatarUrl
);

impl Name {
    /// Parses a display name.
    ///
    /// # Errors
    /// `too_short` under 2 characters, `too_long` over 100, `invalid_name` with control
    /// characters.
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        let trimmed = raw.trim();
        let len = trimmed.chars().count();
        if trimmed.chars().any(char::is_control) {
            return Err(Violation::new(
                "invalid_name",
                "name must not contain control characters",
            ));
        }
        if len < 2 {
            return Err(Violation::new(
                "too_short",
                "name must be at least 2 characters",
            ));
        }
        if len > 100 {
            return Err(Violation::new(
                "too_long",
                "name must be at most 100 characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }
}

impl Phone {
    /// Parses an E.164 number.
    ///
    /// # Errors
    /// `invalid_phone` unless the value is `+` followed by 8 to 15 digits.
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        let ok = raw.strip_prefix('+').is_some_and(|digits| {
            (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
        });
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Violation::new(
                "invalid_phone",
                "phone must be E.164: '+' and 8 to 15 digits",
            ))
        }
    }
}

impl AvatarUrl {
    /// Parses an avatar URL.
    ///
    /// # Errors
    /// `too_long` past 2048 characters, `invalid_url` unless it is an absolute http(s) URL
    /// with a host and no whitespace.
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        if raw.chars().count() > 2048 {
            return Err(Violation::new(
                "too_long",
                "avatar_url must be at most 2048 characters",
            ));
        }
        let head = raw.get(..8).unwrap_or(raw).to_ascii_lowercase();
        let rest = if head.starts_with("https://") {
            raw.get(8..)
        } else if head.starts_with("http://") {
            raw.get(7..)
        } else {
            None
        };
        let host = rest.and_then(|r| r.split(['/', '?', '#']).next());
        let valid = matches!(host, Some(h) if !h.is_empty() && !h.starts_with(':') && !h.contains('@'))
            && !raw.chars().any(|c| c.is_whitespace() || c.is_control());
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Violation::new(
                "invalid_url",
                "avatar_url must be an absolute http(s) URL",
            ))
        }
    }
}

/// The optional personal profile of a user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    first_name: Option<String>,
    last_name: Option<String>,
    birth_date: Option<NaiveDate>,
    gender: Option<String>,
}

/// Unchecked profile input as a client sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileInput {
    /// At most 100 characters.
    pub first_name: Option<String>,
    /// At most 100 characters.
    pub last_name: Option<String>,
    /// `YYYY-MM-DD`, in the past.
    pub birth_date: Option<String>,
    /// At most 32 characters.
    pub gender: Option<String>,
}

fn bounded(raw: Option<&str>, max: usize, what: &str) -> Result<Option<String>, Violation> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > max => Err(Violation::new(
            "too_long",
            format!("{what} must be at most {max} characters"),
        )),
        Some(v) if v.chars().any(char::is_control) => Err(Violation::new(
            "invalid_text",
            format!("{what} must not contain control characters"),
        )),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

impl Profile {
    /// Parses a profile, reporting each broken field as `profile.<field>`. `today` bounds
    /// the birth date.
    ///
    /// # Errors
    /// Records violations in `errors`; returns `None` when any was found.
    pub fn parse(input: &ProfileInput, today: NaiveDate, errors: &mut Collector) -> Option<Self> {
        let first_name = errors.field(
            "profile.first_name",
            bounded(input.first_name.as_deref(), 100, "first_name"),
        );
        let last_name = errors.field(
            "profile.last_name",
            bounded(input.last_name.as_deref(), 100, "last_name"),
        );
        let gender = errors.field(
            "profile.gender",
            bounded(input.gender.as_deref(), 32, "gender"),
        );
        let birth_date = errors.field(
            "profile.birth_date",
            match input.birth_date.as_deref() {
                None => Ok(None),
                Some(raw) => parse_birth_date(raw, today).map(Some),
            },
        );
        Some(Self {
            first_name: first_name?,
            last_name: last_name?,
            birth_date: birth_date?,
            gender: gender?,
        })
    }

    /// Rebuilds a profile from values that were validated when stored. For storage adapters
    /// only: it checks nothing.
    pub fn restore(
        first_name: Option<String>,
        last_name: Option<String>,
        birth_date: Option<NaiveDate>,
        gender: Option<String>,
    ) -> Self {
        Self {
            first_name,
            last_name,
            birth_date,
            gender,
        }
    }

    /// First name.
    pub fn first_name(&self) -> Option<&str> {
        self.first_name.as_deref()
    }
    /// Last name.
    pub fn last_name(&self) -> Option<&str> {
        self.last_name.as_deref()
    }
    /// Birth date.
    pub fn birth_date(&self) -> Option<NaiveDate> {
        self.birth_date
    }
    /// Gender, free text.
    pub fn gender(&self) -> Option<&str> {
        self.gender.as_deref()
    }
}

fn parse_birth_date(raw: &str, today: NaiveDate) -> Result<NaiveDate, Violation> {
    let well_formed = raw.len() == 10 && raw.as_bytes().get(4) == Some(&b'-');
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|_| well_formed)
        .ok_or_else(|| Violation::new("invalid_date", "birth_date must be a YYYY-MM-DD date"))?;
    if date >= today {
        return Err(Violation::new(
            "not_in_past",
            "birth_date must be in the past",
        ));
    }
    Ok(date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            Name::parse("  Ada Lovelace ").unwrap().as_str(),
            "Ada Lovelace"
        );
        assert_eq!(Name::parse("A").unwrap_err().code, "too_short");
        assert_eq!(Name::parse(&"é".repeat(101)).unwrap_err().code, "too_long");
        assert!(Name::parse(&"é".repeat(100)).is_ok());
    }

    #[test]
    fn phones_must_be_e164() {
        assert!(Phone::parse("+441234567890").is_ok());
        for bad in [
            "441234567890",
            "+1234567",
            "+1234567890123456",
            "+44 1234 567890",
            "+",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn avatar_urls_must_be_http_or_https() {
        assert!(AvatarUrl::parse("https://example.com/a.png").is_ok());
        assert!(AvatarUrl::parse("http://example.com").is_ok());
        for bad in [
            "ftp://example.com/a.png",
            "javascript:alert(1)",
            "https://",
            "https:// x",
            "example.com",
        ] {
            assert!(AvatarUrl::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("https://example.com/{}", "a".repeat(2040));
        assert_eq!(AvatarUrl::parse(&long).unwrap_err().code, "too_long");
    }

    #[test]
    fn a_birth_date_must_be_a_past_calendar_date() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let parse = |raw: &str| {
            let mut errors = Collector::new();
            let input = ProfileInput {
                birth_date: Some(raw.into()),
                ..Default::default()
            };
            let profile = Profile::parse(&input, today, &mut errors);
            (profile, errors.finish())
        };
        assert_eq!(
            parse("1815-12-10").0.unwrap().birth_date(),
            NaiveDate::from_ymd_opt(1815, 12, 10)
        );
        assert_eq!(parse("2026-11-23").1.unwrap_err().0[0].code, "not_in_past");
        assert_eq!(parse("2026-02-30").1.unwrap_err().0[0].code, "invalid_date");
        assert_eq!(
            parse("10/12/1815").1.unwrap_err().0[0].field,
            "profile.birth_date"
        );
    }

    proptest! {
        #[test]
        fn field_parsers_never_panic(raw in "\\PC{0,120}") {
            let _ = Name::parse(&raw);
            let _ = Phone::parse(&raw);
            let _ = AvatarUrl::parse(&raw);
            let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
            let _ = parse_birth_date(&raw, today);
        }
    }
}
