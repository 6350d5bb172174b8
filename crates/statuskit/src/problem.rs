//! The error type: one [`Problem`] per failure, rendered as RFC 9457 problem details.
//!
//! Each constructor is named for its catalog row and takes what that status must carry, so a 405
//! without `Allow`, a 401 without a challenge, a 412 without the current ETag or a 429/503 without
//! `Retry-After` cannot be built. The body (JSON or XML, with the `request_id`) is written by
//! [`crate::render::RenderProblemLayer`], which knows the request's `Accept` and id.
//!
//! ```
//! use axum::{routing::get, Router};
//! use statuskit::{Problem, ContractLayer};
//! use tower::ServiceExt;
//!
//! async fn handler() -> Result<String, Problem> {
//!     Err(Problem::not_found("no customer has id 42"))
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app = Router::new().route("/c", get(handler)).layer(ContractLayer::new());
//! let res = app.oneshot(http::Request::get("/c").body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), 404);
//! assert_eq!(res.headers()["content-type"], "application/problem+json");
//! let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
//! let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
//! assert_eq!(json["type"], "/docs/errors#not_found");
//! assert_eq!(json["detail"], json["message"]);
//! # });
//! ```

use std::borrow::Cow;
use std::fmt;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

use crate::challenge::Challenge;
use crate::etag::EntityTag;
use crate::header::{ACCEPT_ENCODING, ALLOW, CONNECTION, ETAG, RETRY_AFTER, WWW_AUTHENTICATE};
use crate::methods::Allow;
use crate::negotiate::Format;
use crate::problem_type::{DocsBase, Member, MemberValue, ProblemType};
use crate::retry_after::RetryAfter;
use crate::status::{self, Status};
use crate::validate::FieldErrors;

/// A failure, as the client will see it: a catalog status, a detail that says what to fix,
/// optional field errors and extension members, and the headers the status requires.
/// One pointer wide, so `Result<T, Problem>` stays small on the success path.
#[derive(Debug, Clone)]
pub struct Problem(Box<Inner>);

#[derive(Debug, Clone)]
struct Inner {
    status: &'static Status,
    /// The API's own type, when not the catalog's.
    kind: Option<&'static ProblemType>,
    detail: Cow<'static, str>,
    errors: Option<FieldErrors>,
    extensions: Vec<(&'static str, Value)>,
    headers: HeaderMap,
    json_only: bool,
}

impl Problem {
    fn new(status: &'static Status, detail: impl Into<Cow<'static, str>>) -> Self {
        Problem(Box::new(Inner {
            status,
            kind: None,
            detail: detail.into(),
            errors: None,
            extensions: Vec::new(),
            headers: HeaderMap::new(),
            json_only: false,
        }))
    }

    fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.0.headers.insert(name, value);
        self
    }

    /// 400: the request could not be read. Say what to fix.
    pub fn bad_request(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(&status::BAD_REQUEST, detail)
    }

    /// 401 with its `WWW-Authenticate` challenge.
    pub fn unauthorized(challenge: Challenge, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(&status::UNAUTHORIZED, detail).header(WWW_AUTHENTICATE, challenge.to_header_value())
    }

    /// 403: authenticated, but not allowed. Say why.
    pub fn forbidden(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(&status::FORBIDDEN, detail)
    }

    /// 404: no such resource (or one the caller may not know exists).
    pub fn not_found(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(&status::NOT_FOUND, detail)
    }

    /// 405 with `Allow` listing every method the path accepts.
    pub fn method_not_allowed(method: &http::Method, allow: &Allow) -> Self {
        Self::new(&status::METHOD_NOT_ALLOWED, format!("{method} is not allowed here; this path accepts {allow}"))
            .header(ALLOW, allow.to_header_value())
            .extension("allow", Value::from(allow.iter().map(|m| m.as_str()).collect::<Vec<_>>()))
    }

    /// 406, always in JSON, listing the media types that are available.
    pub fn not_acceptable(available: &[&str]) -> Self {
        let mut p = Self::new(
            &status::NOT_ACCEPTABLE,
            format!("Accept names nothing this resource can produce; available: {}", available.join(", ")),
        )
        .extension("available", Value::from(available.to_vec()));
        p.0.json_only = true;
        p
    }

    /// 409: the request conflicts with the current state. Say which state.
    pub fn conflict(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(&status::CONFLICT, detail)
    }

    /// 410: turned off on purpose, naming the replacement if there is one.
    pub fn gone(detail: impl Into<Cow<'static, str>>, replacement: Option<&str>) -> Self {
        let p = Self::new(&status::GONE, detail);
        match replacement {
            Some(r) => p.extension("replacement", Value::from(r)),
            None => p,
        }
    }

    /// 411: a body without `Content-Length` or chunked transfer coding. The connection is closed
    /// after it: without a length, whatever the client sent as a body would be read as the next
    /// request.
    pub fn length_required() -> Self {
        Self::new(
            &status::LENGTH_REQUIRED,
            "this request has a body but neither Content-Length nor Transfer-Encoding: chunked; send one of them",
        )
        .header(CONNECTION, HeaderValue::from_static("close"))
    }

    /// 408: the client did not finish sending its request in time (`detail` says which part);
    /// the connection is closed after it (RFC 9110 §15.5.9).
    pub fn request_timeout(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(&status::REQUEST_TIMEOUT, detail).header(CONNECTION, HeaderValue::from_static("close"))
    }

    /// 412, carrying the current `ETag` when there is a current representation.
    pub fn precondition_failed(current: Option<&EntityTag>, detail: impl Into<Cow<'static, str>>) -> Self {
        let p = Self::new(&status::PRECONDITION_FAILED, detail);
        match current {
            Some(tag) => p.header(ETAG, tag.to_header_value()),
            None => p,
        }
    }

    /// 413: the body is over `limit` bytes.
    pub fn content_too_large(limit: usize) -> Self {
        Self::new(
            &status::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than the {limit} bytes this endpoint accepts"),
        )
        .extension("limit_bytes", Value::from(limit))
    }

    /// 414: the request target is too long.
    pub fn uri_too_long(limit: usize) -> Self {
        Self::new(
            &status::URI_TOO_LONG,
            format!("the request target is longer than {limit} bytes; send long input in a body"),
        )
        .extension("limit_bytes", Value::from(limit))
    }

    /// 415 with the header (`Accept-Post`, `Accept-Patch` or `Accept`) listing accepted types.
    /// A type that cannot be sent in a header (a control character, say) is left out of the
    /// header, and still listed in the body's `accepted`.
    ///
    /// ```
    /// use statuskit::{header::ACCEPT_POST, Problem};
    ///
    /// let p = Problem::unsupported_media_type(Some("text/plain"), ACCEPT_POST, &["application/json", "bad\n/type"]);
    /// assert_eq!(p.headers()[ACCEPT_POST], "application/json");
    /// assert_eq!(p.member("accepted").unwrap().as_array().unwrap().len(), 2);
    /// ```
    pub fn unsupported_media_type(got: Option<&str>, accepted_header: HeaderName, accepted: &[&str]) -> Self {
        let list = accepted.join(", ");
        let detail = match got {
            Some(t) => format!("Content-Type {t} is not accepted here; send one of: {list}"),
            None => format!("the body has no Content-Type; send one of: {list}"),
        };
        let sendable: Vec<&str> = accepted.iter().copied().filter(|t| HeaderValue::from_str(t).is_ok()).collect();
        let p =
            Self::new(&status::UNSUPPORTED_MEDIA_TYPE, detail).extension("accepted", Value::from(accepted.to_vec()));
        match HeaderValue::try_from(sendable.join(", ")) {
            Ok(value) if !sendable.is_empty() => p.header(accepted_header, value),
            _ => p,
        }
    }

    /// 415 for a body in a content coding (RFC 9110 §8.4) the endpoint does not decode: only
    /// `identity` is, so `Accept-Encoding: identity` says what would have been accepted
    /// (§15.5.16). `got` is the `Content-Encoding` the request declared.
    pub fn unsupported_content_encoding(got: &str) -> Self {
        Self::new(
            &status::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Encoding {got} is not accepted here; send the body without a content coding"),
        )
        .header(ACCEPT_ENCODING, HeaderValue::from_static("identity"))
        .extension("accepted_encodings", Value::from(vec!["identity"]))
    }

    /// 422 with the `errors` map: one entry per failing field.
    pub fn unprocessable_entity(errors: FieldErrors) -> Self {
        let n = errors.len();
        let detail = if n == 1 { "1 field is invalid".to_owned() } else { format!("{n} fields are invalid") };
        let mut p = Self::new(&status::UNPROCESSABLE_ENTITY, detail);
        p.0.errors = Some(errors);
        p
    }

    /// 429 with `Retry-After`.
    pub fn too_many_requests(retry_after: RetryAfter, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(&status::TOO_MANY_REQUESTS, detail).header(RETRY_AFTER, retry_after.to_header_value())
    }

    /// 431: the header section is too large; `detail` says which limit was passed.
    pub fn header_fields_too_large(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(&status::REQUEST_HEADER_FIELDS_TOO_LARGE, detail)
    }

    /// 500: `cause` is logged (with the id of the request being served, see
    /// [`request_id::current`](crate::request_id::current)) and never sent; the body only says
    /// that something broke and where to report it.
    pub fn internal_server_error(cause: impl fmt::Display) -> Self {
        let request_id = crate::request_id::current().map(tracing::field::display);
        tracing::error!(request_id, %cause, "internal server error");
        Self::internal()
    }

    pub(crate) fn internal() -> Self {
        Self::new(&status::INTERNAL_SERVER_ERROR, "something is broken on our side")
    }

    /// 502, as a gateway says it.
    pub fn bad_gateway(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(&status::BAD_GATEWAY, detail)
    }

    /// 503 with `Retry-After`.
    pub fn service_unavailable(retry_after: RetryAfter, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(&status::SERVICE_UNAVAILABLE, detail).header(RETRY_AFTER, retry_after.to_header_value())
    }

    /// 504: the backend did not answer in time.
    pub fn gateway_timeout(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(&status::GATEWAY_TIMEOUT, detail)
    }

    /// A problem for a bare error response that did not come from a `Problem` (axum's own
    /// rejections, another crate's middleware): the catalog row's description as detail.
    pub(crate) fn for_bare_status(status: &'static Status) -> Self {
        Self::new(status, status.description)
    }

    /// A problem of the API's own type `kind`: its `type`, title and status, with `detail`
    /// saying what happened this time. See [`crate::problem_type`].
    pub fn of(kind: &'static ProblemType, detail: impl Into<Cow<'static, str>>) -> Self {
        let mut p = Self::new(kind.status(), detail);
        p.0.kind = Some(kind);
        p
    }

    /// Adds a typed extension member (RFC 9457 §3.2), replacing one of the same name. A
    /// [`Member`]'s name cannot collide with a standard member.
    ///
    /// ```
    /// use statuskit::{problem_type::Member, Problem};
    ///
    /// const RUNNING: Member<&'static str> = Member::new("operation", "the operation still running");
    /// let p = Problem::conflict("an upload is already running").with(RUNNING, "/v1/operations/7");
    /// assert_eq!(p.member("operation"), Some(&serde_json::json!("/v1/operations/7")));
    /// ```
    #[must_use]
    pub fn with<T: MemberValue>(self, member: Member<T>, value: T) -> Self {
        self.extension(member.name(), value.into())
    }

    /// Adds an extension member, replacing one of the same name. Names the library itself
    /// uses are not standard members.
    pub(crate) fn extension(mut self, name: &'static str, value: Value) -> Self {
        match self.0.extensions.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.extensions.push((name, value)),
        }
        self
    }

    /// The extension member `name`, if the problem carries it.
    pub fn member(&self, name: &str) -> Option<&Value> {
        self.0.extensions.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The API's own problem type, `None` for the catalog's.
    pub fn problem_type(&self) -> Option<&'static ProblemType> {
        self.0.kind
    }

    /// The title: the own type's, else the catalog status's.
    pub fn title(&self) -> &'static str {
        self.0.kind.map_or(self.0.status.title, |k| k.title())
    }

    /// The `type` URI under `base`.
    pub fn type_uri(&self, base: &DocsBase) -> Cow<'static, str> {
        match self.0.kind {
            Some(kind) => kind.type_uri(base),
            None => base.catalog_type_uri(self.0.status),
        }
    }

    /// Adds a response header beyond the ones the status requires (e.g. `Accept-Patch`).
    #[must_use]
    pub fn with_header(self, name: HeaderName, value: HeaderValue) -> Self {
        self.header(name, value)
    }

    /// The catalog row.
    pub fn status(&self) -> &'static Status {
        self.0.status
    }

    /// The detail (also sent as `message`).
    pub fn detail(&self) -> &str {
        &self.0.detail
    }

    /// The field errors, if any.
    pub fn errors(&self) -> Option<&FieldErrors> {
        self.0.errors.as_ref()
    }

    /// The headers this problem adds to the response.
    pub fn headers(&self) -> &HeaderMap {
        &self.0.headers
    }

    /// The format to write, given the one the client prefers (406 is always JSON).
    pub fn format_for(&self, preferred: Format) -> Format {
        if self.0.json_only {
            Format::Json
        } else {
            preferred
        }
    }

    /// Writes the body, its `type` under the default docs base ([`DocsBase::default`]).
    /// `report` is where to report a 500 (added to its detail and as `report`).
    pub fn render(&self, format: Format, request_id: &str, report: Option<&str>) -> Vec<u8> {
        self.render_at(format, request_id, report, &DocsBase::default())
    }

    /// [`Problem::render`] with the `type` under the docs base `docs`.
    pub fn render_at(&self, format: Format, request_id: &str, report: Option<&str>, docs: &DocsBase) -> Vec<u8> {
        let p = &*self.0;
        let is_500 = p.status.code == status::INTERNAL_SERVER_ERROR.code;
        let detail: Cow<'_, str> = match report {
            Some(url) if is_500 => {
                format!("{}; please report it at {url} quoting request id {request_id}", p.detail).into()
            }
            _ => Cow::Borrowed(&p.detail),
        };
        let report = report.filter(|_| is_500);
        let type_uri = self.type_uri(docs);
        let view = View { p, type_uri: &type_uri, title: self.title(), detail: &detail, request_id, report };
        match format {
            Format::Json => serde_json::to_vec(&view).expect("a problem always serializes"),
            Format::Xml => view.to_xml(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.0.status.code.as_u16(), self.title(), self.0.detail)
    }
}

impl std::error::Error for Problem {}

impl IntoResponse for Problem {
    fn into_response(mut self) -> Response {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = self.0.status.code;
        *res.headers_mut() = std::mem::take(&mut self.0.headers);
        res.extensions_mut().insert(self);
        res
    }
}

/// What is written: the problem plus the per-request parts.
struct View<'a> {
    p: &'a Inner,
    type_uri: &'a str,
    title: &'a str,
    detail: &'a str,
    request_id: &'a str,
    report: Option<&'a str>,
}

impl serde::Serialize for View<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", self.type_uri)?;
        m.serialize_entry("title", self.title)?;
        m.serialize_entry("status", &self.p.status.code.as_u16())?;
        m.serialize_entry("detail", self.detail)?;
        m.serialize_entry("message", self.detail)?;
        if let Some(errors) = &self.p.errors {
            m.serialize_entry("errors", errors)?;
        }
        m.serialize_entry("request_id", self.request_id)?;
        if let Some(url) = self.report {
            m.serialize_entry("report", url)?;
        }
        for (name, value) in &self.p.extensions {
            m.serialize_entry(name, value)?;
        }
        m.end()
    }
}

#[cfg(feature = "xml")]
impl View<'_> {
    fn to_xml(&self) -> Vec<u8> {
        use quick_xml::events::attributes::Attribute;
        use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
        use quick_xml::name::QName;
        use quick_xml::Writer;

        type W = Writer<Vec<u8>>;
        // Every text and attribute value is escaped by `crate::xml`, which also replaces what XML
        // cannot carry, so the document parses whatever the detail, field paths or extension
        // values echo, and reads back as written.
        fn attribute<'a>(name: &'a str, value: &'a str) -> Attribute<'a> {
            let value = match crate::xml::escape_attribute(value) {
                Cow::Borrowed(v) => Cow::Borrowed(v.as_bytes()),
                Cow::Owned(v) => Cow::Owned(v.into_bytes()),
            };
            Attribute { key: QName(name.as_bytes()), value }
        }
        fn text(w: &mut W, name: &str, value: &str) {
            write_text(w, BytesStart::new(name), value);
            w.write_event(Event::End(BytesEnd::new(name))).expect("Vec write");
        }
        /// The start tag and the text, not the end tag.
        fn write_text(w: &mut W, open: BytesStart<'_>, value: &str) {
            w.write_event(Event::Start(open)).expect("Vec write");
            // Escape only what must be (`<`, `>`, `&`, CR): apostrophes and quotes stay readable.
            w.write_event(Event::Text(BytesText::from_escaped(crate::xml::escape_text(value)))).expect("Vec write");
        }
        fn value(w: &mut W, name: &str, v: &Value) {
            // A JSON key may be any string: one that is no XML name becomes `<member name="…">`.
            let tag = if crate::xml::is_name(name) { name } else { "member" };
            let mut open = BytesStart::new(tag);
            if tag != name {
                open.push_attribute(attribute("name", name));
            }
            match v {
                Value::Null => {
                    w.write_event(Event::Empty(open)).expect("Vec write");
                    return;
                }
                Value::String(s) => write_text(w, open, s),
                Value::Bool(_) | Value::Number(_) => write_text(w, open, &v.to_string()),
                Value::Array(items) => {
                    w.write_event(Event::Start(open)).expect("Vec write");
                    for item in items {
                        value(w, "i", item);
                    }
                }
                Value::Object(members) => {
                    w.write_event(Event::Start(open)).expect("Vec write");
                    for (k, item) in members {
                        value(w, k, item);
                    }
                }
            }
            w.write_event(Event::End(BytesEnd::new(tag))).expect("Vec write");
        }

        let mut w = Writer::new(Vec::with_capacity(512));
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None))).expect("Vec write");
        let root = BytesStart::new("problem").with_attributes([("xmlns", crate::header::PROBLEM_XML_NAMESPACE)]);
        w.write_event(Event::Start(root)).expect("Vec write");
        text(&mut w, "type", self.type_uri);
        text(&mut w, "title", self.title);
        text(&mut w, "status", &self.p.status.code.as_u16().to_string());
        text(&mut w, "detail", self.detail);
        text(&mut w, "message", self.detail);
        if let Some(errors) = &self.p.errors {
            // Field paths such as `items[3].name` are not XML names, so each field is an
            // element carrying its path as an attribute, holding its messages as <i> items.
            w.write_event(Event::Start(BytesStart::new("errors"))).expect("Vec write");
            for (field, messages) in errors.iter() {
                let start = BytesStart::new("field").with_attributes([attribute("name", field)]);
                w.write_event(Event::Start(start)).expect("Vec write");
                for m in messages {
                    text(&mut w, "i", m);
                }
                w.write_event(Event::End(BytesEnd::new("field"))).expect("Vec write");
            }
            w.write_event(Event::End(BytesEnd::new("errors"))).expect("Vec write");
        }
        text(&mut w, "request_id", self.request_id);
        if let Some(url) = self.report {
            text(&mut w, "report", url);
        }
        for (name, v) in &self.p.extensions {
            value(&mut w, name, v);
        }
        w.write_event(Event::End(BytesEnd::new("problem"))).expect("Vec write");
        w.into_inner()
    }
}

#[cfg(not(feature = "xml"))]
impl View<'_> {
    fn to_xml(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a problem always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn json_has_every_member() {
        let mut errors = FieldErrors::new();
        errors.add("name", "can't be blank");
        errors.add("email", "has already been taken");
        let p = Problem::unprocessable_entity(errors);
        let body: Value = serde_json::from_slice(&p.render(Format::Json, "01ABC", None)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "type": "/docs/errors#unprocessable_entity",
                "title": "Unprocessable Entity",
                "status": 422,
                "detail": "2 fields are invalid",
                "message": "2 fields are invalid",
                "errors": {"email": ["has already been taken"], "name": ["can't be blank"]},
                "request_id": "01ABC"
            })
        );
    }

    #[cfg(feature = "xml")]
    #[test]
    fn xml_follows_appendix_b_and_escapes() {
        let p = Problem::not_acceptable(&["application/json"]);
        assert_eq!(p.format_for(Format::Xml), Format::Json);
        let p = Problem::bad_request("a < b & \"c\"").extension("list", Value::from(vec!["x", "y"]));
        let xml = String::from_utf8(p.render(Format::Xml, "id1", None)).unwrap();
        assert!(
            xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><problem xmlns=\"urn:ietf:rfc:7807\">"),
            "{xml}"
        );
        assert!(xml.contains("<status>400</status>"));
        assert!(xml.contains("<detail>a &lt; b &amp; \"c\"</detail>"), "{xml}");
        assert!(xml.contains("<list><i>x</i><i>y</i></list>"));
        assert!(xml.contains("<request_id>id1</request_id>"));
    }

    #[cfg(feature = "xml")]
    #[test]
    fn xml_parses_whatever_the_problem_echoes() {
        let mut errors = FieldErrors::new();
        errors.add("items[0].na\u{1}me", "bad \u{0} \u{FFFF} value");
        let p = Problem::unprocessable_entity(errors)
            .extension("extra", serde_json::json!({"a b": "\u{8}", "ok": [null, true, 1.5], "1x": {"y": "z"}}));
        let xml = String::from_utf8(p.render(Format::Xml, "id\u{1}", Some("https://x/\u{2}"))).unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
        let field = doc.descendants().find(|n| n.has_tag_name("field")).unwrap();
        assert_eq!(field.attribute("name"), Some("items[0].na\u{FFFD}me"));
        assert!(xml.contains("<i>bad \u{FFFD} \u{FFFD} value</i>"), "{xml}");
        assert!(xml.contains("<member name=\"a b\">\u{FFFD}</member>"), "{xml}");
        assert!(xml.contains("<ok><i/><i>true</i><i>1.5</i></ok>"), "{xml}");
        assert!(xml.contains("<member name=\"1x\"><y>z</y></member>"), "{xml}");
    }

    /// Characters a strict parser cares about, often, among arbitrary ones.
    #[cfg(feature = "xml")]
    fn hostile_text() -> impl Strategy<Value = String> {
        let c = prop_oneof![
            4 => any::<char>(),
            4 => (0u32..0x20).prop_map(|c| char::from_u32(c).expect("C0 is a char")),
            1 => Just('\u{FFFE}'),
            1 => Just('\u{FFFF}'),
            2 => proptest::sample::select(vec!['<', '>', '&', '"', '\'', ']', ':', '\r', '\u{7F}', '\u{85}']),
        ];
        proptest::collection::vec(c, 0..24).prop_map(String::from_iter)
    }

    /// What a parser reads back: the text itself, but for what XML cannot carry.
    #[cfg(feature = "xml")]
    fn read_back(s: &str) -> String {
        crate::xml::replace_invalid(s).into_owned()
    }

    #[cfg(feature = "xml")]
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            hostile_text().prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map(hostile_text(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    #[cfg(feature = "xml")]
    proptest! {
        #[test]
        fn every_problem_xml_parses(
            detail in hostile_text(),
            fields in proptest::collection::btree_map(hostile_text(), hostile_text(), 0..3),
            ext in json_value(),
            request_id in hostile_text(),
            report in hostile_text(),
        ) {
            let mut errors = FieldErrors::new();
            for (f, m) in &fields {
                errors.add(f.clone(), m.clone());
            }
            let with_errors = Problem::unprocessable_entity(errors).extension("extra", ext.clone());
            let plain = Problem::bad_request(detail.clone()).extension("extra", ext);
            for (problem, report) in [(&with_errors, None), (&plain, None), (&Problem::internal(), Some(report.as_str()))] {
                let xml = String::from_utf8(problem.render(Format::Xml, &request_id, report)).unwrap();
                let doc = roxmltree::Document::parse(&xml);
                prop_assert!(doc.is_ok(), "{:?}: {}", doc.err(), xml);
                let doc = doc.unwrap();
                let child = |name: &str| doc.root_element().children().find(|n| n.has_tag_name(name)).and_then(|n| n.text()).unwrap_or("").to_owned();
                prop_assert_eq!(child("request_id"), read_back(&request_id));
                if problem.status().code == status::BAD_REQUEST.code {
                    prop_assert_eq!(child("detail"), read_back(&detail));
                }
            }
            let names: Vec<_> = with_errors_xml_fields(&with_errors);
            let expected: Vec<_> = fields.keys().map(|k| read_back(k)).collect();
            prop_assert_eq!(names, expected);
        }
    }

    /// The `name` attributes of `<field>` as a parser reads them.
    #[cfg(feature = "xml")]
    fn with_errors_xml_fields(p: &Problem) -> Vec<String> {
        let xml = String::from_utf8(p.render(Format::Xml, "r", None)).unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        doc.descendants().filter(|n| n.has_tag_name("field")).map(|n| n.attribute("name").unwrap().to_owned()).collect()
    }

    const BALANCE: Member<i64> = Member::new("balance", "the balance, in cents");
    const ACCOUNTS: Member<Vec<&'static str>> = Member::new("accounts", "accounts to top up");
    static OUT_OF_CREDIT: ProblemType =
        ProblemType::new("out-of-credit", &status::FORBIDDEN, "You do not have enough credit")
            .members(&[BALANCE.doc(), ACCOUNTS.doc()]);
    static ABSOLUTE: ProblemType =
        ProblemType::new("limit", &status::CONFLICT, "Limit reached").at("https://example.com/probs/limit");

    #[test]
    fn own_types_render_their_type_title_and_members_in_json() {
        let p = Problem::of(&OUT_OF_CREDIT, "costs 50, balance 30").with(BALANCE, 30).with(BALANCE, 31);
        assert_eq!(p.status().code, status::FORBIDDEN.code);
        let body: Value = serde_json::from_slice(&p.render(Format::Json, "r1", None)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "type": "/docs/errors#out-of-credit",
                "title": "You do not have enough credit",
                "status": 403,
                "detail": "costs 50, balance 30",
                "message": "costs 50, balance 30",
                "request_id": "r1",
                "balance": 31
            })
        );
        let base = DocsBase::new("https://api.example.com/errors").unwrap();
        let body: Value = serde_json::from_slice(&p.render_at(Format::Json, "r1", None, &base)).unwrap();
        assert_eq!(body["type"], "https://api.example.com/errors#out-of-credit");
        let gone: Value =
            serde_json::from_slice(&Problem::not_found("x").render_at(Format::Json, "r", None, &base)).unwrap();
        assert_eq!(gone["type"], "https://api.example.com/errors#not_found");
        let abs = Problem::of(&ABSOLUTE, "x");
        assert_eq!(abs.type_uri(&base), "https://example.com/probs/limit");
        assert_eq!(abs.to_string(), "409 Limit reached: x");
    }

    #[cfg(feature = "xml")]
    #[test]
    fn own_types_render_their_members_in_xml() {
        let p = Problem::of(&OUT_OF_CREDIT, "costs 50").with(BALANCE, 30).with(ACCOUNTS, vec!["/a/1", "/a/2"]);
        let xml = String::from_utf8(p.render(Format::Xml, "r1", None)).unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let child = |name: &str| doc.root_element().children().find(|n| n.has_tag_name(name)).unwrap();
        assert_eq!(child("type").text(), Some("/docs/errors#out-of-credit"));
        assert_eq!(child("title").text(), Some("You do not have enough credit"));
        assert_eq!(child("status").text(), Some("403"));
        assert_eq!(child("balance").text(), Some("30"));
        let accounts: Vec<_> = child("accounts").children().filter_map(|n| n.text()).collect();
        assert_eq!(accounts, ["/a/1", "/a/2"]);
    }

    #[test]
    fn internal_errors_never_leak_their_cause() {
        let p = Problem::internal_server_error("SELECT * FROM secret at /srv/app.rs:12");
        let body = String::from_utf8(p.render(Format::Json, "r1", Some("https://example.com/issues"))).unwrap();
        assert!(!body.contains("SELECT") && !body.contains("/srv"), "{body}");
        assert!(body.contains("https://example.com/issues") && body.contains("r1"));
    }

    #[test]
    fn required_headers_come_with_their_status() {
        let allow = Allow::from_methods([http::Method::GET, http::Method::PUT]);
        let p = Problem::method_not_allowed(&http::Method::POST, &allow);
        assert_eq!(p.headers()[ALLOW], "GET, HEAD, PUT, OPTIONS");
        let p = Problem::too_many_requests(RetryAfter::seconds(3), "slow down");
        assert_eq!(p.headers()[RETRY_AFTER], "3");
        let p = Problem::unauthorized(Challenge::bearer("r"), "log in");
        assert_eq!(p.headers()[WWW_AUTHENTICATE], "Bearer realm=\"r\"");
        let tag = EntityTag::strong("1").unwrap();
        assert_eq!(Problem::precondition_failed(Some(&tag), "x").headers()[ETAG], "\"1\"");
    }
}
