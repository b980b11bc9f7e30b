//! Use-case services: each takes its ports and a clock in its constructor.

mod accounts;
mod admin;
mod cleanup;
mod listing;
mod mail_delivery;
mod self_service;
mod sessions;
#[cfg(test)]
mod tests;

use crate::error::{Collector, FieldError, InfraError, Violation};
use crate::ports::UserRepository;
use crate::user::{UserId, Username};

/// The refusal of a present `null` for a field that cannot be cleared.
fn required(field: &str) -> FieldError {
    FieldError::new(field, "required", format!("{field} must not be null"))
}

/// A field that can be cleared: `Some(Some(v))` parsed, `Some(None)` cleared, `None`
/// unchanged; `None` overall when parsing failed (the violation is in `errors`).
fn optional<T>(
    errors: &mut Collector,
    field: &str,
    raw: Option<&Option<String>>,
    parse: impl Fn(&str) -> Result<T, Violation>,
) -> Option<Option<Option<T>>> {
    match raw {
        None => Some(None),
        Some(None) => Some(Some(None)),
        Some(Some(raw)) => errors.field(field, parse(raw)).map(|v| Some(Some(v))),
    }
}

/// A field that cannot be cleared: `Some(Some(v))` parsed, `Some(None)` unchanged; a present
/// `null` is refused as [`required`]. `None` when refused (the violation is in `errors`).
fn not_null<R, T>(
    errors: &mut Collector,
    field: &str,
    raw: Option<&Option<R>>,
    parse: impl FnOnce(&R) -> Result<T, Violation>,
) -> Option<Option<T>> {
    match raw {
        None => Some(None),
        Some(None) => {
            errors.push(required(field));
            None
        }
        Some(Some(raw)) => errors.field(field, parse(raw)).map(Some),
    }
}

/// Candidates tried in order (`ada`, `ada-2`, ...) before a random suffix.
const USERNAME_ATTEMPTS: u32 = 20;

/// A free username made from `source` (an email's local part, an external id): its valid
/// characters, padded to the minimum length, then the first of `base`, `base-2`, ... that no
/// account holds, starting `attempt` candidates further on (a retry after a race); past
/// [`USERNAME_ATTEMPTS`] candidates, the base with a random suffix.
async fn free_username(
    users: &dyn UserRepository,
    source: &str,
    attempt: u32,
) -> Result<Username, InfraError> {
    let base = Username::derive_base(source);
    for n in (1 + attempt)..=(USERNAME_ATTEMPTS + attempt) {
        if let Some(candidate) = Username::candidate(&base, n)
            && !users.username_exists(&candidate).await?
        {
            return Ok(candidate);
        }
    }
    // A very crowded base: a random suffix, unique in practice.
    let suffix = &UserId::generate().as_uuid().simple().to_string()[20..];
    let room = crate::user::MAX_USERNAME_LEN - suffix.len() - 1;
    let base: String = base.chars().take(room).collect();
    Username::parse(&format!("{base}-{suffix}"))
        .map_err(|v| InfraError::unexpected(format!("derived username invalid: {v}")))
}

pub use accounts::{
    Accounts, AccountsConfig, AccountsPorts, BootstrapError, ConfirmError, NewAdmin, RegisterError,
    RegisterInput, ResetPasswordError,
};
pub use admin::{
    AdminError, AdminUpdateInput, Administration, AdministrationPorts, AuditEventsPage,
    AuditQueryInput, CreateUserInput, MAX_EXTERNAL_ID_LEN, parse_external_id,
};
pub use cleanup::{CLEANUP_JOB, Cleanup, CleanupConfig};
pub use listing::{ListError, UserList, UserListing};
pub use mail_delivery::{DeliveryReport, MailDelivery, RetryPolicy};
pub use self_service::{DeleteMeError, UpdateMeError, UpdateMeInput};
pub use sessions::{
    AuthError, LoginError, LoginInput, LoginSuccess, OwnSession, Principal, RefreshError,
    RevokeSessionError, Sessions, SessionsPorts,
};
