//! # statuskit
//!
//! The HTTP status contract as the default behaviour of an axum/tower API: the catalog of
//! statuses ([`status`]), one error type that renders RFC 9457 problem bodies in JSON and XML
//! ([`Problem`]), and middleware and extractors for every cross-cutting status.
//!
//! An existing axum app adopts it in a few lines:
//!
//! ```
//! use axum::Router;
//! use statuskit::{methods::{not_found, Resource}, ContractLayer, Problem};
//! use tower::ServiceExt;
//!
//! async fn show() -> Result<&'static str, Problem> {
//!     Err(Problem::gone("v0 was turned off", Some("/v1/customers")))
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app: Router = Router::new()
//!     .route("/v0/customers", Resource::new().get(show).into())
//!     .fallback(not_found)
//!     .layer(ContractLayer::new());
//! let res = app.oneshot(http::Request::get("/v0/customers").body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), 410);
//! assert!(res.headers().contains_key("x-request-id"));
//! # });
//! ```
//!
//! ## Features
//!
//! As tower-http, each middleware is behind a feature of its name, all on by default: `auth`,
//! `cache`, `collect`, `deadline`, `idempotency`, `limits`, `rate-limit` (and `redis` for shared
//! limits), `unavailable`; `xml` and `docs` for XML bodies and the error docs; `server` for
//! `statuskit::server` and `openapi` for [`openapi`], the document derived from the handlers (both
//! off by default). The catalog, [`Problem`], [`ContractLayer`] and the
//! extractors are always there.

#![cfg_attr(docsrs, feature(doc_auto_cfg))]

#[cfg(feature = "auth")]
pub mod auth;
pub mod body;
#[cfg(feature = "cache")]
pub mod cache;
pub mod challenge;
#[cfg(feature = "collect")]
pub mod collect;
pub mod conditional;
#[cfg(feature = "deadline")]
pub mod deadline;
#[cfg(feature = "docs")]
pub mod docs;
pub mod etag;
#[cfg(any(feature = "collect", feature = "idempotency", feature = "limits"))]
mod future;
pub mod header;
#[cfg(feature = "idempotency")]
pub mod idempotency;
#[cfg(feature = "limits")]
pub mod limits;
pub mod methods;
pub mod negotiate;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod panic;
pub mod path;
pub mod problem;
pub mod problem_type;
pub mod query;
#[cfg(feature = "rate-limit")]
pub mod rate_limit;
pub mod render;
pub mod request_id;
pub mod respond;
pub mod retry_after;
#[cfg(feature = "server")]
pub mod server;
pub mod status;
#[cfg(feature = "unavailable")]
pub mod unavailable;
pub mod validate;
pub mod xml;

use std::sync::Arc;

use tower::Layer;
use tower_http::catch_panic::CatchPanic;

pub use problem::Problem;

/// `Result` with [`Problem`] as the error.
pub type Result<T, E = Problem> = std::result::Result<T, E>;

/// The stack every statuskit API wears, outermost first: [`request_id`] (the id on every
/// response), [`render`] (problem bodies, and no bare error bodies), [`panic`](mod@panic) (500 on panic).
///
/// `Router::layer(ContractLayer::new())` works, but axum then wraps every route's endpoint in its
/// own boxed copy of the stack and clones those boxes on every request. Wrapping the finished
/// router once is cheaper (the reference service does this; it took three allocations off every
/// request in a callgrind profile):
///
/// ```
/// use axum::{routing::get, Router, ServiceExt};
/// use statuskit::ContractLayer;
/// use tower::{Layer, ServiceExt as _};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let routes: Router = Router::new().route("/", get(|| async { "hi" }));
/// let app = ContractLayer::new().layer(routes);
/// let res = app.clone().oneshot(http::Request::get("/nowhere").body(axum::body::Body::empty()).unwrap()).await.unwrap();
/// assert_eq!(res.status(), 404);
/// assert_eq!(res.headers()["content-type"], "application/problem+json");
/// // Served with `axum::serve(listener, app.into_make_service())`.
/// let _ = ServiceExt::<axum::extract::Request>::into_make_service(app);
/// # });
/// ```
#[derive(Debug, Clone, Default)]
pub struct ContractLayer {
    render: render::RenderProblemLayer,
}

impl ContractLayer {
    /// The stack with no report link.
    pub fn new() -> Self {
        Self::default()
    }

    /// Where a 500 tells users to report it.
    #[must_use]
    pub fn report_url(mut self, url: impl Into<Arc<str>>) -> Self {
        self.render = self.render.report_url(url);
        self
    }

    /// Where the error docs live: the base of every problem `type` (see
    /// [`RenderProblemLayer::docs_base`](render::RenderProblemLayer::docs_base)).
    #[must_use]
    pub fn docs_base(mut self, docs: problem_type::DocsBase) -> Self {
        self.render = self.render.docs_base(docs);
        self
    }
}

/// The service [`ContractLayer`] builds.
pub type Contract<S> = request_id::SetRequestId<render::RenderProblem<CatchPanic<S, panic::PanicToProblem>>>;

impl<S> Layer<S> for ContractLayer {
    type Service = Contract<S>;

    fn layer(&self, inner: S) -> Self::Service {
        request_id::RequestIdLayer.layer(self.render.layer(panic::layer().layer(inner)))
    }
}
