//! `WWW-Authenticate` challenges (RFC 9110 §11.6.1, RFC 6750 §3): what every 401 must carry.
//!
//! ```
//! use statuskit::challenge::Challenge;
//!
//! let c = Challenge::bearer("statuskit").error("invalid_token", "The access token expired");
//! assert_eq!(
//!     c.to_header_value(),
//!     r#"Bearer realm="statuskit", error="invalid_token", error_description="The access token expired""#
//! );
//! ```

use http::HeaderValue;

/// One authentication challenge: a scheme and its quoted parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    scheme: &'static str,
    params: Vec<(&'static str, String)>,
}

impl Challenge {
    /// `Bearer realm="…"` (RFC 6750).
    pub fn bearer(realm: &str) -> Self {
        Challenge { scheme: "Bearer", params: vec![("realm", quotable(realm))] }
    }

    /// `Basic realm="…"` (RFC 7617), as the token endpoint answers `invalid_client`.
    pub fn basic(realm: &str) -> Self {
        Challenge { scheme: "Basic", params: vec![("realm", quotable(realm))] }
    }

    /// Adds `error` and `error_description` (RFC 6750 §3).
    #[must_use]
    pub fn error(mut self, code: &str, description: &str) -> Self {
        self.params.push(("error", quotable(code)));
        self.params.push(("error_description", quotable(description)));
        self
    }

    /// Adds `scope` (RFC 6750 §3): the scopes that would grant access.
    #[must_use]
    pub fn scope(mut self, scope: &str) -> Self {
        self.params.push(("scope", quotable(scope)));
        self
    }

    /// The scheme, e.g. `Bearer`.
    pub fn scheme(&self) -> &str {
        self.scheme
    }

    /// The field value.
    pub fn to_header_value(&self) -> HeaderValue {
        let mut out = String::from(self.scheme);
        for (i, (name, value)) in self.params.iter().enumerate() {
            out.push_str(if i == 0 { " " } else { ", " });
            out.push_str(name);
            out.push_str("=\"");
            out.push_str(value);
            out.push('"');
        }
        HeaderValue::try_from(out).expect("challenge parameters are restricted to visible ASCII")
    }
}

/// RFC 6750 §3 limits attribute values to `%x20-21 / %x23-5B / %x5D-7E`: anything else becomes
/// a space, so the header is always valid and needs no escapes.
fn quotable(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e' => c,
            _ => ' ',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_error_attribute_without_a_token() {
        assert_eq!(Challenge::bearer("statuskit").to_header_value(), r#"Bearer realm="statuskit""#);
    }

    #[test]
    fn values_cannot_break_the_quoting() {
        let c = Challenge::bearer("a\"b\\c\nd");
        assert_eq!(c.to_header_value(), r#"Bearer realm="a b c d""#);
    }
}
