//! `GET` and `POST /oauth/authorize`: the authorization endpoint.
//!
//! GET (or a POST of the request's parameters, RFC 6749 §3.1) validates the
//! request, makes sure the member is signed in, then either answers at once
//! (remembered consent) or shows the consent page. While the member signs in
//! and decides, the request is kept by the server ([`pending`]): `/login`'s
//! `next` and the consent form carry only its reference. The consent form
//! POSTs the reference back with its CSRF token, the decision and the
//! agency; the kept request is validated again.
//!
//! Handlers answer `Result<Response, PageError>`: an authorization error
//! ([`error::AuthorizeError`]) becomes a page or a redirect to the client,
//! any other refusal (signed out, expired form, database fault) a page.

pub mod codes;
pub mod consent;
pub mod error;
pub mod pending;
pub mod request;

use std::net::IpAddr;
use std::sync::Arc;

use askama::Template;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, Request, Response, handler};

use self::error::{AuthorizeError, cannot_complete};
use self::request::{Params, ValidRequest};
use crate::AppState;
use crate::accounts;
use crate::mfa;
use crate::oauth::client::model::{self, ClientKind, ClientRecord};
use crate::oauth::client::{metadata_document, store as clients};
use crate::oauth::error::ErrorCode;
use crate::oauth::{redirect_uri, resource};
use crate::rate_limit;
use crate::scopes::{self, Role};
use crate::session::Session;
use crate::web::{
    self, AgencyChoice, ConsentPage, PageError, ScopeLine, current_session, field, redirect,
};

/// The request checked against its client (read from storage or its
/// metadata document; `ip` counts against the document fetch limits) and
/// the served resources.
pub(crate) async fn validate(
    state: &AppState,
    params: &Params,
    ip: Option<IpAddr>,
    raw: bool,
) -> Result<ValidRequest, AuthorizeError> {
    let client = match params.get("client_id") {
        // A metadata document: fetched or from the shared cache. A document
        // that cannot be used is an error page, never a redirect.
        Some(id)
            if metadata_document::is_document_id(id)
                && state.settings.cimd.enabled
                && !params.is_repeated("client_id") =>
        {
            match metadata_document::client(state, ip, id).await {
                Ok(row) => Some(row),
                Err(e) if e.code == ErrorCode::InvalidClient => {
                    let why = e.description;
                    tracing::info!(client_id = %id, error = %why, "client metadata document refused");
                    return Err(AuthorizeError::page(
                        ErrorCode::InvalidClient,
                        format!("The app's client metadata document ({id}) cannot be used: {why}."),
                    ));
                }
                // A database or network fault: the unavailable page; over
                // the fetch limit: the 429 page.
                Err(e) => return Err(AuthorizeError::on_page(e)),
            }
        }
        // With `cimd.enabled` off a stored document client is unknown too.
        Some(id) => clients::find(&state.db, id)
            .await?
            .filter(|row| metadata_document::usable_row(&state.settings.cimd, row)),
        None => None,
    };
    // The served resource a presented `resource` names (the configured
    // default or one registered with `resource-server create`), spelled as
    // configured.
    let resource = match params.get("resource") {
        Some(r) => resource::resolve(&state.db, &state.settings.default_resource, r).await?,
        None => None,
    };
    let defaults = request::Defaults {
        resource: &state.settings.default_resource,
        scope: &state.settings.scopes.default,
    };
    let v = request::validate(params, client.as_ref(), &defaults, |_| resource.clone())?;
    if raw && client.as_ref().is_some_and(|c| must_push(state, c)) {
        return Err(v.refuse(
            ErrorCode::InvalidRequest,
            "this client's authorization requests must be pushed to the pushed authorization \
             request endpoint (RFC 9126)",
        ));
    }
    Ok(v)
}

/// An authorization request as it arrived: its parameters and, when it
/// came back from the sign-in page or the consent form, the reference it is
/// kept under.
struct Incoming {
    params: Params,
    reference: Option<String>,
    /// Sent as is, neither pushed (RFC 9126) nor kept: the requests a
    /// client required to push are refused.
    raw: bool,
}

/// The request named by decoded `pairs` (a query string or a form): the
/// kept one when they carry a reference (any other parameter is ignored),
/// else the pairs themselves.
async fn incoming(state: &AppState, pairs: &[(String, String)]) -> Result<Incoming, Stop> {
    let has = |name: &str| pairs.iter().any(|(k, _)| k == name);
    if !has(pending::PARAM) && has("request_uri") {
        return pushed(state, pairs).await;
    }
    if !has(pending::PARAM) {
        return Ok(Incoming {
            params: Params::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.clone()))),
            reference: None,
            raw: true,
        });
    }
    let reference = field(pairs, pending::PARAM).ok_or_else(pending::gone)?;
    match pending::load(&state.db, reference, crate::clock::now()).await? {
        Some(params) => Ok(Incoming {
            params,
            reference: Some(reference.to_string()),
            raw: false,
        }),
        None => Err(pending::gone().into()),
    }
}

/// `client_id` and `request_uri` (RFC 9126 §4): the pushed request, used
/// once; every other parameter is ignored. Errors are pages: the request
/// and so its redirect URI are unknown.
async fn pushed(state: &AppState, pairs: &[(String, String)]) -> Result<Incoming, Stop> {
    let refused = |why: &str| {
        Stop::Authorize(AuthorizeError::page(
            ErrorCode::InvalidRequest,
            why.to_string(),
        ))
    };
    let (Some(uri), Some(client_id)) = (field(pairs, "request_uri"), field(pairs, "client_id"))
    else {
        return Err(refused(
            "The request needs one client_id and one request_uri.",
        ));
    };
    let Some(params) = pending::take_pushed(&state.db, uri, crate::clock::now()).await? else {
        return Err(refused(
            "The request_uri is unknown, expired or was already used. Start again from the app.",
        ));
    };
    if params.get("client_id") != Some(client_id) {
        return Err(refused("The request_uri was not pushed by this client."));
    }
    Ok(Incoming {
        params,
        reference: None,
        raw: false,
    })
}

/// Whether `client`'s authorization requests must be pushed (RFC 9126 §5,
/// §6): by its registration or for every client by configuration.
fn must_push(state: &AppState, client: &entity::client::Model) -> bool {
    state.settings.clients.require_pushed_authorization_requests
        || client.require_pushed_authorization_requests
}

/// The longest a pending request is kept (a year), whatever the session.
const MAX_PENDING_SECS: i64 = 365 * 24 * 3600;

/// The reference `params` are kept under: `reference` when they already
/// are, else a new one (counted against the address's limit).
async fn kept(
    state: &AppState,
    params: &Params,
    reference: Option<&str>,
    ip: Option<std::net::IpAddr>,
) -> Result<String, PageError> {
    if let Some(r) = reference {
        return Ok(r.to_string());
    }
    let now = crate::clock::now();
    if let Some(ip) = ip {
        let bucket = rate_limit::ip_bucket("pending", ip);
        if let rate_limit::Decision::Limited { retry_after_secs } =
            // Each may hold up to 200 kB for an hour without anyone signing
            // in: the table must not be fillable at will.
            rate_limit::hit(
                &state.db,
                &bucket,
                state.settings.clients.pending_requests_per_minute_per_ip,
                now,
            )
            .await?
        {
            return Err(PageError::TooManyRequests {
                retry_after_secs,
                message: "Too many sign-in requests from your network. Please wait a \
                          minute and try again."
                    .into(),
            });
        }
    }
    // The time an idle session lasts: enough to sign in and decide.
    // Bounded so that `now + ttl` cannot overflow.
    let ttl = i64::try_from(state.settings.session.idle_timeout_secs)
        .unwrap_or(i64::MAX)
        .min(MAX_PENDING_SECS);
    Ok(pending::keep(&state.db, params, now, ttl).await?)
}

/// To the sign-in page, which comes back here after with the request's
/// reference; both paths under the issuer's path.
fn to_login(
    issuer_path: &str,
    reference: &str,
    force: bool,
    login_hint: Option<&str>,
    status: StatusCode,
) -> Response {
    let next = format!(
        "{issuer_path}/oauth/authorize?{}={reference}",
        pending::PARAM
    );
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("next", &next);
    if force {
        q.append_pair("force", "1");
    }
    if let Some(h) = login_hint {
        q.append_pair("login_hint", h);
    }
    redirect(status, &format!("{issuer_path}/login?{}", q.finish()))
}

/// Why a handler stops: an authorization error (sent by
/// [`AuthorizeError::send`], which decides redirect or page) or any other
/// refusal, already a page.
enum Stop {
    Authorize(AuthorizeError),
    Page(PageError),
}

impl From<AuthorizeError> for Stop {
    fn from(e: AuthorizeError) -> Self {
        Stop::Authorize(e)
    }
}

impl From<PageError> for Stop {
    fn from(e: PageError) -> Self {
        Stop::Page(e)
    }
}

impl From<sea_orm::DbErr> for Stop {
    fn from(e: sea_orm::DbErr) -> Self {
        Stop::Page(e.into())
    }
}

/// The handler's answer: `status` (302 after a GET, 303 after the consent
/// POST) is the status of a redirected error.
async fn finish(
    state: &AppState,
    status: StatusCode,
    outcome: Result<Response, Stop>,
) -> Result<Response, PageError> {
    match outcome {
        Ok(resp) => Ok(resp),
        Err(Stop::Page(e)) => Err(e),
        Err(Stop::Authorize(e)) => Err(e.send(state, status).await),
    }
}

#[handler]
pub async fn get(state: Data<&Arc<AppState>>, req: &Request) -> Result<Response, PageError> {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let outcome = match incoming(&state, &pairs).await {
        Ok(inc) => authorize(&state, req, inc, StatusCode::FOUND).await,
        Err(e) => Err(e),
    };
    finish(&state, StatusCode::FOUND, outcome).await
}

/// An authorization request (`status` is that of the redirects it answers
/// with: 302 after a GET, 303 after a POST).
async fn authorize(
    state: &AppState,
    req: &Request,
    inc: Incoming,
    status: StatusCode,
) -> Result<Response, Stop> {
    let Incoming {
        params,
        reference,
        raw,
    } = inc;
    let ip = rate_limit::client_ip(req.remote_addr());
    let v = validate(state, &params, ip, raw).await?;
    let base = state.settings.issuer_path();
    let hint = v.login_hint.as_deref();
    // prompt=login: a fresh sign-in, then this request again without it
    // (kept under a new reference).
    if v.prompt.login {
        let r = kept(state, &params.without_prompt_login(), None, ip).await?;
        return Ok(to_login(base, &r, true, hint, status));
    }
    let session = current_session(state, req).await?;
    // max_age (OpenID Connect Core §3.1.2.1): a sign-in older than that
    // counts as none, and a fresh one is asked for like prompt=login.
    let stale = session.as_ref().is_some_and(|s| {
        v.max_age
            .is_some_and(|m| crate::clock::now().saturating_sub(s.created_at) > m)
    });
    let session = match session {
        Some(s) if !stale => s,
        _ if v.prompt.none => {
            return Err(v
                .refuse(
                    ErrorCode::LoginRequired,
                    if stale {
                        "the user's sign-in is older than max_age"
                    } else {
                        "the user is not signed in"
                    },
                )
                .into());
        }
        Some(_) => {
            let r = kept(state, &params.without_prompt_login(), None, ip).await?;
            return Ok(to_login(base, &r, true, hint, status));
        }
        None => {
            let r = kept(state, &params, reference.as_deref(), ip).await?;
            return Ok(to_login(base, &r, false, hint, status));
        }
    };
    let memberships = accounts::memberships(&state.db, &session.user_id).await?;
    if memberships.is_empty() {
        return Err(v
            .refuse(
                ErrorCode::AccessDenied,
                "the account is not a member of any agency",
            )
            .into());
    }
    // An agency's MFA policy comes before any consent, remembered or not.
    if mfa::policy::must_enrol(&state.db, &session.user_id, &memberships).await? {
        if v.prompt.none {
            return Err(v
                .refuse(
                    ErrorCode::InteractionRequired,
                    "the user must add a second factor first",
                )
                .into());
        }
        let r = kept(state, &params, reference.as_deref(), ip).await?;
        let next = format!("{base}/oauth/authorize?{}={r}", pending::PARAM);
        return Ok(redirect(status, &mfa::policy::enrol_first(base, &next)));
    }
    // Remembered consent for this resource that covers this request skips
    // the page, unless the client asked for it (prompt=consent) or for the
    // agency picker on it (prompt=select_account).
    if !v.prompt.consent && !v.prompt.select_account {
        let remembered =
            consent::remembered(&state.db, &session.user_id, &v.client_id, &v.resource).await?;
        for r in &remembered {
            let Some((_, role)) = memberships.iter().find(|(a, _)| a.id == r.agency_id) else {
                continue;
            };
            let (granted, _) = consent::narrow(&v.scopes, *role);
            if !granted.is_empty()
                && consent::covers(&r.scope, &consent::grant_set(&granted, &v.extras()))
            {
                if let Some(r) = reference.as_deref() {
                    pending::forget(&state.db, r).await?;
                }
                return Ok(issue_code(state, &v, &session, &r.agency_id, &granted, status).await?);
            }
        }
    }
    if v.prompt.none {
        return Err(v
            .refuse(
                ErrorCode::ConsentRequired,
                "the user has not consented to this request",
            )
            .into());
    }
    let r = kept(state, &params, reference.as_deref(), ip).await?;
    let answer = Answer::Authorize { reference: &r };
    Ok(consent_page(state, answer, &v, &session, &memberships).await?)
}

/// Where the consent form is answered, and what it carries there.
pub(crate) enum Answer<'a> {
    /// The authorization endpoint: the kept request's reference.
    Authorize { reference: &'a str },
    /// The device page (RFC 8628): the device's normalised user code,
    /// which the page also shows.
    Device { user_code: &'a str },
}

impl Answer<'_> {
    /// The form's `action`, under the issuer's path.
    fn action(&self) -> &'static str {
        match self {
            Answer::Authorize { .. } => "/oauth/authorize",
            Answer::Device { .. } => crate::oauth::device::PAGE,
        }
    }

    /// What the form carries back.
    fn hidden(&self) -> (String, String) {
        match self {
            Answer::Authorize { reference } => (pending::PARAM.into(), reference.to_string()),
            Answer::Device { user_code } => ("user_code".into(), user_code.to_string()),
        }
    }

    /// The device's user code as the page shows it.
    fn shown_code(&self) -> Option<String> {
        match self {
            Answer::Authorize { .. } => None,
            Answer::Device { user_code } => {
                Some(crate::oauth::device::user_code::display(user_code))
            }
        }
    }
}

/// The consent page for the request `v`, answered as `answer` says.
pub(crate) async fn consent_page(
    state: &AppState,
    answer: Answer<'_>,
    v: &ValidRequest,
    session: &Session,
    memberships: &[(entity::agency::Model, Role)],
) -> Result<Response, PageError> {
    // A document client nobody authorized yet is in memory, not stored.
    let Some(client) = metadata_document::find(state, &v.client_id).await? else {
        return Err(cannot_complete("Unknown client."));
    };
    let email = accounts::find_user(&state.db, &session.user_id)
        .await?
        .map(|u| u.email)
        .unwrap_or_default();
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
    // The audience of the tokens (RFC 8707), named by its resource server.
    let resource_name = resource::name(&state.db, &v.resource).await?;
    // Said whenever the token endpoint will issue a refresh token: the
    // same function decides both.
    let stays_connected_for = ClientRecord::from_model(&client)
        .gets_refresh_tokens()
        .then(|| web::humanise_secs(state.settings.tokens.refresh_token_ttl_secs));
    Ok(web::page(
        StatusCode::OK,
        ConsentPage {
            base: state.settings.issuer_path(),
            client_name: &client_name,
            client_id: &client.client_id,
            client_host: client_host.as_deref(),
            redirect_host: &redirect_host,
            loopback_only,
            resource: &v.resource,
            resource_name: resource_name.as_deref(),
            stays_connected_for: stays_connected_for.as_deref(),
            scopes,
            identity: scopes::IDENTITY
                .iter()
                .copied()
                .filter(|(s, _)| v.identity.iter().any(|i| i == s))
                .collect(),
            offline: v.offline,
            action: answer.action(),
            user_code: answer.shown_code(),
            hidden: vec![answer.hidden()],
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
    ))
}

/// The largest POSTed authorization request: a `state` of
/// [`request::MAX_STATE_BYTES`], every byte percent-encoded, and the rest.
const MAX_REQUEST_FORM_BYTES: usize = 3 * request::MAX_STATE_BYTES + 16 * 1024;

/// The consent form (it carries a reference to the kept request), or an
/// authorization request sent as a form (RFC 6749 §3.1), which is treated
/// as the GET: a form without a reference decides nothing.
#[handler]
pub async fn post(
    state: Data<&Arc<AppState>>,
    req: &Request,
    body: Body,
) -> Result<Response, PageError> {
    let outcome = match web::read_form_limit(req, body, MAX_REQUEST_FORM_BYTES).await {
        None => Err(PageError::unreadable_form().into()),
        Some(form) => match incoming(&state, &form).await {
            Ok(
                inc @ Incoming {
                    reference: Some(_), ..
                },
            ) => decide(&state, req, &form, inc).await,
            Ok(inc) => authorize(&state, req, inc, StatusCode::SEE_OTHER).await,
            Err(e) => Err(e),
        },
    };
    finish(&state, StatusCode::SEE_OTHER, outcome).await
}

/// The member's answer on the consent page about the kept request `inc`.
async fn decide(
    state: &AppState,
    req: &Request,
    form: &[(String, String)],
    inc: Incoming,
) -> Result<Response, Stop> {
    let Incoming {
        params, reference, ..
    } = inc;
    let ip = rate_limit::client_ip(req.remote_addr());
    let v = validate(state, &params, ip, false).await?;
    let Some(session) = current_session(state, req).await? else {
        return Err(PageError::Message {
            status: StatusCode::FORBIDDEN,
            title: "Signed out",
            message: "Your session has ended. Start again from the app.".into(),
        }
        .into());
    };
    if !session.csrf_ok(field(form, "csrf_token")) {
        return Err(PageError::FormExpired.into());
    }
    let memberships = accounts::memberships(&state.db, &session.user_id).await?;
    // The policy may have changed since the page was shown.
    if let Some(r) = reference.as_deref()
        && let Some(to) = web::security::enrolment_gate(
            state,
            &session.user_id,
            &memberships,
            &format!(
                "{}/oauth/authorize?{}={r}",
                state.settings.issuer_path(),
                pending::PARAM
            ),
            StatusCode::SEE_OTHER,
        )
        .await?
    {
        return Ok(to);
    }
    let now = crate::clock::now();
    let allow = match field(form, "decision") {
        Some("allow") => true,
        Some("deny") => false,
        _ => return Err(PageError::bad_request("Choose Allow or Deny.").into()),
    };
    if allow {
        // Issue 13 item 4: a document client is stored once a member allows it.
        metadata_document::keep(state, ip, &v.client_id)
            .await
            .map_err(AuthorizeError::on_page)?;
    }
    // A member acted on this client's page: from now on its errors are
    // redirected automatically (RFC 9700 §4.17), this answer included.
    consent::record_decision(&state.db, &v.client_id, now).await?;
    // Answered: the form cannot be sent again.
    if let Some(r) = reference.as_deref() {
        pending::forget(&state.db, r).await?;
    }
    if !allow {
        return Err(v
            .refuse(ErrorCode::AccessDenied, "the user denied the request")
            .into());
    }
    let Some((agency, role)) = chosen_agency(form, &memberships) else {
        return Err(PageError::bad_request("Choose one of your agencies.").into());
    };
    let (granted, _) = consent::narrow(&v.scopes, *role);
    if granted.is_empty() {
        return Err(v
            .refuse(
                ErrorCode::AccessDenied,
                "none of the requested scopes is available to the member's role",
            )
            .into());
    }
    let set = consent::grant_set(&granted, &v.extras());
    let grant = consent::Grant {
        user_id: &session.user_id,
        client_id: &v.client_id,
        agency_id: &agency.id,
        resource: &v.resource,
    };
    // The consent and its audit event are one change.
    let txn = sea_orm::TransactionTrait::begin(&state.db).await?;
    consent::remember(&txn, &grant, &set, now).await?;
    let granted_event = crate::audit::Event::ConsentGranted {
        user_id: &session.user_id,
        agency_id: &agency.id,
        client_id: &v.client_id,
    };
    crate::audit::record(&txn, crate::audit::At::of(req, now), granted_event).await?;
    txn.commit().await?;
    Ok(issue_code(
        state,
        &v,
        &session,
        &agency.id,
        &granted,
        StatusCode::SEE_OTHER,
    )
    .await?)
}

/// The agency a consent form chose (`agency`), or the member's only one.
pub(crate) fn chosen_agency<'a>(
    form: &[(String, String)],
    memberships: &'a [(entity::agency::Model, Role)],
) -> Option<&'a (entity::agency::Model, Role)> {
    match (field(form, "agency"), memberships) {
        (Some(id), _) => memberships.iter().find(|(a, _)| a.id == id),
        (None, [only]) => Some(only),
        (None, _) => None,
    }
}

/// Store a code for this grant and send the member back to the client.
async fn issue_code(
    state: &AppState,
    v: &ValidRequest,
    session: &Session,
    agency_id: &str,
    granted: &[String],
    status: StatusCode,
) -> Result<Response, PageError> {
    let now = crate::clock::now();
    let scope = consent::grant_set(granted, &v.extras()).join(" ");
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
            nonce: v.nonce.as_deref(),
            auth_time: session.created_at,
            dpop_jkt: v.dpop_jkt.as_deref(),
            amr: &session.amr,
        },
        now,
    )
    .await?;
    // One write less per code once the client has been authorized.
    if !v.authorized_before
        && let Err(e) = clients::mark_authorized(&state.db, &v.client_id, now).await
    {
        tracing::warn!(error = %e, "could not mark the client as authorized");
    }
    tracing::info!(client_id = %v.client_id, user_id = %session.user_id, "authorization code issued");
    let mut p = vec![("code", code.as_str())];
    if let Some(s) = v.state.as_deref() {
        p.push(("state", s));
    }
    p.push(("iss", state.settings.issuer.as_str()));
    match request::redirect_with(&v.redirect_uri, &p) {
        Some(loc) => Ok(redirect(status, &loc)),
        None => Err(cannot_complete("Bad redirect URI.")),
    }
}
