//! `body::content_type_essence`.
//!
//! Checks: no panic; an essence is lower-case `token/token` and is its own essence, also with
//! parameters appended.
#![no_main]

use libfuzzer_sys::fuzz_target;
use statuskit::body::content_type_essence;

fuzz_target!(|data: &[u8]| {
    let Some(essence) = content_type_essence(data) else { return };
    assert!(!essence.bytes().any(|b| b.is_ascii_uppercase()), "{essence:?} is not lower-case");
    assert_eq!(essence.bytes().filter(|&b| b == b'/').count(), 1, "{essence:?}");
    assert_eq!(content_type_essence(essence.as_bytes()).as_deref(), Some(&*essence));
    let with_params = format!("{essence}; charset=utf-8");
    assert_eq!(content_type_essence(with_params.as_bytes()).as_deref(), Some(&*essence));
});
