//! `GET /v1/operations/{id}`: the status monitor of background work. 200 with progress and
//! `Retry-After` while queued or running; 303 to the result once done; 200 with the problem when
//! it failed. Another user's operation is 404.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use statuskit::header::RETRY_AFTER;
use statuskit::negotiate::Format;
use statuskit::path::Path;
use statuskit::respond::{Location, Representation, SeeOther};
use statuskit::retry_after::RetryAfter;
use statuskit::Problem;

use serde_json::json;
use statuskit::header;
use statuskit::openapi::{component, delay_seconds, text, Route};
use statuskit::status;

use crate::auth::{Auth, Read};
use crate::customers::model::Link;
use crate::state::App;
use crate::store::{Operation, OperationKind, OperationState, Store};

/// Where an operation's monitor is.
pub fn monitor_path(id: &str) -> String {
    format!("/v1/operations/{id}")
}

/// Where the result of a finished operation is.
pub const AVATAR_PATH: &str = "/v1/me/avatar";

/// An operation as clients see it.
#[derive(Debug, Serialize)]
pub struct OperationView<'a> {
    /// Its id.
    pub id: &'a str,
    /// What it does.
    pub kind: &'a str,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub status: &'a str,
    /// 0–100.
    pub progress: i64,
}

impl<'a> From<&'a Operation> for OperationView<'a> {
    fn from(op: &'a Operation) -> Self {
        OperationView { id: &op.id, kind: op.kind.as_str(), status: op.state.as_str(), progress: op.progress }
    }
}

#[derive(Serialize)]
struct MonitorLinks {
    #[serde(rename = "self")]
    this: Link,
}

#[derive(Serialize)]
struct Monitor<'a> {
    #[serde(flatten)]
    operation: OperationView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<serde_json::Value>,
    #[serde(rename = "_links")]
    links: MonitorLinks,
}

/// The route of `/v1/operations/{id}`, with its description.
pub fn routes<S: Store>() -> Vec<(&'static str, Route<App<S>>)> {
    let route = Route::new().path_param("id", json!({"type": "string"})).get(show::<S>, |op| {
        op.id("getOperation").summary("A background operation's monitor").schema("Operation", schema());
        op.answer(&status::OK)
            .negotiated_body("Operation")
            .describe("Still running (with `Retry-After`), or failed (with `error`).")
            .header(&header::RETRY_AFTER, delay_seconds(), false);
        op.answer(&status::SEE_OTHER).describe("Finished: `Location` is the result.").header(
            &header::LOCATION,
            text(),
            true,
        );
    });
    vec![("/v1/operations/{id}", route)]
}

/// The schema of an operation's monitor.
pub fn schema() -> serde_json::Value {
    json!({
        "type": "object",
        "required": ["id", "kind", "status", "progress", "_links"],
        "properties": {
            "id": {"type": "string"},
            "kind": {"type": "string", "enum": OperationKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>()},
            "status": {"type": "string", "enum": OperationState::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()},
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "error": component("Problem"),
            "_links": {"type": "object"}
        },
        "xml": {"name": "operation"}
    })
}

/// `GET /v1/operations/{id}`.
pub async fn show<S: Store>(
    Auth(caller, ..): Auth<Read>,
    State(app): State<App<S>>,
    format: Format,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let user = caller.acting_user()?;
    let Some(op) = app.store.operation(user, &id).await? else {
        return Err(Problem::not_found(format!("no operation has id {id}")));
    };
    let links = MonitorLinks { this: Link { href: monitor_path(&op.id) } };
    match op.state {
        OperationState::Succeeded => Ok(SeeOther(Location::new(AVATAR_PATH)?).into_response()),
        OperationState::Failed => {
            let mut errors = statuskit::validate::FieldErrors::new();
            errors.add("body", op.error.as_deref().unwrap_or("the image could not be processed"));
            let problem = Problem::unprocessable_entity(errors);
            let error = serde_json::from_slice(&problem.render(statuskit::negotiate::Format::Json, &op.id, None))
                .map_err(Problem::internal_server_error)?;
            let body = Monitor { operation: OperationView::from(&op), error: Some(error), links };
            Ok(Representation::new(format, "operation", &body)?.into_response())
        }
        OperationState::Queued | OperationState::Running => {
            let body = Monitor { operation: OperationView::from(&op), error: None, links };
            Ok(Representation::new(format, "operation", &body)?
                .header(RETRY_AFTER, RetryAfter::seconds(1).to_header_value())
                .into_response())
        }
    }
}
