//! `GET /docs/errors`: the catalog as an HTML page, one anchor per status, where every problem's
//! `type` points. The page is the library's ([`statuskit::docs::ErrorDocs`]), rendered once from
//! [`error_docs`], which the OpenAPI document reads too.
//! `statuskit docs --format markdown|rst|html|openapi` prints the same sources ([`crate::docs_cli`]).

use std::sync::LazyLock;

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue};
use statuskit::docs::ErrorDocs;
use statuskit::header::{mime, ACCEPT, CONTENT_TYPE, VARY};
use statuskit::negotiate::Accept;
use statuskit::openapi::Route;
use statuskit::{status, Problem};

/// The service's error documentation: the catalog under `/docs/errors`. A problem type of the
/// service's own would be added here, and so reach the page and `/openapi.json` alike.
pub fn error_docs() -> ErrorDocs {
    ErrorDocs::new()
}

static PAGE: LazyLock<String> = LazyLock::new(|| error_docs().html());

/// The route, with its description.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Vec<(&'static str, Route<S>)> {
    let route = Route::new().get(errors_page, |op| {
        op.id("errorDocs").summary("The error types, one anchor per status");
        op.answer(&status::OK).body(mime::HTML, serde_json::json!({"type": "string"}));
        op.problems(&[&status::BAD_REQUEST, &status::NOT_ACCEPTABLE]);
    });
    vec![(status::DOCS_PATH, route)]
}

/// The handler: the page, in HTML only, so an `Accept` that excludes HTML is a 406 (contract
/// row 406) and a malformed one a 400.
pub async fn errors_page(headers: HeaderMap) -> Result<Response, Problem> {
    match Accept::from_headers(&headers) {
        Err(e) => return Err(Problem::bad_request(e.to_string())),
        Ok(Some(accept)) if accept.quality(mime::HTML) == 0 => return Err(Problem::not_acceptable(&[mime::HTML])),
        Ok(_) => {}
    }
    let headers = [(CONTENT_TYPE, HeaderValue::from_static(mime::HTML_UTF8)), (VARY, HeaderValue::from(ACCEPT))];
    Ok((headers, PAGE.as_str()).into_response())
}
