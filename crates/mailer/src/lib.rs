//! # roster-mailer
//!
//! The mail adapter on the edge of Roster's hexagon. [`Mailer`] implements the domain's
//! [`MailSender`] port: it renders an [`OutgoingMail`] (what the rules decided to say) into
//! a multipart text + HTML message and hands it to a [`Transport`]:
//!
//! * **SMTP** ([`Transport::from_smtp_url`]): lettre over tokio, plain `smtp://` or implicit
//!   TLS `smtps://` (rustls), with a connect and command timeout;
//! * **file** ([`Transport::file`]): one RFC 5322 `.eml` file per message in a folder, the
//!   zero-setup default;
//! * **memory** ([`Transport::memory`]): an [`InMemoryMailbox`] that tests read and wait on.
//!
//! The domain's outbox worker calls [`MailSender::send`] and retries on
//! [`DeliveryError::Transient`]; this crate decides which failures are transient (refused
//! connections, timeouts, 4xx replies) and which permanent (5xx refusals of the message, an
//! address that cannot be written in a message).
//!
//! Invariants:
//!
//! * Everything interpolated into HTML is escaped ([`templates`]).
//! * Logs name the recipient masked (`a***@example.com`) and never the token; errors and
//!   `Debug` output never contain the SMTP password.
//! * Each [`roster_domain::mail::MailKind`] has its template in [`templates`]; the compiler
//!   checks that none is missing.
//!
//! With the `testing` feature, `testing::FakeSmtpServer` is a small in-process SMTP server
//! for end-to-end tests.

mod memory;
pub mod templates;
mod transport;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

use async_trait::async_trait;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};
use roster_domain::mail::OutgoingMail;
use roster_domain::ports::{DeliveryError, MailSender};
use url::Url;

pub use memory::{InMemoryMailbox, SentMail, find_link, token_of_link};
pub use transport::{DEFAULT_SMTP_TIMEOUT, SMTP_DEADLINE_FACTOR, Transport};

/// What every message shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailerConfig {
    /// Base of the links in messages (`https://roster.example`), without a trailing path.
    pub public_url: String,
    /// The sender, in mailbox syntax: `Roster <no-reply@localhost>` or a bare address.
    pub from: String,
}

impl MailerConfig {
    /// The sender used when none is configured.
    pub const DEFAULT_FROM: &'static str = "Roster <no-reply@localhost>";
}

/// Why a mailer or transport could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailerError {
    /// The SMTP URL is unusable; the reason never repeats the URL (it may hold a password).
    #[error("invalid SMTP URL: {0}")]
    InvalidSmtpUrl(String),
    /// The sender is not a mailbox.
    #[error("invalid sender {from:?}: {reason} (expected e.g. `Roster <no-reply@example.com>`)")]
    InvalidFrom {
        /// The configured value.
        from: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The public URL is not an absolute http(s) URL.
    #[error("invalid public URL {url:?}: {reason}")]
    InvalidPublicUrl {
        /// The configured value.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// [`MailSender`]: renders and sends through one [`Transport`].
#[derive(Debug, Clone)]
pub struct Mailer {
    public_url: String,
    from: Mailbox,
    transport: Transport,
}

impl Mailer {
    /// A mailer sending as `config.from`, with links under `config.public_url`.
    ///
    /// # Errors
    /// [`MailerError`] when the sender is not a mailbox or the public URL is not an absolute
    /// http(s) URL.
    pub fn new(config: MailerConfig, transport: Transport) -> Result<Self, MailerError> {
        let from = config
            .from
            .parse::<Mailbox>()
            .map_err(|e| MailerError::InvalidFrom {
                from: config.from.clone(),
                reason: e.to_string(),
            })?;
        let public_url = config.public_url.trim_end_matches('/').to_owned();
        let invalid = |reason: String| MailerError::InvalidPublicUrl {
            url: config.public_url.clone(),
            reason,
        };
        let parsed = Url::parse(&public_url).map_err(|e| invalid(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https".to_owned()));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(invalid("it must not have a query or fragment".to_owned()));
        }
        Ok(Self {
            public_url,
            from,
            transport,
        })
    }

    /// The transport messages go through.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Renders `mail` into a message and what a mailbox keeps of it.
    fn compose(&self, mail: &OutgoingMail) -> Result<(Message, SentMail), DeliveryError> {
        let rendered = templates::render(mail, &self.public_url);
        let address = mail.to.trim().parse::<Address>().map_err(|e| {
            DeliveryError::Permanent(format!(
                "recipient {} is not a valid address: {e}",
                mask_email(&mail.to)
            ))
        })?;
        let name = mail
            .to_name
            .as_ref()
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty());
        let message_id = format!("<{}@{}>", uuid::Uuid::now_v7(), self.from.email.domain());
        let message = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(name, address))
            .subject(rendered.subject.clone())
            .message_id(Some(message_id))
            .multipart(
                MultiPart::alternative()
                    .singlepart(part(ContentType::TEXT_PLAIN, &rendered.text))
                    .singlepart(part(ContentType::TEXT_HTML, &rendered.html)),
            )
            .map_err(|e| DeliveryError::Permanent(format!("cannot build the message: {e}")))?;
        let sent = SentMail {
            to: mail.to.clone(),
            to_name: mail.to_name.clone(),
            template: mail.kind.template(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            raw: message.formatted(),
        };
        Ok((message, sent))
    }
}

#[async_trait]
impl MailSender for Mailer {
    #[tracing::instrument(
        skip_all,
        fields(template = mail.kind.template(), to = %mask_email(&mail.to), transport = self.transport.kind())
    )]
    async fn send(&self, mail: &OutgoingMail) -> Result<(), DeliveryError> {
        let (message, sent) = self.compose(mail)?;
        let result = self.transport.deliver(message, sent).await;
        if let Err(error) = &result {
            tracing::warn!(%error, "mail not delivered");
        }
        result
    }
}

/// One body part, sent as readable 7-bit text when it can be.
///
/// RFC 5322 allows 7-bit lines of up to 998 characters, but lettre's own choice switches to
/// quoted-printable past 76, which would cut every link over two lines and turn its `=`
/// into `=3D` in `.eml` files and on the wire. ASCII text with sane lines goes out verbatim;
/// anything else (a non-ASCII name) is quoted-printable.
fn part(content_type: ContentType, text: &str) -> SinglePart {
    let verbatim = text.is_ascii()
        && !text.contains(['\0', '\r'])
        && text.lines().all(|line| line.len() <= 998);
    let body = if verbatim {
        Body::dangerous_pre_encoded(
            text.replace('\n', "\r\n").into_bytes(),
            ContentTransferEncoding::SevenBit,
        )
    } else {
        Body::new(text.to_owned())
    };
    SinglePart::builder().header(content_type).body(body)
}

/// An address as logs show it: first character, `***`, then the domain
/// (`a***@example.com`); `***` when there is no `@`.
pub fn mask_email(address: &str) -> String {
    let address = address.trim();
    match (address.chars().next(), address.rsplit_once('@')) {
        (Some(first), Some((local, domain))) if !local.is_empty() => {
            format!("{first}***@{domain}")
        }
        _ => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{TimeZone, Utc};
    use roster_domain::mail::MailKind;

    use super::testing::{FakeSmtpBehaviour, FakeSmtpServer};
    use super::*;

    const TOKEN: &str = "Zm9vYmFyYmF6cXV4LXRoaXJ0eS10d28tYnl0ZXMtbG9uZw";
    const PUBLIC_URL: &str = "http://127.0.0.1:8080";

    fn config() -> MailerConfig {
        MailerConfig {
            public_url: PUBLIC_URL.to_owned(),
            from: MailerConfig::DEFAULT_FROM.to_owned(),
        }
    }

    fn confirmation(to: &str) -> OutgoingMail {
        OutgoingMail {
            to: to.to_owned(),
            to_name: Some("Ada Lovelace".to_owned()),
            kind: MailKind::Confirmation {
                token: TOKEN.to_owned(),
                expires_at: Utc.with_ymd_and_hms(2026, 11, 16, 9, 30, 0).unwrap(),
            },
        }
    }

    fn link() -> String {
        format!("{PUBLIC_URL}/confirm?token={TOKEN}")
    }

    /// A fresh directory under the system's temporary folder, removed on drop.
    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new() -> Self {
            Self(std::env::temp_dir().join(format!("roster-mailer-test-{}", uuid::Uuid::now_v7())))
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Splits a raw message into its header block and body.
    fn header_and_body(raw: &str) -> (&str, &str) {
        raw.split_once("\r\n\r\n").unwrap()
    }

    fn header<'a>(headers: &'a str, name: &str) -> Option<&'a str> {
        headers.split("\r\n").find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    #[test]
    fn a_mailer_refuses_a_bad_sender_or_public_url() {
        let memory = || Transport::memory(InMemoryMailbox::new());
        let bad_from = MailerConfig {
            from: "not a mailbox".to_owned(),
            ..config()
        };
        assert!(matches!(
            Mailer::new(bad_from, memory()),
            Err(MailerError::InvalidFrom { .. })
        ));
        for url in ["localhost:8080", "ftp://x", "http://x/?a=b", "/relative"] {
            let bad = MailerConfig {
                public_url: url.to_owned(),
                ..config()
            };
            assert!(
                matches!(
                    Mailer::new(bad, memory()),
                    Err(MailerError::InvalidPublicUrl { .. })
                ),
                "{url}"
            );
        }
        let bare = MailerConfig {
            from: "no-reply@roster.example".to_owned(),
            ..config()
        };
        assert!(Mailer::new(bare, memory()).is_ok());
    }

    #[test]
    fn addresses_are_masked_for_logs() {
        assert_eq!(mask_email("ada@example.com"), "a***@example.com");
        assert_eq!(mask_email(" Zoë@exämple.org "), "Z***@exämple.org");
        assert_eq!(mask_email("@example.com"), "***");
        assert_eq!(mask_email("nobody"), "***");
        assert_eq!(mask_email(""), "***");
    }

    #[tokio::test]
    async fn the_memory_transport_keeps_the_rendered_message() {
        let mailbox = InMemoryMailbox::new();
        let mailer = Mailer::new(config(), Transport::memory(mailbox.clone())).unwrap();
        mailer.send(&confirmation("ada@example.com")).await.unwrap();

        let sent = mailbox
            .next_for("ada@example.com", Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(sent.subject, "Confirm your email address");
        assert_eq!(sent.template, "confirmation");
        assert_eq!(sent.confirmation_link(), Some(link()));
        assert_eq!(sent.confirmation_token().as_deref(), Some(TOKEN));
        assert!(sent.html.contains(&link()));

        let raw = String::from_utf8(sent.raw).unwrap();
        let (headers, body) = header_and_body(&raw);
        assert_eq!(
            header(headers, "To"),
            Some("\"Ada Lovelace\" <ada@example.com>")
        );
        assert_eq!(header(headers, "From"), Some("Roster <no-reply@localhost>"));
        assert!(
            header(headers, "Content-Type")
                .unwrap()
                .starts_with("multipart/alternative")
        );
        assert!(
            header(headers, "Message-ID")
                .unwrap()
                .ends_with("@localhost>")
        );
        assert!(body.contains("Content-Type: text/plain; charset=utf-8"));
        assert!(body.contains("Content-Type: text/html; charset=utf-8"));
        assert!(
            body.contains(&link()),
            "the 7-bit text part carries the link verbatim"
        );
    }

    #[tokio::test]
    async fn a_non_ascii_name_is_sent_quoted_printable_and_the_link_still_found() {
        let mailbox = InMemoryMailbox::new();
        let mailer = Mailer::new(config(), Transport::memory(mailbox.clone())).unwrap();
        let mail = OutgoingMail {
            to_name: Some("Zoë Brontë".to_owned()),
            ..confirmation("zoe@example.com")
        };
        mailer.send(&mail).await.unwrap();
        let sent = mailbox.try_next_for("zoe@example.com").unwrap();
        assert!(sent.text.starts_with("Hello Zoë Brontë,"));
        assert_eq!(sent.confirmation_token().as_deref(), Some(TOKEN));
        let raw = String::from_utf8(sent.raw).unwrap();
        assert!(
            raw.is_ascii(),
            "headers and bodies are encoded for 7-bit transport"
        );
        assert!(raw.contains("Content-Transfer-Encoding: quoted-printable"));
        let (headers, _) = header_and_body(&raw);
        assert!(
            header(headers, "To").unwrap().contains("=?utf-8?"),
            "{headers}"
        );
    }

    #[tokio::test]
    async fn an_invalid_recipient_is_a_permanent_failure() {
        let mailbox = InMemoryMailbox::new();
        let mailer = Mailer::new(config(), Transport::memory(mailbox.clone())).unwrap();
        let result = mailer.send(&confirmation("not-an-address")).await;
        assert!(
            matches!(result, Err(DeliveryError::Permanent(_))),
            "{result:?}"
        );
        assert!(mailbox.is_empty());
    }

    #[tokio::test]
    async fn the_file_transport_writes_one_parseable_eml_per_message() {
        let dir = TempDir::new();
        let outbox = dir.0.join("outbox");
        let mailer = Mailer::new(config(), Transport::file(&outbox)).unwrap();
        mailer.send(&confirmation("ada@example.com")).await.unwrap();
        mailer.send(&confirmation("bob@example.com")).await.unwrap();

        let mut files: Vec<_> = std::fs::read_dir(&outbox)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        assert_eq!(files.len(), 2, "{files:?}");
        for path in &files {
            assert_eq!(path.extension().unwrap(), "eml");
            let name = path.file_stem().unwrap().to_str().unwrap();
            assert!(name.starts_with("20") && name.contains('T'), "{name}");
        }
        let raw = std::fs::read_to_string(&files[0]).unwrap();
        let (headers, body) = header_and_body(&raw);
        assert_eq!(
            header(headers, "To"),
            Some("\"Ada Lovelace\" <ada@example.com>")
        );
        assert_eq!(
            header(headers, "Subject"),
            Some("Confirm your email address")
        );
        assert_eq!(header(headers, "MIME-Version"), Some("1.0"));
        assert!(header(headers, "Date").is_some());
        assert!(body.contains(&link()));
        assert!(raw.lines().all(|line| line.len() <= 998));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[tokio::test]
    async fn a_file_transport_that_cannot_write_fails_transiently() {
        let dir = TempDir::new();
        std::fs::create_dir_all(&dir.0).unwrap();
        let blocker = dir.0.join("a-file");
        std::fs::write(&blocker, b"not a directory").unwrap();
        let mailer = Mailer::new(config(), Transport::file(blocker.join("outbox"))).unwrap();
        let result = mailer.send(&confirmation("ada@example.com")).await;
        assert!(
            matches!(result, Err(DeliveryError::Transient(_))),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn smtp_delivers_the_message_to_the_server() {
        let server = FakeSmtpServer::start().await.unwrap();
        let mailer =
            Mailer::new(config(), Transport::from_smtp_url(&server.url()).unwrap()).unwrap();
        mailer.send(&confirmation("ada@example.com")).await.unwrap();

        let received = server.next_mail(Duration::from_secs(5)).await.unwrap();
        assert_eq!(received.mail_from, "no-reply@localhost");
        assert_eq!(received.rcpt_to, vec!["ada@example.com".to_owned()]);
        assert!(
            received
                .data
                .contains("Subject: Confirm your email address")
        );
        assert!(received.data.contains(&link()), "{}", received.data);
        assert_eq!(received.confirmation_token().as_deref(), Some(TOKEN));
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_transient_failure() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let transport = Transport::from_smtp_url(&format!("smtp://127.0.0.1:{port}")).unwrap();
        let mailer = Mailer::new(config(), transport).unwrap();
        let result = mailer.send(&confirmation("ada@example.com")).await;
        assert!(
            matches!(result, Err(DeliveryError::Transient(_))),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn a_recipient_refused_with_550_is_a_permanent_failure() {
        let server = FakeSmtpServer::start_with(FakeSmtpBehaviour::RejectRecipients(550))
            .await
            .unwrap();
        let mailer =
            Mailer::new(config(), Transport::from_smtp_url(&server.url()).unwrap()).unwrap();
        let result = mailer.send(&confirmation("ada@example.com")).await;
        match result {
            Err(DeliveryError::Permanent(reason)) => {
                assert!(reason.contains("550"), "{reason}");
                assert!(!reason.contains("ada@example.com"), "{reason}");
            }
            other => panic!("expected a permanent failure, got {other:?}"),
        }
        assert!(server.received().is_empty());
    }

    #[tokio::test]
    async fn a_recipient_refused_with_450_is_a_transient_failure() {
        let server = FakeSmtpServer::start_with(FakeSmtpBehaviour::RejectRecipients(450))
            .await
            .unwrap();
        let mailer =
            Mailer::new(config(), Transport::from_smtp_url(&server.url()).unwrap()).unwrap();
        let result = mailer.send(&confirmation("ada@example.com")).await;
        assert!(
            matches!(result, Err(DeliveryError::Transient(_))),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out_transiently() {
        let server = FakeSmtpServer::start_with(FakeSmtpBehaviour::Silent)
            .await
            .unwrap();
        let transport =
            Transport::from_smtp_url_with_timeout(&server.url(), Duration::from_millis(300))
                .unwrap();
        let mailer = Mailer::new(config(), transport).unwrap();
        let started = std::time::Instant::now();
        let result = mailer.send(&confirmation("ada@example.com")).await;
        assert!(
            matches!(result, Err(DeliveryError::Transient(_))),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
