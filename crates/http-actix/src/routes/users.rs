//! User routes.

use actix_web::HttpResponse;

use crate::auth::Authenticated;
use crate::dto::{Envelope, UserBody};
use crate::error::{ApiError, Problem};

/// `GET /api/users/me` and `GET /api/auth/me`: the caller's own account.
#[utoipa::path(
    get, path = "/api/users/me", tag = "users",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The caller's account, as stored now", body = Envelope<UserBody>),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn me(caller: Authenticated) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(Envelope::new(UserBody::from(&caller.0.user))))
}

/// `GET /api/auth/me`: the same as `GET /api/users/me`.
#[utoipa::path(
    get, path = "/api/auth/me", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The caller's account (alias of `GET /api/users/me`)", body = Envelope<UserBody>),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn auth_me(caller: Authenticated) -> Result<HttpResponse, ApiError> {
    me(caller).await
}
