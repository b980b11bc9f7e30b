//! # roster-domain
//!
//! The centre of Roster's hexagon: users, roles, tenants, sessions, one-time tokens and audit
//! events, the rules that govern them, the **ports** (traits) through which the rules reach the
//! outside world, and the **use-case services** that drive those ports. The Roster service
//! wraps it in HTTP and a database; other programs can embed it as a library with adapters of
//! their own (see `docs/embedding.md` in the repository).
//!
//! ## The hexagon
//!
//! ```text
//!   driving side (calls in)            the domain                driven side (called out)
//!   HTTP handlers, a CLI, a bot  --->  services::Accounts   --->  ports::UserRepository
//!   or your own code                   services::Sessions         ports::SessionRepository
//!                                      services::MailDelivery     ports::AuditLog, Outbox
//!                                      services::Cleanup          ports::Maintenance
//!                                      services::Administration   ports::UserAdministration
//!                                      services::UserListing      ports::UserDirectory,
//!                                      (rules in user, role,      CursorCodec
//!                                       session, token, audit,    ports::PasswordHasher
//!                                       policy, listing)          ports::AccessTokens,
//!                                                                 SecretTokens, MailSender,
//!                                                                 Clock
//! ```
//!
//! * [`user`], [`role`], [`tenant`], [`session`], [`token`], [`audit`], [`mail`]: value types
//!   and pure rules. [`token::decide_confirmation`], [`token::decide_reset`] and
//!   [`session::decide_refresh`] are the decisions adapters apply inside their transactions.
//! * [`ports`]: the traits an adapter implements, each method with its contract (MUST and
//!   SHOULD rules, `# Errors`).
//! * [`services`]: the use cases. [`services::Accounts`] registers, confirms, resets
//!   passwords, updates and erases accounts; [`services::Sessions`] logs in, authenticates,
//!   refreshes and logs out; [`services::MailDelivery`] drains the outbox;
//!   [`services::Cleanup`] removes what went stale; [`services::Administration`] changes
//!   other users, roles and memberships, as [`policy::Policy`] allows;
//!   [`services::UserListing`] answers filtered, paged lists of users.
//! * [`error`]: per-field validation errors and the opaque [`InfraError`] of adapters.
//!
//! ## Wiring
//!
//! A service takes its ports as `Arc<dyn Port>` in a `*Ports` struct, plus its settings.
//! Wire each port once and share it. Here with the in-memory adapters of the `memory`
//! feature and a [`ports::ManualClock`]; a real service passes its own database, hasher,
//! token signer and mail transport instead:
//!
//! ```
//! use std::sync::Arc;
//! use chrono::{Duration, Utc};
//! use roster_domain::audit::RequestContext;
//! use roster_domain::memory::{
//!     MemoryStore, TestAccessTokens, TestPasswordHasher, TestSecretTokens,
//! };
//! use roster_domain::ports::{ManualClock, UserRepository};
//! use roster_domain::services::{
//!     Accounts, AccountsConfig, AccountsPorts, LoginError, LoginInput, RegisterInput,
//!     Sessions, SessionsPorts,
//! };
//! use roster_domain::session::SessionPolicy;
//! use roster_domain::user::{PasswordAttempt, UserStatus};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = MemoryStore::new();
//! let clock = Arc::new(ManualClock::new(Utc::now()));
//! let users: Arc<dyn UserRepository> = Arc::new(store.users());
//! let hasher = Arc::new(TestPasswordHasher::new());
//! let secrets = Arc::new(TestSecretTokens::new());
//!
//! let accounts = Accounts::new(
//!     AccountsPorts {
//!         users: users.clone(),
//!         hasher: hasher.clone(),
//!         secrets: secrets.clone(),
//!         clock: clock.clone(),
//!     },
//!     AccountsConfig { confirmation_ttl: Duration::hours(24), reset_ttl: Duration::hours(1) },
//! );
//! let sessions = Sessions::new(
//!     SessionsPorts {
//!         users,
//!         sessions: Arc::new(store.sessions()),
//!         audit: Arc::new(store.audit_log()),
//!         hasher,
//!         access_tokens: Arc::new(TestAccessTokens::new()),
//!         secrets,
//!         clock,
//!     },
//!     SessionPolicy {
//!         access_ttl: Duration::minutes(15),
//!         refresh_ttl: Duration::days(7),
//!         max_lifetime: Duration::days(30),
//!     },
//!     0, // no cap on sessions per user
//! );
//!
//! let ctx = RequestContext::default();
//! let ada = accounts
//!     .register(
//!         RegisterInput {
//!             email: Some("ada@example.com".into()),
//!             password: Some("Correct-Horse-42".into()),
//!             ..RegisterInput::default()
//!         },
//!         &ctx,
//!     )
//!     .await?;
//! assert_eq!(ada.status, UserStatus::Pending);
//!
//! // Until the mailed link is followed, the right password is not enough.
//! let login = LoginInput {
//!     login: "ada@example.com".into(),
//!     password: PasswordAttempt::new("Correct-Horse-42"),
//! };
//! let refused = sessions.login(login, &ctx).await;
//! assert!(matches!(refused, Err(LoginError::EmailNotConfirmed)));
//! # Ok(())
//! # }
//! ```
//!
//! `examples/embedded.rs` walks the whole life of an account this way.
//!
//! ## Invariants
//!
//! Held here and nowhere else:
//!
//! * A value type that exists is valid: [`user::Email`], [`user::Username`], [`user::Password`],
//!   [`role::RoleName`] and the rest are only built by their fallible `parse` constructors.
//! * Email and username identity is case-insensitive (emails also NFKC-normalised); the types
//!   carry both the display form and the identity key.
//! * A state change, its audit event and the mail it causes are handed to one port call, which
//!   adapters MUST commit as one transaction.
//! * Time comes from a [`ports::Clock`], so expiry rules are tested without sleeping.
//!
//! ## Features
//!
//! * `mocks`: a mockall mock of every port (`ports::MockUserRepository`, ...).
//! * `memory`: in-memory adapters for every port (`memory::MemoryStore` and test stand-ins
//!   for hashing, tokens and mail), for tests and for trying the domain without a database.
//! * `contract-tests`: the port contracts as a test suite (`contract::full_contract` and one
//!   entry point per port) that any adapter can run to prove it keeps them.
//!
//! This crate depends on no I/O crate (no database, HTTP, bcrypt, JWT, SMTP or async runtime),
//! with any of its features; CI checks it with `cargo tree`.

#![warn(missing_docs)]

pub mod audit;
#[cfg(feature = "contract-tests")]
pub mod contract;
pub mod error;
pub mod listing;
pub mod mail;
#[cfg(feature = "memory")]
pub mod memory;
pub mod policy;
pub mod ports;
pub mod role;
pub mod services;
pub mod session;
pub mod tenant;
pub mod token;
pub mod user;

pub use error::{FieldError, InfraError, ValidationErrors};
