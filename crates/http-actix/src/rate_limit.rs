//! Rate limiting: the contract's rules, counted in a [`CounterStore`] (in memory for one
//! instance, Redis for several), and the client IP behind trusted proxies.
//!
//! Every request counts, whether it succeeds or not and whether the account exists or not,
//! so a limit says nothing about which accounts exist.
//!
//! # Applying a rule to a route
//!
//! * Per client IP, before the body is read: wrap the resource,
//!   `resource(path, "POST").route(...).wrap(from_fn(per_ip(Rule::ResetIp)))`.
//! * Per something in the body (a login, an email): call
//!   `state.limits.check(Rule::ResetRequest, &email).await?` at the top of the handler, before
//!   any other work. The key is normalised (trimmed, lowercased) and hashed before it is
//!   stored, so no address ends up in Redis.
//!
//! A limited request gets 429 `rate_limited` with `Retry-After` seconds.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, ResponseError, web};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::future::LocalBoxFuture;
pub use ipnet::IpNet;
use roster_domain::InfraError;
use roster_domain::ports::Clock;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::HttpState;

/// The rules of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// `POST /api/auth/register` (and admin creation) per client IP.
    Register,
    /// `POST /api/auth/login` per submitted login.
    LoginLogin,
    /// `POST /api/auth/login` per client IP.
    LoginIp,
    /// Password-reset request per email.
    ResetRequest,
    /// Password-reset request and confirm per client IP.
    ResetIp,
    /// Confirm and resend-confirmation per client IP.
    ConfirmIp,
}

impl Rule {
    /// Every rule.
    pub const ALL: [Self; 6] = [
        Self::Register,
        Self::LoginLogin,
        Self::LoginIp,
        Self::ResetRequest,
        Self::ResetIp,
        Self::ConfirmIp,
    ];

    /// The rule's name (`login_ip`); its variable is `ROSTER_RATE_LIMIT_` + the name in upper
    /// case.
    pub fn name(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::LoginLogin => "login_login",
            Self::LoginIp => "login_ip",
            Self::ResetRequest => "reset_request",
            Self::ResetIp => "reset_ip",
            Self::ConfirmIp => "confirm_ip",
        }
    }

    /// The contract's default.
    pub fn default_limit(self) -> Limit {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        match self {
            Self::Register => Limit::new(10, minutes(60)),
            Self::LoginLogin => Limit::new(5, minutes(15)),
            Self::LoginIp => Limit::new(30, minutes(15)),
            Self::ResetRequest => Limit::new(3, minutes(24 * 60)),
            Self::ResetIp => Limit::new(3, minutes(15)),
            Self::ConfirmIp => Limit::new(10, minutes(15)),
        }
    }
}

/// At most `max` requests per `period` (a fixed window that starts with the first request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Requests allowed in a window.
    pub max: u32,
    /// The window.
    pub period: Duration,
}

impl Limit {
    /// A limit.
    pub fn new(max: u32, period: Duration) -> Self {
        Self { max, period }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}s", self.max, self.period.as_secs())
    }
}

impl FromStr for Limit {
    type Err = String;

    /// `N/PERIOD` with PERIOD an optional count and a unit `s`, `m` or `h`: `5/15m`, `10/h`,
    /// `3/24h`, `100/30s`.
    fn from_str(raw: &str) -> Result<Self, String> {
        let expected = || format!("expected N/PERIOD such as 5/15m (s, m or h), got {raw:?}");
        let (max, period) = raw.trim().split_once('/').ok_or_else(expected)?;
        let max: u32 = max.trim().parse().map_err(|_| expected())?;
        let period = period.trim();
        let unit = period.chars().last().ok_or_else(expected)?;
        let count = &period[..period.len() - unit.len_utf8()];
        let count: u64 = if count.is_empty() {
            1
        } else {
            count.parse().map_err(|_| expected())?
        };
        let seconds = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(expected()),
        };
        if max == 0 || count == 0 || count > 10 * 365 * 24 {
            return Err(expected());
        }
        Ok(Self::new(max, Duration::from_secs(count * seconds)))
    }
}

/// Whether a request is within its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go on.
    Allowed,
    /// Refuse; the window ends in this many seconds.
    Limited {
        /// Seconds until the window ends (at least 1).
        retry_after: u64,
    },
}

/// Where the counters live.
#[async_trait]
pub trait CounterStore: Send + Sync {
    /// Counts one request against `key` in a window of `limit.period` and says whether it is
    /// within `limit.max`. MUST count atomically: concurrent hits on one key are all counted.
    ///
    /// # Errors
    /// [`InfraError`] when the store cannot be reached.
    async fn hit(&self, key: &str, limit: Limit) -> Result<Verdict, InfraError>;
}

fn retry_after(remaining: Duration) -> u64 {
    remaining.as_secs() + u64::from(remaining.subsec_nanos() > 0)
}

/// Counters in this process: fixed windows measured on the [`Clock`], so tests move time.
pub struct InMemoryCounters {
    clock: Arc<dyn Clock>,
    windows: Mutex<HashMap<String, (DateTime<Utc>, u32)>>,
}

/// Past this many keys, windows that ended are dropped.
const PRUNE_AT: usize = 10_000;

impl InMemoryCounters {
    /// Empty counters on `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            windows: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl CounterStore for InMemoryCounters {
    async fn hit(&self, key: &str, limit: Limit) -> Result<Verdict, InfraError> {
        let now = self.clock.now();
        let period = chrono::Duration::from_std(limit.period).unwrap_or(chrono::Duration::MAX);
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if windows.len() >= PRUNE_AT {
            windows.retain(|_, (ends_at, _)| *ends_at > now);
        }
        let window = windows.entry(key.to_owned()).or_insert((now + period, 0));
        if window.0 <= now {
            *window = (now + period, 0);
        }
        window.1 = window.1.saturating_add(1);
        if window.1 <= limit.max {
            Ok(Verdict::Allowed)
        } else {
            let remaining = (window.0 - now).to_std().unwrap_or(Duration::ZERO);
            Ok(Verdict::Limited {
                retry_after: retry_after(remaining).max(1),
            })
        }
    }
}

/// Counters in Redis, shared by every instance: one key per rule and subject, incremented
/// and given its expiry by one Lua script, so the window is atomic across instances.
#[derive(Clone)]
pub struct RedisCounters {
    connection: redis::aio::ConnectionManager,
    prefix: String,
    script: Arc<redis::Script>,
}

/// INCR, and on the first hit PEXPIRE; answers the count and the window's remaining
/// milliseconds. A key that somehow lost its expiry gets one again.
const HIT_SCRIPT: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
";

impl RedisCounters {
    /// Connects to `url`; keys start with `prefix`.
    ///
    /// # Errors
    /// When the URL is malformed or Redis does not answer.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, InfraError> {
        let client = redis::Client::open(url).map_err(InfraError::unexpected)?;
        let connection = redis::aio::ConnectionManager::new(client)
            .await
            .map_err(InfraError::unavailable)?;
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
            script: Arc::new(redis::Script::new(HIT_SCRIPT)),
        })
    }
}

#[async_trait]
impl CounterStore for RedisCounters {
    async fn hit(&self, key: &str, limit: Limit) -> Result<Verdict, InfraError> {
        let mut connection = self.connection.clone();
        let period_ms = u64::try_from(limit.period.as_millis()).unwrap_or(u64::MAX);
        let (count, ttl_ms): (u64, i64) = self
            .script
            .key(format!("{}{key}", self.prefix))
            .arg(period_ms)
            .invoke_async(&mut connection)
            .await
            .map_err(InfraError::unavailable)?;
        if count <= u64::from(limit.max) {
            Ok(Verdict::Allowed)
        } else {
            let remaining = Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0));
            Ok(Verdict::Limited {
                retry_after: retry_after(remaining).max(1),
            })
        }
    }
}

/// The rules in force and where they count. Cheap to clone.
#[derive(Clone)]
pub struct RateLimits {
    limits: Option<Arc<HashMap<Rule, Limit>>>,
    store: Arc<dyn CounterStore>,
    refusals: Family<RuleLabel, Counter>,
}

/// The `rule` label of `roster_rate_limited_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct RuleLabel {
    /// The rule's name (`login_ip`).
    pub rule: &'static str,
}

impl RateLimits {
    /// Every rule at `limits` (the contract's default for a rule not given), counted in
    /// `store`.
    pub fn new(limits: &[(Rule, Limit)], store: Arc<dyn CounterStore>) -> Self {
        let mut all: HashMap<Rule, Limit> =
            Rule::ALL.iter().map(|r| (*r, r.default_limit())).collect();
        all.extend(limits.iter().copied());
        Self {
            limits: Some(Arc::new(all)),
            store,
            refusals: Family::default(),
        }
    }

    /// No limits at all (`ROSTER_RATE_LIMITS=off`).
    pub fn off(store: Arc<dyn CounterStore>) -> Self {
        Self {
            limits: None,
            store,
            refusals: Family::default(),
        }
    }

    /// Registers `roster_rate_limited_total{rule}`, the refusals by rule.
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register(
            "rate_limited",
            "Requests refused by a rate limit",
            self.refusals.clone(),
        );
    }

    /// Counts a request against `rule` for `subject` (an IP, a login, an email) and refuses
    /// it once the limit is exceeded.
    ///
    /// When the store cannot be reached the request is let through (and the failure logged):
    /// an outage of Redis must not take logins down with it.
    ///
    /// # Errors
    /// 429 `rate_limited` with `Retry-After`.
    pub async fn check(&self, rule: Rule, subject: &str) -> Result<(), ApiError> {
        let Some(limits) = &self.limits else {
            return Ok(());
        };
        let limit = limits
            .get(&rule)
            .copied()
            .unwrap_or_else(|| rule.default_limit());
        let digest = Sha256::digest(subject.trim().to_lowercase().as_bytes());
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        let key = format!("{}:{hex}", rule.name());
        match self.store.hit(&key, limit).await {
            Ok(Verdict::Allowed) => Ok(()),
            Ok(Verdict::Limited { retry_after }) => {
                tracing::info!(rule = rule.name(), "rate limited");
                self.refusals
                    .get_or_create(&RuleLabel { rule: rule.name() })
                    .inc();
                Err(ApiError::rate_limited(retry_after))
            }
            Err(error) => {
                tracing::error!(rule = rule.name(), %error, "rate-limit store failed; request let through");
                Ok(())
            }
        }
    }
}

/// The client's address: the peer, unless the peer is a trusted proxy; then the right-most
/// address of `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => client = ip,
            Ok(ip) => return Some(ip),
            // A hop we cannot read: trust stops here, at the last proxy we know.
            Err(_) => return Some(client),
        }
    }
    Some(client)
}

/// Parses `ROSTER_TRUSTED_PROXIES`: a comma list of IPs and CIDRs.
///
/// # Errors
/// Names the entry that is neither.
pub fn parse_trusted_proxies(raw: &str) -> Result<Vec<IpNet>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|entry| {
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{entry:?} is neither an IP address nor a CIDR"))
        })
        .collect()
}

/// The client IP of a request as text, as the rules and audit events see it.
pub(crate) fn client_ip_text(req: &HttpRequest) -> Option<String> {
    let trusted = req
        .app_data::<web::Data<HttpState>>()
        .map(|s| s.trusted_proxies.clone())
        .unwrap_or_default();
    client_ip(req, &trusted).map(|ip| ip.to_string())
}

/// A middleware that counts every request to the resource it wraps against `rule` per client
/// IP, before the body is read: `.wrap(from_fn(per_ip(Rule::ResetIp)))`.
pub fn per_ip(
    rule: Rule,
) -> impl Fn(
    ServiceRequest,
    Next<BoxBody>,
) -> LocalBoxFuture<'static, Result<ServiceResponse<BoxBody>, actix_web::Error>>
+ Clone
+ 'static {
    move |req: ServiceRequest, next: Next<BoxBody>| {
        Box::pin(async move {
            let state = req.app_data::<web::Data<HttpState>>().cloned();
            if let Some(state) = state {
                let ip = client_ip_text(req.request()).unwrap_or_default();
                if let Err(refusal) = state.limits.check(rule, &ip).await {
                    return Ok(req.into_response(refusal.error_response()));
                }
            }
            next.call(req).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_domain::ports::ManualClock;

    #[test]
    fn limits_parse_with_seconds_minutes_and_hours() {
        assert_eq!(
            "5/15m".parse::<Limit>().unwrap(),
            Limit::new(5, Duration::from_secs(900))
        );
        assert_eq!(
            "10/h".parse::<Limit>().unwrap(),
            Limit::new(10, Duration::from_secs(3600))
        );
        assert_eq!(
            " 3/24h ".parse::<Limit>().unwrap(),
            Limit::new(3, Duration::from_secs(86_400))
        );
        assert_eq!(
            "100/30s".parse::<Limit>().unwrap(),
            Limit::new(100, Duration::from_secs(30))
        );
        for bad in [
            "", "5", "5/", "/15m", "0/1m", "5/0m", "5/15d", "x/1m", "5/1.5m", "-1/1m",
        ] {
            assert!(bad.parse::<Limit>().is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn the_window_refuses_past_its_limit_and_reopens_when_it_ends() {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let store = InMemoryCounters::new(clock.clone());
        let limit = Limit::new(2, Duration::from_secs(60));
        assert_eq!(store.hit("k", limit).await.unwrap(), Verdict::Allowed);
        clock.advance(chrono::Duration::seconds(20));
        assert_eq!(store.hit("k", limit).await.unwrap(), Verdict::Allowed);
        assert_eq!(
            store.hit("k", limit).await.unwrap(),
            Verdict::Limited { retry_after: 40 }
        );
        assert_eq!(store.hit("other", limit).await.unwrap(), Verdict::Allowed);
        clock.advance(chrono::Duration::seconds(40));
        assert_eq!(store.hit("k", limit).await.unwrap(), Verdict::Allowed);
    }

    #[test]
    fn trusted_proxies_parse_as_addresses_and_networks() {
        let nets = parse_trusted_proxies("10.0.0.0/8, 192.168.1.1,::1").unwrap();
        assert_eq!(nets.len(), 3);
        assert!(parse_trusted_proxies("10.0.0.0/8,example.com").is_err());
        assert!(parse_trusted_proxies("").unwrap().is_empty());
    }

    fn request(peer: &str, forwarded: &[&str]) -> HttpRequest {
        let mut req = actix_web::test::TestRequest::default().peer_addr(peer.parse().unwrap());
        for value in forwarded {
            req = req.append_header(("x-forwarded-for", *value));
        }
        req.to_http_request()
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy_and_its_rightmost_untrusted_hop_wins() {
        let trusted = parse_trusted_proxies("10.0.0.0/8").unwrap();
        let ip = |peer, fwd: &[&str]| {
            client_ip(&request(peer, fwd), &trusted)
                .unwrap()
                .to_string()
        };
        assert_eq!(
            ip("203.0.113.9:1", &["198.51.100.1"]),
            "203.0.113.9",
            "untrusted peer"
        );
        assert_eq!(ip("10.0.0.2:1", &["198.51.100.1"]), "198.51.100.1");
        assert_eq!(
            ip("10.0.0.2:1", &["1.1.1.1, 198.51.100.1, 10.0.0.5"]),
            "198.51.100.1",
            "a forged left-most entry is ignored"
        );
        assert_eq!(
            ip("10.0.0.2:1", &["1.1.1.1", "198.51.100.1"]),
            "198.51.100.1"
        );
        assert_eq!(ip("10.0.0.2:1", &[]), "10.0.0.2");
        assert_eq!(ip("10.0.0.2:1", &["10.0.0.7"]), "10.0.0.7");
        assert_eq!(ip("10.0.0.2:1", &["garbage, 10.0.0.7"]), "10.0.0.7");
    }
}
