//! [`TestMailbox`]: a mail sender that keeps what it is given.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use crate::mail::{MailKind, OutgoingMail};
use crate::ports::{DeliveryError, MailSender};

/// A [`MailSender`] that delivers into a list instead of sending: for tests, and to read the
/// links a real user would find in their mail. Cloning shares the list.
///
/// ```
/// use roster_domain::mail::{MailKind, OutgoingMail};
/// use roster_domain::memory::TestMailbox;
/// use roster_domain::ports::{DeliveryError, MailSender};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mailbox = TestMailbox::new();
/// let mail = OutgoingMail {
///     to: "ada@example.com".into(),
///     to_name: None,
///     kind: MailKind::Confirmation { token: "abc".into(), expires_at: chrono::Utc::now() },
/// };
/// mailbox.send(&mail).await.unwrap();
/// assert_eq!(mailbox.sent(), vec![mail.clone()]);
/// assert_eq!(mailbox.last_token_for("ada@example.com").as_deref(), Some("abc"));
///
/// // A transport that refuses once, for tests of retries.
/// mailbox.fail_next(DeliveryError::Transient("connection refused".into()));
/// assert!(mailbox.send(&mail).await.is_err());
/// assert_eq!(mailbox.sent().len(), 1);
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct TestMailbox {
    sent: Arc<Mutex<Vec<OutgoingMail>>>,
    failures: Arc<Mutex<Vec<DeliveryError>>>,
}

impl TestMailbox {
    /// An empty mailbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every message delivered so far, oldest first.
    pub fn sent(&self) -> Vec<OutgoingMail> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Makes the next delivery attempt fail with `error` (queued: call it twice for two
    /// failures), to test retries and abandonment.
    pub fn fail_next(&self, error: DeliveryError) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(error);
    }

    /// The token of the newest message to `to` (its confirmation or reset link), if any.
    pub fn last_token_for(&self, to: &str) -> Option<String> {
        self.sent()
            .into_iter()
            .rev()
            .find(|m| m.to.eq_ignore_ascii_case(to))
            .map(|m| match m.kind {
                MailKind::Confirmation { token, .. } | MailKind::PasswordReset { token, .. } => {
                    token
                }
            })
    }
}

#[async_trait]
impl MailSender for TestMailbox {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), DeliveryError> {
        {
            let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
            if !failures.is_empty() {
                return Err(failures.remove(0));
            }
        }
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(mail.clone());
        Ok(())
    }
}
