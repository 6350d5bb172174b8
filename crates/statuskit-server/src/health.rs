//! `GET /health`: 200 while the service can serve; 503 saying why when it cannot (maintenance,
//! shedding load, or the database not answering).

use axum::extract::State;
use serde_json::json;
use statuskit::negotiate::Format;
use statuskit::openapi::Route;
use statuskit::respond::Representation;
use statuskit::retry_after::RetryAfter;
use statuskit::{header, status, Problem};

use crate::state::{App, SHED_RETRY_AFTER};
use crate::store::Store;

/// Where it is served.
pub const PATH: &str = "/health";

/// The route, with its description.
pub fn routes<S: Store>() -> Vec<(&'static str, Route<App<S>>)> {
    let route = Route::new().get(health::<S>, |op| {
        op.id("health").summary("200 while the database answers");
        op.answer(&status::OK)
            .body(
                header::mime::JSON,
                json!({"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}),
            )
            .body(header::mime::XML, json!({"type": "object"}));
        // Maintenance, shedding, or the database not answering.
        op.problem(&status::SERVICE_UNAVAILABLE).header(
            &header::RETRY_AFTER,
            statuskit::openapi::delay_seconds(),
            true,
        );
    });
    vec![(PATH, route)]
}

/// `GET /health`.
async fn health<S: Store>(State(app): State<App<S>>, format: Format) -> Result<Representation, Problem> {
    if let Some(problem) = app.maintenance.switch().problem() {
        return Err(problem);
    }
    if app.shedder.in_flight() >= app.shedder.max() {
        return Err(Problem::service_unavailable(
            RetryAfter::seconds(SHED_RETRY_AFTER),
            format!(
                "shedding load: {} requests in flight, the limit is {}",
                app.shedder.in_flight(),
                app.shedder.max()
            ),
        ));
    }
    if let Err(e) = app.store.ping().await {
        tracing::error!(error = %e, "health: database does not answer");
        return Err(Problem::service_unavailable(RetryAfter::seconds(5), "the database does not answer"));
    }
    Representation::new(
        format,
        "health",
        &json!({"status": "ok", "in_flight": app.shedder.in_flight(), "max_in_flight": app.shedder.max()}),
    )
}
