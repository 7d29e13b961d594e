//! `GET` and `POST /oauth/authorize`: the authorization endpoint.
//!
//! GET validates the request, makes sure the member is signed in (sending
//! them to `/login` with the request kept in `next`), then either answers
//! at once (remembered consent) or shows the consent page. The consent form
//! POSTs the same request back with its CSRF token, the decision and the
//! agency; everything is validated again.

pub mod codes;
pub mod consent;
pub mod request;

use std::sync::Arc;

use askama::Template;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, Request, Response, handler};

use self::request::{AuthzError, Params, ValidRequest};
use crate::AppState;
use crate::accounts;
use crate::oauth::client::model::{self, ClientKind};
use crate::oauth::client::{metadata_document, store as clients};
use crate::oauth::error::ErrorCode;
use crate::oauth::{redirect_uri, resource};
use crate::scopes::{self, Role};
use crate::session::Session;
use crate::web::{
    self, AgencyChoice, ConsentPage, ScopeLine, current_session, field, message, redirect,
};

/// The served resource a presented `resource` names (the configured default
/// or one registered with `resource-server create`), spelled as configured.
async fn resolve_resource(state: &AppState, presented: &str) -> Result<Option<String>, Response> {
    resource::resolve(&state.db, &state.settings.default_resource, presented)
        .await
        .map_err(web::unavailable)
}

async fn validate(
    state: &AppState,
    params: &Params,
) -> Result<Result<ValidRequest, AuthzError>, Response> {
    let client = match params.get("client_id") {
        // A metadata document: fetched or from the shared cache. A document
        // that cannot be used is an error page, never a redirect.
        Some(id)
            if metadata_document::is_document_id(id)
                && state.settings.cimd.enabled
                && !params.is_repeated("client_id") =>
        {
            match metadata_document::client(state, id).await {
                Ok(row) => Some(row),
                Err(e) if e.code == ErrorCode::InvalidClient => {
                    let why = e.description;
                    tracing::info!(client_id = %id, error = %why, "client metadata document refused");
                    return Ok(Err(AuthzError::Page(format!(
                        "The app's client metadata document ({id}) cannot be used: {why}."
                    ))));
                }
                Err(e) => return Err(web::unavailable(e)),
            }
        }
        Some(id) => clients::find(&state.db, id)
            .await
            .map_err(web::unavailable)?,
        None => None,
    };
    let resource = match params.get("resource") {
        Some(r) => resolve_resource(state, r).await?,
        None => None,
    };
    Ok(request::validate(
        params,
        client.as_ref(),
        &state.settings.default_resource,
        |_| resource.clone(),
    ))
}

/// Send an error where it belongs: a page, or the client's redirect URI
/// with `error`, `error_description`, `state` and `iss` (RFC 9207).
fn error_response(state: &AppState, err: AuthzError, status: StatusCode) -> Response {
    match err {
        AuthzError::Page(msg) => message(
            StatusCode::BAD_REQUEST,
            "This request cannot be completed",
            &msg,
        ),
        AuthzError::Redirect {
            redirect_uri,
            state: st,
            error,
            description,
        } => {
            let description = crate::oauth::error::wire_safe(&description);
            let mut p = vec![
                ("error", error),
                ("error_description", description.as_str()),
            ];
            if let Some(s) = st.as_deref() {
                p.push(("state", s));
            }
            p.push(("iss", state.settings.issuer.as_str()));
            match request::redirect_with(&redirect_uri, &p) {
                Some(loc) => redirect(status, &loc),
                None => message(
                    StatusCode::BAD_REQUEST,
                    "This request cannot be completed",
                    "Bad redirect URI.",
                ),
            }
        }
    }
}

fn redirect_error(v: &ValidRequest, error: &'static str, description: &str) -> AuthzError {
    AuthzError::Redirect {
        redirect_uri: v.redirect_uri.clone(),
        state: v.state.clone(),
        error,
        description: description.to_string(),
    }
}

fn to_login(params: &Params, force: bool) -> Response {
    let next = format!("/oauth/authorize?{}", params.to_query());
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("next", &next);
    if force {
        q.append_pair("force", "1");
    }
    redirect(StatusCode::FOUND, &format!("/login?{}", q.finish()))
}

#[handler]
pub async fn get(state: Data<&Arc<AppState>>, req: &Request) -> Response {
    let params = Params::from_pairs(url::form_urlencoded::parse(
        req.uri().query().unwrap_or_default().as_bytes(),
    ));
    let v = match validate(&state, &params).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return error_response(&state, e, StatusCode::FOUND),
        Err(resp) => return resp,
    };
    // prompt=login: a fresh sign-in, then this request again without it.
    if v.prompt.login {
        return to_login(&params.without_prompt_login(), true);
    }
    let session = match current_session(&state, req).await {
        Ok(s) => s,
        Err(e) => return web::unavailable(e),
    };
    let Some(session) = session else {
        if v.prompt.none {
            return error_response(
                &state,
                redirect_error(&v, "login_required", "the user is not signed in"),
                StatusCode::FOUND,
            );
        }
        return to_login(&params, false);
    };
    let memberships = match accounts::memberships(&state.db, &session.user_id).await {
        Ok(m) => m,
        Err(e) => return web::unavailable(e),
    };
    if memberships.is_empty() {
        return error_response(
            &state,
            redirect_error(
                &v,
                "access_denied",
                "the account is not a member of any agency",
            ),
            StatusCode::FOUND,
        );
    }
    // Remembered consent that covers this request skips the page.
    if !v.prompt.consent {
        let remembered = match consent::remembered(&state.db, &session.user_id, &v.client_id).await
        {
            Ok(r) => r,
            Err(e) => return web::unavailable(e),
        };
        for r in &remembered {
            let Some((_, role)) = memberships.iter().find(|(a, _)| a.id == r.agency_id) else {
                continue;
            };
            let (granted, _) = consent::narrow(&v.scopes, *role);
            if !granted.is_empty()
                && consent::covers(&r.scope, &consent::grant_set(&granted, v.offline))
            {
                return issue_code(
                    &state,
                    &v,
                    &session,
                    &r.agency_id,
                    &granted,
                    StatusCode::FOUND,
                )
                .await;
            }
        }
    }
    if v.prompt.none {
        return error_response(
            &state,
            redirect_error(
                &v,
                "consent_required",
                "the user has not consented to this request",
            ),
            StatusCode::FOUND,
        );
    }
    consent_page(&state, &params, &v, &session, &memberships).await
}

async fn consent_page(
    state: &AppState,
    params: &Params,
    v: &ValidRequest,
    session: &Session,
    memberships: &[(entity::agency::Model, Role)],
) -> Response {
    let client = match clients::find(&state.db, &v.client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return message(
                StatusCode::BAD_REQUEST,
                "This request cannot be completed",
                "Unknown client.",
            );
        }
        Err(e) => return web::unavailable(e),
    };
    let email = match accounts::find_user(&state.db, &session.user_id).await {
        Ok(u) => u.map(|u| u.email).unwrap_or_default(),
        Err(e) => return web::unavailable(e),
    };
    let scopes: Vec<ScopeLine> = v
        .scopes
        .iter()
        .map(|s| {
            let refused: Vec<String> = memberships
                .iter()
                .filter(|(_, r)| !r.allows(s))
                .map(|(a, r)| format!("{} ({})", a.name, r.as_str()))
                .collect();
            ScopeLine {
                name: s.clone(),
                description: scopes::SCOPES
                    .iter()
                    .find(|(n, _)| n == s)
                    .map_or(s.clone(), |(_, d)| d.to_string()),
                grantable: refused.len() < memberships.len(),
                refused_in: if memberships.len() > 1 {
                    refused.join(", ")
                } else {
                    String::new()
                },
            }
        })
        .collect();
    let redirect_uris = model::list(&client.redirect_uris);
    let loopback_only = !redirect_uris.is_empty()
        && redirect_uris.iter().all(|u| {
            url::Url::parse(u).is_ok_and(|u| {
                u.scheme() == "http" && u.host_str().is_some_and(redirect_uri::is_loopback)
            })
        });
    let client_name = client
        .client_name
        .clone()
        .unwrap_or_else(|| client.client_id.clone());
    // A document client's name is self-asserted; its URL's host is not.
    let client_host = (client.kind == ClientKind::MetadataDocument)
        .then(|| metadata_document::display_host(&client.client_id))
        .flatten();
    let csrf = session.csrf_token();
    let redirect_host = request::display_host(&v.redirect_uri);
    web::page(
        StatusCode::OK,
        ConsentPage {
            client_name: &client_name,
            client_id: &client.client_id,
            client_host: client_host.as_deref(),
            redirect_host: &redirect_host,
            loopback_only,
            scopes,
            offline: v.offline,
            hidden: params.pairs(),
            csrf_token: &csrf,
            agencies: memberships
                .iter()
                .map(|(a, r)| AgencyChoice {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    role: r.as_str(),
                })
                .collect(),
            email: &email,
        }
        .render(),
    )
}

#[handler]
pub async fn post(state: Data<&Arc<AppState>>, req: &Request, body: Body) -> Response {
    let Some(form) = web::read_form(req, body).await else {
        return message(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "The form could not be read.",
        );
    };
    let params = Params::from_pairs(form.iter().map(|(k, v)| (k.as_str(), v.clone())));
    let v = match validate(&state, &params).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return error_response(&state, e, StatusCode::SEE_OTHER),
        Err(resp) => return resp,
    };
    let session = match current_session(&state, req).await {
        Ok(s) => s,
        Err(e) => return web::unavailable(e),
    };
    let Some(session) = session else {
        return message(
            StatusCode::FORBIDDEN,
            "Signed out",
            "Your session has ended. Start again from the app.",
        );
    };
    if !session.csrf_ok(field(&form, "csrf_token")) {
        return web::form_expired();
    }
    match field(&form, "decision") {
        Some("allow") => {}
        Some("deny") => {
            return error_response(
                &state,
                redirect_error(&v, "access_denied", "the user denied the request"),
                StatusCode::SEE_OTHER,
            );
        }
        _ => {
            return message(
                StatusCode::BAD_REQUEST,
                "Bad request",
                "Choose Allow or Deny.",
            );
        }
    }
    let memberships = match accounts::memberships(&state.db, &session.user_id).await {
        Ok(m) => m,
        Err(e) => return web::unavailable(e),
    };
    let chosen = match (field(&form, "agency"), memberships.as_slice()) {
        (Some(id), _) => memberships.iter().find(|(a, _)| a.id == id),
        (None, [only]) => Some(only),
        (None, _) => None,
    };
    let Some((agency, role)) = chosen else {
        return message(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "Choose one of your agencies.",
        );
    };
    let (granted, _) = consent::narrow(&v.scopes, *role);
    if granted.is_empty() {
        return error_response(
            &state,
            redirect_error(
                &v,
                "access_denied",
                "none of the requested scopes is available to the member's role",
            ),
            StatusCode::SEE_OTHER,
        );
    }
    let now = crate::clock::now();
    let set = consent::grant_set(&granted, v.offline);
    if let Err(e) = consent::remember(
        &state.db,
        &session.user_id,
        &v.client_id,
        &agency.id,
        &set,
        now,
    )
    .await
    {
        return web::unavailable(e);
    }
    issue_code(
        &state,
        &v,
        &session,
        &agency.id,
        &granted,
        StatusCode::SEE_OTHER,
    )
    .await
}

/// Store a code for this grant and send the member back to the client.
async fn issue_code(
    state: &AppState,
    v: &ValidRequest,
    session: &Session,
    agency_id: &str,
    granted: &[String],
    status: StatusCode,
) -> Response {
    let now = crate::clock::now();
    let scope = consent::grant_set(granted, v.offline).join(" ");
    let code = codes::issue(
        &state.db,
        codes::NewCode {
            client_id: &v.client_id,
            user_id: &session.user_id,
            agency_id,
            redirect_uri: &v.redirect_uri,
            redirect_uri_given: v.redirect_uri_given,
            code_challenge: &v.code_challenge,
            scope: &scope,
            resource: &v.resource,
        },
        now,
    )
    .await;
    let code = match code {
        Ok(c) => c,
        Err(e) => return web::unavailable(e),
    };
    if let Err(e) = clients::mark_authorized(&state.db, &v.client_id, now).await {
        tracing::warn!(error = %e, "could not mark the client as authorized");
    }
    tracing::info!(client_id = %v.client_id, user_id = %session.user_id, "authorization code issued");
    let mut p = vec![("code", code.as_str())];
    if let Some(s) = v.state.as_deref() {
        p.push(("state", s));
    }
    p.push(("iss", state.settings.issuer.as_str()));
    match request::redirect_with(&v.redirect_uri, &p) {
        Some(loc) => redirect(status, &loc),
        None => message(
            StatusCode::BAD_REQUEST,
            "This request cannot be completed",
            "Bad redirect URI.",
        ),
    }
}
