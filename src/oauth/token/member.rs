//! The common end of the grants a member is behind (authorization_code,
//! refresh_token; OAuth 2.1 §4.1.3, §4.3): once the request has won its
//! conditional UPDATE in the open transaction (the code consumed, the
//! refresh token marked used), store the refresh token (the first of a new
//! family, or the next of its family: RFC 9700 §4.14.2 rotation), commit,
//! and sign the access token.

use entity::refresh_family;
use sea_orm::DatabaseTransaction;

use super::TokenResponse;
use super::access_token::{self, Grant, Member, Stamp};
use super::families::{self, NewToken};
use crate::AppState;
use crate::crypto::random_token;
use crate::oauth::error::OAuthError;
use crate::oauth::oidc::id_token;
use crate::scopes::Role;

/// Who a member grant acts for and what it allows: from the code or the
/// refresh family.
pub struct MemberGrant<'a> {
    pub user_id: &'a str,
    pub client_id: &'a str,
    pub agency_id: &'a str,
    /// The resource (the tokens' `aud`).
    pub resource: &'a str,
    /// The member's role now.
    pub role: Role,
    /// The scope the member granted, stored with every refresh token.
    pub granted: &'a str,
    /// This access token's scopes: the granted ones the role allows now,
    /// then the identity scopes of the grant (`openid`, `email`, `profile`).
    pub scopes: &'a [&'a str],
    /// OpenID Connect: with `openid` among `scopes`, the id_token's
    /// algorithm, `nonce`, `auth_time` and `amr` (the access token's `amr`
    /// too).
    pub id_token: IdTokenParams<'a>,
    /// The DPoP key of the request (RFC 9449 §5), bound into the token.
    pub jkt: Option<&'a str>,
}

/// What an id_token needs beyond the grant.
#[derive(Debug, Clone, Copy)]
pub struct IdTokenParams<'a> {
    pub alg: &'a str,
    pub nonce: Option<&'a str>,
    pub auth_time: Option<i64>,
    /// How the member signed in (space-separated; None: a password).
    pub amr: Option<&'a str>,
}

/// The refresh-token family the new refresh token belongs to.
pub enum Family<'a> {
    /// A new family, started by redeeming the code of hash `code_hash`;
    /// its refresh tokens bound to the DPoP key `dpop_jkt` (a public
    /// client's, RFC 9449 §5).
    Start {
        code_hash: &'a str,
        dpop_jkt: Option<&'a str>,
    },
    /// The family of a rotated refresh token.
    Rotate(&'a refresh_family::Model),
}

impl<'a> Family<'a> {
    /// The family a grant redeeming `code_hash` starts for `client`, when it
    /// gets refresh tokens. RFC 9449 §5: a confidential client's refresh
    /// tokens are bound to its authentication; a public client's to the
    /// DPoP key of the request (`jkt`).
    pub fn start(
        client: &crate::oauth::client::ClientRecord,
        code_hash: &'a str,
        jkt: Option<&'a str>,
    ) -> Option<Self> {
        client.gets_refresh_tokens().then_some(Family::Start {
            code_hash,
            dpop_jkt: jkt.filter(|_| !client.auth_method.is_confidential()),
        })
    }
}

/// Pure: when a refresh token issued at `now` expires: after the idle
/// lifetime, and never after its family.
pub fn refresh_expiry(family_expires_at: i64, now: i64, idle_ttl_secs: u64) -> i64 {
    family_expires_at.min(now.saturating_add(i64::try_from(idle_ttl_secs).unwrap_or(i64::MAX)))
}

/// Finish a member grant in `txn`: a refresh token in `family` (`None`: the
/// client has no refresh_token grant, so none), commit, then the access
/// token stamped `stamp`.
pub async fn finish(
    state: &AppState,
    txn: DatabaseTransaction,
    stamp: Stamp,
    grant: &MemberGrant<'_>,
    family: Option<Family<'_>>,
) -> Result<TokenResponse, OAuthError> {
    let tokens = &state.settings.tokens;
    let now = stamp.iat;
    let refresh = match family {
        None => None,
        Some(family) => {
            let (family_id, family_exp) = match family {
                Family::Start {
                    code_hash,
                    dpop_jkt,
                } => {
                    let id = uuid::Uuid::new_v4().to_string();
                    let expires_at = now + tokens.refresh_token_ttl_secs as i64;
                    families::insert_family(
                        &txn,
                        refresh_family::Model {
                            id: id.clone(),
                            client_id: grant.client_id.to_string(),
                            user_id: grant.user_id.to_string(),
                            agency_id: grant.agency_id.to_string(),
                            resource: grant.resource.to_string(),
                            code_hash: code_hash.to_string(),
                            created_at: now,
                            expires_at,
                            revoked_at: None,
                            auth_time: grant.id_token.auth_time,
                            dpop_jkt: dpop_jkt.map(str::to_string),
                            amr: grant.id_token.amr.map(str::to_string),
                        },
                    )
                    .await
                    .map_err(|e| OAuthError::db(e, "start refresh family"))?;
                    (id, expires_at)
                }
                Family::Rotate(f) => (f.id.clone(), f.expires_at),
            };
            let secret = random_token();
            families::insert_token(
                &txn,
                NewToken {
                    secret: &secret,
                    family_id: &family_id,
                    scope: grant.granted,
                    now,
                    expires_at: refresh_expiry(family_exp, now, tokens.refresh_token_idle_ttl_secs),
                    access_jti: &stamp.jti,
                    access_exp: stamp.exp(),
                },
            )
            .await
            .map_err(|e| OAuthError::db(e, "store refresh token"))?;
            Some(secret)
        }
    };
    txn.commit()
        .await
        .map_err(|e| OAuthError::db(e, "commit"))?;

    let access = Grant {
        subject: grant.user_id,
        client_id: grant.client_id,
        scopes: grant.scopes,
        audience: grant.resource,
        member: Some(Member {
            agency_id: grant.agency_id,
            role: grant.role,
            amr: grant.id_token.amr,
        }),
        jkt: grant.jkt,
    };
    let now = stamp.iat;
    let mut response = access_token::issue(state, &access, stamp, refresh).await?;
    if access.openid() {
        let identity: Vec<&str> = grant
            .scopes
            .iter()
            .copied()
            .filter(|s| crate::scopes::is_identity(s))
            .collect();
        let subject = id_token::Subject {
            user_id: grant.user_id,
            client_id: grant.client_id,
            alg: grant.id_token.alg,
            scopes: &identity,
            nonce: grant.id_token.nonce,
            auth_time: grant.id_token.auth_time,
            amr: grant.id_token.amr,
        };
        response.id_token = Some(id_token::issue(state, &subject, now).await?);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_expire_when_idle_or_with_their_family() {
        assert_eq!(refresh_expiry(10_000, 100, 500), 600, "idle lifetime");
        assert_eq!(refresh_expiry(400, 100, 500), 400, "never after the family");
        assert_eq!(refresh_expiry(400, 100, u64::MAX), 400);
    }
}
