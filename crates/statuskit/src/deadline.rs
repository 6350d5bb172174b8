//! 504: every request has a deadline; work still running at it is dropped (its future is
//! cancelled, so a database call in it ends there) and the client gets a problem at once.
//!
//! tower-http's `TimeoutLayer` answers 408 unless told otherwise and with an empty body; this one
//! answers the contract's 504 problem and says how long it waited.
//!
//! ```
//! use std::time::Duration;
//! use axum::{routing::get, Router};
//! use statuskit::deadline::DeadlineLayer;
//! use tower::ServiceExt;
//!
//! async fn slow() -> &'static str {
//!     tokio::time::sleep(Duration::from_secs(5)).await;
//!     "late"
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let app: Router = Router::new()
//!     .route("/", get(slow))
//!     .layer(DeadlineLayer::new(Duration::from_millis(20)))
//!     .layer(statuskit::ContractLayer::new());
//! let res = app.oneshot(http::Request::get("/").body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), 504);
//! # });
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::Request;
use pin_project_lite::pin_project;
use tokio::time::Timeout;
use tower::{Layer, Service};

use crate::problem::Problem;

/// Layer that applies [`Deadline`].
#[derive(Debug, Clone, Copy)]
pub struct DeadlineLayer {
    after: Duration,
}

impl DeadlineLayer {
    /// Requests end with 504 after `after`.
    pub fn new(after: Duration) -> Self {
        DeadlineLayer { after }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline { inner, after: self.after }
    }
}

/// Middleware that ends a request with 504 at its deadline.
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
    after: Duration,
}

impl<S> Deadline<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> Service<Request<B>> for Deadline<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        ResponseFuture { inner: tokio::time::timeout(self.after, self.inner.call(req)), after: self.after }
    }
}

pin_project! {
    /// Response future of [`Deadline`].
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Timeout<F>,
        after: Duration,
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match std::task::ready!(this.inner.poll(cx)) {
            Ok(result) => Poll::Ready(result),
            Err(_elapsed) => {
                tracing::warn!(
                    request_id = crate::request_id::current().map(tracing::field::display),
                    deadline_ms = this.after.as_millis() as u64,
                    "request passed its deadline"
                );
                Poll::Ready(Ok(Problem::gateway_timeout(format!(
                    "the backend did not answer within {} ms; the request was abandoned, retry later",
                    this.after.as_millis()
                ))
                .into_response()))
            }
        }
    }
}
