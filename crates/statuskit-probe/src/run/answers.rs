//! Reading answers: whether a status is a success or an error, what a body is, whether it is a
//! problem whose `status` matches; and saying what was found in words (lists, header values,
//! request paths) for the findings.

use super::*;

/// A 2xx status.
pub(crate) fn is_success(code: u16) -> bool {
    http::StatusCode::from_u16(code).is_ok_and(|c| c.is_success())
}

/// A 4xx or 5xx status.
pub(super) fn is_error(code: u16) -> bool {
    http::StatusCode::from_u16(code).is_ok_and(|c| c.is_client_error() || c.is_server_error())
}

pub(super) fn essence(ex: &Exchange) -> String {
    ex.header(&header::CONTENT_TYPE)
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The media type of the body, in words.
pub(super) fn body_kind(ex: &Exchange) -> String {
    match essence(ex) {
        k if !k.is_empty() => k,
        _ if ex.body.is_empty() => "empty".into(),
        _ => "untyped".into(),
    }
}

pub(super) fn has_token_in_list(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token) || t.trim() == "*"))
}

/// A header value in words: `` `value` `` or "none".
pub(super) fn shown(v: Option<&str>) -> String {
    v.map_or_else(|| "none".to_owned(), |v| format!("`{v}`"))
}

/// `a`, `a and b`, `a, b and c`.
pub(super) fn listed<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_owned(),
        [init @ .., last] => {
            format!("{} and {}", init.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", "), last.as_ref())
        }
    }
}

/// The path of a logged request line (`GET /x` or `POST /x (raw)`).
pub(super) fn path_of(request: &str) -> &str {
    let rest = request.split_once(' ').map_or(request, |(_, p)| p);
    rest.strip_suffix(" (raw)").unwrap_or(rest)
}

pub(super) fn contains_method(list: &[String], m: &str) -> bool {
    list.iter().any(|a| a.eq_ignore_ascii_case(m))
}

/// `Ok` if `ex` carries a problem body whose `status` is the HTTP status. The body is read by
/// `statuskit-client`'s problem parser (JSON, and XML in RFC 9457 Appendix B's namespace), the
/// one parser for problems in this workspace.
pub(super) fn is_problem(ex: &Exchange) -> Result<(), String> {
    let kind = essence(ex);
    let (json, xml) = (kind == mime::PROBLEM_JSON, kind == mime::PROBLEM_XML);
    if !json && !xml {
        return Err(format!("the body is {}, not a problem", body_kind(ex)));
    }
    let Some(problem) = statuskit_client::Problem::from_response(ex.status, &ex.headers, &ex.body) else {
        return Err(if json {
            "problem+json whose body is not a JSON object".into()
        } else {
            "problem+xml whose body is not a <problem> in the urn:ietf:rfc:7807 namespace".into()
        });
    };
    match problem.body_status {
        Some(s) if s == ex.status => Ok(()),
        Some(s) => Err(format!("the problem's status {s} differs from the HTTP status")),
        None if json => Err("problem+json without a numeric `status`".into()),
        None => Err("problem+xml without a numeric <status>".into()),
    }
}

pub(super) fn snippet(ex: &Exchange) -> String {
    String::from_utf8_lossy(&ex.body).chars().take(160).collect()
}

/// The path a `Location` names: resolved against the collection `from`, and cut to its path when
/// it is an absolute URL on the API itself (`base`).
pub(super) fn resolve_location(base: &str, from: &str, location: &str) -> String {
    if let Some(path) = location.strip_prefix(base).filter(|p| p.starts_with('/')) {
        return path.to_owned();
    }
    if location.starts_with('/') || location.starts_with("http://") || location.starts_with("https://") {
        location.to_owned()
    } else {
        format!("{}/{location}", from.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_recognised() {
        let mut h = http::HeaderMap::new();
        h.insert(header::CONTENT_TYPE, mime::PROBLEM_JSON.parse().unwrap());
        let ex =
            Exchange { request: "GET /".into(), status: 404, headers: h.clone(), body: br#"{"status":404}"#.to_vec() };
        assert!(is_problem(&ex).is_ok());
        let ex = Exchange { status: 400, ..ex };
        assert!(is_problem(&ex).is_err());
        h.insert(header::CONTENT_TYPE, "text/html".parse().unwrap());
        let ex = Exchange { request: "GET /".into(), status: 404, headers: h, body: b"<p>".to_vec() };
        assert_eq!(is_problem(&ex).unwrap_err(), "the body is text/html, not a problem");
        let empty = Exchange { request: "GET /".into(), status: 405, headers: http::HeaderMap::new(), body: vec![] };
        assert_eq!(is_problem(&empty).unwrap_err(), "the body is empty, not a problem");
        let mut xml = http::HeaderMap::new();
        xml.insert(header::CONTENT_TYPE, mime::PROBLEM_XML.parse().unwrap());
        let body = br#"<problem xmlns="urn:ietf:rfc:7807"><title>Gone</title><status>410</status></problem>"#;
        let ex = Exchange { request: "GET /".into(), status: 410, headers: xml.clone(), body: body.to_vec() };
        assert!(is_problem(&ex).is_ok());
        assert!(is_problem(&Exchange { status: 404, ..ex }).unwrap_err().contains("differs"));
        // The text alone does not make a problem: the root must be <problem> in RFC 9457's namespace.
        let body = br#"<error><status>410</status></error>"#;
        let ex = Exchange { request: "GET /".into(), status: 410, headers: xml, body: body.to_vec() };
        assert!(is_problem(&ex).unwrap_err().contains("namespace"));
    }

    #[test]
    fn locations_and_words() {
        assert_eq!(resolve_location("http://h", "/v1/c", "/v1/c/1"), "/v1/c/1");
        assert_eq!(resolve_location("http://h", "/v1/c", "1"), "/v1/c/1");
        assert_eq!(resolve_location("http://h:1", "/c/", "http://h:1/c/2/"), "/c/2/");
        assert_eq!(resolve_location("http://h:1", "/c/", "https://other/c/2"), "https://other/c/2");
        assert_eq!(listed(&["PUT", "PATCH", "DELETE"]), "PUT, PATCH and DELETE");
        assert_eq!(listed(&["PUT"]), "PUT");
        assert_eq!(shown(None), "none");
        assert_eq!(shown(Some("\"a\"")), "`\"a\"`");
        assert_eq!(path_of("POST /x (raw)"), "/x");
        assert_eq!(path_of("GET /x/1"), "/x/1");
    }
}
