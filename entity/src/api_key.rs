use sea_orm::entity::prelude::*;

/// A member's API key for one agency. Only SHA-256 hashes of secrets are stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub agency_id: String,
    pub name: String,
    pub prefix: String,
    #[sea_orm(unique)]
    pub secret_hash: String,
    pub previous_secret_hash: Option<String>,
    pub previous_valid_until: Option<i64>,
    /// Space-separated scopes granted at creation (capped by the role at use).
    #[sea_orm(column_type = "Text")]
    pub scope: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
