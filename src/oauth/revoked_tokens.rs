//! The `revoked_access_tokens` table: the `jti` of each access token revoked
//! over RFC 7009, until the token's `exp`. Introspection reads it; the
//! maintenance task prunes rows whose token has expired anyway.

use entity::revoked_access_token::{ActiveModel, Column, Entity};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::IntoCondition;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

/// Record `jti` as revoked until `expires_at`. Revoking twice is harmless.
pub async fn record(db: &impl ConnectionTrait, jti: &str, expires_at: i64) -> Result<(), DbErr> {
    let row = ActiveModel {
        jti: Set(jti.to_string()),
        expires_at: Set(expires_at),
    };
    Entity::insert(row)
        .on_conflict(OnConflict::column(Column::Jti).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn is_revoked(db: &impl ConnectionTrait, jti: &str) -> Result<bool, DbErr> {
    let found = Entity::find()
        .select_only()
        .column(Column::Jti)
        .filter(Column::Jti.eq(jti))
        .into_tuple::<String>()
        // No `.one()`: see `db_key`.
        .all(db)
        .await?;
    Ok(!found.is_empty())
}

/// Delete the rows of tokens that expired before `now`.
pub async fn prune(db: &impl ConnectionTrait, now: i64) -> Result<u64, DbErr> {
    crate::db::delete_in_batches::<Entity>(
        db,
        Column::Jti,
        Column::ExpiresAt.lt(now).into_condition(),
    )
    .await
}
