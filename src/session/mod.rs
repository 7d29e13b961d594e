//! Browser sessions and CSRF protection for the HTML forms.
//!
//! The session cookie holds a random 256-bit id; the database keeps only its
//! SHA-256. A session ends after `session.idle_timeout_secs` without use and
//! at the latest `session.absolute_timeout_secs` after sign-in.
//!
//! CSRF: forms of a signed-in user carry a token derived from the session id
//! (SHA-256 of a label and the id), which only the browser holding the cookie
//! can know, so nothing extra is stored. The sign-in form, used before there
//! is a session, carries a random token that must equal a cookie set with
//! the form (double submit).

pub mod cookies;
pub mod devices;
pub mod user_agent;

use entity::session::{self, Column, Entity};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::sea_query::IntoCondition;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

use crate::crypto::{b64url, ct_eq, random_token, sha256_hex};
use crate::settings::SessionSettings;

pub const SESSION_COOKIE: &str = "skedcast_session";
pub const LOGIN_CSRF_COOKIE: &str = "skedcast_login_csrf";

/// `last_seen_at` is written at most this often per session.
const TOUCH_EVERY_SECS: i64 = 60;

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The cookie value (never stored).
    pub raw_id: String,
    pub user_id: String,
    /// Sign-in time.
    pub created_at: i64,
    /// How the member signed in (RFC 8176, space-separated): `pwd` or
    /// `pwd otp`; carried to codes and refresh families like `created_at`.
    pub amr: String,
}

impl Session {
    /// The CSRF token of this session's forms.
    pub fn csrf_token(&self) -> String {
        csrf_for(&self.raw_id)
    }

    pub fn csrf_ok(&self, presented: Option<&str>) -> bool {
        presented.is_some_and(|p| ct_eq(p.as_bytes(), self.csrf_token().as_bytes()))
    }
}

fn csrf_for(raw_id: &str) -> String {
    b64url(&Sha256::digest(
        format!("skedcast-csrf:{raw_id}").as_bytes(),
    ))
}

/// Pure: whether a session row is still alive at `now`.
pub fn is_alive(created_at: i64, last_seen_at: i64, now: i64, cfg: &SessionSettings) -> bool {
    now < created_at.saturating_add(cfg.absolute_timeout_secs as i64)
        && now < last_seen_at.saturating_add(cfg.idle_timeout_secs as i64)
}

/// Start a session for `user_id`, signed in by `amr`; returns it with the
/// cookie value. Without a browser to describe: see [`create_from`].
pub async fn create(
    db: &impl ConnectionTrait,
    user_id: &str,
    amr: &str,
    now: i64,
) -> Result<Session, DbErr> {
    create_from(db, user_id, amr, now, &devices::Origin::default()).await
}

/// [`create`], noting which browser signed in from where (shown to the
/// member in their list of sessions).
pub async fn create_from(
    db: &impl ConnectionTrait,
    user_id: &str,
    amr: &str,
    now: i64,
    origin: &devices::Origin,
) -> Result<Session, DbErr> {
    let raw_id = random_token();
    Entity::insert(session::ActiveModel {
        id_hash: Set(sha256_hex(&raw_id)),
        user_id: Set(user_id.to_string()),
        created_at: Set(now),
        last_seen_at: Set(now),
        amr: Set(amr.to_string()),
        // Its own randomness: nothing about the cookie can be learnt from it.
        public_id: Set(random_token()),
        user_agent: Set(origin.user_agent.clone()),
        ip: Set(origin.ip.clone()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(Session {
        raw_id,
        user_id: user_id.to_string(),
        created_at: now,
        amr: amr.to_string(),
    })
}

/// The live session of a cookie value, if any (expired ones are deleted).
pub async fn load(
    db: &impl ConnectionTrait,
    raw_id: &str,
    now: i64,
    cfg: &SessionSettings,
) -> Result<Option<Session>, DbErr> {
    if raw_id.len() != 43 {
        return Ok(None);
    }
    let id_hash = sha256_hex(raw_id);
    let Some(row) = crate::db_key::by_key(Entity::find_by_id(id_hash.clone()), db).await? else {
        return Ok(None);
    };
    if !is_alive(row.created_at, row.last_seen_at, now, cfg) {
        Entity::delete_by_id(id_hash).exec(db).await?;
        return Ok(None);
    }
    if now - row.last_seen_at >= TOUCH_EVERY_SECS {
        Entity::update_many()
            .col_expr(Column::LastSeenAt, Expr::value(now))
            .filter(Column::IdHash.eq(id_hash))
            .exec(db)
            .await?;
    }
    Ok(Some(Session {
        raw_id: raw_id.to_string(),
        user_id: row.user_id,
        created_at: row.created_at,
        amr: row.amr,
    }))
}

/// Record that session `raw_id` has now also proved `amr` (a second factor
/// confirmed in it).
pub async fn set_amr(db: &impl ConnectionTrait, raw_id: &str, amr: &str) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::Amr, Expr::value(amr))
        .filter(Column::IdHash.eq(sha256_hex(raw_id)))
        .exec(db)
        .await
        .map(|_| ())
}

pub async fn destroy(db: &impl ConnectionTrait, raw_id: &str) -> Result<(), DbErr> {
    Entity::delete_by_id(sha256_hex(raw_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// Delete sessions past either timeout (maintenance).
pub async fn prune(
    db: &impl ConnectionTrait,
    now: i64,
    cfg: &SessionSettings,
) -> Result<u64, DbErr> {
    // Two conditions, each served by its own index (not one OR).
    let mut n = 0;
    for cond in [
        Column::CreatedAt.lt(now - cfg.absolute_timeout_secs as i64),
        Column::LastSeenAt.lt(now - cfg.idle_timeout_secs as i64),
    ] {
        n += crate::db::delete_in_batches::<Entity>(db, Column::IdHash, cond.into_condition())
            .await?;
    }
    Ok(n)
}

/// A new random token for the sign-in form's double-submit CSRF check.
pub fn new_login_csrf() -> String {
    random_token()
}

pub fn login_csrf_ok(cookie: Option<&str>, field: Option<&str>) -> bool {
    match (cookie, field) {
        (Some(c), Some(f)) if c.len() == 43 => ct_eq(c.as_bytes(), f.as_bytes()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SessionSettings {
        SessionSettings {
            idle_timeout_secs: 100,
            absolute_timeout_secs: 1000,
        }
    }

    #[test]
    fn timeouts() {
        assert!(is_alive(0, 0, 99, &cfg()));
        assert!(!is_alive(0, 0, 100, &cfg()), "idle");
        assert!(is_alive(0, 950, 999, &cfg()));
        assert!(!is_alive(0, 990, 1000, &cfg()), "absolute");
    }

    #[test]
    fn csrf_tokens() {
        let s = Session {
            raw_id: random_token(),
            user_id: "u".into(),
            created_at: 0,
            amr: "pwd".into(),
        };
        let t = s.csrf_token();
        assert!(s.csrf_ok(Some(&t)));
        assert!(!s.csrf_ok(Some("x")));
        assert!(!s.csrf_ok(None));
        assert_ne!(t, s.raw_id, "the token does not reveal the session id");
        let c = new_login_csrf();
        assert!(login_csrf_ok(Some(&c), Some(&c)));
        assert!(!login_csrf_ok(Some(&c), Some("other")));
        assert!(!login_csrf_ok(None, Some(&c)));
        assert!(!login_csrf_ok(Some("short"), Some("short")));
    }
}
