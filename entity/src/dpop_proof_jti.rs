use sea_orm::entity::prelude::*;

/// An accepted DPoP proof (RFC 9449 §11.1), by a digest of its key's
/// thumbprint and `jti`, kept until its acceptance window ends so that it
/// is used once across every instance, and pruned after it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dpop_proof_jtis")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
