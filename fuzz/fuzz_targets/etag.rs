//! `EntityTag::parse`.
//!
//! Checks: no panic; a parsed tag's `to_header_value()` parses to an equal tag; the
//! comparison functions agree with RFC 9110 §8.8.3.2 on the tag itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use statuskit::etag::{EntityTag, EntityTagList};

fuzz_target!(|data: &[u8]| {
    let Ok(tag) = EntityTag::parse(data) else { return };
    let value = tag.to_header_value();
    let again = EntityTag::parse(value.as_bytes())
        .unwrap_or_else(|e| panic!("{value:?} (from {tag:?}) does not re-parse: {e}"));
    assert_eq!(again, tag, "{value:?}");
    assert!(tag.weak_eq(&tag));
    assert_eq!(tag.strong_eq(&tag), !tag.is_weak());
    let _ = tag.to_string();
    // One tag is also a one-element list.
    assert_eq!(EntityTagList::parse(value.as_bytes()), Ok(EntityTagList::Tags(vec![tag])));
});
