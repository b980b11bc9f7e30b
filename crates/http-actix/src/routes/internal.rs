//! The internal API (`/internal/users`): trusted backend services, authenticated by
//! `X-Api-Key`, acting as `service:<key name>`. These routes bypass user roles; the
//! last-admin rule still holds.

use actix_web::{HttpRequest, HttpResponse, web};
use roster_domain::policy::Caller;
use roster_domain::services::{AdminUpdateInput, CreateUserInput};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::api_key::ServiceKey;
use crate::dto::{Envelope, ProfileRequest, UserBody};
use crate::error::{ApiError, Problem};
use crate::routes::admin::{profile_input, user_id};
use crate::routes::request_context;
use crate::state::HttpState;

fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

fn service(key: ServiceKey) -> Caller {
    Caller::Service(key.0)
}

/// `POST /internal/users` and the body of `PUT /internal/users/by-external-id/{external_id}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"external_id": "tg-42", "name": "Ada Lovelace", "email": "ada@example.com", "email_verified": true}))]
pub struct InternalCreateRequest {
    /// The service's own id for the user (`A-Za-z0-9_.:-`, at most 128; no `@`: ids are stored in clear, addresses never). In the upsert it
    /// comes from the path and must not be in the body.
    pub external_id: Option<String>,
    /// Email (optional here).
    pub email: Option<String>,
    /// Username; defaults to `external_id` when that is a valid username, else to the
    /// email's local part made unique.
    pub username: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Phone (E.164).
    pub phone: Option<String>,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// Profile.
    pub profile: Option<ProfileRequest>,
    /// Password (at creation only); without one the user cannot log in until a reset.
    pub password: Option<String>,
    /// Roles (at creation only); default `["USER"]`.
    pub roles: Option<Vec<String>>,
    /// Whether the email counts as confirmed.
    pub email_verified: Option<bool>,
}

impl std::fmt::Debug for InternalCreateRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InternalCreateRequest(<redacted>)")
    }
}

impl From<InternalCreateRequest> for CreateUserInput {
    fn from(b: InternalCreateRequest) -> Self {
        Self {
            email: b.email,
            username: b.username,
            name: b.name,
            phone: b.phone,
            avatar_url: b.avatar_url,
            profile: b.profile.map(profile_input),
            password: b.password,
            roles: b.roles,
            email_verified: b.email_verified,
            external_id: b.external_id,
        }
    }
}

/// `PATCH /internal/users/{id}`. Absent: unchanged; `null`: cleared (optional fields only).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Ada King", "external_id": "tg-42"}))]
pub struct InternalUpdateRequest {
    /// External id.
    #[serde(default, deserialize_with = "present")]
    pub external_id: Option<Option<String>>,
    /// Username.
    #[serde(default, deserialize_with = "present")]
    pub username: Option<Option<String>>,
    /// Display name.
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Option<String>>,
    /// Phone.
    #[serde(default, deserialize_with = "present")]
    pub phone: Option<Option<String>>,
    /// Avatar URL.
    #[serde(default, deserialize_with = "present")]
    pub avatar_url: Option<Option<String>>,
    /// Profile, replaced whole.
    #[serde(default, deserialize_with = "present")]
    pub profile: Option<Option<ProfileRequest>>,
    /// Email; stored unverified unless `email_verified` comes with it.
    #[serde(default, deserialize_with = "present")]
    pub email: Option<Option<String>>,
    /// Verification flag.
    #[serde(default, deserialize_with = "present")]
    pub email_verified: Option<Option<bool>>,
}

/// `DELETE /internal/users/{id}` query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// `true` erases the user; otherwise it is deactivated (soft delete).
    pub hard: Option<bool>,
}

/// `GET /internal/users`: the same listing as `GET /api/users`, for a service key.
#[utoipa::path(
    get, path = "/internal/users", tag = "internal",
    security(("api_key" = [])),
    params(crate::routes::listing::ListUsersParams),
    responses(
        (status = 200, description = "One page of users, exactly as `GET /api/users` answers (filters, sort, `next_cursor`)", body = crate::dto::PagedList<UserBody>),
        (status = 400, description = "`unknown_field` or `invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`missing_api_key` or `invalid_api_key` (also while no key is configured)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A value out of range or malformed, `cursor` with `page`, `invalid_cursor`, `unknown_role`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_users(
    state: web::Data<HttpState>,
    _key: ServiceKey,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    // Services bypass user roles (the spec); the key was checked by the extractor.
    let query = crate::routes::listing::list_query(&state, req.query_string())?;
    crate::routes::listing::list_response(&state, &query).await
}

/// `GET /internal/users/{id}`.
#[utoipa::path(
    get, path = "/internal/users/{id}", tag = "internal",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "User id (UUID)")),
    responses(
        (status = 200, description = "The user", body = Envelope<UserBody>),
        (status = 401, description = "`missing_api_key` or `invalid_api_key` (also while no key is configured)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_user(
    state: web::Data<HttpState>,
    key: ServiceKey,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&path)?;
    let user = state.administration.get_user(&service(key), id).await?;
    Ok(HttpResponse::Ok().json(Envelope::new(UserBody::from(&user))))
}

/// `POST /internal/users`: creates an active user; `email` is optional.
#[utoipa::path(
    post, path = "/internal/users", tag = "internal",
    security(("api_key" = [])),
    request_body = InternalCreateRequest,
    responses(
        (status = 201, description = "The user, `active`", body = Envelope<UserBody>),
        (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken`, `username_taken` or `external_id_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Field rules broken", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_user(
    state: web::Data<HttpState>,
    req: HttpRequest,
    key: ServiceKey,
    body: Result<web::Json<InternalCreateRequest>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let body = body?.into_inner();
    let user = state
        .administration
        .create_user(&service(key), body.into(), &request_context(&req))
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::Created().json(Envelope::new(UserBody::from(&user))))
}

/// `PATCH /internal/users/{id}`: every field but the password, plus `external_id`.
#[utoipa::path(
    patch, path = "/internal/users/{id}", tag = "internal",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "User id (UUID)")),
    request_body = InternalUpdateRequest,
    responses(
        (status = 200, description = "The user as changed", body = Envelope<UserBody>),
        (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken`, `username_taken` or `external_id_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Field rules broken", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_user(
    state: web::Data<HttpState>,
    req: HttpRequest,
    key: ServiceKey,
    path: web::Path<String>,
    body: Result<web::Json<InternalUpdateRequest>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let b = body?.into_inner();
    let id = user_id(&path)?;
    let input = AdminUpdateInput {
        username: b.username,
        name: b.name,
        phone: b.phone,
        avatar_url: b.avatar_url,
        profile: b.profile.map(|p| p.map(profile_input)),
        email: b.email,
        email_verified: b.email_verified,
        external_id: b.external_id,
    };
    let user = state
        .administration
        .update_user(&service(key), id, input, &request_context(&req))
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::Ok().json(Envelope::new(UserBody::from(&user))))
}

/// `DELETE /internal/users/{id}`: 204; deactivates (soft delete), or erases with `?hard=true`.
#[utoipa::path(
    delete, path = "/internal/users/{id}", tag = "internal",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "User id (UUID)"), DeleteQuery),
    responses(
        (status = 204, description = "Deactivated (sessions revoked), or erased with `hard=true`"),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`last_admin`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_user(
    state: web::Data<HttpState>,
    req: HttpRequest,
    key: ServiceKey,
    path: web::Path<String>,
    query: web::Query<DeleteQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&path)?;
    let caller = service(key);
    let ctx = request_context(&req);
    if query.hard == Some(true) {
        state.administration.delete_user(&caller, id, &ctx).await?;
    } else {
        state.administration.deactivate(&caller, id, &ctx).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /internal/users/by-external-id/{external_id}`.
#[utoipa::path(
    get, path = "/internal/users/by-external-id/{external_id}", tag = "internal",
    security(("api_key" = [])),
    params(("external_id" = String, Path, description = "The service's id for the user")),
    responses(
        (status = 200, description = "The user", body = Envelope<UserBody>),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn by_external_id(
    state: web::Data<HttpState>,
    key: ServiceKey,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .administration
        .find_by_external_id(&service(key), &path)
        .await?;
    Ok(HttpResponse::Ok().json(Envelope::new(UserBody::from(&user))))
}

/// `PUT /internal/users/by-external-id/{external_id}`: ensure-exists and sync in one.
#[utoipa::path(
    put, path = "/internal/users/by-external-id/{external_id}", tag = "internal",
    security(("api_key" = [])),
    params(("external_id" = String, Path, description = "The service's id for the user")),
    request_body = InternalCreateRequest,
    responses(
        (status = 201, description = "Created: no user had this external id", body = Envelope<UserBody>),
        (status = 200, description = "Updated: the fields given were synced (`password` and `roles` apply at creation only). Concurrent calls for one new id create exactly one user", body = Envelope<UserBody>),
        (status = 400, description = "Malformed body, unknown field, or `external_id` in the body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken` or `username_taken` by another user", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Field rules broken, or a malformed external id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn upsert(
    state: web::Data<HttpState>,
    req: HttpRequest,
    key: ServiceKey,
    path: web::Path<String>,
    body: Result<web::Json<InternalCreateRequest>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let body = body?.into_inner();
    if body.external_id.is_some() {
        return Err(ApiError::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            "unknown_field",
            "external_id comes from the path, not the body",
        )
        .into());
    }
    let (user, created) = state
        .administration
        .upsert_by_external_id(&service(key), &path, body.into(), &request_context(&req))
        .await
        .map_err(ApiError::from)?;
    let mut reply = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(reply.json(Envelope::new(UserBody::from(&user))))
}
