//! OpenAPI 3.1 derived from the handlers: each extractor and layer of this crate declares what it
//! can answer (statuses, the headers those carry, request media types), so a route's operation
//! follows from its handler's signature and the layers around it. Adding
//! [`Preconditions`](crate::conditional::Preconditions) to a handler adds 304, 412 and `ETag` to
//! the document without another edit; putting a [`RateLimitLayer`](crate::rate_limit::RateLimitLayer)
//! around a route adds its 429 and `Retry-After`.
//!
//! What no signature can say (an operation's id and summary, its success answers, the 409 a
//! handler returns itself) the route says in a closure beside the handler:
//!
//! ```
//! use axum::Router;
//! use statuskit::negotiate::Format;
//! use statuskit::openapi::{ApiDoc, Route};
//! use statuskit::path::Path;
//! use statuskit::{status, ContractLayer, Problem};
//!
//! async fn show(format: Format, Path(id): Path<u32>) -> Result<String, Problem> {
//!     Err(Problem::not_found(format!("no thing {id} ({format:?})")))
//! }
//!
//! let mut api = ApiDoc::new("things", "1.0.0");
//! let router: Router = Router::new().route(
//!     "/things/{id}",
//!     api.route(
//!         "/things/{id}",
//!         Route::new()
//!             .path_param("id", serde_json::json!({"type": "integer", "minimum": 0}))
//!             .get(show, |op| {
//!                 op.id("getThing").answer(&status::OK).negotiated_body("Thing");
//!             }),
//!     ),
//! );
//! api.layer(ContractLayer::new());
//! let doc = api.to_json(&statuskit::docs::ErrorDocs::new());
//! let get = &doc["paths"]["/things/{id}"]["get"]["responses"];
//! assert!(get["404"].is_object(), "Path: an id that does not parse names nothing");
//! assert!(get["406"].is_object(), "Format: Accept");
//! assert_eq!(get["200"]["headers"]["x-request-id"]["required"], true, "ContractLayer");
//! assert!(doc["paths"]["/things/{id}"]["head"].is_object());
//! # let _ = router;
//! ```
//!
//! The document is written as JSON ([`serde_json::Value`]) rather than through utoipa's types:
//! OpenAPI 3.1 schemas are JSON Schema 2020-12 (`const`, `allOf` of a `$ref` and a pin, typeless
//! schemas) and headers can be `required`, none of which utoipa 5's `Schema` and `Header` can
//! hold. A utoipa document can still be merged in: its JSON is the same shape.

mod describe;
mod document;
mod handler;
mod operation;
mod route;

pub use describe::body_answers;
pub use document::ApiDoc;
pub use handler::DescribeHandler;
pub use operation::{Operation, Response};
pub use route::{Layers, Route};

use serde_json::Value;

/// An extractor says here what it can answer: the statuses of its rejections (and the headers
/// they carry), the parameters and request bodies it reads, the security it requires.
/// Implemented by every extractor of this crate and by axum's that never reject (`State`,
/// `Extension`, `HeaderMap`, ...); implement it for an extractor of your own to use it in a
/// [`Route`].
pub trait DescribeInput {
    /// Adds to `op` what this extractor can answer or reads.
    fn describe(op: &mut Operation);
}

/// A layer says here what it can answer (e.g. 429 with `Retry-After` for the rate limit).
/// Implemented by every layer of this crate, by tower's combinators (`Stack`, `Either`,
/// `Identity`) and by layers that never answer on their own.
pub trait DescribeLayer {
    /// Adds to `op` what this layer can answer.
    fn describe(&self, op: &mut Operation);
}

/// A request body type with a JSON Schema, for [`Body`](crate::body::Body) and
/// [`Valid`](crate::body::Valid) in a [`Route`].
///
/// ```
/// use statuskit::openapi::BodySchema;
///
/// struct Note { text: String }
/// impl BodySchema for Note {
///     fn name() -> &'static str { "Note" }
///     fn schema() -> serde_json::Value {
///         serde_json::json!({"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}})
///     }
/// }
/// assert_eq!(Note::name(), "Note");
/// ```
pub trait BodySchema {
    /// Its name under `components.schemas`.
    fn name() -> &'static str;
    /// Its JSON Schema.
    fn schema() -> Value;
}

/// A reference to the schema `name` under `components.schemas`.
///
/// ```
/// assert_eq!(statuskit::openapi::component("Note"), serde_json::json!({"$ref": "#/components/schemas/Note"}));
/// ```
pub fn component(name: &str) -> Value {
    serde_json::json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The schema of a `Retry-After` given in seconds (RFC 9110 §10.2.3).
pub fn delay_seconds() -> Value {
    serde_json::json!({"type": "string", "pattern": "^[0-9]+$", "description": "delay-seconds (RFC 9110 §10.2.3)"})
}

/// The schema of a header value that is any text.
pub fn text() -> Value {
    serde_json::json!({"type": "string"})
}

/// The schema of an entity tag (RFC 9110 §8.8.3).
pub fn entity_tag() -> Value {
    serde_json::json!({"type": "string", "pattern": "^(W/)?\"[\\x21\\x23-\\x7e\\x80-\\xff]*\"$"})
}
