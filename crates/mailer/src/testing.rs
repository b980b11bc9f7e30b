//! Test support: an in-process SMTP server (enabled by the `testing` feature).
//!
//! [`FakeSmtpServer`] listens on `127.0.0.1:<free port>` and speaks enough of RFC 5321
//! for a real SMTP client (lettre): greeting, `EHLO`/`HELO`, `MAIL FROM`, `RCPT TO`, `DATA`
//! (with dot-unstuffing), `RSET`, `NOOP`, `QUIT`. It keeps each message it accepts, and can
//! instead refuse recipients or stay silent to exercise a client's failure handling.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use roster_mailer::testing::FakeSmtpServer;
//! let server = FakeSmtpServer::start().await?;
//! let url = server.url(); // smtp://127.0.0.1:PORT, for Transport::from_smtp_url
//! // ... send mail ...
//! let mail = server.next_mail(std::time::Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::memory::{find_link, token_of_link};

/// How the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FakeSmtpBehaviour {
    /// Accepts every message.
    #[default]
    Accept,
    /// Answers every `RCPT TO` with this reply code (`550` permanent, `450` transient).
    RejectRecipients(u16),
    /// Accepts connections and never says anything (for client timeouts).
    Silent,
}

/// A message the server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The reverse path of `MAIL FROM`, without angle brackets.
    pub mail_from: String,
    /// The forward paths of `RCPT TO`, without angle brackets.
    pub rcpt_to: Vec<String>,
    /// The message as sent after `DATA`, dot-unstuffed, lines ending in CRLF, without the
    /// final `.` line.
    pub data: String,
}

impl ReceivedMail {
    /// The first `…{path}?token=…` link in the message (found in 7-bit text parts).
    pub fn link(&self, path: &str) -> Option<String> {
        find_link(&self.data, path).map(str::to_owned)
    }

    /// The token of the first `/confirm?token=…` link in the message.
    pub fn confirmation_token(&self) -> Option<String> {
        find_link(&self.data, "/confirm")
            .and_then(token_of_link)
            .map(str::to_owned)
    }
}

#[derive(Debug, Default)]
struct Received {
    mails: Vec<ReceivedMail>,
    /// How many `next_mail` handed out.
    taken: usize,
}

#[derive(Debug)]
struct Shared {
    received: Mutex<Received>,
    arrived: watch::Sender<u64>,
    behaviour: FakeSmtpBehaviour,
}

impl Shared {
    fn received(&self) -> MutexGuard<'_, Received> {
        self.received.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An SMTP server in the test process. Stops when dropped.
#[derive(Debug)]
pub struct FakeSmtpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_loop: JoinHandle<()>,
}

impl Drop for FakeSmtpServer {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

impl FakeSmtpServer {
    /// A server that accepts every message.
    ///
    /// # Errors
    /// When no local port can be bound.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(FakeSmtpBehaviour::Accept).await
    }

    /// A server that behaves as told.
    ///
    /// # Errors
    /// When no local port can be bound.
    pub async fn start_with(behaviour: FakeSmtpBehaviour) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (arrived, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            received: Mutex::default(),
            arrived,
            behaviour,
        });
        let accept_loop = tokio::spawn(accept(listener, Arc::clone(&shared)));
        Ok(Self {
            addr,
            shared,
            accept_loop,
        })
    }

    /// A server that accepts every message, listening at `addr` (a server "restarted" where
    /// a stopped one listened). Retries the bind for a moment while the old socket closes.
    ///
    /// # Errors
    /// When `addr` cannot be bound.
    pub async fn start_at(addr: SocketAddr) -> std::io::Result<Self> {
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(addr).await {
                Ok(listener) => break listener,
                Err(error) if tries < 50 => {
                    tries += 1;
                    tracing::debug!(%error, "fake SMTP port still busy");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(error) => return Err(error),
            }
        };
        let (arrived, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            received: Mutex::default(),
            arrived,
            behaviour: FakeSmtpBehaviour::Accept,
        });
        let accept_loop = tokio::spawn(accept(listener, Arc::clone(&shared)));
        Ok(Self {
            addr,
            shared,
            accept_loop,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `smtp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every message accepted so far, oldest first.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.shared.received().mails.clone()
    }

    /// Waits up to `timeout` for the next message that no earlier call returned.
    pub async fn next_mail(&self, timeout: Duration) -> Option<ReceivedMail> {
        let mut arrived = self.shared.arrived.subscribe();
        let wait = async {
            loop {
                {
                    let mut received = self.shared.received();
                    let taken = received.taken;
                    if let Some(mail) = received.mails.get(taken).cloned() {
                        received.taken += 1;
                        return Some(mail);
                    }
                }
                if arrived.changed().await.is_err() {
                    return None;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.ok().flatten()
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    // The connection tasks are detached: they end when their client hangs up, and a dropped
    // server stops accepting new ones.
    while let Ok((stream, _)) = listener.accept().await {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            if let Err(error) = converse(stream, &shared).await {
                tracing::debug!(%error, "fake SMTP connection ended with an error");
            }
        });
    }
}

/// The path inside `FROM:<path>` or `TO:<path>`, parameters dropped.
fn path_of(argument: &str) -> String {
    let argument = argument.trim();
    match (argument.find('<'), argument.find('>')) {
        (Some(open), Some(close)) if open < close => argument[open + 1..close].to_owned(),
        _ => argument
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}

async fn converse(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    if shared.behaviour == FakeSmtpBehaviour::Silent {
        // Hold the connection open without a greeting until the client gives up.
        let mut sink = String::new();
        while lines.read_line(&mut sink).await? > 0 {
            sink.clear();
        }
        return Ok(());
    }
    write
        .write_all(b"220 fake.smtp.test ESMTP ready\r\n")
        .await?;
    let mut mail_from: Option<String> = None;
    let mut rcpt_to: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end_matches(['\r', '\n']);
        let upper = command.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") {
            "250-fake.smtp.test greets you\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n".to_owned()
        } else if upper.starts_with("HELO") {
            "250 fake.smtp.test\r\n".to_owned()
        } else if upper.starts_with("MAIL FROM:") {
            mail_from = Some(path_of(&command["MAIL FROM:".len()..]));
            rcpt_to.clear();
            "250 2.1.0 OK\r\n".to_owned()
        } else if upper.starts_with("RCPT TO:") {
            if mail_from.is_none() {
                "503 5.5.1 MAIL first\r\n".to_owned()
            } else if let FakeSmtpBehaviour::RejectRecipients(code) = shared.behaviour {
                let class = code / 100;
                format!(
                    "{code} {class}.1.1 {}: recipient rejected\r\n",
                    &command["RCPT TO:".len()..].trim()
                )
            } else {
                rcpt_to.push(path_of(&command["RCPT TO:".len()..]));
                "250 2.1.5 OK\r\n".to_owned()
            }
        } else if upper == "DATA" {
            match mail_from.take() {
                Some(from) if !rcpt_to.is_empty() => {
                    write
                        .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                        .await?;
                    let data = read_data(&mut lines).await?;
                    let mail = ReceivedMail {
                        mail_from: from,
                        rcpt_to: std::mem::take(&mut rcpt_to),
                        data,
                    };
                    shared.received().mails.push(mail);
                    shared.arrived.send_modify(|count| *count += 1);
                    "250 2.0.0 OK: queued\r\n".to_owned()
                }
                _ => "503 5.5.1 MAIL and RCPT first\r\n".to_owned(),
            }
        } else if upper == "RSET" {
            mail_from = None;
            rcpt_to.clear();
            "250 2.0.0 OK\r\n".to_owned()
        } else if upper.starts_with("NOOP") {
            "250 2.0.0 OK\r\n".to_owned()
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(());
        } else {
            "502 5.5.2 command not implemented\r\n".to_owned()
        };
        write.write_all(reply.as_bytes()).await?;
    }
}

/// Reads the message after `354` up to the lone `.` line, undoing dot-stuffing.
async fn read_data<R>(lines: &mut BufReader<R>) -> std::io::Result<String>
where
    R: tokio::io::AsyncRead + Unpin,
{
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed during DATA",
            ));
        }
        if line == ".\r\n" || line == ".\n" {
            return Ok(data);
        }
        data.push_str(line.strip_prefix('.').unwrap_or(&line));
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt as _;

    use super::*;

    async fn send(stream: &mut TcpStream, text: &str) -> String {
        stream.write_all(text.as_bytes()).await.unwrap();
        read_reply(stream).await
    }

    async fn read_reply(stream: &mut TcpStream) -> String {
        let mut buffer = vec![0u8; 4096];
        let n = stream.read(&mut buffer).await.unwrap();
        String::from_utf8_lossy(&buffer[..n]).into_owned()
    }

    #[tokio::test]
    async fn the_fake_server_speaks_smtp_and_unstuffs_dots() {
        let server = FakeSmtpServer::start().await.unwrap();
        let mut stream = TcpStream::connect(server.addr()).await.unwrap();
        assert!(read_reply(&mut stream).await.starts_with("220 "));
        assert!(
            send(&mut stream, "HELO client\r\n")
                .await
                .starts_with("250 ")
        );
        assert!(send(&mut stream, "DATA\r\n").await.starts_with("503 "));
        assert!(
            send(&mut stream, "MAIL FROM:<a@x.test> SIZE=10\r\n")
                .await
                .starts_with("250 ")
        );
        assert!(
            send(&mut stream, "RCPT TO:<b@y.test>\r\n")
                .await
                .starts_with("250 ")
        );
        assert!(send(&mut stream, "DATA\r\n").await.starts_with("354 "));
        assert!(
            send(&mut stream, "Subject: hi\r\n\r\n..leading dot\r\n.\r\n")
                .await
                .starts_with("250 ")
        );
        assert!(send(&mut stream, "QUIT\r\n").await.starts_with("221 "));

        let mail = server.next_mail(Duration::from_secs(1)).await.unwrap();
        assert_eq!(mail.mail_from, "a@x.test");
        assert_eq!(mail.rcpt_to, vec!["b@y.test".to_owned()]);
        assert_eq!(mail.data, "Subject: hi\r\n\r\n.leading dot\r\n");
        assert!(server.next_mail(Duration::from_millis(20)).await.is_none());
        assert_eq!(server.received().len(), 1);
    }
}
