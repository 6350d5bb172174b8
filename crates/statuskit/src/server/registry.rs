//! The registry of open connections: each connection's shared state (requests in flight, when a
//! request head began to arrive, when it was last active), the caps in total and per address,
//! and which idle connection leaves to make room for a newcomer, or the refusal when none can.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::ServerConfig;
use crate::problem::Problem;
use crate::retry_after::RetryAfter;

/// Milliseconds since the server started, for the per-connection atomics.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock(pub(super) Instant);

impl Clock {
    pub(super) fn now(&self) -> u64 {
        self.0.elapsed().as_millis() as u64
    }

    pub(super) fn at(&self, ms: u64) -> Instant {
        self.0 + Duration::from_millis(ms)
    }
}

/// What one connection shares with the accept loop and its watchdog.
#[derive(Debug)]
pub(super) struct ConnState {
    pub(super) id: u64,
    pub(super) address: IpAddr,
    /// Requests handed to the service whose responses are not yet produced.
    pub(super) in_flight: AtomicUsize,
    /// 1 + when the first byte of a request head arrived with nothing in flight; 0 when none is
    /// arriving.
    pub(super) head_started: AtomicU64,
    /// When the connection last read a byte or finished a response.
    pub(super) last_active: AtomicU64,
    /// The client spoke HTTP/2 (no 408 can be written then; idle still applies).
    pub(super) h2: AtomicBool,
    /// It was told to close to make room for another.
    pub(super) evicting: AtomicBool,
    /// Wakes the connection to close (made room for another).
    pub(super) evict: Notify,
}

impl ConnState {
    /// Bytes arrived. Only the first bytes of a request matter here (they start its header
    /// timeout); the clock is read for those alone, not for every read of a body.
    pub(super) fn on_read(&self, data: &[u8], clock: Clock) {
        if self.in_flight.load(Ordering::Acquire) == 0 && self.head_started.load(Ordering::Relaxed) == 0 {
            let now = clock.now();
            if data.starts_with(b"PRI * HTTP/2.0") {
                self.h2.store(true, Ordering::Relaxed);
            }
            self.last_active.store(now, Ordering::Relaxed);
            self.head_started.store(now + 1, Ordering::Relaxed);
        }
    }

    pub(super) fn idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }
}

/// A request in flight on a connection; its drop marks the connection idle again.
pub(super) struct InFlight {
    conn: Arc<ConnState>,
    clock: Clock,
}

impl InFlight {
    pub(super) fn begin(conn: Arc<ConnState>, clock: Clock) -> Self {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        conn.head_started.store(0, Ordering::Relaxed);
        InFlight { conn, clock }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.conn.last_active.store(self.clock.now(), Ordering::Relaxed);
        self.conn.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy)]
pub(super) enum Refusal {
    Total(usize),
    PerAddress(usize),
}

impl Refusal {
    pub(super) fn problem(self) -> Problem {
        let detail = match self {
            Refusal::Total(n) => format!("the service has its limit of {n} connections open; retry in 1 s"),
            Refusal::PerAddress(n) => {
                format!("your address has the limit of {n} connections open; close some, or retry in 1 s")
            }
        };
        Problem::service_unavailable(RetryAfter::seconds(1), detail)
    }
}

/// Open connections, in total and per address.
#[derive(Debug, Default)]
pub(super) struct Registry {
    inner: Mutex<RegistryInner>,
}

#[derive(Debug, Default)]
pub(super) struct RegistryInner {
    next_id: u64,
    pub(super) per_address: HashMap<IpAddr, Count>,
    open: HashMap<u64, Arc<ConnState>>,
    /// Connections told to close to make room, not gone yet (they are counted in `open` until
    /// they are, but no longer against the caps).
    pub(super) evicting: usize,
}

/// Connections of one address.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Count {
    pub(super) open: usize,
    evicting: usize,
}

impl RegistryInner {
    /// The connection with nothing in flight that has been quiet longest, among those `which`
    /// picks and not already leaving; of those quiet since the same millisecond, the oldest. A
    /// scan: it only runs when a cap is reached.
    fn longest_idle(&self, which: impl Fn(&ConnState) -> bool) -> Option<Arc<ConnState>> {
        self.open
            .values()
            .filter(|c| which(c) && c.idle() && !c.evicting.load(Ordering::Relaxed))
            .min_by_key(|c| (c.last_active.load(Ordering::Relaxed), c.id))
            .cloned()
    }

    /// Tells `victim` to close at once.
    fn evict(&mut self, victim: &ConnState) {
        victim.evicting.store(true, Ordering::Relaxed);
        self.evicting += 1;
        if let Some(n) = self.per_address.get_mut(&victim.address) {
            n.evicting += 1;
        }
        victim.evict.notify_one();
    }
}

/// The key an address is counted under: IPv6 by its /64 (one host usually holds a whole /64).
pub(super) fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl Registry {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, RegistryInner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn admit(&self, ip: IpAddr, config: &ServerConfig, now: u64) -> Result<Arc<ConnState>, Refusal> {
        let address = address_key(ip);
        let mut inner = self.lock();
        let count = inner.per_address.get(&address).copied().unwrap_or_default();
        if count.open - count.evicting >= config.max_connections_per_address {
            // Make room among this address's own connections, or refuse.
            match inner.longest_idle(|c| c.address == address) {
                Some(victim) => inner.evict(&victim),
                None => return Err(Refusal::PerAddress(config.max_connections_per_address)),
            }
        }
        if inner.open.len() - inner.evicting >= config.max_connections {
            match inner.longest_idle(|_| true) {
                Some(victim) => inner.evict(&victim),
                None => return Err(Refusal::Total(config.max_connections)),
            }
        }
        inner.next_id += 1;
        let conn = Arc::new(ConnState {
            id: inner.next_id,
            address,
            in_flight: AtomicUsize::new(0),
            head_started: AtomicU64::new(0),
            last_active: AtomicU64::new(now),
            h2: AtomicBool::new(false),
            evicting: AtomicBool::new(false),
            evict: Notify::new(),
        });
        inner.per_address.entry(address).or_default().open += 1;
        inner.open.insert(conn.id, conn.clone());
        Ok(conn)
    }

    pub(super) fn release(&self, conn: &ConnState) {
        let mut inner = self.lock();
        inner.open.remove(&conn.id);
        let evicting = conn.evicting.load(Ordering::Relaxed);
        if evicting {
            inner.evicting -= 1;
        }
        if let Some(n) = inner.per_address.get_mut(&conn.address) {
            n.open -= 1;
            if evicting {
                n.evicting -= 1;
            }
            if n.open == 0 {
                inner.per_address.remove(&conn.address);
            }
        }
    }

    pub(super) fn open(&self) -> usize {
        self.lock().open.len()
    }
}

/// Takes the connection out of the registry when its task ends, however it ends.
pub(super) struct Registered {
    pub(super) registry: Arc<Registry>,
    pub(super) conn: Arc<ConnState>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.release(&self.conn);
    }
}
