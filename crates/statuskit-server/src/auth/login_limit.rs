//! Brute force: password attempts are limited per username and per client IP (GCRA, governor),
//! so guessing answers 429 with `Retry-After` long before it can succeed.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Two keyed limiters over password attempts.
#[derive(Debug)]
pub struct LoginLimiter {
    by_user: DefaultKeyedRateLimiter<String>,
    by_ip: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl LoginLimiter {
    /// `per_minute` attempts per username and per IP, all of them usable at once.
    pub fn new(per_minute: NonZeroU32) -> Self {
        let quota = Quota::per_minute(per_minute);
        LoginLimiter {
            by_user: RateLimiter::keyed(quota),
            by_ip: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one attempt; `Err(wait)` if either key is spent.
    pub fn attempt(&self, username: &str, ip: Option<IpAddr>) -> Result<(), Duration> {
        let now = self.clock.now();
        if let Some(ip) = ip {
            self.by_ip.check_key(&ip).map_err(|n| n.wait_time_from(now))?;
        }
        self.by_user.check_key(&username.to_lowercase()).map_err(|n| n.wait_time_from(now))
    }

    /// Forgets idle keys; call periodically (governor never evicts by itself).
    pub fn evict_idle(&self) {
        self.by_user.retain_recent();
        self.by_user.shrink_to_fit();
        self.by_ip.retain_recent();
        self.by_ip.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spends_per_user_and_per_ip() {
        let l = LoginLimiter::new(NonZeroU32::new(3).unwrap());
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(l.attempt("ada", Some(ip)).is_ok());
        }
        let wait = l.attempt("ADA", None).unwrap_err();
        assert!(wait > Duration::from_secs(10) && wait <= Duration::from_secs(20), "{wait:?}");
        assert!(l.attempt("bob", Some(ip)).is_err(), "the IP is spent too");
        assert!(l.attempt("bob", Some("10.0.0.1".parse().unwrap())).is_ok());
    }
}
