//! The HTML pages: sign-in, consent, messages. Server-rendered with askama,
//! every page with anti-framing and no-store headers. No JavaScript, except
//! the same-origin passkey script on the pages that offer passkeys
//! ([`passkeys`], [`scripted_page`]); every form works without it.

pub mod apps;
pub mod audit;
pub mod developer;
pub mod device;
pub mod error;
pub mod login;
pub mod login_limits;
pub mod passkeys;
pub mod password;
pub mod reauth;
pub mod second_factor;
pub mod security;
pub mod sessions;

pub use error::PageError;

use askama::Template;
use poem::http::StatusCode;
use poem::{Request, Response};

use crate::AppState;
use crate::session::{self, Session, cookies};

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    /// The issuer's path (`""` or e.g. `/tenant1`), before every `action`.
    pub base: &'a str,
    pub csrf_token: &'a str,
    pub next: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
    /// Offer "Sign in with a passkey" (passkeys work at this issuer).
    pub passkeys: bool,
}

pub struct ScopeLine {
    pub name: String,
    pub description: String,
    pub grantable: bool,
    /// Agencies (with role) where this scope cannot be granted.
    pub refused_in: String,
}

pub struct AgencyChoice {
    pub id: String,
    pub name: String,
    pub role: &'static str,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    /// The issuer's path (`""` or e.g. `/tenant1`), before every `action`.
    pub base: &'a str,
    pub client_name: &'a str,
    pub client_id: &'a str,
    /// The host of a metadata document client's URL (its verified identity).
    pub client_host: Option<&'a str>,
    pub redirect_host: &'a str,
    pub loopback_only: bool,
    /// The resource (RFC 8707) the tokens will be for, and the name of its
    /// resource server when it has one.
    pub resource: &'a str,
    pub resource_name: Option<&'a str>,
    /// When a refresh token will be issued: its longest life, in words.
    pub stays_connected_for: Option<&'a str>,
    pub scopes: Vec<ScopeLine>,
    /// Identity scopes asked for (name, what the app learns).
    pub identity: Vec<(&'static str, &'static str)>,
    pub offline: bool,
    /// Where the form is sent, under `base`: `/oauth/authorize` or `/device`.
    pub action: &'a str,
    /// A device's user code (RFC 8628), shown as `XXXX-XXXX`: the request
    /// comes from a device, not a redirect.
    pub user_code: Option<String>,
    pub hidden: Vec<(String, String)>,
    pub csrf_token: &'a str,
    pub agencies: Vec<AgencyChoice>,
    pub email: &'a str,
}

/// An authorization error for a client no member has acted on yet: the
/// error explained, and a link back to the client instead of a redirect.
#[derive(Template)]
#[template(path = "continue.html")]
pub struct ContinuePage<'a> {
    pub location: &'a str,
    pub host: &'a str,
    pub error: &'a str,
    pub description: &'a str,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub is_error: bool,
    /// The sign-out form of a signed-in member: its CSRF token.
    pub logout_csrf: Option<String>,
    /// The issuer's path (`""` or e.g. `/tenant1`), before every `action`.
    pub base: &'a str,
}

/// A lifetime in words for a page: "30 days", "1 hour", "90 seconds".
/// Rounded up to the largest unit that is at least 2 (or exactly 1), so an
/// "at most" before it stays true.
pub fn humanise_secs(secs: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(86_400, "day"), (3_600, "hour"), (60, "minute")];
    let (n, unit) = UNITS
        .iter()
        .find(|(size, _)| secs == *size || secs >= 2 * size)
        .map_or((secs, "second"), |(size, name)| {
            (secs.div_ceil(*size), *name)
        });
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// A time for a page: `2026-12-03 07:40 UTC` (minutes are enough to
/// recognise a sign-in or a use).
pub fn datetime(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix).map_or_else(
        |_| unix.to_string(),
        |t| format!("{} {:02}:{:02} UTC", t.date(), t.hour(), t.minute()),
    )
}

/// An HTML response with the headers every page carries.
pub fn page(status: StatusCode, body: Result<String, askama::Error>) -> Response {
    let (status, body) = match body {
        Ok(b) => (status, b),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><title>Error</title><p>Something went wrong.</p>".to_string(),
            )
        }
    };
    Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .header(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; frame-ancestors 'none'; base-uri 'none'",
        )
        .header("X-Frame-Options", "DENY")
        .header("X-Content-Type-Options", "nosniff")
        .header("Referrer-Policy", "no-referrer")
        .header("Cache-Control", "no-store")
        .body(body)
}

/// The CSP of a page that runs the passkey script: [`page`]'s, plus scripts
/// and `fetch` to this origin only (no inline script, no other origin).
const SCRIPTED_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' https: data:; frame-ancestors 'none'; base-uri 'none'";

/// [`page`] for the pages that load the passkey script (sign-in, second
/// step, security).
pub fn scripted_page(status: StatusCode, body: Result<String, askama::Error>) -> Response {
    let mut resp = page(status, body);
    resp.headers_mut().insert(
        "Content-Security-Policy",
        poem::http::HeaderValue::from_static(SCRIPTED_CSP),
    );
    resp
}

/// A message page (errors included).
pub fn message(status: StatusCode, title: &str, message: &str) -> Response {
    page(
        status,
        MessagePage {
            title,
            message,
            is_error: status.is_client_error() || status.is_server_error(),
            logout_csrf: None,
            // No form on a plain message.
            base: "",
        }
        .render(),
    )
}

/// A redirect from a page (303 after a POST, 302 otherwise), with the page
/// headers (no-store, no referrer).
pub fn redirect(status: StatusCode, location: &str) -> Response {
    let mut resp = page(status, Ok(String::new()));
    if let Ok(v) = location.parse() {
        resp.headers_mut().insert("Location", v);
    }
    resp
}

pub fn cookie_header(req: &Request) -> Option<&str> {
    req.headers().get("cookie").and_then(|v| v.to_str().ok())
}

/// The signed-in session of this request, if any.
pub async fn current_session(
    state: &AppState,
    req: &Request,
) -> Result<Option<Session>, sea_orm::DbErr> {
    let Some(raw) = cookies::get(
        cookie_header(req),
        session::SESSION_COOKIE,
        state.settings.issuer_is_https(),
    ) else {
        return Ok(None);
    };
    session::load(&state.db, raw, crate::clock::now(), &state.settings.session).await
}

/// Maximum form body: forms here are small.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// A form body as pairs; `None` when it is not a form or too large.
pub async fn read_form(req: &Request, body: poem::Body) -> Option<Vec<(String, String)>> {
    read_form_limit(req, body, MAX_FORM_BYTES).await
}

/// [`read_form`] with a body of at most `limit` bytes.
pub async fn read_form_limit(
    req: &Request,
    body: poem::Body,
    limit: usize,
) -> Option<Vec<(String, String)>> {
    let ct = req.header("content-type").unwrap_or_default();
    if !ct.split(';').next().is_some_and(|m| {
        m.trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    }) {
        return None;
    }
    let bytes = body.into_bytes_limit(limit).await.ok()?;
    Some(
        url::form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    )
}

/// The single value of `name` in form pairs (None if absent or repeated).
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let mut it = pairs.iter().filter(|(k, _)| k == name);
    let first = it.next()?;
    it.next().is_none().then_some(first.1.as_str())
}

/// The sign-in page's URL, coming back to `page` after (both under the
/// issuer's path).
pub fn sign_in_then(state: &AppState, page: &str) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", &state.settings.local_path(page))
        .finish();
    format!("{}?{q}", state.settings.local_path("/login"))
}

/// A form a signed-in member POSTed to `page`, its CSRF token checked: the
/// session and the fields, or (signed out) the redirect to sign in and back.
pub async fn member_form(
    state: &AppState,
    req: &Request,
    body: poem::Body,
    page: &str,
) -> Result<Result<(Session, Vec<(String, String)>), Response>, PageError> {
    let form = read_form(req, body)
        .await
        .ok_or_else(PageError::unreadable_form)?;
    let Some(s) = current_session(state, req).await? else {
        return Ok(Err(redirect(
            StatusCode::SEE_OTHER,
            &sign_in_then(state, page),
        )));
    };
    if !s.csrf_ok(field(&form, "csrf_token")) {
        return Err(PageError::FormExpired);
    }
    Ok(Ok((s, form)))
}

#[cfg(test)]
mod tests {
    use super::{datetime, humanise_secs};

    #[test]
    fn times_in_utc_to_the_minute() {
        assert_eq!(datetime(0), "1970-01-01 00:00 UTC");
        assert_eq!(datetime(1_796_283_659), "2026-12-03 07:40 UTC");
        assert_eq!(datetime(i64::MAX), i64::MAX.to_string());
    }

    #[test]
    fn lifetimes_in_words_never_understate() {
        assert_eq!(humanise_secs(2_592_000), "30 days");
        assert_eq!(humanise_secs(86_400), "1 day");
        assert_eq!(humanise_secs(90_000), "25 hours");
        assert_eq!(humanise_secs(2 * 86_400 + 1), "3 days");
        assert_eq!(humanise_secs(3_600), "1 hour");
        assert_eq!(humanise_secs(5_400), "90 minutes");
        assert_eq!(humanise_secs(90), "90 seconds");
        assert_eq!(humanise_secs(1), "1 second");
    }
}
