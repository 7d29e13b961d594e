//! Issue 18: `device_authorizations` (RFC 8628), keyed by the SHA-256 of
//! the device code; the user code is unique while its row lives.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DeviceAuthorizations {
    Table,
    DeviceCodeHash,
    UserCode,
    ClientId,
    Scope,
    Offline,
    Resource,
    Status,
    UserId,
    AgencyId,
    GrantedScope,
    IntervalSecs,
    LastPollAt,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use DeviceAuthorizations as D;
        manager
            .create_table(
                Table::create()
                    .table(D::Table)
                    .col(
                        ColumnDef::new(D::DeviceCodeHash)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(D::UserCode).string().not_null().unique_key())
                    .col(ColumnDef::new(D::ClientId).string().not_null())
                    .col(ColumnDef::new(D::Scope).text().not_null())
                    .col(ColumnDef::new(D::Offline).boolean().not_null())
                    .col(ColumnDef::new(D::Resource).text().not_null())
                    .col(ColumnDef::new(D::Status).string().not_null())
                    .col(ColumnDef::new(D::UserId).string().null())
                    .col(ColumnDef::new(D::AgencyId).string().null())
                    .col(ColumnDef::new(D::GrantedScope).text().null())
                    .col(ColumnDef::new(D::IntervalSecs).big_integer().not_null())
                    .col(ColumnDef::new(D::LastPollAt).big_integer().null())
                    .col(ColumnDef::new(D::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(D::ExpiresAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_device_authorizations_expires_at")
                    .table(D::Table)
                    .col(D::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DeviceAuthorizations::Table).to_owned())
            .await
    }
}
