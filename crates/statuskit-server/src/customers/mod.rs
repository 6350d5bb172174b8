//! `/v1/customers`: list, create, read, replace, merge-patch and delete, with every status the
//! contract gives these operations.

pub mod batch;
pub mod model;
mod openapi;

use axum::extract::{OriginalUri, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::{HeaderMap, Method};
use serde::Deserialize;
use statuskit::body::{Body, MergePatch, BODY_TYPES, PATCH_TYPES};
use statuskit::conditional::Preconditions;
use statuskit::idempotency::IdempotencyKey;
use statuskit::negotiate::Format;
use statuskit::openapi::Route;
use statuskit::path::Path;
use statuskit::query::Query;
use statuskit::respond::{prefers_minimal, Created, Location, NoContent, Representation};
use statuskit::validate::FieldErrors;
use statuskit::Problem;

use crate::auth::{Auth, Read, Write};
use crate::state::App;
use crate::store::{Customer, Store, StoreError};
use model::{customer_path, read_validators, validators, CustomerInput, CustomerView, Link, PageLinks, PageView};

/// Default and largest page size.
pub const DEFAULT_LIMIT: u32 = 20;
/// Largest page size.
pub const MAX_LIMIT: u32 = 100;
pub use crate::store::MAX_ID;
/// How often a write is retried when the row changes between our read and our write.
const WRITE_ATTEMPTS: usize = 3;

const XML_ROOT: &str = "customer";

/// Query of the list.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// The routes of `/v1/customers`, each with its description.
pub fn routes<S: Store>() -> Vec<(&'static str, Route<App<S>>)> {
    vec![
        (
            "/v1/customers",
            Route::new().get(list::<S>, openapi::list).post(create::<S>, openapi::create).accept_post(BODY_TYPES),
        ),
        (
            "/v1/customers/batch",
            Route::new().post(batch::create_many::<S>, openapi::create_many).accept_post(BODY_TYPES),
        ),
        (
            "/v1/customers/{id}",
            Route::new()
                .path_param("id", openapi::id_param())
                .get(show::<S>, openapi::show)
                .put(replace::<S>, openapi::replace)
                .patch(patch::<S>, openapi::patch_op)
                .delete(remove::<S>, openapi::remove)
                .accept_patch(PATCH_TYPES),
        ),
    ]
}

fn not_found(id: i64) -> Problem {
    Problem::not_found(format!("no customer has id {id}"))
}

fn checked_id(id: i64) -> Result<i64, Problem> {
    if (1..=MAX_ID).contains(&id) {
        Ok(id)
    } else {
        Err(not_found(id))
    }
}

fn encode_cursor(after: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("after:{after}"))
}

fn decode_cursor(cursor: &str) -> Option<i64> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    text.strip_prefix("after:")?.parse().ok().filter(|n| *n >= 0)
}

fn represent(c: &Customer, format: Format) -> Result<Representation, Problem> {
    Representation::new(format, XML_ROOT, &CustomerView::from(c))
}

/// `GET /v1/customers`: a page in id order, with a `next` link while more remain.
pub async fn list<S: Store>(
    Auth(caller, ..): Auth<Read>,
    State(app): State<App<S>>,
    format: Format,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<PageQuery>,
) -> Result<Response, Problem> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Problem::bad_request(format!("query parameter `limit` must be between 1 and {MAX_LIMIT}")));
    }
    let after = match q.cursor.as_deref() {
        None => 0,
        Some(c) => decode_cursor(c).ok_or_else(|| {
            Problem::bad_request("query parameter `cursor` is not valid; use the `next` link of a previous page")
        })?,
    };
    let mut rows = app.store.list(caller.account_id, after, limit + 1).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = match rows.last() {
        Some(last) if more => {
            Some(Link { href: format!("/v1/customers?limit={limit}&cursor={}", encode_cursor(last.id)) })
        }
        _ => None,
    };
    let page = PageView {
        items: rows.iter().map(CustomerView::from).collect(),
        links: PageLinks { this: Link { href: uri.to_string() }, next },
    };
    Ok(Representation::new(format, "customers", &page)?.into_response())
}

/// `POST /v1/customers`: 201 with `Location`, the new customer and its `ETag`.
pub async fn create<S: Store>(
    Auth(caller, ..): Auth<Write>,
    State(app): State<App<S>>,
    format: Format,
    key: Option<Extension<IdempotencyKey>>,
    Body(input): Body<CustomerInput>,
) -> Result<Response, Problem> {
    let data = input.into_data()?;
    let key = key.map(|Extension(IdempotencyKey(k))| k);
    let ttl = std::time::Duration::from_secs(app.config.idempotency_ttl_seconds);
    let (c, _) = app.store.create(caller.account_id, &data, key.as_deref().map(|k| (k, ttl))).await?;
    let location = Location::new(&customer_path(c.id))?;
    Ok(Created(location, represent(&c, format)?.validators(&validators(&c, format))).into_response())
}

/// `GET` / `HEAD /v1/customers/{id}`: 200 with `ETag` and `Last-Modified`, or 304.
pub async fn show<S: Store>(
    Auth(caller, ..): Auth<Read>,
    State(app): State<App<S>>,
    format: Format,
    Path(id): Path<i64>,
    pre: Preconditions,
) -> Result<Response, Problem> {
    let c = app.store.get(caller.account_id, checked_id(id)?).await?.ok_or_else(|| not_found(id))?;
    let v = read_validators(&c, format);
    if let Err(outcome) = pre.evaluate(&Method::GET, Some(&v)) {
        return Ok(outcome.into_response());
    }
    Ok(represent(&c, format)?.validators(&v).into_response())
}

/// `PUT /v1/customers/{id}`: replaces (200, or 204 with `Prefer: return=minimal`) or creates
/// (201). `If-Match` guards against lost updates; `If-None-Match: *` makes it create-only.
/// RFC 9110 §9.3.4: no validator on a PUT's success, as the stored representation is not the
/// bytes that were sent.
pub async fn replace<S: Store>(
    Auth(caller, ..): Auth<Write>,
    State(app): State<App<S>>,
    format: Format,
    Path(id): Path<i64>,
    pre: Preconditions,
    headers: HeaderMap,
    Body(input): Body<CustomerInput>,
) -> Result<Response, Problem> {
    let id = checked_id(id)?;
    let data = input.into_data()?;
    for _ in 0..WRITE_ATTEMPTS {
        let current = app.store.get(caller.account_id, id).await?;
        pre.evaluate(&Method::PUT, current.as_ref().map(|c| validators(c, format)).as_ref())?;
        let written = match &current {
            None => app.store.create_with_id(caller.account_id, id, &data).await,
            Some(c) => app.store.update(caller.account_id, id, c.version, &data).await,
        };
        let c = match written {
            Ok(c) => c,
            Err(StoreError::VersionMoved) => continue,
            // Another account's customer holds this id: for this caller it does not exist, and
            // it cannot be created here.
            Err(StoreError::IdTaken) => return Err(not_found(id)),
            Err(e) => return Err(e.into()),
        };
        return Ok(match current {
            None => Created(Location::new(&customer_path(c.id))?, represent(&c, format)?).into_response(),
            Some(_) if prefers_minimal(&headers) => NoContent::new().minimal_applied().into_response(),
            Some(_) => represent(&c, format)?.into_response(),
        });
    }
    Err(StoreError::VersionMoved.into())
}

/// `PATCH /v1/customers/{id}`: an RFC 7396 merge patch; 200 with the new state and its `ETag`
/// (or 204 with `Prefer: return=minimal`).
pub async fn patch<S: Store>(
    Auth(caller, ..): Auth<Write>,
    State(app): State<App<S>>,
    format: Format,
    Path(id): Path<i64>,
    pre: Preconditions,
    headers: HeaderMap,
    MergePatch(patch): MergePatch,
) -> Result<Response, Problem> {
    let id = checked_id(id)?;
    let patch = serde_json::Value::Object(patch);
    for _ in 0..WRITE_ATTEMPTS {
        let c = app.store.get(caller.account_id, id).await?.ok_or_else(|| not_found(id))?;
        let mut doc = serde_json::json!({"name": c.name, "email": c.email});
        json_patch::merge(&mut doc, &patch);
        let input: CustomerInput = serde_json::from_value(doc).map_err(|e| {
            let mut errors = FieldErrors::new();
            errors.add("body", e.to_string());
            Problem::unprocessable_entity(errors)
        })?;
        let data = input.into_data()?;
        pre.evaluate(&Method::PATCH, Some(&validators(&c, format)))?;
        let c = match app.store.update(caller.account_id, id, c.version, &data).await {
            Ok(c) => c,
            Err(StoreError::VersionMoved) => continue,
            Err(e) => return Err(e.into()),
        };
        let v = validators(&c, format);
        return Ok(if prefers_minimal(&headers) {
            NoContent::new().validators(&v).minimal_applied().into_response()
        } else {
            represent(&c, format)?.validators(&v).into_response()
        });
    }
    Err(StoreError::VersionMoved.into())
}

/// `DELETE /v1/customers/{id}`: 204, or 404, or 412 when `If-Match` is stale.
pub async fn remove<S: Store>(
    Auth(caller, ..): Auth<Write>,
    State(app): State<App<S>>,
    Path(id): Path<i64>,
    pre: Preconditions,
) -> Result<Response, Problem> {
    let id = checked_id(id)?;
    for _ in 0..WRITE_ATTEMPTS {
        let c = app.store.get(caller.account_id, id).await?.ok_or_else(|| not_found(id))?;
        pre.evaluate(&Method::DELETE, Some(&validators(&c, Format::Json)))?;
        match app.store.delete(caller.account_id, id, c.version).await {
            Ok(()) => return Ok(NoContent::new().into_response()),
            Err(StoreError::VersionMoved) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::VersionMoved.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Some(42));
        for bad in ["", "!!", "YWZ0ZXI6LTE", "bm9wZQ"] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }
}
