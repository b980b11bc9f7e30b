//! [`SecretTokens`] checks: secrets look as the port promises, differ each time, and hash
//! stably to something other than themselves.

use crate::ports::SecretTokens;

/// Runs every [`SecretTokens`] check on `secrets`.
pub fn secret_tokens_contract(secrets: &dyn SecretTokens) {
    let first = secrets.generate();
    let second = secrets.generate();
    for token in [&first, &second] {
        assert_eq!(token.raw.len(), 43, "32 bytes in base64url without padding");
        assert!(
            token
                .raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "base64url alphabet"
        );
        assert_eq!(
            secrets.hash(&token.raw),
            token.hash,
            "the stored hash is the hash of the raw secret"
        );
        assert_ne!(token.hash.as_str(), token.raw, "only the hash is stored");
    }
    assert_ne!(first.raw, second.raw, "each secret is new");
    assert_ne!(first.hash, second.hash);
    assert_eq!(
        secrets.hash("presented"),
        secrets.hash("presented"),
        "a presented secret hashes the same each time"
    );
    assert_ne!(secrets.hash("presented"), secrets.hash("Presented"));
}
