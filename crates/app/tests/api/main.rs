#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed step must fail the test"
)]

//! End-to-end tests: the real binary's wiring on a real port, a real database (SQLite and
//! PostgreSQL), real HTTP. One test binary for the whole suite.

mod admin;
mod bench;
mod browser;
mod cleanup;
mod cli;
mod encryption;
mod helpers;
mod internal;
mod journey;
mod lifecycle;
mod listing;
mod me;
mod outbox;
mod protocol;
mod rate_limits;
mod resilience;
mod sessions;
mod tokens;
