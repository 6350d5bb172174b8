//! Who may do what: the OAuth2 token endpoint (RFC 6749), bearer tokens on every `/v1` route
//! (RFC 6750), scopes, brute-force limits on passwords and client secrets, and argon2 kept off the
//! request workers.

pub mod bootstrap;
pub mod hashing;
pub mod login_limit;
pub mod oauth_error;
pub mod openapi;
pub mod scope;
pub mod secrets;
pub mod token_cache;
pub mod token_endpoint;
pub mod verified;

use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use futures_util::future::{ready, BoxFuture, Either, Ready};
use http::request::Parts;
use http::{HeaderMap, Uri};
use statuskit::auth::Bearer;
use statuskit::Problem;
use tower::{Layer, Service};

use crate::state::App;
use crate::store::Store;
use scope::{Scope, Scopes};
use secrets::TokenDigest;

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
    match check_cached(app, headers, uri)? {
        Checked::Known(caller) => Ok(caller),
        Checked::Unknown(digest) => look_up(app, digest).await,
    }
}

/// What can be told about a request's token without the store.
enum Checked {
    /// The token's caller, from the cache.
    Known(Arc<Caller>),
    /// Well formed, not in the cache: the store must be asked (the token's SHA-256).
    Unknown(TokenDigest),
}

/// The part of [`authenticate_parts`] that needs no waiting: the header's form and the cache.
fn check_cached<S: Store>(app: &App<S>, headers: &HeaderMap, uri: &Uri) -> Result<Checked, Problem> {
    let bearer = Bearer::new(REALM);
    let in_query = uri.query().is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "access_token"));
    if in_query {
        return Err(
            bearer.invalid_request("send the access token in the Authorization header, not in the query string")
        );
    }
    let token = bearer.token(headers)?;
    let digest = secrets::token_digest(&token);
    match app.tokens.get(&digest) {
        Some(caller) if caller.expires_ms <= now_ms() => Err(bearer.invalid_token("the access token expired")),
        Some(caller) => Ok(Checked::Known(caller)),
        None => Ok(Checked::Unknown(digest)),
    }
}

/// The part of [`authenticate_parts`] that asks the store, and caches what it finds valid.
async fn look_up<S: Store>(app: &App<S>, digest: TokenDigest) -> Result<Arc<Caller>, Problem> {
    let bearer = Bearer::new(REALM);
    let Some(t) = app.store.find_token(&secrets::digest_hex(&digest)).await? else {
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
    app.tokens.insert(digest, caller.clone());
    Ok(caller)
}

/// Layer of [`Authenticate`]: authenticates (401/400) and puts the [`Caller`] in the request's
/// extensions, so the rate limit after it can key by client, and [`Auth`] after that checks the
/// scope (403). The contract's order: 401, then 429, then 403.
#[derive(Debug)]
pub struct AuthenticateLayer<S: Store> {
    app: App<S>,
}

impl<S: Store> AuthenticateLayer<S> {
    /// Authenticates against `app`'s token cache and store.
    pub fn new(app: App<S>) -> Self {
        AuthenticateLayer { app }
    }
}

impl<S: Store> Clone for AuthenticateLayer<S> {
    fn clone(&self) -> Self {
        AuthenticateLayer { app: self.app.clone() }
    }
}

impl<S: Store, I> Layer<I> for AuthenticateLayer<S> {
    type Service = Authenticate<S, I>;

    fn layer(&self, inner: I) -> Self::Service {
        Authenticate { app: self.app.clone(), inner }
    }
}

/// The middleware of [`AuthenticateLayer`].
///
/// A tower service rather than `axum::middleware::from_fn`, so that a token found in the cache
/// (nearly every request) costs neither a boxed future nor a boxed clone of everything inside:
/// the inner service is called at once and its future returned as it is. Only a token that must
/// be looked up in the store takes the boxed path.
#[derive(Debug)]
pub struct Authenticate<S: Store, I> {
    app: App<S>,
    inner: I,
}

impl<S: Store, I: Clone> Clone for Authenticate<S, I> {
    fn clone(&self) -> Self {
        Authenticate { app: self.app.clone(), inner: self.inner.clone() }
    }
}

/// The future of [`Authenticate`]: the inner service's, a refusal, or the store lookup.
pub type AuthenticateFuture<F> =
    Either<F, Either<Ready<Result<Response, Infallible>>, BoxFuture<'static, Result<Response, Infallible>>>>;

impl<S, I> Service<Request> for Authenticate<S, I>
where
    S: Store,
    I: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    I::Future: Send,
{
    type Response = Response;
    type Error = Infallible;
    type Future = AuthenticateFuture<I::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        match check_cached(&self.app, req.headers(), req.uri()) {
            Ok(Checked::Known(caller)) => {
                req.extensions_mut().insert(caller);
                Either::Left(self.inner.call(req))
            }
            Err(problem) => Either::Right(Either::Left(ready(Ok(problem.into_response())))),
            Ok(Checked::Unknown(digest)) => {
                let app = self.app.clone();
                let ready_inner = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, ready_inner);
                Either::Right(Either::Right(Box::pin(async move {
                    match look_up(&app, digest).await {
                        Ok(caller) => {
                            req.extensions_mut().insert(caller);
                            inner.call(req).await
                        }
                        Err(problem) => Ok(problem.into_response()),
                    }
                })))
            }
        }
    }
}

/// An authenticated caller holding scope `N`: 403 `insufficient_scope` without `N`. Uses the
/// [`Caller`] found by [`Authenticate`], or authenticates itself where that middleware is absent.
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
    /// The user a `/v1/me` request acts for: a token from the password grant (403 for a client's
    /// own token).
    pub fn acting_user(&self) -> Result<i64, Problem> {
        self.user_id.ok_or_else(|| {
            Problem::forbidden(
                "/v1/me needs a token that acts for a user (the password grant), not a client's own token",
            )
        })
    }

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
