//! Device grants say how and when the member who approved signed in: the
//! approving session's start (`auth_time`) and its RFC 8176 methods (`amr`),
//! as an authorization code keeps them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DeviceAuthorizations {
    Table,
    AuthTime,
    Amr,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One ALTER per column: SQLite adds one column per statement.
        for col in [
            ColumnDef::new(DeviceAuthorizations::AuthTime)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(DeviceAuthorizations::Amr)
                .text()
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(DeviceAuthorizations::Table)
                        .add_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [DeviceAuthorizations::Amr, DeviceAuthorizations::AuthTime] {
            manager
                .alter_table(
                    Table::alter()
                        .table(DeviceAuthorizations::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
