//! Registration JSON (RFC 7591): the body through `client::metadata::parse_object`
//! and the pure field-by-field `client::metadata::validate`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skedcast_auth::oauth::client::metadata as register;

fuzz_target!(|data: &[u8]| {
    let Ok(obj) = register::parse_object(data) else {
        return;
    };
    if let Ok(meta) = register::validate(&obj) {
        // Whatever is accepted validates again the same way once
        // re-serialised (no field depends on JSON formatting).
        let again = serde_json::to_vec(&obj).unwrap();
        let obj2 = register::parse_object(&again).unwrap();
        assert!(register::validate(&obj2).is_ok());
        let _ = meta;
    }
});
