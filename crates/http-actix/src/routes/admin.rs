//! Administration routes: ADMIN (and MANAGER where the policy allows) acting on other users,
//! roles, tenant memberships, and reading the audit log. Every decision is the domain
//! `Policy`'s; the handlers only translate.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use roster_domain::policy::Caller;
use roster_domain::ports::Role;
use roster_domain::services::{
    AdminUpdateInput, AuditEventsPage, AuditQueryInput, CreateUserInput,
};
use roster_domain::user::{ProfileInput, UserId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Authenticated;
use crate::dto::{Envelope, ListEnvelope, ListMeta, ProfileRequest, UserBody, timestamp};
use crate::error::{ApiError, Problem};
use crate::routes::request_context;
use crate::state::HttpState;

/// `Some(value)` for a present field, `null` included (see `dto::UpdateMeRequest`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

pub(crate) fn profile_input(p: ProfileRequest) -> ProfileInput {
    ProfileInput {
        first_name: p.first_name,
        last_name: p.last_name,
        birth_date: p.birth_date,
        gender: p.gender,
    }
}

/// The caller as the policy knows it.
pub(crate) fn caller(authenticated: Authenticated) -> Caller {
    Caller::User(Box::new(authenticated.0.user))
}

/// A path id; a malformed one names no user.
pub(crate) fn user_id(raw: &str) -> Result<UserId, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(UserId::from_uuid)
        .map_err(|_| ApiError::from(roster_domain::services::AdminError::NotFound))
}

fn user_reply(user: &roster_domain::user::User) -> HttpResponse {
    HttpResponse::Ok().json(Envelope::new(UserBody::from(user)))
}

/// `POST /api/users`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "grace@example.com", "name": "Grace Hopper", "roles": ["USER", "MANAGER"], "email_verified": true}))]
pub struct CreateUserRequest {
    /// Email (required).
    #[schema(required = true)]
    pub email: Option<String>,
    /// Username; defaults to the email's local part made valid and unique.
    pub username: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Phone (E.164).
    pub phone: Option<String>,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// Profile.
    pub profile: Option<ProfileRequest>,
    /// Password; without one the user cannot log in until a password reset.
    pub password: Option<String>,
    /// Roles; default `["USER"]`.
    pub roles: Option<Vec<String>>,
    /// Whether the email counts as confirmed; default `false`.
    pub email_verified: Option<bool>,
}

impl std::fmt::Debug for CreateUserRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CreateUserRequest(<redacted>)")
    }
}

impl From<CreateUserRequest> for CreateUserInput {
    fn from(b: CreateUserRequest) -> Self {
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
            external_id: None,
        }
    }
}

/// `PATCH /api/users/{id}`. Absent: unchanged; `null`: cleared (optional fields only).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Grace B. Hopper", "phone": null}))]
pub struct AdminUpdateRequest {
    /// Username (ADMIN).
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
    /// Email (ADMIN); stored unverified unless `email_verified` comes with it.
    #[serde(default, deserialize_with = "present")]
    pub email: Option<Option<String>>,
    /// Verification flag (ADMIN).
    #[serde(default, deserialize_with = "present")]
    pub email_verified: Option<Option<bool>>,
}

impl From<AdminUpdateRequest> for AdminUpdateInput {
    fn from(b: AdminUpdateRequest) -> Self {
        Self {
            username: b.username,
            name: b.name,
            phone: b.phone,
            avatar_url: b.avatar_url,
            profile: b.profile.map(|p| p.map(profile_input)),
            email: b.email,
            email_verified: b.email_verified,
            external_id: None,
        }
    }
}

/// `POST /api/users/{id}/roles`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"role": "MANAGER"}))]
pub struct RoleRequest {
    /// The role to add.
    #[schema(required = true)]
    pub role: Option<String>,
}

/// `PUT /api/users/{id}/tenants/{tenant_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"role": "MANAGER", "main": true}))]
pub struct TenantRequest {
    /// The user's role in the tenant (an existing role).
    #[schema(required = true)]
    pub role: Option<String>,
    /// Make this the main membership (clearing the others'). The first membership is main.
    pub main: Option<bool>,
}

/// `POST /api/roles`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "SUPPORT", "description": "Support staff (a label)"}))]
pub struct CreateRoleRequest {
    /// `^[A-Z][A-Z0-9_]{1,31}$`.
    #[schema(required = true)]
    pub name: Option<String>,
    /// At most 200 characters.
    pub description: Option<String>,
}

/// A role.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"name": "MANAGER", "description": "Reads all users; edits profile fields of users who are not ADMIN", "built_in": true, "created_at": "2026-11-20T09:00:00.000000Z"}))]
pub struct RoleBody {
    name: String,
    description: Option<String>,
    built_in: bool,
    created_at: String,
}

impl From<&Role> for RoleBody {
    fn from(r: &Role) -> Self {
        Self {
            name: r.name.as_str().to_owned(),
            description: r.description.clone(),
            built_in: r.built_in,
            created_at: timestamp(&r.created_at),
        }
    }
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-8a1b-7c3d-9e4f-0a1b2c3d4e5f", "at": "2026-11-22T18:30:00.123456Z", "actor_id": "service:crm", "action": "user.deactivated", "user_id": "01936f3e-0000-7c3d-9e4f-0a1b2c3d4e5f", "ip": "203.0.113.7", "details": {"sessions": "revoked"}}))]
pub struct AuditEventBody {
    id: String,
    at: String,
    /// A user id, `service:<name>` or `system`.
    actor_id: String,
    action: String,
    user_id: Option<String>,
    ip: Option<String>,
    details: BTreeMap<String, String>,
}

/// `GET /api/audit-events` query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQueryParams {
    /// Events about this user.
    pub user_id: Option<String>,
    /// Events by this actor: a user id, `service:<name>` or `system`.
    pub actor_id: Option<String>,
    /// Events of this action (`user.created`, `user.deactivated`, `session.login`, ...).
    pub action: Option<String>,
    /// RFC 3339: at or after.
    pub since: Option<String>,
    /// RFC 3339: before.
    pub until: Option<String>,
    /// Page, from 1 (default 1).
    pub page: Option<String>,
    /// Page size, 1 to 100 (default 10).
    pub limit: Option<String>,
}

fn audit_list(found: AuditEventsPage) -> ListEnvelope<AuditEventBody> {
    let total = found.page.total;
    let data = found
        .page
        .events
        .into_iter()
        .map(|e| AuditEventBody {
            id: e.id.to_string(),
            at: timestamp(&e.at),
            actor_id: e.actor_id,
            action: e.action,
            user_id: e.user_id.map(|u| u.to_string()),
            ip: e.ip,
            details: e.details,
        })
        .collect();
    ListEnvelope {
        data,
        meta: ListMeta {
            page: found.number,
            limit: found.limit,
            total_items: total,
            total_pages: total.div_ceil(found.limit.max(1)),
            next_cursor: None,
        },
    }
}

/// `GET /api/users/{id}`: the caller's own account, or anyone's for ADMIN and MANAGER.
#[utoipa::path(
    get, path = "/api/users/{id}", tag = "admin",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "User id (UUID)")),
    responses(
        (status = 200, description = "The user", body = Envelope<UserBody>),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not the caller's id and the caller is neither ADMIN nor MANAGER — whether or not the id exists", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_user(
    state: web::Data<HttpState>,
    caller_: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let caller = caller(caller_);
    let user = match user_id(&path) {
        Ok(id) => state.administration.get_user(&caller, id).await?,
        // A malformed id is refused like any other for callers who may not read others.
        Err(e) => {
            state
                .administration
                .get_user(&caller, UserId::from_uuid(uuid::Uuid::nil()))
                .await?;
            return Err(e);
        }
    };
    Ok(user_reply(&user))
}

/// `POST /api/users` (ADMIN): creates an active user.
#[utoipa::path(
    post, path = "/api/users", tag = "admin",
    security(("bearer" = []), ("cookie" = [])),
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "The user, `active`. Without a password it cannot log in until a password reset", body = Envelope<UserBody>),
        (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not ADMIN", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken` or `username_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Field rules broken (an unknown role is `unknown_role` in `errors`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited` (rule `register`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_user(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller_: Authenticated,
    body: Result<web::Json<CreateUserRequest>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let caller = caller(caller_);
    let body = body?.into_inner();
    let user = state
        .administration
        .create_user(&caller, body.into(), &request_context(&req))
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::Created().json(Envelope::new(UserBody::from(&user))))
}

/// `PATCH /api/users/{id}`: ADMIN changes any field but the password; MANAGER only `name`,
/// `phone`, `avatar_url`, `profile` of users who are not ADMIN.
#[utoipa::path(
    patch, path = "/api/users/{id}", tag = "admin",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "User id (UUID)")),
    request_body = AdminUpdateRequest,
    responses(
        (status = 200, description = "The user as changed", body = Envelope<UserBody>),
        (status = 400, description = "Malformed body or unknown field (`password`, `roles`, `status` are not fields of this route)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken` or `username_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Field rules broken", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_user(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller_: Authenticated,
    path: web::Path<String>,
    body: Result<web::Json<AdminUpdateRequest>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let caller = caller(caller_);
    let body = body?.into_inner();
    let id = user_id(&path)?;
    let user = state
        .administration
        .update_user(&caller, id, body.into(), &request_context(&req))
        .await
        .map_err(ApiError::from)?;
    Ok(user_reply(&user))
}

/// `DELETE /api/users/{id}` (ADMIN): erases the user; answers with the user as it was.
#[utoipa::path(
    delete, path = "/api/users/{id}", tag = "admin",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "User id (UUID)")),
    responses(
        (status = 200, description = "The deleted user, as it was", body = Envelope<UserBody>),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`last_admin`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_user(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller_: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let caller = caller(caller_);
    let id = user_id(&path)?;
    let user = state
        .administration
        .delete_user(&caller, id, &request_context(&req))
        .await?;
    Ok(user_reply(&user))
}

/// `PATCH /api/users/{id}/deactivate` (ADMIN): soft delete; the user's sessions end at once.
#[utoipa::path(
    patch, path = "/api/users/{id}/deactivate", tag = "admin",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "User id (UUID)")),
    responses(
        (status = 200, description = "The user, `deactivated` with `deactivated_at`; every session revoked", body = Envelope<UserBody>),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`last_admin`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn deactivate(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller_: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let caller = caller(caller_);
    let id = user_id(&path)?;
    let user = state
        .administration
        .deactivate(&caller, id, &request_context(&req))
        .await?;
    Ok(user_reply(&user))
}

/// `PATCH /api/users/{id}/reactivate` (ADMIN): back to `active`.
#[utoipa::path(
    patch, path = "/api/users/{id}/reactivate", tag = "admin",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "User id (UUID)")),
    responses(
        (status = 200, description = "The user, `active`", body = Envelope<UserBody>),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`user_pending`: the user never confirmed its email", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reactivate(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller_: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let caller = caller(caller_);
    let id = user_id(&path)?;
    let user = state
        .administration
        .reactivate(&caller, id, &request_context(&req))
        .await?;
    Ok(user_reply(&user))
}

/// `GET /api/users/by-email/{email}` (ADMIN, MANAGER).
#[utoipa::path(
    get, path = "/api/users/by-email/{email}", tag = "admin",
    security(("bearer" = []), ("cookie" = [])),
    params(("email" = String, Path, description = "Email, compared case-insensitively (URL-encoded)")),
    responses(
        (status = 200, description = "The user", body = Envelope<UserBody>),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn by_email(
    state: web::Data<HttpState>,
    caller_: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let caller = caller(caller_);
    let user = state.administration.find_by_email(&caller, &path).await?;
    Ok(user_reply(&user))
}

/// `GET /api/users/by-username/{username}` (ADMIN, MANAGER).
#[utoipa::path(
    get, path = "/api/users/by-username/{username}", tag = "admin",
    security(("bearer" = []), ("cookie" = [])),
    params(("username" = String, Path, description = "Username, compared case-insensitively")),
    responses(
        (status = 200, description = "The user", body = Envelope<UserBody>),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn by_username(
    state: web::Data<HttpState>,
    caller_: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let caller = caller(caller_);
    let user = state
        .administration
        .find_by_username(&caller, &path)
        .await?;
    Ok(user_reply(&user))
}

/// `POST /api/users/{id}/roles` (ADMIN): adds a role, keeping the others.
#[utoipa::path(
    post, path = "/api/users/{id}/roles", tag = "admin",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "User id (UUID)")),
    request_body = RoleRequest,
    responses(
        (status = 200, description = "The user with the role added", body = Envelope<UserBody>),
        (status = 400, description = "`role_already_assigned`, or a malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`unknown_role`, or a malformed role name", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_role(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller_: Authenticated,
    path: web::Path<String>,
    body: Result<web::Json<RoleRequest>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let caller = caller(caller_);
    let body = body?.into_inner();
    let id = user_id(&path)?;
    let role = body.role.ok_or_else(|| {
        ApiError::validation(roster_domain::ValidationErrors(vec![
            roster_domain::FieldError::new("role", "required", "role is required"),
        ]))
    })?;
    let user = state
        .administration
        .add_role(&caller, id, &role, &request_context(&req))
        .await
        .map_err(ApiError::from)?;
    Ok(user_reply(&user))
}

/// `DELETE /api/users/{id}/roles/{role}` (ADMIN).
#[utoipa::path(
    delete, path = "/api/users/{id}/roles/{role}", tag = "admin",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "User id (UUID)"), ("role" = String, Path, description = "Role name")),
    responses(
        (status = 200, description = "The user without the role", body = Envelope<UserBody>),
        (status = 400, description = "`last_role`: a user keeps at least one role", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` or `role_not_assigned`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`last_admin` (checked before `last_role`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_role(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller_: Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let caller = caller(caller_);
    let (id, role) = path.into_inner();
    let id = user_id(&id)?;
    let user = state
        .administration
        .remove_role(&caller, id, &role, &request_context(&req))
        .await?;
    Ok(user_reply(&user))
}

/// `PUT /api/users/{id}/tenants/{tenant_id}` (ADMIN): adds or changes a membership.
#[utoipa::path(
    put, path = "/api/users/{id}/tenants/{tenant_id}", tag = "admin",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "User id (UUID)"), ("tenant_id" = String, Path, description = "Tenant id: 1 to 64 of A-Za-z0-9_.:-")),
    request_body = TenantRequest,
    responses(
        (status = 200, description = "The user with the membership; exactly one membership is `main`", body = Envelope<UserBody>),
        (status = 400, description = "`main_tenant_required` (`main: false` on the main membership), or a malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`unknown_role`, or a malformed tenant id or role", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_tenant(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller_: Authenticated,
    path: web::Path<(String, String)>,
    body: Result<web::Json<TenantRequest>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let caller = caller(caller_);
    let body = body?.into_inner();
    let (id, tenant) = path.into_inner();
    let id = user_id(&id)?;
    let user = state
        .administration
        .set_tenant(
            &caller,
            id,
            &tenant,
            body.role.as_deref(),
            body.main,
            &request_context(&req),
        )
        .await
        .map_err(ApiError::from)?;
    Ok(user_reply(&user))
}

/// `DELETE /api/users/{id}/tenants/{tenant_id}` (ADMIN).
#[utoipa::path(
    delete, path = "/api/users/{id}/tenants/{tenant_id}", tag = "admin",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "User id (UUID)"), ("tenant_id" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "The user without the membership; if it was main, the oldest remaining one is main", body = Envelope<UserBody>),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` or `membership_not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_tenant(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller_: Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let caller = caller(caller_);
    let (id, tenant) = path.into_inner();
    let id = user_id(&id)?;
    let user = state
        .administration
        .remove_tenant(&caller, id, &tenant, &request_context(&req))
        .await?;
    Ok(user_reply(&user))
}

/// `GET /api/roles` (ADMIN, MANAGER).
#[utoipa::path(
    get, path = "/api/roles", tag = "admin",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Every role, built-in and custom, by name", body = ListEnvelope<RoleBody>),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_roles(
    state: web::Data<HttpState>,
    caller_: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let caller = caller(caller_);
    let roles = state.administration.roles(&caller).await?;
    Ok(HttpResponse::Ok().json(ListEnvelope::single_page(
        roles.iter().map(RoleBody::from).collect(),
    )))
}

/// `POST /api/roles` (ADMIN): a custom role, a label granting no privileges.
#[utoipa::path(
    post, path = "/api/roles", tag = "admin",
    security(("bearer" = []), ("cookie" = [])),
    request_body = CreateRoleRequest,
    responses(
        (status = 201, description = "The role", body = Envelope<RoleBody>),
        (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`role_exists`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A name not matching `^[A-Z][A-Z0-9_]{1,31}$`, or a description too long", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_role(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller_: Authenticated,
    body: Result<web::Json<CreateRoleRequest>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let caller = caller(caller_);
    let body = body?.into_inner();
    let role = state
        .administration
        .create_role(
            &caller,
            body.name.as_deref(),
            body.description.as_deref(),
            &request_context(&req),
        )
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::Created().json(Envelope::new(RoleBody::from(&role))))
}

/// `GET /api/audit-events` (ADMIN): newest first.
#[utoipa::path(
    get, path = "/api/audit-events", tag = "admin",
    security(("bearer" = []), ("cookie" = [])),
    params(AuditQueryParams),
    responses(
        (status = 200, description = "A page of audit events, newest first", body = ListEnvelope<AuditEventBody>),
        (status = 400, description = "Unknown query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A malformed filter or paging value", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn audit_events(
    state: web::Data<HttpState>,
    caller_: Authenticated,
    query: Result<web::Query<AuditQueryParams>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let caller = caller(caller_);
    let q = query?.into_inner();
    let found = state
        .administration
        .audit_events(
            &caller,
            AuditQueryInput {
                user_id: q.user_id,
                actor_id: q.actor_id,
                action: q.action,
                since: q.since,
                until: q.until,
                page: q.page,
                limit: q.limit,
            },
        )
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::Ok().json(audit_list(found)))
}
