//! Self-service: the caller changes or erases their own account.

use actix_web::{HttpRequest, HttpResponse, web};
use roster_domain::services::UpdateMeInput;
use roster_domain::user::ProfileInput;

use crate::auth::Authenticated;
use crate::dto::{DeleteMeRequest, Envelope, UpdateMeRequest, UserBody};
use crate::error::{ApiError, Problem};
use crate::routes::request_context;
use crate::state::HttpState;

// The body is taken as a `Result` so that a malformed body cannot fail extraction while the
// `Authenticated` extractor is still querying the database: a failed extractor makes actix
// drop the others mid-flight, and a SQLite query dropped on an HTTP worker cannot be
// cancelled there. The caller is authenticated first; then the body's error is answered.

/// `PATCH /api/users/me`: 200 with the account as changed. Absent fields stay; `null` clears
/// an optional field.
#[utoipa::path(
    patch, path = "/api/users/me", tag = "users",
    security(("bearer" = []), ("cookie" = [])),
    request_body = UpdateMeRequest,
    responses(
        (status = 200, description = "The account as changed. A new email is unverified and gets a confirmation mail; a new password revokes every other session", body = Envelope<UserBody>),
        (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`current_password_required` or `wrong_password` (changing email or password)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken` or `username_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Field rules broken; `errors` lists each", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_me(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller: Authenticated,
    body: Result<web::Json<UpdateMeRequest>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let body = body?.into_inner();
    let input = UpdateMeInput {
        username: body.username,
        name: body.name,
        phone: body.phone,
        avatar_url: body.avatar_url,
        profile: body.profile.map(|p| {
            p.map(|p| ProfileInput {
                first_name: p.first_name,
                last_name: p.last_name,
                birth_date: p.birth_date,
                gender: p.gender,
            })
        }),
        email: body.email,
        password: body.password,
        current_password: body.current_password,
    };
    let user = state
        .accounts
        .update_me(&caller.0, input, &request_context(&req))
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::Ok().json(Envelope::new(UserBody::from(&user))))
}

/// `DELETE /api/users/me`: 204; the account and everything attached to it is erased.
#[utoipa::path(
    delete, path = "/api/users/me", tag = "users",
    security(("bearer" = []), ("cookie" = [])),
    request_body = DeleteMeRequest,
    responses(
        (status = 204, description = "The account, its sessions, tokens and memberships are erased"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`current_password_required` or `wrong_password`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_me(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller: Authenticated,
    body: Result<web::Json<DeleteMeRequest>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let body = body?.into_inner();
    state
        .accounts
        .delete_me(
            &caller.0,
            body.current_password.as_deref(),
            &request_context(&req),
        )
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::NoContent().finish())
}
