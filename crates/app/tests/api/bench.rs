//! The cost of the per-request session check, measured through HTTP. Ignored by default:
//! `just bench-session` runs it (see docs/benchmarks.md).

#![expect(clippy::print_stdout, reason = "a benchmark prints its results")]

use std::time::{Duration, Instant};

use roster_persistence_diesel::BackendKind;

use crate::helpers::{TestApp, spawn_app};

const WARM_UP: usize = 200;
const ROUNDS: usize = 2000;

struct Stats {
    mean: Duration,
    p50: Duration,
    p99: Duration,
}

async fn measure(app: &TestApp, path: &str, token: Option<&str>, expect: u16) -> Stats {
    let call = || async {
        let mut request = app.client.get(app.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), expect, "{path}");
        response.bytes().await.unwrap();
    };
    for _ in 0..WARM_UP {
        call().await;
    }
    let mut samples = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        call().await;
        samples.push(started.elapsed());
    }
    samples.sort();
    let total: Duration = samples.iter().sum();
    Stats {
        mean: total / u32::try_from(ROUNDS).unwrap(),
        p50: samples[ROUNDS / 2],
        p99: samples[ROUNDS * 99 / 100],
    }
}

async fn bench(kind: BackendKind) {
    let app = spawn_app(kind).await;
    let access = app.active_user("ada@example.com").await;
    let forged = format!("{access}x");
    let rows = [
        ("GET /health (no auth)", "/health", None, 200),
        (
            "GET /api/users/me, bad signature (JWT only)",
            "/api/users/me",
            Some(forged.as_str()),
            401,
        ),
        (
            "GET /api/users/me (JWT + session check + user)",
            "/api/users/me",
            Some(access.as_str()),
            200,
        ),
    ];
    println!("\n{kind:?}: {ROUNDS} sequential requests each, after {WARM_UP} to warm up");
    println!("| request | mean | p50 | p99 |\n|---|---|---|---|");
    for (name, path, token, expect) in rows {
        let s = measure(&app, path, token, expect).await;
        println!(
            "| {name} | {:.0} µs | {:.0} µs | {:.0} µs |",
            s.mean.as_secs_f64() * 1e6,
            s.p50.as_secs_f64() * 1e6,
            s.p99.as_secs_f64() * 1e6
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run with `just bench-session`"]
async fn bench_session_check_sqlite() {
    bench(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run with `just bench-session`"]
async fn bench_session_check_postgres() {
    bench(BackendKind::Postgres).await;
}
