//! The checked-in `openapi/openapi.json` is what the code serves.
//! Regenerate with `cargo run -q -- openapi > openapi/openapi.json`.

mod common;

use common::*;

#[tokio::test]
async fn checked_in_spec_matches_the_code() {
    let app = spawn_app().await;
    let served = app.get_json("/openapi.json").await;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let text = std::fs::read_to_string(path).expect("openapi/openapi.json");
    let checked_in: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert!(
        served == checked_in,
        "openapi/openapi.json is stale: run `cargo run -q -- openapi > openapi/openapi.json`"
    );
}
