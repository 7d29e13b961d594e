//! Client ID Metadata Documents and `application_type`.
//!
//! - `client_metadata_documents`: one row per document URL (the client id),
//!   with when it was fetched, until when it may be used without fetching it
//!   again (from its Cache-Control, bounded), and the document as fetched.
//!   Shared by every instance on the database. The validated metadata itself
//!   lives in the `clients` row of kind `cimd` with the same id, so codes,
//!   consents and refresh families reference it like any other client; the
//!   document row goes when that client row goes.
//! - `clients.application_type`: `web` or `native` (OpenID Connect Dynamic
//!   Registration §2) when the client sent one; NULL otherwise.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ClientMetadataDocuments {
    Table,
    Url,
    FetchedAt,
    ExpiresAt,
    Document,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    ClientId,
    ApplicationType,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Clients::Table)
                .add_column(ColumnDef::new(Clients::ApplicationType).string().null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ClientMetadataDocuments::Table)
                .col(
                    ColumnDef::new(ClientMetadataDocuments::Url)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(ClientMetadataDocuments::FetchedAt)
                        .big_integer()
                        .not_null(),
                )
                // After this the document is fetched again before use.
                .col(
                    ColumnDef::new(ClientMetadataDocuments::ExpiresAt)
                        .big_integer()
                        .not_null(),
                )
                // The JSON as fetched (at most 64 KiB), for audit.
                .col(
                    ColumnDef::new(ClientMetadataDocuments::Document)
                        .text()
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(ClientMetadataDocuments::Table, ClientMetadataDocuments::Url)
                        .to(Clients::Table, Clients::ClientId)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(ClientMetadataDocuments::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Clients::Table)
                .drop_column(Clients::ApplicationType)
                .to_owned(),
        )
        .await
    }
}
