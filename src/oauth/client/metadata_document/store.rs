//! The `client_metadata_documents` table: until when the stored metadata of
//! a document client may be used without fetching again. The metadata
//! itself is the `clients` row of the same id ([`crate::oauth::client::store`]);
//! both are written in one transaction. In the database, so every instance
//! shares one cache.

use entity::client::Model;
use entity::client_metadata_document::{ActiveModel, Column, Entity};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, TransactionTrait,
};

use crate::oauth::client::model::ClientMetadata;
use crate::oauth::client::store as clients;

/// Whether the document at `url` was fetched and may still be used at `now`.
pub async fn is_fresh(db: &impl ConnectionTrait, url: &str, now: i64) -> Result<bool, DbErr> {
    let entry = Entity::find_by_id(url.to_string()).one(db).await?;
    Ok(entry.is_some_and(|d| d.expires_at > now))
}

/// Store the client a document describes and its cache entry, in one
/// transaction; the stored client row.
pub async fn save(
    db: &DatabaseConnection,
    url: &str,
    meta: &ClientMetadata,
    document: String,
    now: i64,
    expires_at: i64,
) -> Result<Model, DbErr> {
    let txn = db.begin().await?;
    clients::upsert_document_client(&txn, url, meta, now).await?;
    upsert_entry(&txn, url, document, now, expires_at).await?;
    let row = clients::find(&txn, url)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("client {url} after upsert")))?;
    txn.commit().await?;
    Ok(row)
}

async fn upsert_entry(
    db: &impl ConnectionTrait,
    url: &str,
    document: String,
    now: i64,
    expires_at: i64,
) -> Result<(), DbErr> {
    Entity::insert(ActiveModel {
        url: Set(url.to_string()),
        fetched_at: Set(now),
        expires_at: Set(expires_at),
        document: Set(document),
    })
    .on_conflict(
        OnConflict::column(Column::Url)
            .update_columns([Column::FetchedAt, Column::ExpiresAt, Column::Document])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}
