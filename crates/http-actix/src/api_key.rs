//! The internal API's credentials: named keys from `ROSTER_INTERNAL_API_KEYS`, presented in
//! `X-Api-Key`, compared in constant time against every configured key.

use std::fmt;
use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use crate::error::ApiError;
use crate::state::HttpState;

/// The header carrying the key.
pub const API_KEY_HEADER: &str = "X-Api-Key";

/// Shortest key accepted in configuration.
pub const MIN_KEY_LEN: usize = 16;

/// Longest header value considered; anything longer is refused unread.
const MAX_PRESENTED_LEN: usize = 512;

/// The configured keys, by name. Only SHA-256 digests of the keys are kept.
#[derive(Clone, Default)]
pub struct InternalKeys {
    keys: Arc<[(String, [u8; 32])]>,
}

impl fmt::Debug for InternalKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|(name, _)| name))
            .finish()
    }
}

fn digest(key: &[u8]) -> [u8; 32] {
    Sha256::digest(key).into()
}

impl InternalKeys {
    /// Parses `name:key,name:key`. Names are 1 to 64 of `A-Za-z0-9_.-`; keys at least 16
    /// characters, without commas; names and keys unique.
    ///
    /// # Errors
    /// What is wrong, never echoing a key.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut keys: Vec<(String, [u8; 32])> = Vec::new();
        for (n, entry) in raw.split(',').map(str::trim).enumerate() {
            let Some((name, key)) = entry.split_once(':') else {
                return Err(format!("entry {} must be name:key", n + 1));
            };
            let (name, key) = (name.trim(), key.trim());
            let name_ok = (1..=64).contains(&name.len())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !name_ok {
                return Err(format!(
                    "entry {}: the name must be 1 to 64 of A-Za-z0-9_.-",
                    n + 1
                ));
            }
            if key.len() < MIN_KEY_LEN || key.chars().any(|c| c.is_control()) {
                return Err(format!(
                    "the key of {name:?} must be at least {MIN_KEY_LEN} printable characters"
                ));
            }
            let hashed = digest(key.as_bytes());
            if keys.iter().any(|(other, _)| other == name) {
                return Err(format!("the name {name:?} is given twice"));
            }
            if keys.iter().any(|(_, other)| other == &hashed) {
                return Err(format!("the key of {name:?} is also another name's key"));
            }
            keys.push((name.to_owned(), hashed));
        }
        Ok(Self { keys: keys.into() })
    }

    /// Whether no key is configured (the internal API answers 401 to everything).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The name of the key `presented` matches. Every configured key is compared, in
    /// constant time and with no early exit, so timing tells neither whether nor which key
    /// matched.
    pub fn identify(&self, presented: &[u8]) -> Option<&str> {
        let presented = digest(presented);
        let mut found = subtle::Choice::from(0);
        let mut index = 0_u32;
        for (i, (_, key)) in self.keys.iter().enumerate() {
            let matches = key.ct_eq(&presented);
            index = u32::conditional_select(&index, &u32::try_from(i).unwrap_or(0), matches);
            found |= matches;
        }
        if bool::from(found) {
            self.keys
                .get(usize::try_from(index).unwrap_or(usize::MAX))
                .map(|(name, _)| name.as_str())
        } else {
            None
        }
    }
}

/// A request carrying a valid internal API key: the key's name.
#[derive(Debug, Clone)]
pub struct ServiceKey(pub String);

fn refuse(detail: &str) -> ApiError {
    ApiError::unauthorized("invalid_api_key", detail)
}

impl FromRequest for ServiceKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready((|| {
            let state = req.app_data::<web::Data<HttpState>>().ok_or_else(|| {
                ApiError::from(roster_domain::InfraError::unexpected("HTTP state missing"))
            })?;
            if state.internal_keys.is_empty() {
                return Err(refuse(
                    "the internal API is not enabled (no keys configured)",
                ));
            }
            let mut values = req.headers().get_all(API_KEY_HEADER);
            let Some(value) = values.next() else {
                return Err(ApiError::unauthorized(
                    "missing_api_key",
                    "an X-Api-Key header is required",
                ));
            };
            if values.next().is_some() {
                return Err(refuse("send exactly one X-Api-Key header"));
            }
            let presented = value.as_bytes();
            if presented.is_empty() || presented.len() > MAX_PRESENTED_LEN {
                return Err(refuse("the API key is invalid"));
            }
            state
                .internal_keys
                .identify(presented)
                .map(|name| Self(name.to_owned()))
                .ok_or_else(|| refuse("the API key is invalid"))
        })())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_by_value_and_named() {
        let keys = InternalKeys::parse("crm:0123456789abcdef, bot:fedcba9876543210xx").unwrap();
        assert_eq!(keys.identify(b"0123456789abcdef"), Some("crm"));
        assert_eq!(keys.identify(b"fedcba9876543210xx"), Some("bot"));
        assert_eq!(keys.identify(b"0123456789abcdeF"), None);
        assert_eq!(keys.identify(b""), None);
        assert!(
            !format!("{keys:?}").contains("0123"),
            "Debug never shows keys"
        );
    }

    #[test]
    fn bad_configuration_is_refused_without_echoing_keys() {
        for bad in [
            "crm",
            "crm:short",
            ":0123456789abcdef",
            "c r m:0123456789abcdef",
            "crm:0123456789abcdef,crm:abcdef0123456789",
            "crm:0123456789abcdef,bot:0123456789abcdef",
            "crm:0123456789abcdef,",
        ] {
            let err = InternalKeys::parse(bad).unwrap_err();
            assert!(!err.contains("0123456789abcdef"), "{err}");
        }
    }
}
