use sea_orm::entity::prelude::*;

/// One refresh token of a family, stored as its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    pub family_id: String,
    #[sea_orm(column_type = "Text")]
    pub scope: String,
    pub created_at: i64,
    /// Idle expiry.
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub access_jti: Option<String>,
    pub access_exp: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
