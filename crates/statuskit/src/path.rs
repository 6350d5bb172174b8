//! Path parameters: a segment that does not parse as the expected type names no resource, so it
//! answers 404 (a problem), never axum's `text/plain` 400.
//!
//! ```
//! use axum::{routing::get, Router};
//! use statuskit::{path::Path, ContractLayer};
//! use tower::ServiceExt;
//!
//! async fn show(Path(id): Path<i64>) -> String { id.to_string() }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app: Router = Router::new().route("/c/{id}", get(show)).layer(ContractLayer::new());
//! let res = app.oneshot(http::Request::get("/c/abc").body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), 404);
//! assert_eq!(res.headers()["content-type"], "application/problem+json");
//! # });
//! ```

use axum::extract::{FromRequestParts, OriginalUri};
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::problem::Problem;

/// Path parameters deserialized into `T`; a mismatch is a 404 problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(_) => {
                let path = parts
                    .extensions
                    .get::<OriginalUri>()
                    .map_or_else(|| parts.uri.path().to_owned(), |u| u.0.path().to_owned());
                Err(Problem::not_found(format!("nothing is at {path}")))
            }
        }
    }
}
