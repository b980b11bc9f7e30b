//! [`DieselSessionRepository`] and [`DieselAuditLog`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use roster_domain::InfraError;
use roster_domain::audit::AuditEvent;
use roster_domain::ports::{AuditLog, RefreshOutcome, RefreshRotation, SessionRepository};
use roster_domain::session::{
    NewSession, PresentedRefreshToken, RefreshDecision, RevokeReason, SessionId, SessionInfo,
    decide_refresh, reuse_decision,
};
use roster_domain::user::{User, UserId, UserStatus};
use tracing::instrument;

use crate::db::Database;
use crate::error::{DbError, corrupt};
use crate::models::{AuditRow, TenantRow, UserRow, naive, utc};
use crate::schema::{
    audit_events, refresh_tokens, sessions, tenant_memberships, user_roles, users,
};
use crate::types::Id;
use crate::users::fetch_user;

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

/// A presented refresh token joined with its session and user.
type PresentedRow = (
    Id,
    Id,
    chrono::NaiveDateTime,
    Option<chrono::NaiveDateTime>,
    chrono::NaiveDateTime,
    Option<chrono::NaiveDateTime>,
    String,
);

/// A live session as listed.
type SessionInfoRow = (
    Id,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
    Option<String>,
    Option<String>,
);

fn presented_token(row: PresentedRow) -> Result<PresentedRefreshToken, DbError> {
    let (session_id, user_id, token_expires_at, used_at, session_expires_at, revoked_at, status) =
        row;
    Ok(PresentedRefreshToken {
        session_id: SessionId::from_uuid(session_id.0),
        user_id: UserId::from_uuid(user_id.0),
        token_expires_at: utc(token_expires_at),
        used: used_at.is_some(),
        session_expires_at: utc(session_expires_at),
        session_revoked: revoked_at.is_some(),
        user_status: UserStatus::parse(&status)
            .ok_or_else(|| corrupt(format!("unknown user status {status:?}")))?,
    })
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
            let user = fetch_user!(conn, &self.db.keys, users::id.eq(user_id));
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
        // One statement, run on every authenticated request: the live session's user with its
        // roles and memberships (one row per role × membership; a user has few of each).
        let keys = &self.db.keys;
        crate::with_conn!(self.db, conn => {
            let rows: Vec<(UserRow, Option<String>, Option<Membership>)> = sessions::table
                .inner_join(
                    users::table
                        .left_join(user_roles::table)
                        .left_join(tenant_memberships::table),
                )
                .filter(sessions::id.eq(session))
                .filter(sessions::user_id.eq(user))
                .filter(sessions::revoked_at.is_null())
                .filter(sessions::expires_at.gt(now))
                .filter(users::status.eq(UserStatus::Active.as_str()))
                .select((
                    UserRow::as_select(),
                    user_roles::role.nullable(),
                    (
                        tenant_memberships::tenant_id,
                        tenant_memberships::role,
                        tenant_memberships::is_main,
                        tenant_memberships::created_at,
                    )
                        .nullable(),
                ))
                .load(conn)
                .await?;
            Ok(assemble_user(rows, keys)?)
        })
    }
}

/// A tenant membership's columns, as a left join gives them.
type Membership = (String, String, bool, chrono::NaiveDateTime);

/// The user of a join of users with their roles and memberships: the first row's user, the
/// distinct roles in name order and the distinct memberships in the order that
/// `complete_user!` gives them (creation, then tenant id).
fn assemble_user(
    rows: Vec<(UserRow, Option<String>, Option<Membership>)>,
    keys: &crate::EmailKeys,
) -> Result<Option<User>, DbError> {
    let mut rows = rows.into_iter();
    let Some((row, first_role, first_tenant)) = rows.next() else {
        return Ok(None);
    };
    let mut roles: Vec<String> = first_role.into_iter().collect();
    let mut tenants: Vec<TenantRow> = Vec::new();
    let mut add_tenant = |t: Option<Membership>| {
        if let Some((tenant_id, role, is_main, created_at)) = t
            && !tenants.iter().any(|known| known.tenant_id == tenant_id)
        {
            tenants.push(TenantRow {
                tenant_id,
                role,
                is_main,
                created_at,
            });
        }
    };
    add_tenant(first_tenant);
    for (_, role, tenant) in rows {
        if let Some(role) = role
            && !roles.contains(&role)
        {
            roles.push(role);
        }
        add_tenant(tenant);
    }
    roles.sort();
    tenants.sort_by(|a, b| (a.created_at, &a.tenant_id).cmp(&(b.created_at, &b.tenant_id)));
    Ok(Some(row.into_user(roles, tenants, keys)?))
}

impl DieselSessionRepository {
    async fn rotate_refresh_inner(
        &self,
        rotation: &RefreshRotation,
    ) -> Result<RefreshOutcome, DbError> {
        let presented = rotation.presented.as_str().to_owned();
        let next = rotation.next.as_str().to_owned();
        let now = rotation.now;
        let at = naive(now);
        crate::in_transaction!(self.db, conn => {
            let row: Option<PresentedRow> = refresh_tokens::table
                .inner_join(sessions::table.inner_join(users::table))
                .filter(refresh_tokens::token_hash.eq(&presented))
                .select((
                    refresh_tokens::session_id,
                    sessions::user_id,
                    refresh_tokens::expires_at,
                    refresh_tokens::used_at,
                    sessions::expires_at,
                    sessions::revoked_at,
                    users::status,
                ))
                .first(conn)
                .await
                .optional()?;
            let Some(row) = row else {
                return Ok(RefreshOutcome::Invalid);
            };
            let found = presented_token(row)?;
            let session_id = Id(found.session_id.as_uuid());
            let decision = match decide_refresh(&found, now, rotation.refresh_ttl, &rotation.ctx) {
                RefreshDecision::Rotate { next_expires_at } => {
                    // The conditional update is the guard against a concurrent rotation of
                    // the same token: only one transaction can move used_at from NULL.
                    let marked = diesel::update(
                        refresh_tokens::table
                            .filter(refresh_tokens::token_hash.eq(&presented))
                            .filter(refresh_tokens::used_at.is_null()),
                    )
                    .set(refresh_tokens::used_at.eq(at))
                    .execute(conn)
                    .await?;
                    if marked == 1 {
                        let successor = NewRefreshRow {
                            token_hash: next.clone(),
                            session_id,
                            created_at: at,
                            expires_at: naive(next_expires_at),
                        };
                        diesel::insert_into(refresh_tokens::table).values(&successor).execute(conn).await?;
                        diesel::update(sessions::table.filter(sessions::id.eq(session_id)))
                            .set(sessions::last_used_at.eq(at))
                            .execute(conn)
                            .await?;
                        let user = fetch_user!(conn, &self.db.keys, users::id.eq(Id(found.user_id.as_uuid())));
                        let user = user.ok_or_else(|| corrupt("refreshing user not found"))?;
                        return Ok(RefreshOutcome::Rotated { session_id: found.session_id, user: Box::new(user) });
                    }
                    reuse_decision(&found, now, &rotation.ctx)
                }
                other => other,
            };
            match decision {
                RefreshDecision::RevokeForReuse { audit } => {
                    diesel::update(
                        sessions::table
                            .filter(sessions::id.eq(session_id))
                            .filter(sessions::revoked_at.is_null()),
                    )
                    .set((sessions::revoked_at.eq(at), sessions::revoke_reason.eq(RevokeReason::TokenReused.as_str())))
                    .execute(conn)
                    .await?;
                    diesel::insert_into(audit_events::table).values(&AuditRow::from(audit.as_ref())).execute(conn).await?;
                    Ok(RefreshOutcome::Reused { session_id: found.session_id })
                }
                RefreshDecision::Rotate { .. } | RefreshDecision::Refuse => Ok(RefreshOutcome::Invalid),
            }
        })
    }

    async fn revoke_inner(
        &self,
        session: SessionId,
        user: UserId,
        now: DateTime<Utc>,
        reason: RevokeReason,
        audit: &AuditEvent,
    ) -> Result<bool, DbError> {
        let (session, user, now) = (Id(session.as_uuid()), Id(user.as_uuid()), naive(now));
        let audit_row = AuditRow::from(audit);
        crate::in_transaction!(self.db, conn => {
            let revoked = diesel::update(
                sessions::table
                    .filter(sessions::id.eq(session))
                    .filter(sessions::user_id.eq(user))
                    .filter(sessions::revoked_at.is_null())
                    .filter(sessions::expires_at.gt(now)),
            )
            .set((sessions::revoked_at.eq(now), sessions::revoke_reason.eq(reason.as_str())))
            .execute(conn)
            .await?;
            if revoked > 0 {
                diesel::insert_into(audit_events::table).values(&audit_row).execute(conn).await?;
            }
            Ok(revoked > 0)
        })
    }

    async fn revoke_all_inner(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        reason: RevokeReason,
        audit: &AuditEvent,
    ) -> Result<u64, DbError> {
        let (user, at) = (Id(user.as_uuid()), naive(now));
        crate::in_transaction!(self.db, conn => {
            let revoked = diesel::update(
                sessions::table
                    .filter(sessions::user_id.eq(user))
                    .filter(sessions::revoked_at.is_null())
                    .filter(sessions::expires_at.gt(at)),
            )
            .set((sessions::revoked_at.eq(at), sessions::revoke_reason.eq(reason.as_str())))
            .execute(conn)
            .await?;
            let event = audit.clone().with("sessions_revoked", revoked.to_string());
            diesel::insert_into(audit_events::table).values(&AuditRow::from(&event)).execute(conn).await?;
            Ok(u64::try_from(revoked).unwrap_or(u64::MAX))
        })
    }

    async fn live_sessions_inner(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionInfo>, DbError> {
        let (user, now) = (Id(user.as_uuid()), naive(now));
        let rows: Vec<SessionInfoRow> = crate::with_conn!(self.db, conn => {
            sessions::table
                .filter(sessions::user_id.eq(user))
                .filter(sessions::revoked_at.is_null())
                .filter(sessions::expires_at.gt(now))
                .order((sessions::last_used_at.desc(), sessions::id.desc()))
                .select((
                    sessions::id,
                    sessions::created_at,
                    sessions::last_used_at,
                    sessions::ip,
                    sessions::user_agent,
                ))
                .load(conn)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(id, created_at, last_used_at, ip, user_agent)| SessionInfo {
                    id: SessionId::from_uuid(id.0),
                    created_at: utc(created_at),
                    last_used_at: utc(last_used_at),
                    ip,
                    user_agent,
                },
            )
            .collect())
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
        self.db
            .spawn(async move { this.start_inner(&session, &audit, max_sessions).await })
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
        let this = self.clone();
        self.db
            .spawn(async move { this.live_session_user_inner(session, user, now).await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }

    #[instrument(skip_all, level = "debug")]
    async fn rotate_refresh(
        &self,
        rotation: RefreshRotation,
    ) -> Result<RefreshOutcome, InfraError> {
        let this = self.clone();
        self.db
            .spawn(async move { this.rotate_refresh_inner(&rotation).await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }

    #[instrument(skip(self, audit), level = "debug")]
    async fn revoke(
        &self,
        session: SessionId,
        user: UserId,
        now: DateTime<Utc>,
        reason: RevokeReason,
        audit: AuditEvent,
    ) -> Result<bool, InfraError> {
        let this = self.clone();
        self.db
            .spawn(async move { this.revoke_inner(session, user, now, reason, &audit).await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }

    #[instrument(skip(self, audit), level = "debug")]
    async fn revoke_all(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        reason: RevokeReason,
        audit: AuditEvent,
    ) -> Result<u64, InfraError> {
        let this = self.clone();
        self.db
            .spawn(async move { this.revoke_all_inner(user, now, reason, &audit).await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }

    #[instrument(skip(self), level = "debug")]
    async fn live_sessions(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionInfo>, InfraError> {
        let this = self.clone();
        self.db
            .spawn(async move { this.live_sessions_inner(user, now).await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
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
        let (this, row) = (self.clone(), AuditRow::from(&event));
        self.db
            .spawn(async move { this.record_inner(&row).await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }
}
