//! What a member can grant, and remembered consent per (user, client,
//! agency): a later request for the same or fewer scopes skips the page.

use entity::consent::{ActiveModel, Column, Entity};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::scopes::{OFFLINE_ACCESS, Role, Scopes};

/// Requested permission scopes split into what `role` can grant and what it
/// cannot. Never wider than the request.
pub fn narrow(requested: &[String], role: Role) -> (Vec<String>, Vec<String>) {
    requested.iter().cloned().partition(|s| role.allows(s))
}

/// The scopes a grant records: the granted permissions, plus
/// `offline_access` when it was asked for.
pub fn grant_set(granted: &[String], offline: bool) -> Vec<String> {
    let mut all = granted.to_vec();
    if offline {
        all.push(OFFLINE_ACCESS.to_string());
    }
    all
}

/// Pure: whether a remembered consent covers `wanted`.
pub fn covers(remembered: &str, wanted: &[String]) -> bool {
    // Stored by this server; unreadable covers nothing (the page asks again).
    let have = crate::scopes::split(remembered).unwrap_or_default();
    wanted.iter().all(|w| have.contains(&w.as_str()))
}

/// Remembered consents of a user for a client, newest first.
pub async fn remembered(
    db: &impl ConnectionTrait,
    user_id: &str,
    client_id: &str,
) -> Result<Vec<entity::consent::Model>, DbErr> {
    let mut rows = Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::ClientId.eq(client_id))
        .all(db)
        .await?;
    rows.sort_by_key(|r| std::cmp::Reverse(r.updated_at));
    Ok(rows)
}

/// Remember a grant, adding to what was consented before.
pub async fn remember(
    db: &impl ConnectionTrait,
    user_id: &str,
    client_id: &str,
    agency_id: &str,
    granted: &[String],
    now: i64,
) -> Result<(), DbErr> {
    let before = Entity::find_by_id((
        user_id.to_string(),
        client_id.to_string(),
        agency_id.to_string(),
    ))
    .one(db)
    .await?;
    // The union of what was remembered and what is granted now; an
    // unreadable stored value is replaced, not merged.
    let mut all = before
        .and_then(|b| Scopes::parse(&b.scope).ok())
        .unwrap_or_default();
    for g in granted {
        all.insert(g)
            .map_err(|e| DbErr::Custom(format!("granted scope: {e}")))?;
    }
    Entity::insert(ActiveModel {
        user_id: Set(user_id.to_string()),
        client_id: Set(client_id.to_string()),
        agency_id: Set(agency_id.to_string()),
        scope: Set(all.to_string()),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([Column::UserId, Column::ClientId, Column::AgencyId])
            .update_columns([Column::Scope, Column::UpdatedAt])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn narrowing_never_widens() {
        let (ok, no) = narrow(&v(&["agency:read", "posts:write"]), Role::Viewer);
        assert_eq!(ok, v(&["agency:read"]));
        assert_eq!(no, v(&["posts:write"]));
        let (ok, no) = narrow(&v(&["posts:write"]), Role::Editor);
        assert_eq!((ok, no), (v(&["posts:write"]), vec![]));
    }

    #[test]
    fn coverage() {
        assert!(covers("agency:read posts:read", &v(&["posts:read"])));
        assert!(covers("agency:read posts:read", &v(&[])));
        assert!(!covers(
            "agency:read",
            &v(&["agency:read", "offline_access"])
        ));
        assert_eq!(grant_set(&v(&["a"]), true), v(&["a", "offline_access"]));
    }
}
