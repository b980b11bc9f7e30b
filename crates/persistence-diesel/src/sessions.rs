//! [`DieselSessionRepository`] and [`DieselAuditLog`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use roster_domain::InfraError;
use roster_domain::audit::AuditEvent;
use roster_domain::ports::{AuditLog, SessionRepository};
use roster_domain::session::{NewSession, SessionId};
use roster_domain::user::{User, UserId, UserStatus};
use tracing::instrument;

use crate::db::Database;
use crate::error::{DbError, corrupt};
use crate::models::{AuditRow, TenantRow, UserRow, naive};
use crate::schema::{
    audit_events, refresh_tokens, sessions, tenant_memberships, user_roles, users,
};
use crate::types::Id;
use crate::users::{complete_user, fetch_user};

#[derive(Debug, Insertable)]
#[diesel(table_name = sessions)]
struct NewSessionRow {
    id: Id,
    user_id: Id,
    created_at: chrono::NaiveDateTime,
    last_used_at: chrono::NaiveDateTime,
    expires_at: chrono::NaiveDateTime,
    ip: Option<String>,
    user_agent: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = refresh_tokens)]
struct NewRefreshRow {
    token_hash: String,
    session_id: Id,
    created_at: chrono::NaiveDateTime,
    expires_at: chrono::NaiveDateTime,
}

/// Sessions on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct DieselSessionRepository {
    db: Database,
}

impl DieselSessionRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    async fn start_inner(
        &self,
        session: &NewSession,
        audit: &AuditEvent,
        max_sessions: u32,
    ) -> Result<User, DbError> {
        let user_id = Id(session.user_id.as_uuid());
        let now = naive(session.created_at);
        let row = NewSessionRow {
            id: Id(session.id.as_uuid()),
            user_id,
            created_at: now,
            last_used_at: now,
            expires_at: naive(session.expires_at),
            ip: session.ip.clone(),
            user_agent: session.user_agent.clone(),
        };
        let refresh = NewRefreshRow {
            token_hash: session.refresh_token_hash.as_str().to_owned(),
            session_id: row.id,
            created_at: now,
            expires_at: naive(session.refresh_expires_at),
        };
        let audit_row = AuditRow::from(audit);
        let keep = usize::try_from(max_sessions)
            .unwrap_or(usize::MAX)
            .saturating_sub(1);
        crate::in_transaction!(self.db, conn => {
            if max_sessions > 0 {
                let live: Vec<Id> = sessions::table
                    .filter(sessions::user_id.eq(user_id))
                    .filter(sessions::revoked_at.is_null())
                    .filter(sessions::expires_at.gt(now))
                    .order((sessions::created_at.desc(), sessions::id.desc()))
                    .select(sessions::id)
                    .load(conn)
                    .await?;
                let excess: Vec<Id> = live.into_iter().skip(keep).collect();
                if !excess.is_empty() {
                    diesel::update(sessions::table.filter(sessions::id.eq_any(&excess)))
                        .set((sessions::revoked_at.eq(now), sessions::revoke_reason.eq("max_sessions")))
                        .execute(conn)
                        .await?;
                }
            }
            diesel::insert_into(sessions::table).values(&row).execute(conn).await?;
            diesel::insert_into(refresh_tokens::table).values(&refresh).execute(conn).await?;
            diesel::update(users::table.filter(users::id.eq(user_id)))
                .set((users::last_login_at.eq(now), users::login_count.eq(users::login_count + 1)))
                .execute(conn)
                .await?;
            diesel::insert_into(audit_events::table).values(&audit_row).execute(conn).await?;
            let user = fetch_user!(conn, users::id.eq(user_id));
            user.ok_or_else(|| corrupt("logged-in user not found"))
        })
    }

    async fn live_session_user_inner(
        &self,
        session: SessionId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, DbError> {
        let (session, user, now) = (Id(session.as_uuid()), Id(user.as_uuid()), naive(now));
        crate::with_conn!(self.db, conn => {
            let row: Option<UserRow> = sessions::table
                .inner_join(users::table)
                .filter(sessions::id.eq(session))
                .filter(sessions::user_id.eq(user))
                .filter(sessions::revoked_at.is_null())
                .filter(sessions::expires_at.gt(now))
                .filter(users::status.eq(UserStatus::Active.as_str()))
                .select(UserRow::as_select())
                .first(conn)
                .await
                .optional()?;
            match row {
                Some(row) => Ok(Some(complete_user!(conn, row)?)),
                None => Ok(None),
            }
        })
    }
}

#[async_trait]
impl SessionRepository for DieselSessionRepository {
    #[instrument(skip_all, fields(session_id = %session.id), level = "debug")]
    async fn start(
        &self,
        session: NewSession,
        audit: AuditEvent,
        max_sessions: u32,
    ) -> Result<User, InfraError> {
        let this = self.clone();
        tokio::spawn(async move { this.start_inner(&session, &audit, max_sessions).await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }

    #[instrument(skip(self), level = "debug")]
    async fn live_session_user(
        &self,
        session: SessionId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, InfraError> {
        Ok(self.live_session_user_inner(session, user, now).await?)
    }
}

/// The audit log on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct DieselAuditLog {
    db: Database,
}

impl DieselAuditLog {
    /// An audit log over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    async fn record_inner(&self, row: &AuditRow) -> Result<(), DbError> {
        crate::with_conn!(self.db, conn => {
            diesel::insert_into(audit_events::table).values(row).execute(conn).await?;
            Ok(())
        })
    }
}

#[async_trait]
impl AuditLog for DieselAuditLog {
    #[instrument(skip_all, fields(action = event.action.as_str()), level = "debug")]
    async fn record(&self, event: AuditEvent) -> Result<(), InfraError> {
        Ok(self.record_inner(&AuditRow::from(&event)).await?)
    }
}
