//! Self-service: a user changes or erases their own account.

use super::{not_null, optional, required};
use crate::audit::{Actor, AuditAction, AuditEvent, RequestContext};
use crate::error::{Collector, FieldError, InfraError, ValidationErrors};
use crate::mail::{MailKind, OutgoingMail};
use crate::ports::{AccountUpdate, LoginKey, UpdateUserError};
use crate::services::Accounts;
use crate::services::Principal;
use crate::token::{NewOneTimeToken, TokenPurpose};
use crate::user::{
    AvatarUrl, Email, Name, Password, PasswordAttempt, Phone, Profile, ProfileInput, User, Username,
};

/// A change a user asks for on their own account, unchecked.
///
/// Outer `None`: the field was absent, it stays as it is. `Some(None)`: the client sent
/// `null`, which clears an optional field (`name`, `phone`, `avatar_url`, `profile`) and is a
/// `required` error for the others.
#[derive(Debug, Clone, Default)]
pub struct UpdateMeInput {
    /// New username.
    pub username: Option<Option<String>>,
    /// New display name.
    pub name: Option<Option<String>>,
    /// New phone.
    pub phone: Option<Option<String>>,
    /// New avatar URL.
    pub avatar_url: Option<Option<String>>,
    /// New profile, replacing the old one whole.
    pub profile: Option<Option<ProfileInput>>,
    /// New email: needs `current_password`; unverified until confirmed by mail.
    pub email: Option<Option<String>>,
    /// New password: needs `current_password`; ends every other session.
    pub password: Option<Option<String>>,
    /// The current password.
    pub current_password: Option<String>,
}

/// Why a self-service change failed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateMeError {
    /// Field rules broken.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// Changing the email or password needs the current password.
    #[error("the current password is required")]
    CurrentPasswordRequired,
    /// The current password is wrong.
    #[error("the current password is wrong")]
    WrongPassword,
    /// Another account has this email.
    #[error("a user with this email already exists")]
    EmailTaken,
    /// Another account has this username.
    #[error("a user with this username already exists")]
    UsernameTaken,
    /// The account no longer exists.
    #[error("the account no longer exists")]
    Gone,
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Why an account could not be erased.
#[derive(Debug, thiserror::Error)]
pub enum DeleteMeError {
    /// No current password given.
    #[error("the current password is required")]
    CurrentPasswordRequired,
    /// The current password is wrong.
    #[error("the current password is wrong")]
    WrongPassword,
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl Accounts {
    /// Whether `current` is the password of `user`, spending a full verification either way.
    async fn current_password_matches(
        &self,
        user: &User,
        current: &str,
    ) -> Result<bool, InfraError> {
        let stored = self
            .ports
            .users
            .find_for_login(&LoginKey::Username(user.username.key().to_owned()))
            .await?
            .filter(|c| c.user.id == user.id)
            .and_then(|c| c.password_hash);
        self.ports
            .hasher
            .verify(&PasswordAttempt::new(current), stored.as_ref())
            .await
    }

    /// Applies a self-service change to the caller's account.
    ///
    /// # Errors
    /// [`UpdateMeError`]: each broken field rule (422), a missing or wrong current password
    /// for an email or password change (403), a taken email or username (409).
    pub async fn update_me(
        &self,
        principal: &Principal,
        input: UpdateMeInput,
        ctx: &RequestContext,
    ) -> Result<User, UpdateMeError> {
        let me = &principal.user;
        let now = self.ports.clock.now();
        let mut errors = Collector::new();
        let username = not_null(&mut errors, "username", input.username.as_ref(), |raw| {
            Username::parse(raw)
        });
        let name = optional(&mut errors, "name", input.name.as_ref(), Name::parse);
        let phone = optional(&mut errors, "phone", input.phone.as_ref(), Phone::parse);
        let avatar_url = optional(
            &mut errors,
            "avatar_url",
            input.avatar_url.as_ref(),
            AvatarUrl::parse,
        );
        let profile = match &input.profile {
            None => Some(None),
            Some(None) => Some(Some(Profile::default())),
            Some(Some(raw)) => Profile::parse(raw, now.date_naive(), &mut errors).map(Some),
        };
        let email = not_null(&mut errors, "email", input.email.as_ref(), |raw| {
            Email::parse(raw)
        });
        let identities: Vec<String> = [
            input.email.clone().flatten(),
            input.username.clone().flatten(),
            me.email.as_ref().map(|e| e.as_str().to_owned()),
            Some(me.username.as_str().to_owned()),
        ]
        .into_iter()
        .flatten()
        .collect();
        let identities: Vec<&str> = identities.iter().map(String::as_str).collect();
        let password = match &input.password {
            None => Some(None),
            Some(None) => {
                errors.push(required("password"));
                None
            }
            Some(Some(raw)) => errors
                .many("password", Password::parse(raw, &identities))
                .map(Some),
        };
        errors.finish()?;
        let (
            Some(username),
            Some(name),
            Some(phone),
            Some(avatar_url),
            Some(profile),
            Some(email),
            Some(password),
        ) = (username, name, phone, avatar_url, profile, email, password)
        else {
            return Err(UpdateMeError::Invalid(ValidationErrors(vec![
                FieldError::new("body", "invalid", "invalid body"),
            ])));
        };
        // An address equal to the current one (same identity key) is no change.
        let email = email.filter(|new| me.email.as_ref().is_none_or(|old| old.key() != new.key()));
        if email.is_some() || password.is_some() {
            let Some(current) = input.current_password.as_deref() else {
                return Err(UpdateMeError::CurrentPasswordRequired);
            };
            if !self.current_password_matches(me, current).await? {
                return Err(UpdateMeError::WrongPassword);
            }
        }
        let password_hash = match &password {
            Some(password) => Some(self.ports.hasher.hash(password).await?),
            None => None,
        };
        let now = self.ports.clock.now();
        let (token, mail) = match &email {
            Some(email) => {
                let token = self.ports.secrets.generate();
                let expires_at = now + self.config.confirmation_ttl;
                (
                    Some(NewOneTimeToken {
                        hash: token.hash,
                        purpose: TokenPurpose::EmailConfirmation,
                        user_id: me.id,
                        email: Some(email.clone()),
                        created_at: now,
                        expires_at,
                    }),
                    Some(OutgoingMail {
                        to: email.as_str().to_owned(),
                        to_name: me.name.as_ref().map(|n| n.as_str().to_owned()),
                        kind: MailKind::Confirmation {
                            token: token.raw,
                            expires_at,
                        },
                    }),
                )
            }
            None => (None, None),
        };
        let mut changed: Vec<&str> = Vec::new();
        for (field, is_changed) in [
            ("username", username.is_some()),
            ("name", name.is_some()),
            ("phone", phone.is_some()),
            ("avatar_url", avatar_url.is_some()),
            ("profile", profile.is_some()),
            ("email", email.is_some()),
            ("password", password_hash.is_some()),
        ] {
            if is_changed {
                changed.push(field);
            }
        }
        let audit = AuditEvent::new(
            now,
            Actor::User(me.id),
            AuditAction::UserUpdated,
            Some(me.id),
            ctx,
        )
        .with("fields", changed.join(","));
        let update = AccountUpdate {
            user: me.id,
            username,
            name,
            phone,
            avatar_url,
            profile,
            email,
            revoke_other_sessions: password_hash.as_ref().map(|_| principal.session_id),
            password_hash,
            token,
            mail,
            audit,
            now,
        };
        self.ports
            .users
            .update_account(update)
            .await
            .map_err(|e| match e {
                UpdateUserError::EmailTaken => UpdateMeError::EmailTaken,
                UpdateUserError::UsernameTaken => UpdateMeError::UsernameTaken,
                UpdateUserError::NotFound => UpdateMeError::Gone,
                UpdateUserError::Infra(e) => UpdateMeError::Infra(e),
            })
    }

    /// Erases the caller's account with its sessions, tokens and memberships. The audit
    /// event keeps the id only.
    ///
    /// # Errors
    /// [`DeleteMeError`]: a missing or wrong current password (403).
    pub async fn delete_me(
        &self,
        principal: &Principal,
        current_password: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<(), DeleteMeError> {
        let me = &principal.user;
        let Some(current) = current_password else {
            return Err(DeleteMeError::CurrentPasswordRequired);
        };
        if !self.current_password_matches(me, current).await? {
            return Err(DeleteMeError::WrongPassword);
        }
        let now = self.ports.clock.now();
        let audit = AuditEvent::new(
            now,
            Actor::User(me.id),
            AuditAction::UserDeleted,
            Some(me.id),
            ctx,
        )
        .with("via", "self_service");
        self.ports.users.delete_account(me.id, audit).await?;
        Ok(())
    }
}
