//! `Sessions`: login and per-request authentication.

use std::sync::{Arc, Mutex};

use chrono::Duration;

use super::{ctx, generated, sample_user, storage_down, stored_hash, t0};
use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::ports::{
    LoginKey, ManualClock, MockAccessTokens, MockAuditLog, MockPasswordHasher, MockSecretTokens,
    MockSessionRepository, MockUserRepository, RefreshOutcome, RefreshRotation, StoredCredentials,
    TokenRejected,
};
use crate::role::RoleName;
use crate::services::{
    AuthError, LoginError, LoginInput, Principal, RefreshError, RevokeSessionError, Sessions,
    SessionsPorts,
};
use crate::session::{
    AccessClaims, NewSession, RevokeReason, SessionId, SessionInfo, SessionPolicy,
};
use crate::user::{PasswordAttempt, User, UserId, UserStatus};

const MAX_SESSIONS: u32 = 5;

/// Access tokens for 30 minutes, refresh tokens for 7 days, sessions for at most 30 days.
fn policy() -> SessionPolicy {
    SessionPolicy {
        access_ttl: Duration::minutes(30),
        refresh_ttl: Duration::days(7),
        max_lifetime: Duration::days(30),
    }
}

/// The mocked ports, to be given expectations and then turned into a service.
struct Ports {
    users: MockUserRepository,
    sessions: MockSessionRepository,
    audit: MockAuditLog,
    hasher: MockPasswordHasher,
    access_tokens: MockAccessTokens,
    secrets: MockSecretTokens,
    clock: Arc<ManualClock>,
    policy: SessionPolicy,
}

impl Ports {
    fn new() -> Self {
        Self {
            users: MockUserRepository::new(),
            sessions: MockSessionRepository::new(),
            audit: MockAuditLog::new(),
            hasher: MockPasswordHasher::new(),
            access_tokens: MockAccessTokens::new(),
            secrets: MockSecretTokens::new(),
            clock: super::clock(),
            policy: policy(),
        }
    }

    fn service(self) -> Sessions {
        Sessions::new(
            SessionsPorts {
                users: Arc::new(self.users),
                sessions: Arc::new(self.sessions),
                audit: Arc::new(self.audit),
                hasher: Arc::new(self.hasher),
                access_tokens: Arc::new(self.access_tokens),
                secrets: Arc::new(self.secrets),
                clock: self.clock,
            },
            self.policy,
            MAX_SESSIONS,
        )
    }

    /// The repository finds `user` (with the stored hash) under `key`, once.
    fn account(&mut self, key: LoginKey, user: &User) {
        let stored = StoredCredentials {
            user: user.clone(),
            password_hash: Some(stored_hash()),
        };
        self.users
            .expect_find_for_login()
            .withf(move |k| *k == key)
            .times(1)
            .returning(move |_| Ok(Some(stored.clone())));
    }

    /// The repository knows no account under `key`.
    fn no_account(&mut self, key: LoginKey) {
        self.users
            .expect_find_for_login()
            .withf(move |k| *k == key)
            .times(1)
            .returning(|_| Ok(None));
    }

    /// The typed password is checked once against the stored hash and `matches` or not.
    fn password_check(&mut self, matches: bool) {
        self.hasher
            .expect_verify()
            .withf(|attempt, hash| {
                attempt.expose() == "Str0ng!pass" && *hash == Some(&stored_hash())
            })
            .times(1)
            .returning(move |_, _| Ok(matches));
    }

    /// The typed password is checked once against no hash at all (the dummy verification).
    fn dummy_password_check(&mut self) {
        self.hasher
            .expect_verify()
            .withf(|_, hash| hash.is_none())
            .times(1)
            .returning(|_, _| Ok(false));
    }

    /// Captures the standalone audit events.
    fn recorded_audit(&mut self) -> Arc<Mutex<Vec<AuditEvent>>> {
        let recorded = Arc::<Mutex<Vec<AuditEvent>>>::default();
        let sink = Arc::clone(&recorded);
        self.audit.expect_record().returning(move |event| {
            sink.lock().unwrap().push(event);
            Ok(())
        });
        recorded
    }

    /// No session may be opened and no token issued.
    fn no_session(&mut self) {
        self.sessions.expect_start().never();
        self.access_tokens.expect_issue().never();
        self.secrets.expect_generate().never();
    }
}

/// What a successful login handed to the ports.
#[derive(Default)]
struct Started {
    session: Option<NewSession>,
    audit: Option<AuditEvent>,
    max_sessions: Option<u32>,
    claims: Option<AccessClaims>,
}

/// `user` logs in successfully with the email `ada@example.com`; returns what the ports saw
/// and the user that `start` handed back.
fn successful_login(ports: &mut Ports, user: &User) -> (Arc<Mutex<Started>>, User) {
    ports.account(LoginKey::Email("ada@example.com".to_owned()), user);
    ports.password_check(true);
    ports
        .secrets
        .expect_generate()
        .times(1)
        .returning(|| generated(7));
    let started = Arc::<Mutex<Started>>::default();
    let mut after_login = user.clone();
    after_login.login_count += 1;
    after_login.last_login_at = Some(t0());
    let sink = Arc::clone(&started);
    let stored = after_login.clone();
    ports
        .sessions
        .expect_start()
        .times(1)
        .returning(move |session, audit, max| {
            let mut started = sink.lock().unwrap();
            started.session = Some(session);
            started.audit = Some(audit);
            started.max_sessions = Some(max);
            Ok(stored.clone())
        });
    let sink = Arc::clone(&started);
    ports
        .access_tokens
        .expect_issue()
        .times(1)
        .returning(move |claims| {
            sink.lock().unwrap().claims = Some(claims.clone());
            Ok("signed.access.token".to_owned())
        });
    (started, after_login)
}

fn input(login: &str) -> LoginInput {
    LoginInput {
        login: login.to_owned(),
        password: PasswordAttempt::new("Str0ng!pass"),
    }
}

// ---------------------------------------------------------------------------------------------
// login: refusals

#[tokio::test]
async fn an_unknown_login_still_verifies_a_dummy_hash_and_is_refused_as_invalid_credentials() {
    let mut ports = Ports::new();
    ports.no_account(LoginKey::Email("nobody@example.com".to_owned()));
    ports.dummy_password_check();
    ports.no_session();
    let audit = ports.recorded_audit();

    let result = ports
        .service()
        .login(input("nobody@example.com"), &ctx())
        .await;

    assert!(
        matches!(result, Err(LoginError::InvalidCredentials)),
        "{result:?}"
    );
    let audit = audit.lock().unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, AuditAction::LoginFailed);
    assert_eq!(audit[0].user_id, None);
    assert_eq!(audit[0].actor, Actor::System);
    assert_eq!(audit[0].ip, ctx().ip);
    assert_eq!(audit[0].at, t0());
}

#[tokio::test]
async fn a_wrong_password_is_refused_as_invalid_credentials_and_audited_against_the_account() {
    let ada = sample_user(UserStatus::Active);
    let mut ports = Ports::new();
    ports.account(LoginKey::Email("ada@example.com".to_owned()), &ada);
    ports.password_check(false);
    ports.no_session();
    let audit = ports.recorded_audit();

    let result = ports
        .service()
        .login(input("ada@example.com"), &ctx())
        .await;

    assert!(
        matches!(result, Err(LoginError::InvalidCredentials)),
        "{result:?}"
    );
    let audit = audit.lock().unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, AuditAction::LoginFailed);
    assert_eq!(audit[0].user_id, Some(ada.id));
}

#[tokio::test]
async fn an_account_without_a_password_cannot_log_in() {
    let ada = sample_user(UserStatus::Active);
    let mut ports = Ports::new();
    let stored = StoredCredentials {
        user: ada,
        password_hash: None,
    };
    ports
        .users
        .expect_find_for_login()
        .returning(move |_| Ok(Some(stored.clone())));
    ports.dummy_password_check();
    ports.no_session();
    ports.recorded_audit();

    let result = ports
        .service()
        .login(input("ada@example.com"), &ctx())
        .await;

    assert!(
        matches!(result, Err(LoginError::InvalidCredentials)),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_wrong_password_on_a_pending_account_does_not_reveal_its_status() {
    let ada = sample_user(UserStatus::Pending);
    let mut ports = Ports::new();
    ports.account(LoginKey::Email("ada@example.com".to_owned()), &ada);
    ports.password_check(false);
    ports.no_session();
    ports.recorded_audit();

    let result = ports
        .service()
        .login(input("ada@example.com"), &ctx())
        .await;

    assert!(
        matches!(result, Err(LoginError::InvalidCredentials)),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_right_password_on_a_pending_account_reports_email_not_confirmed() {
    let ada = sample_user(UserStatus::Pending);
    let mut ports = Ports::new();
    ports.account(LoginKey::Email("ada@example.com".to_owned()), &ada);
    ports.password_check(true);
    ports.no_session();
    ports.audit.expect_record().returning(|_| Ok(()));

    let result = ports
        .service()
        .login(input("ada@example.com"), &ctx())
        .await;

    assert!(
        matches!(result, Err(LoginError::EmailNotConfirmed)),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_right_password_on_a_deactivated_account_reports_account_deactivated() {
    let ada = sample_user(UserStatus::Deactivated);
    let mut ports = Ports::new();
    ports.account(LoginKey::Email("ada@example.com".to_owned()), &ada);
    ports.password_check(true);
    ports.no_session();
    ports.audit.expect_record().returning(|_| Ok(()));

    let result = ports
        .service()
        .login(input("ada@example.com"), &ctx())
        .await;

    assert!(
        matches!(result, Err(LoginError::AccountDeactivated)),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// login: how the account is looked up

#[tokio::test]
async fn a_login_by_username_is_looked_up_case_insensitively() {
    let mut ports = Ports::new();
    ports.no_account(LoginKey::Username("ada_l".to_owned()));
    ports.dummy_password_check();
    ports.recorded_audit();

    let result = ports.service().login(input("  Ada_L "), &ctx()).await;

    assert!(
        matches!(result, Err(LoginError::InvalidCredentials)),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_login_by_email_is_looked_up_by_its_normalised_lowercase_identity_key() {
    let mut ports = Ports::new();
    // U+FF21 FULLWIDTH LATIN CAPITAL LETTER A becomes "a" under NFKC and lowercasing.
    ports.no_account(LoginKey::Email("ada@example.com".to_owned()));
    ports.dummy_password_check();
    ports.recorded_audit();

    let result = ports
        .service()
        .login(input(" \u{FF21}DA@Example.COM "), &ctx())
        .await;

    assert!(
        matches!(result, Err(LoginError::InvalidCredentials)),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_empty_login_does_not_reach_the_repository_but_still_verifies_a_dummy_hash() {
    for login in ["", "   "] {
        let mut ports = Ports::new();
        ports.users.expect_find_for_login().never();
        ports.dummy_password_check();
        ports.no_session();
        let audit = ports.recorded_audit();

        let result = ports.service().login(input(login), &ctx()).await;

        assert!(
            matches!(result, Err(LoginError::InvalidCredentials)),
            "{login:?}: {result:?}"
        );
        assert_eq!(audit.lock().unwrap()[0].action, AuditAction::LoginFailed);
    }
}

#[tokio::test]
async fn an_overlong_login_does_not_reach_the_repository_but_still_verifies_a_dummy_hash() {
    let mut ports = Ports::new();
    ports.users.expect_find_for_login().never();
    ports.dummy_password_check();
    ports.no_session();
    ports.recorded_audit();
    let login = format!("{}@example.com", "a".repeat(300));

    let result = ports.service().login(input(&login), &ctx()).await;

    assert!(
        matches!(result, Err(LoginError::InvalidCredentials)),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// login: success

#[tokio::test]
async fn a_successful_login_opens_a_session_that_ends_after_the_max_lifetime() {
    let ada = sample_user(UserStatus::Active);
    let mut ports = Ports::new();
    let (started, _) = successful_login(&mut ports, &ada);

    ports
        .service()
        .login(input("ada@example.com"), &ctx())
        .await
        .unwrap();

    let started = started.lock().unwrap();
    let session = started.session.as_ref().unwrap();
    assert_eq!(session.user_id, ada.id);
    assert_eq!(session.created_at, t0());
    assert_eq!(session.expires_at, t0() + Duration::days(30));
    assert_eq!(session.refresh_expires_at, t0() + Duration::days(7));
    assert_eq!(
        session.refresh_token_hash,
        generated(7).hash,
        "only the refresh hash is stored"
    );
    assert_eq!(session.ip, ctx().ip);
    assert_eq!(session.user_agent, ctx().user_agent);
    assert_eq!(started.max_sessions, Some(MAX_SESSIONS));
}

#[tokio::test]
async fn the_first_refresh_token_never_outlives_the_session() {
    let ada = sample_user(UserStatus::Active);
    let mut ports = Ports::new();
    ports.policy = SessionPolicy {
        max_lifetime: Duration::days(1),
        ..policy()
    };
    let (started, _) = successful_login(&mut ports, &ada);

    ports
        .service()
        .login(input("ada@example.com"), &ctx())
        .await
        .unwrap();

    let started = started.lock().unwrap();
    let session = started.session.as_ref().unwrap();
    assert_eq!(session.refresh_expires_at, t0() + Duration::days(1));
    assert_eq!(session.expires_at, t0() + Duration::days(1));
}

#[tokio::test]
async fn the_access_token_names_the_user_session_and_roles_and_expires_after_the_access_ttl() {
    let mut ada = sample_user(UserStatus::Active);
    ada.roles = vec![RoleName::parse("MANAGER").unwrap(), RoleName::user()];
    let mut ports = Ports::new();
    let (started, _) = successful_login(&mut ports, &ada);

    let success = ports
        .service()
        .login(input("ada@example.com"), &ctx())
        .await
        .unwrap();

    let started = started.lock().unwrap();
    let claims = started.claims.as_ref().unwrap();
    assert_eq!(claims.sub, ada.id);
    assert_eq!(claims.sid, started.session.as_ref().unwrap().id);
    assert_eq!(claims.sid, success.session_id);
    assert_eq!(claims.roles, ada.roles);
    assert_eq!(claims.iat, t0().timestamp());
    assert_eq!(claims.exp, (t0() + Duration::minutes(30)).timestamp());
    assert_eq!(success.access_token, "signed.access.token");
    assert_eq!(success.expires_in, 30 * 60);
}

#[tokio::test]
async fn a_successful_login_hands_back_the_raw_refresh_token_and_the_updated_user() {
    let ada = sample_user(UserStatus::Active);
    let mut ports = Ports::new();
    let (_, after_login) = successful_login(&mut ports, &ada);

    let success = ports
        .service()
        .login(input("ada@example.com"), &ctx())
        .await
        .unwrap();

    assert_eq!(success.refresh_token, generated(7).raw);
    assert_eq!(success.user, after_login);
    assert_eq!(success.user.login_count, 1);
}

#[tokio::test]
async fn a_successful_login_is_audited_as_a_login_by_the_user() {
    let ada = sample_user(UserStatus::Active);
    let mut ports = Ports::new();
    let (started, _) = successful_login(&mut ports, &ada);
    ports.audit.expect_record().never();

    let success = ports
        .service()
        .login(input("ada@example.com"), &ctx())
        .await
        .unwrap();

    let started = started.lock().unwrap();
    let audit = started.audit.as_ref().unwrap();
    assert_eq!(audit.action, AuditAction::Login);
    assert_eq!(audit.actor, Actor::User(ada.id));
    assert_eq!(audit.user_id, Some(ada.id));
    assert_eq!(audit.at, t0());
    assert_eq!(audit.ip, ctx().ip);
    let session_id = success.session_id.to_string();
    assert_eq!(audit.details.get("session_id"), Some(&session_id));
}

#[tokio::test]
async fn a_storage_failure_while_opening_the_session_is_an_infrastructure_error() {
    let ada = sample_user(UserStatus::Active);
    let mut ports = Ports::new();
    ports.account(LoginKey::Email("ada@example.com".to_owned()), &ada);
    ports.password_check(true);
    ports.secrets.expect_generate().returning(|| generated(7));
    ports
        .sessions
        .expect_start()
        .times(1)
        .returning(|_, _, _| Err(storage_down()));
    ports.access_tokens.expect_issue().never();

    let result = ports
        .service()
        .login(input("ada@example.com"), &ctx())
        .await;

    assert!(matches!(result, Err(LoginError::Infra(_))), "{result:?}");
}

// ---------------------------------------------------------------------------------------------
// authenticate

fn claims_for(user: &User, sid: SessionId) -> AccessClaims {
    AccessClaims {
        sub: user.id,
        sid,
        roles: user.roles.clone(),
        iat: t0().timestamp(),
        exp: (t0() + Duration::minutes(30)).timestamp(),
        jti: uuid::Uuid::now_v7(),
    }
}

/// The token `the.jwt` is checked once, five minutes after [`t0`], with `verdict`.
fn token_check(ports: &mut Ports, verdict: Result<AccessClaims, TokenRejected>) {
    ports.clock.advance(Duration::minutes(5));
    ports
        .access_tokens
        .expect_verify()
        .withf(|token, now| token == "the.jwt" && *now == t0() + Duration::minutes(5))
        .times(1)
        .returning(move |_, _| verdict.clone());
}

#[tokio::test]
async fn an_invalid_access_token_is_refused_without_looking_up_the_session() {
    let mut ports = Ports::new();
    token_check(&mut ports, Err(TokenRejected::Invalid));
    ports.sessions.expect_live_session_user().never();

    let result = ports.service().authenticate("the.jwt").await;

    assert!(matches!(result, Err(AuthError::InvalidToken)), "{result:?}");
}

#[tokio::test]
async fn an_expired_access_token_is_refused_as_expired() {
    let mut ports = Ports::new();
    token_check(&mut ports, Err(TokenRejected::Expired));
    ports.sessions.expect_live_session_user().never();

    let result = ports.service().authenticate("the.jwt").await;

    assert!(matches!(result, Err(AuthError::ExpiredToken)), "{result:?}");
}

#[tokio::test]
async fn a_valid_token_of_a_revoked_session_is_refused_as_revoked() {
    let ada = sample_user(UserStatus::Active);
    let sid = SessionId::generate();
    let mut ports = Ports::new();
    token_check(&mut ports, Ok(claims_for(&ada, sid)));
    ports
        .sessions
        .expect_live_session_user()
        .times(1)
        .returning(|_, _, _| Ok(None));

    let result = ports.service().authenticate("the.jwt").await;

    assert!(matches!(result, Err(AuthError::Revoked)), "{result:?}");
}

#[tokio::test]
async fn a_valid_token_of_a_live_session_authenticates_the_user_as_currently_stored() {
    let ada = sample_user(UserStatus::Active);
    let sid = SessionId::generate();
    let mut ports = Ports::new();
    token_check(&mut ports, Ok(claims_for(&ada, sid)));
    // Roles changed since the token was issued: the current ones count.
    let mut current = ada.clone();
    current.roles = vec![RoleName::admin()];
    let stored = current.clone();
    let user_id: UserId = ada.id;
    ports
        .sessions
        .expect_live_session_user()
        .withf(move |session, user, now| {
            *session == sid && *user == user_id && *now == t0() + Duration::minutes(5)
        })
        .times(1)
        .returning(move |_, _, _| Ok(Some(stored.clone())));

    let principal = ports.service().authenticate("the.jwt").await.unwrap();

    assert_eq!(principal.user, current);
    assert_eq!(principal.session_id, sid);
}

#[tokio::test]
async fn a_storage_failure_while_checking_the_session_is_an_infrastructure_error() {
    let ada = sample_user(UserStatus::Active);
    let mut ports = Ports::new();
    token_check(&mut ports, Ok(claims_for(&ada, SessionId::generate())));
    ports
        .sessions
        .expect_live_session_user()
        .returning(|_, _, _| Err(storage_down()));

    let result = ports.service().authenticate("the.jwt").await;

    assert!(matches!(result, Err(AuthError::Infra(_))), "{result:?}");
}

// ---------------------------------------------------------------------------------------------
// refresh

/// The presented refresh token hashes to `hash-of-presented`; the successor is secret 8.
fn refresh_secrets(ports: &mut Ports) {
    ports
        .secrets
        .expect_hash()
        .withf(|raw| raw == "presented-refresh-token")
        .times(1)
        .returning(|_| crate::token::TokenHash::new("hash-of-presented"));
    ports
        .secrets
        .expect_generate()
        .times(1)
        .returning(|| generated(8));
}

#[tokio::test]
async fn a_refresh_rotates_the_token_and_signs_a_new_access_token_for_the_current_roles() {
    let mut ada = sample_user(UserStatus::Active);
    ada.roles = vec![RoleName::admin()];
    let sid = SessionId::generate();
    let mut ports = Ports::new();
    ports.clock.advance(Duration::hours(2));
    refresh_secrets(&mut ports);
    let seen = Arc::<Mutex<Option<RefreshRotation>>>::default();
    let sink = Arc::clone(&seen);
    let stored = ada.clone();
    ports
        .sessions
        .expect_rotate_refresh()
        .times(1)
        .returning(move |rotation| {
            *sink.lock().unwrap() = Some(rotation);
            Ok(RefreshOutcome::Rotated {
                session_id: sid,
                user: Box::new(stored.clone()),
            })
        });
    let claims = Arc::<Mutex<Option<AccessClaims>>>::default();
    let sink = Arc::clone(&claims);
    ports
        .access_tokens
        .expect_issue()
        .times(1)
        .returning(move |c| {
            *sink.lock().unwrap() = Some(c.clone());
            Ok("new.access.token".to_owned())
        });

    let tokens = ports
        .service()
        .refresh("presented-refresh-token", &ctx())
        .await
        .unwrap();

    assert_eq!(tokens.access_token, "new.access.token");
    assert_eq!(
        tokens.refresh_token, "raw-secret-8",
        "the successor goes to the client"
    );
    assert_eq!(tokens.expires_in, 1800);
    assert_eq!(tokens.session_id, sid);
    let rotation = seen.lock().unwrap().clone().unwrap();
    assert_eq!(rotation.presented.as_str(), "hash-of-presented");
    assert_eq!(rotation.next.as_str(), "hash-of-secret-8");
    assert_eq!(rotation.now, t0() + Duration::hours(2));
    assert_eq!(rotation.refresh_ttl, Duration::days(7));
    assert_eq!(rotation.ctx, ctx());
    let claims = claims.lock().unwrap().clone().unwrap();
    assert_eq!(claims.sub, ada.id);
    assert_eq!(claims.sid, sid);
    assert_eq!(claims.roles, vec![RoleName::admin()]);
    assert_eq!(claims.iat, (t0() + Duration::hours(2)).timestamp());
    assert_eq!(
        claims.exp,
        (t0() + Duration::hours(2) + Duration::minutes(30)).timestamp()
    );
}

#[tokio::test]
async fn a_reused_refresh_token_is_refused_as_reused_and_signs_nothing() {
    let mut ports = Ports::new();
    refresh_secrets(&mut ports);
    ports
        .sessions
        .expect_rotate_refresh()
        .times(1)
        .returning(|_| {
            Ok(RefreshOutcome::Reused {
                session_id: SessionId::generate(),
            })
        });
    ports.access_tokens.expect_issue().never();

    let result = ports
        .service()
        .refresh("presented-refresh-token", &ctx())
        .await;

    assert!(
        matches!(result, Err(RefreshError::TokenReused)),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_unknown_or_expired_refresh_token_is_refused_as_invalid() {
    let mut ports = Ports::new();
    refresh_secrets(&mut ports);
    ports
        .sessions
        .expect_rotate_refresh()
        .times(1)
        .returning(|_| Ok(RefreshOutcome::Invalid));
    ports.access_tokens.expect_issue().never();

    let result = ports
        .service()
        .refresh("presented-refresh-token", &ctx())
        .await;

    assert!(
        matches!(result, Err(RefreshError::InvalidToken)),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_empty_or_huge_refresh_token_is_refused_without_touching_storage() {
    for token in [String::new(), "   ".to_owned(), "x".repeat(10_000)] {
        let mut ports = Ports::new();
        ports.sessions.expect_rotate_refresh().never();
        ports.secrets.expect_generate().never();

        let result = ports.service().refresh(&token, &ctx()).await;

        assert!(
            matches!(result, Err(RefreshError::InvalidToken)),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn a_storage_failure_during_refresh_is_an_infrastructure_error() {
    let mut ports = Ports::new();
    refresh_secrets(&mut ports);
    ports
        .sessions
        .expect_rotate_refresh()
        .returning(|_| Err(storage_down()));

    let result = ports
        .service()
        .refresh("presented-refresh-token", &ctx())
        .await;

    assert!(matches!(result, Err(RefreshError::Infra(_))), "{result:?}");
}

// ---------------------------------------------------------------------------------------------
// logout, logout-all, sessions

fn principal(user: &User, sid: SessionId) -> Principal {
    Principal {
        user: user.clone(),
        session_id: sid,
    }
}

#[tokio::test]
async fn logout_revokes_the_callers_own_session_with_an_audit_event() {
    let ada = sample_user(UserStatus::Active);
    let sid = SessionId::generate();
    let mut ports = Ports::new();
    let user_id = ada.id;
    ports
        .sessions
        .expect_revoke()
        .withf(move |session, user, now, reason, audit| {
            *session == sid
                && *user == user_id
                && *now == t0()
                && *reason == RevokeReason::Logout
                && audit.action == AuditAction::Logout
                && audit.actor == Actor::User(user_id)
                && audit.user_id == Some(user_id)
                && audit.details["session_id"] == sid.to_string()
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(true));

    ports
        .service()
        .logout(&principal(&ada, sid), &ctx())
        .await
        .unwrap();
}

#[tokio::test]
async fn logout_all_revokes_every_session_of_the_caller() {
    let ada = sample_user(UserStatus::Active);
    let mut ports = Ports::new();
    let user_id = ada.id;
    ports
        .sessions
        .expect_revoke_all()
        .withf(move |user, now, reason, audit| {
            *user == user_id
                && *now == t0()
                && *reason == RevokeReason::LogoutAll
                && audit.action == AuditAction::LogoutAll
        })
        .times(1)
        .returning(|_, _, _, _| Ok(3));

    let ended = ports
        .service()
        .logout_all(&principal(&ada, SessionId::generate()), &ctx())
        .await
        .unwrap();

    assert_eq!(ended, 3);
}

#[tokio::test]
async fn the_sessions_list_marks_the_callers_current_session() {
    let ada = sample_user(UserStatus::Active);
    let current = SessionId::generate();
    let other = SessionId::generate();
    let info = |id| SessionInfo {
        id,
        created_at: t0(),
        last_used_at: t0(),
        ip: None,
        user_agent: None,
    };
    let listed = vec![info(other), info(current)];
    let mut ports = Ports::new();
    let user_id = ada.id;
    ports
        .sessions
        .expect_live_sessions()
        .withf(move |user, now| *user == user_id && *now == t0())
        .times(1)
        .returning(move |_, _| Ok(listed.clone()));

    let sessions = ports
        .service()
        .list_sessions(&principal(&ada, current))
        .await
        .unwrap();

    let marks: Vec<_> = sessions.iter().map(|s| (s.session.id, s.current)).collect();
    assert_eq!(marks, vec![(other, false), (current, true)]);
}

#[tokio::test]
async fn revoking_a_session_that_is_not_the_callers_live_one_is_not_found() {
    let ada = sample_user(UserStatus::Active);
    let target = SessionId::generate();
    let mut ports = Ports::new();
    let user_id = ada.id;
    ports
        .sessions
        .expect_revoke()
        .withf(move |session, user, _, reason, audit| {
            *session == target
                && *user == user_id
                && *reason == RevokeReason::RevokedByUser
                && audit.action == AuditAction::SessionRevoked
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(false));

    let result = ports
        .service()
        .revoke_session(&principal(&ada, SessionId::generate()), target, &ctx())
        .await;

    assert!(
        matches!(result, Err(RevokeSessionError::NotFound)),
        "{result:?}"
    );
}
