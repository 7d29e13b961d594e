//! Agencies, users and memberships; browser sessions; remembered consent;
//! authorization codes.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Agencies {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    PasswordHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    UserId,
    AgencyId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    IdHash,
    UserId,
    CreatedAt,
    LastSeenAt,
}

#[derive(DeriveIden)]
enum Consents {
    Table,
    UserId,
    ClientId,
    AgencyId,
    Scope,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AuthorizationCodes {
    Table,
    CodeHash,
    ClientId,
    UserId,
    AgencyId,
    RedirectUri,
    RedirectUriGiven,
    CodeChallenge,
    Scope,
    Resource,
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

fn fk(
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Agencies::Table)
                .col(
                    ColumnDef::new(Agencies::Id)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Agencies::Name)
                        .string()
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Agencies::CreatedAt).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(ColumnDef::new(Users::Id).string().not_null().primary_key())
                // Stored lower-cased: unique case-insensitively.
                .col(
                    ColumnDef::new(Users::Email)
                        .string()
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Users::PasswordHash).text().null())
                .col(ColumnDef::new(Users::CreatedAt).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Memberships::Table)
                .col(ColumnDef::new(Memberships::UserId).string().not_null())
                .col(ColumnDef::new(Memberships::AgencyId).string().not_null())
                .col(ColumnDef::new(Memberships::Role).string().not_null())
                .col(
                    ColumnDef::new(Memberships::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(Memberships::UserId)
                        .col(Memberships::AgencyId),
                )
                .foreign_key(&mut fk(
                    (Memberships::Table, Memberships::UserId),
                    (Users::Table, Users::Id),
                ))
                .foreign_key(&mut fk(
                    (Memberships::Table, Memberships::AgencyId),
                    (Agencies::Table, Agencies::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Sessions::Table)
                // SHA-256 of the cookie value; the value itself is never stored.
                .col(
                    ColumnDef::new(Sessions::IdHash)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Sessions::UserId).string().not_null())
                .col(ColumnDef::new(Sessions::CreatedAt).big_integer().not_null())
                .col(
                    ColumnDef::new(Sessions::LastSeenAt)
                        .big_integer()
                        .not_null(),
                )
                .foreign_key(&mut fk(
                    (Sessions::Table, Sessions::UserId),
                    (Users::Table, Users::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Consents::Table)
                .col(ColumnDef::new(Consents::UserId).string().not_null())
                .col(ColumnDef::new(Consents::ClientId).string().not_null())
                .col(ColumnDef::new(Consents::AgencyId).string().not_null())
                .col(ColumnDef::new(Consents::Scope).text().not_null())
                .col(ColumnDef::new(Consents::UpdatedAt).big_integer().not_null())
                .primary_key(
                    Index::create()
                        .col(Consents::UserId)
                        .col(Consents::ClientId)
                        .col(Consents::AgencyId),
                )
                .foreign_key(&mut fk(
                    (Consents::Table, Consents::UserId),
                    (Users::Table, Users::Id),
                ))
                .foreign_key(&mut fk(
                    (Consents::Table, Consents::ClientId),
                    (Clients::Table, Clients::ClientId),
                ))
                .foreign_key(&mut fk(
                    (Consents::Table, Consents::AgencyId),
                    (Agencies::Table, Agencies::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AuthorizationCodes::Table)
                .col(
                    ColumnDef::new(AuthorizationCodes::CodeHash)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(AuthorizationCodes::ClientId)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(AuthorizationCodes::UserId)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(AuthorizationCodes::AgencyId)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(AuthorizationCodes::RedirectUri)
                        .text()
                        .not_null(),
                )
                // Whether the authorization request named the redirect URI
                // (then the token request must repeat it).
                .col(
                    ColumnDef::new(AuthorizationCodes::RedirectUriGiven)
                        .boolean()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(AuthorizationCodes::CodeChallenge)
                        .string()
                        .not_null(),
                )
                .col(ColumnDef::new(AuthorizationCodes::Scope).text().not_null())
                .col(
                    ColumnDef::new(AuthorizationCodes::Resource)
                        .text()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(AuthorizationCodes::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(AuthorizationCodes::ExpiresAt)
                        .big_integer()
                        .not_null(),
                )
                // Set once, by the one redemption that wins; a later use is a replay.
                .col(
                    ColumnDef::new(AuthorizationCodes::UsedAt)
                        .big_integer()
                        .null(),
                )
                // The access token issued for the code, revoked on a replay.
                .col(
                    ColumnDef::new(AuthorizationCodes::AccessJti)
                        .string()
                        .null(),
                )
                .col(
                    ColumnDef::new(AuthorizationCodes::AccessExp)
                        .big_integer()
                        .null(),
                )
                .foreign_key(&mut fk(
                    (AuthorizationCodes::Table, AuthorizationCodes::ClientId),
                    (Clients::Table, Clients::ClientId),
                ))
                .foreign_key(&mut fk(
                    (AuthorizationCodes::Table, AuthorizationCodes::UserId),
                    (Users::Table, Users::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_memberships_agency")
                .table(Memberships::Table)
                .col(Memberships::AgencyId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_sessions_user")
                .table(Sessions::Table)
                .col(Sessions::UserId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_authorization_codes_expires")
                .table(AuthorizationCodes::Table)
                .col(AuthorizationCodes::ExpiresAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            AuthorizationCodes::Table.into_iden(),
            Consents::Table.into_iden(),
            Sessions::Table.into_iden(),
            Memberships::Table.into_iden(),
            Users::Table.into_iden(),
            Agencies::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
