//! What to probe: paths found in an OpenAPI document (3.x or Swagger 2.0, JSON or YAML) or given
//! by hand.
//!
//! - a **read** is a path without parameters that answers GET;
//! - a **collection** is a path without parameters whose POST takes a JSON body (bodies are made
//!   from its schema, see [`sample`]);
//! - an **item** template is a collection's path plus one `{parameter}` segment, with or without
//!   a trailing slash (`/customers/{id}` or `/customers/{id}/`).

use rand::distr::Distribution;
use rand::SeedableRng;
use serde_json::{json, Map, Value};

/// What the probe found to work on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Targets {
    /// Paths without parameters that answer GET.
    pub reads: Vec<String>,
    /// Collections that create by POST, with their body schema.
    pub collections: Vec<Collection>,
    /// Every path template with the methods the document lists for it.
    pub methods: Vec<(String, Vec<String>)>,
    /// The OAuth scopes each operation requires, by (METHOD, template), where the document says.
    pub scopes: Vec<(String, String, Vec<String>)>,
    /// `true` when the targets came from an OpenAPI document (not only from `--path`).
    pub documented: bool,
}

/// A collection: where to POST, what to send, and its item template if the document has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    /// The collection path.
    pub path: String,
    /// The JSON schema of the POST body, with local `$ref`s resolved.
    pub schema: Value,
    /// The item path template, e.g. `/v1/customers/{id}`.
    pub item: Option<String>,
}

impl Collection {
    /// A body for the `n`th request: valid against the schema, with unique strings.
    pub fn body(&self, n: u64) -> Value {
        sample(&self.schema, n)
    }

    /// `true` if the schema requires at least one property.
    pub fn requires_fields(&self) -> bool {
        self.schema.get("required").and_then(Value::as_array).is_some_and(|r| !r.is_empty())
            || self.schema.get("allOf").and_then(Value::as_array).is_some_and(|all| {
                all.iter().any(|s| s.get("required").and_then(Value::as_array).is_some_and(|r| !r.is_empty()))
            })
    }
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

/// `v` with every local `$ref` replaced by what it names, to `depth` levels (schemas may be
/// recursive; deeper references are left as `{}`).
fn inline(doc: &Value, v: &Value, depth: usize) -> Value {
    let v = resolve(doc, v);
    match v {
        Value::Object(m) if depth > 0 => {
            Value::Object(m.iter().map(|(k, x)| (k.clone(), inline(doc, x, depth - 1))).collect())
        }
        Value::Array(a) if depth > 0 => Value::Array(a.iter().map(|x| inline(doc, x, depth - 1)).collect()),
        Value::Object(_) | Value::Array(_) => json!({}),
        other => other.clone(),
    }
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

/// A string of `n`'s digits, padded or cut to fit `min..=max` characters.
fn sized(text: String, n: u64, min: usize, max: usize) -> String {
    let mut s = text;
    if s.chars().count() > max {
        // Keep the unique number: its last `max` digits.
        let digits = n.to_string();
        s = digits[digits.len().saturating_sub(max)..].to_owned();
    }
    while s.chars().count() < min {
        s.push('x');
    }
    s
}

/// A string matching `pattern` (an ECMA-262 regular expression, as JSON Schema says), found with
/// `rand_regex` seeded by `n`; within the length bounds when one of a few tries fits.
fn matching(pattern: &str, n: u64, min: usize, max: usize) -> Option<String> {
    // rand_regex cannot generate anchors; a whole-string match satisfies an anchored pattern too.
    let p = pattern.strip_prefix('^').unwrap_or(pattern);
    let p = p.strip_prefix("\\A").unwrap_or(p);
    // `$`, or Python's `\Z` as DRF writes it (`\z` elsewhere), but not an escaped `\$`.
    let p = match p.strip_suffix('$') {
        Some(rest) if !rest.ends_with('\\') => rest,
        _ => p.strip_suffix("\\z").or_else(|| p.strip_suffix("\\Z")).unwrap_or(p),
    };
    // ASCII classes first (`\d` as 0-9: a server may not take other scripts' digits), else Unicode.
    let ascii = regex_syntax::ParserBuilder::new().unicode(false).utf8(true).build().parse(p).ok();
    let hir = match ascii {
        Some(hir) => hir,
        None => regex_syntax::Parser::new().parse(p).ok()?,
    };
    let generator = rand_regex::Regex::with_hir(hir, 12).ok()?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(n);
    let mut last = None;
    for _ in 0..32 {
        let s: String = generator.sample(&mut rng);
        let len = s.chars().count();
        if (min..=max).contains(&len) {
            return Some(s);
        }
        last = Some(s);
    }
    last
}

/// A value that satisfies `schema` (refs already inlined): `example`, `enum` and `const` first;
/// objects with their required properties; strings honouring `pattern`, `format` (email, uri,
/// date-time, date, uuid, …) and lengths, made unique with `n`; numbers within their range.
pub fn sample(schema: &Value, n: u64) -> Value {
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
            if let Value::Object(m) = sample(s, n) {
                out.extend(m);
            }
        }
        return Value::Object(out);
    }
    for key in ["oneOf", "anyOf"] {
        // The first alternative that is not `null` (pydantic writes Optional[X] as anyOf [X, null]).
        if let Some(alt) = schema
            .get(key)
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|s| s.get("type").and_then(Value::as_str) != Some("null")))
        {
            return sample(alt, n);
        }
    }
    let kind = schema
        .get("type")
        .and_then(|t| t.as_str().or_else(|| t.as_array()?.iter().filter_map(Value::as_str).find(|k| *k != "null")));
    let usize_of = |k: &str| schema.get(k).and_then(Value::as_u64).map(|v| v as usize);
    match kind {
        Some("object") | None if schema.get("properties").is_some() => {
            let mut out = Map::new();
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (i, (name, s)) in props.iter().enumerate() {
                    if required.contains(&name.as_str()) {
                        out.insert(name.clone(), sample(s, n.wrapping_mul(31).wrapping_add(i as u64)));
                    }
                }
            }
            Value::Object(out)
        }
        Some("integer") => json!(number_in(schema, true) as i64),
        Some("number") => json!(number_in(schema, false)),
        Some("boolean") => json!(true),
        Some("array") => {
            let items = schema.get("items").cloned().unwrap_or(json!({}));
            let count = usize_of("minItems").unwrap_or(0);
            Value::Array((0..count as u64).map(|i| sample(&items, n.wrapping_add(i))).collect())
        }
        Some("string") => {
            let min = usize_of("minLength").unwrap_or(0);
            let max = usize_of("maxLength").unwrap_or(usize::MAX);
            if let Some(s) = schema.get("pattern").and_then(Value::as_str).and_then(|p| matching(p, n, min, max)) {
                return json!(s);
            }
            let text = match schema.get("format").and_then(Value::as_str) {
                Some("email") => format!("probe-{n}@example.com"),
                Some("uri" | "url" | "iri") => format!("https://example.com/probe/{n}"),
                Some("uri-reference" | "iri-reference") => format!("/probe/{n}"),
                Some("date-time") => "2024-01-02T03:04:05Z".into(),
                Some("date") => "2024-01-02".into(),
                Some("time") => "03:04:05Z".into(),
                Some("uuid") => format!("00000000-0000-4000-8000-{:012x}", n % (1 << 48)),
                Some("ipv4") => "192.0.2.1".into(),
                Some("ipv6") => "2001:db8::1".into(),
                Some("hostname") => format!("probe-{n}.example.com"),
                _ => format!("Probe {n}"),
            };
            json!(sized(text, n, min, max))
        }
        _ => json!({}),
    }
}

/// A number within `minimum`/`maximum` (and their exclusive forms, boolean in OpenAPI 3.0,
/// numeric in 3.1), a multiple of `multipleOf` where one fits; 1 when unbounded.
fn number_in(schema: &Value, integer: bool) -> f64 {
    let f = |k: &str| schema.get(k).and_then(Value::as_f64);
    let step = if integer { 1.0 } else { 0.5 };
    let mut lo = f("minimum");
    let mut hi = f("maximum");
    match schema.get("exclusiveMinimum") {
        Some(Value::Bool(true)) => lo = lo.map(|v| v + step),
        Some(v) if v.is_number() => lo = v.as_f64().map(|v| v + step),
        _ => {}
    }
    match schema.get("exclusiveMaximum") {
        Some(Value::Bool(true)) => hi = hi.map(|v| v - step),
        Some(v) if v.is_number() => hi = v.as_f64().map(|v| v - step),
        _ => {}
    }
    let mut x = match (lo, hi) {
        (Some(l), _) if l >= 1.0 => l,
        (Some(l), Some(h)) => 1f64.clamp(l, h.max(l)),
        (None, Some(h)) => h.min(1.0),
        (Some(_), None) | (None, None) => 1.0,
    };
    if let Some(m) = f("multipleOf").filter(|m| *m > 0.0) {
        x = (x / m).ceil() * m;
    }
    if integer {
        x = x.ceil();
    }
    x
}

/// `true` if `path` is `collection` plus one `{parameter}` segment (a trailing slash allowed).
fn is_item_of(path: &str, collection: &str) -> bool {
    let base = collection.trim_end_matches('/');
    let Some(rest) = path.strip_prefix(base).and_then(|r| r.strip_prefix('/')) else { return false };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    rest.starts_with('{') && rest.ends_with('}') && !rest.contains('/')
}

/// The scopes of an operation's (or the document's) `security` requirements.
fn scopes_of(doc: &Value, op: &Value) -> Vec<String> {
    let security = op.get("security").or_else(|| doc.get("security"));
    let mut out: Vec<String> = security
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|req| req.values())
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    out.dedup();
    out
}

impl Targets {
    /// Reads an OpenAPI 3.x or Swagger 2.0 document. Paths are relative to the base URL the
    /// probe was given, whatever `servers` says.
    pub fn from_openapi(doc: &Value) -> Self {
        let mut t = Targets { documented: true, ..Targets::default() };
        let Some(paths) = doc.get("paths").and_then(Value::as_object) else { return t };
        for (path, item) in paths {
            let item = resolve(doc, item);
            let methods: Vec<String> =
                METHODS.iter().filter(|m| item.get(**m).is_some()).map(|m| m.to_ascii_uppercase()).collect();
            for m in &methods {
                let scopes = scopes_of(doc, &item[m.to_ascii_lowercase()]);
                if !scopes.is_empty() {
                    t.scopes.push((m.clone(), path.clone(), scopes));
                }
            }
            t.methods.push((path.clone(), methods));
            if has_params(path) {
                continue;
            }
            if item.get("get").is_some() {
                t.reads.push(path.clone());
            }
            if let Some(schema) = item.get("post").and_then(|op| json_body_schema(doc, op)) {
                let item = paths.keys().find(|p| is_item_of(p, path)).cloned();
                t.collections.push(Collection { path: path.clone(), schema: inline(doc, schema, 24), item });
            }
        }
        // Collections with an item template first: they allow the most checks.
        t.collections.sort_by_key(|c| c.item.is_none());
        t
    }

    /// Adds hand-given paths as reads, first and in the order given.
    pub fn with_paths(mut self, paths: &[String]) -> Self {
        let mut at = 0;
        for p in paths {
            if !self.reads.contains(p) {
                self.reads.insert(at, p.clone());
                at += 1;
            }
        }
        self
    }

    /// The documented template that the concrete `path` fills (`/things/42` → `/things/{id}`).
    pub fn template_of(&self, path: &str) -> Option<&str> {
        let path = path.split('?').next().unwrap_or(path);
        if let Some((p, _)) = self.methods.iter().find(|(p, _)| p == path) {
            return Some(p);
        }
        let segments: Vec<&str> = path.split('/').collect();
        self.methods.iter().map(|(p, _)| p.as_str()).filter(|p| has_params(p)).find(|p| {
            let t: Vec<&str> = p.split('/').collect();
            t.len() == segments.len()
                && t.iter()
                    .zip(&segments)
                    .all(|(t, s)| t == s || (t.starts_with('{') && t.ends_with('}') && !s.is_empty()))
        })
    }

    /// The methods the document lists for the template `template`.
    pub fn documented_methods(&self, template: &str) -> Option<&[String]> {
        self.methods.iter().find(|(p, _)| p == template).map(|(_, m)| m.as_slice())
    }

    /// The methods the document lists for the concrete `path`, if it documents the path.
    pub fn methods_for(&self, path: &str) -> Option<&[String]> {
        self.documented_methods(self.template_of(path)?)
    }

    /// The scopes the document says `method` on the concrete `path` needs.
    pub fn scopes_for(&self, method: &str, path: &str) -> Option<&[String]> {
        let template = self.template_of(path)?;
        self.scopes.iter().find(|(m, p, _)| m == method && p == template).map(|(_, _, s)| s.as_slice())
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
                    "post": {
                        "security": [{"oauth2": ["things:write"]}],
                        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/In"}}}}
                    }
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
        let body = t.collections[0].body(7);
        assert_eq!(body["email"].as_str().map(|e| e.ends_with("@example.com")), Some(true));
        assert_eq!(body.as_object().unwrap().len(), 2);
        assert_ne!(t.collections[0].body(8), body, "bodies differ from one request to the next");
        assert_eq!(t.documented_methods("/things/{id}").unwrap(), ["GET", "DELETE"]);
        assert_eq!(t.methods_for("/things/42").unwrap(), ["GET", "DELETE"]);
        assert_eq!(t.template_of("/other/1/deep"), Some("/other/{a}/deep"));
        assert_eq!(t.scopes_for("POST", "/things").unwrap(), ["things:write"]);
        assert_eq!(item_path("/things/{id}", "42"), "/things/42");
        let t = t.with_paths(&["/b".into(), "/a".into(), "/health".into()]);
        assert_eq!(t.reads, ["/b", "/a", "/health", "/things"]);
    }

    #[test]
    fn trailing_slash_items_are_items() {
        let doc = json!({"paths": {
            "/customers/": {"get": {}, "post": {"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}}},
            "/customers/{id}/": {"get": {}, "put": {}}
        }});
        let t = Targets::from_openapi(&doc);
        assert_eq!(t.collections[0].item.as_deref(), Some("/customers/{id}/"));
        assert_eq!(item_path("/customers/{id}/", "3"), "/customers/3/");
        assert_eq!(t.methods_for("/customers/3/").unwrap(), ["GET", "PUT"]);
    }

    #[test]
    fn reads_swagger_2_body_parameters() {
        let doc = json!({"swagger": "2.0", "paths": {"/pets": {"post": {"parameters": [
            {"in": "body", "name": "b", "schema": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}}
        ]}}}});
        let t = Targets::from_openapi(&doc);
        assert_eq!(t.collections[0].body(1), json!({"n": 1}));
        assert!(t.reads.is_empty());
    }

    #[test]
    fn samples_honour_pattern_format_enum_lengths_and_ranges() {
        let schema = json!({"type": "object", "required": ["sku", "code", "site", "at", "id", "size", "qty", "price", "short", "long", "tags"],
        "properties": {
            "sku": {"type": "string", "pattern": "^[A-Z]{3}-\\d{4}\\z"},
            "code": {"type": "string", "pattern": "[a-z]+", "maxLength": 5, "minLength": 2},
            "site": {"type": "string", "format": "uri"},
            "at": {"type": "string", "format": "date-time"},
            "id": {"type": "string", "format": "uuid"},
            "size": {"type": "string", "enum": ["S", "M"]},
            "qty": {"type": "integer", "minimum": 10, "maximum": 20, "multipleOf": 4},
            "price": {"type": "number", "exclusiveMinimum": 0, "maximum": 0.75},
            "short": {"type": "string", "maxLength": 3},
            "long": {"type": "string", "minLength": 20},
            "tags": {"type": "array", "minItems": 2, "items": {"type": "string", "format": "email"}}
        }});
        for n in [1, 2, 12345678901] {
            let v = sample(&schema, n);
            let sku = v["sku"].as_str().unwrap();
            assert_eq!(sku.len(), 8, "{sku}");
            assert!(sku[..3].bytes().all(|b| b.is_ascii_uppercase()) && &sku[3..4] == "-", "{sku}");
            assert!(sku[4..].bytes().all(|b| b.is_ascii_digit()), "{sku}");
            let code = v["code"].as_str().unwrap();
            assert!((2..=5).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase()), "{code}");
            assert!(v["site"].as_str().unwrap().starts_with("https://"));
            assert_eq!(v["at"], "2024-01-02T03:04:05Z");
            assert_eq!(v["id"].as_str().unwrap().len(), 36);
            assert_eq!(v["size"], "S");
            assert_eq!(v["qty"], 12);
            let price = v["price"].as_f64().unwrap();
            assert!(price > 0.0 && price <= 0.75, "{price}");
            assert!(v["short"].as_str().unwrap().chars().count() <= 3);
            assert!(v["long"].as_str().unwrap().chars().count() >= 20);
            assert_eq!(v["tags"].as_array().unwrap().len(), 2);
        }
        // pydantic's Optional[str]: anyOf with null.
        assert_eq!(sample(&json!({"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 5}]}), 1), json!(5));
    }
}
