//! `private_key_jwt` client authentication (RFC 7523 §2.2, issue 14 item 1):
//!
//! - `clients` gets `jwks` (the client's inline JWK Set, as JSON text) and
//!   `jwks_uri` (where it publishes one); at most one of them is set.
//! - `client_assertion_jtis`: each client assertion's `jti` once it has been
//!   validated, until the assertion's `exp`, so that an assertion is used
//!   once on every instance sharing the database. The key is a digest of the
//!   client id and the `jti` (both chosen by the client, of any length).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clients {
    Table,
    Jwks,
    JwksUri,
}

#[derive(DeriveIden)]
enum ClientAssertionJtis {
    Table,
    Key,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for col in [Clients::Jwks, Clients::JwksUri] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Clients::Table)
                        .add_column(ColumnDef::new(col).text().null())
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ClientAssertionJtis::Table)
                    .col(
                        ColumnDef::new(ClientAssertionJtis::Key)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    // The assertion's `exp`: the row is useless (and pruned) after it.
                    .col(
                        ColumnDef::new(ClientAssertionJtis::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_client_assertion_jtis_expires_at")
                    .table(ClientAssertionJtis::Table)
                    .col(ClientAssertionJtis::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ClientAssertionJtis::Table).to_owned())
            .await?;
        for col in [Clients::JwksUri, Clients::Jwks] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Clients::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
