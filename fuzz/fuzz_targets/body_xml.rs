//! `negotiate::Format::Xml.decode::<Item>(_)` (the well-formedness pass, then quick-xml).
//!
//! Checks: no panic; a failure is a 400 or a 422; a decoded value serialized by quick-xml
//! decodes to an equal value, when its name survives XML text unchanged (quick-xml trims text
//! and XML 1.0 has no control characters).
#![no_main]

mod common;

use common::{assert_400_or_422, Item};
use libfuzzer_sys::fuzz_target;
use statuskit::negotiate::Format;

fn survives_xml_text(s: &str) -> bool {
    s.trim() == s && !s.chars().any(|c| c.is_control() || c.is_whitespace() && c != ' ')
}

fuzz_target!(|data: &[u8]| {
    let item = match Format::Xml.decode::<Item>(data) {
        Ok(item) => item,
        Err(problem) => return assert_400_or_422(&problem),
    };
    if !survives_xml_text(&item.name) {
        return;
    }
    let text = quick_xml::se::to_string(&item).expect("Item serializes");
    match Format::Xml.decode::<Item>(text.as_bytes()) {
        Ok(again) => assert_eq!(again, item, "{text}"),
        Err(p) => panic!("{text} (from {item:?}) does not decode: {}", p.detail()),
    }
});
