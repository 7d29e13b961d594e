//! Issue 15 item 4: `pending_authorizations`, the authorization requests
//! waiting for sign-in or consent, by the SHA-256 of the short reference the
//! pages carry. `params` is text: a `state` may be up to 64 kB.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PendingAuthorizations {
    Table,
    RefHash,
    Params,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PendingAuthorizations::Table)
                    .col(
                        ColumnDef::new(PendingAuthorizations::RefHash)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(PendingAuthorizations::Params)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PendingAuthorizations::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PendingAuthorizations::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_pending_authorizations_expires_at")
                    .table(PendingAuthorizations::Table)
                    .col(PendingAuthorizations::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PendingAuthorizations::Table).to_owned())
            .await
    }
}
