//! Access-token verification in-process: the pure pipeline (split, header,
//! ES256 signature, claims), the embedded `Verifier` with its token cache
//! off (every call a full check) and on (a repeated token); a DPoP proof
//! check (RFC 9449, the pure `dpop::verify`) and its JWK import alone.
//!
//! Run: `cargo bench --bench verify` (criterion prints verifications/s as
//! `thrpt`).

#[path = "support/mod.rs"]
mod support;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use skedcast_auth::verify::checks::{self, Algorithm, Expected};
use skedcast_auth::verify::{Verifier, VerifierConfig, jwks};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let services = rt.block_on(support::start(&[]));
    let token = rt.block_on(services.token(3600));
    let jwks_doc = rt.block_on(services.auth.keys.jwks());
    let (keys, _) = jwks::parse_jwks(&jwks_doc, Algorithm::Es256).unwrap();
    let expected = Expected {
        issuer: services.auth_base.clone(),
        resource: services.api_base.clone(),
        leeway_secs: 30,
    };
    let uncached = rt.block_on(async {
        Verifier::start(VerifierConfig {
            token_cache_size: 0,
            ..VerifierConfig::new(&services.auth_base, &services.api_base)
        })
        .await
        .unwrap()
    });
    let cached = services.verifier.clone();

    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(1));
    g.bench_function("pure_pipeline_es256", |b| {
        b.iter(|| {
            let parts = checks::split(&token).unwrap();
            let header = checks::parse_header(&parts.header).unwrap();
            let kid = checks::check_header(&header, Algorithm::Es256).unwrap();
            let key = keys.get(kid).unwrap();
            checks::check_signature(&parts, key.as_ref(), Algorithm::Es256).unwrap();
            let claims = checks::parse_claims(&parts.payload).unwrap();
            checks::check_claims(&claims, &expected, skedcast_auth::verify::now_unix()).unwrap();
            claims
        })
    });
    g.bench_function("verifier_full_check", |b| {
        b.iter(|| rt.block_on(uncached.verify_access_token(&token)).unwrap())
    });
    g.bench_function("verifier_cached_token", |b| {
        b.iter(|| rt.block_on(cached.verify_access_token(&token)).unwrap())
    });
    let key = skedcast_auth::verify::dpop::testing::ProofKey::es256();
    let htu = format!("{}/v1/agency", services.api_base);
    let now = skedcast_auth::verify::now_unix();
    let proof = key.proof("GET", &htu, now, Some(&token), None);
    g.bench_function("dpop_proof_es256", |b| {
        let expected = skedcast_auth::verify::dpop::Expected {
            htm: "GET",
            htu: &htu,
            now,
            window_secs: 60,
            access_token: Some(&token),
        };
        b.iter(|| skedcast_auth::verify::dpop::verify(&proof, &expected).unwrap())
    });
    g.bench_function("dpop_jwk_import_es256", |b| {
        let jwk = josekit::jwk::Jwk::from_map(key.public.clone()).unwrap();
        b.iter(|| josekit::jws::ES256.verifier_from_jwk(&jwk).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
