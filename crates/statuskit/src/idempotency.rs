//! `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header): a POST retried with the same key
//! replays the first response; the same key with another body is 422; the same key while the
//! first request is still running is 409. Keys are scoped to the caller and expire.
//!
//! The layer needs a store ([`IdempotencyStore`]) that keeps records durably; the application
//! provides it (a database table).
//!
//! ```
//! use statuskit::idempotency::parse_key;
//!
//! assert_eq!(parse_key(b"\"8e03978e-40d5-43e8-bc93-6894a57f9324\"").unwrap(), "8e03978e-40d5-43e8-bc93-6894a57f9324");
//! assert_eq!(parse_key(b"order-42").unwrap(), "order-42"); // a bare token is accepted too
//! assert!(parse_key(b"\"\"").is_err());
//! ```

use std::future::Future;

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use sha2::{Digest, Sha256};
use tower::{Layer, Service};

use crate::header::{CONTENT_TYPE, ETAG, IDEMPOTENCY_KEY, LAST_MODIFIED, LOCATION, VARY};
use crate::problem::Problem;
use crate::validate::FieldErrors;

/// Longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// Parses the field: an RFC 9651 sf-string (as the draft requires) or, leniently, a bare token of
/// visible ASCII. 1–255 characters.
pub fn parse_key(value: &[u8]) -> Result<String, Problem> {
    let bad = |why: &str| {
        Problem::bad_request(format!(
            "Idempotency-Key {why}; send a quoted string of 1-{MAX_KEY_LEN} characters, e.g. \"8e03978e-40d5-43e8-bc93-6894a57f9324\""
        ))
    };
    let text = std::str::from_utf8(value).map_err(|_| bad("is not ASCII"))?.trim_matches([' ', '\t']);
    let key = if text.starts_with('"') {
        let item: sfv::Item = sfv::Parser::new(text).parse().map_err(|_| bad("is not a valid string"))?;
        item.bare_item.as_string().ok_or_else(|| bad("is not a string"))?.as_str().to_owned()
    } else {
        if !text.bytes().all(|b| b.is_ascii_graphic() && b != b',' && b != b';') {
            return Err(bad("holds characters outside a token"));
        }
        text.to_owned()
    };
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(bad("has the wrong length"));
    }
    Ok(key)
}

/// A response as stored for replay: status, the headers that describe the result, the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// Status code.
    pub status: u16,
    /// `(name, value)` of the kept headers.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
}

/// Headers kept for replay: what describes the result; not per-request ones such as the request
/// id or rate-limit counters.
const KEPT: [HeaderName; 5] = [CONTENT_TYPE, LOCATION, ETAG, LAST_MODIFIED, VARY];

impl StoredResponse {
    fn into_response(self) -> Response {
        let mut res = Response::new(Body::from(self.body));
        *res.status_mut() = StatusCode::from_u16(self.status).unwrap_or(crate::status::INTERNAL_SERVER_ERROR.code);
        for (name, value) in self.headers {
            if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::from_bytes(&value)) {
                res.headers_mut().append(n, v);
            }
        }
        res
    }
}

/// What the store found for a key at the start of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Begin {
    /// First use: the key is now held as in flight.
    New,
    /// The first request with this key is still running.
    InFlight,
    /// Done before with the same payload: replay this.
    Done(StoredResponse),
    /// Used before with another payload.
    Mismatch,
}

/// An [`IdempotencyStore`] could not do what was asked; its own error is the [`source`].
///
/// [`source`]: std::error::Error::source
///
/// ```
/// use statuskit::idempotency::StoreError;
///
/// let e = StoreError::new(std::io::Error::other("disk full"));
/// assert_eq!(std::error::Error::source(&e).unwrap().to_string(), "disk full");
/// ```
#[derive(Debug, thiserror::Error)]
#[error("the idempotency store failed")]
pub struct StoreError(#[source] Box<dyn std::error::Error + Send + Sync + 'static>);

impl StoreError {
    /// Wraps the store's own error.
    pub fn new(source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        StoreError(source.into())
    }
}

/// Durable records of keys. `owner` scopes keys to a caller (the draft: look keys up by key plus
/// client identity).
pub trait IdempotencyStore: Clone + Send + Sync + 'static {
    /// Looks the key up, and holds it as in flight if it is new.
    fn begin(
        &self,
        owner: &str,
        key: &str,
        fingerprint: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<Begin, StoreError>> + Send;
    /// Stores the response of the first request.
    fn complete(
        &self,
        owner: &str,
        key: &str,
        response: &StoredResponse,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Forgets an in-flight key whose request failed on our side (5xx), so it can be retried.
    fn abandon(&self, owner: &str, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The key of the current request, in its extensions, for handlers that also make their writes
/// idempotent in the database (closing the window between a write and its record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(pub String);

/// Who owns a request's keys; `None` skips the layer (e.g. an unauthenticated request).
pub type OwnerFn = Arc<dyn Fn(&Request<Body>) -> Option<String> + Send + Sync>;

/// Layer that applies [`Idempotency`] to POST requests carrying `Idempotency-Key`.
#[derive(Clone)]
pub struct IdempotencyLayer<St> {
    store: St,
    owner: OwnerFn,
    ttl: Duration,
    body_limit: usize,
}

impl<St> std::fmt::Debug for IdempotencyLayer<St> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyLayer").field("ttl", &self.ttl).field("body_limit", &self.body_limit).finish()
    }
}

impl<St: IdempotencyStore> IdempotencyLayer<St> {
    /// Records kept `ttl`; request and response bodies read up to `body_limit` bytes.
    pub fn new(
        store: St,
        ttl: Duration,
        body_limit: usize,
        owner: impl Fn(&Request<Body>) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        IdempotencyLayer { store, owner: Arc::new(owner), ttl, body_limit }
    }
}

impl<S, St: Clone> Layer<S> for IdempotencyLayer<St> {
    type Service = Idempotency<S, St>;

    fn layer(&self, inner: S) -> Self::Service {
        Idempotency {
            inner,
            store: self.store.clone(),
            owner: self.owner.clone(),
            ttl: self.ttl,
            body_limit: self.body_limit,
        }
    }
}

/// Middleware; see [`IdempotencyLayer`].
#[derive(Clone)]
pub struct Idempotency<S, St> {
    inner: S,
    store: St,
    owner: OwnerFn,
    ttl: Duration,
    body_limit: usize,
}

impl<S, St> std::fmt::Debug for Idempotency<S, St> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotency").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

fn fingerprint(method: &Method, path: &str, headers: &HeaderMap, body: &[u8]) -> String {
    let mut h = Sha256::new();
    for part in [
        method.as_str().as_bytes(),
        path.as_bytes(),
        headers.get(CONTENT_TYPE).map_or(&b""[..], |v| v.as_bytes()),
        body,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn store_failed(e: &(dyn std::error::Error + 'static)) -> Response {
    Problem::internal_server_error(format!("{e}: {}", e.source().map(ToString::to_string).unwrap_or_default()))
        .into_response()
}

impl<S, St> Service<Request<Body>> for Idempotency<S, St>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    St: IdempotencyStore,
{
    type Response = Response;
    type Error = S::Error;
    /// The inner service's own future when there is nothing to do (not a POST, no key, no
    /// owner); otherwise boxed, as the request and response bodies are buffered around the inner
    /// call.
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // Only a POST with a key pays for anything here (the owner is a formatted string); the
        // rest go straight through, without a clone of the inner service or a box.
        let header = match req.headers().get(IDEMPOTENCY_KEY) {
            Some(h) if req.method() == Method::POST => h.clone(),
            _ => return ResponseFuture::inner(self.inner.call(req)),
        };
        let Some(owner) = (self.owner)(&req) else {
            return ResponseFuture::inner(self.inner.call(req));
        };
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let store = self.store.clone();
        let (ttl, limit) = (self.ttl, self.body_limit);
        ResponseFuture::boxed(Box::pin(async move {
            let key = match parse_key(header.as_bytes()) {
                Ok(k) => k,
                Err(p) => return Ok(p.into_response()),
            };
            let (mut parts, body) = req.into_parts();
            let bytes: Bytes = match axum::body::to_bytes(body, limit).await {
                Ok(b) => b,
                Err(_) => return Ok(Problem::content_too_large(limit).into_response()),
            };
            let print = fingerprint(&parts.method, parts.uri.path(), &parts.headers, &bytes);
            match store.begin(&owner, &key, &print, ttl).await {
                Err(e) => return Ok(store_failed(&e)),
                Ok(Begin::InFlight) => {
                    return Ok(Problem::conflict(
                        "a request with this Idempotency-Key is still being processed; retry when it has finished",
                    )
                    .into_response())
                }
                Ok(Begin::Mismatch) => {
                    let mut errors = FieldErrors::new();
                    errors.add("Idempotency-Key", "was already used with a different request; use a new key");
                    return Ok(Problem::unprocessable_entity(errors).into_response());
                }
                Ok(Begin::Done(stored)) => return Ok(stored.into_response()),
                Ok(Begin::New) => {}
            }
            parts.extensions.insert(IdempotencyKey(key.clone()));
            let res = inner.call(Request::from_parts(parts, Body::from(bytes))).await?;
            if res.status().is_server_error() {
                if let Err(e) = store.abandon(&owner, &key).await {
                    let request_id = crate::request_id::current().map(tracing::field::display);
                    let source = std::error::Error::source(&e).map(tracing::field::display);
                    tracing::error!(request_id, error = %e, source, "idempotency store: could not release a key");
                }
                return Ok(res);
            }
            let (parts, body) = res.into_parts();
            let body = match axum::body::to_bytes(body, usize::MAX).await {
                Ok(b) => b,
                Err(e) => return Ok(store_failed(&e)),
            };
            let headers = KEPT
                .iter()
                .flat_map(|name| {
                    parts.headers.get_all(name).iter().map(|v| (name.as_str().to_owned(), v.as_bytes().to_vec()))
                })
                .collect();
            let stored = StoredResponse { status: parts.status.as_u16(), headers, body: body.to_vec() };
            if let Err(e) = store.complete(&owner, &key, &stored).await {
                return Ok(store_failed(&e));
            }
            Ok(Response::from_parts(parts, Body::from(body)))
        }))
    }
}

crate::future::response_future! {
    /// Response future of [`Idempotency`]: the inner service's own when there is nothing to
    /// do; otherwise boxed, as the request and response bodies are buffered around the inner
    /// call.
    Idempotency
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keys() {
        assert_eq!(parse_key(b" \"abc\" ").unwrap(), "abc");
        assert!(parse_key(b"\"unterminated").is_err());
        assert!(parse_key(b"two words").is_err());
        assert!(parse_key(&[b'a'; 256]).is_err());
        assert!(parse_key(b"").is_err());
    }

    #[test]
    fn fingerprints_see_the_body_and_the_target() {
        let h = HeaderMap::new();
        let a = fingerprint(&Method::POST, "/a", &h, b"{}");
        assert_eq!(a, fingerprint(&Method::POST, "/a", &h, b"{}"));
        assert_ne!(a, fingerprint(&Method::POST, "/a", &h, b"{ }"));
        assert_ne!(a, fingerprint(&Method::POST, "/b", &h, b"{}"));
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_key(&bytes);
        }

        #[test]
        fn quoted_keys_round_trip(key in "[ !#-\\[\\]-~]{1,64}") {
            let quoted = format!("\"{key}\"");
            prop_assert_eq!(parse_key(quoted.as_bytes()).unwrap(), key);
        }
    }
}
