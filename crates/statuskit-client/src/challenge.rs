//! `WWW-Authenticate` challenges (RFC 9110 §11.6.1, RFC 6750 §3): what a 401 or 403 says about
//! the credentials it wants.
//!
//! Hand-written because no well-kept crate parses the generic challenge grammar: `headers` and
//! `http-auth` cover only the `Basic`/`Bearer` credentials a client sends, not the `auth-param`
//! lists (with quoted strings and several challenges in one field) a server answers with.
//!
//! ```
//! use statuskit_client::challenge::Challenge;
//!
//! let all = Challenge::parse_all(
//!     r#"Bearer realm="statuskit", error="insufficient_scope", scope="customers:write", Basic realm="x""#,
//! );
//! assert_eq!(all.len(), 2);
//! assert_eq!(all[0].scheme(), "Bearer");
//! assert_eq!(all[0].error(), Some("insufficient_scope"));
//! assert_eq!(all[0].scope(), Some("customers:write"));
//! assert_eq!(all[1].realm(), Some("x"));
//! ```

use std::fmt;

/// One challenge: a scheme and its parameters (or a `token68`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    scheme: String,
    token68: Option<String>,
    params: Vec<(String, String)>,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn skip_ws_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }
    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
    fn quoted(&mut self) -> Option<String> {
        // Called at the opening quote.
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(String::from_utf8_lossy(&out).into_owned());
                }
                b'\\' => {
                    self.i += 1;
                    out.push(self.peek()?);
                    self.i += 1;
                }
                b => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
    }
    /// At a token: is it `name =` (an auth-param) rather than the next challenge's scheme?
    fn at_param(&self) -> bool {
        let mut j = self.i;
        while self.s.get(j).copied().is_some_and(is_tchar) {
            j += 1;
        }
        while matches!(self.s.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        self.s.get(j) == Some(&b'=')
    }
}

impl Challenge {
    /// Every challenge in a field value, in order; parsing stops at the first thing that does not
    /// fit the grammar (what came before it is kept).
    pub fn parse_all(value: &str) -> Vec<Challenge> {
        let mut c = Cursor { s: value.as_bytes(), i: 0 };
        let mut out = Vec::new();
        loop {
            c.skip_ws_commas();
            let Some(scheme) = c.token() else { break };
            let mut challenge = Challenge { scheme, token68: None, params: Vec::new() };
            c.skip_ws();
            // token68: a run of token68 characters, optional trailing `=`, then the end or a comma.
            let start = c.i;
            while c.peek().is_some_and(is_token68) {
                c.i += 1;
            }
            let run_end = c.i;
            while c.peek() == Some(b'=') {
                c.i += 1;
            }
            let mut after = c.i;
            while matches!(c.s.get(after), Some(b' ' | b'\t')) {
                after += 1;
            }
            if run_end > start && matches!(c.s.get(after), None | Some(b',')) {
                challenge.token68 = Some(String::from_utf8_lossy(&c.s[start..c.i]).into_owned());
                c.i = after;
                out.push(challenge);
                continue;
            }
            c.i = start;
            // auth-params, comma-separated, until a token that is not followed by `=`.
            let mut broken = false;
            loop {
                c.skip_ws_commas();
                if c.peek().is_none() || !c.at_param() {
                    break;
                }
                let Some(name) = c.token() else {
                    broken = true;
                    break;
                };
                c.skip_ws();
                c.i += 1; // the `=`
                c.skip_ws();
                let value = match c.peek() {
                    Some(b'"') => c.quoted(),
                    _ => c.token(),
                };
                let Some(value) = value else {
                    broken = true;
                    break;
                };
                challenge.params.push((name.to_ascii_lowercase(), value));
            }
            out.push(challenge);
            if broken {
                break;
            }
        }
        out
    }

    /// The challenges of every `WWW-Authenticate` field line in `headers`.
    pub fn from_headers(headers: &http::HeaderMap) -> Vec<Challenge> {
        headers
            .get_all(http::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(Challenge::parse_all)
            .collect()
    }

    /// The first `Bearer` challenge in `headers`, if any.
    pub fn bearer(headers: &http::HeaderMap) -> Option<Challenge> {
        Challenge::from_headers(headers).into_iter().find(|c| c.scheme.eq_ignore_ascii_case("bearer"))
    }

    /// The auth scheme, as sent (compare it case-insensitively).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// A parameter's value (names are case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// `realm`.
    pub fn realm(&self) -> Option<&str> {
        self.param("realm")
    }

    /// `error` (RFC 6750 §3.1: `invalid_request`, `invalid_token`, `insufficient_scope`).
    pub fn error(&self) -> Option<&str> {
        self.param("error")
    }

    /// `error_description`.
    pub fn error_description(&self) -> Option<&str> {
        self.param("error_description")
    }

    /// `scope`: the scope the resource needs.
    pub fn scope(&self) -> Option<&str> {
        self.param("scope")
    }

    /// The `token68` form's value, for schemes that use it.
    pub fn token68(&self) -> Option<&str> {
        self.token68.as_deref()
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.scheme)?;
        if let Some(t) = &self.token68 {
            return write!(f, " {t}");
        }
        for (i, (k, v)) in self.params.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            write!(f, "{sep}{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let c = Challenge::parse_all(r#"Bearer realm="a \"b\"",error=invalid_token"#);
        assert_eq!(c[0].realm(), Some("a \"b\""));
        assert_eq!(c[0].error(), Some("invalid_token"));
        let c = Challenge::parse_all("Basic abc==, Bearer");
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].token68(), Some("abc=="));
        assert_eq!(c[1].scheme(), "Bearer");
        let c = Challenge::parse_all("Newauth realm=\"apps\", type=1, title=\"Login\", Basic realm=\"simple\"");
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].param("TYPE"), Some("1"));
        assert_eq!(c[1].realm(), Some("simple"));
    }

    #[test]
    fn garbage_never_panics_and_keeps_what_parsed() {
        for s in ["", ",,,", "=", "Bearer realm=\"unterminated", "Bearer realm=", "Bearer ===", "\"x\"", "Bearer a=b c"]
        {
            let _ = Challenge::parse_all(s);
        }
        let c = Challenge::parse_all("Bearer realm=\"x\", error=\"unterminated");
        assert_eq!(c[0].realm(), Some("x"));
        assert_eq!(c[0].error(), None);
    }
}
