//! The OpenAPI 3.1 document, generated from the handlers' annotations, and Swagger UI served
//! from the binary (no CDN).

use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::openapi_rules::{CommonResponses, FieldRules};
use crate::routes;

/// The security schemes the routes name.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("access_token"))),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))),
        );
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Roster",
        description = "Self-hosted user management: accounts, registration with email confirmation, \
                       login with JWT access tokens and refresh tokens, sessions, roles and tenants.\n\n\
                       Success bodies are `{\"data\": ...}`; errors are RFC 9457 problem details \
                       (`application/problem+json`) with a stable `code`.",
        license(name = "Apache-2.0"),
    ),
    paths(
        routes::auth::register,
        routes::auth::confirm,
        routes::auth::login,
        routes::lifecycle::resend_confirmation,
        routes::lifecycle::request_password_reset,
        routes::lifecycle::confirm_password_reset,
        routes::sessions::refresh,
        routes::sessions::logout,
        routes::sessions::logout_all,
        routes::sessions::list,
        routes::sessions::revoke,
        routes::health::jwks,
        routes::users::auth_me,
        routes::users::me,
        routes::me::update_me,
        routes::me::delete_me,
        routes::pages::confirm_page,
        routes::pages::reset_page,
        routes::health::health,
        routes::health::ready,
        crate::metrics::scrape,
        routes::admin::create_user,
        routes::admin::get_user,
        routes::admin::update_user,
        routes::admin::delete_user,
        routes::admin::deactivate,
        routes::admin::reactivate,
        routes::admin::by_email,
        routes::admin::by_username,
        routes::admin::add_role,
        routes::admin::remove_role,
        routes::admin::set_tenant,
        routes::admin::remove_tenant,
        routes::admin::list_roles,
        routes::admin::create_role,
        routes::admin::audit_events,
        routes::internal::list_users,
        routes::internal::create_user,
        routes::internal::get_user,
        routes::internal::update_user,
        routes::internal::delete_user,
        routes::internal::by_external_id,
        routes::internal::upsert,
        routes::listing::list_users,
        routes::listing::search_users,
        routes::listing::users_by_role,
    ),
    modifiers(&SecuritySchemes, &FieldRules, &CommonResponses),
    tags(
        (name = "auth", description = "Registration, confirmation, login, tokens and sessions"),
        (name = "users", description = "Accounts"),
        (name = "pages", description = "The HTML pages that confirmation and reset mails link to"),
        (name = "operations", description = "Health, readiness, metrics"),
        (name = "admin", description = "Administration: ADMIN, and MANAGER where noted. See docs/permissions.md"),
        (name = "internal", description = "The internal API for trusted backend services, with `X-Api-Key`. See docs/internal-api.md"),
    )
)]
pub struct ApiDoc;

/// The document as JSON.
pub fn document() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".to_owned())
}

/// `GET /api/openapi.json`.
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
}

/// Swagger UI under `/api/docs/`, its assets compiled into the binary.
pub fn swagger_ui() -> utoipa_swagger_ui::SwaggerUi {
    utoipa_swagger_ui::SwaggerUi::new("/api/docs/{_:.*}")
        .url("/api/docs/openapi.json", ApiDoc::openapi())
}

/// `GET /api/docs` redirects to `/api/docs/`.
pub async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("Location", "/api/docs/"))
        .finish()
}

/// Registers the document and the UI.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(routes::resource("/api/openapi.json", "GET").route(web::get().to(openapi_json)))
        .service(routes::resource("/api/docs", "GET").route(web::get().to(docs_redirect)))
        .service(swagger_ui());
}
