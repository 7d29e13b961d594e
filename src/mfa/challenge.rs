//! The half-signed-in state: a member who gave the right password and owes
//! a second factor. Its cookie (`skedcast_mfa`, random 256 bits, only the
//! SHA-256 stored) is read by the second sign-in step alone: it is no
//! session, so it can do nothing else. It lasts [`TTL_SECS`] and ends when
//! the second step succeeds (a conditional delete, so it signs in once).

use entity::mfa_challenge::{ActiveModel, Column, Entity};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::IntoCondition;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::crypto::{random_token, sha256_hex};

pub const COOKIE: &str = "skedcast_mfa";

/// Time to open the authenticator app and type a code.
pub const TTL_SECS: i64 = 300;

/// Start the second step for `user_id`; returns the cookie value.
pub async fn begin(db: &impl ConnectionTrait, user_id: &str, now: i64) -> Result<String, DbErr> {
    let raw = random_token();
    Entity::insert(ActiveModel {
        id_hash: Set(sha256_hex(&raw)),
        user_id: Set(user_id.to_string()),
        created_at: Set(now),
        expires_at: Set(now + TTL_SECS),
    })
    .exec_without_returning(db)
    .await?;
    Ok(raw)
}

/// The member a live challenge cookie stands for.
pub async fn user_of(
    db: &impl ConnectionTrait,
    raw: &str,
    now: i64,
) -> Result<Option<String>, DbErr> {
    if raw.len() != 43 {
        return Ok(None);
    }
    Ok(Entity::find_by_id(sha256_hex(raw))
        .filter(Column::ExpiresAt.gt(now))
        .one(db)
        .await?
        .map(|c| c.user_id))
}

/// End the challenge; `false` when it was already used (or expired).
pub async fn finish(db: &impl ConnectionTrait, raw: &str, now: i64) -> Result<bool, DbErr> {
    Ok(Entity::delete_many()
        .filter(Column::IdHash.eq(sha256_hex(raw)))
        .filter(Column::ExpiresAt.gt(now))
        .exec(db)
        .await?
        .rows_affected
        == 1)
}

pub async fn forget_user(db: &impl ConnectionTrait, user_id: &str) -> Result<(), DbErr> {
    Entity::delete_many()
        .filter(Column::UserId.eq(user_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// Delete expired challenges (maintenance).
pub async fn prune(db: &impl ConnectionTrait, now: i64) -> Result<u64, DbErr> {
    let expired = Column::ExpiresAt.lte(now);
    crate::db::delete_in_batches::<Entity>(db, Column::IdHash, expired.into_condition()).await
}
