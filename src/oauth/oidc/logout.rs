//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0):
//! `GET`/`POST /oauth/logout`, the metadata's `end_session_endpoint`.
//!
//! - `id_token_hint` must be an id_token this server signed (any of its
//!   published keys, expired or not) whose `aud` is a client that exists; a
//!   `client_id` sent beside it must be that client.
//! - `post_logout_redirect_uri` must equal one of the client's registered
//!   `post_logout_redirect_uris` exactly (the client is named by the hint
//!   or `client_id`); `state` is echoed on that redirect. Anything wrong is
//!   an error page, never a redirect (no open redirector).
//! - With a valid hint for the signed-in member, the session ends at once.
//!   Without a hint (or one for another member) the member confirms on a
//!   page whose form carries the session's CSRF token: a link alone can
//!   never sign anyone out.

use std::sync::Arc;

use askama::Template;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, Request, Response, handler};

use crate::AppState;
use crate::oauth::authorize::request::{MAX_STATE_BYTES, redirect_with};
use crate::oauth::client::{model, store as clients};
use crate::web::login::sign_out;
use crate::web::{PageError, current_session, field, message, page, read_form, redirect};

/// The endpoint's path under the issuer.
pub const PATH: &str = "/oauth/logout";

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage<'a> {
    pub base: &'a str,
    pub client_name: Option<&'a str>,
    pub email: &'a str,
    pub hidden: Vec<(String, String)>,
    pub csrf_token: String,
}

/// A checked logout request.
#[derive(Debug, Default)]
struct Logout {
    client_id: Option<String>,
    client_name: Option<String>,
    /// A registered `post_logout_redirect_uri`.
    to: Option<String>,
    state: Option<String>,
    /// The member a valid `id_token_hint` names.
    hinted: Option<String>,
}

impl Logout {
    /// What the confirmation form carries (checked again when it comes back).
    fn hidden(&self) -> Vec<(String, String)> {
        [
            ("client_id", &self.client_id),
            ("post_logout_redirect_uri", &self.to),
            ("state", &self.state),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_string(), v.clone())))
        .collect()
    }
}

fn refused(why: &str) -> PageError {
    PageError::bad_request(why.to_string())
}

/// Pure: whether `uri` is one of the registered `post_logout_redirect_uris`
/// (exact string comparison).
pub fn registered(column: &str, uri: &str) -> bool {
    model::list(column).iter().any(|u| u == uri)
}

async fn check(state: &AppState, pairs: &[(String, String)]) -> Result<Logout, PageError> {
    let hint = match field(pairs, "id_token_hint") {
        None => None,
        Some(t) => Some(
            super::id_token::verify_hint(state, t)
                .await
                .ok_or_else(|| {
                    refused(
                        "The id_token_hint was not issued by this server (or its key was revoked).",
                    )
                })?,
        ),
    };
    let named = field(pairs, "client_id");
    if let (Some(h), Some(c)) = (&hint, named)
        && h.aud != c
    {
        return Err(refused("The id_token_hint was issued to another client."));
    }
    let client_id = hint.as_ref().map(|h| h.aud.as_str()).or(named);
    let client = match client_id {
        None => None,
        Some(id) => Some(
            clients::find(&state.db, id)
                .await?
                .ok_or_else(|| refused("The app that asks to sign you out is unknown."))?,
        ),
    };
    let to = match field(pairs, "post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let Some(c) = &client else {
                return Err(refused(
                    "A post_logout_redirect_uri needs an id_token_hint or a client_id.",
                ));
            };
            if !registered(&c.post_logout_redirect_uris, uri) {
                return Err(refused(
                    "The post_logout_redirect_uri is not registered for this app.",
                ));
            }
            Some(uri.to_string())
        }
    };
    let st = field(pairs, "state").map(str::to_string);
    if st.as_ref().is_some_and(|s| s.len() > MAX_STATE_BYTES) {
        return Err(refused("The state is too long."));
    }
    Ok(Logout {
        client_id: client.as_ref().map(|c| c.client_id.clone()),
        client_name: client.and_then(|c| c.client_name),
        to,
        state: st,
        hinted: hint.map(|h| h.sub),
    })
}

/// After logout (or when there was nothing to end): back to the client,
/// or a page.
fn done(l: &Logout, status: StatusCode) -> Response {
    match &l.to {
        Some(uri) => {
            let mut p = Vec::new();
            if let Some(s) = l.state.as_deref() {
                p.push(("state", s));
            }
            match redirect_with(uri, &p) {
                Some(loc) => redirect(status, &loc),
                None => message(StatusCode::BAD_REQUEST, "Signed out", "Bad redirect URI."),
            }
        }
        None => message(StatusCode::OK, "Signed out", "You are signed out."),
    }
}

/// A logout request (GET, or POST of its parameters).
async fn request(
    state: &AppState,
    req: &Request,
    pairs: &[(String, String)],
    status: StatusCode,
) -> Result<Response, PageError> {
    let l = check(state, pairs).await?;
    let Some(s) = current_session(state, req).await? else {
        return Ok(done(&l, status));
    };
    if l.hinted.as_deref() == Some(s.user_id.as_str()) {
        let mut resp = done(&l, status);
        sign_out(state, &s, &mut resp).await?;
        return Ok(resp);
    }
    let email = crate::accounts::find_user(&state.db, &s.user_id)
        .await?
        .map(|u| u.email)
        .unwrap_or_default();
    Ok(page(
        StatusCode::OK,
        LogoutPage {
            base: state.settings.issuer_path(),
            client_name: l.client_name.as_deref(),
            email: &email,
            hidden: l.hidden(),
            csrf_token: s.csrf_token(),
        }
        .render(),
    ))
}

#[handler]
pub async fn get(state: Data<&Arc<AppState>>, req: &Request) -> Result<Response, PageError> {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    request(&state, req, &pairs, StatusCode::FOUND).await
}

/// A logout request sent as a form, or the confirmation form (it carries
/// `csrf_token`).
#[handler]
pub async fn post(
    state: Data<&Arc<AppState>>,
    req: &Request,
    body: Body,
) -> Result<Response, PageError> {
    let form = read_form(req, body)
        .await
        .ok_or_else(PageError::unreadable_form)?;
    if field(&form, "csrf_token").is_none() {
        return request(&state, req, &form, StatusCode::SEE_OTHER).await;
    }
    let l = check(&state, &form).await?;
    let Some(s) = current_session(&state, req).await? else {
        return Ok(done(&l, StatusCode::SEE_OTHER));
    };
    if !s.csrf_ok(field(&form, "csrf_token")) {
        return Err(PageError::FormExpired);
    }
    match field(&form, "decision") {
        Some("logout") => {
            let mut resp = done(&l, StatusCode::SEE_OTHER);
            sign_out(&state, &s, &mut resp).await?;
            Ok(resp)
        }
        Some("stay") => Ok(message(
            StatusCode::OK,
            "Still signed in",
            "You are still signed in.",
        )),
        _ => Err(PageError::bad_request(
            "Choose to sign out or to stay signed in.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_logout_redirect_uris_match_exactly() {
        let col = r#"["https://app.example/bye","http://127.0.0.1/out"]"#;
        assert!(registered(col, "https://app.example/bye"));
        for other in [
            "https://app.example/bye/",
            "https://app.example/bye?x=1",
            "HTTPS://app.example/bye",
            "http://127.0.0.1:8000/out",
            "",
        ] {
            assert!(!registered(col, other), "{other}");
        }
    }
}
