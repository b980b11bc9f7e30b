# Roster's everyday commands. `just` lists them.

_default:
    @just --list

# Format the workspace.
fmt:
    cargo fmt --all

# Lints, as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# The whole suite: SQLite and PostgreSQL (needs PostgreSQL on 127.0.0.1:5432 or ROSTER_TEST_POSTGRES_URL).
test:
    cargo test --workspace

# Only the PostgreSQL half of the backend suites.
test-pg:
    cargo test --workspace postgres::

# The domain depends on no I/O crate; adapters only on the domain.
check-boundaries:
    bash scripts/check-boundaries.sh

# roster-domain as a library: a throwaway consumer crate, and rust-version against the toolchain.
check-consumer:
    bash scripts/check-rust-version.sh
    bash scripts/check-consumer.sh

# Serve on the zero-setup default (SQLite under ./data).
run:
    cargo run --release

# Everything CI does.
ci:
    bash .ci/run


# Load benchmarks on SQLite and PostgreSQL; writes the table into docs/benchmarks.md.
bench:
    bash scripts/bench.sh
# The per-request session check through HTTP, on SQLite and PostgreSQL (results: docs/benchmarks.md).
bench-session:
    cargo test --release -p roster-app --test api -- --ignored --nocapture --test-threads 1 bench_session_check
# Listing at 1,000,000 users on SQLite and PostgreSQL, page 1 and deep cursor for each sort and filter.
bench-listing:
    bash scripts/bench-listing.sh
