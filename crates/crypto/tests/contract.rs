#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed step must fail the test"
)]

//! The domain's contracts for the ports this crate implements (`roster_domain::contract`,
//! feature `contract-tests`): the same checks the in-memory test stand-ins pass.

use chrono::{TimeZone, Utc};
use roster_crypto::{BcryptHasher, HmacCursors, JwtAccessTokens, RandomSecretTokens};
use roster_domain::contract;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bcrypt_keeps_the_password_hasher_contract() {
    // The lowest cost: the contract is about behaviour, not strength.
    let hasher = BcryptHasher::new(4).unwrap();
    contract::password_hasher_contract(&hasher).await;
}

#[test]
fn hs256_tokens_keep_the_access_tokens_contract() {
    let tokens = JwtAccessTokens::hs256(
        b"0123456789abcdef0123456789abcdef-contract",
        "roster",
        "api",
    )
    .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    contract::access_tokens_contract(&tokens, now);
}

#[test]
fn random_secrets_keep_the_secret_tokens_contract() {
    contract::secret_tokens_contract(&RandomSecretTokens::new());
}

#[test]
fn hmac_cursors_keep_the_cursor_codec_contract() {
    contract::cursor_codec_contract(&HmacCursors::derived_from(b"a secret for the contract"));
}
