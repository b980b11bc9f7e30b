//! The ports: every way the rules reach the outside world.
//!
//! Adapters implement these traits; services hold them as `Arc<dyn Port>`. With the `mocks`
//! feature (and in this crate's tests) each trait has a mockall mock, `MockUserRepository` and
//! so on, for testing code that uses the port.
//!
//! Contract words: MUST is required of every adapter; SHOULD is expected unless the
//! technology cannot.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Duration, DurationRound, Utc};
use uuid::Uuid;

use crate::audit::{AuditEvent, RequestContext};
use crate::error::InfraError;
use crate::mail::{OutgoingMail, QueuedMail};
use crate::session::{AccessClaims, NewSession, RevokeReason, SessionId, SessionInfo};
use crate::token::{GeneratedToken, NewOneTimeToken, TokenHash};
use crate::user::{
    AvatarUrl, Email, Name, NewUser, Password, PasswordAttempt, PasswordHash, Phone, Profile, User,
    UserId, Username,
};

/// The source of the current time.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now, in UTC, truncated to microseconds (the precision every store keeps).
    fn now(&self) -> DateTime<Utc>;
}

fn to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::microseconds(1)).unwrap_or(at)
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        to_micros(Utc::now())
    }
}

/// A clock that moves only when told to: for tests of expiry rules.
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use roster_domain::ports::{Clock, ManualClock};
///
/// let start = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
/// let clock = ManualClock::new(start);
/// clock.advance(Duration::minutes(20));
/// assert_eq!(clock.now(), start + Duration::minutes(20));
/// ```
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock standing at `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(to_micros(at)))
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// How a login names its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginKey {
    /// By email identity key ([`crate::user::Email::key`]).
    Email(String),
    /// By username identity key (lowercase).
    Username(String),
}

/// A user with its password hash, for checking a login.
#[derive(Debug, Clone)]
pub struct StoredCredentials {
    /// The account.
    pub user: User,
    /// Its hash; `None` when no password was ever set.
    pub password_hash: Option<PasswordHash>,
}

/// What else happens, atomically, when a user is created.
#[derive(Debug, Clone)]
pub struct CreationEffects {
    /// A one-time token to store (the confirmation token of a registration).
    pub token: Option<NewOneTimeToken>,
    /// A mail to queue in the outbox.
    pub mail: Option<OutgoingMail>,
    /// The audit event of the creation.
    pub audit: AuditEvent,
}

/// Why a user could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// Another account has the same email identity key.
    #[error("email taken")]
    EmailTaken,
    /// Another account has the same username identity key.
    #[error("username taken")]
    UsernameTaken,
    /// Another account has the same external id.
    #[error("external id taken")]
    ExternalIdTaken,
    /// Storage failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// What a confirmation attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmOutcome {
    /// The email is verified; the account as it now is.
    Confirmed(Box<User>),
    /// The token was known but expired (and has been consumed).
    Expired,
    /// No such token (never issued, already used, or wrong purpose).
    Invalid,
}

/// A one-time token to issue, with the mail that carries it and the audit event.
#[derive(Debug, Clone)]
pub struct TokenIssue {
    /// The token to store; it replaces every earlier token of its user and purpose.
    pub token: NewOneTimeToken,
    /// The mail carrying the raw token, queued in the outbox.
    pub mail: OutgoingMail,
    /// The audit event.
    pub audit: AuditEvent,
}

/// What a password-reset attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetOutcome {
    /// The password is set and every session of this user revoked.
    Reset(UserId),
    /// No such token (never issued, already used, expired, or wrong purpose).
    Invalid,
}

/// A validated change of one account and its effects, applied atomically. `None` leaves a
/// field as it is; for optional fields `Some(None)` clears it.
#[derive(Debug, Clone)]
pub struct AccountUpdate {
    /// The account.
    pub user: UserId,
    /// New username.
    pub username: Option<Username>,
    /// New display name, or cleared.
    pub name: Option<Option<Name>>,
    /// New phone, or cleared.
    pub phone: Option<Option<Phone>>,
    /// New avatar URL, or cleared.
    pub avatar_url: Option<Option<AvatarUrl>>,
    /// New profile (the default profile clears it).
    pub profile: Option<Profile>,
    /// New email; stored unverified.
    pub email: Option<Email>,
    /// New password hash.
    pub password_hash: Option<PasswordHash>,
    /// Revoke every live session of the user but this one.
    pub revoke_other_sessions: Option<SessionId>,
    /// A token to store, replacing earlier ones of its purpose (the new email's confirmation).
    pub token: Option<NewOneTimeToken>,
    /// A mail to queue.
    pub mail: Option<OutgoingMail>,
    /// The audit event.
    pub audit: AuditEvent,
    /// The time of the change (`updated_at`, `revoked_at`).
    pub now: DateTime<Utc>,
}

/// Why an account change could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum UpdateUserError {
    /// Another account has the same email identity key.
    #[error("email taken")]
    EmailTaken,
    /// Another account has the same username identity key.
    #[error("username taken")]
    UsernameTaken,
    /// No such account.
    #[error("no such user")]
    NotFound,
    /// Storage failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Users and everything stored with them.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// The user with this id, in any status.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, InfraError>;

    /// The account a login names, with its password hash, in any status.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    async fn find_for_login(&self, key: &LoginKey)
    -> Result<Option<StoredCredentials>, InfraError>;

    /// Whether any account (in any status) holds this username, case-insensitively.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    async fn username_exists(&self, username: &Username) -> Result<bool, InfraError>;

    /// Whether an active account holds the ADMIN role.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    async fn active_admin_exists(&self) -> Result<bool, InfraError>;

    /// Stores a new user with its roles, and its effects (token, outbox mail, audit event).
    ///
    /// MUST be one transaction: either everything is stored or nothing is. MUST enforce
    /// uniqueness of email key, username key and external id across all accounts (any
    /// status) even under concurrent calls, reporting which one clashed.
    ///
    /// # Errors
    /// [`CreateUserError`] naming the clash, or the infrastructure failure.
    async fn create(
        &self,
        user: NewUser,
        effects: CreationEffects,
    ) -> Result<User, CreateUserError>;

    /// Consumes the email-confirmation token with this hash and applies
    /// [`crate::token::decide_confirmation`] to it, recording the audit event of the outcome.
    ///
    /// MUST be one transaction, and MUST consume a token at most once even under concurrent
    /// calls: of two simultaneous calls with one token, exactly one sees it.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails; nothing is changed then.
    async fn confirm_email(
        &self,
        token: &TokenHash,
        now: DateTime<Utc>,
        ctx: &RequestContext,
    ) -> Result<ConfirmOutcome, InfraError>;

    /// Stores `issue.token`, deleting every other token of the same user and purpose (so an
    /// earlier link stops working), queues `issue.mail` and records `issue.audit`.
    ///
    /// MUST be one transaction.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails; nothing is changed then.
    async fn issue_token(&self, issue: TokenIssue) -> Result<(), InfraError>;

    /// The owner of the password-reset token with this hash, if the token exists and
    /// [`crate::token::decide_reset`] allows it at `now`. Does not consume the token.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    async fn password_reset_owner(
        &self,
        token: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, InfraError>;

    /// Consumes the password-reset token with this hash and, if
    /// [`crate::token::decide_reset`] allows it and the token belongs to `user`, sets the
    /// user's password hash, revokes every session of the user (`revoked_at = now`) and
    /// records `audit`.
    ///
    /// MUST be one transaction, and MUST consume a token at most once even under concurrent
    /// calls: the consuming delete is conditional and its affected rows decide who won.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails; nothing is changed then.
    async fn reset_password(
        &self,
        token: &TokenHash,
        user: UserId,
        password_hash: &PasswordHash,
        now: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<ResetOutcome, InfraError>;

    /// Applies `update` and its effects (token, mail, audit, session revocation). Returns the
    /// account as it now is.
    ///
    /// MUST be one transaction, and MUST enforce email and username uniqueness as
    /// [`UserRepository::create`] does.
    ///
    /// # Errors
    /// [`UpdateUserError`] naming the clash, a missing account, or the infrastructure failure.
    async fn update_account(&self, update: AccountUpdate) -> Result<User, UpdateUserError>;

    /// Erases the account with its sessions, tokens and memberships, and records `audit`.
    /// Returns whether an account was erased.
    ///
    /// MUST be one transaction.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails; nothing is changed then.
    async fn delete_account(&self, user: UserId, audit: AuditEvent) -> Result<bool, InfraError>;
}

/// What one cleanup run removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanupReport {
    /// Pending accounts whose confirmation ran out.
    pub pending_accounts: u64,
    /// Expired one-time tokens.
    pub tokens: u64,
    /// Sessions revoked or ended before the grace period.
    pub sessions: u64,
}

/// What counts as stale in one cleanup run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupCutoffs {
    /// The time of the run: one-time tokens expired at or before it are deleted.
    pub now: DateTime<Utc>,
    /// Pending accounts created at or before this, with no unexpired confirmation token
    /// left, are deleted.
    pub pending_created_before: DateTime<Utc>,
    /// Sessions revoked, or past their absolute end, at or before this are deleted.
    pub sessions_dead_before: DateTime<Utc>,
}

/// Housekeeping: leases for background jobs and the removal of stale rows.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Maintenance: Send + Sync {
    /// Takes the lease of job `job` for `holder` until `until`, if nobody holds it at `now`
    /// (no lease, a lease that ran out, or one `holder` already holds). Returns whether
    /// `holder` now holds it.
    ///
    /// MUST be atomic (one conditional upsert): of concurrent callers, at most one holds a
    /// lease at a time.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    async fn try_lease(
        &self,
        job: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, InfraError>;

    /// Deletes what `cutoffs` call stale: pending accounts (each with an audit event
    /// `user.pending_expired` by `system`), expired one-time tokens, dead sessions.
    ///
    /// MUST be one transaction.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails; nothing is changed then.
    async fn cleanup(&self, cutoffs: CleanupCutoffs) -> Result<CleanupReport, InfraError>;
}

/// A refresh token presented for rotation, and its would-be successor.
#[derive(Debug, Clone)]
pub struct RefreshRotation {
    /// Hash of the presented token.
    pub presented: TokenHash,
    /// Hash of the successor to store if the presented token rotates.
    pub next: TokenHash,
    /// Now.
    pub now: DateTime<Utc>,
    /// Lifetime of a refresh token (capped by the session's end).
    pub refresh_ttl: Duration,
    /// The request, for the audit event of a revocation.
    pub ctx: RequestContext,
}

/// What presenting a refresh token came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The token was rotated: the successor is stored; the session's user as it now is.
    Rotated {
        /// The session.
        session_id: SessionId,
        /// The user, complete with current roles.
        user: Box<User>,
    },
    /// The token had been rotated before: its session is now revoked.
    Reused {
        /// The revoked session.
        session_id: SessionId,
    },
    /// Unknown or expired token, ended or revoked session, or inactive user.
    Invalid,
}

/// Login sessions.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Records a successful login: stores the session, sets the user's `last_login_at` to the
    /// session's start and increments `login_count`, and records `audit`. When `max_sessions`
    /// is not zero, revokes the user's oldest live sessions beyond it.
    ///
    /// MUST be one transaction. Returns the user as updated.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails; nothing is changed then.
    async fn start(
        &self,
        session: NewSession,
        audit: AuditEvent,
        max_sessions: u32,
    ) -> Result<User, InfraError>;

    /// The user behind a live session: the session exists, belongs to `user`, is not revoked
    /// and has not reached its absolute end at `now`, and the user is active. `None` otherwise.
    ///
    /// SHOULD be a single indexed lookup: it runs on every authenticated request.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    async fn live_session_user(
        &self,
        session: SessionId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, InfraError>;

    /// Rotates a refresh token: reads the presented token with its session and user, applies
    /// [`crate::session::decide_refresh`] and carries the decision out.
    ///
    /// * Rotate: MUST mark the presented token used with a conditional update (`used_at` still
    ///   unset) and check that it changed exactly one row; if it changed none (a concurrent
    ///   call rotated it first) MUST apply [`crate::session::reuse_decision`] instead, so that
    ///   one token never starts two live chains. Then MUST store `next` with the decided
    ///   expiry and set the session's `last_used_at` to `now`.
    /// * Revoke for reuse: MUST revoke the session (reason
    ///   [`RevokeReason::TokenReused`]) and record the decision's audit event.
    /// * Refuse, or no such token: MUST change nothing and answer [`RefreshOutcome::Invalid`].
    ///
    /// MUST be one transaction.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails; nothing is changed then.
    async fn rotate_refresh(&self, rotation: RefreshRotation)
    -> Result<RefreshOutcome, InfraError>;

    /// Revokes one live session of `user` at `now` with `reason`, recording `audit` with it.
    /// Returns `false`, changing nothing, when `session` is not a live session of `user`
    /// (unknown, someone else's, already revoked or ended).
    ///
    /// MUST be one transaction. Once it returns, [`SessionRepository::live_session_user`]
    /// and [`SessionRepository::rotate_refresh`] MUST no longer accept the session.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails; nothing is changed then.
    async fn revoke(
        &self,
        session: SessionId,
        user: UserId,
        now: DateTime<Utc>,
        reason: RevokeReason,
        audit: AuditEvent,
    ) -> Result<bool, InfraError>;

    /// Revokes every live session of `user` at `now` with `reason`, recording `audit` with
    /// it. Returns how many sessions it revoked.
    ///
    /// MUST be one transaction.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails; nothing is changed then.
    async fn revoke_all(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        reason: RevokeReason,
        audit: AuditEvent,
    ) -> Result<u64, InfraError>;

    /// The live sessions of `user` at `now` (not revoked, not ended), most recently used
    /// first.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    async fn live_sessions(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionInfo>, InfraError>;
}

/// The audit log, for events that stand alone (a failed login changes nothing else).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends an event.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    async fn record(&self, event: AuditEvent) -> Result<(), InfraError>;
}

/// The mail outbox, as seen by the delivery worker. Mail enters it through the repository
/// calls that cause it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Claims up to `limit` messages that are due at `now` and not sent, leasing them until
    /// `now + lease` so that no other worker claims them meanwhile.
    ///
    /// MUST NOT hand one message to two concurrent callers within its lease. A message whose
    /// lease ran out (its worker died) MUST become claimable again.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<QueuedMail>, InfraError>;

    /// Marks a message sent; it is never claimed again. Its payload SHOULD be erased.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    async fn mark_sent(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), InfraError>;

    /// Records a failed attempt: with `retry_at`, the message is due again then; without,
    /// delivery is abandoned and the message kept, with `error`, for operators to see.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    async fn mark_failed(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), InfraError>;
}

/// Why a message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying (connection refused, timeout, 4xx from SMTP).
    #[error("transient delivery failure: {0}")]
    Transient(String),
    /// Retrying will not help (a 5xx rejection of the recipient, an unrenderable message).
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

/// Renders and sends one message.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MailSender: Send + Sync {
    /// Delivers `mail` to its recipient.
    ///
    /// # Errors
    /// [`DeliveryError`] saying whether a retry may help.
    async fn send(&self, mail: &OutgoingMail) -> Result<(), DeliveryError>;
}

/// Password hashing. Implementations MUST NOT run the hash on an async worker thread.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// Hashes a new password.
    ///
    /// # Errors
    /// [`InfraError`] when hashing fails.
    async fn hash(&self, password: &Password) -> Result<PasswordHash, InfraError>;

    /// Whether `attempt` matches `hash`. With `None` (unknown account, or no password set)
    /// MUST spend the same time as a real verification and answer `false`, so timing tells
    /// nothing about which accounts exist.
    ///
    /// # Errors
    /// [`InfraError`] when verification cannot run.
    async fn verify<'a>(
        &self,
        attempt: &PasswordAttempt,
        hash: Option<&'a PasswordHash>,
    ) -> Result<bool, InfraError>;
}

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejected {
    /// Malformed, wrongly signed, wrong algorithm, issuer or audience.
    #[error("invalid token")]
    Invalid,
    /// Past its `exp`.
    #[error("expired token")]
    Expired,
}

/// Signed access tokens.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait AccessTokens: Send + Sync {
    /// Encodes and signs claims.
    ///
    /// # Errors
    /// [`InfraError`] when signing fails.
    fn issue(&self, claims: &AccessClaims) -> Result<String, InfraError>;

    /// Checks the signature (with a pinned algorithm), issuer and audience, and that `now` is
    /// before `exp` with no leeway.
    ///
    /// # Errors
    /// [`TokenRejected`] saying why.
    fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, TokenRejected>;
}

/// Random secrets (one-time and refresh tokens) and their stored hashes.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SecretTokens: Send + Sync {
    /// A new secret of 32 random bytes, base64url without padding, and its hash.
    fn generate(&self) -> GeneratedToken;
    /// The hash a presented secret is looked up by.
    fn hash(&self, raw: &str) -> TokenHash;
}

/// A role as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Name.
    pub name: crate::role::RoleName,
    /// What it is for.
    pub description: Option<String>,
    /// One of [`crate::role::RoleName::BUILT_IN`].
    pub built_in: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A change of a user's status by an administrator or a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange {
    /// Soft delete: `deactivated`, `deactivated_at = now`, every live session revoked.
    Deactivate,
    /// Back to `active`, `deactivated_at` cleared.
    Reactivate,
}

/// A change of a user's roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleChange {
    /// Adds a role, keeping the others.
    Add(crate::role::RoleName),
    /// Removes a role.
    Remove(crate::role::RoleName),
}

/// A change of a user's tenant memberships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantChange {
    /// Adds or changes the membership of `tenant`.
    Set {
        /// The tenant.
        tenant: crate::tenant::TenantId,
        /// The user's role in it (an existing role).
        role: crate::role::RoleName,
        /// `Some(true)`: make it the main membership, clearing the others'. `Some(false)` on
        /// the main membership is refused. `None`: main if it is the first, else unchanged.
        main: Option<bool>,
    },
    /// Removes the membership of this tenant; if it was main, the oldest remaining one
    /// becomes main.
    Remove(crate::tenant::TenantId),
}

/// The fields an administrative change sets; `None` leaves a field alone, `Some(None)`
/// clears an optional one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldChanges {
    /// New username.
    pub username: Option<Username>,
    /// New display name, or cleared.
    pub name: Option<Option<Name>>,
    /// New phone, or cleared.
    pub phone: Option<Option<Phone>>,
    /// New avatar URL, or cleared.
    pub avatar_url: Option<Option<AvatarUrl>>,
    /// New profile (the default profile clears it).
    pub profile: Option<Profile>,
    /// New email. Stored unverified unless `email_verified` says otherwise.
    pub email: Option<Email>,
    /// New verification flag.
    pub email_verified: Option<bool>,
    /// New external id.
    pub external_id: Option<String>,
}

impl FieldChanges {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// One administrative change of one user and its audit event, applied atomically.
#[derive(Debug, Clone)]
pub struct AdminChange {
    /// The user.
    pub user: UserId,
    /// Field changes.
    pub fields: FieldChanges,
    /// A status change.
    pub status: Option<StatusChange>,
    /// A role change.
    pub role: Option<RoleChange>,
    /// A tenant membership change.
    pub tenant: Option<TenantChange>,
    /// The audit event.
    pub audit: AuditEvent,
    /// The time of the change.
    pub now: DateTime<Utc>,
}

/// Why an administrative change was refused or failed. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum AdminChangeError {
    /// No such user.
    #[error("no such user")]
    NotFound,
    /// The change would leave no active ADMIN.
    #[error(transparent)]
    LastAdmin(#[from] crate::policy::LastAdmin),
    /// A user keeps at least one role.
    #[error("a user keeps at least one role")]
    LastRole,
    /// The user already holds the role.
    #[error("the user already holds this role")]
    RoleAlreadyAssigned,
    /// The user does not hold the role.
    #[error("the user does not hold this role")]
    RoleNotAssigned,
    /// No such role.
    #[error("no such role")]
    UnknownRole,
    /// The user has no membership of the tenant.
    #[error("no such membership")]
    MembershipNotFound,
    /// `main: false` on the main membership.
    #[error("the main membership cannot be unset; make another one main")]
    MainRequired,
    /// Another account has the same email identity key.
    #[error("email taken")]
    EmailTaken,
    /// Another account has the same username identity key.
    #[error("username taken")]
    UsernameTaken,
    /// Another account has the same external id.
    #[error("external id taken")]
    ExternalIdTaken,
    /// Storage failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Why a role could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateRoleError {
    /// A role with this name exists.
    #[error("the role exists")]
    Exists,
    /// Storage failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Which audit events to read, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Events about this user.
    pub user_id: Option<UserId>,
    /// Events by this actor (`<user id>`, `service:<name>`, `system`).
    pub actor_id: Option<String>,
    /// Events of this action.
    pub action: Option<crate::audit::AuditAction>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
    /// Events to skip.
    pub offset: u64,
    /// Events to return at most.
    pub limit: u64,
}

/// An audit event as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Id.
    pub id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (`<user id>`, `service:<name>`, `system`).
    pub actor_id: String,
    /// What (the action's stable name).
    pub action: String,
    /// About whom.
    pub user_id: Option<UserId>,
    /// Client IP.
    pub ip: Option<String>,
    /// Extra facts.
    pub details: std::collections::BTreeMap<String, String>,
}

/// One page of audit events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditPage {
    /// The events, newest first (ties by id, descending).
    pub events: Vec<AuditRecord>,
    /// Events matching the filters across all pages.
    pub total: u64,
}

/// The storage side of administration: changes of other users' accounts, roles, and the
/// audit log as read back. Reads of single users go through [`UserRepository`].
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserAdministration: Send + Sync {
    /// The user provisioned under this external id, in any status.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    async fn find_by_external_id(&self, external_id: &str) -> Result<Option<User>, InfraError>;

    /// Applies `change` with its audit event. Returns the user as it now is.
    ///
    /// MUST be one transaction; on any error nothing is changed. When the change deactivates
    /// the user or removes `ADMIN` from it, MUST first serialise against every other such
    /// change (a lock), then apply [`crate::policy::last_admin_guard`] to the target as
    /// stored, before any other rule. Deactivation MUST revoke every live session of the
    /// user in the same transaction. Role and membership rules: adding a held role is
    /// [`AdminChangeError::RoleAlreadyAssigned`]; removing one not held
    /// [`AdminChangeError::RoleNotAssigned`]; removing the only one
    /// [`AdminChangeError::LastRole`]; a role that does not exist
    /// [`AdminChangeError::UnknownRole`]; a user has exactly one main membership when it has
    /// any. MUST enforce email, username and external-id uniqueness as
    /// [`UserRepository::create`] does, comparing emails by identity key.
    ///
    /// # Errors
    /// [`AdminChangeError`] naming the refusal, or the infrastructure failure.
    async fn apply(&self, change: AdminChange) -> Result<User, AdminChangeError>;

    /// Erases the user with its sessions, tokens and memberships, and records `audit`.
    /// Returns the user as it was.
    ///
    /// MUST be one transaction, guarded by [`crate::policy::last_admin_guard`] as
    /// [`UserAdministration::apply`] is.
    ///
    /// # Errors
    /// [`AdminChangeError::NotFound`], [`AdminChangeError::LastAdmin`], or the
    /// infrastructure failure.
    async fn delete(&self, user: UserId, audit: AuditEvent) -> Result<User, AdminChangeError>;

    /// Every role, by name.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    async fn roles(&self) -> Result<Vec<Role>, InfraError>;

    /// Stores a custom role and records `audit`.
    ///
    /// MUST be one transaction, and MUST refuse an existing name even under concurrent calls.
    ///
    /// # Errors
    /// [`CreateRoleError::Exists`], or the infrastructure failure.
    async fn create_role(&self, role: Role, audit: AuditEvent) -> Result<Role, CreateRoleError>;

    /// The audit events matching `query`, newest first, with the total count.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    async fn audit_events(&self, query: AuditQuery) -> Result<AuditPage, InfraError>;
}

/// Reading many users at once: filtered, sorted, paged lists.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserDirectory: Send + Sync {
    /// One page of the users `query` selects, complete with roles and memberships.
    ///
    /// * MUST show only users whose status is in [`crate::listing::UserFilters::statuses`]
    ///   and who match every other filter: `email_key` and `username_key` exactly, `q` as a
    ///   substring of the username key or the lowercased name with `%`, `_` and `\` taken
    ///   literally, `role` and `tenant_id` by membership.
    /// * MUST order by the sort key, then by id, both in `query.order`; a missing key (no
    ///   name, never logged in) MUST sort as the smallest value (first in `asc`, last in
    ///   `desc`).
    /// * With [`crate::listing::Paging::Page`] MUST skip [`crate::listing::UserListQuery::offset`] users; with
    ///   [`crate::listing::Paging::After`] MUST start right after the keyset position (the
    ///   users strictly after `(value, id)` in that order), and SHOULD cost the same at any
    ///   depth (an index range, never an offset).
    /// * MUST return at most `query.limit` users and say in `has_more` whether more follow.
    /// * MUST fill `total` (users matching the filters, all pages) when
    ///   [`crate::listing::UserListQuery::wants_totals`], and SHOULD leave it `None` otherwise.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    async fn list(
        &self,
        query: &crate::listing::UserListQuery,
    ) -> Result<crate::listing::UserPage, InfraError>;

    /// Whether a role of this name exists (built in or custom).
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    async fn role_exists(&self, role: &crate::role::RoleName) -> Result<bool, InfraError>;
}

/// Seals list positions into opaque, tamper-evident cursors bound to their query.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait CursorCodec: Send + Sync {
    /// The cursor for `keyset`, bound to `binding` ([`crate::listing::UserListQuery::binding`]). URL-safe.
    fn seal(&self, binding: &str, keyset: &crate::listing::Keyset) -> String;

    /// The position in `cursor`, if it was sealed by this codec for this same `binding` and
    /// not altered since; `None` otherwise. MUST check the seal in constant time.
    fn open(&self, binding: &str, cursor: &str) -> Option<crate::listing::Keyset>;
}
