//! Issue 16 (OpenID Connect): `users.name` (an optional display name, the
//! `name` claim); the authorization request's `nonce` and the sign-in time
//! (`auth_time`) with each code, and `auth_time` with each refresh family
//! (id_tokens issued on refresh repeat it); the client's
//! `id_token_signed_response_alg` and `post_logout_redirect_uris`; and the
//! signing key's `alg` (ES256 keys, plus RS256 keys for id_tokens: an RSA
//! key keeps its modulus `n` in `public_x` and exponent `e` in `public_y`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Name,
}

#[derive(DeriveIden)]
enum AuthorizationCodes {
    Table,
    Nonce,
    AuthTime,
}

#[derive(DeriveIden)]
enum RefreshFamilies {
    Table,
    AuthTime,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    IdTokenSignedResponseAlg,
    PostLogoutRedirectUris,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Alg,
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
        add(
            manager,
            Users::Table,
            ColumnDef::new(Users::Name).text().null().to_owned(),
        )
        .await?;
        add(
            manager,
            AuthorizationCodes::Table,
            ColumnDef::new(AuthorizationCodes::Nonce)
                .text()
                .null()
                .to_owned(),
        )
        .await?;
        add(
            manager,
            AuthorizationCodes::Table,
            ColumnDef::new(AuthorizationCodes::AuthTime)
                .big_integer()
                .null()
                .to_owned(),
        )
        .await?;
        add(
            manager,
            RefreshFamilies::Table,
            ColumnDef::new(RefreshFamilies::AuthTime)
                .big_integer()
                .null()
                .to_owned(),
        )
        .await?;
        add(
            manager,
            Clients::Table,
            ColumnDef::new(Clients::IdTokenSignedResponseAlg)
                .string()
                .null()
                .to_owned(),
        )
        .await?;
        add(
            manager,
            Clients::Table,
            ColumnDef::new(Clients::PostLogoutRedirectUris)
                .text()
                .not_null()
                .default("[]")
                .to_owned(),
        )
        .await?;
        add(
            manager,
            SigningKeys::Table,
            ColumnDef::new(SigningKeys::Alg)
                .string()
                .not_null()
                .default("ES256")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Before, every key was ES256: RSA keys cannot stay.
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM signing_keys WHERE alg <> 'ES256'")
            .await?;
        drop_col(manager, SigningKeys::Table, SigningKeys::Alg).await?;
        drop_col(manager, Clients::Table, Clients::PostLogoutRedirectUris).await?;
        drop_col(manager, Clients::Table, Clients::IdTokenSignedResponseAlg).await?;
        drop_col(manager, RefreshFamilies::Table, RefreshFamilies::AuthTime).await?;
        drop_col(
            manager,
            AuthorizationCodes::Table,
            AuthorizationCodes::AuthTime,
        )
        .await?;
        drop_col(
            manager,
            AuthorizationCodes::Table,
            AuthorizationCodes::Nonce,
        )
        .await?;
        drop_col(manager, Users::Table, Users::Name).await
    }
}
