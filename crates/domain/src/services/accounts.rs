//! Registration, email confirmation and account bootstrap.

use std::sync::Arc;

use chrono::Duration;

use crate::audit::{Actor, AuditAction, AuditEvent, RequestContext};
use crate::error::{Collector, FieldError, InfraError, ValidationErrors};
use crate::mail::{MailKind, OutgoingMail};
use crate::ports::{
    Clock, ConfirmOutcome, CreateUserError, CreationEffects, LoginKey, PasswordHasher,
    ResetOutcome, SecretTokens, TokenIssue, UserRepository,
};
use crate::role::RoleName;
use crate::token::{NewOneTimeToken, TokenPurpose};
use crate::user::{Email, Name, NewUser, Password, Profile, User, UserId, UserStatus, Username};

/// Ports used by [`Accounts`].
#[derive(Clone)]
pub struct AccountsPorts {
    /// Users.
    pub users: Arc<dyn UserRepository>,
    /// Password hashing.
    pub hasher: Arc<dyn PasswordHasher>,
    /// One-time tokens.
    pub secrets: Arc<dyn SecretTokens>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

/// Settings of [`Accounts`].
#[derive(Debug, Clone, Copy)]
pub struct AccountsConfig {
    /// How long a confirmation token works.
    pub confirmation_ttl: Duration,
    /// How long a password-reset token works.
    pub reset_ttl: Duration,
}

/// Registration as a client asks for it, unchecked.
#[derive(Debug, Clone, Default)]
pub struct RegisterInput {
    /// Required.
    pub email: Option<String>,
    /// Required.
    pub password: Option<String>,
    /// Defaults to the email's local part, made valid and unique.
    pub username: Option<String>,
    /// Display name.
    pub name: Option<String>,
}

/// Why a registration failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Field rules broken.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// The email belongs to another account.
    #[error("a user with this email already exists")]
    EmailTaken,
    /// The username belongs to another account.
    #[error("a user with this username already exists")]
    UsernameTaken,
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Why a confirmation failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    /// Unknown or already used token.
    #[error("the token is invalid or was already used")]
    InvalidToken,
    /// The token expired; a pending account was deleted.
    #[error("the token has expired")]
    TokenExpired,
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Why a password reset failed.
#[derive(Debug, thiserror::Error)]
pub enum ResetPasswordError {
    /// Unknown, used or expired token.
    #[error("the token is invalid, expired or was already used")]
    InvalidToken,
    /// The new password breaks the policy.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// The longest raw token worth hashing; anything longer cannot be one of ours.
const MAX_RAW_TOKEN: usize = 256;

/// An administrator to create when none exists (bootstrap and `create-admin`).
#[derive(Debug, Clone)]
pub struct NewAdmin {
    /// Email.
    pub email: String,
    /// Username; defaults like registration's.
    pub username: Option<String>,
    /// Password.
    pub password: String,
}

/// Why an administrator could not be created.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// Field rules broken.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// The email or username belongs to another account.
    #[error("an account with this {0} already exists")]
    Taken(&'static str),
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// The account use cases: register, confirm, read, bootstrap.
///
/// Registration stores a pending account together with its confirmation token and mail;
/// the account becomes active when the mailed link comes back. Wired here to the in-memory
/// adapters (the wiring is hidden; see the crate docs):
///
/// ```
/// use roster_domain::audit::RequestContext;
/// use roster_domain::services::{ConfirmError, RegisterError, RegisterInput};
/// use roster_domain::user::UserStatus;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use std::sync::Arc;
/// # use chrono::{Duration, Utc};
/// # use roster_domain::memory::{MemoryStore, TestMailbox, TestPasswordHasher, TestSecretTokens};
/// # use roster_domain::ports::ManualClock;
/// # use roster_domain::services::{Accounts, AccountsConfig, AccountsPorts, MailDelivery, RetryPolicy};
/// # let store = MemoryStore::new();
/// # let clock = Arc::new(ManualClock::new(Utc::now()));
/// # let accounts = Accounts::new(
/// #     AccountsPorts {
/// #         users: Arc::new(store.users()),
/// #         hasher: Arc::new(TestPasswordHasher::new()),
/// #         secrets: Arc::new(TestSecretTokens::new()),
/// #         clock: clock.clone(),
/// #     },
/// #     AccountsConfig { confirmation_ttl: Duration::hours(24), reset_ttl: Duration::hours(1) },
/// # );
/// # let mailbox = TestMailbox::new();
/// # let delivery = MailDelivery::new(
/// #     Arc::new(store.outbox()), Arc::new(mailbox.clone()), clock.clone(), RetryPolicy::default(),
/// # );
/// let ctx = RequestContext::default();
/// let input = RegisterInput {
///     email: Some("ada@example.com".into()),
///     password: Some("Correct-Horse-42".into()),
///     ..RegisterInput::default()
/// };
/// let ada = accounts.register(input.clone(), &ctx).await?;
/// assert_eq!((ada.username.as_str(), ada.status), ("ada", UserStatus::Pending));
/// // One account per address, whatever its case.
/// let again = RegisterInput { email: Some("ADA@example.com".into()), ..input };
/// assert!(matches!(accounts.register(again, &ctx).await, Err(RegisterError::EmailTaken)));
///
/// // The mail worker delivers the link; following it activates the account, once.
/// delivery.run_once(10).await?;
/// let token = mailbox.last_token_for("ada@example.com").unwrap();
/// assert_eq!(accounts.confirm(&token, &ctx).await?.status, UserStatus::Active);
/// assert!(matches!(accounts.confirm(&token, &ctx).await, Err(ConfirmError::InvalidToken)));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Accounts {
    pub(super) ports: AccountsPorts,
    pub(super) config: AccountsConfig,
}

struct CheckedRegistration {
    email: Email,
    username: Option<Username>,
    name: Option<Name>,
    password: Password,
}

/// A derived username is only known after validation: the password must not equal it either.
fn refuse_password_equal_to(
    username: &Username,
    password: &Password,
) -> Result<(), ValidationErrors> {
    if username.key() == password.expose().to_lowercase() {
        return Err(ValidationErrors(vec![FieldError::new(
            "password",
            "same_as_identity",
            "password must not equal the email or username",
        )]));
    }
    Ok(())
}

impl Accounts {
    /// Wires the service.
    pub fn new(ports: AccountsPorts, config: AccountsConfig) -> Self {
        Self { ports, config }
    }

    fn check(input: &RegisterInput) -> Result<CheckedRegistration, ValidationErrors> {
        let mut errors = Collector::new();
        let email = match input.email.as_deref() {
            Some(raw) => errors.field("email", Email::parse(raw)),
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
        let identities: Vec<&str> = [input.email.as_deref(), input.username.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        let password = match input.password.as_deref() {
            Some(raw) => errors.many("password", Password::parse(raw, &identities)),
            None => {
                errors.required("password");
                None
            }
        };
        errors.finish()?;
        match (email, username, name, password) {
            (Some(email), Some(username), Some(name), Some(password)) => Ok(CheckedRegistration {
                email,
                username,
                name,
                password,
            }),
            // Unreachable: the collector reported every missing value above.
            _ => Err(ValidationErrors(vec![FieldError::new(
                "body",
                "invalid",
                "invalid body",
            )])),
        }
    }

    /// Finds a free username: the requested one, or one derived from the email.
    async fn pick_username(&self, email: &Email, attempt: u32) -> Result<Username, InfraError> {
        super::free_username(self.ports.users.as_ref(), email.local_part(), attempt).await
    }

    /// Registers a pending account, stores its confirmation token and queues the
    /// confirmation mail, all at once.
    ///
    /// # Errors
    /// [`RegisterError`]: each broken field rule, a taken email or username, or storage.
    pub async fn register(
        &self,
        input: RegisterInput,
        ctx: &RequestContext,
    ) -> Result<User, RegisterError> {
        let checked = Self::check(&input)?;
        let mut password_hash = None;
        let mut retries = 0;
        loop {
            let username = match &checked.username {
                Some(username) => username.clone(),
                None => self.pick_username(&checked.email, retries).await?,
            };
            refuse_password_equal_to(&username, &checked.password)?;
            let password_hash = match &password_hash {
                Some(hash) => Clone::clone(hash),
                None => {
                    let hash = self.ports.hasher.hash(&checked.password).await?;
                    password_hash = Some(hash.clone());
                    hash
                }
            };
            let now = self.ports.clock.now();
            let id = UserId::generate();
            let token = self.ports.secrets.generate();
            let expires_at = now + self.config.confirmation_ttl;
            let user = NewUser {
                id,
                external_id: None,
                email: Some(checked.email.clone()),
                email_verified: false,
                username,
                name: checked.name.clone(),
                phone: None,
                avatar_url: None,
                profile: Profile::default(),
                status: UserStatus::Pending,
                roles: vec![RoleName::user()],
                password_hash: Some(password_hash),
                created_at: now,
            };
            let effects = CreationEffects {
                token: Some(NewOneTimeToken {
                    hash: token.hash.clone(),
                    purpose: TokenPurpose::EmailConfirmation,
                    user_id: id,
                    email: Some(checked.email.clone()),
                    created_at: now,
                    expires_at,
                }),
                mail: Some(OutgoingMail {
                    to: checked.email.as_str().to_owned(),
                    to_name: checked.name.as_ref().map(|n| n.as_str().to_owned()),
                    kind: MailKind::Confirmation {
                        token: token.raw,
                        expires_at,
                    },
                }),
                audit: AuditEvent::new(now, Actor::System, AuditAction::UserCreated, Some(id), ctx)
                    .with("via", "register"),
            };
            match self.ports.users.create(user, effects).await {
                Ok(user) => return Ok(user),
                Err(CreateUserError::EmailTaken) => return Err(RegisterError::EmailTaken),
                // A derived username raced with another registration: try the next one.
                Err(CreateUserError::UsernameTaken)
                    if checked.username.is_none() && retries < 3 =>
                {
                    retries += 1;
                }
                Err(CreateUserError::UsernameTaken | CreateUserError::ExternalIdTaken) => {
                    return Err(RegisterError::UsernameTaken);
                }
                Err(CreateUserError::Infra(e)) => return Err(e.into()),
            }
        }
    }

    /// Confirms an email with the raw token from the confirmation mail.
    ///
    /// # Errors
    /// [`ConfirmError::InvalidToken`] for an unknown or used token,
    /// [`ConfirmError::TokenExpired`] past the TTL (a pending account is deleted then).
    pub async fn confirm(
        &self,
        raw_token: &str,
        ctx: &RequestContext,
    ) -> Result<User, ConfirmError> {
        if raw_token.is_empty() || raw_token.len() > MAX_RAW_TOKEN {
            return Err(ConfirmError::InvalidToken);
        }
        let hash = self.ports.secrets.hash(raw_token);
        let now = self.ports.clock.now();
        match self.ports.users.confirm_email(&hash, now, ctx).await? {
            ConfirmOutcome::Confirmed(user) => Ok(*user),
            ConfirmOutcome::Expired => Err(ConfirmError::TokenExpired),
            ConfirmOutcome::Invalid => Err(ConfirmError::InvalidToken),
        }
    }

    /// Sends a new confirmation mail to a pending account with this address; its new token
    /// replaces the old one, which stops working. Unknown addresses and accounts whose
    /// address is already verified get nothing, and the caller cannot tell the difference.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    pub async fn resend_confirmation(
        &self,
        email: &Email,
        ctx: &RequestContext,
    ) -> Result<(), InfraError> {
        let Some((user, address)) = self.account_with_address(email).await? else {
            return Ok(());
        };
        if user.status != UserStatus::Pending || user.email_verified {
            return Ok(());
        }
        self.mail_token(
            &user,
            address,
            TokenPurpose::EmailConfirmation,
            AuditAction::ConfirmationResent,
            ctx,
        )
        .await
    }

    /// Mails a password-reset link to the account with this address, if there is one and it
    /// is not deactivated. A new link replaces an earlier one. The caller cannot tell whether
    /// anything was sent; callers that answer clients SHOULD run this off the request path,
    /// so that the response time does not tell either.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    pub async fn request_password_reset(
        &self,
        email: &Email,
        ctx: &RequestContext,
    ) -> Result<(), InfraError> {
        let Some((user, address)) = self.account_with_address(email).await? else {
            return Ok(());
        };
        if user.status == UserStatus::Deactivated {
            return Ok(());
        }
        self.mail_token(
            &user,
            address,
            TokenPurpose::PasswordReset,
            AuditAction::PasswordResetRequested,
            ctx,
        )
        .await
    }

    /// The account holding this address, with the address as stored.
    async fn account_with_address(
        &self,
        email: &Email,
    ) -> Result<Option<(User, Email)>, InfraError> {
        let found = self
            .ports
            .users
            .find_for_login(&LoginKey::Email(email.key().to_owned()))
            .await?;
        Ok(found.and_then(|c| {
            let address = c.user.email.clone()?;
            Some((c.user, address))
        }))
    }

    /// Issues a one-time token of `purpose` to `user` (replacing an earlier one) and mails its
    /// link to `address`, with the audit event `action`, in one port call.
    async fn mail_token(
        &self,
        user: &User,
        address: Email,
        purpose: TokenPurpose,
        action: AuditAction,
        ctx: &RequestContext,
    ) -> Result<(), InfraError> {
        let now = self.ports.clock.now();
        let token = self.ports.secrets.generate();
        let (ttl, pending_email) = match purpose {
            TokenPurpose::EmailConfirmation => {
                (self.config.confirmation_ttl, Some(address.clone()))
            }
            TokenPurpose::PasswordReset => (self.config.reset_ttl, None),
        };
        let expires_at = now + ttl;
        let kind = match purpose {
            TokenPurpose::EmailConfirmation => MailKind::Confirmation {
                token: token.raw,
                expires_at,
            },
            TokenPurpose::PasswordReset => MailKind::PasswordReset {
                token: token.raw,
                expires_at,
            },
        };
        let issue = TokenIssue {
            token: NewOneTimeToken {
                hash: token.hash,
                purpose,
                user_id: user.id,
                email: pending_email,
                created_at: now,
                expires_at,
            },
            mail: OutgoingMail {
                to: address.as_str().to_owned(),
                to_name: user.name.as_ref().map(|n| n.as_str().to_owned()),
                kind,
            },
            audit: AuditEvent::new(now, Actor::System, action, Some(user.id), ctx),
        };
        self.ports.users.issue_token(issue).await
    }

    /// Sets a new password with the raw token from a reset mail, and ends every session of
    /// the account.
    ///
    /// # Errors
    /// [`ResetPasswordError::InvalidToken`] for an unknown, used or expired token (checked
    /// first), [`ResetPasswordError::Invalid`] listing each broken password rule.
    pub async fn reset_password(
        &self,
        raw_token: &str,
        password: &str,
        ctx: &RequestContext,
    ) -> Result<(), ResetPasswordError> {
        if raw_token.is_empty() || raw_token.len() > MAX_RAW_TOKEN {
            return Err(ResetPasswordError::InvalidToken);
        }
        let hash = self.ports.secrets.hash(raw_token);
        let now = self.ports.clock.now();
        let Some(user) = self.ports.users.password_reset_owner(&hash, now).await? else {
            return Err(ResetPasswordError::InvalidToken);
        };
        let identities: Vec<&str> = user
            .email
            .iter()
            .map(Email::as_str)
            .chain([user.username.as_str()])
            .collect();
        let mut errors = Collector::new();
        let password = errors.many("password", Password::parse(password, &identities));
        errors.finish()?;
        let Some(password) = password else {
            return Err(ResetPasswordError::InvalidToken);
        };
        let password_hash = self.ports.hasher.hash(&password).await?;
        // The token is checked again where it is consumed: it may have been used meanwhile.
        let now = self.ports.clock.now();
        let audit = AuditEvent::new(
            now,
            Actor::User(user.id),
            AuditAction::PasswordReset,
            Some(user.id),
            ctx,
        )
        .with("sessions", "revoked");
        match self
            .ports
            .users
            .reset_password(&hash, user.id, &password_hash, now, audit)
            .await?
        {
            ResetOutcome::Reset(_) => Ok(()),
            ResetOutcome::Invalid => Err(ResetPasswordError::InvalidToken),
        }
    }

    /// The user with this id, in any status.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    pub async fn find(&self, id: UserId) -> Result<Option<User>, InfraError> {
        self.ports.users.find_by_id(id).await
    }

    /// Creates an active, verified ADMIN.
    ///
    /// # Errors
    /// [`BootstrapError`] for broken field rules, a taken email or username, or storage.
    pub async fn create_admin(
        &self,
        admin: NewAdmin,
        actor: Actor,
    ) -> Result<User, BootstrapError> {
        let checked = Self::check(&RegisterInput {
            email: Some(admin.email),
            password: Some(admin.password),
            username: admin.username,
            name: None,
        })?;
        let username = match checked.username {
            Some(username) => username,
            None => self.pick_username(&checked.email, 0).await?,
        };
        refuse_password_equal_to(&username, &checked.password)?;
        let password_hash = self.ports.hasher.hash(&checked.password).await?;
        let now = self.ports.clock.now();
        let id = UserId::generate();
        let user = NewUser {
            id,
            external_id: None,
            email: Some(checked.email),
            email_verified: true,
            username,
            name: checked.name,
            phone: None,
            avatar_url: None,
            profile: Profile::default(),
            status: UserStatus::Active,
            roles: vec![RoleName::admin()],
            password_hash: Some(password_hash),
            created_at: now,
        };
        let audit = AuditEvent::new(
            now,
            actor,
            AuditAction::UserCreated,
            Some(id),
            &RequestContext::default(),
        )
        .with("via", "create_admin");
        self.ports
            .users
            .create(
                user,
                CreationEffects {
                    token: None,
                    mail: None,
                    audit,
                },
            )
            .await
            .map_err(|e| match e {
                CreateUserError::EmailTaken => BootstrapError::Taken("email"),
                CreateUserError::UsernameTaken | CreateUserError::ExternalIdTaken => {
                    BootstrapError::Taken("username")
                }
                CreateUserError::Infra(e) => BootstrapError::Infra(e),
            })
    }

    /// Creates the configured ADMIN unless an active ADMIN exists. Returns the created user.
    ///
    /// # Errors
    /// As [`Accounts::create_admin`].
    pub async fn bootstrap_admin(&self, admin: NewAdmin) -> Result<Option<User>, BootstrapError> {
        if self.ports.users.active_admin_exists().await? {
            return Ok(None);
        }
        self.create_admin(admin, Actor::System).await.map(Some)
    }
}
