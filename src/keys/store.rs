//! Signing keys in the database: the first key, rotation, pruning.

use entity::signing_key::{self, Column, Entity};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::{material, schedule, seal};

pub async fn load_all(db: &DatabaseConnection) -> Result<Vec<signing_key::Model>, DbErr> {
    Entity::find()
        .order_by_asc(Column::Generation)
        .all(db)
        .await
}

/// Insert `generation` unless that generation already exists. Returns whether
/// this call created it: of several racing instances exactly one wins,
/// thanks to the unique index on `generation`.
async fn insert_generation(
    db: &DatabaseConnection,
    generation: i64,
    activates_at: i64,
    kek: Option<&[u8; 32]>,
) -> anyhow::Result<Option<String>> {
    let key = material::generate()?;
    let model = signing_key::ActiveModel {
        kid: Set(key.kid.clone()),
        generation: Set(generation),
        private_key: Set(seal::seal(&key.private_pem, kek)?),
        public_x: Set(key.x),
        public_y: Set(key.y),
        created_at: Set(crate::clock::now()),
        activates_at: Set(activates_at),
    };
    let inserted = Entity::insert(model)
        .on_conflict(
            OnConflict::column(Column::Generation)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok((inserted == 1).then_some(key.kid))
}

/// At start: create the first key when there is none.
pub async fn ensure_first_key(
    db: &DatabaseConnection,
    kek: Option<&[u8; 32]>,
) -> anyhow::Result<()> {
    let any = Entity::find()
        .select_only()
        .column(Column::Kid)
        .into_tuple::<String>()
        .one(db)
        .await?;
    if any.is_none()
        && let Some(kid) = insert_generation(db, 1, crate::clock::now(), kek).await?
    {
        tracing::info!(%kid, "created the first signing key");
    }
    Ok(())
}

/// The outcome of a rotation, for the CLI to print.
pub struct Rotated {
    pub kid: String,
    pub activates_at: i64,
}

/// Publish a new key now; it signs from `now + delay_secs`. Also drops keys
/// that no longer belong in the JWKS (their private halves are not needed).
pub async fn rotate(
    db: &DatabaseConnection,
    delay_secs: u64,
    retention_secs: i64,
    kek: Option<&[u8; 32]>,
) -> anyhow::Result<Rotated> {
    let activates_at = crate::clock::now().saturating_add(delay_secs as i64);
    for _ in 0..5 {
        let max: Option<i64> = Entity::find()
            .select_only()
            .column_as(Column::Generation.max(), "max")
            .into_tuple::<Option<i64>>()
            .one(db)
            .await?
            .flatten();
        if let Some(kid) = insert_generation(db, max.unwrap_or(0) + 1, activates_at, kek).await? {
            prune(db, retention_secs).await?;
            return Ok(Rotated { kid, activates_at });
        }
        // Another rotation took this generation at the same moment: retry.
    }
    anyhow::bail!("signing key rotation kept colliding with concurrent rotations; try again")
}

impl schedule::Scheduled for signing_key::Model {
    fn generation(&self) -> i64 {
        self.generation
    }
    fn activates_at(&self) -> i64 {
        self.activates_at
    }
}

/// Delete keys that are neither signing nor published any more.
async fn prune(db: &DatabaseConnection, retention_secs: i64) -> Result<(), DbErr> {
    let keys = load_all(db).await?;
    let t = crate::clock::now();
    let active = schedule::active_index(&keys, t);
    let gone: Vec<String> = keys
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            Some(*i) != active && !schedule::is_published(&keys, *i, t, retention_secs)
        })
        .map(|(_, k)| k.kid.clone())
        .collect();
    if !gone.is_empty() {
        Entity::delete_many()
            .filter(Column::Kid.is_in(gone.clone()))
            .exec(db)
            .await?;
        tracing::info!(count = gone.len(), "pruned retired signing keys");
    }
    Ok(())
}
