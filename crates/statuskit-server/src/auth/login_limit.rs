//! Brute force: password attempts are limited per username and per client IP, and client-secret
//! attempts per client id and per client IP (GCRA, through the service's rate limiter, so Redis
//! shares them between instances), so guessing answers 429 with `Retry-After` long before it can
//! succeed. Both are counted before any hash is computed.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use statuskit::rate_limit::{Key, Limiter, Policy};

/// Two policies over password attempts, two over client-secret attempts.
#[derive(Debug)]
pub struct LoginLimiter {
    limiter: Arc<Limiter>,
    per_user: Policy,
    per_ip: Policy,
    per_client: Policy,
    per_client_ip: Policy,
}

impl LoginLimiter {
    /// `per_minute` attempts per username, per client id and per IP (passwords and client
    /// secrets counted apart), all of them usable at once.
    pub fn new(limiter: Arc<Limiter>, per_minute: u32) -> Self {
        LoginLimiter {
            limiter,
            per_user: Policy::per_minute("login-user", per_minute),
            per_ip: Policy::per_minute("login-ip", per_minute),
            per_client: Policy::per_minute("client-auth-id", per_minute),
            per_client_ip: Policy::per_minute("client-auth-ip", per_minute),
        }
    }

    /// Counts one password attempt; `Err(wait)` if either key is spent. A store that cannot
    /// answer lets the attempt through (and logs it): sign-in stays possible while Redis is down.
    pub async fn attempt(&self, username: &str, ip: Option<IpAddr>) -> Result<(), Duration> {
        self.spend(&self.per_user, Key::Name(username.to_lowercase()), &self.per_ip, ip).await
    }

    /// Counts one client-secret attempt that needs a hash (see [`super::verified`] for those
    /// that do not), per client id and per IP; `Err(wait)` if either key is spent. A client id
    /// need not exist to be counted, so guessing ids costs the same as guessing secrets.
    pub async fn client_attempt(&self, client_id: &str, ip: Option<IpAddr>) -> Result<(), Duration> {
        self.spend(&self.per_client, Key::Client(client_id.to_owned()), &self.per_client_ip, ip).await
    }

    async fn spend(&self, by_name: &Policy, name: Key, by_ip: &Policy, ip: Option<IpAddr>) -> Result<(), Duration> {
        let mut checks = vec![(by_name, name)];
        if let Some(ip) = ip {
            checks.push((by_ip, Key::Ip(ip)));
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

    #[tokio::test]
    async fn client_attempts_count_apart_from_passwords() {
        let l = LoginLimiter::new(Arc::new(Limiter::memory()), 2);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(l.client_attempt("app", Some(ip)).await.is_ok());
        assert!(l.client_attempt("app", None).await.is_ok());
        assert!(l.client_attempt("app", None).await.is_err(), "the client id is spent");
        assert!(l.client_attempt("other", Some(ip)).await.is_ok());
        assert!(l.client_attempt("third", Some(ip)).await.is_err(), "the IP is spent");
        assert!(l.attempt("ada", Some(ip)).await.is_ok(), "passwords have their own budget");
    }
}
