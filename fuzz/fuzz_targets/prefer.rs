//! `respond::prefers_minimal` (the `Prefer` header, RFC 7240).
//!
//! Input: one or more `Prefer` field lines separated by `\n`; lines `HeaderValue::from_bytes`
//! rejects are left out.
//! Checks: no panic; several lines mean the same as any one of them asking for
//! `return=minimal`, and joining the lines with `,` into one field gives the same answer.
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use statuskit::respond::prefers_minimal;

const PREFER: http::HeaderName = http::HeaderName::from_static("prefer");

fn one(value: &HeaderValue) -> bool {
    let mut h = HeaderMap::new();
    h.insert(PREFER, value.clone());
    prefers_minimal(&h)
}

fuzz_target!(|data: &[u8]| {
    let values: Vec<HeaderValue> =
        data.split(|&b| b == b'\n').filter_map(|v| HeaderValue::from_bytes(v).ok()).collect();
    let mut all = HeaderMap::new();
    for v in &values {
        all.append(PREFER, v.clone());
    }
    let answer = prefers_minimal(&all);
    let per_line: Vec<bool> = values.iter().map(one).collect();
    assert_eq!(answer, per_line.iter().any(|&b| b), "lines {values:?}");

    // Lines that are not UTF-8 are ignored whole, so only join the visible-text ones.
    let text: Vec<&str> = values.iter().filter_map(|v| v.to_str().ok()).collect();
    if text.len() == values.len() && !values.is_empty() {
        let joined = HeaderValue::from_str(&text.join(",")).expect("joined visible text is a valid value");
        assert_eq!(one(&joined), answer, "joined {joined:?}");
    }
});
