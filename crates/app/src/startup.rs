//! Wiring: adapters into ports, ports into services, services into the HTTP server and jobs.

use std::net::TcpListener;
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use roster_crypto::{BcryptHasher, HmacCursors, JwtAccessTokens, RandomSecretTokens};
use roster_domain::ports::{Clock, SystemClock, UserRepository};
use roster_domain::services::{
    Accounts, AccountsConfig, AccountsPorts, Cleanup, CleanupConfig, MailDelivery, NewAdmin,
    RetryPolicy, Sessions, SessionsPorts, UserListing,
};
use roster_domain::session::SessionPolicy;
use roster_http_actix::rate_limit::{CounterStore, InMemoryCounters, RateLimits, RedisCounters};
use roster_http_actix::{HttpState, Readiness};
use roster_mailer::{Mailer, MailerConfig, Transport};
use roster_persistence_diesel::{
    Database, DatabaseConfig, DieselAuditLog, DieselMaintenance, DieselOutbox,
    DieselSessionRepository, DieselUserDirectory, DieselUserRepository, EmailKeys,
};
use tokio::sync::{Notify, watch};

use crate::jobs::{NotifyingUsers, spawn_cleanup_job, spawn_mail_worker};
use crate::secrets;
use crate::settings::Settings;

/// What tests (or embedders) may swap.
pub struct Overrides {
    /// The clock (tests move time instead of sleeping).
    pub clock: Option<Arc<dyn Clock>>,
    /// The mail transport (tests use an in-memory mailbox).
    pub mail_transport: Option<Transport>,
    /// HTTP worker threads (default: one per core).
    pub workers: Option<usize>,
    /// The outbox retry policy (tests shorten the backoff).
    pub retry_policy: Option<RetryPolicy>,
    /// Whether the mail worker runs (tests stop it to leave mail queued).
    pub mail_worker: bool,
}

impl Default for Overrides {
    fn default() -> Self {
        Self {
            clock: None,
            mail_transport: None,
            workers: None,
            retry_policy: None,
            mail_worker: true,
        }
    }
}

/// How long a revoked or ended session stays before the cleanup job deletes it (support
/// can still see why a session ended).
pub const DEAD_SESSION_GRACE: chrono::Duration = chrono::Duration::days(1);

fn chrono_duration(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// The connected, migrated database.
///
/// # Errors
/// When the URL is unusable or migrations fail.
pub async fn database(settings: &Settings) -> anyhow::Result<Database> {
    let database = Database::connect(
        &DatabaseConfig {
            url: settings.database_url.clone(),
            pool_size: settings.database_pool_size,
            timeout: settings.database_timeout,
        },
        email_keys(settings)?,
    )
    .context("ROSTER_DATABASE_URL")?;
    database.migrate().await.context("running migrations")?;
    database
        .verify_email_keys()
        .await
        .context("ROSTER_EMAIL_ENCRYPTION_KEY")?;
    Ok(database)
}

/// The email keys: the configured (or generated) current key and the previous ones that a
/// rotation still reads.
///
/// # Errors
/// When the secrets file cannot be used or a key is unusable.
pub fn email_keys(settings: &Settings) -> anyhow::Result<EmailKeys> {
    let secrets = secrets::resolve(
        &settings.data_dir,
        settings.jwt_secret.as_deref(),
        settings.email_encryption_key.as_deref(),
    )?;
    EmailKeys::new(
        &secrets.email_encryption_key,
        &settings.email_encryption_old_keys,
    )
    .context("ROSTER_EMAIL_ENCRYPTION_KEY / ROSTER_EMAIL_ENCRYPTION_OLD_KEYS")
}

/// The services of the domain, wired to their adapters.
#[derive(Clone)]
pub struct Services {
    /// Accounts.
    pub accounts: Accounts,
    /// Sessions.
    pub sessions: Sessions,
    /// Mail delivery.
    pub mail_delivery: MailDelivery,
    /// Wakes the mail worker.
    pub mail_notify: Arc<Notify>,
    /// The cleanup job.
    pub cleanup: Cleanup,
    /// The database.
    pub database: Database,
    /// The outbox (for metrics).
    pub outbox: DieselOutbox,
    /// The password hasher (for metrics).
    pub hasher: Arc<BcryptHasher>,
    /// The rate limits in force.
    pub limits: RateLimits,
    /// The JWKS document of the access-token key.
    pub jwks: Arc<serde_json::Value>,
    /// Administration.
    pub administration: roster_domain::services::Administration,
    /// Lists of users.
    pub listing: UserListing,
}

/// Builds the services over a migrated database.
///
/// # Errors
/// When a secret, the hasher or the mailer cannot be set up.
pub async fn services(
    settings: &Settings,
    database: Database,
    overrides: &mut Overrides,
) -> anyhow::Result<Services> {
    let secrets = secrets::resolve(
        &settings.data_dir,
        settings.jwt_secret.as_deref(),
        settings.email_encryption_key.as_deref(),
    )?;
    let clock: Arc<dyn Clock> = overrides
        .clock
        .clone()
        .unwrap_or_else(|| Arc::new(SystemClock));
    let notify = Arc::new(Notify::new());
    let users: Arc<dyn UserRepository> = Arc::new(NotifyingUsers::new(
        Arc::new(DieselUserRepository::new(database.clone())),
        notify.clone(),
    ));
    let hasher = Arc::new(BcryptHasher::new(settings.bcrypt_cost).context("ROSTER_BCRYPT_COST")?);
    // The dummy hash that unknown logins verify against exists before the first request, so
    // the first unknown login costs what every other login costs.
    hasher
        .warm_up()
        .await
        .context("preparing the password hasher")?;
    let secret_tokens = Arc::new(RandomSecretTokens::new());
    let access_tokens = Arc::new(match &settings.jwt_ed25519_key_file {
        Some(path) => {
            let pem = std::fs::read_to_string(path).with_context(|| {
                format!(
                    "ROSTER_JWT_ED25519_KEY_FILE: cannot read {}",
                    path.display()
                )
            })?;
            JwtAccessTokens::ed25519_pem(&pem, &settings.jwt_issuer, &settings.jwt_audience)
                .context("ROSTER_JWT_ED25519_KEY_FILE / ROSTER_JWT_ISSUER / ROSTER_JWT_AUDIENCE")?
        }
        None => JwtAccessTokens::hs256(
            &secrets.jwt_secret,
            &settings.jwt_issuer,
            &settings.jwt_audience,
        )
        .context("ROSTER_JWT_SECRET / ROSTER_JWT_ISSUER / ROSTER_JWT_AUDIENCE")?,
    });
    let jwks = Arc::new(access_tokens.jwks());
    // List cursors are sealed with a key derived from the JWT secret (which every instance
    // shares) under a label of its own; see docs/api.md.
    let listing = UserListing::new(
        Arc::new(DieselUserDirectory::new(database.clone())),
        Arc::new(HmacCursors::derived_from(&secrets.jwt_secret)),
    );
    let accounts = Accounts::new(
        AccountsPorts {
            users: users.clone(),
            hasher: hasher.clone(),
            secrets: secret_tokens.clone(),
            clock: clock.clone(),
        },
        AccountsConfig {
            confirmation_ttl: chrono_duration(settings.confirmation_ttl),
            reset_ttl: chrono_duration(settings.reset_ttl),
        },
    );
    let administration = roster_domain::services::Administration::new(
        roster_domain::services::AdministrationPorts {
            users: users.clone(),
            admin: Arc::new(roster_persistence_diesel::DieselUserAdministration::new(
                database.clone(),
            )),
            hasher: hasher.clone(),
            clock: clock.clone(),
        },
    );
    let sessions = Sessions::new(
        SessionsPorts {
            users,
            sessions: Arc::new(DieselSessionRepository::new(database.clone())),
            audit: Arc::new(DieselAuditLog::new(database.clone())),
            hasher: hasher.clone(),
            access_tokens,
            secrets: secret_tokens,
            clock: clock.clone(),
        },
        SessionPolicy {
            access_ttl: chrono_duration(settings.access_token_ttl),
            refresh_ttl: chrono_duration(settings.refresh_token_ttl),
            max_lifetime: chrono_duration(settings.session_max_lifetime),
        },
        settings.max_sessions,
    );
    let transport = match overrides.mail_transport.take() {
        Some(transport) => transport,
        None => match &settings.smtp_url {
            Some(url) => Transport::from_smtp_url(url).context("ROSTER_SMTP_URL")?,
            None => Transport::file(settings.data_dir.join("outbox")),
        },
    };
    let mailer = Mailer::new(
        MailerConfig {
            public_url: settings.public_url.clone(),
            from: settings.mail_from.clone(),
        },
        transport,
    )
    .context("ROSTER_MAIL_FROM / ROSTER_PUBLIC_URL")?;
    let outbox = DieselOutbox::new(database.clone());
    let mail_delivery = MailDelivery::new(
        Arc::new(outbox.clone()),
        Arc::new(mailer),
        clock.clone(),
        overrides.retry_policy.unwrap_or_default(),
    );
    let cleanup = Cleanup::new(
        Arc::new(DieselMaintenance::new(database.clone())),
        clock.clone(),
        CleanupConfig {
            confirmation_ttl: chrono_duration(settings.confirmation_ttl),
            session_grace: DEAD_SESSION_GRACE,
            lease: chrono_duration(settings.cleanup_interval),
        },
        format!("roster-{}", uuid::Uuid::now_v7()),
    );
    let counters: Arc<dyn CounterStore> = match &settings.redis_url {
        Some(url) => Arc::new(
            RedisCounters::connect(url, &settings.redis_key_prefix)
                .await
                .context("ROSTER_REDIS_URL")?,
        ),
        None => Arc::new(InMemoryCounters::new(clock)),
    };
    let limits = if settings.rate_limits_enabled {
        RateLimits::new(&settings.rate_limits, counters)
    } else {
        RateLimits::off(counters)
    };
    Ok(Services {
        accounts,
        sessions,
        mail_delivery,
        mail_notify: notify,
        cleanup,
        database,
        outbox,
        hasher,
        limits,
        jwks,
        administration,
        listing,
    })
}

struct DatabaseReadiness(Database);

#[async_trait]
impl Readiness for DatabaseReadiness {
    async fn ready(&self) -> bool {
        self.0.ping().await.is_ok()
    }
}

/// A built, not yet running, Roster.
pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    services: Services,
    stop_jobs: watch::Sender<bool>,
    jobs: Vec<tokio::task::JoinHandle<()>>,
}

impl Application {
    /// Connects, migrates, bootstraps the admin, binds the listener and starts the jobs.
    ///
    /// # Errors
    /// When any part cannot be set up; the message names the setting at fault.
    pub async fn build(settings: &Settings, mut overrides: Overrides) -> anyhow::Result<Self> {
        let database = database(settings).await?;
        let services = services(settings, database.clone(), &mut overrides).await?;
        if let (Some(email), Some(password)) = (
            &settings.bootstrap_admin_email,
            &settings.bootstrap_admin_password,
        ) {
            let created = services
                .accounts
                .bootstrap_admin(NewAdmin {
                    email: email.clone(),
                    username: None,
                    password: password.clone(),
                })
                .await
                .context("ROSTER_BOOTSTRAP_ADMIN_EMAIL / ROSTER_BOOTSTRAP_ADMIN_PASSWORD")?;
            if let Some(admin) = created {
                tracing::info!(user_id = %admin.id, username = %admin.username, "created the bootstrap ADMIN");
            }
        }
        let (mut metrics, mail_metrics) = crate::metrics::build(
            database.clone(),
            services.outbox.clone(),
            services.hasher.clone(),
        );
        services.limits.register_metrics(metrics.registry_mut());
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("ROSTER_BIND: cannot listen on {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let state = HttpState {
            accounts: services.accounts.clone(),
            sessions: services.sessions.clone(),
            readiness: Arc::new(DatabaseReadiness(database.clone())),
            secure_cookies: settings.is_https(),
            metrics: Arc::new(metrics),
            limits: services.limits.clone(),
            trusted_proxies: settings.trusted_proxies.clone().into(),
            jwks: services.jwks.clone(),
            administration: services.administration.clone(),
            internal_keys: settings.internal_api_keys.clone(),
            listing: services.listing.clone(),
        };
        let workers = overrides.workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
        });
        let server = roster_http_actix::server(listener, state, workers)?;
        let (stop_jobs, stop_rx) = watch::channel(false);
        let mut jobs = vec![spawn_cleanup_job(
            services.cleanup.clone(),
            settings.cleanup_interval,
            stop_rx.clone(),
        )];
        if overrides.mail_worker {
            jobs.push(spawn_mail_worker(
                services.mail_delivery.clone(),
                services.mail_notify.clone(),
                mail_metrics,
                stop_rx,
            ));
        }
        tracing::info!(address = %format!("{}:{port}", settings.bind.ip()), public_url = %settings.public_url, "Roster is listening");
        Ok(Self {
            port,
            server,
            services,
            stop_jobs,
            jobs,
        })
    }

    /// The port the server listens on (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The wired services.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// A handle that stops the server gracefully.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped (through [`Application::handle`]), then stops the
    /// jobs and waits for them.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let outcome = self.server.await;
        let _ = self.stop_jobs.send(true);
        for job in self.jobs {
            let _ = job.await;
        }
        outcome.context("HTTP server")
    }
}
