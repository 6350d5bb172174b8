//! Malformed requests, sent as raw bytes over real sockets: every kind gets a 4xx problem body
//! whose `request_id` equals its `X-Request-Id`, never a 5xx, a 2xx, a hang or a silent close,
//! except the few listed in [`EXCEPTIONS`] (and in the README), where no answer is possible.

mod common;

use std::time::Duration;

use common::{spawn_app_with, TestApp};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Kinds that get no problem body, and why. Each must still get *some* 4xx or a clean close.
const EXCEPTIONS: &[(&str, &str)] = &[];

/// What came back for one malformed request.
#[derive(Debug)]
enum Outcome {
    /// A 4xx problem body with the request id; the status.
    Problem(u16),
    /// A response that is not a problem (status, start of the head).
    Bare(u16, String),
    /// The connection closed, or nothing came in time, with no response.
    NoAnswer,
}

async fn send_raw(app: &TestApp, bytes: &[u8]) -> Outcome {
    let mut s = TcpStream::connect(&app.addr).await.expect("connect");
    if s.write_all(bytes).await.is_err() {
        return Outcome::NoAnswer;
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let read = async {
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if complete(&buf) {
                        break;
                    }
                }
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
    classify(&buf)
}

/// A whole response (head and Content-Length body) is in `buf`.
fn complete(buf: &[u8]) -> bool {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { return false };
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let len = head.lines().find_map(|l| l.strip_prefix("content-length:")).map_or(0, |v| v.trim().parse().unwrap_or(0));
    buf.len() >= end + 4 + len
}

fn classify(buf: &[u8]) -> Outcome {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { return Outcome::NoAnswer };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status: u16 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let field = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    };
    let len: usize = field("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let body: Option<Value> = buf.get(end + 4..end + 4 + len).and_then(|b| serde_json::from_slice(b).ok());
    let is_problem = field("content-type").as_deref() == Some("application/problem+json")
        && body.as_ref().is_some_and(|b| {
            b["status"] == status
                && b["request_id"].as_str().is_some()
                && field("x-request-id").as_deref() == b["request_id"].as_str()
        });
    if is_problem && (400..500).contains(&status) {
        Outcome::Problem(status)
    } else {
        Outcome::Bare(status, head.chars().take(120).collect())
    }
}

/// The malformed requests: (name, bytes). `{T}` is replaced by a valid access token.
fn cases() -> Vec<(&'static str, Vec<u8>)> {
    let long_target = format!("GET /v1/customers?pad={} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(9_000));
    let huge_target = format!("GET /v1/customers?pad={} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let big_header = format!("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "b".repeat(17_000));
    let huge_header = format!("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "b".repeat(300_000));
    let many = |n: usize| {
        let fields: String = (0..n).map(|i| format!("X-F{i}: v\r\n")).collect();
        format!("GET /health HTTP/1.1\r\nHost: x\r\n{fields}\r\n")
    };
    let post = |headers: &str, body: &str| {
        // A JSON endpoint (the token endpoint answers errors in RFC 6749's shape, not as problems).
        format!("POST /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {{T}}\r\nContent-Type: application/json\r\n{headers}\r\n{body}")
    };
    let mut list: Vec<(&'static str, String)> = vec![
        // The request line.
        ("no version", "GET /\r\nHost: x\r\n\r\n".into()),
        ("four parts in the request line", "GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n".into()),
        ("space inside the method", "GE T / HTTP/1.1\r\nHost: x\r\n\r\n".into()),
        ("invalid method character", "G@T / HTTP/1.1\r\nHost: x\r\n\r\n".into()),
        ("unknown version", "GET / HTTP/9.9\r\nHost: x\r\n\r\n".into()),
        ("version not a number", "GET / HTTP/1.x\r\nHost: x\r\n\r\n".into()),
        ("space in the target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n".into()),
        ("control character in the target", "GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n".into()),
        ("empty target", "GET  HTTP/1.1\r\nHost: x\r\n\r\n".into()),
        ("target not starting with a slash", "GET health HTTP/1.1\r\nHost: x\r\n\r\n".into()),
        ("broken absolute-form target", "GET http://[::1/health HTTP/1.1\r\nHost: x\r\n\r\n".into()),
        ("unknown method", "BREW /health HTTP/1.1\r\nHost: x\r\n\r\n".into()),
        ("lower-case method", "get /health HTTP/1.1\r\nHost: x\r\n\r\n".into()),
        ("a TLS ClientHello on the plain port", String::new()),
        ("bad percent-encoding in the query", "GET /v1/customers?limit=%zz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {T}\r\n\r\n".into()),
        // Header names and values.
        ("space inside a header name", "GET /health HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n".into()),
        ("header line without a colon", "GET /health HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n".into()),
        ("separator in a header name", "GET /health HTTP/1.1\r\nHost: x\r\nBad(name): v\r\n\r\n".into()),
        ("empty header name", "GET /health HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n".into()),
        ("NUL in a header value", "GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n".into()),
        ("control character in a header value", "GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n".into()),
        ("DEL in a header value", "GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n\r\n".into()),
        ("obs-fold continuation line", "GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  b\r\n\r\n".into()),
        ("bare CR inside a header value", "GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n".into()),
        ("whitespace before the colon", "GET /health HTTP/1.1\r\nHost : x\r\n\r\n".into()),
        ("whitespace before the first header", "GET /health HTTP/1.1\r\n Host: x\r\n\r\n".into()),
        ("malformed Authorization", "GET /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer two words\r\n\r\n".into()),
        ("malformed If-None-Match", "GET /v1/customers/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {T}\r\nIf-None-Match: no-quotes\r\n\r\n".into()),
        ("malformed Accept", "GET /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {T}\r\nAccept: ;;;\r\n\r\n".into()),
        ("missing Host", "GET /health HTTP/1.1\r\n\r\n".into()),
        ("two Host fields", "GET /health HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n".into()),
        // Framing: Content-Length and Transfer-Encoding.
        ("Content-Length and chunked together", post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n")),
        ("two different Content-Lengths", post("Content-Length: 5\r\nContent-Length: 6\r\n", "abcdef")),
        ("negative Content-Length", post("Content-Length: -1\r\n", "")),
        ("Content-Length not a number", post("Content-Length: abc\r\n", "")),
        ("Content-Length as a list", post("Content-Length: 1, 2\r\n", "ab")),
        ("chunked not the final coding", post("Transfer-Encoding: chunked, gzip\r\n", "0\r\n\r\n")),
        ("unknown transfer coding", post("Transfer-Encoding: foo\r\n", "")),
        ("chunked in an HTTP/1.0 request", "POST /oauth/token HTTP/1.0\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab=cd\r\n0\r\n\r\n".into()),
        ("body without length or chunking", "POST /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {T}\r\nContent-Type: application/json\r\n\r\n{}".into()),
        ("Content-Encoding the endpoint cannot decode", "POST /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {T}\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}".into()),
        // Chunk errors.
        ("chunk size not hexadecimal", post("Transfer-Encoding: chunked\r\n", "zz\r\nab\r\n0\r\n\r\n")),
        ("chunk size overflowing", post("Transfer-Encoding: chunked\r\n", "fffffffffffffffffff\r\nab\r\n0\r\n\r\n")),
        ("chunk data without its CRLF", post("Transfer-Encoding: chunked\r\n", "2\r\nabXX0\r\n\r\n")),
        ("chunk shorter than its size, then the end", post("Transfer-Encoding: chunked\r\n", "10\r\nab\r\n0\r\n\r\n")),
        ("invalid chunk extension", post("Transfer-Encoding: chunked\r\n", "2;\x01\r\nab\r\n0\r\n\r\n")),
        ("invalid trailer field", post("Transfer-Encoding: chunked\r\n", "2\r\nab\r\n0\r\nBad Trailer\r\n\r\n")),
        // Oversized parts.
        ("target over 8 KiB", long_target),
        ("target over 64 KiB", huge_target),
        ("header field over 16 KiB", big_header),
        ("header section over 256 KiB", huge_header),
        ("97 header fields", many(97)),
        ("300 header fields", many(300)),
        ("body over the limit", post("Content-Length: 70000\r\n", &"a".repeat(70_000))),
    ];
    list.sort_by_key(|(name, _)| *name);
    list.into_iter().map(|(name, text)| (name, text.into_bytes())).collect()
}

#[tokio::test]
async fn malformed_requests_get_problem_bodies() {
    let app = spawn_app_with(&["--rate-limits", "off", "--body-gap-timeout-ms", "1000"]).await;
    let mut problems = 0;
    let mut exceptions = Vec::new();
    let mut report = String::new();
    let cases = cases();
    for (name, bytes) in &cases {
        let bytes = String::from_utf8_lossy(bytes).replace("{T}", &app.token);
        // Byte-exact for the non-UTF-8 TLS case.
        let bytes = if name.starts_with("a TLS") { cases_tls() } else { bytes.into_bytes() };
        let outcome = send_raw(&app, &bytes).await;
        report.push_str(&format!("{name}: {outcome:?}\n"));
        match outcome {
            Outcome::Problem(status) => {
                assert!((400..500).contains(&status));
                problems += 1;
            }
            Outcome::Bare(status, ref head) => {
                assert!(!head.is_empty() || status == 0);
                assert!((400..500).contains(&status), "{name}: a malformed request got {status}\n{report}");
                exceptions.push(*name);
            }
            Outcome::NoAnswer => exceptions.push(*name),
        }
    }
    println!("{problems} of {} malformed requests got a problem body\n{report}", cases.len());
    let expected: Vec<&str> = EXCEPTIONS.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        exceptions, expected,
        "the kinds without a problem body changed (update EXCEPTIONS and the README)\n{report}"
    );
    assert!(cases.len() >= 40);
    // The service is fine afterwards.
    assert_eq!(app.get("/v1/customers").await.status, 200);
}

#[tokio::test]
async fn oversized_headers_over_http2_get_problem_bodies() {
    let app = spawn_app_with(&[]).await;
    let h2 = reqwest::Client::builder().http2_prior_knowledge().build().expect("client");
    // Over the contract's 16 KiB: the service's own 431 problem.
    let res = h2.get(app.url("/health")).header("x-big", "b".repeat(17_000)).send().await.expect("an answer");
    assert_eq!(res.version(), reqwest::Version::HTTP_2);
    let status = res.status().as_u16();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: Value = res.json().await.unwrap();
    assert_eq!((status, body["status"].as_u64()), (431, Some(431)));
    assert_eq!(body["request_id"], id.as_str());
    // 97 fields: the same.
    let mut req = h2.get(app.url("/health"));
    for i in 0..97 {
        req = req.header(format!("x-f{i}"), "v");
    }
    let res = req.send().await.expect("an answer");
    assert_eq!(res.status(), 431);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    // An ordinary request on HTTP/2 still works.
    let res = h2.get(app.url("/v1/customers")).bearer_auth(&app.token).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

fn cases_tls() -> Vec<u8> {
    vec![0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]
}
