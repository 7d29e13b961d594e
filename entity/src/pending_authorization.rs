use sea_orm::entity::prelude::*;

/// An authorization request waiting for the member to sign in or consent
/// (issue 15 item 4). The pages carry only its reference, whose SHA-256 is
/// the key; `params` is the request's query string.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pending_authorizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub ref_hash: String,
    #[sea_orm(column_type = "Text")]
    pub params: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
