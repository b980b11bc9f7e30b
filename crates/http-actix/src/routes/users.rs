//! User routes.

use actix_web::HttpResponse;

use crate::auth::Authenticated;
use crate::dto::{Envelope, UserBody};
use crate::error::ApiError;

/// `GET /api/users/me` and `GET /api/auth/me`: the caller's own account.
pub async fn me(caller: Authenticated) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(Envelope::new(UserBody::from(&caller.0.user))))
}
