//! API keys: a member's long-lived credentials, stored as SHA-256 only.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    UserId,
    AgencyId,
    Name,
    Prefix,
    SecretHash,
    PreviousSecretHash,
    PreviousValidUntil,
    Scope,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Agencies {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ApiKeys::Table)
                .col(
                    ColumnDef::new(ApiKeys::Id)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(ApiKeys::UserId).string().not_null())
                .col(ColumnDef::new(ApiKeys::AgencyId).string().not_null())
                .col(ColumnDef::new(ApiKeys::Name).string().not_null())
                // `sked_live_` + 8 characters: shown in lists, never enough to use.
                .col(ColumnDef::new(ApiKeys::Prefix).string().not_null())
                .col(
                    ColumnDef::new(ApiKeys::SecretHash)
                        .string()
                        .not_null()
                        .unique_key(),
                )
                // After a rotation, the old secret works until previous_valid_until.
                .col(ColumnDef::new(ApiKeys::PreviousSecretHash).string().null())
                .col(
                    ColumnDef::new(ApiKeys::PreviousValidUntil)
                        .big_integer()
                        .null(),
                )
                .col(ColumnDef::new(ApiKeys::Scope).text().not_null())
                .col(ColumnDef::new(ApiKeys::CreatedAt).big_integer().not_null())
                .col(ColumnDef::new(ApiKeys::ExpiresAt).big_integer().not_null())
                .col(ColumnDef::new(ApiKeys::LastUsedAt).big_integer().null())
                .col(ColumnDef::new(ApiKeys::RevokedAt).big_integer().null())
                .foreign_key(
                    ForeignKey::create()
                        .from(ApiKeys::Table, ApiKeys::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(ApiKeys::Table, ApiKeys::AgencyId)
                        .to(Agencies::Table, Agencies::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_api_keys_previous_secret")
                .table(ApiKeys::Table)
                .col(ApiKeys::PreviousSecretHash)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_api_keys_user_agency")
                .table(ApiKeys::Table)
                .col(ApiKeys::UserId)
                .col(ApiKeys::AgencyId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ApiKeys::Table).to_owned())
            .await
    }
}
