//! The "Signed-in sessions" part of `/settings/security` (issue 17 item
//! 4): the member's browsers (signed in when, from where, last seen, which
//! browser), "Sign out" for each other one and "Sign out everywhere else".
//! The forms are the security page's (CSRF-checked there); each ended
//! session and its `session.signed_out` audit rows are one transaction.

use poem::Request;
use sea_orm::TransactionTrait;

use super::{PageError, datetime, field};
use crate::AppState;
use crate::audit::{self, At, Event};
use crate::session::{Session, devices};

/// One session as the page shows it.
pub struct SessionLine {
    pub public_id: String,
    pub device: String,
    pub ip: String,
    pub created: String,
    pub last_seen: String,
    pub current: bool,
}

impl From<devices::Listed> for SessionLine {
    fn from(l: devices::Listed) -> SessionLine {
        SessionLine {
            device: l.user_agent.unwrap_or_else(|| "Unknown browser".into()),
            ip: l.ip.unwrap_or_else(|| "an unknown address".into()),
            created: datetime(l.created_at),
            last_seen: datetime(l.last_seen_at),
            current: l.current,
            public_id: l.public_id,
        }
    }
}

/// The member's live sessions, for the page.
pub async fn lines(state: &AppState, s: &Session) -> Result<Vec<SessionLine>, sea_orm::DbErr> {
    let now = crate::clock::now();
    let listed = devices::list(
        &state.db,
        &s.user_id,
        &s.raw_id,
        now,
        &state.settings.session,
    )
    .await?;
    Ok(listed.into_iter().map(SessionLine::from).collect())
}

/// "Sign out" of one other session (`session`: its public handle).
pub async fn end_one(
    state: &AppState,
    req: &Request,
    s: &Session,
    form: &[(String, String)],
) -> Result<Result<String, String>, PageError> {
    let Some(public_id) = field(form, "session").filter(|p| !p.is_empty()) else {
        return Err(PageError::bad_request(
            "The form names no session: it needs one `session` field.",
        ));
    };
    let txn = state.db.begin().await?;
    if !devices::end_other(&txn, &s.user_id, public_id, &s.raw_id).await? {
        return Ok(Err(
            "That session is already signed out (or is this browser: use Sign out).".into(),
        ));
    }
    let event = Event::SessionSignedOut {
        user_id: &s.user_id,
        session: Some(public_id),
    };
    let at = At::of(req, crate::clock::now());
    audit::record_for_member(&txn, at, &s.user_id, event).await?;
    txn.commit().await?;
    tracing::info!(user_id = %s.user_id, "a session signed out from the security page");
    Ok(Ok("That session is signed out.".into()))
}

/// "Sign out everywhere else".
pub async fn end_others(
    state: &AppState,
    req: &Request,
    s: &Session,
) -> Result<Result<String, String>, PageError> {
    let txn = state.db.begin().await?;
    let n = devices::end_others(&txn, &s.user_id, &s.raw_id).await?;
    if n == 0 {
        return Ok(Err("You are signed in nowhere else.".into()));
    }
    let event = Event::SessionSignedOut {
        user_id: &s.user_id,
        session: None,
    };
    let at = At::of(req, crate::clock::now());
    audit::record_for_member(&txn, at, &s.user_id, event).await?;
    txn.commit().await?;
    tracing::info!(user_id = %s.user_id, sessions = n, "other sessions signed out");
    Ok(Ok(match n {
        1 => "Your other session is signed out.".to_string(),
        n => format!("Your {n} other sessions are signed out."),
    }))
}
