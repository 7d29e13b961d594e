//! Who we are to an authenticator (WebAuthn §5.4.2, "relying party"),
//! derived from the issuer alone: the RP ID is the issuer's host and the
//! only accepted origin is the issuer's origin (scheme, host, port; an
//! issuer path plays no part). Credentials are bound to the RP ID, so
//! changing the issuer's host orphans every passkey.
//!
//! Browsers offer WebAuthn only in a secure context, and an RP ID must be a
//! domain: passkeys are available when the issuer is https on a domain, or
//! plain http on `localhost` (or a name under `.localhost`). An issuer on
//! an IP address (e.g. `http://127.0.0.1:8080`) has no passkeys.

use std::time::Duration;

use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{CreationChallengeResponse, Url, Uuid};
use webauthn_rs::{Webauthn, WebauthnBuilder};
use webauthn_rs_proto::ResidentKeyRequirement;

/// The name authenticators show beside the account.
pub const RP_NAME: &str = "SkedCast";

/// The RP ID and origin of `issuer`, when passkeys can work there (see the
/// module comment). Pure.
pub fn rp_of(issuer: &str) -> Option<(String, Url)> {
    let url = Url::parse(issuer).ok()?;
    let host = url.domain()?.to_ascii_lowercase();
    let localhost = host == "localhost" || host.ends_with(".localhost");
    let secure = match url.scheme() {
        "https" => true,
        "http" => localhost,
        _ => false,
    };
    if !secure {
        return None;
    }
    let origin = Url::parse(&url.origin().ascii_serialization()).ok()?;
    Some((host, origin))
}

/// The WebAuthn relying party of `issuer`, or None when passkeys are not
/// available there. Cheap (a few strings): made per ceremony rather than
/// kept in the app state. Ceremonies time out with their database row.
pub fn for_issuer(issuer: &str) -> Option<Webauthn> {
    let (rp_id, origin) = rp_of(issuer)?;
    let built = WebauthnBuilder::new(&rp_id, &origin)
        .map(|b| {
            b.rp_name(RP_NAME)
                .timeout(Duration::from_secs(super::ceremony::TTL_SECS as u64))
        })
        .and_then(WebauthnBuilder::build);
    match built {
        Ok(rp) => Some(rp),
        Err(e) => {
            tracing::warn!(error = %e, rp_id, "passkeys unavailable for this issuer");
            None
        }
    }
}

/// The WebAuthn user handle of a member: their id when it is a UUID (every
/// account made by the server), otherwise the first 16 bytes of its SHA-256.
/// Never an email (user handles must not identify a person). Pure.
pub fn user_handle(user_id: &str) -> Uuid {
    Uuid::parse_str(user_id).unwrap_or_else(|_| {
        let digest = Sha256::digest(format!("skedcast-user-handle:{user_id}").as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Uuid::from_bytes(bytes)
    })
}

/// Ask the authenticator for a discoverable credential (one it can offer
/// without being told its id), so the passkey can later sign in alone.
/// webauthn-rs's passkey registration asks for none; its own checks of the
/// answer do not depend on it. Pure.
pub fn make_discoverable(ccr: &mut CreationChallengeResponse) {
    if let Some(sel) = ccr.public_key.authenticator_selection.as_mut() {
        sel.resident_key = Some(ResidentKeyRequirement::Required);
        sel.require_resident_key = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_secure_contexts_on_a_domain_have_passkeys() {
        let (id, origin) = rp_of("https://auth.example.com/tenant1").unwrap();
        assert_eq!(id, "auth.example.com");
        assert_eq!(origin.as_str(), "https://auth.example.com/");
        let (id, origin) = rp_of("http://localhost:8080").unwrap();
        assert_eq!(id, "localhost");
        assert_eq!(origin.as_str(), "http://localhost:8080/");
        assert_eq!(rp_of("http://app.localhost:1").unwrap().0, "app.localhost");
        assert_eq!(
            rp_of("https://Auth.Example.COM").unwrap().0,
            "auth.example.com"
        );
        for none in [
            "http://127.0.0.1:8080",
            "https://127.0.0.1",
            "http://[::1]:8080",
            "http://auth.example.com",
            "http://localhost.example.com",
            "ftp://localhost",
            "not a url",
        ] {
            assert!(rp_of(none).is_none(), "{none}");
        }
    }

    #[test]
    fn a_relying_party_is_built_for_usable_issuers() {
        assert!(for_issuer("http://localhost:1234").is_some());
        assert!(for_issuer("https://auth.example.com/t1").is_some());
        assert!(for_issuer("http://127.0.0.1:1234").is_none());
    }

    #[test]
    fn user_handles_are_stable_and_not_the_email() {
        let id = "6f1c2a9e-8a43-4d55-9b1e-2f0f4f4f1a10";
        assert_eq!(user_handle(id).to_string(), id);
        let derived = user_handle("seed-user-17");
        assert_eq!(derived, user_handle("seed-user-17"));
        assert_ne!(derived, user_handle("seed-user-18"));
    }

    #[test]
    fn registration_asks_for_a_discoverable_credential() {
        let rp = for_issuer("http://localhost:1234").unwrap();
        let (mut ccr, _state) = rp
            .start_passkey_registration(user_handle("u"), "ann@example.com", "Ann", None)
            .unwrap();
        make_discoverable(&mut ccr);
        let json = serde_json::to_value(&ccr).unwrap();
        let sel = &json["publicKey"]["authenticatorSelection"];
        assert_eq!(sel["residentKey"], "required");
        assert_eq!(sel["requireResidentKey"], true);
        assert_eq!(sel["userVerification"], "required");
        assert_eq!(json["publicKey"]["rp"]["id"], "localhost");
    }
}
