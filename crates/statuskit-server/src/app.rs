//! The router: assembles the routes each resource module declares (with their descriptions)
//! inside the contract's layers, and the OpenAPI document from the same routes and layers.
//!
//! Per route, in the contract's order (§5): the router answers 404/405/410/301 first; then
//! maintenance and shedding (503), the deadline (504 for all that follows), authentication (401),
//! the rate limit (429, keyed by client), and in the handler the scope (403), negotiation (406),
//! the body (411/415/413/400/422), preconditions (412/304) and the rest.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::middleware::from_fn_with_state;
use axum::routing::any;
use axum::Router;
use statuskit::body::BodyLimit;
use statuskit::collect::{BodyTimeouts, CollectBodyLayer};
use statuskit::deadline::DeadlineLayer;
use statuskit::docs::ErrorDocs;
use statuskit::idempotency::IdempotencyLayer;
use statuskit::limits::{RequestLimits, RequestLimitsLayer};
use statuskit::methods::{not_found, Resource};
use statuskit::openapi::{ApiDoc, Layers, Route};
use statuskit::rate_limit::{Key, OnBackendError, Policy, RateLimitLayer};
use statuskit::unavailable::{LoadShedLayer, MaintenanceLayer, Shedder};
use statuskit::{Contract, ContractLayer};
use tower::layer::util::{Identity, Stack};
use tower::Layer;
use tower_http::add_extension::{AddExtension, AddExtensionLayer};

use crate::auth::{AuthenticateLayer, Caller};
use crate::config::{RedisUnavailable, ServeConfig};
use crate::faults;
use crate::state::App;
use crate::store::sqlite::SqliteStore;
use crate::store::Store;
use crate::{admin, auth, avatars, customers, docs, faults_admin, health, openapi, operations, retired};

/// Every `/v1` resource: path and routes. The router is built from this list, and every one of
/// these requires a bearer token, so the auth tests enumerate it: a route added here cannot
/// escape them, and a route cannot be served under `/v1` without being added here.
pub fn v1_resources<S: Store>() -> Vec<(&'static str, Route<App<S>>)> {
    let mut routes = customers::routes::<S>();
    routes.extend(avatars::routes::<S>());
    routes.extend(operations::routes::<S>());
    routes
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
type WorkGuard = Layers<Stack<DeadlineLayer, Stack<LoadShedLayer, Stack<CollectBodyLayer, Identity>>>>;

/// What stands between a request that may go on and its handler, outermost first: the body is
/// read whole (408 if it trickles), then a slot of `shedder` is taken (503 past its bound), then
/// the deadline starts (504 for all that follows). A slot and the deadline are so spent on the
/// handler's own work, never on a client's slow upload.
fn work_guard<S>(app: &App<S>, shedder: &Shedder) -> WorkGuard {
    Layers::new()
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
fn v1_route<S: Store>(app: &App<S>, body_limit: usize, route: Route<App<S>>) -> Route<App<S>> {
    let stack = Layers::new()
        .layer(MaintenanceLayer::new(app.maintenance.switch().clone()))
        .layer(LoadShedLayer::check_only(app.shedder.clone()))
        .layer(AuthenticateLayer::new(app.clone()))
        .option_layer(rate_limit_layer(app))
        // The service-wide limit is already in every request's extensions; only a route with
        // another one (the avatar upload) sets its own.
        .option_layer((body_limit != app.config.max_body_bytes).then(|| AddExtensionLayer::new(BodyLimit(body_limit))))
        .layer(work_guard(app, &app.shedder))
        .layer(IdempotencyLayer::new(
            app.store.clone(),
            Duration::from_secs(app.config.idempotency_ttl_seconds.max(1)),
            app.config.max_body_bytes,
            idempotency_owner,
        ))
        // Injected faults (only with `--fault-injection`), right around the handler: they stand
        // for a slow or broken backend.
        .option_layer(app.faults.as_ref().map(|f| from_fn_with_state(f.clone(), faults::inject)));
    route.route_layer(stack)
}

/// The OAuth endpoints: maintenance (503), then [`work_guard`] with the share of in-flight slots
/// kept for requests without a token, and injected faults.
fn oauth_route<S: Store>(app: &App<S>, route: Route<App<S>>) -> Route<App<S>> {
    let stack = Layers::new()
        .layer(MaintenanceLayer::new(app.maintenance.switch().clone()))
        .layer(work_guard(app, &app.public_shedder))
        .option_layer(app.faults.as_ref().map(|f| from_fn_with_state(f.clone(), faults::inject)));
    route.route_layer(stack)
}

/// The whole service: the routes inside the contract's layers. Serve it with
/// [`statuskit::server::serve`] (or anything that puts the peer's `ConnectInfo<SocketAddr>` in
/// each request's extensions: the sign-in limit and the rate limit before sign-in key by it).
pub fn router<S: Store>(app: App<S>) -> Service {
    api(app).0
}

/// The service and its OpenAPI document, from the same routes and layers: each resource
/// module's routes (with what they say of themselves), the layers put around them here, and the
/// layers around the whole service.
pub fn api<S: Store>(app: App<S>) -> (Service, ApiDoc) {
    let mut doc = openapi::new_document();
    let document = Arc::new(OnceLock::new());
    let mut routes = Router::new();
    for (path, route) in v1_resources::<S>() {
        let body_limit = if path == avatars::PATH { app.config.max_avatar_bytes } else { app.config.max_body_bytes };
        routes = routes.route(path, doc.route(path, v1_route(&app, body_limit, route)));
    }
    for (path, route) in auth::openapi::routes::<S>() {
        routes = routes.route(path, doc.route(path, oauth_route(&app, route)));
    }
    let plain = [
        admin::routes::<S>(),
        retired::routes(),
        health::routes::<S>(),
        docs::routes(),
        openapi::routes(document.clone()),
    ];
    for (path, route) in plain.into_iter().flatten() {
        routes = routes.route(path, doc.route(path, route));
    }
    // Anything under the retired version is 410 whatever the method; not described.
    let mut routes = routes.route("/v0", any(retired::gone)).route("/v0/{*rest}", any(retired::gone));
    if app.faults.is_some() {
        // Only with `--fault-injection`, for tests: not described.
        routes = routes.route(
            "/admin/faults",
            Resource::new()
                .get(faults_admin::show::<S>)
                .put(faults_admin::set::<S>)
                .delete(faults_admin::clear::<S>)
                .into(),
        );
    }
    #[cfg(feature = "test-routes")]
    let routes = routes.route("/test/panic", Resource::new().get(test_panic).into());
    let limit = BodyLimit(app.config.max_body_bytes);
    let report = app.config.report_url.clone();
    let routes = routes.fallback(not_found).with_state(app);
    // The contract's layers wrap the router once, as one service, rather than through
    // `Router::layer`, which wraps every route's endpoint in its own boxed copy of them: axum
    // clones those boxes on every request (three nested allocations and their frees on every
    // `GET /v1/customers/{id}` in a callgrind profile). Not inside another `Router` either: its
    // fallback would route every request twice more.
    let outer = Layers::new()
        .layer(ContractLayer::new().report_url(report).docs_base(docs::error_docs().docs_base().clone()))
        .layer(RequestLimitsLayer::default())
        .layer(crate::caching::layer())
        .layer(AddExtensionLayer::new(limit));
    doc.layer(outer.clone());
    // What `statuskit::server` answers on the connection itself (408, 503 at the caps).
    doc.layer(statuskit::server::ServerConfig::default());
    let _ = document.set(doc.to_json(&docs::error_docs()).to_string());
    (Layer::layer(&outer, routes), doc)
}

/// The OpenAPI document of a service with the default settings, with the problem types and docs
/// base of `docs` (for `statuskit docs --format openapi`, and tests): the router is built over a
/// throwaway SQLite database, as the document is derived from it.
pub async fn document(docs: &ErrorDocs) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let config = ServeConfig::for_database(dir.path().join("openapi.db"));
    let store = SqliteStore::open(&config.database).await?;
    let (_, doc) = api(App::new(store, config)?);
    Ok(doc.to_json(docs))
}

/// What [`router`] builds: the routes, with the body limit in every request's extensions, behind
/// the 414/431 limits, inside the contract's layers.
pub type Service = Contract<RequestLimits<statuskit::cache::CacheControl<AddExtension<Router, BodyLimit>>>>;

/// A route that panics, compiled only into test builds, to show the 500.
#[cfg(feature = "test-routes")]
async fn test_panic() -> &'static str {
    panic!("test panic: SELECT secret FROM /etc/passwd")
}
