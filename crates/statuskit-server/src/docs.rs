//! `GET /docs/errors`: the catalog as an HTML page, one anchor per status, where every problem's
//! `type` points.

use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use statuskit::header::{mime, CONTENT_TYPE};
use statuskit::status::CATALOG;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The page's HTML, rendered from the catalog.
pub fn errors_html() -> String {
    let mut rows = String::new();
    for s in CATALOG {
        let protocol = if s.protocol_level { " <em>(protocol-level)</em>" } else { "" };
        rows.push_str(&format!(
            "<tr id=\"{name}\"><td><a href=\"#{name}\">{code}</a></td><td><code>{name}</code></td><td>{title}{protocol}</td><td>{desc}</td><td>{carries}</td></tr>\n",
            name = s.name,
            code = s.code.as_u16(),
            title = escape(s.title),
            desc = escape(s.description),
            carries = escape(s.carries),
        ));
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error Codes &amp; Responses</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#222}}\
table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #ccc;padding:.4rem .6rem;text-align:left;vertical-align:top}}\
th{{background:#f4f4f4}}tr:target{{background:#fff6d5}}code{{font-size:.95em}}</style></head><body>\
<h1>Error Codes &amp; Responses</h1>\
<p>Every response carries the status code below, an <code>X-Request-Id</code> header, and, for 4xx and 5xx, an \
<code>application/problem+json</code> body (<code>application/problem+xml</code> if you prefer XML) whose <code>type</code> \
links to a row of this page, whose <code>detail</code> and <code>message</code> say what to fix, and whose \
<code>request_id</code> you should quote when you report a problem.</p>\
<table><thead><tr><th>Code</th><th>Name</th><th>Status</th><th>When</th><th>Carries</th></tr></thead><tbody>\n{rows}</tbody></table></body></html>\n"
    )
}

/// The handler.
pub async fn errors_page() -> Response {
    let html = errors_html();
    ([(CONTENT_TYPE, HeaderValue::from_static(mime::HTML_UTF8))], html).into_response()
}
