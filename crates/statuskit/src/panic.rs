//! A panic in a handler answers 500 as a problem with the request id; the panic message is
//! logged with the request id and never sent.
//!
//! ```
//! use axum::{routing::get, Router};
//! use statuskit::ContractLayer;
//! use tower::ServiceExt;
//!
//! async fn broken() -> &'static str { panic!("secret detail at /srv/app.rs") }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app: Router = Router::new().route("/", get(broken)).layer(ContractLayer::new());
//! let res = app.oneshot(http::Request::get("/").body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), 500);
//! let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
//! assert!(!String::from_utf8_lossy(&body).contains("secret"));
//! # });
//! ```

use std::any::Any;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::{CatchPanicLayer, ResponseForPanic};

use crate::problem::Problem;
use crate::request_id;

/// Turns a caught panic into the 500 problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct PanicToProblem;

impl ResponseForPanic for PanicToProblem {
    type ResponseBody = Body;

    fn response_for_panic(&mut self, err: Box<dyn Any + Send + 'static>) -> Response<Body> {
        let message = err
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| err.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(a panic payload that is not a string)");
        tracing::error!(
            request_id = request_id::current().map(tracing::field::display),
            panic = message,
            "handler panicked"
        );
        Problem::internal().into_response()
    }
}

/// tower-http's `CatchPanicLayer` answering with [`PanicToProblem`].
pub fn layer() -> CatchPanicLayer<PanicToProblem> {
    CatchPanicLayer::custom(PanicToProblem)
}
