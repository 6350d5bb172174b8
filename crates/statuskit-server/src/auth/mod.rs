//! Who may do what: the OAuth2 token endpoint (RFC 6749), bearer tokens on every `/v1` route
//! (RFC 6750), scopes, and brute-force limits on passwords.

pub mod bootstrap;
pub mod login_limit;
pub mod oauth_error;
pub mod scope;
pub mod secrets;
pub mod token_cache;
pub mod token_endpoint;

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderMap, Uri};
use statuskit::auth::Bearer;
use statuskit::Problem;

use crate::app::App;
use crate::store::Store;
use scope::{Scope, Scopes};

/// The realm of every challenge.
pub const REALM: &str = "statuskit";

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Who is calling, from a valid access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The account it acts for: the only customers it can see.
    pub account_id: i64,
    /// The user, for password grants.
    pub user_id: Option<i64>,
    /// The OAuth client the token was issued to.
    pub client_id: String,
    /// Granted scopes.
    pub scopes: Scopes,
    /// When the token expires, milliseconds since the Unix epoch.
    pub expires_ms: i64,
    rate_key: statuskit::rate_limit::Key,
}

/// The scope a route needs, as a type.
pub trait Need: Send + Sync + 'static {
    /// The scope.
    const SCOPE: Scope;
}

/// Reads customers.
#[derive(Debug)]
pub struct Read;
impl Need for Read {
    const SCOPE: Scope = Scope::CustomersRead;
}

/// Writes customers.
#[derive(Debug)]
pub struct Write;
impl Need for Write {
    const SCOPE: Scope = Scope::CustomersWrite;
}

/// Operates the service.
#[derive(Debug)]
pub struct AdminScope;
impl Need for AdminScope {
    const SCOPE: Scope = Scope::Admin;
}

/// Checks the bearer token of a request: 400 for a malformed header (or a token in the query
/// string), 401 when missing, unknown, expired or revoked. Valid tokens are remembered briefly
/// ([`token_cache`]) as the caller they stand for.
pub async fn authenticate_parts<S: Store>(
    app: &App<S>,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Arc<Caller>, Problem> {
    let bearer = Bearer::new(REALM);
    let in_query = uri.query().is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "access_token"));
    if in_query {
        return Err(
            bearer.invalid_request("send the access token in the Authorization header, not in the query string")
        );
    }
    let token = bearer.token(headers)?;
    let hash = secrets::token_hash(&token);
    if let Some(caller) = app.tokens.get(&hash) {
        if caller.expires_ms <= now_ms() {
            return Err(bearer.invalid_token("the access token expired"));
        }
        return Ok(caller);
    }
    let Some(t) = app.store.find_token(&hash).await? else {
        return Err(bearer.invalid_token("the access token is not valid"));
    };
    if t.kind != "access" {
        return Err(bearer.invalid_token("the access token is not valid"));
    }
    if t.revoked {
        return Err(bearer.invalid_token("the access token was revoked"));
    }
    if t.expires_ms <= now_ms() {
        return Err(bearer.invalid_token("the access token expired"));
    }
    let caller = Arc::new(Caller::from_token(&t));
    app.tokens.insert(hash, caller.clone());
    Ok(caller)
}

/// Middleware: authenticates (401/400) and puts the [`Caller`] in the request's extensions, so
/// the rate limit after it can key by client, and [`Auth`] after that checks the scope (403).
/// The contract's order: 401, then 429, then 403.
pub async fn authenticate<S: Store>(State(app): State<App<S>>, mut req: Request, next: Next) -> Response {
    match authenticate_parts(&app, req.headers(), req.uri()).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(problem) => problem.into_response(),
    }
}

/// An authenticated caller holding scope `N`: 403 `insufficient_scope` without `N`. Uses the
/// [`Caller`] found by [`authenticate`], or authenticates itself where that middleware is absent.
#[derive(Debug)]
pub struct Auth<N: Need>(pub Arc<Caller>, pub PhantomData<N>);

impl<S: Store, N: Need> FromRequestParts<App<S>> for Auth<N> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, app: &App<S>) -> Result<Self, Problem> {
        let caller = match parts.extensions.get::<Arc<Caller>>() {
            Some(c) => c.clone(),
            None => authenticate_parts(app, &parts.headers, &parts.uri).await?,
        };
        if !caller.scopes.contains(N::SCOPE) {
            return Err(Bearer::new(REALM).insufficient_scope(N::SCOPE.as_str()));
        }
        Ok(Auth(caller, PhantomData))
    }
}

impl Caller {
    /// The caller a valid token stands for.
    pub fn from_token(t: &crate::store::Token) -> Self {
        // Whom rate limits count: the client, and the user when the token acts for one (so one
        // user of a shared client cannot spend the others' quota). Made once per token.
        let rate_key = statuskit::rate_limit::Key::Client(match t.user_id {
            Some(u) => format!("{}/{u}", t.client_id),
            None => t.client_id.clone(),
        });
        Caller {
            account_id: t.account_id,
            user_id: t.user_id,
            client_id: t.client_id.clone(),
            scopes: Scopes::parse(&t.scopes).unwrap_or_default(),
            expires_ms: t.expires_ms,
            rate_key,
        }
    }

    /// Whom rate limits count.
    pub fn rate_key(&self) -> &statuskit::rate_limit::Key {
        &self.rate_key
    }
}
