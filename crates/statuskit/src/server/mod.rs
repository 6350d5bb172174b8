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

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::Service;

use crate::problem_type::DocsBase;

use connection::{refuse, serve_connection, ConnCtx};
use registry::{Clock, Registry};
use watched::raw_response;

mod connection;
mod registry;
#[cfg(test)]
mod tests;
mod watched;

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
    /// The docs base of the problems the server writes itself, where no service answers (the 408
    /// for a head that never completed, the 503 at a connection cap, the 400, 414 and 431 in
    /// place of hyper's own): their `type` is `<base>#<status name>`. Default
    /// [`DocsBase::default`] (`/docs/errors`); give the base the API's
    /// [`ContractLayer::docs_base`](crate::ContractLayer::docs_base) has, so that every problem
    /// points at the same docs.
    pub docs_base: DocsBase,
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
            docs_base: DocsBase::default(),
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

    /// Sets [`docs_base`](Self::docs_base): the base of the `type` of the problems the server
    /// writes itself.
    ///
    /// ```
    /// use statuskit::problem_type::DocsBase;
    /// use statuskit::server::ServerConfig;
    ///
    /// let docs = DocsBase::new("https://api.example.com/errors").unwrap();
    /// let config = ServerConfig::default().docs_base(docs.clone());
    /// assert_eq!(config.docs_base, docs);
    /// ```
    #[must_use]
    pub fn docs_base(mut self, docs: DocsBase) -> Self {
        self.docs_base = docs;
        self
    }
}

/// Serves `service` on `listener` until `shutdown` resolves, then lets requests in flight finish
/// within [`ServerConfig::shutdown_grace`] and closes the rest. Each request carries
/// [`ConnectInfo<SocketAddr>`](axum::extract::ConnectInfo) (the peer) in its extensions, as axum's
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
                    let docs = config.docs_base.clone();
                    tasks.spawn(async move {
                        refuse(stream, refusal, &docs, linger).await;
                        drop(permit);
                    });
                }
                Err(_) => {
                    // Too many refusals lingering: say it without waiting, then close.
                    let _ = stream.try_write(&raw_response(&refusal.problem(), &config.docs_base));
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
