//! Session routes: refresh, logout, logout-all, and the caller's sessions.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use roster_domain::session::SessionId;
use roster_domain::{FieldError, ValidationErrors};

use crate::auth::Authenticated;
use crate::dto::{Envelope, ListEnvelope, RefreshRequest, SessionBody, TokensBody, UserBody};
use crate::error::{ApiError, Problem};
use crate::routes::request_context;
use crate::state::HttpState;

/// `POST /api/auth/refresh`: 200 with a new access token and the successor refresh token,
/// `Cache-Control: no-store`. The presented refresh token dies.
#[utoipa::path(
    post, path = "/api/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens; the presented refresh token no longer works", body = Envelope<TokensBody>,
            headers(("Cache-Control" = String, description = "no-store"))),
        (status = 401, description = "`invalid_token` (unknown or expired), or `token_reused`: a rotated token was presented again and the whole session is revoked", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`refresh_token` missing", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn refresh(
    state: web::Data<HttpState>,
    req: HttpRequest,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.into_inner().refresh_token.ok_or_else(|| {
        ApiError::validation(ValidationErrors(vec![FieldError::new(
            "refresh_token",
            "required",
            "refresh_token is required",
        )]))
    })?;
    let success = state
        .sessions
        .refresh(&token, &request_context(&req))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(Envelope::new(TokensBody {
            access_token: success.access_token,
            refresh_token: success.refresh_token,
            token_type: "Bearer",
            expires_in: success.expires_in,
            user: UserBody::from(&success.user),
        })))
}

/// `POST /api/auth/logout`: 204; this session's access and refresh tokens stop working.
#[utoipa::path(
    post, path = "/api/auth/logout", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "This session is revoked: its access and refresh tokens stop working at once"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn logout(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    state
        .sessions
        .logout(&caller.0, &request_context(&req))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/auth/logout-all`: 204; every session of the caller ends.
#[utoipa::path(
    post, path = "/api/auth/logout-all", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Every session of the caller is revoked"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn logout_all(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    state
        .sessions
        .logout_all(&caller.0, &request_context(&req))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/auth/sessions`: the caller's live sessions, most recently used first.
#[utoipa::path(
    get, path = "/api/auth/sessions", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The caller's live sessions; `current` marks the calling one", body = ListEnvelope<SessionBody>),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    state: web::Data<HttpState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let sessions = state.sessions.list_sessions(&caller.0).await?;
    let body: Vec<SessionBody> = sessions.iter().map(SessionBody::from).collect();
    Ok(HttpResponse::Ok().json(ListEnvelope::single_page(body)))
}

/// `DELETE /api/auth/sessions/{id}`: 204; 404 unless it is a live session of the caller.
#[utoipa::path(
    delete, path = "/api/auth/sessions/{id}", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "Session id (UUID)")),
    responses(
        (status = 204, description = "The session is revoked"),
        (status = 400, description = "`invalid_path`: not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a live session of the caller", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = uuid::Uuid::parse_str(&id.into_inner()).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_path",
            "the session id is not a UUID",
        )
    })?;
    state
        .sessions
        .revoke_session(&caller.0, SessionId::from_uuid(id), &request_context(&req))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
