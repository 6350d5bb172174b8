//! `negotiate::Format::Json.decode::<Item>(_)`.
//!
//! Checks: no panic; a failure is a 400 or a 422; a decoded value serialized by serde_json
//! decodes to an equal value.
#![no_main]

mod common;

use common::{assert_400_or_422, Item};
use libfuzzer_sys::fuzz_target;
use statuskit::negotiate::Format;

fuzz_target!(|data: &[u8]| {
    let item = match Format::Json.decode::<Item>(data) {
        Ok(item) => item,
        Err(problem) => return assert_400_or_422(&problem),
    };
    let bytes = serde_json::to_vec(&item).expect("Item serializes");
    match Format::Json.decode::<Item>(&bytes) {
        Ok(again) => assert_eq!(again, item),
        Err(p) => panic!("{} (from {item:?}) does not decode: {}", String::from_utf8_lossy(&bytes), p.detail()),
    }
    // Any JSON value also decodes without panicking.
    if let Err(problem) = Format::Json.decode::<serde_json::Value>(data) {
        assert_400_or_422(&problem);
    }
});
