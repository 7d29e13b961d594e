//! `Settings → Developer` (`/settings/developer`): a member's API keys in one
//! agency. Owners and managers list, create, rotate and revoke them; other
//! members get a page that says why they cannot. Every form is CSRF-checked.

use std::sync::Arc;

use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Query};
use poem::{Body, Request, Response, handler};
use serde::Deserialize;

use super::{AgencyChoice, PageError, current_session, field, page, redirect};
use crate::AppState;
use crate::accounts;
use crate::api_keys::{self, ApiKeyError};
use crate::scopes::{self, Role};
use crate::session::Session;

pub struct KeyLine {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub scope: String,
    pub created: String,
    pub expires: String,
    pub last_used: String,
    pub active: bool,
    pub status: &'static str,
}

#[derive(Template)]
#[template(path = "developer.html")]
pub struct DeveloperPage<'a> {
    /// The issuer's path (`""` or e.g. `/tenant1`), before every `action`.
    pub base: &'a str,
    pub agencies: Vec<AgencyChoice>,
    pub agency_id: &'a str,
    pub agency_name: &'a str,
    pub role: &'static str,
    pub can_manage: bool,
    pub cannot_reason: String,
    pub keys: Vec<KeyLine>,
    pub grantable: Vec<(&'static str, &'static str)>,
    pub csrf_token: String,
    pub error: Option<String>,
    pub new_secret: Option<String>,
    pub new_name: String,
}

fn date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}

/// All values of a repeated form field.
fn fields<'a>(pairs: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[derive(Deserialize)]
pub struct DevQuery {
    agency: Option<String>,
}

/// Outcome of a form, shown on the re-rendered page.
#[derive(Default)]
struct Notice {
    error: Option<String>,
    secret: Option<(String, String)>,
}

async fn render(
    state: &AppState,
    session: &Session,
    agency: Option<&str>,
    notice: Notice,
    status: StatusCode,
) -> Result<Response, PageError> {
    let memberships = accounts::memberships(&state.db, &session.user_id).await?;
    if memberships.is_empty() {
        return Err(PageError::Message {
            status: StatusCode::FORBIDDEN,
            title: "No agency",
            message: "Your account is not a member of any agency.".into(),
        });
    }
    // The chosen agency, else the first where the member may manage keys.
    let chosen = agency
        .and_then(|id| memberships.iter().find(|(a, _)| a.id == id))
        .or_else(|| {
            memberships
                .iter()
                .find(|(_, r)| matches!(r, Role::Owner | Role::Manager))
        })
        .unwrap_or(&memberships[0]);
    let (agency, role) = (&chosen.0, chosen.1);
    let can_manage = matches!(role, Role::Owner | Role::Manager);
    let keys = if can_manage {
        api_keys::list(&state.db, &session.user_id, &agency.id).await?
    } else {
        Vec::new()
    };
    let now = crate::clock::now();
    let (new_secret, new_name) = notice
        .secret
        .map_or((None, String::new()), |(s, n)| (Some(s), n));
    let status = if can_manage {
        status
    } else {
        StatusCode::FORBIDDEN
    };
    Ok(page(
        status,
        DeveloperPage {
            base: state.settings.issuer_path(),
            agencies: memberships
                .iter()
                .map(|(a, r)| AgencyChoice {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    role: r.as_str(),
                })
                .collect(),
            agency_id: &agency.id,
            agency_name: &agency.name,
            role: role.as_str(),
            can_manage,
            cannot_reason: format!(
                "Only owners and managers can create API keys. Your role in {} is {}: ask an owner of the agency if you need one.",
                agency.name,
                role.as_str()
            ),
            keys: keys
                .into_iter()
                .map(|k| {
                    let status = if k.revoked_at.is_some() {
                        "revoked"
                    } else if k.expires_at <= now {
                        "expired"
                    } else {
                        "active"
                    };
                    KeyLine {
                        active: status == "active",
                        status,
                        created: date(k.created_at),
                        expires: date(k.expires_at),
                        last_used: k.last_used_at.map_or("never".into(), date),
                        id: k.id,
                        name: k.name,
                        prefix: k.prefix,
                        scope: k.scope,
                    }
                })
                .collect(),
            grantable: scopes::SCOPES.iter().copied().filter(|(s, _)| role.allows(s)).collect(),
            csrf_token: session.csrf_token(),
            error: notice.error,
            new_secret,
            new_name,
        }
        .render(),
    ))
}

/// An agency's MFA policy comes before any API key (issue 17 item 3).
async fn enrolment_gate(
    state: &AppState,
    s: &Session,
    status: StatusCode,
) -> Result<Option<Response>, PageError> {
    let memberships = accounts::memberships(&state.db, &s.user_id).await?;
    let here = state.settings.local_path("/settings/developer");
    Ok(super::security::enrolment_gate(state, &s.user_id, &memberships, &here, status).await?)
}

#[handler]
pub async fn show(
    state: Data<&Arc<AppState>>,
    req: &Request,
    Query(q): Query<DevQuery>,
) -> Result<Response, PageError> {
    let Some(s) = current_session(&state, req).await? else {
        return Ok(redirect(
            StatusCode::FOUND,
            &super::sign_in_then(&state, "/settings/developer"),
        ));
    };
    if let Some(to) = enrolment_gate(&state, &s, StatusCode::FOUND).await? {
        return Ok(to);
    }
    render(
        &state,
        &s,
        q.agency.as_deref(),
        Notice::default(),
        StatusCode::OK,
    )
    .await
}

#[handler]
pub async fn submit(
    state: Data<&Arc<AppState>>,
    req: &Request,
    body: Body,
) -> Result<Response, PageError> {
    let (session, form) = match super::member_form(&state, req, body, "/settings/developer").await?
    {
        Ok(signed_in) => signed_in,
        Err(to_sign_in) => return Ok(to_sign_in),
    };
    if let Some(to) = enrolment_gate(&state, &session, StatusCode::SEE_OTHER).await? {
        return Ok(to);
    }
    let agency = field(&form, "agency").unwrap_or_default().to_string();
    let at = crate::audit::At::of(req, crate::clock::now());
    let outcome: Result<Notice, ApiKeyError> = match field(&form, "action") {
        Some("create") => {
            let name = field(&form, "name").unwrap_or_default();
            let days = field(&form, "expires_in_days")
                .and_then(|d| d.trim().parse::<i64>().ok())
                .unwrap_or(0);
            api_keys::create(
                &state.db,
                &session.user_id,
                &agency,
                name,
                &fields(&form, "scope"),
                days,
                at,
            )
            .await
            .map(|i| Notice {
                error: None,
                secret: Some((i.secret, i.key.name)),
            })
        }
        Some(action @ ("rotate" | "revoke")) => {
            let id = field(&form, "key_id").unwrap_or_default();
            // Only the member's own keys.
            match api_keys::find(&state.db, id).await {
                Ok(Some(k)) if k.user_id == session.user_id => {
                    if action == "revoke" {
                        api_keys::revoke(&state.db, &k.id, &session.user_id, at)
                            .await
                            .map(|_| Notice::default())
                    } else {
                        let grace = field(&form, "grace_days")
                            .and_then(|d| d.parse::<i64>().ok())
                            .unwrap_or(-1);
                        api_keys::rotate(&state.db, &k, &session.user_id, grace, at)
                            .await
                            .map(|i| Notice {
                                error: None,
                                secret: Some((i.secret, i.key.name)),
                            })
                    }
                }
                Ok(_) => Err(ApiKeyError::NotFound(id.to_string())),
                Err(e) => Err(e.into()),
            }
        }
        _ => return Err(PageError::bad_request("Unknown action.")),
    };
    match outcome {
        Ok(notice) => render(&state, &session, Some(&agency), notice, StatusCode::OK).await,
        Err(ApiKeyError::Db(e)) => Err(e.into()),
        Err(e) => {
            let notice = Notice {
                error: Some(e.to_string()),
                secret: None,
            };
            render(
                &state,
                &session,
                Some(&agency),
                notice,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}
