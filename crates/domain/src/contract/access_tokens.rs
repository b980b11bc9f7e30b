//! [`AccessTokens`] checks: what is issued verifies to the same claims until `exp` (with no
//! leeway), and a forged or altered token is refused.

use chrono::{DateTime, Duration, Utc};

use crate::ports::{AccessTokens, TokenRejected};
use crate::role::RoleName;
use crate::session::{AccessClaims, SessionId};
use crate::user::UserId;

/// Runs every [`AccessTokens`] check on `tokens`, issuing tokens at `now` (a whole second,
/// as token times are).
pub fn access_tokens_contract(tokens: &dyn AccessTokens, now: DateTime<Utc>) {
    let claims = AccessClaims {
        sub: UserId::generate(),
        sid: SessionId::generate(),
        roles: vec![RoleName::admin(), RoleName::user()],
        iat: now.timestamp(),
        exp: now.timestamp() + 900,
        jti: uuid::Uuid::now_v7(),
    };
    let token = tokens.issue(&claims).unwrap();
    assert_eq!(
        tokens.verify(&token, now),
        Ok(claims.clone()),
        "a token verifies to the claims it was issued with"
    );
    let last_second = now + Duration::seconds(899);
    assert!(tokens.verify(&token, last_second).is_ok());
    let at_exp = now + Duration::seconds(900);
    assert_eq!(
        tokens.verify(&token, at_exp),
        Err(TokenRejected::Expired),
        "expired at exp, with no leeway"
    );

    // Another token for the same user verifies to its own claims.
    let other = AccessClaims {
        jti: uuid::Uuid::now_v7(),
        roles: vec![RoleName::user()],
        ..claims
    };
    let other_token = tokens.issue(&other).unwrap();
    assert_ne!(other_token, token);
    assert_eq!(tokens.verify(&other_token, now), Ok(other));

    for forged in ["", "garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."] {
        assert_eq!(
            tokens.verify(forged, now),
            Err(TokenRejected::Invalid),
            "{forged:?} is refused"
        );
    }
    // One character changed in the middle of a real token.
    let mut altered: Vec<char> = token.chars().collect();
    let mut middle = altered.len() / 2;
    while altered.get(middle) == Some(&'.') {
        middle += 1;
    }
    altered[middle] = if altered[middle] == 'A' { 'B' } else { 'A' };
    let altered: String = altered.into_iter().collect();
    assert_eq!(
        tokens.verify(&altered, now),
        Err(TokenRejected::Invalid),
        "an altered token is refused"
    );
}
