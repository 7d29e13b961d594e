use sea_orm::entity::prelude::*;

/// A fetched Client ID Metadata Document: `url` is the client id (and the
/// `clients` row of kind "cimd" holding the validated metadata); it is used
/// without fetching again until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "client_metadata_documents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub url: String,
    pub fetched_at: i64,
    pub expires_at: i64,
    #[sea_orm(column_type = "Text")]
    pub document: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
