//! In-memory adapters for every port (feature `memory`): for tests, and for trying the
//! domain without a database.
//!
//! # Storage ports
//!
//! [`MemoryStore`] holds roles, users with their roles and tenant memberships, tokens,
//! sessions, the outbox, the audit log and job leases behind one lock, and hands out one
//! adapter per storage port, all sharing that data: [`MemoryUserRepository`],
//! [`MemorySessionRepository`], [`MemoryAuditLog`], [`MemoryOutbox`], [`MemoryMaintenance`],
//! [`MemoryUserAdministration`] and [`MemoryUserDirectory`]. They keep the same promises as
//! the database adapters, and pass the same contract suite (`roster_domain::contract`):
//!
//! * every port call takes the lock once and checks everything before changing anything,
//!   so a call is one transaction: all of its effects or none;
//! * email, username and external id are unique, case-insensitively, across all accounts;
//! * a one-time token is consumed at most once, a refresh token rotated at most once;
//! * a revoked session stops working at once; erasing a user erases its sessions and tokens
//!   (the audit log and the outbox keep theirs, as in the database);
//! * the last active ADMIN cannot be demoted, deactivated or deleted, even by concurrent
//!   calls (the guard runs under the same lock as the change); deactivation revokes every
//!   live session in the same call.
//!
//! Nothing is persisted: the data lives as long as the store.
//!
//! # Other ports: test stand-ins, not for production
//!
//! [`TestPasswordHasher`], [`TestAccessTokens`], [`TestSecretTokens`], [`TestCursorCodec`]
//! and [`TestMailbox`] keep their ports' semantics (a hash verifies only its own password, an
//! access token expires at `exp`, a secret's hash is stable, a cursor opens only unaltered and
//! for its own query) but are **insecure by design**: fast, keyed
//! with fixed values, deterministic. The `Test` prefix is there so that nobody wires them
//! into a service by mistake. For time, [`ManualClock`] (re-exported from [`crate::ports`]).
//!
//! ```
//! use std::sync::Arc;
//! use roster_domain::memory::MemoryStore;
//! use roster_domain::ports::UserRepository;
//! use roster_domain::user::UserId;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let store = MemoryStore::new();
//! let users: Arc<dyn UserRepository> = Arc::new(store.users());
//! assert!(users.find_by_id(UserId::generate()).await.unwrap().is_none());
//! # }
//! ```

mod access_tokens;
mod admin;
mod audit_log;
mod cursor;
mod directory;
mod hasher;
mod mailbox;
mod maintenance;
mod outbox;
mod secret_tokens;
mod sessions;
mod users;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::audit::AuditEvent;
use crate::mail::OutgoingMail;
use crate::ports::Role;
use crate::role::RoleName;
use crate::session::SessionId;
use crate::token::TokenPurpose;
use crate::user::{Email, PasswordHash, User, UserId};

pub use access_tokens::TestAccessTokens;
pub use admin::MemoryUserAdministration;
pub use audit_log::MemoryAuditLog;
pub use cursor::TestCursorCodec;
pub use directory::MemoryUserDirectory;
pub use hasher::{TEST_HASH_PREFIX, TestPasswordHasher};
pub use mailbox::TestMailbox;
pub use maintenance::MemoryMaintenance;
pub use outbox::MemoryOutbox;
pub use secret_tokens::TestSecretTokens;
pub use sessions::MemorySessionRepository;
pub use users::MemoryUserRepository;

/// The [`crate::ports::Clock`] of the memory set: time that moves only when told to.
pub use crate::ports::ManualClock;

/// A user as stored: the entity and its password hash.
#[derive(Debug, Clone)]
struct UserRecord {
    user: User,
    password_hash: Option<PasswordHash>,
}

/// A one-time token as stored, keyed by its hash.
#[derive(Debug, Clone)]
struct TokenRecord {
    purpose: TokenPurpose,
    user_id: UserId,
    email: Option<Email>,
    expires_at: DateTime<Utc>,
}

/// A session as stored.
#[derive(Debug, Clone)]
struct SessionRecord {
    id: SessionId,
    user_id: UserId,
    created_at: DateTime<Utc>,
    last_used_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    ip: Option<String>,
    user_agent: Option<String>,
    revoked_at: Option<DateTime<Utc>>,
    revoke_reason: Option<&'static str>,
}

/// A refresh token as stored, keyed by its hash.
#[derive(Debug, Clone)]
struct RefreshRecord {
    session_id: SessionId,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
}

/// A message in the outbox.
#[derive(Debug, Clone)]
struct OutboxRecord {
    id: Uuid,
    /// Erased once sent: it carries a live token.
    mail: Option<OutgoingMail>,
    next_attempt_at: DateTime<Utc>,
    attempts: u32,
    locked_until: Option<DateTime<Utc>>,
    sent_at: Option<DateTime<Utc>>,
    abandoned: bool,
    last_error: Option<String>,
}

/// A background job's lease.
#[derive(Debug, Clone)]
struct Lease {
    holder: String,
    until: DateTime<Utc>,
}

/// The roles, by name: the built-in ones from the start, as the database's migration
/// inserts them.
#[derive(Debug)]
struct Roles(BTreeMap<RoleName, Role>);

impl Default for Roles {
    fn default() -> Self {
        let now = crate::ports::Clock::now(&crate::ports::SystemClock);
        let built_in = [
            (RoleName::ADMIN, "Everything"),
            (
                RoleName::MANAGER,
                "Reads all users; edits profile fields of users who are not ADMIN",
            ),
            (RoleName::USER, "Own account only"),
            (RoleName::MAINTAINER, "Own account only"),
            (RoleName::CONTRIBUTOR, "Own account only"),
        ];
        Self(
            built_in
                .into_iter()
                .filter_map(|(name, description)| {
                    let name = RoleName::parse(name).ok()?;
                    let role = Role {
                        name: name.clone(),
                        description: Some(description.to_owned()),
                        built_in: true,
                        created_at: now,
                    };
                    Some((name, role))
                })
                .collect(),
        )
    }
}

impl std::ops::Deref for Roles {
    type Target = BTreeMap<RoleName, Role>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Roles {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// Everything a [`MemoryStore`] holds.
#[derive(Debug, Default)]
struct State {
    roles: Roles,
    users: HashMap<UserId, UserRecord>,
    tokens: HashMap<String, TokenRecord>,
    sessions: HashMap<SessionId, SessionRecord>,
    refresh: HashMap<String, RefreshRecord>,
    outbox: Vec<OutboxRecord>,
    audit: Vec<AuditEvent>,
    leases: HashMap<String, Lease>,
}

impl State {
    /// Erases a user with everything that hangs on it (as `ON DELETE CASCADE` does).
    fn erase_user(&mut self, id: UserId) -> bool {
        if self.users.remove(&id).is_none() {
            return false;
        }
        self.tokens.retain(|_, t| t.user_id != id);
        let sessions: Vec<SessionId> = self
            .sessions
            .values()
            .filter(|s| s.user_id == id)
            .map(|s| s.id)
            .collect();
        for session in sessions {
            self.erase_session(session);
        }
        true
    }

    /// Erases a session with its refresh tokens.
    fn erase_session(&mut self, id: SessionId) {
        self.sessions.remove(&id);
        self.refresh.retain(|_, r| r.session_id != id);
    }

    /// Queues a message, due at once.
    fn enqueue(&mut self, mail: OutgoingMail, at: DateTime<Utc>) {
        self.outbox.push(OutboxRecord {
            id: Uuid::now_v7(),
            mail: Some(mail),
            next_attempt_at: at,
            attempts: 0,
            locked_until: None,
            sent_at: None,
            abandoned: false,
            last_error: None,
        });
    }
}

/// Shared, locked state; cloning shares it.
#[derive(Debug, Clone, Default)]
struct Shared(Arc<Mutex<State>>);

impl Shared {
    /// The state, for one call: one lock, one transaction. A poisoned lock (a panic in a
    /// test mid-call) is taken over: every call checks before it changes anything.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Roles, users, sessions, tokens, the outbox, the audit log and job leases, in memory.
///
/// Cloning shares the data. Each `*()` method hands out a port adapter over it.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    shared: Shared,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The [`crate::ports::UserRepository`] over this store.
    pub fn users(&self) -> MemoryUserRepository {
        MemoryUserRepository::new(self.shared.clone())
    }

    /// The [`crate::ports::SessionRepository`] over this store.
    pub fn sessions(&self) -> MemorySessionRepository {
        MemorySessionRepository::new(self.shared.clone())
    }

    /// The [`crate::ports::UserAdministration`] over this store.
    pub fn admin(&self) -> MemoryUserAdministration {
        MemoryUserAdministration::new(self.shared.clone())
    }

    /// The [`crate::ports::UserDirectory`] over this store.
    pub fn directory(&self) -> MemoryUserDirectory {
        MemoryUserDirectory::new(self.shared.clone())
    }

    /// The [`crate::ports::AuditLog`] over this store.
    pub fn audit_log(&self) -> MemoryAuditLog {
        MemoryAuditLog::new(self.shared.clone())
    }

    /// The [`crate::ports::Outbox`] over this store.
    pub fn outbox(&self) -> MemoryOutbox {
        MemoryOutbox::new(self.shared.clone())
    }

    /// The [`crate::ports::Maintenance`] over this store.
    pub fn maintenance(&self) -> MemoryMaintenance {
        MemoryMaintenance::new(self.shared.clone())
    }

    /// Every audit event recorded so far, oldest first: what a test asserts on.
    pub fn audit_events(&self) -> Vec<AuditEvent> {
        self.shared.lock().audit.clone()
    }

    /// How many messages wait in the outbox (not sent, not abandoned).
    pub fn outbox_depth(&self) -> usize {
        self.shared
            .lock()
            .outbox
            .iter()
            .filter(|m| m.sent_at.is_none() && !m.abandoned)
            .count()
    }

    /// Every storage port over this store, as the contract suite takes them.
    #[cfg(feature = "contract-tests")]
    pub fn contract_store(&self) -> crate::contract::Store {
        crate::contract::Store::new(
            Arc::new(self.users()),
            Arc::new(self.sessions()),
            Arc::new(self.audit_log()),
            Arc::new(self.outbox()),
            Arc::new(self.maintenance()),
            Arc::new(self.admin()),
            Arc::new(self.directory()),
        )
    }
}
