//! `POST /v1/customers/batch`: up to [`MAX_ITEMS`] customers, each created on its own; 207 whose
//! body lists every item's status with its resource or its problem, in JSON or XML.
//!
//! A malformed batch (not a list, empty, too long) is 400 as a whole; anything wrong with one
//! item (422, a duplicate e-mail) is that item's own status.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::{Deserialize, Serialize};
use statuskit::body::Body;
use statuskit::idempotency::IdempotencyKey;
use statuskit::negotiate::Format;
use statuskit::request_id::RequestId;
use statuskit::respond::Representation;
use statuskit::status;
use statuskit::Problem;

use super::model::{customer_path, CustomerInput, CustomerView};
use crate::auth::{Auth, Write};
use crate::state::App;
use crate::store::Store;

/// Most items in one batch.
pub const MAX_ITEMS: usize = 100;

/// The request: `{"items": [customer, …]}`, or `<batch><item>…</item>…</batch>`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchInput {
    /// The customers to create, in order.
    #[serde(alias = "item")]
    pub items: Vec<CustomerInput>,
}

/// One item's outcome.
#[derive(Debug, Serialize)]
pub struct ItemOutcome {
    /// Position in the request, from 0.
    pub index: usize,
    /// The item's own status: 201, or the problem's status.
    pub status: u16,
    /// Where the created customer is (201 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The customer (201), or the problem document.
    pub body: serde_json::Value,
}

/// The 207 body.
#[derive(Debug, Serialize)]
pub struct BatchOutcome {
    /// How many items were created.
    pub created: usize,
    /// How many failed.
    pub failed: usize,
    /// Every item, in request order.
    pub items: Vec<ItemOutcome>,
}

/// `POST /v1/customers/batch`.
pub async fn create_many<S: Store>(
    Auth(caller, ..): Auth<Write>,
    State(app): State<App<S>>,
    format: Format,
    request_id: Option<Extension<RequestId>>,
    key: Option<Extension<IdempotencyKey>>,
    Body(batch): Body<BatchInput>,
) -> Result<Response, Problem> {
    if batch.items.is_empty() || batch.items.len() > MAX_ITEMS {
        return Err(Problem::bad_request(format!(
            "a batch holds 1 to {MAX_ITEMS} items; this one has {}",
            batch.items.len()
        )));
    }
    let request_id = request_id.map(|Extension(id)| id.as_str().to_owned()).unwrap_or_default();
    let key = key.map(|Extension(IdempotencyKey(k))| k);
    let ttl = std::time::Duration::from_secs(app.config.idempotency_ttl_seconds);
    let mut items = Vec::with_capacity(batch.items.len());
    for (index, input) in batch.items.into_iter().enumerate() {
        let item_key = key.as_ref().map(|k| format!("{k}#{index}"));
        let created = match input.into_data() {
            Ok(data) => app
                .store
                .create(caller.account_id, &data, item_key.as_deref().map(|k| (k, ttl)))
                .await
                .map_err(Problem::from),
            Err(p) => Err(p),
        };
        items.push(match created {
            Ok((c, _)) => ItemOutcome {
                index,
                status: status::CREATED.code.as_u16(),
                location: Some(customer_path(c.id)),
                body: serde_json::to_value(CustomerView::from(&c)).map_err(Problem::internal_server_error)?,
            },
            Err(problem) => ItemOutcome {
                index,
                status: problem.status().code.as_u16(),
                location: None,
                body: serde_json::from_slice(&problem.render(Format::Json, &request_id, None))
                    .map_err(Problem::internal_server_error)?,
            },
        });
    }
    let created = items.iter().filter(|i| i.location.is_some()).count();
    let outcome = BatchOutcome { created, failed: items.len() - created, items };
    let mut res = Representation::new(format, "batch", &outcome)?.into_response();
    *res.status_mut() = status::MULTI_STATUS.code;
    Ok(res)
}
