#!/usr/bin/env bash
# A consumer outside the workspace: a throwaway crate that depends on crates/domain by path
# with features memory + contract-tests and on nothing else of ours. It must build, pass the
# exported contract suite on the in-memory adapters, run a use case wired to them, and hold
# no I/O crate in its dependency tree.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/src" "$dir/tests"

# Same toolchain, same versions as the workspace: a copy of its lock file pins them (cargo
# drops the entries the consumer does not use).
cp rust-toolchain.toml Cargo.lock "$dir/"
cat >"$dir/Cargo.toml" <<TOML
[package]
name = "roster-consumer-check"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
roster-domain = { path = "$root/crates/domain", features = ["memory", "contract-tests"] }
chrono = { version = "0.4", default-features = false, features = ["clock", "std"] }

[dev-dependencies]
# The consumer's own choice of runtime for its tests; roster-domain brings none.
tokio = { version = "1", features = ["macros", "rt"] }
TOML

cat >"$dir/src/lib.rs" <<'RUST'
//! Someone else's service, embedding Roster's account rules.

use std::sync::Arc;

use chrono::{Duration, Utc};
use roster_domain::memory::{MemoryStore, TestPasswordHasher, TestSecretTokens};
use roster_domain::ports::ManualClock;
use roster_domain::services::{Accounts, AccountsConfig, AccountsPorts};

/// The account use cases over `store`.
pub fn accounts(store: &MemoryStore) -> Accounts {
    Accounts::new(
        AccountsPorts {
            users: Arc::new(store.users()),
            hasher: Arc::new(TestPasswordHasher::new()),
            secrets: Arc::new(TestSecretTokens::new()),
            clock: Arc::new(ManualClock::new(Utc::now())),
        },
        AccountsConfig {
            confirmation_ttl: Duration::hours(24),
            reset_ttl: Duration::hours(1),
        },
    )
}
RUST

cat >"$dir/tests/embedding.rs" <<'RUST'
use roster_consumer_check::accounts;
use roster_domain::audit::RequestContext;
use roster_domain::contract;
use roster_domain::memory::MemoryStore;
use roster_domain::services::{RegisterError, RegisterInput};

#[tokio::test]
async fn the_in_memory_adapters_keep_every_port_contract() {
    contract::full_contract(|| async { MemoryStore::new().contract_store() }).await;
}

#[tokio::test]
async fn a_registration_runs_on_the_embedded_rules() {
    let store = MemoryStore::new();
    let accounts = accounts(&store);
    let input = RegisterInput {
        email: Some("ada@example.com".into()),
        password: Some("Correct-Horse-42".into()),
        ..RegisterInput::default()
    };
    let ctx = RequestContext::default();
    accounts.register(input.clone(), &ctx).await.expect("registered");
    assert!(matches!(
        accounts.register(input, &ctx).await,
        Err(RegisterError::EmailTaken)
    ));
    assert_eq!(store.outbox_depth(), 1, "the confirmation mail is queued");
}
RUST

export CARGO_TARGET_DIR="$root/target/consumer-check"
cd "$dir"
echo "consumer crate in $dir: cargo test"
cargo test --quiet

# Its normal dependency tree: roster-domain is the only crate of ours, and no I/O crate.
names="$(cargo tree -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)"
grep -qx roster-domain <<<"$names" || { echo "cargo tree does not list roster-domain"; exit 1; }
fail=0
ours="$(grep '^roster-' <<<"$names" | grep -vx -e roster-domain -e roster-consumer-check || true)"
if [ -n "$ours" ]; then
  echo "the consumer pulls in other crates of ours: $ours"; fail=1
fi
for bad in diesel diesel-async actix-web bcrypt jsonwebtoken lettre tokio-postgres serde_json \
  tokio mio hyper reqwest redis libsqlite3-sys sqlx async-std; do
  if grep -qx "$bad" <<<"$names"; then
    echo "a consumer of roster-domain [memory, contract-tests] gets $bad"; fail=1
  fi
done
[ "$fail" = 0 ] && echo "consumer check passed: roster-domain with memory + contract-tests builds, passes its contract, and brings no I/O crate"
exit "$fail"
