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

use crate::error::InfraError;
use crate::ports::UserRepository;
use crate::user::{UserId, Username};

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
