//! Request bodies in JSON or XML: 411 (no length), 415 (wrong type, with `Accept-Post` /
//! `Accept-Patch`; or a content coding, with `Accept-Encoding`), 413 (over the limit), 400 (unparseable, saying where) and 422 (well-formed but
//! wrong: a type mismatch, an unknown field, or [`Validate`] failing), in the contract's order.
//!
//! ```
//! use axum::{routing::post, Router};
//! use statuskit::body::Body;
//! use tower::ServiceExt;
//!
//! #[derive(serde::Deserialize)]
//! struct Input { name: String }
//!
//! async fn create(Body(input): Body<Input>) -> String { input.name }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app: Router = Router::new().route("/c", post(create));
//! let req = http::Request::post("/c")
//!     .header("content-type", "text/plain")
//!     .header("content-length", "3")
//!     .body(axum::body::Body::from("abc"))
//!     .unwrap();
//! let res = app.oneshot(req).await.unwrap();
//! assert_eq!(res.status(), 415);
//! assert_eq!(res.headers()["accept-post"], "application/json, application/xml");
//! # });
//! ```

use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, Method, Version};
use serde::de::DeserializeOwned;

use crate::header::{
    is_token, mime, ACCEPT, ACCEPT_PATCH, ACCEPT_POST, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE,
    TRANSFER_ENCODING,
};
use crate::negotiate::Format;
use crate::problem::Problem;
use crate::validate::{FieldErrors, Validate};

/// The largest body read when no [`BodyLimit`] extension is set: 64 KiB.
pub const DEFAULT_LIMIT: usize = 64 * 1024;

/// A request extension that sets the body limit for the routes below it
/// (`.layer(axum::Extension(BodyLimit(1 << 20)))`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

/// A request extension saying the body was found larger than `.0` bytes before the extractor ran
/// (by [`CollectBody`](crate::collect::CollectBody), which then stops reading it): the body
/// extractors answer 413 at their turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyOverLimit(pub usize);

impl Format {
    /// Deserializes `bytes` in this format into `T`, as [`Body`] does once the body is read:
    /// 400 for a document that is not well-formed (saying where), 422 for one of the wrong
    /// shape. For a body read some other way (a queue, a file, a fuzzer).
    ///
    /// ```
    /// use statuskit::negotiate::Format;
    ///
    /// #[derive(Debug, serde::Deserialize)]
    /// struct Item { name: String }
    ///
    /// let item: Item = Format::Json.decode(br#"{"name": "a"}"#).unwrap();
    /// assert_eq!(item.name, "a");
    /// assert_eq!(Format::Json.decode::<Item>(b"{").unwrap_err().status().code, 400);
    /// assert_eq!(Format::Json.decode::<Item>(br#"{"name": 1}"#).unwrap_err().status().code, 422);
    /// ```
    pub fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, Problem> {
        decode(self, bytes)
    }
}

/// A body in one of the media types an endpoint accepts (an image, say), read through the
/// contract's steps: 411 without a length, 415 for another type or a content coding, 413 over
/// the [`BodyLimit`].
///
/// ```
/// use axum::{extract::Request, routing::put, Router};
/// use statuskit::body::RawBody;
/// use tower::ServiceExt;
///
/// async fn upload(req: Request) -> Result<String, statuskit::Problem> {
///     let body = RawBody::read(req, &["image/png", "image/jpeg"]).await?;
///     Ok(format!("{} bytes of {}", body.bytes().len(), body.media_type()))
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let app: Router = Router::new().route("/avatar", put(upload));
/// let req = http::Request::put("/avatar").header("content-type", "image/gif").header("content-length", "1")
///     .body(axum::body::Body::from("x")).unwrap();
/// let res = app.clone().oneshot(req).await.unwrap();
/// assert_eq!(res.status(), 415);
/// assert_eq!(res.headers()["accept"], "image/png, image/jpeg");
/// let req = http::Request::put("/avatar").header("content-type", "image/png").header("content-length", "1")
///     .body(axum::body::Body::from("x")).unwrap();
/// let res = app.oneshot(req).await.unwrap();
/// assert_eq!(axum::body::to_bytes(res.into_body(), 64).await.unwrap(), "1 bytes of image/png");
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct RawBody {
    media_type: &'static str,
    bytes: Bytes,
}

impl RawBody {
    /// Reads the body of `req`, which must be in one of `accepted` (media type essences,
    /// lower-case).
    pub async fn read(req: Request, accepted: &[&'static str]) -> Result<Self, Problem> {
        let (index, bytes) = read_body(req, accepted).await?;
        Ok(RawBody { media_type: accepted[index], bytes })
    }

    /// The accepted media type the body declared.
    pub fn media_type(&self) -> &'static str {
        self.media_type
    }

    /// The bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The bytes, owned.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }
}

/// The media types [`Body`] accepts.
pub const BODY_TYPES: &[&str] = &[mime::JSON, mime::XML];
/// The media types [`MergePatch`] accepts.
pub const PATCH_TYPES: &[&str] = &[mime::MERGE_PATCH_JSON, mime::JSON];

/// The media type's essence (`type/subtype`, lower-cased) of a `Content-Type` value, or `None`
/// if it is not `token/token[;params]`.
pub fn content_type_essence(value: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(value).ok()?;
    let essence = text.split(';').next()?.trim_matches([' ', '\t']);
    let (kind, subtype) = essence.split_once('/')?;
    (is_token(kind) && is_token(subtype)).then(|| essence.to_ascii_lowercase())
}

/// Which header lists the accepted types in a 415 for this method.
fn accepted_header(method: &Method) -> HeaderName {
    match *method {
        Method::POST => ACCEPT_POST,
        Method::PATCH => ACCEPT_PATCH,
        // RFC 9110 §15.5.16: for other methods, Accept in the response lists the types.
        _ => ACCEPT,
    }
}

/// Steps 411 → 415 → 413 and the read itself, for any body (e.g. an image): returns the index of
/// the accepted media type the body has, and its bytes. Public as [`RawBody::read`].
pub(crate) async fn read_body(req: Request, accepted: &[&str]) -> Result<(usize, Bytes), Problem> {
    let headers = req.headers();
    // HTTP/2 and 3 frame bodies themselves; only HTTP/1.x needs a length or chunking.
    if req.version() <= Version::HTTP_11
        && !headers.contains_key(CONTENT_LENGTH)
        && !headers.contains_key(TRANSFER_ENCODING)
    {
        return Err(Problem::length_required());
    }
    let essence = headers.get(CONTENT_TYPE).map(|v| content_type_essence(v.as_bytes()));
    let index = match &essence {
        Some(Some(e)) => accepted.iter().position(|a| a == e),
        _ => None,
    };
    let Some(index) = index else {
        let got = headers.get(CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        return Err(Problem::unsupported_media_type(got.as_deref(), accepted_header(req.method()), accepted));
    };
    check_content_encoding(headers)?;
    let limit = req.extensions().get::<BodyLimit>().map_or(DEFAULT_LIMIT, |l| l.0);
    if declared_length(headers).is_some_and(|n| n > limit as u64) {
        return Err(Problem::content_too_large(limit));
    }
    if let Some(BodyOverLimit(limit)) = req.extensions().get::<BodyOverLimit>() {
        return Err(Problem::content_too_large(*limit));
    }
    match axum::body::to_bytes(req.into_body(), limit).await {
        Ok(bytes) => Ok((index, bytes)),
        Err(e) if is_length_limit(&e) => Err(Problem::content_too_large(limit)),
        Err(e) => Err(Problem::bad_request(format!("the request body could not be read: {e}"))),
    }
}

/// 415 with `Accept-Encoding: identity` if the body declares a content coding other than
/// `identity` (RFC 9110 §8.4, §15.5.16): nothing here decodes `gzip` and the like, and reading such
/// a body as if it were plain would fail later with a misleading 400, or store garbage. Part of
/// [`RawBody::read`] and [`Body`]; for a body read some other way, call it first.
///
/// ```
/// use statuskit::header::{ACCEPT_ENCODING, CONTENT_ENCODING};
///
/// let mut headers = http::HeaderMap::new();
/// assert!(statuskit::body::check_content_encoding(&headers).is_ok());
/// headers.insert(CONTENT_ENCODING, "Identity".parse().unwrap());
/// assert!(statuskit::body::check_content_encoding(&headers).is_ok());
/// headers.append(CONTENT_ENCODING, "gzip".parse().unwrap());
/// let p = statuskit::body::check_content_encoding(&headers).unwrap_err();
/// assert_eq!(p.status().code, 415);
/// assert_eq!(p.headers()[ACCEPT_ENCODING], "identity");
/// ```
pub fn check_content_encoding(headers: &HeaderMap) -> Result<(), Problem> {
    for value in headers.get_all(CONTENT_ENCODING) {
        let text = String::from_utf8_lossy(value.as_bytes());
        // `Content-Encoding = #content-coding`: a list, empty elements allowed.
        let coding = text
            .split(',')
            .map(|c| c.trim_matches([' ', '\t']))
            .find(|c| !c.is_empty() && !c.eq_ignore_ascii_case("identity"));
        if coding.is_some() {
            return Err(Problem::unsupported_content_encoding(text.trim_matches([' ', '\t'])));
        }
    }
    Ok(())
}

/// The body's declared `Content-Length`, if it has a valid one.
pub(crate) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// Turns a path-tracked deserialization error into 400 (syntax) or 422 (data).
fn json_error(e: serde_path_to_error::Error<serde_json::Error>) -> Problem {
    let path = e.path().to_string();
    let inner = e.into_inner();
    match inner.classify() {
        serde_json::error::Category::Data => data_error(&path, &inner.to_string()),
        _ => Problem::bad_request(format!("the body is not valid JSON: {inner}")),
    }
}

fn data_error(path: &str, message: &str) -> Problem {
    let field = if path == "." || path.is_empty() { "body" } else { path };
    // serde's messages end with " at line 1 column 9" for JSON; keep them, they say where.
    let mut errors = FieldErrors::new();
    errors.add(field, message.to_owned());
    Problem::unprocessable_entity(errors)
}

#[cfg(feature = "xml")]
fn xml_error(e: serde_path_to_error::Error<quick_xml::DeError>) -> Problem {
    use quick_xml::DeError;
    let path = e.path().to_string();
    match e.into_inner() {
        DeError::Custom(message) => data_error(&path, &message),
        // The document was checked well-formed first, so these mean "not the expected shape".
        e @ DeError::UnexpectedStart(_) => data_error(&path, &e.to_string()),
        other => Problem::bad_request(format!("the body is not valid XML: {other}")),
    }
}

/// Deserializes `bytes` in `format` into `T`.
pub(crate) fn decode<T: DeserializeOwned>(format: Format, bytes: &[u8]) -> Result<T, Problem> {
    match format {
        Format::Json => {
            // Syntax first (contract §5: parsing 400 before validation 422): a typed pass stops
            // at the first data error, e.g. an unknown field, before it reaches a syntax error.
            serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
                .map_err(|e| Problem::bad_request(format!("the body is not valid JSON: {e}")))?;
            let mut de = serde_json::Deserializer::from_slice(bytes);
            let value = serde_path_to_error::deserialize(&mut de).map_err(json_error)?;
            de.end().map_err(|e| Problem::bad_request(format!("the body is not valid JSON: {e}")))?;
            Ok(value)
        }
        #[cfg(feature = "xml")]
        Format::Xml => {
            let text = std::str::from_utf8(bytes)
                .map_err(|e| Problem::bad_request(format!("the XML body is not UTF-8: {e}")))?;
            well_formed(text)?;
            let mut de = quick_xml::de::Deserializer::from_str(text);
            serde_path_to_error::deserialize(&mut de).map_err(xml_error)
        }
        #[cfg(not(feature = "xml"))]
        Format::Xml => Err(Problem::bad_request("XML bodies are not enabled")),
    }
}

/// quick-xml's deserializer tolerates some malformed documents (mismatched end tags can be
/// reported as data errors); a pass with its reader finds syntax errors and where they are.
#[cfg(feature = "xml")]
fn well_formed(text: &str) -> Result<(), Problem> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut depth = 0usize;
    let mut roots = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) if depth == 0 && roots == 1 => return Ok(()),
            Ok(Event::Eof) if roots == 0 => return Err(Problem::bad_request("the XML body has no root element")),
            Ok(Event::Eof) => return Err(Problem::bad_request("the XML body ends before its root element is closed")),
            Ok(Event::Start(_)) => {
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
            }
            Ok(Event::Empty(_)) if depth == 0 => roots += 1,
            // A request body has no use for a DTD, and quick-xml's deserializer panics on a
            // DOCTYPE between text runs (found by fuzzing): refuse it here.
            Ok(Event::DocType(_)) => {
                return Err(Problem::bad_request("the XML body may not contain a DOCTYPE declaration"));
            }
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(Event::Text(t)) if depth == 0 && !t.iter().all(u8::is_ascii_whitespace) => {
                return Err(Problem::bad_request("the XML body has text outside its root element"));
            }
            Ok(_) => {}
            Err(e) => {
                return Err(Problem::bad_request(format!(
                    "the body is not valid XML at byte {}: {e}",
                    reader.error_position()
                )))
            }
        }
        if roots > 1 {
            return Err(Problem::bad_request("the XML body has more than one root element"));
        }
    }
}

/// A JSON or XML request body deserialized into `T`.
#[derive(Debug, Clone)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let (index, bytes) = read_body(req, BODY_TYPES).await?;
        let format = if index == 0 { Format::Json } else { Format::Xml };
        decode(format, &bytes).map(Body)
    }
}

/// Like [`Body`], then [`Validate::check`]: 422 with every failing field.
#[derive(Debug, Clone)]
pub struct Valid<T>(pub T);

impl<T: DeserializeOwned + Validate, S: Send + Sync> FromRequest<S> for Valid<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Body(value) = Body::<T>::from_request(req, state).await?;
        value.check()?;
        Ok(Valid(value))
    }
}

/// An RFC 7396 JSON merge patch document (`application/merge-patch+json`, or `application/json`).
/// It must be a JSON object.
#[derive(Debug, Clone)]
pub struct MergePatch(pub serde_json::Map<String, serde_json::Value>);

impl<S: Send + Sync> FromRequest<S> for MergePatch {
    type Rejection = Problem;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let (_, bytes) = read_body(req, PATCH_TYPES).await?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Problem::bad_request(format!("the body is not valid JSON: {e}")))?;
        match value {
            serde_json::Value::Object(map) => Ok(MergePatch(map)),
            _ => {
                let mut errors = FieldErrors::new();
                errors.add("body", "a merge patch must be a JSON object");
                Err(Problem::unprocessable_entity(errors))
            }
        }
    }
}

#[cfg(test)]
mod tests;
