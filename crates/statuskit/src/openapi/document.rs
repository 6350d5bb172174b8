//! The whole document: every route's operations (HEAD and OPTIONS derived), the layers around
//! the whole API, the problem schemas of the catalog and of the API's own problem types.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::routing::MethodRouter;
use http::Method;
use serde_json::{json, Map, Value};

use super::route::RouteParts;
use super::{component, text, DescribeLayer, Operation, Route};
use crate::docs::ErrorDocs;
use crate::header;
use crate::status::{self, Status};

/// One path of the document.
struct PathDoc {
    operations: Vec<Operation>,
    params: Vec<Value>,
    options: Option<Operation>,
}

type Describer = Arc<dyn Fn(&mut Operation) + Send + Sync>;

/// An OpenAPI 3.1 document built from [`Route`]s: add each with [`route`](Self::route), which
/// gives back the axum router for its path, put the layers around the whole API with
/// [`layer`](Self::layer), and write it with [`to_json`](Self::to_json).
#[must_use]
pub struct ApiDoc {
    title: String,
    version: String,
    description: Option<String>,
    paths: BTreeMap<String, PathDoc>,
    schemas: BTreeMap<String, Value>,
    security_schemes: BTreeMap<String, Value>,
    everywhere: Vec<Describer>,
}

impl std::fmt::Debug for ApiDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiDoc").field("title", &self.title).field("paths", &self.paths.len()).finish()
    }
}

/// The id prefix of a path's derived operations: the words of its literal segments joined with
/// `_` (`/v1/customers` is `v1_customers`, `/openapi.json` is `openapi_json`).
fn path_id(path: &str) -> String {
    path.split('/')
        .filter(|p| !p.starts_with('{'))
        .flat_map(|p| p.split(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

impl ApiDoc {
    /// An empty document with its `info` title and version.
    pub fn new(title: impl Into<String>, version: impl Into<String>) -> Self {
        ApiDoc {
            title: title.into(),
            version: version.into(),
            description: None,
            paths: BTreeMap::new(),
            schemas: BTreeMap::new(),
            security_schemes: BTreeMap::new(),
            everywhere: Vec::new(),
        }
    }

    /// The `info` description.
    pub fn description(&mut self, text: impl Into<String>) -> &mut Self {
        self.description = Some(text.into());
        self
    }

    /// Documents `route` at `path` and gives back its router, for `Router::route(path, ..)`.
    /// HEAD is described as GET without bodies; OPTIONS (204 with `Allow`) only on paths
    /// without parameters, as it answers for any id, which tools read as "this exists".
    pub fn route<S: Clone + Send + Sync + 'static>(&mut self, path: &str, route: Route<S>) -> MethodRouter<S> {
        let parts: RouteParts<S> = route.into_parts();
        let mut operations = Vec::new();
        for op in parts.operations {
            if op.method() == Method::GET {
                operations.push(op.for_method(Method::HEAD, "Head"));
            }
            operations.push(op);
        }
        // axum's catch-all `{*name}` is OpenAPI's `{name}`.
        let doc_path = path.replace("{*", "{");
        let options = (!path.contains('{')).then(|| {
            let mut op = Operation::new(Method::OPTIONS);
            op.id(format!("{}Options", path_id(path))).summary("The methods this path accepts");
            let r = op.answer(&status::NO_CONTENT).describe("`Allow` lists the methods.");
            r.header(&header::ALLOW, text(), true);
            if parts.accept_post.is_some() {
                r.header(&header::ACCEPT_POST, text(), true);
            }
            if parts.accept_patch.is_some() {
                r.header(&header::ACCEPT_PATCH, text(), true);
            }
            op
        });
        self.paths.insert(doc_path, PathDoc { operations, params: parts.path_params, options });
        parts.resource.into()
    }

    /// What `layer`, put around the whole API, can answer is added to every operation.
    pub fn layer<L: DescribeLayer + Send + Sync + 'static>(&mut self, layer: L) -> &mut Self {
        self.everywhere.push(Arc::new(move |op| layer.describe(op)));
        self
    }

    /// A schema under `components.schemas`.
    pub fn schema(&mut self, name: &str, schema: Value) -> &mut Self {
        self.schemas.insert(name.to_owned(), schema);
        self
    }

    /// A security scheme under `components.securitySchemes`.
    pub fn security_scheme(&mut self, name: &str, scheme: Value) -> &mut Self {
        self.security_schemes.insert(name.to_owned(), scheme);
        self
    }

    /// Every operation with its path, as it will be written (the API-wide layers applied).
    pub fn operations(&self) -> Vec<(String, Operation)> {
        self.paths.iter().flat_map(|(path, p)| self.finished(p).map(move |op| (path.clone(), op))).collect()
    }

    /// The operations of one path with what the layers around the whole API answer added.
    fn finished<'a>(&'a self, p: &'a PathDoc) -> impl Iterator<Item = Operation> + 'a {
        p.operations.iter().chain(&p.options).map(|op| {
            let mut op = op.clone();
            self.everywhere.iter().for_each(|d| d(&mut op));
            op
        })
    }

    /// The document, with the problem types and docs base of `docs`: a problem's `type` is
    /// pinned to its status's under that base, and each of the API's own types is a schema
    /// `Problem-<name>` that an error response of its status may be.
    pub fn to_json(&self, docs: &ErrorDocs) -> Value {
        let problem_schema = |s: &'static Status| -> Value {
            let base = docs.docs_base();
            let catalog = json!({"allOf": [
                component("Problem"),
                {"properties": {"status": {"const": s.code.as_u16()}, "type": {"const": base.catalog_type_uri(s)}}}
            ]});
            let own: Vec<Value> = docs
                .problem_types()
                .iter()
                .filter(|t| t.status().code == s.code)
                .map(|t| component(&format!("Problem-{}", t.name())))
                .collect();
            if own.is_empty() {
                catalog
            } else {
                json!({"oneOf": std::iter::once(catalog).chain(own).collect::<Vec<_>>()})
            }
        };
        let mut schemas = Map::new();
        schemas.insert("Problem".into(), problem_component(docs));
        for t in docs.problem_types() {
            schemas.insert(format!("Problem-{}", t.name()), own_problem_component(t, docs));
        }
        let mut paths = Map::new();
        for (path, p) in &self.paths {
            let mut item = Map::new();
            if !p.params.is_empty() {
                item.insert("parameters".into(), Value::Array(p.params.clone()));
            }
            for op in self.finished(p) {
                for (name, s) in op.schemas() {
                    schemas.insert(name.clone(), s.clone());
                }
                let head = op.method() == Method::HEAD;
                item.insert(op.method().as_str().to_ascii_lowercase(), op.to_json(head, &problem_schema));
            }
            paths.insert(path.clone(), Value::Object(item));
        }
        for (name, s) in &self.schemas {
            schemas.insert(name.clone(), s.clone());
        }
        let mut info = json!({"title": self.title, "version": self.version});
        if let Some(d) = &self.description {
            info["description"] = Value::from(d.clone());
        }
        let mut components = json!({"schemas": schemas});
        if !self.security_schemes.is_empty() {
            components["securitySchemes"] = json!(self.security_schemes);
        }
        json!({"openapi": "3.1.0", "info": info, "paths": paths, "components": components})
    }
}

/// RFC 9457 problem details as this crate writes them.
fn problem_component(docs: &ErrorDocs) -> Value {
    let codes: Vec<u16> = status::CATALOG
        .iter()
        .filter(|s| s.is_error())
        .map(|s| s.code.as_u16())
        .chain(docs.problem_types().iter().map(|t| t.status().code.as_u16()))
        .collect();
    json!({
        "type": "object",
        "description": "RFC 9457 problem details; `type` links to the error docs.",
        "required": ["type", "title", "status", "detail", "message", "request_id"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer", "enum": codes},
            "detail": {"type": "string"},
            "message": {"type": "string"},
            "request_id": {"type": "string"},
            "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            "report": {"type": "string"}
        }
    })
}

/// An API's own problem type: the problem schema with its type, title and status pinned and its
/// extension members.
fn own_problem_component(t: &crate::problem_type::ProblemType, docs: &ErrorDocs) -> Value {
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
    let mut own = json!({"allOf": [component("Problem"), {"properties": properties}]});
    if !t.describe().is_empty() {
        own["description"] = Value::from(t.describe());
    }
    own
}
