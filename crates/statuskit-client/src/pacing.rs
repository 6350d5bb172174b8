//! Pacing from the IETF `RateLimit` / `RateLimit-Policy` fields: a client that knows how much of
//! its quota is left spends it at the rate it comes back instead of running into a 429.
//!
//! Per `host:port` and per kind of request (reads: GET/HEAD; writes: the rest, which servers
//! such as statuskit limit under another policy), the pacer remembers the last `r` (less the
//! requests sent since and not yet answered) and the policy's emission interval `w / q`. While
//! `r` is above zero, requests go at once; at zero, they are spaced one interval apart; after a
//! 429, nobody goes before its `Retry-After` (which takes precedence, as the draft says). Fields
//! of a cached answer (`Age` > 0) and malformed fields are ignored.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::{HeaderMap, Method};

use crate::headers::{parse_limit, parse_policy};

#[derive(Debug)]
struct State {
    remaining: i64,
    in_flight: i64,
    reset_at: Instant,
    interval: Option<Duration>,
    next_slot: Instant,
    blocked_until: Instant,
}

/// The pacer of a client (shared by its clones).
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    /// Per host: the reads' state and the writes' state.
    states: Mutex<HashMap<String, [Option<State>; 2]>>,
    /// Whether any server ever sent a field to pace by: until then, no lock is taken.
    active: AtomicBool,
}

fn kind(method: &Method) -> usize {
    usize::from(!matches!(*method, Method::GET | Method::HEAD))
}

impl Pacer {
    /// Reserves a place for one request; returns how long to wait before sending it.
    pub(crate) fn reserve(&self, host: &str, method: &Method) -> Duration {
        if !self.active.load(Ordering::Relaxed) {
            return Duration::ZERO;
        }
        let now = Instant::now();
        let mut states = self.states.lock().expect("pacer lock");
        let Some(s) = states.get_mut(host).and_then(|k| k[kind(method)].as_mut()) else { return Duration::ZERO };
        s.in_flight += 1;
        let start = now.max(s.blocked_until);
        if s.remaining > 0 && start == now {
            s.remaining -= 1;
            return Duration::ZERO;
        }
        if s.remaining <= 0 && s.reset_at <= now && start == now && s.interval.is_none() {
            // What we knew has expired and we know no rate: go.
            return Duration::ZERO;
        }
        let interval = s.interval.unwrap_or_else(|| s.reset_at.saturating_duration_since(now));
        let slot = s.next_slot.max(start);
        s.next_slot = slot + interval;
        slot - now
    }

    /// Learns from an answer (or, with `None`, from an attempt that got none).
    pub(crate) fn observe(
        &self,
        host: &str,
        method: &Method,
        headers: Option<&HeaderMap>,
        retry_after: Option<Duration>,
    ) {
        let limit = headers.and_then(|headers| {
            let cached = headers
                .get(http::header::AGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|age| age > 0);
            if cached {
                return None;
            }
            headers.get("ratelimit").and_then(|v| v.to_str().ok()).and_then(parse_limit)
        });
        let learn = headers.is_some() && (limit.is_some() || retry_after.is_some());
        if !learn && !self.active.load(Ordering::Relaxed) {
            return;
        }
        let now = Instant::now();
        let mut states = self.states.lock().expect("pacer lock");
        let k = kind(method);
        if let Some(s) = states.get_mut(host).and_then(|h| h[k].as_mut()) {
            s.in_flight = (s.in_flight - 1).max(0);
        }
        let Some(headers) = headers.filter(|_| learn) else { return };
        self.active.store(true, Ordering::Relaxed);
        if !states.contains_key(host) {
            states.insert(host.to_owned(), [None, None]);
        }
        let s = states.get_mut(host).expect("just inserted")[k].get_or_insert(State {
            remaining: i64::MAX,
            in_flight: 0,
            reset_at: now,
            interval: None,
            next_slot: now,
            blocked_until: now,
        });
        if let Some(items) = limit {
            // The tightest policy decides.
            let item = items.iter().min_by_key(|i| i.remaining).expect("parse_limit never returns an empty list");
            s.remaining = (item.remaining - s.in_flight).max(0);
            s.reset_at = now + Duration::from_secs(item.reset.unwrap_or(0).unsigned_abs());
            let policy = headers.get("ratelimit-policy").and_then(|v| v.to_str().ok()).and_then(parse_policy);
            if let Some(p) = policy.and_then(|p| p.into_iter().find(|p| p.name == item.name)) {
                if let (q @ 1.., Some(w)) = (p.quota, p.window) {
                    s.interval = Some(Duration::from_secs(w.unsigned_abs()) / u32::try_from(q).unwrap_or(u32::MAX));
                }
            }
            if s.remaining > 0 {
                s.next_slot = now;
            } else {
                // Spent: the next request fits one interval after this answer (GCRA refills
                // one request per `w / q`), or once the quota is back if the rate is unknown.
                let gap = s.interval.unwrap_or_else(|| s.reset_at.saturating_duration_since(now));
                s.next_slot = s.next_slot.max(now + gap);
            }
        }
        if let Some(wait) = retry_after {
            let until = now + wait;
            s.blocked_until = s.blocked_until.max(until);
            s.remaining = 0;
            s.next_slot = s.next_slot.max(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(limit: &str, policy: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("ratelimit", limit.parse().unwrap());
        h.insert("ratelimit-policy", policy.parse().unwrap());
        h
    }

    #[test]
    fn spends_what_is_left_then_spaces_requests() {
        let p = Pacer::default();
        assert_eq!(p.reserve("h", &Method::GET), Duration::ZERO, "nothing known: go");
        p.observe("h", &Method::GET, Some(&headers(r#""reads";r=2;t=10"#, r#""reads";q=10;w=10"#)), None);
        assert_eq!(p.reserve("h", &Method::GET), Duration::ZERO);
        assert_eq!(p.reserve("h", &Method::GET), Duration::ZERO);
        let third = p.reserve("h", &Method::GET);
        let fourth = p.reserve("h", &Method::GET);
        assert!(third <= Duration::from_secs(1), "{third:?}");
        assert!(fourth > third && fourth <= Duration::from_secs(2), "one interval (1 s) apart: {fourth:?}");
        assert_eq!(p.reserve("h", &Method::POST), Duration::ZERO, "writes are paced apart");
    }

    #[test]
    fn retry_after_blocks_everyone_and_age_is_ignored() {
        let p = Pacer::default();
        p.observe("h", &Method::GET, Some(&HeaderMap::new()), Some(Duration::from_secs(3)));
        assert!(p.reserve("h", &Method::GET) > Duration::from_secs(2));
        let q = Pacer::default();
        let mut h = headers(r#""reads";r=0;t=10"#, r#""reads";q=10;w=10"#);
        h.insert("age", "5".parse().unwrap());
        q.observe("h", &Method::GET, Some(&h), None);
        assert_eq!(q.reserve("h", &Method::GET), Duration::ZERO);
        let r = Pacer::default();
        r.observe("h", &Method::GET, Some(&headers("garbage;;", "also garbage")), None);
        assert_eq!(r.reserve("h", &Method::GET), Duration::ZERO, "malformed fields are ignored");
    }
}
