//! 503: maintenance mode and load shedding, each answering at once with `Retry-After`, never
//! queueing.
//!
//! Shedding is a counter of requests in flight written here rather than tower's `LoadShed` +
//! `ConcurrencyLimit`: those shed only when `poll_ready` reports back-pressure, which axum's
//! router does not pass through per route, and a `Buffer` between them has produced spurious
//! rejections elsewhere. A counter is exact: the request over the bound is refused, no other.
//!
//! ```
//! use axum::{routing::get, Router};
//! use statuskit::unavailable::{Maintenance, MaintenanceLayer};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let switch = Maintenance::default();
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hi" }))
//!     .layer(MaintenanceLayer::new(switch.clone()))
//!     .layer(statuskit::ContractLayer::new());
//! switch.enable(120);
//! let res = app.oneshot(http::Request::get("/").body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), 503);
//! assert_eq!(res.headers()["retry-after"], "120");
//! # });
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use http::Request;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::problem::Problem;
use crate::retry_after::RetryAfter;

/// The maintenance switch, shared between the layer and whatever flips it.
#[derive(Debug, Clone, Default)]
pub struct Maintenance {
    state: Arc<(AtomicBool, AtomicU64)>,
}

impl Maintenance {
    /// Turns maintenance on; clients are told to retry after `retry_after_seconds`.
    pub fn enable(&self, retry_after_seconds: u64) {
        self.state.1.store(retry_after_seconds, Ordering::Relaxed);
        self.state.0.store(true, Ordering::Release);
    }

    /// Turns it off.
    pub fn disable(&self) {
        self.state.0.store(false, Ordering::Release);
    }

    /// `Some(retry_after_seconds)` while on.
    pub fn active(&self) -> Option<u64> {
        self.state.0.load(Ordering::Acquire).then(|| self.state.1.load(Ordering::Relaxed))
    }

    /// The 503 while on.
    pub fn problem(&self) -> Option<Problem> {
        self.active().map(|secs| {
            Problem::service_unavailable(
                RetryAfter::seconds(secs),
                format!("the service is down for maintenance; retry in {secs} s"),
            )
        })
    }
}

/// Counts requests in flight against a bound.
#[derive(Debug, Clone)]
pub struct Shedder {
    in_flight: Arc<AtomicUsize>,
    max: usize,
    retry_after: u64,
}

/// One admitted request; the count goes down when it is dropped (the response is done, or the
/// request was abandoned).
#[derive(Debug)]
pub struct Admitted(Arc<AtomicUsize>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Shedder {
    /// At most `max` requests in flight; the ones over it are told to retry after
    /// `retry_after_seconds`.
    pub fn new(max: usize, retry_after_seconds: u64) -> Self {
        Shedder { in_flight: Arc::new(AtomicUsize::new(0)), max: max.max(1), retry_after: retry_after_seconds }
    }

    /// The 503 if the bound is reached now, without taking a slot: for an early check in the
    /// contract's order (§5: shedding before authentication) when the slot itself is taken later,
    /// once the request is ready for its handler (see [`LoadShedLayer::check_only`]).
    pub fn check(&self) -> Result<(), Problem> {
        if self.in_flight() >= self.max {
            return Err(self.refusal());
        }
        Ok(())
    }

    fn refusal(&self) -> Problem {
        Problem::service_unavailable(
            RetryAfter::seconds(self.retry_after),
            format!("the service is at its limit of {} requests in flight; retry in {} s", self.max, self.retry_after),
        )
    }

    /// Admits one request, or gives the 503 if the bound is reached.
    pub fn admit(&self) -> Result<Admitted, Problem> {
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let admitted = Admitted(self.in_flight.clone());
        if before >= self.max {
            drop(admitted);
            return Err(self.refusal());
        }
        Ok(admitted)
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// The bound.
    pub fn max(&self) -> usize {
        self.max
    }
}

/// Layer that applies [`MaintenanceMode`].
#[derive(Debug, Clone)]
pub struct MaintenanceLayer {
    switch: Maintenance,
}

impl MaintenanceLayer {
    /// Answers 503 while `switch` is on.
    pub fn new(switch: Maintenance) -> Self {
        MaintenanceLayer { switch }
    }
}

impl<S> Layer<S> for MaintenanceLayer {
    type Service = MaintenanceMode<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MaintenanceMode { inner, switch: self.switch.clone() }
    }
}

/// Middleware answering 503 while maintenance is on.
#[derive(Debug, Clone)]
pub struct MaintenanceMode<S> {
    inner: S,
    switch: Maintenance,
}

/// Layer that applies [`LoadShed`].
#[derive(Debug, Clone)]
pub struct LoadShedLayer {
    shedder: Shedder,
    hold: bool,
}

impl LoadShedLayer {
    /// Sheds past `shedder`'s bound; an admitted request holds a slot until its response is made.
    pub fn new(shedder: Shedder) -> Self {
        LoadShedLayer { shedder, hold: true }
    }

    /// Sheds past `shedder`'s bound but takes no slot: an early 503 for a service that takes its
    /// slots further in (after authentication and reading the body, so that a slot is held only
    /// for a handler's own work).
    pub fn check_only(shedder: Shedder) -> Self {
        LoadShedLayer { shedder, hold: false }
    }
}

impl<S> Layer<S> for LoadShedLayer {
    type Service = LoadShed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LoadShed { inner, shedder: self.shedder.clone(), hold: self.hold }
    }
}

/// Middleware answering 503 at once when too many requests are in flight.
#[derive(Debug, Clone)]
pub struct LoadShed<S> {
    inner: S,
    shedder: Shedder,
    hold: bool,
}

macro_rules! accessors {
    ($($t:ident),*) => {$(
        impl<S> $t<S> {
            /// The wrapped service.
            pub fn get_ref(&self) -> &S {
                &self.inner
            }

            /// Unwraps the service.
            pub fn into_inner(self) -> S {
                self.inner
            }
        }
    )*};
}
accessors!(MaintenanceMode, LoadShed);

pin_project! {
    /// Response future of [`MaintenanceMode`] and [`LoadShed`]: the inner future (holding the
    /// in-flight slot, if any), or the 503.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Option<F>,
        slot: Option<Admitted>,
        refused: Option<Problem>,
    }
}

impl<F> ResponseFuture<F> {
    fn admitted(inner: F, slot: Option<Admitted>) -> Self {
        ResponseFuture { inner: Some(inner), slot, refused: None }
    }

    fn refused(problem: Problem) -> Self {
        ResponseFuture { inner: None, slot: None, refused: Some(problem) }
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.inner.as_pin_mut() {
            Some(inner) => {
                let out = std::task::ready!(inner.poll(cx));
                this.slot.take();
                Poll::Ready(out)
            }
            None => Poll::Ready(Ok(this.refused.take().expect("polled after completion").into_response())),
        }
    }
}

impl<S, B> Service<Request<B>> for MaintenanceMode<S>
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
        match self.switch.problem() {
            Some(problem) => ResponseFuture::refused(problem),
            None => ResponseFuture::admitted(self.inner.call(req), None),
        }
    }
}

impl<S, B> Service<Request<B>> for LoadShed<S>
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
        if !self.hold {
            return match self.shedder.check() {
                Ok(()) => ResponseFuture::admitted(self.inner.call(req), None),
                Err(problem) => ResponseFuture::refused(problem),
            };
        }
        match self.shedder.admit() {
            Ok(slot) => ResponseFuture::admitted(self.inner.call(req), Some(slot)),
            Err(problem) => ResponseFuture::refused(problem),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shedder_counts_and_releases() {
        let s = Shedder::new(2, 1);
        let a = s.admit().unwrap();
        let _b = s.admit().unwrap();
        let refused = s.admit().unwrap_err();
        assert_eq!(refused.status().code, 503);
        assert_eq!(refused.headers()["retry-after"], "1");
        assert_eq!(s.in_flight(), 2, "a refusal does not hold a slot");
        drop(a);
        assert!(s.admit().is_ok());
    }

    #[test]
    fn maintenance_switch() {
        let m = Maintenance::default();
        assert!(m.problem().is_none());
        m.enable(30);
        assert_eq!(m.active(), Some(30));
        m.disable();
        assert_eq!(m.active(), None);
    }
}
