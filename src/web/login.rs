//! `GET/POST /login` and `POST /logout`.
//!
//! Sign-in attempts are counted before the password is checked, per client
//! IP, per (account, client IP) and per account under a larger ceiling
//! (`login_limits`, counters shared through the database), and at most
//! `login.max_queued_checks` wait for a password check at once. An unknown
//! email and a wrong password get the same answer after the same work (a
//! dummy argon2 verification).
//!
//! A member with a second factor then gets the second step
//! ([`super::second_factor`]) instead of a session; its form posts here too
//! (it has an `otp` field).

use std::sync::Arc;

use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Query};
use poem::{Body, Request, Response, handler};
use sea_orm::TransactionTrait;
use serde::Deserialize;

use super::{
    LoginPage, MessagePage, PageError, current_session, field, login_limits, message, page,
    read_form, redirect,
};
use crate::AppState;
use crate::accounts::{self, password};
use crate::mfa;
use crate::rate_limit::Decision;
use crate::session::{self, cookies};

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    /// Set by `prompt=login`: show the form even to a signed-in user.
    force: Option<String>,
    /// OpenID Connect `login_hint`: pre-fills the email.
    login_hint: Option<String>,
}

/// Only local targets we know: the authorization endpoint and our pages,
/// under the issuer's path `base` (`""` or e.g. `/tenant1`); otherwise
/// the sign-in page.
pub fn safe_next(base: &str, next: Option<&str>) -> String {
    match next.and_then(|n| n.strip_prefix(base)) {
        Some(n)
            if (n.starts_with("/oauth/authorize?")
                || n == "/login"
                || n == "/device"
                || n.starts_with("/device?")
                || n.starts_with("/settings/"))
                && !n.contains('\\')
                && !n.contains("//") =>
        {
            format!("{base}{n}")
        }
        _ => format!("{base}/login"),
    }
}

pub(crate) fn csrf_cookie(state: &AppState, req: &Request) -> Option<String> {
    cookies::get(
        super::cookie_header(req),
        session::LOGIN_CSRF_COOKIE,
        state.settings.issuer_is_https(),
    )
    .filter(|c| c.len() == 43)
    .map(str::to_string)
}

/// The sign-in form, with a CSRF cookie (kept if the browser has one, so two
/// open tabs both work).
fn login_form(
    state: &AppState,
    req: &Request,
    status: StatusCode,
    next: &str,
    email: &str,
    error: Option<&str>,
) -> Response {
    let token = csrf_cookie(state, req).unwrap_or_else(session::new_login_csrf);
    let mut resp = super::scripted_page(
        status,
        LoginPage {
            base: state.settings.issuer_path(),
            csrf_token: &token,
            next,
            email,
            error,
            passkeys: super::passkeys::available(state),
        }
        .render(),
    );
    let set = cookies::set(
        session::LOGIN_CSRF_COOKIE,
        &token,
        None,
        state.settings.issuer_is_https(),
    );
    if let Ok(v) = set.parse() {
        resp.headers_mut().append("Set-Cookie", v);
    }
    resp
}

#[handler]
pub async fn show(
    state: Data<&Arc<AppState>>,
    req: &Request,
    Query(q): Query<LoginQuery>,
) -> Result<Response, PageError> {
    let next = safe_next(state.settings.issuer_path(), q.next.as_deref());
    let forced = q.force.as_deref() == Some("1");
    let session = current_session(&state, req).await?;
    Ok(match session {
        Some(s) if !forced => {
            if next != state.settings.local_path("/login") {
                return Ok(redirect(StatusCode::FOUND, &next));
            }
            let email = accounts::find_user(&state.db, &s.user_id)
                .await?
                .map(|u| u.email)
                .unwrap_or_default();
            page(
                StatusCode::OK,
                MessagePage {
                    title: "Signed in",
                    message: &format!("You are signed in as {email}."),
                    is_error: false,
                    logout_csrf: Some(s.csrf_token()),
                    base: state.settings.issuer_path(),
                }
                .render(),
            )
        }
        _ => {
            let hint = q.login_hint.as_deref().unwrap_or_default();
            login_form(&state, req, StatusCode::OK, &next, hint, None)
        }
    })
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
    if !session::login_csrf_ok(
        csrf_cookie(&state, req).as_deref(),
        field(&form, "csrf_token"),
    ) {
        return Err(PageError::FormExpired);
    }
    let next = safe_next(state.settings.issuer_path(), field(&form, "next"));
    if let Some(otp) = field(&form, "otp") {
        return super::second_factor::submit(&state, req, otp, &next).await;
    }
    let email_raw = field(&form, "email").unwrap_or_default();
    let password_raw = field(&form, "password").unwrap_or_default();
    let email =
        accounts::normalize_email(email_raw).unwrap_or_else(|_| email_raw.trim().to_lowercase());

    // A burst beyond the queue is refused before it is counted or hashed.
    let Ok(slot) = state.sign_in_checks.try_acquire() else {
        metrics::counter!("rate_limit_hits_total", "limit" => "login_queue").increment(1);
        return Err(PageError::sign_in_busy());
    };
    let now = crate::clock::now();
    let cfg = &state.settings.login;
    let ip = req.remote_addr().as_socket_addr().map(|a| a.ip());
    let buckets = login_limits::Buckets::new(&email, ip);
    // Counted before the password is checked (see `login_limits`).
    if let Decision::Limited { retry_after_secs } =
        login_limits::count_attempt(&state.db, cfg, &buckets, now).await?
    {
        metrics::counter!("rate_limit_hits_total", "limit" => "login").increment(1);
        return Err(PageError::too_many_sign_ins(retry_after_secs));
    }

    let user = accounts::find_user_by_email(&state.db, &email).await?;
    let phc = user.as_ref().and_then(|u| u.password_hash.clone());
    let ok = password::verify(password_raw.to_string(), phc.clone()).await;
    let at = crate::audit::At::of(req, now);
    let (Some(user), true) = (&user, ok) else {
        tracing::info!("sign-in failed");
        crate::audit::record_sign_in(&state.db, at, user.as_ref(), false).await?;
        metrics::counter!("sign_in_failures_total").increment(1);
        return Ok(login_form(
            &state,
            req,
            StatusCode::UNAUTHORIZED,
            &next,
            email_raw,
            Some("Incorrect email or password."),
        ));
    };

    // Upgrade a hash made with weaker parameters, now that we know the password.
    if phc.as_deref().is_some_and(password::needs_rehash)
        && let Ok(h) = password::hash(password_raw.to_string()).await
        && let Err(e) = accounts::set_password_hash(&state.db, &user.id, h).await
    {
        tracing::warn!(error = %e, "password rehash not stored");
    }
    drop(slot);
    if let Err(e) = login_limits::forget_success(&state.db, cfg, &buckets, now).await {
        tracing::warn!(error = %e, "sign-in counters not reset");
    }
    if mfa::has_second_factor(&state.db, &user.id).await? {
        return super::second_factor::ask(&state, req, &user.id, &next, now).await;
    }
    start_session(&state, req, user, mfa::AMR_PASSWORD, &next, now).await
}

/// The member is signed in (by `amr`): a new session, its cookie, and on to
/// `next`.
pub(crate) async fn start_session(
    state: &AppState,
    req: &Request,
    user: &entity::user::Model,
    amr: &str,
    next: &str,
    now: i64,
) -> Result<Response, PageError> {
    // A fresh session id at every sign-in (no session fixation).
    if let Some(old) = cookies::get(
        super::cookie_header(req),
        session::SESSION_COOKIE,
        state.settings.issuer_is_https(),
    ) {
        let _ = session::destroy(&state.db, old).await;
    }
    // The session and its audit row (sign-in succeeded) are one write.
    let txn = state.db.begin().await?;
    let origin = session::devices::Origin::of(req);
    let s = session::create_from(&txn, &user.id, amr, now, &origin).await?;
    crate::audit::record_sign_in(&txn, crate::audit::At::of(req, now), Some(user), true).await?;
    txn.commit().await?;
    tracing::info!(user_id = %user.id, amr, "signed in");
    let secure = state.settings.issuer_is_https();
    let mut resp = redirect(StatusCode::SEE_OTHER, next);
    for c in [
        cookies::set(
            session::SESSION_COOKIE,
            &s.raw_id,
            Some(state.settings.session.absolute_timeout_secs),
            secure,
        ),
        cookies::clear(session::LOGIN_CSRF_COOKIE, secure),
    ] {
        if let Ok(v) = c.parse() {
            resp.headers_mut().append("Set-Cookie", v);
        }
    }
    Ok(resp)
}

#[handler]
pub async fn logout(
    state: Data<&Arc<AppState>>,
    req: &Request,
    body: Body,
) -> Result<Response, PageError> {
    let form = read_form(req, body).await.unwrap_or_default();
    let Some(s) = current_session(&state, req).await? else {
        return Ok(redirect(
            StatusCode::SEE_OTHER,
            &state.settings.local_path("/login"),
        ));
    };
    if !s.csrf_ok(field(&form, "csrf_token")) {
        return Err(PageError::FormExpired);
    }
    let mut resp = message(StatusCode::OK, "Signed out", "You are signed out.");
    sign_out(&state, &s, &mut resp).await?;
    Ok(resp)
}

/// End session `s` and clear its cookie on `resp` (sign-out and OpenID
/// Connect RP-initiated logout).
pub async fn sign_out(
    state: &AppState,
    s: &session::Session,
    resp: &mut Response,
) -> Result<(), PageError> {
    session::destroy(&state.db, &s.raw_id).await?;
    let clear = cookies::clear(session::SESSION_COOKIE, state.settings.issuer_is_https());
    if let Ok(v) = clear.parse() {
        resp.headers_mut().append("Set-Cookie", v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_local_and_known() {
        assert_eq!(
            safe_next("", Some("/oauth/authorize?client_id=x")),
            "/oauth/authorize?client_id=x"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/x",
            "/oauth/authorize?x=//e",
            "/\\evil",
            "/other",
        ] {
            assert_eq!(safe_next("", Some(bad)), "/login", "{bad}");
        }
        assert_eq!(safe_next("", None), "/login");
        assert_eq!(
            safe_next("", Some("/device?user_code=BCDF-GHJK")),
            "/device?user_code=BCDF-GHJK"
        );
        assert_eq!(safe_next("", Some("/devices")), "/login");
    }

    #[test]
    fn next_is_under_the_issuers_path() {
        assert_eq!(
            safe_next("/t1", Some("/t1/oauth/authorize?client_id=x")),
            "/t1/oauth/authorize?client_id=x"
        );
        assert_eq!(
            safe_next("/t1", Some("/t1/settings/developer")),
            "/t1/settings/developer"
        );
        for bad in [
            "/oauth/authorize?client_id=x",
            "/t1x/settings/developer",
            "/t1//evil.example/x",
            "/t1/other",
            "//evil.example/t1/login",
        ] {
            assert_eq!(safe_next("/t1", Some(bad)), "/t1/login", "{bad}");
        }
        assert_eq!(safe_next("/t1", None), "/t1/login");
    }
}
