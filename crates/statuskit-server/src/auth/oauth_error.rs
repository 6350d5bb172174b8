//! Token endpoint errors in the RFC 6749 §5.2 shape (`error`, `error_description`), not problem
//! bodies (contract §3.2), always with `Cache-Control: no-store`.

use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use statuskit::challenge::Challenge;
use statuskit::header::{mime, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use statuskit::status;

use super::REALM;

/// The error codes of RFC 6749 §5.2 this service answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `invalid_request`: a parameter is missing, repeated, unsupported or malformed, or two
    /// client-auth methods.
    InvalidRequest,
    /// `invalid_client`: client authentication failed (401 with a `Basic` challenge).
    InvalidClient,
    /// `invalid_grant`: wrong user credentials, or a bad, expired, revoked or reused refresh token.
    InvalidGrant,
    /// `unauthorized_client`: the client may not use this grant type.
    UnauthorizedClient,
    /// `unsupported_grant_type`: the grant type is not supported.
    UnsupportedGrantType,
    /// `invalid_scope`: the scope is unknown or exceeds what may be granted.
    InvalidScope,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidClient,
        ErrorCode::InvalidGrant,
        ErrorCode::UnauthorizedClient,
        ErrorCode::UnsupportedGrantType,
        ErrorCode::InvalidScope,
    ];

    /// The code as RFC 6749 spells it, e.g. `invalid_grant`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One RFC 6749 error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The error code.
    pub error: ErrorCode,
    /// What to fix.
    pub description: String,
}

impl OAuthError {
    /// An error with this code and description.
    pub fn new(error: ErrorCode, description: impl Into<String>) -> Self {
        OAuthError { error, description: description.into() }
    }

    /// A parameter is missing, repeated, unsupported or malformed, or two client-auth methods.
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    /// Client authentication failed: 401 with a `Basic` challenge.
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }
    /// Wrong user credentials, or a bad, expired, revoked or reused refresh token.
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }
    /// The client may not use this grant type.
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnauthorizedClient, d)
    }
    /// The grant type is not supported.
    pub fn unsupported_grant_type(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnsupportedGrantType, d)
    }
    /// The scope is unknown or exceeds what may be granted.
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidScope, d)
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache`, on every token endpoint response.
pub fn no_store(res: &mut Response) {
    res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut().insert(PRAGMA, HeaderValue::from_static("no-cache"));
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": self.error.as_str(), "error_description": self.description});
        let mut res = ([(CONTENT_TYPE, HeaderValue::from_static(mime::JSON_UTF8))], body.to_string()).into_response();
        if self.error == ErrorCode::InvalidClient {
            *res.status_mut() = status::UNAUTHORIZED.code;
            res.headers_mut().insert(WWW_AUTHENTICATE, Challenge::basic(REALM).to_header_value());
        } else {
            *res.status_mut() = status::BAD_REQUEST.code;
        }
        no_store(&mut res);
        res
    }
}
