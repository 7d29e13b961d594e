//! `Settings → Security` (`/settings/security`): the signed-in member's
//! account. For now the display name (the OpenID Connect `name` claim);
//! each later part (password, TOTP, passkeys, sessions) is one more
//! section of the page and one more `action` of its form POST, handled by
//! its own function below. Every form is CSRF-checked.

use std::sync::Arc;

use askama::Template;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, Request, Response, handler};

use super::{PageError, current_session, field, page, read_form, redirect};
use crate::AppState;
use crate::accounts;
use crate::session::Session;

#[derive(Template)]
#[template(path = "security.html")]
pub struct SecurityPage<'a> {
    /// The issuer's path (`""` or e.g. `/tenant1`), before every `action`.
    pub base: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub csrf_token: String,
    /// What the last form did, or why it did not.
    pub notice: Option<String>,
    pub error: Option<String>,
}

/// The sign-in page, coming back here.
fn sign_in_first(state: &AppState) -> String {
    let next = state.settings.local_path("/settings/security");
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", &next)
        .finish();
    format!("{}?{q}", state.settings.local_path("/login"))
}

async fn render(
    state: &AppState,
    s: &Session,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let user = accounts::find_user(&state.db, &s.user_id)
        .await?
        .ok_or_else(|| PageError::bad_request("Your account no longer exists."))?;
    Ok(page(
        status,
        SecurityPage {
            base: state.settings.issuer_path(),
            email: &user.email,
            name: user.name.as_deref().unwrap_or_default(),
            csrf_token: s.csrf_token(),
            notice,
            error,
        }
        .render(),
    ))
}

#[handler]
pub async fn show(state: Data<&Arc<AppState>>, req: &Request) -> Result<Response, PageError> {
    let Some(s) = current_session(&state, req).await? else {
        return Ok(redirect(StatusCode::FOUND, &sign_in_first(&state)));
    };
    render(&state, &s, None, None, StatusCode::OK).await
}

#[handler]
pub async fn submit(
    state: Data<&Arc<AppState>>,
    req: &Request,
    body: Body,
) -> Result<Response, PageError> {
    let form = read_form(req, body)
        .await
        .ok_or_else(PageError::unreadable_form)?;
    let Some(s) = current_session(&state, req).await? else {
        return Ok(redirect(StatusCode::SEE_OTHER, &sign_in_first(&state)));
    };
    if !s.csrf_ok(field(&form, "csrf_token")) {
        return Err(PageError::FormExpired);
    }
    match field(&form, "action") {
        Some("name") => set_name(&state, &s, &form).await,
        _ => Err(PageError::bad_request("Unknown action.")),
    }
}

/// The display name: set, changed, or cleared when empty.
async fn set_name(
    state: &AppState,
    s: &Session,
    form: &[(String, String)],
) -> Result<Response, PageError> {
    match accounts::normalize_name(field(form, "name").unwrap_or_default()) {
        Ok(name) => {
            accounts::set_name(&state.db, &s.user_id, name.as_deref()).await?;
            let said = if name.is_some() {
                "Your name is saved."
            } else {
                "Your name is removed."
            };
            render(state, s, Some(said.into()), None, StatusCode::OK).await
        }
        Err(e) => render(state, s, None, Some(e.to_string()), StatusCode::BAD_REQUEST).await,
    }
}
