//! `Retry-After` (RFC 9110 §10.2.3): how long a client should wait, as seconds or as a date.
//!
//! ```
//! use statuskit::retry_after::RetryAfter;
//!
//! let value = RetryAfter::seconds(120).to_header_value();
//! assert_eq!(value, "120");
//! assert_eq!(RetryAfter::parse(b"120").unwrap(), RetryAfter::seconds(120));
//! assert!(RetryAfter::parse(b"Fri, 31 Dec 1999 23:59:59 GMT").is_ok());
//! assert!(RetryAfter::parse(b"-1").is_err());
//! ```

use std::fmt;
use std::time::{Duration, SystemTime};

use http::HeaderValue;

/// A `Retry-After` value. The contract sends seconds; clients must read both forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// `delay-seconds`.
    Seconds(u64),
    /// An `HTTP-date`, whole seconds.
    Date(SystemTime),
}

/// The value was neither `1*DIGIT` nor an HTTP-date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRetryAfter;

impl fmt::Display for InvalidRetryAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Retry-After must be a number of seconds or an HTTP-date")
    }
}

impl std::error::Error for InvalidRetryAfter {}

impl RetryAfter {
    /// Wait this many seconds.
    pub fn seconds(seconds: u64) -> Self {
        RetryAfter::Seconds(seconds)
    }

    /// Wait at least `delay`, rounded up to whole seconds (never 0 for a non-zero delay).
    pub fn from_duration(delay: Duration) -> Self {
        let whole = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
        RetryAfter::Seconds(whole)
    }

    /// Parses a field value: `1*DIGIT` or any of the three HTTP-date forms.
    pub fn parse(value: &[u8]) -> Result<Self, InvalidRetryAfter> {
        let text = std::str::from_utf8(value).map_err(|_| InvalidRetryAfter)?;
        let text = text.trim_matches([' ', '\t']);
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            // Saturate absurdly long digit strings rather than fail: they still mean "later".
            return Ok(RetryAfter::Seconds(text.parse().unwrap_or(u64::MAX)));
        }
        httpdate::parse_http_date(text).map(RetryAfter::Date).map_err(|_| InvalidRetryAfter)
    }

    /// How long to wait from `now`.
    pub fn delay_from(&self, now: SystemTime) -> Duration {
        match *self {
            RetryAfter::Seconds(s) => Duration::from_secs(s),
            RetryAfter::Date(at) => at.duration_since(now).unwrap_or(Duration::ZERO),
        }
    }

    /// The field value: digits, or an IMF-fixdate.
    pub fn to_header_value(&self) -> HeaderValue {
        match *self {
            RetryAfter::Seconds(s) => HeaderValue::from(s),
            RetryAfter::Date(at) => {
                HeaderValue::try_from(httpdate::fmt_http_date(at)).expect("an IMF-fixdate is a valid header value")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_both_forms() {
        assert_eq!(RetryAfter::parse(b" 7 ").unwrap(), RetryAfter::Seconds(7));
        let date = RetryAfter::parse(b"Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(date.to_header_value(), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert!(RetryAfter::parse(b"Sunday, 06-Nov-94 08:49:37 GMT").is_ok());
        assert!(RetryAfter::parse(b"Sun Nov  6 08:49:37 1994").is_ok());
        for bad in [&b""[..], b"1.5", b"+3", b"soon", b"\xff"] {
            assert_eq!(RetryAfter::parse(bad), Err(InvalidRetryAfter));
        }
    }

    #[test]
    fn durations_round_up() {
        assert_eq!(RetryAfter::from_duration(Duration::from_millis(1)), RetryAfter::Seconds(1));
        assert_eq!(RetryAfter::from_duration(Duration::from_secs(2)), RetryAfter::Seconds(2));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = RetryAfter::parse(&bytes);
        }

        #[test]
        fn seconds_round_trip(n in any::<u64>()) {
            let v = RetryAfter::seconds(n).to_header_value();
            prop_assert_eq!(RetryAfter::parse(v.as_bytes()).unwrap(), RetryAfter::seconds(n));
        }

        #[test]
        fn dates_round_trip(secs in 0u64..253_402_300_799) {
            let at = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
            let v = RetryAfter::Date(at).to_header_value();
            prop_assert_eq!(RetryAfter::parse(v.as_bytes()).unwrap(), RetryAfter::Date(at));
        }
    }
}
