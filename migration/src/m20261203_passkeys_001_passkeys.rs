//! Issue 17 item 2 (passkeys, WebAuthn):
//! - `passkeys`: a member's registered credentials: the credential id
//!   (base64url, unique across members: an authenticator answers with it
//!   alone in a discoverable sign-in), the member's name for it, the
//!   serialised webauthn-rs `Passkey` (public key, counter, flags: no
//!   secret), when it was added and last used;
//! - `webauthn_ceremonies`: a ceremony between its two requests (options
//!   sent, answer awaited): the SHA-256 of its random id, what it is for,
//!   the member when known, the serialised challenge state, and its expiry.
//!   In the database so that any instance can finish what another started;
//!   deleted when finished (single use) or expired.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Passkeys {
    Table,
    Id,
    UserId,
    CredentialId,
    Name,
    Passkey,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum WebauthnCeremonies {
    Table,
    IdHash,
    Purpose,
    UserId,
    State,
    CreatedAt,
    ExpiresAt,
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
                    .table(Passkeys::Table)
                    .col(
                        ColumnDef::new(Passkeys::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Passkeys::UserId).string().not_null())
                    .col(ColumnDef::new(Passkeys::CredentialId).string().not_null())
                    .col(ColumnDef::new(Passkeys::Name).string().not_null())
                    .col(ColumnDef::new(Passkeys::Passkey).text().not_null())
                    .col(ColumnDef::new(Passkeys::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Passkeys::LastUsedAt).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_passkeys_credential_id")
                    .table(Passkeys::Table)
                    .col(Passkeys::CredentialId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_passkeys_user")
                    .table(Passkeys::Table)
                    .col(Passkeys::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebauthnCeremonies::Table)
                    .col(
                        ColumnDef::new(WebauthnCeremonies::IdHash)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(WebauthnCeremonies::Purpose)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(WebauthnCeremonies::UserId).string().null())
                    .col(ColumnDef::new(WebauthnCeremonies::State).text().not_null())
                    .col(
                        ColumnDef::new(WebauthnCeremonies::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebauthnCeremonies::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // Housekeeping deletes by expiry; `user reset-mfa` by member.
        manager
            .create_index(
                Index::create()
                    .name("idx_webauthn_ceremonies_expires")
                    .table(WebauthnCeremonies::Table)
                    .col(WebauthnCeremonies::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webauthn_ceremonies_user")
                    .table(WebauthnCeremonies::Table)
                    .col(WebauthnCeremonies::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            WebauthnCeremonies::Table.into_iden(),
            Passkeys::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}
