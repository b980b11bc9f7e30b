//! The routes, each resource answering 405 with `Allow` for the methods it lacks.

pub mod auth;
pub mod health;
pub mod sessions;
pub mod users;

use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, web};
use roster_domain::audit::RequestContext;

use crate::error::ApiError;
use crate::rate_limit::{Rule, per_ip};

/// Longest user agent recorded.
const MAX_USER_AGENT: usize = 256;

/// The facts of a request worth recording in audit events and sessions.
pub(crate) fn request_context(req: &HttpRequest) -> RequestContext {
    RequestContext {
        ip: crate::rate_limit::client_ip_text(req),
        user_agent: req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
    }
}

/// A resource at `path` whose other methods get 405 listing `allow`.
pub(crate) fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<actix_web::HttpResponse, _>(ApiError::method_not_allowed(allow))
    }))
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/health", "GET").route(web::get().to(health::health)))
        .service(resource("/ready", "GET").route(web::get().to(health::ready)))
        .service(resource("/.well-known/jwks.json", "GET").route(web::get().to(health::jwks)))
        .service(
            resource("/api/auth/register", "POST")
                .route(web::post().to(auth::register))
                .wrap(from_fn(per_ip(Rule::Register))),
        )
        .service(
            resource("/api/auth/confirm", "POST")
                .route(web::post().to(auth::confirm))
                .wrap(from_fn(per_ip(Rule::ConfirmIp))),
        )
        .service(
            resource("/api/auth/login", "POST")
                .route(web::post().to(auth::login))
                .wrap(from_fn(per_ip(Rule::LoginIp))),
        )
        .service(resource("/api/auth/refresh", "POST").route(web::post().to(sessions::refresh)))
        .service(resource("/api/auth/logout", "POST").route(web::post().to(sessions::logout)))
        .service(
            resource("/api/auth/logout-all", "POST").route(web::post().to(sessions::logout_all)),
        )
        .service(resource("/api/auth/sessions", "GET").route(web::get().to(sessions::list)))
        .service(
            resource("/api/auth/sessions/{id}", "DELETE").route(web::delete().to(sessions::revoke)),
        )
        .service(resource("/api/auth/me", "GET").route(web::get().to(users::me)))
        .service(resource("/api/users/me", "GET").route(web::get().to(users::me)));
}
