//! `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers-10/-11): written by
//! hand (the values are fixed shapes), read with the `sfv` crate (RFC 9651), so clients and tests
//! parse them as any structured-field reader would.
//!
//! ```
//! use std::time::Duration;
//! use statuskit::rate_limit::{headers, Decision, Policy};
//!
//! let p = Policy::per_minute("reads", 600);
//! assert_eq!(headers::policy_value(&p), "\"reads\";q=600;w=60");
//! let d = Decision { allowed: true, remaining: 599, reset: Duration::from_millis(100) };
//! let v = headers::limit_value(&p, &d);
//! assert_eq!(v, "\"reads\";r=599;t=1");
//! let parsed = headers::parse_limit(v.to_str().unwrap()).unwrap();
//! assert_eq!((parsed[0].name.as_str(), parsed[0].remaining, parsed[0].reset), ("reads", 599, Some(1)));
//! ```

use std::fmt;
use std::time::Duration;

use http::HeaderValue;

use super::{Decision, Policy};

/// Whole seconds, rounded up.
pub(crate) fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// An sf-string: printable ASCII, with `"` and `\` escaped; anything else becomes `?`.
fn sf_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push('"');
    out
}

/// `RateLimit-Policy` for one policy: `"name";q=QUOTA;w=WINDOW_SECONDS`.
pub fn policy_value(policy: &Policy) -> HeaderValue {
    let w = ceil_secs(policy.window()).max(1);
    HeaderValue::try_from(format!("{};q={};w={w}", sf_string(policy.name()), policy.quota()))
        .expect("an sf-string and integers are a valid header value")
}

/// `RateLimit` after a decision: `"name";r=REMAINING;t=SECONDS`.
pub fn limit_value(policy: &Policy, d: &Decision) -> HeaderValue {
    // Written piece by piece with `itoa`, not `format!`: this runs on every limited response, and
    // `format!` cost about 1 800 instructions of it (callgrind), this about a fifth of that.
    let mut value = sf_string(policy.name()).into_bytes();
    let (mut r, mut t) = (itoa::Buffer::new(), itoa::Buffer::new());
    for part in [&b";r="[..], r.format(d.remaining).as_bytes(), b";t=", t.format(ceil_secs(d.reset)).as_bytes()] {
        value.extend_from_slice(part);
    }
    HeaderValue::from_maybe_shared(bytes::Bytes::from(value))
        .expect("an sf-string and integers are a valid header value")
}

/// A field that is not a valid RFC 9651 list of the draft's items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidField(pub String);

impl fmt::Display for InvalidField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidField {}

/// One `RateLimit-Policy` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyItem {
    /// Policy name.
    pub name: String,
    /// `q`: the quota.
    pub quota: i64,
    /// `w`: the window in seconds, if given.
    pub window: Option<i64>,
}

/// One `RateLimit` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitItem {
    /// Policy name.
    pub name: String,
    /// `r`: requests left.
    pub remaining: i64,
    /// `t`: seconds, if given.
    pub reset: Option<i64>,
}

/// An item's name and its integer parameters.
type NamedParams = (String, Vec<(String, i64)>);

/// Items of a list field as (name, integer parameters); every item must be an sf-string.
fn items(value: &str) -> Result<Vec<NamedParams>, InvalidField> {
    let list: sfv::List =
        sfv::Parser::new(value).parse().map_err(|e| InvalidField(format!("not an RFC 9651 list: {e}")))?;
    let mut out = Vec::new();
    for entry in list {
        let sfv::ListEntry::Item(item) = entry else {
            return Err(InvalidField("inner lists are not allowed".into()));
        };
        let name = item
            .bare_item
            .as_string()
            .ok_or_else(|| InvalidField("each item must be a quoted policy name".into()))?
            .as_str()
            .to_owned();
        let params = item
            .params
            .iter()
            .filter_map(|(k, v)| v.as_integer().map(|i| (k.as_str().to_owned(), i64::from(i))))
            .collect();
        out.push((name, params));
    }
    if out.is_empty() {
        return Err(InvalidField("the list is empty".into()));
    }
    Ok(out)
}

fn param(params: &[(String, i64)], key: &str) -> Option<i64> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
}

/// Parses `RateLimit-Policy`; `q` is required and non-negative, `w` positive if present.
pub fn parse_policy(value: &str) -> Result<Vec<PolicyItem>, InvalidField> {
    items(value)?
        .into_iter()
        .map(|(name, params)| {
            let quota = param(&params, "q")
                .filter(|q| *q >= 0)
                .ok_or_else(|| InvalidField(format!("policy {name:?} has no q")))?;
            let window = param(&params, "w");
            if window.is_some_and(|w| w <= 0) {
                return Err(InvalidField(format!("policy {name:?} has a w that is not positive")));
            }
            Ok(PolicyItem { name, quota, window })
        })
        .collect()
}

/// Parses `RateLimit`; `r` is required and non-negative, `t` non-negative if present.
pub fn parse_limit(value: &str) -> Result<Vec<LimitItem>, InvalidField> {
    items(value)?
        .into_iter()
        .map(|(name, params)| {
            let remaining = param(&params, "r")
                .filter(|r| *r >= 0)
                .ok_or_else(|| InvalidField(format!("limit {name:?} has no r")))?;
            let reset = param(&params, "t");
            if reset.is_some_and(|t| t < 0) {
                return Err(InvalidField(format!("limit {name:?} has a negative t")));
            }
            Ok(LimitItem { name, remaining, reset })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn draft_examples() {
        let p = parse_policy("\"burst\";q=100;w=60,\"daily\";q=1000;w=86400").unwrap();
        assert_eq!(p[1], PolicyItem { name: "daily".into(), quota: 1000, window: Some(86400) });
        assert_eq!(parse_limit("\"default\";r=50;t=30").unwrap()[0].remaining, 50);
        assert!(parse_policy("default;q=1").is_err(), "a bare token is invalid");
        assert!(parse_limit("\"x\";t=3").is_err(), "r is required");
        assert!(parse_policy("").is_err());
    }

    #[test]
    fn names_are_escaped() {
        let p = Policy::per_minute("we\"ird\\name", 5);
        let v = policy_value(&p);
        assert_eq!(parse_policy(v.to_str().unwrap()).unwrap()[0].name, "we\"ird\\name");
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,60}") {
            let _ = parse_policy(&s);
            let _ = parse_limit(&s);
        }

        #[test]
        fn round_trip(name in "[ -~]{1,12}", quota in 1u32..100_000, secs in 1u64..100_000, remaining in 0u32..100_000, reset_ms in 0u64..10_000_000) {
            let p = Policy::new(&name, quota, Duration::from_secs(secs));
            let got = parse_policy(policy_value(&p).to_str().unwrap()).unwrap();
            prop_assert_eq!(&got[0], &PolicyItem { name: name.clone(), quota: i64::from(quota), window: Some(secs as i64) });
            let d = Decision { allowed: true, remaining, reset: Duration::from_millis(reset_ms) };
            let got = parse_limit(limit_value(&p, &d).to_str().unwrap()).unwrap();
            prop_assert_eq!(&got[0], &LimitItem { name, remaining: i64::from(remaining), reset: Some(reset_ms.div_ceil(1000) as i64) });
        }
    }
}
