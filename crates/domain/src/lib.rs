//! # roster-domain
//!
//! The centre of Roster's hexagon: users, roles, tenants, sessions, one-time tokens and audit
//! events, the rules that govern them, the **ports** (traits) through which the rules reach the
//! outside world, and the **use-case services** (`Accounts`, `Sessions`, `MailDelivery`) that
//! drive those ports.
//!
//! Invariants held here and nowhere else:
//!
//! * A value type that exists is valid: [`user::Email`], [`user::Username`], [`user::Password`],
//!   [`role::RoleName`] and the rest are only built by their fallible `parse` constructors.
//! * Email and username identity is case-insensitive (emails also NFKC-normalised); the types
//!   carry both the display form and the identity key.
//! * A state change, its audit event and the mail it causes are handed to one port call, which
//!   adapters MUST commit as one transaction.
//! * Time comes from a [`ports::Clock`], so expiry rules are tested without sleeping.
//!
//! This crate depends on no I/O crate (no database, HTTP, bcrypt, JWT or SMTP library); CI
//! checks it with `cargo tree`.

pub mod audit;
pub mod error;
pub mod listing;
pub mod mail;
pub mod ports;
pub mod role;
pub mod services;
pub mod session;
pub mod tenant;
pub mod token;
pub mod user;

pub use error::{FieldError, InfraError, ValidationErrors};
