//! Entity tags and entity-tag lists (RFC 9110 §8.8.3, §13.1.1, §13.1.2).
//!
//! Written here rather than taken from the `headers` crate because the contract needs what its
//! typed `If-Match` hides: the parsed list itself (for property tests and round trips) and a
//! clear error for `*` mixed with tags, which is malformed and answers 400.
//!
//! ```
//! use statuskit::etag::{EntityTag, EntityTagList};
//!
//! let current = EntityTag::strong("7.json").unwrap();
//! assert_eq!(current.to_string(), r#""7.json""#);
//! let list = EntityTagList::parse(br#"W/"7.json", "8.json""#).unwrap();
//! assert!(list.matches_weak(&current));
//! assert!(!list.matches_strong(&current)); // the W/ tag fails the strong comparison
//! ```

use std::fmt;

use http::HeaderValue;

/// One entity tag: an opaque string and whether it is weak.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EntityTag {
    weak: bool,
    opaque: Box<[u8]>,
}

/// A field value that does not follow the entity-tag grammar; the message says where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEntityTag(pub(crate) &'static str);

impl fmt::Display for InvalidEntityTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for InvalidEntityTag {}

/// `etagc = %x21 / %x23-7E / obs-text`.
fn is_etagc(b: u8) -> bool {
    b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80
}

impl EntityTag {
    /// A strong tag from its opaque part (without quotes). Fails if it holds a `"`, a control
    /// character or a space. Our own tags are visible ASCII, so they are valid header values.
    pub fn strong(opaque: &str) -> Result<Self, InvalidEntityTag> {
        Self::new(false, opaque.as_bytes())
    }

    /// A weak tag (`W/"…"`) from its opaque part.
    pub fn weak(opaque: &str) -> Result<Self, InvalidEntityTag> {
        Self::new(true, opaque.as_bytes())
    }

    fn new(weak: bool, opaque: &[u8]) -> Result<Self, InvalidEntityTag> {
        if opaque.iter().all(|&b| is_etagc(b)) {
            Ok(EntityTag { weak, opaque: opaque.into() })
        } else {
            Err(InvalidEntityTag("an entity tag may not contain quotes, spaces or control characters"))
        }
    }

    /// Parses exactly one `entity-tag`, as in an `ETag` field.
    pub fn parse(value: &[u8]) -> Result<Self, InvalidEntityTag> {
        let value = trim_ows(value);
        let (tag, rest) = parse_one(value)?;
        if rest.is_empty() {
            Ok(tag)
        } else {
            Err(InvalidEntityTag("unexpected text after the entity tag"))
        }
    }

    /// `true` if this tag is weak.
    pub fn is_weak(&self) -> bool {
        self.weak
    }

    /// The opaque part, without quotes.
    pub fn opaque(&self) -> &[u8] {
        &self.opaque
    }

    /// Strong comparison: neither is weak and the opaque parts are equal (RFC 9110 §8.8.3.2).
    pub fn strong_eq(&self, other: &EntityTag) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }

    /// Weak comparison: the opaque parts are equal, whatever the `W/` prefix.
    pub fn weak_eq(&self, other: &EntityTag) -> bool {
        self.opaque == other.opaque
    }

    /// The field value, e.g. `"7.json"` or `W/"7.json"`.
    pub fn to_header_value(&self) -> HeaderValue {
        let mut out = Vec::with_capacity(self.opaque.len() + 4);
        if self.weak {
            out.extend_from_slice(b"W/");
        }
        out.push(b'"');
        out.extend_from_slice(&self.opaque);
        out.push(b'"');
        HeaderValue::from_maybe_shared(bytes::Bytes::from(out)).expect("etagc bytes are valid header value bytes")
    }
}

impl fmt::Display for EntityTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.weak {
            f.write_str("W/")?;
        }
        write!(f, "\"{}\"", String::from_utf8_lossy(&self.opaque))
    }
}

/// The value of `If-Match` or `If-None-Match`: `*` or a list of entity tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntityTagList {
    /// `*`: any current representation.
    Any,
    /// A list of tags (possibly empty, as the `#` rule allows).
    Tags(Vec<EntityTag>),
}

impl EntityTagList {
    /// Parses one field value.
    pub fn parse(value: &[u8]) -> Result<Self, InvalidEntityTag> {
        Self::parse_lines(std::iter::once(value))
    }

    /// Parses every field line of the header as one list (RFC 9110 §5.3).
    pub fn parse_lines<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Result<Self, InvalidEntityTag> {
        let mut tags = Vec::new();
        let mut star = false;
        for line in lines {
            let mut rest = line;
            loop {
                // Skip OWS and empty list elements.
                while let [b' ' | b'\t' | b',', tail @ ..] = rest {
                    rest = tail;
                }
                if rest.is_empty() {
                    break;
                }
                if let [b'*', tail @ ..] = rest {
                    star = true;
                    rest = tail;
                } else {
                    let (tag, tail) = parse_one(rest)?;
                    tags.push(tag);
                    rest = tail;
                }
                let trimmed = trim_start_ows(rest);
                match trimmed {
                    [] => rest = trimmed,
                    [b',', ..] => rest = trimmed,
                    _ => return Err(InvalidEntityTag("entity tags must be separated by commas")),
                }
            }
        }
        match (star, tags.is_empty()) {
            (true, true) => Ok(EntityTagList::Any),
            (true, false) => Err(InvalidEntityTag("\"*\" cannot be combined with entity tags")),
            (false, _) => Ok(EntityTagList::Tags(tags)),
        }
    }

    /// `If-Match` semantics: `*` matches any current tag; a list needs a strong match.
    pub fn matches_strong(&self, current: &EntityTag) -> bool {
        match self {
            EntityTagList::Any => true,
            EntityTagList::Tags(tags) => tags.iter().any(|t| t.strong_eq(current)),
        }
    }

    /// `If-None-Match` semantics: `*` matches any current tag; a list needs a weak match.
    pub fn matches_weak(&self, current: &EntityTag) -> bool {
        match self {
            EntityTagList::Any => true,
            EntityTagList::Tags(tags) => tags.iter().any(|t| t.weak_eq(current)),
        }
    }

    /// The field value; parsing it gives back an equal list.
    pub fn to_header_value(&self) -> HeaderValue {
        match self {
            EntityTagList::Any => HeaderValue::from_static("*"),
            EntityTagList::Tags(tags) => {
                let joined: Vec<u8> =
                    tags.iter().map(|t| t.to_header_value().as_bytes().to_vec()).collect::<Vec<_>>().join(&b", "[..]);
                HeaderValue::from_bytes(&joined).expect("entity tags are valid header bytes")
            }
        }
    }
}

fn trim_start_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', tail @ ..] = s {
        s = tail;
    }
    s
}

fn trim_ows(s: &[u8]) -> &[u8] {
    let mut s = trim_start_ows(s);
    while let [head @ .., b' ' | b'\t'] = s {
        s = head;
    }
    s
}

/// Parses one `entity-tag` at the start of `s`; returns it and what follows.
fn parse_one(s: &[u8]) -> Result<(EntityTag, &[u8]), InvalidEntityTag> {
    let (weak, s) = match s {
        [b'W', b'/', tail @ ..] => (true, tail),
        _ => (false, s),
    };
    let [b'"', body @ ..] = s else {
        return Err(InvalidEntityTag("an entity tag must be a quoted string such as \"abc\" or W/\"abc\""));
    };
    let end =
        body.iter().position(|&b| b == b'"').ok_or(InvalidEntityTag("an entity tag is missing its closing quote"))?;
    let tag = EntityTag::new(weak, &body[..end])?;
    Ok((tag, &body[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tags(list: &EntityTagList) -> &[EntityTag] {
        match list {
            EntityTagList::Tags(t) => t,
            EntityTagList::Any => panic!("expected tags"),
        }
    }

    #[test]
    fn rfc_examples() {
        assert_eq!(EntityTag::parse(br#""xyzzy""#).unwrap(), EntityTag::strong("xyzzy").unwrap());
        assert_eq!(EntityTag::parse(br#"W/"xyzzy""#).unwrap(), EntityTag::weak("xyzzy").unwrap());
        assert_eq!(EntityTag::parse(br#""""#).unwrap(), EntityTag::strong("").unwrap());
        let list = EntityTagList::parse(br#""xyzzy", "r2d2xxxx", "c3piozzzz""#).unwrap();
        assert_eq!(tags(&list).len(), 3);
        assert_eq!(EntityTagList::parse(b" * ").unwrap(), EntityTagList::Any);
        // A comma inside the quotes is part of the tag.
        let list = EntityTagList::parse(br#""a,b""#).unwrap();
        assert_eq!(tags(&list)[0].opaque(), b"a,b");
    }

    #[test]
    fn comparison_table_of_rfc_9110() {
        let w1 = EntityTag::weak("1").unwrap();
        let w2 = EntityTag::weak("2").unwrap();
        let s1 = EntityTag::strong("1").unwrap();
        assert!(!w1.strong_eq(&w1) && w1.weak_eq(&w1));
        assert!(!w1.strong_eq(&w2) && !w1.weak_eq(&w2));
        assert!(!w1.strong_eq(&s1) && w1.weak_eq(&s1));
        assert!(s1.strong_eq(&s1) && s1.weak_eq(&s1));
    }

    #[test]
    fn malformed_values_are_errors() {
        for bad in
            [&b"xyzzy"[..], b"\"open", b"w/\"lower-case-w\"", b"\"a\" \"b\"", b"*, \"a\"", b"\"a\", *", b"\"sp ace\""]
        {
            assert!(EntityTagList::parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(EntityTag::parse(b"\"a\", \"b\"").is_err());
    }

    #[test]
    fn several_field_lines_form_one_list() {
        let list = EntityTagList::parse_lines([&b"\"a\""[..], b"W/\"b\""]).unwrap();
        assert_eq!(tags(&list).len(), 2);
    }

    fn arb_tag() -> impl Strategy<Value = EntityTag> {
        (any::<bool>(), "[!#-~]{0,12}").prop_map(|(weak, s)| {
            if weak {
                EntityTag::weak(&s).unwrap()
            } else {
                EntityTag::strong(&s).unwrap()
            }
        })
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = EntityTagList::parse(&bytes);
            let _ = EntityTag::parse(&bytes);
        }

        #[test]
        fn lists_round_trip(list in proptest::collection::vec(arb_tag(), 0..6)) {
            let list = EntityTagList::Tags(list);
            let value = list.to_header_value();
            prop_assert_eq!(EntityTagList::parse(value.as_bytes()).unwrap(), list);
        }

        #[test]
        fn tags_round_trip(tag in arb_tag()) {
            prop_assert_eq!(EntityTag::parse(tag.to_header_value().as_bytes()).unwrap(), tag);
        }
    }
}
