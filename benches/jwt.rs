//! ES256 on the hot path: sign and verify one access-token-sized JWT with
//! josekit (OpenSSL), the library the service uses, and p256 for comparison.
//!
//! Run: `cargo bench --bench jwt`

use criterion::{Criterion, criterion_group, criterion_main};
use josekit::jws::{ES256, JwsHeader};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::pkcs8::DecodePrivateKey;

fn claims() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "iss": "https://auth.skedcast.example",
        "sub": "0f9a4c1e-8d2b-4e57-9a43-6c1d2e3f4a5b",
        "aud": "https://api.skedcast.example",
        "client_id": "dyn_7h3kq9x2m4p8r1t6",
        "scope": "agency:read posts:read posts:write analytics:read",
        "iat": 1_795_000_000u64, "exp": 1_795_000_900u64,
        "jti": "5d0c7e9a-1b2f-4c3d-8e4f-a5b6c7d8e9f0",
        "agency_id": "7c2e9f40-1a3b-4d5e-8f60-718293a4b5c6",
        "role": "editor",
    }))
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let key = skedcast_auth::keys::material::generate().unwrap();
    let signer = ES256.signer_from_pem(&key.private_pem).unwrap();
    let jwk = josekit::jwk::Jwk::from_bytes(
        skedcast_auth::keys::material::public_jwk(&key.kid, &key.x, &key.y).to_string(),
    )
    .unwrap();
    let verifier = ES256.verifier_from_jwk(&jwk).unwrap();
    let mut header = JwsHeader::new();
    header.set_token_type("at+jwt");
    header.set_key_id(key.kid.clone());
    let payload = claims();
    let token = josekit::jws::serialize_compact(&payload, &header, &signer).unwrap();

    c.bench_function("josekit_es256_sign", |b| {
        b.iter(|| josekit::jws::serialize_compact(&payload, &header, &signer).unwrap())
    });
    c.bench_function("josekit_es256_verify", |b| {
        b.iter(|| josekit::jws::deserialize_compact(&token, &verifier).unwrap())
    });

    let sk = p256::ecdsa::SigningKey::from_pkcs8_pem(&key.private_pem).unwrap();
    let vk = *sk.verifying_key();
    let (input, _) = token.rsplit_once('.').unwrap();
    let sig: p256::ecdsa::Signature = sk.sign(input.as_bytes());
    c.bench_function("p256_es256_sign", |b| {
        b.iter(|| -> p256::ecdsa::Signature { sk.sign(input.as_bytes()) })
    });
    c.bench_function("p256_es256_verify", |b| {
        b.iter(|| vk.verify(input.as_bytes(), &sig).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
