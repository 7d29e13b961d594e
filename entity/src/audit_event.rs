use sea_orm::entity::prelude::*;

/// One audit trail entry (`crate::audit` in the server writes them). Never
/// holds a secret: actors, agencies and targets are ids, emails only of
/// known users.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub ts: i64,
    pub event: String,
    pub actor: Option<String>,
    pub agency_id: Option<String>,
    pub ip: Option<String>,
    pub target: Option<String>,
    pub outcome: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
