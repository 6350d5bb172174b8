//! How `/v1/customers` is described in the OpenAPI document: its routes' own words (ids,
//! summaries, success answers, the 409 of a write that lost a race) and its schemas. What the
//! handlers' extractors and the layers can answer is added by `statuskit::openapi`.

use serde_json::{json, Value};
use statuskit::openapi::{component, entity_tag, text, BodySchema, Operation};
use statuskit::status;

use super::batch::{BatchInput, MAX_ITEMS};
use super::model::{CustomerInput, MAX_LEN};
use super::{MAX_ID, MAX_LIMIT};

/// White_Space as Rust's `str::trim` and `char::is_whitespace` read it, spelled out: `\s`
/// differs between regex dialects (Python's includes U+001C..U+001F, ECMAScript's U+FEFF).
const WS: &str = r"\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// What `statuskit::validate::forbidden_char` refuses in stored text: control characters but tab,
/// line feed and carriage return, and U+FFFE / U+FFFF.
const CTL: &str = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffe\uffff";

/// The White_Space characters that are not [`CTL`]: those a name may start or end with.
const WS_TEXT: &str = r"\t\n\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// A name is valid when it holds no control character ([`CTL`]) and, trimmed
/// ([`CustomerInput`]), has 1 to `MAX_LEN` characters and is not only digits and spaces.
/// `maxLength` cannot say "after trimming", so the pattern says it all: leading space, a
/// lookahead for one letter-like character, the trimmed core (non-space at both ends, at most
/// `MAX_LEN` long), trailing space.
fn name_pattern() -> String {
    let (w, n, l) = (format!("[{WS_TEXT}]"), format!("[^{WS}{CTL}]"), format!("[^0-9{WS}{CTL}]"));
    let any = format!("[^{CTL}]");
    let inner = MAX_LEN - 2;
    format!(r"^{w}*(?={any}*{l}){n}(?:{any}{{0,{inner}}}{n})?{w}*$")
}

/// A cursor is `after:<id>` in unpadded URL-safe base64, as the `next` links carry it: 1 to 18
/// decimal digits, three to a four-character group.
fn cursor_pattern() -> String {
    let group = "(?:[MN][DTjz]|O[DT])[AEIMQUYcgk][w-z0-5]";
    let one = "(?:[MN][AQgw]|O[AQ])";
    let two = "(?:[MN][DTjz]|O[DT])[AEIMQUYcgk]";
    format!("^YWZ0ZXI6(?:{group}){{0,5}}(?:{group}|{one}|{two})$")
}

fn link() -> Value {
    json!({"type": "object", "required": ["href"], "properties": {"href": {"type": "string"}}})
}

fn customer() -> Value {
    json!({
        "type": "object",
        "required": ["id", "name", "email", "_links"],
        "properties": {
            "id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            "name": {"type": "string"},
            "email": {"type": "string"},
            "_links": {"type": "object", "required": ["self"], "properties": {"self": component("Link")}}
        },
        "xml": {"name": "customer"}
    })
}

fn page() -> Value {
    json!({
        "type": "object",
        "required": ["items", "_links"],
        "properties": {
            "items": {"type": "array", "items": component("Customer")},
            "_links": {"type": "object", "required": ["self"], "properties": {
                "self": component("Link"),
                "next": component("Link")
            }}
        }
    })
}

fn patch() -> Value {
    json!({
        "type": "object",
        "description": "RFC 7396 merge patch of a customer.",
        // `null` removes a member; removing one that is not there changes nothing.
        "additionalProperties": {"type": "null"},
        "properties": {
            "name": {"type": "string", "pattern": name_pattern()},
            "email": {"type": "string", "format": "email", "maxLength": MAX_LEN},
            "id": {},
            "_links": {}
        }
    })
}

fn batch_outcome() -> Value {
    json!({
        "type": "object",
        "required": ["created", "failed", "items"],
        "properties": {
            "created": {"type": "integer"},
            "failed": {"type": "integer"},
            "items": {"type": "array", "items": {"type": "object", "required": ["index", "status", "body"], "properties": {
                "index": {"type": "integer"}, "status": {"type": "integer"}, "location": {"type": "string"}, "body": {"type": "object"}
            }}}
        },
        "xml": {"name": "batch"}
    })
}

impl BodySchema for CustomerInput {
    fn name() -> &'static str {
        "CustomerInput"
    }

    fn schema() -> Value {
        json!({
            "type": "object",
            "description": "`id` and `_links` are accepted and ignored, so what was read can be sent back.",
            "required": ["name", "email"],
            "additionalProperties": false,
            "properties": {
                "name": {"type": "string", "pattern": name_pattern()},
                "email": {"type": "string", "format": "email", "maxLength": MAX_LEN},
                "id": {},
                "_links": {}
            },
            "xml": {"name": "customer"}
        })
    }
}

impl BodySchema for BatchInput {
    fn name() -> &'static str {
        "Batch"
    }

    fn schema() -> Value {
        json!({
            "type": "object",
            "required": ["items"],
            "additionalProperties": false,
            "description": "Each item is a customer (CustomerInput) and is validated on its own: an item that is \
                not a valid customer gets its own 422 in the 207, so the schema does not constrain items.",
            "properties": {"items": {"type": "array", "minItems": 1, "maxItems": MAX_ITEMS, "items": {}}}
        })
    }
}

/// The schemas a customer answer refers to.
fn customer_schemas(op: &mut Operation) -> &mut Operation {
    op.schema("Link", link()).schema("Customer", customer())
}

/// The path parameter `{id}`.
pub(super) fn id_param() -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": MAX_ID})
}

/// `GET /v1/customers`.
pub(super) fn list(op: &mut Operation) {
    customer_schemas(op).schema("CustomerPage", page()).id("listCustomers").summary("A page of the caller's customers");
    op.query("limit", json!({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}), None).query(
        "cursor",
        json!({"type": "string", "pattern": cursor_pattern()}),
        Some("Opaque: the `cursor` of a previous page's `next` link."),
    );
    op.answer(&status::OK).negotiated_body("CustomerPage").header(&statuskit::header::VARY, text(), false);
}

/// Links from a created customer to what can be done with it.
fn customer_links(r: &mut statuskit::openapi::Response) {
    for (name, target) in [
        ("GetCustomer", "getCustomer"),
        ("ReplaceCustomer", "replaceCustomer"),
        ("PatchCustomer", "patchCustomer"),
        ("DeleteCustomer", "deleteCustomer"),
    ] {
        r.link(name, json!({"operationId": target, "parameters": {"id": "$response.body#/id"}}));
    }
}

/// `POST /v1/customers`.
pub(super) fn create(op: &mut Operation) {
    customer_schemas(op).id("createCustomer").summary("Create a customer");
    let created = op.answer(&status::CREATED).negotiated_body("Customer");
    created.header(&statuskit::header::LOCATION, text(), true).header(&statuskit::header::ETAG, entity_tag(), true);
    customer_links(created);
    op.problem(&status::CONFLICT);
}

/// `GET /v1/customers/{id}`.
pub(super) fn show(op: &mut Operation) {
    customer_schemas(op).id("getCustomer").summary("Read a customer");
    op.answer(&status::OK).negotiated_body("Customer").header(&statuskit::header::LAST_MODIFIED, text(), false);
}

/// `PUT /v1/customers/{id}`.
pub(super) fn replace(op: &mut Operation) {
    customer_schemas(op).id("replaceCustomer").summary("Replace (or create) a customer");
    op.answer(&status::OK).negotiated_body("Customer");
    op.answer(&status::CREATED).negotiated_body("Customer").describe("PUT to a free id created the customer.").header(
        &statuskit::header::LOCATION,
        text(),
        true,
    );
    op.answer(&status::NO_CONTENT).describe("Replaced; `Prefer: return=minimal` was honoured.");
    op.problem(&status::CONFLICT);
}

/// `PATCH /v1/customers/{id}`.
pub(super) fn patch_op(op: &mut Operation) {
    customer_schemas(op).schema("CustomerPatch", patch()).id("patchCustomer").summary("Merge-patch a customer");
    op.request_schema(component("CustomerPatch"));
    op.answer(&status::OK).negotiated_body("Customer").header(&statuskit::header::ETAG, entity_tag(), true);
    op.answer(&status::NO_CONTENT).describe("Patched; `Prefer: return=minimal` was honoured.").header(
        &statuskit::header::ETAG,
        entity_tag(),
        true,
    );
    op.problem(&status::CONFLICT);
}

/// `DELETE /v1/customers/{id}`.
pub(super) fn remove(op: &mut Operation) {
    op.id("deleteCustomer").summary("Delete a customer");
    op.answer(&status::NO_CONTENT);
    op.problem(&status::CONFLICT);
}

/// `POST /v1/customers/batch`.
pub(super) fn create_many(op: &mut Operation) {
    customer_schemas(op).schema("BatchOutcome", batch_outcome()).id("createCustomers");
    op.summary("Create up to 100 customers, each on its own");
    op.answer(&status::MULTI_STATUS)
        .negotiated_body("BatchOutcome")
        .describe("Every item with its own status: 201 and the customer, or its problem.");
    op.problem(&status::CONFLICT);
}
