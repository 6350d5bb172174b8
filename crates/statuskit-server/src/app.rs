//! The router: every route of the reference service, wrapped in the contract's layers.
//!
//! Per route, in the contract's order (§5): the router answers 404/405/410/301 first; then
//! maintenance and shedding (503), the deadline (504 for all that follows), authentication (401),
//! the rate limit (429, keyed by client), and in the handler the scope (403), negotiation (406),
//! the body (411/415/413/400/422), preconditions (412/304) and the rest.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::from_fn_with_state;
use axum::routing::any;
use axum::Router;
use statuskit::body::{BodyLimit, BODY_TYPES, PATCH_TYPES};
use statuskit::collect::{BodyTimeouts, CollectBodyLayer};
use statuskit::deadline::DeadlineLayer;
use statuskit::header::mime;
use statuskit::idempotency::IdempotencyLayer;
use statuskit::limits::{RequestLimits, RequestLimitsLayer};
use statuskit::methods::{not_found, Resource};
use statuskit::negotiate::Format;
use statuskit::rate_limit::{Key, Limiter, OnBackendError, Policy, RateLimitLayer};
use statuskit::respond::Representation;
use statuskit::unavailable::{LoadShedLayer, MaintenanceLayer, Shedder};
use statuskit::{Contract, ContractLayer, Problem};
use tokio::sync::Notify;
use tower::layer::util::{Identity, Stack};
use tower::ServiceBuilder;
use tower_http::add_extension::{AddExtension, AddExtensionLayer};

use crate::auth::hashing::HashPool;
use crate::auth::login_limit::LoginLimiter;
use crate::auth::token_cache::TokenCache;
use crate::auth::verified::VerifiedSecrets;
use crate::auth::{token_endpoint, AuthenticateLayer, Caller};
use crate::config::{RedisUnavailable, ServeConfig, Switch};
use crate::faults::{self, Faults};
use crate::maintenance::SharedMaintenance;
use crate::store::Store;
use crate::{admin, avatars, customers, docs, openapi, operations, retired};

/// What `Retry-After` a shed request is told, in seconds.
const SHED_RETRY_AFTER: u64 = 1;

/// Shared state of the handlers: one pointer, so the per-request clones axum makes of it (one per
/// layer and extractor) cost one reference count, not one per field (measured in a profile of
/// the read path: cloning and dropping the field-by-field state was about 3 % of its CPU).
#[derive(Debug)]
pub struct App<S>(Arc<AppState<S>>);

impl<S> Clone for App<S> {
    fn clone(&self) -> Self {
        App(self.0.clone())
    }
}

impl<S> std::ops::Deref for App<S> {
    type Target = AppState<S>;

    fn deref(&self) -> &AppState<S> {
        &self.0
    }
}

/// What [`App`] points at.
#[derive(Debug)]
pub struct AppState<S> {
    /// The database.
    pub store: S,
    /// The settings it was started with.
    pub config: Arc<ServeConfig>,
    /// Where rate-limit state lives; `None` with `--rate-limits off`.
    pub limiter: Option<Arc<Limiter>>,
    /// Password attempts per username and IP, client-secret attempts per client id and IP;
    /// `None` with `--rate-limits off`.
    pub login: Option<Arc<LoginLimiter>>,
    /// Where every argon2 verification runs, `--hash-concurrency` at once.
    pub hashes: HashPool,
    /// Client secrets verified recently, accepted again without a hash.
    pub verified: VerifiedSecrets,
    /// The maintenance switch, shared with every instance on the database through the store.
    pub maintenance: SharedMaintenance,
    /// Requests in flight against `--max-in-flight`.
    pub shedder: Shedder,
    /// Requests in flight on routes that need no token, against `--max-in-flight-public`.
    pub public_shedder: Shedder,
    /// Injected faults; `None` unless started with `--fault-injection`.
    pub faults: Option<Arc<Faults>>,
    /// Wakes the background worker when work is queued.
    pub work: Arc<Notify>,
    /// Access tokens recently found valid.
    pub tokens: Arc<TokenCache>,
}

impl<S> App<S> {
    /// State for `store` with `config`: rate limits in memory, or in Redis with `--redis-url`.
    pub fn new(store: S, config: ServeConfig) -> Result<Self, statuskit::rate_limit::BackendError> {
        let limiter = match (config.rate_limits, &config.redis_url) {
            (Switch::Off, _) => None,
            (Switch::On, None) => Some(Arc::new(Limiter::memory())),
            (Switch::On, Some(url)) => {
                let timeout = Duration::from_millis(config.redis_timeout_ms.max(1));
                let redis = statuskit::rate_limit::redis::RedisLimiter::new(url, &config.redis_key_prefix, timeout)?;
                Some(Arc::new(Limiter::Redis(Box::new(redis))))
            }
        };
        let login =
            limiter.as_ref().map(|l| Arc::new(LoginLimiter::new(l.clone(), config.login_attempts_per_minute.get())));
        let faults = config.fault_injection.then(|| Arc::new(Faults::default()));
        let shedder = Shedder::new(config.max_in_flight, SHED_RETRY_AFTER);
        let token_cache_seconds = config.token_cache_seconds;
        let config_public = config.max_in_flight_public;
        let hashes = HashPool::new(config.hash_concurrency.map_or_else(HashPool::default_concurrency, |n| n.get()));
        Ok(App(Arc::new(AppState {
            store,
            config: Arc::new(config),
            limiter,
            login,
            hashes,
            verified: VerifiedSecrets::default(),
            maintenance: SharedMaintenance::default(),
            shedder,
            public_shedder: Shedder::new(config_public, SHED_RETRY_AFTER),
            faults,
            work: Arc::new(Notify::new()),
            tokens: Arc::new(TokenCache::new(Duration::from_secs(token_cache_seconds))),
        })))
    }
}

/// Where clients get tokens (RFC 6749).
pub const TOKEN_PATH: &str = "/oauth/token";

/// The media type the token endpoints accept.
const FORM: &[&str] = &[mime::FORM];

/// Every `/v1` resource: path and handlers. The router is built from this list, and every one of
/// these requires a bearer token, so the auth tests enumerate it: a route added here cannot
/// escape them, and a route cannot be served under `/v1` without being added here.
pub fn v1_resources<S: Store>() -> Vec<(&'static str, Resource<App<S>>)> {
    vec![
        (
            "/v1/customers",
            Resource::new().get(customers::list::<S>).post(customers::create::<S>).accept_post(BODY_TYPES),
        ),
        ("/v1/customers/batch", Resource::new().post(customers::batch::create_many::<S>).accept_post(BODY_TYPES)),
        (
            "/v1/customers/{id}",
            Resource::new()
                .get(customers::show::<S>)
                .put(customers::replace::<S>)
                .patch(customers::patch::<S>)
                .delete(customers::remove::<S>)
                .accept_patch(PATCH_TYPES),
        ),
        (avatars::PATH, Resource::new().get(avatars::original::<S>).put(avatars::upload::<S>)),
        ("/v1/me/avatar/{size}", Resource::new().get(avatars::thumbnail::<S>)),
        ("/v1/operations/{id}", Resource::new().get(operations::show::<S>)),
    ]
}

/// Whose `Idempotency-Key`s these are: the authenticated caller's.
fn idempotency_owner(req: &Request) -> Option<String> {
    req.extensions().get::<Arc<Caller>>().map(|c| format!("{}:{}", c.account_id, c.rate_key()))
}

/// Whom a request counts against: its client (after authentication), else its address.
fn rate_key(req: &Request) -> Key {
    if let Some(caller) = req.extensions().get::<Arc<Caller>>() {
        return caller.rate_key().clone();
    }
    match req.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) => Key::Ip(addr.ip()),
        None => Key::Name("unknown".into()),
    }
}

/// How long request bodies may take to arrive (408 past it).
fn body_timeouts<S>(app: &App<S>) -> BodyTimeouts {
    BodyTimeouts {
        between_reads: Duration::from_millis(app.config.body_gap_timeout_ms.max(1)),
        total: Duration::from_millis(app.config.body_read_timeout_ms.max(1)),
    }
}

/// The layers of [`work_guard`], innermost first.
type WorkGuard = Stack<DeadlineLayer, Stack<LoadShedLayer, Stack<CollectBodyLayer, Identity>>>;

/// What stands between a request that may go on and its handler, outermost first: the body is
/// read whole (408 if it trickles), then a slot of `shedder` is taken (503 past its bound), then
/// the deadline starts (504 for all that follows). A slot and the deadline are so spent on the
/// handler's own work, never on a client's slow upload.
fn work_guard<S>(app: &App<S>, shedder: &Shedder) -> ServiceBuilder<WorkGuard> {
    ServiceBuilder::new()
        .layer(CollectBodyLayer::new(body_timeouts(app)))
        .layer(LoadShedLayer::new(shedder.clone()))
        .layer(DeadlineLayer::new(Duration::from_millis(app.config.deadline_ms.max(1))))
}

/// The rate limit of `/v1` (429), if limits are on.
fn rate_limit_layer<S: Store>(app: &App<S>) -> Option<RateLimitLayer> {
    let limiter = app.limiter.as_ref()?;
    let window = Duration::from_secs(app.config.rate_limit_window_seconds.max(1));
    let reads = Policy::new("reads", app.config.rate_limit_reads, window);
    let writes = Policy::new("writes", app.config.rate_limit_writes, window);
    let on_error = match app.config.redis_unavailable {
        RedisUnavailable::Allow => OnBackendError::Allow,
        RedisUnavailable::Deny => OnBackendError::Deny,
    };
    Some(RateLimitLayer::new(limiter.clone(), reads, writes, rate_key).on_backend_error(on_error))
}

/// A `/v1` resource: maintenance (503), an early check of shedding (503, no slot taken),
/// authentication (401), the rate limit (429), then [`work_guard`] (the body read within its
/// timeouts up to `body_limit`, 408; a shedding slot, 503; the deadline, 504), `Idempotency-Key`
/// and injected faults, in that order.
///
/// The layers are composed into one `tower` stack and applied with a single `route_layer`: each
/// `route_layer` call boxes the route again, and axum clones every box on every request, so seven
/// calls cost about 19 000 instructions a request (clones, drops, allocations) in a profile of
/// `GET /v1/customers/{id}`, where one costs a few hundred.
fn v1_route<S: Store>(app: &App<S>, body_limit: usize, resource: Resource<App<S>>) -> Resource<App<S>> {
    let stack = ServiceBuilder::new()
        .layer(MaintenanceLayer::new(app.maintenance.switch().clone()))
        .layer(LoadShedLayer::check_only(app.shedder.clone()))
        .layer(AuthenticateLayer::new(app.clone()))
        .option_layer(rate_limit_layer(app))
        // The service-wide limit is already in every request's extensions; only a route with
        // another one (the avatar upload) sets its own.
        .option_layer((body_limit != app.config.max_body_bytes).then(|| AddExtensionLayer::new(BodyLimit(body_limit))))
        .layer(work_guard(app, &app.shedder).into_inner())
        .layer(IdempotencyLayer::new(
            app.store.clone(),
            Duration::from_secs(app.config.idempotency_ttl_seconds.max(1)),
            app.config.max_body_bytes,
            idempotency_owner,
        ))
        // Injected faults (only with `--fault-injection`), right around the handler: they stand
        // for a slow or broken backend.
        .option_layer(app.faults.as_ref().map(|f| from_fn_with_state(f.clone(), faults::inject)))
        .into_inner();
    resource.map_routes(|routes| routes.route_layer(stack))
}

/// The OAuth endpoints: maintenance (503), then [`work_guard`] with the share of in-flight slots
/// kept for requests without a token, and injected faults.
fn oauth_route<S: Store>(app: &App<S>, resource: Resource<App<S>>) -> Resource<App<S>> {
    let faults = app.faults.as_ref().map(|f| from_fn_with_state(f.clone(), faults::inject));
    let stack = ServiceBuilder::new()
        .layer(MaintenanceLayer::new(app.maintenance.switch().clone()))
        .layer(work_guard(app, &app.public_shedder).into_inner())
        .option_layer(faults)
        .into_inner();
    resource.map_routes(|routes| routes.route_layer(stack))
}

/// The whole service: the routes inside the contract's layers. Serve it with
/// [`statuskit::server::serve`] (or anything that puts the peer's `ConnectInfo<SocketAddr>` in
/// each request's extensions: the sign-in limit and the rate limit before sign-in key by it).
pub fn router<S: Store>(app: App<S>) -> Service {
    let limit = BodyLimit(app.config.max_body_bytes);
    let report = app.config.report_url.clone();
    let mut routes = Router::new();
    for (path, resource) in v1_resources::<S>() {
        let body_limit = if path == avatars::PATH { app.config.max_avatar_bytes } else { app.config.max_body_bytes };
        routes = routes.route(path, v1_route(&app, body_limit, resource).into());
    }
    let token = Resource::new().post(token_endpoint::token::<S>).accept_post(FORM);
    let revoke = Resource::new().post(token_endpoint::revoke::<S>).accept_post(FORM);
    let mut routes = routes
        .route(TOKEN_PATH, oauth_route(&app, token).into())
        .route("/oauth/revoke", oauth_route(&app, revoke).into())
        .route("/admin/maintenance", Resource::new().get(admin::show::<S>).put(admin::set::<S>).into())
        .route("/v1/clients", Resource::new().get(retired::renamed).into())
        .route("/v1/clients/{*rest}", Resource::new().get(retired::renamed).into())
        .route("/v0", any(retired::gone))
        .route("/v0/{*rest}", any(retired::gone))
        .route("/health", Resource::new().get(health::<S>).into())
        .route(statuskit::status::DOCS_PATH, Resource::new().get(docs::errors_page).into())
        .route(openapi::PATH, Resource::new().get(openapi::handler).into());
    if app.faults.is_some() {
        routes = routes.route(
            "/admin/faults",
            Resource::new().get(faults::show::<S>).put(faults::set::<S>).delete(faults::clear::<S>).into(),
        );
    }
    #[cfg(feature = "test-routes")]
    let routes = routes.route("/test/panic", Resource::new().get(test_panic).into());
    let routes = routes.fallback(not_found).with_state(app);
    // The contract's layers wrap the router once, as one service, rather than through
    // `Router::layer`, which wraps every route's endpoint in its own boxed copy of them: axum
    // clones those boxes on every request (three nested allocations and their frees on every
    // `GET /v1/customers/{id}` in a callgrind profile). Not inside another `Router` either: its
    // fallback would route every request twice more.
    ServiceBuilder::new()
        .layer(ContractLayer::new().report_url(report))
        .layer(RequestLimitsLayer::default())
        .layer(crate::caching::layer())
        .layer(AddExtensionLayer::new(limit))
        .service(routes)
}

/// What [`router`] builds: the routes, with the body limit in every request's extensions, behind
/// the 414/431 limits, inside the contract's layers.
pub type Service = Contract<RequestLimits<statuskit::cache::CacheControl<AddExtension<Router, BodyLimit>>>>;

/// `GET /health`: 200 while the service can serve; 503 saying why when it cannot (maintenance,
/// shedding load, or the database not answering).
async fn health<S: Store>(State(app): State<App<S>>, format: Format) -> Result<Representation, Problem> {
    if let Some(problem) = app.maintenance.switch().problem() {
        return Err(problem);
    }
    if app.shedder.in_flight() >= app.shedder.max() {
        return Err(Problem::service_unavailable(
            statuskit::retry_after::RetryAfter::seconds(SHED_RETRY_AFTER),
            format!(
                "shedding load: {} requests in flight, the limit is {}",
                app.shedder.in_flight(),
                app.shedder.max()
            ),
        ));
    }
    if let Err(e) = app.store.ping().await {
        tracing::error!(error = %e, "health: database does not answer");
        return Err(Problem::service_unavailable(
            statuskit::retry_after::RetryAfter::seconds(5),
            "the database does not answer",
        ));
    }
    Representation::new(
        format,
        "health",
        &serde_json::json!({"status": "ok", "in_flight": app.shedder.in_flight(), "max_in_flight": app.shedder.max()}),
    )
}

/// A route that panics, compiled only into test builds, to show the 500.
#[cfg(feature = "test-routes")]
async fn test_panic() -> &'static str {
    panic!("test panic: SELECT secret FROM /etc/passwd")
}
