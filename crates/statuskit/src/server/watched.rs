//! What watches a connection: the socket as hyper sees it (`Watched`, which marks when a request
//! head starts to arrive and puts a problem in place of hyper's own bare 400, 414 and 431), the
//! header-read and idle timeouts (`verdict`, `next_check`), and the problem
//! responses written by hand where no service can answer (the 408 for a head that never
//! completed, the 503 for a refused connection).

use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::registry::{Clock, ConnState};
use super::ServerConfig;
use crate::negotiate::Format;
use crate::problem::Problem;
use crate::problem_type::DocsBase;
use crate::request_id::RequestId;
use crate::status;

/// The socket as hyper sees it, telling the connection's state about every read, and putting a
/// problem in place of the bare responses hyper writes on its own.
pub(super) struct Watched {
    pub(super) inner: TcpStream,
    pub(super) conn: Arc<ConnState>,
    pub(super) clock: Clock,
    /// The docs base of the problems written in place of hyper's answers.
    pub(super) docs: DocsBase,
    /// A problem response to write in place of hyper's own, and how much of it is written.
    pub(super) replacement: Option<(Vec<u8>, usize)>,
}

/// The statuses hyper answers by itself when it cannot parse a request head (hyper's
/// `Server::on_error`: a malformed request line or header field, a target over 64 KiB, a head
/// over its buffer or with too many fields), with the problem each stands for.
pub(super) fn own_answer_for(head: &[u8]) -> Option<Problem> {
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
                self.replacement = Some((raw_response(&problem, &self.docs), 0));
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
                self.replacement = Some((raw_response(&problem, &self.docs), 0));
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

pub(super) enum Verdict {
    Fine,
    HeaderTimeout,
    Idle,
}

pub(super) fn verdict(conn: &ConnState, config: &ServerConfig, now: u64) -> Verdict {
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
pub(super) fn next_check(
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

/// An HTTP/1.1 response carrying `problem` as JSON, its `type` under `docs`, with a fresh
/// request id, written by hand: it is sent where hyper has no request to answer (a head that
/// never completed, a connection refused before any request), so no service can produce it.
pub(super) fn raw_response(problem: &Problem, docs: &DocsBase) -> Vec<u8> {
    let id = RequestId::generate();
    let body = problem.render_at(Format::Json, id.as_str(), None, docs);
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
