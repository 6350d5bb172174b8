//! The router: every route of the reference service, wrapped in the contract's layers.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::{any, MethodRouter};
use axum::{Extension, Router};
use statuskit::body::{BodyLimit, BODY_TYPES, PATCH_TYPES};
use statuskit::header::mime;
use statuskit::methods::{not_found, Resource};
use statuskit::negotiate::Format;
use statuskit::respond::Representation;
use statuskit::ContractLayer;

use crate::auth::login_limit::LoginLimiter;
use crate::auth::token_endpoint;
use crate::config::ServeConfig;
use crate::store::Store;
use crate::{customers, docs, openapi, retired};

/// Shared state of the handlers.
#[derive(Debug)]
pub struct App<S> {
    /// The database.
    pub store: S,
    /// The settings it was started with.
    pub config: Arc<ServeConfig>,
    /// Password attempts per username and IP.
    pub login: Arc<LoginLimiter>,
}

impl<S: Clone> Clone for App<S> {
    fn clone(&self) -> Self {
        App { store: self.store.clone(), config: self.config.clone(), login: self.login.clone() }
    }
}

impl<S> App<S> {
    /// State for `store` with `config`.
    pub fn new(store: S, config: ServeConfig) -> Self {
        let login = Arc::new(LoginLimiter::new(config.login_attempts_per_minute));
        App { store, config: Arc::new(config), login }
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
        (
            "/v1/customers/{id}",
            Resource::new()
                .get(customers::show::<S>)
                .put(customers::replace::<S>)
                .patch(customers::patch::<S>)
                .delete(customers::remove::<S>)
                .accept_patch(PATCH_TYPES),
        ),
    ]
}

/// The whole service.
pub fn router<S: Store>(app: App<S>) -> Router {
    let limit = BodyLimit(app.config.max_body_bytes);
    let report = app.config.report_url.clone();
    let mut routes = Router::new();
    for (path, resource) in v1_resources::<S>() {
        routes = routes.route(path, MethodRouter::from(resource));
    }
    let routes = routes
        .route(TOKEN_PATH, Resource::new().post(token_endpoint::token::<S>).accept_post(FORM).into())
        .route("/oauth/revoke", Resource::new().post(token_endpoint::revoke::<S>).accept_post(FORM).into())
        .route("/v1/clients", Resource::new().get(retired::renamed).into())
        .route("/v1/clients/{*rest}", Resource::new().get(retired::renamed).into())
        .route("/v0", any(retired::gone))
        .route("/v0/{*rest}", any(retired::gone))
        .route("/health", Resource::new().get(health::<S>).into())
        .route(statuskit::status::DOCS_PATH, Resource::new().get(docs::errors_page).into())
        .route(openapi::PATH, Resource::new().get(openapi::handler).into());
    #[cfg(feature = "test-routes")]
    let routes = routes.route("/test/panic", Resource::new().get(test_panic).into());
    routes.fallback(not_found).layer(Extension(limit)).layer(ContractLayer::new().report_url(report)).with_state(app)
}

/// `GET /health`: 200 while the database answers.
async fn health<S: Store>(State(app): State<App<S>>, format: Format) -> Result<Representation, statuskit::Problem> {
    app.store.ping().await?;
    Representation::new(format, "health", &serde_json::json!({"status": "ok"}))
}

/// A route that panics, compiled only into test builds, to show the 500.
#[cfg(feature = "test-routes")]
async fn test_panic() -> &'static str {
    panic!("test panic: SELECT secret FROM /etc/passwd")
}
