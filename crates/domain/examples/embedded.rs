//! Roster's rules embedded in another program, with no database, no HTTP and no bcrypt: the
//! `Accounts`, `Sessions` and `Administration` use cases wired to the in-memory adapters
//! (feature `memory`) and a clock that moves only when told to.
//!
//! It walks an account through its life: register, confirm by the mailed link, log in,
//! refresh (and catch a replayed refresh token), get deactivated by an administrator (its
//! session refused at once) and reactivated, log out everywhere, and erase the account.
//!
//! Run it with `cargo run -p roster-domain --example embedded --features memory`; the test
//! `tests/embedded_example.rs` runs it under `cargo test --workspace`.
#![allow(clippy::print_stdout, reason = "an example narrates what it does")]

use std::error::Error;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use roster_domain::audit::RequestContext;
use roster_domain::memory::{
    MemoryStore, TestAccessTokens, TestMailbox, TestPasswordHasher, TestSecretTokens,
};
use roster_domain::policy::Caller;
use roster_domain::ports::{Clock, ManualClock, UserRepository};
use roster_domain::services::{
    Accounts, AccountsConfig, AccountsPorts, AdminError, Administration, AdministrationPorts,
    AuthError, CreateUserInput, LoginError, LoginInput, MailDelivery, RefreshError, RegisterInput,
    RetryPolicy, Sessions, SessionsPorts,
};
use roster_domain::session::SessionPolicy;
use roster_domain::user::PasswordAttempt;

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

/// Fails the walk with `what` unless `holds`.
fn ensure(holds: bool, what: &str) -> Result {
    if holds {
        Ok(())
    } else {
        Err(format!("expected: {what}").into())
    }
}

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "Correct-Horse-42-Battery";
const ADMIN_EMAIL: &str = "root@example.com";
const ADMIN_PASSWORD: &str = "Staple-Admin-42-Battery";

fn login_input() -> LoginInput {
    LoginInput {
        login: EMAIL.to_owned(),
        password: PasswordAttempt::new(PASSWORD),
    }
}

fn admin_login() -> LoginInput {
    LoginInput {
        login: ADMIN_EMAIL.to_owned(),
        password: PasswordAttempt::new(ADMIN_PASSWORD),
    }
}

/// The whole walk; `main` runs it on a runtime of its choice.
pub async fn run() -> Result {
    // --- wiring: one store, its port adapters, test stand-ins, a fixed clock ---
    let start = Utc
        .with_ymd_and_hms(2026, 12, 1, 9, 0, 0)
        .single()
        .ok_or("invalid start date")?;
    let clock = Arc::new(ManualClock::new(start));
    let store = MemoryStore::new();
    let users: Arc<dyn UserRepository> = Arc::new(store.users());
    let hasher = Arc::new(TestPasswordHasher::new());
    let secrets = Arc::new(TestSecretTokens::new());
    let administration = Administration::new(AdministrationPorts {
        users: users.clone(),
        admin: Arc::new(store.admin()),
        hasher: hasher.clone(),
        clock: clock.clone(),
    });
    let accounts = Accounts::new(
        AccountsPorts {
            users: users.clone(),
            hasher: hasher.clone(),
            secrets: secrets.clone(),
            clock: clock.clone(),
        },
        AccountsConfig {
            confirmation_ttl: Duration::hours(24),
            reset_ttl: Duration::hours(1),
        },
    );
    let sessions = Sessions::new(
        SessionsPorts {
            users,
            sessions: Arc::new(store.sessions()),
            audit: Arc::new(store.audit_log()),
            hasher,
            access_tokens: Arc::new(TestAccessTokens::new()),
            secrets,
            clock: clock.clone(),
        },
        SessionPolicy {
            access_ttl: Duration::minutes(15),
            refresh_ttl: Duration::days(7),
            max_lifetime: Duration::days(30),
        },
        0,
    );
    let mailbox = TestMailbox::new();
    let delivery = MailDelivery::new(
        Arc::new(store.outbox()),
        Arc::new(mailbox.clone()),
        clock.clone(),
        RetryPolicy::default(),
    );
    let ctx = RequestContext::default();

    // --- an administrator, created by the program itself (as `roster create-admin` does) ---
    let root = administration
        .create_user(
            &Caller::System,
            CreateUserInput {
                email: Some(ADMIN_EMAIL.to_owned()),
                password: Some(ADMIN_PASSWORD.to_owned()),
                roles: Some(vec!["ADMIN".to_owned()]),
                email_verified: Some(true),
                ..CreateUserInput::default()
            },
            &ctx,
        )
        .await?;
    println!(
        "administrator {} created, roles {:?}",
        root.username.as_str(),
        root.roles
    );

    // --- register: a pending account, its confirmation mail queued with it ---
    let ada = accounts
        .register(
            RegisterInput {
                email: Some(EMAIL.to_owned()),
                password: Some(PASSWORD.to_owned()),
                username: None,
                name: Some("Ada Lovelace".to_owned()),
            },
            &ctx,
        )
        .await?;
    println!(
        "registered {} as {:?}, status {}",
        EMAIL,
        ada.username.as_str(),
        ada.status.as_str()
    );
    let refused = sessions.login(login_input(), &ctx).await;
    ensure(
        matches!(refused, Err(LoginError::EmailNotConfirmed)),
        "no login before the email is confirmed",
    )?;
    println!("login before confirming: refused (email not confirmed)");

    // --- confirm: the mail worker delivers, the user follows the link ---
    let report = delivery.run_once(10).await?;
    println!("mail worker: {} sent", report.sent);
    let token = mailbox
        .last_token_for(EMAIL)
        .ok_or("no confirmation mail arrived")?;
    let ada = accounts.confirm(&token, &ctx).await?;
    println!("confirmed: status {}", ada.status.as_str());
    ensure(
        accounts.confirm(&token, &ctx).await.is_err(),
        "a confirmation link works once",
    )?;

    // --- log in, and authenticate a request with the access token ---
    let login = sessions.login(login_input(), &ctx).await?;
    let caller = sessions.authenticate(&login.access_token).await?;
    println!(
        "logged in: session {}, login count {}",
        caller.session_id, caller.user.login_count
    );

    // --- refresh: time passes, the access token expires, the refresh token rotates ---
    clock.advance(Duration::minutes(20));
    ensure(
        matches!(
            sessions.authenticate(&login.access_token).await,
            Err(AuthError::ExpiredToken)
        ),
        "the access token expired after 15 minutes",
    )?;
    let refreshed = sessions.refresh(&login.refresh_token, &ctx).await?;
    sessions.authenticate(&refreshed.access_token).await?;
    println!(
        "20 minutes later: access token expired, refreshed at {}",
        clock.now()
    );
    // Someone replays the rotated refresh token: the whole session is revoked.
    ensure(
        matches!(
            sessions.refresh(&login.refresh_token, &ctx).await,
            Err(RefreshError::TokenReused)
        ),
        "a replayed refresh token is caught",
    )?;
    ensure(
        sessions
            .authenticate(&refreshed.access_token)
            .await
            .is_err(),
        "the replay revoked the session",
    )?;
    println!("replayed refresh token: session revoked");

    // --- an administrator deactivates the account: its session is refused at once ---
    let session = sessions.login(login_input(), &ctx).await?;
    let admin_login = sessions.login(admin_login(), &ctx).await?;
    let admin = Caller::User(Box::new(
        sessions.authenticate(&admin_login.access_token).await?.user,
    ));
    let ada = administration.deactivate(&admin, ada.id, &ctx).await?;
    ensure(
        matches!(
            sessions.authenticate(&session.access_token).await,
            Err(AuthError::Revoked)
        ),
        "a deactivated user's access token is refused before it expires",
    )?;
    ensure(
        sessions
            .refresh(&session.refresh_token, &ctx)
            .await
            .is_err(),
        "a deactivated user's refresh token is refused",
    )?;
    ensure(
        matches!(
            sessions.login(login_input(), &ctx).await,
            Err(LoginError::AccountDeactivated)
        ),
        "a deactivated user cannot log in",
    )?;
    println!(
        "deactivated by {}: status {}, session refused, login refused",
        root.username.as_str(),
        ada.status.as_str()
    );
    // The last administrator cannot deactivate itself.
    ensure(
        matches!(
            administration.deactivate(&admin, root.id, &ctx).await,
            Err(AdminError::LastAdmin)
        ),
        "the last active ADMIN stays",
    )?;
    let ada = administration.reactivate(&admin, ada.id, &ctx).await?;
    ensure(
        sessions.authenticate(&session.access_token).await.is_err(),
        "reactivation does not revive the old session",
    )?;
    println!("reactivated: status {}", ada.status.as_str());

    // --- log out everywhere ---
    let phone = sessions.login(login_input(), &ctx).await?;
    let laptop = sessions.login(login_input(), &ctx).await?;
    let caller = sessions.authenticate(&laptop.access_token).await?;
    let ended = sessions.logout_all(&caller, &ctx).await?;
    ensure(
        sessions.authenticate(&phone.access_token).await.is_err(),
        "logout-all ends every session at once",
    )?;
    println!("logged out everywhere: {ended} sessions ended");

    // --- erase the account ---
    let again = sessions.login(login_input(), &ctx).await?;
    let caller = sessions.authenticate(&again.access_token).await?;
    accounts.delete_me(&caller, Some(PASSWORD), &ctx).await?;
    ensure(
        matches!(
            sessions.login(login_input(), &ctx).await,
            Err(LoginError::InvalidCredentials)
        ),
        "an erased account cannot log in",
    )?;
    println!(
        "account erased; {} audit events recorded",
        store.audit_events().len()
    );
    Ok(())
}

fn main() -> Result {
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    runtime.block_on(run())
}
