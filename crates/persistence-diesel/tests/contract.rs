#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed step must fail the test"
)]

//! The repository contract, run against SQLite and PostgreSQL alike: what every storage
//! adapter must do for the domain's ports to hold their promises.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use roster_domain::InfraError;
use roster_domain::audit::{Actor, AuditAction, AuditEvent, RequestContext};
use roster_domain::mail::{MailKind, OutgoingMail};
use roster_domain::ports::{
    ConfirmOutcome, CreateUserError, CreationEffects, LoginKey, Outbox, RefreshOutcome,
    RefreshRotation, ResetOutcome, SessionRepository, TokenIssue, UserRepository,
};
use roster_domain::role::RoleName;
use roster_domain::session::{NewSession, RevokeReason, SessionId};
use roster_domain::token::{NewOneTimeToken, TokenHash, TokenPurpose};
use roster_domain::user::{Email, NewUser, PasswordHash, Profile, UserId, UserStatus, Username};
use roster_persistence_diesel::testing::TestDatabase;
use roster_persistence_diesel::{
    BackendKind, Database, DatabaseConfig, DieselOutbox, DieselSessionRepository,
    DieselUserRepository, EmailKeys,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap() + Duration::microseconds(123_456)
}

struct Store {
    _db: TestDatabase,
    database: Database,
    users: DieselUserRepository,
    sessions: DieselSessionRepository,
    outbox: DieselOutbox,
}

async fn store(kind: BackendKind) -> Store {
    let db = TestDatabase::create(kind).await;
    let database = db.connect(4).await;
    Store {
        users: DieselUserRepository::new(database.clone()),
        sessions: DieselSessionRepository::new(database.clone()),
        outbox: DieselOutbox::new(database.clone()),
        database,
        _db: db,
    }
}

fn new_user(email: &str, username: &str, status: UserStatus) -> NewUser {
    NewUser {
        id: UserId::generate(),
        external_id: None,
        email: Some(Email::parse(email).unwrap()),
        email_verified: false,
        username: Username::parse(username).unwrap(),
        name: None,
        phone: None,
        avatar_url: None,
        profile: Profile::default(),
        status,
        roles: vec![RoleName::user()],
        password_hash: Some(PasswordHash::new("$2b$04$hash")),
        created_at: t0(),
    }
}

fn audit(user: &NewUser) -> AuditEvent {
    AuditEvent::new(
        t0(),
        Actor::System,
        AuditAction::UserCreated,
        Some(user.id),
        &RequestContext::default(),
    )
}

fn plain(user: &NewUser) -> CreationEffects {
    CreationEffects {
        token: None,
        mail: None,
        audit: audit(user),
    }
}

fn with_confirmation(user: &NewUser, hash: &str, expires_at: DateTime<Utc>) -> CreationEffects {
    CreationEffects {
        token: Some(NewOneTimeToken {
            hash: TokenHash::new(hash),
            purpose: TokenPurpose::EmailConfirmation,
            user_id: user.id,
            email: user.email.clone(),
            created_at: t0(),
            expires_at,
        }),
        mail: Some(OutgoingMail {
            to: user.email.as_ref().unwrap().as_str().to_owned(),
            to_name: None,
            kind: MailKind::Confirmation {
                token: format!("raw-{hash}"),
                expires_at,
            },
        }),
        audit: audit(user),
    }
}

fn login_event(user: UserId) -> AuditEvent {
    AuditEvent::new(
        t0(),
        Actor::User(user),
        AuditAction::Login,
        Some(user),
        &RequestContext::default(),
    )
}

fn session_for(user: UserId, at: DateTime<Utc>) -> NewSession {
    NewSession {
        id: SessionId::generate(),
        user_id: user,
        refresh_token_hash: TokenHash::new(uuid::Uuid::now_v7().to_string()),
        created_at: at,
        refresh_expires_at: at + Duration::days(7),
        expires_at: at + Duration::days(30),
        ip: Some("127.0.0.1".into()),
        user_agent: Some("test".into()),
    }
}

async fn a_created_user_reads_back_whole(kind: BackendKind) {
    let s = store(kind).await;
    let mut input = new_user("Ada@Example.com", "Ada_L", UserStatus::Pending);
    input.roles = vec![RoleName::parse("USER").unwrap(), RoleName::admin()];
    let created = s.users.create(input.clone(), plain(&input)).await.unwrap();
    assert_eq!(created.id, input.id);
    assert_eq!(created.email.as_ref().unwrap().as_str(), "Ada@Example.com");
    assert_eq!(created.username.as_str(), "Ada_L");
    assert_eq!(created.status, UserStatus::Pending);
    assert_eq!(
        created.roles,
        vec![RoleName::admin(), RoleName::user()],
        "roles sorted by name"
    );
    assert_eq!(
        created.created_at,
        t0(),
        "microseconds survive the round trip"
    );
    assert_eq!(created.login_count, 0);

    let found = s.users.find_by_id(input.id).await.unwrap().unwrap();
    assert_eq!(found, created);
    let by_email = s
        .users
        .find_for_login(&LoginKey::Email("ada@example.com".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_email.user.id, input.id);
    assert_eq!(by_email.password_hash.unwrap().as_str(), "$2b$04$hash");
    let by_name = s
        .users
        .find_for_login(&LoginKey::Username("ada_l".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_name.user.id, input.id);
    assert!(
        s.users
            .find_for_login(&LoginKey::Username("nobody".into()))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.users
            .username_exists(&Username::parse("ADA_L").unwrap())
            .await
            .unwrap()
    );
    assert!(
        !s.users
            .username_exists(&Username::parse("ada_m").unwrap())
            .await
            .unwrap()
    );
    assert!(
        s.users
            .find_by_id(UserId::generate())
            .await
            .unwrap()
            .is_none()
    );
}

async fn uniqueness_is_case_insensitive_and_a_refused_create_stores_nothing(kind: BackendKind) {
    let s = store(kind).await;
    let first = new_user("ada@example.com", "ada", UserStatus::Pending);
    s.users
        .create(
            first.clone(),
            with_confirmation(&first, "h1", t0() + Duration::days(1)),
        )
        .await
        .unwrap();
    assert_eq!(s.outbox.depth().await.unwrap(), 1);

    let same_email = new_user("ADA@EXAMPLE.COM", "other", UserStatus::Pending);
    let err = s
        .users
        .create(
            same_email.clone(),
            with_confirmation(&same_email, "h2", t0()),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, CreateUserError::EmailTaken), "{err:?}");

    let same_name = new_user("other@example.com", "ADA", UserStatus::Pending);
    let err = s
        .users
        .create(same_name.clone(), with_confirmation(&same_name, "h3", t0()))
        .await
        .unwrap_err();
    assert!(matches!(err, CreateUserError::UsernameTaken), "{err:?}");

    let mut ext1 = new_user("e1@example.com", "ext1", UserStatus::Active);
    ext1.external_id = Some("bot-42".into());
    s.users.create(ext1.clone(), plain(&ext1)).await.unwrap();
    let mut ext2 = new_user("e2@example.com", "ext2", UserStatus::Active);
    ext2.external_id = Some("bot-42".into());
    let err = s
        .users
        .create(ext2.clone(), plain(&ext2))
        .await
        .unwrap_err();
    assert!(matches!(err, CreateUserError::ExternalIdTaken), "{err:?}");

    // The refused creations left no user, no mail, no token behind.
    assert!(s.users.find_by_id(same_email.id).await.unwrap().is_none());
    assert!(s.users.find_by_id(same_name.id).await.unwrap().is_none());
    assert_eq!(s.outbox.depth().await.unwrap(), 1);
    let outcome = s
        .users
        .confirm_email(&TokenHash::new("h2"), t0(), &RequestContext::default())
        .await
        .unwrap();
    assert_eq!(outcome, ConfirmOutcome::Invalid);
}

async fn concurrent_creates_of_one_email_store_exactly_one(kind: BackendKind) {
    let s = store(kind).await;
    let users = Arc::new(s.users.clone());
    let attempts = (0..8).map(|i| {
        let users = users.clone();
        tokio::spawn(async move {
            let user = new_user(
                &format!("RACE@example.com{}", ""),
                &format!("racer{i}"),
                UserStatus::Pending,
            );
            users.create(user.clone(), plain(&user)).await
        })
    });
    let results = futures_util::future::join_all(attempts).await;
    let ok = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let taken = results
        .iter()
        .filter(|r| matches!(r, Ok(Err(CreateUserError::EmailTaken))))
        .count();
    assert_eq!((ok, taken), (1, 7), "{results:?}");
}

async fn a_confirmation_token_confirms_once(kind: BackendKind) {
    let s = store(kind).await;
    let user = new_user("ada@example.com", "ada", UserStatus::Pending);
    s.users
        .create(
            user.clone(),
            with_confirmation(&user, "tok", t0() + Duration::hours(24)),
        )
        .await
        .unwrap();
    let ctx = RequestContext::default();
    let ConfirmOutcome::Confirmed(confirmed) = s
        .users
        .confirm_email(&TokenHash::new("tok"), t0() + Duration::hours(1), &ctx)
        .await
        .unwrap()
    else {
        panic!("expected confirmation");
    };
    assert_eq!(confirmed.status, UserStatus::Active);
    assert!(confirmed.email_verified);
    assert_eq!(confirmed.updated_at, t0() + Duration::hours(1));
    let again = s
        .users
        .confirm_email(&TokenHash::new("tok"), t0() + Duration::hours(1), &ctx)
        .await
        .unwrap();
    assert_eq!(again, ConfirmOutcome::Invalid);
}

async fn concurrent_confirmations_with_one_token_confirm_once(kind: BackendKind) {
    let s = store(kind).await;
    let user = new_user("ada@example.com", "ada", UserStatus::Pending);
    s.users
        .create(
            user.clone(),
            with_confirmation(&user, "tok", t0() + Duration::hours(24)),
        )
        .await
        .unwrap();
    let users = Arc::new(s.users.clone());
    let attempts = (0..6).map(|_| {
        let users = users.clone();
        tokio::spawn(async move {
            users
                .confirm_email(&TokenHash::new("tok"), t0(), &RequestContext::default())
                .await
                .unwrap()
        })
    });
    let outcomes: Vec<_> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let confirmed = outcomes
        .iter()
        .filter(|o| matches!(o, ConfirmOutcome::Confirmed(_)))
        .count();
    assert_eq!(confirmed, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, ConfirmOutcome::Confirmed(_) | ConfirmOutcome::Invalid))
    );
}

async fn an_expired_confirmation_deletes_the_pending_account(kind: BackendKind) {
    let s = store(kind).await;
    let user = new_user("ada@example.com", "ada", UserStatus::Pending);
    let expires = t0() + Duration::hours(24);
    s.users
        .create(user.clone(), with_confirmation(&user, "tok", expires))
        .await
        .unwrap();
    let outcome = s
        .users
        .confirm_email(&TokenHash::new("tok"), expires, &RequestContext::default())
        .await
        .unwrap();
    assert_eq!(outcome, ConfirmOutcome::Expired);
    assert!(s.users.find_by_id(user.id).await.unwrap().is_none());
    // The address and username are free again.
    let again = new_user("ADA@example.com", "ada", UserStatus::Pending);
    s.users.create(again.clone(), plain(&again)).await.unwrap();
}

async fn a_login_session_is_live_until_it_ends(kind: BackendKind) {
    let s = store(kind).await;
    let user = new_user("ada@example.com", "ada", UserStatus::Active);
    s.users.create(user.clone(), plain(&user)).await.unwrap();
    let session = session_for(user.id, t0());
    let after = s
        .sessions
        .start(session.clone(), login_event(user.id), 0)
        .await
        .unwrap();
    assert_eq!(after.login_count, 1);
    assert_eq!(after.last_login_at, Some(t0()));

    let live = s
        .sessions
        .live_session_user(session.id, user.id, t0() + Duration::days(29))
        .await
        .unwrap();
    assert_eq!(live.unwrap().id, user.id);
    assert!(
        s.sessions
            .live_session_user(session.id, UserId::generate(), t0())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.sessions
            .live_session_user(SessionId::generate(), user.id, t0())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.sessions
            .live_session_user(session.id, user.id, t0() + Duration::days(30))
            .await
            .unwrap()
            .is_none()
    );

    let second = s
        .sessions
        .start(session_for(user.id, t0()), login_event(user.id), 0)
        .await
        .unwrap();
    assert_eq!(second.login_count, 2);
}

async fn max_sessions_revokes_the_oldest(kind: BackendKind) {
    let s = store(kind).await;
    let user = new_user("ada@example.com", "ada", UserStatus::Active);
    s.users.create(user.clone(), plain(&user)).await.unwrap();
    let first = session_for(user.id, t0());
    let second = session_for(user.id, t0() + Duration::seconds(1));
    let third = session_for(user.id, t0() + Duration::seconds(2));
    for session in [&first, &second, &third] {
        s.sessions
            .start(session.clone(), login_event(user.id), 2)
            .await
            .unwrap();
    }
    let now = t0() + Duration::seconds(3);
    assert!(
        s.sessions
            .live_session_user(first.id, user.id, now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.sessions
            .live_session_user(second.id, user.id, now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.sessions
            .live_session_user(third.id, user.id, now)
            .await
            .unwrap()
            .is_some()
    );
}

async fn a_session_of_an_inactive_user_is_not_live(kind: BackendKind) {
    let s = store(kind).await;
    let user = new_user("ada@example.com", "ada", UserStatus::Pending);
    s.users.create(user.clone(), plain(&user)).await.unwrap();
    let session = session_for(user.id, t0());
    s.sessions
        .start(session.clone(), login_event(user.id), 0)
        .await
        .unwrap();
    assert!(
        s.sessions
            .live_session_user(session.id, user.id, t0())
            .await
            .unwrap()
            .is_none()
    );
}

async fn an_active_admin_is_detected(kind: BackendKind) {
    let s = store(kind).await;
    assert!(!s.users.active_admin_exists().await.unwrap());
    let mut pending_admin = new_user("p@example.com", "padmin", UserStatus::Pending);
    pending_admin.roles = vec![RoleName::admin()];
    s.users
        .create(pending_admin.clone(), plain(&pending_admin))
        .await
        .unwrap();
    assert!(
        !s.users.active_admin_exists().await.unwrap(),
        "a pending admin does not count"
    );
    let mut admin = new_user("a@example.com", "admin", UserStatus::Active);
    admin.roles = vec![RoleName::admin()];
    s.users.create(admin.clone(), plain(&admin)).await.unwrap();
    assert!(s.users.active_admin_exists().await.unwrap());
}

async fn outbox_messages_are_leased_sent_retried_and_abandoned(kind: BackendKind) {
    let s = store(kind).await;
    let a = new_user("a@example.com", "aaa", UserStatus::Pending);
    let b = new_user("b@example.com", "bbb", UserStatus::Pending);
    s.users
        .create(
            a.clone(),
            with_confirmation(&a, "ta", t0() + Duration::days(1)),
        )
        .await
        .unwrap();
    s.users
        .create(
            b.clone(),
            with_confirmation(&b, "tb", t0() + Duration::days(1)),
        )
        .await
        .unwrap();
    let lease = Duration::minutes(2);

    let claimed = s.outbox.claim_due(t0(), 10, lease).await.unwrap();
    assert_eq!(claimed.len(), 2);
    let first = &claimed[0];
    assert_eq!(first.mail.to, "a@example.com");
    assert_eq!(
        first.mail.kind,
        MailKind::Confirmation {
            token: "raw-ta".into(),
            expires_at: t0() + Duration::days(1)
        }
    );
    assert_eq!(first.attempts, 0);
    assert!(
        s.outbox
            .claim_due(t0(), 10, lease)
            .await
            .unwrap()
            .is_empty(),
        "leased messages are not handed out twice"
    );

    s.outbox.mark_sent(first.id, t0()).await.unwrap();
    s.outbox
        .mark_failed(
            claimed[1].id,
            "connection refused",
            Some(t0() + Duration::minutes(1)),
        )
        .await
        .unwrap();
    assert_eq!(s.outbox.depth().await.unwrap(), 1);
    assert!(
        s.outbox
            .claim_due(t0() + Duration::seconds(59), 10, lease)
            .await
            .unwrap()
            .is_empty()
    );
    let retried = s
        .outbox
        .claim_due(t0() + Duration::minutes(1), 10, lease)
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].attempts, 1);

    // A worker that dies holding a lease: the message comes back when the lease runs out.
    let later = t0() + Duration::minutes(1) + lease;
    let again = s.outbox.claim_due(later, 10, lease).await.unwrap();
    assert_eq!(again.len(), 1);
    s.outbox
        .mark_failed(again[0].id, "550 no such user", None)
        .await
        .unwrap();
    assert_eq!(s.outbox.depth().await.unwrap(), 0);
    assert!(
        s.outbox
            .claim_due(later + Duration::days(1), 10, lease)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn concurrent_claims_never_share_a_message(kind: BackendKind) {
    let s = store(kind).await;
    for i in 0..10 {
        let u = new_user(
            &format!("u{i}@example.com"),
            &format!("user{i}"),
            UserStatus::Pending,
        );
        s.users
            .create(
                u.clone(),
                with_confirmation(&u, &format!("t{i}"), t0() + Duration::days(1)),
            )
            .await
            .unwrap();
    }
    let outbox = Arc::new(s.outbox.clone());
    let claims = (0..4).map(|_| {
        let outbox = outbox.clone();
        tokio::spawn(async move {
            outbox
                .claim_due(t0(), 10, Duration::minutes(2))
                .await
                .unwrap()
        })
    });
    let mut ids: Vec<_> = futures_util::future::join_all(claims)
        .await
        .into_iter()
        .flat_map(|r| r.unwrap().into_iter().map(|m| m.id))
        .collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!((total, ids.len()), (10, 10));
}

async fn migrations_revert_and_reapply(kind: BackendKind) {
    let s = store(kind).await;
    s.database.revert_all().await.unwrap();
    assert!(
        s.users.find_by_id(UserId::generate()).await.is_err(),
        "tables are gone"
    );
    s.database.migrate().await.unwrap();
    let user = new_user("ada@example.com", "ada", UserStatus::Active);
    s.users.create(user.clone(), plain(&user)).await.unwrap();
    s.database.ping().await.unwrap();
}

async fn an_exhausted_pool_is_unavailable_after_the_timeout_not_a_hang(kind: BackendKind) {
    let db = TestDatabase::create(kind).await;
    let database = Database::connect(
        &DatabaseConfig {
            url: db.url.clone(),
            pool_size: 1,
            timeout: std::time::Duration::from_millis(300),
        },
        db.email_keys().clone(),
    )
    .unwrap();
    let users = DieselUserRepository::new(database.clone());
    users.find_by_id(UserId::generate()).await.unwrap();
    let held = roster_persistence_diesel::testing::hold_connection(&database).await;
    let started = std::time::Instant::now();
    let err = users.find_by_id(UserId::generate()).await.unwrap_err();
    assert!(matches!(err, InfraError::Unavailable(_)), "{err:?}");
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(250),
        "waited for the timeout: {waited:?}"
    );
    drop(held);
    users
        .find_by_id(UserId::generate())
        .await
        .expect("usable again once a connection is back");
}

fn rotation(presented: &str, next: &str, now: DateTime<Utc>) -> RefreshRotation {
    RefreshRotation {
        presented: TokenHash::new(presented),
        next: TokenHash::new(next),
        now,
        refresh_ttl: Duration::days(7),
        ctx: RequestContext::default(),
    }
}

/// An active user with one session started at t0 whose refresh token hashes to `r0`.
async fn user_with_session(s: &Store) -> (UserId, NewSession) {
    let user = new_user("ada@example.com", "ada", UserStatus::Active);
    s.users.create(user.clone(), plain(&user)).await.unwrap();
    let mut session = session_for(user.id, t0());
    session.refresh_token_hash = TokenHash::new("r0");
    s.sessions
        .start(session.clone(), login_event(user.id), 0)
        .await
        .unwrap();
    (user.id, session)
}

async fn is_live(s: &Store, session: &NewSession, now: DateTime<Utc>) -> bool {
    s.sessions
        .live_session_user(session.id, session.user_id, now)
        .await
        .unwrap()
        .is_some()
}

async fn a_refresh_token_rotates_once_and_its_reuse_revokes_the_session(kind: BackendKind) {
    let s = store(kind).await;
    let (user, session) = user_with_session(&s).await;
    let later = t0() + Duration::hours(1);
    let outcome = s
        .sessions
        .rotate_refresh(rotation("r0", "r1", later))
        .await
        .unwrap();
    let RefreshOutcome::Rotated {
        session_id,
        user: refreshed,
    } = outcome
    else {
        panic!("expected a rotation, got {outcome:?}");
    };
    assert_eq!(session_id, session.id);
    assert_eq!(refreshed.id, user);
    assert_eq!(refreshed.roles, vec![RoleName::user()]);
    let listed = s.sessions.live_sessions(user, later).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].last_used_at, later,
        "a refresh marks the session used"
    );
    assert_eq!(listed[0].created_at, t0());

    let successor = s
        .sessions
        .rotate_refresh(rotation("r1", "r2", later + Duration::minutes(1)))
        .await
        .unwrap();
    assert!(
        matches!(successor, RefreshOutcome::Rotated { .. }),
        "{successor:?}"
    );

    let replay = s
        .sessions
        .rotate_refresh(rotation("r0", "r3", later + Duration::minutes(2)))
        .await
        .unwrap();
    assert_eq!(
        replay,
        RefreshOutcome::Reused {
            session_id: session.id
        }
    );
    assert!(!is_live(&s, &session, later + Duration::minutes(2)).await);
    let after = s
        .sessions
        .rotate_refresh(rotation("r2", "r4", later + Duration::minutes(3)))
        .await
        .unwrap();
    assert_eq!(after, RefreshOutcome::Invalid, "the whole chain is dead");
}

async fn refresh_tokens_expire_and_never_outlive_their_session(kind: BackendKind) {
    let s = store(kind).await;
    let (_, session) = user_with_session(&s).await;
    assert_eq!(
        s.sessions
            .rotate_refresh(rotation("nope", "x", t0()))
            .await
            .unwrap(),
        RefreshOutcome::Invalid
    );
    // r0 lives 7 days; at its expiry it is refused and changes nothing.
    let expired = s
        .sessions
        .rotate_refresh(rotation("r0", "r1", t0() + Duration::days(7)))
        .await
        .unwrap();
    assert_eq!(expired, RefreshOutcome::Invalid);
    let day_6 = t0() + Duration::days(6);
    assert!(matches!(
        s.sessions
            .rotate_refresh(rotation("r0", "r1", day_6))
            .await
            .unwrap(),
        RefreshOutcome::Rotated { .. }
    ));
    // Rotating every 6 days: on day 24 the successor would live to day 31, but the session
    // ends on day 30, so a refresh on day 30 is refused.
    let mut previous = "r1".to_owned();
    for (n, day) in [12, 18, 24].into_iter().enumerate() {
        let next = format!("r{}", n + 2);
        let outcome = s
            .sessions
            .rotate_refresh(rotation(&previous, &next, t0() + Duration::days(day)))
            .await
            .unwrap();
        assert!(
            matches!(outcome, RefreshOutcome::Rotated { .. }),
            "day {day}: {outcome:?}"
        );
        previous = next;
    }
    let at_end = s
        .sessions
        .rotate_refresh(rotation(&previous, "late", session.expires_at))
        .await
        .unwrap();
    assert_eq!(at_end, RefreshOutcome::Invalid);
    let just_before = s
        .sessions
        .rotate_refresh(rotation(
            &previous,
            "late",
            session.expires_at - Duration::seconds(1),
        ))
        .await
        .unwrap();
    assert!(matches!(just_before, RefreshOutcome::Rotated { .. }));
}

async fn a_refresh_of_a_revoked_session_or_inactive_user_is_invalid(kind: BackendKind) {
    let s = store(kind).await;
    let (user, session) = user_with_session(&s).await;
    let revoked = s
        .sessions
        .revoke(
            session.id,
            user,
            t0(),
            RevokeReason::Logout,
            login_event(user),
        )
        .await
        .unwrap();
    assert!(revoked);
    assert!(!is_live(&s, &session, t0()).await);
    assert_eq!(
        s.sessions
            .rotate_refresh(rotation("r0", "r1", t0()))
            .await
            .unwrap(),
        RefreshOutcome::Invalid
    );

    let pending = new_user("bob@example.com", "bob", UserStatus::Pending);
    s.users
        .create(pending.clone(), plain(&pending))
        .await
        .unwrap();
    let mut other = session_for(pending.id, t0());
    other.refresh_token_hash = TokenHash::new("p0");
    s.sessions
        .start(other, login_event(pending.id), 0)
        .await
        .unwrap();
    assert_eq!(
        s.sessions
            .rotate_refresh(rotation("p0", "p1", t0()))
            .await
            .unwrap(),
        RefreshOutcome::Invalid
    );
}

async fn concurrent_refreshes_with_one_token_rotate_it_once(kind: BackendKind) {
    let s = store(kind).await;
    let (_, session) = user_with_session(&s).await;
    let sessions = Arc::new(s.sessions.clone());
    let attempts = (0..6).map(|n| {
        let sessions = sessions.clone();
        tokio::spawn(async move {
            sessions
                .rotate_refresh(rotation("r0", &format!("next-{n}"), t0()))
                .await
                .unwrap()
        })
    });
    let outcomes: Vec<_> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let rotated: Vec<_> = outcomes
        .iter()
        .filter(|o| matches!(o, RefreshOutcome::Rotated { .. }))
        .collect();
    assert_eq!(rotated.len(), 1, "{outcomes:?}");
    assert!(
        outcomes.iter().all(|o| matches!(
            o,
            RefreshOutcome::Rotated { .. } | RefreshOutcome::Reused { .. }
        )),
        "{outcomes:?}"
    );
    // The losers presented a token that was already used: the session is revoked, so no
    // successor can start a second chain.
    assert!(!is_live(&s, &session, t0()).await);
    for n in 0..6 {
        let outcome = s
            .sessions
            .rotate_refresh(rotation(&format!("next-{n}"), "again", t0()))
            .await
            .unwrap();
        assert_eq!(
            outcome,
            RefreshOutcome::Invalid,
            "no successor of next-{n} is live"
        );
    }
}

async fn sessions_are_listed_and_revoked_one_by_one_or_all_at_once(kind: BackendKind) {
    let s = store(kind).await;
    let (user, first) = user_with_session(&s).await;
    let second = session_for(user, t0() + Duration::seconds(1));
    let third = session_for(user, t0() + Duration::seconds(2));
    for session in [&second, &third] {
        s.sessions
            .start(session.clone(), login_event(user), 0)
            .await
            .unwrap();
    }
    let bob = new_user("bob@example.com", "bob", UserStatus::Active);
    s.users.create(bob.clone(), plain(&bob)).await.unwrap();
    let bobs = session_for(bob.id, t0());
    s.sessions
        .start(bobs.clone(), login_event(bob.id), 0)
        .await
        .unwrap();

    let now = t0() + Duration::minutes(1);
    let listed: Vec<_> = s
        .sessions
        .live_sessions(user, now)
        .await
        .unwrap()
        .into_iter()
        .map(|info| info.id)
        .collect();
    assert_eq!(
        listed,
        vec![third.id, second.id, first.id],
        "most recently used first"
    );
    let info = &s.sessions.live_sessions(user, now).await.unwrap()[0];
    assert_eq!(info.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(info.user_agent.as_deref(), Some("test"));

    // Someone else's session is not revoked, and says so.
    assert!(
        !s.sessions
            .revoke(
                bobs.id,
                user,
                now,
                RevokeReason::RevokedByUser,
                login_event(user)
            )
            .await
            .unwrap()
    );
    assert!(is_live(&s, &bobs, now).await);
    assert!(
        s.sessions
            .revoke(
                second.id,
                user,
                now,
                RevokeReason::RevokedByUser,
                login_event(user)
            )
            .await
            .unwrap()
    );
    assert!(
        !s.sessions
            .revoke(
                second.id,
                user,
                now,
                RevokeReason::RevokedByUser,
                login_event(user)
            )
            .await
            .unwrap(),
        "a revoked session cannot be revoked again"
    );
    assert!(!is_live(&s, &second, now).await);
    assert_eq!(s.sessions.live_sessions(user, now).await.unwrap().len(), 2);

    let ended = s
        .sessions
        .revoke_all(user, now, RevokeReason::LogoutAll, login_event(user))
        .await
        .unwrap();
    assert_eq!(ended, 2);
    assert!(
        s.sessions
            .live_sessions(user, now)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!is_live(&s, &first, now).await);
    assert!(!is_live(&s, &third, now).await);
    assert!(
        is_live(&s, &bobs, now).await,
        "other users keep their sessions"
    );
    // Ended sessions are not listed either.
    assert!(
        s.sessions
            .live_sessions(bob.id, bobs.expires_at)
            .await
            .unwrap()
            .is_empty()
    );
}

fn reset_issue(user: UserId, hash: &str, expires_at: DateTime<Utc>) -> TokenIssue {
    TokenIssue {
        token: NewOneTimeToken {
            hash: TokenHash::new(hash),
            purpose: TokenPurpose::PasswordReset,
            user_id: user,
            email: None,
            created_at: t0(),
            expires_at,
        },
        mail: OutgoingMail {
            to: "ada@example.com".into(),
            to_name: None,
            kind: MailKind::PasswordReset {
                token: format!("raw-{hash}"),
                expires_at,
            },
        },
        audit: AuditEvent::new(
            t0(),
            Actor::System,
            AuditAction::PasswordResetRequested,
            Some(user),
            &RequestContext::default(),
        ),
    }
}

fn reset_event(user: UserId) -> AuditEvent {
    AuditEvent::new(
        t0(),
        Actor::User(user),
        AuditAction::PasswordReset,
        Some(user),
        &RequestContext::default(),
    )
}

async fn an_issued_token_replaces_the_earlier_one_and_queues_its_mail(kind: BackendKind) {
    let s = store(kind).await;
    let user = new_user("ada@example.com", "ada", UserStatus::Pending);
    s.users
        .create(
            user.clone(),
            with_confirmation(&user, "first", t0() + Duration::hours(24)),
        )
        .await
        .unwrap();
    let mut issue = reset_issue(user.id, "second", t0() + Duration::hours(24));
    issue.token.purpose = TokenPurpose::EmailConfirmation;
    issue.token.email = user.email.clone();
    s.users.issue_token(issue).await.unwrap();
    let ctx = RequestContext::default();
    let first = s
        .users
        .confirm_email(&TokenHash::new("first"), t0(), &ctx)
        .await
        .unwrap();
    assert_eq!(
        first,
        ConfirmOutcome::Invalid,
        "the old token stopped working"
    );
    let claimed = s
        .outbox
        .claim_due(t0(), 10, Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2, "the registration mail and the new one");
    let second = s
        .users
        .confirm_email(&TokenHash::new("second"), t0(), &ctx)
        .await
        .unwrap();
    assert!(matches!(second, ConfirmOutcome::Confirmed(_)), "{second:?}");
}

async fn a_reset_token_sets_the_password_once_and_revokes_every_session(kind: BackendKind) {
    let s = store(kind).await;
    let user = new_user("ada@example.com", "ada", UserStatus::Active);
    s.users.create(user.clone(), plain(&user)).await.unwrap();
    let sessions = [session_for(user.id, t0()), session_for(user.id, t0())];
    for session in &sessions {
        s.sessions
            .start(session.clone(), login_event(user.id), 0)
            .await
            .unwrap();
    }
    s.users
        .issue_token(reset_issue(user.id, "reset", t0() + Duration::hours(2)))
        .await
        .unwrap();
    let hash = TokenHash::new("reset");
    let owner = s.users.password_reset_owner(&hash, t0()).await.unwrap();
    assert_eq!(owner.map(|u| u.id), Some(user.id));
    assert!(
        s.users
            .password_reset_owner(&hash, t0() + Duration::hours(2))
            .await
            .unwrap()
            .is_none(),
        "expired at its expiry instant"
    );
    let stranger = UserId::generate();
    let new_hash = PasswordHash::new("$2b$04$new");
    assert_eq!(
        s.users
            .reset_password(&hash, stranger, &new_hash, t0(), reset_event(stranger))
            .await
            .unwrap(),
        ResetOutcome::Invalid,
        "a token only resets its own user"
    );
    let outcome = s
        .users
        .reset_password(&hash, user.id, &new_hash, t0(), reset_event(user.id))
        .await
        .unwrap();
    assert_eq!(outcome, ResetOutcome::Reset(user.id));
    let stored = s
        .users
        .find_for_login(&LoginKey::Username("ada".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.password_hash.unwrap().as_str(), "$2b$04$new");
    for session in &sessions {
        assert!(
            s.sessions
                .live_session_user(session.id, user.id, t0())
                .await
                .unwrap()
                .is_none()
        );
    }
    let again = s
        .users
        .reset_password(&hash, user.id, &new_hash, t0(), reset_event(user.id))
        .await
        .unwrap();
    assert_eq!(again, ResetOutcome::Invalid, "single use");
}

async fn concurrent_resets_with_one_token_reset_once(kind: BackendKind) {
    let s = store(kind).await;
    let user = new_user("ada@example.com", "ada", UserStatus::Active);
    s.users.create(user.clone(), plain(&user)).await.unwrap();
    s.users
        .issue_token(reset_issue(user.id, "reset", t0() + Duration::hours(2)))
        .await
        .unwrap();
    let users = Arc::new(s.users.clone());
    let attempts = (0..6).map(|_| {
        let users = users.clone();
        let id = user.id;
        tokio::spawn(async move {
            users
                .reset_password(
                    &TokenHash::new("reset"),
                    id,
                    &PasswordHash::new("$2b$04$new"),
                    t0(),
                    reset_event(id),
                )
                .await
                .unwrap()
        })
    });
    let outcomes: Vec<_> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let reset = outcomes
        .iter()
        .filter(|o| matches!(o, ResetOutcome::Reset(_)))
        .count();
    assert_eq!(reset, 1, "{outcomes:?}");
}

async fn an_expired_reset_token_changes_nothing(kind: BackendKind) {
    let s = store(kind).await;
    let user = new_user("ada@example.com", "ada", UserStatus::Active);
    s.users.create(user.clone(), plain(&user)).await.unwrap();
    let expires = t0() + Duration::hours(2);
    s.users
        .issue_token(reset_issue(user.id, "reset", expires))
        .await
        .unwrap();
    let outcome = s
        .users
        .reset_password(
            &TokenHash::new("reset"),
            user.id,
            &PasswordHash::new("$2b$04$new"),
            expires,
            reset_event(user.id),
        )
        .await
        .unwrap();
    assert_eq!(outcome, ResetOutcome::Invalid);
    let stored = s
        .users
        .find_for_login(&LoginKey::Username("ada".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.password_hash.unwrap().as_str(), "$2b$04$hash");
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(roster_persistence_diesel::BackendKind::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(roster_persistence_diesel::BackendKind::Postgres).await;
                }
            )*
        }
    };
}

on_both_backends!(
    a_created_user_reads_back_whole,
    uniqueness_is_case_insensitive_and_a_refused_create_stores_nothing,
    concurrent_creates_of_one_email_store_exactly_one,
    a_confirmation_token_confirms_once,
    concurrent_confirmations_with_one_token_confirm_once,
    an_expired_confirmation_deletes_the_pending_account,
    a_login_session_is_live_until_it_ends,
    max_sessions_revokes_the_oldest,
    a_session_of_an_inactive_user_is_not_live,
    an_active_admin_is_detected,
    outbox_messages_are_leased_sent_retried_and_abandoned,
    concurrent_claims_never_share_a_message,
    migrations_revert_and_reapply,
    an_exhausted_pool_is_unavailable_after_the_timeout_not_a_hang,
    a_refresh_token_rotates_once_and_its_reuse_revokes_the_session,
    refresh_tokens_expire_and_never_outlive_their_session,
    a_refresh_of_a_revoked_session_or_inactive_user_is_invalid,
    concurrent_refreshes_with_one_token_rotate_it_once,
    sessions_are_listed_and_revoked_one_by_one_or_all_at_once,
    an_issued_token_replaces_the_earlier_one_and_queues_its_mail,
    a_reset_token_sets_the_password_once_and_revokes_every_session,
    concurrent_resets_with_one_token_reset_once,
    an_expired_reset_token_changes_nothing,
);

#[test]
fn an_unknown_url_scheme_is_an_error_not_a_sqlite_file() {
    let err = Database::connect(
        &DatabaseConfig {
            url: "mysql://root:secret@localhost/db".into(),
            pool_size: 1,
            timeout: std::time::Duration::from_secs(1),
        },
        EmailKeys::random().unwrap(),
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("unsupported database URL scheme"),
        "{message}"
    );
    assert!(
        !message.contains("secret"),
        "the password is redacted: {message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_unavailable_quickly_not_a_hang() {
    let db = Database::connect(
        &DatabaseConfig {
            url: "postgres://postgres@127.0.0.1:1/nowhere".into(),
            pool_size: 1,
            timeout: std::time::Duration::from_millis(500),
        },
        EmailKeys::random().unwrap(),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let users = DieselUserRepository::new(db.clone());
    let err = users.find_by_id(UserId::generate()).await.unwrap_err();
    assert!(matches!(err, InfraError::Unavailable(_)), "{err:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(matches!(db.ping().await, Err(InfraError::Unavailable(_))));
}
