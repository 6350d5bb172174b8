//! How authentication is described in the OpenAPI document: what a bearer-protected route can
//! answer (400, 401, 403 with their challenges), the security schemes, and the token endpoints.

use serde_json::{json, Value};
use statuskit::header::{self, mime};
use statuskit::openapi::{component, delay_seconds, text, ApiDoc, DescribeInput, DescribeLayer, Operation, Route};
use statuskit::status;

use super::oauth_error::ErrorCode;
use super::scope::Scope;
use super::token_endpoint::{self, TOKEN_PATH};
use super::{Auth, AuthenticateLayer, Need};
use crate::state::App;
use crate::store::Store;

/// The RFC 6750 challenge a refused bearer request carries.
fn bearer_challenge() -> Value {
    json!({"type": "string", "pattern": "^Bearer "})
}

impl<N: Need> DescribeInput for Auth<N> {
    /// The bearer token with `N`'s scope: 400 for a malformed `Authorization`, 401 without a
    /// valid token, 403 without the scope (both with the challenge).
    fn describe(op: &mut Operation) {
        op.security("bearer", &[]).security("oauth2", &[N::SCOPE.as_str()]);
        op.problem(&status::BAD_REQUEST).header(&header::WWW_AUTHENTICATE, bearer_challenge(), false);
        op.problem(&status::UNAUTHORIZED).header(&header::WWW_AUTHENTICATE, bearer_challenge(), true);
        op.problem(&status::FORBIDDEN).header(&header::WWW_AUTHENTICATE, bearer_challenge(), true);
    }
}

impl<S: Store> DescribeLayer for AuthenticateLayer<S> {
    /// 401 without a valid token, 400 for a malformed one, with the challenge.
    fn describe(&self, op: &mut Operation) {
        op.problem(&status::BAD_REQUEST).header(&header::WWW_AUTHENTICATE, bearer_challenge(), false);
        op.problem(&status::UNAUTHORIZED).header(&header::WWW_AUTHENTICATE, bearer_challenge(), true);
    }
}

/// The security schemes routes refer to: a bearer token, got by the OAuth2 password flow.
pub fn security_schemes(api: &mut ApiDoc) {
    let scopes: serde_json::Map<String, Value> =
        Scope::ALL.iter().map(|s| (s.as_str().to_owned(), Value::from(s.as_str()))).collect();
    api.security_scheme("bearer", json!({"type": "http", "scheme": "bearer"}));
    api.security_scheme(
        "oauth2",
        json!({"type": "oauth2", "flows": {"password": {"tokenUrl": TOKEN_PATH, "scopes": scopes}}}),
    );
}

/// The media type the token endpoints accept.
const FORM: &[&str] = &[mime::FORM];

/// The token endpoints, each with its description.
pub fn routes<S: Store>() -> Vec<(&'static str, Route<App<S>>)> {
    let token = Route::new().post(token_endpoint::token::<S>, token_doc).accept_post(FORM);
    let revoke = Route::new().post(token_endpoint::revoke::<S>, revoke_doc).accept_post(FORM);
    vec![(TOKEN_PATH, token), ("/oauth/revoke", revoke)]
}

fn token_doc(op: &mut Operation) {
    op.id("token").summary("Get tokens (RFC 6749)");
    op.request_body(
        mime::FORM,
        Some(json!({
            "type": "object",
            "required": ["grant_type"],
            "properties": {
                "grant_type": {"type": "string", "enum": ["password", "client_credentials", "refresh_token"]},
                "username": {"type": "string"},
                "password": {"type": "string"},
                "refresh_token": {"type": "string"},
                "scope": {"type": "string"},
                "client_id": {"type": "string"},
                "client_secret": {"type": "string"}
            },
            "additionalProperties": false
        })),
    );
    oauth_errors(op);
    op.answer(&status::OK)
        .body(
            mime::JSON,
            json!({"type": "object", "required": ["access_token", "token_type"], "properties": {
                "access_token": {"type": "string"}, "token_type": {"type": "string"},
                "expires_in": {"type": "integer"}, "refresh_token": {"type": "string"}, "scope": {"type": "string"}
            }}),
        )
        .header(&header::CACHE_CONTROL, text(), true);
}

fn revoke_doc(op: &mut Operation) {
    op.id("revoke").summary("Revoke a token (RFC 7009)");
    op.request_body(
        mime::FORM,
        Some(json!({
            "type": "object",
            "required": ["token"],
            "properties": {"token": {"type": "string"}, "client_id": {"type": "string"}, "client_secret": {"type": "string"}},
            "additionalProperties": false
        })),
    );
    oauth_errors(op);
    op.answer(&status::OK).header(&header::CACHE_CONTROL, text(), true);
}

/// The token endpoints' own refusals: RFC 6749 errors (400, and 401 for a client that did not
/// authenticate), the client-secret attempt limit (429), a full hashing pool (503), and 415 for
/// a content coding.
fn oauth_errors(op: &mut Operation) {
    op.schema(
        "OAuthError",
        json!({
            "type": "object",
            "description": "RFC 6749 §5.2 error.",
            "required": ["error"],
            "properties": {
                "error": {"type": "string", "enum": ErrorCode::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>()},
                "error_description": {"type": "string"}
            }
        }),
    );
    let oauth_error = component("OAuthError");
    op.problem(&status::TOO_MANY_REQUESTS)
        .describe(
            "Too many client-secret attempts for this client id or address (or password attempts for this \
             user or address); counted before any hash.",
        )
        .header(&header::RETRY_AFTER, delay_seconds(), true);
    op.problem(&status::SERVICE_UNAVAILABLE)
        .describe("Maintenance, shedding load, or too many credentials being checked at once.")
        .header(&header::RETRY_AFTER, delay_seconds(), true);
    op.answer(&status::BAD_REQUEST).body(mime::JSON, oauth_error.clone()).header(&header::CACHE_CONTROL, text(), true);
    op.problem(&status::UNSUPPORTED_MEDIA_TYPE).header(&header::ACCEPT_ENCODING, text(), true);
    op.answer(&status::UNAUTHORIZED)
        .body(mime::JSON, oauth_error)
        .describe("`invalid_client`: the client did not authenticate.")
        .header(&header::WWW_AUTHENTICATE, json!({"type": "string", "pattern": "^Basic "}), true);
}
