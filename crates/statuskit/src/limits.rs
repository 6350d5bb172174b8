//! 414 and 431 as problems: a request target or a header section over the limits is answered by
//! the contract's problem, saying which limit it passed, before any route runs. So is the 400 of
//! RFC 9112 §3.2 for a request whose `Host` is missing (HTTP/1.1), repeated (any version) or not
//! a `host[:port]`; HTTP/2 and 3 name the authority in `:authority` and need no `Host`.
//!
//! hyper refuses such requests itself only far beyond these limits (a 64 KiB target, 100 header
//! fields, a head over its read buffer), and then with a bare status and no body, which no layer
//! can reach. Checking here, with lower limits, gives nearly every client the problem body; hyper's
//! own refusals stay as the last line for heads too large to read at all.
//!
//! ```
//! use axum::{routing::get, Router};
//! use statuskit::{limits::RequestLimitsLayer, ContractLayer};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hi" }))
//!     .layer(RequestLimitsLayer::default())
//!     .layer(ContractLayer::new());
//! let long = format!("/?q={}", "a".repeat(9000));
//! let req = http::Request::get(long).header("host", "example.com").body(axum::body::Body::empty()).unwrap();
//! let res = app.clone().oneshot(req).await.unwrap();
//! assert_eq!(res.status(), 414);
//! assert_eq!(res.headers()["content-type"], "application/problem+json");
//! let res = app.clone().oneshot(http::Request::get("/").body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), 400); // HTTP/1.1 without Host
//! let req = http::Request::get("/").header("host", "example.com").body(axum::body::Body::empty()).unwrap();
//! assert_eq!(app.oneshot(req).await.unwrap().status(), 200);
//! # });
//! ```

use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use http::{Request, Version};
use tower::{Layer, Service};

use crate::header::HOST;
use crate::problem::Problem;

/// The longest request target kept by default, in bytes: RFC 9110 §4.1 asks for at least 8000.
pub const MAX_TARGET_BYTES: usize = 8 * 1024;
/// The largest header section by default, in bytes (names, values and 4 bytes of framing a field).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// The most header fields by default: below hyper's own limit of 100, so this problem comes first.
pub const MAX_HEADER_FIELDS: usize = 96;

/// Layer of [`RequestLimits`].
#[derive(Debug, Clone, Copy)]
pub struct RequestLimitsLayer {
    max_target: usize,
    max_header_bytes: usize,
    max_header_fields: usize,
    require_host: bool,
}

impl Default for RequestLimitsLayer {
    fn default() -> Self {
        RequestLimitsLayer {
            max_target: MAX_TARGET_BYTES,
            max_header_bytes: MAX_HEADER_BYTES,
            max_header_fields: MAX_HEADER_FIELDS,
            require_host: true,
        }
    }
}

impl RequestLimitsLayer {
    /// The longest request target (path and query), in bytes.
    #[must_use]
    pub fn max_target(mut self, bytes: usize) -> Self {
        self.max_target = bytes;
        self
    }

    /// The largest header section, in bytes.
    #[must_use]
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes;
        self
    }

    /// The most header fields.
    #[must_use]
    pub fn max_header_fields(mut self, fields: usize) -> Self {
        self.max_header_fields = fields;
        self
    }

    /// Whether `Host` is checked (on by default): `false` lets requests without one, or with
    /// several, through, as for a service behind a proxy that rewrites it.
    #[must_use]
    pub fn require_host(mut self, on: bool) -> Self {
        self.require_host = on;
        self
    }

    /// The problem for `req`, if it passes a limit or its `Host` is wrong.
    fn check<B>(&self, req: &Request<B>) -> Option<Problem> {
        let target = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
        if target > self.max_target {
            return Some(Problem::uri_too_long(self.max_target));
        }
        let fields = req.headers().len();
        if fields > self.max_header_fields {
            return Some(Problem::header_fields_too_large(format!(
                "the request has {fields} header fields; at most {} are read",
                self.max_header_fields
            )));
        }
        let bytes: usize = req.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
        if bytes > self.max_header_bytes {
            return Some(Problem::header_fields_too_large(format!(
                "the header section is {bytes} bytes; at most {} are read",
                self.max_header_bytes
            )));
        }
        if self.require_host {
            return check_host(req);
        }
        None
    }
}

/// RFC 9112 §3.2: 400 for an HTTP/1.1 request without `Host`, for any request with more than one
/// `Host` field line, and for a `Host` that is not `uri-host [":" port]`.
fn check_host<B>(req: &Request<B>) -> Option<Problem> {
    let mut hosts = req.headers().get_all(HOST).iter();
    match (hosts.next(), hosts.next()) {
        (None, _) if req.version() == Version::HTTP_11 => {
            Some(Problem::bad_request("an HTTP/1.1 request must carry a Host header field naming the server"))
        }
        (None, _) => None,
        (Some(_), Some(_)) => {
            let n = req.headers().get_all(HOST).iter().count();
            Some(Problem::bad_request(format!("the request has {n} Host header fields; send exactly one")))
        }
        (Some(host), None) if !is_host(host.as_bytes()) => {
            Some(Problem::bad_request("the Host header field is not a valid host[:port]"))
        }
        (Some(_), None) => None,
    }
}

/// `Host = uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2): an IP literal in brackets,
/// or a reg-name / IPv4 address of unreserved, percent-encoded and sub-delim characters; the port
/// all digits. An empty value is allowed (§7.2: for a target URI with no authority).
fn is_host(value: &[u8]) -> bool {
    let (host, port) = if let Some(rest) = value.strip_prefix(b"[") {
        let Some(end) = rest.iter().position(|&b| b == b']') else { return false };
        let literal = &rest[..end];
        if literal.is_empty() || !literal.iter().all(|b| b.is_ascii_hexdigit() || b":.vV".contains(b)) {
            return false;
        }
        match &rest[end + 1..] {
            [] => (&[][..], None),
            [b':', port @ ..] => (&[][..], Some(port)),
            _ => return false,
        }
    } else {
        match value.iter().position(|&b| b == b':') {
            Some(i) => (&value[..i], Some(&value[i + 1..])),
            None => (value, None),
        }
    };
    host.iter().all(|&b| REG_NAME[usize::from(b)]) && port.is_none_or(|p| p.iter().all(u8::is_ascii_digit))
}

/// The bytes of a reg-name (RFC 3986 §3.2.2): unreserved, `%` of pct-encoded, and sub-delims. A
/// table, as every request's `Host` is checked: a lookup a byte instead of a search of the list.
const REG_NAME: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'%'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            );
        i += 1;
    }
    table
};

impl<S> Layer<S> for RequestLimitsLayer {
    type Service = RequestLimits<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestLimits { inner, limits: *self }
    }
}

/// Middleware answering 414 and 431; see the [module](self).
#[derive(Debug, Clone)]
pub struct RequestLimits<S> {
    inner: S,
    limits: RequestLimitsLayer,
}

impl<S, B> Service<Request<B>> for RequestLimits<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        match self.limits.check(&req) {
            None => ResponseFuture::inner(self.inner.call(req)),
            Some(problem) => ResponseFuture::answered(problem.into_response()),
        }
    }
}

crate::future::response_future! {
    /// Response future of [`RequestLimits`]: the inner service's, or a 414/431 at once.
    RequestLimits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: &str, headers: &[(&str, String)]) -> Request<()> {
        let mut b = Request::get(target).header(HOST, "example.com");
        for (name, value) in headers {
            b = b.header(*name, value.as_str());
        }
        b.body(()).unwrap()
    }

    #[test]
    fn passes_up_to_each_limit_and_refuses_past_it() {
        let l = RequestLimitsLayer::default().max_target(20).max_header_fields(3).max_header_bytes(40);
        assert!(l.check(&request("/abcdefghijklmnopqrs", &[])).is_none(), "20 bytes");
        let p = l.check(&request("/abcdefghijklmnopqrst", &[])).unwrap();
        assert_eq!(p.status().code, 414);

        let three: Vec<_> = (0..2).map(|i| (["a", "b", "c"][i], "1".to_owned())).collect();
        assert!(l.check(&request("/", &three)).is_none());
        let four: Vec<_> = (0..3).map(|i| (["a", "b", "c"][i], "1".to_owned())).collect();
        let p = l.check(&request("/", &four)).unwrap();
        assert_eq!(p.status().code, 431);
        assert!(p.detail().contains("4 header fields"), "{}", p.detail());

        // Host (4 + 11 + 4 = 19) + "x" + 16 bytes + 4 = 40: at the limit; one more byte is over.
        assert!(l.check(&request("/", &[("x", "v".repeat(16))])).is_none());
        let p = l.check(&request("/", &[("x", "v".repeat(17))])).unwrap();
        assert_eq!(p.status().code, 431);
        assert!(p.detail().contains("41 bytes"), "{}", p.detail());
    }

    fn with_hosts(version: Version, hosts: &[&str]) -> Request<()> {
        let mut b = Request::get("/").version(version);
        for h in hosts {
            b = b.header(HOST, *h);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn host_missing_in_http_1_1_or_repeated_is_400() {
        let l = RequestLimitsLayer::default();
        let p = l.check(&with_hosts(Version::HTTP_11, &[])).unwrap();
        assert_eq!(p.status().code, 400);
        assert!(p.detail().contains("must carry a Host"), "{}", p.detail());
        for version in [Version::HTTP_10, Version::HTTP_11, Version::HTTP_2] {
            let p = l.check(&with_hosts(version, &["a.example", "b.example"])).unwrap();
            assert_eq!(p.status().code, 400, "{version:?}");
            assert!(p.detail().contains("2 Host header fields"), "{}", p.detail());
        }
        // HTTP/1.0 may omit it; HTTP/2 has :authority instead.
        assert!(l.check(&with_hosts(Version::HTTP_10, &[])).is_none());
        assert!(l.check(&with_hosts(Version::HTTP_2, &[])).is_none());
        assert!(l.require_host(false).check(&with_hosts(Version::HTTP_11, &[])).is_none());
    }

    #[test]
    fn host_values() {
        for ok in ["example.com", "example.com:8080", "127.0.0.1:1", "[::1]", "[::1]:80", "xn--bcher-kva.example", ""] {
            assert!(is_host(ok.as_bytes()), "{ok:?}");
        }
        for bad in ["a b", "user@host", "host:port", "[::1", "[]", "[::1]x", "a/b", "h:1:2", "[::1]:x", "\"q\""] {
            assert!(!is_host(bad.as_bytes()), "{bad:?}");
            let req = with_hosts(Version::HTTP_11, &[bad]);
            assert_eq!(RequestLimitsLayer::default().check(&req).unwrap().status().code, 400, "{bad:?}");
        }
    }
}
