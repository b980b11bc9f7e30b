//! # roster-crypto
//!
//! Crypto adapters on the edge of Roster's hexagon. Each type here implements one port of
//! `roster-domain` with one technology, and nothing in the domain knows which:
//!
//! | port ([`roster_domain::ports`]) | adapter | technology |
//! |---|---|---|
//! | `PasswordHasher` | [`BcryptHasher`] | bcrypt (`$2b$`), on tokio's blocking pool |
//! | `AccessTokens` | [`JwtAccessTokens`] | JWT, HS256 (EdDSA can join as another key kind) |
//! | `SecretTokens` | [`RandomSecretTokens`] | 32 bytes from the OS CSPRNG, SHA-256 |
//! | `CursorCodec` | [`HmacCursors`] | HMAC-SHA256 over the list position and its query |
//!
//! Invariants this crate keeps:
//!
//! * **bcrypt never runs on an async worker.** Every hash and verification goes through
//!   `spawn_blocking`, behind a semaphore with one permit per core, so a flood of logins
//!   queues (visible through [`BcryptHasher::queue_depth`]) instead of starving the runtime
//!   or exhausting memory.
//! * **Timing says nothing about accounts.** Verifying against no hash (unknown login, no
//!   password set) runs bcrypt against a dummy hash of the configured cost and answers `false`;
//!   so does an attempt longer than bcrypt's 72-byte limit. Passwords are never truncated:
//!   hashing one over 72 bytes is refused.
//! * **Hashes carry their scheme and cost** (`$2b$12$...`), so the cost can be raised later and
//!   old hashes upgraded on login ([`BcryptHasher::needs_rehash`]).
//! * **Access tokens are pinned to one algorithm** (HS256 today), and `iss`, `aud` and `exp`
//!   are always checked; `exp` against the clock the caller passes, with no leeway. Claims are
//!   decoded into a typed struct, so a token whose `exp` is a string is refused
//!   (CVE-2026-25537).
//! * **Secrets are only stored hashed.** [`RandomSecretTokens`] hands out the raw secret once
//!   and a lowercase hex SHA-256 for storage; [`constant_time_eq`] compares secrets that must be
//!   compared directly (API keys) without leaking where they differ.
//! * No key, secret, password or token appears in a `Debug` output or a log line.

mod cursor;
mod jwt;
mod password;
mod secret;

pub use cursor::HmacCursors;
pub use jwt::{JwtAccessTokens, JwtConfigError, MIN_HS256_SECRET_BYTES};
pub use password::{BcryptHasher, HasherConfigError, MAX_COST, MIN_COST};
pub use secret::{RandomSecretTokens, SECRET_BYTES, constant_time_eq, sha256_hex};
