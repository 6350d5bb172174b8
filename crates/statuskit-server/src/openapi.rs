//! `GET /openapi.json`: the service described in OpenAPI 3.1, built with utoipa's builders from
//! the router's own route list ([`v1_resources`] and each resource's `Allow`), so a method added
//! to a route without its description here fails the build of the document (and its test).
//!
//! Every operation lists every status it can answer: the handler's own, and those its extractors
//! and layers add (400/401/403 for the bearer token, 406 for `Accept`, 411/413/415/422 for bodies,
//! 404/412/304 for items, 429/503 for traffic control, 500 for everything). Errors are
//! `application/problem+json` (or `+xml`) whose `status` is pinned to the response's status, and
//! the headers the contract requires (`WWW-Authenticate` on 401/403, `Retry-After` on 429/503,
//! `Allow` on OPTIONS, `Location` on 201/301, `ETag` on single resources, `X-Request-Id`
//! everywhere) are marked required.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, Method};
use serde_json::{json, Value};
use statuskit::body::{BODY_TYPES, PATCH_TYPES};
use statuskit::docs::ErrorDocs;
use statuskit::header::{self, mime};
use statuskit::problem_type::DocsBase;
use statuskit::status::{self, Status};
use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, OperationBuilder, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ComponentsBuilder, Content, InfoBuilder, OpenApiBuilder, PathsBuilder, Ref, RefOr, Required, ResponseBuilder,
    Schema,
};

use crate::app::v1_resources;
use crate::auth::scope::Scope;
use crate::avatars::UPLOAD_TYPES;
use crate::customers::{MAX_ID, MAX_LIMIT};
use crate::store::sqlite::SqliteStore;

/// The path the document is served at.
pub const PATH: &str = "/openapi.json";

static DOCUMENT: LazyLock<String> = LazyLock::new(|| document().to_string());

/// The service's document: its error types are those of [`crate::docs::error_docs`].
pub fn document() -> Value {
    document_for(&crate::docs::error_docs())
}

/// `GET /openapi.json`.
pub async fn handler() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static(mime::JSON_UTF8))], DOCUMENT.as_str()).into_response()
}

thread_local! {
    /// JSON Schema literals of the document being built: utoipa's `Schema` type cannot hold all of
    /// JSON Schema 2020-12 (`const`, typeless schemas), so each literal stands in as a reference
    /// `#/x-inline/N` that [`document`] replaces with the literal.
    static LITERALS: RefCell<Vec<Value>> = const { RefCell::new(Vec::new()) };
}

const INLINE: &str = "#/x-inline/";

fn literal(value: Value) -> Ref {
    let n = LITERALS.with(|l| {
        let mut l = l.borrow_mut();
        l.push(value);
        l.len() - 1
    });
    Ref::new(format!("{INLINE}{n}"))
}

fn schema(value: Value) -> RefOr<Schema> {
    RefOr::Ref(literal(value))
}

/// Replaces every `{"$ref": "#/x-inline/N"}` with literal N.
fn inline_literals(v: &mut Value, literals: &[Value]) {
    match v {
        Value::Object(m) => {
            let n = m
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(INLINE))
                .and_then(|n| n.parse::<usize>().ok());
            match n {
                Some(n) if m.len() == 1 => {
                    *v = literals[n].clone();
                    inline_literals(v, literals);
                }
                _ => m.values_mut().for_each(|x| inline_literals(x, literals)),
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|x| inline_literals(x, literals)),
        _ => {}
    }
}

fn component(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// White_Space as Rust's `str::trim` and `char::is_whitespace` read it, spelled out: `\s`
/// differs between regex dialects (Python's includes U+001C..U+001F, ECMAScript's U+FEFF).
const WS: &str = r"\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// What `statuskit::validate::forbidden_char` refuses in stored text: control characters but tab,
/// line feed and carriage return, and U+FFFE / U+FFFF.
const CTL: &str = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffe\uffff";

/// The White_Space characters that are not [`CTL`]: those a name may start or end with.
const WS_TEXT: &str = r"\t\n\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// A name is valid when it holds no control character ([`CTL`]) and, trimmed
/// (`customers::model::CustomerInput`), has 1 to `MAX_LEN` characters and is not only digits and
/// spaces. `maxLength` cannot say "after trimming", so the pattern says it all: leading space, a
/// lookahead for one letter-like character, the trimmed core (non-space at both ends, at most
/// `MAX_LEN` long), trailing space.
fn name_pattern() -> String {
    let (w, n, l) = (format!("[{WS_TEXT}]"), format!("[^{WS}{CTL}]"), format!("[^0-9{WS}{CTL}]"));
    let any = format!("[^{CTL}]");
    let inner = crate::customers::model::MAX_LEN - 2;
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

fn components() -> utoipa::openapi::Components {
    let error_codes: Vec<u16> = status::CATALOG.iter().filter(|s| s.is_error()).map(|s| s.code.as_u16()).collect();
    let scopes: Scopes = Scope::ALL.iter().map(|s| (s.as_str(), s.as_str())).collect();
    ComponentsBuilder::new()
        .schema(
            "Problem",
            schema(json!({
                "type": "object",
                "description": "RFC 9457 problem details; `type` links to /docs/errors.",
                "required": ["type", "title", "status", "detail", "message", "request_id"],
                "properties": {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"type": "integer", "enum": error_codes},
                    "detail": {"type": "string"},
                    "message": {"type": "string"},
                    "request_id": {"type": "string"},
                    "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
                    "report": {"type": "string"}
                }
            })),
        )
        .schema(
            "OAuthError",
            schema(json!({
                "type": "object",
                "description": "RFC 6749 §5.2 error.",
                "required": ["error"],
                "properties": {
                    "error": {"type": "string", "enum": ["invalid_request", "invalid_client", "invalid_grant",
                        "unauthorized_client", "unsupported_grant_type", "invalid_scope"]},
                    "error_description": {"type": "string"}
                }
            })),
        )
        .schema(
            "Link",
            schema(json!({"type": "object", "required": ["href"], "properties": {"href": {"type": "string"}}})),
        )
        .schema(
            "Customer",
            schema(json!({
                "type": "object",
                "required": ["id", "name", "email", "_links"],
                "properties": {
                    "id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                    "name": {"type": "string"},
                    "email": {"type": "string"},
                    "_links": {"type": "object", "required": ["self"], "properties": {"self": {"$ref": "#/components/schemas/Link"}}}
                },
                "xml": {"name": "customer"}
            })),
        )
        .schema(
            "CustomerPage",
            schema(json!({
                "type": "object",
                "required": ["items", "_links"],
                "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Customer"}},
                    "_links": {"type": "object", "required": ["self"], "properties": {
                        "self": {"$ref": "#/components/schemas/Link"},
                        "next": {"$ref": "#/components/schemas/Link"}
                    }}
                }
            })),
        )
        .schema(
            "CustomerInput",
            schema(json!({
                "type": "object",
                "description": "`id` and `_links` are accepted and ignored, so what was read can be sent back.",
                "required": ["name", "email"],
                "additionalProperties": false,
                "properties": {
                    "name": {"type": "string", "pattern": name_pattern()},
                    "email": {"type": "string", "format": "email", "maxLength": crate::customers::model::MAX_LEN},
                    "id": {},
                    "_links": {}
                },
                "xml": {"name": "customer"}
            })),
        )
        .schema(
            "CustomerPatch",
            schema(json!({
                "type": "object",
                "description": "RFC 7396 merge patch of a customer.",
                // `null` removes a member; removing one that is not there changes nothing.
                "additionalProperties": {"type": "null"},
                "properties": {
                    "name": {"type": "string", "pattern": name_pattern()},
                    "email": {"type": "string", "format": "email", "maxLength": crate::customers::model::MAX_LEN},
                    "id": {},
                    "_links": {}
                }
            })),
        )
        .schema(
            "Batch",
            schema(json!({
                "type": "object",
                "required": ["items"],
                "additionalProperties": false,
                "description": "Each item is a customer (CustomerInput) and is validated on its own: an item that is \
                    not a valid customer gets its own 422 in the 207, so the schema does not constrain items.",
                "properties": {"items": {"type": "array", "minItems": 1, "maxItems": crate::customers::batch::MAX_ITEMS,
                    "items": {}}}
            })),
        )
        .schema(
            "BatchOutcome",
            schema(json!({
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
            })),
        )
        .schema(
            "Operation",
            schema(json!({
                "type": "object",
                "required": ["id", "kind", "status", "progress", "_links"],
                "properties": {
                    "id": {"type": "string"},
                    "kind": {"type": "string"},
                    "status": {"type": "string", "enum": ["queued", "running", "succeeded", "failed"]},
                    "progress": {"type": "integer", "minimum": 0, "maximum": 100},
                    "error": {"$ref": "#/components/schemas/Problem"},
                    "_links": {"type": "object"}
                },
                "xml": {"name": "operation"}
            })),
        )
        .schema(
            "Maintenance",
            schema(json!({
                "type": "object",
                "required": ["enabled"],
                "properties": {"enabled": {"type": "boolean"}, "retry_after_seconds": {"type": "integer"}},
                "xml": {"name": "maintenance"}
            })),
        )
        .schema(
            "MaintenanceInput",
            schema(json!({
                "type": "object",
                "required": ["enabled"],
                "additionalProperties": false,
                "properties": {
                    "enabled": {"type": "boolean"},
                    "retry_after_seconds": {"type": "integer", "minimum": 1, "maximum": crate::admin::MAX_RETRY_AFTER}
                }
            })),
        )
        .security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()))
        .security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::new([Flow::Password(Password::new(crate::app::TOKEN_PATH, scopes))])),
        )
        .build()
}

/// One response being described, with the names of the headers it must carry.
struct Answer {
    status: &'static Status,
    description: String,
    content: Vec<(&'static str, Option<RefOr<Schema>>)>,
    headers: Vec<(String, Value, bool)>,
    links: Vec<(&'static str, &'static str)>,
}

impl Answer {
    fn new(status: &'static Status) -> Self {
        Answer {
            status,
            description: status.description.to_owned(),
            content: Vec::new(),
            headers: Vec::new(),
            links: Vec::new(),
        }
    }
    fn describe(mut self, d: &str) -> Self {
        self.description = d.to_owned();
        self
    }
    fn body(mut self, media: &'static str, s: RefOr<Schema>) -> Self {
        self.content.push((media, Some(s)));
        self
    }
    fn header(mut self, name: HeaderName, s: Value, required: bool) -> Self {
        self.headers.retain(|h| h.0 != name.as_str());
        self.headers.push((name.as_str().to_owned(), s, required));
        self
    }
    fn problem(status: &'static Status) -> Self {
        let pinned = schema(json!({
            "allOf": [
                {"$ref": "#/components/schemas/Problem"},
                {"properties": {"status": {"const": status.code.as_u16()}, "type": {"const": status.type_uri}}}
            ]
        }));
        let a = Answer::new(status).body(mime::PROBLEM_JSON, pinned);
        if status.code == status::NOT_ACCEPTABLE.code {
            a // 406 is always JSON
        } else {
            let mut a = a;
            a.content.push((mime::PROBLEM_XML, None));
            a
        }
    }
}

/// Every answer of one operation, by status.
struct Op {
    method: Method,
    id: String,
    summary: &'static str,
    params: Vec<utoipa::openapi::path::Parameter>,
    body: Option<utoipa::openapi::request_body::RequestBody>,
    security: Vec<SecurityRequirement>,
    answers: BTreeMap<u16, Answer>,
}

fn text() -> Value {
    json!({"type": "string"})
}

fn seconds() -> Value {
    json!({"type": "string", "pattern": "^[0-9]+$", "description": "delay-seconds (RFC 9110 §10.2.3)"})
}

impl Op {
    fn new(method: Method, id: &str, summary: &'static str) -> Self {
        let op = Op {
            method,
            id: id.to_owned(),
            summary,
            params: Vec::new(),
            body: None,
            security: Vec::new(),
            answers: BTreeMap::new(),
        };
        // Every route is behind `limits::RequestLimitsLayer` (414, 431, and 400 for a missing or
        // repeated `Host`), the panic catcher (500) and `statuskit::server`'s header timeout (408).
        op.problems(&[
            &status::REQUEST_TIMEOUT,
            &status::URI_TOO_LONG,
            &status::REQUEST_HEADER_FIELDS_TOO_LARGE,
            &status::INTERNAL_SERVER_ERROR,
        ])
        .problems(&[&status::BAD_REQUEST])
    }

    /// Behind the service-state layers (`app::work_guard`): 503 for maintenance or shedding (with
    /// `Retry-After`), 504 past the deadline.
    fn guarded(mut self) -> Self {
        self.add(Answer::problem(&status::SERVICE_UNAVAILABLE).header(header::RETRY_AFTER, seconds(), true));
        self.problems(&[&status::GATEWAY_TIMEOUT])
    }

    /// A `/v1` route (`app::v1_route`): the rate limit (429 with `Retry-After`), inside the
    /// service-state layers.
    fn v1(mut self) -> Self {
        self.add(Answer::problem(&status::TOO_MANY_REQUESTS).header(header::RETRY_AFTER, seconds(), true));
        self.guarded()
    }

    fn add(&mut self, a: Answer) {
        self.answers.insert(a.status.code.as_u16(), a);
    }

    fn answer(mut self, a: Answer) -> Self {
        self.add(a);
        self
    }

    fn problems(mut self, statuses: &[&'static Status]) -> Self {
        for s in statuses {
            if !self.answers.contains_key(&s.code.as_u16()) {
                self.add(Answer::problem(s));
            }
        }
        self
    }

    /// A bearer token with `scope`: 400 for a malformed `Authorization`, 401 without a valid
    /// token, 403 without the scope (both with the RFC 6750 challenge).
    fn bearer(mut self, scope: Scope) -> Self {
        self.security.push(SecurityRequirement::new("bearer", Vec::<String>::new()));
        self.security.push(SecurityRequirement::new("oauth2", [scope.as_str()]));
        let challenge = json!({"type": "string", "pattern": "^Bearer "});
        self.add(Answer::problem(&status::BAD_REQUEST).header(header::WWW_AUTHENTICATE, challenge.clone(), false));
        self.add(Answer::problem(&status::UNAUTHORIZED).header(header::WWW_AUTHENTICATE, challenge.clone(), true));
        self.add(Answer::problem(&status::FORBIDDEN).header(header::WWW_AUTHENTICATE, challenge, true));
        self
    }

    /// JSON or XML by `Accept`: 406 (JSON only), 400 for an unreadable `Accept`.
    fn negotiated(self) -> Self {
        self.problems(&[&status::BAD_REQUEST, &status::NOT_ACCEPTABLE])
    }

    /// `{id}` of a customer: 404 for an id that is not one of the caller's customers.
    fn item(self) -> Self {
        self.problems(&[&status::NOT_FOUND])
    }

    /// `If-Match` / `If-None-Match` / `If-(Un)Modified-Since` are evaluated: 412 (with the current
    /// `ETag` when there is one).
    fn conditional(self) -> Self {
        self.problems(&[&status::BAD_REQUEST, &status::PRECONDITION_FAILED])
    }

    /// A body of one of `types` (`accepted` names the header listing them on 415).
    fn body(mut self, input: &str, types: &[&'static str], accepted: HeaderName) -> Self {
        let mut rb = RequestBodyBuilder::new().required(Some(Required::True));
        // XML bodies are documented in prose only: generated XML turns JSON's `null` and `[]`
        // into text, so a schema-invalid document would arrive valid.
        for t in types.iter().filter(|t| t.ends_with("json")) {
            rb = rb.content(*t, Content::new(Some(component(input))));
        }
        if types.contains(&mime::XML) {
            rb = rb.description(Some("Also accepted as application/xml, root element `customer`."));
        }
        self.body = Some(rb.build());
        // `Accept-Encoding` instead when a content coding was the cause.
        self.add(Answer::problem(&status::UNSUPPORTED_MEDIA_TYPE).header(accepted, text(), false).header(
            header::ACCEPT_ENCODING,
            text(),
            false,
        ));
        self.problems(&[
            &status::BAD_REQUEST,
            &status::LENGTH_REQUIRED,
            &status::PAYLOAD_TOO_LARGE,
            &status::UNPROCESSABLE_ENTITY,
        ])
    }

    fn build(self, head: bool) -> Operation {
        let mut b = OperationBuilder::new()
            .operation_id(Some(self.id))
            .summary(Some(self.summary))
            .parameters(Some(self.params))
            .request_body(self.body);
        if !self.security.is_empty() {
            b = b.securities(Some(self.security));
        }
        for (code, mut a) in self.answers {
            // `caching::layer` gives every 2xx and 304 a `Cache-Control` (contract §4).
            let cached = a.status.code.is_success() || a.status.code == status::NOT_MODIFIED.code;
            if cached && !a.headers.iter().any(|h| h.0 == header::CACHE_CONTROL.as_str()) {
                a = a.header(header::CACHE_CONTROL, text(), true);
            }
            let mut r = ResponseBuilder::new().description(a.description);
            if !head {
                for (media, s) in a.content {
                    r = r.content(media, Content::new(s));
                }
            }
            for (name, s, required) in a.headers {
                let mut h = Header::new(schema(s));
                if required {
                    // utoipa's Header has no `required`; `document` turns this marker into it.
                    h.description = Some(REQUIRED.to_owned());
                }
                r = r.header(name, h);
            }
            let mut h = Header::new(schema(text()));
            h.description = Some(REQUIRED.to_owned());
            r = r.header(header::X_REQUEST_ID.as_str(), h);
            for (name, target) in a.links {
                // A literal: utoipa 5.5 writes `operation_id`, where OpenAPI says `operationId`.
                let link = json!({"operationId": target, "parameters": {"id": "$response.body#/id"}});
                r = r.link(name, RefOr::Ref(literal(link)));
            }
            b = b.response(code.to_string(), r.build());
        }
        b.build()
    }
}

const REQUIRED: &str = "required";

fn customer_content(a: Answer, s: &str) -> Answer {
    a.body(mime::JSON, component(s)).body(mime::XML, component(s))
}

fn etag() -> Value {
    json!({"type": "string", "pattern": "^(W/)?\"[\\x21\\x23-\\x7e\\x80-\\xff]*\"$"})
}

fn customer_links(a: Answer) -> Answer {
    let mut a = a;
    a.links = vec![
        ("GetCustomer", "getCustomer"),
        ("ReplaceCustomer", "replaceCustomer"),
        ("PatchCustomer", "patchCustomer"),
        ("DeleteCustomer", "deleteCustomer"),
    ];
    a
}

/// The description of `method` on a `/v1` path, or `None` if this module does not know it.
fn v1_operation(method: &Method, path: &str) -> Option<Op> {
    let op = match (method.as_str(), path) {
        ("GET", "/v1/customers") => Op::new(Method::GET, "listCustomers", "A page of the caller's customers")
            .bearer(Scope::CustomersRead)
            .v1()
            .negotiated()
            .answer(customer_content(Answer::new(&status::OK), "CustomerPage").header(header::VARY, text(), false)),
        ("POST", "/v1/customers") => Op::new(Method::POST, "createCustomer", "Create a customer")
            .bearer(Scope::CustomersWrite)
            .v1()
            .negotiated()
            .body("CustomerInput", BODY_TYPES, header::ACCEPT_POST)
            .problems(&[&status::CONFLICT])
            .answer(customer_links(
                customer_content(Answer::new(&status::CREATED), "Customer")
                    .header(header::LOCATION, text(), true)
                    .header(header::ETAG, etag(), true),
            )),
        ("GET", "/v1/customers/{id}") => Op::new(Method::GET, "getCustomer", "Read a customer")
            .bearer(Scope::CustomersRead)
            .v1()
            .negotiated()
            .item()
            .conditional()
            .answer(customer_content(Answer::new(&status::OK), "Customer").header(header::ETAG, etag(), true).header(
                header::LAST_MODIFIED,
                text(),
                false,
            ))
            .answer(Answer::new(&status::NOT_MODIFIED).header(header::ETAG, etag(), true)),
        ("PUT", "/v1/customers/{id}") => Op::new(Method::PUT, "replaceCustomer", "Replace (or create) a customer")
            .bearer(Scope::CustomersWrite)
            .v1()
            .negotiated()
            .item()
            .conditional()
            .body("CustomerInput", BODY_TYPES, header::ACCEPT)
            .problems(&[&status::CONFLICT])
            .answer(customer_content(Answer::new(&status::OK), "Customer"))
            .answer(
                customer_content(Answer::new(&status::CREATED), "Customer")
                    .describe("PUT to a free id created the customer.")
                    .header(header::LOCATION, text(), true),
            )
            .answer(Answer::new(&status::NO_CONTENT).describe("Replaced; `Prefer: return=minimal` was honoured.")),
        ("PATCH", "/v1/customers/{id}") => {
            Op::new(Method::PATCH, "patchCustomer", "Merge-patch a customer")
                .bearer(Scope::CustomersWrite)
                .v1()
                .negotiated()
                .item()
                .conditional()
                .body("CustomerPatch", PATCH_TYPES, header::ACCEPT_PATCH)
                .problems(&[&status::CONFLICT])
                .answer(customer_content(Answer::new(&status::OK), "Customer").header(header::ETAG, etag(), true))
                .answer(
                    Answer::new(&status::NO_CONTENT)
                        .describe("Patched; `Prefer: return=minimal` was honoured.")
                        .header(header::ETAG, etag(), true),
                )
        }
        ("DELETE", "/v1/customers/{id}") => Op::new(Method::DELETE, "deleteCustomer", "Delete a customer")
            .bearer(Scope::CustomersWrite)
            .v1()
            .item()
            .conditional()
            .problems(&[&status::CONFLICT])
            .answer(Answer::new(&status::NO_CONTENT)),
        ("POST", "/v1/customers/batch") => {
            Op::new(Method::POST, "createCustomers", "Create up to 100 customers, each on its own")
                .bearer(Scope::CustomersWrite)
                .v1()
                .negotiated()
                .body("Batch", BODY_TYPES, header::ACCEPT_POST)
                .problems(&[&status::CONFLICT])
                .answer(
                    customer_content(Answer::new(&status::MULTI_STATUS), "BatchOutcome")
                        .describe("Every item with its own status: 201 and the customer, or its problem."),
                )
        }
        ("GET", "/v1/me/avatar") | ("GET", "/v1/me/avatar/{size}") => {
            let (id, summary) = if path.ends_with("{size}") {
                ("getAvatarThumbnail", "A square thumbnail of the caller's avatar")
            } else {
                ("getAvatar", "The caller's avatar as uploaded")
            };
            let mut ok = Answer::new(&status::OK).header(header::ETAG, etag(), true);
            for t in UPLOAD_TYPES {
                ok = ok.body(t, schema(json!({"type": "string", "contentMediaType": t})));
            }
            Op::new(Method::GET, id, summary)
                .bearer(Scope::CustomersRead)
                .v1()
                .negotiated()
                .item()
                .conditional()
                .answer(ok)
                .answer(Answer::new(&status::NOT_MODIFIED).header(header::ETAG, etag(), true))
        }
        ("PUT", "/v1/me/avatar") => {
            let mut op =
                Op::new(Method::PUT, "uploadAvatar", "Upload an avatar; thumbnails are made in the background")
                    .bearer(Scope::CustomersWrite)
                    .v1()
                    .negotiated()
                    .problems(&[&status::CONFLICT]);
            let mut rb = RequestBodyBuilder::new().required(Some(Required::True));
            for t in UPLOAD_TYPES {
                rb = rb.content(*t, Content::new(Some(schema(json!({"type": "string", "contentMediaType": t})))));
            }
            op.body = Some(rb.build());
            op.add(Answer::problem(&status::UNSUPPORTED_MEDIA_TYPE).header(header::ACCEPT, text(), true));
            op.problems(&[
                &status::BAD_REQUEST,
                &status::LENGTH_REQUIRED,
                &status::PAYLOAD_TOO_LARGE,
                &status::UNPROCESSABLE_ENTITY,
            ])
            .answer(
                customer_content(Answer::new(&status::ACCEPTED), "Operation")
                    .describe("Queued: `Location` and the `status` link name the monitor.")
                    .header(header::LOCATION, text(), true)
                    .header(header::RETRY_AFTER, seconds(), false),
            )
        }
        ("GET", "/v1/operations/{id}") => Op::new(Method::GET, "getOperation", "A background operation's monitor")
            .bearer(Scope::CustomersRead)
            .v1()
            .negotiated()
            .item()
            .answer(
                customer_content(Answer::new(&status::OK), "Operation")
                    .describe("Still running (with `Retry-After`), or failed (with `error`).")
                    .header(header::RETRY_AFTER, seconds(), false),
            )
            .answer(Answer::new(&status::SEE_OTHER).describe("Finished: `Location` is the result.").header(
                header::LOCATION,
                text(),
                true,
            )),
        _ => return None,
    };
    Some(if path == "/v1/customers" && method == Method::GET { op.query_params() } else { op })
}

impl Op {
    fn query_params(mut self) -> Self {
        self.params.push(
            ParameterBuilder::new()
                .name("limit")
                .parameter_in(ParameterIn::Query)
                .schema(Some(schema(json!({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}))))
                .build(),
        );
        self.params.push(
            ParameterBuilder::new()
                .name("cursor")
                .parameter_in(ParameterIn::Query)
                .description(Some("Opaque: the `cursor` of a previous page's `next` link."))
                .schema(Some(schema(json!({"type": "string", "pattern": cursor_pattern()}))))
                .build(),
        );
        self
    }
}

/// OPTIONS: 204 with `Allow` (and `Accept-Post` / `Accept-Patch` where bodies are taken).
fn options(id: &str) -> Op {
    Op::new(Method::OPTIONS, &format!("{id}Options"), "The methods this path accepts").answer(
        Answer::new(&status::NO_CONTENT).describe("`Allow` lists the methods.").header(
            header::ALLOW,
            json!({"type": "string"}),
            true,
        ),
    )
}

fn token_form(grants: bool) -> utoipa::openapi::request_body::RequestBody {
    let s = if grants {
        json!({
            "type": "object",
            "required": ["grant_type"],
            "properties": {
                "grant_type": {"type": "string", "enum": ["password", "client_credentials", "refresh_token"]},
                "username": {"type": "string"},
                "password": {"type": "string"},
                "refresh_token": {"type": "string"},
                "scope": {"type": "string"},
                "client_id": {"type": "string"},
                "client_secret": {"type": "string"}
            },
            "additionalProperties": false
        })
    } else {
        json!({
            "type": "object",
            "required": ["token"],
            "properties": {"token": {"type": "string"}, "client_id": {"type": "string"}, "client_secret": {"type": "string"}},
            "additionalProperties": false
        })
    };
    RequestBodyBuilder::new().required(Some(Required::True)).content(mime::FORM, Content::new(Some(schema(s)))).build()
}

/// The token endpoints' own refusals: RFC 6749 errors, the client-secret attempt limit (429) and
/// a full hashing pool (503, besides the service-state layers' 503).
fn oauth_errors(op: Op) -> Op {
    let attempts = "Too many client-secret attempts for this client id or address (or password attempts for \
                    this user or address); counted before any hash.";
    let busy = "Maintenance, shedding load, or too many credentials being checked at once.";
    let mut op = op
        .guarded()
        .answer(Answer::problem(&status::TOO_MANY_REQUESTS).describe(attempts).header(
            header::RETRY_AFTER,
            seconds(),
            true,
        ))
        .answer(Answer::problem(&status::SERVICE_UNAVAILABLE).describe(busy).header(
            header::RETRY_AFTER,
            seconds(),
            true,
        ));
    let err = |s: &'static Status| Answer::new(s).body(mime::JSON, component("OAuthError"));
    op.add(err(&status::BAD_REQUEST).header(header::CACHE_CONTROL, text(), true));
    op.add(Answer::problem(&status::UNSUPPORTED_MEDIA_TYPE).header(header::ACCEPT_ENCODING, text(), true));
    op.add(err(&status::UNAUTHORIZED).describe("`invalid_client`: the client did not authenticate.").header(
        header::WWW_AUTHENTICATE,
        json!({"type": "string", "pattern": "^Basic "}),
        true,
    ));
    op
}

/// Everything outside `/v1`: sign-in, renamed and retired paths, health, the docs.
fn other_paths() -> Vec<(&'static str, Vec<(Op, bool)>)> {
    let mut token = Op::new(Method::POST, "token", "Get tokens (RFC 6749)");
    token.body = Some(token_form(true));
    let token = oauth_errors(token).answer(
        Answer::new(&status::OK)
            .body(
                mime::JSON,
                schema(json!({"type": "object", "required": ["access_token", "token_type"], "properties": {
                    "access_token": {"type": "string"}, "token_type": {"type": "string"},
                    "expires_in": {"type": "integer"}, "refresh_token": {"type": "string"}, "scope": {"type": "string"}
                }})),
            )
            .header(header::CACHE_CONTROL, text(), true),
    );
    let mut revoke = Op::new(Method::POST, "revoke", "Revoke a token (RFC 7009)");
    revoke.body = Some(token_form(false));
    let revoke = oauth_errors(revoke).answer(Answer::new(&status::OK).header(header::CACHE_CONTROL, text(), true));

    let moved =
        |id: &str| {
            Op::new(Method::GET, id, "The old name of /v1/customers").answer(
                Answer::new(&status::MOVED_PERMANENTLY)
                    .describe("The same path and query under /v1/customers.")
                    .header(header::LOCATION, text(), true),
            )
        };
    let moved_item = moved("renamedCustomer");
    let health = Op::new(Method::GET, "health", "200 while the database answers").negotiated().answer(
        Answer::new(&status::OK)
            .body(
                mime::JSON,
                schema(json!({"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}})),
            )
            .body(mime::XML, schema(json!({"type": "object"}))),
    );
    let with_head_and_options = |get: Op, id: &str| {
        let head = Op { method: Method::HEAD, id: format!("{}Head", get.id), ..clone_op(&get) };
        let mut ops = vec![(get, false), (head, true)];
        ops.push((options(id), false));
        ops
    };
    let maintenance_state = || customer_content(Answer::new(&status::OK), "Maintenance");
    let show_maintenance = Op::new(Method::GET, "getMaintenance", "Is maintenance mode on?")
        .bearer(Scope::Admin)
        .negotiated()
        .answer(maintenance_state());
    let set_maintenance = Op::new(Method::PUT, "setMaintenance", "Turn maintenance mode on or off")
        .bearer(Scope::Admin)
        .negotiated()
        .body("MaintenanceInput", BODY_TYPES, header::ACCEPT)
        .answer(maintenance_state());
    let mut maintenance = with_head_and_options(show_maintenance, "maintenance");
    maintenance.push((set_maintenance, false));
    let page = |id: &str, media: &'static str| {
        Op::new(Method::GET, id, "A page")
            .negotiated()
            .answer(Answer::new(&status::OK).body(media, schema(json!({"type": "string"}))))
    };
    let openapi = Op::new(Method::GET, "openapi", "This document")
        .answer(Answer::new(&status::OK).body(mime::JSON, schema(json!({"type": "object"}))));
    vec![
        (crate::app::TOKEN_PATH, vec![(token, false), (options("token"), false)]),
        ("/admin/maintenance", maintenance),
        ("/oauth/revoke", vec![(revoke, false), (options("revoke"), false)]),
        ("/v1/clients", with_head_and_options(moved("renamedCustomers"), "renamedCustomers")),
        ("/v1/clients/{rest}", with_head_and_options(moved_item, "renamedCustomer")),
        ("/health", with_head_and_options(health, "health")),
        (statuskit::status::DOCS_PATH, with_head_and_options(page("errorDocs", mime::HTML), "errorDocs")),
        (PATH, with_head_and_options(openapi, "openapi")),
    ]
}

/// `Op` holds builder parts that are not `Clone`; HEAD is GET described again without content.
fn clone_op(op: &Op) -> Op {
    Op {
        method: op.method.clone(),
        id: op.id.clone(),
        summary: op.summary,
        params: op.params.clone(),
        body: op.body.clone(),
        security: op.security.clone(),
        answers: op
            .answers
            .iter()
            .map(|(k, a)| {
                (
                    *k,
                    Answer {
                        status: a.status,
                        description: a.description.clone(),
                        content: a.content.clone(),
                        headers: a.headers.clone(),
                        links: Vec::new(),
                    },
                )
            })
            .collect(),
    }
}

/// The parameters of a path template, for every operation on it (OPTIONS included).
fn path_parameters(path: &str) -> Option<Vec<utoipa::openapi::path::Parameter>> {
    let param = |name: &str, s: Value| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .schema(Some(schema(s)))
            .build()
    };
    if path.ends_with("{size}") {
        Some(vec![param("size", json!({"type": "integer", "enum": crate::avatars::SIZES}))])
    } else if path == "/v1/operations/{id}" {
        Some(vec![param("id", json!({"type": "string"}))])
    } else if path.ends_with("{id}") {
        Some(vec![param("id", json!({"type": "integer", "minimum": 1, "maximum": MAX_ID}))])
    } else if path.ends_with("{rest}") {
        Some(vec![param("rest", json!({"type": "string"}))])
    } else {
        None
    }
}

fn set(item: &mut PathItem, method: &Method, op: Operation) {
    let slot = match *method {
        Method::GET => &mut item.get,
        Method::HEAD => &mut item.head,
        Method::POST => &mut item.post,
        Method::PUT => &mut item.put,
        Method::PATCH => &mut item.patch,
        Method::DELETE => &mut item.delete,
        Method::OPTIONS => &mut item.options,
        Method::TRACE => &mut item.trace,
        _ => panic!("OpenAPI has no slot for {method}"),
    };
    *slot = Some(op);
}

/// The whole document, with the problem types and docs base of `docs`: each of the API's own
/// types is a schema `Problem-<name>` beside `Problem`, and a response of its status may be it.
pub fn document_for(docs: &ErrorDocs) -> Value {
    LITERALS.with(|l| l.borrow_mut().clear());
    let mut paths = PathsBuilder::new();
    for (path, resource) in v1_resources::<SqliteStore>() {
        let mut item = PathItem::default();
        let base: String =
            path.split(['/', '-']).filter(|p| !p.is_empty() && !p.starts_with('{')).collect::<Vec<_>>().join("_");
        for method in resource.allow().iter() {
            let (op, head) = match *method {
                // OPTIONS describes a path, not a resource: it answers 204 for any id, which
                // OpenAPI tools read as "this resource exists" (Schemathesis's use-after-free
                // check does). It is documented on paths without parameters only.
                Method::OPTIONS if path.contains('{') => continue,
                Method::OPTIONS => (options(&base), false),
                Method::HEAD => {
                    let get = v1_operation(&Method::GET, path).expect("HEAD comes with GET");
                    (Op { id: format!("{}Head", get.id), method: Method::HEAD, ..get }, true)
                }
                _ => (
                    v1_operation(method, path)
                        .unwrap_or_else(|| panic!("openapi.rs does not describe {method} {path}; add it")),
                    false,
                ),
            };
            set(&mut item, method, op.build(head));
        }
        item.parameters = path_parameters(path);
        paths = paths.path(path, item);
    }
    for (path, ops) in other_paths() {
        let mut item = PathItem::default();
        item.parameters = path_parameters(path);
        for (op, head) in ops {
            if op.method == Method::OPTIONS && path.contains('{') {
                continue; // as for /v1 above
            }
            let method = op.method.clone();
            set(&mut item, &method, op.build(head));
        }
        paths = paths.path(path, item);
    }
    let api = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("statuskit reference service")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Every response carries the status, headers and problem body of the status contract; \
                     error types are documented at /docs/errors.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components()))
        .build();
    let mut doc = serde_json::to_value(&api).expect("the document serializes");
    let literals = LITERALS.with(|l| std::mem::take(&mut *l.borrow_mut()));
    inline_literals(&mut doc, &literals);
    mark_required_headers(&mut doc);
    add_problem_types(&mut doc, docs);
    doc
}

/// Moves every catalog `type` under the docs base, adds a schema per own problem type, and lets
/// each error response of that type's status carry it.
fn add_problem_types(doc: &mut Value, docs: &ErrorDocs) {
    fn rebase(v: &mut Value, base: &DocsBase) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(uri)) = map.get_mut("const") {
                    if let Some(s) = status::CATALOG.iter().find(|s| s.type_uri == uri.as_str()) {
                        *uri = base.catalog_type_uri(s).into_owned();
                    }
                }
                map.values_mut().for_each(|v| rebase(v, base));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| rebase(v, base)),
            _ => {}
        }
    }
    rebase(doc, docs.docs_base());
    for t in docs.problem_types() {
        let mut properties = json!({
            "type": {"const": t.type_uri(docs.docs_base())},
            "title": {"const": t.title()},
            "status": {"const": t.status().code.as_u16()},
        });
        for m in t.documented_members() {
            let mut member = json!({"description": m.description()});
            if let Some(ty) = m.json_type() {
                member["type"] = Value::from(ty);
            }
            properties[m.name()] = member;
        }
        let mut own = json!({"allOf": [{"$ref": "#/components/schemas/Problem"}, {"properties": properties}]});
        if !t.describe().is_empty() {
            own["description"] = Value::from(t.describe());
        }
        doc["components"]["schemas"][format!("Problem-{}", t.name())] = own;
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for op in paths.values_mut().filter_map(Value::as_object_mut).flat_map(|item| item.values_mut()) {
        let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else { continue };
        for (code, response) in responses.iter_mut() {
            let own: Vec<Value> = docs
                .problem_types()
                .iter()
                .filter(|t| t.status().code.as_str() == code)
                .map(|t| json!({"$ref": format!("#/components/schemas/Problem-{}", t.name())}))
                .collect();
            let Some(schema) =
                response.pointer_mut(&format!("/content/{}/schema", mime::PROBLEM_JSON.replace('/', "~1")))
            else {
                continue;
            };
            if !own.is_empty() {
                let catalog = schema.take();
                *schema = json!({"oneOf": std::iter::once(catalog).chain(own).collect::<Vec<_>>()});
            }
        }
    }
}

/// Turns the `required` marker left in header descriptions into `"required": true`.
fn mark_required_headers(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for item in paths.values_mut() {
        for op in item.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else { continue };
            for r in responses.values_mut() {
                let Some(headers) = r.get_mut("headers").and_then(Value::as_object_mut) else { continue };
                for h in headers.values_mut() {
                    if h.get("description").and_then(Value::as_str) == Some(REQUIRED) {
                        let h = h.as_object_mut().expect("a header object");
                        h.remove("description");
                        h.insert("required".into(), Value::Bool(true));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_v1_method_is_described() {
        let doc = document();
        for (path, resource) in v1_resources::<SqliteStore>() {
            for m in resource.allow().iter() {
                let op = &doc["paths"][path][m.as_str().to_ascii_lowercase()];
                if m == http::Method::OPTIONS && path.contains('{') {
                    assert!(op.is_null(), "OPTIONS {path} is left out");
                    continue;
                }
                assert!(op.is_object(), "{m} {path}");
                assert!(op["responses"]["500"].is_object(), "{m} {path}");
            }
        }
    }

    #[test]
    fn required_headers_are_marked_required() {
        let doc = document();
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
        assert!(doc["paths"]["/health"]["get"]["responses"]["400"].is_object(), "Host");
        assert_eq!(doc["paths"]["/health"]["get"]["responses"]["200"]["headers"]["cache-control"]["required"], true);
        assert!(p["get"]["responses"]["401"]["headers"].get("cache-control").is_none());
    }
}
