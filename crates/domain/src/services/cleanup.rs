//! The cleanup job: removes pending accounts whose confirmation ran out, expired one-time
//! tokens and dead sessions, one instance at a time.

use std::sync::Arc;

use chrono::Duration;

use crate::error::InfraError;
use crate::ports::{CleanupCutoffs, CleanupReport, Clock, Maintenance};

/// The lease name of the cleanup job.
pub const CLEANUP_JOB: &str = "cleanup";

/// Settings of [`Cleanup`].
#[derive(Debug, Clone, Copy)]
pub struct CleanupConfig {
    /// A pending account older than this, with no unexpired confirmation token, is deleted.
    pub confirmation_ttl: Duration,
    /// How long a revoked or ended session is kept before it is deleted.
    pub session_grace: Duration,
    /// How long one run holds the job's lease: the run interval, so that of several
    /// instances one runs the job per interval.
    pub lease: Duration,
}

/// The cleanup use case.
///
/// Each run takes the job's lease first, so that of several instances one does the work.
///
/// ```
/// use std::sync::Arc;
/// use chrono::{Duration, Utc};
/// use roster_domain::memory::MemoryStore;
/// use roster_domain::ports::ManualClock;
/// use roster_domain::services::{Cleanup, CleanupConfig};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = MemoryStore::new();
/// let clock = Arc::new(ManualClock::new(Utc::now()));
/// let config = CleanupConfig {
///     confirmation_ttl: Duration::hours(24),
///     session_grace: Duration::days(7),
///     lease: Duration::hours(1),
/// };
/// let here = Cleanup::new(Arc::new(store.maintenance()), clock.clone(), config, "here".into());
/// let there = Cleanup::new(Arc::new(store.maintenance()), clock.clone(), config, "there".into());
/// assert!(here.run_once().await?.is_some(), "took the lease and cleaned up");
/// assert!(there.run_once().await?.is_none(), "the lease is taken for an hour");
/// clock.advance(Duration::hours(1));
/// assert!(there.run_once().await?.is_some());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Cleanup {
    maintenance: Arc<dyn Maintenance>,
    clock: Arc<dyn Clock>,
    config: CleanupConfig,
    holder: String,
}

impl Cleanup {
    /// Wires the service; `holder` names this instance in the job lease.
    pub fn new(
        maintenance: Arc<dyn Maintenance>,
        clock: Arc<dyn Clock>,
        config: CleanupConfig,
        holder: String,
    ) -> Self {
        Self {
            maintenance,
            clock,
            config,
            holder,
        }
    }

    /// One run: takes the job lease, then deletes what is stale. `None` when another
    /// instance holds the lease (it runs the job).
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    pub async fn run_once(&self) -> Result<Option<CleanupReport>, InfraError> {
        let now = self.clock.now();
        let until = now + self.config.lease;
        if !self
            .maintenance
            .try_lease(CLEANUP_JOB, &self.holder, now, until)
            .await?
        {
            return Ok(None);
        }
        let report = self
            .maintenance
            .cleanup(CleanupCutoffs {
                now,
                pending_created_before: now - self.config.confirmation_ttl,
                sessions_dead_before: now - self.config.session_grace,
            })
            .await?;
        Ok(Some(report))
    }
}
