use sea_orm::entity::prelude::*;

/// An OAuth client. `kind` is "dynamic" (registered over RFC 7591),
/// "resource_server" (created by the CLI) or "cimd" (a Client ID Metadata
/// Document: `client_id` is its URL). Secrets are SHA-256 hex only.
/// List fields hold JSON arrays of strings as text.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    pub kind: String,
    pub client_secret_hash: Option<String>,
    pub registration_token_hash: Option<String>,
    pub token_endpoint_auth_method: String,
    #[sea_orm(column_type = "Text")]
    pub grant_types: String,
    #[sea_orm(column_type = "Text")]
    pub response_types: String,
    #[sea_orm(column_type = "Text")]
    pub redirect_uris: String,
    #[sea_orm(column_type = "Text")]
    pub contacts: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub scope: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub client_name: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub client_uri: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub logo_uri: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub tos_uri: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub policy_uri: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub software_id: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub software_version: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub first_authorized_at: Option<i64>,
    /// RFC 8707 resource identifier of a `resource_server` client; NULL otherwise.
    #[sea_orm(column_type = "Text", nullable)]
    pub resource: Option<String>,
    /// `web` or `native` when the client sent `application_type`; NULL otherwise.
    pub application_type: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
