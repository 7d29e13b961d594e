//! Issue 17 item 4 (the member's signed-in browsers and connected apps):
//! - `sessions.public_id`: a random handle naming a session in the
//!   per-session "sign out" form (never the cookie value nor its hash);
//!   rows from before get one here, so every session can be listed;
//! - `sessions.user_agent` (a short summary such as "Firefox on Linux",
//!   not the raw header) and `sessions.ip`, both as at sign-in;
//! - `refresh_families (user_id)`: the connected-apps page lists a
//!   member's families.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Sessions {
    Table,
    PublicId,
    UserAgent,
    Ip,
}

#[derive(DeriveIden)]
enum RefreshFamilies {
    Table,
    UserId,
}

const PUBLIC_ID_INDEX: &str = "idx_sessions_public_id";
const FAMILIES_USER_INDEX: &str = "idx_refresh_families_user";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One ALTER per column: SQLite adds one column per statement. The
        // default only lets SQLite add a NOT NULL column to existing rows.
        for col in [
            ColumnDef::new(Sessions::PublicId)
                .string()
                .not_null()
                .default("")
                .to_owned(),
            ColumnDef::new(Sessions::UserAgent)
                .string()
                .null()
                .to_owned(),
            ColumnDef::new(Sessions::Ip).string().null().to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .add_column(col)
                        .to_owned(),
                )
                .await?;
        }
        // Existing sessions get a random handle (each database's own
        // generator: the handle is no credential, only unique).
        let backfill = match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                "UPDATE sessions SET public_id = replace(gen_random_uuid()::text, '-', '') \
                 || replace(gen_random_uuid()::text, '-', '') WHERE public_id = ''"
            }
            _ => "UPDATE sessions SET public_id = lower(hex(randomblob(32))) WHERE public_id = ''",
        };
        manager
            .get_connection()
            .execute_unprepared(backfill)
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(PUBLIC_ID_INDEX)
                    .table(Sessions::Table)
                    .col(Sessions::PublicId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(FAMILIES_USER_INDEX)
                    .table(RefreshFamilies::Table)
                    .col(RefreshFamilies::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(FAMILIES_USER_INDEX)
                    .table(RefreshFamilies::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(PUBLIC_ID_INDEX)
                    .table(Sessions::Table)
                    .to_owned(),
            )
            .await?;
        for col in [Sessions::Ip, Sessions::UserAgent, Sessions::PublicId] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
