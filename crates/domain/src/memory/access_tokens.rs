//! [`TestAccessTokens`]: opaque access tokens remembered in memory, for tests only.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};

use crate::error::InfraError;
use crate::ports::{AccessTokens, TokenRejected};
use crate::session::AccessClaims;

/// Access tokens for tests: **not for production**.
///
/// Instead of signing, the instance remembers the claims of each token it issued (for as
/// long as it lives, so memory grows with every token). A token it did not issue is
/// [`TokenRejected::Invalid`]; one presented at or after its `exp` is
/// [`TokenRejected::Expired`], with no leeway, as the port requires. Tokens read
/// `test-access-<jti>`.
///
/// ```
/// use chrono::{DateTime, Duration, Utc};
/// use roster_domain::memory::TestAccessTokens;
/// use roster_domain::ports::{AccessTokens, TokenRejected};
/// use roster_domain::session::{AccessClaims, SessionId};
/// use roster_domain::user::UserId;
///
/// let tokens = TestAccessTokens::new();
/// let now = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
/// let claims = AccessClaims {
///     sub: UserId::generate(),
///     sid: SessionId::generate(),
///     roles: vec![],
///     iat: now.timestamp(),
///     exp: now.timestamp() + 60,
///     jti: uuid::Uuid::now_v7(),
/// };
/// let token = tokens.issue(&claims).unwrap();
/// assert_eq!(tokens.verify(&token, now), Ok(claims));
/// assert_eq!(tokens.verify(&token, now + Duration::seconds(60)), Err(TokenRejected::Expired));
/// assert_eq!(tokens.verify("forged", now), Err(TokenRejected::Invalid));
/// ```
#[derive(Debug, Default)]
pub struct TestAccessTokens {
    issued: Mutex<HashMap<String, AccessClaims>>,
}

impl TestAccessTokens {
    /// An issuer that has issued nothing yet.
    pub fn new() -> Self {
        Self::default()
    }
}

impl AccessTokens for TestAccessTokens {
    fn issue(&self, claims: &AccessClaims) -> Result<String, InfraError> {
        let token = format!("test-access-{}", claims.jti);
        let mut issued = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
        if issued.contains_key(&token) {
            return Err(InfraError::unexpected("a jti was reused"));
        }
        issued.insert(token.clone(), claims.clone());
        Ok(token)
    }

    fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, TokenRejected> {
        let issued = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
        let claims = issued.get(token).ok_or(TokenRejected::Invalid)?;
        if now.timestamp() >= claims.exp {
            return Err(TokenRejected::Expired);
        }
        Ok(claims.clone())
    }
}
