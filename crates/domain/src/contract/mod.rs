//! The port contracts as an executable test suite (feature `contract-tests`).
//!
//! Every storage port in [`crate::ports`] documents MUST and SHOULD rules: one call is one
//! transaction, uniqueness holds under concurrency, a one-time token is consumed once, a
//! revoked session stops working at once. This module turns those rules into checks that any
//! adapter can run from its own tests, so that "it implements the trait" also means "it keeps
//! the promises the use cases rely on".
//!
//! The suite talks to the adapter only through the ports. It receives a factory that hands
//! it a fresh, empty [`Store`] for each check (a new database, a new in-memory store):
//!
//! ```
//! # #[cfg(feature = "memory")]
//! # async fn demo() {
//! use roster_domain::contract::{self, Store};
//! use roster_domain::memory::MemoryStore;
//!
//! // One fresh store per check.
//! contract::full_contract(|| async { MemoryStore::new().contract_store() }).await;
//! # }
//! ```
//!
//! The suite is split by port, one module and one entry point each:
//! [`user_repository_contract`], [`session_repository_contract`], [`outbox_contract`],
//! [`maintenance_contract`], [`audit_log_contract`], [`user_administration_contract`] and
//! [`user_directory_contract`]; [`full_contract`] runs them all.
//! A check that fails panics (it is test code), after the runner has printed its name on
//! standard error.
//!
//! The ports that hold no data take the adapter itself: [`password_hasher_contract`],
//! [`access_tokens_contract`], [`secret_tokens_contract`] and [`cursor_codec_contract`].
//!
//! The checks drive concurrency by polling several calls at once in one task (no runtime is
//! assumed). An adapter whose calls do real I/O runs them in parallel; an adapter that does
//! its work synchronously under one lock serialises them, which is also correct.
//!
//! Run it under a multi-threaded runtime when the adapter needs one (diesel-async does).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a broken promise must fail the adopting test loudly"
)]

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::ports::{
    AuditLog, Maintenance, Outbox, SessionRepository, UserAdministration, UserDirectory,
    UserRepository,
};

use fixtures::{
    due_mail, is_live, login_event, new_user, plain, rotation, session_for, t0, user_with_session,
    with_confirmation,
};

pub mod audit_log;
pub mod directory;
pub mod fixtures;
pub mod maintenance;
pub mod outbox;
pub mod sessions;
pub mod user_administration;
pub mod users;

// Ports that hold no data: each takes the adapter itself.
pub mod access_tokens;
pub mod cursor_codec;
pub mod password_hasher;
pub mod secret_tokens;

pub use access_tokens::access_tokens_contract;
pub use cursor_codec::cursor_codec_contract;
pub use password_hasher::password_hasher_contract;
pub use secret_tokens::secret_tokens_contract;

/// The storage ports under test, all over one empty store.
///
/// They MUST share their data: a user created through `users` is the one `sessions` logs in,
/// and the mail its creation queued is the one `outbox` hands out.
pub struct Store {
    /// Users.
    pub users: Arc<dyn UserRepository>,
    /// Sessions.
    pub sessions: Arc<dyn SessionRepository>,
    /// The standalone audit log.
    pub audit: Arc<dyn AuditLog>,
    /// The mail outbox.
    pub outbox: Arc<dyn Outbox>,
    /// Housekeeping.
    pub maintenance: Arc<dyn Maintenance>,
    /// Administration: changes of other users, roles, the audit log as read back.
    pub admin: Arc<dyn UserAdministration>,
    /// Lists of users.
    pub directory: Arc<dyn UserDirectory>,
    /// Whatever must live as long as the ports (a throwaway database's guard), dropped with
    /// the store at the end of the check.
    pub keep_alive: Option<Box<dyn Any + Send + Sync>>,
}

impl Store {
    /// The ports under test, with nothing to keep alive.
    pub fn new(
        users: Arc<dyn UserRepository>,
        sessions: Arc<dyn SessionRepository>,
        audit: Arc<dyn AuditLog>,
        outbox: Arc<dyn Outbox>,
        maintenance: Arc<dyn Maintenance>,
        admin: Arc<dyn UserAdministration>,
        directory: Arc<dyn UserDirectory>,
    ) -> Self {
        Self {
            users,
            sessions,
            audit,
            outbox,
            maintenance,
            admin,
            directory,
            keep_alive: None,
        }
    }

    /// Keeps `guard` alive as long as the store (e.g. the handle that drops a test database).
    #[must_use]
    pub fn keeping(mut self, guard: impl Any + Send + Sync) -> Self {
        self.keep_alive = Some(Box::new(guard));
        self
    }
}

/// One named check of the suite.
#[derive(Clone, Copy)]
pub struct Check {
    /// The rule it checks, as a sentence in snake case.
    pub name: &'static str,
    /// Runs the check on a fresh store; panics when the rule is broken.
    pub run: fn(Store) -> BoxFuture<'static, ()>,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check").field("name", &self.name).finish()
    }
}

/// Builds a `Vec<Check>` from check functions of type `async fn(Store)`.
macro_rules! checks {
    ($($name:ident),* $(,)?) => {
        vec![$(
            $crate::contract::Check {
                name: stringify!($name),
                run: |store| Box::pin($name(store)),
            },
        )*]
    };
}
pub(crate) use checks;

/// Runs `checks`, each on a fresh store from `make`, in order. Prints each check's name on
/// standard error before running it, so a failure names the broken rule.
pub async fn run<F, Fut>(checks: &[Check], mut make: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Store>,
{
    for check in checks {
        eprintln!("contract check: {}", check.name);
        (check.run)(make().await).await;
    }
}

/// Runs every [`UserRepository`] check (see [`users`]).
pub async fn user_repository_contract<F, Fut>(make: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Store>,
{
    run(&users::checks(), make).await;
}

/// Runs every [`SessionRepository`] check (see [`sessions`]).
pub async fn session_repository_contract<F, Fut>(make: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Store>,
{
    run(&sessions::checks(), make).await;
}

/// Runs every [`Outbox`] check (see [`outbox`]).
pub async fn outbox_contract<F, Fut>(make: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Store>,
{
    run(&outbox::checks(), make).await;
}

/// Runs every [`Maintenance`] check (see [`maintenance`]).
pub async fn maintenance_contract<F, Fut>(make: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Store>,
{
    run(&maintenance::checks(), make).await;
}

/// Runs every [`AuditLog`] check (see [`audit_log`]).
pub async fn audit_log_contract<F, Fut>(make: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Store>,
{
    run(&audit_log::checks(), make).await;
}

/// Runs every [`UserAdministration`] check (see [`user_administration`]).
pub async fn user_administration_contract<F, Fut>(make: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Store>,
{
    run(&user_administration::checks(), make).await;
}

/// Runs every [`UserDirectory`] check (see [`directory`]).
pub async fn user_directory_contract<F, Fut>(make: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Store>,
{
    run(&directory::checks(), make).await;
}

/// Every check of every port.
pub fn all_checks() -> Vec<Check> {
    let mut all = users::checks();
    all.extend(sessions::checks());
    all.extend(outbox::checks());
    all.extend(maintenance::checks());
    all.extend(audit_log::checks());
    all.extend(user_administration::checks());
    all.extend(directory::checks());
    all
}

/// Runs the whole suite: every check of every storage port.
pub async fn full_contract<F, Fut>(make: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Store>,
{
    run(&all_checks(), make).await;
}
