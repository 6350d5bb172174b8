//! The tower layer: one decision per request (reads and writes under their own policies), the
//! fields on every limited response, 429 when the quota is spent.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, Request};
use tower::{Layer, Service};

use super::headers::{ceil_secs, limit_value, policy_value};
use super::{Decision, Key, Limiter, OnBackendError, Policy};
use crate::header::{RATELIMIT, RATELIMIT_POLICY};
use crate::problem::Problem;
use crate::request_id::{self, RequestId};
use crate::retry_after::RetryAfter;

/// How a request is keyed: by the authenticated client when there is one, else by address.
pub type KeyFn = Arc<dyn Fn(&Request<Body>) -> Key + Send + Sync>;

struct Shared {
    limiter: Arc<Limiter>,
    read: (Policy, HeaderValue),
    write: (Policy, HeaderValue),
    key: KeyFn,
    on_error: OnBackendError,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("read", &self.read.0).field("write", &self.write.0).finish_non_exhaustive()
    }
}

/// Layer that applies [`RateLimit`]: GET/HEAD/OPTIONS count against `read`, everything else
/// against `write` (stricter, as seed 001 says of POST).
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    shared: Arc<Shared>,
}

impl RateLimitLayer {
    /// Limits with `limiter`, keying each request with `key`.
    pub fn new(
        limiter: Arc<Limiter>,
        read: Policy,
        write: Policy,
        key: impl Fn(&Request<Body>) -> Key + Send + Sync + 'static,
    ) -> Self {
        let read_header = policy_value(&read);
        let write_header = policy_value(&write);
        RateLimitLayer {
            shared: Arc::new(Shared {
                limiter,
                read: (read, read_header),
                write: (write, write_header),
                key: Arc::new(key),
                on_error: OnBackendError::Allow,
            }),
        }
    }

    /// What to do when the store cannot answer (default: allow).
    #[must_use]
    pub fn on_backend_error(mut self, choice: OnBackendError) -> Self {
        Arc::get_mut(&mut self.shared).expect("configured before use").on_error = choice;
        self
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit { inner, shared: self.shared.clone() }
    }
}

/// Middleware that counts requests; see [`RateLimitLayer`].
#[derive(Debug, Clone)]
pub struct RateLimit<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> RateLimit<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// The 429 for a spent `policy`: `Retry-After` (whole seconds, rounded up, never earlier than
/// `t`), the two fields, and `violated-policies` (the draft's problem extension).
pub fn too_many_requests(policy: &Policy, policy_header: HeaderValue, d: &Decision) -> Problem {
    let wait = ceil_secs(d.reset).max(1);
    Problem::too_many_requests(
        RetryAfter::seconds(wait),
        format!(
            "the `{}` limit of {} requests per {} s is spent; retry in {wait} s",
            policy.name(),
            policy.quota(),
            ceil_secs(policy.window())
        ),
    )
    .with_header(RATELIMIT_POLICY, policy_header)
    .with_header(RATELIMIT, limit_value(policy, &Decision { reset: std::time::Duration::from_secs(wait), ..*d }))
    .extension("violated-policies", serde_json::json!([policy.name()]))
}

/// Response future of [`RateLimit`]. Boxed: the decision may wait on Redis before the inner
/// service is called, and the 429 path never calls it.
pub type ResponseFuture<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

impl<S> Service<Request<Body>> for RateLimit<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let shared = self.shared.clone();
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let reads = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
            let (policy, policy_header) = if reads { &shared.read } else { &shared.write };
            let key = (shared.key)(&req);
            match shared.limiter.check(policy, &key).await {
                Ok(d) if d.allowed => {
                    let mut res = inner.call(req).await?;
                    res.headers_mut().insert(RATELIMIT_POLICY, policy_header.clone());
                    res.headers_mut().insert(RATELIMIT, limit_value(policy, &d));
                    Ok(res)
                }
                Ok(d) => Ok(too_many_requests(policy, policy_header.clone(), &d).into_response()),
                Err(e) => match shared.on_error {
                    OnBackendError::Allow => {
                        let request_id = request_id::current();
                        let request_id = request_id.as_ref().map(RequestId::as_str);
                        tracing::warn!(request_id, error = %e, "rate limit store unavailable; request allowed unlimited");
                        inner.call(req).await
                    }
                    OnBackendError::Deny => {
                        let request_id = request_id::current();
                        let request_id = request_id.as_ref().map(RequestId::as_str);
                        tracing::warn!(request_id, error = %e, "rate limit store unavailable; request refused");
                        Ok(Problem::service_unavailable(
                            RetryAfter::seconds(1),
                            "the rate limiter cannot reach its store; retry shortly",
                        )
                        .into_response())
                    }
                },
            }
        })
    }
}
