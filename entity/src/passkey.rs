use sea_orm::entity::prelude::*;

/// A member's passkey (WebAuthn credential). `credential_id` is the
/// credential's id in unpadded base64url, unique across members; `passkey`
/// the serialised webauthn-rs `Passkey` (public key, signature counter,
/// flags: nothing secret).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "passkeys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    #[sea_orm(unique)]
    pub credential_id: String,
    /// The member's name for it ("Laptop", "Phone").
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub passkey: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
