//! Refresh-token families: storage and revocation.
//!
//! A family is every rotation of one authorization grant. A token is good
//! only while it is unused, within its idle and absolute lifetimes, and its
//! family is not revoked. Revoking is one row (the family), so a token
//! rotated concurrently with a revocation is dead as well. Revocation also
//! records the `jti` of every access token the family issued, so
//! introspection reports them inactive (offline verifiers see them until
//! they expire).

use entity::{authorization_code, membership, refresh_family, refresh_token};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, JoinType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
    QueryTrait,
};

use crate::crypto::sha256_hex;
use crate::db_key::by_key;
use crate::oauth::revoked_tokens;

/// A new token row of `family_id`.
pub struct NewToken<'a> {
    pub secret: &'a str,
    pub family_id: &'a str,
    pub scope: &'a str,
    pub now: i64,
    pub expires_at: i64,
    pub access_jti: &'a str,
    pub access_exp: i64,
}

pub async fn insert_token(db: &impl ConnectionTrait, t: NewToken<'_>) -> Result<(), DbErr> {
    refresh_token::Entity::insert(refresh_token::ActiveModel {
        token_hash: Set(sha256_hex(t.secret)),
        family_id: Set(t.family_id.to_string()),
        scope: Set(t.scope.to_string()),
        created_at: Set(t.now),
        expires_at: Set(t.expires_at),
        used_at: Set(None),
        access_jti: Set(Some(t.access_jti.to_string())),
        access_exp: Set(Some(t.access_exp)),
    })
    .exec_without_returning(db)
    .await
    .map(|_| ())
}

pub async fn insert_family(
    db: &impl ConnectionTrait,
    f: refresh_family::Model,
) -> Result<(), DbErr> {
    refresh_family::Entity::insert(refresh_family::ActiveModel {
        id: Set(f.id),
        client_id: Set(f.client_id),
        user_id: Set(f.user_id),
        agency_id: Set(f.agency_id),
        resource: Set(f.resource),
        code_hash: Set(f.code_hash),
        created_at: Set(f.created_at),
        expires_at: Set(f.expires_at),
        revoked_at: Set(None),
        auth_time: Set(f.auth_time),
        dpop_jkt: Set(f.dpop_jkt),
        amr: Set(f.amr),
    })
    .exec_without_returning(db)
    .await
    .map(|_| ())
}

/// A token and its family, by the token's secret.
pub async fn find(
    db: &impl ConnectionTrait,
    secret: &str,
) -> Result<Option<(refresh_token::Model, refresh_family::Model)>, DbErr> {
    Ok(find_with_role(db, secret)
        .await?
        .map(|(token, family, _)| (token, family)))
}

/// A token, its family and the family's member's role in its agency now
/// (`None`: no longer a member), by the token's secret: one statement
/// where three reads were, each a round trip (and, on SQLite, a hop to
/// the connection's worker thread) on every refresh.
pub async fn find_with_role(
    db: &impl ConnectionTrait,
    secret: &str,
) -> Result<Option<(refresh_token::Model, refresh_family::Model, Option<String>)>, DbErr> {
    let mut query = refresh_token::Entity::find_by_id(sha256_hex(secret))
        .select_also(refresh_family::Entity)
        .join(
            JoinType::InnerJoin,
            refresh_token::Entity::belongs_to(refresh_family::Entity)
                .from(refresh_token::Column::FamilyId)
                .to(refresh_family::Column::Id)
                .into(),
        )
        .into_query();
    query
        .join(
            JoinType::LeftJoin,
            membership::Entity,
            Condition::all()
                .add(
                    Expr::col((membership::Entity, membership::Column::UserId))
                        .equals((refresh_family::Entity, refresh_family::Column::UserId)),
                )
                .add(
                    Expr::col((membership::Entity, membership::Column::AgencyId))
                        .equals((refresh_family::Entity, refresh_family::Column::AgencyId)),
                ),
        )
        .expr_as(
            Expr::col((membership::Entity, membership::Column::Role)),
            MEMBER_ROLE,
        );
    // A raw statement: no `LIMIT ?` (see `db_key`); the key selects one row.
    let Some(row) = db.query_one(&query).await? else {
        return Ok(None);
    };
    let token = refresh_token::Model::from_query_result(&row, "A_")?;
    let family = refresh_family::Model::from_query_result(&row, "B_")?;
    let role: Option<String> = row.try_get("", MEMBER_ROLE)?;
    Ok(Some((token, family, role)))
}

/// The alias of the member's role in [`find_with_role`].
const MEMBER_ROLE: &str = "member_role";

/// Pure: whether a token of a family may be used at `now`.
pub fn usable(token: &refresh_token::Model, family: &refresh_family::Model, now: i64) -> bool {
    token.used_at.is_none() && alive(token, family, now)
}

/// Pure: whether a token, used or not, is within its idle and absolute
/// lifetimes and its family is not revoked.
pub fn alive(token: &refresh_token::Model, family: &refresh_family::Model, now: i64) -> bool {
    family.revoked_at.is_none() && token.expires_at > now && family.expires_at > now
}

/// Pure: whether a token used (rotated) at `used_at` presented again at
/// `now` is within the reuse grace of `grace_secs` seconds: strictly less
/// than `grace_secs` whole seconds later, so never after `grace_secs` real
/// seconds. A `used_at` ahead of `now` (another instance's clock) is within.
pub fn within_grace(used_at: i64, now: i64, grace_secs: u64) -> bool {
    grace_secs > 0 && now.saturating_sub(used_at) < i64::try_from(grace_secs).unwrap_or(i64::MAX)
}

/// When `secret`'s token was used, if it was (inside a rotation's
/// transaction, after losing [`mark_used`]: the winner's mark is committed).
pub async fn used_at(db: &impl ConnectionTrait, secret: &str) -> Result<Option<i64>, DbErr> {
    Ok(
        by_key(refresh_token::Entity::find_by_id(sha256_hex(secret)), db)
            .await?
            .and_then(|t| t.used_at),
    )
}

/// Mark `secret`'s token used, if nobody did first. Returns whether this call
/// won: of concurrent rotations of one token exactly one does.
pub async fn mark_used(db: &impl ConnectionTrait, secret: &str, now: i64) -> Result<bool, DbErr> {
    let res = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::TokenHash.eq(sha256_hex(secret)))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Inside a rotation's transaction: whether the family is still live, taking
/// its row's write lock (a no-op conditional UPDATE) until the commit. A
/// revocation is then ordered with the rotation: either it committed first
/// and this answers `false`, or it waits for the commit and its scan of the
/// family's access tokens sees the one this rotation issues. Deciding from
/// the family read before the transaction let a concurrent revocation miss
/// the new access token (issue 13, item 10).
pub async fn hold_live(db: &impl ConnectionTrait, family_id: &str) -> Result<bool, DbErr> {
    let res = refresh_family::Entity::update_many()
        .col_expr(refresh_family::Column::RevokedAt, Expr::value(None::<i64>))
        .filter(refresh_family::Column::Id.eq(family_id))
        .filter(refresh_family::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Revoke a family and the access tokens it issued that have not expired.
pub async fn revoke_family(
    db: &impl ConnectionTrait,
    family_id: &str,
    now: i64,
) -> Result<(), DbErr> {
    refresh_family::Entity::update_many()
        .col_expr(refresh_family::Column::RevokedAt, Expr::value(now))
        .filter(refresh_family::Column::Id.eq(family_id))
        .filter(refresh_family::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    let tokens = refresh_token::Entity::find()
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::AccessExp.gt(now))
        .all(db)
        .await?;
    for t in tokens {
        if let (Some(jti), Some(exp)) = (t.access_jti, t.access_exp) {
            revoked_tokens::record(db, &jti, exp).await?;
        }
    }
    Ok(())
}

/// Delete what can no longer be used nor revoked, `access_ttl_secs` after
/// it ended (so every access token it issued has expired too, and no
/// revocation needs its `jti`): families past their absolute lifetime or
/// revoked, with all their tokens, and single tokens past their idle
/// lifetime. A pruned used token presented again is unknown
/// (`invalid_grant`) rather than a detected reuse; it was dead either way.
/// Returns the number of tokens and families deleted.
pub async fn prune(
    db: &impl ConnectionTrait,
    now: i64,
    access_ttl_secs: u64,
) -> Result<u64, DbErr> {
    let before = now.saturating_sub(i64::try_from(access_ttl_secs).unwrap_or(i64::MAX));
    use crate::db::delete_in_batches;
    use sea_orm::sea_query::IntoCondition;
    let mut n = delete_in_batches::<refresh_token::Entity>(
        db,
        refresh_token::Column::TokenHash,
        refresh_token::Column::ExpiresAt.lt(before).into_condition(),
    )
    .await?;
    // Each condition by its own index (not one OR); a family's tokens go
    // with it (ON DELETE CASCADE), a family's worth per row at most.
    for ended in [
        refresh_family::Column::ExpiresAt.lt(before),
        refresh_family::Column::RevokedAt.lt(before),
    ] {
        n += delete_in_batches::<refresh_family::Entity>(
            db,
            refresh_family::Column::Id,
            ended.into_condition(),
        )
        .await?;
    }
    Ok(n)
}

/// A replayed authorization code: revoke everything issued from it.
pub async fn revoke_from_code(
    db: &impl ConnectionTrait,
    code: &authorization_code::Model,
    now: i64,
) -> Result<(), DbErr> {
    if let (Some(jti), Some(exp)) = (&code.access_jti, code.access_exp)
        && exp > now
    {
        revoked_tokens::record(db, jti, exp).await?;
    }
    let families = refresh_family::Entity::find()
        .filter(refresh_family::Column::CodeHash.eq(&code.code_hash))
        .all(db)
        .await?;
    for f in families {
        revoke_family(db, &f.id, now).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(
        used: Option<i64>,
        revoked: Option<i64>,
        idle: i64,
        abs: i64,
    ) -> (refresh_token::Model, refresh_family::Model) {
        (
            refresh_token::Model {
                token_hash: "h".into(),
                family_id: "f".into(),
                scope: "s".into(),
                created_at: 0,
                expires_at: idle,
                used_at: used,
                access_jti: None,
                access_exp: None,
            },
            refresh_family::Model {
                id: "f".into(),
                client_id: "c".into(),
                user_id: "u".into(),
                agency_id: "a".into(),
                resource: "r".into(),
                code_hash: "x".into(),
                created_at: 0,
                expires_at: abs,
                revoked_at: revoked,
                auth_time: None,
                dpop_jkt: None,
                amr: None,
            },
        )
    }

    #[test]
    fn usability() {
        let (t, f) = pair(None, None, 100, 200);
        assert!(usable(&t, &f, 99));
        assert!(!usable(&t, &f, 100), "idle expiry");
        let (t, f) = pair(None, None, 300, 200);
        assert!(!usable(&t, &f, 250), "absolute expiry");
        let (t, f) = pair(Some(5), None, 100, 200);
        assert!(!usable(&t, &f, 10), "used");
        let (t, f) = pair(None, Some(5), 100, 200);
        assert!(!usable(&t, &f, 10), "family revoked");
        let (t, f) = pair(Some(5), None, 100, 200);
        assert!(alive(&t, &f, 10), "used but alive");
        let (t, f) = pair(Some(5), Some(6), 100, 200);
        assert!(!alive(&t, &f, 10), "family revoked");
    }

    #[test]
    fn grace_window() {
        assert!(!within_grace(100, 100, 0), "no grace");
        assert!(within_grace(100, 100, 2));
        assert!(within_grace(100, 101, 2));
        assert!(!within_grace(100, 102, 2), "the window is over");
        assert!(within_grace(100, 99, 2), "another instance's clock ahead");
        assert!(!within_grace(0, 1_000, 60));
    }
}
