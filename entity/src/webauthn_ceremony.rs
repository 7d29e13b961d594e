use sea_orm::entity::prelude::*;

/// A WebAuthn ceremony between its options and the authenticator's answer.
/// The id handed to the browser is random 256 bits; only its SHA-256 is
/// stored. Used once (deleted when finished), or pruned when expired.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webauthn_ceremonies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id_hash: String,
    /// `register`, `sign_in` (a passkey alone) or `second_factor`.
    pub purpose: String,
    /// The member, for a registration or a second step; None for a
    /// discoverable sign-in (the authenticator names the member).
    pub user_id: Option<String>,
    /// The serialised webauthn-rs ceremony state (the challenge).
    #[sea_orm(column_type = "Text")]
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
