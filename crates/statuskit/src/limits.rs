//! 414 and 431 as problems: a request target or a header section over the limits is answered by
//! the contract's problem, saying which limit it passed, before any route runs.
//!
//! hyper refuses such requests itself only far beyond these limits (a 64 KiB target, 100 header
//! fields, a head over its read buffer), and then with a bare status and no body, which no layer
//! can reach. Checking here, with lower limits, gives nearly every client the problem body; hyper's
//! own refusals stay as the last line for heads too large to read at all.
//!
//! ```
//! use axum::{routing::get, Router};
//! use statuskit::{limits::RequestLimitsLayer, ContractLayer};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hi" }))
//!     .layer(RequestLimitsLayer::default())
//!     .layer(ContractLayer::new());
//! let long = format!("/?q={}", "a".repeat(9000));
//! let res = app.clone().oneshot(http::Request::get(long).body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), 414);
//! assert_eq!(res.headers()["content-type"], "application/problem+json");
//! let res = app.oneshot(http::Request::get("/").body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), 200);
//! # });
//! ```

use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use futures_util::future::{ready, Either, Ready};
use http::Request;
use tower::{Layer, Service};

use crate::problem::Problem;

/// The longest request target kept by default, in bytes: RFC 9110 §4.1 asks for at least 8000.
pub const MAX_TARGET_BYTES: usize = 8 * 1024;
/// The largest header section by default, in bytes (names, values and 4 bytes of framing a field).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// The most header fields by default: below hyper's own limit of 100, so this problem comes first.
pub const MAX_HEADER_FIELDS: usize = 96;

/// Layer of [`RequestLimits`].
#[derive(Debug, Clone, Copy)]
pub struct RequestLimitsLayer {
    max_target: usize,
    max_header_bytes: usize,
    max_header_fields: usize,
}

impl Default for RequestLimitsLayer {
    fn default() -> Self {
        RequestLimitsLayer {
            max_target: MAX_TARGET_BYTES,
            max_header_bytes: MAX_HEADER_BYTES,
            max_header_fields: MAX_HEADER_FIELDS,
        }
    }
}

impl RequestLimitsLayer {
    /// The longest request target (path and query), in bytes.
    #[must_use]
    pub fn max_target(mut self, bytes: usize) -> Self {
        self.max_target = bytes;
        self
    }

    /// The largest header section, in bytes.
    #[must_use]
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes;
        self
    }

    /// The most header fields.
    #[must_use]
    pub fn max_header_fields(mut self, fields: usize) -> Self {
        self.max_header_fields = fields;
        self
    }

    /// The problem for `req`, if it passes a limit.
    fn check<B>(&self, req: &Request<B>) -> Option<Problem> {
        let target = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
        if target > self.max_target {
            return Some(Problem::uri_too_long(self.max_target));
        }
        let fields = req.headers().len();
        if fields > self.max_header_fields {
            return Some(Problem::header_fields_too_large(format!(
                "the request has {fields} header fields; at most {} are read",
                self.max_header_fields
            )));
        }
        let bytes: usize = req.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
        if bytes > self.max_header_bytes {
            return Some(Problem::header_fields_too_large(format!(
                "the header section is {bytes} bytes; at most {} are read",
                self.max_header_bytes
            )));
        }
        None
    }
}

impl<S> Layer<S> for RequestLimitsLayer {
    type Service = RequestLimits<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestLimits { inner, limits: *self }
    }
}

/// Middleware answering 414 and 431; see the [module](self).
#[derive(Debug, Clone)]
pub struct RequestLimits<S> {
    inner: S,
    limits: RequestLimitsLayer,
}

impl<S, B> Service<Request<B>> for RequestLimits<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<Response, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        match self.limits.check(&req) {
            None => Either::Left(self.inner.call(req)),
            Some(problem) => Either::Right(ready(Ok(problem.into_response()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: &str, headers: &[(&str, String)]) -> Request<()> {
        let mut b = Request::get(target);
        for (name, value) in headers {
            b = b.header(*name, value.as_str());
        }
        b.body(()).unwrap()
    }

    #[test]
    fn passes_up_to_each_limit_and_refuses_past_it() {
        let l = RequestLimitsLayer::default().max_target(20).max_header_fields(3).max_header_bytes(40);
        assert!(l.check(&request("/abcdefghijklmnopqrs", &[])).is_none(), "20 bytes");
        let p = l.check(&request("/abcdefghijklmnopqrst", &[])).unwrap();
        assert_eq!(p.status().code, 414);

        let three: Vec<_> = (0..3).map(|i| (["a", "b", "c"][i], "1".to_owned())).collect();
        assert!(l.check(&request("/", &three)).is_none());
        let four: Vec<_> = (0..4).map(|i| (["a", "b", "c", "d"][i], "1".to_owned())).collect();
        let p = l.check(&request("/", &four)).unwrap();
        assert_eq!(p.status().code, 431);
        assert!(p.detail().contains("4 header fields"), "{}", p.detail());

        // "x" + 35 bytes + 4 = 40: at the limit; one more byte is over.
        assert!(l.check(&request("/", &[("x", "v".repeat(35))])).is_none());
        let p = l.check(&request("/", &[("x", "v".repeat(36))])).unwrap();
        assert_eq!(p.status().code, 431);
        assert!(p.detail().contains("41 bytes"), "{}", p.detail());
    }
}
