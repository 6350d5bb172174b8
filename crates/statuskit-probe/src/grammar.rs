//! The grammar of the response header fields the contract relies on. `ETag` and `Retry-After`
//! use the statuskit library's parsers (property-tested and fuzzed); `Allow` and
//! `WWW-Authenticate` are read here.

use statuskit::etag::EntityTag;
use statuskit::header::{is_tchar, is_token};
use statuskit::retry_after::RetryAfter;

/// `entity-tag = [ W/ ] DQUOTE *etagc DQUOTE` (RFC 9110 §8.8.3).
pub fn etag(value: &[u8]) -> Result<(), String> {
    EntityTag::parse(value)
        .map(|_| ())
        .map_err(|_| format!("`{}` is not an entity-tag", String::from_utf8_lossy(value)))
}

/// `Retry-After = HTTP-date / delay-seconds` (RFC 9110 §10.2.3).
pub fn retry_after(value: &[u8]) -> Result<RetryAfter, String> {
    RetryAfter::parse(value)
        .map_err(|_| format!("`{}` is neither delay-seconds nor an HTTP-date", String::from_utf8_lossy(value)))
}

/// `Allow = #method` (RFC 9110 §10.2.1): the methods, upper-cased as sent.
pub fn allow(value: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for m in value.split(',').map(|m| m.trim_matches([' ', '\t'])).filter(|m| !m.is_empty()) {
        if !is_token(m) {
            return Err(format!("`{m}` in Allow `{value}` is not a method token"));
        }
        out.push(m.to_owned());
    }
    Ok(out)
}

/// One challenge of `WWW-Authenticate`: its scheme and its parameters (values unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The auth-scheme, as sent.
    pub scheme: String,
    /// `auth-param`s, names lower-cased; a token68 is stored under the empty name.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn token(&mut self) -> &str {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default()
    }
    fn quoted(&mut self) -> Result<String, String> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err("a quoted-string is not closed".into()),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                Some(b'\\') => {
                    self.i += 1;
                    out.push(self.peek().ok_or("a quoted-string ends in a backslash")?);
                    self.i += 1;
                }
                Some(b) if b == b'\t' || b >= 0x20 && b != 0x7f => {
                    out.push(b);
                    self.i += 1;
                }
                Some(b) => return Err(format!("byte 0x{b:02x} in a quoted-string")),
            }
        }
    }
    /// `true` if what follows is `token BWS "="` (an auth-param, not a new challenge).
    fn at_param(&self) -> bool {
        let mut j = self.i;
        while self.s.get(j).copied().is_some_and(is_tchar) {
            j += 1;
        }
        if j == self.i {
            return false;
        }
        while matches!(self.s.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        self.s.get(j) == Some(&b'=')
    }
}

/// `WWW-Authenticate = #challenge` (RFC 9110 §11.6.1).
pub fn www_authenticate(value: &str) -> Result<Vec<Challenge>, String> {
    let mut c = Cursor { s: value.as_bytes(), i: 0 };
    let mut out: Vec<Challenge> = Vec::new();
    loop {
        c.ows();
        while c.peek() == Some(b',') {
            c.i += 1;
            c.ows();
        }
        if c.peek().is_none() {
            break;
        }
        let scheme = c.token().to_owned();
        if scheme.is_empty() {
            return Err(format!("`{value}`: expected an auth-scheme at byte {}", c.i));
        }
        let mut ch = Challenge { scheme, params: Vec::new() };
        let mut comma_taken = false;
        if c.peek() == Some(b' ') {
            c.ows();
            // token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
            let start = c.i;
            while c.peek().is_some_and(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)) {
                c.i += 1;
            }
            let body_end = c.i;
            while c.peek() == Some(b'=') {
                c.i += 1;
            }
            let mut after = c.i;
            while matches!(c.s.get(after), Some(b' ' | b'\t')) {
                after += 1;
            }
            let is_token68 = body_end > start && matches!(c.s.get(after), None | Some(b','));
            if is_token68 {
                ch.params.push((String::new(), String::from_utf8_lossy(&c.s[start..c.i]).into_owned()));
                c.i = after;
            } else {
                c.i = start;
                loop {
                    let name = c.token().to_ascii_lowercase();
                    if name.is_empty() {
                        return Err(format!("`{value}`: expected an auth-param at byte {}", c.i));
                    }
                    c.ows();
                    if c.peek() != Some(b'=') {
                        return Err(format!("`{value}`: auth-param `{name}` has no `=`"));
                    }
                    c.i += 1;
                    c.ows();
                    let v = if c.peek() == Some(b'"') { c.quoted()? } else { c.token().to_owned() };
                    if v.is_empty() && c.s[c.i - 1] != b'"' {
                        return Err(format!("`{value}`: auth-param `{name}` has no value"));
                    }
                    if ch.params.iter().any(|(n, _)| *n == name) {
                        return Err(format!("`{value}`: auth-param `{name}` appears twice"));
                    }
                    ch.params.push((name, v));
                    c.ows();
                    if c.peek() != Some(b',') {
                        break;
                    }
                    c.i += 1;
                    c.ows();
                    if !c.at_param() {
                        comma_taken = true;
                        break;
                    }
                }
            }
        }
        out.push(ch);
        c.ows();
        match c.peek() {
            None => break,
            Some(b',') => {}
            Some(_) if comma_taken => {}
            Some(b) => return Err(format!("`{value}`: unexpected `{}` at byte {}", b as char, c.i)),
        }
    }
    if out.is_empty() {
        return Err("WWW-Authenticate holds no challenge".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let c =
            www_authenticate(r#"Bearer realm="statuskit", error="invalid_token", error_description="it \"expired\"""#)
                .unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "Bearer");
        assert_eq!(c[0].param("realm"), Some("statuskit"));
        assert_eq!(c[0].param("error_description"), Some("it \"expired\""));
        let two = www_authenticate(r#"Basic realm="a", Bearer realm="b", scope=x"#).unwrap();
        assert_eq!(two.len(), 2);
        assert_eq!(two[1].param("scope"), Some("x"));
        assert_eq!(www_authenticate("Bearer").unwrap()[0].params, vec![]);
        assert_eq!(www_authenticate("Negotiate abc+/==").unwrap()[0].param(""), Some("abc+/=="));
        // A bare word after the scheme is a token68, which the grammar allows.
        assert_eq!(www_authenticate("Bearer realm").unwrap()[0].param(""), Some("realm"));
        assert_eq!(www_authenticate(r#"Bearer realm="""#).unwrap()[0].param("realm"), Some(""));
        for bad in
            ["", "realm=\"x\"", "Bearer realm=\"x", "Bearer a=b=c", "Bearer realm=\"a\", realm=\"b\"", "Bearer =x"]
        {
            assert!(www_authenticate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn allow_and_friends() {
        assert_eq!(allow("GET, HEAD,OPTIONS").unwrap(), ["GET", "HEAD", "OPTIONS"]);
        assert_eq!(allow("").unwrap(), Vec::<String>::new());
        assert!(allow("GET; HEAD").is_err());
        assert!(etag(b"\"x\"").is_ok() && etag(b"W/\"x\"").is_ok() && etag(b"x").is_err());
        assert!(retry_after(b"3").is_ok() && retry_after(b"soon").is_err());
    }
}
