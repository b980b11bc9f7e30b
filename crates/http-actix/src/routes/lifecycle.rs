//! The account lifecycle's public routes: resend the confirmation, request and confirm a
//! password reset.
//!
//! The two "request" routes answer `202 {"data":{}}` whatever the address, and do their work
//! in a background task after answering, so neither the answer nor its timing says whether
//! an account exists. Only a body that is not even an address gets a 4xx.

use actix_web::{HttpRequest, HttpResponse, web};
use roster_domain::audit::RequestContext;
use roster_domain::error::Collector;
use roster_domain::user::Email;
use roster_domain::{FieldError, ValidationErrors};

use crate::dto::{EmailRequest, Envelope, Nothing, ResetConfirmRequest};
use crate::error::{ApiError, Problem};
use crate::rate_limit::Rule;
use crate::routes::request_context;
use crate::state::HttpState;

/// The address of an [`EmailRequest`], or 422 naming the field.
fn requested_email(body: EmailRequest) -> Result<Email, ApiError> {
    let mut errors = Collector::new();
    let email = match body.email.as_deref() {
        Some(raw) => errors.field("email", Email::parse(raw)),
        None => {
            errors.required("email");
            None
        }
    };
    errors.finish().map_err(ApiError::validation)?;
    email.ok_or_else(|| {
        ApiError::validation(ValidationErrors(vec![FieldError::new(
            "email",
            "required",
            "email is required",
        )]))
    })
}

fn accepted() -> HttpResponse {
    HttpResponse::Accepted().json(Envelope::new(Nothing {}))
}

/// Runs a lookup-and-mail task after the answer is sent; failures are logged, never answered
/// (the client must not learn anything from them either).
fn in_background<F>(what: &'static str, task: F)
where
    F: Future<Output = Result<(), roster_domain::InfraError>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(error) = task.await {
            tracing::warn!(%error, task = what, "background account task failed");
        }
    });
}

/// `POST /api/auth/resend-confirmation`: always 202; a pending account gets a new link and
/// its previous link stops working.
#[utoipa::path(
    post, path = "/api/auth/resend-confirmation", tag = "auth",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "Always, for any well-formed address: a pending account gets a new link and its previous one stops working; nothing else reveals whether the account exists", body = Envelope<Nothing>),
        (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`email` missing or not an address", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited` (`confirm_ip`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn resend_confirmation(
    state: web::Data<HttpState>,
    req: HttpRequest,
    body: web::Json<EmailRequest>,
) -> Result<HttpResponse, ApiError> {
    let email = requested_email(body.into_inner())?;
    let ctx: RequestContext = request_context(&req);
    let accounts = state.accounts.clone();
    in_background("resend_confirmation", async move {
        accounts.resend_confirmation(&email, &ctx).await
    });
    Ok(accepted())
}

/// `POST /api/auth/password-reset/request`: always 202; an existing account gets a reset link.
#[utoipa::path(
    post, path = "/api/auth/password-reset/request", tag = "auth",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "Always, in the same time: an existing account gets a reset link valid for the reset TTL", body = Envelope<Nothing>),
        (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`email` missing or not an address", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited` (`reset_request` per address, `reset_ip` per client)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn request_password_reset(
    state: web::Data<HttpState>,
    req: HttpRequest,
    body: web::Json<EmailRequest>,
) -> Result<HttpResponse, ApiError> {
    let email = requested_email(body.into_inner())?;
    // Counted per address whether or not an account has it, so the answer says nothing.
    state.limits.check(Rule::ResetRequest, email.key()).await?;
    let ctx = request_context(&req);
    let accounts = state.accounts.clone();
    in_background("password_reset_request", async move {
        accounts.request_password_reset(&email, &ctx).await
    });
    Ok(accepted())
}

/// `POST /api/auth/password-reset/confirm`: 204; the password is set and every session ends.
#[utoipa::path(
    post, path = "/api/auth/password-reset/confirm", tag = "auth",
    request_body = ResetConfirmRequest,
    responses(
        (status = 204, description = "The password is set; every session of the user is revoked"),
        (status = 400, description = "`invalid_token`: unknown, used or expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The new password breaks a rule; `errors` lists each", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited` (`reset_ip`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn confirm_password_reset(
    state: web::Data<HttpState>,
    req: HttpRequest,
    body: web::Json<ResetConfirmRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut errors = Collector::new();
    if body.token.is_none() {
        errors.required("token");
    }
    if body.password.is_none() {
        errors.required("password");
    }
    errors.finish().map_err(ApiError::validation)?;
    state
        .accounts
        .reset_password(
            body.token.as_deref().unwrap_or_default(),
            body.password.as_deref().unwrap_or_default(),
            &request_context(&req),
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
