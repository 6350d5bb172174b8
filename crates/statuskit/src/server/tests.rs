//! Tests of the server's parts that need no socket: the registry's caps and evictions, the
//! recognition of hyper's own answers, the hand-written problem responses. The server end to end
//! is tested over TCP by `statuskit-server`'s `hostile_connections`.

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::registry::{address_key, Refusal, Registry};
use super::watched::{own_answer_for, raw_response};
use super::{serve, ServerConfig};
use crate::problem::Problem;
use crate::problem_type::DocsBase;

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
    let bytes = raw_response(&Problem::request_timeout("too slow"), &DocsBase::default());
    let text = String::from_utf8(bytes).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{head}");
    assert!(head.contains("content-type: application/problem+json"));
    assert!(head.contains(&format!("content-length: {}", body.len())));
    let id = head.lines().find_map(|l| l.strip_prefix("x-request-id: ")).unwrap();
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["status"], 408);
    assert_eq!(json["request_id"], id);
    assert_eq!(json["type"], "/docs/errors#request_timeout");
    assert_eq!(head.matches("connection: close").count(), 1);
}

/// The body of a hand-written response, as JSON.
fn problem_body(response: &[u8]) -> serde_json::Value {
    let text = std::str::from_utf8(response).unwrap();
    let (_, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head in {text:?}"));
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"))
}

#[test]
fn a_refusal_is_typed_under_the_configured_docs_base() {
    let docs = DocsBase::new("https://api.example.com/errors").unwrap();
    let json = problem_body(&raw_response(&Refusal::Total(2).problem(), &docs));
    assert_eq!(json["status"], 503);
    assert_eq!(json["type"], "https://api.example.com/errors#service_unavailable");
}

/// Sends `request` on a fresh connection to `addr` and reads until the server closes it.
async fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("the server closes the connection")
        .unwrap();
    response
}

#[tokio::test]
async fn the_servers_own_problems_are_typed_under_the_configured_docs_base() {
    let docs = DocsBase::new("https://api.example.com/errors").unwrap();
    let config = ServerConfig::default().header_read_timeout(Duration::from_millis(200)).docs_base(docs);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "hi" }));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, app, config, async {
        let _ = stopped.await;
    }));

    // A head that never completes: the server's own 408.
    let response = exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n").await;
    assert!(response.starts_with(b"HTTP/1.1 408 "), "{}", String::from_utf8_lossy(&response));
    let json = problem_body(&response);
    assert_eq!(json["status"], 408);
    assert_eq!(json["type"], "https://api.example.com/errors#request_timeout");

    // A head hyper cannot parse: its bare 400, sent as a problem.
    let response = exchange(addr, b"NOT HTTP AT ALL\r\n\r\n").await;
    assert!(response.starts_with(b"HTTP/1.1 400 "), "{}", String::from_utf8_lossy(&response));
    assert_eq!(problem_body(&response)["type"], "https://api.example.com/errors#bad_request");

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
