//! The `client_assertion_jtis` table: each validated client assertion's
//! `jti` until its `exp` (RFC 7523 §3: an assertion is used once). It is in
//! the database, not in memory, so a replay on another instance is refused
//! too; the insert itself decides (primary key), so two concurrent uses of
//! one assertion cannot both pass. The maintenance task prunes rows whose
//! assertion has expired anyway.

use entity::client_assertion_jti::{ActiveModel, Column, Entity};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait};

/// The row key: the `jti` is the client's to choose, so it is scoped to
/// the client, and hashed to a fixed length.
fn key(client_id: &str, jti: &str) -> String {
    crate::crypto::sha256_hex(&format!("{client_id}\n{jti}"))
}

/// Record the assertion `jti` of `client_id`, whose `exp` is `exp`, as
/// used for as long as it could be accepted (`exp` plus the clock leeway).
/// `false`: it was used before.
pub async fn use_once(
    db: &impl ConnectionTrait,
    client_id: &str,
    jti: &str,
    exp: i64,
) -> Result<bool, DbErr> {
    let row = ActiveModel {
        key: Set(key(client_id, jti)),
        expires_at: Set(exp + super::assertion::LEEWAY_SECS),
    };
    let inserted = Entity::insert(row)
        .on_conflict(OnConflict::column(Column::Key).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}

/// Delete the rows of assertions that expired before `now`, in batches.
pub async fn prune(db: &impl ConnectionTrait, now: i64) -> Result<u64, DbErr> {
    let expired = sea_orm::Condition::all().add(Column::ExpiresAt.lt(now));
    crate::db::delete_in_batches::<Entity>(db, Column::Key, expired).await
}
