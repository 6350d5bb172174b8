//! Brute force: password attempts are limited per username and per client IP (GCRA, through the
//! service's rate limiter, so Redis shares them between instances), so guessing answers 429 with
//! `Retry-After` long before it can succeed.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use statuskit::rate_limit::{Key, Limiter, Policy};

/// Two policies over password attempts.
#[derive(Debug)]
pub struct LoginLimiter {
    limiter: Arc<Limiter>,
    per_user: Policy,
    per_ip: Policy,
}

impl LoginLimiter {
    /// `per_minute` attempts per username and per IP, all of them usable at once.
    pub fn new(limiter: Arc<Limiter>, per_minute: u32) -> Self {
        LoginLimiter {
            limiter,
            per_user: Policy::per_minute("login-user", per_minute),
            per_ip: Policy::per_minute("login-ip", per_minute),
        }
    }

    /// Counts one attempt; `Err(wait)` if either key is spent. A store that cannot answer lets
    /// the attempt through (and logs it): sign-in stays possible while Redis is down.
    pub async fn attempt(&self, username: &str, ip: Option<IpAddr>) -> Result<(), Duration> {
        let mut checks = vec![(&self.per_user, Key::Name(username.to_lowercase()))];
        if let Some(ip) = ip {
            checks.push((&self.per_ip, Key::Ip(ip)));
        }
        for (policy, key) in checks {
            match self.limiter.check(policy, &key).await {
                Ok(d) if !d.allowed => return Err(d.reset),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "sign-in limit unavailable; attempt allowed"),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn spends_per_user_and_per_ip() {
        let l = LoginLimiter::new(Arc::new(Limiter::memory()), 3);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(l.attempt("ada", Some(ip)).await.is_ok());
        }
        let wait = l.attempt("ADA", None).await.unwrap_err();
        assert!(wait > Duration::from_secs(10) && wait <= Duration::from_secs(20), "{wait:?}");
        assert!(l.attempt("bob", Some(ip)).await.is_err(), "the IP is spent too");
        assert!(l.attempt("bob", Some("10.0.0.1".parse().unwrap())).await.is_ok());
    }
}
