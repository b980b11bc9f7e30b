//! Mail that the rules cause. Queued in the outbox within the causing transaction and
//! rendered and sent later by the mailer.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// What a message is about; the mailer turns it into text and HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailKind {
    /// Confirm a newly registered address.
    Confirmation {
        /// The raw confirmation token for the link.
        token: String,
        /// When the token stops working.
        expires_at: DateTime<Utc>,
    },
    /// Set a new password after a reset request.
    PasswordReset {
        /// The raw reset token for the link.
        token: String,
        /// When the token stops working.
        expires_at: DateTime<Utc>,
    },
}

impl MailKind {
    /// Stable name of the template.
    pub fn template(&self) -> &'static str {
        match self {
            Self::Confirmation { .. } => "confirmation",
            Self::PasswordReset { .. } => "password_reset",
        }
    }
}

/// A message to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// Recipient address, as displayed.
    pub to: String,
    /// Recipient name, if known.
    pub to_name: Option<String>,
    /// What to say.
    pub kind: MailKind,
}

/// A message in the outbox, claimed for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    /// Outbox id.
    pub id: Uuid,
    /// The message.
    pub mail: OutgoingMail,
    /// Delivery attempts before this one.
    pub attempts: u32,
}
