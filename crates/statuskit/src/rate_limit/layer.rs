//! The tower layer: one decision per request (reads and writes under their own policies), the
//! fields on every limited response, 429 when the quota is spent.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, Request};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::headers::{ceil_secs, limit_value, policy_value};
use super::{BackendError, Decision, Key, Limiter, OnBackendError, Policy};
use crate::header::{RATELIMIT, RATELIMIT_POLICY};
use crate::problem::Problem;
use crate::request_id;
use crate::retry_after::RetryAfter;

/// How a request is keyed: by the authenticated client when there is one, else by address.
pub type KeyFn = Arc<dyn Fn(&Request<Body>) -> Key + Send + Sync>;

struct Shared {
    limiter: Arc<Limiter>,
    read: (Policy, HeaderValue),
    write: (Policy, HeaderValue),
    key: KeyFn,
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
    on_error: OnBackendError,
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
            }),
            on_error: OnBackendError::Allow,
        }
    }

    /// What to do when the store cannot answer (default: allow).
    #[must_use]
    pub fn on_backend_error(mut self, choice: OnBackendError) -> Self {
        self.on_error = choice;
        self
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit { inner, shared: self.shared.clone(), on_error: self.on_error }
    }
}

/// Middleware that counts requests; see [`RateLimitLayer`].
#[derive(Debug, Clone)]
pub struct RateLimit<S> {
    inner: S,
    shared: Arc<Shared>,
    on_error: OnBackendError,
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
pub(crate) fn too_many_requests(policy: &Policy, policy_header: HeaderValue, d: &Decision) -> Problem {
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

pin_project! {
    /// Response future of [`RateLimit`].
    ///
    /// The in-memory limiter decides at once, in `call`, so an admitted request's future is the
    /// inner service's own, with the two fields to add kept beside it, and a refused one is
    /// ready. Only the Redis limiter, which must be awaited before the inner service may be
    /// called, needs a boxed future (and a clone of the inner service to move into it).
    pub struct ResponseFuture<F, E> {
        #[pin]
        state: State<F, E>,
    }
}

pin_project! {
    #[project = Projected]
    enum State<F, E> {
        // Admitted: the inner future, then `RateLimit-Policy` and `RateLimit`.
        Admitted { #[pin] inner: F, fields: Option<(HeaderValue, HeaderValue)> },
        // Answered without the inner service (429).
        Answered { response: Option<Response> },
        // Decided by a store that had to be awaited.
        Deferred { future: Pin<Box<dyn Future<Output = Result<Response, E>> + Send>> },
    }
}

impl<F, E> std::fmt::Debug for ResponseFuture<F, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Admitted { .. } => "admitted",
            State::Answered { .. } => "answered",
            State::Deferred { .. } => "deferred",
        };
        f.debug_struct("ResponseFuture").field("state", &state).finish()
    }
}

impl<F, E> Future for ResponseFuture<F, E>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            Projected::Admitted { inner, fields } => {
                let mut res = std::task::ready!(inner.poll(cx))?;
                if let Some((policy, limit)) = fields.take() {
                    add_fields(&mut res, policy, limit);
                }
                Poll::Ready(Ok(res))
            }
            Projected::Answered { response } => Poll::Ready(Ok(response.take().expect("polled after completion"))),
            Projected::Deferred { future } => future.as_mut().poll(cx),
        }
    }
}

fn add_fields(res: &mut Response, policy: HeaderValue, limit: HeaderValue) {
    res.headers_mut().insert(RATELIMIT_POLICY, policy);
    res.headers_mut().insert(RATELIMIT, limit);
}

fn store_unavailable(on_error: OnBackendError, e: &BackendError) -> Option<Response> {
    let request_id = request_id::current().map(tracing::field::display);
    let source = std::error::Error::source(e).map(tracing::field::display);
    match on_error {
        OnBackendError::Allow => {
            tracing::warn!(request_id, error = %e, source, "rate limit store unavailable; request allowed unlimited");
            None
        }
        OnBackendError::Deny => {
            tracing::warn!(request_id, error = %e, source, "rate limit store unavailable; request refused");
            Some(
                Problem::service_unavailable(
                    RetryAfter::seconds(1),
                    "the rate limiter cannot reach its store; retry shortly",
                )
                .into_response(),
            )
        }
    }
}

impl<S> Service<Request<Body>> for RateLimit<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let reads = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let shared = &*self.shared;
        let (policy, policy_header) = if reads { &shared.read } else { &shared.write };
        let key = (shared.key)(&req);
        if let Some(d) = shared.limiter.check_now(policy, &key) {
            return if d.allowed {
                let fields = Some((policy_header.clone(), limit_value(policy, &d)));
                ResponseFuture { state: State::Admitted { inner: self.inner.call(req), fields } }
            } else {
                let response = too_many_requests(policy, policy_header.clone(), &d).into_response();
                ResponseFuture { state: State::Answered { response: Some(response) } }
            };
        }
        let shared = self.shared.clone();
        let on_error = self.on_error;
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let state = State::Deferred {
            future: Box::pin(async move {
                let (policy, policy_header) = if reads { &shared.read } else { &shared.write };
                match shared.limiter.check(policy, &key).await {
                    Ok(d) if d.allowed => {
                        let mut res = inner.call(req).await?;
                        add_fields(&mut res, policy_header.clone(), limit_value(policy, &d));
                        Ok(res)
                    }
                    Ok(d) => Ok(too_many_requests(policy, policy_header.clone(), &d).into_response()),
                    Err(e) => match store_unavailable(on_error, &e) {
                        None => inner.call(req).await,
                        Some(refusal) => Ok(refusal),
                    },
                }
            }),
        };
        ResponseFuture { state }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::RETRY_AFTER;
    use crate::status;
    use tower::ServiceExt;

    fn layer() -> RateLimitLayer {
        let limiter = Arc::new(Limiter::memory());
        RateLimitLayer::new(limiter, Policy::per_minute("reads", 1), Policy::per_minute("writes", 1), |_| {
            Key::Name("everyone".into())
        })
    }

    #[tokio::test]
    async fn configured_after_a_clone_without_panicking() {
        let first = layer();
        let kept = first.clone();
        let denying = first.on_backend_error(OnBackendError::Deny);
        assert_eq!(denying.on_error, OnBackendError::Deny);
        assert_eq!(kept.on_error, OnBackendError::Allow, "the clone keeps its own choice");

        // Both share the limiter: the quota of one read is spent by the first request.
        let ok = tower::service_fn(|_: Request<Body>| async { Ok::<_, std::convert::Infallible>(Response::default()) });
        let get = || Request::get("/").body(Body::empty()).unwrap();
        let res = denying.layer(ok).oneshot(get()).await.unwrap();
        assert_eq!(res.status(), status::OK.code);
        assert!(res.headers().contains_key(RATELIMIT));
        let res = kept.layer(ok).oneshot(get()).await.unwrap();
        assert_eq!(res.status(), status::TOO_MANY_REQUESTS.code);
        assert!(res.headers().contains_key(RETRY_AFTER) && res.headers().contains_key(RATELIMIT_POLICY));
    }
}
