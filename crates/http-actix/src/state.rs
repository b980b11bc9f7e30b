//! What handlers share: the use-case services and a readiness probe.

use std::sync::Arc;

use async_trait::async_trait;
use ipnet::IpNet;
use roster_domain::services::{Accounts, Sessions, UserListing};

use crate::rate_limit::RateLimits;

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
    /// The rate limits in force.
    pub limits: RateLimits,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<[IpNet]>,
    /// The JWKS document served at `/.well-known/jwks.json`.
    pub jwks: Arc<serde_json::Value>,
    /// Administration of users, roles and tenants; the audit log.
    pub administration: roster_domain::services::Administration,
    /// The internal API's keys (`ROSTER_INTERNAL_API_KEYS`); empty: the internal API
    /// answers 401.
    pub internal_keys: crate::api_key::InternalKeys,
    /// Lists of users.
    pub listing: UserListing,
}
