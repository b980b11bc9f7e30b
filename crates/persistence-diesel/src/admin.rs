//! [`DieselUserAdministration`]: administrative changes of users, roles, and the audit log
//! as read back.
//!
//! The last-admin rule is race-free: every change that could take ADMIN away (deactivation,
//! removal of the role, deletion) first takes one lock that serialises such changes (on
//! PostgreSQL a transaction-scoped advisory lock; on SQLite the `BEGIN IMMEDIATE` write lock
//! every transaction already holds), then counts the active administrators inside the same
//! transaction and applies [`last_admin_guard`].

use std::collections::BTreeMap;
use std::future::Future;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use roster_domain::InfraError;
use roster_domain::audit::AuditEvent;
use roster_domain::policy::{LastAdminFacts, last_admin_guard};
use roster_domain::ports::{
    AccountUpdate, AdminChange, AdminChangeError, AuditPage, AuditQuery, AuditRecord,
    CreateRoleError, Role, RoleChange, StatusChange, TenantChange, UserAdministration,
};
use roster_domain::role::RoleName;
use roster_domain::user::{User, UserId, UserStatus};
use tracing::instrument;

use crate::db::{Database, PgConn, SqliteConn};
use crate::error::{DbError, UniqueClash, corrupt};
use crate::models::{AuditRow, TenantRow, UserChangeRow, UserRoleRow, UserRow, naive, utc};
use crate::schema::{audit_events, roles, sessions, tenant_memberships, user_roles, users};
use crate::types::Id;
use crate::users::{email_free_under_other_keys, fetch_user};

/// The key of the PostgreSQL advisory lock that serialises changes which may take ADMIN
/// away from someone ("ROSTERAD" in ASCII, as a number).
const ADMIN_LOCK_KEY: i64 = 0x524F_5354_4552_4144;

/// Serialises, within the current transaction, every change that may take ADMIN away.
trait AdminLock {
    fn lock_admins(&mut self) -> impl Future<Output = Result<(), DbError>> + Send;
}

impl AdminLock for PgConn {
    async fn lock_admins(&mut self) -> Result<(), DbError> {
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({ADMIN_LOCK_KEY})"))
            .execute(self)
            .await?;
        Ok(())
    }
}

impl AdminLock for SqliteConn {
    async fn lock_admins(&mut self) -> Result<(), DbError> {
        // Every writing transaction here is BEGIN IMMEDIATE: it holds the database's one write
        // lock from its first statement, so such changes are already serialised.
        Ok(())
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = tenant_memberships)]
struct NewTenantRow {
    user_id: Id,
    tenant_id: String,
    role: String,
    is_main: bool,
    created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = roles, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct RoleRow {
    name: String,
    description: Option<String>,
    built_in: bool,
    created_at: NaiveDateTime,
}

impl RoleRow {
    fn into_role(self) -> Result<Role, DbError> {
        Ok(Role {
            name: RoleName::parse(&self.name).map_err(|e| corrupt(format!("role name: {e}")))?,
            description: self.description,
            built_in: self.built_in,
            created_at: utc(self.created_at),
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct AuditReadRow {
    id: Id,
    at: NaiveDateTime,
    actor_id: String,
    action: String,
    user_id: Option<Id>,
    ip: Option<String>,
    details: String,
}

impl AuditReadRow {
    fn into_record(self) -> Result<AuditRecord, DbError> {
        let details: BTreeMap<String, String> = serde_json::from_str(&self.details)
            .map_err(|e| corrupt(format!("audit details: {e}")))?;
        Ok(AuditRecord {
            id: self.id.0,
            at: utc(self.at),
            actor_id: self.actor_id,
            action: self.action,
            user_id: self.user_id.map(|u| UserId::from_uuid(u.0)),
            ip: self.ip,
            details,
        })
    }
}

/// What one transaction came to: done, or refused by a rule (nothing written).
type Outcome<T> = Result<T, AdminChangeError>;

/// Reads the target's status and roles and the number of active administrators, and applies
/// the last-admin rule. Call after taking the admin lock.
macro_rules! guard_last_admin {
    ($conn:ident, $id:expr) => {{
        let status: Option<String> = users::table
            .filter(users::id.eq($id))
            .select(users::status)
            .first($conn)
            .await
            .optional()?;
        match status {
            None => Some(AdminChangeError::NotFound),
            Some(status) => {
                let status = UserStatus::parse(&status).ok_or_else(|| corrupt("stored status"))?;
                let roles: Vec<String> = user_roles::table
                    .filter(user_roles::user_id.eq($id))
                    .select(user_roles::role)
                    .load($conn)
                    .await?;
                let roles: Vec<RoleName> = roles
                    .iter()
                    .filter_map(|r| RoleName::parse(r).ok())
                    .collect();
                let active_admins: i64 = user_roles::table
                    .inner_join(users::table)
                    .filter(user_roles::role.eq(RoleName::ADMIN))
                    .filter(users::status.eq(UserStatus::Active.as_str()))
                    .count()
                    .get_result($conn)
                    .await?;
                let facts =
                    LastAdminFacts::of(&roles, status, u64::try_from(active_admins).unwrap_or(0));
                last_admin_guard(&facts)
                    .err()
                    .map(AdminChangeError::LastAdmin)
            }
        }
    }};
}

/// Builds the filtered audit query (boxed, for the connection's backend).
macro_rules! audit_filtered {
    ($query:expr) => {{
        let mut q = audit_events::table.into_boxed();
        if let Some(user) = $query.user_id {
            q = q.filter(audit_events::user_id.eq(Id(user.as_uuid())));
        }
        if let Some(actor) = &$query.actor_id {
            q = q.filter(audit_events::actor_id.eq(actor.clone()));
        }
        if let Some(action) = $query.action {
            q = q.filter(audit_events::action.eq(action.as_str()));
        }
        if let Some(since) = $query.since {
            q = q.filter(audit_events::at.ge(naive(since)));
        }
        if let Some(until) = $query.until {
            q = q.filter(audit_events::at.lt(naive(until)));
        }
        q
    }};
}

/// Administration on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct DieselUserAdministration {
    db: Database,
}

fn field_changes_row(
    change: &AdminChange,
    keys: &crate::EmailKeys,
) -> Result<UserChangeRow, DbError> {
    let f = &change.fields;
    // The same conversion as a self-service change, so both store fields alike.
    let mut row = UserChangeRow::new(
        &AccountUpdate {
            user: change.user,
            username: f.username.clone(),
            name: f.name.clone(),
            phone: f.phone.clone(),
            avatar_url: f.avatar_url.clone(),
            profile: f.profile.clone(),
            email: f.email.clone(),
            password_hash: None,
            revoke_other_sessions: None,
            token: None,
            mail: None,
            audit: change.audit.clone(),
            now: change.now,
        },
        keys,
    )?;
    if f.email_verified.is_some() {
        row.email_verified = f.email_verified;
    }
    Ok(row)
}

impl DieselUserAdministration {
    /// Administration over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    async fn find_by_external_id_inner(&self, external_id: &str) -> Result<Option<User>, DbError> {
        crate::with_conn!(self.db, conn => Ok(fetch_user!(conn, &self.db.keys, users::external_id.eq(external_id))))
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one transaction, written once for both backends"
    )]
    async fn apply_inner(&self, change: &AdminChange) -> Result<Outcome<User>, DbError> {
        let id = Id(change.user.as_uuid());
        let now = naive(change.now);
        let keys = &self.db.keys;
        let fields = if change.fields.is_empty() {
            None
        } else {
            Some(field_changes_row(change, keys)?)
        };
        // A new address must not be held under a previous key during a rotation (the
        // unique index sees only the current key's blind index).
        let others = change
            .fields
            .email
            .as_ref()
            .map(|e| keys.other_indexes(e.key()))
            .unwrap_or_default();
        let lock = self.db.email_rotation_lock();
        let external_id = change.fields.external_id.clone();
        let audit_row = AuditRow::from(&change.audit);
        let guarded = matches!(change.status, Some(StatusChange::Deactivate))
            || matches!(&change.role, Some(RoleChange::Remove(role)) if role.is_admin());
        crate::in_transaction!(self.db, conn => {
            email_free_under_other_keys!(conn, lock, &others, Some(id));
            if guarded {
                conn.lock_admins().await?;
                if let Some(refusal) = guard_last_admin!(conn, id) {
                    return Ok(Err(refusal));
                }
            }
            let exists: Option<Id> = users::table
                .filter(users::id.eq(id))
                .select(users::id)
                .first(conn)
                .await
                .optional()?;
            if exists.is_none() {
                return Ok(Err(AdminChangeError::NotFound));
            }
            // Checks first, writes after: a refusal leaves nothing to roll back.
            match &change.role {
                Some(RoleChange::Add(role)) => {
                    let known: i64 = roles::table.filter(roles::name.eq(role.as_str())).count().get_result(conn).await?;
                    if known == 0 {
                        return Ok(Err(AdminChangeError::UnknownRole));
                    }
                    let held: i64 = user_roles::table
                        .filter(user_roles::user_id.eq(id))
                        .filter(user_roles::role.eq(role.as_str()))
                        .count()
                        .get_result(conn)
                        .await?;
                    if held > 0 {
                        return Ok(Err(AdminChangeError::RoleAlreadyAssigned));
                    }
                }
                Some(RoleChange::Remove(role)) => {
                    let held: Vec<String> = user_roles::table
                        .filter(user_roles::user_id.eq(id))
                        .select(user_roles::role)
                        .load(conn)
                        .await?;
                    if !held.iter().any(|r| r == role.as_str()) {
                        return Ok(Err(AdminChangeError::RoleNotAssigned));
                    }
                    if held.len() <= 1 {
                        return Ok(Err(AdminChangeError::LastRole));
                    }
                }
                None => {}
            }
            let memberships: Vec<TenantRow> = match &change.tenant {
                Some(_) => tenant_memberships::table
                    .filter(tenant_memberships::user_id.eq(id))
                    .select(TenantRow::as_select())
                    .order((tenant_memberships::created_at.asc(), tenant_memberships::tenant_id.asc()))
                    .load(conn)
                    .await?,
                None => Vec::new(),
            };
            match &change.tenant {
                Some(TenantChange::Set { tenant, role, main }) => {
                    let known: i64 = roles::table.filter(roles::name.eq(role.as_str())).count().get_result(conn).await?;
                    if known == 0 {
                        return Ok(Err(AdminChangeError::UnknownRole));
                    }
                    let current = memberships.iter().find(|m| m.tenant_id == tenant.as_str());
                    if *main == Some(false) && current.is_some_and(|m| m.is_main) {
                        return Ok(Err(AdminChangeError::MainRequired));
                    }
                }
                Some(TenantChange::Remove(tenant))
                    if !memberships.iter().any(|m| m.tenant_id == tenant.as_str()) =>
                {
                    return Ok(Err(AdminChangeError::MembershipNotFound));
                }
                Some(TenantChange::Remove(_)) | None => {}
            }
            // Writes.
            if let Some(row) = &fields {
                diesel::update(users::table.filter(users::id.eq(id))).set(row).execute(conn).await?;
            } else {
                diesel::update(users::table.filter(users::id.eq(id))).set(users::updated_at.eq(now)).execute(conn).await?;
            }
            if let Some(external_id) = &external_id {
                diesel::update(users::table.filter(users::id.eq(id)))
                    .set(users::external_id.eq(external_id))
                    .execute(conn)
                    .await?;
            }
            match change.status {
                Some(StatusChange::Deactivate) => {
                    diesel::update(users::table.filter(users::id.eq(id)))
                        .set((
                            users::status.eq(UserStatus::Deactivated.as_str()),
                            users::deactivated_at.eq(Some(now)),
                        ))
                        .execute(conn)
                        .await?;
                    diesel::update(
                        sessions::table
                            .filter(sessions::user_id.eq(id))
                            .filter(sessions::revoked_at.is_null()),
                    )
                    .set((sessions::revoked_at.eq(now), sessions::revoke_reason.eq("deactivated")))
                    .execute(conn)
                    .await?;
                }
                Some(StatusChange::Reactivate) => {
                    diesel::update(users::table.filter(users::id.eq(id)))
                        .set((
                            users::status.eq(UserStatus::Active.as_str()),
                            users::deactivated_at.eq(None::<NaiveDateTime>),
                        ))
                        .execute(conn)
                        .await?;
                }
                None => {}
            }
            match &change.role {
                Some(RoleChange::Add(role)) => {
                    diesel::insert_into(user_roles::table)
                        .values(&UserRoleRow { user_id: id, role: role.as_str().to_owned(), created_at: now })
                        .execute(conn)
                        .await?;
                }
                Some(RoleChange::Remove(role)) => {
                    diesel::delete(
                        user_roles::table
                            .filter(user_roles::user_id.eq(id))
                            .filter(user_roles::role.eq(role.as_str())),
                    )
                    .execute(conn)
                    .await?;
                }
                None => {}
            }
            match &change.tenant {
                Some(TenantChange::Set { tenant, role, main }) => {
                    let current = memberships.iter().find(|m| m.tenant_id == tenant.as_str());
                    let make_main = *main == Some(true) || memberships.is_empty();
                    if make_main {
                        // Clear the others first: at most one main at any moment (a partial
                        // unique index holds it).
                        diesel::update(
                            tenant_memberships::table
                                .filter(tenant_memberships::user_id.eq(id))
                                .filter(tenant_memberships::tenant_id.ne(tenant.as_str())),
                        )
                        .set(tenant_memberships::is_main.eq(false))
                        .execute(conn)
                        .await?;
                    }
                    match current {
                        Some(existing) => {
                            diesel::update(
                                tenant_memberships::table
                                    .filter(tenant_memberships::user_id.eq(id))
                                    .filter(tenant_memberships::tenant_id.eq(tenant.as_str())),
                            )
                            .set((
                                tenant_memberships::role.eq(role.as_str()),
                                tenant_memberships::is_main.eq(make_main || existing.is_main),
                            ))
                            .execute(conn)
                            .await?;
                        }
                        None => {
                            diesel::insert_into(tenant_memberships::table)
                                .values(&NewTenantRow {
                                    user_id: id,
                                    tenant_id: tenant.as_str().to_owned(),
                                    role: role.as_str().to_owned(),
                                    is_main: make_main,
                                    created_at: now,
                                })
                                .execute(conn)
                                .await?;
                        }
                    }
                }
                Some(TenantChange::Remove(tenant)) => {
                    diesel::delete(
                        tenant_memberships::table
                            .filter(tenant_memberships::user_id.eq(id))
                            .filter(tenant_memberships::tenant_id.eq(tenant.as_str())),
                    )
                    .execute(conn)
                    .await?;
                    let was_main = memberships.iter().any(|m| m.tenant_id == tenant.as_str() && m.is_main);
                    if let Some(next) = memberships.iter().find(|m| m.tenant_id != tenant.as_str()).filter(|_| was_main) {
                        diesel::update(
                            tenant_memberships::table
                                .filter(tenant_memberships::user_id.eq(id))
                                .filter(tenant_memberships::tenant_id.eq(&next.tenant_id)),
                        )
                        .set(tenant_memberships::is_main.eq(true))
                        .execute(conn)
                        .await?;
                    }
                }
                None => {}
            }
            diesel::insert_into(audit_events::table).values(&audit_row).execute(conn).await?;
            let user = fetch_user!(conn, &self.db.keys, users::id.eq(id));
            Ok(Ok(user.ok_or_else(|| corrupt("changed user not found"))?))
        })
    }

    async fn delete_inner(
        &self,
        user: UserId,
        audit: &AuditEvent,
    ) -> Result<Outcome<User>, DbError> {
        let id = Id(user.as_uuid());
        let audit_row = AuditRow::from(audit);
        crate::in_transaction!(self.db, conn => {
            conn.lock_admins().await?;
            if let Some(refusal) = guard_last_admin!(conn, id) {
                return Ok(Err(refusal));
            }
            let Some(found) = fetch_user!(conn, &self.db.keys, users::id.eq(id)) else {
                return Ok(Err(AdminChangeError::NotFound));
            };
            // Sessions, tokens, roles and memberships go with the row (ON DELETE CASCADE).
            diesel::delete(users::table.filter(users::id.eq(id))).execute(conn).await?;
            diesel::insert_into(audit_events::table).values(&audit_row).execute(conn).await?;
            Ok(Ok(found))
        })
    }

    async fn roles_inner(&self) -> Result<Vec<Role>, DbError> {
        crate::with_conn!(self.db, conn => {
            let rows: Vec<RoleRow> = roles::table
                .select(RoleRow::as_select())
                .order(roles::name.asc())
                .load(conn)
                .await?;
            rows.into_iter().map(RoleRow::into_role).collect()
        })
    }

    async fn create_role_inner(&self, role: &Role, audit: &AuditEvent) -> Result<Role, DbError> {
        let row = RoleRow {
            name: role.name.as_str().to_owned(),
            description: role.description.clone(),
            built_in: false,
            created_at: naive(role.created_at),
        };
        let audit_row = AuditRow::from(audit);
        crate::in_transaction!(self.db, conn => {
            diesel::insert_into(roles::table).values(&row).execute(conn).await?;
            diesel::insert_into(audit_events::table).values(&audit_row).execute(conn).await?;
            row.clone().into_role()
        })
    }

    async fn audit_events_inner(&self, query: &AuditQuery) -> Result<AuditPage, DbError> {
        let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
        let limit = i64::try_from(query.limit).unwrap_or(100);
        crate::with_conn!(self.db, conn => {
            let total: i64 = audit_filtered!(query).count().get_result(conn).await?;
            let rows: Vec<AuditReadRow> = audit_filtered!(query)
                .select(AuditReadRow::as_select())
                .order((audit_events::at.desc(), audit_events::id.desc()))
                .offset(offset)
                .limit(limit)
                .load(conn)
                .await?;
            Ok(AuditPage {
                events: rows.into_iter().map(AuditReadRow::into_record).collect::<Result<_, _>>()?,
                total: u64::try_from(total).unwrap_or(0),
            })
        })
    }
}

fn clash(e: DbError) -> AdminChangeError {
    match e.unique_clash() {
        Some(UniqueClash::Email) => AdminChangeError::EmailTaken,
        Some(UniqueClash::Username) => AdminChangeError::UsernameTaken,
        Some(UniqueClash::ExternalId) => AdminChangeError::ExternalIdTaken,
        Some(UniqueClash::Other) | None => AdminChangeError::Infra(e.into()),
    }
}

#[async_trait]
impl UserAdministration for DieselUserAdministration {
    #[instrument(skip_all, level = "debug")]
    async fn find_by_external_id(&self, external_id: &str) -> Result<Option<User>, InfraError> {
        let (this, external_id) = (self.clone(), external_id.to_owned());
        self.db
            .spawn(async move { this.find_by_external_id_inner(&external_id).await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }

    #[instrument(skip_all, fields(user_id = %change.user), level = "debug")]
    async fn apply(&self, change: AdminChange) -> Result<User, AdminChangeError> {
        let this = self.clone();
        let result = self
            .db
            .spawn(async move { this.apply_inner(&change).await })
            .await
            .map_err(InfraError::unexpected)?;
        match result {
            Ok(outcome) => outcome,
            Err(e) => Err(clash(e)),
        }
    }

    #[instrument(skip_all, fields(user_id = %user), level = "debug")]
    async fn delete(&self, user: UserId, audit: AuditEvent) -> Result<User, AdminChangeError> {
        let this = self.clone();
        let result = self
            .db
            .spawn(async move { this.delete_inner(user, &audit).await })
            .await
            .map_err(InfraError::unexpected)?;
        match result {
            Ok(outcome) => outcome,
            Err(e) => Err(AdminChangeError::Infra(e.into())),
        }
    }

    #[instrument(skip_all, level = "debug")]
    async fn roles(&self) -> Result<Vec<Role>, InfraError> {
        let this = self.clone();
        self.db
            .spawn(async move { this.roles_inner().await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }

    #[instrument(skip_all, fields(role = %role.name), level = "debug")]
    async fn create_role(&self, role: Role, audit: AuditEvent) -> Result<Role, CreateRoleError> {
        let this = self.clone();
        let result = self
            .db
            .spawn(async move { this.create_role_inner(&role, &audit).await })
            .await
            .map_err(InfraError::unexpected)?;
        result.map_err(|e| match e.unique_clash() {
            Some(_) => CreateRoleError::Exists,
            None => CreateRoleError::Infra(e.into()),
        })
    }

    #[instrument(skip_all, level = "debug")]
    async fn audit_events(&self, query: AuditQuery) -> Result<AuditPage, InfraError> {
        let this = self.clone();
        self.db
            .spawn(async move { this.audit_events_inner(&query).await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }
}
