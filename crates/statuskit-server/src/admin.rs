//! `/admin/maintenance` (admin scope): turns maintenance mode on and off for every instance on
//! the database (see [`crate::maintenance`]: the one that receives the PUT at once, the others
//! within `--maintenance-poll-ms`). `/health` and `/admin` stay reachable while it is on;
//! everything else answers 503 with `Retry-After`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use statuskit::body::Valid;
use statuskit::negotiate::Format;
use statuskit::respond::Representation;
use statuskit::validate::{FieldErrors, Validate};
use statuskit::Problem;

use serde_json::json;
use statuskit::openapi::{BodySchema, Operation, Route};
use statuskit::status;

use crate::auth::{AdminScope, Auth};
use crate::state::App;
use crate::store::Store;

/// Longest `Retry-After` maintenance may announce: a day.
pub const MAX_RETRY_AFTER: u64 = 86_400;

/// The body of `PUT /admin/maintenance`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceInput {
    /// On or off.
    pub enabled: bool,
    /// What clients are told to wait, in seconds.
    #[serde(default = "default_retry_after")]
    pub retry_after_seconds: u64,
}

fn default_retry_after() -> u64 {
    120
}

impl Validate for MaintenanceInput {
    fn validate(&self, errors: &mut FieldErrors) {
        if self.retry_after_seconds == 0 || self.retry_after_seconds > MAX_RETRY_AFTER {
            errors.add("retry_after_seconds", format!("must be between 1 and {MAX_RETRY_AFTER}"));
        }
    }
}

/// The route of `/admin/maintenance`, with its description.
pub fn routes<S: Store>() -> Vec<(&'static str, Route<App<S>>)> {
    let state = |op: &mut Operation| {
        op.schema("Maintenance", schema()).answer(&status::OK).negotiated_body("Maintenance");
    };
    let route = Route::new()
        .get(show::<S>, |op| {
            op.id("getMaintenance").summary("Is maintenance mode on?");
            state(op);
        })
        .put(set::<S>, |op| {
            op.id("setMaintenance").summary("Turn maintenance mode on or off");
            state(op);
        });
    vec![("/admin/maintenance", route)]
}

fn schema() -> serde_json::Value {
    json!({
        "type": "object",
        "required": ["enabled"],
        "properties": {"enabled": {"type": "boolean"}, "retry_after_seconds": {"type": "integer"}},
        "xml": {"name": "maintenance"}
    })
}

impl BodySchema for MaintenanceInput {
    fn name() -> &'static str {
        "MaintenanceInput"
    }

    fn schema() -> serde_json::Value {
        json!({
            "type": "object",
            "required": ["enabled"],
            "additionalProperties": false,
            "properties": {
                "enabled": {"type": "boolean"},
                "retry_after_seconds": {"type": "integer", "minimum": 1, "maximum": MAX_RETRY_AFTER}
            }
        })
    }
}

fn state(active: Option<u64>, format: Format) -> Result<Response, Problem> {
    let body = match active {
        Some(secs) => serde_json::json!({"enabled": true, "retry_after_seconds": secs}),
        None => serde_json::json!({"enabled": false}),
    };
    Ok(Representation::new(format, "maintenance", &body)?.into_response())
}

/// `GET /admin/maintenance`: the stored switch (what every instance follows), applied here too.
pub async fn show<S: Store>(
    _: Auth<AdminScope>,
    State(app): State<App<S>>,
    format: Format,
) -> Result<Response, Problem> {
    let stored = app.maintenance.refresh(&app.store).await?;
    state(stored, format)
}

/// `PUT /admin/maintenance`: stores the switch for every instance and applies it here at once.
pub async fn set<S: Store>(
    _: Auth<AdminScope>,
    State(app): State<App<S>>,
    format: Format,
    Valid(input): Valid<MaintenanceInput>,
) -> Result<Response, Problem> {
    let wanted = input.enabled.then_some(input.retry_after_seconds);
    app.maintenance.set(&app.store, wanted).await?;
    match wanted {
        Some(secs) => tracing::warn!(retry_after = secs, "maintenance mode on, for every instance"),
        None => tracing::warn!("maintenance mode off, for every instance"),
    }
    state(wanted, format)
}
