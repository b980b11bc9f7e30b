//! `GET /health` and `GET /ready`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use crate::dto::HealthBody;
use crate::error::ApiError;
use crate::state::HttpState;

/// 200 while the process runs.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "The process runs", body = HealthBody)))]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(HealthBody { status: "ok" })
}

/// 200 when the database answers, else 503.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses(
        (status = 200, description = "The database answers", body = HealthBody),
        (status = 503, description = "`not_ready`: the database does not answer", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn ready(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    if state.readiness.ready().await {
        Ok(HttpResponse::Ok().json(HealthBody { status: "ready" }))
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the database is not answering",
        ))
    }
}

/// `GET /.well-known/jwks.json`: the public key access tokens are signed with (EdDSA), or
/// `{"keys": []}` under HS256. Public and cacheable for a short while.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth",
    responses((status = 200, description = "JSON Web Key Set of the access-token signing key (Ed25519, `kid`); empty under HS256",
        body = Object, content_type = "application/json")))]
pub async fn jwks(state: web::Data<HttpState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            actix_web::http::header::CACHE_CONTROL,
            "public, max-age=300",
        ))
        .json(state.jwks.as_ref())
}
