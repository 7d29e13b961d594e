//! Key changes that reach every instance at once (issue 14, item 6).
//!
//! - `signing_keys.revoked_at`: a revoked (compromised) key is kept as a
//!   record, out of the JWKS and never used to sign or verify again.
//! - `key_changes`: one row whose `version` every key change bumps. SQLite
//!   instances poll it (a one-row read every 500 ms) to learn of changes
//!   made by other processes; Postgres instances are told by NOTIFY and use
//!   it only to catch up after (re)connecting their listener.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    RevokedAt,
}

#[derive(DeriveIden)]
enum KeyChanges {
    Table,
    Id,
    Version,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(SigningKeys::Table)
                .add_column(ColumnDef::new(SigningKeys::RevokedAt).big_integer().null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(KeyChanges::Table)
                .col(
                    ColumnDef::new(KeyChanges::Id)
                        .integer()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(KeyChanges::Version).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::insert()
                .into_table(KeyChanges::Table)
                .columns([KeyChanges::Id, KeyChanges::Version])
                .values_panic([1.into(), 0i64.into()])
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(KeyChanges::Table).to_owned())
            .await?;
        // Revoked keys must not come back to life without their mark.
        m.exec_stmt(
            Query::delete()
                .from_table(SigningKeys::Table)
                .and_where(Expr::col(SigningKeys::RevokedAt).is_not_null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(SigningKeys::Table)
                .drop_column(SigningKeys::RevokedAt)
                .to_owned(),
        )
        .await
    }
}
