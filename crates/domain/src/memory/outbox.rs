//! [`MemoryOutbox`].

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::Shared;
use crate::error::InfraError;
use crate::mail::QueuedMail;
use crate::ports::Outbox;

/// Longest stored delivery error, as in the database.
const MAX_ERROR_LEN: usize = 1_000;

/// The mail outbox of a [`super::MemoryStore`].
#[derive(Debug, Clone)]
pub struct MemoryOutbox {
    shared: Shared,
}

impl MemoryOutbox {
    pub(super) fn new(shared: Shared) -> Self {
        Self { shared }
    }

    /// The last delivery error of each message that has one, oldest message first: what
    /// operators would see.
    pub fn errors(&self) -> Vec<String> {
        self.shared
            .lock()
            .outbox
            .iter()
            .filter_map(|m| m.last_error.clone())
            .collect()
    }
}

#[async_trait]
impl Outbox for MemoryOutbox {
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<QueuedMail>, InfraError> {
        let mut state = self.shared.lock();
        let mut due: Vec<usize> = state
            .outbox
            .iter()
            .enumerate()
            .filter(|(_, m)| {
                m.sent_at.is_none()
                    && !m.abandoned
                    && m.next_attempt_at <= now
                    && m.locked_until.is_none_or(|until| until <= now)
            })
            .map(|(i, _)| i)
            .collect();
        due.sort_by_key(|&i| (state.outbox[i].next_attempt_at, state.outbox[i].id));
        due.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let mut claimed = Vec::with_capacity(due.len());
        for i in due {
            let message = &mut state.outbox[i];
            if let Some(mail) = &message.mail {
                message.locked_until = Some(now + lease);
                claimed.push(QueuedMail {
                    id: message.id,
                    mail: mail.clone(),
                    attempts: message.attempts,
                });
            }
        }
        Ok(claimed)
    }

    async fn mark_sent(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), InfraError> {
        let mut state = self.shared.lock();
        if let Some(message) = state.outbox.iter_mut().find(|m| m.id == id) {
            message.sent_at = Some(now);
            message.locked_until = None;
            // The payload holds a live token; once delivered it has no business here.
            message.mail = None;
        }
        Ok(())
    }

    async fn mark_failed(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), InfraError> {
        let mut state = self.shared.lock();
        if let Some(message) = state.outbox.iter_mut().find(|m| m.id == id) {
            message.attempts += 1;
            message.last_error = Some(error.chars().take(MAX_ERROR_LEN).collect());
            message.locked_until = None;
            match retry_at {
                Some(at) => message.next_attempt_at = at,
                None => message.abandoned = true,
            }
        }
        Ok(())
    }
}
