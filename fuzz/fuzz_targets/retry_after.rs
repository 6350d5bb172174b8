//! `RetryAfter::parse`.
//!
//! Checks: no panic; `to_header_value()` of a parsed value parses to an equal value (seconds
//! stay seconds, every HTTP-date form comes back as the same instant); `delay_from` is total.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use statuskit::retry_after::RetryAfter;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = RetryAfter::parse(data) else { return };
    let value = parsed.to_header_value();
    let again = RetryAfter::parse(value.as_bytes())
        .unwrap_or_else(|e| panic!("{value:?} (from {parsed:?}) does not re-parse: {e}"));
    assert_eq!(again, parsed, "{value:?}");
    if let RetryAfter::Date(at) = parsed {
        // HTTP-dates are whole seconds.
        assert_eq!(at.duration_since(UNIX_EPOCH).ok().map(|d| d.subsec_nanos()), Some(0), "{at:?}");
    }
    for now in [UNIX_EPOCH, UNIX_EPOCH + Duration::from_secs(4_102_444_800), SystemTime::now()] {
        let _ = parsed.delay_from(now);
    }
});
