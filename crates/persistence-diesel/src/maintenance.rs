//! [`DieselMaintenance`]: job leases and the cleanup of stale rows.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::dsl::{exists, not};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use roster_domain::InfraError;
use roster_domain::audit::{Actor, AuditAction, AuditEvent, RequestContext};
use roster_domain::ports::{CleanupCutoffs, CleanupReport, Maintenance};
use roster_domain::token::TokenPurpose;
use roster_domain::user::{UserId, UserStatus};
use tracing::instrument;

use crate::db::{BackendKind, Database};
use crate::error::DbError;
use crate::models::{AuditRow, naive};
use crate::schema::{audit_events, one_time_tokens, sessions, users};
use crate::types::Id;

/// Takes a lease unless someone else holds one that has not run out: one statement, so two
/// instances racing for it cannot both win.
const LEASE_PG: &str = "INSERT INTO job_leases (name, holder, leased_until) VALUES ($1, $2, $3) \
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, leased_until = excluded.leased_until \
     WHERE job_leases.leased_until <= $4 OR job_leases.holder = excluded.holder";
const LEASE_SQLITE: &str = "INSERT INTO job_leases (name, holder, leased_until) VALUES (?, ?, ?) \
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, leased_until = excluded.leased_until \
     WHERE job_leases.leased_until <= ? OR job_leases.holder = excluded.holder";

/// Housekeeping on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct DieselMaintenance {
    db: Database,
}

impl DieselMaintenance {
    /// Housekeeping over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    async fn try_lease_inner(
        &self,
        job: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        use diesel::sql_types::{Text, Timestamp};
        let sql = match self.db.kind() {
            BackendKind::Sqlite => LEASE_SQLITE,
            BackendKind::Postgres => LEASE_PG,
        };
        let taken = crate::with_conn!(self.db, conn => {
            diesel::sql_query(sql)
                .bind::<Text, _>(job)
                .bind::<Text, _>(holder)
                .bind::<Timestamp, _>(naive(until))
                .bind::<Timestamp, _>(naive(now))
                .execute(conn)
                .await
                .map_err(DbError::from)
        })?;
        Ok(taken == 1)
    }

    async fn cleanup_inner(&self, cutoffs: CleanupCutoffs) -> Result<CleanupReport, DbError> {
        let now = naive(cutoffs.now);
        let pending_before = naive(cutoffs.pending_created_before);
        let dead_before = naive(cutoffs.sessions_dead_before);
        crate::in_transaction!(self.db, conn => {
            // A pending account whose confirmation was resent keeps its newer link alive.
            let stale: Vec<Id> = users::table
                .filter(users::status.eq(UserStatus::Pending.as_str()))
                .filter(users::created_at.le(pending_before))
                .filter(not(exists(
                    one_time_tokens::table
                        .filter(one_time_tokens::user_id.eq(users::id))
                        .filter(one_time_tokens::purpose.eq(TokenPurpose::EmailConfirmation.as_str()))
                        .filter(one_time_tokens::expires_at.gt(now)),
                )))
                .select(users::id)
                .load(conn)
                .await?;
            let mut report = CleanupReport::default();
            for id in &stale {
                let deleted = diesel::delete(users::table.filter(users::id.eq(*id))).execute(conn).await?;
                if deleted == 1 {
                    report.pending_accounts += 1;
                    let event = AuditEvent::new(
                        cutoffs.now,
                        Actor::System,
                        AuditAction::PendingUserExpired,
                        Some(UserId::from_uuid(id.0)),
                        &RequestContext::default(),
                    )
                    .with("reason", "cleanup");
                    diesel::insert_into(audit_events::table).values(&AuditRow::from(&event)).execute(conn).await?;
                }
            }
            let tokens = diesel::delete(one_time_tokens::table.filter(one_time_tokens::expires_at.le(now)))
                .execute(conn)
                .await?;
            let revoked = diesel::delete(sessions::table.filter(sessions::revoked_at.le(dead_before)))
                .execute(conn)
                .await?;
            let ended = diesel::delete(sessions::table.filter(sessions::expires_at.le(dead_before)))
                .execute(conn)
                .await?;
            report.tokens = tokens as u64;
            report.sessions = (revoked + ended) as u64;
            Ok(report)
        })
    }
}

#[async_trait]
impl Maintenance for DieselMaintenance {
    #[instrument(skip(self), level = "debug")]
    async fn try_lease(
        &self,
        job: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        let (this, job, holder) = (self.clone(), job.to_owned(), holder.to_owned());
        self.db
            .spawn(async move { this.try_lease_inner(&job, &holder, now, until).await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }

    #[instrument(skip(self), level = "debug")]
    async fn cleanup(&self, cutoffs: CleanupCutoffs) -> Result<CleanupReport, InfraError> {
        let this = self.clone();
        self.db
            .spawn(async move { this.cleanup_inner(cutoffs).await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }
}
