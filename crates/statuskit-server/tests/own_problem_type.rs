//! A problem type of an API's own, end to end: defined once with an extension member, answered
//! by a handler under `ContractLayer`, and seen in the JSON and XML bodies, the docs page and
//! the OpenAPI document.

use axum::body::Body;
use axum::routing::post;
use axum::Router;
use http::Request;
use statuskit::docs::ErrorDocs;
use statuskit::problem_type::{DocsBase, Member, ProblemType};
use statuskit::{status, ContractLayer, Problem};
use tower::ServiceExt;

const BALANCE: Member<i64> = Member::new("balance", "your balance, in cents");
static OUT_OF_CREDIT: ProblemType =
    ProblemType::new("out-of-credit", &status::FORBIDDEN, "You do not have enough credit")
        .description("What you bought costs more than your balance; top up and retry.")
        .members(&[BALANCE.doc()]);
const BASE: &str = "https://api.example.com/probs";

fn docs() -> ErrorDocs {
    ErrorDocs::new().base(DocsBase::new(BASE).unwrap()).problem_type(&OUT_OF_CREDIT)
}

async fn buy() -> Result<(), Problem> {
    Err(Problem::of(&OUT_OF_CREDIT, "this costs 50, your balance is 30").with(BALANCE, 30))
}

async fn send(accept: &str) -> (http::response::Parts, String) {
    let app = Router::new().route("/buy", post(buy)).layer(ContractLayer::new().docs_base(docs().docs_base().clone()));
    let req = Request::post("/buy").header("accept", accept).body(Body::empty()).unwrap();
    let (parts, body) = app.oneshot(req).await.unwrap().into_parts();
    let body = axum::body::to_bytes(body, 1 << 16).await.unwrap();
    (parts, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn own_type_in_json() {
    let (parts, body) = send("application/json").await;
    assert_eq!(parts.status, status::FORBIDDEN.code);
    assert_eq!(parts.headers["content-type"], "application/problem+json");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["type"], format!("{BASE}#out-of-credit"));
    assert_eq!(json["title"], "You do not have enough credit");
    assert_eq!(json["status"], 403);
    assert_eq!(json["balance"], 30);
    assert_eq!(json["detail"], "this costs 50, your balance is 30");
    assert_eq!(json["request_id"], parts.headers["x-request-id"].to_str().unwrap());
}

#[tokio::test]
async fn own_type_in_xml() {
    let (parts, body) = send("application/xml").await;
    assert_eq!(parts.status, status::FORBIDDEN.code);
    assert_eq!(parts.headers["content-type"], "application/problem+xml; charset=utf-8");
    let doc = roxmltree::Document::parse(&body).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().namespace(), Some("urn:ietf:rfc:7807"));
    let child = |name: &str| root.children().find(|n| n.has_tag_name(name)).and_then(|n| n.text()).unwrap();
    assert_eq!(child("type"), format!("{BASE}#out-of-credit"));
    assert_eq!(child("title"), "You do not have enough credit");
    assert_eq!(child("status"), "403");
    assert_eq!(child("balance"), "30");
}

#[test]
fn own_type_on_the_docs_page() {
    let html = docs().html();
    let start = html.find("<tr id=\"out-of-credit\">").unwrap_or_else(|| panic!("no row for the type: {html}"));
    let row = &html[start..start + html[start..].find("</tr>").unwrap()];
    assert!(row.contains(&format!("{BASE}#out-of-credit")), "{row}");
    assert!(row.contains(">403<") && row.contains("You do not have enough credit"), "{row}");
    assert!(row.contains("<code>balance</code> (integer): your balance, in cents"), "{row}");
    assert!(html.contains("<tr id=\"not_found\">"), "the catalog is still listed");
}

#[tokio::test]
async fn own_type_in_openapi() {
    let doc = statuskit_server::app::document(&docs()).await.expect("the document is built");
    let schema = &doc["components"]["schemas"]["Problem-out-of-credit"];
    let props = &schema["allOf"][1]["properties"];
    assert_eq!(props["type"]["const"], format!("{BASE}#out-of-credit"));
    assert_eq!(props["status"]["const"], 403);
    assert_eq!(props["balance"]["type"], "integer");
    assert_eq!(schema["description"], "What you bought costs more than your balance; top up and retry.");
    // Every 403 may be the catalog's or the API's own; the catalog's type moved under the base.
    let forbidden =
        &doc["paths"]["/v1/customers"]["get"]["responses"]["403"]["content"]["application/problem+json"]["schema"];
    let one_of = forbidden["oneOf"].as_array().unwrap_or_else(|| panic!("{forbidden}"));
    assert!(one_of.contains(&serde_json::json!({"$ref": "#/components/schemas/Problem-out-of-credit"})));
    assert!(forbidden.to_string().contains(&format!("{BASE}#forbidden")), "{forbidden}");
    // The service's own document, without types of its own, is unchanged by the feature.
    let plain = statuskit_server::app::document(&statuskit_server::docs::error_docs()).await.expect("built");
    assert!(plain["components"]["schemas"].get("Problem-out-of-credit").is_none());
    assert!(plain.to_string().contains("\"/docs/errors#forbidden\""));
}
