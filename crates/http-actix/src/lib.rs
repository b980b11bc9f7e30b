//! # roster-http-actix
//!
//! The HTTP adapter of Roster's hexagon: actix-web routes over the domain's use-case services.
//! Handlers are thin: read the body (unknown fields refused), hand plain input to one service,
//! map the result to the `{"data": ...}` envelope or to an RFC 9457 problem with a stable
//! `code`. No SQL and no business rule lives here.
//!
//! Invariants:
//! * Bodies over 64 KiB get 413; non-JSON bodies 415; malformed ones 400; a known path with the
//!   wrong method 405 with `Allow`; unknown paths 404; all as problem+json.
//! * Every response carries `X-Content-Type-Options: nosniff` and `X-Request-Id`; API responses
//!   `Cache-Control: no-store`.
//! * 5xx answers say nothing of their cause; the cause chain is logged with the request id.

pub mod api_key;
pub mod auth;
pub mod dto;
pub mod error;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod openapi_rules;
pub mod rate_limit;
pub mod routes;
pub mod state;

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};

pub use error::ApiError;
pub use state::{HttpState, Readiness};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How long shutdown waits for in-flight requests.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Registers the routes, extractor configuration and fallbacks on an app; used by
/// [`server`] and by tests that build an app in process.
pub fn configure(state: web::Data<HttpState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(state)
            .app_data(
                web::JsonConfig::default()
                    .limit(MAX_BODY_BYTES)
                    .content_type_required(true)
                    .error_handler(error::json_error),
            )
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .app_data(web::PathConfig::default().error_handler(error::path_error))
            .app_data(web::QueryConfig::default().error_handler(error::query_error))
            .configure(routes::configure)
            .configure(openapi::configure)
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(ApiError::not_found())
            }));
    }
}

/// The HTTP server on `listener`, with `workers` worker threads. Signals are not handled
/// here: the caller stops the server (gracefully, waiting up to [`SHUTDOWN_GRACE`]).
///
/// # Errors
/// When the listener cannot be used.
pub fn server(listener: TcpListener, state: HttpState, workers: usize) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(actix_web::middleware::from_fn(middleware::observe))
            .configure(configure(state.clone()))
    })
    .workers(workers.max(1))
    .disable_signals()
    .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
    .listen(listener)?
    .run();
    Ok(server)
}
