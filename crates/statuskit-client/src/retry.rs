//! When and how long to wait before trying again: backoff with jitter for failures the server did
//! not explain, and the per-host retry budget that keeps a fleet from storming a struggling API.
//!
//! The budget is tower's [`TpsBudget`] (a token bucket over a sliding window: every success
//! deposits, every retry withdraws, and a floor of retries per second is always allowed). A retry
//! that honours the server's own `Retry-After` does not spend it: the server chose that moment.
//!
//! ```
//! use std::time::Duration;
//! use statuskit_client::retry::Backoff;
//!
//! let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
//! for attempt in 1..10 {
//!     let d = b.delay(attempt);
//!     assert!(d <= Duration::from_secs(2));
//!     assert!(d >= Duration::from_millis(50).min(Duration::from_secs(1)));
//! }
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tower::retry::budget::{Budget, TpsBudget};

/// Exponential backoff with "equal jitter": attempt `n` waits between half and all of
/// `min(max, base·2ⁿ⁻¹)`, so clients that failed together do not come back together.
///
/// Hand-written (ten lines) rather than a dependency: `backoff` is unmaintained, and `backon`
/// drives its own retry loop, which would not fit the contract's loop (Retry-After, keys, budgets).
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    base: Duration,
    max: Duration,
}

impl Backoff {
    /// Starts at `base`, never waits longer than `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff { base, max }
    }

    /// The wait before retry number `attempt` (1 for the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self.base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let ceiling = exp.min(self.max);
        let half = ceiling / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// Settings of the per-host retry budget (see [`TpsBudget::new`]).
#[derive(Debug, Clone, Copy)]
pub struct RetryBudget {
    /// How long a deposit counts.
    pub ttl: Duration,
    /// Retries per second allowed whatever the successes.
    pub min_per_sec: u32,
    /// Retries allowed as a share of successes (0.2: one retry per five successes).
    pub retry_percent: f32,
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget { ttl: Duration::from_secs(10), min_per_sec: 10, retry_percent: 0.2 }
    }
}

/// One budget per `host:port`, shared by every clone of a client.
#[derive(Debug, Default)]
pub(crate) struct Budgets {
    settings: Option<RetryBudget>,
    hosts: Mutex<HashMap<String, Arc<TpsBudget>>>,
}

impl Budgets {
    pub(crate) fn new(settings: Option<RetryBudget>) -> Self {
        Budgets { settings, hosts: Mutex::new(HashMap::new()) }
    }

    fn get(&self, host: &str) -> Option<Arc<TpsBudget>> {
        let s = self.settings?;
        let mut hosts = self.hosts.lock().expect("budget map lock");
        // Looked up by `&str` first: the owned key is made only once per host.
        if let Some(b) = hosts.get(host) {
            return Some(b.clone());
        }
        let b = Arc::new(TpsBudget::new(s.ttl, s.min_per_sec, s.retry_percent));
        hosts.insert(host.to_owned(), b.clone());
        Some(b)
    }

    /// A success: refills.
    pub(crate) fn deposit(&self, host: &str) {
        if let Some(b) = self.get(host) {
            b.deposit();
        }
    }

    /// May a retry be made? Spends from the budget if so (always yes with no budget).
    pub(crate) fn withdraw(&self, host: &str) -> bool {
        self.get(host).is_none_or(|b| b.withdraw())
    }
}
