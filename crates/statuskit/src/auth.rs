//! Credentials (RFC 9110 §11.6.2, RFC 6750 §2.1, RFC 7617) and the resource server's answers
//! (RFC 6750 §3): 401 with a `Bearer` challenge, 400 `invalid_request`, 401 `invalid_token`,
//! 403 `insufficient_scope`, each a problem carrying its `WWW-Authenticate`.
//!
//! Parsing is written here because the `headers` crate's typed `Authorization` accepts what
//! RFC 6750 calls malformed (it does not check the token68 alphabet nor reject a header sent
//! twice), and the contract answers those with 400.
//!
//! ```
//! use statuskit::auth::{Authorization, Bearer};
//!
//! let mut headers = http::HeaderMap::new();
//! headers.insert("authorization", "Bearer mF_9.B5f-4.1JqM".parse().unwrap());
//! assert_eq!(Authorization::from_headers(&headers).unwrap(), Some(Authorization::Bearer("mF_9.B5f-4.1JqM".into())));
//!
//! let realm = Bearer::new("statuskit");
//! let p = realm.missing();
//! assert_eq!(p.status().code, 401);
//! assert_eq!(p.headers()["www-authenticate"], r#"Bearer realm="statuskit""#);
//! assert_eq!(realm.insufficient_scope("customers:write").status().code, 403);
//! ```

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::HeaderMap;

use crate::challenge::Challenge;
use crate::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use crate::problem::Problem;

/// What the `Authorization` header carried.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Authorization {
    /// `Bearer <token68>`.
    Bearer(String),
    /// `Basic <base64(user:password)>`, with user and password form-decoded (RFC 6749 §2.3.1).
    Basic {
        /// The user-id (for OAuth: the client id).
        user: String,
        /// The password (for OAuth: the client secret).
        password: String,
    },
    /// Another scheme, lower-cased.
    Other(String),
}

/// The `Authorization` header is malformed; the message says how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidAuthorization(pub &'static str);

impl fmt::Display for InvalidAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for InvalidAuthorization {}

fn is_token68(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty() && body.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

impl Authorization {
    /// Parses one field value.
    pub fn parse(value: &[u8]) -> Result<Self, InvalidAuthorization> {
        let text = std::str::from_utf8(value)
            .map_err(|_| InvalidAuthorization("the Authorization header is not ASCII"))?
            .trim_matches([' ', '\t']);
        let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
        let rest = rest.trim_start_matches(' ');
        if !crate::header::is_token(scheme) {
            return Err(InvalidAuthorization("the Authorization header must be `<scheme> <credentials>`"));
        }
        if scheme.eq_ignore_ascii_case("bearer") {
            if !is_token68(rest) {
                return Err(InvalidAuthorization(
                    "a Bearer token must be one word of letters, digits and -._~+/ (RFC 6750 §2.1)",
                ));
            }
            return Ok(Authorization::Bearer(rest.to_owned()));
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let malformed = InvalidAuthorization("Basic credentials must be base64 of `id:secret`");
            if !is_token68(rest) {
                return Err(malformed);
            }
            let decoded = STANDARD.decode(rest).map_err(|_| malformed.clone())?;
            let decoded = String::from_utf8(decoded).map_err(|_| malformed.clone())?;
            let (user, password) = decoded.split_once(':').ok_or(malformed)?;
            let decode =
                |s: &str| form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
            return Ok(Authorization::Basic {
                user: decode(user).unwrap_or_default(),
                password: decode(password).unwrap_or_default(),
            });
        }
        Ok(Authorization::Other(scheme.to_ascii_lowercase()))
    }

    /// Reads `Authorization`: `Ok(None)` when absent; sent twice is malformed.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, InvalidAuthorization> {
        let mut values = headers.get_all(AUTHORIZATION).iter();
        let Some(first) = values.next() else { return Ok(None) };
        if values.next().is_some() {
            return Err(InvalidAuthorization("send the Authorization header once"));
        }
        Self::parse(first.as_bytes()).map(Some)
    }
}

/// The resource server's `Bearer` realm and the problems it answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bearer {
    realm: String,
}

impl Bearer {
    /// A realm, e.g. `statuskit`.
    pub fn new(realm: &str) -> Self {
        Bearer { realm: realm.to_owned() }
    }

    /// 401: no credentials at all; the challenge carries no error code (RFC 6750 §3.1).
    pub fn missing(&self) -> Problem {
        Problem::unauthorized(
            Challenge::bearer(&self.realm),
            "this endpoint needs an access token: send `Authorization: Bearer <token>` (get one at /oauth/token)",
        )
    }

    /// 401: credentials of a scheme this API does not take.
    pub fn wrong_scheme(&self, scheme: &str) -> Problem {
        Problem::unauthorized(
            Challenge::bearer(&self.realm),
            format!("this API takes Bearer tokens, not {scheme} credentials"),
        )
    }

    /// 400 `invalid_request`: the header is malformed, sent twice, or the token is sent twice.
    pub fn invalid_request(&self, detail: impl Into<String>) -> Problem {
        let detail = detail.into();
        let challenge = Challenge::bearer(&self.realm).error("invalid_request", &detail);
        Problem::bad_request(detail).with_header(WWW_AUTHENTICATE, challenge.to_header_value())
    }

    /// 401 `invalid_token`: unknown, expired or revoked.
    pub fn invalid_token(&self, detail: &'static str) -> Problem {
        Problem::unauthorized(Challenge::bearer(&self.realm).error("invalid_token", detail), detail)
    }

    /// 403 `insufficient_scope`, naming the scope that would grant access.
    pub fn insufficient_scope(&self, scope: &str) -> Problem {
        let detail = format!("this request needs the `{scope}` scope, which your token does not have");
        let challenge = Challenge::bearer(&self.realm).error("insufficient_scope", &detail).scope(scope);
        Problem::forbidden(detail).with_header(WWW_AUTHENTICATE, challenge.to_header_value())
    }

    /// Reads a bearer token: `Ok(token)`, or the problem to answer.
    pub fn token(&self, headers: &HeaderMap) -> Result<String, Problem> {
        match Authorization::from_headers(headers) {
            Ok(None) => Err(self.missing()),
            Ok(Some(Authorization::Bearer(token))) => Ok(token),
            Ok(Some(Authorization::Basic { .. })) => Err(self.wrong_scheme("basic")),
            Ok(Some(Authorization::Other(scheme))) => Err(self.wrong_scheme(&scheme)),
            Err(e) => Err(self.invalid_request(e.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn forms() {
        assert_eq!(Authorization::parse(b"bearer abc=="), Ok(Authorization::Bearer("abc==".into())));
        assert!(Authorization::parse(b"Bearer").is_err());
        assert!(Authorization::parse(b"Bearer a b").is_err());
        assert!(Authorization::parse(b"Bearer a,b").is_err());
        assert_eq!(
            Authorization::parse(b"Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"),
            Ok(Authorization::Basic { user: "s6BhdRkqt3".into(), password: "gX1fBat3bV".into() })
        );
        assert!(Authorization::parse(b"Basic !!!").is_err());
        assert_eq!(Authorization::parse(b"Digest x=1"), Ok(Authorization::Other("digest".into())));
        assert!(Authorization::parse(b"").is_err());
    }

    #[test]
    fn twice_is_malformed() {
        let mut h = HeaderMap::new();
        h.append(AUTHORIZATION, "Bearer a".parse().unwrap());
        h.append(AUTHORIZATION, "Bearer b".parse().unwrap());
        assert!(Authorization::from_headers(&h).is_err());
        let p = Bearer::new("r").token(&h).unwrap_err();
        assert_eq!(p.status().code, 400);
        assert!(p.headers()[WWW_AUTHENTICATE].to_str().unwrap().contains("error=\"invalid_request\""));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = Authorization::parse(&bytes);
        }

        #[test]
        fn bearer_round_trip(token in "[A-Za-z0-9._~+/-]{1,40}={0,2}") {
            let value = format!("Bearer {token}");
            prop_assert_eq!(Authorization::parse(value.as_bytes()), Ok(Authorization::Bearer(token)));
        }

        #[test]
        fn basic_round_trip(user in "[a-zA-Z0-9_]{1,12}", password in "[ -~]{0,20}") {
            let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let value = format!("Basic {}", STANDARD.encode(format!("{}:{}", enc(&user), enc(&password))));
            prop_assert_eq!(Authorization::parse(value.as_bytes()), Ok(Authorization::Basic { user, password }));
        }
    }
}
