//! Refresh tokens: rotated on every use, grouped in families that are
//! revoked whole when a used token comes back (RFC 9700 §4.14.2).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RefreshFamilies {
    Table,
    Id,
    ClientId,
    UserId,
    AgencyId,
    Resource,
    CodeHash,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    TokenHash,
    FamilyId,
    Scope,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    AccessJti,
    AccessExp,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    ClientId,
}

#[derive(DeriveIden)]
enum Users {
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
                .table(RefreshFamilies::Table)
                .col(
                    ColumnDef::new(RefreshFamilies::Id)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(RefreshFamilies::ClientId)
                        .string()
                        .not_null(),
                )
                .col(ColumnDef::new(RefreshFamilies::UserId).string().not_null())
                .col(
                    ColumnDef::new(RefreshFamilies::AgencyId)
                        .string()
                        .not_null(),
                )
                .col(ColumnDef::new(RefreshFamilies::Resource).text().not_null())
                // The code the family came from: a replay of it revokes the family.
                .col(
                    ColumnDef::new(RefreshFamilies::CodeHash)
                        .string()
                        .not_null()
                        .unique_key(),
                )
                .col(
                    ColumnDef::new(RefreshFamilies::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                // Absolute lifetime of every token of the family.
                .col(
                    ColumnDef::new(RefreshFamilies::ExpiresAt)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(RefreshFamilies::RevokedAt)
                        .big_integer()
                        .null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(RefreshFamilies::Table, RefreshFamilies::ClientId)
                        .to(Clients::Table, Clients::ClientId)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(RefreshFamilies::Table, RefreshFamilies::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RefreshTokens::Table)
                .col(
                    ColumnDef::new(RefreshTokens::TokenHash)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(RefreshTokens::FamilyId).string().not_null())
                // The grant's scope (RFC 6749 §6: the same for every rotation).
                .col(ColumnDef::new(RefreshTokens::Scope).text().not_null())
                .col(
                    ColumnDef::new(RefreshTokens::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                // Idle lifetime: a token not used by then is dead.
                .col(
                    ColumnDef::new(RefreshTokens::ExpiresAt)
                        .big_integer()
                        .not_null(),
                )
                // Set once, by the one rotation that wins; a later use is reuse.
                .col(ColumnDef::new(RefreshTokens::UsedAt).big_integer().null())
                // The access token issued with this refresh token.
                .col(ColumnDef::new(RefreshTokens::AccessJti).string().null())
                .col(
                    ColumnDef::new(RefreshTokens::AccessExp)
                        .big_integer()
                        .null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(RefreshTokens::Table, RefreshTokens::FamilyId)
                        .to(RefreshFamilies::Table, RefreshFamilies::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_refresh_tokens_family")
                .table(RefreshTokens::Table)
                .col(RefreshTokens::FamilyId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(RefreshTokens::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(RefreshFamilies::Table).to_owned())
            .await
    }
}
