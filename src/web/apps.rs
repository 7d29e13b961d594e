//! `Settings → Connected apps` (`/settings/apps`, issue 17 item 4): every
//! client holding a grant for the signed-in member (a remembered consent or
//! a live refresh family), per agency, with its name, host, scopes and first
//! and last use, each with a "Revoke" form (CSRF-checked) that ends the
//! grant ([`connected_apps::revoke`]). The member's sessions and password
//! are on `/settings/security`; each page links the other.

use std::sync::Arc;

use askama::Template;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, Request, Response, handler};

use super::{PageError, current_session, datetime, field, page, redirect};
use crate::AppState;
use crate::accounts;
use crate::audit::At;
use crate::oauth::connected_apps::{self, ConnectedApp};
use crate::session::Session;

const PATH: &str = "/settings/apps";

pub struct ScopeShown {
    pub name: String,
    pub description: String,
}

/// One connected app as the page shows it.
pub struct AppLine {
    pub client_id: String,
    pub name: String,
    pub host: String,
    pub host_verified: bool,
    pub agency_id: String,
    pub agency_name: String,
    pub scopes: Vec<ScopeShown>,
    pub first_used: String,
    pub last_used: String,
    pub offline: bool,
}

impl From<ConnectedApp> for AppLine {
    fn from(a: ConnectedApp) -> AppLine {
        AppLine {
            scopes: a
                .scopes
                .iter()
                .map(|s| ScopeShown {
                    description: crate::scopes::describe(s).unwrap_or(s).to_string(),
                    name: s.clone(),
                })
                .collect(),
            first_used: datetime(a.first_used),
            last_used: datetime(a.last_used),
            client_id: a.client_id,
            name: a.name,
            host: a.host,
            host_verified: a.host_verified,
            agency_id: a.agency_id,
            agency_name: a.agency_name,
            offline: a.offline,
        }
    }
}

#[derive(Template)]
#[template(path = "apps.html")]
pub struct AppsPage<'a> {
    /// The issuer's path (`""` or e.g. `/tenant1`), before every link.
    pub base: &'a str,
    pub email: &'a str,
    pub csrf_token: String,
    pub apps: Vec<AppLine>,
    pub notice: Option<String>,
    pub error: Option<String>,
}

async fn render(
    state: &AppState,
    s: &Session,
    outcome: Option<Result<String, String>>,
) -> Result<Response, PageError> {
    let user = accounts::find_user(&state.db, &s.user_id)
        .await?
        .ok_or_else(|| PageError::bad_request("Your account no longer exists."))?;
    let apps = connected_apps::list(&state.db, &s.user_id, crate::clock::now()).await?;
    let (status, notice, error) = match outcome {
        None => (StatusCode::OK, None, None),
        Some(Ok(n)) => (StatusCode::OK, Some(n), None),
        Some(Err(e)) => (StatusCode::BAD_REQUEST, None, Some(e)),
    };
    Ok(page(
        status,
        AppsPage {
            base: state.settings.issuer_path(),
            email: &user.email,
            csrf_token: s.csrf_token(),
            apps: apps.into_iter().map(AppLine::from).collect(),
            notice,
            error,
        }
        .render(),
    ))
}

#[handler]
pub async fn show(state: Data<&Arc<AppState>>, req: &Request) -> Result<Response, PageError> {
    let Some(s) = current_session(&state, req).await? else {
        return Ok(redirect(
            StatusCode::FOUND,
            &super::sign_in_then(&state, PATH),
        ));
    };
    render(&state, &s, None).await
}

#[handler]
pub async fn submit(
    state: Data<&Arc<AppState>>,
    req: &Request,
    body: Body,
) -> Result<Response, PageError> {
    let (s, form) = match super::member_form(&state, req, body, PATH).await? {
        Ok(signed_in) => signed_in,
        Err(to_sign_in) => return Ok(to_sign_in),
    };
    match field(&form, "action") {
        Some("revoke") => {}
        _ => return Err(PageError::bad_request("Unknown action.")),
    }
    let (Some(client_id), Some(agency_id)) = (field(&form, "client_id"), field(&form, "agency"))
    else {
        return Err(PageError::bad_request(
            "The form names no app: it needs one client_id and one agency.",
        ));
    };
    let now = crate::clock::now();
    // The name as the member saw it, before the grant is gone.
    let name = connected_apps::list(&state.db, &s.user_id, now)
        .await?
        .into_iter()
        .find(|a| a.client_id == client_id && a.agency_id == agency_id)
        .map(|a| a.name);
    let revoked = connected_apps::revoke(
        &state.db,
        &s.user_id,
        client_id,
        agency_id,
        At::of(req, now),
    )
    .await?;
    let outcome = if revoked {
        tracing::info!(user_id = %s.user_id, client_id, agency_id, "connected app revoked");
        Ok(format!(
            "{} is disconnected: its tokens no longer work, and it must ask again to connect.",
            name.as_deref().unwrap_or(client_id)
        ))
    } else {
        Err("That app is not connected to your account.".into())
    };
    render(&state, &s, Some(outcome)).await
}
