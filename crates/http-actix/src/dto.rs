//! Request and response bodies. Requests reject unknown fields; responses use the envelope.

use chrono::{DateTime, SecondsFormat, Utc};
use roster_domain::user::User;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every success body: `{"data": ...}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    /// The payload.
    pub data: T,
}

impl<T> Envelope<T> {
    /// Wraps a payload.
    pub fn new(data: T) -> Self {
        Self { data }
    }
}

/// RFC 3339, UTC, microseconds: `2026-11-22T18:30:00.123456Z`.
pub fn timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The user's profile as sent.
#[derive(Debug, Serialize, PartialEq, Eq, ToSchema)]
pub struct ProfileBody {
    first_name: Option<String>,
    last_name: Option<String>,
    birth_date: Option<String>,
    gender: Option<String>,
}

/// A tenant membership as sent.
#[derive(Debug, Serialize, PartialEq, Eq, ToSchema)]
pub struct TenantBody {
    tenant_id: String,
    role: String,
    main: bool,
    created_at: String,
}

/// The user resource of the contract. Never holds hashes or secrets.
#[derive(Debug, Serialize, PartialEq, Eq, ToSchema)]
#[schema(example = json!({
    "id": "01936f3e-8a1b-7c3d-9e4f-0a1b2c3d4e5f", "external_id": null,
    "email": "ada@example.com", "email_verified": true, "username": "ada",
    "name": "Ada Lovelace", "phone": "+441234567890", "avatar_url": "https://example.com/a.png",
    "profile": {"first_name": "Ada", "last_name": "Lovelace", "birth_date": "1815-12-10", "gender": null},
    "status": "active", "roles": ["USER"], "tenants": [],
    "last_login_at": "2026-11-22T18:30:00.123456Z", "login_count": 3,
    "created_at": "2026-11-20T09:00:00.000000Z", "updated_at": "2026-11-22T18:30:00.123456Z",
    "deactivated_at": null
}))]
pub struct UserBody {
    #[schema(format = "uuid")]
    id: String,
    external_id: Option<String>,
    email: Option<String>,
    email_verified: bool,
    username: String,
    name: Option<String>,
    phone: Option<String>,
    avatar_url: Option<String>,
    profile: ProfileBody,
    /// `pending`, `active` or `deactivated`.
    #[schema(value_type = String, example = "active")]
    status: &'static str,
    roles: Vec<String>,
    tenants: Vec<TenantBody>,
    last_login_at: Option<String>,
    login_count: i64,
    created_at: String,
    updated_at: String,
    deactivated_at: Option<String>,
}

impl From<&User> for UserBody {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            external_id: user.external_id.clone(),
            email: user.email.as_ref().map(|e| e.as_str().to_owned()),
            email_verified: user.email_verified,
            username: user.username.as_str().to_owned(),
            name: user.name.as_ref().map(|n| n.as_str().to_owned()),
            phone: user.phone.as_ref().map(|p| p.as_str().to_owned()),
            avatar_url: user.avatar_url.as_ref().map(|a| a.as_str().to_owned()),
            profile: ProfileBody {
                first_name: user.profile.first_name().map(str::to_owned),
                last_name: user.profile.last_name().map(str::to_owned),
                birth_date: user
                    .profile
                    .birth_date()
                    .map(|d| d.format("%Y-%m-%d").to_string()),
                gender: user.profile.gender().map(str::to_owned),
            },
            status: user.status.as_str(),
            roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            tenants: user
                .tenants
                .iter()
                .map(|t| TenantBody {
                    tenant_id: t.tenant_id.as_str().to_owned(),
                    role: t.role.as_str().to_owned(),
                    main: t.main,
                    created_at: timestamp(&t.created_at),
                })
                .collect(),
            last_login_at: user.last_login_at.as_ref().map(timestamp),
            login_count: user.login_count,
            created_at: timestamp(&user.created_at),
            updated_at: timestamp(&user.updated_at),
            deactivated_at: user.deactivated_at.as_ref().map(timestamp),
        }
    }
}

/// The body of login and refresh.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokensBody {
    /// Signed JWT.
    pub access_token: String,
    /// Opaque refresh token.
    pub refresh_token: String,
    /// Always `Bearer`.
    #[schema(value_type = String, example = "Bearer")]
    pub token_type: &'static str,
    /// Access token lifetime in seconds.
    pub expires_in: i64,
    /// The user.
    pub user: UserBody,
}

/// `POST /api/auth/register`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ada@example.com", "password": "Str0ng!pass", "name": "Ada Lovelace"}))]
pub struct RegisterRequest {
    /// Email (required).
    #[schema(required = true, value_type = String)]
    pub email: Option<String>,
    /// Password (required): 8 to 72 bytes, a lowercase and an uppercase letter, a digit and
    /// another character; not the email or username.
    #[schema(required = true, value_type = String)]
    pub password: Option<String>,
    /// Username.
    pub username: Option<String>,
    /// Display name.
    pub name: Option<String>,
}

/// `POST /api/auth/confirm`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// The token from the confirmation mail.
    #[schema(required = true, value_type = String)]
    pub token: Option<String>,
}

/// `POST /api/auth/login`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"login": "ada@example.com", "password": "Str0ng!pass"}))]
pub struct LoginRequest {
    /// Email or username.
    #[schema(required = true, value_type = String)]
    pub login: Option<String>,
    /// Password.
    #[schema(required = true, value_type = String)]
    pub password: Option<String>,
    /// Also set the `access_token` cookie.
    pub set_cookie: Option<bool>,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("set_cookie", &self.set_cookie)
            .finish_non_exhaustive()
    }
}

/// `POST /api/auth/refresh`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token of the last login or refresh.
    #[schema(required = true, value_type = String)]
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshRequest").finish_non_exhaustive()
    }
}

/// A list answer: `{"data": [...], "meta": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListEnvelope<T> {
    /// The items.
    pub data: Vec<T>,
    /// Paging facts.
    pub meta: ListMeta,
}

/// The `meta` of a list answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListMeta {
    /// Page number, from 1.
    pub page: u64,
    /// Page size.
    pub limit: u64,
    /// Items across all pages.
    pub total_items: u64,
    /// Pages.
    pub total_pages: u64,
    /// Cursor of the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

impl<T> ListEnvelope<T> {
    /// A list that is never paged: everything on page 1.
    pub fn single_page(data: Vec<T>) -> Self {
        let total = u64::try_from(data.len()).unwrap_or(u64::MAX);
        Self {
            data,
            meta: ListMeta {
                page: 1,
                limit: total.max(1),
                total_items: total,
                total_pages: 1,
                next_cursor: None,
            },
        }
    }
}

/// One of the caller's sessions in `GET /api/auth/sessions`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionBody {
    /// Session id.
    pub id: String,
    /// Login time.
    pub created_at: String,
    /// Last login or refresh.
    pub last_used_at: String,
    /// Client IP at login.
    pub ip: Option<String>,
    /// Client user agent at login.
    pub user_agent: Option<String>,
    /// Whether this is the session of the calling token.
    pub current: bool,
}

impl From<&roster_domain::services::OwnSession> for SessionBody {
    fn from(own: &roster_domain::services::OwnSession) -> Self {
        Self {
            id: own.session.id.to_string(),
            created_at: timestamp(&own.session.created_at),
            last_used_at: timestamp(&own.session.last_used_at),
            ip: own.session.ip.clone(),
            user_agent: own.session.user_agent.clone(),
            current: own.current,
        }
    }
}

/// An empty payload: `{"data":{}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Nothing {}

/// `POST /api/auth/resend-confirmation` and `POST /api/auth/password-reset/request`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailRequest {
    /// The account's address.
    #[schema(required = true, value_type = String)]
    pub email: Option<String>,
}

/// `POST /api/auth/password-reset/confirm`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirmRequest {
    /// The token from the reset mail.
    #[schema(required = true, value_type = String)]
    pub token: Option<String>,
    /// The new password.
    #[schema(required = true, value_type = String)]
    pub password: Option<String>,
}

impl std::fmt::Debug for ResetConfirmRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResetConfirmRequest(<redacted>)")
    }
}

/// `Some(value)` for a present field, whatever its value (`null` included), so that a
/// present `null` (`Some(None)`) differs from an absent field (`None`, via `default`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The profile in a change request: replaces the stored profile whole.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRequest {
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    /// Gender.
    pub gender: Option<String>,
}

/// `PATCH /api/users/me`. Absent: unchanged; `null`: cleared (optional fields only).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
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
    /// Profile.
    #[serde(default, deserialize_with = "present")]
    pub profile: Option<Option<ProfileRequest>>,
    /// Email.
    #[serde(default, deserialize_with = "present")]
    pub email: Option<Option<String>>,
    /// New password.
    #[serde(default, deserialize_with = "present")]
    pub password: Option<Option<String>>,
    /// Current password.
    pub current_password: Option<String>,
}

impl std::fmt::Debug for UpdateMeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UpdateMeRequest(<redacted>)")
    }
}

/// `DELETE /api/users/me`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteMeRequest {
    /// Current password.
    #[schema(required = true, value_type = String)]
    pub current_password: Option<String>,
}

impl std::fmt::Debug for DeleteMeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeleteMeRequest(<redacted>)")
    }
}

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthBody {
    /// `ok` (or `ready`).
    #[schema(value_type = String, example = "ok")]
    pub status: &'static str,
}

/// The `meta` of a paged list of users. `total_items` and `total_pages` are left out of a
/// page asked by cursor unless `count=true`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageMeta {
    /// Page number, from 1 (a cursor knows the number of the page it leads to).
    pub page: u64,
    /// Page size.
    pub limit: u64,
    /// Items across all pages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_items: Option<u64>,
    /// Pages: `total_items / limit`, rounded up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_pages: Option<u64>,
    /// Cursor of the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// A paged list answer: `{"data": [...], "meta": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PagedList<T> {
    /// The items of this page.
    pub data: Vec<T>,
    /// Paging facts.
    pub meta: PageMeta,
}
