//! Unit tests of the use-case services against mockall mocks of the ports.
//!
//! Time comes from a [`ManualClock`] standing at [`t0`]; nothing sleeps. Each test sets the
//! expectations it relies on; a port call that a test did not expect fails the test, so
//! "the repository is not touched" is asserted by leaving its mock without expectations
//! (or, where it reads better, with `.never()`).

mod accounts;
mod admin;
mod lifecycle;
mod listing;
mod mail_delivery;
mod self_service;
mod sessions;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::audit::RequestContext;
use crate::error::{FieldError, InfraError};
use crate::ports::ManualClock;
use crate::role::RoleName;
use crate::token::{GeneratedToken, TokenHash};
use crate::user::{
    Email, Name, NewUser, PasswordHash, Profile, User, UserId, UserStatus, Username,
};

/// The instant every test starts at.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 18, 30, 0).unwrap()
}

/// A clock standing at [`t0`].
fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(t0()))
}

/// The request facts of a client calling from a documentation address.
fn ctx() -> RequestContext {
    RequestContext {
        ip: Some("203.0.113.7".to_owned()),
        user_agent: Some("test-agent/1.0".to_owned()),
    }
}

/// A stored account: Ada, `ada@example.com`, username `ada`, role USER, created three days ago.
fn sample_user(status: UserStatus) -> User {
    let created_at = t0() - Duration::days(3);
    User {
        id: UserId::generate(),
        external_id: None,
        email: Some(Email::parse("ada@example.com").unwrap()),
        email_verified: status != UserStatus::Pending,
        username: Username::parse("ada").unwrap(),
        name: Some(Name::parse("Ada Lovelace").unwrap()),
        phone: None,
        avatar_url: None,
        profile: Profile::default(),
        status,
        roles: vec![RoleName::user()],
        tenants: vec![],
        last_login_at: None,
        login_count: 0,
        created_at,
        updated_at: created_at,
        deactivated_at: (status == UserStatus::Deactivated).then_some(t0() - Duration::days(1)),
    }
}

/// The user a repository hands back after storing `new`.
fn user_from_new(new: &NewUser) -> User {
    User {
        id: new.id,
        external_id: new.external_id.clone(),
        email: new.email.clone(),
        email_verified: new.email_verified,
        username: new.username.clone(),
        name: new.name.clone(),
        phone: new.phone.clone(),
        avatar_url: new.avatar_url.clone(),
        profile: new.profile.clone(),
        status: new.status,
        roles: new.roles.clone(),
        tenants: vec![],
        last_login_at: None,
        login_count: 0,
        created_at: new.created_at,
        updated_at: new.created_at,
        deactivated_at: None,
    }
}

/// The hash every mocked hasher produces.
fn stored_hash() -> PasswordHash {
    PasswordHash::new("$2b$04$hash-of-the-password")
}

/// The `n`-th secret a mocked [`crate::ports::SecretTokens`] generates.
fn generated(n: usize) -> GeneratedToken {
    GeneratedToken {
        raw: format!("raw-secret-{n}"),
        hash: TokenHash::new(format!("hash-of-secret-{n}")),
    }
}

/// A storage failure.
fn storage_down() -> InfraError {
    InfraError::unavailable("connection refused")
}

/// `(field, code)` of each field error, in order.
fn codes(errors: &[FieldError]) -> Vec<(&str, &'static str)> {
    errors.iter().map(|e| (e.field.as_str(), e.code)).collect()
}
