//! A server that misbehaves on purpose, for the client's tests: each path is a script of answers
//! (by how many times it was asked), and every request is recorded (method, path,
//! `Idempotency-Key`, when) so a test can count what the client sent.

#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Hit {
    pub method: String,
    pub path: String,
    pub key: Option<String>,
    pub authorization: Option<String>,
    pub at: Instant,
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Hit>>>);

/// The running server; stops when dropped.
pub struct Scripted {
    pub base: String,
    log: Log,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Scripted {
    /// Requests received on `path` (exact), in order.
    pub fn hits(&self, path: &str) -> Vec<Hit> {
        self.log.0.lock().unwrap().iter().filter(|h| h.path == path).cloned().collect()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

pub async fn spawn() -> Scripted {
    let log = Log::default();
    let app = axum::Router::new().fallback(script).with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Scripted { base, log, task }
}

fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
    let mut r = Response::new(Body::from(body.to_owned()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    for (k, v) in headers {
        r.headers_mut()
            .append(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
    }
    r
}

fn problem(status: u16, detail: &str) -> Response {
    let body = serde_json::json!({"type": "about:blank", "title": "Scripted", "status": status, "detail": detail});
    answer(status, &[("content-type", "application/problem+json")], &body.to_string())
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The XML problem every test of XML reads.
pub const XML_PROBLEM: &str = r#"<?xml version="1.0" encoding="UTF-8"?><problem xmlns="urn:ietf:rfc:7807"><type>/docs/errors#unprocessable_entity</type><title>Unprocessable Entity</title><status>422</status><detail>1 field is invalid</detail><errors><field name="email"><i>has already been taken</i></field></errors><request_id>req-xml-1</request_id></problem>"#;

/// An XML problem whose title is an entity that would expand to a billion "lol"s.
pub const XML_LAUGHS: &str = r#"<?xml version="1.0"?><!DOCTYPE problem [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]><problem xmlns="urn:ietf:rfc:7807"><title>&lol2;</title></problem>"#;

async fn script(State(log): State<Log>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let n = {
        let mut log = log.0.lock().unwrap();
        log.push(Hit {
            method: req.method().to_string(),
            path: path.clone(),
            key: header(req.headers(), "idempotency-key"),
            authorization: header(req.headers(), "authorization"),
            at: Instant::now(),
        });
        log.iter().filter(|h| h.path == path).count()
    };
    match (path.as_str(), n) {
        // 429 with Retry-After as an HTTP-date two seconds ahead, then 200.
        ("/date", 1) => {
            let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
            answer(
                429,
                &[("retry-after", &at), ("content-type", "application/problem+json")],
                r#"{"title":"Too Many Requests","detail":"later"}"#,
            )
        }
        ("/date", _) => answer(200, &[("content-type", "application/json")], r#"{"ok":true}"#),
        // Retry-After far beyond any cap.
        ("/huge", _) => answer(503, &[("retry-after", "999999999")], ""),
        // Retry-After that is no number and no date: backoff, then 200 on the third request.
        ("/garbage", 1 | 2) => answer(429, &[("retry-after", "soon, promise")], "slow down"),
        ("/garbage", _) => answer(200, &[], "finally"),
        // 503 forever, asking for a second each time.
        ("/down", _) => answer(503, &[("retry-after", "1"), ("content-type", "text/plain")], "maintenance"),
        // 502 forever, without Retry-After.
        ("/bad-gateway", _) => {
            answer(502, &[("content-type", "text/html")], "<html><body>nginx: bad gateway</body></html>")
        }
        // A 202 whose monitor never finishes.
        ("/never", _) => answer(202, &[("location", "/never/monitor"), ("retry-after", "1")], r#"{"status":"queued"}"#),
        ("/never/monitor", _) => answer(
            200,
            &[("retry-after", "1"), ("content-type", "application/json")],
            r#"{"status":"running","progress":10}"#,
        ),
        // A 202 that finishes after two polls, then 303 to its result.
        ("/job", _) => answer(202, &[("location", "/job/monitor"), ("retry-after", "0")], r#"{"status":"queued"}"#),
        ("/job/monitor", 1 | 2) => answer(
            200,
            &[("retry-after", "0"), ("content-type", "application/json")],
            &format!(r#"{{"status":"running","progress":{}}}"#, n * 40),
        ),
        ("/job/monitor", _) => answer(303, &[("location", "/job/result")], ""),
        ("/job/result", _) => answer(200, &[("content-type", "application/json")], r#"{"result":"done"}"#),
        // A 202 without Location.
        ("/no-location", _) => answer(202, &[("content-type", "application/json")], r#"{"status":"queued"}"#),
        // Problems in XML, and an XML "billion laughs".
        ("/xml", _) => {
            answer(422, &[("content-type", "application/problem+xml"), ("x-request-id", "req-xml-1")], XML_PROBLEM)
        }
        ("/laughs", _) => answer(400, &[("content-type", "application/problem+xml")], XML_LAUGHS),
        // Bodies that are not problems.
        ("/html", _) => {
            answer(500, &[("content-type", "text/html")], "<html><body><h1>Internal Server Error</h1></body></html>")
        }
        ("/empty", _) => answer(418, &[], ""),
        // POST: 502, 502, then 201 (same key expected each time).
        ("/flaky", 1 | 2) => problem(502, "upstream hiccup"),
        ("/flaky", _) => answer(201, &[("location", "/flaky/1"), ("content-type", "application/json")], r#"{"id":1}"#),
        // POST: 409 "still in flight" once, then 201.
        ("/inflight", 1) => problem(409, "a request with this Idempotency-Key is still being processed"),
        ("/inflight", _) => answer(201, &[("location", "/inflight/1")], ""),
        // POST: 422 key reused.
        ("/reused", _) => {
            let body = serde_json::json!({"title": "Unprocessable Entity", "status": 422, "detail": "1 field is invalid",
                "errors": {"Idempotency-Key": ["was already used with a different request; use a new key"]}});
            answer(422, &[("content-type", "application/problem+json")], &body.to_string())
        }
        // 503 without Retry-After, once, then 200.
        ("/once-503", 1) => answer(503, &[], ""),
        ("/once-503", _) => answer(200, &[], "ok"),
        ("/ok", _) => answer(200, &[("content-type", "application/json")], r#"{"hello":"world"}"#),
        _ => problem(404, "no script for this path"),
    }
}
