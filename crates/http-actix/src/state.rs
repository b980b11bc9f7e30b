//! What handlers share: the use-case services and a readiness probe.

use std::sync::Arc;

use async_trait::async_trait;
use roster_domain::services::{Accounts, Sessions};

/// Whether the service can do its work now (the database answers).
#[async_trait]
pub trait Readiness: Send + Sync {
    /// `true` when ready.
    async fn ready(&self) -> bool;
}

/// Everything the routes need.
#[derive(Clone)]
pub struct HttpState {
    /// Registration and confirmation.
    pub accounts: Accounts,
    /// Login and authentication.
    pub sessions: Sessions,
    /// Readiness probe for `/ready`.
    pub readiness: Arc<dyn Readiness>,
    /// Whether cookies get `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// Prometheus metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
}
