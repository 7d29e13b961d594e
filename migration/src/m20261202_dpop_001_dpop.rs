//! DPoP (RFC 9449, issue 15 items 1-2):
//!
//! - `dpop_proof_jtis`: the `jti` of each accepted DPoP proof until its
//!   acceptance window ends, so that a proof is used once on every instance
//!   sharing the database (the primary key decides). The key is a digest of
//!   the proof key's thumbprint and the `jti` (both chosen by the client).
//! - `dpop_nonce_secrets`: one row, the key every instance derives the
//!   rotating `DPoP-Nonce` values from.
//! - `authorization_codes.dpop_jkt` (the `dpop_jkt` of the authorization
//!   request), `refresh_families.dpop_jkt` (the key a public client's
//!   refresh tokens are bound to), `clients.dpop_bound_access_tokens`
//!   (RFC 9449 §5.2), false for every existing client.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DpopProofJtis {
    Table,
    Key,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum DpopNonceSecrets {
    Table,
    Id,
    Secret,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuthorizationCodes {
    Table,
    DpopJkt,
}

#[derive(DeriveIden)]
enum RefreshFamilies {
    Table,
    DpopJkt,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    DpopBoundAccessTokens,
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
                    .table(DpopProofJtis::Table)
                    .col(
                        ColumnDef::new(DpopProofJtis::Key)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(DpopProofJtis::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_dpop_proof_jtis_expires_at")
                    .table(DpopProofJtis::Table)
                    .col(DpopProofJtis::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DpopNonceSecrets::Table)
                    .col(
                        ColumnDef::new(DpopNonceSecrets::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(DpopNonceSecrets::Secret).string().not_null())
                    .col(
                        ColumnDef::new(DpopNonceSecrets::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuthorizationCodes::Table)
                    .add_column(ColumnDef::new(AuthorizationCodes::DpopJkt).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(RefreshFamilies::Table)
                    .add_column(ColumnDef::new(RefreshFamilies::DpopJkt).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .add_column(
                        ColumnDef::new(Clients::DpopBoundAccessTokens)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .drop_column(Clients::DpopBoundAccessTokens)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(RefreshFamilies::Table)
                    .drop_column(RefreshFamilies::DpopJkt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuthorizationCodes::Table)
                    .drop_column(AuthorizationCodes::DpopJkt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(DpopNonceSecrets::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(DpopProofJtis::Table).to_owned())
            .await
    }
}
