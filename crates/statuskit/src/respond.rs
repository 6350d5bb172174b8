//! Success responses that carry what their status requires: a 200 representation with
//! `Content-Type`, `Vary: Accept` and validators; 201 and 301/303 that cannot be built without
//! `Location`; 204 with no body; and `Prefer: return=minimal`.
//!
//! ```
//! use axum::response::IntoResponse;
//! use statuskit::negotiate::Format;
//! use statuskit::respond::{Created, Location, Representation};
//!
//! let body = serde_json::json!({"id": 1});
//! let rep = Representation::new(Format::Json, "customer", &body).unwrap();
//! let res = Created(Location::new("/v1/customers/1").unwrap(), rep).into_response();
//! assert_eq!(res.status(), 201);
//! assert_eq!(res.headers()["location"], "/v1/customers/1");
//! assert_eq!(res.headers()["vary"], "accept");
//! ```

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue};
use serde::Serialize;

use crate::conditional::Validators;
use crate::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, PREFER, PREFERENCE_APPLIED, VARY};
use crate::negotiate::Format;
use crate::problem::Problem;
use crate::status;

/// A `Location` value: a URI-reference, checked when built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location(HeaderValue);

impl Location {
    /// Checks that `uri` is a URI-reference and a valid header value.
    pub fn new(uri: &str) -> Result<Self, Problem> {
        uri.parse::<http::Uri>()
            .ok()
            .and_then(|_| HeaderValue::try_from(uri).ok())
            .map(Location)
            .ok_or_else(|| Problem::internal_server_error(format!("not a URI-reference for Location: {uri:?}")))
    }

    /// The header value.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

/// Room for the fields a representation usually ends up with (type, length, `Vary`, validators,
/// `Location`, and what the layers add: request id, rate-limit fields): one allocation instead of
/// the map growing and rehashing twice on the way out.
const HEADERS_CAPACITY: usize = 16;

/// A resource or collection rendered in the negotiated format, with `Vary: Accept`.
#[derive(Debug, Clone)]
pub struct Representation {
    format: Option<Format>,
    body: Vec<u8>,
    headers: HeaderMap,
}

impl Representation {
    /// Serializes `value` as JSON, or as XML under the element `xml_root`. The XML is
    /// well-formed whatever the strings hold: characters XML 1.0 cannot carry are replaced by
    /// U+FFFD ([`crate::xml`]); the JSON keeps them, escaped.
    pub fn new<T: Serialize>(format: Format, xml_root: &str, value: &T) -> Result<Self, Problem> {
        let body = match format {
            Format::Json => serde_json::to_vec(value).map_err(Problem::internal_server_error)?,
            #[cfg(feature = "xml")]
            Format::Xml => {
                let mut text = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
                let ser = quick_xml::se::Serializer::with_root(&mut text, Some(xml_root))
                    .map_err(Problem::internal_server_error)?;
                value.serialize(ser).map_err(Problem::internal_server_error)?;
                // quick-xml escapes markup but writes control characters as they are, which no
                // XML parser accepts: they become U+FFFD (see `crate::xml`).
                crate::xml::clean_document(text).into_bytes()
            }
            #[cfg(not(feature = "xml"))]
            Format::Xml => {
                let _ = xml_root;
                return Err(Problem::not_acceptable(&[crate::header::mime::JSON]));
            }
        };
        Ok(Representation { format: Some(format), body, headers: HeaderMap::with_capacity(HEADERS_CAPACITY) })
    }

    /// Bytes as they are (an image, say) with their media type; no `Vary: Accept` unless the
    /// caller negotiated (add it with [`Representation::header`]).
    pub fn raw(content_type: HeaderValue, body: Vec<u8>) -> Self {
        let mut headers = HeaderMap::with_capacity(HEADERS_CAPACITY);
        headers.insert(CONTENT_TYPE, content_type);
        Representation { format: None, body, headers }
    }

    /// Adds `ETag` and `Last-Modified`.
    #[must_use]
    pub fn validators(mut self, v: &Validators) -> Self {
        v.write_headers(&mut self.headers);
        self
    }

    /// Adds a header (e.g. `Retry-After` on a status monitor).
    #[must_use]
    pub fn header(mut self, name: http::HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Length of the body in bytes.
    pub fn len(&self) -> usize {
        self.body.len()
    }

    /// `true` for an empty body.
    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }
}

impl IntoResponse for Representation {
    fn into_response(self) -> Response {
        let mut headers = self.headers;
        if let Some(format) = self.format {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
            headers.insert(VARY, HeaderValue::from_name(ACCEPT));
        }
        headers.insert(CONTENT_LENGTH, HeaderValue::from(self.body.len()));
        let mut res = Response::new(Body::from(self.body));
        *res.headers_mut() = headers;
        res
    }
}

/// 201: the new resource's `Location` and its representation.
#[derive(Debug, Clone)]
pub struct Created(pub Location, pub Representation);

impl IntoResponse for Created {
    fn into_response(self) -> Response {
        let mut res = self.1.into_response();
        *res.status_mut() = status::CREATED.code;
        res.headers_mut().insert(LOCATION, self.0 .0);
        res
    }
}

/// 202: the work goes on in the background; `Location` names its status monitor, the body
/// describes it, and `Retry-After` says when to look.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The status monitor.
    pub monitor: Location,
    /// Its current state.
    pub body: Representation,
    /// When to poll it.
    pub retry_after: crate::retry_after::RetryAfter,
}

impl IntoResponse for Accepted {
    fn into_response(self) -> Response {
        let mut res = self.body.into_response();
        *res.status_mut() = status::ACCEPTED.code;
        res.headers_mut().insert(LOCATION, self.monitor.0);
        res.headers_mut().insert(crate::header::RETRY_AFTER, self.retry_after.to_header_value());
        res
    }
}

/// 204: no body and no `Content-Length`; optional validators describing the new state.
#[derive(Debug, Clone, Default)]
pub struct NoContent {
    headers: HeaderMap,
}

impl NoContent {
    /// A bare 204.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `ETag` / `Last-Modified` of the state after the action.
    #[must_use]
    pub fn validators(mut self, v: &Validators) -> Self {
        v.write_headers(&mut self.headers);
        self
    }

    /// Says that `Prefer: return=minimal` was honoured.
    #[must_use]
    pub fn minimal_applied(mut self) -> Self {
        self.headers.insert(PREFERENCE_APPLIED, HeaderValue::from_static("return=minimal"));
        self
    }
}

impl IntoResponse for NoContent {
    fn into_response(self) -> Response {
        let mut res = status::NO_CONTENT.code.into_response();
        *res.headers_mut() = self.headers;
        res
    }
}

/// 301 to the new URI of a renamed path.
#[derive(Debug, Clone)]
pub struct MovedPermanently(pub Location);

impl IntoResponse for MovedPermanently {
    fn into_response(self) -> Response {
        (status::MOVED_PERMANENTLY.code, [(LOCATION, self.0 .0)]).into_response()
    }
}

/// 303 to the result of a finished operation.
#[derive(Debug, Clone)]
pub struct SeeOther(pub Location);

impl IntoResponse for SeeOther {
    fn into_response(self) -> Response {
        (status::SEE_OTHER.code, [(LOCATION, self.0 .0)]).into_response()
    }
}

/// `true` if `Prefer` (RFC 7240) asks for `return=minimal`. Unknown preferences are ignored, as
/// the RFC requires.
pub fn prefers_minimal(headers: &HeaderMap) -> bool {
    headers.get_all(PREFER).iter().any(|v| {
        let Ok(text) = v.to_str() else { return false };
        text.split(',').any(|pref| {
            let token = pref.split(';').next().unwrap_or("");
            let (name, value) = token.split_once('=').unwrap_or((token, ""));
            name.trim().eq_ignore_ascii_case("return") && value.trim().trim_matches('"').eq_ignore_ascii_case("minimal")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn prefer(v: &str) -> bool {
        let mut h = HeaderMap::new();
        h.insert(PREFER, HeaderValue::from_str(v).unwrap());
        prefers_minimal(&h)
    }

    #[test]
    fn prefer_forms() {
        assert!(prefer("return=minimal"));
        assert!(prefer("respond-async, return=\"minimal\"; foo=bar"));
        assert!(prefer("RETURN = minimal"));
        assert!(!prefer("return=representation"));
        assert!(!prefer("minimal"));
    }

    #[test]
    fn no_content_has_no_length() {
        let res = NoContent::new().minimal_applied().into_response();
        assert_eq!(res.status(), 204);
        assert!(res.headers().get(CONTENT_LENGTH).is_none());
    }

    #[cfg(feature = "xml")]
    #[derive(Debug, Serialize)]
    struct Doc {
        id: i64,
        name: String,
        #[serde(rename = "@note")]
        note: String,
        tags: Vec<String>,
        nested: Inner,
    }

    #[cfg(feature = "xml")]
    #[derive(Debug, Serialize)]
    struct Inner {
        #[serde(rename = "$text")]
        text: String,
    }

    #[cfg(feature = "xml")]
    fn hostile_text() -> impl Strategy<Value = String> {
        let c = prop_oneof![
            4 => any::<char>(),
            4 => (0u32..0x20).prop_map(|c| char::from_u32(c).expect("C0 is a char")),
            1 => Just('\u{FFFE}'),
            1 => Just('\u{FFFF}'),
            2 => proptest::sample::select(vec!['<', '>', '&', '"', '\'', ']', '\r', '\u{7F}']),
        ];
        proptest::collection::vec(c, 0..24).prop_map(String::from_iter)
    }

    #[cfg(feature = "xml")]
    #[test]
    fn xml_representation_replaces_control_characters() {
        let doc = Doc {
            id: 1,
            name: "a\u{1}b".into(),
            note: "\u{0}".into(),
            tags: vec![],
            nested: Inner { text: "x".into() },
        };
        let rep = Representation::new(Format::Xml, "customer", &doc).unwrap();
        let xml = String::from_utf8(rep.body.clone()).unwrap();
        assert!(xml.contains("<name>a\u{FFFD}b</name>"), "{xml}");
        roxmltree::Document::parse(&xml).unwrap();
        let json = Representation::new(Format::Json, "customer", &doc).unwrap();
        assert!(String::from_utf8(json.body).unwrap().contains(r#""name":"a\u0001b""#));
    }

    proptest! {
        #[cfg(feature = "xml")]
        #[test]
        fn every_xml_representation_parses(
            name in hostile_text(),
            note in hostile_text(),
            tags in proptest::collection::vec(hostile_text(), 0..3),
            text in hostile_text(),
        ) {
            let doc = Doc { id: 7, name: name.clone(), note, tags: tags.clone(), nested: Inner { text } };
            let rep = Representation::new(Format::Xml, "customer", &doc).unwrap();
            let xml = String::from_utf8(rep.body).unwrap();
            let parsed = roxmltree::Document::parse(&xml);
            prop_assert!(parsed.is_ok(), "{:?}: {}", parsed.err(), xml);
            let parsed = parsed.unwrap();
            let read = parsed.root_element().children().find(|n| n.has_tag_name("name")).and_then(|n| n.text()).unwrap_or("").to_owned();
            let expected = crate::xml::replace_invalid(&name);
            prop_assert_eq!(read, expected);
            let json: serde_json::Value = serde_json::from_slice(&Representation::new(Format::Json, "customer", &doc).unwrap().body).unwrap();
            prop_assert_eq!(json["name"].as_str(), Some(name.as_str()));
        }

        #[test]
        fn prefer_never_panics(s in ".{0,60}") {
            if let Ok(v) = HeaderValue::from_str(&s) {
                let mut h = HeaderMap::new();
                h.insert(PREFER, v);
                let _ = prefers_minimal(&h);
            }
        }
    }
}
