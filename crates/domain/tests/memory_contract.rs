#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed step must fail the test"
)]

//! The in-memory adapters keep the same port contracts as the database adapters: the one
//! suite that persistence-diesel runs on SQLite and PostgreSQL, run here on `MemoryStore`.

use chrono::{TimeZone, Utc};
use roster_domain::contract;
use roster_domain::memory::{
    MemoryStore, TestAccessTokens, TestCursorCodec, TestPasswordHasher, TestSecretTokens,
};

async fn store() -> contract::Store {
    MemoryStore::new().contract_store()
}

#[tokio::test]
async fn user_repository_contract() {
    contract::user_repository_contract(store).await;
}

#[tokio::test]
async fn session_repository_contract() {
    contract::session_repository_contract(store).await;
}

#[tokio::test]
async fn outbox_contract() {
    contract::outbox_contract(store).await;
}

#[tokio::test]
async fn maintenance_contract() {
    contract::maintenance_contract(store).await;
}

#[tokio::test]
async fn audit_log_contract() {
    contract::audit_log_contract(store).await;
}

#[tokio::test]
async fn user_administration_contract() {
    contract::user_administration_contract(store).await;
}

#[tokio::test]
async fn user_directory_contract() {
    contract::user_directory_contract(store).await;
}

#[tokio::test]
async fn the_full_contract_holds_every_check_once() {
    let names: Vec<_> = contract::all_checks().iter().map(|c| c.name).collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "check names are unique");
    contract::full_contract(store).await;
}

#[tokio::test]
async fn the_test_password_hasher_keeps_the_password_hasher_contract() {
    contract::password_hasher_contract(&TestPasswordHasher::new()).await;
}

#[test]
fn the_test_access_tokens_keep_the_access_tokens_contract() {
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    contract::access_tokens_contract(&TestAccessTokens::new(), now);
}

#[test]
fn the_test_secret_tokens_keep_the_secret_tokens_contract() {
    contract::secret_tokens_contract(&TestSecretTokens::new());
}

#[test]
fn the_test_cursor_codec_keeps_the_cursor_codec_contract() {
    contract::cursor_codec_contract(&TestCursorCodec::new());
}
