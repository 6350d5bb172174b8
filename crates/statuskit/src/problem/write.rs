//! How a problem is written: JSON (serde) and XML (RFC 9457 Appendix B, quick-xml).

#[cfg(feature = "xml")]
use std::borrow::Cow;

use serde::ser::{SerializeMap, Serializer};
#[cfg(feature = "xml")]
use serde_json::Value;

use super::Inner;

/// What is written: the problem plus the per-request parts.
pub(super) struct View<'a> {
    pub(super) p: &'a Inner,
    pub(super) type_uri: &'a str,
    pub(super) title: &'a str,
    pub(super) detail: &'a str,
    pub(super) request_id: &'a str,
    pub(super) report: Option<&'a str>,
}

impl serde::Serialize for View<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", self.type_uri)?;
        m.serialize_entry("title", self.title)?;
        m.serialize_entry("status", &self.p.status.code.as_u16())?;
        m.serialize_entry("detail", self.detail)?;
        m.serialize_entry("message", self.detail)?;
        if let Some(errors) = &self.p.errors {
            m.serialize_entry("errors", errors)?;
        }
        m.serialize_entry("request_id", self.request_id)?;
        if let Some(url) = self.report {
            m.serialize_entry("report", url)?;
        }
        for (name, value) in &self.p.extensions {
            m.serialize_entry(name, value)?;
        }
        m.end()
    }
}

#[cfg(feature = "xml")]
impl View<'_> {
    pub(super) fn to_xml(&self) -> Vec<u8> {
        use quick_xml::events::attributes::Attribute;
        use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
        use quick_xml::name::QName;
        use quick_xml::Writer;

        type W = Writer<Vec<u8>>;
        // Every text and attribute value is escaped by `crate::xml`, which also replaces what XML
        // cannot carry, so the document parses whatever the detail, field paths or extension
        // values echo, and reads back as written.
        fn attribute<'a>(name: &'a str, value: &'a str) -> Attribute<'a> {
            let value = match crate::xml::escape_attribute(value) {
                Cow::Borrowed(v) => Cow::Borrowed(v.as_bytes()),
                Cow::Owned(v) => Cow::Owned(v.into_bytes()),
            };
            Attribute { key: QName(name.as_bytes()), value }
        }
        fn text(w: &mut W, name: &str, value: &str) {
            write_text(w, BytesStart::new(name), value);
            w.write_event(Event::End(BytesEnd::new(name))).expect("Vec write");
        }
        /// The start tag and the text, not the end tag.
        fn write_text(w: &mut W, open: BytesStart<'_>, value: &str) {
            w.write_event(Event::Start(open)).expect("Vec write");
            // Escape only what must be (`<`, `>`, `&`, CR): apostrophes and quotes stay readable.
            w.write_event(Event::Text(BytesText::from_escaped(crate::xml::escape_text(value)))).expect("Vec write");
        }
        fn value(w: &mut W, name: &str, v: &Value) {
            // A JSON key may be any string: one that is no XML name becomes `<member name="…">`.
            let tag = if crate::xml::is_name(name) { name } else { "member" };
            let mut open = BytesStart::new(tag);
            if tag != name {
                open.push_attribute(attribute("name", name));
            }
            match v {
                Value::Null => {
                    w.write_event(Event::Empty(open)).expect("Vec write");
                    return;
                }
                Value::String(s) => write_text(w, open, s),
                Value::Bool(_) | Value::Number(_) => write_text(w, open, &v.to_string()),
                Value::Array(items) => {
                    w.write_event(Event::Start(open)).expect("Vec write");
                    for item in items {
                        value(w, "i", item);
                    }
                }
                Value::Object(members) => {
                    w.write_event(Event::Start(open)).expect("Vec write");
                    for (k, item) in members {
                        value(w, k, item);
                    }
                }
            }
            w.write_event(Event::End(BytesEnd::new(tag))).expect("Vec write");
        }

        let mut w = Writer::new(Vec::with_capacity(512));
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None))).expect("Vec write");
        let root = BytesStart::new("problem").with_attributes([("xmlns", crate::header::PROBLEM_XML_NAMESPACE)]);
        w.write_event(Event::Start(root)).expect("Vec write");
        text(&mut w, "type", self.type_uri);
        text(&mut w, "title", self.title);
        text(&mut w, "status", &self.p.status.code.as_u16().to_string());
        text(&mut w, "detail", self.detail);
        text(&mut w, "message", self.detail);
        if let Some(errors) = &self.p.errors {
            // Field paths such as `items[3].name` are not XML names, so each field is an
            // element carrying its path as an attribute, holding its messages as <i> items.
            w.write_event(Event::Start(BytesStart::new("errors"))).expect("Vec write");
            for (field, messages) in errors.iter() {
                let start = BytesStart::new("field").with_attributes([attribute("name", field)]);
                w.write_event(Event::Start(start)).expect("Vec write");
                for m in messages {
                    text(&mut w, "i", m);
                }
                w.write_event(Event::End(BytesEnd::new("field"))).expect("Vec write");
            }
            w.write_event(Event::End(BytesEnd::new("errors"))).expect("Vec write");
        }
        text(&mut w, "request_id", self.request_id);
        if let Some(url) = self.report {
            text(&mut w, "report", url);
        }
        for (name, v) in &self.p.extensions {
            value(&mut w, name, v);
        }
        w.write_event(Event::End(BytesEnd::new("problem"))).expect("Vec write");
        w.into_inner()
    }
}

#[cfg(not(feature = "xml"))]
impl View<'_> {
    pub(super) fn to_xml(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a problem always serializes")
    }
}
