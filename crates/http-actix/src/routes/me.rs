//! Self-service: the caller changes or erases their own account.

use actix_web::{HttpRequest, HttpResponse, web};
use roster_domain::services::UpdateMeInput;
use roster_domain::user::ProfileInput;

use crate::auth::Authenticated;
use crate::dto::{DeleteMeRequest, Envelope, UpdateMeRequest, UserBody};
use crate::error::ApiError;
use crate::routes::request_context;
use crate::state::HttpState;

// The body is taken as a `Result` so that a malformed body cannot fail extraction while the
// `Authenticated` extractor is still querying the database: a failed extractor makes actix
// drop the others mid-flight, and a SQLite query dropped on an HTTP worker cannot be
// cancelled there. The caller is authenticated first; then the body's error is answered.

/// `PATCH /api/users/me`: 200 with the account as changed. Absent fields stay; `null` clears
/// an optional field.
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
