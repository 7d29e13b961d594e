//! `Settings → Security` (`/settings/security`): the signed-in member's
//! account: the display name (the OpenID Connect `name` claim) and TOTP
//! (issue 17 item 1); each later part is one more section of the page and
//! one more `action` of its form POST, handled by its own function below or
//! its own module: the password ([`super::password`]) and signed-in
//! sessions ([`super::sessions`]), issue 17 item 4. Every form is
//! CSRF-checked. Connected apps are on `/settings/apps` ([`super::apps`]).
//!
//! TOTP: `totp_start` shows a new secret (text with `data-totp-secret`,
//! and a QR code rendered here as an SVG `data:` image); `totp_confirm`
//! turns it on with a first code and shows ten recovery codes once;
//! `totp_remove` turns it off, given the current password or a code
//! ([`super::reauth`]). An agency's MFA policy sends members here
//! with `next` (where to continue once enrolled).
//!
//! Passkeys: listed here, renamed and removed by `passkey_rename` and
//! `passkey_remove`; added through the JSON ceremony of [`super::passkeys`]
//! (the page loads its same-origin script).

use std::sync::Arc;

use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Query};
use poem::{Body, Request, Response, handler};
use serde::Deserialize;

use super::login::safe_next;
use super::{PageError, current_session, field, redirect};
use crate::AppState;
use crate::session::{self, Session};
use crate::{accounts, audit, mfa};

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
    /// `off`, `pending` or `on`.
    pub totp_state: &'static str,
    /// While pending: the secret (base32) and its QR code (`data:` URI).
    pub totp_secret: Option<String>,
    pub totp_qr: Option<String>,
    pub recovery_left: u64,
    /// Just made: shown this once.
    pub recovery_codes: Vec<String>,
    /// Where to continue (a local path), carried by every form.
    pub next: Option<String>,
    pub passkeys: super::passkeys::Section,
    /// The member's signed-in browsers ([`super::sessions`]).
    pub sessions: Vec<super::sessions::SessionLine>,
}

/// What one render shows beyond the account.
#[derive(Default)]
struct Shown {
    notice: Option<String>,
    error: Option<String>,
    recovery_codes: Vec<String>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct ShowQuery {
    next: Option<String>,
    /// `added`: the passkey script comes back after adding one.
    passkey: Option<String>,
}

/// A `next` worth offering: a local target [`safe_next`] keeps.
fn continue_to(state: &AppState, next: Option<&str>) -> Option<String> {
    let base = state.settings.issuer_path();
    let n = safe_next(base, next);
    (next.is_some() && n != state.settings.local_path("/login")).then_some(n)
}

/// An agency's MFA policy (issue 17 item 3): a member who must add a
/// second factor first is sent here, to continue at `next` (a local path
/// under the issuer) once done. `None`: go on.
pub async fn enrolment_gate(
    state: &AppState,
    user_id: &str,
    memberships: &[(entity::agency::Model, crate::scopes::Role)],
    next: &str,
    status: StatusCode,
) -> Result<Option<Response>, sea_orm::DbErr> {
    if !mfa::policy::must_enrol(&state.db, user_id, memberships).await? {
        return Ok(None);
    }
    let to = mfa::policy::enrol_first(state.settings.issuer_path(), next);
    Ok(Some(redirect(status, &to)))
}

async fn render(
    state: &AppState,
    s: &Session,
    shown: Shown,
    status: StatusCode,
) -> Result<Response, PageError> {
    let user = accounts::find_user(&state.db, &s.user_id)
        .await?
        .ok_or_else(|| PageError::bad_request("Your account no longer exists."))?;
    let kek = state.settings.keys.encryption_key.as_ref();
    let (totp_state, totp_secret, recovery_left) =
        match mfa::status(&state.db, kek, &s.user_id).await? {
            mfa::Status::Off => ("off", None, 0),
            mfa::Status::Pending { secret } => ("pending", Some(secret), 0),
            mfa::Status::On {
                recovery_codes_left,
            } => ("on", None, recovery_codes_left),
        };
    let totp_qr = totp_secret.as_deref().and_then(|secret| {
        let issuer = state.settings.issuer.as_str();
        let label = url::Url::parse(issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "SkedCast".into());
        mfa::totp::otpauth_uri(secret, &label, &user.email)
            .and_then(|uri| mfa::totp::qr_data_uri(&uri))
    });
    let Shown {
        notice,
        error,
        recovery_codes,
        next,
    } = shown;
    let passkeys = super::passkeys::section(state, &s.user_id, next.as_deref()).await?;
    Ok(super::scripted_page(
        status,
        SecurityPage {
            base: state.settings.issuer_path(),
            email: &user.email,
            name: user.name.as_deref().unwrap_or_default(),
            csrf_token: s.csrf_token(),
            notice,
            error,
            totp_state,
            totp_secret,
            totp_qr,
            recovery_left,
            recovery_codes,
            next,
            passkeys,
            sessions: super::sessions::lines(state, s).await?,
        }
        .render(),
    ))
}

#[handler]
pub async fn show(
    state: Data<&Arc<AppState>>,
    req: &Request,
    Query(q): Query<ShowQuery>,
) -> Result<Response, PageError> {
    let Some(s) = current_session(&state, req).await? else {
        return Ok(redirect(
            StatusCode::FOUND,
            &super::sign_in_then(&state, "/settings/security"),
        ));
    };
    let shown = Shown {
        next: continue_to(&state, q.next.as_deref()),
        notice: (q.passkey.as_deref() == Some("added")).then(|| "Passkey added.".to_string()),
        ..Shown::default()
    };
    render(&state, &s, shown, StatusCode::OK).await
}

#[handler]
pub async fn submit(
    state: Data<&Arc<AppState>>,
    req: &Request,
    body: Body,
) -> Result<Response, PageError> {
    let (s, form) = match super::member_form(&state, req, body, "/settings/security").await? {
        Ok(signed_in) => signed_in,
        Err(to_sign_in) => return Ok(to_sign_in),
    };
    let next = continue_to(&state, field(&form, "next"));
    match field(&form, "action") {
        Some("name") => set_name(&state, &s, &form, next).await,
        Some("totp_start") => totp_start(&state, &s, next).await,
        Some("totp_confirm") => totp_confirm(&state, req, &s, &form, next).await,
        Some("totp_remove") => totp_remove(&state, req, &s, &form, next).await,
        Some(a @ ("passkey_rename" | "passkey_remove")) => {
            let outcome = super::passkeys::form_action(&state, req, &s, a, &form).await?;
            answer(&state, &s, next, outcome).await
        }
        // Sessions and password: their own modules.
        Some("session_end") => {
            let outcome = super::sessions::end_one(&state, req, &s, &form).await?;
            answer(&state, &s, next, outcome).await
        }
        Some("sessions_end_others") => {
            let outcome = super::sessions::end_others(&state, req, &s).await?;
            answer(&state, &s, next, outcome).await
        }
        Some("password") => super::password::submit(&state, req, &s, &form, next).await,
        _ => Err(PageError::bad_request("Unknown action.")),
    }
}

/// A page answering a form: `notice` or `error`.
pub(super) async fn answer(
    state: &AppState,
    s: &Session,
    next: Option<String>,
    outcome: Result<String, String>,
) -> Result<Response, PageError> {
    let (shown, status) = match outcome {
        Ok(notice) => (
            Shown {
                notice: Some(notice),
                next,
                ..Shown::default()
            },
            StatusCode::OK,
        ),
        Err(error) => (
            Shown {
                error: Some(error),
                next,
                ..Shown::default()
            },
            StatusCode::BAD_REQUEST,
        ),
    };
    render(state, s, shown, status).await
}

/// A new secret to scan (any earlier unconfirmed one is replaced).
async fn totp_start(
    state: &AppState,
    s: &Session,
    next: Option<String>,
) -> Result<Response, PageError> {
    let kek = state.settings.keys.encryption_key.as_ref();
    let outcome = match mfa::start_enrolment(&state.db, kek, &s.user_id, crate::clock::now())
        .await?
    {
        Some(_) => Ok("Scan the QR code or type the key, then enter a code to turn it on.".into()),
        None => Err("Two-step sign-in is already on. Turn it off first to use a new app.".into()),
    };
    answer(state, s, next, outcome).await
}

/// The first code: TOTP on, recovery codes shown once. This session has
/// now proved the second factor too, so it counts as `pwd otp`.
async fn totp_confirm(
    state: &AppState,
    req: &Request,
    s: &Session,
    form: &[(String, String)],
    next: Option<String>,
) -> Result<Response, PageError> {
    let kek = state.settings.keys.encryption_key.as_ref();
    let code = field(form, "otp").unwrap_or_default();
    let now = crate::clock::now();
    let Some(codes) = mfa::confirm_enrolment(&state.db, kek, &s.user_id, code, now).await? else {
        let outcome =
            Err("That code does not match. Check the time on your device and try again.".into());
        return answer(state, s, next, outcome).await;
    };
    session::set_amr(&state.db, &s.raw_id, mfa::AMR_PASSWORD_OTP).await?;
    tracing::info!(user_id = %s.user_id, "TOTP turned on");
    // Written once the change is committed (it has its own transaction).
    let event = audit::Event::TotpEnabled {
        user_id: &s.user_id,
    };
    audit::record_for_member(&state.db, audit::At::of(req, now), &s.user_id, event).await?;
    let shown = Shown {
        notice: Some(
            "Two-step sign-in is on. Save these recovery codes now: they are shown only once."
                .into(),
        ),
        recovery_codes: codes,
        next,
        ..Shown::default()
    };
    render(state, s, shown, StatusCode::OK).await
}

/// Turning the second factor off needs the current password or a code
/// ([`super::reauth`]): a borrowed browser must not be able to.
async fn totp_remove(
    state: &AppState,
    req: &Request,
    s: &Session,
    form: &[(String, String)],
    next: Option<String>,
) -> Result<Response, PageError> {
    let user = accounts::find_user(&state.db, &s.user_id)
        .await?
        .ok_or_else(|| PageError::bad_request("Your account no longer exists."))?;
    if let Err(msg) = super::reauth::check(
        state,
        req,
        &user,
        form,
        super::reauth::Accept::PasswordOrCode,
    )
    .await?
    {
        return answer(state, s, next, Err(msg)).await;
    }
    let outcome = if mfa::reset(&state.db, &s.user_id).await? {
        tracing::info!(user_id = %s.user_id, "TOTP turned off");
        // Written once the change is committed (it has its own transaction).
        let event = audit::Event::TotpRemoved {
            actor: &s.user_id,
            user_id: &s.user_id,
        };
        let at = audit::At::of(req, crate::clock::now());
        audit::record_for_member(&state.db, at, &s.user_id, event).await?;
        Ok("Two-step sign-in is off; your recovery codes no longer work.".into())
    } else {
        Err("Two-step sign-in was not on.".into())
    };
    answer(state, s, next, outcome).await
}

/// The display name: set, changed, or cleared when empty.
async fn set_name(
    state: &AppState,
    s: &Session,
    form: &[(String, String)],
    next: Option<String>,
) -> Result<Response, PageError> {
    let outcome = match accounts::normalize_name(field(form, "name").unwrap_or_default()) {
        Ok(name) => {
            accounts::set_name(&state.db, &s.user_id, name.as_deref()).await?;
            Ok(if name.is_some() {
                "Your name is saved."
            } else {
                "Your name is removed."
            }
            .into())
        }
        Err(e) => Err(e.to_string()),
    };
    answer(state, s, next, outcome).await
}
