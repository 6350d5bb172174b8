//! Serving one connection: hyper's protocol-detecting builder on the watched socket, the
//! watchdog loop that applies the header and idle timeouts, eviction and the shutdown drain, the
//! 408 written after a head that never completed, the lingering close, and the 503 answer to a
//! connection refused at a cap.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tower::{Service, ServiceExt};

use super::registry::{Clock, ConnState, InFlight, Refusal, Registered, Registry};
use super::watched::{next_check, raw_response, verdict, Verdict, Watched};
use super::ServerConfig;
use crate::problem::Problem;
use crate::problem_type::DocsBase;

/// What every connection task needs from the server.
pub(super) struct ConnCtx {
    pub(super) builder: Arc<auto::Builder<TokioExecutor>>,
    pub(super) registry: Arc<Registry>,
    pub(super) config: Arc<ServerConfig>,
    pub(super) clock: Clock,
    pub(super) stop: watch::Receiver<bool>,
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

pub(super) async fn serve_connection<S>(
    stream: TcpStream,
    peer: SocketAddr,
    conn: Arc<ConnState>,
    service: S,
    mut ctx: ConnCtx,
) where
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
    let docs = ctx.config.docs_base.clone();
    let io = TokioIo::new(Watched { inner: stream, conn: conn.clone(), clock, docs, replacement: None });
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
        let response = raw_response(&problem, &config.docs_base);
        let _ = tokio::time::timeout(Duration::from_secs(1), spare.write_all(&response)).await;
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
pub(super) async fn refuse(
    mut stream: TcpStream,
    refusal: Refusal,
    docs: &DocsBase,
    (linger_bytes, linger_time): (usize, Duration),
) {
    let response = raw_response(&refusal.problem(), docs);
    let _ = tokio::time::timeout(Duration::from_millis(500), stream.write_all(&response)).await;
    linger(&mut stream, linger_bytes, linger_time).await;
}
