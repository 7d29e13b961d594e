use sea_orm::entity::prelude::*;

/// A validated `private_key_jwt` client assertion (RFC 7523 §2.2), by a
/// digest of its client id and `jti`, kept until the assertion's `exp` so
/// that it is used once across every instance, and pruned after it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "client_assertion_jtis")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
