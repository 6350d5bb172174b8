//! Content negotiation (RFC 9110 §12.5.1): `Accept` with q-values and wildcards; 406 when nothing
//! listed can be produced.
//!
//! Written here because the selection rule (the most specific matching range decides an offer's
//! q; ties go to the server's order) is a few lines, and the `mime` crate parses one type but not
//! a weighted list.
//!
//! ```
//! use statuskit::negotiate::{select, Accept};
//!
//! let accept = Accept::parse(b"application/xml;q=0.9, application/*;q=0.1").unwrap();
//! let offers = ["application/json", "application/xml"];
//! assert_eq!(select(Some(&accept), &offers), Some(1));
//! assert_eq!(select(None, &offers), Some(0));
//! let png = Accept::parse(b"image/png").unwrap();
//! assert_eq!(select(Some(&png), &offers), None); // → 406
//! ```

use std::fmt;

use axum::extract::FromRequestParts;
use http::request::Parts;
use http::HeaderMap;

use crate::header::{is_token, mime, ACCEPT};
use crate::problem::Problem;

/// One `media-range` with its weight (0..=1000, thousandths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRange {
    /// Type, lower-cased, or `*`.
    pub kind: String,
    /// Subtype, lower-cased, or `*`.
    pub subtype: String,
    /// Number of media-type parameters other than `q` (they make a range more specific).
    pub params: usize,
    /// Weight in thousandths.
    pub q: u16,
}

/// A parsed `Accept` field: the ranges that parsed. Elements that do not parse are skipped, as
/// real clients send some (`*; q=.2`); only a field with nothing usable is an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accept(pub Vec<MediaRange>);

/// `Accept` held no usable media range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidAccept;

impl fmt::Display for InvalidAccept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the Accept header holds no valid media range (expected e.g. application/json;q=0.9)")
    }
}

impl std::error::Error for InvalidAccept {}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn parse_q(s: &str) -> Option<u16> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = frac.bytes().fold(0, |acc, b| acc * 10 + u16::from(b - b'0'));
    thousandths *= 10u16.pow(3 - frac.len() as u32);
    match int {
        // "" is not in the grammar, but Java's HttpURLConnection sends "q=.2".
        "0" | "" if !(int.is_empty() && frac.is_empty()) => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

fn parse_range(element: &str) -> Option<MediaRange> {
    let mut parts = element.split(';');
    let media = parts.next()?.trim();
    let (kind, subtype) = if media == "*" { ("*", "*") } else { media.split_once('/')? };
    if !is_token(kind) || !is_token(subtype) {
        return None;
    }
    if kind == "*" && subtype != "*" {
        return None;
    }
    let mut q = 1000;
    let mut params = 0;
    for param in parts {
        let (name, value) = param.trim().split_once('=')?;
        let name = name.trim_end();
        if name.eq_ignore_ascii_case("q") {
            q = parse_q(value.trim_start())?;
            break; // what follows q are accept-ext parameters, which do not affect matching
        }
        params += 1;
    }
    Some(MediaRange { kind: kind.to_ascii_lowercase(), subtype: subtype.to_ascii_lowercase(), params, q })
}

impl Accept {
    /// Parses one field value.
    pub fn parse(value: &[u8]) -> Result<Self, InvalidAccept> {
        Self::parse_lines(std::iter::once(value))
    }

    /// Parses every `Accept` field line as one list.
    pub fn parse_lines<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Result<Self, InvalidAccept> {
        let mut ranges = Vec::new();
        let mut saw_element = false;
        for line in lines {
            let Ok(text) = std::str::from_utf8(line) else {
                continue;
            };
            // Quoted parameter values containing commas are not used by any media type we
            // offer; a split element that fails to parse is skipped like any other.
            for element in text.split(',') {
                if element.trim().is_empty() {
                    continue;
                }
                saw_element = true;
                if let Some(range) = parse_range(element) {
                    ranges.push(range);
                }
            }
        }
        if saw_element && ranges.is_empty() {
            return Err(InvalidAccept);
        }
        Ok(Accept(ranges))
    }

    /// Reads `Accept` from request headers: `Ok(None)` when absent or empty (anything is
    /// acceptable).
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, InvalidAccept> {
        let lines = headers.get_all(ACCEPT);
        let mut iter = lines.iter();
        // `Accept: */*` alone (what curl and most libraries send) accepts anything, as no Accept
        // does: answered without parsing or allocating.
        if let (Some(only), None) = (iter.next(), iter.next()) {
            if only.as_bytes().trim_ascii() == b"*/*" {
                return Ok(None);
            }
        }
        let accept = Self::parse_lines(lines.iter().map(|v| v.as_bytes()))?;
        Ok((!accept.0.is_empty()).then_some(accept))
    }

    /// The weight this field gives `offer` (`type/subtype`): the q of the most specific matching
    /// range, or 0 if none matches.
    pub fn quality(&self, offer: &str) -> u16 {
        let (kind, subtype) = offer.split_once('/').unwrap_or((offer, ""));
        let mut best: Option<(u8, usize, u16)> = None;
        for r in &self.0 {
            let specificity = if r.kind == "*" {
                0
            } else if !r.kind.eq_ignore_ascii_case(kind) {
                continue;
            } else if r.subtype == "*" {
                1
            } else if r.subtype.eq_ignore_ascii_case(subtype) {
                2
            } else {
                continue;
            };
            let key = (specificity, r.params, r.q);
            if best.is_none_or(|b| (key.0, key.1) > (b.0, b.1)) {
                best = Some(key);
            }
        }
        best.map_or(0, |b| b.2)
    }
}

/// Index of the offer to send: the highest q above 0, ties to the earlier offer. `None` means 406.
/// With no `Accept` at all the first offer is chosen.
pub fn select(accept: Option<&Accept>, offers: &[&str]) -> Option<usize> {
    let Some(accept) = accept else {
        return (!offers.is_empty()).then_some(0);
    };
    let mut best: Option<(usize, u16)> = None;
    for (i, offer) in offers.iter().enumerate() {
        let q = accept.quality(offer);
        if q > 0 && best.is_none_or(|(_, bq)| q > bq) {
            best = Some((i, q));
        }
    }
    best.map(|(i, _)| i)
}

/// The problem format a client prefers: XML only when it ranks an XML type above every JSON one.
/// Problems may be sent as JSON whatever `Accept` says (RFC 9457 §3), so this never fails.
pub fn problem_format(headers: &HeaderMap) -> Format {
    let Ok(Some(accept)) = Accept::from_headers(headers) else {
        return Format::Json;
    };
    let offers = [mime::PROBLEM_JSON, mime::JSON, mime::PROBLEM_XML, mime::XML];
    match select(Some(&accept), &offers) {
        Some(2 | 3) => Format::Xml,
        _ => Format::Json,
    }
}

/// JSON or XML, the two syntaxes of the contract (§3.3), wherever one is chosen: the
/// representation a handler produces (chosen by `Accept`), a request body's syntax (from its
/// `Content-Type`, see [`Format::decode`]), and how a problem body is written
/// (`application/problem+json` or `application/problem+xml`, RFC 9457 Appendix B).
///
/// As an extractor it is the representation to produce; extracting it answers 406 (in JSON, listing what is available) when neither is acceptable,
/// and 400 when `Accept` is unreadable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/json`.
    Json,
    /// `application/xml`.
    Xml,
}

impl Format {
    /// The media types a JSON-or-XML resource offers, in preference order.
    pub const OFFERS: [&'static str; 2] = [mime::JSON, mime::XML];

    /// Chooses from request headers.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, Problem> {
        let accept = Accept::from_headers(headers).map_err(|e| Problem::bad_request(e.to_string()))?;
        match select(accept.as_ref(), &Self::OFFERS) {
            Some(0) => Ok(Format::Json),
            Some(_) => Ok(Format::Xml),
            None => Err(Problem::not_acceptable(&Self::OFFERS)),
        }
    }

    /// The `Content-Type` value to send.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => mime::JSON_UTF8,
            Format::Xml => mime::XML_UTF8,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Format {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Format::from_headers(&parts.headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OFFERS: [&str; 2] = ["application/json", "application/xml"];

    fn pick(accept: &str) -> Option<usize> {
        select(Some(&Accept::parse(accept.as_bytes()).unwrap()), &OFFERS)
    }

    #[test]
    fn wildcards_and_weights() {
        assert_eq!(pick("*/*"), Some(0));
        assert_eq!(pick("application/*"), Some(0));
        assert_eq!(pick("application/xml"), Some(1));
        assert_eq!(pick("APPLICATION/XML"), Some(1));
        assert_eq!(pick("application/json;q=0.5, application/xml"), Some(1));
        assert_eq!(pick("application/json;q=0, */*"), Some(1));
        assert_eq!(pick("*/*;q=0.1, application/json;q=0"), Some(1));
        assert_eq!(pick("text/html"), None);
        assert_eq!(pick("application/*;q=0"), None);
        // Java's default Accept contains a bare "*", which we read as */*.
        assert_eq!(pick("text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2"), Some(0));
    }

    #[test]
    fn q_values() {
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("1.000"), Some(1000));
        assert_eq!(parse_q("0.5"), Some(500));
        assert_eq!(parse_q("0.05"), Some(50));
        assert_eq!(parse_q("0."), Some(0));
        assert_eq!(parse_q("1.5"), None);
        assert_eq!(parse_q("0.1234"), None);
        assert_eq!(parse_q("2"), None);
    }

    #[test]
    fn garbage_is_an_error_but_one_bad_element_is_skipped() {
        assert_eq!(Accept::parse(b"nonsense"), Err(InvalidAccept));
        assert_eq!(Accept::parse(b"text/html;q=7, application/xml").unwrap().0.len(), 1);
    }

    #[test]
    fn problem_format_prefers_json_on_ties() {
        let mut h = HeaderMap::new();
        assert_eq!(problem_format(&h), Format::Json);
        h.insert(ACCEPT, "application/xml".parse().unwrap());
        assert_eq!(problem_format(&h), Format::Xml);
        h.insert(ACCEPT, "application/problem+xml, application/json;q=0.5".parse().unwrap());
        assert_eq!(problem_format(&h), Format::Xml);
        h.insert(ACCEPT, "*/*".parse().unwrap());
        assert_eq!(problem_format(&h), Format::Json);
    }

    fn arb_range() -> impl Strategy<Value = (String, u16)> {
        (prop_oneof!["\\*/\\*", "[a-z]{1,8}/\\*", "[a-z]{1,8}/[a-z+.-]{1,10}"], 0u16..=1000)
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(a) = Accept::parse(&bytes) {
                let _ = select(Some(&a), &OFFERS);
            }
        }

        #[test]
        fn round_trip(ranges in proptest::collection::vec(arb_range(), 1..6)) {
            let text = ranges.iter()
                .map(|(m, q)| format!("{m};q={}.{:03}", q / 1000, q % 1000))
                .collect::<Vec<_>>()
                .join(", ");
            let parsed = Accept::parse(text.as_bytes()).unwrap();
            prop_assert_eq!(parsed.0.len(), ranges.len());
            for (r, (m, q)) in parsed.0.iter().zip(&ranges) {
                prop_assert_eq!(format!("{}/{}", r.kind, r.subtype), m.clone());
                prop_assert_eq!(r.q, *q);
            }
        }

        #[test]
        fn an_exact_match_with_positive_q_is_never_406(q in 1u16..=1000) {
            let text = format!("application/xml;q=0.{:03}", q.min(999));
            prop_assert!(pick(&text).is_some());
        }
    }
}
