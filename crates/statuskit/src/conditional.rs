//! Conditional requests (RFC 9110 §13): `If-Match`, `If-None-Match`, `If-Modified-Since`,
//! `If-Unmodified-Since`, evaluated in the order of §13.2.2, answering 304 or 412.
//!
//! A handler extracts [`Preconditions`], loads the resource (so 404 wins, §13.2.1), and calls
//! [`Preconditions::evaluate`] just before acting:
//!
//! ```
//! use axum::{routing::get, Router};
//! use statuskit::conditional::{Preconditions, Validators};
//! use statuskit::etag::EntityTag;
//! use tower::ServiceExt;
//!
//! async fn show(pre: Preconditions) -> Result<&'static str, statuskit::conditional::Outcome> {
//!     let current = Validators::new(EntityTag::strong("v7").unwrap());
//!     pre.evaluate(&http::Method::GET, Some(&current))?;
//!     Ok("the resource")
//! }
//!
//! # tokio_test_block(async {
//! let app = Router::new().route("/r", get(show));
//! let req = http::Request::get("/r").header("if-none-match", "W/\"v7\"").body(axum::body::Body::empty()).unwrap();
//! let res = app.oneshot(req).await.unwrap();
//! assert_eq!(res.status(), http::StatusCode::NOT_MODIFIED);
//! assert_eq!(res.headers()["etag"], "\"v7\"");
//! # });
//! # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::etag::{EntityTag, EntityTagList};
use crate::header::{
    ACCEPT, ETAG, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_UNMODIFIED_SINCE, LAST_MODIFIED, VARY,
};
use crate::problem::Problem;
use crate::status;

/// The validators of the resource's current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    etag: EntityTag,
    alternates: Vec<EntityTag>,
    last_modified: Option<SystemTime>,
}

impl Validators {
    /// The selected representation's entity tag.
    pub fn new(etag: EntityTag) -> Self {
        Validators { etag, alternates: Vec::new(), last_modified: None }
    }

    /// The modification time, truncated to whole seconds as HTTP-dates are (RFC 9110 §13.1.4).
    #[must_use]
    pub fn last_modified(mut self, at: SystemTime) -> Self {
        self.last_modified = Some(truncate_to_seconds(at));
        self
    }

    /// The tag of another current representation of the same state (e.g. the XML one while
    /// JSON is selected). `If-Match` on a write accepts any current representation's tag.
    #[must_use]
    pub fn alternate(mut self, etag: EntityTag) -> Self {
        self.alternates.push(etag);
        self
    }

    /// The selected representation's entity tag.
    pub fn etag(&self) -> &EntityTag {
        &self.etag
    }

    /// The modification time, if known.
    pub fn modified(&self) -> Option<SystemTime> {
        self.last_modified
    }

    fn all(&self) -> impl Iterator<Item = &EntityTag> {
        std::iter::once(&self.etag).chain(self.alternates.iter())
    }

    /// Writes `ETag` and `Last-Modified` into `headers`.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert(ETAG, self.etag.to_header_value());
        if let Some(at) = self.last_modified {
            headers.insert(LAST_MODIFIED, http_date(at));
        }
    }
}

fn truncate_to_seconds(at: SystemTime) -> SystemTime {
    let secs = at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs();
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn http_date(at: SystemTime) -> HeaderValue {
    HeaderValue::try_from(httpdate::fmt_http_date(at)).expect("an IMF-fixdate is a valid header")
}

/// The request's preconditions, parsed. Malformed `If-Match` / `If-None-Match` answer 400;
/// an invalid date in `If-Modified-Since` / `If-Unmodified-Since` is ignored, as §13.1.3–4 say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions {
    if_match: Option<EntityTagList>,
    if_none_match: Option<EntityTagList>,
    if_modified_since: Option<SystemTime>,
    if_unmodified_since: Option<SystemTime>,
}

/// What evaluation decided when the method must not be performed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// 304: the client's cached representation is current.
    NotModified(NotModified),
    /// 412, carrying the current `ETag` if there is a current representation.
    Failed(Box<Problem>),
}

impl IntoResponse for Outcome {
    fn into_response(self) -> Response {
        match self {
            Outcome::NotModified(n) => n.into_response(),
            Outcome::Failed(p) => p.into_response(),
        }
    }
}

impl From<Outcome> for Problem {
    /// Turns a 304 into nothing useful; only meant for `?` in handlers that never read.
    fn from(outcome: Outcome) -> Problem {
        match outcome {
            Outcome::Failed(p) => *p,
            Outcome::NotModified(_) => {
                Problem::internal_server_error("a 304 outcome was converted into a problem; return Outcome instead")
            }
        }
    }
}

/// A 304 response: `ETag`, `Last-Modified` (when there is no ETag it is the validator) and
/// `Vary: Accept`, as the 200 would carry, and no body.
#[derive(Debug, Clone)]
pub struct NotModified {
    validators: Validators,
}

impl IntoResponse for NotModified {
    fn into_response(self) -> Response {
        let mut res = status::NOT_MODIFIED.code.into_response();
        self.validators.write_headers(res.headers_mut());
        res.headers_mut().insert(VARY, HeaderValue::from_name(ACCEPT));
        res
    }
}

impl Preconditions {
    /// Parses the four fields from request headers.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, Problem> {
        Ok(Preconditions {
            if_match: tag_list(headers, IF_MATCH)?,
            if_none_match: tag_list(headers, IF_NONE_MATCH)?,
            if_modified_since: date(headers, IF_MODIFIED_SINCE),
            if_unmodified_since: date(headers, IF_UNMODIFIED_SINCE),
        })
    }

    /// `true` if the request carries no precondition at all.
    pub fn is_empty(&self) -> bool {
        *self == Preconditions::default()
    }

    /// `true` if `If-None-Match: *` was sent (a create-only PUT).
    pub fn is_create_only(&self) -> bool {
        self.if_none_match == Some(EntityTagList::Any)
    }

    /// Evaluates RFC 9110 §13.2.2 against the current state (`None` if there is no current
    /// representation). `Ok(())` means: perform the method.
    pub fn evaluate(&self, method: &Method, current: Option<&Validators>) -> Result<(), Outcome> {
        if matches!(*method, Method::CONNECT | Method::OPTIONS | Method::TRACE) {
            return Ok(());
        }
        let read = matches!(*method, Method::GET | Method::HEAD);
        // Step 1: If-Match, strong comparison against any current representation.
        if let Some(list) = &self.if_match {
            let ok = current.is_some_and(|c| c.all().any(|t| list.matches_strong(t)));
            if !ok {
                return Err(self.failed(current, "If-Match does not match the current entity tag: the resource changed since you read it (weak tags never match)"));
            }
        } else if let (Some(since), Some(modified)) = (self.if_unmodified_since, current.and_then(|c| c.last_modified))
        {
            // Step 2: If-Unmodified-Since, only without If-Match.
            if modified > since {
                return Err(self.failed(current, "the resource was modified after the If-Unmodified-Since date"));
            }
        }
        // Step 3: If-None-Match, weak comparison.
        if let Some(list) = &self.if_none_match {
            let matched = match current {
                None => false,
                Some(c) if read => list.matches_weak(&c.etag),
                Some(c) => c.all().any(|t| list.matches_weak(t)),
            };
            if matched {
                return Err(match current {
                    Some(c) if read => Outcome::NotModified(NotModified { validators: c.clone() }),
                    _ => self.failed(
                        current,
                        if self.is_create_only() {
                            "If-None-Match: * asks to create only, and the resource already exists"
                        } else {
                            "If-None-Match matches the current entity tag"
                        },
                    ),
                });
            }
        } else if read {
            // Step 4: If-Modified-Since, GET/HEAD only, without If-None-Match.
            if let (Some(since), Some(c)) = (self.if_modified_since, current) {
                if c.last_modified.is_some_and(|m| m <= since) {
                    return Err(Outcome::NotModified(NotModified { validators: c.clone() }));
                }
            }
        }
        Ok(())
    }

    fn failed(&self, current: Option<&Validators>, detail: &'static str) -> Outcome {
        Outcome::Failed(Box::new(Problem::precondition_failed(current.map(|c| &c.etag), detail)))
    }
}

fn tag_list(headers: &HeaderMap, name: HeaderName) -> Result<Option<EntityTagList>, Problem> {
    let mut lines = headers.get_all(&name).iter().peekable();
    if lines.peek().is_none() {
        return Ok(None);
    }
    EntityTagList::parse_lines(lines.map(HeaderValue::as_bytes))
        .map(Some)
        .map_err(|e| Problem::bad_request(format!("the {name} header is malformed: {e}")))
}

fn date(headers: &HeaderMap, name: HeaderName) -> Option<SystemTime> {
    let mut lines = headers.get_all(name).iter();
    let first = lines.next()?;
    if lines.next().is_some() {
        return None; // more than one member: ignored (§13.1.3, §13.1.4)
    }
    httpdate::parse_http_date(first.to_str().ok()?.trim()).ok()
}

impl<S: Send + Sync> FromRequestParts<S> for Preconditions {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Preconditions::from_headers(&parts.headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(tag: &str) -> Validators {
        Validators::new(EntityTag::strong(tag).unwrap()).last_modified(UNIX_EPOCH + Duration::from_secs(1_000_000))
    }

    fn pre(pairs: &[(HeaderName, &str)]) -> Preconditions {
        let mut h = HeaderMap::new();
        for (k, val) in pairs {
            h.append(k.clone(), HeaderValue::from_str(val).unwrap());
        }
        Preconditions::from_headers(&h).unwrap()
    }

    fn status_of(r: Result<(), Outcome>) -> u16 {
        match r {
            Ok(()) => 200,
            Err(Outcome::NotModified(_)) => 304,
            Err(Outcome::Failed(p)) => p.status().code.as_u16(),
        }
    }

    #[test]
    fn if_none_match_on_reads_is_weak() {
        let cur = v("7");
        for value in ["\"7\"", "W/\"7\"", "*", "\"1\", \"7\""] {
            assert_eq!(status_of(pre(&[(IF_NONE_MATCH, value)]).evaluate(&Method::GET, Some(&cur))), 304, "{value}");
        }
        assert_eq!(status_of(pre(&[(IF_NONE_MATCH, "\"8\"")]).evaluate(&Method::GET, Some(&cur))), 200);
        assert_eq!(status_of(pre(&[(IF_NONE_MATCH, "\"7\"")]).evaluate(&Method::PUT, Some(&cur))), 412);
    }

    #[test]
    fn if_match_is_strong_and_needs_a_representation() {
        let cur = v("7");
        assert_eq!(status_of(pre(&[(IF_MATCH, "\"7\"")]).evaluate(&Method::PUT, Some(&cur))), 200);
        assert_eq!(status_of(pre(&[(IF_MATCH, "W/\"7\"")]).evaluate(&Method::PUT, Some(&cur))), 412);
        assert_eq!(status_of(pre(&[(IF_MATCH, "\"6\"")]).evaluate(&Method::PUT, Some(&cur))), 412);
        assert_eq!(status_of(pre(&[(IF_MATCH, "*")]).evaluate(&Method::PUT, None)), 412);
        assert_eq!(status_of(pre(&[(IF_MATCH, "*")]).evaluate(&Method::PUT, Some(&cur))), 200);
    }

    #[test]
    fn alternates_satisfy_if_match_but_not_a_read() {
        let cur = v("7.json").alternate(EntityTag::strong("7.xml").unwrap());
        assert_eq!(status_of(pre(&[(IF_MATCH, "\"7.xml\"")]).evaluate(&Method::PATCH, Some(&cur))), 200);
        assert_eq!(status_of(pre(&[(IF_NONE_MATCH, "\"7.xml\"")]).evaluate(&Method::GET, Some(&cur))), 200);
    }

    #[test]
    fn create_only_put() {
        let p = pre(&[(IF_NONE_MATCH, "*")]);
        assert!(p.is_create_only());
        assert_eq!(status_of(p.evaluate(&Method::PUT, None)), 200);
        assert_eq!(status_of(p.evaluate(&Method::PUT, Some(&v("1")))), 412);
    }

    #[test]
    fn dates_follow_the_order() {
        let cur = v("7");
        let before = "Sun, 11 Jan 1970 13:46:39 GMT"; // 999_999
        let at = "Mon, 12 Jan 1970 13:46:40 GMT"; // 1_000_000
        assert_eq!(status_of(pre(&[(IF_UNMODIFIED_SINCE, before)]).evaluate(&Method::PUT, Some(&cur))), 412);
        assert_eq!(status_of(pre(&[(IF_UNMODIFIED_SINCE, at)]).evaluate(&Method::PUT, Some(&cur))), 200);
        // If-Match present: If-Unmodified-Since is ignored.
        assert_eq!(
            status_of(pre(&[(IF_MATCH, "\"7\""), (IF_UNMODIFIED_SINCE, before)]).evaluate(&Method::PUT, Some(&cur))),
            200
        );
        assert_eq!(status_of(pre(&[(IF_MODIFIED_SINCE, at)]).evaluate(&Method::GET, Some(&cur))), 304);
        assert_eq!(status_of(pre(&[(IF_MODIFIED_SINCE, before)]).evaluate(&Method::GET, Some(&cur))), 200);
        // If-None-Match present: If-Modified-Since is ignored.
        assert_eq!(
            status_of(pre(&[(IF_NONE_MATCH, "\"8\""), (IF_MODIFIED_SINCE, at)]).evaluate(&Method::GET, Some(&cur))),
            200
        );
        // Not a read: ignored. Invalid date: ignored.
        assert_eq!(status_of(pre(&[(IF_MODIFIED_SINCE, at)]).evaluate(&Method::PUT, Some(&cur))), 200);
        assert_eq!(status_of(pre(&[(IF_UNMODIFIED_SINCE, "yesterday")]).evaluate(&Method::PUT, Some(&cur))), 200);
    }

    #[test]
    fn malformed_lists_are_400() {
        let mut h = HeaderMap::new();
        h.insert(IF_MATCH, HeaderValue::from_static("*, \"a\""));
        assert_eq!(Preconditions::from_headers(&h).unwrap_err().status().code.as_u16(), 400);
    }

    proptest! {
        #[test]
        fn parsing_never_panics(a in ".{0,40}", b in ".{0,40}", c in ".{0,40}", d in ".{0,40}") {
            let mut h = HeaderMap::new();
            for (name, value) in [(IF_MATCH, a), (IF_NONE_MATCH, b), (IF_MODIFIED_SINCE, c), (IF_UNMODIFIED_SINCE, d)] {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    h.insert(name, value);
                }
            }
            if let Ok(p) = Preconditions::from_headers(&h) {
                let _ = p.evaluate(&Method::GET, Some(&v("x")));
                let _ = p.evaluate(&Method::PUT, None);
            }
        }
    }
}
