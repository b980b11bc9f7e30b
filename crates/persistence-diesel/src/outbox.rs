//! [`DieselOutbox`]: the mail outbox as the delivery worker sees it.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use roster_domain::InfraError;
use roster_domain::mail::QueuedMail;
use roster_domain::ports::Outbox;
use tracing::instrument;
use uuid::Uuid;

use crate::db::Database;
use crate::error::DbError;
use crate::models::{OutboxRow, naive};
use crate::schema::mail_outbox;
use crate::types::Id;

/// Longest stored delivery error.
const MAX_ERROR_LEN: usize = 1_000;

/// The outbox on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct DieselOutbox {
    db: Database,
}

impl DieselOutbox {
    /// An outbox over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    async fn claim_inner(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<OutboxRow>, DbError> {
        let (now_n, until) = (naive(now), naive(now + lease));
        crate::in_transaction!(self.db, conn => {
            let due: Vec<OutboxRow> = mail_outbox::table
                .filter(mail_outbox::sent_at.is_null())
                .filter(mail_outbox::abandoned_at.is_null())
                .filter(mail_outbox::next_attempt_at.le(now_n))
                .filter(mail_outbox::locked_until.is_null().or(mail_outbox::locked_until.le(now_n)))
                .order((mail_outbox::next_attempt_at.asc(), mail_outbox::id.asc()))
                .limit(i64::from(limit))
                .select(OutboxRow::as_select())
                .load(conn)
                .await?;
            let mut claimed = Vec::with_capacity(due.len());
            for row in due {
                // The lease is taken only if nobody took it since the read: on PostgreSQL a
                // concurrent claimer's update waits for ours and then matches no row.
                let taken = diesel::update(
                    mail_outbox::table
                        .filter(mail_outbox::id.eq(row.id))
                        .filter(mail_outbox::sent_at.is_null())
                        .filter(mail_outbox::locked_until.is_null().or(mail_outbox::locked_until.le(now_n))),
                )
                .set(mail_outbox::locked_until.eq(until))
                .execute(conn)
                .await?;
                if taken == 1 {
                    claimed.push(row);
                }
            }
            Ok(claimed)
        })
    }

    async fn mark_sent_inner(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), DbError> {
        crate::with_conn!(self.db, conn => {
            diesel::update(mail_outbox::table.filter(mail_outbox::id.eq(Id(id))))
                .set((
                    mail_outbox::sent_at.eq(naive(now)),
                    mail_outbox::locked_until.eq(None::<chrono::NaiveDateTime>),
                    // The payload holds a live token; once delivered it has no business here.
                    mail_outbox::payload.eq(crate::rekey::SENT_PAYLOAD),
                ))
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    async fn mark_failed_inner(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), DbError> {
        // A mail server's answer often quotes the recipient (`550 <ada@example.com>: unknown
        // user`): no address is stored in clear.
        let error: String = crate::vault::without_addresses(error)
            .chars()
            .take(MAX_ERROR_LEN)
            .collect();
        crate::with_conn!(self.db, conn => {
            let target = mail_outbox::table.filter(mail_outbox::id.eq(Id(id)));
            match retry_at {
                Some(at) => diesel::update(target)
                    .set((
                        mail_outbox::attempts.eq(mail_outbox::attempts + 1),
                        mail_outbox::last_error.eq(&error),
                        mail_outbox::next_attempt_at.eq(naive(at)),
                        mail_outbox::locked_until.eq(None::<chrono::NaiveDateTime>),
                    ))
                    .execute(conn)
                    .await?,
                None => diesel::update(target)
                    .set((
                        mail_outbox::attempts.eq(mail_outbox::attempts + 1),
                        mail_outbox::last_error.eq(&error),
                        mail_outbox::abandoned_at.eq(naive(Utc::now())),
                        mail_outbox::locked_until.eq(None::<chrono::NaiveDateTime>),
                    ))
                    .execute(conn)
                    .await?,
            };
            Ok(())
        })
    }

    /// Messages waiting for delivery (not sent, not abandoned): for metrics and operators.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    pub async fn depth(&self) -> Result<i64, InfraError> {
        let this = self.clone();
        self.db
            .spawn(async move { this.depth_inner().await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }

    async fn depth_inner(&self) -> Result<i64, DbError> {
        crate::with_conn!(self.db, conn => {
            Ok(mail_outbox::table
                .filter(mail_outbox::sent_at.is_null())
                .filter(mail_outbox::abandoned_at.is_null())
                .count()
                .get_result(conn)
                .await?)
        })
    }
}

#[async_trait]
impl Outbox for DieselOutbox {
    #[instrument(skip(self), level = "debug")]
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<QueuedMail>, InfraError> {
        let this = self.clone();
        let rows = self
            .db
            .spawn(async move { this.claim_inner(now, limit, lease).await })
            .await
            .map_err(InfraError::unexpected)??;
        let mut mails = Vec::with_capacity(rows.len());
        for row in rows {
            let id = row.id.0;
            match row.into_mail(&self.db.keys) {
                Ok(mail) => mails.push(mail),
                Err(error) => {
                    // An unreadable message can never be sent: abandon it rather than retry forever.
                    tracing::error!(mail_id = %id, %error, "abandoning unreadable outbox message");
                    self.mark_failed_inner(id, &error.to_string(), None).await?;
                }
            }
        }
        Ok(mails)
    }

    #[instrument(skip(self), level = "debug")]
    async fn mark_sent(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), InfraError> {
        let this = self.clone();
        self.db
            .spawn(async move { this.mark_sent_inner(id, now).await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }

    #[instrument(skip(self, error), level = "debug")]
    async fn mark_failed(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), InfraError> {
        let (this, error) = (self.clone(), error.to_owned());
        self.db
            .spawn(async move { this.mark_failed_inner(id, &error, retry_at).await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }
}
