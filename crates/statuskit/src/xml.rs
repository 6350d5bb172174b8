//! Text that XML 1.0 can carry, whatever a string holds.
//!
//! XML 1.0 (§2.2) admits as characters only tab, line feed, carriage return, U+0020–U+D7FF,
//! U+E000–U+FFFD and U+10000–U+10FFFF; the other C0 controls and the noncharacters U+FFFE and
//! U+FFFF are refused even written as character references (`&#1;` is not well-formed either).
//! So every XML document this crate writes (problem bodies and representations) has each such
//! character replaced by U+FFFD REPLACEMENT CHARACTER, the character Unicode gives for "a
//! character that cannot be represented": the document always parses, and a reader sees where
//! something was dropped. The JSON representation of the same data keeps it exactly (JSON
//! escapes controls as `\u0001`), so nothing is lost for a client that needs the raw value.
//! Carriage returns are written as `&#13;` (and, in attribute values, tab and line feed as `&#9;`
//! and `&#10;`), so a parser reads back exactly what was written instead of normalizing them.
//!
//! Text stored from input should not hold these characters in the first place: see
//! [`crate::validate::forbidden_char`].
//!
//! ```
//! use statuskit::xml::{is_name, replace_invalid};
//!
//! assert_eq!(replace_invalid("a\u{1}b\tc"), "a\u{FFFD}b\tc");
//! assert!(matches!(replace_invalid("plain"), std::borrow::Cow::Borrowed(_)));
//! assert!(is_name("request_id") && !is_name("items[0].name") && !is_name("1st"));
//! ```

use std::borrow::Cow;

/// What replaces a character XML cannot carry.
pub const REPLACEMENT: char = '\u{FFFD}';

/// `true` if XML 1.0's `Char` production admits `c`.
pub const fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// `text` with every character that XML 1.0 cannot carry replaced by [`REPLACEMENT`]; borrowed
/// (no copy) when there is none, which a byte scan decides for nearly all text.
pub fn replace_invalid(text: &str) -> Cow<'_, str> {
    // In UTF-8 the refused characters are the bytes below 0x20 (but tab, LF, CR) and the
    // sequences EF BF BE / EF BF BF; any other text needs no look at its characters.
    let suspect = text.bytes().any(|b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0xEF);
    if !suspect || text.chars().all(is_xml_char) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().map(|c| if is_xml_char(c) { c } else { REPLACEMENT }).collect())
}

/// `text` as XML character data: `<`, `>` and `&` as entities, carriage return as `&#13;`, and
/// what XML cannot carry as [`REPLACEMENT`]. Borrowed when nothing needs changing.
pub fn escape_text(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// `value` for a double- or single-quoted attribute: as [`escape_text`], and also `"`, `'`,
/// tab and line feed as references (a parser would turn a raw tab or line end into a space).
pub fn escape_attribute(value: &str) -> Cow<'_, str> {
    escape(value, true)
}

fn escape(text: &str, attribute: bool) -> Cow<'_, str> {
    let special = |c: char| {
        matches!(c, '<' | '>' | '&' | '\r') || !is_xml_char(c) || (attribute && matches!(c, '"' | '\'' | '\t' | '\n'))
    };
    if !text.chars().any(special) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' => out.push_str("&#13;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' if attribute => out.push_str("&#10;"),
            c if !is_xml_char(c) => out.push(REPLACEMENT),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A document whose markup an XML serializer wrote and escaped, but whose text may still hold
/// characters XML cannot carry (quick-xml writes them as they are): those become
/// [`REPLACEMENT`], and carriage returns `&#13;`. Sound because a serializer writes neither into
/// markup of its own, so each one found is inside text or an attribute value.
#[cfg(feature = "xml")]
pub(crate) fn clean_document(doc: String) -> String {
    let suspect = doc.bytes().any(|b| (b < 0x20 && !matches!(b, b'\t' | b'\n')) || b == 0xEF);
    if !suspect || !doc.chars().any(|c| c == '\r' || !is_xml_char(c)) {
        return doc;
    }
    let mut out = String::with_capacity(doc.len() + 16);
    for c in doc.chars() {
        match c {
            '\r' => out.push_str("&#13;"),
            c if !is_xml_char(c) => out.push(REPLACEMENT),
            c => out.push(c),
        }
    }
    out
}

/// `true` if `name` can be an element or attribute name in a namespace-aware document: an XML
/// 1.0 `Name` without `:` (an `NCName`), so no undeclared prefix can appear.
pub fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start_char) && chars.all(is_name_char)
}

const fn is_name_start_char(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}'
        | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

const fn is_name_char(c: char) -> bool {
    is_name_start_char(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn replaces_exactly_what_xml_refuses() {
        for c in ['\u{0}', '\u{1}', '\u{8}', '\u{B}', '\u{C}', '\u{1F}', '\u{FFFE}', '\u{FFFF}'] {
            assert!(!is_xml_char(c), "{c:?}");
            assert_eq!(replace_invalid(&format!("a{c}b")), "a\u{FFFD}b");
        }
        for c in ['\t', '\n', '\r', ' ', '\u{7F}', '\u{85}', '\u{FFFD}', '\u{EFFF}', '\u{10FFFF}'] {
            assert!(is_xml_char(c), "{c:?}");
        }
        // 0xEF starts many valid characters: they are kept as they are.
        assert!(matches!(replace_invalid("\u{FFFD}\u{F000}"), Cow::Borrowed(_)));
    }

    #[test]
    fn names() {
        for ok in ["a", "request_id", "violated-policies", "_x.1", "é"] {
            assert!(is_name(ok), "{ok}");
        }
        for bad in ["", "1a", "-a", "a b", "a:b", "items[3].name", "a\u{1}"] {
            assert!(!is_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_test_parser_is_strict() {
        // The property tests of the writers rely on it refusing what XML refuses.
        for bad in ["<a>\u{1}</a>", "<a>&#1;</a>", "<a x=\"\u{0}\"/>", "<a>\u{FFFF}</a>", "<a:b/>"] {
            assert!(roxmltree::Document::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(roxmltree::Document::parse("<a>x&#13;</a>").unwrap().root_element().text(), Some("x\r"));
    }

    #[test]
    fn escapes() {
        assert_eq!(escape_text("a<b>&\"'\t\n\r\u{1}"), "a&lt;b&gt;&amp;\"'\t\n&#13;\u{FFFD}");
        assert_eq!(escape_attribute("\"'\t\n"), "&quot;&apos;&#9;&#10;");
        assert!(matches!(escape_text("plain 'quotes'"), Cow::Borrowed(_)));
        assert_eq!(clean_document("<a x=\"\r\">\u{2}\r\n</a>".into()), "<a x=\"&#13;\">\u{FFFD}&#13;\n</a>");
    }

    proptest! {
        #[test]
        fn output_is_all_xml_chars_and_keeps_the_rest(s in proptest::collection::vec(any::<char>(), 0..40)) {
            let text: String = s.iter().collect();
            let out = replace_invalid(&text);
            prop_assert!(out.chars().all(is_xml_char));
            prop_assert_eq!(out.chars().count(), s.len());
            for (a, b) in s.iter().zip(out.chars()) {
                prop_assert_eq!(b, if is_xml_char(*a) { *a } else { REPLACEMENT });
            }
        }
    }
}
