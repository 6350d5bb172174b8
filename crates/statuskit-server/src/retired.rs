//! Paths that moved or were turned off: `/v1/clients…` (301 to `/v1/customers…`) and `/v0/…` (410).

use axum::extract::OriginalUri;
use statuskit::header;
use statuskit::openapi::{text, Operation, Route};
use statuskit::respond::{Location, MovedPermanently};
use statuskit::status;
use statuskit::Problem;

/// `/v1/clients…`, the old name of `/v1/customers…`: 301 to the same path and query there.
pub async fn renamed(OriginalUri(uri): OriginalUri) -> Result<MovedPermanently, Problem> {
    let rest = uri.path().strip_prefix("/v1/clients").unwrap_or_default();
    let target = match uri.query() {
        Some(q) => format!("/v1/customers{rest}?{q}"),
        None => format!("/v1/customers{rest}"),
    };
    Ok(MovedPermanently(Location::new(&target)?))
}

/// Anything under `/v0/`: the retired version, 410 naming its replacement.
pub async fn gone() -> Problem {
    Problem::gone("API version v0 was turned off; use /v1", Some("/v1/customers"))
}

/// The renamed paths, each with its description (`/v0` answers any method, and is left out of
/// the document: nothing is there to describe).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Vec<(&'static str, Route<S>)> {
    let moved = |id: &'static str| {
        move |op: &mut Operation| {
            op.id(id).summary("The old name of /v1/customers");
            op.answer(&status::MOVED_PERMANENTLY).describe("The same path and query under /v1/customers.").header(
                &header::LOCATION,
                text(),
                true,
            );
        }
    };
    vec![
        ("/v1/clients", Route::new().get(renamed, moved("renamedCustomers"))),
        ("/v1/clients/{*rest}", Route::new().path_param("rest", text()).get(renamed, moved("renamedCustomer"))),
    ]
}
