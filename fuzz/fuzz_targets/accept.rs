//! `Accept::parse` and `select`.
//!
//! Input: the `Accept` field value, then optionally `\n` and one offer per line (any UTF-8).
//! Checks: no panic; every parsed range is well formed; re-rendering the parsed ranges and
//! parsing that gives the same `Accept`; `select` picks an in-range offer with the highest
//! positive quality, ties to the earliest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use statuskit::header::is_tchar;
use statuskit::negotiate::{select, Accept};

const FIXED_OFFERS: [&str; 5] =
    ["application/json", "application/xml", "application/problem+json", "application/problem+xml", "text/plain"];

/// The ranges as a field value: `type/subtype;p0=x;...;q=0.500`.
fn render(accept: &Accept) -> String {
    accept
        .0
        .iter()
        .map(|r| {
            let mut s = format!("{}/{}", r.kind, r.subtype);
            for i in 0..r.params {
                s.push_str(&format!(";p{i}=x"));
            }
            s.push_str(&format!(";q={}.{:03}", r.q / 1000, r.q % 1000));
            s
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_select(accept: &Accept, offers: &[&str]) {
    assert_eq!(select(None, offers), (!offers.is_empty()).then_some(0));
    let chosen = select(Some(accept), offers);
    let qualities: Vec<u16> = offers.iter().map(|o| accept.quality(o)).collect();
    for &q in &qualities {
        assert!(q <= 1000, "quality {q} above 1000");
    }
    let best = qualities.iter().copied().max().unwrap_or(0);
    match chosen {
        None => assert_eq!(best, 0, "406 although an offer has q={best}"),
        Some(i) => {
            assert!(i < offers.len(), "index {i} out of {} offers", offers.len());
            assert!(qualities[i] > 0);
            assert_eq!(qualities[i], best, "not the best offer");
            assert_eq!(qualities.iter().position(|&q| q == best), Some(i), "tie not given to the earliest offer");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (field, rest) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let Ok(accept) = Accept::parse(field) else { return };

    for r in &accept.0 {
        assert!(r.q <= 1000, "q {} above 1000", r.q);
        assert!(!r.kind.is_empty() && !r.subtype.is_empty());
        assert!(r.kind.bytes().all(|b| is_tchar(b) && !b.is_ascii_uppercase()), "kind {:?}", r.kind);
        assert!(r.subtype.bytes().all(|b| is_tchar(b) && !b.is_ascii_uppercase()), "subtype {:?}", r.subtype);
        assert!(r.kind != "*" || r.subtype == "*", "*/{}", r.subtype);
    }

    let rendered = render(&accept);
    assert_eq!(Accept::parse(rendered.as_bytes()).as_ref(), Ok(&accept), "re-parsing {rendered:?}");

    check_select(&accept, &FIXED_OFFERS);
    if let Some(rest) = rest.and_then(|r| std::str::from_utf8(r).ok()) {
        let offers: Vec<&str> = rest.split('\n').collect();
        check_select(&accept, &offers);
    }
});
