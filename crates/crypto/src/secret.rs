//! Random secrets (one-time and refresh tokens), their stored hashes, and constant-time
//! comparison.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::rngs::OsRng;
use rand::{RngCore as _, TryRngCore as _};
use roster_domain::ports::SecretTokens;
use roster_domain::token::{GeneratedToken, TokenHash};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// Random bytes in a secret: 256 bits.
pub const SECRET_BYTES: usize = 32;

/// [`SecretTokens`]: 32 bytes from the operating system's CSPRNG, base64url without padding
/// (43 characters), stored as the lowercase hex SHA-256 of that text.
///
/// A fast hash is right here, unlike for passwords: the secret has 256 bits of entropy, so
/// nobody can guess it from its hash, and lookups by hash must be cheap.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomSecretTokens;

impl RandomSecretTokens {
    /// The generator.
    pub fn new() -> Self {
        Self
    }
}

fn random_bytes() -> [u8; SECRET_BYTES] {
    let mut bytes = [0u8; SECRET_BYTES];
    if let Err(error) = OsRng.try_fill_bytes(&mut bytes) {
        // Practically unreachable on a running system. The thread-local generator is a
        // CSPRNG seeded from the same OS source, so it is an equally safe fallback (and the
        // port has no way to report a failure).
        tracing::error!(%error, "the OS random source failed; using the thread-local CSPRNG");
        rand::rng().fill_bytes(&mut bytes);
    }
    bytes
}

/// The lowercase hex SHA-256 of `input`.
pub fn sha256_hex(input: &[u8]) -> String {
    let digest = Sha256::digest(input);
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

impl SecretTokens for RandomSecretTokens {
    fn generate(&self) -> GeneratedToken {
        let raw = URL_SAFE_NO_PAD.encode(random_bytes());
        let hash = self.hash(&raw);
        GeneratedToken { raw, hash }
    }

    fn hash(&self, raw: &str) -> TokenHash {
        TokenHash::new(sha256_hex(raw.as_bytes()))
    }
}

/// Whether `a` and `b` are equal, in time that depends only on their lengths, never on
/// where they differ. For secrets compared directly, such as API keys.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn a_secret_is_43_base64url_characters_of_32_bytes() {
        let token = RandomSecretTokens.generate();
        assert_eq!(token.raw.len(), 43);
        assert!(
            token
                .raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{}",
            token.raw
        );
        assert_eq!(
            URL_SAFE_NO_PAD.decode(&token.raw).unwrap().len(),
            SECRET_BYTES
        );
    }

    #[test]
    fn secrets_do_not_repeat() {
        let secrets: HashSet<String> = (0..1000)
            .map(|_| RandomSecretTokens.generate().raw)
            .collect();
        assert_eq!(secrets.len(), 1000);
    }

    #[test]
    fn a_generated_secret_comes_with_its_own_hash() {
        let tokens = RandomSecretTokens::new();
        let token = tokens.generate();
        assert_eq!(token.hash, tokens.hash(&token.raw));
        assert_ne!(token.hash.as_str(), token.raw);
    }

    #[test]
    fn the_hash_is_stable_lowercase_hex_sha256() {
        let tokens = RandomSecretTokens;
        let hash = tokens.hash("abc");
        // The FIPS 180-2 test vector.
        assert_eq!(
            hash.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(tokens.hash("abc"), hash);
        assert_ne!(tokens.hash("abd"), hash);
        let other = tokens.hash(&tokens.generate().raw);
        assert_eq!(other.as_str().len(), 64);
        assert!(
            other
                .as_str()
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        );
    }

    #[test]
    fn constant_time_eq_compares_contents_and_lengths() {
        assert!(constant_time_eq(b"key-123", b"key-123"));
        assert!(!constant_time_eq(b"key-123", b"key-124"));
        assert!(!constant_time_eq(b"key-123", b"key-12"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn debug_output_of_a_generated_token_hides_the_secret() {
        let token = RandomSecretTokens.generate();
        assert!(!format!("{token:?}").contains(&token.raw));
    }
}
