//! Issue 17 items 1 and 3 (TOTP second factor, agency MFA policy):
//! - `user_totp`: one TOTP secret per member (sealed like signing keys),
//!   unconfirmed until a first code proves the app has it, and the last
//!   time step used (each code is accepted once);
//! - `recovery_codes`: SHA-256 of each single-use recovery code;
//! - `mfa_challenges`: the half-signed-in state between the password and
//!   the second factor (not a session: it can do nothing else);
//! - how the member signed in (`amr`, space-separated RFC 8176 values) with
//!   each session, code and refresh family (like `auth_time`);
//! - `agencies.require_mfa`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UserTotp {
    Table,
    UserId,
    Secret,
    CreatedAt,
    ConfirmedAt,
    LastUsedStep,
}

#[derive(DeriveIden)]
enum RecoveryCodes {
    Table,
    CodeHash,
    UserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MfaChallenges {
    Table,
    IdHash,
    UserId,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Amr,
}

#[derive(DeriveIden)]
enum AuthorizationCodes {
    Table,
    Amr,
}

#[derive(DeriveIden)]
enum RefreshFamilies {
    Table,
    Amr,
}

#[derive(DeriveIden)]
enum Agencies {
    Table,
    RequireMfa,
}

/// One ALTER per column: SQLite adds one column per statement.
async fn add(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    col: ColumnDef,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).add_column(col).to_owned())
        .await
}

async fn drop_col(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    col: impl IntoIden,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).drop_column(col).to_owned())
        .await
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
                    .table(UserTotp::Table)
                    .col(
                        ColumnDef::new(UserTotp::UserId)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(UserTotp::Secret).text().not_null())
                    .col(ColumnDef::new(UserTotp::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(UserTotp::ConfirmedAt).big_integer().null())
                    .col(ColumnDef::new(UserTotp::LastUsedStep).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecoveryCodes::Table)
                    .col(
                        ColumnDef::new(RecoveryCodes::CodeHash)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(RecoveryCodes::UserId).string().not_null())
                    .col(
                        ColumnDef::new(RecoveryCodes::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_recovery_codes_user")
                    .table(RecoveryCodes::Table)
                    .col(RecoveryCodes::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MfaChallenges::Table)
                    .col(
                        ColumnDef::new(MfaChallenges::IdHash)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(MfaChallenges::UserId).string().not_null())
                    .col(
                        ColumnDef::new(MfaChallenges::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MfaChallenges::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_mfa_challenges_expires")
                    .table(MfaChallenges::Table)
                    .col(MfaChallenges::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        add(
            manager,
            Sessions::Table,
            ColumnDef::new(Sessions::Amr)
                .string()
                .not_null()
                .default("pwd")
                .to_owned(),
        )
        .await?;
        add(
            manager,
            AuthorizationCodes::Table,
            ColumnDef::new(AuthorizationCodes::Amr)
                .string()
                .null()
                .to_owned(),
        )
        .await?;
        add(
            manager,
            RefreshFamilies::Table,
            ColumnDef::new(RefreshFamilies::Amr)
                .string()
                .null()
                .to_owned(),
        )
        .await?;
        add(
            manager,
            Agencies::Table,
            ColumnDef::new(Agencies::RequireMfa)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_col(manager, Agencies::Table, Agencies::RequireMfa).await?;
        drop_col(manager, RefreshFamilies::Table, RefreshFamilies::Amr).await?;
        drop_col(manager, AuthorizationCodes::Table, AuthorizationCodes::Amr).await?;
        drop_col(manager, Sessions::Table, Sessions::Amr).await?;
        for t in [
            MfaChallenges::Table.into_iden(),
            RecoveryCodes::Table.into_iden(),
            UserTotp::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}
