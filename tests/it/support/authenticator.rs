//! A software passkey: a platform authenticator as WebAuthn Level 2
//! describes it (ES256 key, "none" attestation, user present and verified,
//! a signature counter), answering the options the passkey endpoints send
//! the way a browser would hand them over, so those endpoints can be
//! tested over plain HTTP. Built by hand from the specification (CBOR,
//! authenticator data, client data), independently of webauthn-rs. The
//! browser test uses Chromium's own virtual authenticator instead.

use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::Generate;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64url(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .unwrap()
}

/// CBOR (RFC 8949) item heads, enough for attestation objects and COSE keys.
fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
        _ => {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        }
    }
}

fn int(out: &mut Vec<u8>, i: i64) {
    if i >= 0 {
        head(out, 0, i as u64);
    } else {
        head(out, 1, (-1 - i) as u64);
    }
}

fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}

fn text(out: &mut Vec<u8>, s: &str) {
    head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Flags of authenticator data (WebAuthn §6.1).
const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

/// One credential held by the software authenticator.
pub struct SoftPasskey {
    pub credential_id: Vec<u8>,
    /// The user handle the server gave at registration.
    pub user_handle: Vec<u8>,
    pub rp_id: String,
    key: SigningKey,
    counter: u32,
    /// Sign with the user verified (UV); false imitates an authenticator
    /// that only tested presence.
    pub verify_user: bool,
}

fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
    json!({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false})
        .to_string()
        .into_bytes()
}

impl SoftPasskey {
    /// Make a credential for the `options` of a registration start
    /// (`{"publicKey": {...}}`) at `origin`; returns it and the credential
    /// JSON the script would send.
    pub fn create(options: &Value, origin: &str) -> (SoftPasskey, Value) {
        let pk = &options["publicKey"];
        let rp_id = pk["rp"]["id"].as_str().unwrap().to_string();
        let challenge = pk["challenge"].as_str().unwrap();
        let user_handle = unb64url(pk["user"]["id"].as_str().unwrap());
        let key = SigningKey::generate_from_rng(&mut rand::rng());
        let credential_id: Vec<u8> = rand::random::<[u8; 32]>().to_vec();
        let point = key.verifying_key().to_sec1_point(false);
        // COSE_Key (RFC 9053): kty EC2, alg ES256, crv P-256, x, y.
        let mut cose = Vec::new();
        head(&mut cose, 5, 5);
        for (k, v) in [(1, 2), (3, -7), (-1, 1)] {
            int(&mut cose, k);
            int(&mut cose, v);
        }
        int(&mut cose, -2);
        bytes(&mut cose, point.x().unwrap());
        int(&mut cose, -3);
        bytes(&mut cose, point.y().unwrap());

        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(UP | UV | AT);
        auth_data.extend(0u32.to_be_bytes());
        auth_data.extend([0u8; 16]); // AAGUID: none.
        auth_data.extend((credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&credential_id);
        auth_data.extend(&cose);

        let mut attestation = Vec::new();
        head(&mut attestation, 5, 3);
        text(&mut attestation, "fmt");
        text(&mut attestation, "none");
        text(&mut attestation, "attStmt");
        head(&mut attestation, 5, 0);
        text(&mut attestation, "authData");
        bytes(&mut attestation, &auth_data);

        let cdj = client_data("webauthn.create", challenge, origin);
        let credential = json!({
            "id": b64url(&credential_id),
            "rawId": b64url(&credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": b64url(&attestation),
                "clientDataJSON": b64url(&cdj),
                "transports": ["internal"],
            },
            "extensions": {},
        });
        let passkey = SoftPasskey {
            credential_id,
            user_handle,
            rp_id,
            key,
            counter: 0,
            verify_user: true,
        };
        (passkey, credential)
    }

    /// Sign the `options` of a sign-in start (`{"publicKey": {...}}`) at
    /// `origin`; returns the assertion JSON the script would send.
    pub fn get(&mut self, options: &Value, origin: &str) -> Value {
        let challenge = options["publicKey"]["challenge"].as_str().unwrap();
        self.counter += 1;
        let mut auth_data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        auth_data.push(if self.verify_user { UP | UV } else { UP });
        auth_data.extend(self.counter.to_be_bytes());
        let cdj = client_data("webauthn.get", challenge, origin);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&cdj));
        let sig: Signature = self.key.sign(&signed);
        json!({
            "id": b64url(&self.credential_id),
            "rawId": b64url(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64url(&auth_data),
                "clientDataJSON": b64url(&cdj),
                "signature": b64url(sig.to_der().as_bytes()),
                "userHandle": b64url(&self.user_handle),
            },
            "extensions": {},
        })
    }
}
