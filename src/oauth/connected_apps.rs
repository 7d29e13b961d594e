//! Connected apps (issue 17 item 4): every client holding a grant for a
//! member in one of their agencies, a remembered consent or a live refresh
//! family, and revoking such a grant.
//!
//! A grant is keyed (client, agency): that is what the member consented
//! to, and what a refresh family is for. Revoking it, in one transaction:
//! - unredeemed codes are deleted and approved device codes denied, so
//!   nothing issued before the revocation turns into tokens after it;
//! - every refresh family is revoked, recording the `jti` of each access
//!   token it issued that has not expired (introspection answers inactive),
//!   and so are the access tokens of redeemed codes still alive (then the
//!   redeemed codes are deleted too);
//! - the remembered consents (every resource) are forgotten, so the next
//!   authorization shows the consent page;
//! - a `consent.revoked` audit row names the member, agency and client.
//!
//! Unredeemed codes are deleted before anything is read: a code exchange
//! that won its code first has (on Postgres, once the DELETE waited for its
//! row lock) committed its family and the code's access-token `jti`, which
//! the later reads then see; a rotation racing the revocation is ordered by
//! [`families::hold_live`].

use std::collections::BTreeMap;

use entity::{agency, authorization_code, client, consent, device_authorization};
use entity::{refresh_family, refresh_token};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    TransactionTrait,
};

use crate::audit::{self, At, Event};
use crate::oauth::client::metadata_document;
use crate::oauth::device::store as device_store;
use crate::oauth::revoked_tokens;
use crate::oauth::token::families;

/// What the member sees of one grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedApp {
    pub client_id: String,
    /// `client_name`, or the client id when it has none.
    pub name: String,
    /// A metadata-document client's verified host (its URL's), else the
    /// host of its first redirect URI.
    pub host: String,
    pub host_verified: bool,
    pub agency_id: String,
    pub agency_name: String,
    /// What the app may do: consented scopes and those of live refresh
    /// tokens, sorted.
    pub scopes: Vec<String>,
    pub first_used: i64,
    pub last_used: i64,
    /// Whether it holds a live refresh family (stays connected offline).
    pub offline: bool,
}

/// One grant before the client and agency are looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub client_id: String,
    pub agency_id: String,
    pub scopes: Vec<String>,
    pub first_used: i64,
    pub last_used: i64,
    pub offline: bool,
}

impl Grant {
    /// Add a use between `first` and `last` granting `scope`.
    fn used(&mut self, scope: &str, first: i64, last: i64) {
        self.first_used = self.first_used.min(first);
        self.last_used = self.last_used.max(last);
        // Stored by this server; an unreadable value adds nothing.
        for s in crate::scopes::split(scope).unwrap_or_default() {
            if !self.scopes.iter().any(|have| have == s) {
                self.scopes.push(s.to_string());
            }
        }
    }
}

fn grant_of<'m>(
    by_key: &'m mut BTreeMap<(String, String), Grant>,
    client_id: &str,
    agency_id: &str,
    at: i64,
) -> &'m mut Grant {
    by_key
        .entry((client_id.to_string(), agency_id.to_string()))
        .or_insert_with(|| Grant {
            client_id: client_id.to_string(),
            agency_id: agency_id.to_string(),
            scopes: Vec::new(),
            first_used: at,
            last_used: at,
            offline: false,
        })
}

/// A live family with its newest token (`scope`, issued at), if any.
pub struct LiveFamily {
    pub family: refresh_family::Model,
    pub newest: Option<(String, i64)>,
}

/// Pure: the member's grants, one per (client, agency), from their
/// consents and live families: first use is the earliest consent or family
/// start, last use the latest consent or token issued (a rotation is a
/// use). Sorted by last use, newest first.
pub fn gather(consents: &[consent::Model], families: &[LiveFamily]) -> Vec<Grant> {
    let mut by_key: BTreeMap<(String, String), Grant> = BTreeMap::new();
    for c in consents {
        let g = grant_of(&mut by_key, &c.client_id, &c.agency_id, c.updated_at);
        g.used(&c.scope, c.updated_at, c.updated_at);
    }
    for f in families {
        let (scope, last) = f
            .newest
            .as_ref()
            .map_or(("", f.family.created_at), |(s, at)| (s.as_str(), *at));
        let fam = &f.family;
        let g = grant_of(&mut by_key, &fam.client_id, &fam.agency_id, fam.created_at);
        g.used(scope, fam.created_at, last);
        g.offline = true;
    }
    let mut grants: Vec<Grant> = by_key.into_values().collect();
    for g in &mut grants {
        g.scopes.sort();
    }
    grants.sort_by(|a, b| {
        b.last_used
            .cmp(&a.last_used)
            .then_with(|| a.client_id.cmp(&b.client_id))
    });
    grants
}

/// Pure: the name and host a member recognises a client by (as its
/// consent page showed them).
pub fn identity(client_id: &str, c: Option<&client::Model>) -> (String, String, bool) {
    let name = c
        .and_then(|c| c.client_name.clone())
        .unwrap_or_else(|| client_id.to_string());
    let is_document = c.is_some_and(|c| c.kind == client::ClientKind::MetadataDocument);
    if is_document && let Some(host) = metadata_document::display_host(client_id) {
        return (name, host, true);
    }
    let host = c
        .and_then(|c| {
            crate::oauth::client::model::list(&c.redirect_uris)
                .into_iter()
                .next()
        })
        .map(|uri| crate::oauth::authorize::request::display_host(&uri))
        .unwrap_or_default();
    (name, host, false)
}

/// Every live family of the member (not revoked, within its lifetime),
/// with its newest token: the unused head (a rotation marks the old head
/// used as it adds the new one), read for all families in one statement.
async fn live_families(
    db: &impl ConnectionTrait,
    user_id: &str,
    now: i64,
) -> Result<Vec<LiveFamily>, DbErr> {
    let fams = refresh_family::Entity::find()
        .filter(refresh_family::Column::UserId.eq(user_id))
        .filter(refresh_family::Column::RevokedAt.is_null())
        .filter(refresh_family::Column::ExpiresAt.gt(now))
        .all(db)
        .await?;
    if fams.is_empty() {
        return Ok(Vec::new());
    }
    let heads = refresh_token::Entity::find()
        .filter(refresh_token::Column::FamilyId.is_in(fams.iter().map(|f| f.id.as_str())))
        .filter(refresh_token::Column::UsedAt.is_null())
        .all(db)
        .await?;
    Ok(fams
        .into_iter()
        .map(|family| {
            let newest = heads
                .iter()
                .filter(|t| t.family_id == family.id)
                .max_by_key(|t| t.created_at)
                .map(|t| (t.scope.clone(), t.created_at));
            LiveFamily { family, newest }
        })
        .collect())
}

/// The member's connected apps, most recently used first.
pub async fn list(
    db: &impl ConnectionTrait,
    user_id: &str,
    now: i64,
) -> Result<Vec<ConnectedApp>, DbErr> {
    let consents = consent::Entity::find()
        .filter(consent::Column::UserId.eq(user_id))
        .all(db)
        .await?;
    let families = live_families(db, user_id, now).await?;
    let grants = gather(&consents, &families);
    if grants.is_empty() {
        return Ok(Vec::new());
    }
    let client_ids: Vec<&str> = grants.iter().map(|g| g.client_id.as_str()).collect();
    let clients = client::Entity::find()
        .filter(client::Column::ClientId.is_in(client_ids))
        .all(db)
        .await?;
    let agency_ids: Vec<&str> = grants.iter().map(|g| g.agency_id.as_str()).collect();
    let agencies = agency::Entity::find()
        .filter(agency::Column::Id.is_in(agency_ids))
        .all(db)
        .await?;
    Ok(grants
        .into_iter()
        .map(|g| {
            let c = clients.iter().find(|c| c.client_id == g.client_id);
            let (name, host, host_verified) = identity(&g.client_id, c);
            let agency_name = agencies
                .iter()
                .find(|a| a.id == g.agency_id)
                .map_or_else(|| g.agency_id.clone(), |a| a.name.clone());
            ConnectedApp {
                name,
                host,
                host_verified,
                agency_name,
                client_id: g.client_id,
                agency_id: g.agency_id,
                scopes: g.scopes,
                first_used: g.first_used,
                last_used: g.last_used,
                offline: g.offline,
            }
        })
        .collect())
}

/// Revoke the member's grant to `client_id` in `agency_id` (see the
/// module). Returns whether there was anything to revoke; the audit row is
/// written only then.
pub async fn revoke(
    db: &DatabaseConnection,
    user_id: &str,
    client_id: &str,
    agency_id: &str,
    at: At,
) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    let any = revoke_in(&txn, user_id, client_id, agency_id, at).await?;
    txn.commit().await?;
    Ok(any)
}

/// Revoke every grant of the member (a password change that asks for it),
/// in the caller's transaction. Returns how many there were.
pub async fn revoke_all(txn: &impl ConnectionTrait, user_id: &str, at: At) -> Result<usize, DbErr> {
    let consents = consent::Entity::find()
        .filter(consent::Column::UserId.eq(user_id))
        .all(txn)
        .await?;
    let families = live_families(txn, user_id, at.ts).await?;
    let grants = gather(&consents, &families);
    for g in &grants {
        revoke_in(txn, user_id, &g.client_id, &g.agency_id, at).await?;
    }
    Ok(grants.len())
}

/// [`revoke`] in the caller's transaction.
pub async fn revoke_in(
    txn: &impl ConnectionTrait,
    user_id: &str,
    client_id: &str,
    agency_id: &str,
    at: At,
) -> Result<bool, DbErr> {
    let now = at.ts;
    // Codes not redeemed yet can no longer be.
    let codes = authorization_code::Entity::delete_many()
        .filter(authorization_code::Column::UserId.eq(user_id))
        .filter(authorization_code::Column::ClientId.eq(client_id))
        .filter(authorization_code::Column::AgencyId.eq(agency_id))
        .filter(authorization_code::Column::UsedAt.is_null())
        .exec(txn)
        .await?
        .rows_affected;
    // The access tokens of redeemed codes (a client without refresh tokens
    // has only these).
    let redeemed = authorization_code::Entity::find()
        .filter(authorization_code::Column::UserId.eq(user_id))
        .filter(authorization_code::Column::ClientId.eq(client_id))
        .filter(authorization_code::Column::AgencyId.eq(agency_id))
        .filter(authorization_code::Column::AccessExp.gt(now))
        .all(txn)
        .await?;
    for c in &redeemed {
        if let (Some(jti), Some(exp)) = (&c.access_jti, c.access_exp) {
            revoked_tokens::record(txn, jti, exp).await?;
        }
    }
    // Redeemed codes go too, their tokens recorded: a second revocation
    // finds nothing, and the page says so.
    let used = authorization_code::Entity::delete_many()
        .filter(authorization_code::Column::UserId.eq(user_id))
        .filter(authorization_code::Column::ClientId.eq(client_id))
        .filter(authorization_code::Column::AgencyId.eq(agency_id))
        .exec(txn)
        .await?
        .rows_affected;
    // A device approved but not yet polled gets `access_denied`.
    let devices = device_authorization::Entity::update_many()
        .col_expr(
            device_authorization::Column::Status,
            Expr::value(device_store::DENIED),
        )
        .filter(device_authorization::Column::UserId.eq(user_id))
        .filter(device_authorization::Column::ClientId.eq(client_id))
        .filter(device_authorization::Column::AgencyId.eq(agency_id))
        .filter(device_authorization::Column::Status.eq(device_store::APPROVED))
        .exec(txn)
        .await?
        .rows_affected;
    let fams = refresh_family::Entity::find()
        .filter(refresh_family::Column::UserId.eq(user_id))
        .filter(refresh_family::Column::ClientId.eq(client_id))
        .filter(refresh_family::Column::AgencyId.eq(agency_id))
        .filter(refresh_family::Column::RevokedAt.is_null())
        .all(txn)
        .await?;
    for f in &fams {
        families::revoke_family(txn, &f.id, now).await?;
    }
    let consents = consent::Entity::delete_many()
        .filter(consent::Column::UserId.eq(user_id))
        .filter(consent::Column::ClientId.eq(client_id))
        .filter(consent::Column::AgencyId.eq(agency_id))
        .exec(txn)
        .await?
        .rows_affected;
    let any = codes + used + devices + consents > 0 || !fams.is_empty();
    if any {
        let event = Event::ConsentRevoked {
            actor: user_id,
            agency_id: Some(agency_id),
            client_id,
        };
        audit::record(txn, at, event).await?;
    }
    Ok(any)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consent_row(client: &str, agency: &str, scope: &str, at: i64) -> consent::Model {
        consent::Model {
            user_id: "u".into(),
            client_id: client.into(),
            agency_id: agency.into(),
            resource: "r".into(),
            scope: scope.into(),
            updated_at: at,
        }
    }

    fn family(client: &str, agency: &str, created: i64, newest: Option<(&str, i64)>) -> LiveFamily {
        LiveFamily {
            family: refresh_family::Model {
                id: format!("f-{client}-{created}"),
                client_id: client.into(),
                user_id: "u".into(),
                agency_id: agency.into(),
                resource: "r".into(),
                code_hash: format!("c-{client}-{created}"),
                created_at: created,
                expires_at: created + 1000,
                revoked_at: None,
                auth_time: None,
                dpop_jkt: None,
                amr: None,
            },
            newest: newest.map(|(s, at)| (s.to_string(), at)),
        }
    }

    #[test]
    fn one_grant_per_client_and_agency_with_first_and_last_use() {
        let grants = gather(
            &[
                consent_row("a", "ag1", "posts:read agency:read", 100),
                consent_row("b", "ag1", "agency:read", 50),
                consent_row("a", "ag2", "agency:read", 10),
            ],
            &[
                family("a", "ag1", 90, Some(("agency:read offline_access", 300))),
                family("a", "ag1", 120, None),
                family("c", "ag1", 5, Some(("posts:write", 7))),
            ],
        );
        let keys: Vec<(&str, &str)> = grants
            .iter()
            .map(|g| (g.client_id.as_str(), g.agency_id.as_str()))
            .collect();
        assert_eq!(
            keys,
            [("a", "ag1"), ("b", "ag1"), ("a", "ag2"), ("c", "ag1")],
            "newest use first"
        );
        let a1 = &grants[0];
        assert_eq!((a1.first_used, a1.last_used), (90, 300));
        assert_eq!(a1.scopes, ["agency:read", "offline_access", "posts:read"]);
        assert!(a1.offline);
        assert!(!grants[1].offline, "a consent alone");
        let c = &grants[3];
        assert_eq!((c.first_used, c.last_used, c.offline), (5, 7, true));
        assert_eq!(c.scopes, ["posts:write"], "a family without a consent");
    }

    #[test]
    fn nothing_is_no_grant() {
        assert!(gather(&[], &[]).is_empty());
    }

    #[test]
    fn identity_prefers_the_verified_host() {
        let mut c = crate::oauth::client::model::test_row();
        c.client_name = Some("Calendar Agent".into());
        c.redirect_uris = r#"["https://app.example/cb"]"#.into();
        let (name, host, verified) = identity(&c.client_id.clone(), Some(&c));
        assert_eq!(
            (name.as_str(), host.as_str(), verified),
            ("Calendar Agent", "app.example", false)
        );
        c.kind = client::ClientKind::MetadataDocument;
        let id = "https://agent.example/client.json";
        let (_, host, verified) = identity(id, Some(&c));
        assert_eq!((host.as_str(), verified), ("agent.example", true));
        let (name, host, verified) = identity("gone", None);
        assert_eq!(
            (name.as_str(), host.as_str(), verified),
            ("gone", "", false)
        );
    }
}
