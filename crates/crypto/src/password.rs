//! bcrypt password hashing on tokio's blocking pool, behind a semaphore.

use std::fmt;
use std::num::NonZeroUsize;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use roster_domain::InfraError;
use roster_domain::ports::PasswordHasher;
use roster_domain::user::{MAX_PASSWORD_BYTES, Password, PasswordAttempt, PasswordHash};
use tokio::sync::{OnceCell, Semaphore};

/// Lowest bcrypt cost accepted.
pub const MIN_COST: u32 = 4;
/// Highest bcrypt cost accepted.
pub const MAX_COST: u32 = 31;

/// The prefix of the hashes this adapter writes.
const SCHEME_PREFIX: &str = "$2b$";

/// What the dummy hash is a hash of. Its value does not matter: verification against the
/// dummy hash always answers `false`, whatever the attempt.
const DUMMY_PASSWORD: &str = "roster-dummy-password-for-timing";

/// Why a [`BcryptHasher`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HasherConfigError {
    /// The cost is outside bcrypt's range.
    #[error("bcrypt cost must be between {MIN_COST} and {MAX_COST}, got {0}")]
    CostOutOfRange(u32),
    /// Zero concurrent hashes would never hash anything.
    #[error("bcrypt concurrency must be at least 1")]
    NoConcurrency,
}

/// Why hashing refused a password. Kept as the source of an [`InfraError`].
#[derive(Debug, thiserror::Error)]
enum HashingError {
    #[error("password is {0} bytes, over bcrypt's limit of 72; it is refused, not truncated")]
    TooLong(usize),
    #[error("bcrypt failed")]
    Bcrypt(#[from] bcrypt::BcryptError),
    #[error("the blocking hashing task did not complete")]
    Join(#[from] tokio::task::JoinError),
    #[error("the hashing semaphore is closed")]
    Closed(#[from] tokio::sync::AcquireError),
}

impl From<HashingError> for InfraError {
    fn from(error: HashingError) -> Self {
        InfraError::unexpected(error)
    }
}

/// [`PasswordHasher`] with bcrypt.
///
/// Cheap to clone: clones share the semaphore, the queue counter and the dummy hash.
#[derive(Clone)]
pub struct BcryptHasher {
    cost: u32,
    permits: usize,
    semaphore: Arc<Semaphore>,
    /// Hashes waiting for a permit or running.
    depth: Arc<AtomicUsize>,
    /// A hash of [`DUMMY_PASSWORD`] at `cost`, computed on first need (or by `warm_up`).
    dummy: Arc<OnceCell<String>>,
}

impl fmt::Debug for BcryptHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BcryptHasher")
            .field("cost", &self.cost)
            .field("permits", &self.permits)
            .field("queue_depth", &self.queue_depth())
            .finish_non_exhaustive()
    }
}

/// Counts a hash from the moment it asks for a permit until its blocking work ends (even if
/// the caller's future was dropped meanwhile: the guard travels with the blocking task).
struct DepthGuard(Arc<AtomicUsize>);

impl DepthGuard {
    fn enter(depth: &Arc<AtomicUsize>) -> Self {
        depth.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(depth))
    }
}

impl Drop for DepthGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl BcryptHasher {
    /// A hasher with this cost, running at most one hash per available core at a time.
    ///
    /// # Errors
    /// [`HasherConfigError::CostOutOfRange`] unless `4 <= cost <= 31`.
    pub fn new(cost: u32) -> Result<Self, HasherConfigError> {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        Self::with_concurrency(cost, cores)
    }

    /// A hasher with this cost, running at most `permits` hashes at a time.
    ///
    /// # Errors
    /// [`HasherConfigError`] for a cost outside `4..=31` or zero permits.
    pub fn with_concurrency(cost: u32, permits: usize) -> Result<Self, HasherConfigError> {
        if !(MIN_COST..=MAX_COST).contains(&cost) {
            return Err(HasherConfigError::CostOutOfRange(cost));
        }
        if permits == 0 {
            return Err(HasherConfigError::NoConcurrency);
        }
        Ok(Self {
            cost,
            permits,
            semaphore: Arc::new(Semaphore::new(permits)),
            depth: Arc::new(AtomicUsize::new(0)),
            dummy: Arc::new(OnceCell::new()),
        })
    }

    /// The configured cost.
    pub fn cost(&self) -> u32 {
        self.cost
    }

    /// How many hashes may run at once.
    pub fn concurrency(&self) -> usize {
        self.permits
    }

    /// Hashes and verifications queued or running right now (for metrics).
    pub fn queue_depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    /// Computes the dummy hash now, so that the first unknown login does not pay for it.
    /// Call it once at start; calling it again does nothing.
    ///
    /// # Errors
    /// [`InfraError`] when the hash cannot be computed.
    pub async fn warm_up(&self) -> Result<(), InfraError> {
        self.dummy_hash().await.map(|_| ())
    }

    /// Whether `hash` should be replaced by a fresh one on the next successful login: it is
    /// not a `$2b$` hash of the configured cost (or cannot be read at all).
    pub fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        let encoded = hash.as_str();
        if !encoded.starts_with(SCHEME_PREFIX) {
            return true;
        }
        bcrypt::HashParts::from_str(encoded).map_or(true, |parts| parts.get_cost() != self.cost)
    }

    /// Runs `work` on the blocking pool once a permit is free.
    async fn run_blocking<T, F>(&self, work: F) -> Result<T, HashingError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let guard = DepthGuard::enter(&self.depth);
        let permit = Arc::clone(&self.semaphore).acquire_owned().await?;
        let result = tokio::task::spawn_blocking(move || {
            // Both are released when the work ends, even if the caller stopped waiting.
            let _permit = permit;
            let _guard = guard;
            work()
        })
        .await?;
        Ok(result)
    }

    /// Hashes a plaintext, refusing (never truncating) one over bcrypt's 72-byte limit.
    async fn hash_plain(&self, plain: &str) -> Result<String, HashingError> {
        if plain.len() > MAX_PASSWORD_BYTES {
            return Err(HashingError::TooLong(plain.len()));
        }
        let plain = plain.to_owned();
        let cost = self.cost;
        // `bcrypt::hash`, not `non_truncating_hash`: the latter refuses exactly 72 bytes
        // (it counts the terminating NUL), which our policy allows; the length is checked above.
        Ok(self
            .run_blocking(move || bcrypt::hash(plain, cost))
            .await??)
    }

    async fn dummy_hash(&self) -> Result<&str, InfraError> {
        let dummy = self
            .dummy
            .get_or_try_init(|| async move { self.hash_plain(DUMMY_PASSWORD).await })
            .await?;
        Ok(dummy.as_str())
    }
}

#[async_trait]
impl PasswordHasher for BcryptHasher {
    #[tracing::instrument(skip_all, fields(cost = self.cost))]
    async fn hash(&self, password: &Password) -> Result<PasswordHash, InfraError> {
        Ok(PasswordHash::new(self.hash_plain(password.expose()).await?))
    }

    #[tracing::instrument(skip_all, fields(known = hash.is_some()))]
    async fn verify<'a>(
        &self,
        attempt: &PasswordAttempt,
        hash: Option<&'a PasswordHash>,
    ) -> Result<bool, InfraError> {
        let target = match hash {
            Some(hash) => hash.as_str().to_owned(),
            None => self.dummy_hash().await?.to_owned(),
        };
        let too_long = attempt.expose().len() > MAX_PASSWORD_BYTES;
        // An over-long attempt could only match a truncated hash; it spends the same time on
        // a comparison that cannot matter and is refused.
        let plain = if too_long {
            DUMMY_PASSWORD.to_owned()
        } else {
            attempt.expose().to_owned()
        };
        let matches = self
            .run_blocking(move || bcrypt::verify(plain, &target))
            .await?
            .map_err(HashingError::from)?;
        Ok(matches && hash.is_some() && !too_long)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    const COST: u32 = 4;

    fn hasher() -> BcryptHasher {
        BcryptHasher::new(COST).unwrap()
    }

    fn password(raw: &str) -> Password {
        Password::parse(raw, &[]).unwrap()
    }

    #[tokio::test]
    async fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let hasher = hasher();
        let hash = hasher.hash(&password("Str0ng!pass")).await.unwrap();
        assert!(
            hasher
                .verify(&PasswordAttempt::new("Str0ng!pass"), Some(&hash))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(&PasswordAttempt::new("Str0ng!pasS"), Some(&hash))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(&PasswordAttempt::new(""), Some(&hash))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn hashes_keep_the_2b_prefix_and_the_configured_cost() {
        let hasher = BcryptHasher::new(5).unwrap();
        let hash = hasher.hash(&password("Str0ng!pass")).await.unwrap();
        assert!(hash.as_str().starts_with("$2b$05$"), "{}", hash.as_str());
        assert_eq!(hash.as_str().len(), 60);
        let again = hasher.hash(&password("Str0ng!pass")).await.unwrap();
        assert_ne!(hash, again, "each hash has its own salt");
    }

    #[tokio::test]
    async fn a_password_of_exactly_72_bytes_is_hashed_whole() {
        let hasher = hasher();
        let full = format!("Aa1!{}", "x".repeat(68));
        assert_eq!(full.len(), 72);
        let hash = hasher.hash(&password(&full)).await.unwrap();
        assert!(
            hasher
                .verify(&PasswordAttempt::new(full.clone()), Some(&hash))
                .await
                .unwrap()
        );
        // The last byte counts: a 71-byte prefix does not match.
        let prefix = &full[..71];
        assert!(
            !hasher
                .verify(&PasswordAttempt::new(prefix), Some(&hash))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn an_attempt_over_72_bytes_is_refused_even_if_its_first_72_bytes_match() {
        let hasher = hasher();
        let full = format!("Aa1!{}", "x".repeat(68));
        let hash = hasher.hash(&password(&full)).await.unwrap();
        let longer = format!("{full}yz");
        // Plain bcrypt would truncate `longer` to `full` and say yes.
        assert!(bcrypt::verify(&longer, hash.as_str()).unwrap());
        assert!(
            !hasher
                .verify(&PasswordAttempt::new(longer), Some(&hash))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(&PasswordAttempt::new("x".repeat(500)), None)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn verifying_without_a_hash_answers_false_against_a_dummy_of_the_same_cost() {
        let hasher = BcryptHasher::new(6).unwrap();
        assert!(
            !hasher
                .verify(&PasswordAttempt::new(DUMMY_PASSWORD), None)
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(&PasswordAttempt::new("Str0ng!pass"), None)
                .await
                .unwrap()
        );
        let dummy = hasher.dummy.get().unwrap();
        assert!(dummy.starts_with("$2b$06$"), "{dummy}");
        assert!(!hasher.needs_rehash(&PasswordHash::new(dummy.clone())));
    }

    #[tokio::test]
    async fn an_unknown_login_costs_about_as_much_as_a_wrong_password() {
        let hasher = BcryptHasher::new(6).unwrap();
        hasher.warm_up().await.unwrap();
        let hash = hasher.hash(&password("Str0ng!pass")).await.unwrap();
        let attempt = PasswordAttempt::new("Wr0ng!pass");

        let timed = |hash: Option<PasswordHash>| {
            let hasher = hasher.clone();
            let attempt = attempt.clone();
            async move {
                let mut best = Duration::MAX;
                for _ in 0..5 {
                    let start = Instant::now();
                    assert!(!hasher.verify(&attempt, hash.as_ref()).await.unwrap());
                    best = best.min(start.elapsed());
                }
                best
            }
        };
        let wrong = timed(Some(hash)).await;
        let unknown = timed(None).await;
        // Loose on purpose: both ran one bcrypt of the same cost; neither is a shortcut.
        assert!(
            unknown * 4 > wrong,
            "unknown {unknown:?} vs wrong {wrong:?}"
        );
        assert!(
            wrong * 4 > unknown,
            "unknown {unknown:?} vs wrong {wrong:?}"
        );
    }

    #[tokio::test]
    async fn hashing_a_password_over_72_bytes_is_refused_not_truncated() {
        // The domain's Password cannot be that long, so the guard is reached directly.
        let hasher = hasher();
        let long = format!("Aa1!{}", "x".repeat(69));
        let refused = hasher.hash_plain(&long).await;
        assert!(
            matches!(refused, Err(HashingError::TooLong(73))),
            "{refused:?}"
        );
        assert!(matches!(
            InfraError::from(refused.unwrap_err()),
            InfraError::Unexpected(_)
        ));
        assert_eq!(hasher.queue_depth(), 0);
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_is_an_error_not_a_match() {
        let hasher = hasher();
        let result = hasher
            .verify(&PasswordAttempt::new("x"), Some(&PasswordHash::new("nope")))
            .await;
        assert!(matches!(result, Err(InfraError::Unexpected(_))));
    }

    #[test]
    fn costs_outside_4_to_31_are_refused() {
        assert_eq!(
            BcryptHasher::new(3).unwrap_err(),
            HasherConfigError::CostOutOfRange(3)
        );
        assert_eq!(
            BcryptHasher::new(32).unwrap_err(),
            HasherConfigError::CostOutOfRange(32)
        );
        assert!(BcryptHasher::new(4).is_ok());
        assert!(BcryptHasher::new(31).is_ok());
        assert_eq!(
            BcryptHasher::with_concurrency(10, 0).unwrap_err(),
            HasherConfigError::NoConcurrency
        );
    }

    #[test]
    fn a_hash_of_another_cost_or_scheme_needs_rehashing() {
        let hasher = BcryptHasher::new(12).unwrap();
        let current = "$2b$12$L6Bc/AlTQHyd9liGgGEZyOFLPHNgyxeEPfgYfBCVxJ7JIlwxyVU3u";
        assert!(!hasher.needs_rehash(&PasswordHash::new(current)));
        assert!(hasher.needs_rehash(&PasswordHash::new(bcrypt::hash("Str0ng!pass", 4).unwrap())));
        assert!(hasher.needs_rehash(&PasswordHash::new(
            "$2y$12$L6Bc/AlTQHyd9liGgGEZyOFLPHNgyxeEPfgYfBCVxJ7JIlwxyVU3u"
        )));
        assert!(hasher.needs_rehash(&PasswordHash::new("$argon2id$v=19$m=65536,t=3,p=4$abc")));
    }

    /// On a runtime with a single worker thread (as an actix worker is), a task keeps running
    /// while a slow hash is computed: the hash is not on that thread.
    #[tokio::test(flavor = "current_thread")]
    async fn hashing_never_blocks_the_async_worker_thread() {
        let hasher = BcryptHasher::new(11).unwrap();
        let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counter = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        let worker = std::thread::current().id();
        let hash = hasher.hash(&password("Str0ng!pass")).await.unwrap();
        ticker.abort();
        assert_eq!(std::thread::current().id(), worker);
        assert!(hash.as_str().starts_with("$2b$11$"));
        // A cost-11 hash takes over 50 ms; a blocked worker would not have ticked at all.
        assert!(ticks.load(std::sync::atomic::Ordering::Relaxed) > 10);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_of_hashes_queues_behind_the_semaphore() {
        let hasher = BcryptHasher::with_concurrency(8, 1).unwrap();
        assert_eq!(hasher.queue_depth(), 0);
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let hasher = hasher.clone();
            tasks.push(tokio::spawn(async move {
                hasher.hash(&password("Str0ng!pass")).await
            }));
        }
        // Some of them are waiting for the single permit at some point.
        let mut peak = 0;
        for _ in 0..200 {
            peak = peak.max(hasher.queue_depth());
            if peak > 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for task in tasks {
            assert!(task.await.unwrap().unwrap().as_str().starts_with("$2b$08$"));
        }
        assert!(peak > 1, "peak queue depth {peak}");
        assert_eq!(hasher.queue_depth(), 0);
    }

    #[test]
    fn debug_output_shows_settings_only() {
        let shown = format!("{:?}", hasher());
        assert!(shown.contains("cost: 4"), "{shown}");
    }
}
