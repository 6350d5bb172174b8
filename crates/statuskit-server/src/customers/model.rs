//! What a customer looks like on the wire: the input document, its validation, its
//! representation with HAL links, and its entity tags.

use std::time::{Duration, UNIX_EPOCH};

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use statuskit::conditional::Validators;
use statuskit::etag::EntityTag;
use statuskit::negotiate::Format;
use statuskit::validate::{FieldErrors, Validate};

use crate::store::{Customer, CustomerData};

/// Longest accepted name and e-mail address, in characters.
pub const MAX_LEN: usize = 200;

/// The body of POST and PUT (and a merge-patched document): `name` and `email`. `id` and
/// `_links` are accepted and ignored, so a client can send back what it read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    id: Option<IgnoredAny>,
    #[serde(default, rename = "_links")]
    links: Option<IgnoredAny>,
}

impl Validate for CustomerInput {
    fn validate(&self, errors: &mut FieldErrors) {
        // Control characters are refused anywhere in the value, before trimming, so what is
        // stored is what was checked (and the XML representation can carry all of it).
        let name_clean = errors.check_text("name", self.name.as_deref().unwrap_or_default());
        let email_clean = errors.check_text("email", self.email.as_deref().unwrap_or_default());
        match self.name.as_deref().map(str::trim) {
            _ if !name_clean => {}
            None | Some("") => errors.add("name", "can't be blank"),
            Some(name) => {
                if name.chars().all(|c| c.is_ascii_digit() || c.is_whitespace()) {
                    errors.add("name", "can't be only a number");
                }
                if name.chars().count() > MAX_LEN {
                    errors.add("name", format!("is too long (at most {MAX_LEN} characters)"));
                }
            }
        }
        match self.email.as_deref().map(str::trim) {
            _ if !email_clean => {}
            None | Some("") => errors.add("email", "can't be blank"),
            Some(email) => {
                if email.chars().count() > MAX_LEN {
                    errors.add("email", format!("is too long (at most {MAX_LEN} characters)"));
                } else if !email_address::EmailAddress::is_valid(email) {
                    errors.add("email", "is not a valid e-mail address");
                }
            }
        }
    }
}

impl CustomerInput {
    /// Validates (422 with every failing field) and returns the trimmed data.
    pub fn into_data(self) -> Result<CustomerData, statuskit::Problem> {
        self.check()?;
        let _ = (self.id, self.links);
        Ok(CustomerData {
            name: self.name.unwrap_or_default().trim().to_owned(),
            email: self.email.unwrap_or_default().trim().to_owned(),
        })
    }
}

/// A HAL link.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    /// The target.
    pub href: String,
}

/// `_links` of a customer.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerLinks {
    /// The customer itself.
    #[serde(rename = "self")]
    pub this: Link,
}

/// The representation of one customer.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerView<'a> {
    /// Primary key.
    pub id: i64,
    /// Display name.
    pub name: &'a str,
    /// E-mail address.
    pub email: &'a str,
    /// HAL links.
    #[serde(rename = "_links")]
    pub links: CustomerLinks,
}

/// The path of a customer.
pub fn customer_path(id: i64) -> String {
    format!("/v1/customers/{id}")
}

impl<'a> From<&'a Customer> for CustomerView<'a> {
    fn from(c: &'a Customer) -> Self {
        CustomerView {
            id: c.id,
            name: &c.name,
            email: &c.email,
            links: CustomerLinks { this: Link { href: customer_path(c.id) } },
        }
    }
}

/// `_links` of a page of customers.
#[derive(Debug, Clone, Serialize)]
pub struct PageLinks {
    /// This page.
    #[serde(rename = "self")]
    pub this: Link,
    /// The next page, if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<Link>,
}

/// A page of customers.
#[derive(Debug, Clone, Serialize)]
pub struct PageView<'a> {
    /// The customers on this page, in id order.
    pub items: Vec<CustomerView<'a>>,
    /// HAL links.
    #[serde(rename = "_links")]
    pub links: PageLinks,
}

/// The strong entity tag of `c` in `format`: creation time, version and representation, so that
/// every representation of every state of every customer ever stored under an id differs.
pub fn etag(c: &Customer, format: Format) -> EntityTag {
    let ext = match format {
        Format::Json => "json",
        Format::Xml => "xml",
    };
    // `<created_ms in hex>-<version>.<ext>`, assembled without `format!` (every read makes one;
    // `format!` was about 1 700 instructions of a GET's 100 000 in callgrind). No crate writes hex
    // integers into a buffer the way `itoa` writes decimal ones, hence the loop.
    let mut opaque = [0u8; 40];
    let mut at = opaque.len();
    let mut rest = c.created_ms as u64;
    loop {
        at -= 1;
        opaque[at] = b"0123456789abcdef"[(rest & 0xf) as usize];
        rest >>= 4;
        if rest == 0 {
            break;
        }
    }
    let mut tag = Vec::with_capacity(40);
    tag.extend_from_slice(&opaque[at..]);
    tag.push(b'-');
    tag.extend_from_slice(itoa::Buffer::new().format(c.version).as_bytes());
    tag.push(b'.');
    tag.extend_from_slice(ext.as_bytes());
    EntityTag::strong(std::str::from_utf8(&tag).expect("ASCII")).expect("hex, digits and dots are etagc")
}

/// The validators a read needs: the selected representation's tag only (`If-None-Match` on a GET
/// compares against it alone).
pub fn read_validators(c: &Customer, format: Format) -> Validators {
    Validators::new(etag(c, format)).last_modified(UNIX_EPOCH + Duration::from_millis(c.updated_ms.max(0) as u64))
}

/// The validators of `c` with `format` selected, and the other representation's tag as an
/// alternate (a write's `If-Match` accepts either).
pub fn validators(c: &Customer, format: Format) -> Validators {
    let other = match format {
        Format::Json => Format::Xml,
        Format::Xml => Format::Json,
    };
    Validators::new(etag(c, format))
        .alternate(etag(c, other))
        .last_modified(UNIX_EPOCH + Duration::from_millis(c.updated_ms.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(name: Option<&str>, email: Option<&str>) -> FieldErrors {
        let input = CustomerInput { name: name.map(Into::into), email: email.map(Into::into), ..Default::default() };
        let mut e = FieldErrors::new();
        input.validate(&mut e);
        e
    }

    #[test]
    fn validation_rules() {
        assert!(errors(Some("Ada"), Some("ada@example.com")).is_empty());
        let e = errors(Some("  "), None);
        assert_eq!(e.get("name").unwrap(), ["can't be blank"]);
        assert_eq!(e.get("email").unwrap(), ["can't be blank"]);
        assert_eq!(errors(Some("12 34"), Some("x@y.z")).get("name").unwrap(), ["can't be only a number"]);
        assert_eq!(errors(Some("A"), Some("not-an-email")).get("email").unwrap(), ["is not a valid e-mail address"]);
        let e = errors(Some("a\u{1}b"), Some("x\u{7F}@y.z"));
        assert_eq!(e.get("name").unwrap(), ["can't contain control characters (found U+0001)"]);
        assert_eq!(e.get("email").unwrap(), ["can't contain control characters (found U+007F)"]);
        // Trimming would drop a leading one; it is refused all the same.
        assert_eq!(errors(Some("\u{B}Ada"), Some("x@y.z")).len(), 1);
        assert!(errors(Some("Ada\tKing"), Some("x@y.z")).is_empty());
        let long = "a".repeat(MAX_LEN + 1);
        assert_eq!(errors(Some(&long), Some("x@y.z")).len(), 1);
    }
}
