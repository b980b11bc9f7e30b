//! One-time tokens (email confirmation, password reset) and the hashes they are stored as.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::user::{Email, UserId, UserStatus};

/// The SHA-256 of a secret token, hex-encoded. Only this is ever stored.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    /// Wraps an encoded hash.
    pub fn new(hex: impl Into<String>) -> Self {
        Self(hex.into())
    }
    /// The encoded hash.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

/// A freshly generated secret: the raw value goes to the user once; the hash is stored.
#[derive(Clone)]
pub struct GeneratedToken {
    /// The secret, base64url without padding. Sent to the client or mailed; never stored.
    pub raw: String,
    /// Its hash, for storage and lookup.
    pub hash: TokenHash,
}

impl fmt::Debug for GeneratedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GeneratedToken(<redacted>)")
    }
}

/// What a one-time token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPurpose {
    /// Confirms the account's email address.
    EmailConfirmation,
    /// Authorises setting a new password.
    PasswordReset,
}

impl TokenPurpose {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmailConfirmation => "email_confirmation",
            Self::PasswordReset => "password_reset",
        }
    }
    /// Parses a stored name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "email_confirmation" => Some(Self::EmailConfirmation),
            "password_reset" => Some(Self::PasswordReset),
            _ => None,
        }
    }
}

/// A one-time token to store.
#[derive(Debug, Clone)]
pub struct NewOneTimeToken {
    /// Hash of the secret.
    pub hash: TokenHash,
    /// Purpose.
    pub purpose: TokenPurpose,
    /// Owner.
    pub user_id: UserId,
    /// For an email confirmation: the address being confirmed (a changed email waits here).
    pub email: Option<Email>,
    /// Issue time.
    pub created_at: DateTime<Utc>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
}

/// What confirming an email does, decided from the consumed token and the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmationDecision {
    /// Mark the email verified and a pending account active.
    Confirm,
    /// The token is expired and the account never confirmed: delete the account (its address
    /// and username become free again) and answer "expired".
    ExpireAndDeletePendingAccount,
    /// The token is expired; the account is otherwise in use: answer "expired".
    Expire,
}

/// The rule for a consumed confirmation token. Adapters call it inside the transaction
/// that consumed the token, so the decision and its effect are atomic.
///
/// ```
/// use chrono::{Duration, Utc};
/// use roster_domain::token::{ConfirmationDecision, decide_confirmation};
/// use roster_domain::user::UserStatus;
///
/// let expires_at = Utc::now();
/// let before = expires_at - Duration::seconds(1);
/// assert_eq!(
///     decide_confirmation(expires_at, UserStatus::Pending, before),
///     ConfirmationDecision::Confirm
/// );
/// // At the expiry instant the token is dead, and so is a never-confirmed account.
/// assert_eq!(
///     decide_confirmation(expires_at, UserStatus::Pending, expires_at),
///     ConfirmationDecision::ExpireAndDeletePendingAccount
/// );
/// assert_eq!(
///     decide_confirmation(expires_at, UserStatus::Active, expires_at),
///     ConfirmationDecision::Expire
/// );
/// ```
pub fn decide_confirmation(
    expires_at: DateTime<Utc>,
    status: UserStatus,
    now: DateTime<Utc>,
) -> ConfirmationDecision {
    if now < expires_at {
        ConfirmationDecision::Confirm
    } else if status == UserStatus::Pending {
        ConfirmationDecision::ExpireAndDeletePendingAccount
    } else {
        ConfirmationDecision::Expire
    }
}

/// What a consumed password-reset token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetDecision {
    /// Set the new password and revoke every session.
    Reset,
    /// The token expired: nothing changes, and the client hears "invalid token".
    Expired,
}

/// The rule for a password-reset token. Adapters call it inside the transaction that
/// consumes the token, so the decision and its effect are atomic.
///
/// ```
/// use chrono::{Duration, Utc};
/// use roster_domain::token::{ResetDecision, decide_reset};
///
/// let expires_at = Utc::now();
/// assert_eq!(decide_reset(expires_at, expires_at - Duration::seconds(1)), ResetDecision::Reset);
/// assert_eq!(decide_reset(expires_at, expires_at), ResetDecision::Expired);
/// ```
pub fn decide_reset(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> ResetDecision {
    if now < expires_at {
        ResetDecision::Reset
    } else {
        ResetDecision::Expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn a_token_is_good_until_the_instant_it_expires() {
        let at = DateTime::<Utc>::UNIX_EPOCH + Duration::days(1);
        let just_before = at - Duration::microseconds(1);
        assert_eq!(
            decide_confirmation(at, UserStatus::Pending, just_before),
            ConfirmationDecision::Confirm
        );
        assert_eq!(
            decide_confirmation(at, UserStatus::Pending, at),
            ConfirmationDecision::ExpireAndDeletePendingAccount
        );
        assert_eq!(
            decide_confirmation(at, UserStatus::Active, at),
            ConfirmationDecision::Expire
        );
    }

    #[test]
    fn a_reset_token_is_good_until_the_instant_it_expires() {
        let at = DateTime::<Utc>::UNIX_EPOCH + Duration::hours(2);
        assert_eq!(
            decide_reset(at, at - Duration::microseconds(1)),
            ResetDecision::Reset
        );
        assert_eq!(decide_reset(at, at), ResetDecision::Expired);
    }
}
