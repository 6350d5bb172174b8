//! Problem details (RFC 9457) read from a response, in JSON or in XML (Appendix B, namespace
//! `urn:ietf:rfc:7807`).
//!
//! XML is read with quick-xml, which resolves no entities but the five predefined ones and
//! character references: a `<!DOCTYPE>` with entity declarations (a "billion laughs") is not
//! expanded, and a reference to an undeclared entity makes the body "not a problem" instead.
//!
//! ```
//! use statuskit_client::problem::Problem;
//!
//! let xml = br#"<?xml version="1.0"?><problem xmlns="urn:ietf:rfc:7807">
//!   <type>/docs/errors#unprocessable_entity</type><title>Unprocessable Entity</title>
//!   <status>422</status><detail>1 field is invalid</detail>
//!   <errors><field name="email"><i>has already been taken</i></field></errors>
//!   <request_id>01J</request_id></problem>"#;
//! let p = Problem::from_xml(422, xml).unwrap();
//! assert_eq!(p.detail.as_deref(), Some("1 field is invalid"));
//! assert_eq!(p.errors["email"], ["has already been taken"]);
//! assert_eq!(p.request_id.as_deref(), Some("01J"));
//! ```

use std::collections::BTreeMap;
use std::fmt;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::headers::RetryAfter;

/// The XML namespace of RFC 9457 Appendix B.
pub const XML_NAMESPACE: &str = "urn:ietf:rfc:7807";

/// Which media type a problem came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ProblemFormat {
    /// `application/problem+json`.
    Json,
    /// `application/problem+xml`.
    Xml,
}

/// A problem body, read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Problem {
    /// The HTTP status of the response (the body's own `status` is advisory and may differ).
    pub status: u16,
    /// The body's own `status` member, when it is a number (in XML, an integer text); RFC 9457
    /// §3.1.2 says it must equal the HTTP status, which `statuskit probe` checks with it.
    pub body_status: Option<u16>,
    /// `type` (`about:blank` when absent).
    #[serde(rename = "type")]
    pub problem_type: String,
    /// `title`.
    pub title: Option<String>,
    /// `detail`.
    pub detail: Option<String>,
    /// `instance`.
    pub instance: Option<String>,
    /// Field errors: the contract's `errors` map (field → messages), or RFC 9457's array of
    /// `{pointer, detail}` members (pointer → details).
    pub errors: BTreeMap<String, Vec<String>>,
    /// `request_id`, else the `X-Request-Id` response header.
    pub request_id: Option<String>,
    /// The response's `Retry-After`, if it had a valid one.
    pub retry_after: Option<RetryAfter>,
    /// Every other member.
    pub extensions: Map<String, Value>,
    /// JSON or XML.
    pub format: ProblemFormat,
}

/// An element being read: its name (or `name` attribute), child elements, `<i>` items, text.
struct Frame {
    name: String,
    members: Map<String, Value>,
    items: Vec<Value>,
    text: String,
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_owned)
}

impl Problem {
    /// Reads an `application/problem+json` body; `None` if it is not a JSON object.
    pub fn from_json(status: u16, body: &[u8]) -> Option<Problem> {
        let Value::Object(mut map) = serde_json::from_slice(body).ok()? else { return None };
        // RFC 9457 §3.1: a member with the wrong type is ignored.
        let mut p = Problem {
            status,
            body_status: map.get("status").and_then(Value::as_u64).and_then(|n| u16::try_from(n).ok()),
            problem_type: text(map.get("type")).unwrap_or_else(|| "about:blank".into()),
            title: text(map.get("title")),
            detail: text(map.get("detail")).or_else(|| text(map.get("message"))),
            instance: text(map.get("instance")),
            errors: BTreeMap::new(),
            request_id: text(map.get("request_id")),
            retry_after: None,
            extensions: Map::new(),
            format: ProblemFormat::Json,
        };
        match map.remove("errors") {
            Some(Value::Object(fields)) => {
                for (field, messages) in fields {
                    let list = match messages {
                        Value::Array(items) => items.iter().filter_map(|m| text(Some(m))).collect(),
                        Value::String(s) => vec![s],
                        _ => continue,
                    };
                    p.errors.insert(field, list);
                }
            }
            Some(Value::Array(items)) => {
                for item in items {
                    let key = text(item.get("pointer")).or_else(|| text(item.get("field"))).unwrap_or_default();
                    if let Some(d) = text(item.get("detail")) {
                        p.errors.entry(key).or_default().push(d);
                    }
                }
            }
            Some(other) => {
                map.insert("errors".into(), other);
            }
            None => {}
        }
        for known in ["type", "title", "detail", "message", "instance", "request_id", "status"] {
            map.remove(known);
        }
        p.extensions = map;
        Some(p)
    }

    /// Reads an `application/problem+xml` body; `None` if it is not well-formed XML whose root is
    /// `problem` in the RFC 9457 namespace.
    pub fn from_xml(status: u16, body: &[u8]) -> Option<Problem> {
        let mut reader = NsReader::from_reader(body);
        let config = reader.config_mut();
        config.trim_text(true);
        config.check_end_names = true;
        // The tree under the root, as JSON values: text → string, `<i>` children → array,
        // other children → object.
        let mut stack: Vec<Frame> = Vec::new();
        let mut root: Option<Map<String, Value>> = None;
        let mut depth_guard = 0usize;
        loop {
            match reader.read_resolved_event().ok()? {
                (ns, Event::Start(e)) => {
                    depth_guard += 1;
                    if depth_guard > 64 {
                        return None;
                    }
                    let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                    if stack.is_empty() {
                        let in_ns = matches!(ns, ResolveResult::Bound(n) if n.as_ref() == XML_NAMESPACE.as_bytes());
                        if local != "problem" || !in_ns || root.is_some() {
                            return None;
                        }
                    }
                    // `<field name="email">` and `<member name="a b">` carry their key.
                    let name = e
                        .try_get_attribute("name")
                        .ok()
                        .flatten()
                        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
                        .filter(|_| local == "field" || local == "member")
                        .unwrap_or(local);
                    stack.push(Frame { name, members: Map::new(), items: Vec::new(), text: String::new() });
                }
                (_, Event::Empty(e)) => {
                    let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                    let frame = stack.last_mut()?;
                    if local == "i" {
                        frame.items.push(Value::Null);
                    } else {
                        frame.members.insert(local, Value::Null);
                    }
                }
                (_, Event::Text(t)) => {
                    stack.last_mut()?.text.push_str(&t.unescape().ok()?);
                }
                (_, Event::CData(t)) => {
                    stack.last_mut()?.text.push_str(std::str::from_utf8(&t.into_inner()).ok()?);
                }
                (_, Event::End(_)) => {
                    depth_guard -= 1;
                    let Frame { name, members, items, text } = stack.pop()?;
                    let value = if !items.is_empty() {
                        Value::Array(items)
                    } else if !members.is_empty() {
                        Value::Object(members)
                    } else {
                        Value::String(text)
                    };
                    match stack.last_mut() {
                        None => root = Some(value.as_object().cloned().unwrap_or_default()),
                        Some(parent) if name == "i" => parent.items.push(value),
                        Some(parent) => {
                            parent.members.insert(name, value);
                        }
                    }
                }
                (_, Event::DocType(_)) => {
                    // Entity declarations are never expanded; the document is read without them.
                }
                (_, Event::Eof) => break,
                _ => {}
            }
        }
        if !stack.is_empty() {
            return None;
        }
        let mut map = root?;
        // Field errors: `<errors><field name="f"><i>m</i></field></errors>`, now {"f": ["m"]} (or
        // {"f": "m"} for a single message written without `<i>`).
        if let Some(Value::Object(fields)) = map.get_mut("errors") {
            for v in fields.values_mut() {
                if let Value::String(s) = v {
                    *v = Value::Array(vec![Value::String(std::mem::take(s))]);
                }
            }
        }
        // `<status>404</status>` is the XML form of the number.
        if let Some(n) = map.get("status").and_then(Value::as_str).and_then(|s| s.trim().parse::<u64>().ok()) {
            map.insert("status".into(), Value::from(n));
        }
        let json = serde_json::to_vec(&Value::Object(map)).ok()?;
        let mut p = Problem::from_json(status, &json)?;
        p.format = ProblemFormat::Xml;
        Some(p)
    }

    /// Reads a response body as a problem if its media type says it is one (`application/problem+json`,
    /// `application/problem+xml`), or if it is plain JSON or XML shaped like one (a `title`, `type`
    /// or `detail` member); `None` otherwise. The request id falls back to `X-Request-Id`, and
    /// `Retry-After` is taken from the headers.
    pub fn from_response(status: u16, headers: &http::HeaderMap, body: &[u8]) -> Option<Problem> {
        let media = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
            .unwrap_or_default();
        let mut p = match media.as_str() {
            "application/problem+json" => Problem::from_json(status, body)?,
            "application/problem+xml" => Problem::from_xml(status, body)?,
            "application/json" => Problem::from_json(status, body).filter(Problem::looks_like_one)?,
            "application/xml" | "text/xml" => Problem::from_xml(status, body)?,
            _ => return None,
        };
        if p.request_id.is_none() {
            p.request_id = headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
        }
        p.retry_after = RetryAfter::from_headers(headers);
        Some(p)
    }

    fn looks_like_one(&self) -> bool {
        self.title.is_some() || self.detail.is_some() || self.problem_type != "about:blank"
    }

    /// The messages for one field, if it is at fault.
    pub fn field_errors(&self, field: &str) -> Option<&[String]> {
        self.errors.get(field).map(Vec::as_slice)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status)?;
        if let Some(t) = &self.title {
            write!(f, " {t}")?;
        }
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        for (field, messages) in &self.errors {
            write!(f, "; {field}: {}", messages.join(", "))?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request {id})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_forms() {
        let p = Problem::from_json(
            422,
            br##"{"type":"/x","title":"T","status":"nope","detail":"d","errors":[{"detail":"must be positive","pointer":"#/age"}],"violated-policies":["reads"]}"##,
        )
        .unwrap();
        assert_eq!(p.errors["#/age"], ["must be positive"]);
        assert_eq!(p.extensions["violated-policies"], serde_json::json!(["reads"]));
        assert!(Problem::from_json(500, b"[1,2]").is_none());
        assert!(Problem::from_json(500, b"<html>").is_none());
        let p = Problem::from_json(404, br#"{"title": 5}"#).unwrap();
        assert_eq!((p.title, p.problem_type.as_str()), (None, "about:blank"), "wrong types are ignored");
    }

    #[test]
    fn xml_refuses_what_is_not_an_appendix_b_problem() {
        assert!(Problem::from_xml(400, b"<problem><title>no namespace</title></problem>").is_none());
        assert!(Problem::from_xml(400, b"<other xmlns=\"urn:ietf:rfc:7807\"/>").is_none());
        assert!(Problem::from_xml(400, b"<problem xmlns=\"urn:ietf:rfc:7807\"><title>cut").is_none());
        assert!(Problem::from_xml(400, b"not xml at all").is_none());
        let laughs = br#"<?xml version="1.0"?><!DOCTYPE problem [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<problem xmlns="urn:ietf:rfc:7807"><title>&b;</title></problem>"#;
        assert!(Problem::from_xml(400, laughs).is_none(), "undeclared (unexpanded) entities are not read");
        let p = Problem::from_xml(
            503,
            br#"<p:problem xmlns:p="urn:ietf:rfc:7807"><p:title>Down &amp; out</p:title><p:status>503</p:status><p:list><p:i>a</p:i><p:i>b</p:i></p:list></p:problem>"#,
        )
        .unwrap();
        assert_eq!(p.title.as_deref(), Some("Down & out"));
        assert_eq!(p.extensions["list"], serde_json::json!(["a", "b"]));
    }
}
