//! The service's OpenAPI document, derived from its routes: every method the router serves is
//! described, and the headers the contract requires are marked required.

use statuskit_server::app::{document, v1_resources};
use statuskit_server::docs::error_docs;
use statuskit_server::store::sqlite::SqliteStore;

#[tokio::test]
async fn every_v1_method_is_described() {
    let doc = document(&error_docs()).await.expect("built");
    for (path, route) in v1_resources::<SqliteStore>() {
        for m in route.allow().iter() {
            let op = &doc["paths"][path][m.as_str().to_ascii_lowercase()];
            if m == http::Method::OPTIONS && path.contains('{') {
                assert!(op.is_null(), "OPTIONS {path} is left out");
                continue;
            }
            assert!(op.is_object(), "{m} {path}");
            assert!(op["responses"]["500"].is_object(), "{m} {path}");
            if m == http::Method::OPTIONS {
                continue; // answered before authentication
            }
            assert!(op["responses"]["401"].is_object(), "{m} {path}: every /v1 route needs a token");
            assert!(op["responses"]["429"].is_object(), "{m} {path}: every /v1 route is rate limited");
        }
    }
}

#[tokio::test]
async fn required_headers_are_marked_required() {
    let doc = document(&error_docs()).await.expect("built");
    let p = &doc["paths"]["/v1/customers"];
    assert_eq!(p["get"]["responses"]["401"]["headers"]["www-authenticate"]["required"], true);
    assert_eq!(p["get"]["responses"]["429"]["headers"]["retry-after"]["required"], true);
    assert_eq!(p["post"]["responses"]["201"]["headers"]["location"]["required"], true);
    assert_eq!(p["post"]["responses"]["201"]["headers"]["etag"]["required"], true);
    assert_eq!(p["options"]["responses"]["204"]["headers"]["allow"]["required"], true);
    assert_eq!(p["get"]["responses"]["503"]["headers"]["retry-after"]["required"], true);
    assert!(p["get"]["responses"]["200"]["headers"]["vary"].get("required").is_none());
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(p["get"]["responses"]["200"]["headers"]["cache-control"]["required"], true);
    assert_eq!(p["post"]["responses"]["201"]["headers"]["cache-control"]["required"], true);
    assert!(p["post"]["responses"]["415"]["headers"]["accept-encoding"].is_object());
    assert!(p["post"]["responses"]["415"]["headers"]["accept-post"].is_object());
    assert!(doc["paths"]["/health"]["get"]["responses"]["400"].is_object(), "Host");
    assert_eq!(doc["paths"]["/health"]["get"]["responses"]["200"]["headers"]["cache-control"]["required"], true);
    assert!(p["get"]["responses"]["401"]["headers"].get("cache-control").is_none());
    // Derived from the handlers' extractors: `Preconditions` on GET of an item gives 304 and
    // ETag; `Path` gives 404; the body gives 411/413/415/422.
    let item = &doc["paths"]["/v1/customers/{id}"];
    assert_eq!(item["get"]["responses"]["304"]["headers"]["etag"]["required"], true);
    assert_eq!(item["get"]["responses"]["200"]["headers"]["etag"]["required"], true);
    assert!(item["put"]["responses"]["412"].is_object());
    for code in ["411", "413", "415", "422"] {
        assert!(item["patch"]["responses"][code].is_object(), "PATCH {code}");
    }
    assert_eq!(
        item["patch"]["requestBody"]["content"]["application/merge-patch+json"]["schema"]["$ref"],
        "#/components/schemas/CustomerPatch"
    );
    assert_eq!(item["parameters"][0]["name"], "id");
    assert_eq!(doc["paths"]["/v1/clients/{rest}"]["get"]["responses"]["301"]["headers"]["location"]["required"], true);
    assert!(doc["components"]["securitySchemes"]["oauth2"].is_object());
    for name in [
        "Customer",
        "CustomerInput",
        "CustomerPage",
        "CustomerPatch",
        "Batch",
        "BatchOutcome",
        "Operation",
        "OAuthError",
        "Problem",
    ] {
        assert!(doc["components"]["schemas"][name].is_object(), "schema {name}");
    }
    assert_eq!(
        doc["paths"]["/oauth/token"]["post"]["responses"]["400"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/OAuthError"
    );
}
