//! OAuth clients (dynamic registration now, resource servers later) and the
//! fixed-window counters of per-IP rate limits, shared by all instances.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clients {
    Table,
    ClientId,
    Kind,
    ClientSecretHash,
    RegistrationTokenHash,
    TokenEndpointAuthMethod,
    GrantTypes,
    ResponseTypes,
    RedirectUris,
    Contacts,
    Scope,
    ClientName,
    ClientUri,
    LogoUri,
    TosUri,
    PolicyUri,
    SoftwareId,
    SoftwareVersion,
    CreatedAt,
    UpdatedAt,
    FirstAuthorizedAt,
}

#[derive(DeriveIden)]
enum RateLimits {
    Table,
    Bucket,
    WindowStart,
    Hits,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // SQLite has transactional DDL too: a migration applies whole or not at all.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Clients::Table)
                    .col(
                        ColumnDef::new(Clients::ClientId)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    // "dynamic" (RFC 7591) or "resource_server" (CLI).
                    .col(ColumnDef::new(Clients::Kind).string().not_null())
                    // SHA-256 hex; NULL for public clients.
                    .col(ColumnDef::new(Clients::ClientSecretHash).string().null())
                    // SHA-256 hex; NULL when the client cannot be managed over RFC 7592.
                    .col(
                        ColumnDef::new(Clients::RegistrationTokenHash)
                            .string()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Clients::TokenEndpointAuthMethod)
                            .string()
                            .not_null(),
                    )
                    // JSON arrays of strings, as text: the same on SQLite and Postgres.
                    .col(ColumnDef::new(Clients::GrantTypes).text().not_null())
                    .col(ColumnDef::new(Clients::ResponseTypes).text().not_null())
                    .col(ColumnDef::new(Clients::RedirectUris).text().not_null())
                    .col(ColumnDef::new(Clients::Contacts).text().not_null())
                    .col(ColumnDef::new(Clients::Scope).text().null())
                    .col(ColumnDef::new(Clients::ClientName).text().null())
                    .col(ColumnDef::new(Clients::ClientUri).text().null())
                    .col(ColumnDef::new(Clients::LogoUri).text().null())
                    .col(ColumnDef::new(Clients::TosUri).text().null())
                    .col(ColumnDef::new(Clients::PolicyUri).text().null())
                    .col(ColumnDef::new(Clients::SoftwareId).text().null())
                    .col(ColumnDef::new(Clients::SoftwareVersion).text().null())
                    .col(ColumnDef::new(Clients::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Clients::UpdatedAt).big_integer().not_null())
                    // Set by the first completed authorization; the cleanup of
                    // never-used public clients looks for NULL.
                    .col(
                        ColumnDef::new(Clients::FirstAuthorizedAt)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_clients_created_at")
                    .table(Clients::Table)
                    .col(Clients::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RateLimits::Table)
                    .col(ColumnDef::new(RateLimits::Bucket).string().not_null())
                    .col(
                        ColumnDef::new(RateLimits::WindowStart)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(RateLimits::Hits).big_integer().not_null())
                    // The upsert-increment conflicts on this key.
                    .primary_key(
                        Index::create()
                            .col(RateLimits::Bucket)
                            .col(RateLimits::WindowStart),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_rate_limits_window_start")
                    .table(RateLimits::Table)
                    .col(RateLimits::WindowStart)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RateLimits::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Clients::Table).to_owned())
            .await
    }
}
