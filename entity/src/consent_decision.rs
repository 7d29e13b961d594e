use sea_orm::entity::prelude::*;

/// A client a member allowed or denied on the consent page: from then on
/// its authorization errors are redirected automatically (RFC 9700 §4.17).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consent_decisions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    /// The first decision.
    pub decided_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
