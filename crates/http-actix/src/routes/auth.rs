//! Public auth routes: register, confirm, login.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use roster_domain::error::Collector;
use roster_domain::services::{LoginInput, RegisterInput};
use roster_domain::user::PasswordAttempt;
use roster_domain::{FieldError, ValidationErrors};

use crate::auth::ACCESS_TOKEN_COOKIE;
use crate::dto::{ConfirmRequest, Envelope, LoginRequest, RegisterRequest, TokensBody, UserBody};
use crate::error::{ApiError, Problem};
use crate::rate_limit::Rule;
use crate::routes::request_context;
use crate::state::HttpState;

/// `POST /api/auth/register`: 201 with the pending user; the confirmation mail is queued.
#[utoipa::path(
    post, path = "/api/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered; the account is pending until the emailed link is followed", body = Envelope<UserBody>),
        (status = 400, description = "Malformed JSON, wrong types or an unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken` or `username_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Field rules broken; `errors` lists each", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn register(
    state: web::Data<HttpState>,
    req: HttpRequest,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = RegisterInput {
        email: body.email,
        password: body.password,
        username: body.username,
        name: body.name,
    };
    let user = state
        .accounts
        .register(input, &request_context(&req))
        .await?;
    Ok(HttpResponse::Created().json(Envelope::new(UserBody::from(&user))))
}

/// `POST /api/auth/confirm`: 200 with the now active user.
#[utoipa::path(
    post, path = "/api/auth/confirm", tag = "auth",
    request_body = ConfirmRequest,
    responses(
        (status = 200, description = "Confirmed: the account is active and its email verified", body = Envelope<UserBody>),
        (status = 400, description = "`invalid_token`: unknown or already used; or a malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`token_expired`: the pending account was deleted; register again", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`token` missing", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn confirm(
    state: web::Data<HttpState>,
    req: HttpRequest,
    body: web::Json<ConfirmRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.into_inner().token.ok_or_else(|| {
        ApiError::validation(ValidationErrors(vec![FieldError::new(
            "token",
            "required",
            "token is required",
        )]))
    })?;
    let user = state
        .accounts
        .confirm(&token, &request_context(&req))
        .await?;
    Ok(HttpResponse::Ok().json(Envelope::new(UserBody::from(&user))))
}

/// `POST /api/auth/login`: 200 with tokens, `Cache-Control: no-store`.
#[utoipa::path(
    post, path = "/api/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in. With `set_cookie: true` the access token is also set as the `access_token` cookie (HttpOnly, SameSite=Strict)", body = Envelope<TokensBody>,
            headers(("Cache-Control" = String, description = "no-store"))),
        (status = 401, description = "`invalid_credentials`: unknown login or wrong password, indistinguishable", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`email_not_confirmed` or `account_deactivated` (only after a correct password)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`login` or `password` missing", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn login(
    state: web::Data<HttpState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    if let Some(login) = &body.login {
        state.limits.check(Rule::LoginLogin, login).await?;
    }
    let mut errors = Collector::new();
    if body.login.is_none() {
        errors.required("login");
    }
    if body.password.is_none() {
        errors.required("password");
    }
    errors.finish().map_err(ApiError::validation)?;
    let input = LoginInput {
        login: body.login.unwrap_or_default(),
        password: PasswordAttempt::new(body.password.unwrap_or_default()),
    };
    let success = state.sessions.login(input, &request_context(&req)).await?;
    let mut response = HttpResponse::Ok();
    response.insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")));
    if body.set_cookie == Some(true) {
        let cookie = Cookie::build(ACCESS_TOKEN_COOKIE, success.access_token.clone())
            .path("/")
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(state.secure_cookies)
            .max_age(CookieDuration::seconds(success.expires_in))
            .finish();
        response.cookie(cookie);
    }
    Ok(response.json(Envelope::new(TokensBody {
        access_token: success.access_token,
        refresh_token: success.refresh_token,
        token_type: "Bearer",
        expires_in: success.expires_in,
        user: UserBody::from(&success.user),
    })))
}
