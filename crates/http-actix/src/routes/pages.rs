//! The two small HTML pages that confirmation and reset mails link to. A GET only serves the
//! page; the page's script POSTs the token to the API when the user submits.
//!
//! The pages are self-contained: their script and stylesheet are served by Roster itself
//! (`/assets/pages.js`, `/assets/pages.css`), so the Content-Security-Policy allows scripts
//! and styles from `'self'` only, no inline code, and `fetch` to `'self'` only.

use actix_web::HttpResponse;
use actix_web::http::header::{self, HeaderValue};

const CONFIRM_HTML: &str = include_str!("../pages/confirm.html");
const RESET_HTML: &str = include_str!("../pages/reset.html");
const PAGES_JS: &str = include_str!("../pages/pages.js");
const PAGES_CSS: &str = include_str!("../pages/pages.css");

/// The policy of the pages: nothing but Roster's own script, stylesheet and API.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; form-action 'none'; base-uri 'none'; \
     frame-ancestors 'none'";

fn page(html: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        ))
        // The URL holds a live token: no cache keeps it, no other site learns it.
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .insert_header((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .body(html)
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .body(body)
}

/// `GET /confirm?token=...`: the email confirmation page.
#[utoipa::path(get, path = "/confirm", tag = "pages",
    params(("token" = Option<String>, Query, description = "The token from the confirmation mail")),
    responses((status = 200, description = "A small HTML form that POSTs the token to `/api/auth/confirm` when submitted; a GET changes nothing", body = String, content_type = "text/html")))]
pub async fn confirm_page() -> HttpResponse {
    page(CONFIRM_HTML)
}

/// `GET /reset-password?token=...`: the new-password page.
#[utoipa::path(get, path = "/reset-password", tag = "pages",
    params(("token" = Option<String>, Query, description = "The token from the reset mail")),
    responses((status = 200, description = "A small HTML form that POSTs the token and a new password to `/api/auth/password-reset/confirm`", body = String, content_type = "text/html")))]
pub async fn reset_page() -> HttpResponse {
    page(RESET_HTML)
}

/// `GET /assets/pages.js`.
pub async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", PAGES_JS)
}

/// `GET /assets/pages.css`.
pub async fn stylesheet() -> HttpResponse {
    asset("text/css; charset=utf-8", PAGES_CSS)
}
