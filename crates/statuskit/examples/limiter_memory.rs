//! Measures the in-memory rate limiter's memory per key: one decision for each of N distinct
//! keys (default 1 000 000), resident memory before and after, then after idle keys are evicted.
//!
//! ```sh
//! cargo run --release -p statuskit --example limiter_memory -- 1000000
//! ```

use std::time::{Duration, Instant};

use statuskit::rate_limit::memory::MemoryLimiter;
use statuskit::rate_limit::{Key, Policy};

/// Resident set size in bytes, from /proc (Linux).
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn main() {
    let n: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    // A short window, so every key is idle (fully replenished) soon after its one request.
    let policy = Policy::new("reads", 600, Duration::from_millis(600));
    for (label, make) in [
        (
            "IPv4 keys (packed into u64)",
            Box::new(|i: u32| Key::Ip(std::net::IpAddr::from(i.to_be_bytes()))) as Box<dyn Fn(u32) -> Key>,
        ),
        ("client-id keys (hashed into u64)", Box::new(|i: u32| Key::Client(format!("client-{i}")))),
    ] {
        let limiter = MemoryLimiter::default();
        let _ = limiter.check(&policy, &make(u32::MAX)); // allocate the policy's limiter first
        let before = rss();
        let started = Instant::now();
        for i in 0..n {
            let d = limiter.check(&policy, &make(i));
            assert!(d.allowed);
        }
        let took = started.elapsed();
        let after = rss();
        let held = limiter.len();
        std::thread::sleep(Duration::from_millis(700));
        limiter.evict_idle();
        let evicted = rss();
        println!(
            "{label}: {held} keys, {:.1} B/key resident, {:.0} ns/decision (first use of each key); \
             after evicting idle keys: {} keys held, resident {:.1} MiB below the peak",
            (after.saturating_sub(before)) as f64 / f64::from(n),
            took.as_nanos() as f64 / f64::from(n),
            limiter.len(),
            (after.saturating_sub(evicted)) as f64 / (1024.0 * 1024.0),
        );
    }
}
