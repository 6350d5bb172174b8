//! The catalog: every status code the contract allows, with its name, title and description.
//!
//! This is the one place where status numbers live. Code, docs and tests all read it.
//!
//! ```
//! use statuskit::status::{self, Status};
//!
//! let s = Status::lookup(http::StatusCode::NOT_FOUND).unwrap();
//! assert_eq!(s.name, "not_found");
//! assert_eq!(s.type_uri, "/docs/errors#not_found");
//! assert!(status::CATALOG.iter().all(|s| s.code.as_u16() != 418));
//! ```

use http::StatusCode;

/// The default base of every problem `type`: the service's own error documentation page. An
/// API that keeps its docs elsewhere sets a [`DocsBase`](crate::problem_type::DocsBase).
pub const DOCS_PATH: &str = "/docs/errors";

/// One row of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// The HTTP status code.
    pub code: StatusCode,
    /// snake_case name, as Rails' status symbols; the anchor of the problem `type`.
    pub name: &'static str,
    /// The reason phrase, used as the problem `title`.
    pub title: &'static str,
    /// When the API answers with this status (one sentence, for the docs).
    pub description: &'static str,
    /// What the response must carry besides the status (for the docs).
    pub carries: &'static str,
    /// The problem `type` URI-reference under the default docs base: `/docs/errors#<name>`
    /// (see [`DocsBase::catalog_type_uri`](crate::problem_type::DocsBase::catalog_type_uri)).
    pub type_uri: &'static str,
    /// `true` for codes HTTP itself mandates that the contract's table has no row for
    /// (408, 413, 414, 431).
    pub protocol_level: bool,
}

impl Status {
    /// The catalog row for `code`, if the contract allows it.
    pub fn lookup(code: StatusCode) -> Option<&'static Status> {
        CATALOG.iter().find(|s| s.code == code)
    }

    /// `true` for 4xx and 5xx rows: responses that carry a problem body.
    pub fn is_error(&self) -> bool {
        self.code.is_client_error() || self.code.is_server_error()
    }
}

macro_rules! catalog {
    ($( $konst:ident = $code:ident, $name:literal, $title:literal, $protocol:literal,
        $description:literal, $carries:literal; )*) => {
        $(
            #[doc = concat!("`", $name, "`: ", $description)]
            pub const $konst: Status = Status {
                code: StatusCode::$code,
                name: $name,
                title: $title,
                description: $description,
                carries: $carries,
                type_uri: concat!("/docs/errors#", $name),
                protocol_level: $protocol,
            };
        )*
        /// Every status the contract allows, in code order.
        pub const CATALOG: &[Status] = &[$($konst),*];
    };
}

catalog! {
    OK = OK, "ok", "OK", false,
        "GET or HEAD of a resource or collection; PUT or PATCH that returns the new state; a status monitor whose operation is still running.",
        "ETag on single resources";
    CREATED = CREATED, "created", "Created", false,
        "POST (or PUT) created a resource.",
        "Location of the new resource; the body is the resource with a self link; ETag";
    ACCEPTED = ACCEPTED, "accepted", "Accepted", false,
        "The work continues in the background; poll the status monitor.",
        "Location of the status monitor; a body with a status link and progress";
    NO_CONTENT = NO_CONTENT, "no_content", "No Content", false,
        "DELETE succeeded, or PUT/PATCH with Prefer: return=minimal.",
        "no body at all";
    MULTI_STATUS = MULTI_STATUS, "multi_status", "Multi-Status", false,
        "A batch request whose items each have their own outcome.",
        "a body listing each item's own status and body";
    MOVED_PERMANENTLY = MOVED_PERMANENTLY, "moved_permanently", "Moved Permanently", false,
        "The path was renamed; the old path keeps answering with this redirect.",
        "Location of the new URI";
    SEE_OTHER = SEE_OTHER, "see_other", "See Other", false,
        "A background operation finished; the monitor points at its result.",
        "Location of the result";
    NOT_MODIFIED = NOT_MODIFIED, "not_modified", "Not Modified", false,
        "A conditional GET or HEAD whose validator still matches: your cached copy is current.",
        "ETag and the headers a 200 would carry; no body";
    BAD_REQUEST = BAD_REQUEST, "bad_request", "Bad Request", false,
        "The request could not be read: a body that is not valid JSON or XML, a bad query parameter, a malformed header, a missing or repeated Host, or an OAuth invalid_request / invalid_grant.",
        "problem body saying what to fix";
    UNAUTHORIZED = UNAUTHORIZED, "unauthorized", "Unauthorized", false,
        "Credentials are missing, malformed, expired or wrong.",
        "WWW-Authenticate challenge";
    FORBIDDEN = FORBIDDEN, "forbidden", "Forbidden", false,
        "You are authenticated, but not allowed to do this (a missing scope, a read-only role).",
        "problem body saying why";
    NOT_FOUND = NOT_FOUND, "not_found", "Not Found", false,
        "There is no such resource, or none that you may know exists.",
        "problem body";
    METHOD_NOT_ALLOWED = METHOD_NOT_ALLOWED, "method_not_allowed", "Method Not Allowed", false,
        "The path exists, but not with this method.",
        "Allow listing every method the path accepts";
    NOT_ACCEPTABLE = NOT_ACCEPTABLE, "not_acceptable", "Not Acceptable", false,
        "Accept names no representation the API can produce.",
        "problem body in JSON listing what is available";
    REQUEST_TIMEOUT = REQUEST_TIMEOUT, "request_timeout", "Request Timeout", true,
        "You did not finish sending the request in time: its header section or body trickled or stopped.",
        "problem body; the connection is closed";
    CONFLICT = CONFLICT, "conflict", "Conflict", false,
        "The request conflicts with the resource's current state (an operation already in progress, the same Idempotency-Key still being processed).",
        "problem body";
    GONE = GONE, "gone", "Gone", false,
        "The endpoint was turned off on purpose.",
        "problem body naming the replacement, if any";
    LENGTH_REQUIRED = LENGTH_REQUIRED, "length_required", "Length Required", false,
        "A request with a body has neither Content-Length nor chunked transfer coding.",
        "problem body";
    PRECONDITION_FAILED = PRECONDITION_FAILED, "precondition_failed", "Precondition Failed", false,
        "If-Match or If-Unmodified-Since failed, or If-None-Match matched on a write: someone changed the resource since you read it.",
        "the current ETag";
    PAYLOAD_TOO_LARGE = PAYLOAD_TOO_LARGE, "content_too_large", "Content Too Large", true,
        "The request body is larger than this endpoint accepts.",
        "problem body naming the limit";
    URI_TOO_LONG = URI_TOO_LONG, "uri_too_long", "URI Too Long", true,
        "The request target is longer than the server will read.",
        "problem body";
    UNSUPPORTED_MEDIA_TYPE = UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Unsupported Media Type", false,
        "The body's Content-Type is missing or not one the endpoint accepts, or its Content-Encoding is one the endpoint does not decode.",
        "Accept-Post / Accept-Patch listing the accepted types; Accept-Encoding when the coding was the cause";
    UNPROCESSABLE_ENTITY = UNPROCESSABLE_ENTITY, "unprocessable_entity", "Unprocessable Entity", false,
        "The request is well-formed but fails validation, including a duplicate of a unique field.",
        "problem body with the errors map";
    TOO_MANY_REQUESTS = TOO_MANY_REQUESTS, "too_many_requests", "Too Many Requests", false,
        "A rate limit is spent.",
        "Retry-After in seconds; RateLimit and RateLimit-Policy";
    REQUEST_HEADER_FIELDS_TOO_LARGE = REQUEST_HEADER_FIELDS_TOO_LARGE, "request_header_fields_too_large", "Request Header Fields Too Large", true,
        "The request's header section is larger than the server will read.",
        "problem body";
    INTERNAL_SERVER_ERROR = INTERNAL_SERVER_ERROR, "internal_server_error", "Internal Server Error", false,
        "Something is broken on our side. Please open an issue and quote the request id.",
        "problem body with the request id and where to report it";
    BAD_GATEWAY = BAD_GATEWAY, "bad_gateway", "Bad Gateway", false,
        "The gateway got no valid answer from the service: the API is down or being upgraded.",
        "problem body, produced by the gateway";
    SERVICE_UNAVAILABLE = SERVICE_UNAVAILABLE, "service_unavailable", "Service Unavailable", false,
        "Maintenance, shedding load, or a dependency is down. Retry after the time given.",
        "Retry-After";
    GATEWAY_TIMEOUT = GATEWAY_TIMEOUT, "gateway_timeout", "Gateway Timeout", false,
        "The service is up, but its backend (database, upstream) did not answer in time.",
        "problem body";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_is_sorted_unique_and_complete() {
        let codes: Vec<u16> = CATALOG.iter().map(|s| s.code.as_u16()).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(codes, sorted, "catalog must be in code order without repeats");
        assert_eq!(
            codes,
            [
                200, 201, 202, 204, 207, 301, 303, 304, 400, 401, 403, 404, 405, 406, 408, 409, 410, 411, 412, 413,
                414, 415, 422, 429, 431, 500, 502, 503, 504
            ]
        );
        let protocol: Vec<u16> = CATALOG.iter().filter(|s| s.protocol_level).map(|s| s.code.as_u16()).collect();
        assert_eq!(protocol, [408, 413, 414, 431]);
    }

    #[test]
    fn type_uris_point_at_the_docs_page() {
        for s in CATALOG {
            assert_eq!(s.type_uri, format!("{DOCS_PATH}#{}", s.name));
        }
    }

    #[test]
    fn names_are_snake_case_and_titles_are_reason_phrases() {
        for s in CATALOG {
            assert!(s.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            // RFC 9457 §4.2.1: the title is the reason phrase. RFC 9110 renamed 413 and 422.
            let canonical = s.code.canonical_reason().unwrap();
            match s.code.as_u16() {
                413 => assert_eq!(s.title, "Content Too Large"),
                422 => assert_eq!(s.title, "Unprocessable Entity"),
                _ => assert_eq!(s.title, canonical),
            }
        }
    }
}
