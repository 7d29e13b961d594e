//! Passkeys in the browser (issue 17 item 2): the JSON endpoints of the
//! WebAuthn ceremonies, the script that drives them, and the passkey part
//! of `/settings/security`.
//!
//! Each ceremony is two POSTs: `.../start` answers `{"ceremony", "options"}`
//! (the WebAuthn options for `navigator.credentials`), `.../finish` takes
//! `{"ceremony", "credential", ...}` (the authenticator's answer):
//! - `/settings/security/passkeys/register/{start,finish}`: a signed-in
//!   member adds a passkey (`name` with the finish);
//! - `/login/passkey/{start,finish}`: a passkey alone signs in (a
//!   discoverable credential names the member), `amr` `hwk user`;
//! - `/login/second-factor/passkey/{start,finish}`: after the password, a
//!   passkey of that member is the second step, `amr` `pwd hwk`.
//!
//! CSRF: every POST carries the page's token in `X-CSRF-Token` (the
//! session's token on the security page; the sign-in form's double-submit
//! token before there is a session) and a JSON content type; without
//! them: `403` and nothing happens. Errors are JSON
//! `{"error", "error_description"}`, never a page. A signed-in answer is
//! `{"redirect": URL}` with the session cookie set; the script goes there.
//!
//! The script is served here, same origin (`/static/passkeys.js`): only the
//! three pages that load it send `script-src 'self'`.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, Request, Response, handler};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use webauthn_rs::Webauthn;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential,
};

use super::login::{csrf_cookie, safe_next, start_session};
use super::{PageError, cookie_header, current_session, field};
use crate::AppState;
use crate::accounts;
use crate::audit::At;
use crate::mfa::passkeys::{self, Added, ceremony, relying_party};
use crate::mfa::{self, challenge};
use crate::rate_limit::{self, Decision};
use crate::session::{self, Session, cookies};

/// Where the script is served, under the issuer's path.
pub const SCRIPT_PATH: &str = "/static/passkeys.js";
const SCRIPT: &str = include_str!("static/passkeys.js");

/// The header carrying the page's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Largest JSON body of a ceremony (an attestation with its certificate
/// chain stays far below).
const MAX_JSON_BYTES: usize = 64 * 1024;

/// Passkey sign-ins one client IP may start per minute (each is a row kept
/// for [`ceremony::TTL_SECS`] before anyone is known).
const SIGN_IN_STARTS_PER_MINUTE: u32 = 30;

/// A refused ceremony request, as JSON.
#[derive(Debug)]
pub struct JsonError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl JsonError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        JsonError {
            status,
            error,
            description: description.into(),
        }
    }

    fn csrf() -> Self {
        JsonError::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "The X-CSRF-Token header is missing or wrong: reload the page and try again.",
        )
    }

    fn unavailable() -> Self {
        JsonError::new(
            StatusCode::NOT_FOUND,
            "passkeys_unavailable",
            "Passkeys need this server at a domain name over https (or at localhost).",
        )
    }

    fn expired_ceremony() -> Self {
        JsonError::new(
            StatusCode::BAD_REQUEST,
            "ceremony_expired",
            "This passkey request expired or was already used. Try again.",
        )
    }

    fn rejected(why: impl std::fmt::Display) -> Self {
        metrics::counter!("sign_in_failures_total").increment(1);
        tracing::info!(reason = %why, "passkey sign-in refused");
        JsonError::new(
            StatusCode::UNAUTHORIZED,
            "passkey_rejected",
            "This passkey could not sign you in here (it may have been removed).",
        )
    }

    fn sign_in_expired() -> Self {
        JsonError::new(
            StatusCode::FORBIDDEN,
            "sign_in_expired",
            "Your sign-in has expired. Please sign in again.",
        )
    }

    /// An internal fault: logged, answered 503.
    fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "passkey request failed");
        JsonError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "The service cannot answer right now. Please try again in a moment.",
        )
    }
}

impl From<sea_orm::DbErr> for JsonError {
    fn from(e: sea_orm::DbErr) -> Self {
        JsonError::internal(e)
    }
}

/// A page error met on a JSON path (a sign-in's session start).
impl From<PageError> for JsonError {
    fn from(e: PageError) -> Self {
        match e {
            PageError::FormExpired => JsonError::csrf(),
            PageError::Message {
                status, message, ..
            } => JsonError::new(status, "refused", message),
            other => JsonError::internal(format!("{other:?}")),
        }
    }
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .header("Cache-Control", "no-store")
        .header("X-Content-Type-Options", "nosniff")
        .body(body.to_string())
}

impl poem::IntoResponse for JsonError {
    fn into_response(self) -> Response {
        json_response(
            self.status,
            &serde_json::json!({"error": self.error, "error_description": self.description}),
        )
    }
}

/// Lets a poem handler return `Result<Response, JsonError>`.
impl From<JsonError> for poem::Error {
    fn from(e: JsonError) -> poem::Error {
        poem::Error::from_response(poem::IntoResponse::into_response(e))
    }
}

type Answer = Result<Response, JsonError>;

/// The relying party of this issuer, or 404 when passkeys cannot work here.
fn relying_party(state: &AppState) -> Result<Webauthn, JsonError> {
    relying_party::for_issuer(&state.settings.issuer).ok_or_else(JsonError::unavailable)
}

/// Whether passkeys are offered on this issuer (the pages show them).
pub fn available(state: &AppState) -> bool {
    relying_party::rp_of(&state.settings.issuer).is_some()
}

fn csrf_header(req: &Request) -> Option<&str> {
    req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok())
}

/// The signed-in member of a settings ceremony, its CSRF header checked.
async fn member(state: &AppState, req: &Request) -> Result<Session, JsonError> {
    let Some(s) = current_session(state, req).await? else {
        return Err(JsonError::new(
            StatusCode::UNAUTHORIZED,
            "sign_in_required",
            "Sign in first.",
        ));
    };
    if !s.csrf_ok(csrf_header(req)) {
        return Err(JsonError::csrf());
    }
    Ok(s)
}

/// A sign-in ceremony's CSRF check: the header equals the sign-in form's
/// double-submit cookie.
fn sign_in_csrf(state: &AppState, req: &Request) -> Result<(), JsonError> {
    if session::login_csrf_ok(csrf_cookie(state, req).as_deref(), csrf_header(req)) {
        Ok(())
    } else {
        Err(JsonError::csrf())
    }
}

/// A JSON body (content type checked: a cross-site form cannot send one).
async fn read_json<T: DeserializeOwned>(req: &Request, body: Body) -> Result<T, JsonError> {
    let ct = req.header("content-type").unwrap_or_default();
    if !crate::http::json_body::is_json_media_type(ct) {
        return Err(JsonError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            "Send the body as application/json.",
        ));
    }
    let bytes = body.into_bytes_limit(MAX_JSON_BYTES).await.map_err(|_| {
        JsonError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "The body is too large or could not be read.",
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        JsonError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("The body is not a valid passkey request: {e}"),
        )
    })
}

/// Start answers: the ceremony's id and the options for the browser.
fn started(ceremony: &str, options: &impl serde::Serialize) -> Answer {
    let options = serde_json::to_value(options).map_err(JsonError::internal)?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({"ceremony": ceremony, "options": options}),
    ))
}

/// A session started by `start_session` (a 303 with its cookies), as the
/// JSON the script follows: 200 `{"redirect"}`, cookies kept.
fn signed_in(mut resp: Response) -> Response {
    let to = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    resp.headers_mut().remove("location");
    resp.set_status(StatusCode::OK);
    resp.headers_mut().insert(
        "content-type",
        poem::http::HeaderValue::from_static("application/json"),
    );
    resp.set_body(serde_json::json!({ "redirect": to }).to_string());
    resp
}

// ---- adding a passkey (signed in) ------------------------------------------

#[handler]
pub async fn register_start(state: Data<&Arc<AppState>>, req: &Request) -> Answer {
    let rp = relying_party(&state)?;
    let s = member(&state, req).await?;
    let user = accounts::find_user(&state.db, &s.user_id)
        .await?
        .ok_or_else(JsonError::sign_in_expired)?;
    let held = passkeys::credentials(&state.db, &user.id).await?;
    if held.len() as u64 >= passkeys::MAX_PER_MEMBER {
        return Err(JsonError::new(
            StatusCode::CONFLICT,
            "too_many_passkeys",
            "You have as many passkeys as an account may hold: remove one first.",
        ));
    }
    // The member's own authenticators refuse to register a second time.
    let exclude = held.iter().map(|p| p.cred_id().clone()).collect();
    let display = user.name.as_deref().unwrap_or(&user.email);
    let (mut options, reg) = rp
        .start_passkey_registration(
            relying_party::user_handle(&user.id),
            &user.email,
            display,
            Some(exclude),
        )
        .map_err(JsonError::internal)?;
    relying_party::make_discoverable(&mut options);
    let now = crate::clock::now();
    let id = ceremony::begin(
        &state.db,
        ceremony::Purpose::Register,
        Some(&user.id),
        &reg,
        now,
    )
    .await?;
    started(&id, &options)
}

#[derive(Deserialize)]
struct FinishRegistration {
    ceremony: String,
    #[serde(default)]
    name: String,
    /// A [`RegisterPublicKeyCredential`], parsed by [`credential`].
    credential: serde_json::Value,
}

/// The `credential` of a finish body, or a 400 saying what is wrong with it.
fn credential<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, JsonError> {
    serde_json::from_value(value).map_err(|e| {
        JsonError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("`credential` is not a WebAuthn credential: {e}"),
        )
    })
}

#[handler]
pub async fn register_finish(state: Data<&Arc<AppState>>, req: &Request, body: Body) -> Answer {
    let rp = relying_party(&state)?;
    let s = member(&state, req).await?;
    let f: FinishRegistration = read_json(req, body).await?;
    let name = passkeys::normalize_name(&f.name)
        .map_err(|e| JsonError::new(StatusCode::BAD_REQUEST, "invalid_name", e))?;
    let answer: RegisterPublicKeyCredential = credential(f.credential)?;
    let now = crate::clock::now();
    let Some(taken) = ceremony::take::<PasskeyRegistration>(
        &state.db,
        &f.ceremony,
        ceremony::Purpose::Register,
        now,
    )
    .await?
    else {
        return Err(JsonError::expired_ceremony());
    };
    if taken.user_id.as_deref() != Some(s.user_id.as_str()) {
        return Err(JsonError::expired_ceremony());
    }
    let passkey = rp
        .finish_passkey_registration(&answer, &taken.state)
        .map_err(|e| {
            JsonError::new(
                StatusCode::BAD_REQUEST,
                "invalid_credential",
                format!("The authenticator's answer was refused: {e}."),
            )
        })?;
    let at = At::of(req, now);
    let id = match passkeys::add(&state.db, at, &s.user_id, &name, &passkey).await? {
        Added::Yes { id } => id,
        Added::AlreadyRegistered => {
            return Err(JsonError::new(
                StatusCode::CONFLICT,
                "already_registered",
                "This passkey is already registered.",
            ));
        }
        Added::TooMany => {
            return Err(JsonError::new(
                StatusCode::CONFLICT,
                "too_many_passkeys",
                "You have as many passkeys as an account may hold: remove one first.",
            ));
        }
    };
    // Like a confirmed TOTP: this session has now used a second factor.
    if s.amr == mfa::AMR_PASSWORD {
        session::set_amr(&state.db, &s.raw_id, passkeys::AMR_PASSWORD_PASSKEY).await?;
    }
    tracing::info!(user_id = %s.user_id, passkey_id = %id, "passkey added");
    Ok(json_response(
        StatusCode::CREATED,
        &serde_json::json!({"id": id, "name": name}),
    ))
}

// ---- signing in with a passkey alone ---------------------------------------

#[handler]
pub async fn sign_in_start(state: Data<&Arc<AppState>>, req: &Request) -> Answer {
    let rp = relying_party(&state)?;
    sign_in_csrf(&state, req)?;
    let now = crate::clock::now();
    if let Some(ip) = rate_limit::client_ip(req.remote_addr()) {
        let bucket = rate_limit::ip_bucket("passkey", ip);
        if let Decision::Limited { retry_after_secs } =
            rate_limit::hit(&state.db, &bucket, SIGN_IN_STARTS_PER_MINUTE, now).await?
        {
            metrics::counter!("rate_limit_hits_total", "limit" => "passkey").increment(1);
            let mut resp = poem::IntoResponse::into_response(JsonError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "Too many passkey sign-ins from your network. Please wait a minute.",
            ));
            resp.headers_mut()
                .insert("Retry-After", retry_after_secs.into());
            return Ok(resp);
        }
    }
    let (mut options, auth) = rp
        .start_discoverable_authentication()
        .map_err(JsonError::internal)?;
    // Started by a button, not by autofill: the browser's usual dialog.
    options.mediation = None;
    let id = ceremony::begin(&state.db, ceremony::Purpose::SignIn, None, &auth, now).await?;
    started(&id, &options)
}

#[derive(Deserialize)]
struct FinishSignIn {
    ceremony: String,
    /// A [`PublicKeyCredential`], parsed by [`credential`].
    credential: serde_json::Value,
    #[serde(default)]
    next: Option<String>,
}

#[handler]
pub async fn sign_in_finish(state: Data<&Arc<AppState>>, req: &Request, body: Body) -> Answer {
    let rp = relying_party(&state)?;
    sign_in_csrf(&state, req)?;
    let f: FinishSignIn = read_json(req, body).await?;
    let answer: PublicKeyCredential = credential(f.credential)?;
    let now = crate::clock::now();
    let Some(taken) = ceremony::take::<DiscoverableAuthentication>(
        &state.db,
        &f.ceremony,
        ceremony::Purpose::SignIn,
        now,
    )
    .await?
    else {
        return Err(JsonError::expired_ceremony());
    };
    let (handle, credential_id) = rp
        .identify_discoverable_authentication(&answer)
        .map_err(JsonError::rejected)?;
    let Some((row, passkey)) = passkeys::find_by_credential(&state.db, credential_id).await? else {
        return Err(JsonError::rejected("unknown credential id"));
    };
    // The authenticator's user handle must be this credential's member's.
    if handle != relying_party::user_handle(&row.user_id) {
        return Err(JsonError::rejected("user handle of another member"));
    }
    let result = rp
        .finish_discoverable_authentication_v2(&answer, taken.state, &passkey)
        .map_err(JsonError::rejected)?;
    let Some(user) = accounts::find_user(&state.db, &row.user_id).await? else {
        return Err(JsonError::rejected("the account no longer exists"));
    };
    passkeys::record_use(&state.db, &row, passkey, &result, now).await?;
    let next = safe_next(state.settings.issuer_path(), f.next.as_deref());
    let resp = start_session(&state, req, &user, passkeys::AMR_PASSKEY, &next, now).await?;
    Ok(signed_in(resp))
}

// ---- a passkey as the second step ------------------------------------------

/// The member owing a second factor, from the challenge cookie.
async fn owing(state: &AppState, req: &Request, now: i64) -> Result<(String, String), JsonError> {
    let raw = cookies::get(
        cookie_header(req),
        challenge::COOKIE,
        state.settings.issuer_is_https(),
    )
    .ok_or_else(JsonError::sign_in_expired)?;
    let user_id = challenge::user_of(&state.db, raw, now)
        .await?
        .ok_or_else(JsonError::sign_in_expired)?;
    Ok((raw.to_string(), user_id))
}

#[handler]
pub async fn second_factor_start(state: Data<&Arc<AppState>>, req: &Request) -> Answer {
    let rp = relying_party(&state)?;
    sign_in_csrf(&state, req)?;
    let now = crate::clock::now();
    let (_, user_id) = owing(&state, req, now).await?;
    let held = passkeys::credentials(&state.db, &user_id).await?;
    if held.is_empty() {
        return Err(JsonError::new(
            StatusCode::BAD_REQUEST,
            "no_passkey",
            "You have no passkey: use your authenticator app or a recovery code.",
        ));
    }
    let (options, auth) = rp
        .start_passkey_authentication(&held)
        .map_err(JsonError::internal)?;
    let id = ceremony::begin(
        &state.db,
        ceremony::Purpose::SecondFactor,
        Some(&user_id),
        &auth,
        now,
    )
    .await?;
    started(&id, &options)
}

#[handler]
pub async fn second_factor_finish(
    state: Data<&Arc<AppState>>,
    req: &Request,
    body: Body,
) -> Answer {
    let rp = relying_party(&state)?;
    sign_in_csrf(&state, req)?;
    let f: FinishSignIn = read_json(req, body).await?;
    let answer: PublicKeyCredential = credential(f.credential)?;
    let now = crate::clock::now();
    let (raw, user_id) = owing(&state, req, now).await?;
    let Some(taken) = ceremony::take::<PasskeyAuthentication>(
        &state.db,
        &f.ceremony,
        ceremony::Purpose::SecondFactor,
        now,
    )
    .await?
    else {
        return Err(JsonError::expired_ceremony());
    };
    if taken.user_id.as_deref() != Some(user_id.as_str()) {
        return Err(JsonError::expired_ceremony());
    }
    let Some((row, passkey)) =
        passkeys::find_by_credential(&state.db, answer.get_credential_id()).await?
    else {
        return Err(JsonError::rejected("unknown credential id"));
    };
    if row.user_id != user_id {
        return Err(JsonError::rejected("a passkey of another member"));
    }
    let result = rp
        .finish_passkey_authentication(&answer, &taken.state)
        .map_err(JsonError::rejected)?;
    // One sign-in per challenge.
    if !challenge::finish(&state.db, &raw, now).await? {
        return Err(JsonError::sign_in_expired());
    }
    let Some(user) = accounts::find_user(&state.db, &user_id).await? else {
        return Err(JsonError::sign_in_expired());
    };
    passkeys::record_use(&state.db, &row, passkey, &result, now).await?;
    let next = safe_next(state.settings.issuer_path(), f.next.as_deref());
    let mut resp = start_session(
        &state,
        req,
        &user,
        passkeys::AMR_PASSWORD_PASSKEY,
        &next,
        now,
    )
    .await?;
    let clear = cookies::clear(challenge::COOKIE, state.settings.issuer_is_https());
    if let Ok(v) = clear.parse() {
        resp.headers_mut().append("Set-Cookie", v);
    }
    Ok(signed_in(resp))
}

// ---- routes ----------------------------------------------------------------

/// The passkey routes (see the module comment), added to the app's.
pub fn mount(routes: poem::Route) -> poem::Route {
    use poem::{get, post};
    routes
        .at(SCRIPT_PATH, get(script))
        .at(
            "/settings/security/passkeys/register/start",
            post(register_start),
        )
        .at(
            "/settings/security/passkeys/register/finish",
            post(register_finish),
        )
        .at("/login/passkey/start", post(sign_in_start))
        .at("/login/passkey/finish", post(sign_in_finish))
        .at(
            "/login/second-factor/passkey/start",
            post(second_factor_start),
        )
        .at(
            "/login/second-factor/passkey/finish",
            post(second_factor_finish),
        )
}

// ---- the script ------------------------------------------------------------

/// The script's validator: its SHA-256, quoted (an `ETag`).
fn script_etag() -> String {
    format!("\"{}\"", &crate::crypto::sha256_hex(SCRIPT)[..16])
}

#[handler]
pub fn script(req: &Request) -> Response {
    let etag = script_etag();
    let fresh = req
        .headers()
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let builder = Response::builder()
        .header("Cache-Control", "public, max-age=3600")
        .header("ETag", etag)
        .header("X-Content-Type-Options", "nosniff");
    if fresh {
        return builder.status(StatusCode::NOT_MODIFIED).finish();
    }
    builder
        .content_type("text/javascript; charset=utf-8")
        .body(SCRIPT)
}

// ---- the security page's part ----------------------------------------------

/// One passkey as the security page lists it.
pub struct Line {
    pub id: String,
    pub name: String,
    /// Dates (UTC), e.g. `2026-12-03`.
    pub created: String,
    pub last_used: Option<String>,
}

/// The passkey section of `/settings/security`.
pub struct Section {
    /// Passkeys can work at this issuer (else the section says why not).
    pub available: bool,
    pub items: Vec<Line>,
    /// Where the script goes once a passkey is added (this section again).
    pub done_url: String,
    pub can_add: bool,
}

fn date(ts: i64) -> String {
    let full = crate::audit::rfc3339(ts);
    full.split('T').next().unwrap_or(&full).to_string()
}

/// The section for member `user_id`, coming back to `next` when set.
pub async fn section(
    state: &AppState,
    user_id: &str,
    next: Option<&str>,
) -> Result<Section, sea_orm::DbErr> {
    let rows = passkeys::list(&state.db, user_id).await?;
    // Back at this section, which now lists the new passkey (a new URL:
    // the page may be the answer to a POST, which must not be repeated).
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("passkey", "added");
    if let Some(n) = next {
        q.append_pair("next", n);
    }
    let done_url = format!(
        "{}?{}#passkeys",
        state.settings.local_path("/settings/security"),
        q.finish()
    );
    Ok(Section {
        available: available(state),
        can_add: (rows.len() as u64) < passkeys::MAX_PER_MEMBER,
        items: rows
            .into_iter()
            .map(|r| Line {
                created: date(r.created_at),
                last_used: r.last_used_at.map(date),
                id: r.id,
                name: r.name,
            })
            .collect(),
        done_url,
    })
}

/// The security page's passkey forms (`passkey_rename`, `passkey_remove`),
/// CSRF already checked: what to tell the member.
pub async fn form_action(
    state: &AppState,
    req: &Request,
    s: &Session,
    action: &str,
    form: &[(String, String)],
) -> Result<Result<String, String>, PageError> {
    let id = field(form, "passkey_id").unwrap_or_default();
    Ok(match action {
        "passkey_rename" => match passkeys::normalize_name(field(form, "name").unwrap_or_default())
        {
            Err(e) => Err(e.to_string()),
            Ok(name) => {
                if passkeys::rename(&state.db, &s.user_id, id, &name).await? {
                    Ok(format!("Passkey renamed to “{name}”."))
                } else {
                    Err("No such passkey.".into())
                }
            }
        },
        "passkey_remove" => {
            let at = At::of(req, crate::clock::now());
            if passkeys::remove(&state.db, at, &s.user_id, id).await? {
                tracing::info!(user_id = %s.user_id, passkey_id = %id, "passkey removed");
                Ok("Passkey removed: it can no longer sign you in.".into())
            } else {
                Err("No such passkey.".into())
            }
        }
        _ => Err("Unknown action.".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_days() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_796_300_000), "2026-12-03");
    }

    #[test]
    fn the_script_has_a_stable_validator() {
        assert_eq!(script_etag(), script_etag());
        assert_eq!(script_etag().len(), 18);
        assert!(!SCRIPT.contains("eval("), "no eval under script-src 'self'");
    }
}
