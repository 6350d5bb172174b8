//! Token endpoint errors in the RFC 6749 §5.2 shape (`error`, `error_description`), not problem
//! bodies (contract §3.2), always with `Cache-Control: no-store`.

use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use statuskit::challenge::Challenge;
use statuskit::header::{mime, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use statuskit::status;

use super::REALM;

/// One RFC 6749 error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The error code, e.g. `invalid_grant`.
    pub error: &'static str,
    /// What to fix.
    pub description: String,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError { error, description: description.into() }
    }

    /// A parameter is missing, repeated, unsupported or malformed, or two client-auth methods.
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new("invalid_request", d)
    }
    /// Client authentication failed: 401 with a `Basic` challenge.
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new("invalid_client", d)
    }
    /// Wrong user credentials, or a bad, expired, revoked or reused refresh token.
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new("invalid_grant", d)
    }
    /// The client may not use this grant type.
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new("unauthorized_client", d)
    }
    /// The grant type is not supported.
    pub fn unsupported_grant_type(d: impl Into<String>) -> Self {
        Self::new("unsupported_grant_type", d)
    }
    /// The scope is unknown or exceeds what may be granted.
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new("invalid_scope", d)
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache`, on every token endpoint response.
pub fn no_store(res: &mut Response) {
    res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut().insert(PRAGMA, HeaderValue::from_static("no-cache"));
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": self.error, "error_description": self.description});
        let mut res = ([(CONTENT_TYPE, HeaderValue::from_static(mime::JSON_UTF8))], body.to_string()).into_response();
        if self.error == "invalid_client" {
            *res.status_mut() = status::UNAUTHORIZED.code;
            res.headers_mut().insert(WWW_AUTHENTICATE, Challenge::basic(REALM).to_header_value());
        } else {
            *res.status_mut() = status::BAD_REQUEST.code;
        }
        no_store(&mut res);
        res
    }
}
