//! 429: GCRA rate limits as a tower layer, in process ([`memory`], governor) or shared between
//! instances ([`redis`], one Lua script per decision), with the `RateLimit` / `RateLimit-Policy`
//! fields of the IETF httpapi draft ([`headers`]) on every limited response.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{routing::get, Router};
//! use statuskit::rate_limit::{Key, Limiter, Policy, RateLimitLayer};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let policy = Policy::per_minute("reads", 1);
//! let layer = RateLimitLayer::new(Arc::new(Limiter::memory()), policy.clone(), policy, |_req| Key::Name("everyone".into()));
//! let app: Router = Router::new().route("/", get(|| async { "hi" })).layer(layer).layer(statuskit::ContractLayer::new());
//! let first = app.clone().oneshot(http::Request::get("/").body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(first.status(), 200);
//! assert_eq!(first.headers()["ratelimit-policy"], "\"reads\";q=1;w=60");
//! let second = app.oneshot(http::Request::get("/").body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(second.status(), 429);
//! assert_eq!(second.headers()["retry-after"], "60");
//! # });
//! ```

pub mod headers;
mod layer;
pub mod memory;
#[cfg(feature = "redis")]
pub mod redis;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

pub use layer::{KeyFn, RateLimit, RateLimitLayer, ResponseFuture};

/// A named quota: `quota` requests per `window`, all of them usable at once (burst = quota),
/// replenished evenly (one every `window / quota`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    name: Arc<str>,
    quota: NonZeroU32,
    window: Duration,
}

impl Policy {
    /// `quota` requests per `window`. A zero quota is raised to 1; a zero window to 1 s.
    pub fn new(name: &str, quota: u32, window: Duration) -> Self {
        let window = if window.is_zero() { Duration::from_secs(1) } else { window };
        Policy { name: name.into(), quota: NonZeroU32::new(quota).unwrap_or(NonZeroU32::MIN), window }
    }

    /// `quota` requests per minute.
    pub fn per_minute(name: &str, quota: u32) -> Self {
        Self::new(name, quota, Duration::from_secs(60))
    }

    /// The policy's name, as sent in the fields.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Requests per window.
    pub fn quota(&self) -> NonZeroU32 {
        self.quota
    }

    /// The window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// GCRA emission interval `T = window / quota`.
    pub fn emission_interval(&self) -> Duration {
        self.window / self.quota.get()
    }

    /// GCRA tolerance `τ = T · (quota − 1)`.
    pub fn tolerance(&self) -> Duration {
        self.emission_interval() * (self.quota.get() - 1)
    }
}

/// Whom a limit counts: a client (after authentication), an address (before), or any name
/// (a username for sign-in attempts).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Key {
    /// An authenticated client.
    Client(String),
    /// A peer address; IPv6 is keyed by its /64, as one host usually holds a whole /64.
    Ip(IpAddr),
    /// Anything else.
    Name(String),
}

impl Key {
    /// A compact key for in-memory state: IPv4 packed as it is, the rest hashed. Measured in
    /// governor at 1 M keys: 36 B per u64 key against 70 B per `IpAddr` key.
    pub fn packed(&self) -> u64 {
        const TAG_V4: u64 = 1 << 62;
        const TAG_V6: u64 = 2 << 62;
        const HASH_MASK: u64 = (1 << 62) - 1;
        let hash = |h: &dyn Fn(&mut std::collections::hash_map::DefaultHasher)| {
            let mut s = std::collections::hash_map::DefaultHasher::new();
            h(&mut s);
            s.finish() & HASH_MASK
        };
        match self {
            Key::Ip(IpAddr::V4(v4)) => TAG_V4 | u64::from(u32::from(*v4)),
            Key::Ip(IpAddr::V6(v6)) => TAG_V6 | hash(&|s| (u128::from(*v6) >> 64).hash(s)),
            Key::Client(c) => hash(&|s| (0u8, c).hash(s)),
            Key::Name(n) => hash(&|s| (1u8, n).hash(s)),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Client(c) => write!(f, "client:{c}"),
            Key::Ip(IpAddr::V4(v4)) => write!(f, "ip:{v4}"),
            Key::Ip(IpAddr::V6(v6)) => write!(f, "ip6:{:x}", u128::from(*v6) >> 64),
            Key::Name(n) => write!(f, "name:{n}"),
        }
    }
}

/// One decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// Requests left right now (the draft's `r`).
    pub remaining: u32,
    /// Allowed: until the quota is whole again. Denied: until the next request is allowed.
    pub reset: Duration,
}

/// The store of limit state could not answer; the store's own error, if any, is the `source`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// Redis refused the request or the connection failed.
    #[cfg(feature = "redis")]
    #[error("rate limit store unavailable")]
    Redis(#[from] ::redis::RedisError),
    /// A recent connection attempt failed; calls fail fast until the next attempt is due.
    #[error("rate limit store unavailable: not connected (retrying shortly)")]
    NotConnected,
    /// No answer within the store's timeout.
    #[error("rate limit store unavailable: no answer within {0:?}")]
    Timeout(std::time::Duration),
}

/// What to do when the store cannot answer (Redis down): let requests through, or answer 503.
/// Either way, at once: a decision never waits longer than the store's timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnBackendError {
    /// Allow the request, unlimited, and log it.
    #[default]
    Allow,
    /// Answer 503 with `Retry-After`.
    Deny,
}

/// Where limit state lives.
#[derive(Debug)]
#[non_exhaustive]
pub enum Limiter {
    /// In this process.
    Memory(memory::MemoryLimiter),
    /// In Redis, shared by every instance.
    #[cfg(feature = "redis")]
    Redis(Box<redis::RedisLimiter>),
}

impl Limiter {
    /// An in-process limiter.
    pub fn memory() -> Self {
        Limiter::Memory(memory::MemoryLimiter::default())
    }

    /// Counts one request of `key` against `policy` if that needs no waiting (in memory);
    /// `None` when the decision must be awaited with [`Limiter::check`] (Redis).
    pub fn check_now(&self, policy: &Policy, key: &Key) -> Option<Decision> {
        match self {
            Limiter::Memory(m) => Some(m.check(policy, key)),
            #[cfg(feature = "redis")]
            Limiter::Redis(_) => None,
        }
    }

    /// Counts one request of `key` against `policy`.
    pub async fn check(&self, policy: &Policy, key: &Key) -> Result<Decision, BackendError> {
        match self {
            Limiter::Memory(m) => Ok(m.check(policy, key)),
            #[cfg(feature = "redis")]
            Limiter::Redis(r) => r.check(policy, key).await,
        }
    }

    /// Forgets idle in-memory keys (call periodically; governor never evicts by itself).
    pub fn evict_idle(&self) {
        match self {
            Limiter::Memory(m) => m.evict_idle(),
            #[cfg(feature = "redis")]
            Limiter::Redis(_) => {} // Redis expires keys itself (SET … PX).
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcra_parameters() {
        let p = Policy::per_minute("reads", 600);
        assert_eq!(p.emission_interval(), Duration::from_millis(100));
        assert_eq!(p.tolerance(), Duration::from_millis(59_900));
        assert_eq!(Policy::per_minute("x", 0).quota().get(), 1);
    }

    #[test]
    fn packed_keys_keep_kinds_apart() {
        let v4 = Key::Ip("10.0.0.1".parse().unwrap()).packed();
        assert_eq!(v4, (1 << 62) | 0x0a00_0001);
        let a = Key::Ip("2001:db8::1".parse().unwrap());
        let b = Key::Ip("2001:db8::2".parse().unwrap());
        assert_eq!(a.packed(), b.packed(), "one /64, one key");
        assert_ne!(Key::Client("x".into()).packed(), Key::Name("x".into()).packed());
        assert_eq!(a.to_string(), b.to_string());
    }
}
