//! [`TestPasswordHasher`]: fast and insecure, for tests only.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use crate::error::InfraError;
use crate::ports::PasswordHasher;
use crate::user::{Password, PasswordAttempt, PasswordHash};

/// The scheme prefix of a [`TestPasswordHasher`] hash: no real hasher produces it, so such a
/// hash is recognised at once if it ever leaks out of a test.
pub const TEST_HASH_PREFIX: &str = "$test-insecure$";

/// A password hasher for tests: **not for production**.
///
/// It salts each hash and verifies a password only against its own hash, like bcrypt, but
/// uses a fast, non-cryptographic 128-bit digest (two SipHash runs with fixed keys), so that
/// tests do not spend seconds in bcrypt. A stored hash looks like
/// `$test-insecure$<salt>$<digest>`. Comparison is constant-time and an absent hash still
/// costs one digest, as the port requires.
///
/// ```
/// use roster_domain::memory::TestPasswordHasher;
/// use roster_domain::ports::PasswordHasher;
/// use roster_domain::user::{Password, PasswordAttempt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let hasher = TestPasswordHasher::new();
/// let password = Password::parse("Correct-Horse-42", &[]).unwrap();
/// let hash = hasher.hash(&password).await.unwrap();
/// assert!(hash.as_str().starts_with("$test-insecure$"));
/// let right = PasswordAttempt::new("Correct-Horse-42");
/// let wrong = PasswordAttempt::new("Wrong-Horse-42");
/// assert!(hasher.verify(&right, Some(&hash)).await.unwrap());
/// assert!(!hasher.verify(&wrong, Some(&hash)).await.unwrap());
/// assert!(!hasher.verify(&right, None).await.unwrap());
/// # }
/// ```
#[derive(Debug, Default)]
pub struct TestPasswordHasher {
    salts: AtomicU64,
}

impl TestPasswordHasher {
    /// A hasher whose salts count up from 1.
    pub fn new() -> Self {
        Self::default()
    }
}

/// 128 bits of SipHash over `parts`, hex-encoded. Not a cryptographic hash.
pub(super) fn digest(parts: &[&str]) -> String {
    let run = |domain: u8| {
        let mut h = DefaultHasher::new();
        domain.hash(&mut h);
        parts.hash(&mut h);
        h.finish()
    };
    format!("{:016x}{:016x}", run(1), run(2))
}

/// Compares without stopping at the first difference.
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[async_trait]
impl PasswordHasher for TestPasswordHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, InfraError> {
        let salt = format!("{:016x}", self.salts.fetch_add(1, Ordering::Relaxed) + 1);
        let digest = digest(&[&salt, password.expose()]);
        Ok(PasswordHash::new(format!(
            "{TEST_HASH_PREFIX}{salt}${digest}"
        )))
    }

    async fn verify<'a>(
        &self,
        attempt: &PasswordAttempt,
        hash: Option<&'a PasswordHash>,
    ) -> Result<bool, InfraError> {
        let parsed = hash.and_then(|h| {
            let rest = h.as_str().strip_prefix(TEST_HASH_PREFIX)?;
            rest.split_once('$')
        });
        let Some((salt, expected)) = parsed else {
            // Same work as a real check, then "no": timing tells nothing.
            let _ = digest(&["0000000000000000", attempt.expose()]);
            return Ok(false);
        };
        let actual = digest(&[salt, attempt.expose()]);
        Ok(constant_time_eq(actual.as_bytes(), expected.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_password_hashes_differently_each_time_and_verifies_against_both() {
        let hasher = TestPasswordHasher::new();
        let password = Password::parse("Correct-Horse-42", &[]).unwrap();
        let first = hasher.hash(&password).await.unwrap();
        let second = hasher.hash(&password).await.unwrap();
        assert_ne!(first, second, "salted");
        assert!(!first.as_str().contains("Correct-Horse-42"));
        let attempt = PasswordAttempt::new("Correct-Horse-42");
        assert!(hasher.verify(&attempt, Some(&first)).await.unwrap());
        assert!(hasher.verify(&attempt, Some(&second)).await.unwrap());
    }

    #[tokio::test]
    async fn a_hash_of_another_scheme_or_a_tampered_one_does_not_verify() {
        let hasher = TestPasswordHasher::new();
        let attempt = PasswordAttempt::new("Correct-Horse-42");
        let bcrypt = PasswordHash::new("$2b$12$abcdefghijklmnopqrstuuSomethingThatLooksLikeBcrypt");
        assert!(!hasher.verify(&attempt, Some(&bcrypt)).await.unwrap());
        let real = hasher
            .hash(&Password::parse("Correct-Horse-42", &[]).unwrap())
            .await
            .unwrap();
        let tampered = PasswordHash::new(
            real.as_str()
                .replace("$0000000000000001$", "$0000000000000002$"),
        );
        assert_ne!(tampered, real);
        assert!(!hasher.verify(&attempt, Some(&tampered)).await.unwrap());
    }
}
