//! [`MemoryUserRepository`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Shared, State, TokenRecord, UserRecord};
use crate::audit::{Actor, AuditAction, AuditEvent, RequestContext};
use crate::error::InfraError;
use crate::ports::{
    AccountUpdate, ConfirmOutcome, CreateUserError, CreationEffects, LoginKey, ResetOutcome,
    StoredCredentials, TokenIssue, UpdateUserError, UserRepository,
};
use crate::role::RoleName;
use crate::token::{
    ConfirmationDecision, NewOneTimeToken, ResetDecision, TokenHash, TokenPurpose,
    decide_confirmation, decide_reset,
};
use crate::user::{NewUser, PasswordHash, User, UserId, UserStatus, Username};

/// Users in a [`super::MemoryStore`].
#[derive(Debug, Clone)]
pub struct MemoryUserRepository {
    shared: Shared,
}

impl MemoryUserRepository {
    pub(super) fn new(shared: Shared) -> Self {
        Self { shared }
    }
}

fn token_record(token: &NewOneTimeToken) -> TokenRecord {
    TokenRecord {
        purpose: token.purpose,
        user_id: token.user_id,
        email: token.email.clone(),
        expires_at: token.expires_at,
    }
}

impl State {
    /// Another account than `except` holding this email identity key.
    pub(super) fn email_taken(&self, key: &str, except: Option<UserId>) -> bool {
        self.users.values().any(|r| {
            Some(r.user.id) != except && r.user.email.as_ref().is_some_and(|e| e.key() == key)
        })
    }

    pub(super) fn username_taken(&self, key: &str, except: Option<UserId>) -> bool {
        self.users
            .values()
            .any(|r| Some(r.user.id) != except && r.user.username.key() == key)
    }

    /// Stores `token`, replacing every other token of its user and purpose.
    fn replace_token(&mut self, token: &NewOneTimeToken) {
        self.tokens
            .retain(|_, t| !(t.user_id == token.user_id && t.purpose == token.purpose));
        self.tokens
            .insert(token.hash.as_str().to_owned(), token_record(token));
    }
}

fn unexpected(message: &str) -> InfraError {
    InfraError::unexpected(message.to_owned())
}

#[async_trait]
impl UserRepository for MemoryUserRepository {
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, InfraError> {
        Ok(self.shared.lock().users.get(&id).map(|r| r.user.clone()))
    }

    async fn find_for_login(
        &self,
        key: &LoginKey,
    ) -> Result<Option<StoredCredentials>, InfraError> {
        let state = self.shared.lock();
        let found = state.users.values().find(|r| match key {
            LoginKey::Email(key) => r.user.email.as_ref().is_some_and(|e| e.key() == key),
            LoginKey::Username(key) => r.user.username.key() == key,
        });
        Ok(found.map(|r| StoredCredentials {
            user: r.user.clone(),
            password_hash: r.password_hash.clone(),
        }))
    }

    async fn username_exists(&self, username: &Username) -> Result<bool, InfraError> {
        Ok(self.shared.lock().username_taken(username.key(), None))
    }

    async fn active_admin_exists(&self) -> Result<bool, InfraError> {
        let admin = RoleName::admin();
        Ok(self
            .shared
            .lock()
            .users
            .values()
            .any(|r| r.user.status == UserStatus::Active && r.user.has_role(&admin)))
    }

    async fn create(
        &self,
        user: NewUser,
        effects: CreationEffects,
    ) -> Result<User, CreateUserError> {
        let mut state = self.shared.lock();
        // Checked in the order the database's unique indexes are: email, username, external id.
        if let Some(email) = &user.email
            && state.email_taken(email.key(), None)
        {
            return Err(CreateUserError::EmailTaken);
        }
        if state.username_taken(user.username.key(), None) {
            return Err(CreateUserError::UsernameTaken);
        }
        if let Some(external) = &user.external_id
            && state
                .users
                .values()
                .any(|r| r.user.external_id.as_ref() == Some(external))
        {
            return Err(CreateUserError::ExternalIdTaken);
        }
        if state.users.contains_key(&user.id) {
            return Err(unexpected("a user with this id exists").into());
        }
        // Roles reference the roles table in the database.
        if user.roles.iter().any(|r| !state.roles.contains_key(r)) {
            return Err(unexpected("an unknown role").into());
        }
        if let Some(token) = &effects.token
            && (token.user_id != user.id || state.tokens.contains_key(token.hash.as_str()))
        {
            return Err(unexpected("token for another user, or a duplicate hash").into());
        }
        let mut roles = user.roles.clone();
        roles.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        roles.dedup();
        let created = User {
            id: user.id,
            external_id: user.external_id,
            email: user.email,
            email_verified: user.email_verified,
            username: user.username,
            name: user.name,
            phone: user.phone,
            avatar_url: user.avatar_url,
            profile: user.profile,
            status: user.status,
            roles,
            tenants: Vec::new(),
            last_login_at: None,
            login_count: 0,
            created_at: user.created_at,
            updated_at: user.created_at,
            deactivated_at: None,
        };
        state.users.insert(
            created.id,
            UserRecord {
                user: created.clone(),
                password_hash: user.password_hash,
            },
        );
        if let Some(token) = &effects.token {
            state.replace_token(token);
        }
        if let Some(mail) = effects.mail {
            state.enqueue(mail, created.created_at);
        }
        state.audit.push(effects.audit);
        Ok(created)
    }

    async fn confirm_email(
        &self,
        token: &TokenHash,
        now: DateTime<Utc>,
        ctx: &RequestContext,
    ) -> Result<ConfirmOutcome, InfraError> {
        let mut state = self.shared.lock();
        let Some(found) = state
            .tokens
            .get(token.as_str())
            .filter(|t| t.purpose == TokenPurpose::EmailConfirmation)
            .cloned()
        else {
            return Ok(ConfirmOutcome::Invalid);
        };
        let Some(status) = state.users.get(&found.user_id).map(|r| r.user.status) else {
            return Err(unexpected("a token without its user"));
        };
        let decision = decide_confirmation(found.expires_at, status, now);
        if decision == ConfirmationDecision::Confirm
            && let Some(email) = &found.email
            && state.email_taken(email.key(), Some(found.user_id))
        {
            // The database refuses this with a unique violation, and rolls back.
            return Err(unexpected("the address was taken meanwhile"));
        }
        // Consumed whatever the decision.
        state.tokens.remove(token.as_str());
        let user_id = found.user_id;
        match decision {
            ConfirmationDecision::Confirm => {
                let Some(record) = state.users.get_mut(&user_id) else {
                    return Err(unexpected("a token without its user"));
                };
                if let Some(email) = found.email {
                    record.user.email = Some(email);
                }
                record.user.email_verified = true;
                if record.user.status == UserStatus::Pending {
                    record.user.status = UserStatus::Active;
                }
                record.user.updated_at = now;
                let user = record.user.clone();
                state.audit.push(AuditEvent::new(
                    now,
                    Actor::User(user_id),
                    AuditAction::EmailConfirmed,
                    Some(user_id),
                    ctx,
                ));
                Ok(ConfirmOutcome::Confirmed(Box::new(user)))
            }
            ConfirmationDecision::ExpireAndDeletePendingAccount => {
                state.erase_user(user_id);
                state.audit.push(
                    AuditEvent::new(
                        now,
                        Actor::System,
                        AuditAction::PendingUserExpired,
                        Some(user_id),
                        ctx,
                    )
                    .with("reason", "confirmation_expired"),
                );
                Ok(ConfirmOutcome::Expired)
            }
            ConfirmationDecision::Expire => Ok(ConfirmOutcome::Expired),
        }
    }

    async fn issue_token(&self, issue: TokenIssue) -> Result<(), InfraError> {
        let mut state = self.shared.lock();
        if !state.users.contains_key(&issue.token.user_id) {
            return Err(unexpected("a token for an unknown user"));
        }
        // A hash names one token: the database refuses a second with its primary key.
        if state
            .tokens
            .get(issue.token.hash.as_str())
            .is_some_and(|t| t.user_id != issue.token.user_id || t.purpose != issue.token.purpose)
        {
            return Err(unexpected("a duplicate token hash"));
        }
        state.replace_token(&issue.token);
        state.enqueue(issue.mail, issue.token.created_at);
        state.audit.push(issue.audit);
        Ok(())
    }

    async fn password_reset_owner(
        &self,
        token: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, InfraError> {
        let state = self.shared.lock();
        let owner = state
            .tokens
            .get(token.as_str())
            .filter(|t| t.purpose == TokenPurpose::PasswordReset)
            .filter(|t| decide_reset(t.expires_at, now) == ResetDecision::Reset)
            .and_then(|t| state.users.get(&t.user_id))
            .map(|r| r.user.clone());
        Ok(owner)
    }

    async fn reset_password(
        &self,
        token: &TokenHash,
        user: UserId,
        password_hash: &PasswordHash,
        now: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<ResetOutcome, InfraError> {
        let mut state = self.shared.lock();
        let Some(found) = state
            .tokens
            .get(token.as_str())
            .filter(|t| t.purpose == TokenPurpose::PasswordReset && t.user_id == user)
            .cloned()
        else {
            return Ok(ResetOutcome::Invalid);
        };
        state.tokens.remove(token.as_str());
        if decide_reset(found.expires_at, now) == ResetDecision::Expired {
            return Ok(ResetOutcome::Invalid);
        }
        let Some(record) = state.users.get_mut(&user) else {
            return Err(unexpected("a token without its user"));
        };
        record.password_hash = Some(password_hash.clone());
        record.user.updated_at = now;
        for session in state.sessions.values_mut() {
            if session.user_id == user && session.revoked_at.is_none() {
                session.revoked_at = Some(now);
                session.revoke_reason = Some("password_reset");
            }
        }
        state.audit.push(audit);
        Ok(ResetOutcome::Reset(user))
    }

    async fn update_account(&self, update: AccountUpdate) -> Result<User, UpdateUserError> {
        let mut state = self.shared.lock();
        if !state.users.contains_key(&update.user) {
            return Err(UpdateUserError::NotFound);
        }
        if let Some(email) = &update.email
            && state.email_taken(email.key(), Some(update.user))
        {
            return Err(UpdateUserError::EmailTaken);
        }
        if let Some(username) = &update.username
            && state.username_taken(username.key(), Some(update.user))
        {
            return Err(UpdateUserError::UsernameTaken);
        }
        if let Some(token) = &update.token
            && (token.user_id != update.user
                || state
                    .tokens
                    .get(token.hash.as_str())
                    .is_some_and(|t| t.user_id != update.user || t.purpose != token.purpose))
        {
            return Err(UpdateUserError::Infra(unexpected(
                "token for another user, or a duplicate hash",
            )));
        }
        let Some(record) = state.users.get_mut(&update.user) else {
            return Err(UpdateUserError::NotFound);
        };
        let user = &mut record.user;
        if let Some(username) = update.username {
            user.username = username;
        }
        if let Some(name) = update.name {
            user.name = name;
        }
        if let Some(phone) = update.phone {
            user.phone = phone;
        }
        if let Some(avatar_url) = update.avatar_url {
            user.avatar_url = avatar_url;
        }
        if let Some(profile) = update.profile {
            user.profile = profile;
        }
        if let Some(email) = update.email {
            user.email = Some(email);
            user.email_verified = false;
        }
        user.updated_at = update.now;
        if let Some(hash) = update.password_hash {
            record.password_hash = Some(hash);
        }
        let updated = record.user.clone();
        if let Some(keep) = update.revoke_other_sessions {
            for session in state.sessions.values_mut() {
                if session.user_id == update.user
                    && session.id != keep
                    && session.revoked_at.is_none()
                {
                    session.revoked_at = Some(update.now);
                    session.revoke_reason = Some("password_changed");
                }
            }
        }
        if let Some(token) = &update.token {
            state.replace_token(token);
        }
        if let Some(mail) = update.mail {
            state.enqueue(mail, update.now);
        }
        state.audit.push(update.audit);
        Ok(updated)
    }

    async fn delete_account(&self, user: UserId, audit: AuditEvent) -> Result<bool, InfraError> {
        let mut state = self.shared.lock();
        let erased = state.erase_user(user);
        if erased {
            state.audit.push(audit);
        }
        Ok(erased)
    }
}
