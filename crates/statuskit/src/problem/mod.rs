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
use write::View;

#[cfg(test)]
mod tests;
mod write;

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
