//! `EntityTagList::parse` (`If-Match`, `If-None-Match`).
//!
//! Checks: no panic; a parsed list's `to_header_value()` parses to an equal list; every tag in
//! the list matches it weakly (and strongly when it is strong).
#![no_main]

use libfuzzer_sys::fuzz_target;
use statuskit::etag::{EntityTag, EntityTagList};

fuzz_target!(|data: &[u8]| {
    let Ok(list) = EntityTagList::parse(data) else { return };
    let value = list.to_header_value();
    let again = EntityTagList::parse(value.as_bytes())
        .unwrap_or_else(|e| panic!("{value:?} (from {list:?}) does not re-parse: {e}"));
    assert_eq!(again, list, "{value:?}");
    match &list {
        EntityTagList::Any => {
            let t = EntityTag::strong("x").unwrap();
            assert!(list.matches_strong(&t) && list.matches_weak(&t));
        }
        EntityTagList::Tags(tags) => {
            for t in tags {
                assert!(list.matches_weak(t));
                if !t.is_weak() {
                    assert!(list.matches_strong(t));
                }
                // Each element alone is a valid `ETag` value.
                assert_eq!(EntityTag::parse(t.to_header_value().as_bytes()).as_ref(), Ok(t));
            }
        }
    }
});
