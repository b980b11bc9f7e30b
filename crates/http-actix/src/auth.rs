//! The authenticated caller, extracted from `Authorization: Bearer` or the `access_token`
//! cookie. Never from the query string.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use roster_domain::services::Principal;

use crate::error::ApiError;
use crate::state::HttpState;

/// Name of the cookie that may carry the access token.
pub const ACCESS_TOKEN_COOKIE: &str = "access_token";

/// Longest token considered; anything longer is refused unread.
const MAX_TOKEN_LEN: usize = 4096;

/// A request whose access token is valid, whose session is live and whose user is active.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

fn bearer(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "send exactly one Authorization header",
        ));
    }
    let value = first.to_str().map_err(|_| {
        ApiError::unauthorized("invalid_token", "the Authorization header is malformed")
    })?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthorized("invalid_token", "expected 'Bearer <token>'"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "expected 'Bearer <token>'",
        ));
    }
    Ok(Some(token.trim().to_owned()))
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let token = bearer(req).map(|found| {
            found.or_else(|| {
                req.cookie(ACCESS_TOKEN_COOKIE)
                    .map(|c| c.value().to_owned())
            })
        });
        let state = req.app_data::<web::Data<HttpState>>().cloned();
        Box::pin(async move {
            let token = token?.ok_or_else(|| {
                ApiError::unauthorized("missing_token", "an access token is required")
            })?;
            if token.is_empty() || token.len() > MAX_TOKEN_LEN {
                return Err(ApiError::unauthorized(
                    "invalid_token",
                    "the access token is invalid",
                ));
            }
            let state = state.ok_or_else(|| {
                ApiError::from(roster_domain::InfraError::unexpected("HTTP state missing"))
            })?;
            // The lookup is cancellation-safe: the persistence adapter runs it as a task of
            // its own, so being dropped here (another extractor failed first) cuts nothing short.
            let principal = state.sessions.authenticate(&token).await?;
            Ok(Self(principal))
        })
    }
}
