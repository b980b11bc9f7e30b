//! Email addresses at rest: encrypted with an AEAD cipher and found through a keyed blind
//! index, so the database files never hold a readable address.
//!
//! * **Keys.** Each configured 32-byte master key yields, by HKDF-SHA256 with distinct labels,
//!   an XChaCha20-Poly1305 key, an HMAC-SHA256 key for the blind index, and a short public key
//!   id. The first key is the *current* one (every write uses it); the others are *previous*
//!   keys, still accepted for reading and looked up during a rotation.
//! * **Ciphertext.** `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`, with a random 24-byte
//!   nonce per value. The associated data names the column and the row (`users.email` and the
//!   user's id, ...), so a value copied to another row or column no longer decrypts.
//! * **Blind index.** `base64url(HMAC-SHA256(index key, identity key))` of the address's
//!   identity key (NFKC, lowercase: [`roster_domain::user::Email::key`]). Equal addresses have
//!   equal indexes under one key; without the key the index says nothing.
//! * **Legacy values.** A value written before encryption (it holds an `@`, or is JSON) is read
//!   as it is, until `roster rekey` rewrites it under the current key. Lookups never send a
//!   plain address to the database, so such rows are found by address only once rekeyed.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Length of a master key, in bytes.
pub const KEY_LEN: usize = 32;
const FORMAT: &str = "v1";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HKDF_SALT: &[u8] = b"roster email encryption v1";

/// Why keys could not be set up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// A key is not 32 bytes long.
    #[error("an email encryption key must be {KEY_LEN} bytes (got {0})")]
    Length(usize),
    /// The same key is configured twice (as current and previous, or twice as previous).
    #[error("the same email encryption key is configured twice")]
    Duplicate,
    /// Key derivation failed.
    #[error("email key derivation failed")]
    Derivation,
}

/// Why a stored value could not be read. Never holds the value itself.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    /// The value names a key that is not configured (a key was dropped too early).
    #[error("encrypted under key {0}, which is not configured")]
    UnknownKey(String),
    /// The value is not in the ciphertext format.
    #[error("malformed ciphertext")]
    Malformed,
    /// Authentication failed: the wrong key, another row's value, or tampering.
    #[error("ciphertext does not authenticate (wrong key, moved or tampered)")]
    Tampered,
    /// Encryption failed.
    #[error("encryption failed")]
    Encrypt,
}

/// Which column a value lives in: part of the associated data, with the row's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// `users.email`, bound to the user id.
    UserEmail,
    /// `one_time_tokens.email` (a pending address), bound to the token hash.
    TokenEmail,
    /// `mail_outbox.recipient`, bound to the message id.
    OutboxRecipient,
    /// `mail_outbox.payload`, bound to the message id.
    OutboxPayload,
}

impl Field {
    fn label(self) -> &'static [u8] {
        match self {
            Self::UserEmail => b"users.email",
            Self::TokenEmail => b"one_time_tokens.email",
            Self::OutboxRecipient => b"mail_outbox.recipient",
            Self::OutboxPayload => b"mail_outbox.payload",
        }
    }

    fn associated_data(self, row: &[u8]) -> Vec<u8> {
        let label = self.label();
        let mut ad = Vec::with_capacity(label.len() + 1 + row.len());
        ad.extend_from_slice(label);
        ad.push(0);
        ad.extend_from_slice(row);
        ad
    }
}

struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
    index: Hmac<Sha256>,
}

impl Key {
    fn derive(master: &[u8]) -> Result<Self, KeyError> {
        if master.len() != KEY_LEN {
            return Err(KeyError::Length(master.len()));
        }
        let hkdf = Hkdf::<Sha256>::new(Some(HKDF_SALT), master);
        let mut aead_key = [0_u8; 32];
        let mut index_key = [0_u8; 32];
        let mut id = [0_u8; 4];
        hkdf.expand(b"roster/email/aead", &mut aead_key)
            .and_then(|()| hkdf.expand(b"roster/email/blind-index", &mut index_key))
            .and_then(|()| hkdf.expand(b"roster/email/key-id", &mut id))
            .map_err(|_| KeyError::Derivation)?;
        let cipher = XChaCha20Poly1305::new_from_slice(&aead_key).map_err(|_| KeyError::Derivation);
        let index =
            <Hmac<Sha256> as Mac>::new_from_slice(&index_key).map_err(|_| KeyError::Derivation);
        aead_key.fill(0);
        index_key.fill(0);
        Ok(Self {
            id: id.iter().map(|b| format!("{b:02x}")).collect(),
            cipher: cipher?,
            index: index?,
        })
    }

    fn index_of(&self, identity_key: &str) -> String {
        let mut mac = self.index.clone();
        mac.update(identity_key.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

/// The email keys: the current one, which every write uses, and previous ones still read
/// during a rotation. Cheap to clone. `Debug` shows key ids only.
#[derive(Clone)]
pub struct EmailKeys {
    /// `keys[0]` is current.
    keys: Arc<Vec<Key>>,
}

impl std::fmt::Debug for EmailKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailKeys")
            .field("current", &self.current_id())
            .field(
                "previous",
                &self.keys.iter().skip(1).map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl EmailKeys {
    /// Keys from raw 32-byte master keys: `current` for every write, `previous` still
    /// accepted for reading and lookups.
    ///
    /// # Errors
    /// [`KeyError`] for a key of the wrong length or one configured twice.
    pub fn new(current: &[u8], previous: &[Vec<u8>]) -> Result<Self, KeyError> {
        let mut keys = vec![Key::derive(current)?];
        for raw in previous {
            let key = Key::derive(raw)?;
            if keys.iter().any(|k| k.id == key.id) {
                return Err(KeyError::Duplicate);
            }
            keys.push(key);
        }
        Ok(Self {
            keys: Arc::new(keys),
        })
    }

    /// A fresh random key (tests).
    ///
    /// # Errors
    /// Never in practice; [`KeyError`] if derivation failed.
    #[cfg(feature = "testing")]
    pub fn random() -> Result<Self, KeyError> {
        Self::new(&Self::random_master_key(), &[])
    }

    /// 32 random bytes from the operating system, fit for a master key (tests).
    #[cfg(feature = "testing")]
    pub fn random_master_key() -> Vec<u8> {
        XChaCha20Poly1305::generate_key(&mut OsRng).to_vec()
    }

    /// The public id of the current key (the `<key id>` of the ciphertexts it writes).
    pub fn current_id(&self) -> &str {
        self.current().id.as_str()
    }

    /// Whether previous keys are configured (a rotation is under way).
    pub fn rotating(&self) -> bool {
        self.keys.len() > 1
    }

    fn current(&self) -> &Key {
        // `new` always puts the current key first, so the vector is never empty.
        &self.keys[0]
    }

    /// The blind index of an identity key under the current key: what is written and
    /// compared in `users.email_key`.
    pub fn index(&self, identity_key: &str) -> String {
        self.current().index_of(identity_key)
    }

    /// Every value `users.email_key` may hold for this identity key: its index under the
    /// current key first, then under each previous key. Lookups match any of them.
    pub fn lookup_indexes(&self, identity_key: &str) -> Vec<String> {
        self.keys.iter().map(|k| k.index_of(identity_key)).collect()
    }

    /// The indexes of this identity key under the previous keys only (empty unless
    /// rotating): rows that hold these are the same address as a write under the current key.
    pub(crate) fn other_indexes(&self, identity_key: &str) -> Vec<String> {
        self.keys
            .iter()
            .skip(1)
            .map(|k| k.index_of(identity_key))
            .collect()
    }

    /// Encrypts `plaintext` for `field` of the row keyed `row`, under the current key.
    pub(crate) fn encrypt(
        &self,
        field: Field,
        row: &[u8],
        plaintext: &str,
    ) -> Result<String, VaultError> {
        let key = self.current();
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = field.associated_data(row);
        let sealed = key
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::Encrypt)?;
        let mut body = Vec::with_capacity(NONCE_LEN + sealed.len());
        body.extend_from_slice(&nonce[..]);
        body.extend_from_slice(&sealed);
        Ok(format!(
            "{FORMAT}.{}.{}",
            key.id,
            URL_SAFE_NO_PAD.encode(body)
        ))
    }

    /// Decrypts a stored value of `field` of the row keyed `row`, under whichever configured
    /// key wrote it. A legacy plain value (written before encryption) is returned as it is.
    ///
    /// # Errors
    /// [`VaultError`]: unknown key, malformed, or not authentic for this field and row.
    pub(crate) fn decrypt(
        &self,
        field: Field,
        row: &[u8],
        stored: &str,
    ) -> Result<String, VaultError> {
        if is_legacy(stored) {
            return Ok(stored.to_owned());
        }
        let mut parts = stored.splitn(3, '.');
        let (Some(FORMAT), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(VaultError::Malformed);
        };
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| VaultError::UnknownKey(id.chars().take(8).collect()))?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| VaultError::Malformed)?;
        if body.len() < NONCE_LEN + TAG_LEN {
            return Err(VaultError::Malformed);
        }
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| VaultError::Malformed)?;
        let aad = field.associated_data(row);
        let plain = key
            .cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::Tampered)?;
        String::from_utf8(plain).map_err(|_| VaultError::Malformed)
    }

    /// Whether a stored value is written under the current key (else `roster rekey` rewrites
    /// it).
    #[cfg(test)]
    pub(crate) fn is_current(&self, stored: &str) -> bool {
        stored
            .strip_prefix(FORMAT)
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(|rest| rest.strip_prefix(self.current_id()))
            .is_some_and(|rest| rest.starts_with('.'))
    }

    /// The SQL `LIKE` pattern of values written under the current key.
    pub(crate) fn current_pattern(&self) -> String {
        format!("{FORMAT}.{}.%", self.current_id())
    }
}

/// `text` with every word that holds an `@` replaced by `<address>`: for free text stored in
/// clear (delivery errors, audit details), which must never carry an address.
pub(crate) fn without_addresses(text: &str) -> String {
    if !text.contains('@') {
        return text.to_owned();
    }
    text.split(' ')
        .map(|word| {
            if word.contains('@') {
                "<address>"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A value written before encryption: an address (it has an `@`, which base64url, key ids
/// and the format tag never hold) or a JSON payload.
fn is_legacy(stored: &str) -> bool {
    !stored.starts_with("v1.") || stored.contains('@')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    fn keys(byte: u8) -> EmailKeys {
        EmailKeys::new(&[byte; 32], &[]).unwrap()
    }

    const ROW: &[u8] = b"0193aaaa-row";

    #[test]
    fn a_value_round_trips_and_is_not_readable_in_its_stored_form() {
        let k = keys(1);
        let stored = k.encrypt(Field::UserEmail, ROW, "Ada@Example.com").unwrap();
        assert!(
            stored.starts_with(&format!("v1.{}.", k.current_id())),
            "{stored}"
        );
        assert!(!stored.to_lowercase().contains("ada"));
        assert!(!stored.contains('@'));
        assert_eq!(
            k.decrypt(Field::UserEmail, ROW, &stored).unwrap(),
            "Ada@Example.com"
        );
        assert!(k.is_current(&stored));
    }

    #[test]
    fn two_encryptions_of_one_value_differ() {
        let k = keys(1);
        let a = k.encrypt(Field::UserEmail, ROW, "ada@example.com").unwrap();
        let b = k.encrypt(Field::UserEmail, ROW, "ada@example.com").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn the_wrong_key_does_not_decrypt() {
        let stored = keys(1)
            .encrypt(Field::UserEmail, ROW, "ada@example.com")
            .unwrap();
        let other = keys(2);
        assert!(matches!(
            other.decrypt(Field::UserEmail, ROW, &stored),
            Err(VaultError::UnknownKey(_))
        ));
        // The same key id but other key material (a forged id) fails authentication.
        let forged = stored.replacen(keys(1).current_id(), other.current_id(), 1);
        assert_eq!(
            other.decrypt(Field::UserEmail, ROW, &forged),
            Err(VaultError::Tampered)
        );
    }

    #[test]
    fn a_tampered_ciphertext_does_not_decrypt() {
        let k = keys(1);
        let stored = k.encrypt(Field::UserEmail, ROW, "ada@example.com").unwrap();
        let (head, body) = stored.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(body).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!("{head}.{}", URL_SAFE_NO_PAD.encode(&bytes));
        assert_eq!(
            k.decrypt(Field::UserEmail, ROW, &tampered),
            Err(VaultError::Tampered)
        );
        assert_eq!(
            k.decrypt(Field::UserEmail, ROW, "v1.x"),
            Err(VaultError::Malformed)
        );
        let truncated = &stored[..stored.len() - 10];
        assert!(k.decrypt(Field::UserEmail, ROW, truncated).is_err());
    }

    #[test]
    fn a_value_moved_to_another_row_or_column_does_not_decrypt() {
        let k = keys(1);
        let stored = k.encrypt(Field::UserEmail, ROW, "ada@example.com").unwrap();
        assert_eq!(
            k.decrypt(Field::UserEmail, b"another-row", &stored),
            Err(VaultError::Tampered)
        );
        assert_eq!(
            k.decrypt(Field::TokenEmail, ROW, &stored),
            Err(VaultError::Tampered)
        );
    }

    #[test]
    fn the_blind_index_is_keyed_and_equal_for_variants_of_one_address() {
        use roster_domain::user::Email;
        let k = keys(1);
        let variants = [
            "Ada@Example.COM",
            "  ada@example.com ",
            "ａｄａ@example.com",
        ];
        let indexes: Vec<String> = variants
            .iter()
            .map(|v| k.index(Email::parse(v).unwrap().key()))
            .collect();
        assert!(indexes.iter().all(|i| *i == indexes[0]), "{indexes:?}");
        assert!(!indexes[0].contains("ada"));
        assert_ne!(indexes[0], keys(2).index("ada@example.com"));
        assert_ne!(k.index("ada@example.com"), k.index("bob@example.com"));
    }

    #[test]
    fn previous_keys_still_decrypt_and_are_looked_up_but_never_write() {
        let old = keys(1);
        let stored = old
            .encrypt(Field::UserEmail, ROW, "ada@example.com")
            .unwrap();
        let rotated = EmailKeys::new(&[2; 32], &[vec![1; 32]]).unwrap();
        assert!(rotated.rotating());
        assert_eq!(
            rotated.decrypt(Field::UserEmail, ROW, &stored).unwrap(),
            "ada@example.com"
        );
        assert!(!rotated.is_current(&stored));
        let lookups = rotated.lookup_indexes("ada@example.com");
        assert_eq!(lookups[0], rotated.index("ada@example.com"));
        assert!(lookups.contains(&old.index("ada@example.com")));
        let rewritten = rotated
            .encrypt(Field::UserEmail, ROW, "ada@example.com")
            .unwrap();
        assert!(rotated.is_current(&rewritten));
        assert!(old.decrypt(Field::UserEmail, ROW, &rewritten).is_err());
    }

    #[test]
    fn legacy_plain_values_are_read_as_they_are() {
        let k = keys(1);
        assert_eq!(
            k.decrypt(Field::UserEmail, ROW, "v1.ada@x.org").unwrap(),
            "v1.ada@x.org"
        );
        assert_eq!(k.decrypt(Field::OutboxPayload, ROW, "{}").unwrap(), "{}");
        assert!(!k.is_current("ada@example.com"));
        assert!(
            !k.lookup_indexes("ada@example.com")
                .contains(&"ada@example.com".to_owned())
        );
    }

    #[test]
    fn free_text_keeps_no_address() {
        assert_eq!(
            without_addresses("550 5.1.1 <Ada@Example.com>: Recipient address rejected"),
            "550 5.1.1 <address> Recipient address rejected"
        );
        assert_eq!(
            without_addresses("connection refused"),
            "connection refused"
        );
    }

    #[test]
    fn bad_keys_are_refused() {
        assert_eq!(
            EmailKeys::new(&[1; 31], &[]).unwrap_err(),
            KeyError::Length(31)
        );
        assert_eq!(
            EmailKeys::new(&[1; 32], &[vec![1; 32]]).unwrap_err(),
            KeyError::Duplicate
        );
        let debug = format!("{:?}", keys(1));
        assert!(debug.contains(keys(1).current_id()));
    }
}
