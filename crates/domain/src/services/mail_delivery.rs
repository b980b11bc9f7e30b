//! Delivery of queued mail, with retries and exponential backoff.

use std::sync::Arc;

use chrono::Duration;

use crate::error::InfraError;
use crate::ports::{Clock, DeliveryError, MailSender, Outbox};

/// How persistent delivery is.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts before a message is abandoned.
    pub max_attempts: u32,
    /// Delay after the first failure; doubled after each further one.
    pub base_delay: Duration,
    /// Longest delay between attempts.
    pub max_delay: Duration,
    /// How long a claimed message stays reserved for its worker.
    pub lease: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base_delay: Duration::seconds(5),
            max_delay: Duration::hours(1),
            lease: Duration::minutes(2),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempts + 1`, after `attempts` failures (at least one).
    pub fn backoff(&self, attempts: u32) -> Duration {
        let exponent = attempts.saturating_sub(1).min(20);
        let factor = 1_i32 << exponent;
        (self.base_delay * factor).min(self.max_delay)
    }
}

/// What one delivery round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Messages delivered.
    pub sent: u32,
    /// Messages that failed and will be retried.
    pub retried: u32,
    /// Messages abandoned.
    pub abandoned: u32,
}

/// The outbox worker's use case.
///
/// Mail enters the outbox in the transaction that causes it; [`MailDelivery::run_once`]
/// claims what is due, sends it, and marks it sent or schedules a retry with backoff.
///
/// ```
/// use std::sync::Arc;
/// use chrono::Utc;
/// use roster_domain::memory::{MemoryStore, TestMailbox};
/// use roster_domain::ports::ManualClock;
/// use roster_domain::services::{MailDelivery, RetryPolicy};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = MemoryStore::new();
/// let mailbox = TestMailbox::new();
/// let delivery = MailDelivery::new(
///     Arc::new(store.outbox()),
///     Arc::new(mailbox.clone()),
///     Arc::new(ManualClock::new(Utc::now())),
///     RetryPolicy::default(),
/// );
/// // Nothing queued yet: nothing to send.
/// let report = delivery.run_once(10).await?;
/// assert_eq!(report.sent, 0);
/// assert!(mailbox.sent().is_empty());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MailDelivery {
    outbox: Arc<dyn Outbox>,
    sender: Arc<dyn MailSender>,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
}

impl MailDelivery {
    /// Wires the service.
    pub fn new(
        outbox: Arc<dyn Outbox>,
        sender: Arc<dyn MailSender>,
        clock: Arc<dyn Clock>,
        policy: RetryPolicy,
    ) -> Self {
        Self {
            outbox,
            sender,
            clock,
            policy,
        }
    }

    /// Claims due messages (up to `batch`) and tries each once.
    ///
    /// # Errors
    /// [`InfraError`] when the outbox cannot be read or updated.
    pub async fn run_once(&self, batch: u32) -> Result<DeliveryReport, InfraError> {
        let now = self.clock.now();
        let mut report = DeliveryReport::default();
        for queued in self.outbox.claim_due(now, batch, self.policy.lease).await? {
            match self.sender.send(&queued.mail).await {
                Ok(()) => {
                    self.outbox.mark_sent(queued.id, self.clock.now()).await?;
                    report.sent += 1;
                }
                Err(error) => {
                    let attempts = queued.attempts + 1;
                    let retry_at = match &error {
                        DeliveryError::Transient(_) if attempts < self.policy.max_attempts => {
                            Some(self.clock.now() + self.policy.backoff(attempts))
                        }
                        _ => None,
                    };
                    tracing::warn!(
                        mail_id = %queued.id,
                        template = queued.mail.kind.template(),
                        attempts,
                        will_retry = retry_at.is_some(),
                        %error,
                        "mail delivery failed"
                    );
                    self.outbox
                        .mark_failed(queued.id, &error.to_string(), retry_at)
                        .await?;
                    if retry_at.is_some() {
                        report.retried += 1;
                    } else {
                        report.abandoned += 1;
                    }
                }
            }
        }
        Ok(report)
    }
}
