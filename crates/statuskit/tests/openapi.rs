//! The OpenAPI document follows the handlers: what an extractor or a layer can answer appears
//! in the document because it is in the signature or around the route, with no other edit.
#![cfg(all(feature = "openapi", feature = "rate-limit", feature = "deadline"))]

use std::time::Duration;

use axum::Router;
use serde_json::Value;
use statuskit::conditional::Preconditions;
use statuskit::deadline::DeadlineLayer;
use statuskit::docs::ErrorDocs;
use statuskit::negotiate::Format;
use statuskit::openapi::{ApiDoc, Layers, Operation, Route};
use statuskit::path::Path;
use statuskit::rate_limit::{Key, Limiter, Policy, RateLimitLayer};
use statuskit::{status, ContractLayer, Problem};

async fn plain(_: Format, Path(_id): Path<u32>) -> Result<String, Problem> {
    Ok(String::new())
}

async fn conditional(_: Format, Path(_id): Path<u32>, _: Preconditions) -> Result<String, Problem> {
    Ok(String::new())
}

fn ok(op: &mut Operation) {
    op.id("get").answer(&status::OK).negotiated_body("Thing");
}

fn document(route: Route) -> Value {
    let mut api = ApiDoc::new("t", "1");
    let _: Router = Router::new().route("/things/{id}", api.route("/things/{id}", route));
    api.layer(ContractLayer::new());
    api.to_json(&ErrorDocs::new())
}

#[test]
fn preconditions_in_the_signature_add_304_412_and_etag() {
    let before = document(Route::new().get(plain, ok));
    let after = document(Route::new().get(conditional, ok));
    let (b, a) =
        (&before["paths"]["/things/{id}"]["get"]["responses"], &after["paths"]["/things/{id}"]["get"]["responses"]);
    for code in ["304", "412"] {
        assert!(b.get(code).is_none(), "{code} before: {b}");
        assert!(a[code].is_object(), "{code} after: {a}");
    }
    assert!(b["200"]["headers"].get("etag").is_none());
    assert_eq!(a["200"]["headers"]["etag"]["required"], true);
    assert_eq!(a["304"]["headers"]["etag"]["required"], true);
    // Problems are pinned to their status and the catalog type; 412 may be XML too.
    let schema = &a["412"]["content"]["application/problem+json"]["schema"]["allOf"][1]["properties"];
    assert_eq!(schema["status"]["const"], 412);
    assert_eq!(schema["type"]["const"], "/docs/errors#precondition_failed");
    assert!(a["412"]["content"]["application/problem+xml"].is_object());
    // What both share: Path's 404, Format's 406, the contract's 500 and X-Request-Id.
    for code in ["404", "406", "500"] {
        assert!(b[code].is_object() && a[code].is_object(), "{code}");
    }
    assert_eq!(a["404"]["headers"]["x-request-id"]["required"], true);
    // HEAD is GET without bodies.
    let head = &after["paths"]["/things/{id}"]["head"];
    assert_eq!(head["operationId"], "getHead");
    assert!(head["responses"]["200"].get("content").is_none());
}

#[test]
fn layers_around_a_route_add_their_answers() {
    let limiter = std::sync::Arc::new(Limiter::memory());
    let window = Duration::from_secs(60);
    let layers = Layers::new()
        .layer(RateLimitLayer::new(limiter, Policy::new("r", 10, window), Policy::new("w", 10, window), |_| {
            Key::Name("all".into())
        }))
        .layer(DeadlineLayer::new(Duration::from_secs(1)));
    let doc = document(Route::new().get(plain, ok).route_layer(layers));
    let r = &doc["paths"]["/things/{id}"]["get"]["responses"];
    assert_eq!(r["429"]["headers"]["retry-after"]["required"], true, "{r}");
    assert!(r["504"].is_object());
    let bare = document(Route::new().get(plain, ok));
    assert!(bare["paths"]["/things/{id}"]["get"]["responses"].get("429").is_none());
}

#[test]
fn options_is_described_only_where_the_path_has_no_parameter() {
    let mut api = ApiDoc::new("t", "1");
    let _: Router = Router::new()
        .route(
            "/things",
            api.route(
                "/things",
                Route::new().get(
                    || async { "" },
                    |op| {
                        op.id("list");
                    },
                ),
            ),
        )
        .route("/things/{id}", api.route("/things/{id}", Route::new().get(plain, ok)));
    let doc = api.to_json(&ErrorDocs::new());
    assert_eq!(doc["paths"]["/things"]["options"]["responses"]["204"]["headers"]["allow"]["required"], true);
    assert!(doc["paths"]["/things/{id}"].get("options").is_none());
    assert_eq!(doc["openapi"], "3.1.0");
}

#[derive(serde::Deserialize)]
struct Thing {
    #[allow(dead_code)]
    name: String,
}

impl statuskit::openapi::BodySchema for Thing {
    fn name() -> &'static str {
        "Thing"
    }
    fn schema() -> Value {
        serde_json::json!({"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}})
    }
}

async fn axum_style(
    axum::extract::Path(_id): axum::extract::Path<u32>,
    axum::extract::Query(_q): axum::extract::Query<std::collections::HashMap<String, String>>,
    axum::Json(_thing): axum::Json<Thing>,
) -> &'static str {
    ""
}

#[test]
fn axums_own_extractors_are_described_too() {
    let doc = document(Route::new().put(axum_style, |op| {
        op.id("put").answer(&status::OK);
    }));
    let put = &doc["paths"]["/things/{id}"]["put"];
    assert_eq!(put["requestBody"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Thing");
    assert_eq!(doc["components"]["schemas"]["Thing"]["required"][0], "name");
    for code in ["400", "413", "415", "422"] {
        assert!(put["responses"][code].is_object(), "{code}: {put}");
    }
    assert!(put["responses"].get("404").is_none(), "axum's Path answers 400, not 404");
}
