//! `GET /docs/errors`: the catalog as an HTML page, one anchor per status, where every problem's
//! `type` points. The page is the library's ([`statuskit::docs::ErrorDocs`]), rendered once from
//! [`error_docs`], which the OpenAPI document reads too.
//! `statuskit docs --format markdown|rst|html|openapi` prints the same sources.

use std::sync::LazyLock;

use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use statuskit::docs::ErrorDocs;
use statuskit::header::{mime, CONTENT_TYPE};

/// The service's error documentation: the catalog under `/docs/errors`. A problem type of the
/// service's own would be added here, and so reach the page and `/openapi.json` alike.
pub fn error_docs() -> ErrorDocs {
    ErrorDocs::new()
}

static PAGE: LazyLock<String> = LazyLock::new(|| error_docs().html());

/// The handler.
pub async fn errors_page() -> Response {
    ([(CONTENT_TYPE, HeaderValue::from_static(mime::HTML_UTF8))], PAGE.as_str()).into_response()
}

/// `statuskit docs --format F`: prints the catalog (markdown, rst, html) or the OpenAPI document.
pub fn print(format: &str) -> Result<(), Box<dyn std::error::Error>> {
    let text = match format {
        "openapi" => serde_json::to_string_pretty(&crate::openapi::document())?,
        other => error_docs().render(other.parse::<statuskit::docs::DocFormat>()?),
    };
    println!("{text}");
    Ok(())
}
