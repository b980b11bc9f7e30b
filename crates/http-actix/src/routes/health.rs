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
