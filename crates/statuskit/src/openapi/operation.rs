//! One operation being described: its answers by status, with the headers each must carry, its
//! parameters, its request body and its security, as the extractors, layers and the route's own
//! words add them.

use std::collections::BTreeMap;

use http::{HeaderName, Method};
use serde_json::{json, Map, Value};

use crate::header::mime;
use crate::status::{self, Status};

/// A header a response carries.
#[derive(Debug, Clone)]
struct HeaderDoc {
    schema: Value,
    required: bool,
}

/// A header every response of a kind carries (e.g. `X-Request-Id` on all, `Cache-Control` on
/// 2xx), set by a layer before the responses it applies to are known.
#[derive(Debug, Clone)]
struct EveryResponse {
    applies: fn(&Status) -> bool,
    name: HeaderName,
    header: HeaderDoc,
}

/// One response of an [`Operation`].
#[derive(Debug, Clone)]
pub struct Response {
    status: &'static Status,
    description: String,
    problem: bool,
    content: Vec<(String, Option<Value>)>,
    headers: BTreeMap<String, HeaderDoc>,
    links: Map<String, Value>,
}

impl Response {
    fn new(status: &'static Status, problem: bool) -> Self {
        Response {
            status,
            description: status.description.to_owned(),
            problem,
            content: Vec::new(),
            headers: BTreeMap::new(),
            links: Map::new(),
        }
    }

    /// The status this response answers with.
    pub fn status(&self) -> &'static Status {
        self.status
    }

    /// `true` if its body is a problem of its status.
    pub fn is_problem(&self) -> bool {
        self.problem
    }

    /// Replaces the description (by default the catalog's sentence for the status).
    pub fn describe(&mut self, text: impl Into<String>) -> &mut Self {
        self.description = text.into();
        self
    }

    /// A body of media type `media` described by the JSON Schema `schema`.
    pub fn body(&mut self, media: &str, schema: Value) -> &mut Self {
        self.content.retain(|(m, _)| m != media);
        self.content.push((media.to_owned(), Some(schema)));
        self
    }

    /// The same body in JSON and XML, by reference to the component schema `name`.
    pub fn negotiated_body(&mut self, name: &str) -> &mut Self {
        self.body(mime::JSON, super::component(name)).body(mime::XML, super::component(name))
    }

    /// A header, with its schema; `required` if every such response carries it.
    pub fn header(&mut self, name: &HeaderName, schema: Value, required: bool) -> &mut Self {
        self.headers.insert(name.as_str().to_owned(), HeaderDoc { schema, required });
        self
    }

    /// `true` if the header is described.
    pub fn has_header(&self, name: &HeaderName) -> bool {
        self.headers.contains_key(name.as_str())
    }

    /// An OpenAPI link object (e.g. from a 201 to the operations on what it created).
    pub fn link(&mut self, name: &str, link: Value) -> &mut Self {
        self.links.insert(name.to_owned(), link);
        self
    }

    fn to_json(&self, head: bool, problem_schema: &dyn Fn(&'static Status) -> Value) -> Value {
        let mut out = Map::new();
        out.insert("description".into(), Value::from(self.description.clone()));
        if !head {
            let mut content = Map::new();
            if self.problem {
                content.insert(mime::PROBLEM_JSON.into(), json!({"schema": problem_schema(self.status)}));
                // 406 is written in JSON whatever was asked for: that is what could not be met.
                if self.status.code != status::NOT_ACCEPTABLE.code {
                    content.insert(mime::PROBLEM_XML.into(), json!({}));
                }
            }
            for (media, schema) in &self.content {
                let v = match schema {
                    Some(s) => json!({"schema": s}),
                    None => json!({}),
                };
                content.insert(media.clone(), v);
            }
            if !content.is_empty() {
                out.insert("content".into(), Value::Object(content));
            }
        }
        if !self.headers.is_empty() {
            let headers: Map<String, Value> = self
                .headers
                .iter()
                .map(|(name, h)| {
                    let mut v = json!({"schema": h.schema});
                    if h.required {
                        v["required"] = Value::Bool(true);
                    }
                    (name.clone(), v)
                })
                .collect();
            out.insert("headers".into(), Value::Object(headers));
        }
        if !self.links.is_empty() && !head {
            out.insert("links".into(), Value::Object(self.links.clone()));
        }
        Value::Object(out)
    }
}

/// One operation (a method on a path) being described. Extractors ([`DescribeInput`]), layers
/// ([`DescribeLayer`]) and the route's own words add to it; [`to_json`](Self::to_json) writes it
/// as an OpenAPI 3.1 Operation Object.
///
/// [`DescribeInput`]: super::DescribeInput
/// [`DescribeLayer`]: super::DescribeLayer
///
/// ```
/// use statuskit::openapi::Operation;
/// use statuskit::status;
///
/// let mut op = Operation::new(http::Method::GET);
/// op.id("getThing").summary("Read a thing");
/// op.answer(&status::OK).negotiated_body("Thing");
/// op.problem(&status::NOT_FOUND);
/// let doc = op.to_json(false, &|s| serde_json::json!({"const": s.code.as_u16()}));
/// assert_eq!(doc["operationId"], "getThing");
/// assert!(doc["responses"]["404"]["content"]["application/problem+json"].is_object());
/// ```
#[derive(Debug, Clone)]
pub struct Operation {
    method: Method,
    id: Option<String>,
    summary: Option<String>,
    parameters: Vec<Value>,
    request_body: Option<Map<String, Value>>,
    request_schema: Option<Value>,
    security: Vec<Value>,
    responses: BTreeMap<u16, Response>,
    every: Vec<EveryResponse>,
    schemas: BTreeMap<String, Value>,
}

impl Operation {
    /// An operation of `method` with no answers yet.
    pub fn new(method: Method) -> Self {
        Operation {
            method,
            id: None,
            summary: None,
            parameters: Vec::new(),
            request_body: None,
            request_schema: None,
            security: Vec::new(),
            responses: BTreeMap::new(),
            every: Vec::new(),
            schemas: BTreeMap::new(),
        }
    }

    /// The method it describes.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// Its `operationId`.
    pub fn id(&mut self, id: impl Into<String>) -> &mut Self {
        self.id = Some(id.into());
        self
    }

    /// Its `operationId`, if set.
    pub fn operation_id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Its one-line summary.
    pub fn summary(&mut self, text: impl Into<String>) -> &mut Self {
        self.summary = Some(text.into());
        self
    }

    /// The plain (not problem) response of `status`, added if not yet described.
    pub fn answer(&mut self, status: &'static Status) -> &mut Response {
        self.responses.entry(status.code.as_u16()).or_insert_with(|| Response::new(status, false))
    }

    /// The problem response of `status`, added if no response of that status is described yet
    /// (a response described earlier, problem or not, is kept as it is).
    pub fn problem(&mut self, status: &'static Status) -> &mut Response {
        self.responses.entry(status.code.as_u16()).or_insert_with(|| Response::new(status, true))
    }

    /// [`problem`](Self::problem) for each of `statuses`.
    pub fn problems(&mut self, statuses: &[&'static Status]) -> &mut Self {
        for s in statuses {
            self.problem(s);
        }
        self
    }

    /// The response of `status`, if described.
    pub fn response_mut(&mut self, status: &'static Status) -> Option<&mut Response> {
        self.responses.get_mut(&status.code.as_u16())
    }

    /// Every response described so far.
    pub fn responses_mut(&mut self) -> impl Iterator<Item = &mut Response> {
        self.responses.values_mut()
    }

    /// Gives every response whose status `applies` (now and added later) the header `name`.
    pub fn every_response(
        &mut self,
        applies: fn(&Status) -> bool,
        name: &HeaderName,
        schema: Value,
        required: bool,
    ) -> &mut Self {
        self.every.push(EveryResponse { applies, name: name.clone(), header: HeaderDoc { schema, required } });
        self
    }

    /// A query parameter (optional) with its schema.
    pub fn query(&mut self, name: &str, schema: Value, description: Option<&str>) -> &mut Self {
        let mut p = json!({"name": name, "in": "query", "schema": schema});
        if let Some(d) = description {
            p["description"] = Value::from(d);
        }
        self.parameters.push(p);
        self
    }

    /// A request header the operation reads (optional) with its schema.
    pub fn header_param(&mut self, name: &HeaderName, schema: Value, description: &str) -> &mut Self {
        self.parameters
            .push(json!({"name": name.as_str(), "in": "header", "schema": schema, "description": description}));
        self
    }

    /// The request body may be `media`, with `schema` (none: documented without a schema); the
    /// body is required.
    pub fn request_body(&mut self, media: &str, schema: Option<Value>) -> &mut Self {
        let body = self.request_body.get_or_insert_with(|| {
            let mut m = Map::new();
            m.insert("required".into(), Value::Bool(true));
            m.insert("content".into(), json!({}));
            m
        });
        let v = match (schema, &self.request_schema) {
            (Some(_), Some(named)) => json!({"schema": named}),
            (Some(s), None) => json!({"schema": s}),
            (None, _) => json!({}),
        };
        body["content"][media] = v;
        self
    }

    /// Names the exact shape of the request body (e.g. of what an untyped extractor reads): it
    /// replaces the schema of every media type with one, declared before or after.
    pub fn request_schema(&mut self, schema: Value) -> &mut Self {
        self.request_schema = Some(schema.clone());
        if let Some(Value::Object(content)) = self.request_body.as_mut().and_then(|b| b.get_mut("content")) {
            for media in content.values_mut() {
                if media.get("schema").is_some() {
                    media["schema"] = schema.clone();
                }
            }
        }
        self
    }

    /// A prose description of the request body.
    pub fn request_description(&mut self, text: &str) -> &mut Self {
        if let Some(b) = self.request_body.as_mut() {
            b.insert("description".into(), Value::from(text));
        }
        self
    }

    /// A security requirement: `scheme` (a name under `components.securitySchemes`) with
    /// `scopes`.
    pub fn security(&mut self, scheme: &str, scopes: &[&str]) -> &mut Self {
        self.security.push(json!({ scheme: scopes }));
        self
    }

    /// A component schema this operation refers to, put under `components.schemas` of the
    /// document.
    pub fn schema(&mut self, name: &str, schema: Value) -> &mut Self {
        self.schemas.insert(name.to_owned(), schema);
        self
    }

    /// The component schemas it refers to.
    pub fn schemas(&self) -> &BTreeMap<String, Value> {
        &self.schemas
    }

    /// This operation for another method (HEAD from GET): same answers, its own id.
    pub fn for_method(&self, method: Method, id_suffix: &str) -> Operation {
        let mut op = self.clone();
        op.method = method;
        op.id = self.id.as_ref().map(|id| format!("{id}{id_suffix}"));
        op
    }

    /// The OpenAPI Operation Object; `head` leaves out every body. `problem_schema` gives the
    /// schema of a problem body of a status (the document's, with its docs base and own types).
    pub fn to_json(&self, head: bool, problem_schema: &dyn Fn(&'static Status) -> Value) -> Value {
        let mut out = Map::new();
        if let Some(id) = &self.id {
            out.insert("operationId".into(), Value::from(id.clone()));
        }
        if let Some(s) = &self.summary {
            out.insert("summary".into(), Value::from(s.clone()));
        }
        if !self.parameters.is_empty() {
            out.insert("parameters".into(), Value::Array(self.parameters.clone()));
        }
        if let Some(b) = &self.request_body {
            out.insert("requestBody".into(), Value::Object(b.clone()));
        }
        if !self.security.is_empty() {
            out.insert("security".into(), Value::Array(self.security.clone()));
        }
        let responses: Map<String, Value> = self
            .responses
            .iter()
            .map(|(code, r)| {
                let mut r = r.clone();
                for e in self.every.iter().filter(|e| (e.applies)(r.status)) {
                    r.headers.entry(e.name.as_str().to_owned()).or_insert_with(|| e.header.clone());
                }
                (code.to_string(), r.to_json(head, problem_schema))
            })
            .collect();
        out.insert("responses".into(), Value::Object(responses));
        Value::Object(out)
    }
}
