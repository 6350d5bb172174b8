//! `Preconditions::from_headers` and `evaluate`.
//!
//! Input: up to four values separated by `\n`: If-Match, If-None-Match, If-Modified-Since,
//! If-Unmodified-Since. A missing or empty part, or one `HeaderValue::from_bytes` rejects,
//! leaves that header out (so `\n\nDATE` is If-Modified-Since alone; an empty-but-present field
//! is still reachable as whitespace, e.g. ` `).
//! Checks: no panic; a parse failure is a 400; evaluation with GET and PUT, with and without a
//! current representation, gives only what RFC 9110 §13.2.2 allows (304 only for a GET with a
//! current representation, else 412) and the outcome renders as a response.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use axum::response::IntoResponse;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use libfuzzer_sys::fuzz_target;
use statuskit::conditional::{Outcome, Preconditions, Validators};
use statuskit::etag::EntityTag;

const NAMES: [HeaderName; 4] = [
    http::header::IF_MATCH,
    http::header::IF_NONE_MATCH,
    http::header::IF_MODIFIED_SINCE,
    http::header::IF_UNMODIFIED_SINCE,
];

fn current() -> Validators {
    // Sun, 06 Nov 1994 08:49:37 GMT, so fuzzed dates fall on both sides of it.
    Validators::new(EntityTag::strong("v1").unwrap())
        .alternate(EntityTag::weak("v1.xml").unwrap())
        .last_modified(UNIX_EPOCH + Duration::from_secs(784_111_777))
}

fn check(pre: &Preconditions, method: Method, current: Option<&Validators>) {
    let read = method == Method::GET;
    match pre.evaluate(&method, current) {
        Ok(()) => {}
        Err(outcome) => {
            let not_modified = matches!(outcome, Outcome::NotModified(_));
            assert!(
                !not_modified || (read && current.is_some()),
                "304 for {method} with current={}",
                current.is_some()
            );
            let res = outcome.into_response();
            let expected = if not_modified { StatusCode::NOT_MODIFIED } else { StatusCode::PRECONDITION_FAILED };
            assert_eq!(res.status(), expected);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for (name, value) in NAMES.iter().zip(data.split(|&b| b == b'\n')) {
        if value.is_empty() {
            continue;
        }
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.insert(name.clone(), value);
        }
    }
    let pre = match Preconditions::from_headers(&headers) {
        Ok(pre) => pre,
        Err(problem) => {
            assert_eq!(problem.status().code, StatusCode::BAD_REQUEST, "{}", problem.detail());
            return;
        }
    };
    assert_eq!(pre.is_empty(), pre == Preconditions::default());
    let cur = current();
    for method in [Method::GET, Method::PUT] {
        check(&pre, method.clone(), Some(&cur));
        check(&pre, method, None);
    }
});
