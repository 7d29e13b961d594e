//! Reading the row a unique key selects without sea-orm's `LIMIT ?`.
//!
//! `.one()` appends `LIMIT ?` and binds 1. SQLite (3.46 and later; the
//! bundled one is 3.51) plans a LIMIT with its bound value and so marks the
//! parameter: binding it again expires the cached statement, which is then
//! re-prepared on every execution (`sqlite3ExprIsInteger` →
//! `sqlite3VdbeSetVarmask`). That was ~20% of a refresh rotation's CPU. A
//! primary or unique key selects at most one row, so no LIMIT is needed:
//! `.all()` and the first row read the same row, with a statement SQLite
//! prepares once per connection. Postgres is indifferent.

use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Select};

/// The row `select` (a filter on a primary or unique key) finds, if any.
pub async fn by_key<E: EntityTrait>(
    select: Select<E>,
    db: &impl ConnectionTrait,
) -> Result<Option<E::Model>, DbErr> {
    Ok(select.all(db).await?.into_iter().next())
}
