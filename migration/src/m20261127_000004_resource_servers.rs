//! Resource servers and access-token revocation.
//!
//! - `clients.resource`: the RFC 8707 resource identifier (the `aud` of
//!   tokens) of a client of kind `resource_server`, created with
//!   `skedcast-auth resource-server create`; NULL for other clients.
//! - `revoked_access_tokens`: the `jti` of each access token revoked over
//!   RFC 7009, kept until the token would have expired, so that
//!   introspection reports it inactive.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clients {
    Table,
    Resource,
}

#[derive(DeriveIden)]
enum RevokedAccessTokens {
    Table,
    Jti,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // SQLite has transactional DDL too: a migration applies whole or not at all.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .add_column(ColumnDef::new(Clients::Resource).text().null())
                    .to_owned(),
            )
            .await?;
        // Known resources are looked up by value at the token endpoint.
        manager
            .create_index(
                Index::create()
                    .name("idx_clients_resource")
                    .table(Clients::Table)
                    .col(Clients::Resource)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RevokedAccessTokens::Table)
                    .col(
                        ColumnDef::new(RevokedAccessTokens::Jti)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    // The token's `exp`: the row is useless (and pruned) after it.
                    .col(
                        ColumnDef::new(RevokedAccessTokens::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_revoked_access_tokens_expires_at")
                    .table(RevokedAccessTokens::Table)
                    .col(RevokedAccessTokens::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RevokedAccessTokens::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_clients_resource")
                    .table(Clients::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .drop_column(Clients::Resource)
                    .to_owned(),
            )
            .await
    }
}
