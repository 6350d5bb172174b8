//! Serving over TCP with the contract's availability rules (§6): every connection has a
//! header-read timeout (answered with a 408 problem), an idle timeout, a cap on connections in
//! total and per address, a lingering close, and a graceful shutdown bounded in time.
//!
//! `axum::serve` exposes none of hyper's limits or timeouts, so this is an accept loop of its own
//! on `hyper-util`'s protocol-detecting connection builder (HTTP/1.1 and HTTP/2). What hyper-util
//! does not do, and is written here:
//!
//! - **Header and idle timeouts.** hyper's own `header_read_timeout` starts when a connection
//!   begins waiting for a request, so it is also its idle timeout, and it closes the socket
//!   without a word. Here the connection's reads are watched: a request head that has started to
//!   arrive must be complete within [`ServerConfig::header_read_timeout`] (else 408 and close); a
//!   connection with nothing in flight is closed after [`ServerConfig::idle_timeout`] (HTTP/2
//!   gets a GOAWAY).
//! - **Caps.** At [`ServerConfig::max_connections_per_address`], the address's own connection
//!   that has been idle longest is closed to make room; at [`ServerConfig::max_connections`], the
//!   longest-idle of all (nginx does the same with idle keep-alive connections). So silent or
//!   half-sent connections cannot lock callers out. Only when every connection that counts is
//!   busy with a request does a newcomer get a 503 problem with `Retry-After`, and is closed.
//! - **Lingering close** (as nginx's `lingering_close`): when a connection ends with part of a
//!   request body unread (an early 413, 401 or 415 to a client that sends its body without
//!   `Expect: 100-continue`), the rest is read and dropped, up to a bound, before the socket is
//!   closed, so that the client reads the answer instead of a reset.
//! - **Shutdown.** When `shutdown` resolves, no connection is accepted; requests in flight finish
//!   within [`ServerConfig::shutdown_grace`]; an idle keep-alive connection is kept for
//!   [`ServerConfig::shutdown_drain`] to answer one more request with `Connection: close`, so a
//!   gateway never loses a request it was sending as the connection closed; whatever is still
//!   open after the grace is closed.
//!
//! Body-read timeouts (408 for a body that trickles) belong to the request, not the connection:
//! see [`collect`](crate::collect).
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use statuskit::server::{serve, ServerConfig};
//!
//! # async fn run() -> std::io::Result<()> {
//! let app = Router::new().route("/", get(|| async { "hi" }));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let ctrl_c = async { let _ = tokio::signal::ctrl_c().await; };
//! serve(listener, app, ServerConfig::default(), ctrl_c).await
//! # }
//! ```

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::{Service, ServiceExt};

use crate::negotiate::Format;
use crate::problem::Problem;
use crate::request_id::RequestId;
use crate::retry_after::RetryAfter;
use crate::status;

/// How connections are bounded. [`Default`] gives the values documented on each field.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// A request head that has begun to arrive must be complete within this (default 10 s);
    /// otherwise the client gets a 408 problem and the connection is closed.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight and nothing arriving is closed after this
    /// (default 60 s).
    pub idle_timeout: Duration,
    /// Connections open at once (default 4096). Past it, the longest-idle connection is closed to
    /// make room; if none is idle, the newcomer gets a 503 problem.
    pub max_connections: usize,
    /// Connections open at once from one address (an IPv6 address counts by its /64 prefix;
    /// default 1024). Past it, the newcomer gets a 503 problem.
    pub max_connections_per_address: usize,
    /// How long requests in flight may take to finish after shutdown begins (default 10 s).
    pub shutdown_grace: Duration,
    /// After shutdown begins, how long an idle keep-alive connection stays open for one more
    /// request, answered with `Connection: close` (default 1 s, at most the grace): closing it at
    /// once races a client (a gateway) that is sending a request on it, and a POST so lost
    /// cannot be retried safely.
    pub shutdown_drain: Duration,
    /// The most of an unread request body that is read and dropped before a connection is closed
    /// (default 1 MiB), and for how long at most (default 2 s).
    pub linger_bytes: usize,
    /// See [`linger_bytes`](Self::linger_bytes).
    pub linger_time: Duration,
    /// hyper's read buffer for an HTTP/1.1 head (default 256 KiB): heads up to this size reach
    /// the service, where [`limits`](crate::limits) answers 414/431 as problems; a larger head
    /// gets hyper's own 431 (sent as a problem too).
    pub max_head_bytes: usize,
    /// The HTTP/2 header list size announced (default 256 KiB).
    pub max_h2_header_list_bytes: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
            max_connections_per_address: 1024,
            shutdown_grace: Duration::from_secs(10),
            shutdown_drain: Duration::from_secs(1),
            linger_bytes: 1 << 20,
            linger_time: Duration::from_secs(2),
            max_head_bytes: 256 * 1024,
            max_h2_header_list_bytes: 256 * 1024,
        }
    }
}

impl ServerConfig {
    /// Sets [`header_read_timeout`](Self::header_read_timeout).
    #[must_use]
    pub fn header_read_timeout(mut self, t: Duration) -> Self {
        self.header_read_timeout = t;
        self
    }

    /// Sets [`idle_timeout`](Self::idle_timeout).
    #[must_use]
    pub fn idle_timeout(mut self, t: Duration) -> Self {
        self.idle_timeout = t;
        self
    }

    /// Sets [`max_connections`](Self::max_connections) (at least 1).
    #[must_use]
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Sets [`max_connections_per_address`](Self::max_connections_per_address) (at least 1).
    #[must_use]
    pub fn max_connections_per_address(mut self, n: usize) -> Self {
        self.max_connections_per_address = n.max(1);
        self
    }

    /// Sets [`shutdown_grace`](Self::shutdown_grace).
    #[must_use]
    pub fn shutdown_grace(mut self, t: Duration) -> Self {
        self.shutdown_grace = t;
        self
    }
}

/// Serves `service` on `listener` until `shutdown` resolves, then lets requests in flight finish
/// within [`ServerConfig::shutdown_grace`] and closes the rest. Each request carries
/// [`ConnectInfo<SocketAddr>`] (the peer) in its extensions, as axum's
/// `into_make_service_with_connect_info` gives.
///
/// Returns when every connection is closed; errors only if the listener fails to report its
/// address.
pub async fn serve<S>(
    listener: TcpListener,
    service: S,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let config = Arc::new(fit_descriptors(config));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        // The header timeout is ours (it answers 408), not hyper's.
        .header_read_timeout(None)
        // hyper's own cap of 100 header fields is left as it is (above the contract's 96): a
        // higher one makes hyper allocate its field index on the heap for every request. A head
        // with more fields gets hyper's 431, sent as a problem (see `Watched`).
        .max_buf_size(config.max_head_bytes.max(8192));
    builder.http2().timer(TokioTimer::new()).max_header_list_size(config.max_h2_header_list_bytes);
    let builder = Arc::new(builder);
    let registry = Arc::new(Registry::default());
    let clock = Clock(Instant::now());
    let (stop_tx, stop_rx) = watch::channel(false);
    // Refusals write a few hundred bytes and linger briefly; past this many at once a refused
    // connection is just closed.
    let refusing = Arc::new(Semaphore::new(128));
    let mut tasks = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        // Reap finished connection tasks so the set does not grow.
        while tasks.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors or similar: wait rather than spin (as axum::serve does).
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match registry.admit(peer.ip(), &config, clock.now()) {
            Ok(conn) => {
                let ctx = ConnCtx {
                    builder: builder.clone(),
                    registry: registry.clone(),
                    config: config.clone(),
                    clock,
                    stop: stop_rx.clone(),
                };
                tasks.spawn(serve_connection(stream, peer, conn, service.clone(), ctx));
            }
            Err(refusal) => match refusing.clone().try_acquire_owned() {
                Ok(permit) => {
                    let linger = (config.linger_bytes.min(64 * 1024), Duration::from_millis(500));
                    tasks.spawn(async move {
                        refuse(stream, refusal, linger).await;
                        drop(permit);
                    });
                }
                Err(_) => {
                    // Too many refusals lingering: say it without waiting, then close.
                    let _ = stream.try_write(&raw_response(&refusal.problem()));
                }
            },
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let open = registry.open();
    if open > 0 {
        tracing::info!(
            open,
            grace_ms = config.shutdown_grace.as_millis() as u64,
            "shutting down: finishing requests in flight"
        );
    }
    if tokio::time::timeout(config.shutdown_grace, async { while tasks.join_next().await.is_some() {} }).await.is_err()
    {
        tracing::warn!(open = tasks.len(), "shutdown grace over: closing the connections still open");
        tasks.shutdown().await;
    }
    Ok(())
}

/// Descriptors kept for everything but connections: the database, logs, refusals.
const RESERVED_DESCRIPTORS: u64 = 256;

/// Raises the soft limit on open files to the hard limit, and lowers the connection caps so that
/// they fit in it (each connection holds two descriptors: hyper's and the spare one): a process
/// out of descriptors cannot accept anything, not even to refuse it.
fn fit_descriptors(mut config: ServerConfig) -> ServerConfig {
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "could not read or raise the open-files limit");
        u64::MAX
    });
    let fits = usize::try_from(limit.saturating_sub(RESERVED_DESCRIPTORS) / 2).unwrap_or(usize::MAX).max(1);
    if config.max_connections > fits {
        tracing::warn!(
            max_connections = config.max_connections,
            open_files_limit = limit,
            lowered_to = fits,
            "the connection cap does not fit in the open-files limit; lowered"
        );
        config.max_connections = fits;
    }
    config.max_connections_per_address = config.max_connections_per_address.min(config.max_connections);
    config
}

/// Milliseconds since the server started, for the per-connection atomics.
#[derive(Debug, Clone, Copy)]
struct Clock(Instant);

impl Clock {
    fn now(&self) -> u64 {
        self.0.elapsed().as_millis() as u64
    }

    fn at(&self, ms: u64) -> Instant {
        self.0 + Duration::from_millis(ms)
    }
}

/// What one connection shares with the accept loop and its watchdog.
#[derive(Debug)]
struct ConnState {
    id: u64,
    address: IpAddr,
    /// Requests handed to the service whose responses are not yet produced.
    in_flight: AtomicUsize,
    /// 1 + when the first byte of a request head arrived with nothing in flight; 0 when none is
    /// arriving.
    head_started: AtomicU64,
    /// When the connection last read a byte or finished a response.
    last_active: AtomicU64,
    /// The client spoke HTTP/2 (no 408 can be written then; idle still applies).
    h2: AtomicBool,
    /// It was told to close to make room for another.
    evicting: AtomicBool,
    /// Wakes the connection to close (made room for another).
    evict: Notify,
}

impl ConnState {
    /// Bytes arrived. Only the first bytes of a request matter here (they start its header
    /// timeout); the clock is read for those alone, not for every read of a body.
    fn on_read(&self, data: &[u8], clock: Clock) {
        if self.in_flight.load(Ordering::Acquire) == 0 && self.head_started.load(Ordering::Relaxed) == 0 {
            let now = clock.now();
            if data.starts_with(b"PRI * HTTP/2.0") {
                self.h2.store(true, Ordering::Relaxed);
            }
            self.last_active.store(now, Ordering::Relaxed);
            self.head_started.store(now + 1, Ordering::Relaxed);
        }
    }

    fn idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }
}

/// A request in flight on a connection; its drop marks the connection idle again.
struct InFlight {
    conn: Arc<ConnState>,
    clock: Clock,
}

impl InFlight {
    fn begin(conn: Arc<ConnState>, clock: Clock) -> Self {
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
enum Refusal {
    Total(usize),
    PerAddress(usize),
}

impl Refusal {
    fn problem(self) -> Problem {
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
struct Registry {
    inner: Mutex<RegistryInner>,
}

#[derive(Debug, Default)]
struct RegistryInner {
    next_id: u64,
    per_address: HashMap<IpAddr, Count>,
    open: HashMap<u64, Arc<ConnState>>,
    /// Connections told to close to make room, not gone yet (they are counted in `open` until
    /// they are, but no longer against the caps).
    evicting: usize,
}

/// Connections of one address.
#[derive(Debug, Default, Clone, Copy)]
struct Count {
    open: usize,
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
fn address_key(ip: IpAddr) -> IpAddr {
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
    fn lock(&self) -> std::sync::MutexGuard<'_, RegistryInner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn admit(&self, ip: IpAddr, config: &ServerConfig, now: u64) -> Result<Arc<ConnState>, Refusal> {
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

    fn release(&self, conn: &ConnState) {
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

    fn open(&self) -> usize {
        self.lock().open.len()
    }
}

/// Takes the connection out of the registry when its task ends, however it ends.
struct Registered {
    registry: Arc<Registry>,
    conn: Arc<ConnState>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.release(&self.conn);
    }
}

/// The socket as hyper sees it, telling the connection's state about every read, and putting a
/// problem in place of the bare responses hyper writes on its own.
struct Watched {
    inner: TcpStream,
    conn: Arc<ConnState>,
    clock: Clock,
    /// A problem response to write in place of hyper's own, and how much of it is written.
    replacement: Option<(Vec<u8>, usize)>,
}

/// The statuses hyper answers by itself when it cannot parse a request head (hyper's
/// `Server::on_error`: a malformed request line or header field, a target over 64 KiB, a head
/// over its buffer or with too many fields), with the problem each stands for.
fn own_answer_for(head: &[u8]) -> Option<Problem> {
    // hyper writes such an answer as one head with no body, `x-request-id` absent: every
    // response the service makes carries one (`ContractLayer`), so a 400, 414 or 431 head
    // without it came from hyper. 1xx heads (100 Continue) are hyper's too and stay as they are.
    let rest = head.strip_prefix(b"HTTP/1.1 ")?;
    let code = http::StatusCode::from_bytes(rest.get(..3)?).ok()?;
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    let has_id = head[..end].split(|b| *b == b'\n').any(|line| {
        line.len() > crate::header::X_REQUEST_ID.as_str().len()
            && line[..crate::header::X_REQUEST_ID.as_str().len()]
                .eq_ignore_ascii_case(crate::header::X_REQUEST_ID.as_str().as_bytes())
    });
    if has_id {
        return None;
    }
    if code == status::BAD_REQUEST.code {
        Some(Problem::bad_request(
            "the request could not be parsed as HTTP/1.1: its request line, a header field or its framing is malformed",
        ))
    } else if code == status::URI_TOO_LONG.code {
        Some(Problem::uri_too_long(u16::MAX as usize - 1))
    } else if code == status::REQUEST_HEADER_FIELDS_TOO_LARGE.code {
        Some(Problem::header_fields_too_large(
            "the request's header section is larger than the server reads, or has too many fields",
        ))
    } else {
        None
    }
}

impl Watched {
    /// Writes what is left of the replacement; `Ready(Ok)` once it is all out.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.replacement {
            if *written == bytes.len() {
                break;
            }
            let n = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            let data = &buf.filled()[before..];
            if !data.is_empty() {
                self.conn.on_read(data, self.clock);
            }
        }
        poll
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.replacement.is_some() {
            // hyper closes the connection after its own answer; whatever else it writes is dropped.
            std::task::ready!(self.poll_replacement(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        // Only a write that starts with an idle connection's response head can be hyper's own.
        if self.conn.idle() && buf.starts_with(b"HTTP/1.1 4") {
            if let Some(problem) = own_answer_for(buf) {
                tracing::debug!(status = %problem.status().code, "hyper answered a malformed request; sending it as a problem");
                self.replacement = Some((raw_response(&problem), 0));
                std::task::ready!(self.poll_replacement(cx))?;
                return Poll::Ready(Ok(buf.len()));
            }
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total = bufs.iter().map(|b| b.len()).sum();
        if self.replacement.is_none() && self.conn.idle() {
            // hyper writes a head it makes on its own as the first slice.
            let first = bufs.iter().find(|b| !b.is_empty());
            if let Some(problem) = first.filter(|b| b.starts_with(b"HTTP/1.1 4")).and_then(|b| own_answer_for(b)) {
                tracing::debug!(status = %problem.status().code, "hyper answered a malformed request; sending it as a problem");
                self.replacement = Some((raw_response(&problem), 0));
            }
        }
        if self.replacement.is_some() {
            std::task::ready!(self.poll_replacement(cx))?;
            return Poll::Ready(Ok(total));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What every connection task needs from the server.
struct ConnCtx {
    builder: Arc<auto::Builder<TokioExecutor>>,
    registry: Arc<Registry>,
    config: Arc<ServerConfig>,
    clock: Clock,
    stop: watch::Receiver<bool>,
}

/// How a connection's watchdog decided.
enum Ending {
    /// hyper finished the connection (either side closed, or an error).
    Done,
    /// A request head did not arrive in time: answer 408 ourselves.
    HeaderTimeout,
    /// Closing took too long; dropped.
    Forced,
    /// Closed at once to make room for another connection (it had nothing in flight).
    Evicted,
}

async fn serve_connection<S>(stream: TcpStream, peer: SocketAddr, conn: Arc<ConnState>, service: S, mut ctx: ConnCtx)
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let _registered = Registered { registry: ctx.registry.clone(), conn: conn.clone() };
    let _ = stream.set_nodelay(true);
    // A second descriptor of the same socket outlives hyper's, for the 408 and the lingering
    // close after hyper is done with it (hyper gives its socket back only for HTTP/1-only
    // connections).
    let (stream, spare) = match split_spare(stream) {
        Ok(pair) => pair,
        Err(e) => {
            tracing::warn!(error = %e, "could not set up a connection");
            return;
        }
    };
    let clock = ctx.clock;
    let io = TokioIo::new(Watched { inner: stream, conn: conn.clone(), clock, replacement: None });
    let hyper_service = {
        let conn = conn.clone();
        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            let in_flight = InFlight::begin(conn.clone(), clock);
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            let service = service.clone();
            async move {
                let res = service.oneshot(req).await;
                drop(in_flight);
                res
            }
        })
    };
    let config = ctx.config.clone();
    // Boxed rather than pinned on the stack, so that it (and hyper's descriptor) can be dropped
    // before the 408 and the lingering close.
    let mut connection = Box::pin(ctx.builder.serve_connection(io, hyper_service));
    let mut closing_since: Option<Instant> = None;
    let mut draining_since: Option<Instant> = None;
    let close_bound = Duration::from_secs(1).max(config.shutdown_grace);
    let drain = config.shutdown_drain.min(config.shutdown_grace);
    let ending = loop {
        if draining_since.is_none() && *ctx.stop.borrow() {
            draining_since = Some(Instant::now());
        }
        // Draining (shutdown has begun): an idle keep-alive connection is not closed at once, as
        // a client (a gateway above all) may be sending a request on it at that very moment, and
        // one that was sent cannot be retried safely if it is a POST. The next request on it is
        // answered with `Connection: close`; one that stays idle is closed after the drain.
        if let (Some(since), None) = (draining_since, closing_since) {
            if !conn.idle() || since.elapsed() >= drain {
                connection.as_mut().graceful_shutdown();
                closing_since = Some(Instant::now());
            }
        }
        let mut wake = next_check(&conn, &config, clock, closing_since, close_bound);
        if draining_since.is_some() && closing_since.is_none() {
            wake = wake.min(Instant::now() + Duration::from_millis(20));
        }
        let stop_seen = draining_since.is_some();
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break Ending::Done;
            }
            () = tokio::time::sleep_until(wake) => {
                if let Some(since) = closing_since {
                    if since.elapsed() >= close_bound {
                        break Ending::Forced;
                    }
                    continue;
                }
                if draining_since.is_some() {
                    continue;
                }
                match verdict(&conn, &config, clock.now()) {
                    Verdict::Fine => {}
                    Verdict::HeaderTimeout => break Ending::HeaderTimeout,
                    Verdict::Idle => {
                        connection.as_mut().graceful_shutdown();
                        closing_since = Some(Instant::now());
                    }
                }
            }
            () = conn.evict.notified() => break Ending::Evicted,
            _ = ctx.stop.changed(), if !stop_seen => {}
        }
    };
    drop(connection);
    let Ok(mut spare) = TcpStream::from_std(spare) else { return };
    if let Ending::HeaderTimeout = ending {
        let problem = Problem::request_timeout(format!(
            "the request's header section did not arrive within {} ms",
            config.header_read_timeout.as_millis()
        ));
        let _ = tokio::time::timeout(Duration::from_secs(1), spare.write_all(&raw_response(&problem))).await;
    }
    if matches!(ending, Ending::Done | Ending::HeaderTimeout) {
        linger(&mut spare, config.linger_bytes, config.linger_time).await;
    }
}

/// The socket for hyper, and a second descriptor of it.
fn split_spare(stream: TcpStream) -> io::Result<(TcpStream, std::net::TcpStream)> {
    let std_stream = stream.into_std()?;
    let spare = std_stream.try_clone()?;
    Ok((TcpStream::from_std(std_stream)?, spare))
}

enum Verdict {
    Fine,
    HeaderTimeout,
    Idle,
}

fn verdict(conn: &ConnState, config: &ServerConfig, now: u64) -> Verdict {
    if !conn.idle() {
        return Verdict::Fine;
    }
    let started = conn.head_started.load(Ordering::Relaxed);
    if started != 0 && !conn.h2.load(Ordering::Relaxed) {
        if now + 1 - started >= config.header_read_timeout.as_millis() as u64 {
            return Verdict::HeaderTimeout;
        }
        return Verdict::Fine;
    }
    if now.saturating_sub(conn.last_active.load(Ordering::Relaxed)) >= config.idle_timeout.as_millis() as u64 {
        return Verdict::Idle;
    }
    Verdict::Fine
}

/// When to look at the connection next.
fn next_check(
    conn: &ConnState,
    config: &ServerConfig,
    clock: Clock,
    closing_since: Option<Instant>,
    close_bound: Duration,
) -> Instant {
    if let Some(since) = closing_since {
        return since + close_bound;
    }
    let header = config.header_read_timeout.as_millis() as u64;
    let idle = config.idle_timeout.as_millis() as u64;
    if !conn.idle() {
        // Busy: look again after the shorter timeout (the request may end any time).
        return clock.at(clock.now() + header.min(idle).max(1));
    }
    let started = conn.head_started.load(Ordering::Relaxed);
    let at = if started != 0 && !conn.h2.load(Ordering::Relaxed) {
        started - 1 + header
    } else {
        // A head may start arriving at any moment, and nothing wakes this task when it does
        // (a wake-up per request would cost the read path): look again within a quarter of the
        // header timeout, so that a head's deadline is always seen before it passes.
        (conn.last_active.load(Ordering::Relaxed) + idle).min(clock.now() + (header / 4).max(10))
    };
    clock.at(at.max(clock.now() + 1))
}

/// Reads and drops what the client is still sending, within bounds, after sending our FIN:
/// closing a socket with unread data makes the kernel send a reset, which can destroy the answer
/// before the client reads it.
async fn linger(stream: &mut TcpStream, max_bytes: usize, max_time: Duration) {
    let _ = stream.shutdown().await;
    let mut buf = [0u8; 8192];
    let mut read = 0usize;
    let _ = tokio::time::timeout(max_time, async {
        while read < max_bytes {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
    })
    .await;
}

/// Answers a refused connection with a 503 problem and closes it.
async fn refuse(mut stream: TcpStream, refusal: Refusal, (linger_bytes, linger_time): (usize, Duration)) {
    let response = raw_response(&refusal.problem());
    let _ = tokio::time::timeout(Duration::from_millis(500), stream.write_all(&response)).await;
    linger(&mut stream, linger_bytes, linger_time).await;
}

/// An HTTP/1.1 response carrying `problem` as JSON, with a fresh request id, written by hand:
/// it is sent where hyper has no request to answer (a head that never completed, a connection
/// refused before any request), so no service can produce it.
fn raw_response(problem: &Problem) -> Vec<u8> {
    let id = RequestId::generate();
    let body = problem.render(Format::Json, id.as_str(), None);
    let status = problem.status();
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.code.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.title.as_bytes());
    out.extend_from_slice(b"\r\n");
    let mut field = |name: &[u8], value: &[u8]| {
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    };
    field(crate::header::CONTENT_TYPE.as_str().as_bytes(), crate::header::mime::PROBLEM_JSON.as_bytes());
    field(crate::header::CONTENT_LENGTH.as_str().as_bytes(), body.len().to_string().as_bytes());
    field(crate::header::X_REQUEST_ID.as_str().as_bytes(), id.as_str().as_bytes());
    field(crate::header::CONNECTION.as_str().as_bytes(), b"close");
    field(http::header::DATE.as_str().as_bytes(), httpdate::fmt_http_date(std::time::SystemTime::now()).as_bytes());
    for (name, value) in problem.headers() {
        if name != crate::header::CONNECTION {
            field(name.as_str().as_bytes(), value.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_counts_by_its_64_prefix_and_mapped_v4_as_v4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(address_key(mapped), "10.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn at_the_per_address_cap_its_own_idle_connection_leaves_and_only_busy_ones_refuse() {
        let registry = Registry::default();
        let config = ServerConfig::default().max_connections_per_address(2);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let a = registry.admit(ip, &config, 0).unwrap();
        let b = registry.admit(ip, &config, 1).unwrap();
        let other = registry.admit("127.0.0.2".parse().unwrap(), &config, 0).unwrap();
        // The third from that address makes the longest-idle of its own leave, not another's.
        let c = registry.admit(ip, &config, 2).unwrap();
        assert!(a.evicting.load(Ordering::Relaxed));
        assert!(!b.evicting.load(Ordering::Relaxed) && !other.evicting.load(Ordering::Relaxed));
        // With the rest busy, the next is refused (the leaving one no longer counts as room).
        b.in_flight.store(1, Ordering::Relaxed);
        c.in_flight.store(1, Ordering::Relaxed);
        assert!(matches!(registry.admit(ip, &config, 3), Err(Refusal::PerAddress(2))));
        // Once a busy one is gone, there is a place again.
        registry.release(&b);
        registry.release(&a);
        assert!(registry.admit(ip, &config, 4).is_ok());
        let inner = registry.lock();
        assert_eq!(inner.evicting, 0);
        assert_eq!(inner.per_address[&address_key(ip)].open, 2);
    }

    #[test]
    fn at_the_total_cap_the_longest_idle_connection_is_asked_to_leave() {
        let registry = Registry::default();
        let config = ServerConfig::default().max_connections(2);
        let old = registry.admit("127.0.0.1".parse().unwrap(), &config, 5).unwrap();
        let busy = registry.admit("127.0.0.2".parse().unwrap(), &config, 1).unwrap();
        busy.in_flight.store(1, Ordering::Relaxed);
        let admitted = registry.admit("127.0.0.3".parse().unwrap(), &config, 9).unwrap();
        // The idle one was told to go, not the busy one (which is older).
        assert!(old.evicting.load(Ordering::Relaxed));
        assert!(!busy.evicting.load(Ordering::Relaxed));
        let waiter = old.evict.notified();
        let mut waiter = std::pin::pin!(waiter);
        assert!(waiter.as_mut().enable(), "the idle connection holds a wake-up");
        // With every other connection busy, a newcomer is refused.
        admitted.in_flight.store(1, Ordering::Relaxed);
        assert!(matches!(registry.admit("127.0.0.4".parse().unwrap(), &config, 10), Err(Refusal::Total(2))));
    }

    #[test]
    fn hypers_own_answers_are_recognised_and_the_services_are_not() {
        let hyper_400 = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: Tue, 01 Dec 2026 10:00:00 GMT\r\n\r\n";
        assert_eq!(own_answer_for(hyper_400).unwrap().status().code, 400);
        let hyper_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n";
        assert_eq!(own_answer_for(hyper_431).unwrap().status().code, 431);
        let ours = b"HTTP/1.1 400 Bad Request\r\nX-Request-Id: 01ABC\r\ncontent-length: 2\r\n\r\n{}";
        assert!(own_answer_for(ours).is_none());
        assert!(own_answer_for(b"HTTP/1.1 100 Continue\r\n\r\n").is_none());
        assert!(own_answer_for(b"HTTP/1.1 404 Not Found\r\n\r\n").is_none());
    }

    #[test]
    fn a_raw_response_is_a_parseable_problem() {
        let bytes = raw_response(&Problem::request_timeout("too slow"));
        let text = String::from_utf8(bytes).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{head}");
        assert!(head.contains("content-type: application/problem+json"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let id = head.lines().find_map(|l| l.strip_prefix("x-request-id: ")).unwrap();
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["status"], 408);
        assert_eq!(json["request_id"], id);
        assert_eq!(head.matches("connection: close").count(), 1);
    }
}
