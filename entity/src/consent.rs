use sea_orm::entity::prelude::*;

/// Remembered consent of a user for a client acting in one agency, for one
/// resource (RFC 8707: the audience of the tokens).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub agency_id: String,
    /// The resource identifier as configured (the empty string only until
    /// the first start after the migration that added it).
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub resource: String,
    /// Space-separated granted scopes.
    #[sea_orm(column_type = "Text")]
    pub scope: String,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
