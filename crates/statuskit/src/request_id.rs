//! `X-Request-Id` on every response: a sane incoming id is kept, anything else is replaced by a
//! new ULID. The id is put in the request's extensions (as [`RequestId`]), in a `debug` tracing
//! span named `request` (with method and path), and, for the time the request is being served,
//! where [`current`] finds it.
//!
//! Logging: the events this crate writes while serving a request (a 500's cause, a panic, a
//! passed deadline, an unavailable rate-limit store) name the request's id in a `request_id`
//! field, so at the default `info` level a `request_id` from a problem body leads to its log
//! line. The span adds method and path to every event at `debug`. It is not `info` because the
//! default text formatter writes a span's fields out when the span opens: about 6 000
//! instructions on every request, a twentieth of a whole `GET` through the reference service,
//! for context that only the rare error line needs (measured with callgrind).
//!
//! tower-http's `SetRequestId` keeps any incoming value unchecked; ours refuses ids that could
//! spoof log lines or bloat them, so it is written here.
//!
//! ```
//! use axum::{routing::get, Router};
//! use statuskit::request_id::RequestIdLayer;
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app: Router = Router::new().route("/", get(|| async { "hi" })).layer(RequestIdLayer);
//! let req = http::Request::get("/").header("x-request-id", "abc-123").body(axum::body::Body::empty()).unwrap();
//! let res = app.clone().oneshot(req).await.unwrap();
//! assert_eq!(res.headers()["x-request-id"], "abc-123");
//! let req = http::Request::get("/").header("x-request-id", "not ok!").body(axum::body::Body::empty()).unwrap();
//! let res = app.oneshot(req).await.unwrap();
//! assert_eq!(res.headers()["x-request-id"].len(), 26); // a fresh ULID
//! # });
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};
use tracing::instrument::Instrumented;
use tracing::Instrument;

use crate::header::X_REQUEST_ID;

/// The longest incoming id that is kept.
pub const MAX_LEN: usize = 64;

/// The request's id, in request extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// A new ULID.
    pub fn generate() -> Self {
        let id = ulid::Ulid::new().to_string();
        RequestId(HeaderValue::try_from(id).expect("a ULID is ASCII"))
    }

    /// Keeps `value` if it is 1–64 characters of `A-Z a-z 0-9 . _ -`.
    pub fn accept(value: &HeaderValue) -> Option<Self> {
        let b = value.as_bytes();
        let sane = !b.is_empty()
            && b.len() <= MAX_LEN
            && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
        sane.then(|| RequestId(value.clone()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        self.0.to_str().expect("checked or generated as ASCII")
    }

    /// The header value.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

tokio::task_local! {
    static CURRENT: RequestId;
}

/// The id of the request being served by the current task, if [`SetRequestId`] is serving one.
///
/// For log events: `tracing::warn!(request_id = current().map(tracing::field::display), …)`.
///
/// ```
/// use axum::{routing::get, Router};
/// use statuskit::request_id::{current, RequestId, RequestIdLayer};
/// use tower::ServiceExt;
///
/// async fn echo() -> String {
///     current().map(|id| id.as_str().to_owned()).unwrap_or_default()
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let app: Router = Router::new().route("/", get(echo)).layer(RequestIdLayer);
/// let req = http::Request::get("/").header("x-request-id", "abc-123").body(axum::body::Body::empty()).unwrap();
/// let res = app.oneshot(req).await.unwrap();
/// let body = axum::body::to_bytes(res.into_body(), 64).await.unwrap();
/// assert_eq!(&body[..], b"abc-123");
/// assert!(current().is_none()); // outside a request
/// # });
/// ```
pub fn current() -> Option<RequestId> {
    CURRENT.try_with(RequestId::clone).ok()
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Layer that applies [`SetRequestId`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = SetRequestId<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SetRequestId { inner }
    }
}

/// Middleware that gives every request an id and every response the `X-Request-Id` header.
#[derive(Debug, Clone)]
pub struct SetRequestId<S> {
    inner: S,
}

impl<S> SetRequestId<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B, ResBody> Service<Request<B>> for SetRequestId<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let id = req.headers().get(X_REQUEST_ID).and_then(RequestId::accept).unwrap_or_else(RequestId::generate);
        let span = tracing::debug_span!("request", id = id.as_str(), method = %req.method(), path = req.uri().path());
        req.headers_mut().insert(X_REQUEST_ID, id.0.clone());
        let header = id.0.clone();
        req.extensions_mut().insert(id.clone());
        // The inner service's `call` runs inside the scope too: work done there (an extractor's
        // or a layer's eager part) logs with the id as well.
        let inner = CURRENT.sync_scope(id.clone(), || self.inner.call(req));
        ResponseFuture { inner: CURRENT.scope(id, inner.instrument(span)), id: Some(header) }
    }
}

pin_project! {
    /// Response future of [`SetRequestId`].
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: TaskLocalFuture<RequestId, Instrumented<F>>,
        id: Option<HeaderValue>,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = std::task::ready!(this.inner.poll(cx))?;
        if let Some(id) = this.id.take() {
            res.headers_mut().insert(X_REQUEST_ID, id);
        }
        Poll::Ready(Ok(res))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn accepts_only_sane_ids(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(v) = HeaderValue::from_bytes(&bytes) {
                if let Some(id) = RequestId::accept(&v) {
                    prop_assert!(id.as_str().len() <= MAX_LEN);
                    prop_assert!(!id.as_str().contains(' '));
                }
            }
        }
    }
}
