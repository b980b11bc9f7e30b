//! `spawn_app()` and typed helpers for the journey.

use std::path::PathBuf;
use std::sync::{Arc, Once};
use std::time::Duration;

use chrono::Utc;
use roster_app::settings::Settings;
use roster_app::startup::{Application, Overrides, Services};
use roster_domain::ports::ManualClock;
use roster_mailer::{InMemoryMailbox, Transport};
use roster_persistence_diesel::BackendKind;
use roster_persistence_diesel::testing::TestDatabase;
use serde_json::{Value, json};

pub const PASSWORD: &str = "Str0ng!pass";

static TRACING: Once = Once::new();

fn init_tracing() {
    TRACING.call_once(|| {
        if std::env::var("TEST_LOG").is_ok() {
            roster_app::telemetry::init(
                "info,roster=debug",
                roster_app::settings::LogFormat::Pretty,
            );
        }
    });
}

/// A running Roster with its own database, mailbox and clock.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub mailbox: InMemoryMailbox,
    pub clock: Arc<ManualClock>,
    pub db: Arc<TestDatabase>,
    /// The app's wired services (to run a job once, as `roster cleanup` does).
    pub services: Services,
    handle: actix_web::dev::ServerHandle,
    running: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    data_dir: PathBuf,
}

/// Options for [`spawn_with`].
#[derive(Default)]
pub struct Options {
    pub vars: Vec<(&'static str, String)>,
    pub transport: Option<Transport>,
    /// The database to use (shared with another app); a fresh one by default.
    pub database: Option<Arc<TestDatabase>>,
    /// The clock; a fresh manual clock at the current time by default.
    pub clock: Option<Arc<ManualClock>>,
    /// The outbox retry policy; the default one by default.
    pub retry_policy: Option<roster_domain::services::RetryPolicy>,
    /// Run without the mail worker (mail stays queued).
    pub no_mail_worker: bool,
}

pub async fn spawn_app(kind: BackendKind) -> TestApp {
    spawn_with(kind, Options::default()).await
}

pub async fn spawn_with(kind: BackendKind, options: Options) -> TestApp {
    init_tracing();
    let db = match options.database {
        Some(db) => db,
        None => Arc::new(TestDatabase::create(kind).await),
    };
    let data_dir = std::env::temp_dir().join(format!("roster-e2e-{}", uuid::Uuid::now_v7()));
    let mut vars: Vec<(String, String)> = vec![
        ("ROSTER_CONFIG".into(), String::new()),
        ("ROSTER_BIND".into(), "127.0.0.1:0".into()),
        ("ROSTER_PUBLIC_URL".into(), "http://roster.test".into()),
        ("ROSTER_DATABASE_URL".into(), db.url.clone()),
        ("ROSTER_DATABASE_POOL_SIZE".into(), "4".into()),
        ("ROSTER_DATA_DIR".into(), data_dir.display().to_string()),
        ("ROSTER_BCRYPT_COST".into(), "4".into()),
        ("ROSTER_LOG".into(), "info".into()),
        // Tests log in and register many times from one address; the rate-limit tests turn
        // the limits back on.
        ("ROSTER_RATE_LIMITS".into(), "off".into()),
        // The database's own email key: apps sharing a database read each other's rows.
        ("ROSTER_EMAIL_ENCRYPTION_KEY".into(), db.email_key_base64()),
    ];
    vars.extend(options.vars.into_iter().map(|(k, v)| (k.to_owned(), v)));
    let settings = Settings::from_vars(vars).expect("test settings");
    let mailbox = InMemoryMailbox::new();
    let clock = options
        .clock
        .unwrap_or_else(|| Arc::new(ManualClock::new(Utc::now())));
    let overrides = Overrides {
        clock: Some(clock.clone()),
        mail_transport: Some(
            options
                .transport
                .unwrap_or_else(|| Transport::memory(mailbox.clone())),
        ),
        workers: Some(2),
        retry_policy: options.retry_policy,
        mail_worker: !options.no_mail_worker,
    };
    let app = Application::build(&settings, overrides)
        .await
        .expect("application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let services = app.services().clone();
    let running = Some(tokio::spawn(app.run_until_stopped()));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    TestApp {
        address,
        client,
        mailbox,
        clock,
        db,
        services,
        handle,
        running,
        data_dir,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The problem's `code`, asserting the problem+json shape on the way.
    pub fn code(&self) -> &str {
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{self:?}"
        );
        assert_eq!(self.body["status"], self.status, "{self:?}");
        assert_eq!(self.body["type"], "about:blank");
        self.body["code"].as_str().unwrap_or_default()
    }
}

pub async fn read(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Reply {
        status,
        headers,
        body,
    }
}

impl TestApp {
    /// Stops the server and its jobs and waits until they have stopped, as a process that
    /// exits would.
    pub async fn shut_down(mut self) {
        self.handle.stop(false).await;
        if let Some(running) = self.running.take() {
            let _ = running.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        read(
            self.client
                .post(self.url(path))
                .json(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        read(request.send().await.unwrap()).await
    }

    pub async fn register(&self, email: &str, password: &str) -> Reply {
        self.post(
            "/api/auth/register",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// The token of the confirmation mail sent to `email`.
    pub async fn confirmation_token(&self, email: &str) -> String {
        let mail = self
            .mailbox
            .next_for(email, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("no mail to {email}"));
        let link = mail.confirmation_link().expect("a confirmation link");
        assert!(
            link.starts_with("http://roster.test/confirm?token="),
            "{link}"
        );
        mail.confirmation_token().expect("a token")
    }

    pub async fn confirm(&self, token: &str) -> Reply {
        self.post("/api/auth/confirm", &json!({"token": token}))
            .await
    }

    pub async fn login(&self, login: &str, password: &str) -> Reply {
        self.post(
            "/api/auth/login",
            &json!({"login": login, "password": password}),
        )
        .await
    }

    /// Registers, confirms and logs in; returns the access token.
    pub async fn active_user(&self, email: &str) -> String {
        assert_eq!(self.register(email, PASSWORD).await.status, 201);
        let token = self.confirmation_token(email).await;
        assert_eq!(self.confirm(&token).await.status, 200);
        let login = self.login(email, PASSWORD).await;
        assert_eq!(login.status, 200, "{login:?}");
        login.body["data"]["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// Generates one test per backend from `async fn name(kind: BackendKind)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(roster_persistence_diesel::BackendKind::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(roster_persistence_diesel::BackendKind::Postgres).await;
                }
            )*
        }
    };
}
