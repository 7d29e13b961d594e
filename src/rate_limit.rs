//! Fixed-window rate limits whose counters live in the database, so that
//! every instance sharing it enforces one limit.
//!
//! A request adds one to the row (bucket, window start) with a single
//! upsert-increment (`INSERT .. ON CONFLICT DO UPDATE .. RETURNING`), atomic
//! on SQLite and Postgres alike. Old windows are pruned by the maintenance
//! task.

use std::net::IpAddr;

use entity::rate_limit::{Column, Entity};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

/// Window length in seconds of per-minute limits.
pub const WINDOW_SECS: i64 = 60;

/// The longest window any limit uses; older counters are pruned.
pub const MAX_WINDOW_SECS: i64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Over the limit: retry after this many seconds (the window's end).
    Limited {
        retry_after_secs: u64,
    },
}

/// The start of the one-minute window `now` falls in.
pub fn window_start(now: i64) -> i64 {
    window_start_in(now, WINDOW_SECS)
}

/// The start of the `window`-second window `now` falls in.
pub fn window_start_in(now: i64, window: i64) -> i64 {
    now - now.rem_euclid(Ord::max(window, 1))
}

/// The bucket of a client address for `scope`. IPv6 clients are grouped by
/// /64, the block one subscriber usually gets (otherwise one host could walk
/// through 2^64 addresses); IPv4-mapped addresses count as IPv4.
pub fn ip_bucket(scope: &str, ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{scope}:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("{scope}:{v4}"),
            None => {
                let s = v6.segments();
                format!("{scope}:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The address a request came from, for [`ip_bucket`].
pub fn client_ip(remote: &poem::web::RemoteAddr) -> Option<IpAddr> {
    remote.as_socket_addr().map(|a| a.ip())
}

/// Pure decision: `hits` counted in the window starting at `start`, this
/// request included.
pub fn decide(hits: i64, limit: u32, now: i64, start: i64) -> Decision {
    decide_in(hits, limit, now, start, WINDOW_SECS)
}

/// [`decide`] for a window of `window` seconds.
pub fn decide_in(hits: i64, limit: u32, now: i64, start: i64, window: i64) -> Decision {
    if limit == 0 || hits <= i64::from(limit) {
        Decision::Allowed
    } else {
        let left = (start + window - now).clamp(1, window);
        Decision::Limited {
            retry_after_secs: left as u64,
        }
    }
}

/// Count one request in `bucket` and decide. `limit` 0 means no limit (and
/// no write).
pub async fn hit(
    db: &impl ConnectionTrait,
    bucket: &str,
    limit: u32,
    now: i64,
) -> Result<Decision, DbErr> {
    hit_in(db, bucket, limit, WINDOW_SECS, now).await
}

/// Count one event in `bucket` for a window of `window` seconds and decide.
pub async fn hit_in(
    db: &impl ConnectionTrait,
    bucket: &str,
    limit: u32,
    window: i64,
    now: i64,
) -> Result<Decision, DbErr> {
    if limit == 0 {
        return Ok(Decision::Allowed);
    }
    let start = window_start_in(now, window);
    let stmt = Query::insert()
        .into_table(Entity)
        .columns([Column::Bucket, Column::WindowStart, Column::Hits])
        .values([bucket.into(), start.into(), 1i64.into()])
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .on_conflict(
            OnConflict::columns([Column::Bucket, Column::WindowStart])
                .value(Column::Hits, Expr::col((Entity, Column::Hits)).add(1))
                .to_owned(),
        )
        .returning_col(Column::Hits)
        .to_owned();
    let row = db
        .query_one(&stmt)
        .await?
        .ok_or_else(|| DbErr::Custom("rate limit upsert returned no row".into()))?;
    let hits: i64 = row.try_get("", "hits")?;
    Ok(decide_in(hits, limit, now, start, window))
}

/// Take back one event counted by [`hit_in`] at `now` in `bucket` (an
/// attempt that turned out not to be a failure, or was refused by another
/// limit). One conditional update, never below zero.
pub async fn undo_in(
    db: &impl ConnectionTrait,
    bucket: &str,
    window: i64,
    now: i64,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::Hits, Expr::col(Column::Hits).sub(1))
        .filter(Column::Bucket.eq(bucket))
        .filter(Column::WindowStart.eq(window_start_in(now, window)))
        .filter(Column::Hits.gt(0))
        .exec(db)
        .await
        .map(|_| ())
}

/// Forget the current window of `bucket` (a successful sign-in).
pub async fn clear_in(
    db: &impl ConnectionTrait,
    bucket: &str,
    window: i64,
    now: i64,
) -> Result<(), DbErr> {
    Entity::delete_many()
        .filter(Column::Bucket.eq(bucket))
        .filter(Column::WindowStart.eq(window_start_in(now, window)))
        .exec(db)
        .await
        .map(|_| ())
}

/// Delete counters of windows that ended before `now - MAX_WINDOW_SECS`,
/// in batches (keyed by bucket and window).
pub async fn prune(db: &impl ConnectionTrait, now: i64) -> Result<u64, DbErr> {
    let ended = sea_orm::Condition::all().add(Column::WindowStart.lt(now - 2 * MAX_WINDOW_SECS));
    crate::db::delete_in_batches_by::<Entity>(db, &[Column::Bucket, Column::WindowStart], ended)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned() {
        assert_eq!(window_start(0), 0);
        assert_eq!(window_start(59), 0);
        assert_eq!(window_start(60), 60);
        assert_eq!(window_start(1_700_000_123), 1_700_000_100);
    }

    #[test]
    fn decisions() {
        assert_eq!(decide(3, 3, 10, 0), Decision::Allowed);
        assert_eq!(
            decide(4, 3, 10, 0),
            Decision::Limited {
                retry_after_secs: 50
            }
        );
        assert_eq!(
            decide(4, 3, 59, 0),
            Decision::Limited {
                retry_after_secs: 1
            }
        );
        assert_eq!(decide(1_000, 0, 10, 0), Decision::Allowed);
    }

    #[test]
    fn buckets() {
        let v4: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(ip_bucket("register", v4), "register:203.0.113.7");
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(ip_bucket("register", mapped), "register:203.0.113.7");
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ip_bucket("r", a), ip_bucket("r", b));
        assert_ne!(ip_bucket("r", a), ip_bucket("r", c));
        assert_eq!(ip_bucket("r", a), "r:2001:db8:1:2::/64");
    }
}
