//! [`DieselUserRepository`]: users, their roles, tokens and the effects of their creation.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use roster_domain::InfraError;
use roster_domain::audit::{Actor, AuditAction, AuditEvent, RequestContext};
use roster_domain::ports::{
    AccountUpdate, ConfirmOutcome, CreateUserError, CreationEffects, LoginKey, ResetOutcome,
    StoredCredentials, TokenIssue, UpdateUserError, UserRepository,
};
use roster_domain::role::RoleName;
use roster_domain::token::{
    ConfirmationDecision, ResetDecision, TokenHash, TokenPurpose, decide_confirmation, decide_reset,
};
use roster_domain::user::{NewUser, PasswordHash, User, UserId, UserStatus, Username};
use tracing::instrument;

use crate::db::Database;
use crate::error::{DbError, UniqueClash, corrupt};
use crate::models::{
    AuditRow, NewOutboxRow, NewUserRow, TenantRow, TokenRow, UserChangeRow, UserRoleRow, UserRow,
    naive, utc,
};
use crate::schema::{
    audit_events, mail_outbox, one_time_tokens, sessions, tenant_memberships, user_roles, users,
};
use crate::types::Id;

/// During a key rotation an address may be held by a row indexed under a previous key,
/// which the unique index on `email_key` cannot see: inside the writing transaction, refuse
/// the write when such a row (other than `$except`) exists. `$lock` (PostgreSQL, only while
/// rotating) serialises these checks between instances.
macro_rules! email_free_under_other_keys {
    ($conn:ident, $lock:expr, $others:expr, $except:expr) => {{
        let others: &Vec<String> = $others;
        let except: Option<Id> = $except;
        if !others.is_empty() {
            if let Some(sql) = $lock {
                diesel::sql_query(sql).execute($conn).await?;
            }
            let mut query = users::table
                .filter(users::email_key.eq_any(others))
                .select(users::id)
                .into_boxed();
            if let Some(except) = except {
                query = query.filter(users::id.ne(except));
            }
            let holder: Option<Id> = query.first($conn).await.optional()?;
            if holder.is_some() {
                return Err(DbError::EmailTakenUnderOtherKey);
            }
        }
    }};
}
pub(crate) use email_free_under_other_keys;

/// Loads the roles and memberships of a user row and builds the domain user.
macro_rules! complete_user {
    ($conn:ident, $keys:expr, $row:expr) => {{
        let row: UserRow = $row;
        let roles: Vec<String> = user_roles::table
            .filter(user_roles::user_id.eq(row.id))
            .select(user_roles::role)
            .order(user_roles::role.asc())
            .load($conn)
            .await?;
        let tenants: Vec<TenantRow> = tenant_memberships::table
            .filter(tenant_memberships::user_id.eq(row.id))
            .select(TenantRow::as_select())
            .order((
                tenant_memberships::created_at.asc(),
                tenant_memberships::tenant_id.asc(),
            ))
            .load($conn)
            .await?;
        row.into_user(roles, tenants, $keys)
    }};
}
pub(crate) use complete_user;

/// The user matching a filter on the users table, complete (its email decrypted with
/// `$keys`), or `None`.
macro_rules! fetch_user {
    ($conn:ident, $keys:expr, $filter:expr) => {{
        let row: Option<UserRow> = users::table
            .filter($filter)
            .select(UserRow::as_select())
            .first($conn)
            .await
            .optional()?;
        match row {
            Some(row) => Some($crate::users::complete_user!($conn, $keys, row)?),
            None => None,
        }
    }};
}
pub(crate) use fetch_user;

/// Users on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct DieselUserRepository {
    db: Database,
}

impl DieselUserRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    async fn find_by_id_inner(&self, id: UserId) -> Result<Option<User>, DbError> {
        let id = Id(id.as_uuid());
        crate::with_conn!(self.db, conn => Ok(fetch_user!(conn, &self.db.keys, users::id.eq(id))))
    }

    async fn find_for_login_inner(
        &self,
        key: &LoginKey,
    ) -> Result<Option<StoredCredentials>, DbError> {
        let email_indexes = match key {
            LoginKey::Email(key) => self.db.email_indexes(key),
            LoginKey::Username(_) => Vec::new(),
        };
        crate::with_conn!(self.db, conn => {
            let found: Option<(UserRow, Option<String>)> = match key {
                LoginKey::Email(_) => users::table
                    .filter(users::email_key.eq_any(&email_indexes))
                    .select((UserRow::as_select(), users::password_hash))
                    .first(conn)
                    .await
                    .optional()?,
                LoginKey::Username(key) => users::table
                    .filter(users::username_key.eq(key))
                    .select((UserRow::as_select(), users::password_hash))
                    .first(conn)
                    .await
                    .optional()?,
            };
            match found {
                Some((row, hash)) => Ok(Some(StoredCredentials {
                    user: complete_user!(conn, &self.db.keys, row)?,
                    password_hash: hash.map(PasswordHash::new),
                })),
                None => Ok(None),
            }
        })
    }

    async fn username_exists_inner(&self, username: &Username) -> Result<bool, DbError> {
        crate::with_conn!(self.db, conn => {
            let found: Option<Id> = users::table
                .filter(users::username_key.eq(username.key()))
                .select(users::id)
                .first(conn)
                .await
                .optional()?;
            Ok(found.is_some())
        })
    }

    async fn active_admin_exists_inner(&self) -> Result<bool, DbError> {
        crate::with_conn!(self.db, conn => {
            let found: Option<Id> = user_roles::table
                .inner_join(users::table)
                .filter(user_roles::role.eq(RoleName::ADMIN))
                .filter(users::status.eq(UserStatus::Active.as_str()))
                .select(users::id)
                .first(conn)
                .await
                .optional()?;
            Ok(found.is_some())
        })
    }

    async fn create_inner(
        &self,
        user: &NewUser,
        effects: &CreationEffects,
    ) -> Result<User, DbError> {
        let keys = &self.db.keys;
        let row = NewUserRow::new(user, keys)?;
        let id = row.id;
        let role_rows: Vec<UserRoleRow> = user
            .roles
            .iter()
            .map(|role| UserRoleRow {
                user_id: id,
                role: role.as_str().to_owned(),
                created_at: naive(user.created_at),
            })
            .collect();
        let token_row = effects
            .token
            .as_ref()
            .map(|t| TokenRow::new(t, keys))
            .transpose()?;
        let outbox_row = effects
            .mail
            .as_ref()
            .map(|m| NewOutboxRow::new(m, user.created_at, keys))
            .transpose()?;
        let audit_row = AuditRow::from(&effects.audit);
        let others = user
            .email
            .as_ref()
            .map(|e| keys.other_indexes(e.key()))
            .unwrap_or_default();
        let lock = self.db.email_rotation_lock();
        crate::in_transaction!(self.db, conn => {
            email_free_under_other_keys!(conn, lock, &others, None);
            diesel::insert_into(users::table).values(&row).execute(conn).await?;
            for role in &role_rows {
                diesel::insert_into(user_roles::table).values(role).execute(conn).await?;
            }
            if let Some(token) = &token_row {
                diesel::insert_into(one_time_tokens::table).values(token).execute(conn).await?;
            }
            if let Some(mail) = &outbox_row {
                diesel::insert_into(mail_outbox::table).values(mail).execute(conn).await?;
            }
            diesel::insert_into(audit_events::table).values(&audit_row).execute(conn).await?;
            let created = fetch_user!(conn, &self.db.keys, users::id.eq(id));
            created.ok_or_else(|| corrupt("created user not found"))
        })
    }

    async fn confirm_inner(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
        ctx: &RequestContext,
    ) -> Result<ConfirmOutcome, DbError> {
        let hash = hash.as_str();
        let lock = self.db.email_rotation_lock();
        crate::in_transaction!(self.db, conn => {
            let token: Option<TokenRow> = one_time_tokens::table
                .filter(one_time_tokens::token_hash.eq(hash))
                .filter(one_time_tokens::purpose.eq(TokenPurpose::EmailConfirmation.as_str()))
                .select(TokenRow::as_select())
                .first(conn)
                .await
                .optional()?;
            let Some(token) = token else {
                return Ok(ConfirmOutcome::Invalid);
            };
            // Consuming is the delete: of two concurrent confirmations only one deletes a row.
            let deleted = diesel::delete(one_time_tokens::table.filter(one_time_tokens::token_hash.eq(hash)))
                .execute(conn)
                .await?;
            if deleted != 1 {
                return Ok(ConfirmOutcome::Invalid);
            }
            let status: String = users::table
                .filter(users::id.eq(token.user_id))
                .select(users::status)
                .first(conn)
                .await?;
            let status = UserStatus::parse(&status).ok_or_else(|| corrupt("stored status"))?;
            let user_id = UserId::from_uuid(token.user_id.0);
            match decide_confirmation(utc(token.expires_at), status, now) {
                ConfirmationDecision::Confirm => {
                    let new_status = if status == UserStatus::Pending { UserStatus::Active } else { status };
                    let email = token.pending_email(&self.db.keys)?;
                    match &email {
                        Some(email) => {
                            let others = self.db.keys.other_indexes(email.key());
                            email_free_under_other_keys!(conn, lock, &others, Some(token.user_id));
                            let (stored, index) = self.db.stored_email(token.user_id, email)?;
                            diesel::update(users::table.filter(users::id.eq(token.user_id)))
                                .set((
                                    users::email.eq(stored),
                                    users::email_key.eq(index),
                                    users::email_verified.eq(true),
                                    users::status.eq(new_status.as_str()),
                                    users::updated_at.eq(naive(now)),
                                ))
                                .execute(conn)
                                .await?
                        }
                        None => {
                            diesel::update(users::table.filter(users::id.eq(token.user_id)))
                                .set((
                                    users::email_verified.eq(true),
                                    users::status.eq(new_status.as_str()),
                                    users::updated_at.eq(naive(now)),
                                ))
                                .execute(conn)
                                .await?
                        }
                    };
                    let event = AuditEvent::new(now, Actor::User(user_id), AuditAction::EmailConfirmed, Some(user_id), ctx);
                    diesel::insert_into(audit_events::table).values(&AuditRow::from(&event)).execute(conn).await?;
                    let user = fetch_user!(conn, &self.db.keys, users::id.eq(token.user_id));
                    Ok(ConfirmOutcome::Confirmed(Box::new(user.ok_or_else(|| corrupt("confirmed user not found"))?)))
                }
                ConfirmationDecision::ExpireAndDeletePendingAccount => {
                    diesel::delete(users::table.filter(users::id.eq(token.user_id))).execute(conn).await?;
                    let event = AuditEvent::new(now, Actor::System, AuditAction::PendingUserExpired, Some(user_id), ctx)
                        .with("reason", "confirmation_expired");
                    diesel::insert_into(audit_events::table).values(&AuditRow::from(&event)).execute(conn).await?;
                    Ok(ConfirmOutcome::Expired)
                }
                ConfirmationDecision::Expire => Ok(ConfirmOutcome::Expired),
            }
        })
    }
}

impl DieselUserRepository {
    async fn issue_token_inner(&self, issue: &TokenIssue) -> Result<(), DbError> {
        let token = &issue.token;
        let user_id = Id(token.user_id.as_uuid());
        let purpose = token.purpose.as_str();
        let token_row = TokenRow::new(token, &self.db.keys)?;
        let outbox_row = NewOutboxRow::new(&issue.mail, token.created_at, &self.db.keys)?;
        let audit_row = AuditRow::from(&issue.audit);
        crate::in_transaction!(self.db, conn => {
            // The new token replaces every earlier one of its kind: old links stop working.
            diesel::delete(
                one_time_tokens::table
                    .filter(one_time_tokens::user_id.eq(user_id))
                    .filter(one_time_tokens::purpose.eq(purpose)),
            )
            .execute(conn)
            .await?;
            diesel::insert_into(one_time_tokens::table).values(&token_row).execute(conn).await?;
            diesel::insert_into(mail_outbox::table).values(&outbox_row).execute(conn).await?;
            diesel::insert_into(audit_events::table).values(&audit_row).execute(conn).await?;
            Ok(())
        })
    }

    async fn password_reset_owner_inner(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, DbError> {
        let hash = hash.as_str();
        crate::with_conn!(self.db, conn => {
            let token: Option<TokenRow> = one_time_tokens::table
                .filter(one_time_tokens::token_hash.eq(hash))
                .filter(one_time_tokens::purpose.eq(TokenPurpose::PasswordReset.as_str()))
                .select(TokenRow::as_select())
                .first(conn)
                .await
                .optional()?;
            match token {
                Some(token) if decide_reset(utc(token.expires_at), now) == ResetDecision::Reset => {
                    Ok(fetch_user!(conn, &self.db.keys, users::id.eq(token.user_id)))
                }
                _ => Ok(None),
            }
        })
    }

    async fn reset_password_inner(
        &self,
        hash: &TokenHash,
        user: UserId,
        password_hash: &PasswordHash,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<ResetOutcome, DbError> {
        let hash = hash.as_str();
        let user_id = Id(user.as_uuid());
        let audit_row = AuditRow::from(audit);
        crate::in_transaction!(self.db, conn => {
            let token: Option<TokenRow> = one_time_tokens::table
                .filter(one_time_tokens::token_hash.eq(hash))
                .filter(one_time_tokens::purpose.eq(TokenPurpose::PasswordReset.as_str()))
                .filter(one_time_tokens::user_id.eq(user_id))
                .select(TokenRow::as_select())
                .first(conn)
                .await
                .optional()?;
            let Some(token) = token else {
                return Ok(ResetOutcome::Invalid);
            };
            // Consuming is a conditional delete: of concurrent attempts, only the one that
            // deletes the row goes on.
            let deleted = diesel::delete(
                one_time_tokens::table
                    .filter(one_time_tokens::token_hash.eq(hash))
                    .filter(one_time_tokens::purpose.eq(TokenPurpose::PasswordReset.as_str())),
            )
            .execute(conn)
            .await?;
            if deleted != 1 {
                return Ok(ResetOutcome::Invalid);
            }
            if decide_reset(utc(token.expires_at), now) == ResetDecision::Expired {
                return Ok(ResetOutcome::Invalid);
            }
            diesel::update(users::table.filter(users::id.eq(user_id)))
                .set((
                    users::password_hash.eq(password_hash.as_str()),
                    users::updated_at.eq(naive(now)),
                ))
                .execute(conn)
                .await?;
            diesel::update(
                sessions::table
                    .filter(sessions::user_id.eq(user_id))
                    .filter(sessions::revoked_at.is_null()),
            )
            .set((
                sessions::revoked_at.eq(naive(now)),
                sessions::revoke_reason.eq("password_reset"),
            ))
            .execute(conn)
            .await?;
            diesel::insert_into(audit_events::table).values(&audit_row).execute(conn).await?;
            Ok(ResetOutcome::Reset(user))
        })
    }
}

impl DieselUserRepository {
    async fn update_account_inner(&self, update: &AccountUpdate) -> Result<Option<User>, DbError> {
        let id = Id(update.user.as_uuid());
        let keys = &self.db.keys;
        let changes = UserChangeRow::new(update, keys)?;
        let token_row = update
            .token
            .as_ref()
            .map(|t| TokenRow::new(t, keys))
            .transpose()?;
        let outbox_row = update
            .mail
            .as_ref()
            .map(|m| NewOutboxRow::new(m, update.now, keys))
            .transpose()?;
        let others = update
            .email
            .as_ref()
            .map(|e| keys.other_indexes(e.key()))
            .unwrap_or_default();
        let lock = self.db.email_rotation_lock();
        let audit_row = AuditRow::from(&update.audit);
        let keep = update.revoke_other_sessions.map(|s| Id(s.as_uuid()));
        let now = naive(update.now);
        crate::in_transaction!(self.db, conn => {
            email_free_under_other_keys!(conn, lock, &others, Some(id));
            let updated = diesel::update(users::table.filter(users::id.eq(id)))
                .set(&changes)
                .execute(conn)
                .await?;
            if updated != 1 {
                return Ok(None);
            }
            if let Some(keep) = keep {
                diesel::update(
                    sessions::table
                        .filter(sessions::user_id.eq(id))
                        .filter(sessions::id.ne(keep))
                        .filter(sessions::revoked_at.is_null()),
                )
                .set((
                    sessions::revoked_at.eq(now),
                    sessions::revoke_reason.eq("password_changed"),
                ))
                .execute(conn)
                .await?;
            }
            if let Some(token) = &token_row {
                diesel::delete(
                    one_time_tokens::table
                        .filter(one_time_tokens::user_id.eq(id))
                        .filter(one_time_tokens::purpose.eq(&token.purpose)),
                )
                .execute(conn)
                .await?;
                diesel::insert_into(one_time_tokens::table).values(token).execute(conn).await?;
            }
            if let Some(mail) = &outbox_row {
                diesel::insert_into(mail_outbox::table).values(mail).execute(conn).await?;
            }
            diesel::insert_into(audit_events::table).values(&audit_row).execute(conn).await?;
            Ok(fetch_user!(conn, &self.db.keys, users::id.eq(id)))
        })
    }

    async fn delete_account_inner(
        &self,
        user: UserId,
        audit: &AuditEvent,
    ) -> Result<bool, DbError> {
        let id = Id(user.as_uuid());
        let audit_row = AuditRow::from(audit);
        crate::in_transaction!(self.db, conn => {
            // Sessions, refresh tokens, one-time tokens, roles and memberships go with the
            // row (ON DELETE CASCADE). The audit log keeps only the id.
            let deleted = diesel::delete(users::table.filter(users::id.eq(id))).execute(conn).await?;
            if deleted == 1 {
                diesel::insert_into(audit_events::table).values(&audit_row).execute(conn).await?;
            }
            Ok(deleted == 1)
        })
    }
}

#[async_trait]
impl UserRepository for DieselUserRepository {
    #[instrument(skip(self), level = "debug")]
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, InfraError> {
        let this = self.clone();
        self.db
            .spawn(async move { this.find_by_id_inner(id).await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }

    #[instrument(skip_all, level = "debug")]
    async fn find_for_login(
        &self,
        key: &LoginKey,
    ) -> Result<Option<StoredCredentials>, InfraError> {
        let (this, key) = (self.clone(), key.clone());
        self.db
            .spawn(async move { this.find_for_login_inner(&key).await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }

    #[instrument(skip(self), level = "debug")]
    async fn username_exists(&self, username: &Username) -> Result<bool, InfraError> {
        let (this, username) = (self.clone(), username.clone());
        self.db
            .spawn(async move { this.username_exists_inner(&username).await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }

    #[instrument(skip(self), level = "debug")]
    async fn active_admin_exists(&self) -> Result<bool, InfraError> {
        let this = self.clone();
        self.db
            .spawn(async move { this.active_admin_exists_inner().await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }

    #[instrument(skip_all, fields(user_id = %user.id), level = "debug")]
    async fn create(
        &self,
        user: NewUser,
        effects: CreationEffects,
    ) -> Result<User, CreateUserError> {
        // Detached from the caller: a client that disconnects mid-request must not cancel a
        // transaction half way.
        let this = self.clone();
        let result = self
            .db
            .spawn(async move { this.create_inner(&user, &effects).await })
            .await
            .map_err(InfraError::unexpected)?;
        result.map_err(|e| match e.unique_clash() {
            Some(UniqueClash::Email) => CreateUserError::EmailTaken,
            Some(UniqueClash::Username) => CreateUserError::UsernameTaken,
            Some(UniqueClash::ExternalId) => CreateUserError::ExternalIdTaken,
            Some(UniqueClash::Other) | None => CreateUserError::Infra(e.into()),
        })
    }

    #[instrument(skip_all, level = "debug")]
    async fn confirm_email(
        &self,
        token: &TokenHash,
        now: DateTime<Utc>,
        ctx: &RequestContext,
    ) -> Result<ConfirmOutcome, InfraError> {
        let this = self.clone();
        let (token, ctx) = (token.clone(), ctx.clone());
        self.db
            .spawn(async move { this.confirm_inner(&token, now, &ctx).await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }

    #[instrument(skip_all, fields(user_id = %issue.token.user_id), level = "debug")]
    async fn issue_token(&self, issue: TokenIssue) -> Result<(), InfraError> {
        let this = self.clone();
        self.db
            .spawn(async move { this.issue_token_inner(&issue).await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }

    #[instrument(skip_all, level = "debug")]
    async fn password_reset_owner(
        &self,
        token: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, InfraError> {
        let (this, token) = (self.clone(), token.clone());
        self.db
            .spawn(async move { this.password_reset_owner_inner(&token, now).await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }

    #[instrument(skip_all, fields(user_id = %user), level = "debug")]
    async fn reset_password(
        &self,
        token: &TokenHash,
        user: UserId,
        password_hash: &PasswordHash,
        now: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<ResetOutcome, InfraError> {
        let this = self.clone();
        let (token, password_hash) = (token.clone(), password_hash.clone());
        self.db
            .spawn(async move {
                this.reset_password_inner(&token, user, &password_hash, now, &audit)
                    .await
            })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }

    #[instrument(skip_all, fields(user_id = %update.user), level = "debug")]
    async fn update_account(&self, update: AccountUpdate) -> Result<User, UpdateUserError> {
        let this = self.clone();
        let result = self
            .db
            .spawn(async move { this.update_account_inner(&update).await })
            .await
            .map_err(InfraError::unexpected)?;
        match result {
            Ok(Some(user)) => Ok(user),
            Ok(None) => Err(UpdateUserError::NotFound),
            Err(e) => Err(match e.unique_clash() {
                Some(UniqueClash::Email) => UpdateUserError::EmailTaken,
                Some(UniqueClash::Username) => UpdateUserError::UsernameTaken,
                Some(UniqueClash::ExternalId | UniqueClash::Other) | None => {
                    UpdateUserError::Infra(e.into())
                }
            }),
        }
    }

    #[instrument(skip_all, fields(user_id = %user), level = "debug")]
    async fn delete_account(&self, user: UserId, audit: AuditEvent) -> Result<bool, InfraError> {
        let this = self.clone();
        self.db
            .spawn(async move { this.delete_account_inner(user, &audit).await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }
}
