//! 408 for a body that trickles or stops, and handlers that never wait on the network: the whole
//! request body is read, within time bounds, before the services inside this layer see the
//! request.
//!
//! Put it inside authentication and outside load shedding: then an in-flight slot (and the
//! deadline that answers 504) is held only for the handler's own work, never while a stranger's
//! body trickles in, and only callers who passed authentication can make the service hold a body.
//!
//! - The body must arrive within [`BodyTimeouts::total`], with no gap longer than
//!   [`BodyTimeouts::between_reads`]; otherwise the answer is a 408 problem and the connection is
//!   closed (contract §1.1: it is the client that is late, not the backend).
//! - At most the route's [`BodyLimit`] is held: a body declared larger is not read at all, and one
//!   that turns out larger stops being read there; either way the body extractors answer 413 in
//!   the contract's order (after 411 and 415).
//! - A body that cannot be read (a malformed chunk) is a 400 problem.
//!
//! ```
//! use std::time::Duration;
//! use axum::{routing::post, Router};
//! use statuskit::collect::{BodyTimeouts, CollectBodyLayer};
//! use futures_util::StreamExt;
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let app: Router = Router::new()
//!     .route("/", post(|body: String| async move { body }))
//!     .layer(CollectBodyLayer::new(BodyTimeouts::default()))
//!     .layer(statuskit::ContractLayer::new());
//! // A body that stops after its first chunk.
//! let stalled = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from("ab"))])
//!     .chain(futures_util::stream::pending());
//! let req = http::Request::post("/").body(axum::body::Body::from_stream(stalled)).unwrap();
//! tokio::time::pause();
//! let res = app.oneshot(req).await.unwrap();
//! assert_eq!(res.status(), 408);
//! assert_eq!(res.headers()["connection"], "close");
//! # });
//! ```

use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use http::Request;
use http_body::Body as _;
use http_body_util::BodyExt;
use tower::{Layer, Service, ServiceExt};

use crate::body::{declared_length, BodyLimit, BodyOverLimit, DEFAULT_LIMIT};
use crate::problem::Problem;

/// How long a request body may take to arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTimeouts {
    /// The longest pause between two pieces of the body (default 5 s).
    pub between_reads: Duration,
    /// The longest the whole body may take (default 30 s).
    pub total: Duration,
}

impl Default for BodyTimeouts {
    fn default() -> Self {
        BodyTimeouts { between_reads: Duration::from_secs(5), total: Duration::from_secs(30) }
    }
}

/// Layer that applies [`CollectBody`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CollectBodyLayer {
    timeouts: BodyTimeouts,
}

impl CollectBodyLayer {
    /// Reads bodies within `timeouts`.
    pub fn new(timeouts: BodyTimeouts) -> Self {
        CollectBodyLayer { timeouts }
    }
}

impl<S> Layer<S> for CollectBodyLayer {
    type Service = CollectBody<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CollectBody { inner, timeouts: self.timeouts }
    }
}

/// Middleware that reads the whole request body first; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct CollectBody<S> {
    inner: S,
    timeouts: BodyTimeouts,
}

impl<S> CollectBody<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

crate::future::response_future! {
    /// What [`CollectBody`] returns: the inner future at once for a request without a body, else
    /// the read followed by the inner call.
    CollectBody
}

impl<S> Service<Request<Body>> for CollectBody<S>
where
    S: Service<Request<Body>, Response = Response, Error = std::convert::Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = ResponseFuture<S::Future, std::convert::Infallible>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        if req.body().is_end_stream() {
            return ResponseFuture::inner(self.inner.call(req));
        }
        let limit = req.extensions().get::<BodyLimit>().map_or(DEFAULT_LIMIT, |l| l.0);
        if declared_length(req.headers()).is_some_and(|n| n > limit as u64) {
            // Not read at all: the body extractor answers 413 from the declared length.
            return ResponseFuture::inner(self.inner.call(req));
        }
        // The inner service was made ready for this call; a clone takes its place.
        let inner = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, inner);
        let timeouts = self.timeouts;
        ResponseFuture::boxed(Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            match read(body, limit, timeouts).await {
                Ok(Read::Whole(bytes)) => inner.oneshot(Request::from_parts(parts, Body::from(bytes))).await,
                Ok(Read::OverLimit) => {
                    parts.extensions.insert(BodyOverLimit(limit));
                    inner.oneshot(Request::from_parts(parts, Body::empty())).await
                }
                Err(problem) => Ok(problem.into_response()),
            }
        }))
    }
}

enum Read {
    Whole(Bytes),
    OverLimit,
}

async fn read(mut body: Body, limit: usize, timeouts: BodyTimeouts) -> Result<Read, Problem> {
    let deadline = tokio::time::Instant::now() + timeouts.total;
    let mut buf = BytesMut::new();
    loop {
        let until = deadline.min(tokio::time::Instant::now() + timeouts.between_reads);
        let frame = match tokio::time::timeout_at(until, body.frame()).await {
            Ok(frame) => frame,
            Err(_) => {
                let why = if until == deadline {
                    format!("the request body did not arrive within {} ms", timeouts.total.as_millis())
                } else {
                    format!("the request body stopped arriving for {} ms", timeouts.between_reads.as_millis())
                };
                return Err(Problem::request_timeout(why));
            }
        };
        match frame {
            None => return Ok(Read::Whole(buf.freeze())),
            Some(Err(e)) => return Err(Problem::bad_request(format!("the request body could not be read: {e}"))),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if buf.len() + data.len() > limit {
                        return Ok(Read::OverLimit);
                    }
                    buf.extend_from_slice(&data);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;
    use axum::Router;
    use futures_util::StreamExt;

    fn app(timeouts: BodyTimeouts) -> Router {
        Router::new()
            .route(
                "/",
                post(|req: axum::extract::Request| async move {
                    crate::body::read_body(req, &["text/plain"]).await.map(|(_, b)| b)
                }),
            )
            .layer(CollectBodyLayer::new(timeouts))
            .layer(crate::ContractLayer::new())
    }

    fn chunked(chunks: Vec<&'static str>, then_stall: bool) -> Request<Body> {
        let items = futures_util::stream::iter(chunks.into_iter().map(|c| Ok::<_, std::io::Error>(Bytes::from(c))));
        let body = if then_stall {
            Body::from_stream(items.chain(futures_util::stream::pending()))
        } else {
            Body::from_stream(items)
        };
        Request::post("/")
            .header("content-type", "text/plain")
            .header("transfer-encoding", "chunked")
            .body(body)
            .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_is_408_and_closes() {
        let res = app(BodyTimeouts::default()).oneshot(chunked(vec!["a"], true)).await.unwrap();
        assert_eq!(res.status(), 408);
        assert_eq!(res.headers()["connection"], "close");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickle_that_beats_the_gap_still_meets_the_total() {
        let timeouts = BodyTimeouts { between_reads: Duration::from_secs(5), total: Duration::from_secs(12) };
        let slow = futures_util::stream::iter(0..100).then(|_| async {
            tokio::time::sleep(Duration::from_secs(4)).await;
            Ok::<_, std::io::Error>(Bytes::from_static(b"x"))
        });
        let req = Request::post("/").header("content-type", "text/plain").body(Body::from_stream(slow)).unwrap();
        let started = tokio::time::Instant::now();
        let res = app(timeouts).oneshot(req).await.unwrap();
        assert_eq!(res.status(), 408);
        assert_eq!(started.elapsed(), Duration::from_secs(12));
    }

    #[tokio::test(start_paused = true)]
    async fn a_whole_body_reaches_the_handler_and_an_oversized_one_is_413() {
        let res = app(BodyTimeouts::default()).oneshot(chunked(vec!["ab", "cd"], false)).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(axum::body::to_bytes(res.into_body(), 100).await.unwrap(), "abcd");
        let mut req = chunked(vec!["ab", "cd"], true);
        req.extensions_mut().insert(BodyLimit(3));
        let res = app(BodyTimeouts::default()).oneshot(req).await.unwrap();
        assert_eq!(res.status(), 413, "over the limit, decided without waiting for the rest");
    }
}
