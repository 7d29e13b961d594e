use sea_orm::entity::prelude::*;

/// The one key (`id` 1) every instance derives `DPoP-Nonce` values from
/// (RFC 9449 §8): base64url of 32 random bytes, made by the first instance
/// that needs it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dpop_nonce_secrets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub secret: String,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
