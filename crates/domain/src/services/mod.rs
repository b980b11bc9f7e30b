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
