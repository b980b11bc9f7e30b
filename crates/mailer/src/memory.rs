//! The in-memory transport: a mailbox that tests read.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

/// A message the mailer handed to an [`InMemoryMailbox`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMail {
    /// Recipient address.
    pub to: String,
    /// Recipient name, if the mail had one.
    pub to_name: Option<String>,
    /// Template name ([`roster_domain::mail::MailKind::template`]).
    pub template: &'static str,
    /// Subject line.
    pub subject: String,
    /// The plain text body, as rendered (before transfer encoding).
    pub text: String,
    /// The HTML body, as rendered.
    pub html: String,
    /// The whole message as it would go on the wire (RFC 5322).
    pub raw: Vec<u8>,
}

impl SentMail {
    /// The first `…{path}?token=…` link in the text body.
    pub fn link(&self, path: &str) -> Option<String> {
        find_link(&self.text, path).map(str::to_owned)
    }

    /// The first `{public_url}/confirm?token=…` link in the text body.
    pub fn confirmation_link(&self) -> Option<String> {
        self.link("/confirm")
    }

    /// The token of the first confirmation link in the text body.
    pub fn confirmation_token(&self) -> Option<String> {
        find_link(&self.text, "/confirm")
            .and_then(token_of_link)
            .map(str::to_owned)
    }
}

/// The first link in `text` whose path ends in `path` and that carries a `token` query
/// parameter: `http://host/confirm?token=abc` for `path` `/confirm`.
pub fn find_link<'a>(text: &'a str, path: &str) -> Option<&'a str> {
    let needle = format!("{path}?token=");
    let at = text.find(&needle)?;
    let start = text[..at]
        .rfind(|c: char| c.is_whitespace() || matches!(c, '<' | '(' | '"' | '\'' | '>'))
        .map_or(0, |i| i + 1);
    let token_start = at + needle.len();
    let token_len = text[token_start..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '%' | '.' | '~')))
        .unwrap_or(text.len() - token_start);
    if token_len == 0 {
        return None;
    }
    Some(&text[start..token_start + token_len])
}

/// The `token` query parameter of a link found by [`find_link`].
pub fn token_of_link(link: &str) -> Option<&str> {
    link.split_once("?token=")
        .map(|(_, token)| token)
        .filter(|token| !token.is_empty())
}

#[derive(Debug, Default)]
struct State {
    messages: Vec<SentMail>,
    /// How many messages to each recipient `next_for` has handed out, oldest first.
    taken: Vec<(String, usize)>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Bumped on every delivery; waiters watch it.
    delivered: watch::Sender<u64>,
}

/// A mailbox in memory: the mailer's transport in tests and in development setups that
/// want no files. Cloning shares the mailbox.
#[derive(Debug, Clone)]
pub struct InMemoryMailbox {
    shared: Arc<Shared>,
}

impl Default for InMemoryMailbox {
    fn default() -> Self {
        Self::new()
    }
}

fn same_address(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

impl InMemoryMailbox {
    /// An empty mailbox.
    pub fn new() -> Self {
        let (delivered, _) = watch::channel(0);
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                delivered,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn deliver(&self, mail: SentMail) {
        self.state().messages.push(mail);
        self.shared.delivered.send_modify(|count| *count += 1);
    }

    /// Every message so far, oldest first.
    pub fn messages(&self) -> Vec<SentMail> {
        self.state().messages.clone()
    }

    /// Every message to `address` (compared case-insensitively), oldest first.
    pub fn messages_to(&self, address: &str) -> Vec<SentMail> {
        self.state()
            .messages
            .iter()
            .filter(|m| same_address(&m.to, address))
            .cloned()
            .collect()
    }

    /// The newest message to `address`.
    pub fn last_to(&self, address: &str) -> Option<SentMail> {
        self.messages_to(address).pop()
    }

    /// How many messages were sent.
    pub fn len(&self) -> usize {
        self.state().messages.len()
    }

    /// Whether nothing was sent.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every message.
    pub fn clear(&self) {
        let mut state = self.state();
        state.messages.clear();
        state.taken.clear();
    }

    /// Takes the oldest message to `address` that no earlier `next_for` call returned, if
    /// there is one now.
    pub fn try_next_for(&self, address: &str) -> Option<SentMail> {
        let mut state = self.state();
        let taken = state
            .taken
            .iter()
            .find(|(to, _)| same_address(to, address))
            .map_or(0, |t| t.1);
        let next = state
            .messages
            .iter()
            .filter(|m| same_address(&m.to, address))
            .nth(taken)?
            .clone();
        match state
            .taken
            .iter_mut()
            .find(|(to, _)| same_address(to, address))
        {
            Some(entry) => entry.1 += 1,
            None => state.taken.push((address.to_owned(), 1)),
        }
        Some(next)
    }

    /// Waits up to `timeout` for the next message to `address` (as [`Self::try_next_for`]):
    /// one already delivered and not yet taken counts. `None` when none came in time.
    pub async fn next_for(&self, address: &str, timeout: Duration) -> Option<SentMail> {
        let mut delivered = self.shared.delivered.subscribe();
        let wait = async {
            loop {
                // Subscribed before looking, so a delivery in between still wakes us.
                if let Some(mail) = self.try_next_for(address) {
                    return Some(mail);
                }
                if delivered.changed().await.is_err() {
                    return None;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(to: &str, text: &str) -> SentMail {
        SentMail {
            to: to.to_owned(),
            to_name: None,
            template: "confirmation",
            subject: "s".to_owned(),
            text: text.to_owned(),
            html: String::new(),
            raw: Vec::new(),
        }
    }

    #[test]
    fn the_first_link_and_its_token_are_found_in_a_text() {
        let text = "Hello,\n\nopen\n\nhttp://127.0.0.1:8080/confirm?token=abc-DEF_123\n\nthen \
                    http://127.0.0.1:8080/confirm?token=second\n";
        assert_eq!(
            find_link(text, "/confirm"),
            Some("http://127.0.0.1:8080/confirm?token=abc-DEF_123")
        );
        let sent = mail("ada@example.com", text);
        assert_eq!(sent.confirmation_token().as_deref(), Some("abc-DEF_123"));
        assert_eq!(
            find_link("<a href=\"https://x/confirm?token=t1\">", "/confirm"),
            Some("https://x/confirm?token=t1")
        );
        assert_eq!(find_link(text, "/reset-password"), None);
        assert_eq!(
            find_link("see https://x/confirm?token= now", "/confirm"),
            None
        );
    }

    #[tokio::test]
    async fn next_for_returns_each_message_to_a_recipient_once_in_order() {
        let mailbox = InMemoryMailbox::new();
        mailbox.deliver(mail("ada@example.com", "one"));
        mailbox.deliver(mail("bob@example.com", "bob"));
        mailbox.deliver(mail("ADA@example.com", "two"));
        let wait = Duration::from_millis(50);
        assert_eq!(
            mailbox
                .next_for("Ada@Example.com", wait)
                .await
                .unwrap()
                .text,
            "one"
        );
        assert_eq!(
            mailbox
                .next_for("ada@example.com", wait)
                .await
                .unwrap()
                .text,
            "two"
        );
        assert!(mailbox.next_for("ada@example.com", wait).await.is_none());
        assert_eq!(
            mailbox
                .next_for("bob@example.com", wait)
                .await
                .unwrap()
                .text,
            "bob"
        );
        assert_eq!(mailbox.messages_to("ada@example.com").len(), 2);
        assert_eq!(mailbox.last_to("ada@example.com").unwrap().text, "two");
        assert_eq!(mailbox.len(), 3);
    }

    #[tokio::test]
    async fn next_for_waits_for_a_message_that_arrives_later() {
        let mailbox = InMemoryMailbox::new();
        let later = mailbox.clone();
        let sender = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            later.deliver(mail("bob@example.com", "not for ada"));
            tokio::time::sleep(Duration::from_millis(30)).await;
            later.deliver(mail("ada@example.com", "for ada"));
        });
        let got = mailbox
            .next_for("ada@example.com", Duration::from_secs(5))
            .await;
        assert_eq!(got.unwrap().text, "for ada");
        sender.await.unwrap();
    }

    #[tokio::test]
    async fn next_for_gives_up_after_its_timeout() {
        let mailbox = InMemoryMailbox::new();
        let start = std::time::Instant::now();
        assert!(
            mailbox
                .next_for("ada@example.com", Duration::from_millis(40))
                .await
                .is_none()
        );
        assert!(start.elapsed() >= Duration::from_millis(40));
        mailbox.deliver(mail("ada@example.com", "x"));
        mailbox.clear();
        assert!(mailbox.is_empty());
        assert!(mailbox.try_next_for("ada@example.com").is_none());
    }
}
