//! The router: every route of the reference service, wrapped in the contract's layers.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::any;
use axum::{Extension, Router};
use statuskit::body::{BodyLimit, BODY_TYPES, PATCH_TYPES};
use statuskit::methods::{not_found, Resource};
use statuskit::negotiate::Format;
use statuskit::respond::Representation;
use statuskit::ContractLayer;

use crate::config::ServeConfig;
use crate::store::Store;
use crate::{customers, docs, retired};

/// Shared state of the handlers.
#[derive(Debug, Clone)]
pub struct App<S> {
    /// The database.
    pub store: S,
    /// The settings it was started with.
    pub config: Arc<ServeConfig>,
}

/// The whole service.
pub fn router<S: Store>(app: App<S>) -> Router {
    let limit = BodyLimit(app.config.max_body_bytes);
    let report = app.config.report_url.clone();
    let routes = Router::new()
        .route(
            "/v1/customers",
            Resource::new()
                .get(customers::list::<S>)
                .post(customers::create::<S>)
                .accept_post(BODY_TYPES)
                .into(),
        )
        .route(
            "/v1/customers/{id}",
            Resource::new()
                .get(customers::show::<S>)
                .put(customers::replace::<S>)
                .patch(customers::patch::<S>)
                .delete(customers::remove::<S>)
                .accept_patch(PATCH_TYPES)
                .into(),
        )
        .route("/v1/clients", Resource::new().get(retired::renamed).into())
        .route(
            "/v1/clients/{*rest}",
            Resource::new().get(retired::renamed).into(),
        )
        .route("/v0", any(retired::gone))
        .route("/v0/{*rest}", any(retired::gone))
        .route("/health", Resource::new().get(health::<S>).into())
        .route(
            "/docs/errors",
            Resource::new().get(docs::errors_page).into(),
        );
    #[cfg(feature = "test-routes")]
    let routes = routes.route("/test/panic", Resource::new().get(test_panic).into());
    routes
        .fallback(not_found)
        .layer(Extension(limit))
        .layer(ContractLayer::new().report_url(report))
        .with_state(app)
}

/// `GET /health`: 200 while the database answers.
async fn health<S: Store>(
    State(app): State<App<S>>,
    format: Format,
) -> Result<Representation, statuskit::Problem> {
    app.store.ping().await?;
    Representation::new(format, "health", &serde_json::json!({"status": "ok"}))
}

/// A route that panics, compiled only into test builds, to show the 500.
#[cfg(feature = "test-routes")]
async fn test_panic() -> &'static str {
    panic!("test panic: SELECT secret FROM /etc/passwd")
}
