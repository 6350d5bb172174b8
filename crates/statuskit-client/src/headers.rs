//! The response fields the client acts on: `Retry-After` (RFC 9110 §10.2.3) and the IETF
//! `RateLimit` / `RateLimit-Policy` fields (draft-ietf-httpapi-ratelimit-headers, RFC 9651 lists).
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use statuskit_client::headers::{parse_limit, RetryAfter};
//!
//! assert_eq!(RetryAfter::parse("120"), Some(RetryAfter::Seconds(120)));
//! let date = RetryAfter::parse("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
//! assert_eq!(date.until(UNIX_EPOCH), UNIX_EPOCH + Duration::from_secs(784_111_777));
//! assert_eq!(RetryAfter::parse("soon"), None);
//!
//! let limit = parse_limit(r#""reads";r=5;t=30"#).unwrap();
//! assert_eq!((limit[0].name.as_str(), limit[0].remaining, limit[0].reset), ("reads", 5, Some(30)));
//! assert!(parse_limit("reads;r=5").is_none(), "a bare token is not a policy name");
//! ```

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// A `Retry-After` value: seconds, or an HTTP-date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RetryAfter {
    /// `delay-seconds`.
    Seconds(u64),
    /// An HTTP-date (any of the three forms RFC 9110 §5.6.7 says a recipient must read).
    Date(SystemTime),
}

impl RetryAfter {
    /// Parses a field value; `None` for anything else (a client must ignore a value it cannot
    /// read, and then falls back to its own backoff).
    pub fn parse(value: &str) -> Option<Self> {
        let text = value.trim_matches([' ', '\t']);
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            // An absurdly long digit string still means "much later": saturate, never fail.
            return Some(RetryAfter::Seconds(text.parse().unwrap_or(u64::MAX)));
        }
        httpdate::parse_http_date(text).ok().map(RetryAfter::Date)
    }

    /// Reads the `Retry-After` field of `headers`, if it is there and valid.
    pub fn from_headers(headers: &http::HeaderMap) -> Option<Self> {
        headers.get(http::header::RETRY_AFTER)?.to_str().ok().and_then(RetryAfter::parse)
    }

    /// How long to wait, counted from `now` (zero for a date in the past).
    pub fn delay(&self, now: SystemTime) -> Duration {
        match *self {
            RetryAfter::Seconds(s) => Duration::from_secs(s),
            RetryAfter::Date(at) => at.duration_since(now).unwrap_or(Duration::ZERO),
        }
    }

    /// The moment it points at, counted from `now` (saturating far in the future).
    pub fn until(&self, now: SystemTime) -> SystemTime {
        match *self {
            RetryAfter::Seconds(s) => now.checked_add(Duration::from_secs(s)).unwrap_or(far_future()),
            RetryAfter::Date(at) => at,
        }
    }
}

/// A moment later than any wait worth taking, for values that overflow `SystemTime`.
pub(crate) fn far_future() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(253_402_300_799) // 9999-12-31T23:59:59Z
}

/// One item of the `RateLimit` field: how much of a policy's quota is left.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LimitItem {
    /// The policy's name.
    pub name: String,
    /// `r`: requests still available.
    pub remaining: i64,
    /// `t`: seconds until the quota is restored, if given.
    pub reset: Option<i64>,
}

/// One item of the `RateLimit-Policy` field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PolicyItem {
    /// The policy's name.
    pub name: String,
    /// `q`: the quota.
    pub quota: i64,
    /// `w`: the window in seconds, if given.
    pub window: Option<i64>,
}

/// An item's name and its integer parameters.
type NamedParams = (String, Vec<(String, i64)>);

/// The items of an RFC 9651 list whose members are all sf-strings, with their integer parameters.
fn items(value: &str) -> Option<Vec<NamedParams>> {
    let list: sfv::List = sfv::Parser::new(value).parse().ok()?;
    let mut out = Vec::with_capacity(list.len());
    for entry in list {
        let sfv::ListEntry::Item(item) = entry else { return None };
        let name = item.bare_item.as_string()?.as_str().to_owned();
        let params = item
            .params
            .iter()
            .filter_map(|(k, v)| v.as_integer().map(|i| (k.as_str().to_owned(), i64::from(i))))
            .collect();
        out.push((name, params));
    }
    (!out.is_empty()).then_some(out)
}

fn param(params: &[(String, i64)], key: &str) -> Option<i64> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
}

/// Parses a `RateLimit` field value; `None` when it is malformed (the draft: "MUST ignore").
pub fn parse_limit(value: &str) -> Option<Vec<LimitItem>> {
    items(value)?
        .into_iter()
        .map(|(name, params)| {
            let remaining = param(&params, "r").filter(|r| *r >= 0)?;
            let reset = param(&params, "t");
            if reset.is_some_and(|t| t < 0) {
                return None;
            }
            Some(LimitItem { name, remaining, reset })
        })
        .collect()
}

/// Parses a `RateLimit-Policy` field value; `None` when it is malformed.
pub fn parse_policy(value: &str) -> Option<Vec<PolicyItem>> {
    items(value)?
        .into_iter()
        .map(|(name, params)| {
            let quota = param(&params, "q").filter(|q| *q >= 0)?;
            let window = param(&params, "w");
            if window.is_some_and(|w| w <= 0) {
                return None;
            }
            Some(PolicyItem { name, quota, window })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(RetryAfter::parse(" 3 ").unwrap().delay(now), Duration::from_secs(3));
        assert_eq!(RetryAfter::parse("99999999999999999999999"), Some(RetryAfter::Seconds(u64::MAX)));
        assert_eq!(RetryAfter::Seconds(u64::MAX).until(now), far_future());
        // RFC 850 and asctime forms too.
        assert!(RetryAfter::parse("Sunday, 06-Nov-94 08:49:37 GMT").is_some());
        assert!(RetryAfter::parse("Sun Nov  6 08:49:37 1994").is_some());
        for bad in ["", "-1", "1.5", "tomorrow", "120 seconds"] {
            assert_eq!(RetryAfter::parse(bad), None, "{bad:?}");
        }
        // A date in the past means now.
        let past = RetryAfter::parse("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(past.delay(SystemTime::now()), Duration::ZERO);
    }

    #[test]
    fn ratelimit_fields() {
        let p = parse_policy(r#""burst";q=100;w=60,"daily";q=1000;w=86400"#).unwrap();
        assert_eq!(p[1], PolicyItem { name: "daily".into(), quota: 1000, window: Some(86400) });
        assert!(parse_policy(r#""x";w=60"#).is_none(), "q is required");
        assert!(parse_policy(r#""x";q=1;w=0"#).is_none());
        assert!(parse_limit(r#""x";r=-1"#).is_none());
        assert!(parse_limit("").is_none());
        assert!(parse_limit(r#"("a" "b");r=1"#).is_none());
        let l = parse_limit(r#""default";r=0;t=60;vendor-x=1"#).unwrap();
        assert_eq!((l[0].remaining, l[0].reset), (0, Some(60)));
    }
}
