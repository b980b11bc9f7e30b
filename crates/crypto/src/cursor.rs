//! [`HmacCursors`]: list cursors sealed with HMAC-SHA256.
//!
//! A cursor is `base64url(payload || tag)`: the payload is a small JSON record of the
//! position (sort value, id, page number), the tag is
//! `HMAC-SHA256(key, "roster.cursor.v1\n" || binding || "\n" || payload)`. The binding (the
//! query's filters, sort and order) is not carried in the cursor but enters the tag, so a
//! cursor presented with other filters fails the check exactly as an altered one does. The
//! position is readable by whoever holds the cursor (it names a user id and a sort value the
//! caller was already shown); it is only protected against change.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use roster_domain::listing::{Keyset, SortValue};
use roster_domain::ports::CursorCodec;
use roster_domain::user::UserId;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const TAG_BYTES: usize = 32;
const DOMAIN: &[u8] = b"roster.cursor.v1\n";
/// The label that derives the cursor key from another secret.
const KEY_LABEL: &[u8] = b"roster list cursor key v1";

/// The position, as sealed.
#[derive(Serialize, Deserialize)]
struct Position {
    /// `t` (time) or `s` (text).
    k: char,
    /// Time as RFC 3339 (full precision), or text; absent when the key is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    v: Option<String>,
    /// User id.
    i: String,
    /// Page number the cursor leads to.
    p: u64,
}

/// Seals and opens list cursors with an HMAC-SHA256 key.
#[derive(Clone)]
pub struct HmacCursors {
    key: Vec<u8>,
}

impl std::fmt::Debug for HmacCursors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacCursors(<key redacted>)")
    }
}

impl HmacCursors {
    /// A codec with its own key derived from `secret` (the JWT secret, which every instance
    /// shares) under a label of its own: `HMAC-SHA256(secret, "roster list cursor key v1")`.
    /// The derived key signs nothing but cursors, so a cursor can never pass for a token.
    pub fn derived_from(secret: &[u8]) -> Self {
        Self {
            key: Self::mac(secret, &[KEY_LABEL]),
        }
    }

    fn mac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
        match HmacSha256::new_from_slice(key) {
            Ok(mut mac) => {
                for part in parts {
                    mac.update(part);
                }
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }

    fn tagger(&self, binding: &str, payload: &[u8]) -> Option<HmacSha256> {
        let mut mac = HmacSha256::new_from_slice(&self.key).ok()?;
        mac.update(DOMAIN);
        mac.update(binding.as_bytes());
        mac.update(b"\n");
        mac.update(payload);
        Some(mac)
    }
}

fn time_text(at: &DateTime<Utc>) -> String {
    // Every digit the store may hold (SQLite keeps whatever it was given).
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

impl CursorCodec for HmacCursors {
    fn seal(&self, binding: &str, keyset: &Keyset) -> String {
        let (k, v) = match &keyset.value {
            SortValue::Time(at) => ('t', at.as_ref().map(time_text)),
            SortValue::Text(text) => ('s', text.clone()),
        };
        let position = Position {
            k,
            v,
            i: keyset.id.to_string(),
            p: keyset.page,
        };
        let mut bytes = serde_json::to_vec(&position).unwrap_or_default();
        if let Some(mac) = self.tagger(binding, &bytes) {
            bytes.extend_from_slice(&mac.finalize().into_bytes());
        }
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn open(&self, binding: &str, cursor: &str) -> Option<Keyset> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        let split = bytes.len().checked_sub(TAG_BYTES)?;
        let (payload, tag) = bytes.split_at(split);
        // `verify_slice` compares in constant time.
        self.tagger(binding, payload)?.verify_slice(tag).ok()?;
        let position: Position = serde_json::from_slice(payload).ok()?;
        let value = match (position.k, position.v) {
            ('t', None) => SortValue::Time(None),
            ('t', Some(text)) => SortValue::Time(Some(
                DateTime::parse_from_rfc3339(&text)
                    .ok()?
                    .with_timezone(&Utc),
            )),
            ('s', text) => SortValue::Text(text),
            _ => return None,
        };
        Some(Keyset {
            value,
            id: UserId::from_uuid(uuid::Uuid::parse_str(&position.i).ok()?),
            page: position.p,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyset() -> Keyset {
        Keyset {
            value: SortValue::Time(Some(Utc::now())),
            id: UserId::generate(),
            page: 7,
        }
    }

    #[test]
    fn a_sealed_cursor_opens_with_the_same_binding() {
        let codec = HmacCursors::derived_from(b"a secret of at least thirty-two bytes!!");
        for value in [
            SortValue::Time(None),
            SortValue::Text(None),
            SortValue::Text(Some("ada; lovelace \"x\"".into())),
            keyset().value,
        ] {
            let k = Keyset { value, ..keyset() };
            let cursor = codec.seal("b", &k);
            assert!(
                cursor
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            );
            let opened = codec.open("b", &cursor).unwrap();
            assert_eq!(opened.id, k.id);
            assert_eq!(opened.page, 7);
            assert_eq!(opened.value, k.value);
        }
    }

    #[test]
    fn another_binding_or_key_does_not_open_it() {
        let codec = HmacCursors::derived_from(b"one secret, long enough for the test");
        let cursor = codec.seal("status=active", &keyset());
        assert!(codec.open("status=pending", &cursor).is_none());
        let other = HmacCursors::derived_from(b"another secret, long enough as well");
        assert!(other.open("status=active", &cursor).is_none());
    }

    #[test]
    fn any_altered_byte_breaks_the_seal() {
        let codec = HmacCursors::derived_from(b"one secret, long enough for the test");
        let cursor = codec.seal("b", &keyset());
        let bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        for i in 0..bytes.len() {
            let mut altered = bytes.clone();
            altered[i] ^= 0x01;
            assert!(
                codec.open("b", &URL_SAFE_NO_PAD.encode(&altered)).is_none(),
                "byte {i}"
            );
        }
        assert!(codec.open("b", "").is_none());
        assert!(codec.open("b", "!!!").is_none());
        assert!(codec.open("b", &cursor[..cursor.len() - 2]).is_none());
    }
}
