//! `GET /health` and `GET /ready`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use crate::dto::HealthBody;
use crate::error::ApiError;
use crate::state::HttpState;

/// 200 while the process runs.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(HealthBody { status: "ok" })
}

/// 200 when the database answers, else 503.
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
pub async fn jwks(state: web::Data<HttpState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            actix_web::http::header::CACHE_CONTROL,
            "public, max-age=300",
        ))
        .json(state.jwks.as_ref())
}
