use sea_orm::entity::prelude::*;

/// An ES256 signing key. Keys form a sequence by `generation` (unique): the
/// key that signs is the newest one whose `activates_at` has passed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    /// The JWK `kid`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    #[sea_orm(unique)]
    pub generation: i64,
    /// PKCS#8 PEM, or `jwe:` + a compact JWE (dir, A256GCM) sealed with the
    /// configured key-encryption key.
    pub private_key: String,
    /// Public point coordinates, base64url (JWK `x`, `y`).
    pub public_x: String,
    pub public_y: String,
    pub created_at: i64,
    pub activates_at: i64,
    /// When the key was revoked (compromised): it neither signs nor is
    /// published from then on; its private half is erased.
    pub revoked_at: Option<i64>,
    /// `ES256` (access tokens and id_tokens) or `RS256` (id_tokens of
    /// clients that registered it); an RS256 key keeps `n` in `public_x`
    /// and `e` in `public_y`.
    pub alg: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
