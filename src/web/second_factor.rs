//! The second sign-in step: after the right password, a member with a
//! second factor gets this form (`<input name="otp">`, a TOTP code or a
//! recovery code) instead of a session. It posts to `/login` with the
//! sign-in form's CSRF token (double submit), and names the member only by
//! the challenge cookie ([`mfa::challenge`]). Codes are throttled like
//! passwords, in buckets of their own ([`login_limits::Buckets::second_factor`]).
//! A member with a passkey also gets a "Use a passkey" button
//! ([`super::passkeys`]); the code form shows when TOTP is on (or when no
//! passkey can be used here, so the page always has a way on).

use askama::Template;
use poem::http::StatusCode;
use poem::{Request, Response};

use super::{PageError, login_limits};
use crate::AppState;
use crate::accounts;
use crate::mfa::{self, challenge};
use crate::rate_limit::Decision;
use crate::session::cookies;

#[derive(Template)]
#[template(path = "second_factor.html")]
pub struct SecondFactorPage<'a> {
    pub base: &'a str,
    pub csrf_token: &'a str,
    pub next: &'a str,
    pub error: Option<&'a str>,
    /// Show the code form (TOTP or a recovery code).
    pub totp: bool,
    /// Show the passkey button.
    pub passkey: bool,
}

/// Which second factors the member can use on this page: (code, passkey).
async fn methods(state: &AppState, user_id: &str) -> Result<(bool, bool), sea_orm::DbErr> {
    let passkey =
        super::passkeys::available(state) && mfa::passkeys::any(&state.db, user_id).await?;
    let totp = !passkey || mfa::has_totp(&state.db, user_id).await?;
    Ok((totp, passkey))
}

async fn form(
    state: &AppState,
    req: &Request,
    user_id: &str,
    status: StatusCode,
    next: &str,
    error: Option<&str>,
) -> Result<Response, PageError> {
    // The sign-in form's token: checked before anything reached here.
    let token = super::login::csrf_cookie(state, req).unwrap_or_default();
    let (totp, passkey) = methods(state, user_id).await?;
    Ok(super::scripted_page(
        status,
        SecondFactorPage {
            base: state.settings.issuer_path(),
            csrf_token: &token,
            next,
            error,
            totp,
            passkey,
        }
        .render(),
    ))
}

fn expired() -> PageError {
    PageError::Message {
        status: StatusCode::FORBIDDEN,
        title: "Sign-in expired",
        message: "Your sign-in has expired. Please sign in again.".into(),
    }
}

/// The password was right: remember who owes a code, and ask for it.
pub async fn ask(
    state: &AppState,
    req: &Request,
    user_id: &str,
    next: &str,
    now: i64,
) -> Result<Response, PageError> {
    let raw = challenge::begin(&state.db, user_id, now).await?;
    let mut resp = form(state, req, user_id, StatusCode::OK, next, None).await?;
    let set = cookies::set(
        challenge::COOKIE,
        &raw,
        Some(challenge::TTL_SECS as u64),
        state.settings.issuer_is_https(),
    );
    if let Ok(v) = set.parse() {
        resp.headers_mut().append("Set-Cookie", v);
    }
    Ok(resp)
}

/// The code sent with the second step's form (CSRF already checked).
pub async fn submit(
    state: &AppState,
    req: &Request,
    otp: &str,
    next: &str,
) -> Result<Response, PageError> {
    let now = crate::clock::now();
    let Some(raw) = cookies::get(
        super::cookie_header(req),
        challenge::COOKIE,
        state.settings.issuer_is_https(),
    ) else {
        return Err(expired());
    };
    let Some(user_id) = challenge::user_of(&state.db, raw, now).await? else {
        return Err(expired());
    };
    let Some(user) = accounts::find_user(&state.db, &user_id).await? else {
        return Err(expired());
    };
    let ip = req.remote_addr().as_socket_addr().map(|a| a.ip());
    let buckets = login_limits::Buckets::second_factor(&user.email, ip);
    let cfg = &state.settings.login;
    // Counted before the code is checked, like a password.
    if let Decision::Limited { retry_after_secs } =
        login_limits::count_attempt(&state.db, cfg, &buckets, now).await?
    {
        metrics::counter!("rate_limit_hits_total", "limit" => "second_factor").increment(1);
        return Err(PageError::too_many_sign_ins(retry_after_secs));
    }
    let kek = state.settings.keys.encryption_key.as_ref();
    let Some(factor) = mfa::verify(&state.db, kek, &user.id, otp, now).await? else {
        tracing::info!("second factor failed");
        metrics::counter!("sign_in_failures_total").increment(1);
        return form(
            state,
            req,
            &user.id,
            StatusCode::UNAUTHORIZED,
            next,
            Some("Incorrect or already used code."),
        )
        .await;
    };
    // One sign-in per challenge, even for two right codes at once.
    if !challenge::finish(&state.db, raw, now).await? {
        return Err(expired());
    }
    if let Err(e) = login_limits::forget_success(&state.db, cfg, &buckets, now).await {
        tracing::warn!(error = %e, "second-factor counters not reset");
    }
    if factor == mfa::Factor::RecoveryCode {
        tracing::info!(user_id = %user.id, "recovery code used");
        let event = crate::audit::Event::RecoveryCodeUsed { user_id: &user.id };
        let at = crate::audit::At::of(req, now);
        crate::audit::record_for_member(&state.db, at, &user.id, event).await?;
    }
    let mut resp =
        super::login::start_session(state, req, &user, mfa::AMR_PASSWORD_OTP, next, now).await?;
    let clear = cookies::clear(challenge::COOKIE, state.settings.issuer_is_https());
    if let Ok(v) = clear.parse() {
        resp.headers_mut().append("Set-Cookie", v);
    }
    Ok(resp)
}
