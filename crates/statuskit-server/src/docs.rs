//! `GET /docs/errors`: the catalog as an HTML page, one anchor per status, where every problem's
//! `type` points. The page is the library's ([`statuskit::docs::html`]), rendered once.
//! `statuskit docs --format markdown|rst|html|openapi` prints the same sources.

use std::sync::LazyLock;

use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use statuskit::header::{mime, CONTENT_TYPE};

static PAGE: LazyLock<String> = LazyLock::new(statuskit::docs::html);

/// The handler.
pub async fn errors_page() -> Response {
    ([(CONTENT_TYPE, HeaderValue::from_static(mime::HTML_UTF8))], PAGE.as_str()).into_response()
}

/// `statuskit docs --format F`: prints the catalog (markdown, rst, html) or the OpenAPI document.
pub fn print(format: &str) -> Result<(), Box<dyn std::error::Error>> {
    let text = match format {
        "openapi" => serde_json::to_string_pretty(&crate::openapi::document())?,
        other => statuskit::docs::render(other.parse::<statuskit::docs::DocFormat>()?),
    };
    println!("{text}");
    Ok(())
}
