//! Listing users: `GET /api/users`, `POST /api/users/search`, `GET /api/users/by-role/{role}`.
//!
//! The order of checks: the caller is authenticated (401), then allowed (403), then the query
//! is read (400 for an unknown or repeated parameter, 422 for a bad value), then listed.
//! [`list_response`] is the whole answer for a validated query, so that another mount (the
//! internal API) serves the same listing.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use roster_domain::listing::{ListInput, UserListQuery};
use roster_domain::policy::{Action, Caller, Decision, Policy};
use roster_domain::services::ListError;
use roster_domain::user::{User, UserStatus};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Authenticated;
use crate::dto::{PageMeta, PagedList, UserBody};
use crate::error::{ApiError, Problem};
use crate::state::HttpState;

/// Whether `user` may list users, as the domain's [`Policy`] decides (ADMIN or MANAGER).
pub fn may_list_users(user: &User) -> bool {
    Policy::decide(
        &Caller::User(Box::new(user.clone())),
        &Action::ListUsers,
        None,
    ) == Decision::Allow
}

fn require_lister(caller: &Authenticated) -> Result<(), ApiError> {
    if may_list_users(&caller.0.user) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "listing users needs the ADMIN or MANAGER role",
        ))
    }
}

impl From<ListError> for ApiError {
    fn from(error: ListError) -> Self {
        match error {
            ListError::Invalid(errors) => Self::validation(errors),
            ListError::Infra(e) => e.into(),
        }
    }
}

/// The query of `GET /api/users` (and `GET /internal/users`). Unknown parameters get 400
/// `unknown_field`; values out of range 422, one `errors` entry per parameter.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListUsersParams {
    /// Page number, from 1 (default 1). Not with `cursor`.
    #[param(value_type = Option<u64>, minimum = 1)]
    pub page: Option<String>,
    /// Page size, 1 to 100 (default 10).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `created_at` (default), `username`, `name` or `last_login_at`. Ties are broken by id;
    /// a missing name or last login sorts as the smallest value.
    pub sort: Option<String>,
    /// `asc` or `desc` (default).
    pub order: Option<String>,
    /// Exact email, case-insensitively.
    pub email: Option<String>,
    /// Exact username, case-insensitively.
    pub username: Option<String>,
    /// Text the username or name contains, case-insensitively; `%`, `_` and `\` are plain
    /// characters. 1 to 100 characters.
    pub q: Option<String>,
    /// Users holding this role (422 if no such role).
    pub role: Option<String>,
    /// `pending`, `active` or `deactivated`. Given, it wins over `include_inactive`.
    pub status: Option<String>,
    /// Users with a membership of this tenant.
    pub tenant_id: Option<String>,
    /// Also list deactivated users (default `false`).
    #[param(value_type = Option<bool>)]
    pub include_inactive: Option<String>,
    /// `meta.next_cursor` of the previous page, asked with the same filters, sort and order.
    pub cursor: Option<String>,
    /// With `cursor`: also count `total_items` and `total_pages` (default `false`).
    #[param(value_type = Option<bool>)]
    pub count: Option<String>,
}

impl From<ListUsersParams> for ListInput {
    fn from(p: ListUsersParams) -> Self {
        Self {
            page: p.page,
            limit: p.limit,
            sort: p.sort,
            order: p.order,
            email: p.email,
            username: p.username,
            q: p.q,
            role: p.role,
            status: p.status,
            tenant_id: p.tenant_id,
            include_inactive: p.include_inactive,
            cursor: p.cursor,
            count: p.count,
        }
    }
}

/// The query of `GET /api/users/by-role/{role}`: as `GET /api/users` without `role`,
/// `status` and `include_inactive` (the route lists the active holders of its role).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ByRoleParams {
    /// Page number, from 1 (default 1). Not with `cursor`.
    #[param(value_type = Option<u64>, minimum = 1)]
    pub page: Option<String>,
    /// Page size, 1 to 100 (default 10).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `created_at` (default), `username`, `name` or `last_login_at`.
    pub sort: Option<String>,
    /// `asc` or `desc` (default).
    pub order: Option<String>,
    /// Exact email, case-insensitively.
    pub email: Option<String>,
    /// Exact username, case-insensitively.
    pub username: Option<String>,
    /// Text the username or name contains, case-insensitively.
    pub q: Option<String>,
    /// Users with a membership of this tenant.
    pub tenant_id: Option<String>,
    /// `meta.next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// With `cursor`: also count the totals.
    #[param(value_type = Option<bool>)]
    pub count: Option<String>,
}

/// `POST /api/users/search`: the filters of `GET /api/users` as a JSON body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"q": "ada", "role": "USER", "sort": "username", "order": "asc", "limit": 20}))]
pub struct SearchUsersRequest {
    /// Page number, from 1 (default 1). Not with `cursor`.
    pub page: Option<i64>,
    /// Page size, 1 to 100 (default 10).
    pub limit: Option<i64>,
    /// `created_at` (default), `username`, `name` or `last_login_at`.
    pub sort: Option<String>,
    /// `asc` or `desc` (default).
    pub order: Option<String>,
    /// Exact email, case-insensitively.
    pub email: Option<String>,
    /// Exact username, case-insensitively.
    pub username: Option<String>,
    /// Text the username or name contains, case-insensitively.
    pub q: Option<String>,
    /// Users holding this role.
    pub role: Option<String>,
    /// `pending`, `active` or `deactivated`.
    pub status: Option<String>,
    /// Users with a membership of this tenant.
    pub tenant_id: Option<String>,
    /// Also list deactivated users (default `false`).
    pub include_inactive: Option<bool>,
    /// `meta.next_cursor` of the previous page, with the same filters, sort and order.
    pub cursor: Option<String>,
    /// With `cursor`: also count the totals (default `false`).
    pub count: Option<bool>,
}

impl From<SearchUsersRequest> for ListInput {
    fn from(b: SearchUsersRequest) -> Self {
        let text = |n: Option<i64>| n.map(|n| n.to_string());
        let flag = |b: Option<bool>| b.map(|b| b.to_string());
        Self {
            page: text(b.page),
            limit: text(b.limit),
            sort: b.sort,
            order: b.order,
            email: b.email,
            username: b.username,
            q: b.q,
            role: b.role,
            status: b.status,
            tenant_id: b.tenant_id,
            include_inactive: flag(b.include_inactive),
            cursor: b.cursor,
            count: flag(b.count),
        }
    }
}

/// Reads a query string as `T`: 400 `unknown_field` for a parameter the route does not
/// take, 400 `invalid_query` for anything else unreadable (a repeated parameter).
fn read_query<T: serde::de::DeserializeOwned>(query_string: &str) -> Result<T, ApiError> {
    web::Query::<T>::from_query(query_string)
        .map(web::Query::into_inner)
        .map_err(|e| {
            let message = e.to_string();
            if message.contains("unknown field") {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "unknown_field",
                    message
                        .split_once("unknown field")
                        .map_or(message.clone(), |(_, rest)| format!("unknown field{rest}")),
                )
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message)
            }
        })
}

/// The validated list query of a `GET /api/users` query string (also right for
/// `GET /internal/users`).
///
/// # Errors
/// 400 for unknown or repeated parameters, 422 for bad values.
pub fn list_query(state: &HttpState, query_string: &str) -> Result<UserListQuery, ApiError> {
    let params: ListUsersParams = read_query(query_string)?;
    state
        .listing
        .parse(&ListInput::from(params))
        .map_err(ApiError::validation)
}

/// The answer to a validated list query: `{"data": [users], "meta": {...}}`.
///
/// # Errors
/// 422 for an unknown role, 503/500 when storage fails.
pub async fn list_response(
    state: &HttpState,
    query: &UserListQuery,
) -> Result<HttpResponse, ApiError> {
    let list = state.listing.list(query).await?;
    let listed = list.listed;
    Ok(HttpResponse::Ok().json(PagedList {
        data: listed.users.iter().map(UserBody::from).collect(),
        meta: PageMeta {
            page: listed.page,
            limit: listed.limit,
            total_items: listed.total_items,
            total_pages: listed.total_pages,
            next_cursor: list.next_cursor,
        },
    }))
}

/// `GET /api/users`: one page of users (ADMIN, MANAGER).
#[utoipa::path(
    get, path = "/api/users", tag = "users",
    security(("bearer" = []), ("cookie" = [])),
    params(ListUsersParams),
    responses(
        (status = 200, description = "One page of users in a stable order (ties by id). `meta.next_cursor` leads to the next page (null on the last); with `cursor`, `total_items`/`total_pages` are left out unless `count=true`", body = PagedList<UserBody>),
        (status = 400, description = "`unknown_field` (a parameter this route does not take) or `invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: neither ADMIN nor MANAGER", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A value out of range or malformed, `cursor` with `page`, a cursor that was altered or made for other filters or sort (`invalid_cursor`), an unknown role (`unknown_role`); one `errors` entry per parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_users(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    require_lister(&caller)?;
    let query = list_query(&state, req.query_string())?;
    list_response(&state, &query).await
}

/// `POST /api/users/search`: as `GET /api/users`, the filters in a JSON body.
#[utoipa::path(
    post, path = "/api/users/search", tag = "users",
    security(("bearer" = []), ("cookie" = [])),
    request_body = SearchUsersRequest,
    responses(
        (status = 200, description = "One page of users, as `GET /api/users`", body = PagedList<UserBody>),
        (status = 400, description = "Malformed body, a wrong JSON type or an unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: neither ADMIN nor MANAGER", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "As `GET /api/users`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn search_users(
    state: web::Data<HttpState>,
    caller: Authenticated,
    body: Result<web::Json<SearchUsersRequest>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    // The body is taken as a `Result` (see `me.rs`): the caller is authenticated and allowed
    // first, then the body's error is answered.
    require_lister(&caller)?;
    let body = body?.into_inner();
    let query = state
        .listing
        .parse(&ListInput::from(body))
        .map_err(ApiError::validation)?;
    Ok(list_response(&state, &query).await?)
}

/// `GET /api/users/by-role/{role}`: the active users holding `role`, paged as
/// `GET /api/users`.
#[utoipa::path(
    get, path = "/api/users/by-role/{role}", tag = "users",
    security(("bearer" = []), ("cookie" = [])),
    params(("role" = String, Path, description = "A role name (built in or custom)"), ByRoleParams),
    responses(
        (status = 200, description = "One page of the active users holding the role", body = PagedList<UserBody>),
        (status = 400, description = "`unknown_field` or `invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: neither ADMIN nor MANAGER", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A malformed (`invalid_role`) or unknown (`unknown_role`) role, or a bad query value", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn users_by_role(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller: Authenticated,
    role: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_lister(&caller)?;
    let p: ByRoleParams = read_query(req.query_string())?;
    let input = ListInput {
        page: p.page,
        limit: p.limit,
        sort: p.sort,
        order: p.order,
        email: p.email,
        username: p.username,
        q: p.q,
        role: Some(role.into_inner()),
        status: Some(UserStatus::Active.as_str().to_owned()),
        tenant_id: p.tenant_id,
        include_inactive: None,
        cursor: p.cursor,
        count: p.count,
    };
    let query = state.listing.parse(&input).map_err(ApiError::validation)?;
    list_response(&state, &query).await
}
