//! Typed settings: defaults, then an optional TOML file (`roster.toml` or `ROSTER_CONFIG`),
//! then `ROSTER_*` environment variables. Every value is checked here, at start, and a bad one
//! stops the start with a message naming the variable.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use roster_http_actix::rate_limit::{IpNet, Limit, Rule, parse_trusted_proxies};

/// A setting that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A variable's value is invalid.
    #[error("{name}: {reason}")]
    Invalid {
        /// The variable (`ROSTER_BCRYPT_COST`).
        name: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// The settings file could not be read.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

fn invalid(name: &str, reason: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        name: name.to_owned(),
        reason: reason.into(),
    }
}

/// Output format of logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// For people.
    Pretty,
    /// One JSON object a line.
    Json,
}

/// Every setting Roster runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `ROSTER_BIND`.
    pub bind: SocketAddr,
    /// `ROSTER_PUBLIC_URL`, without trailing slash.
    pub public_url: String,
    /// `ROSTER_DATABASE_URL`.
    pub database_url: String,
    /// `ROSTER_DATABASE_POOL_SIZE`.
    pub database_pool_size: usize,
    /// `ROSTER_DATABASE_TIMEOUT`.
    pub database_timeout: Duration,
    /// `ROSTER_DATA_DIR`.
    pub data_dir: PathBuf,
    /// `ROSTER_JWT_SECRET`; generated into the data folder when unset.
    pub jwt_secret: Option<String>,
    /// `ROSTER_JWT_ED25519_KEY_FILE`: sign with EdDSA under this PEM PKCS#8 key.
    pub jwt_ed25519_key_file: Option<PathBuf>,
    /// `ROSTER_JWT_ISSUER`.
    pub jwt_issuer: String,
    /// `ROSTER_JWT_AUDIENCE`.
    pub jwt_audience: String,
    /// `ROSTER_ACCESS_TOKEN_TTL`.
    pub access_token_ttl: Duration,
    /// `ROSTER_REFRESH_TOKEN_TTL`.
    pub refresh_token_ttl: Duration,
    /// `ROSTER_SESSION_MAX_LIFETIME`.
    pub session_max_lifetime: Duration,
    /// `ROSTER_MAX_SESSIONS` (0 = unlimited).
    pub max_sessions: u32,
    /// `ROSTER_CONFIRMATION_TTL`.
    pub confirmation_ttl: Duration,
    /// `ROSTER_RESET_TTL`.
    pub reset_ttl: Duration,
    /// `ROSTER_CLEANUP_INTERVAL`.
    pub cleanup_interval: Duration,
    /// `ROSTER_BCRYPT_COST`.
    pub bcrypt_cost: u32,
    /// `ROSTER_EMAIL_ENCRYPTION_KEY` (32 bytes, base64); generated when unset.
    pub email_encryption_key: Option<String>,
    /// `ROSTER_EMAIL_ENCRYPTION_OLD_KEYS`: previous email keys (32 bytes each, base64, comma
    /// separated), still read during a key rotation.
    pub email_encryption_old_keys: Vec<Vec<u8>>,
    /// `ROSTER_SMTP_URL`; unset writes `.eml` files into `<data dir>/outbox`.
    pub smtp_url: Option<String>,
    /// `ROSTER_MAIL_FROM`.
    pub mail_from: String,
    /// `ROSTER_BOOTSTRAP_ADMIN_EMAIL`.
    pub bootstrap_admin_email: Option<String>,
    /// `ROSTER_BOOTSTRAP_ADMIN_PASSWORD`.
    pub bootstrap_admin_password: Option<String>,
    /// `ROSTER_RATE_LIMITS`: `false` when `off`.
    pub rate_limits_enabled: bool,
    /// `ROSTER_RATE_LIMIT_<RULE>` values that were set (the others keep the contract's default).
    pub rate_limits: Vec<(Rule, Limit)>,
    /// `ROSTER_TRUSTED_PROXIES`.
    pub trusted_proxies: Vec<IpNet>,
    /// `ROSTER_REDIS_URL`: rate-limit counters shared by every instance.
    pub redis_url: Option<String>,
    /// `ROSTER_REDIS_KEY_PREFIX`: the start of every Redis key Roster writes.
    pub redis_key_prefix: String,
    /// `ROSTER_LOG`.
    pub log: String,
    /// `ROSTER_LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `ROSTER_INTERNAL_API_KEYS` (`name:key,name:key`); empty: the internal API answers 401.
    pub internal_api_keys: roster_http_actix::api_key::InternalKeys,
}

/// The variables Roster reads, for the file's keys and the unknown-variable warning.
pub const KNOWN: &[&str] = &[
    "ROSTER_CONFIG",
    "ROSTER_BIND",
    "ROSTER_PUBLIC_URL",
    "ROSTER_DATABASE_URL",
    "ROSTER_DATABASE_POOL_SIZE",
    "ROSTER_DATABASE_TIMEOUT",
    "ROSTER_DATA_DIR",
    "ROSTER_JWT_SECRET",
    "ROSTER_JWT_ED25519_KEY_FILE",
    "ROSTER_JWT_ISSUER",
    "ROSTER_JWT_AUDIENCE",
    "ROSTER_ACCESS_TOKEN_TTL",
    "ROSTER_REFRESH_TOKEN_TTL",
    "ROSTER_SESSION_MAX_LIFETIME",
    "ROSTER_MAX_SESSIONS",
    "ROSTER_CONFIRMATION_TTL",
    "ROSTER_RESET_TTL",
    "ROSTER_CLEANUP_INTERVAL",
    "ROSTER_BCRYPT_COST",
    "ROSTER_EMAIL_ENCRYPTION_KEY",
    "ROSTER_EMAIL_ENCRYPTION_OLD_KEYS",
    "ROSTER_SMTP_URL",
    "ROSTER_MAIL_FROM",
    "ROSTER_BOOTSTRAP_ADMIN_EMAIL",
    "ROSTER_BOOTSTRAP_ADMIN_PASSWORD",
    "ROSTER_ADMIN_PASSWORD",
    "ROSTER_LOG",
    "ROSTER_LOG_FORMAT",
    "ROSTER_RATE_LIMITS",
    "ROSTER_RATE_LIMIT_REGISTER",
    "ROSTER_RATE_LIMIT_LOGIN_LOGIN",
    "ROSTER_RATE_LIMIT_LOGIN_IP",
    "ROSTER_RATE_LIMIT_RESET_REQUEST",
    "ROSTER_RATE_LIMIT_RESET_IP",
    "ROSTER_RATE_LIMIT_CONFIRM_IP",
    "ROSTER_TRUSTED_PROXIES",
    "ROSTER_REDIS_URL",
    "ROSTER_REDIS_KEY_PREFIX",
    "ROSTER_INTERNAL_API_KEYS",
];

/// Raw values by variable name, with where each came from.
#[derive(Debug, Default)]
struct Source {
    values: BTreeMap<String, String>,
}

impl Source {
    fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    fn string(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or(default).trim().to_owned()
    }

    fn optional(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| v.trim().to_owned())
    }

    fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
        &self,
        name: &str,
        default: T,
        min: T,
        max: T,
    ) -> Result<T, SettingsError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        match raw.trim().parse::<T>() {
            Ok(v) if v >= min && v <= max => Ok(v),
            _ => Err(invalid(
                name,
                format!("must be a whole number from {min} to {max} (got {raw:?})"),
            )),
        }
    }

    fn seconds(&self, name: &str, default: u64) -> Result<Duration, SettingsError> {
        self.number(name, default, 1, 10 * 365 * 24 * 3600)
            .map(Duration::from_secs)
    }
}

fn load_file(path: &Path, source: &mut Source) -> Result<(), SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|e| SettingsError::File {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| SettingsError::File {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    for (key, value) in table {
        let name = format!("ROSTER_{}", key.to_ascii_uppercase());
        if !KNOWN.contains(&name.as_str()) {
            return Err(SettingsError::File {
                path: path.to_owned(),
                reason: format!("unknown key {key:?}"),
            });
        }
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(SettingsError::File {
                    path: path.to_owned(),
                    reason: format!(
                        "{key}: expected a string or number, got {}",
                        other.type_str()
                    ),
                });
            }
        };
        source.values.insert(name, value);
    }
    Ok(())
}

/// A 32-byte key in standard or URL-safe base64.
fn decode_key(raw: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(raw)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw))
        .ok()
        .filter(|bytes| bytes.len() == 32)
}

impl Settings {
    /// Reads the process environment (and the settings file it names or `./roster.toml`).
    ///
    /// # Errors
    /// [`SettingsError`] naming the first bad variable.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_vars(std::env::vars().filter(|(k, _)| k.starts_with("ROSTER_")))
    }

    /// Builds settings from variables (tests pass their own).
    ///
    /// # Errors
    /// [`SettingsError`] naming the first bad variable.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let env: BTreeMap<String, String> = vars.into_iter().collect();
        let mut source = Source::default();
        match env.get("ROSTER_CONFIG").filter(|p| !p.is_empty()) {
            Some(path) => load_file(Path::new(path), &mut source)?,
            None if Path::new("roster.toml").is_file() => {
                load_file(Path::new("roster.toml"), &mut source)?
            }
            None => {}
        }
        source.values.extend(env);
        Self::build(&source)
    }

    fn build(s: &Source) -> Result<Self, SettingsError> {
        let bind_raw = s.string("ROSTER_BIND", "127.0.0.1:8080");
        let bind: SocketAddr = bind_raw.parse().map_err(|_| {
            invalid(
                "ROSTER_BIND",
                format!("must be an address and port such as 127.0.0.1:8080 (got {bind_raw:?})"),
            )
        })?;
        let public_url = s
            .optional("ROSTER_PUBLIC_URL")
            .unwrap_or_else(|| format!("http://{bind}"))
            .trim_end_matches('/')
            .to_owned();
        let parsed = url::Url::parse(&public_url).map_err(|e| {
            invalid(
                "ROSTER_PUBLIC_URL",
                format!("must be an absolute http(s) URL: {e}"),
            )
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(invalid(
                "ROSTER_PUBLIC_URL",
                "must be an absolute http(s) URL",
            ));
        }
        let data_dir = PathBuf::from(s.string("ROSTER_DATA_DIR", "./data"));
        let default_db = format!("sqlite://{}", data_dir.join("roster.db").display());
        let database_url = s.string("ROSTER_DATABASE_URL", &default_db);
        if !["sqlite://", "postgres://", "postgresql://"]
            .iter()
            .any(|p| database_url.starts_with(p))
        {
            return Err(invalid(
                "ROSTER_DATABASE_URL",
                "must start with sqlite://, postgres:// or postgresql://",
            ));
        }
        let jwt_secret = s.optional("ROSTER_JWT_SECRET");
        if let Some(secret) = &jwt_secret
            && secret.len() < 32
        {
            return Err(invalid(
                "ROSTER_JWT_SECRET",
                format!("must be at least 32 bytes (got {})", secret.len()),
            ));
        }
        let email_encryption_key = s.optional("ROSTER_EMAIL_ENCRYPTION_KEY");
        if let Some(key) = &email_encryption_key {
            use base64::Engine as _;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(key)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(key));
            if !matches!(decoded, Ok(bytes) if bytes.len() == 32) {
                return Err(invalid(
                    "ROSTER_EMAIL_ENCRYPTION_KEY",
                    "must be 32 bytes encoded in base64",
                ));
            }
        }
        let mut email_encryption_old_keys = Vec::new();
        for (i, raw) in s
            .string("ROSTER_EMAIL_ENCRYPTION_OLD_KEYS", "")
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .enumerate()
        {
            match decode_key(raw) {
                Some(key) => email_encryption_old_keys.push(key),
                None => {
                    return Err(invalid(
                        "ROSTER_EMAIL_ENCRYPTION_OLD_KEYS",
                        format!(
                            "key {} must be 32 bytes encoded in base64 (keys are comma separated)",
                            i + 1
                        ),
                    ));
                }
            }
        }
        let smtp_url = s.optional("ROSTER_SMTP_URL");
        if let Some(url) = &smtp_url {
            roster_mailer::Transport::from_smtp_url(url)
                .map_err(|e| invalid("ROSTER_SMTP_URL", e.to_string()))?;
        }
        let mail_from = s.string("ROSTER_MAIL_FROM", "Roster <no-reply@localhost>");
        roster_mailer::Mailer::new(
            roster_mailer::MailerConfig {
                public_url: public_url.clone(),
                from: mail_from.clone(),
            },
            roster_mailer::Transport::memory(roster_mailer::InMemoryMailbox::new()),
        )
        .map_err(|e| invalid("ROSTER_MAIL_FROM", e.to_string()))?;
        let bootstrap_admin_email = s.optional("ROSTER_BOOTSTRAP_ADMIN_EMAIL");
        let bootstrap_admin_password = s.optional("ROSTER_BOOTSTRAP_ADMIN_PASSWORD");
        if bootstrap_admin_email.is_some() != bootstrap_admin_password.is_some() {
            let missing = if bootstrap_admin_email.is_some() {
                "ROSTER_BOOTSTRAP_ADMIN_PASSWORD"
            } else {
                "ROSTER_BOOTSTRAP_ADMIN_EMAIL"
            };
            return Err(invalid(missing, "must be set together with its pair"));
        }
        let log_format = match s.string("ROSTER_LOG_FORMAT", "pretty").as_str() {
            "pretty" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            other => {
                return Err(invalid(
                    "ROSTER_LOG_FORMAT",
                    format!("must be pretty or json (got {other:?})"),
                ));
            }
        };
        let rate_limits_enabled = match s.string("ROSTER_RATE_LIMITS", "on").as_str() {
            "on" | "true" => true,
            "off" | "false" => false,
            other => {
                return Err(invalid(
                    "ROSTER_RATE_LIMITS",
                    format!("must be on or off (got {other:?})"),
                ));
            }
        };
        let mut rate_limits = Vec::new();
        for rule in Rule::ALL {
            let name = format!("ROSTER_RATE_LIMIT_{}", rule.name().to_ascii_uppercase());
            if let Some(raw) = s.get(&name) {
                rate_limits.push((rule, raw.parse::<Limit>().map_err(|e| invalid(&name, e))?));
            }
        }
        let trusted_proxies = parse_trusted_proxies(&s.string("ROSTER_TRUSTED_PROXIES", ""))
            .map_err(|e| invalid("ROSTER_TRUSTED_PROXIES", e))?;
        let redis_url = s.optional("ROSTER_REDIS_URL");
        if let Some(url) = &redis_url
            && !(url.starts_with("redis://")
                || url.starts_with("rediss://")
                || url.starts_with("unix://"))
        {
            return Err(invalid(
                "ROSTER_REDIS_URL",
                "must start with redis://, rediss:// or unix://",
            ));
        }
        let redis_key_prefix = s.string("ROSTER_REDIS_KEY_PREFIX", "roster:rl:");
        let internal_api_keys = match s.optional("ROSTER_INTERNAL_API_KEYS") {
            Some(raw) => roster_http_actix::api_key::InternalKeys::parse(&raw)
                .map_err(|e| invalid("ROSTER_INTERNAL_API_KEYS", e))?,
            None => roster_http_actix::api_key::InternalKeys::default(),
        };
        let log = s.string("ROSTER_LOG", "info");
        tracing_subscriber::EnvFilter::try_new(&log)
            .map_err(|e| invalid("ROSTER_LOG", format!("not a valid filter: {e}")))?;
        Ok(Self {
            bind,
            public_url,
            database_url,
            database_pool_size: s.number("ROSTER_DATABASE_POOL_SIZE", 10, 1, 1000)?,
            database_timeout: s.seconds("ROSTER_DATABASE_TIMEOUT", 5)?,
            data_dir,
            jwt_secret,
            jwt_ed25519_key_file: s.optional("ROSTER_JWT_ED25519_KEY_FILE").map(PathBuf::from),
            jwt_issuer: s.string("ROSTER_JWT_ISSUER", "roster"),
            jwt_audience: s.string("ROSTER_JWT_AUDIENCE", "roster"),
            access_token_ttl: s.seconds("ROSTER_ACCESS_TOKEN_TTL", 1800)?,
            refresh_token_ttl: s.seconds("ROSTER_REFRESH_TOKEN_TTL", 604_800)?,
            session_max_lifetime: s.seconds("ROSTER_SESSION_MAX_LIFETIME", 2_592_000)?,
            max_sessions: s.number("ROSTER_MAX_SESSIONS", 0, 0, 100_000)?,
            confirmation_ttl: s.seconds("ROSTER_CONFIRMATION_TTL", 86_400)?,
            reset_ttl: s.seconds("ROSTER_RESET_TTL", 7200)?,
            cleanup_interval: s.seconds("ROSTER_CLEANUP_INTERVAL", 3600)?,
            bcrypt_cost: s.number("ROSTER_BCRYPT_COST", 12, 4, 31)?,
            email_encryption_key,
            email_encryption_old_keys,
            smtp_url,
            mail_from,
            bootstrap_admin_email,
            bootstrap_admin_password,
            rate_limits_enabled,
            rate_limits,
            trusted_proxies,
            redis_url,
            redis_key_prefix,
            log,
            log_format,
            internal_api_keys,
        })
    }

    /// Whether links and cookies are https.
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn no_configuration_gives_the_zero_setup_defaults() {
        let s = Settings::from_vars(vars(&[("ROSTER_CONFIG", "")])).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.public_url, "http://127.0.0.1:8080");
        assert_eq!(s.database_url, "sqlite://./data/roster.db");
        assert_eq!(s.bcrypt_cost, 12);
        assert_eq!(s.access_token_ttl, Duration::from_secs(1800));
        assert_eq!(s.log_format, LogFormat::Pretty);
    }

    #[test]
    fn a_bad_value_is_reported_with_its_variable_name() {
        for (name, value) in [
            ("ROSTER_BCRYPT_COST", "3"),
            ("ROSTER_BCRYPT_COST", "twelve"),
            ("ROSTER_BIND", "localhost"),
            ("ROSTER_DATABASE_URL", "mysql://x"),
            ("ROSTER_JWT_SECRET", "short"),
            ("ROSTER_ACCESS_TOKEN_TTL", "0"),
            ("ROSTER_LOG_FORMAT", "xml"),
            ("ROSTER_PUBLIC_URL", "ftp://example.com"),
            ("ROSTER_EMAIL_ENCRYPTION_KEY", "abc"),
            ("ROSTER_EMAIL_ENCRYPTION_OLD_KEYS", "abc"),
            (
                "ROSTER_EMAIL_ENCRYPTION_OLD_KEYS",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,nope",
            ),
            ("ROSTER_SMTP_URL", "http://mail"),
            ("ROSTER_MAIL_FROM", "not a mailbox"),
            ("ROSTER_RATE_LIMITS", "maybe"),
            ("ROSTER_RATE_LIMIT_LOGIN_IP", "30 per minute"),
            ("ROSTER_RATE_LIMIT_REGISTER", "0/1h"),
            ("ROSTER_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("ROSTER_REDIS_URL", "localhost:6379"),
            ("ROSTER_INTERNAL_API_KEYS", "crm"),
            ("ROSTER_INTERNAL_API_KEYS", "crm:short"),
        ] {
            let err = Settings::from_vars(vars(&[(name, value)])).unwrap_err();
            assert!(err.to_string().starts_with(name), "{name}={value}: {err}");
        }
    }

    #[test]
    fn rate_limits_are_on_by_default_and_each_rule_can_be_changed() {
        let s = Settings::from_vars(vars(&[("ROSTER_CONFIG", "")])).unwrap();
        assert!(s.rate_limits_enabled);
        assert!(s.rate_limits.is_empty());
        let s = Settings::from_vars(vars(&[
            ("ROSTER_CONFIG", ""),
            ("ROSTER_RATE_LIMITS", "off"),
            ("ROSTER_RATE_LIMIT_LOGIN_LOGIN", "7/10m"),
            ("ROSTER_TRUSTED_PROXIES", "10.0.0.0/8,127.0.0.1"),
        ]))
        .unwrap();
        assert!(!s.rate_limits_enabled);
        assert_eq!(
            s.rate_limits,
            vec![(Rule::LoginLogin, Limit::new(7, Duration::from_secs(600)))]
        );
        assert_eq!(s.trusted_proxies.len(), 2);
    }

    #[test]
    fn the_bootstrap_admin_needs_both_variables() {
        let err =
            Settings::from_vars(vars(&[("ROSTER_BOOTSTRAP_ADMIN_EMAIL", "a@b.c")])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("ROSTER_BOOTSTRAP_ADMIN_PASSWORD")
        );
    }

    #[test]
    fn the_environment_wins_over_the_settings_file() {
        let dir = std::env::temp_dir().join(format!("roster-settings-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("roster.toml");
        std::fs::write(&file, "bcrypt_cost = 10\njwt_issuer = \"from-file\"\n").unwrap();
        let s = Settings::from_vars(vars(&[
            ("ROSTER_CONFIG", file.to_str().unwrap()),
            ("ROSTER_BCRYPT_COST", "11"),
        ]))
        .unwrap();
        assert_eq!(s.bcrypt_cost, 11);
        assert_eq!(s.jwt_issuer, "from-file");
        std::fs::write(&file, "no_such_key = 1\n").unwrap();
        let err =
            Settings::from_vars(vars(&[("ROSTER_CONFIG", file.to_str().unwrap())])).unwrap_err();
        assert!(err.to_string().contains("unknown key"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The README's configuration table is the reference operators read: every variable the
    /// code reads is in it, and it names none the code does not read.
    #[test]
    fn the_readme_configuration_table_matches_the_code() {
        let readme = include_str!("../../../README.md");
        let table: Vec<&str> = readme
            .lines()
            .skip_while(|l| !l.starts_with("## Configuration"))
            .take_while(|l| !l.starts_with("## ") || l.starts_with("## Configuration"))
            .filter(|l| l.starts_with("| `ROSTER_"))
            .collect();
        let documented: Vec<String> = table
            .iter()
            .flat_map(|row| row.split('|').nth(1).unwrap_or_default().split('/'))
            .map(|name| name.trim().trim_matches('`').to_owned())
            .collect();
        for name in KNOWN {
            if matches!(*name, "ROSTER_CONFIG" | "ROSTER_ADMIN_PASSWORD") {
                // Not settings of the service: the file's name and create-admin's input,
                // both explained next to the table.
                assert!(
                    readme.contains(name),
                    "{name} is not explained in the README"
                );
                continue;
            }
            let covered = documented.iter().any(|d| {
                d == name
                    || (d == "ROSTER_RATE_LIMIT_<RULE>" && name.starts_with("ROSTER_RATE_LIMIT_"))
            });
            assert!(
                covered,
                "{name} is read by the code but missing from the README's table"
            );
        }
        for name in &documented {
            let known = KNOWN.contains(&name.as_str()) || name == "ROSTER_RATE_LIMIT_<RULE>";
            assert!(
                known,
                "{name} is in the README's table but the code does not read it"
            );
        }
    }
}
