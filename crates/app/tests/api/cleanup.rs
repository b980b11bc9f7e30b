//! The cleanup job, driven by the manual clock.

use chrono::Duration;
use roster_persistence_diesel::BackendKind;
use serde_json::json;

use crate::helpers::{PASSWORD, spawn_app};
use crate::on_both_backends;

async fn a_pending_account_is_deleted_once_its_confirmation_has_run_out(kind: BackendKind) {
    let app = spawn_app(kind).await;
    assert_eq!(app.register("ada@example.com", PASSWORD).await.status, 201);
    let token = app.confirmation_token("ada@example.com").await;
    assert_eq!(app.register("bob@example.com", PASSWORD).await.status, 201);

    app.clock.advance(Duration::hours(23));
    let early = app.services.cleanup.run_once().await.unwrap().unwrap();
    assert_eq!(early.pending_accounts, 0, "{early:?}");

    // Bob asks for a new link late: his account lives as long as that link.
    let resent = app
        .post(
            "/api/auth/resend-confirmation",
            &json!({"email": "bob@example.com"}),
        )
        .await;
    assert_eq!(resent.status, 202);
    let _first = app.confirmation_token("bob@example.com").await;
    let bobs = app.confirmation_token("bob@example.com").await;

    app.clock.advance(Duration::hours(1));
    let report = app.services.cleanup.run_once().await.unwrap().unwrap();
    assert_eq!(report.pending_accounts, 1, "{report:?}");

    let gone = app.confirm(&token).await;
    assert_eq!((gone.status, gone.code()), (400, "invalid_token"));
    assert_eq!(
        app.register("ada@example.com", PASSWORD).await.status,
        201,
        "the address is free again"
    );
    assert_eq!(
        app.confirm(&bobs).await.status,
        200,
        "Bob's new link still works"
    );
}

async fn dead_sessions_go_after_a_grace_period_and_live_ones_stay(kind: BackendKind) {
    let app = spawn_app(kind).await;
    let live = app.active_user("ada@example.com").await;
    app.clock.advance(Duration::days(3));
    let report = app.services.cleanup.run_once().await.unwrap().unwrap();
    assert_eq!(report.sessions, 0, "{report:?}");
    assert_eq!(
        app.get("/api/users/me", Some(&live)).await.status,
        401,
        "access token expired"
    );
    // Past the absolute lifetime (30 days) plus a day's grace, the session row goes.
    app.clock.advance(Duration::days(29));
    let report = app.services.cleanup.run_once().await.unwrap().unwrap();
    assert_eq!(report.sessions, 1, "{report:?}");
}

async fn only_one_instance_runs_the_cleanup_per_interval(kind: BackendKind) {
    let app = spawn_app(kind).await;
    let other = roster_domain::services::Cleanup::new(
        std::sync::Arc::new(roster_persistence_diesel::DieselMaintenance::new(
            app.services.database.clone(),
        )),
        app.clock.clone(),
        roster_domain::services::CleanupConfig {
            confirmation_ttl: Duration::hours(24),
            session_grace: Duration::days(1),
            lease: Duration::hours(1),
        },
        "another-instance".to_owned(),
    );
    // The app ran the job at start and holds the lease for the interval.
    assert!(app.services.cleanup.run_once().await.unwrap().is_some());
    assert!(other.run_once().await.unwrap().is_none());
    app.clock.advance(Duration::hours(1));
    assert!(
        other.run_once().await.unwrap().is_some(),
        "the lease ran out"
    );
    assert!(app.services.cleanup.run_once().await.unwrap().is_none());
}

on_both_backends!(
    a_pending_account_is_deleted_once_its_confirmation_has_run_out,
    dead_sessions_go_after_a_grace_period_and_live_ones_stay,
    only_one_instance_runs_the_cleanup_per_interval,
);
