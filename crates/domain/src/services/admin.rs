//! Administration: what an ADMIN, a MANAGER or a trusted service does with other users'
//! accounts, roles and tenant memberships, and the audit log. Every operation asks the
//! [`Policy`] first.

use super::{not_null, optional};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::audit::{AuditAction, AuditEvent, RequestContext};
use crate::error::{Collector, FieldError, InfraError, ValidationErrors, Violation};
use crate::policy::{Action, Caller, Decision, Field, Policy};
use crate::ports::{
    AdminChange, AdminChangeError, AuditPage, AuditQuery, Clock, CreateRoleError, CreateUserError,
    CreationEffects, FieldChanges, LoginKey, PasswordHasher, Role, RoleChange, StatusChange,
    TenantChange, UserAdministration, UserRepository,
};
use crate::role::RoleName;
use crate::tenant::TenantId;
use crate::user::{
    AvatarUrl, Email, Name, NewUser, Password, Phone, Profile, ProfileInput, User, UserId,
    UserStatus, Username,
};

/// How many `-N` suffixes are tried for a username derived from an email.
/// Longest external id.
pub const MAX_EXTERNAL_ID_LEN: usize = 128;
/// Longest role description.
pub const MAX_ROLE_DESCRIPTION_LEN: usize = 200;
/// Largest page of the audit log.
pub const MAX_AUDIT_LIMIT: u64 = 100;
/// Default page size of the audit log.
pub const DEFAULT_AUDIT_LIMIT: u64 = 10;

/// Ports used by [`Administration`].
#[derive(Clone)]
pub struct AdministrationPorts {
    /// Users (reads, creation).
    pub users: Arc<dyn UserRepository>,
    /// Administrative changes, roles, audit log.
    pub admin: Arc<dyn UserAdministration>,
    /// Password hashing (for users created with a password).
    pub hasher: Arc<dyn PasswordHasher>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

/// Why an administrative operation failed. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The caller may not do this (403).
    #[error("not allowed")]
    Forbidden,
    /// No such user (404).
    #[error("no such user")]
    NotFound,
    /// Field rules broken (422).
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// The change would leave no active ADMIN (409 `last_admin`).
    #[error("the last active ADMIN cannot be removed, deactivated or deleted")]
    LastAdmin,
    /// A user keeps at least one role (400 `last_role`).
    #[error("a user keeps at least one role")]
    LastRole,
    /// The user already holds the role (400 `role_already_assigned`).
    #[error("the user already holds this role")]
    RoleAlreadyAssigned,
    /// The user does not hold the role (404 `role_not_assigned`).
    #[error("the user does not hold this role")]
    RoleNotAssigned,
    /// No such role (422 `unknown_role`).
    #[error("no such role")]
    UnknownRole,
    /// A role with this name exists (409 `role_exists`).
    #[error("a role with this name already exists")]
    RoleExists,
    /// No membership of this tenant (404 `membership_not_found`).
    #[error("the user is not a member of this tenant")]
    MembershipNotFound,
    /// `main: false` on the main membership (400 `main_tenant_required`).
    #[error("the main membership cannot be unset; make another membership main instead")]
    MainRequired,
    /// Reactivating a user who is not deactivated but pending (409 `user_pending`).
    #[error("the user has not confirmed their email yet")]
    Pending,
    /// Another account has this email (409).
    #[error("a user with this email already exists")]
    EmailTaken,
    /// Another account has this username (409).
    #[error("a user with this username already exists")]
    UsernameTaken,
    /// Another account has this external id (409).
    #[error("a user with this external id already exists")]
    ExternalIdTaken,
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<AdminChangeError> for AdminError {
    fn from(e: AdminChangeError) -> Self {
        match e {
            AdminChangeError::NotFound => Self::NotFound,
            AdminChangeError::LastAdmin(_) => Self::LastAdmin,
            AdminChangeError::LastRole => Self::LastRole,
            AdminChangeError::RoleAlreadyAssigned => Self::RoleAlreadyAssigned,
            AdminChangeError::RoleNotAssigned => Self::RoleNotAssigned,
            AdminChangeError::UnknownRole => Self::UnknownRole,
            AdminChangeError::MembershipNotFound => Self::MembershipNotFound,
            AdminChangeError::MainRequired => Self::MainRequired,
            AdminChangeError::EmailTaken => Self::EmailTaken,
            AdminChangeError::UsernameTaken => Self::UsernameTaken,
            AdminChangeError::ExternalIdTaken => Self::ExternalIdTaken,
            AdminChangeError::Infra(e) => Self::Infra(e),
        }
    }
}

/// A user to create, unchecked (`POST /api/users`, `POST /internal/users`, the creating
/// half of the upsert).
#[derive(Debug, Clone, Default)]
pub struct CreateUserInput {
    /// Required, except for trusted services.
    pub email: Option<String>,
    /// Defaults to the external id if valid, else the email's local part made unique.
    pub username: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Phone (E.164).
    pub phone: Option<String>,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// Profile.
    pub profile: Option<ProfileInput>,
    /// Without it the user cannot log in until a password reset.
    pub password: Option<String>,
    /// Default `["USER"]`.
    pub roles: Option<Vec<String>>,
    /// Default `false`.
    pub email_verified: Option<bool>,
    /// The id a provisioning service knows the user by.
    pub external_id: Option<String>,
}

/// An administrative change of a user's fields, unchecked. Outer `None`: absent; `Some(None)`:
/// `null`, which clears an optional field and is a `required` error for the others.
#[derive(Debug, Clone, Default)]
pub struct AdminUpdateInput {
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
    /// New email (unverified unless `email_verified` is given too).
    pub email: Option<Option<String>>,
    /// New verification flag.
    pub email_verified: Option<Option<bool>>,
    /// New external id (trusted services only).
    pub external_id: Option<Option<String>>,
}

impl AdminUpdateInput {
    fn fields(&self) -> Vec<Field> {
        [
            (self.username.is_some(), Field::Username),
            (self.name.is_some(), Field::Name),
            (self.phone.is_some(), Field::Phone),
            (self.avatar_url.is_some(), Field::AvatarUrl),
            (self.profile.is_some(), Field::Profile),
            (self.email.is_some(), Field::Email),
            (self.email_verified.is_some(), Field::EmailVerified),
            (self.external_id.is_some(), Field::ExternalId),
        ]
        .into_iter()
        .filter_map(|(present, field)| present.then_some(field))
        .collect()
    }
}

/// The audit log query, unchecked (as the query string has it).
#[derive(Debug, Clone, Default)]
pub struct AuditQueryInput {
    /// A user id.
    pub user_id: Option<String>,
    /// An actor id.
    pub actor_id: Option<String>,
    /// An action name (`user.created`).
    pub action: Option<String>,
    /// RFC 3339.
    pub since: Option<String>,
    /// RFC 3339.
    pub until: Option<String>,
    /// From 1.
    pub page: Option<String>,
    /// 1 to 100.
    pub limit: Option<String>,
}

/// One page of the audit log with its paging facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEventsPage {
    /// The events.
    pub page: AuditPage,
    /// Page number.
    pub number: u64,
    /// Page size.
    pub limit: u64,
}

/// Parses an external id: 1 to 128 characters of `A-Za-z0-9_.:-`. No `@`: external ids are
/// stored in clear (they are the integrator's keys), so they must not be email addresses,
/// which Roster keeps only encrypted (ADR 0005).
///
/// # Errors
/// `invalid_external_id`.
pub fn parse_external_id(raw: &str) -> Result<String, Violation> {
    let ok = (1..=MAX_EXTERNAL_ID_LEN).contains(&raw.len())
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(Violation::new(
            "invalid_external_id",
            "external_id must be 1 to 128 of A-Za-z0-9_.:- (an email address is not an id)",
        ))
    }
}

fn body_invalid() -> AdminError {
    AdminError::Invalid(ValidationErrors(vec![FieldError::new(
        "body",
        "invalid",
        "invalid body",
    )]))
}

/// The administration use cases.
#[derive(Clone)]
pub struct Administration {
    ports: AdministrationPorts,
}

struct CheckedCreation {
    email: Option<Email>,
    username: Option<Username>,
    name: Option<Name>,
    phone: Option<Phone>,
    avatar_url: Option<AvatarUrl>,
    profile: Profile,
    password: Option<Password>,
    roles: Vec<RoleName>,
    external_id: Option<String>,
}

impl Administration {
    /// Wires the service.
    pub fn new(ports: AdministrationPorts) -> Self {
        Self { ports }
    }

    fn authorize(
        caller: &Caller,
        action: &Action,
        target: Option<&User>,
    ) -> Result<(), AdminError> {
        match Policy::decide(caller, action, target) {
            Decision::Allow => Ok(()),
            Decision::Forbidden => Err(AdminError::Forbidden),
        }
    }

    async fn target(&self, id: UserId) -> Result<User, AdminError> {
        self.ports
            .users
            .find_by_id(id)
            .await?
            .ok_or(AdminError::NotFound)
    }

    /// Loads the target, then asks the policy: a caller who may act on some users learns
    /// 404 for a missing one; one who may act on none gets 403 first.
    async fn authorized_target(
        &self,
        caller: &Caller,
        action: &Action,
        id: UserId,
    ) -> Result<User, AdminError> {
        Self::authorize(caller, action, None)
            .or_else(|e| match action {
                // A MANAGER's update depends on the target; decide on it below.
                Action::UpdateUser(_) => Ok(()),
                _ => Err(e),
            })
            .and_then(|()| match Policy::may_read(caller, id) {
                Decision::Allow => Ok(()),
                Decision::Forbidden => Err(AdminError::Forbidden),
            })?;
        let target = self.target(id).await?;
        Self::authorize(caller, action, Some(&target))?;
        Ok(target)
    }

    fn event(
        &self,
        caller: &Caller,
        action: AuditAction,
        user: UserId,
        ctx: &RequestContext,
    ) -> AuditEvent {
        AuditEvent::new(
            self.ports.clock.now(),
            caller.actor(),
            action,
            Some(user),
            ctx,
        )
    }

    /// The user with this id: the caller's own, or anyone's for ADMIN, MANAGER and services.
    /// Others get [`AdminError::Forbidden`] whether or not the id exists.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NotFound`], or storage.
    pub async fn get_user(&self, caller: &Caller, id: UserId) -> Result<User, AdminError> {
        if Policy::may_read(caller, id) == Decision::Forbidden {
            return Err(AdminError::Forbidden);
        }
        self.target(id).await
    }

    /// The user with this email (compared by identity key).
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NotFound`] (also for a malformed address).
    pub async fn find_by_email(&self, caller: &Caller, raw: &str) -> Result<User, AdminError> {
        Self::authorize(caller, &Action::FindUser, None)?;
        // A malformed address names no account.
        let Ok(email) = Email::parse(raw) else {
            return Err(AdminError::NotFound);
        };
        let found = self
            .ports
            .users
            .find_for_login(&LoginKey::Email(email.key().to_owned()))
            .await?;
        found.map(|c| c.user).ok_or(AdminError::NotFound)
    }

    /// The user with this username (case-insensitively).
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NotFound`] (also for a malformed username).
    pub async fn find_by_username(&self, caller: &Caller, raw: &str) -> Result<User, AdminError> {
        Self::authorize(caller, &Action::FindUser, None)?;
        let Ok(username) = Username::parse(raw) else {
            return Err(AdminError::NotFound);
        };
        let found = self
            .ports
            .users
            .find_for_login(&LoginKey::Username(username.key().to_owned()))
            .await?;
        found.map(|c| c.user).ok_or(AdminError::NotFound)
    }

    /// The user provisioned under this external id.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NotFound`] (also for a malformed id).
    pub async fn find_by_external_id(
        &self,
        caller: &Caller,
        raw: &str,
    ) -> Result<User, AdminError> {
        Self::authorize(caller, &Action::FindUser, None)?;
        let Ok(external_id) = parse_external_id(raw) else {
            return Err(AdminError::NotFound);
        };
        self.ports
            .admin
            .find_by_external_id(&external_id)
            .await?
            .ok_or(AdminError::NotFound)
    }

    async fn check_creation(
        &self,
        caller: &Caller,
        input: &CreateUserInput,
    ) -> Result<CheckedCreation, AdminError> {
        let trusted = matches!(caller, Caller::Service(_) | Caller::System);
        let today = self.ports.clock.now().date_naive();
        let mut errors = Collector::new();
        let email = match input.email.as_deref() {
            Some(raw) => errors.field("email", Email::parse(raw)).map(Some),
            None if trusted => Some(None),
            None => {
                errors.required("email");
                None
            }
        };
        let username = match input.username.as_deref() {
            Some(raw) => errors.field("username", Username::parse(raw)).map(Some),
            None => Some(None),
        };
        let name = match input.name.as_deref() {
            Some(raw) => errors.field("name", Name::parse(raw)).map(Some),
            None => Some(None),
        };
        let phone = match input.phone.as_deref() {
            Some(raw) => errors.field("phone", Phone::parse(raw)).map(Some),
            None => Some(None),
        };
        let avatar_url = match input.avatar_url.as_deref() {
            Some(raw) => errors.field("avatar_url", AvatarUrl::parse(raw)).map(Some),
            None => Some(None),
        };
        let profile = match &input.profile {
            Some(raw) => Profile::parse(raw, today, &mut errors),
            None => Some(Profile::default()),
        };
        let external_id = match input.external_id.as_deref() {
            Some(raw) => errors
                .field("external_id", parse_external_id(raw))
                .map(Some),
            None => Some(None),
        };
        let identities: Vec<&str> = [input.email.as_deref(), input.username.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        let password = match input.password.as_deref() {
            Some(raw) => errors
                .many("password", Password::parse(raw, &identities))
                .map(Some),
            None => Some(None),
        };
        let known = self.ports.admin.roles().await?;
        let roles = match &input.roles {
            None => Some(vec![RoleName::user()]),
            Some(raw) if raw.is_empty() => {
                errors.push(FieldError::new(
                    "roles",
                    "empty",
                    "a user needs at least one role",
                ));
                None
            }
            Some(raw) => {
                let mut roles: Vec<RoleName> = Vec::new();
                let mut ok = true;
                for r in raw {
                    match RoleName::parse(r) {
                        Ok(role) if known.iter().any(|k| k.name == role) => {
                            if !roles.contains(&role) {
                                roles.push(role);
                            }
                        }
                        Ok(_) => {
                            ok = false;
                            errors.push(FieldError::new(
                                "roles",
                                "unknown_role",
                                format!("no role named {r}"),
                            ));
                        }
                        Err(v) => {
                            ok = false;
                            errors.push(v.on("roles"));
                        }
                    }
                }
                roles.sort();
                ok.then_some(roles)
            }
        };
        errors.finish()?;
        let (
            Some(email),
            Some(username),
            Some(name),
            Some(phone),
            Some(avatar_url),
            Some(profile),
            Some(password),
            Some(roles),
            Some(external_id),
        ) = (
            email,
            username,
            name,
            phone,
            avatar_url,
            profile,
            password,
            roles,
            external_id,
        )
        else {
            return Err(body_invalid());
        };
        Ok(CheckedCreation {
            email,
            username,
            name,
            phone,
            avatar_url,
            profile,
            password,
            roles,
            external_id,
        })
    }

    /// The username of a new user: the given one, else the external id if it is a valid
    /// username, else the external id or (without one) the email's local part made valid and
    /// unique (`7` gives `7__`, `tg:42` gives `tg42`, then `-2`, `-3`... on a clash).
    async fn pick_username(
        &self,
        checked: &CheckedCreation,
        attempt: u32,
    ) -> Result<Username, AdminError> {
        if let Some(username) = &checked.username {
            return Ok(username.clone());
        }
        if let Some(username) = checked
            .external_id
            .as_deref()
            .and_then(|e| Username::parse(e).ok())
        {
            return Ok(username);
        }
        // An external id that is no username as it stands ("7", "tg:42") is made one, as an
        // email's local part is: the integrator asked for no particular username.
        let source = match (&checked.external_id, &checked.email) {
            (Some(external_id), _) => external_id.clone(),
            (None, Some(email)) => email.local_part().to_owned(),
            (None, None) => {
                return Err(AdminError::Invalid(ValidationErrors(vec![
                    FieldError::new(
                        "username",
                        "required",
                        "username is required when neither email nor external_id gives one",
                    ),
                ])));
            }
        };
        Ok(super::free_username(self.ports.users.as_ref(), &source, attempt).await?)
    }

    /// Creates an active user (`POST /api/users`, `POST /internal/users`).
    ///
    /// # Errors
    /// [`AdminError::Forbidden`] unless ADMIN or a service; each broken field rule (422);
    /// a taken email, username or external id (409).
    pub async fn create_user(
        &self,
        caller: &Caller,
        input: CreateUserInput,
        ctx: &RequestContext,
    ) -> Result<User, AdminError> {
        Self::authorize(caller, &Action::CreateUser, None)?;
        let checked = self.check_creation(caller, &input).await?;
        let password_hash = match &checked.password {
            Some(password) => Some(self.ports.hasher.hash(password).await?),
            None => None,
        };
        let mut attempt = 0;
        loop {
            let username = self.pick_username(&checked, attempt).await?;
            if let Some(password) = &checked.password
                && username.key() == password.expose().to_lowercase()
            {
                return Err(AdminError::Invalid(ValidationErrors(vec![
                    FieldError::new(
                        "password",
                        "same_as_identity",
                        "password must not equal the email or username",
                    ),
                ])));
            }
            let now = self.ports.clock.now();
            let id = UserId::generate();
            let user = NewUser {
                id,
                external_id: checked.external_id.clone(),
                email: checked.email.clone(),
                email_verified: input.email_verified.unwrap_or(false),
                username,
                name: checked.name.clone(),
                phone: checked.phone.clone(),
                avatar_url: checked.avatar_url.clone(),
                profile: checked.profile.clone(),
                status: UserStatus::Active,
                roles: checked.roles.clone(),
                password_hash: password_hash.clone(),
                created_at: now,
            };
            let audit =
                AuditEvent::new(now, caller.actor(), AuditAction::UserCreated, Some(id), ctx)
                    .with(
                        "via",
                        match caller {
                            Caller::User(_) => "admin",
                            Caller::Service(_) => "internal",
                            Caller::System => "system",
                        },
                    )
                    .with(
                        "roles",
                        checked
                            .roles
                            .iter()
                            .map(RoleName::as_str)
                            .collect::<Vec<_>>()
                            .join(","),
                    );
            let effects = CreationEffects {
                token: None,
                mail: None,
                audit,
            };
            match self.ports.users.create(user, effects).await {
                Ok(user) => return Ok(user),
                Err(CreateUserError::EmailTaken) => return Err(AdminError::EmailTaken),
                Err(CreateUserError::UsernameTaken)
                    if checked.username.is_none() && checked.email.is_some() && attempt < 3 =>
                {
                    attempt += 1;
                }
                Err(CreateUserError::UsernameTaken) => return Err(AdminError::UsernameTaken),
                Err(CreateUserError::ExternalIdTaken) => return Err(AdminError::ExternalIdTaken),
                Err(CreateUserError::Infra(e)) => return Err(e.into()),
            }
        }
    }

    fn check_update(&self, input: &AdminUpdateInput) -> Result<FieldChanges, AdminError> {
        let today = self.ports.clock.now().date_naive();
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
            Some(Some(raw)) => Profile::parse(raw, today, &mut errors).map(Some),
        };
        let email = not_null(&mut errors, "email", input.email.as_ref(), |raw| {
            Email::parse(raw)
        });
        let email_verified = not_null(
            &mut errors,
            "email_verified",
            input.email_verified.as_ref(),
            |v| Ok(*v),
        );
        let external_id = not_null(
            &mut errors,
            "external_id",
            input.external_id.as_ref(),
            |raw| parse_external_id(raw),
        );
        errors.finish()?;
        let (
            Some(username),
            Some(name),
            Some(phone),
            Some(avatar_url),
            Some(profile),
            Some(email),
            Some(email_verified),
            Some(external_id),
        ) = (
            username,
            name,
            phone,
            avatar_url,
            profile,
            email,
            email_verified,
            external_id,
        )
        else {
            return Err(body_invalid());
        };
        Ok(FieldChanges {
            username,
            name,
            phone,
            avatar_url,
            profile,
            email,
            email_verified,
            external_id,
        })
    }
}

fn change(user: UserId, audit: AuditEvent, now: DateTime<Utc>) -> AdminChange {
    AdminChange {
        user,
        fields: FieldChanges::default(),
        status: None,
        role: None,
        tenant: None,
        audit,
        now,
    }
}

fn changed_fields(fields: &FieldChanges) -> String {
    [
        ("username", fields.username.is_some()),
        ("name", fields.name.is_some()),
        ("phone", fields.phone.is_some()),
        ("avatar_url", fields.avatar_url.is_some()),
        ("profile", fields.profile.is_some()),
        ("email", fields.email.is_some()),
        ("email_verified", fields.email_verified.is_some()),
        ("external_id", fields.external_id.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect::<Vec<_>>()
    .join(",")
}

impl Administration {
    /// Changes fields of a user: every field for ADMIN and services; `name`, `phone`,
    /// `avatar_url` and `profile` of users who are not ADMIN for a MANAGER. A new email is
    /// stored unverified unless `email_verified` is given with it.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NotFound`], each broken field rule (422), a
    /// taken email, username or external id (409).
    pub async fn update_user(
        &self,
        caller: &Caller,
        id: UserId,
        input: AdminUpdateInput,
        ctx: &RequestContext,
    ) -> Result<User, AdminError> {
        let fields = input.fields();
        if fields.contains(&Field::ExternalId) && matches!(caller, Caller::User(_)) {
            return Err(AdminError::Forbidden);
        }
        let action = Action::UpdateUser(fields);
        let target = self.authorized_target(caller, &action, id).await?;
        let changes = self.check_update(&input)?;
        if changes.is_empty() {
            return Ok(target);
        }
        self.apply_fields(caller, target.id, changes, ctx).await
    }

    async fn apply_fields(
        &self,
        caller: &Caller,
        id: UserId,
        fields: FieldChanges,
        ctx: &RequestContext,
    ) -> Result<User, AdminError> {
        let audit = self
            .event(caller, AuditAction::UserUpdated, id, ctx)
            .with("fields", changed_fields(&fields));
        let mut c = change(id, audit, self.ports.clock.now());
        c.fields = fields;
        Ok(self.ports.admin.apply(c).await?)
    }

    /// Erases a user for good; returns the user as it was.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NotFound`], [`AdminError::LastAdmin`].
    pub async fn delete_user(
        &self,
        caller: &Caller,
        id: UserId,
        ctx: &RequestContext,
    ) -> Result<User, AdminError> {
        let target = self
            .authorized_target(caller, &Action::DeleteUser, id)
            .await?;
        let audit = self
            .event(caller, AuditAction::UserDeleted, target.id, ctx)
            .with("via", "admin");
        Ok(self.ports.admin.delete(target.id, audit).await?)
    }

    /// Deactivates a user (soft delete) and revokes its sessions at once. Deactivating a
    /// deactivated user changes nothing.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NotFound`], [`AdminError::LastAdmin`].
    pub async fn deactivate(
        &self,
        caller: &Caller,
        id: UserId,
        ctx: &RequestContext,
    ) -> Result<User, AdminError> {
        let target = self
            .authorized_target(caller, &Action::DeactivateUser, id)
            .await?;
        if target.status == UserStatus::Deactivated {
            return Ok(target);
        }
        let audit = self
            .event(caller, AuditAction::UserDeactivated, target.id, ctx)
            .with("sessions", "revoked");
        let mut c = change(target.id, audit, self.ports.clock.now());
        c.status = Some(StatusChange::Deactivate);
        Ok(self.ports.admin.apply(c).await?)
    }

    /// Makes a deactivated user active again. Reactivating an active user changes nothing;
    /// a pending one is refused.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NotFound`], [`AdminError::Pending`].
    pub async fn reactivate(
        &self,
        caller: &Caller,
        id: UserId,
        ctx: &RequestContext,
    ) -> Result<User, AdminError> {
        let target = self
            .authorized_target(caller, &Action::ReactivateUser, id)
            .await?;
        match target.status {
            UserStatus::Active => return Ok(target),
            UserStatus::Pending => return Err(AdminError::Pending),
            UserStatus::Deactivated => {}
        }
        let audit = self.event(caller, AuditAction::UserReactivated, target.id, ctx);
        let mut c = change(target.id, audit, self.ports.clock.now());
        c.status = Some(StatusChange::Reactivate);
        Ok(self.ports.admin.apply(c).await?)
    }

    fn role_name(raw: &str) -> Result<RoleName, AdminError> {
        RoleName::parse(raw).map_err(|v| AdminError::Invalid(ValidationErrors(vec![v.on("role")])))
    }

    /// Gives a user a role, keeping the others.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NotFound`], an invalid or unknown role (422),
    /// [`AdminError::RoleAlreadyAssigned`].
    pub async fn add_role(
        &self,
        caller: &Caller,
        id: UserId,
        raw_role: &str,
        ctx: &RequestContext,
    ) -> Result<User, AdminError> {
        let target = self.authorized_target(caller, &Action::AddRole, id).await?;
        let role = Self::role_name(raw_role)?;
        let audit = self
            .event(caller, AuditAction::RoleAdded, target.id, ctx)
            .with("role", role.as_str());
        let mut c = change(target.id, audit, self.ports.clock.now());
        c.role = Some(RoleChange::Add(role));
        Ok(self.ports.admin.apply(c).await?)
    }

    /// Takes a role from a user. The last active ADMIN keeps ADMIN (checked first); every
    /// user keeps at least one role.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NotFound`], [`AdminError::LastAdmin`],
    /// [`AdminError::LastRole`], [`AdminError::RoleNotAssigned`].
    pub async fn remove_role(
        &self,
        caller: &Caller,
        id: UserId,
        raw_role: &str,
        ctx: &RequestContext,
    ) -> Result<User, AdminError> {
        let target = self
            .authorized_target(caller, &Action::RemoveRole, id)
            .await?;
        let Ok(role) = RoleName::parse(raw_role) else {
            return Err(AdminError::RoleNotAssigned);
        };
        let audit = self
            .event(caller, AuditAction::RoleRemoved, target.id, ctx)
            .with("role", role.as_str());
        let mut c = change(target.id, audit, self.ports.clock.now());
        c.role = Some(RoleChange::Remove(role));
        Ok(self.ports.admin.apply(c).await?)
    }

    /// Adds or changes a tenant membership. The first membership is main; `main: true` makes
    /// this one main and clears the others.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NotFound`], an invalid tenant id or role
    /// (422), [`AdminError::UnknownRole`], [`AdminError::MainRequired`].
    pub async fn set_tenant(
        &self,
        caller: &Caller,
        id: UserId,
        raw_tenant: &str,
        raw_role: Option<&str>,
        main: Option<bool>,
        ctx: &RequestContext,
    ) -> Result<User, AdminError> {
        let target = self
            .authorized_target(caller, &Action::SetTenant, id)
            .await?;
        let mut errors = Collector::new();
        let tenant = errors.field("tenant_id", TenantId::parse(raw_tenant));
        let role = match raw_role {
            Some(raw) => errors.field("role", RoleName::parse(raw)),
            None => {
                errors.required("role");
                None
            }
        };
        errors.finish()?;
        let (Some(tenant), Some(role)) = (tenant, role) else {
            return Err(body_invalid());
        };
        let audit = self
            .event(caller, AuditAction::TenantSet, target.id, ctx)
            .with("tenant_id", tenant.as_str())
            .with("role", role.as_str());
        let mut c = change(target.id, audit, self.ports.clock.now());
        c.tenant = Some(TenantChange::Set { tenant, role, main });
        Ok(self.ports.admin.apply(c).await?)
    }

    /// Removes a tenant membership; if it was main, the oldest remaining one becomes main.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NotFound`], [`AdminError::MembershipNotFound`].
    pub async fn remove_tenant(
        &self,
        caller: &Caller,
        id: UserId,
        raw_tenant: &str,
        ctx: &RequestContext,
    ) -> Result<User, AdminError> {
        let target = self
            .authorized_target(caller, &Action::RemoveTenant, id)
            .await?;
        let Ok(tenant) = TenantId::parse(raw_tenant) else {
            return Err(AdminError::MembershipNotFound);
        };
        let audit = self
            .event(caller, AuditAction::TenantRemoved, target.id, ctx)
            .with("tenant_id", tenant.as_str());
        let mut c = change(target.id, audit, self.ports.clock.now());
        c.tenant = Some(TenantChange::Remove(tenant));
        Ok(self.ports.admin.apply(c).await?)
    }

    /// Every role.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`] unless ADMIN, MANAGER or a service.
    pub async fn roles(&self, caller: &Caller) -> Result<Vec<Role>, AdminError> {
        Self::authorize(caller, &Action::ListRoles, None)?;
        Ok(self.ports.admin.roles().await?)
    }

    /// Creates a custom role (`^[A-Z][A-Z0-9_]{1,31}$`), which grants no privileges.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], an invalid name or description (422),
    /// [`AdminError::RoleExists`].
    pub async fn create_role(
        &self,
        caller: &Caller,
        raw_name: Option<&str>,
        description: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<Role, AdminError> {
        Self::authorize(caller, &Action::CreateRole, None)?;
        let mut errors = Collector::new();
        let name = match raw_name {
            Some(raw) => errors.field("name", RoleName::parse(raw)),
            None => {
                errors.required("name");
                None
            }
        };
        let description = description.map(str::trim).filter(|d| !d.is_empty());
        if let Some(d) = description
            && (d.chars().count() > MAX_ROLE_DESCRIPTION_LEN || d.chars().any(char::is_control))
        {
            errors.push(FieldError::new(
                "description",
                "invalid_text",
                "description must be at most 200 characters, without control characters",
            ));
        }
        errors.finish()?;
        let Some(name) = name else {
            return Err(body_invalid());
        };
        let now = self.ports.clock.now();
        let audit = AuditEvent::new(now, caller.actor(), AuditAction::RoleCreated, None, ctx)
            .with("role", name.as_str());
        let role = Role {
            name,
            description: description.map(str::to_owned),
            built_in: false,
            created_at: now,
        };
        self.ports
            .admin
            .create_role(role, audit)
            .await
            .map_err(|e| match e {
                CreateRoleError::Exists => AdminError::RoleExists,
                CreateRoleError::Infra(e) => AdminError::Infra(e),
            })
    }

    /// A page of the audit log, newest first.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`] unless ADMIN or a service; a malformed filter or paging
    /// value (422).
    pub async fn audit_events(
        &self,
        caller: &Caller,
        input: AuditQueryInput,
    ) -> Result<AuditEventsPage, AdminError> {
        Self::authorize(caller, &Action::ReadAudit, None)?;
        let mut errors = Collector::new();
        let user_id = input.user_id.as_deref().and_then(|raw| {
            errors.field(
                "user_id",
                uuid::Uuid::parse_str(raw)
                    .map(UserId::from_uuid)
                    .map_err(|_| Violation::new("invalid_uuid", "user_id must be a UUID")),
            )
        });
        let action = input.action.as_deref().and_then(|raw| {
            errors.field(
                "action",
                crate::audit::AuditAction::parse(raw).ok_or_else(|| {
                    Violation::new("unknown_action", format!("no audit action named {raw:?}"))
                }),
            )
        });
        let actor_id = match input.actor_id.as_deref() {
            Some(raw) if raw.is_empty() || raw.len() > 200 => {
                errors.push(FieldError::new(
                    "actor_id",
                    "invalid_actor",
                    "actor_id must be a user id, service:<name> or system",
                ));
                None
            }
            other => other.map(str::to_owned),
        };
        let time = |field: &str, raw: &str| {
            DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    Violation::new(
                        "invalid_timestamp",
                        format!("{field} must be an RFC 3339 timestamp"),
                    )
                })
        };
        let since = input
            .since
            .as_deref()
            .and_then(|raw| errors.field("since", time("since", raw)));
        let until = input
            .until
            .as_deref()
            .and_then(|raw| errors.field("until", time("until", raw)));
        let page = match input.page.as_deref() {
            None => Some(1),
            Some(raw) => errors.field(
                "page",
                raw.parse::<u64>()
                    .ok()
                    .filter(|p| (1..=1_000_000).contains(p))
                    .ok_or_else(|| {
                        Violation::new("out_of_range", "page must be a whole number from 1")
                    }),
            ),
        };
        let limit = match input.limit.as_deref() {
            None => Some(DEFAULT_AUDIT_LIMIT),
            Some(raw) => errors.field(
                "limit",
                raw.parse::<u64>()
                    .ok()
                    .filter(|l| (1..=MAX_AUDIT_LIMIT).contains(l))
                    .ok_or_else(|| {
                        Violation::new("out_of_range", "limit must be a whole number from 1 to 100")
                    }),
            ),
        };
        if let (Some(s), Some(u)) = (since, until)
            && s > u
        {
            errors.push(FieldError::new(
                "until",
                "before_since",
                "until must not be before since",
            ));
        }
        errors.finish()?;
        let (Some(page), Some(limit)) = (page, limit) else {
            return Err(body_invalid());
        };
        let query = AuditQuery {
            user_id,
            actor_id,
            action,
            since,
            until,
            offset: (page - 1).saturating_mul(limit),
            limit,
        };
        let found = self.ports.admin.audit_events(query).await?;
        Ok(AuditEventsPage {
            page: found,
            number: page,
            limit,
        })
    }

    /// Ensures a user exists for `external_id` and syncs the given fields: creates it
    /// (answering `true`) if missing, else updates the given fields (answering `false`).
    /// Safe under concurrent calls for one id: the store's uniqueness of external ids makes
    /// every losing creation retry as an update, so exactly one call creates. `password` and
    /// `roles` are used at creation only.
    ///
    /// # Errors
    /// As [`Administration::create_user`] and [`Administration::update_user`].
    pub async fn upsert_by_external_id(
        &self,
        caller: &Caller,
        raw_external_id: &str,
        mut input: CreateUserInput,
        ctx: &RequestContext,
    ) -> Result<(User, bool), AdminError> {
        Self::authorize(caller, &Action::CreateUser, None)?;
        let external_id = parse_external_id(raw_external_id)
            .map_err(|v| AdminError::Invalid(ValidationErrors(vec![v.on("external_id")])))?;
        input.external_id = Some(external_id.clone());
        let update = AdminUpdateInput {
            username: input.username.clone().map(Some),
            name: input.name.clone().map(Some),
            phone: input.phone.clone().map(Some),
            avatar_url: input.avatar_url.clone().map(Some),
            profile: input.profile.clone().map(Some),
            email: input.email.clone().map(Some),
            email_verified: input.email_verified.map(Some),
            external_id: None,
        };
        if let Some(existing) = self.ports.admin.find_by_external_id(&external_id).await? {
            return self
                .sync(caller, existing, &update, ctx)
                .await
                .map(|u| (u, false));
        }
        match self.create_user(caller, input, ctx).await {
            Ok(user) => Ok((user, true)),
            Err(
                e @ (AdminError::ExternalIdTaken
                | AdminError::UsernameTaken
                | AdminError::EmailTaken),
            ) => {
                // Lost a race with a concurrent creation of the same id: update what it made.
                match self.ports.admin.find_by_external_id(&external_id).await? {
                    Some(existing) => self
                        .sync(caller, existing, &update, ctx)
                        .await
                        .map(|u| (u, false)),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Applies the fields of `update` that differ from `existing`.
    async fn sync(
        &self,
        caller: &Caller,
        existing: User,
        update: &AdminUpdateInput,
        ctx: &RequestContext,
    ) -> Result<User, AdminError> {
        let mut changes = self.check_update(update)?;
        if changes
            .username
            .as_ref()
            .is_some_and(|u| u.key() == existing.username.key())
        {
            changes.username = None;
        }
        if changes.name.as_ref().is_some_and(|n| n == &existing.name) {
            changes.name = None;
        }
        if changes.phone.as_ref().is_some_and(|p| p == &existing.phone) {
            changes.phone = None;
        }
        if changes
            .avatar_url
            .as_ref()
            .is_some_and(|a| a == &existing.avatar_url)
        {
            changes.avatar_url = None;
        }
        if changes
            .profile
            .as_ref()
            .is_some_and(|p| p == &existing.profile)
        {
            changes.profile = None;
        }
        if changes.email.as_ref().is_some_and(|e| {
            existing
                .email
                .as_ref()
                .is_some_and(|old| old.key() == e.key() && old.as_str() == e.as_str())
        }) {
            changes.email = None;
        }
        if changes.email_verified == Some(existing.email_verified) && changes.email.is_none() {
            changes.email_verified = None;
        }
        if changes.is_empty() {
            return Ok(existing);
        }
        self.apply_fields(caller, existing.id, changes, ctx).await
    }
}
