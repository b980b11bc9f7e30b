//! Login and per-request authentication.

use std::sync::Arc;

use uuid::Uuid;

use crate::audit::{Actor, AuditAction, AuditEvent, RequestContext};
use crate::error::InfraError;
use crate::ports::{
    AccessTokens, AuditLog, Clock, LoginKey, PasswordHasher, RefreshOutcome, RefreshRotation,
    SecretTokens, SessionRepository, TokenRejected, UserRepository,
};
use crate::session::{
    AccessClaims, NewSession, RevokeReason, SessionId, SessionInfo, SessionPolicy,
};
use crate::user::{PasswordAttempt, User, UserStatus, identity_key};

/// Ports used by [`Sessions`].
#[derive(Clone)]
pub struct SessionsPorts {
    /// Users.
    pub users: Arc<dyn UserRepository>,
    /// Sessions.
    pub sessions: Arc<dyn SessionRepository>,
    /// Standalone audit events.
    pub audit: Arc<dyn AuditLog>,
    /// Password hashing.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Access tokens.
    pub access_tokens: Arc<dyn AccessTokens>,
    /// Refresh tokens.
    pub secrets: Arc<dyn SecretTokens>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

/// A login as the client sends it.
#[derive(Debug, Clone)]
pub struct LoginInput {
    /// Email or username.
    pub login: String,
    /// Password.
    pub password: PasswordAttempt,
}

/// What a successful login hands back.
#[derive(Debug, Clone)]
pub struct LoginSuccess {
    /// Signed access token.
    pub access_token: String,
    /// Opaque refresh token.
    pub refresh_token: String,
    /// Access token lifetime in seconds.
    pub expires_in: i64,
    /// The session.
    pub session_id: SessionId,
    /// The user, with login statistics updated.
    pub user: User,
}

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown login or wrong password; indistinguishable by design.
    #[error("invalid login or password")]
    InvalidCredentials,
    /// Right password, unconfirmed email.
    #[error("the email address is not confirmed")]
    EmailNotConfirmed,
    /// Right password, deactivated account.
    #[error("the account is deactivated")]
    AccountDeactivated,
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Why a presented access token does not authenticate.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Malformed, forged, wrong issuer/audience/algorithm.
    #[error("invalid access token")]
    InvalidToken,
    /// Past `exp`.
    #[error("expired access token")]
    ExpiredToken,
    /// The session was revoked or ended, or the user is no longer active or no longer exists.
    #[error("the session is no longer valid")]
    Revoked,
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Why a refresh failed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown or expired token, ended or revoked session, or inactive user.
    #[error("invalid refresh token")]
    InvalidToken,
    /// The token had been rotated before; its session is now revoked.
    #[error("the refresh token was already used; the session is revoked")]
    TokenReused,
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Why a session could not be revoked.
#[derive(Debug, thiserror::Error)]
pub enum RevokeSessionError {
    /// No live session of the caller has this id.
    #[error("no such session")]
    NotFound,
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// One of the caller's live sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnSession {
    /// The session.
    pub session: SessionInfo,
    /// Whether it is the session of the calling access token.
    pub current: bool,
}

/// Longest refresh token considered; anything longer is refused unread.
const MAX_REFRESH_TOKEN_LEN: usize = 256;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user, as currently stored (current roles and status).
    pub user: User,
    /// The session the token belongs to.
    pub session_id: SessionId,
}

/// The session use cases.
///
/// A login opens a session and answers an access token (short-lived, checked on every
/// request together with its session) and a refresh token (single use: each refresh
/// rotates it). Wired here to the in-memory adapters, with an active account `ada`
/// (hidden; see the crate docs):
///
/// ```
/// use roster_domain::audit::RequestContext;
/// use roster_domain::services::{AuthError, LoginError, LoginInput, RefreshError};
/// use roster_domain::user::PasswordAttempt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use std::sync::Arc;
/// # use chrono::{Duration, Utc};
/// # use roster_domain::memory::{MemoryStore, TestAccessTokens, TestPasswordHasher, TestSecretTokens};
/// # use roster_domain::ports::{ManualClock, PasswordHasher, UserRepository};
/// # use roster_domain::contract::fixtures;
/// # use roster_domain::services::{Sessions, SessionsPorts};
/// # use roster_domain::session::SessionPolicy;
/// # use roster_domain::user::{Password, UserStatus};
/// # let store = MemoryStore::new();
/// # let clock = Arc::new(ManualClock::new(Utc::now()));
/// # let hasher = Arc::new(TestPasswordHasher::new());
/// # let sessions = Sessions::new(
/// #     SessionsPorts {
/// #         users: Arc::new(store.users()),
/// #         sessions: Arc::new(store.sessions()),
/// #         audit: Arc::new(store.audit_log()),
/// #         hasher: hasher.clone(),
/// #         access_tokens: Arc::new(TestAccessTokens::new()),
/// #         secrets: Arc::new(TestSecretTokens::new()),
/// #         clock: clock.clone(),
/// #     },
/// #     SessionPolicy {
/// #         access_ttl: Duration::minutes(15),
/// #         refresh_ttl: Duration::days(7),
/// #         max_lifetime: Duration::days(30),
/// #     },
/// #     0,
/// # );
/// # // An active account with a known password.
/// # let mut ada = fixtures::new_user("ada@example.com", "ada", UserStatus::Active);
/// # ada.password_hash = Some(hasher.hash(&Password::parse("Correct-Horse-42", &[]).unwrap()).await?);
/// # store.users().create(ada.clone(), fixtures::plain(&ada)).await?;
/// let ctx = RequestContext::default();
/// let login = |password: &str| LoginInput {
///     login: "ADA".into(), // a username or an email, any case
///     password: PasswordAttempt::new(password),
/// };
/// assert!(matches!(
///     sessions.login(login("wrong-Horse-42"), &ctx).await,
///     Err(LoginError::InvalidCredentials)
/// ));
/// let opened = sessions.login(login("Correct-Horse-42"), &ctx).await?;
/// let caller = sessions.authenticate(&opened.access_token).await?;
/// assert_eq!(caller.session_id, opened.session_id);
///
/// // A refresh rotates the refresh token; the old one is dead, and replaying it
/// // revokes the session.
/// let refreshed = sessions.refresh(&opened.refresh_token, &ctx).await?;
/// assert!(matches!(
///     sessions.refresh(&opened.refresh_token, &ctx).await,
///     Err(RefreshError::TokenReused)
/// ));
/// assert!(matches!(
///     sessions.authenticate(&refreshed.access_token).await,
///     Err(AuthError::Revoked)
/// ));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Sessions {
    ports: SessionsPorts,
    policy: SessionPolicy,
    max_sessions: u32,
}

impl Sessions {
    /// Wires the service. `max_sessions` of 0 means unlimited.
    pub fn new(ports: SessionsPorts, policy: SessionPolicy, max_sessions: u32) -> Self {
        Self {
            ports,
            policy,
            max_sessions,
        }
    }

    fn login_key(login: &str) -> Option<LoginKey> {
        let login = login.trim();
        if login.is_empty() || login.chars().count() > crate::user::MAX_EMAIL_LEN {
            None
        } else if login.contains('@') {
            Some(LoginKey::Email(identity_key(login)))
        } else {
            Some(LoginKey::Username(login.to_ascii_lowercase()))
        }
    }

    /// Checks a login and opens a session.
    ///
    /// An unknown login costs the same password verification as a wrong password, and both
    /// answer [`LoginError::InvalidCredentials`]. Account status is revealed only after the
    /// correct password.
    ///
    /// # Errors
    /// [`LoginError`].
    pub async fn login(
        &self,
        input: LoginInput,
        ctx: &RequestContext,
    ) -> Result<LoginSuccess, LoginError> {
        let stored = match Self::login_key(&input.login) {
            Some(key) => self.ports.users.find_for_login(&key).await?,
            None => None,
        };
        let hash = stored.as_ref().and_then(|s| s.password_hash.as_ref());
        let matches = self.ports.hasher.verify(&input.password, hash).await?;
        let now = self.ports.clock.now();
        let user_id = stored.as_ref().map(|s| s.user.id);
        let Some(stored) = stored.filter(|_| matches) else {
            let event = AuditEvent::new(now, Actor::System, AuditAction::LoginFailed, user_id, ctx)
                .with("reason", "invalid_credentials");
            self.ports.audit.record(event).await?;
            return Err(LoginError::InvalidCredentials);
        };
        let user = stored.user;
        let refusal = match user.status {
            UserStatus::Active => None,
            UserStatus::Pending => Some((LoginError::EmailNotConfirmed, "email_not_confirmed")),
            UserStatus::Deactivated => {
                Some((LoginError::AccountDeactivated, "account_deactivated"))
            }
        };
        if let Some((error, reason)) = refusal {
            let event = AuditEvent::new(now, Actor::System, AuditAction::LoginFailed, user_id, ctx)
                .with("reason", reason);
            self.ports.audit.record(event).await?;
            return Err(error);
        }
        let session_id = SessionId::generate();
        let refresh = self.ports.secrets.generate();
        let session = NewSession {
            id: session_id,
            user_id: user.id,
            refresh_token_hash: refresh.hash,
            created_at: now,
            refresh_expires_at: self.policy.refresh_expiry(now, now),
            expires_at: now + self.policy.max_lifetime,
            ip: ctx.ip.clone(),
            user_agent: ctx.user_agent.clone(),
        };
        let audit = AuditEvent::new(
            now,
            Actor::User(user.id),
            AuditAction::Login,
            Some(user.id),
            ctx,
        )
        .with("session_id", session_id.to_string());
        let user = self
            .ports
            .sessions
            .start(session, audit, self.max_sessions)
            .await?;
        Ok(self.tokens(user, session_id, refresh.raw, now)?)
    }

    /// Signs an access token for `user` in `session_id` and bundles it with `refresh_token`.
    fn tokens(
        &self,
        user: User,
        session_id: SessionId,
        refresh_token: String,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<LoginSuccess, InfraError> {
        let claims = AccessClaims {
            sub: user.id,
            sid: session_id,
            roles: user.roles.clone(),
            iat: now.timestamp(),
            exp: (now + self.policy.access_ttl).timestamp(),
            jti: Uuid::now_v7(),
        };
        let access_token = self.ports.access_tokens.issue(&claims)?;
        Ok(LoginSuccess {
            access_token,
            refresh_token,
            expires_in: self.policy.access_ttl.num_seconds(),
            session_id,
            user,
        })
    }

    /// Rotates a refresh token: the presented one dies and the answer carries its successor
    /// and a new access token. Presenting a rotated token again revokes its whole session.
    ///
    /// # Errors
    /// [`RefreshError`].
    pub async fn refresh(
        &self,
        refresh_token: &str,
        ctx: &RequestContext,
    ) -> Result<LoginSuccess, RefreshError> {
        let raw = refresh_token.trim();
        if raw.is_empty() || raw.len() > MAX_REFRESH_TOKEN_LEN {
            return Err(RefreshError::InvalidToken);
        }
        let now = self.ports.clock.now();
        let next = self.ports.secrets.generate();
        let rotation = RefreshRotation {
            presented: self.ports.secrets.hash(raw),
            next: next.hash,
            now,
            refresh_ttl: self.policy.refresh_ttl,
            ctx: ctx.clone(),
        };
        match self.ports.sessions.rotate_refresh(rotation).await? {
            RefreshOutcome::Rotated { session_id, user } => {
                Ok(self.tokens(*user, session_id, next.raw, now)?)
            }
            RefreshOutcome::Reused { session_id } => {
                tracing::warn!(%session_id, "a rotated refresh token was presented again; session revoked");
                Err(RefreshError::TokenReused)
            }
            RefreshOutcome::Invalid => Err(RefreshError::InvalidToken),
        }
    }

    /// Ends the caller's current session: its access and refresh tokens stop working at once.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    pub async fn logout(&self, caller: &Principal, ctx: &RequestContext) -> Result<(), InfraError> {
        let now = self.ports.clock.now();
        let user = caller.user.id;
        let audit = AuditEvent::new(now, Actor::User(user), AuditAction::Logout, Some(user), ctx)
            .with("session_id", caller.session_id.to_string());
        self.ports
            .sessions
            .revoke(caller.session_id, user, now, RevokeReason::Logout, audit)
            .await?;
        Ok(())
    }

    /// Ends every session of the caller, the current one included. Returns how many ended.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    pub async fn logout_all(
        &self,
        caller: &Principal,
        ctx: &RequestContext,
    ) -> Result<u64, InfraError> {
        let now = self.ports.clock.now();
        let user = caller.user.id;
        let audit = AuditEvent::new(
            now,
            Actor::User(user),
            AuditAction::LogoutAll,
            Some(user),
            ctx,
        );
        self.ports
            .sessions
            .revoke_all(user, now, RevokeReason::LogoutAll, audit)
            .await
    }

    /// The caller's live sessions, most recently used first, the current one marked.
    ///
    /// # Errors
    /// [`InfraError`] when storage fails.
    pub async fn list_sessions(&self, caller: &Principal) -> Result<Vec<OwnSession>, InfraError> {
        let now = self.ports.clock.now();
        let sessions = self
            .ports
            .sessions
            .live_sessions(caller.user.id, now)
            .await?;
        Ok(sessions
            .into_iter()
            .map(|session| OwnSession {
                current: session.id == caller.session_id,
                session,
            })
            .collect())
    }

    /// Ends one of the caller's sessions (any of them, the current one included).
    ///
    /// # Errors
    /// [`RevokeSessionError::NotFound`] when no live session of the caller has this id: someone
    /// else's session is indistinguishable from none.
    pub async fn revoke_session(
        &self,
        caller: &Principal,
        session: SessionId,
        ctx: &RequestContext,
    ) -> Result<(), RevokeSessionError> {
        let now = self.ports.clock.now();
        let user = caller.user.id;
        let audit = AuditEvent::new(
            now,
            Actor::User(user),
            AuditAction::SessionRevoked,
            Some(user),
            ctx,
        )
        .with("session_id", session.to_string())
        .with("reason", RevokeReason::RevokedByUser.as_str());
        let revoked = self
            .ports
            .sessions
            .revoke(session, user, now, RevokeReason::RevokedByUser, audit)
            .await?;
        if revoked {
            Ok(())
        } else {
            Err(RevokeSessionError::NotFound)
        }
    }

    /// Authenticates a request's access token: valid signature and claims, a live session, an
    /// active user. The user returned is read from storage now, so its roles and status are
    /// current.
    ///
    /// # Errors
    /// [`AuthError`].
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        let now = self.ports.clock.now();
        let claims = self
            .ports
            .access_tokens
            .verify(token, now)
            .map_err(|e| match e {
                TokenRejected::Invalid => AuthError::InvalidToken,
                TokenRejected::Expired => AuthError::ExpiredToken,
            })?;
        let user = self
            .ports
            .sessions
            .live_session_user(claims.sid, claims.sub, now)
            .await?
            .ok_or(AuthError::Revoked)?;
        Ok(Principal {
            user,
            session_id: claims.sid,
        })
    }
}
