//! Background jobs: the mail outbox worker and the cleanup job.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_domain::InfraError;
use roster_domain::audit::AuditEvent;
use roster_domain::audit::RequestContext;
use roster_domain::ports::{
    AccountUpdate, ConfirmOutcome, CreateUserError, CreationEffects, LoginKey, ResetOutcome,
    StoredCredentials, TokenIssue, UpdateUserError, UserRepository,
};
use roster_domain::services::{Cleanup, MailDelivery};
use roster_domain::token::TokenHash;
use roster_domain::user::{NewUser, PasswordHash, User, UserId, Username};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// How often the worker looks at the outbox when nobody woke it (retries, other instances).
pub const MAIL_POLL: Duration = Duration::from_secs(1);
/// Messages per round.
const MAIL_BATCH: u32 = 50;

/// Wakes the mail worker when a change queued mail, so mail leaves at once rather than at the
/// next poll. A decorator over the real repository: it adds no behaviour but the wake-up.
pub struct NotifyingUsers {
    inner: Arc<dyn UserRepository>,
    notify: Arc<Notify>,
}

impl NotifyingUsers {
    /// Wraps `inner`; `notify` is the worker's.
    pub fn new(inner: Arc<dyn UserRepository>, notify: Arc<Notify>) -> Self {
        Self { inner, notify }
    }
}

#[async_trait]
impl UserRepository for NotifyingUsers {
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, InfraError> {
        self.inner.find_by_id(id).await
    }
    async fn find_for_login(
        &self,
        key: &LoginKey,
    ) -> Result<Option<StoredCredentials>, InfraError> {
        self.inner.find_for_login(key).await
    }
    async fn username_exists(&self, username: &Username) -> Result<bool, InfraError> {
        self.inner.username_exists(username).await
    }
    async fn active_admin_exists(&self) -> Result<bool, InfraError> {
        self.inner.active_admin_exists().await
    }
    async fn create(
        &self,
        user: NewUser,
        effects: CreationEffects,
    ) -> Result<User, CreateUserError> {
        let queues_mail = effects.mail.is_some();
        let created = self.inner.create(user, effects).await?;
        if queues_mail {
            self.notify.notify_one();
        }
        Ok(created)
    }
    async fn confirm_email(
        &self,
        token: &TokenHash,
        now: DateTime<Utc>,
        ctx: &RequestContext,
    ) -> Result<ConfirmOutcome, InfraError> {
        self.inner.confirm_email(token, now, ctx).await
    }
    async fn issue_token(&self, issue: TokenIssue) -> Result<(), InfraError> {
        self.inner.issue_token(issue).await?;
        self.notify.notify_one();
        Ok(())
    }
    async fn password_reset_owner(
        &self,
        token: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, InfraError> {
        self.inner.password_reset_owner(token, now).await
    }
    async fn reset_password(
        &self,
        token: &TokenHash,
        user: UserId,
        password_hash: &PasswordHash,
        now: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<ResetOutcome, InfraError> {
        self.inner
            .reset_password(token, user, password_hash, now, audit)
            .await
    }
    async fn update_account(&self, update: AccountUpdate) -> Result<User, UpdateUserError> {
        let queues_mail = update.mail.is_some();
        let updated = self.inner.update_account(update).await?;
        if queues_mail {
            self.notify.notify_one();
        }
        Ok(updated)
    }
    async fn delete_account(&self, user: UserId, audit: AuditEvent) -> Result<bool, InfraError> {
        self.inner.delete_account(user, audit).await
    }
}

/// Runs the outbox worker until `stop` turns true: deliver what is due, then wait for a
/// wake-up or the poll interval. A failing database is logged and retried, never fatal.
pub fn spawn_mail_worker(
    delivery: MailDelivery,
    notify: Arc<Notify>,
    metrics: crate::metrics::MailMetrics,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if *stop.borrow() {
                break;
            }
            let busy = match delivery.run_once(MAIL_BATCH).await {
                Ok(report) => {
                    metrics.record(&report);
                    if report.sent + report.retried + report.abandoned > 0 {
                        tracing::debug!(?report, "mail delivery round");
                    }
                    report.sent + report.retried + report.abandoned == MAIL_BATCH
                }
                Err(error) => {
                    tracing::warn!(%error, "mail outbox unavailable; will retry");
                    false
                }
            };
            if busy {
                continue;
            }
            tokio::select! {
                () = notify.notified() => {}
                () = tokio::time::sleep(MAIL_POLL) => {}
                _ = stop.changed() => {}
            }
        }
        tracing::debug!("mail worker stopped");
    })
}

/// Runs the cleanup job every `interval` until `stop` turns true, starting now. Another
/// instance holding the job lease makes a round a no-op; a failing database is logged and
/// retried at the next round.
pub fn spawn_cleanup_job(
    cleanup: Cleanup,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if *stop.borrow() {
                break;
            }
            match cleanup.run_once().await {
                Ok(Some(report)) => tracing::info!(?report, "cleanup done"),
                Ok(None) => tracing::debug!("cleanup runs on another instance"),
                Err(error) => tracing::warn!(%error, "cleanup failed; will retry"),
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                _ = stop.changed() => {}
            }
        }
        tracing::debug!("cleanup job stopped");
    })
}
