//! [`TestSecretTokens`]: deterministic secrets, for tests only.

use std::sync::atomic::{AtomicU64, Ordering};

use super::hasher::digest;
use crate::ports::SecretTokens;
use crate::token::{GeneratedToken, TokenHash};

/// Secret tokens for tests: **not for production**, they are predictable.
///
/// The n-th secret of an instance is `test-secret-` followed by n in 31 digits (43
/// characters, the length of a real one), so test runs are reproducible. Hashes are stable
/// and differ from the secret, as the port requires, but come from a fast, non-cryptographic
/// digest.
///
/// ```
/// use roster_domain::memory::TestSecretTokens;
/// use roster_domain::ports::SecretTokens;
///
/// let secrets = TestSecretTokens::new();
/// let first = secrets.generate();
/// assert_eq!(first.raw, "test-secret-0000000000000000000000000000001");
/// assert_eq!(secrets.hash(&first.raw), first.hash);
/// assert_ne!(secrets.generate().hash, first.hash);
/// ```
#[derive(Debug, Default)]
pub struct TestSecretTokens {
    issued: AtomicU64,
}

impl TestSecretTokens {
    /// A generator whose secrets count up from 1.
    pub fn new() -> Self {
        Self::default()
    }
}

impl SecretTokens for TestSecretTokens {
    fn generate(&self) -> GeneratedToken {
        let n = self.issued.fetch_add(1, Ordering::Relaxed) + 1;
        let raw = format!("test-secret-{n:031}");
        let hash = self.hash(&raw);
        GeneratedToken { raw, hash }
    }

    fn hash(&self, raw: &str) -> TokenHash {
        TokenHash::new(digest(&["secret-token", raw]))
    }
}
