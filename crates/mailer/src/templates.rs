//! The text of each message: one function per [`MailKind`], each giving a subject, a plain
//! text body and an HTML body.
//!
//! Templates are plain Rust: no template engine, nothing to load at run time, and the
//! compiler checks that every kind has one. Everything interpolated into HTML goes through
//! [`escape_html`]; links carry their token percent-encoded (a base64url token is unchanged).
//! Keep the text ASCII where possible: it is then sent as readable 7-bit text.

use chrono::{DateTime, Utc};
use roster_domain::mail::{MailKind, OutgoingMail};

/// The product name, as it appears in messages.
pub const PRODUCT: &str = "Roster";

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// The `text/plain` alternative.
    pub text: String,
    /// The `text/html` alternative.
    pub html: String,
}

/// Renders `mail`, with links under `public_url` (no trailing slash needed).
pub fn render(mail: &OutgoingMail, public_url: &str) -> Rendered {
    let name = mail
        .to_name
        .as_deref()
        .map(one_line)
        .filter(|name| !name.is_empty());
    match &mail.kind {
        MailKind::Confirmation { token, expires_at } => confirmation(
            name.as_deref(),
            &link(public_url, "/confirm", token),
            *expires_at,
        ),
        MailKind::PasswordReset { token, expires_at } => password_reset(
            name.as_deref(),
            &link(public_url, "/reset-password", token),
            *expires_at,
        ),
    }
}

/// `{public_url}{path}?token={token}`.
pub fn link(public_url: &str, path: &str, token: &str) -> String {
    format!(
        "{}{path}?token={}",
        public_url.trim_end_matches('/'),
        percent_encode(token)
    )
}

fn confirmation(name: Option<&str>, link: &str, expires_at: DateTime<Utc>) -> Rendered {
    let expires = format_expiry(expires_at);
    let subject = "Confirm your email address".to_owned();
    let text = format!(
        "{greeting}\n\
         \n\
         Welcome to {PRODUCT}. Please confirm your email address by opening this link:\n\
         \n\
         {link}\n\
         \n\
         The link works until {expires}. If it has expired, register again.\n\
         \n\
         If you did not create a {PRODUCT} account, ignore this message: without confirmation\n\
         the account is deleted.\n\
         {SIGNATURE}",
        greeting = greeting_text(name),
    );
    let body = format!(
        "<p>{greeting}</p>\n\
         <p>Welcome to {PRODUCT}. Please confirm your email address:</p>\n\
         <p><a href=\"{href}\">Confirm my email address</a></p>\n\
         <p>Or copy this link into your browser:<br>{href}</p>\n\
         <p>The link works until {expires}. If it has expired, register again.</p>\n\
         <p>If you did not create a {PRODUCT} account, ignore this message: without \
         confirmation the account is deleted.</p>\n",
        greeting = escape_html(&greeting_text(name)),
        href = escape_html(link),
        expires = escape_html(&expires),
    );
    let html = layout(&subject, &body);
    Rendered {
        subject,
        text,
        html,
    }
}

fn password_reset(name: Option<&str>, link: &str, expires_at: DateTime<Utc>) -> Rendered {
    let expires = format_expiry(expires_at);
    let subject = format!("Reset your {PRODUCT} password");
    let text = format!(
        "{greeting}\n\
         \n\
         Someone asked to reset the password of your {PRODUCT} account. To choose a new\n\
         password, open this link:\n\
         \n\
         {link}\n\
         \n\
         The link works once, until {expires}. Setting a new password signs you out\n\
         everywhere.\n\
         \n\
         If you did not ask for this, ignore this message: your password stays as it is.\n\
         {SIGNATURE}",
        greeting = greeting_text(name),
    );
    let body = format!(
        "<p>{greeting}</p>\n\
         <p>Someone asked to reset the password of your {PRODUCT} account.</p>\n\
         <p><a href=\"{href}\">Choose a new password</a></p>\n\
         <p>Or copy this link into your browser:<br>{href}</p>\n\
         <p>The link works once, until {expires}. Setting a new password signs you out \
         everywhere.</p>\n\
         <p>If you did not ask for this, ignore this message: your password stays as it \
         is.</p>\n",
        greeting = escape_html(&greeting_text(name)),
        href = escape_html(link),
        expires = escape_html(&expires),
    );
    let html = layout(&subject, &body);
    Rendered {
        subject,
        text,
        html,
    }
}

const SIGNATURE: &str = "\n-- \nRoster\n";

fn greeting_text(name: Option<&str>) -> String {
    match name {
        Some(name) => format!("Hello {name},"),
        None => "Hello,".to_owned(),
    }
}

fn format_expiry(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The HTML page every message shares.
fn layout(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n\
         <html lang=\"en\">\n\
         <head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body style=\"font-family: sans-serif; line-height: 1.5;\">\n\
         {body}\
         <p>&mdash; {PRODUCT}</p>\n\
         </body>\n\
         </html>\n",
        title = escape_html(title),
    )
}

/// A name on one line: control characters (newlines included) become spaces.
fn one_line(raw: &str) -> String {
    raw.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Escapes the five characters with meaning in HTML text and attribute values.
pub fn escape_html(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

/// Percent-encodes everything but RFC 3986's unreserved characters (which include the whole
/// base64url alphabet).
fn percent_encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const TOKEN: &str = "dGhpcy1pcy1hLXRva2VuLW9mLTMyLWJ5dGVzLWxvbmc_-Ab";

    fn confirmation_mail(name: Option<&str>) -> OutgoingMail {
        OutgoingMail {
            to: "ada@example.com".to_owned(),
            to_name: name.map(str::to_owned),
            kind: MailKind::Confirmation {
                token: TOKEN.to_owned(),
                expires_at: Utc.with_ymd_and_hms(2026, 11, 16, 9, 30, 0).unwrap(),
            },
        }
    }

    #[test]
    fn the_confirmation_mail_carries_the_link_in_text_and_html() {
        let rendered = render(&confirmation_mail(None), "https://roster.example/");
        let link = format!("https://roster.example/confirm?token={TOKEN}");
        assert_eq!(rendered.subject, "Confirm your email address");
        assert!(
            rendered.text.contains(&format!("\n{link}\n")),
            "{}",
            rendered.text
        );
        assert!(
            rendered.html.contains(&format!("href=\"{link}\"")),
            "{}",
            rendered.html
        );
        assert!(rendered.text.contains("Roster"));
        assert!(rendered.html.contains("Roster"));
    }

    #[test]
    fn the_confirmation_mail_states_the_expiry_in_utc() {
        let rendered = render(&confirmation_mail(None), "http://localhost:8080");
        assert!(
            rendered.text.contains("2026-11-16 09:30 UTC"),
            "{}",
            rendered.text
        );
        assert!(rendered.html.contains("2026-11-16 09:30 UTC"));
    }

    #[test]
    fn the_greeting_names_the_recipient_when_known() {
        let named = render(&confirmation_mail(Some("Ada Lovelace")), "http://x");
        assert!(
            named.text.starts_with("Hello Ada Lovelace,\n"),
            "{}",
            named.text
        );
        let anonymous = render(&confirmation_mail(None), "http://x");
        assert!(anonymous.text.starts_with("Hello,\n"));
        let blank = render(&confirmation_mail(Some("  ")), "http://x");
        assert!(blank.text.starts_with("Hello,\n"));
    }

    #[test]
    fn everything_interpolated_into_html_is_escaped() {
        let mut mail = confirmation_mail(Some("<script>alert('x')</script> & \"Bob\""));
        let rendered = render(&mail, "https://roster.example/?a=1&b=\"2\"");
        assert!(!rendered.html.contains("<script>"), "{}", rendered.html);
        assert!(rendered.html.contains(
            "Hello &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;Bob&quot;,"
        ));
        assert!(
            rendered
                .html
                .contains("?a=1&amp;b=&quot;2&quot;/confirm?token=")
        );
        // A token that is not base64url cannot break out of the link either.
        mail.kind = MailKind::Confirmation {
            token: "a\"b<c> d&e".to_owned(),
            expires_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        };
        let rendered = render(&mail, "https://roster.example");
        assert!(
            rendered
                .text
                .contains("/confirm?token=a%22b%3Cc%3E%20d%26e\n")
        );
        assert!(
            rendered
                .html
                .contains("href=\"https://roster.example/confirm?token=a%22b%3Cc%3E%20d%26e\"")
        );
    }

    #[test]
    fn a_name_with_newlines_stays_on_the_greeting_line() {
        let rendered = render(&confirmation_mail(Some("Ada\r\nBcc: x@y.z")), "http://x");
        assert!(
            rendered.text.starts_with("Hello Ada  Bcc: x@y.z,\n"),
            "{}",
            rendered.text
        );
    }

    #[test]
    fn the_text_of_an_anonymous_confirmation_is_plain_ascii() {
        let rendered = render(&confirmation_mail(None), "http://localhost:8080");
        assert!(rendered.text.is_ascii());
        assert!(rendered.html.is_ascii());
    }
}
