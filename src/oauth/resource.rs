//! Resources (RFC 8707): the identifiers access tokens are issued for (their
//! `aud`), and the resource servers that own them.
//!
//! The known resources are `resource.default` and the resource of every
//! resource server created with `skedcast-auth resource-server create`.
//! Identifiers are compared after RFC 3986 §6.2.2 normalisation: scheme and
//! host case-insensitively, a default port and a trailing slash ignored,
//! the rest (path, query) exactly; tokens carry the configured spelling.

use sea_orm::ConnectionTrait;

use crate::crypto;
use crate::oauth::client::store as clients;
use crate::oauth::error::OAuthError;
use crate::oauth::params::quote;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_RESOURCE_LEN: usize = 2000;

/// A resource identifier a resource server may be created with: an
/// absolute http(s) URL with a host, no user information, no query, no
/// fragment (RFC 8707 §2), at most 2000 bytes.
pub fn validate_resource(value: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("--resource {}: {why}", quote(value)));
    if value.len() > MAX_RESOURCE_LEN {
        return bad("is longer than 2000 bytes");
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("contains whitespace or control characters");
    }
    let url = match url::Url::parse(value) {
        Ok(u) => u,
        Err(e) => return bad(&format!("is not an absolute URL ({e})")),
    };
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return bad("must be an http(s) URL with a host, e.g. https://api.example.com");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return bad("must not contain user information");
    }
    if url.query().is_some() || value.contains('?') {
        return bad("must not have a query (RFC 8707 §2)");
    }
    if url.fragment().is_some() || value.contains('#') {
        return bad("must not have a fragment (RFC 8707 §2)");
    }
    Ok(())
}

/// A resource server's display name: 1 to 200 characters, no control
/// characters.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("--name must not be empty".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("--name is longer than {MAX_NAME_CHARS} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("--name must not contain control characters".into());
    }
    Ok(())
}

/// The credentials of a new resource server, shown once.
pub struct Created {
    pub client_id: String,
    pub client_secret: String,
}

/// `skedcast-auth resource-server create`: store a confidential client of
/// kind `resource_server` for `resource`.
pub async fn create_resource_server(
    db: &impl ConnectionTrait,
    name: &str,
    resource: &str,
) -> anyhow::Result<Created> {
    validate_name(name).map_err(anyhow::Error::msg)?;
    validate_resource(resource).map_err(anyhow::Error::msg)?;
    let client_id = crypto::b64url(&crypto::random_bytes::<16>());
    let client_secret = crypto::random_token();
    clients::insert_resource_server(
        db,
        &client_id,
        name,
        resource,
        crypto::sha256_hex(&client_secret),
        crate::clock::now(),
    )
    .await?;
    Ok(Created {
        client_id,
        client_secret,
    })
}

/// The shape RFC 8707 §2 requires of a requested resource: an absolute URI
/// without a fragment.
fn check_shape(resource: &str) -> Result<(), OAuthError> {
    let ok = resource.len() <= MAX_RESOURCE_LEN
        && !resource.contains('#')
        && url::Url::parse(resource).is_ok();
    if ok {
        Ok(())
    } else {
        Err(OAuthError::invalid_target(format!(
            "resource {} is not an absolute URI without a fragment (RFC 8707 §2)",
            quote(resource)
        )))
    }
}

/// A resource identifier normalised for comparison: scheme and host
/// lower-cased (RFC 3986 §6.2.2.1), default port dropped and dot segments
/// removed (§6.2.3, both done by the URL parser), no trailing slash.
/// `None` when it is not an absolute URI.
pub fn canonical(s: &str) -> Option<String> {
    url::Url::parse(s)
        .ok()
        .map(|u| u.as_str().trim_end_matches('/').to_string())
}

/// Whether two resource identifiers name the same resource.
pub fn same(a: &str, b: &str) -> bool {
    a == b || matches!((canonical(a), canonical(b)), (Some(x), Some(y)) if x == y)
}

/// The served resource `presented` names, spelled as configured (the
/// default or a registered resource server's); `None` when it is none of them.
pub async fn resolve(
    db: &impl ConnectionTrait,
    default: &str,
    presented: &str,
) -> Result<Option<String>, sea_orm::DbErr> {
    if same(presented, default) {
        return Ok(Some(default.to_string()));
    }
    if canonical(presented).is_none() {
        return Ok(None);
    }
    let registered = clients::resource_servers(db).await?;
    Ok(registered
        .into_iter()
        .map(|(r, _)| r)
        .find(|r| same(presented, r)))
}

/// The name of the resource server that owns `resource` (given with
/// `resource-server create --name`), if one does.
pub async fn name(
    db: &impl ConnectionTrait,
    resource: &str,
) -> Result<Option<String>, sea_orm::DbErr> {
    let servers = clients::resource_servers(db).await?;
    Ok(servers
        .into_iter()
        .find(|(r, _)| same(r, resource))
        .and_then(|(_, name)| name))
}

/// The audience of a token requested with the `resource` parameters
/// `requested`: the one resource when it is a known resource, `default`
/// when there is none.
pub async fn audience(
    db: &impl ConnectionTrait,
    default: &str,
    requested: &[String],
) -> Result<String, OAuthError> {
    let Some(resource) = requested.first() else {
        return Ok(default.to_string());
    };
    if requested.len() > 1 {
        return Err(OAuthError::invalid_target(
            "more than one resource was requested; this server issues a token for one resource \
             at a time (send a single resource parameter)",
        ));
    }
    check_shape(resource)?;
    resolve(db, default, resource)
        .await
        .map_err(|e| OAuthError::db(e, "find resource"))?
        .ok_or_else(|| {
            OAuthError::invalid_target(format!(
                "resource {} is not a resource this server issues tokens for (omit resource for \
                 the default, {default})",
                quote(resource)
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::error::ErrorCode;

    #[test]
    fn resource_server_identifiers() {
        for ok in [
            "https://api.example.com",
            "http://127.0.0.1:8081",
            "https://api.example.com/v1/",
        ] {
            assert_eq!(validate_resource(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("api.example.com", "not an absolute URL"),
            ("ftp://api.example.com", "http(s)"),
            ("https://u:p@api.example.com", "user information"),
            ("https://api.example.com/?x=1", "query"),
            ("https://api.example.com/#f", "fragment"),
            ("https://api.example.com/ x", "whitespace"),
            ("urn:example:api", "http(s)"),
        ] {
            let e = validate_resource(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
            assert!(e.starts_with("--resource"), "{e}");
        }
    }

    #[test]
    fn names() {
        assert!(validate_name("Scheduling API").is_ok());
        assert!(validate_name(" ").is_err());
        assert!(validate_name("a\nb").is_err());
        assert!(validate_name(&"x".repeat(201)).is_err());
    }

    #[test]
    fn scheme_and_host_compare_case_insensitively() {
        let api = "http://127.0.0.1:8081";
        for same_one in [
            api,
            "HTTP://127.0.0.1:8081",
            "http://127.0.0.1:8081/",
            "Http://127.0.0.1:8081/",
        ] {
            assert!(same(api, same_one), "{same_one}");
        }
        assert!(same(
            "https://API.Example.com/v1",
            "https://api.example.com:443/v1"
        ));
        for other in [
            "http://127.0.0.1:8082",
            "https://127.0.0.1:8081",
            "https://api.example.com/V1",
            "https://api.example.com/v1?x=1",
            "not a uri",
        ] {
            assert!(
                !same(api, other) && !same("https://api.example.com/v1", other),
                "{other}"
            );
        }
    }

    #[test]
    fn requested_resource_shape() {
        assert!(check_shape("https://api.example.com").is_ok());
        assert!(check_shape("urn:example:api").is_ok());
        for bad in ["relative/path", "https://a.example/#x", ""] {
            assert_eq!(
                check_shape(bad).unwrap_err().code,
                ErrorCode::InvalidTarget,
                "{bad}"
            );
        }
    }
}
