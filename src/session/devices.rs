//! A member's signed-in browsers (issue 17 item 4): listed on the security
//! page, each signed out on its own or all but this one together.
//!
//! Sessions are named to the member by `public_id`, a random handle of
//! their own: the cookie value and its hash never leave the server, and a
//! handle only acts through the owner's session and CSRF token (every
//! statement here is bounded by `user_id`).

use entity::session::{Column, Entity};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use super::{is_alive, user_agent};
use crate::crypto::sha256_hex;
use crate::settings::SessionSettings;

/// Which browser signs in, from where: kept with the session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The summary of the `User-Agent` header ([`user_agent::summarise`]).
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

impl Origin {
    pub fn of(req: &poem::Request) -> Origin {
        Origin {
            user_agent: user_agent::summarise(req.header("user-agent")),
            ip: req
                .remote_addr()
                .as_socket_addr()
                .map(|a| a.ip().to_string()),
        }
    }
}

/// One live session as its member sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub public_id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// The session of the browser asking.
    pub current: bool,
}

/// The member's live sessions, most recently seen first; `current_raw_id`
/// is the asking browser's cookie value.
pub async fn list(
    db: &impl ConnectionTrait,
    user_id: &str,
    current_raw_id: &str,
    now: i64,
    cfg: &SessionSettings,
) -> Result<Vec<Listed>, DbErr> {
    let current = sha256_hex(current_raw_id);
    let rows = Entity::find()
        .filter(Column::UserId.eq(user_id))
        .order_by_desc(Column::LastSeenAt)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|r| is_alive(r.created_at, r.last_seen_at, now, cfg))
        .map(|r| Listed {
            current: r.id_hash == current,
            public_id: r.public_id,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            user_agent: r.user_agent,
            ip: r.ip,
        })
        .collect())
}

/// Sign out the member's session `public_id`, unless it is the asking one
/// (that is the ordinary sign-out). Returns whether a session ended.
pub async fn end_other(
    db: &impl ConnectionTrait,
    user_id: &str,
    public_id: &str,
    current_raw_id: &str,
) -> Result<bool, DbErr> {
    let res = Entity::delete_many()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::PublicId.eq(public_id))
        .filter(Column::IdHash.ne(sha256_hex(current_raw_id)))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Sign out every session of the member but the asking one; returns how
/// many ended.
pub async fn end_others(
    db: &impl ConnectionTrait,
    user_id: &str,
    current_raw_id: &str,
) -> Result<u64, DbErr> {
    let res = Entity::delete_many()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::IdHash.ne(sha256_hex(current_raw_id)))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Sign out every session of the member (a password change, which then
/// starts a new one for the browser that made it).
pub async fn end_all(db: &impl ConnectionTrait, user_id: &str) -> Result<u64, DbErr> {
    let res = Entity::delete_many()
        .filter(Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
