//! What to probe: paths found in an OpenAPI document (3.x or Swagger 2.0) or given by hand.
//!
//! - a **read** is a path without parameters that answers GET;
//! - a **collection** is a path without parameters whose POST takes a JSON body (a sample body
//!   is made from the schema: required properties, e-mail addresses made unique);
//! - an **item** template is a collection's path plus one `{parameter}` segment.

use serde_json::{json, Map, Value};

/// What the probe found to work on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Targets {
    /// Paths without parameters that answer GET.
    pub reads: Vec<String>,
    /// Collections that create by POST, with a sample body.
    pub collections: Vec<Collection>,
    /// Every path template with the methods the document lists for it.
    pub methods: Vec<(String, Vec<String>)>,
}

/// A collection: where to POST, what to send, and its item template if the document has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    /// The collection path.
    pub path: String,
    /// A valid JSON body, made from the schema; `{n}` in strings is replaced by a unique number.
    pub sample: Value,
    /// The item path template, e.g. `/v1/customers/{id}`.
    pub item: Option<String>,
}

const METHODS: [&str; 8] = ["get", "head", "post", "put", "patch", "delete", "options", "trace"];

fn has_params(path: &str) -> bool {
    path.contains('{')
}

/// Follows a local `$ref` (`#/components/schemas/X`, `#/definitions/X`).
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    let mut v = v;
    for _ in 0..16 {
        match v.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
            Some(pointer) => v = doc.pointer(pointer).unwrap_or(&Value::Null),
            None => break,
        }
    }
    v
}

/// The JSON request body schema of an operation, if it takes one.
fn json_body_schema<'a>(doc: &'a Value, op: &'a Value) -> Option<&'a Value> {
    if let Some(content) = op.pointer("/requestBody/content").map(|c| resolve(doc, c)) {
        return content.get("application/json").and_then(|m| m.get("schema")).map(|s| resolve(doc, s));
    }
    // Swagger 2.0: a parameter `in: body`.
    op.get("parameters")?
        .as_array()?
        .iter()
        .map(|p| resolve(doc, p))
        .find(|p| p.get("in").and_then(Value::as_str) == Some("body"))
        .and_then(|p| p.get("schema"))
        .map(|s| resolve(doc, s))
}

/// A value that satisfies `schema` in the simple cases: required properties, `format: email`
/// made unique with `{n}`, enums, minimums, patterns left to examples.
pub fn sample(doc: &Value, schema: &Value) -> Value {
    let schema = resolve(doc, schema);
    if let Some(example) = schema.get("example").or_else(|| schema.pointer("/examples/0")) {
        return example.clone();
    }
    if let Some(first) = schema.get("enum").and_then(|e| e.get(0)) {
        return first.clone();
    }
    if let Some(c) = schema.get("const") {
        return c.clone();
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        let mut out = Map::new();
        for s in all {
            if let Value::Object(m) = sample(doc, s) {
                out.extend(m);
            }
        }
        return Value::Object(out);
    }
    let kind = schema.get("type").and_then(|t| t.as_str().or_else(|| t.get(0).and_then(Value::as_str)));
    match kind {
        Some("object") | None if schema.get("properties").is_some() => {
            let mut out = Map::new();
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, s) in props {
                    if required.contains(&name.as_str()) {
                        out.insert(name.clone(), sample(doc, s));
                    }
                }
            }
            Value::Object(out)
        }
        Some("integer") | Some("number") => json!(schema.get("minimum").and_then(Value::as_i64).unwrap_or(1).max(1)),
        Some("boolean") => json!(true),
        Some("array") => json!([]),
        Some("string") => match schema.get("format").and_then(Value::as_str) {
            Some("email") => json!("probe-{n}@example.com"),
            Some("uri") => json!("https://example.com/{n}"),
            _ => json!("Probe {n}"),
        },
        _ => json!({}),
    }
}

/// Replaces `{n}` in every string of `v` with `n`.
pub fn fill(v: &Value, n: u64) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace("{n}", &n.to_string())),
        Value::Array(items) => Value::Array(items.iter().map(|i| fill(i, n)).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, i)| (k.clone(), fill(i, n))).collect()),
        other => other.clone(),
    }
}

impl Targets {
    /// Reads an OpenAPI 3.x or Swagger 2.0 document. Paths are relative to the base URL the
    /// probe was given, whatever `servers` says.
    pub fn from_openapi(doc: &Value) -> Self {
        let mut t = Targets::default();
        let Some(paths) = doc.get("paths").and_then(Value::as_object) else { return t };
        for (path, item) in paths {
            let item = resolve(doc, item);
            let methods: Vec<String> =
                METHODS.iter().filter(|m| item.get(**m).is_some()).map(|m| m.to_ascii_uppercase()).collect();
            t.methods.push((path.clone(), methods.clone()));
            if has_params(path) {
                continue;
            }
            if item.get("get").is_some() {
                t.reads.push(path.clone());
            }
            if let Some(schema) = item.get("post").and_then(|op| json_body_schema(doc, op)) {
                let prefix = format!("{}/{{", path.trim_end_matches('/'));
                let item = paths
                    .keys()
                    .find(|p| p.starts_with(&prefix) && p.ends_with('}') && p[prefix.len()..].find('/').is_none())
                    .cloned();
                t.collections.push(Collection { path: path.clone(), sample: sample(doc, schema), item });
            }
        }
        // Collections with an item template first: they allow the most checks.
        t.collections.sort_by_key(|c| c.item.is_none());
        t
    }

    /// Adds hand-given paths as reads.
    pub fn with_paths(mut self, paths: &[String]) -> Self {
        for p in paths {
            if !self.reads.contains(p) {
                self.reads.insert(0, p.clone());
            }
        }
        self
    }

    /// The methods the document lists for the template matching `path`, if it has one.
    pub fn documented_methods(&self, template: &str) -> Option<&[String]> {
        self.methods.iter().find(|(p, _)| p == template).map(|(_, m)| m.as_slice())
    }
}

/// Fills an item template's one parameter with `id`.
pub fn item_path(template: &str, id: &str) -> String {
    match (template.rfind('{'), template.rfind('}')) {
        (Some(a), Some(b)) if a < b => format!("{}{id}{}", &template[..a], &template[b + 1..]),
        _ => template.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_reads_collections_and_items() {
        let doc = json!({
            "openapi": "3.1.0",
            "paths": {
                "/things": {
                    "get": {},
                    "post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/In"}}}}}
                },
                "/things/{id}": {"get": {}, "delete": {}},
                "/health": {"get": {}},
                "/other/{a}/deep": {"get": {}}
            },
            "components": {"schemas": {"In": {"type": "object", "required": ["name", "email"], "properties": {
                "name": {"type": "string"}, "email": {"type": "string", "format": "email"}, "note": {"type": "string"}
            }}}}
        });
        let t = Targets::from_openapi(&doc);
        assert_eq!(t.reads, ["/health", "/things"]);
        assert_eq!(t.collections.len(), 1);
        assert_eq!(t.collections[0].item.as_deref(), Some("/things/{id}"));
        assert_eq!(fill(&t.collections[0].sample, 7), json!({"name": "Probe 7", "email": "probe-7@example.com"}));
        assert_eq!(t.documented_methods("/things/{id}").unwrap(), ["GET", "DELETE"]);
        assert_eq!(item_path("/things/{id}", "42"), "/things/42");
    }

    #[test]
    fn reads_swagger_2_body_parameters() {
        let doc = json!({"swagger": "2.0", "paths": {"/pets": {"post": {"parameters": [
            {"in": "body", "name": "b", "schema": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}}
        ]}}}});
        let t = Targets::from_openapi(&doc);
        assert_eq!(t.collections[0].sample, json!({"n": 1}));
        assert!(t.reads.is_empty());
    }
}
