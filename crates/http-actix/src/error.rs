//! RFC 9457 problem details: every error a client sees, with a stable `code`.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, error::JsonPayloadError};
use roster_domain::services::{
    AuthError, ConfirmError, DeleteMeError, LoginError, RefreshError, RegisterError,
    ResetPasswordError, RevokeSessionError, UpdateMeError,
};
use roster_domain::{FieldError, InfraError, ValidationErrors};
use serde::Serialize;
use utoipa::ToSchema;

tokio::task_local! {
    /// The id of the request being served, for error bodies and logs.
    pub static REQUEST_ID: String;
}

fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// One entry of `errors` in a 422 body.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
pub struct FieldProblem {
    /// The field (`password`, `profile.birth_date`).
    pub field: String,
    /// Stable code (`too_short`).
    pub code: String,
    /// Explanation.
    pub message: String,
}

impl From<FieldError> for FieldProblem {
    fn from(e: FieldError) -> Self {
        Self {
            field: e.field,
            code: e.code.to_owned(),
            message: e.message,
        }
    }
}

/// The problem+json body (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"type": "about:blank", "title": "Conflict", "status": 409, "code": "email_taken", "detail": "a user with this email already exists", "request_id": "01936f3e-8a1b-7c3d-9e4f-0a1b2c3d4e5f"}))]
pub struct Problem {
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    kind: &'static str,
    #[schema(value_type = String)]
    title: &'static str,
    status: u16,
    /// Stable, machine-readable snake_case code.
    #[schema(value_type = String)]
    code: &'static str,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<FieldProblem>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

/// An error answered to the client. Built from domain errors; writes its own client message.
/// Boxed, so that `Result<_, ApiError>` stays small on the happy path.
#[derive(Debug)]
pub struct ApiError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Option<Vec<FieldProblem>>,
    allow: Option<String>,
    retry_after: Option<u64>,
    /// For 5xx: the cause, logged in full and never sent.
    source: Option<InfraError>,
}

impl ApiError {
    /// A problem with a status, code and client-facing detail.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self(Box::new(Inner {
            status,
            code,
            detail: detail.into(),
            errors: None,
            allow: None,
            retry_after: None,
            source: None,
        }))
    }

    /// 422 listing each broken field rule.
    pub fn validation(errors: ValidationErrors) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "one or more fields are invalid",
        );
        e.0.errors = Some(errors.0.into_iter().map(FieldProblem::from).collect());
        e
    }

    /// 401 without valid credentials.
    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    /// 404 for an unknown path.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    /// 405 with the methods the path allows.
    pub fn method_not_allowed(allow: String) -> Self {
        let mut e = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("this resource allows {allow}"),
        );
        e.0.allow = Some(allow);
        e
    }

    /// 429 with `Retry-After` seconds.
    pub fn rate_limited(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests; try again in {retry_after} seconds"),
        );
        e.0.retry_after = Some(retry_after);
        e
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The code.
    pub fn code(&self) -> &'static str {
        self.0.code
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.0.status.as_u16(),
            self.0.code,
            self.0.detail
        )
    }
}

impl From<InfraError> for ApiError {
    fn from(error: InfraError) -> Self {
        let mut e = match &error {
            InfraError::Unavailable(_) => {
                let mut e = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "service_unavailable",
                    "the service is temporarily unavailable; try again shortly",
                );
                e.0.retry_after = Some(1);
                e
            }
            InfraError::Unexpected(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "an unexpected error occurred",
            ),
        };
        e.0.source = Some(error);
        e
    }
}

impl From<RegisterError> for ApiError {
    fn from(error: RegisterError) -> Self {
        match error {
            RegisterError::Invalid(errors) => Self::validation(errors),
            RegisterError::EmailTaken => Self::new(
                StatusCode::CONFLICT,
                "email_taken",
                "a user with this email already exists",
            ),
            RegisterError::UsernameTaken => Self::new(
                StatusCode::CONFLICT,
                "username_taken",
                "a user with this username already exists",
            ),
            RegisterError::Infra(e) => e.into(),
        }
    }
}

impl From<ConfirmError> for ApiError {
    fn from(error: ConfirmError) -> Self {
        match error {
            ConfirmError::InvalidToken => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_token",
                "the token is invalid or was already used",
            ),
            ConfirmError::TokenExpired => Self::new(
                StatusCode::GONE,
                "token_expired",
                "the confirmation token has expired; register again",
            ),
            ConfirmError::Infra(e) => e.into(),
        }
    }
}

impl From<ResetPasswordError> for ApiError {
    fn from(error: ResetPasswordError) -> Self {
        match error {
            ResetPasswordError::InvalidToken => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_token",
                "the token is invalid, expired or was already used",
            ),
            ResetPasswordError::Invalid(errors) => Self::validation(errors),
            ResetPasswordError::Infra(e) => e.into(),
        }
    }
}

fn current_password_required() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "current_password_required",
        "this change needs current_password",
    )
}

fn wrong_password() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "wrong_password",
        "the current password is wrong",
    )
}

impl From<UpdateMeError> for ApiError {
    fn from(error: UpdateMeError) -> Self {
        match error {
            UpdateMeError::Invalid(errors) => Self::validation(errors),
            UpdateMeError::CurrentPasswordRequired => current_password_required(),
            UpdateMeError::WrongPassword => wrong_password(),
            UpdateMeError::EmailTaken => Self::new(
                StatusCode::CONFLICT,
                "email_taken",
                "a user with this email already exists",
            ),
            UpdateMeError::UsernameTaken => Self::new(
                StatusCode::CONFLICT,
                "username_taken",
                "a user with this username already exists",
            ),
            UpdateMeError::Gone => {
                Self::unauthorized("invalid_token", "the account no longer exists")
            }
            UpdateMeError::Infra(e) => e.into(),
        }
    }
}

impl From<DeleteMeError> for ApiError {
    fn from(error: DeleteMeError) -> Self {
        match error {
            DeleteMeError::CurrentPasswordRequired => current_password_required(),
            DeleteMeError::WrongPassword => wrong_password(),
            DeleteMeError::Infra(e) => e.into(),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::InvalidCredentials => {
                Self::unauthorized("invalid_credentials", "the login or password is wrong")
            }
            LoginError::EmailNotConfirmed => Self::new(
                StatusCode::FORBIDDEN,
                "email_not_confirmed",
                "confirm your email address before logging in",
            ),
            LoginError::AccountDeactivated => Self::new(
                StatusCode::FORBIDDEN,
                "account_deactivated",
                "this account is deactivated",
            ),
            LoginError::Infra(e) => e.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::InvalidToken => {
                Self::unauthorized("invalid_token", "the access token is invalid")
            }
            AuthError::ExpiredToken => {
                Self::unauthorized("token_expired", "the access token has expired")
            }
            AuthError::Revoked => Self::unauthorized(
                "invalid_token",
                "the session of this access token has ended",
            ),
            AuthError::Infra(e) => e.into(),
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(error: RefreshError) -> Self {
        match error {
            RefreshError::InvalidToken => Self::unauthorized(
                "invalid_token",
                "the refresh token is invalid, expired or its session has ended",
            ),
            RefreshError::TokenReused => Self::unauthorized(
                "token_reused",
                "this refresh token was already used; its session has been revoked",
            ),
            RefreshError::Infra(e) => e.into(),
        }
    }
}

impl From<RevokeSessionError> for ApiError {
    fn from(error: RevokeSessionError) -> Self {
        match error {
            RevokeSessionError::NotFound => Self::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "you have no active session with this id",
            ),
            RevokeSessionError::Infra(e) => e.into(),
        }
    }
}

fn log_chain(error: &dyn std::error::Error) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        let request_id = current_request_id();
        let mut detail = self.0.detail.clone();
        if self.0.status.is_server_error() {
            if let Some(source) = &self.0.source {
                tracing::error!(error = %log_chain(source), code = self.0.code, "request failed");
            }
            if let Some(id) = &request_id {
                detail = format!("{detail} (request id {id})");
            }
        }
        let body = Problem {
            kind: "about:blank",
            title: self.0.status.canonical_reason().unwrap_or("Error"),
            status: self.0.status.as_u16(),
            code: self.0.code,
            detail,
            errors: self.0.errors.clone(),
            request_id,
        };
        let mut response = HttpResponse::build(self.0.status);
        response.content_type("application/problem+json");
        if let Some(allow) = self
            .0
            .allow
            .as_deref()
            .and_then(|a| HeaderValue::from_str(a).ok())
        {
            response.insert_header((header::ALLOW, allow));
        }
        if let Some(seconds) = self.0.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(body)
    }
}

/// Turns a JSON body that could not be read into the contract's answer: 413 past the limit,
/// 415 for another media type, 400 `unknown_field`, `malformed_json` or `invalid_body`.
pub fn json_error(error: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match &error {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is larger than 64 KiB",
            )
        }
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the request body must be application/json",
        ),
        JsonPayloadError::Deserialize(e) => {
            let message = e.to_string();
            if message.starts_with("unknown field") {
                ApiError::new(StatusCode::BAD_REQUEST, "unknown_field", message)
            } else if e.is_data() {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", message)
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_json",
                    "the request body is not valid JSON",
                )
            }
        }
        _ => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "the request body could not be read",
        ),
    };
    api.into()
}

/// Malformed path parameters get 400, not actix's plain-text 404.
pub fn path_error(error: actix_web::error::PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", error.to_string()).into()
}

/// Malformed query strings get 400.
pub fn query_error(
    error: actix_web::error::QueryPayloadError,
    _req: &HttpRequest,
) -> actix_web::Error {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", error.to_string()).into()
}

impl From<roster_domain::services::AdminError> for ApiError {
    fn from(error: roster_domain::services::AdminError) -> Self {
        use roster_domain::services::AdminError as E;
        match error {
            E::Forbidden => Self::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "you are not allowed to do this",
            ),
            E::NotFound => Self::new(StatusCode::NOT_FOUND, "not_found", "no such user"),
            E::Invalid(errors) => Self::validation(errors),
            E::LastAdmin => Self::new(
                StatusCode::CONFLICT,
                "last_admin",
                "the last active ADMIN cannot be removed, deactivated or deleted",
            ),
            E::LastRole => Self::new(
                StatusCode::BAD_REQUEST,
                "last_role",
                "a user keeps at least one role",
            ),
            E::RoleAlreadyAssigned => Self::new(
                StatusCode::BAD_REQUEST,
                "role_already_assigned",
                "the user already holds this role",
            ),
            E::RoleNotAssigned => Self::new(
                StatusCode::NOT_FOUND,
                "role_not_assigned",
                "the user does not hold this role",
            ),
            E::UnknownRole => {
                let mut e = Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unknown_role",
                    "no role with this name exists",
                );
                e.0.errors = Some(vec![FieldProblem {
                    field: "role".to_owned(),
                    code: "unknown_role".to_owned(),
                    message: "no role with this name exists".to_owned(),
                }]);
                e
            }
            E::RoleExists => Self::new(
                StatusCode::CONFLICT,
                "role_exists",
                "a role with this name already exists",
            ),
            E::MembershipNotFound => Self::new(
                StatusCode::NOT_FOUND,
                "membership_not_found",
                "the user is not a member of this tenant",
            ),
            E::MainRequired => Self::new(
                StatusCode::BAD_REQUEST,
                "main_tenant_required",
                "the main membership cannot be unset; make another membership main instead",
            ),
            E::Pending => Self::new(
                StatusCode::CONFLICT,
                "user_pending",
                "the user has not confirmed their email yet and is not deactivated",
            ),
            E::EmailTaken => Self::new(
                StatusCode::CONFLICT,
                "email_taken",
                "a user with this email already exists",
            ),
            E::UsernameTaken => Self::new(
                StatusCode::CONFLICT,
                "username_taken",
                "a user with this username already exists",
            ),
            E::ExternalIdTaken => Self::new(
                StatusCode::CONFLICT,
                "external_id_taken",
                "a user with this external id already exists",
            ),
            E::Infra(e) => e.into(),
        }
    }
}
