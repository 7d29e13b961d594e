//! TOTP (RFC 6238) as authenticator apps expect it: SHA-1, 6 digits,
//! 30-second steps, a 160-bit secret shown in base32. Pure functions; the
//! store decides whether a matching step was already used.

use base64::Engine;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::crypto::random_bytes;

/// Seconds per step (RFC 6238 §5.2's recommendation).
pub const STEP_SECS: i64 = 30;

/// A new secret, base32 (what the page shows and the store seals).
pub fn new_secret() -> String {
    Secret::from(random_bytes::<20>()).to_base32()
}

/// The generator for a base32 secret labelled `account` under `issuer`
/// (the name an app lists it by). `None` for a malformed secret.
fn generator(secret_b32: &str, issuer: &str, account: &str) -> Option<Totp> {
    let secret = Secret::try_from_base32(secret_b32).ok()?;
    // A colon is not allowed in either label (Key Uri Format).
    let clean = |s: &str| s.replace(':', " ");
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECS as u64)
        .with_secret(secret)
        .with_issuer(Some(clean(issuer)))
        .with_account_name(clean(account))
        .build()
        .ok()
}

/// Pure: the time step (now ±1) whose code `code` is, if any. Only six
/// digits are looked at (the crate compares in constant time).
pub fn matching_step(secret_b32: &str, code: &str, now: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = generator(secret_b32, "", "")?;
    let now = u64::try_from(now).ok()?;
    t.check(code, now).and_then(|s| i64::try_from(s).ok())
}

/// The `otpauth://` URI an app scans (Google Authenticator Key Uri Format).
pub fn otpauth_uri(secret_b32: &str, issuer: &str, account: &str) -> Option<String> {
    generator(secret_b32, issuer, account)?.to_url().ok()
}

/// The QR code of `uri` as an SVG `data:` URI (rendered here, no external
/// service; the pages' CSP allows `data:` images).
pub fn qr_data_uri(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    let b64 = base64::engine::general_purpose::STANDARD.encode(svg);
    Some(format!("data:image/svg+xml;base64,{b64}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_their_step_and_neighbours_only() {
        let s = new_secret();
        assert_eq!(s.len(), 32, "160 bits in base32");
        let t = generator(&s, "", "").unwrap();
        let now = 1_800_000_015_i64;
        let step = now / STEP_SECS;
        let code = |st: i64| t.generate((st * STEP_SECS) as u64).to_string();
        assert_eq!(matching_step(&s, &code(step), now), Some(step));
        assert_eq!(matching_step(&s, &code(step - 1), now), Some(step - 1));
        assert_eq!(matching_step(&s, &code(step + 1), now), Some(step + 1));
        assert_eq!(matching_step(&s, &code(step - 2), now), None);
        assert_eq!(matching_step(&s, "12345", now), None);
        assert_eq!(matching_step(&s, "abcdef", now), None);
        assert_eq!(matching_step("not base32!", "123456", now), None);
    }

    #[test]
    fn uri_and_qr() {
        let s = new_secret();
        let uri = otpauth_uri(&s, "SkedCast", "ann@example.com").unwrap();
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(uri.contains(&s));
        assert!(
            qr_data_uri(&uri)
                .unwrap()
                .starts_with("data:image/svg+xml;base64,")
        );
    }
}
