//! The `client_metadata_documents` table: until when the stored metadata of
//! a document client may be used without fetching again. The metadata
//! itself is the `clients` row of the same id ([`crate::oauth::client::store`]);
//! both are written in one transaction, once a member authorizes the
//! client. In the database, so every instance shares one cache. Expired
//! entries, and document clients no grant references, are pruned.

use entity::client::Model;
use entity::client_metadata_document::{ActiveModel, Column, Entity};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, TransactionTrait,
};

use crate::oauth::client::model::{ClientKind, ClientMetadata};
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

/// Housekeeping at `now`: delete stored document clients that no consent,
/// authorization code or refresh family references any more and whose
/// document expired over `grace_secs` ago (or was already deleted), then
/// the document entries that expired over `grace_secs` ago; their clients
/// fetch again at the next use. `grace_secs` is the access-token lifetime:
/// every token is issued while its client's entry is fresh (an expired one
/// is fetched again first), so no token of a deleted client is still live.
/// Returns how many clients and entries were deleted.
pub async fn prune(
    db: &impl ConnectionTrait,
    now: i64,
    grace_secs: u64,
) -> Result<(u64, u64), DbErr> {
    use entity::client::{Column as C, Entity as Clients};
    use entity::{authorization_code, consent, refresh_family};
    use sea_orm::sea_query::{
        DynIden, Expr, ExprTrait, IntoCondition, IntoIden, Query, SelectStatement,
    };
    use sea_orm::{ColumnTrait, Condition};

    let cutoff = now - grace_secs as i64;
    // NOT EXISTS per client (each served by an index on the other table's
    // client column) rather than NOT IN a whole column.
    let names_it = |table: SelectStatement| Expr::exists(table).not();
    let rows_of = |table: DynIden, col: DynIden| {
        Query::select()
            .expr(Expr::val(1))
            .from(table.clone())
            .and_where(Expr::col((table, col)).equals((Clients, C::ClientId)))
            .to_owned()
    };
    let unused = Condition::all()
        .add(C::Kind.eq(ClientKind::MetadataDocument))
        .add(C::UpdatedAt.lt(cutoff))
        .add(names_it(rows_of(
            consent::Entity.into_iden(),
            consent::Column::ClientId.into_iden(),
        )))
        .add(names_it(rows_of(
            authorization_code::Entity.into_iden(),
            authorization_code::Column::ClientId.into_iden(),
        )))
        .add(names_it(rows_of(
            refresh_family::Entity.into_iden(),
            refresh_family::Column::ClientId.into_iden(),
        )))
        // Its document expired long enough ago, or is gone.
        .add(names_it({
            let mut q = rows_of(Entity.into_iden(), Column::Url.into_iden());
            q.and_where(Column::ExpiresAt.gte(cutoff));
            q
        }));
    let clients = crate::db::delete_in_batches::<Clients>(db, C::ClientId, unused).await?;
    let entries = crate::db::delete_in_batches::<Entity>(
        db,
        Column::Url,
        Column::ExpiresAt.lt(cutoff).into_condition(),
    )
    .await?;
    Ok((clients, entries))
}
