//! The HTML pages: sign-in, consent, messages. Server-rendered with askama,
//! no JavaScript, every page with anti-framing and no-store headers.

pub mod developer;
pub mod error;
pub mod login;
pub mod login_limits;

pub use error::PageError;

use askama::Template;
use poem::http::StatusCode;
use poem::{Request, Response};

use crate::AppState;
use crate::session::{self, Session, cookies};

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub csrf_token: &'a str,
    pub next: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
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
    pub client_name: &'a str,
    pub client_id: &'a str,
    /// The host of a metadata document client's URL (its verified identity).
    pub client_host: Option<&'a str>,
    pub redirect_host: &'a str,
    pub loopback_only: bool,
    pub scopes: Vec<ScopeLine>,
    pub offline: bool,
    pub hidden: Vec<(String, String)>,
    pub csrf_token: &'a str,
    pub agencies: Vec<AgencyChoice>,
    pub email: &'a str,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub is_error: bool,
    pub logout_csrf: Option<String>,
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

/// A message page (errors included).
pub fn message(status: StatusCode, title: &str, message: &str) -> Response {
    page(
        status,
        MessagePage {
            title,
            message,
            is_error: status.is_client_error() || status.is_server_error(),
            logout_csrf: None,
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
    let ct = req.header("content-type").unwrap_or_default();
    if !ct.split(';').next().is_some_and(|m| {
        m.trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    }) {
        return None;
    }
    let bytes = body.into_bytes_limit(MAX_FORM_BYTES).await.ok()?;
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
