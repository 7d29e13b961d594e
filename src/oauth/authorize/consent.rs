//! What a member can grant; remembered consent per (user, client, agency,
//! resource): a later request for the same or fewer scopes for the same
//! resource skips the page (RFC 8707 §2: consent for one audience is not
//! consent for another); and whether a member ever acted on a client's
//! consent page (RFC 9700 §4.17: until then its errors are not redirected
//! automatically).

use entity::client::Model as Client;
use entity::consent::{ActiveModel, Column, Entity};
use entity::consent_decision;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use crate::oauth::client::model;
use crate::scopes::{Role, Scopes};

/// Requested permission scopes split into what `role` can grant and what it
/// cannot. Never wider than the request.
pub fn narrow(requested: &[String], role: Role) -> (Vec<String>, Vec<String>) {
    requested.iter().cloned().partition(|s| role.allows(s))
}

/// The scopes a grant records: the granted permissions, plus the scopes
/// that are no permissions (identity scopes, `offline_access`) asked for.
pub fn grant_set(granted: &[String], extras: &[String]) -> Vec<String> {
    let mut all = granted.to_vec();
    all.extend(extras.iter().cloned());
    all
}

/// Pure: whether a remembered consent covers `wanted`.
pub fn covers(remembered: &str, wanted: &[String]) -> bool {
    // Stored by this server; unreadable covers nothing (the page asks again).
    let have = crate::scopes::split(remembered).unwrap_or_default();
    wanted.iter().all(|w| have.contains(&w.as_str()))
}

/// Remembered consents of a user for a client and `resource`, newest first.
pub async fn remembered(
    db: &impl ConnectionTrait,
    user_id: &str,
    client_id: &str,
    resource: &str,
) -> Result<Vec<entity::consent::Model>, DbErr> {
    let mut rows = Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::ClientId.eq(client_id))
        .filter(Column::Resource.eq(resource))
        .all(db)
        .await?;
    rows.sort_by_key(|r| std::cmp::Reverse(r.updated_at));
    Ok(rows)
}

/// Who consented to what: the key of a remembered consent.
pub struct Grant<'a> {
    pub user_id: &'a str,
    pub client_id: &'a str,
    pub agency_id: &'a str,
    /// The resource (RFC 8707) as configured: the tokens' audience.
    pub resource: &'a str,
}

/// Remember a grant, adding to what was consented before for the same
/// (user, client, agency, resource).
pub async fn remember(
    db: &impl ConnectionTrait,
    g: &Grant<'_>,
    granted: &[String],
    now: i64,
) -> Result<(), DbErr> {
    let before = Entity::find_by_id((
        g.user_id.to_string(),
        g.client_id.to_string(),
        g.agency_id.to_string(),
        g.resource.to_string(),
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
        user_id: Set(g.user_id.to_string()),
        client_id: Set(g.client_id.to_string()),
        agency_id: Set(g.agency_id.to_string()),
        resource: Set(g.resource.to_string()),
        scope: Set(all.to_string()),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            Column::UserId,
            Column::ClientId,
            Column::AgencyId,
            Column::Resource,
        ])
        .update_columns([Column::Scope, Column::UpdatedAt])
        .to_owned(),
    )
    .exec_without_returning(db)
    .await
    .map(|_| ())
}

/// Consents copied by the migration that bound consent to the resource
/// carry the empty resource; they were all given for the default resource,
/// which only the configuration knows. Called at every start: a read that
/// finds nothing once done, so a read-only database still starts.
pub async fn adopt_unbound(
    db: &impl ConnectionTrait,
    default_resource: &str,
) -> Result<u64, DbErr> {
    let unbound = Entity::find()
        .filter(Column::Resource.eq(""))
        .one(db)
        .await?;
    if unbound.is_none() {
        return Ok(0);
    }
    let res = Entity::update_many()
        .col_expr(Column::Resource, Expr::value(default_resource))
        .filter(Column::Resource.eq(""))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Record that a member allowed or denied `client_id` on the consent page
/// (the first time is kept).
pub async fn record_decision(
    db: &impl ConnectionTrait,
    client_id: &str,
    now: i64,
) -> Result<(), DbErr> {
    consent_decision::Entity::insert(consent_decision::ActiveModel {
        client_id: Set(client_id.to_string()),
        decided_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(consent_decision::Column::ClientId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await
    .map(|_| ())
    .or_else(|e| match e.sql_err() {
        // A metadata-document client a member denied is not stored (only an
        // allowed one is): nothing to mark, its errors stay pages.
        Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_)) => Ok(()),
        _ => Err(e),
    })
}

/// Whether a member ever allowed or denied `client_id` on the consent page
/// (since its last change of what the page shows, see [`forget_client`]).
pub async fn decided(db: &impl ConnectionTrait, client_id: &str) -> Result<bool, DbErr> {
    Ok(consent_decision::Entity::find_by_id(client_id.to_string())
        .one(db)
        .await?
        .is_some())
}

/// Forget every remembered consent for `client_id` and that members acted
/// on its page: the next authorization shows the page, and its errors are
/// not redirected automatically until a member acts on it again.
/// Each agency that held a consent gets a `consent.revoked` audit event
/// (the caller's transaction makes them one change).
pub async fn forget_client(
    db: &impl ConnectionTrait,
    client_id: &str,
    at: crate::audit::At,
) -> Result<(), DbErr> {
    let agencies: Vec<String> = Entity::find()
        .select_only()
        .column(Column::AgencyId)
        .distinct()
        .filter(Column::ClientId.eq(client_id))
        .into_tuple()
        .all(db)
        .await?;
    for agency_id in &agencies {
        let event = crate::audit::Event::ConsentRevoked {
            actor: client_id,
            agency_id: Some(agency_id),
            client_id,
        };
        crate::audit::record(db, at, event).await?;
    }
    Entity::delete_many()
        .filter(Column::ClientId.eq(client_id))
        .exec(db)
        .await?;
    consent_decision::Entity::delete_many()
        .filter(consent_decision::Column::ClientId.eq(client_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Pure: whether a client changed between `before` and `after` in what its
/// consent page shows (name, logo, links, redirect URIs and their host)
/// or in what bounds the grant (scope; grant types decide whether a
/// refresh token is issued, which the page says).
pub fn members_saw_a_change(before: &Client, after: &Client) -> bool {
    before.client_name != after.client_name
        || before.logo_uri != after.logo_uri
        || before.client_uri != after.client_uri
        || before.policy_uri != after.policy_uri
        || before.tos_uri != after.tos_uri
        || before.scope != after.scope
        || model::list(&before.redirect_uris) != model::list(&after.redirect_uris)
        || model::grant_types(&before.grant_types) != model::grant_types(&after.grant_types)
}

/// After an RFC 7592 update: when what members consented to changed,
/// [`forget_client`]. Returns whether it did.
pub async fn forget_client_if_changed(
    db: &impl ConnectionTrait,
    before: &Client,
    after: &Client,
    at: crate::audit::At,
) -> Result<bool, DbErr> {
    if !members_saw_a_change(before, after) {
        return Ok(false);
    }
    forget_client(db, &after.client_id, at).await?;
    tracing::info!(client_id = %after.client_id, "client changed what members consented to; consent forgotten");
    Ok(true)
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
        assert_eq!(
            grant_set(&v(&["a"]), &v(&["openid", "offline_access"])),
            v(&["a", "openid", "offline_access"])
        );
    }

    #[test]
    fn only_what_the_page_shows_or_the_grant_depends_on_is_a_change() {
        let before = model::test_row();
        assert!(!members_saw_a_change(&before, &before.clone()));
        let same = |f: fn(&mut Client)| {
            let mut after = before.clone();
            f(&mut after);
            members_saw_a_change(&before, &after)
        };
        assert!(!same(|c| c.contacts = r#"["ops@app.example"]"#.into()));
        assert!(!same(|c| c.software_version = Some("2".into())));
        assert!(!same(|c| c.updated_at += 1));
        assert!(same(|c| c.client_name = Some("Other".into())));
        assert!(same(
            |c| c.logo_uri = Some("https://app.example/l.png".into())
        ));
        assert!(same(|c| c.client_uri = Some("https://app.example".into())));
        assert!(same(|c| c.policy_uri = Some("https://app.example/p".into())));
        assert!(same(|c| c.tos_uri = Some("https://app.example/t".into())));
        assert!(same(|c| c.scope = Some("agency:read".into())));
        assert!(same(|c| {
            c.redirect_uris = r#"["https://evil.example/cb"]"#.into()
        }));
        assert!(same(|c| {
            c.grant_types = r#"["authorization_code"]"#.into()
        }));
    }
}
