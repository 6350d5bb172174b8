//! `GET /openapi.json`: the service described in OpenAPI 3.1, derived from its routes by
//! `statuskit::openapi` (see [`crate::app::api`]): every route's handler says what its
//! extractors can answer, every layer around it what it can, and each resource module adds its
//! own words (ids, summaries, success answers, schemas) beside its routes.

use std::sync::{Arc, OnceLock};

use axum::response::IntoResponse;
use http::HeaderValue;
use serde_json::json;
use statuskit::header::{self, mime};
use statuskit::openapi::{ApiDoc, Route};
use statuskit::status;

/// The path the document is served at.
pub const PATH: &str = "/openapi.json";

/// An empty document of this service: its title, version and description.
pub fn new_document() -> ApiDoc {
    let mut api = ApiDoc::new("statuskit reference service", env!("CARGO_PKG_VERSION"));
    api.description(
        "Every response carries the status, headers and problem body of the status contract; error types \
         are documented at /docs/errors.",
    );
    crate::auth::openapi::security_schemes(&mut api);
    api
}

/// The route serving the document, which is written once the whole router is known: `document`
/// is filled then.
pub fn routes<S: Clone + Send + Sync + 'static>(document: Arc<OnceLock<String>>) -> Vec<(&'static str, Route<S>)> {
    let serve = move || {
        let document = document.clone();
        async move {
            let body = document.get().cloned().unwrap_or_default();
            ([(header::CONTENT_TYPE, HeaderValue::from_static(mime::JSON_UTF8))], body).into_response()
        }
    };
    let route = Route::new().get(serve, |op| {
        op.id("openapi").summary("This document");
        op.answer(&status::OK).body(mime::JSON, json!({"type": "object"}));
    });
    vec![(PATH, route)]
}
