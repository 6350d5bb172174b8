//! The catalog of header names and media types the contract uses.
//!
//! Standard names are re-exported from [`http::header`]; the ones `http` lacks are defined here,
//! so no header name is typed anywhere else.
//!
//! ```
//! use statuskit::header;
//!
//! assert_eq!(header::X_REQUEST_ID.as_str(), "x-request-id");
//! assert_eq!(header::ACCEPT_POST.as_str(), "accept-post");
//! assert_eq!(header::mime::PROBLEM_JSON, "application/problem+json");
//! ```

use http::HeaderName;

/// `tchar` (RFC 9110 §5.6.2): a character of a token.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `token = 1*tchar` (RFC 9110 §5.6.2): a method, a media type's type or subtype, an
/// authentication scheme, a parameter name.
///
/// ```
/// use statuskit::header::is_token;
///
/// assert!(is_token("application") && is_token("merge-patch+json") && is_token("Bearer"));
/// assert!(!is_token("") && !is_token("a b") && !is_token("a/b") && !is_token("é"));
/// ```
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

pub use http::header::{
    ACCEPT, ACCEPT_ENCODING, ALLOW, AUTHORIZATION, CACHE_CONTROL, CONNECTION, CONTENT_ENCODING, CONTENT_LENGTH,
    CONTENT_LOCATION, CONTENT_TYPE, ETAG, HOST, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_UNMODIFIED_SINCE,
    LAST_MODIFIED, LOCATION, PRAGMA, RETRY_AFTER, TRANSFER_ENCODING, VARY, WWW_AUTHENTICATE,
};

/// `X-Request-Id`: on every response; equals the problem body's `request_id`.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// `Accept-Post` (W3C LDP §7.1): the media types a POST accepts; sent with 415.
pub const ACCEPT_POST: HeaderName = HeaderName::from_static("accept-post");
/// `Accept-Patch` (RFC 5789 §3.1): the media types a PATCH accepts; sent with 415 and OPTIONS.
pub const ACCEPT_PATCH: HeaderName = HeaderName::from_static("accept-patch");
/// `RateLimit` (draft-ietf-httpapi-ratelimit-headers): what is left of each policy.
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
/// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers): the quotas that apply.
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header): makes a POST safe to retry.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// `Prefer` (RFC 7240): `return=minimal` asks for 204 instead of the new state.
pub const PREFER: HeaderName = HeaderName::from_static("prefer");
/// `Preference-Applied` (RFC 7240): which `Prefer` tokens were honoured.
pub const PREFERENCE_APPLIED: HeaderName = HeaderName::from_static("preference-applied");

/// Media types, as the contract spells them.
pub mod mime {
    /// RFC 9457 problem details, JSON.
    pub const PROBLEM_JSON: &str = "application/problem+json";
    /// RFC 9457 problem details, XML (Appendix B).
    pub const PROBLEM_XML: &str = "application/problem+xml";
    /// JSON.
    pub const JSON: &str = "application/json";
    /// XML.
    pub const XML: &str = "application/xml";
    /// RFC 7396 JSON merge patch.
    pub const MERGE_PATCH_JSON: &str = "application/merge-patch+json";
    /// HTML, for the docs page.
    pub const HTML: &str = "text/html";
    /// HTML form bodies, as the OAuth token endpoint takes them.
    pub const FORM: &str = "application/x-www-form-urlencoded";
    /// PNG images.
    pub const PNG: &str = "image/png";
    /// JPEG images.
    pub const JPEG: &str = "image/jpeg";
    /// Plain text.
    pub const TEXT: &str = "text/plain";
    /// `Content-Type` value for JSON bodies.
    pub const JSON_UTF8: &str = "application/json";
    /// `Content-Type` value for XML bodies.
    pub const XML_UTF8: &str = "application/xml; charset=utf-8";
    /// `Content-Type` value for XML problem bodies.
    pub const PROBLEM_XML_UTF8: &str = "application/problem+xml; charset=utf-8";
    /// `Content-Type` value for HTML pages.
    pub const HTML_UTF8: &str = "text/html; charset=utf-8";
    /// `Content-Type` value for plain text.
    pub const TEXT_UTF8: &str = "text/plain; charset=utf-8";
}

/// The namespace of RFC 9457 Appendix B problem documents.
pub const PROBLEM_XML_NAMESPACE: &str = "urn:ietf:rfc:7807";
