//! Speaking HTTP to the API under test: every exchange is kept, so the checks that look at every
//! answer (problem bodies, header grammar) can read them afterwards.

use std::sync::Mutex;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use statuskit::header;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request and its response, read whole.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// `METHOD /path`.
    pub request: String,
    /// The status code.
    pub status: u16,
    /// The response header fields.
    pub headers: HeaderMap,
    /// The response content.
    pub body: Vec<u8>,
}

impl Exchange {
    /// The first value of `name`, as text.
    pub fn header(&self, name: &HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// The probe's HTTP client: a base URL, an optional bearer token, and the log of exchanges.
#[derive(Debug)]
pub struct Client {
    base: String,
    token: Option<String>,
    inner: reqwest::Client,
    /// TLS for [`Client::raw`] on an `https://` base URL.
    raw_tls: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
    log: Mutex<Vec<Exchange>>,
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct Req {
    method: Method,
    path: String,
    headers: Vec<(HeaderName, String)>,
    body: Option<Vec<u8>>,
    auth: Auth,
}

#[derive(Debug, Clone)]
enum Auth {
    Token,
    None,
    Bearer(String),
}

impl Req {
    /// `method` on `path` (relative to the base URL, or absolute), with the token if one is set.
    pub fn new(method: Method, path: &str) -> Self {
        Req { method, path: path.to_owned(), headers: Vec::new(), body: None, auth: Auth::Token }
    }

    /// Adds a header field.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Sets the content and its type.
    #[must_use]
    pub fn body(self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        let mut r = self.header(header::CONTENT_TYPE, content_type);
        r.body = Some(body.into());
        r
    }

    /// Sends no credentials.
    #[must_use]
    pub fn anonymous(mut self) -> Self {
        self.auth = Auth::None;
        self
    }

    /// Sends this bearer token instead of the configured one.
    #[must_use]
    pub fn bearer(mut self, token: &str) -> Self {
        self.auth = Auth::Bearer(token.to_owned());
        self
    }
}

/// The API could not be reached or answered something unreadable.
#[derive(Debug)]
pub struct TransportError(pub String);

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TransportError {}

/// How the client trusts an `https://` API.
#[derive(Debug, Clone, Default)]
pub struct Tls {
    /// PEM certificates (one or more CAs) to trust besides the platform's roots.
    pub cacert: Option<Vec<u8>>,
    /// Accept any certificate: no verification at all.
    pub insecure: bool,
}

/// The error and its causes, joined: reqwest's own text ("error sending request") hides the
/// reason (connection refused, unknown issuer) in its sources.
pub fn describe(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

impl Client {
    /// A client for the API at `base` (e.g. `https://api.example.com`), trusting the platform's
    /// certificate roots plus `tls.cacert`, or nothing at all with `tls.insecure`.
    pub fn new(base: &str, token: Option<String>, timeout: Duration, tls: &Tls) -> Result<Self, TransportError> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .danger_accept_invalid_certs(tls.insecure);
        if let Some(pem) = &tls.cacert {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| TransportError(format!("the CA file is not PEM: {}", describe(&e))))?;
            if certs.is_empty() {
                return Err(TransportError("the CA file holds no PEM certificate".into()));
            }
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let inner = builder.build().map_err(|e| TransportError(describe(&e)))?;
        let raw_tls = crate::raw_tls::config(tls)?;
        Ok(Client { base: base.trim_end_matches('/').to_owned(), token, inner, raw_tls, log: Mutex::new(Vec::new()) })
    }

    /// The base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends `GET /` without credentials and without logging it: `Ok` if the API answered
    /// anything at all (any status), the transport error otherwise.
    pub async fn reach(&self) -> Result<u16, TransportError> {
        let res = self.inner.get(self.url("/")).send().await.map_err(|e| TransportError(describe(&e)))?;
        Ok(res.status().as_u16())
    }

    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// `true` if a token was configured.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Sends `req`, reads the whole response, and logs the exchange.
    pub async fn send(&self, req: Req) -> Result<Exchange, TransportError> {
        let mut b = self.inner.request(req.method.clone(), self.url(&req.path));
        let token = match &req.auth {
            Auth::Token => self.token.clone(),
            Auth::None => None,
            Auth::Bearer(t) => Some(t.clone()),
        };
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        for (name, value) in &req.headers {
            b = b.header(name, value);
        }
        if let Some(body) = req.body {
            b = b.body(body);
        }
        // Logged by path: an absolute URL on the API itself (a `Location`) is cut to its path.
        let path = req.path.strip_prefix(&self.base).filter(|p| p.starts_with('/')).unwrap_or(&req.path);
        let request = format!("{} {path}", req.method);
        let res = b.send().await.map_err(|e| TransportError(format!("{request}: {}", describe(&e))))?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.bytes().await.map_err(|e| TransportError(format!("{request}: {}", describe(&e))))?.to_vec();
        let ex = Exchange { request, status, headers, body };
        self.log.lock().expect("log lock").push(ex.clone());
        Ok(ex)
    }

    /// Writes `head` and `body` on a fresh TCP connection exactly as given (for requests an HTTP
    /// client would correct, such as a body without `Content-Length`), and reads one response.
    /// The `Host` and `Authorization` fields are added.
    pub async fn raw(
        &self,
        method: &Method,
        path: &str,
        fields: &[(HeaderName, &str)],
        body: &[u8],
    ) -> Result<Exchange, TransportError> {
        let err = |e: &dyn std::fmt::Display| TransportError(format!("raw {method} {path}: {e}"));
        let (tls, authority) = match (self.base.strip_prefix("https://"), self.base.strip_prefix("http://")) {
            (Some(a), _) => (true, a),
            (None, Some(a)) => (false, a),
            (None, None) => {
                return Err(TransportError(format!("raw requests need an http(s):// base URL, not {}", self.base)))
            }
        };
        // A base URL with a path (`https://host/api`) prefixes the request-target, as in `url`.
        let (authority, prefix) = authority.split_once('/').map_or((authority, ""), |(a, p)| (a, p));
        let target = if prefix.is_empty() { path.to_owned() } else { format!("/{prefix}{path}") };
        let mut head = format!("{method} {target} HTTP/1.1\r\n{}: {authority}\r\n", header::HOST);
        if let Some(t) = &self.token {
            head.push_str(&format!("{}: Bearer {t}\r\n", header::AUTHORIZATION));
        }
        for (name, value) in fields {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("{}: close\r\n\r\n", header::CONNECTION));
        let connect = if authority.contains(':') {
            authority.to_owned()
        } else {
            format!("{authority}:{}", if tls { 443 } else { 80 })
        };
        let tcp = tokio::net::TcpStream::connect(&connect).await.map_err(|e| err(&e))?;
        let buf = if tls {
            let name = crate::raw_tls::server_name(&connect)?;
            let connector = tokio_rustls::TlsConnector::from(self.raw_tls.clone());
            let stream = connector.connect(name, tcp).await.map_err(|e| err(&describe(&e)))?;
            roundtrip(stream, head.as_bytes(), body).await.map_err(|e| err(&e))?
        } else {
            roundtrip(tcp, head.as_bytes(), body).await.map_err(|e| err(&e))?
        };
        let ex = parse_response(&format!("{method} {path} (raw)"), &buf).ok_or_else(|| err(&"unreadable response"))?;
        self.log.lock().expect("log lock").push(ex.clone());
        Ok(ex)
    }

    /// Every exchange so far.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.log.lock().expect("log lock").clone()
    }
}

/// Writes `head` and `body` on `stream` and reads one response (whole, or its head when the body
/// does not come within 10 s).
async fn roundtrip<S>(mut stream: S, head: &[u8], body: &[u8]) -> Result<Vec<u8>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    stream.write_all(head).await.map_err(|e| e.to_string())?;
    stream.write_all(body).await.map_err(|e| e.to_string())?;
    stream.flush().await.map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if head_end(&buf).is_some_and(|end| buf.len() >= end + declared_length(&buf[..end])) {
                break;
            }
        }
        Ok::<_, std::io::Error>(())
    })
    .await;
    match read {
        Ok(Ok(())) => Ok(buf),
        // A TLS peer that closes without close_notify: what came is what counts.
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof && head_end(&buf).is_some() => Ok(buf),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) if head_end(&buf).is_some() => Ok(buf),
        Err(_) => Err("no response within 10 s".into()),
    }
}

fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn declared_length(head: &[u8]) -> usize {
    let text = String::from_utf8_lossy(head);
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(header::CONTENT_LENGTH.as_str()))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

fn parse_response(request: &str, buf: &[u8]) -> Option<Exchange> {
    let end = head_end(buf)?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut headers = HeaderMap::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (k, v) = line.split_once(':')?;
        headers.append(HeaderName::from_bytes(k.trim().as_bytes()).ok()?, HeaderValue::from_str(v.trim()).ok()?);
    }
    let len = declared_length(&buf[..end]).min(buf.len() - end);
    Some(Exchange { request: request.to_owned(), status, headers, body: buf[end..end + len].to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_responses_parse() {
        let ex =
            parse_response("x", b"HTTP/1.1 411 Length Required\r\ncontent-length: 2\r\nx-a: b\r\n\r\n{}extra").unwrap();
        assert_eq!(ex.status, 411);
        assert_eq!(ex.body, b"{}");
        assert_eq!(ex.headers["x-a"], "b");
        assert!(parse_response("x", b"HTTP/1.1 200 OK\r\n").is_none());
    }

    #[tokio::test]
    async fn raw_requests_keep_the_base_urls_path_and_send_no_length() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/api", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = vec![0u8; 4096];
            let n = socket.read(&mut seen).await.unwrap();
            socket.write_all(b"HTTP/1.1 411 Length Required\r\ncontent-length: 0\r\n\r\n").await.unwrap();
            String::from_utf8_lossy(&seen[..n]).into_owned()
        });
        let client = Client::new(&base, None, Duration::from_secs(5), &Tls::default()).unwrap();
        let ex = client.raw(&Method::POST, "/things", &[], b"{}").await.unwrap();
        assert_eq!((ex.status, ex.request.as_str()), (411, "POST /things (raw)"));
        let request = server.await.unwrap();
        assert!(request.starts_with("POST /api/things HTTP/1.1\r\n"), "{request}");
        assert!(!request.to_ascii_lowercase().contains("content-length"), "{request}");
    }
}
