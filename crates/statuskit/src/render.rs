//! Writes problem bodies: every response carrying a [`Problem`] gets its body in the format the
//! client prefers, with the `request_id`; every other 4xx/5xx with no body type or `text/plain`
//! (axum's own rejections, another crate's middleware) is replaced by the catalog's problem for its
//! status, keeping its headers. No error reaches a client as `text/plain`.
//!
//! ```
//! use axum::{routing::get, Router};
//! use statuskit::{render::RenderProblemLayer, request_id::RequestIdLayer, Problem};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app: Router = Router::new()
//!     .route("/", get(|| async { Problem::conflict("an upload is already running") }))
//!     .layer(RenderProblemLayer::new())
//!     .layer(RequestIdLayer);
//! let req = http::Request::get("/").header("accept", "application/xml").body(axum::body::Body::empty()).unwrap();
//! let res = app.oneshot(req).await.unwrap();
//! assert_eq!(res.status(), 409);
//! assert_eq!(res.headers()["content-type"], "application/problem+xml; charset=utf-8");
//! assert_eq!(res.headers()["vary"], "accept");
//! # });
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use http::{HeaderMap, HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::header::{mime, ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, VARY};
use crate::negotiate::problem_format;
use crate::negotiate::Format;
use crate::problem::Problem;
use crate::problem_type::DocsBase;
use crate::request_id::RequestId;
use crate::status::Status;

/// Layer that applies [`RenderProblem`].
#[derive(Debug, Clone, Default)]
pub struct RenderProblemLayer {
    report: Option<Arc<str>>,
    docs: DocsBase,
}

impl RenderProblemLayer {
    /// No report link.
    pub fn new() -> Self {
        Self::default()
    }

    /// Where users should report a 500 (seed 000: "Please open an issue"); added to every 500.
    #[must_use]
    pub fn report_url(mut self, url: impl Into<Arc<str>>) -> Self {
        self.report = Some(url.into());
        self
    }

    /// Where the error docs live: the base of every problem `type` (default `/docs/errors`).
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use statuskit::{problem_type::DocsBase, render::RenderProblemLayer, Problem};
    /// use tower::ServiceExt;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let docs = DocsBase::new("https://api.example.com/errors").unwrap();
    /// let app: Router = Router::new()
    ///     .route("/", get(|| async { Problem::not_found("no such thing") }))
    ///     .layer(RenderProblemLayer::new().docs_base(docs));
    /// let res = app.oneshot(http::Request::get("/").body(axum::body::Body::empty()).unwrap()).await.unwrap();
    /// let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
    /// let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    /// assert_eq!(json["type"], "https://api.example.com/errors#not_found");
    /// # });
    /// ```
    #[must_use]
    pub fn docs_base(mut self, docs: DocsBase) -> Self {
        self.docs = docs;
        self
    }
}

impl<S> Layer<S> for RenderProblemLayer {
    type Service = RenderProblem<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RenderProblem { inner, report: self.report.clone(), docs: self.docs.clone() }
    }
}

/// Middleware that writes problem bodies; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct RenderProblem<S> {
    inner: S,
    report: Option<Arc<str>>,
    docs: DocsBase,
}

impl<S> RenderProblem<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B, ResBody> Service<Request<B>> for RenderProblem<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // Only what rendering needs, cheaply: Accept is parsed only if a problem is written.
        // Usually one Accept line: keep it without building a map; several are rare.
        let mut lines = req.headers().get_all(ACCEPT).iter();
        let accept = match (lines.next(), lines.next()) {
            (None, _) => Accept::None,
            (Some(one), None) => Accept::One(one.clone()),
            (Some(_), Some(_)) => {
                let mut map = HeaderMap::new();
                for v in req.headers().get_all(ACCEPT) {
                    map.append(ACCEPT, v.clone());
                }
                Accept::Many(map)
            }
        };
        let id = req.extensions().get::<RequestId>().cloned();
        ResponseFuture {
            inner: self.inner.call(req),
            ctx: Some(Ctx { accept, id, report: self.report.clone(), docs: self.docs.clone() }),
        }
    }
}

#[derive(Debug)]
enum Accept {
    None,
    One(HeaderValue),
    Many(HeaderMap),
}

impl Accept {
    fn headers(self) -> HeaderMap {
        match self {
            Accept::None => HeaderMap::new(),
            Accept::One(v) => {
                let mut map = HeaderMap::with_capacity(1);
                map.insert(ACCEPT, v);
                map
            }
            Accept::Many(map) => map,
        }
    }
}

#[derive(Debug)]
struct Ctx {
    accept: Accept,
    id: Option<RequestId>,
    report: Option<Arc<str>>,
    docs: DocsBase,
}

pin_project! {
    /// Response future of [`RenderProblem`].
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        ctx: Option<Ctx>,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let res = std::task::ready!(this.inner.poll(cx))?;
        let ctx = this.ctx.take().expect("polled after completion");
        Poll::Ready(Ok(finish(res, ctx)))
    }
}

/// A bare error body to replace: none, or axum's / hyper's `text/plain`. A body the application
/// chose on purpose (a problem already, or the OAuth JSON errors of RFC 6749) is kept.
fn is_bare(headers: &HeaderMap) -> bool {
    headers.get(CONTENT_TYPE).is_none_or(|v| v.as_bytes().starts_with(mime::TEXT.as_bytes()))
}

fn finish<B>(mut res: Response<B>, ctx: Ctx) -> Response<Body>
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let problem = match res.extensions_mut().remove::<Problem>() {
        Some(p) => p,
        None => {
            let code = res.status();
            if !(code.is_client_error() || code.is_server_error()) || !is_bare(res.headers()) {
                return res.map(Body::new);
            }
            match Status::lookup(code) {
                Some(status) => Problem::for_bare_status(status),
                None => {
                    let request_id = ctx.id.as_ref().map(tracing::field::display);
                    tracing::warn!(request_id, %code, "a status outside the catalog was answered");
                    return res.map(Body::new);
                }
            }
        }
    };
    let format = problem.format_for(problem_format(&ctx.accept.headers()));
    let id = ctx.id.unwrap_or_else(RequestId::generate);
    let body = problem.render_at(format, id.as_str(), ctx.report.as_deref(), &ctx.docs);
    let (mut parts, _) = res.into_parts();
    let content_type = match format {
        Format::Json => mime::PROBLEM_JSON,
        Format::Xml => mime::PROBLEM_XML_UTF8,
    };
    parts.headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    if !parts.headers.get_all(VARY).iter().any(|v| v.as_bytes().eq_ignore_ascii_case(ACCEPT.as_str().as_bytes())) {
        parts.headers.append(VARY, HeaderValue::from_name(ACCEPT));
    }
    Response::from_parts(parts, Body::from(body))
}
