//! Query strings: a parameter that does not deserialize answers 400 naming the parameter, instead
//! of axum's `text/plain` rejection.
//!
//! ```
//! use axum::{routing::get, Router};
//! use statuskit::{query::Query, ContractLayer};
//! use tower::ServiceExt;
//!
//! #[derive(serde::Deserialize)]
//! struct Page { limit: Option<u32> }
//!
//! async fn list(Query(page): Query<Page>) -> String { format!("{:?}", page.limit) }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app: Router = Router::new().route("/", get(list)).layer(ContractLayer::new());
//! let res = app.oneshot(http::Request::get("/?limit=many").body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), 400);
//! let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
//! assert!(String::from_utf8_lossy(&body).contains("limit"));
//! # });
//! ```

use axum::extract::FromRequestParts;
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::problem::Problem;

/// Query parameters deserialized into `T`; failures are 400 problems naming the parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> Query<T> {
    /// Parses a raw query string (without `?`).
    pub fn parse(query: &str) -> Result<Self, Problem> {
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(Query).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." || path.is_empty() {
                Problem::bad_request(format!("the query string is not valid: {inner}"))
            } else {
                Problem::bad_request(format!("query parameter `{path}` is not valid: {inner}"))
            }
        })
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Self::parse(parts.uri.query().unwrap_or_default())
    }
}
