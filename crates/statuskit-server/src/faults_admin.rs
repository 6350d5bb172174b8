//! `/admin/faults` (admin scope, only with `--fault-injection`): what [`crate::faults`] injects,
//! read, set and cleared over HTTP.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use statuskit::body::Valid;
use statuskit::negotiate::Format;
use statuskit::respond::{NoContent, Representation};
use statuskit::Problem;

use crate::auth::{AdminScope, Auth};
use crate::faults::{Fault, Faults};
use crate::state::App;
use crate::store::Store;

/// The faults of `app`: 404 unless started with `--fault-injection`.
fn faults_of<S>(app: &App<S>) -> Result<&Arc<Faults>, Problem> {
    app.faults.as_ref().ok_or_else(|| Problem::not_found("fault injection is off"))
}

/// `GET /admin/faults`.
pub async fn show<S: Store>(
    _: Auth<AdminScope>,
    State(app): State<App<S>>,
    format: Format,
) -> Result<Response, Problem> {
    let current = faults_of(&app)?.current();
    Ok(Representation::new(format, "faults", &serde_json::json!({ "fault": current }))?.into_response())
}

/// `PUT /admin/faults`.
pub async fn set<S: Store>(
    _: Auth<AdminScope>,
    State(app): State<App<S>>,
    format: Format,
    Valid(fault): Valid<Fault>,
) -> Result<Response, Problem> {
    faults_of(&app)?.set(Some(fault.clone()));
    tracing::warn!(?fault, "fault injected");
    Ok(Representation::new(format, "faults", &serde_json::json!({ "fault": fault }))?.into_response())
}

/// `DELETE /admin/faults`.
pub async fn clear<S: Store>(_: Auth<AdminScope>, State(app): State<App<S>>) -> Result<NoContent, Problem> {
    faults_of(&app)?.set(None);
    Ok(NoContent::new())
}
