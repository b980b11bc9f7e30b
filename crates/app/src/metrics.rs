//! The application's own metrics: connection pool, outbox, password hashing queue, and mail
//! delivery outcomes. Registered beside the HTTP metrics of `roster-http-actix`.

use std::sync::Arc;

use async_trait::async_trait;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use roster_crypto::BcryptHasher;
use roster_domain::services::DeliveryReport;
use roster_http_actix::metrics::{Collector, Metrics};
use roster_persistence_diesel::{Database, DieselOutbox};

/// A `state` label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    /// `open`, `idle` or `max` for the pool; `retry` or `abandoned` for mail failures.
    pub state: &'static str,
}

/// Mail delivery outcomes, counted by the worker.
#[derive(Debug, Clone, Default)]
pub struct MailMetrics {
    sent: Counter,
    failed: Family<StateLabel, Counter>,
}

impl MailMetrics {
    /// Counts one delivery round.
    pub fn record(&self, report: &DeliveryReport) {
        self.sent.inc_by(u64::from(report.sent));
        self.failed
            .get_or_create(&StateLabel { state: "retry" })
            .inc_by(u64::from(report.retried));
        self.failed
            .get_or_create(&StateLabel { state: "abandoned" })
            .inc_by(u64::from(report.abandoned));
    }
}

struct Gauges {
    database: Database,
    outbox: DieselOutbox,
    hasher: Arc<BcryptHasher>,
    pool: Family<StateLabel, Gauge>,
    outbox_pending: Gauge,
    hash_queue: Gauge,
}

#[async_trait]
impl Collector for Gauges {
    async fn collect(&self) {
        let (open, idle, max) = self.database.pool_status();
        for (state, value) in [("open", open), ("idle", idle), ("max", max)] {
            self.pool
                .get_or_create(&StateLabel { state })
                .set(i64::try_from(value).unwrap_or(i64::MAX));
        }
        // A database that is down leaves the last value and must not fail the scrape.
        if let Ok(depth) = self.outbox.depth().await {
            self.outbox_pending.set(depth);
        }
        self.hash_queue
            .set(i64::try_from(self.hasher.queue_depth()).unwrap_or(i64::MAX));
    }
}

/// The full registry: HTTP metrics, the gauges above, and the mail counters the worker feeds.
pub fn build(
    database: Database,
    outbox: DieselOutbox,
    hasher: Arc<BcryptHasher>,
) -> (Metrics, MailMetrics) {
    let mut metrics = Metrics::new();
    let gauges = Gauges {
        database,
        outbox,
        hasher,
        pool: Family::default(),
        outbox_pending: Gauge::default(),
        hash_queue: Gauge::default(),
    };
    let mail = MailMetrics::default();
    let registry = metrics.registry_mut();
    registry.register(
        "db_pool_connections",
        "Database pool connections by state",
        gauges.pool.clone(),
    );
    registry.register(
        "outbox_pending",
        "Mail waiting in the outbox",
        gauges.outbox_pending.clone(),
    );
    registry.register(
        "password_hash_queue",
        "Password hashes running or waiting for a hashing slot",
        gauges.hash_queue.clone(),
    );
    registry.register("mail_sent", "Mail delivered", mail.sent.clone());
    registry.register(
        "mail_failures",
        "Failed mail deliveries by outcome",
        mail.failed.clone(),
    );
    metrics.add_collector(Arc::new(gauges));
    (metrics, mail)
}
