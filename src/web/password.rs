//! The "Password" part of `/settings/security` (issue 17 item 4): a new
//! password, given the current one ([`super::reauth`]) and typed twice.
//!
//! In one transaction: the new hash, every session of the member ended
//! (those of other browsers, and this one, replaced by a fresh session id
//! so a copied cookie dies too), the `password.changed` audit rows, and,
//! when the member ticks "also disconnect every app", every connected app
//! revoked. Otherwise connected apps keep their refresh families: a grant
//! is consent given to an app, not a sign-in, and ending every agent's
//! access on each routine change would teach members to avoid changing
//! it; the page says so and links the connected-apps page (docs/security.md).

use poem::{Request, Response};
use sea_orm::TransactionTrait;

use super::reauth::{self, Accept};
use super::{PageError, field};
use crate::AppState;
use crate::accounts::{self, password};
use crate::audit::{self, At, Event};
use crate::oauth::connected_apps;
use crate::session::{self, Session, cookies, devices};

/// Pure: the new password typed twice, checked against the rules.
pub fn new_password(form: &[(String, String)]) -> Result<&str, String> {
    let new = field(form, "new_password").unwrap_or_default();
    if new != field(form, "new_password_again").unwrap_or_default() {
        return Err("The two new passwords differ.".into());
    }
    password::check_new(new).map_err(|e| {
        let mut m = e;
        if let Some(first) = m.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        format!("{m}.")
    })?;
    Ok(new)
}

/// The `password` action: the security page again, with the outcome (and
/// the new session's cookie after a change).
pub async fn submit(
    state: &AppState,
    req: &Request,
    s: &Session,
    form: &[(String, String)],
    next: Option<String>,
) -> Result<Response, PageError> {
    let user = accounts::find_user(&state.db, &s.user_id)
        .await?
        .ok_or_else(|| PageError::bad_request("Your account no longer exists."))?;
    let new = match new_password(form) {
        Ok(p) => p,
        Err(msg) => return super::security::answer(state, s, next, Err(msg)).await,
    };
    if let Err(msg) = reauth::check(state, req, &user, form, Accept::Password).await? {
        return super::security::answer(state, s, next, Err(msg)).await;
    }
    let hash = password::hash(new.to_string())
        .await
        .map_err(PageError::unavailable)?;
    let disconnect = field(form, "disconnect_apps") == Some("1");
    let now = crate::clock::now();
    let at = At::of(req, now);

    let txn = state.db.begin().await?;
    accounts::set_password_hash(&txn, &user.id, hash).await?;
    let ended = devices::end_all(&txn, &user.id).await?;
    let fresh =
        session::create_from(&txn, &user.id, &s.amr, now, &devices::Origin::of(req)).await?;
    audit::record_for_member(
        &txn,
        at,
        &user.id,
        Event::PasswordChanged { user_id: &user.id },
    )
    .await?;
    let apps = match disconnect {
        true => connected_apps::revoke_all(&txn, &user.id, at).await?,
        false => 0,
    };
    txn.commit().await?;
    tracing::info!(user_id = %user.id, other_sessions = ended.saturating_sub(1), apps, "password changed");

    let notice = match (disconnect, apps) {
        (true, 0) => "Your password is changed and your other sessions are signed out.".into(),
        (true, n) => format!(
            "Your password is changed, your other sessions are signed out and {n} connected app{} disconnected.",
            if n == 1 { " is" } else { "s are" }
        ),
        (false, _) => "Your password is changed and your other sessions are signed out. \
                       Connected apps keep their access: review them under Connected apps."
            .into(),
    };
    let mut resp = super::security::answer(state, &fresh, next, Ok(notice)).await?;
    let cookie = cookies::set(
        session::SESSION_COOKIE,
        &fresh.raw_id,
        Some(state.settings.session.absolute_timeout_secs),
        state.settings.issuer_is_https(),
    );
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().append("Set-Cookie", v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::new_password;

    fn form(new: &str, again: &str) -> Vec<(String, String)> {
        vec![
            ("new_password".into(), new.into()),
            ("new_password_again".into(), again.into()),
        ]
    }

    #[test]
    fn typed_twice_and_long_enough() {
        assert_eq!(
            new_password(&form("a long new passphrase", "a long new passphrase")),
            Ok("a long new passphrase")
        );
        assert_eq!(
            new_password(&form("a long new passphrase", "a long new passphrasE")),
            Err("The two new passwords differ.".into())
        );
        let short = new_password(&form("short", "short")).unwrap_err();
        assert!(
            short.starts_with("The password must be at least"),
            "{short}"
        );
        assert!(new_password(&[]).is_err(), "nothing typed");
    }
}
