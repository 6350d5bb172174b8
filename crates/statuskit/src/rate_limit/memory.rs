//! In-process limit state: one governor keyed GCRA limiter per policy, keyed by packed `u64`s.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use super::{Decision, Key, Policy};

type Keyed = RateLimiter<u64, DefaultKeyedStateStore<u64>, DefaultClock, StateInformationMiddleware>;

/// Limiters by policy name, made on first use.
#[derive(Debug, Default)]
pub struct MemoryLimiter {
    by_policy: RwLock<HashMap<Arc<str>, Arc<Keyed>>>,
    clock: DefaultClock,
}

impl MemoryLimiter {
    fn limiter(&self, policy: &Policy) -> Arc<Keyed> {
        if let Some(l) = self.by_policy.read().expect("not poisoned").get(policy.name()) {
            return l.clone();
        }
        let quota = Quota::with_period(policy.emission_interval().max(Duration::from_nanos(1)))
            .expect("a positive period")
            .allow_burst(policy.quota());
        let mut map = self.by_policy.write().expect("not poisoned");
        map.entry(policy.name().into())
            .or_insert_with(|| Arc::new(RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>()))
            .clone()
    }

    /// Counts one request.
    pub fn check(&self, policy: &Policy, key: &Key) -> Decision {
        let limiter = self.limiter(policy);
        match limiter.check_key(&key.packed()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let used = policy.quota().get() - remaining;
                Decision { allowed: true, remaining, reset: policy.emission_interval() * used }
            }
            Err(not_until) => {
                Decision { allowed: false, remaining: 0, reset: not_until.wait_time_from(self.clock.now()) }
            }
        }
    }

    /// Forgets keys whose state is back to full, and gives the memory back.
    pub fn evict_idle(&self) {
        for l in self.by_policy.read().expect("not poisoned").values() {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    /// Keys currently held (for memory measurements).
    pub fn len(&self) -> usize {
        self.by_policy.read().expect("not poisoned").values().map(|l| l.len()).sum()
    }

    /// `true` when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_deny_with_a_wait() {
        let m = MemoryLimiter::default();
        let p = Policy::per_minute("t", 3);
        let k = Key::Name("a".into());
        let d: Vec<Decision> = (0..4).map(|_| m.check(&p, &k)).collect();
        assert_eq!(d.iter().map(|d| d.remaining).collect::<Vec<_>>(), [2, 1, 0, 0]);
        assert!(d[..3].iter().all(|d| d.allowed) && !d[3].allowed);
        assert!(d[3].reset > Duration::from_secs(19) && d[3].reset <= Duration::from_secs(20), "{:?}", d[3].reset);
        assert!(m.check(&p, &Key::Name("b".into())).allowed, "per key");
        assert_eq!(m.len(), 2);
    }
}
