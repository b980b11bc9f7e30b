//! The routes, each resource answering 405 with `Allow` for the methods it lacks.

pub mod admin;
pub mod auth;
pub mod health;
pub mod internal;
pub mod lifecycle;
pub mod listing;
pub mod me;
pub mod pages;
pub mod sessions;
pub mod users;

use actix_web::http::Method;
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
pub(crate) fn resource(path: &str, allow: impl Into<String>) -> actix_web::Resource {
    let allow: String = allow.into();
    web::resource(path).default_service(web::to(move || {
        let allow = allow.clone();
        async move { Err::<actix_web::HttpResponse, _>(ApiError::method_not_allowed(allow)) }
    }))
}

/// One route: where, which method, the handler, and the per-IP rate limit in front of it.
pub struct Endpoint {
    /// Path template, as in the OpenAPI document (`/api/users/{id}`).
    pub path: &'static str,
    /// Method.
    pub method: Method,
    route: fn() -> actix_web::Route,
    limit: Option<Rule>,
}

impl Endpoint {
    fn new(path: &'static str, method: Method, route: fn() -> actix_web::Route) -> Self {
        Self {
            path,
            method,
            route,
            limit: None,
        }
    }

    /// The per-IP rate-limit rule in front of this route, if any.
    pub fn limit(&self) -> Option<Rule> {
        self.limit
    }

    /// Counts every request of this route against `rule`, keyed by client IP.
    fn limited(mut self, rule: Rule) -> Self {
        self.limit = Some(rule);
        self
    }
}

/// Every route of the API. [`configure`] registers exactly these, and a test checks that
/// each one is in the OpenAPI document.
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new("/health", Method::GET, || web::get().to(health::health)),
        Endpoint::new("/ready", Method::GET, || web::get().to(health::ready)),
        Endpoint::new("/metrics", Method::GET, || {
            web::get().to(crate::metrics::scrape)
        }),
        Endpoint::new("/.well-known/jwks.json", Method::GET, || {
            web::get().to(health::jwks)
        }),
        Endpoint::new("/confirm", Method::GET, || {
            web::get().to(pages::confirm_page)
        }),
        Endpoint::new("/reset-password", Method::GET, || {
            web::get().to(pages::reset_page)
        }),
        Endpoint::new("/api/auth/register", Method::POST, || {
            web::post().to(auth::register)
        })
        .limited(Rule::Register),
        Endpoint::new("/api/auth/confirm", Method::POST, || {
            web::post().to(auth::confirm)
        })
        .limited(Rule::ConfirmIp),
        Endpoint::new("/api/auth/resend-confirmation", Method::POST, || {
            web::post().to(lifecycle::resend_confirmation)
        })
        .limited(Rule::ConfirmIp),
        Endpoint::new("/api/auth/password-reset/request", Method::POST, || {
            web::post().to(lifecycle::request_password_reset)
        })
        .limited(Rule::ResetIp),
        Endpoint::new("/api/auth/password-reset/confirm", Method::POST, || {
            web::post().to(lifecycle::confirm_password_reset)
        })
        .limited(Rule::ResetIp),
        Endpoint::new("/api/auth/login", Method::POST, || {
            web::post().to(auth::login)
        })
        .limited(Rule::LoginIp),
        Endpoint::new("/api/auth/refresh", Method::POST, || {
            web::post().to(sessions::refresh)
        }),
        Endpoint::new("/api/auth/logout", Method::POST, || {
            web::post().to(sessions::logout)
        }),
        Endpoint::new("/api/auth/logout-all", Method::POST, || {
            web::post().to(sessions::logout_all)
        }),
        Endpoint::new("/api/auth/sessions", Method::GET, || {
            web::get().to(sessions::list)
        }),
        Endpoint::new("/api/auth/sessions/{id}", Method::DELETE, || {
            web::delete().to(sessions::revoke)
        }),
        Endpoint::new("/api/auth/me", Method::GET, || {
            web::get().to(users::auth_me)
        }),
        Endpoint::new("/api/users/me", Method::GET, || web::get().to(users::me)),
        Endpoint::new("/api/users/me", Method::PATCH, || {
            web::patch().to(me::update_me)
        }),
        Endpoint::new("/api/users/me", Method::DELETE, || {
            web::delete().to(me::delete_me)
        }),
        Endpoint::new("/api/users", Method::POST, || {
            web::post().to(admin::create_user)
        })
        .limited(Rule::Register),
        Endpoint::new("/api/users/{id}", Method::GET, || {
            web::get().to(admin::get_user)
        }),
        Endpoint::new("/api/users/{id}", Method::PATCH, || {
            web::patch().to(admin::update_user)
        }),
        Endpoint::new("/api/users/{id}", Method::DELETE, || {
            web::delete().to(admin::delete_user)
        }),
        Endpoint::new("/api/users/{id}/deactivate", Method::PATCH, || {
            web::patch().to(admin::deactivate)
        }),
        Endpoint::new("/api/users/{id}/reactivate", Method::PATCH, || {
            web::patch().to(admin::reactivate)
        }),
        Endpoint::new("/api/users/by-email/{email}", Method::GET, || {
            web::get().to(admin::by_email)
        }),
        Endpoint::new("/api/users/by-username/{username}", Method::GET, || {
            web::get().to(admin::by_username)
        }),
        Endpoint::new("/api/users/{id}/roles", Method::POST, || {
            web::post().to(admin::add_role)
        }),
        Endpoint::new("/api/users/{id}/roles/{role}", Method::DELETE, || {
            web::delete().to(admin::remove_role)
        }),
        Endpoint::new("/api/users/{id}/tenants/{tenant_id}", Method::PUT, || {
            web::put().to(admin::set_tenant)
        }),
        Endpoint::new(
            "/api/users/{id}/tenants/{tenant_id}",
            Method::DELETE,
            || web::delete().to(admin::remove_tenant),
        ),
        Endpoint::new("/api/roles", Method::GET, || {
            web::get().to(admin::list_roles)
        }),
        Endpoint::new("/api/roles", Method::POST, || {
            web::post().to(admin::create_role)
        }),
        Endpoint::new("/api/audit-events", Method::GET, || {
            web::get().to(admin::audit_events)
        }),
        Endpoint::new("/internal/users", Method::GET, || {
            web::get().to(internal::list_users)
        }),
        Endpoint::new("/internal/users", Method::POST, || {
            web::post().to(internal::create_user)
        }),
        Endpoint::new("/internal/users/{id}", Method::GET, || {
            web::get().to(internal::get_user)
        }),
        Endpoint::new("/internal/users/{id}", Method::PATCH, || {
            web::patch().to(internal::update_user)
        }),
        Endpoint::new("/internal/users/{id}", Method::DELETE, || {
            web::delete().to(internal::delete_user)
        }),
        Endpoint::new(
            "/internal/users/by-external-id/{external_id}",
            Method::GET,
            || web::get().to(internal::by_external_id),
        ),
        Endpoint::new(
            "/internal/users/by-external-id/{external_id}",
            Method::PUT,
            || web::put().to(internal::upsert),
        ),
        Endpoint::new("/api/users", Method::GET, || {
            web::get().to(listing::list_users)
        }),
        Endpoint::new("/api/users/search", Method::POST, || {
            web::post().to(listing::search_users)
        }),
        Endpoint::new("/api/users/by-role/{role}", Method::GET, || {
            web::get().to(listing::users_by_role)
        }),
    ]
}

/// Which segments of a path template are parameters: sorting by it puts literal segments
/// before parameters at the first place two templates differ.
fn parameter_segments(path: &str) -> Vec<bool> {
    path.split('/')
        .map(|segment| segment.starts_with('{'))
        .collect()
}

/// Registers every route, one resource per path; other methods get 405 with `Allow`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let endpoints = endpoints();
    let mut paths: Vec<&'static str> = Vec::new();
    for endpoint in &endpoints {
        if !paths.contains(&endpoint.path) {
            paths.push(endpoint.path);
        }
    }
    // Literal segments before parameters, segment by segment, so that `/api/users/search`
    // or `/api/users/by-email/{email}` is matched before `/api/users/{id}` or
    // `/api/users/{id}/roles`, whatever the order of `endpoints()`.
    paths.sort_by_key(|path| parameter_segments(path));
    for path in paths {
        let here: Vec<&Endpoint> = endpoints.iter().filter(|e| e.path == path).collect();
        let allow = here
            .iter()
            .map(|e| e.method.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let mut resource = resource(path, allow);
        for endpoint in here {
            // The limit wraps its route only: another method of the same path (`GET` and
            // `POST /api/users`) is not counted against it.
            resource = match endpoint.limit {
                Some(rule) => resource.route((endpoint.route)().wrap(from_fn(per_ip(rule)))),
                None => resource.route((endpoint.route)()),
            };
        }
        cfg.service(resource);
    }
    // The pages' own script and stylesheet: static assets, not API routes.
    cfg.service(resource("/assets/pages.js", "GET").route(web::get().to(pages::script)))
        .service(resource("/assets/pages.css", "GET").route(web::get().to(pages::stylesheet)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::OpenApi;

    #[test]
    fn every_route_is_in_the_openapi_document() {
        let doc = crate::openapi::ApiDoc::openapi();
        for endpoint in endpoints() {
            let item = doc.paths.paths.get(endpoint.path);
            let operation = item.and_then(|item| match endpoint.method {
                Method::GET => item.get.as_ref(),
                Method::POST => item.post.as_ref(),
                Method::PUT => item.put.as_ref(),
                Method::PATCH => item.patch.as_ref(),
                Method::DELETE => item.delete.as_ref(),
                _ => None,
            });
            assert!(
                operation.is_some(),
                "{} {} has no OpenAPI entry",
                endpoint.method,
                endpoint.path
            );
        }
    }

    #[test]
    fn literal_segments_are_matched_before_parameters() {
        let mut paths = vec![
            "/api/users/{id}/roles",
            "/api/users/{id}",
            "/api/users/search",
            "/api/users/by-email/{email}",
            "/api/users/me",
        ];
        paths.sort_by_key(|p| parameter_segments(p));
        assert_eq!(
            paths,
            [
                "/api/users/search",
                "/api/users/me",
                "/api/users/by-email/{email}",
                "/api/users/{id}",
                "/api/users/{id}/roles",
            ]
        );
    }

    #[test]
    fn the_document_has_no_route_that_does_not_exist() {
        let doc = crate::openapi::ApiDoc::openapi();
        let known: Vec<&str> = endpoints().iter().map(|e| e.path).collect();
        for path in doc.paths.paths.keys() {
            assert!(
                known.contains(&path.as_str()),
                "{path} is documented but not routed"
            );
        }
    }
}
