//! The routes, each resource answering 405 with `Allow` for the methods it lacks.

pub mod auth;
pub mod health;
pub mod lifecycle;
pub mod me;
pub mod pages;
pub mod users;

use actix_web::{HttpRequest, web};
use roster_domain::audit::RequestContext;

use crate::error::ApiError;

/// Longest user agent recorded.
const MAX_USER_AGENT: usize = 256;

/// The facts of a request worth recording in audit events and sessions.
pub(crate) fn request_context(req: &HttpRequest) -> RequestContext {
    RequestContext {
        ip: req.peer_addr().map(|addr| addr.ip().to_string()),
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
        .service(resource("/confirm", "GET").route(web::get().to(pages::confirm_page)))
        .service(resource("/reset-password", "GET").route(web::get().to(pages::reset_page)))
        .service(resource("/assets/pages.js", "GET").route(web::get().to(pages::script)))
        .service(resource("/assets/pages.css", "GET").route(web::get().to(pages::stylesheet)))
        .service(resource("/api/auth/register", "POST").route(web::post().to(auth::register)))
        .service(resource("/api/auth/confirm", "POST").route(web::post().to(auth::confirm)))
        .service(
            resource("/api/auth/resend-confirmation", "POST")
                .route(web::post().to(lifecycle::resend_confirmation)),
        )
        .service(
            resource("/api/auth/password-reset/request", "POST")
                .route(web::post().to(lifecycle::request_password_reset)),
        )
        .service(
            resource("/api/auth/password-reset/confirm", "POST")
                .route(web::post().to(lifecycle::confirm_password_reset)),
        )
        .service(resource("/api/auth/login", "POST").route(web::post().to(auth::login)))
        .service(resource("/api/auth/me", "GET").route(web::get().to(users::me)))
        .service(
            resource("/api/users/me", "GET, PATCH, DELETE")
                .route(web::get().to(users::me))
                .route(web::patch().to(me::update_me))
                .route(web::delete().to(me::delete_me)),
        );
}
