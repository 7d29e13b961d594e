//! `GET/POST /device`: where a member connects a device (RFC 8628 §3.3).
//!
//! Sign-in first (the sign-in page comes back here, with the code of
//! `verification_uri_complete` if there was one), then the code form: the
//! member enters the device's user code, or confirms the one filled in,
//! then the consent page of the authorization endpoint, naming the client
//! and showing the code, then a done or denied page. Every form carries the
//! session's CSRF token; the consent form carries the user code back.
//!
//! Guessing is throttled (RFC 8628 §5.1): every submitted code that is not
//! a live pending one counts, before it is looked up, per session
//! ([`PER_SESSION`]) and per address ([`PER_IP`]) in a ten-minute window,
//! in counters shared through the database; a right code takes its count
//! back. A wrong code gets one message whatever the reason (unknown,
//! expired, answered), so nothing is learnt about codes that exist.

use std::net::IpAddr;
use std::sync::Arc;

use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Query};
use poem::{Body, Request, Response, handler};
use serde::Deserialize;

use super::{PageError, current_session, field, message, page, read_form, redirect};
use crate::AppState;
use crate::accounts;
use crate::crypto::sha256_hex;
use crate::oauth::authorize::error::AuthorizeError;
use crate::oauth::authorize::request::{Prompt, ValidRequest};
use crate::oauth::authorize::{Answer, chosen_agency, consent, consent_page};
use crate::oauth::client::{metadata_document, store as clients};
use crate::oauth::device::store::{self, Approval};
use crate::oauth::device::{PAGE, user_code};
use crate::rate_limit::{self, Decision};
use crate::scopes::is_identity;
use crate::session::Session;

/// Wrong codes one session may submit per window.
pub const PER_SESSION: u32 = 5;
/// Wrong codes one address may submit per window (several members may
/// share it).
pub const PER_IP: u32 = 20;
/// The guessing window, in seconds.
const WINDOW_SECS: i64 = 600;

const WRONG_CODE: &str = "That code is not valid. Check the code your device shows and try again; \
                          if it has expired, start again on the device.";

#[derive(Template)]
#[template(path = "device.html")]
struct CodeForm<'a> {
    base: &'a str,
    csrf_token: &'a str,
    /// The code filled in, as shown (`XXXX-XXXX`), or empty.
    user_code: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct DeviceQuery {
    user_code: Option<String>,
}

/// This page, with `code` (normalised) filled in, under the issuer's path.
fn here(state: &AppState, code: Option<&str>) -> String {
    let path = state.settings.local_path(PAGE);
    match code {
        Some(c) => format!("{path}?user_code={}", user_code::display(c)),
        None => path,
    }
}

/// To the sign-in page, which comes back here.
fn to_login(state: &AppState, code: Option<&str>, status: StatusCode) -> Response {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", &here(state, code))
        .finish();
    redirect(
        status,
        &format!("{}?{q}", state.settings.local_path("/login")),
    )
}

async fn code_form(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    code: Option<&str>,
    error: Option<&str>,
) -> Result<Response, PageError> {
    let email = accounts::find_user(&state.db, &session.user_id)
        .await?
        .map(|u| u.email)
        .unwrap_or_default();
    let shown = code.map(user_code::display).unwrap_or_default();
    Ok(page(
        status,
        CodeForm {
            base: state.settings.issuer_path(),
            csrf_token: &session.csrf_token(),
            user_code: &shown,
            email: &email,
            error,
        }
        .render(),
    ))
}

#[handler]
pub async fn show(
    state: Data<&Arc<AppState>>,
    req: &Request,
    Query(q): Query<DeviceQuery>,
) -> Result<Response, PageError> {
    // Only a well-formed code is carried on (and filled in).
    let code = q.user_code.as_deref().and_then(user_code::normalise);
    let Some(session) = current_session(&state, req).await? else {
        return Ok(to_login(&state, code.as_deref(), StatusCode::FOUND));
    };
    code_form(&state, &session, StatusCode::OK, code.as_deref(), None).await
}

/// The code form (`user_code`) or the consent form (`user_code`,
/// `decision`, `agency`).
#[handler]
pub async fn submit(
    state: Data<&Arc<AppState>>,
    req: &Request,
    body: Body,
) -> Result<Response, PageError> {
    let form = read_form(req, body)
        .await
        .ok_or_else(PageError::unreadable_form)?;
    let typed = field(&form, "user_code").unwrap_or_default();
    let code = user_code::normalise(typed);
    let Some(session) = current_session(&state, req).await? else {
        return Ok(to_login(&state, code.as_deref(), StatusCode::SEE_OTHER));
    };
    if !session.csrf_ok(field(&form, "csrf_token")) {
        return Err(PageError::FormExpired);
    }
    let Some(code) = code else {
        return code_form(
            &state,
            &session,
            StatusCode::BAD_REQUEST,
            None,
            Some("Enter the 8-letter code your device shows, like BCDF-GHJK."),
        )
        .await;
    };
    let now = crate::clock::now();
    let ip = rate_limit::client_ip(req.remote_addr());
    let buckets = Buckets::new(&session, ip);
    if let Decision::Limited { retry_after_secs } = buckets.count(&state, now).await? {
        metrics::counter!("rate_limit_hits_total", "limit" => "device_code").increment(1);
        return Err(PageError::TooManyRequests {
            retry_after_secs,
            message: "Too many wrong codes. Please wait a few minutes and try again.".into(),
        });
    }
    let Some(device) = store::pending_by_user_code(&state.db, &code, now).await? else {
        tracing::info!("wrong device user code");
        return code_form(
            &state,
            &session,
            StatusCode::BAD_REQUEST,
            None,
            Some(WRONG_CODE),
        )
        .await;
    };
    // A live code is no guess.
    buckets.take_back(&state, now).await?;
    let memberships = accounts::memberships(&state.db, &session.user_id).await?;
    if memberships.is_empty() {
        return Err(PageError::Message {
            status: StatusCode::FORBIDDEN,
            title: "No agency",
            message: "Your account is not a member of any agency.".into(),
        });
    }
    let here = state.settings.local_path(crate::oauth::device::PAGE);
    if let Some(to) = super::security::enrolment_gate(
        &state,
        &session.user_id,
        &memberships,
        &here,
        StatusCode::SEE_OTHER,
    )
    .await?
    {
        return Ok(to);
    }
    let asked = crate::scopes::split(&device.scope).unwrap_or_default();
    let request = ValidRequest {
        client_id: device.client_id.clone(),
        // A device has no redirect: the consent page says so instead.
        redirect_uri: String::new(),
        redirect_uri_given: false,
        state: None,
        code_challenge: String::new(),
        scopes: asked
            .iter()
            .filter(|s| !is_identity(s))
            .map(|s| s.to_string())
            .collect(),
        offline: device.offline,
        identity: asked
            .iter()
            .filter(|s| is_identity(s))
            .map(|s| s.to_string())
            .collect(),
        resource: device.resource.clone(),
        prompt: Prompt::default(),
        nonce: None,
        max_age: None,
        login_hint: None,
        // A device's DPoP key is the one its token request proves.
        dpop_jkt: None,
        authorized_before: false,
    };
    let allow = match field(&form, "decision") {
        None => {
            // A metadata document client this instance has not fetched yet
            // (the device started on another one) is fetched for the page.
            if metadata_document::is_document_id(&device.client_id)
                && state.settings.cimd.enabled
                && let Err(e) = metadata_document::client(&state, ip, &device.client_id).await
            {
                return Err(on_page(&state, e).await);
            }
            let answer = Answer::Device { user_code: &code };
            return consent_page(&state, answer, &request, &session, &memberships).await;
        }
        Some("allow") => true,
        Some("deny") => false,
        Some(_) => return Err(PageError::bad_request("Choose Allow or Deny.")),
    };
    if allow {
        // As on the authorization endpoint: a document client is stored
        // once a member allows it.
        if let Err(e) = metadata_document::keep(&state, ip, &device.client_id).await {
            return Err(on_page(&state, e).await);
        }
    }
    let granted = if allow {
        let Some((agency, role)) = chosen_agency(&form, &memberships) else {
            return Err(PageError::bad_request("Choose one of your agencies."));
        };
        let (granted, _) = consent::narrow(&request.scopes, *role);
        (!granted.is_empty()).then(|| (agency.id.clone(), granted))
    } else {
        None
    };
    let answered = match &granted {
        Some((agency_id, granted)) => {
            let scope = consent::grant_set(granted, &request.extras()).join(" ");
            let approval = Approval {
                user_id: &session.user_id,
                agency_id,
                granted_scope: &scope,
                auth_time: session.created_at,
                amr: &session.amr,
            };
            store::approve(&state.db, &code, &approval, now).await?
        }
        None => store::deny(&state.db, &code, now).await?,
    };
    if !answered {
        return Ok(message(
            StatusCode::BAD_REQUEST,
            "Code already used",
            "This code was answered already or has expired. Start again on the device.",
        ));
    }
    if granted.is_some() {
        // A completed authorization: the client is no unused registration.
        if let Err(e) = clients::mark_authorized(&state.db, &device.client_id, now).await {
            tracing::warn!(error = %e, "could not mark the client as authorized");
        }
    }
    tracing::info!(client_id = %device.client_id, user_id = %session.user_id, approved = granted.is_some(), "device authorization answered");
    Ok(match (allow, granted) {
        (_, Some(_)) => message(
            StatusCode::OK,
            "Device connected",
            "You can close this page and return to your device: it finishes signing in by itself.",
        ),
        (true, None) => message(
            StatusCode::FORBIDDEN,
            "Device not connected",
            "None of the permissions the device asked for is available to your role. The \
             device was refused.",
        ),
        (false, None) => message(
            StatusCode::OK,
            "Device not connected",
            "You denied the request. The device was refused; you can close this page.",
        ),
    })
}

/// An error about the device's client, as the authorization endpoint shows
/// it (a page, never a redirect: a device has none).
async fn on_page(state: &AppState, e: crate::oauth::error::OAuthError) -> PageError {
    AuthorizeError::on_page(e)
        .send(state, StatusCode::SEE_OTHER)
        .await
}

/// The guessing counters of one submitted code.
struct Buckets {
    session: String,
    ip: Option<String>,
}

impl Buckets {
    fn new(session: &Session, ip: Option<IpAddr>) -> Buckets {
        Buckets {
            // The session's stored id (its hash), never the cookie value.
            session: format!("device-code-session:{}", sha256_hex(&session.raw_id)),
            ip: ip.map(|ip| rate_limit::ip_bucket("device-code-ip", ip)),
        }
    }

    fn with_limits(&self) -> Vec<(&str, u32)> {
        let mut v = vec![(self.session.as_str(), PER_SESSION)];
        if let Some(ip) = &self.ip {
            v.push((ip.as_str(), PER_IP));
        }
        v
    }

    /// Count one attempt in each bucket, stopping at the first over its
    /// limit (the counts before it are taken back: it was no guess).
    async fn count(&self, state: &AppState, now: i64) -> Result<Decision, sea_orm::DbErr> {
        let all = self.with_limits();
        for (i, (bucket, limit)) in all.iter().enumerate() {
            let d = rate_limit::hit_in(&state.db, bucket, *limit, WINDOW_SECS, now).await?;
            if let Decision::Limited { .. } = d {
                for (earlier, _) in &all[..i] {
                    rate_limit::undo_in(&state.db, earlier, WINDOW_SECS, now).await?;
                }
                return Ok(d);
            }
        }
        Ok(Decision::Allowed)
    }

    /// The attempt counted at `now` found a live code.
    async fn take_back(&self, state: &AppState, now: i64) -> Result<(), sea_orm::DbErr> {
        for (bucket, _) in self.with_limits() {
            rate_limit::undo_in(&state.db, bucket, WINDOW_SECS, now).await?;
        }
        Ok(())
    }
}
