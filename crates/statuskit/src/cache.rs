//! `Cache-Control` on every 2xx (and on 304, which must carry what its 200 would, RFC 9110
//! §15.4.5), chosen per path: `no-store` for what must never be kept (tokens, health), `private`
//! for what a bearer token reads (`private, no-cache` when the response has a validator, so a
//! cache revalidates it with `If-None-Match` before each use), `public, max-age=N` for
//! documentation. A handler that sets `Cache-Control` itself keeps its own value; error responses
//! are left alone.
//!
//! ```
//! use std::time::Duration;
//! use axum::{routing::get, Router};
//! use statuskit::cache::{CacheControlLayer, CachePolicy};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let layer = CacheControlLayer::new(CachePolicy::Private)
//!     .exact("/health", CachePolicy::NoStore)
//!     .exact("/docs", CachePolicy::Public { max_age: Duration::from_secs(3600) });
//! let app: Router = Router::new()
//!     .route("/health", get(|| async { "ok" }))
//!     .route("/docs", get(|| async { "docs" }))
//!     .route("/me", get(|| async { "me" }))
//!     .layer(layer);
//! let get = |path: &'static str| http::Request::get(path).body(axum::body::Body::empty()).unwrap();
//! let res = app.clone().oneshot(get("/health")).await.unwrap();
//! assert_eq!(res.headers()["cache-control"], "no-store");
//! let res = app.clone().oneshot(get("/docs")).await.unwrap();
//! assert_eq!(res.headers()["cache-control"], "public, max-age=3600");
//! let res = app.clone().oneshot(get("/me")).await.unwrap();
//! assert_eq!(res.headers()["cache-control"], "private");
//! let res = app.oneshot(get("/nowhere")).await.unwrap();
//! assert!(res.headers().get("cache-control").is_none()); // a 404
//! # });
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::header::{CACHE_CONTROL, ETAG, LAST_MODIFIED};

/// What caches may do with a successful response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CachePolicy {
    /// `no-store`: never kept (tokens, health, anything secret or changing by the second).
    NoStore,
    /// `private`, plus `no-cache` when the response carries `ETag` or `Last-Modified`: only
    /// the client's own cache may keep it, and must revalidate it first.
    Private,
    /// `public, max-age=N`: any cache may keep it for `max_age`.
    Public {
        /// How long it stays fresh (whole seconds).
        max_age: Duration,
    },
    /// No `Cache-Control` added.
    Unset,
}

impl CachePolicy {
    /// The header value for a response with these headers, if any.
    pub fn header_value(&self, response: &HeaderMap) -> Option<HeaderValue> {
        match self {
            CachePolicy::NoStore => Some(HeaderValue::from_static("no-store")),
            CachePolicy::Private if response.contains_key(ETAG) || response.contains_key(LAST_MODIFIED) => {
                Some(HeaderValue::from_static("private, no-cache"))
            }
            CachePolicy::Private => Some(HeaderValue::from_static("private")),
            CachePolicy::Public { max_age } => {
                let mut value = String::from("public, max-age=");
                value.push_str(itoa::Buffer::new().format(max_age.as_secs()));
                Some(HeaderValue::try_from(value).expect("ASCII digits"))
            }
            CachePolicy::Unset => None,
        }
    }
}

/// Which requests a rule applies to.
#[derive(Debug, Clone)]
enum PathMatch {
    Exact(Box<str>),
    Prefix(Box<str>),
}

/// Layer of [`CacheControl`]: a default policy and per-path exceptions, the first match winning.
#[derive(Debug, Clone)]
pub struct CacheControlLayer {
    default: CachePolicy,
    rules: Arc<Vec<(PathMatch, CachePolicy)>>,
}

impl CacheControlLayer {
    /// `default` for every path without a rule of its own.
    pub fn new(default: CachePolicy) -> Self {
        CacheControlLayer { default, rules: Arc::new(Vec::new()) }
    }

    /// `policy` for exactly `path`.
    #[must_use]
    pub fn exact(mut self, path: &str, policy: CachePolicy) -> Self {
        Arc::make_mut(&mut self.rules).push((PathMatch::Exact(path.into()), policy));
        self
    }

    /// `policy` for every path starting with `prefix`.
    #[must_use]
    pub fn prefix(mut self, prefix: &str, policy: CachePolicy) -> Self {
        Arc::make_mut(&mut self.rules).push((PathMatch::Prefix(prefix.into()), policy));
        self
    }

    /// The policy for `path`.
    pub fn policy(&self, path: &str) -> CachePolicy {
        self.rules
            .iter()
            .find(|(m, _)| match m {
                PathMatch::Exact(p) => **p == *path,
                PathMatch::Prefix(p) => path.starts_with(&**p),
            })
            .map_or(self.default, |(_, policy)| *policy)
    }
}

impl<S> Layer<S> for CacheControlLayer {
    type Service = CacheControl<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CacheControl { inner, layer: self.clone() }
    }
}

/// Middleware adding `Cache-Control`; see the [module](self).
#[derive(Debug, Clone)]
pub struct CacheControl<S> {
    inner: S,
    layer: CacheControlLayer,
}

impl<S, B, ResBody> Service<Request<B>> for CacheControl<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let policy = self.layer.policy(req.uri().path());
        ResponseFuture { inner: self.inner.call(req), policy }
    }
}

pin_project! {
    /// Response future of [`CacheControl`].
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        policy: CachePolicy,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = std::task::ready!(this.inner.poll(cx))?;
        let status = res.status();
        if (status.is_success() || status == crate::status::NOT_MODIFIED.code)
            && !res.headers().contains_key(CACHE_CONTROL)
        {
            if let Some(value) = this.policy.header_value(res.headers()) {
                res.headers_mut().insert(CACHE_CONTROL, value);
            }
        }
        Poll::Ready(Ok(res))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        let mut h = HeaderMap::new();
        assert_eq!(CachePolicy::Private.header_value(&h).unwrap(), "private");
        h.insert(ETAG, HeaderValue::from_static("\"1\""));
        assert_eq!(CachePolicy::Private.header_value(&h).unwrap(), "private, no-cache");
        assert_eq!(CachePolicy::NoStore.header_value(&h).unwrap(), "no-store");
        let public = CachePolicy::Public { max_age: Duration::from_secs(300) };
        assert_eq!(public.header_value(&h).unwrap(), "public, max-age=300");
        assert!(CachePolicy::Unset.header_value(&h).is_none());
    }

    #[test]
    fn first_rule_wins_then_the_default() {
        let l = CacheControlLayer::new(CachePolicy::Private)
            .exact("/health", CachePolicy::NoStore)
            .prefix("/oauth/", CachePolicy::NoStore)
            .prefix("/", CachePolicy::Unset);
        assert_eq!(l.policy("/health"), CachePolicy::NoStore);
        assert_eq!(l.policy("/oauth/token"), CachePolicy::NoStore);
        assert_eq!(l.policy("/healthz"), CachePolicy::Unset);
        assert_eq!(CacheControlLayer::new(CachePolicy::Private).policy("/x"), CachePolicy::Private);
    }
}
