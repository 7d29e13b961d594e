//! `Settings → Audit` (`/settings/audit`): an owner's view of their
//! agency's audit trail ([`crate::audit`]), newest first, a page at a time.
//! A read-only GET (no CSRF token needed); signed-in owners only, every
//! other member gets 403 and another agency's events are never shown.

use std::sync::Arc;

use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;

use super::{AgencyChoice, PageError, current_session, page, redirect};
use crate::AppState;
use crate::accounts;
use crate::audit::{self, Exported};
use crate::scopes::Role;

#[derive(Template)]
#[template(path = "audit.html")]
pub struct AuditPage<'a> {
    /// The issuer's path (`""` or e.g. `/tenant1`), before every link.
    pub base: &'a str,
    /// The agencies the member owns.
    pub agencies: Vec<AgencyChoice>,
    pub agency_id: &'a str,
    pub agency_name: &'a str,
    pub events: Vec<Exported>,
    pub page: u64,
    pub older: bool,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    agency: Option<String>,
    page: Option<u64>,
}

fn forbidden(message: &str) -> PageError {
    PageError::Message {
        status: StatusCode::FORBIDDEN,
        title: "Not allowed",
        message: message.into(),
    }
}

#[handler]
pub async fn show(
    state: Data<&Arc<AppState>>,
    req: &Request,
    Query(q): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let Some(s) = current_session(&state, req).await? else {
        return Ok(redirect(
            StatusCode::FOUND,
            &super::sign_in_then(&state, "/settings/audit"),
        ));
    };
    let owned: Vec<_> = accounts::memberships(&state.db, &s.user_id)
        .await?
        .into_iter()
        .filter(|(_, r)| *r == Role::Owner)
        .map(|(a, _)| a)
        .collect();
    // The asked agency only if the member owns it; else their first owned.
    let agency = match q.agency.as_deref() {
        Some(id) => owned.iter().find(|a| a.id == id),
        None => owned.first(),
    }
    .ok_or_else(|| forbidden("Only an owner of the agency can see its audit trail."))?;
    let page_no = q.page.unwrap_or(0);
    let (events, older) = audit::page(&state.db, &agency.id, page_no).await?;
    Ok(page(
        StatusCode::OK,
        AuditPage {
            base: state.settings.issuer_path(),
            agencies: owned
                .iter()
                .map(|a| AgencyChoice {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    role: Role::Owner.as_str(),
                })
                .collect(),
            agency_id: &agency.id,
            agency_name: &agency.name,
            events,
            page: page_no,
            older,
        }
        .render(),
    ))
}
