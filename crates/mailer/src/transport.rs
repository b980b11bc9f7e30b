//! Where rendered messages go: an SMTP server, a folder of `.eml` files, or memory.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use lettre::transport::smtp::Error as SmtpError;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use roster_domain::ports::DeliveryError;
use tokio::io::AsyncWriteExt as _;
use url::Url;
use uuid::Uuid;

use crate::memory::{InMemoryMailbox, SentMail};
use crate::{MailerError, mask_email};

/// How long connecting to an SMTP server may take. A whole delivery (connect, commands,
/// data) may take [`SMTP_DEADLINE_FACTOR`] times as long before it counts as failed.
pub const DEFAULT_SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The deadline of one SMTP delivery, in multiples of the connect timeout. lettre's async
/// transport applies its timeout to connecting only; a server that accepts and then stalls
/// would otherwise hold the delivery worker forever.
pub const SMTP_DEADLINE_FACTOR: u32 = 3;

/// A way to hand a message on. Build one with [`Transport::from_smtp_url`],
/// [`Transport::file`] or [`Transport::memory`].
#[derive(Clone)]
pub struct Transport(Kind);

#[derive(Clone)]
enum Kind {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// `smtps://host:port`, without credentials: safe to log.
        description: String,
        /// Longest time one delivery may take.
        deadline: Duration,
    },
    File {
        dir: PathBuf,
    },
    Memory(InMemoryMailbox),
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the SMTP password: only the description built for that purpose.
        match &self.0 {
            Kind::Smtp { description, .. } => write!(f, "Transport::Smtp({description})"),
            Kind::File { dir } => write!(f, "Transport::File({})", dir.display()),
            Kind::Memory(_) => f.write_str("Transport::Memory"),
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Smtp { description, .. } => f.write_str(description),
            Kind::File { dir } => write!(f, "files in {}", dir.display()),
            Kind::Memory(_) => f.write_str("memory"),
        }
    }
}

fn bad_url(reason: impl Into<String>) -> MailerError {
    MailerError::InvalidSmtpUrl(reason.into())
}

impl Transport {
    /// An SMTP server, from `smtp://host[:port]` (plain; `?tls=required` for STARTTLS) or
    /// `smtps://[user:pass@]host[:port]` (implicit TLS). Credentials are percent-decoded.
    /// Connecting times out after [`DEFAULT_SMTP_TIMEOUT`], a whole delivery after
    /// [`SMTP_DEADLINE_FACTOR`] times that.
    ///
    /// # Errors
    /// [`MailerError::InvalidSmtpUrl`] saying what is wrong; it never repeats the URL,
    /// which may hold a password.
    pub fn from_smtp_url(url: &str) -> Result<Self, MailerError> {
        Self::from_smtp_url_with_timeout(url, DEFAULT_SMTP_TIMEOUT)
    }

    /// As [`Self::from_smtp_url`], with another connect timeout (the delivery deadline
    /// follows it).
    ///
    /// # Errors
    /// [`MailerError::InvalidSmtpUrl`] saying what is wrong.
    pub fn from_smtp_url_with_timeout(url: &str, timeout: Duration) -> Result<Self, MailerError> {
        let parsed = Url::parse(url).map_err(|e| bad_url(format!("not a URL ({e})")))?;
        let implicit_tls = match parsed.scheme() {
            "smtp" => false,
            "smtps" => true,
            other => {
                return Err(bad_url(format!(
                    "unsupported scheme `{other}`: use smtp://host:port or smtps://user:pass@host:port"
                )));
            }
        };
        let host = parsed
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| bad_url("no host"))?;
        match (parsed.username().is_empty(), parsed.password().is_none()) {
            (true, false) => return Err(bad_url("a password without a user name")),
            (false, true) => return Err(bad_url("a user name without a password")),
            _ => {}
        }
        let mut starttls = false;
        for (key, value) in parsed.query_pairs() {
            match (key.as_ref(), value.as_ref(), implicit_tls) {
                ("tls", "required" | "opportunistic", false) => starttls = true,
                ("tls", _, false) => {
                    return Err(bad_url("`tls` must be `required` or `opportunistic`"));
                }
                ("tls", _, true) => return Err(bad_url("smtps:// is always TLS; drop `tls`")),
                (other, _, _) => return Err(bad_url(format!("unknown parameter `{other}`"))),
            }
        }
        let port = parsed.port().unwrap_or(match (implicit_tls, starttls) {
            (true, _) => 465,
            (false, true) => 587,
            (false, false) => 25,
        });
        if port == 0 {
            return Err(bad_url("port 0"));
        }
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| bad_url(e.to_string()))?
            .port(port)
            .timeout(Some(timeout))
            .build();
        let description = format!(
            "{}://{host}:{port}{}{}",
            parsed.scheme(),
            if starttls { " (STARTTLS)" } else { "" },
            if parsed.username().is_empty() {
                ""
            } else {
                " with credentials"
            },
        );
        let deadline = timeout.saturating_mul(SMTP_DEADLINE_FACTOR);
        Ok(Self(Kind::Smtp {
            transport,
            description,
            deadline,
        }))
    }

    /// Writes each message to `dir` (created when missing) as `<timestamp>-<uuid>.eml`.
    pub fn file(dir: impl Into<PathBuf>) -> Self {
        Self(Kind::File { dir: dir.into() })
    }

    /// Keeps each message in `mailbox`.
    pub fn memory(mailbox: InMemoryMailbox) -> Self {
        Self(Kind::Memory(mailbox))
    }

    /// `smtp`, `file` or `memory`.
    pub fn kind(&self) -> &'static str {
        match self.0 {
            Kind::Smtp { .. } => "smtp",
            Kind::File { .. } => "file",
            Kind::Memory(_) => "memory",
        }
    }

    pub(crate) async fn deliver(
        &self,
        message: Message,
        sent: SentMail,
    ) -> Result<(), DeliveryError> {
        match &self.0 {
            Kind::Smtp {
                transport,
                description,
                deadline,
            } => {
                tokio::time::timeout(*deadline, transport.send(message))
                    .await
                    .map_err(|_| {
                        DeliveryError::Transient(format!(
                            "SMTP delivery timed out after {} ms",
                            deadline.as_millis()
                        ))
                    })?
                    .map_err(|error| classify(&error))?;
                tracing::info!(
                    to = %mask_email(&sent.to),
                    template = sent.template,
                    server = %description,
                    "mail handed to the SMTP server"
                );
                Ok(())
            }
            Kind::File { dir } => {
                let path = write_eml(dir, &sent.raw).await.map_err(|error| {
                    DeliveryError::Transient(format!(
                        "cannot write the mail into {}: {error}",
                        dir.display()
                    ))
                })?;
                tracing::info!(
                    to = %mask_email(&sent.to),
                    template = sent.template,
                    path = %path.display(),
                    "mail written to a file"
                );
                Ok(())
            }
            Kind::Memory(mailbox) => {
                tracing::debug!(to = %mask_email(&sent.to), template = sent.template, "mail kept in memory");
                mailbox.deliver(sent);
                Ok(())
            }
        }
    }
}

/// Writes `raw` to a new `.eml` file in `dir`. The file appears complete or not at all
/// (written under a hidden temporary name, then renamed) and, on Unix, is readable by its
/// owner only: it holds a live token.
async fn write_eml(dir: &Path, raw: &[u8]) -> std::io::Result<PathBuf> {
    tokio::fs::create_dir_all(dir).await?;
    let name = format!(
        "{}-{}",
        Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
        Uuid::now_v7()
    );
    let temporary = dir.join(format!(".{name}.tmp"));
    let path = dir.join(format!("{name}.eml"));
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(&temporary).await?;
    file.write_all(raw).await?;
    file.sync_all().await?;
    drop(file);
    tokio::fs::rename(&temporary, &path).await?;
    Ok(path)
}

/// SMTP reply codes that mean our credentials are wrong, not that this message is: they
/// are worth retrying once an operator fixes the configuration.
const AUTHENTICATION_CODES: [u16; 4] = [530, 534, 535, 538];

/// Whether an SMTP failure is worth retrying.
///
/// Permanent (5xx) replies about the message or its recipient are final. Everything else,
/// 4xx replies, refused or dropped connections, timeouts, TLS failures, and authentication
/// rejections (a configuration problem), is transient.
pub(crate) fn classify(error: &SmtpError) -> DeliveryError {
    let detail = redact_addresses(&error.to_string());
    let code = error.status().map(u16::from);
    match code {
        Some(code) if error.is_permanent() && !AUTHENTICATION_CODES.contains(&code) => {
            DeliveryError::Permanent(format!("SMTP server refused the message: {detail}"))
        }
        _ if error.is_timeout() => DeliveryError::Transient(format!("SMTP timed out: {detail}")),
        _ => DeliveryError::Transient(format!("SMTP delivery failed: {detail}")),
    }
}

/// Masks every email address in a server's reply, which often repeats the recipient.
fn redact_addresses(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.contains('@') {
                let trimmed = word.trim_matches(|c: char| matches!(c, '<' | '>' | ',' | ':' | ';'));
                word.replace(trimmed, &mask_email(trimmed))
            } else {
                word.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(url: &str) -> String {
        match Transport::from_smtp_url(url) {
            Err(MailerError::InvalidSmtpUrl(reason)) => reason,
            other => panic!("{url}: {other:?}"),
        }
    }

    #[test]
    fn smtp_and_smtps_urls_are_accepted() {
        let plain = Transport::from_smtp_url("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(plain.kind(), "smtp");
        assert_eq!(plain.to_string(), "smtp://127.0.0.1:2525");
        assert_eq!(
            Transport::from_smtp_url("smtp://mail.example")
                .unwrap()
                .to_string(),
            "smtp://mail.example:25"
        );
        // Building the TLS parameters needs a rustls crypto provider: this would panic
        // without lettre's `ring` feature.
        let tls =
            Transport::from_smtp_url("smtps://user%40example.com:p%40ss@mail.example:465").unwrap();
        assert_eq!(tls.to_string(), "smtps://mail.example:465 with credentials");
        assert_eq!(
            Transport::from_smtp_url("smtps://u:p@mail.example")
                .unwrap()
                .to_string(),
            "smtps://mail.example:465 with credentials"
        );
        let starttls = Transport::from_smtp_url("smtp://u:p@mail.example?tls=required").unwrap();
        assert_eq!(
            starttls.to_string(),
            "smtp://mail.example:587 (STARTTLS) with credentials"
        );
    }

    #[test]
    fn bad_smtp_urls_are_refused_with_the_reason_and_without_the_password() {
        assert!(err("not a url").contains("not a URL"));
        assert!(err("mail.example:25").contains("unsupported scheme `mail.example`"));
        assert!(err("http://mail.example").contains("unsupported scheme `http`"));
        assert!(err("smtp://u:s3cret@/").contains("empty host"));
        assert!(err("smtp:mail.example").contains("no host"));
        assert!(err("smtps://:s3cret@mail.example").contains("password without a user name"));
        assert!(err("smtps://user@mail.example").contains("user name without a password"));
        assert!(err("smtp://mail.example?tls=maybe").contains("`tls` must be"));
        assert!(err("smtp://mail.example?timeout=3").contains("unknown parameter `timeout`"));
        assert!(err("smtp://mail.example:0").contains("port 0"));
        for url in ["smtp://u:s3cret@/", "ftp://u:s3cret@mail.example"] {
            assert!(!err(url).contains("s3cret"));
        }
    }

    #[test]
    fn debug_output_of_an_smtp_transport_hides_the_password() {
        let transport = Transport::from_smtp_url("smtps://user:s3cret@mail.example").unwrap();
        let shown = format!("{transport:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("mail.example"), "{shown}");
    }

    #[test]
    fn addresses_in_server_replies_are_masked() {
        assert_eq!(
            redact_addresses("550 5.1.1 <ada@example.com>: Recipient address rejected"),
            "550 5.1.1 <a***@example.com>: Recipient address rejected"
        );
    }
}
