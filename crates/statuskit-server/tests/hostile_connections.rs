//! Hostile clients at the connection level (contract §6), over real sockets on loopback: slow
//! bodies, trickling heads, silent connections, too many connections, bodies sent without
//! `Expect: 100-continue`, and SIGTERM with stalled connections. Every attack is bounded in count
//! and time; each test asserts the contract's answer and that a signed-in caller is served
//! meanwhile.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{read_reply, spawn_app_with, Reply, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Opens a connection from `source` (another loopback address, so the attacker and the
/// signed-in caller count as two addresses).
async fn connect_from(app: &TestApp, source: [u8; 4]) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::from((source, 0))).expect("bind a loopback source address");
    socket.connect(app.addr.parse().expect("address")).await.expect("connect")
}

/// Ten signed-in GETs, each on a new connection: how many answered 200.
async fn signed_in_gets(app: &TestApp) -> usize {
    let mut ok = 0;
    for _ in 0..10 {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        let res = client.get(app.url("/v1/customers")).bearer_auth(&app.token).send().await;
        if res.is_ok_and(|r| r.status() == 200) {
            ok += 1;
        }
    }
    ok
}

/// Reads until the peer closes (or 10 s pass); returns what came.
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    out
}

fn parse_one(bytes: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no response head in {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    for line in lines {
        let (k, v) = line.split_once(':').unwrap();
        headers
            .append(reqwest::header::HeaderName::from_bytes(k.trim().as_bytes()).unwrap(), v.trim().parse().unwrap());
    }
    Reply { status, headers, body: body.as_bytes().to_vec() }
}

#[tokio::test]
async fn slow_bodies_hold_no_slots_and_get_408_not_504() {
    let app = spawn_app_with(&[
        "--max-in-flight",
        "32",
        "--max-in-flight-public",
        "16",
        "--body-gap-timeout-ms",
        "1500",
        "--body-read-timeout-ms",
        "3000",
        "--deadline-ms",
        "500",
    ])
    .await;
    // 300 strangers start a token request and never send its body.
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut s = connect_from(&app, [127, 0, 0, 2]).await;
        s.write_all(
            b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
              Content-Length: 1000\r\n\r\ngrant_type=",
        )
        .await
        .unwrap();
        slow.push(s);
    }
    // A signed-in caller is served meanwhile: 10 of 10.
    assert_eq!(signed_in_gets(&app).await, 10, "signed-in GETs answered 200 while 300 bodies trickle");
    // Each stalled body gets a 408 problem (the client is late, not the backend: never 504) and
    // the connection is closed.
    for s in slow.iter_mut().take(5) {
        let r = parse_one(&read_to_close(s).await);
        let body = r.problem(408, "request_timeout");
        assert!(body["detail"].as_str().unwrap().contains("stopped arriving"), "{body}");
        assert_eq!(r.header("connection"), "close");
    }
    drop(slow);
    // A signed-in POST whose body stalls: 408 too, although its deadline (500 ms) is shorter.
    let mut s = TcpStream::connect(&app.addr).await.unwrap();
    let head = format!(
        "POST /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Content-Length: 200\r\n\r\n{{\"name\":",
        app.token
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let r = read_reply(&mut s).await;
    r.problem(408, "request_timeout");
    assert!(started.elapsed() >= Duration::from_millis(1400), "408 came after the gap timeout, not before");
}

#[tokio::test]
async fn a_trickling_head_gets_408_and_the_connection_closes() {
    let app = spawn_app_with(&["--header-read-timeout-ms", "1000"]).await;
    let mut s = TcpStream::connect(&app.addr).await.unwrap();
    let started = Instant::now();
    // One byte every 200 ms: each arrives well within any per-read timeout, the head never ends.
    let trickle = async {
        for b in b"GET /v1/customers HTTP/1.1\r\nHost: x\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter() {
            if s.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(1500), trickle).await;
    let r = parse_one(&read_to_close(&mut s).await);
    let elapsed = started.elapsed();
    r.problem(408, "request_timeout");
    assert_eq!(r.header("connection"), "close");
    assert!(elapsed < Duration::from_secs(4), "took {elapsed:?}");
    assert_eq!(signed_in_gets(&app).await, 10);
}

#[tokio::test]
async fn silent_connections_are_closed_when_idle_and_make_room_at_the_cap() {
    let app = spawn_app_with(&[
        "--idle-timeout-ms",
        "1500",
        "--max-connections",
        "200",
        "--max-connections-per-address",
        "1000",
    ])
    .await;
    // 400 silent connections from one address: twice the cap. The longest-idle ones are closed to
    // make room for the newer ones; a signed-in caller is still served.
    let mut silent = Vec::new();
    for _ in 0..400 {
        silent.push(connect_from(&app, [127, 0, 0, 3]).await);
    }
    assert_eq!(signed_in_gets(&app).await, 10, "signed-in GETs at the connection cap");
    // An idle connection is closed after the idle timeout without an answer (it asked nothing).
    let started = Instant::now();
    let mut last = silent.pop().unwrap();
    let got = read_to_close(&mut last).await;
    assert!(got.is_empty(), "an idle close writes nothing: {:?}", String::from_utf8_lossy(&got));
    assert!(started.elapsed() < Duration::from_secs(5), "closed within the idle timeout");
    // And the first ones were closed to make room long before that.
    let mut first = silent.remove(0);
    let mut byte = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(1), first.read(&mut byte)).await;
    assert!(matches!(n, Ok(Ok(0)) | Ok(Err(_))), "the longest-idle connection was closed: {n:?}");
}

#[tokio::test]
async fn thousands_of_silent_connections_do_not_exhaust_descriptors() {
    // Defaults: 1024 connections per address, 4096 in all.
    let app = spawn_app_with(&[]).await;
    let mut silent = Vec::new();
    for _ in 0..3000 {
        match TcpStream::connect(&app.addr).await {
            Ok(s) => silent.push(s),
            Err(e) => panic!("connect {} failed: {e}", silent.len()),
        }
    }
    assert_eq!(signed_in_gets(&app).await, 10, "signed-in GETs next to 3000 silent connections");
    let fds = std::fs::read_dir(format!("/proc/{}/fd", app.pid())).expect("/proc").count();
    assert!(fds < 2 * 1024 + 300, "the service holds {fds} descriptors");
    let log = std::fs::read_to_string(&app.log).unwrap();
    assert!(!log.contains("Too many open files"), "ran out of descriptors");
}

#[tokio::test]
async fn at_the_per_address_cap_idle_connections_make_room_and_busy_ones_get_503() {
    let app = spawn_app_with(&["--max-connections-per-address", "50"]).await;
    // 80 silent connections from 127.0.0.1, the signed-in caller's own address: past 50, the
    // address's longest-idle connections are closed to make room, so the caller still gets in.
    let mut silent = Vec::new();
    for _ in 0..80 {
        silent.push(TcpStream::connect(&app.addr).await.unwrap());
    }
    assert_eq!(signed_in_gets(&app).await, 10, "signed-in GETs from an address full of silent connections");
    let mut byte = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(2), silent[0].read(&mut byte)).await;
    assert!(matches!(n, Ok(Ok(0)) | Ok(Err(_))), "the oldest silent connection was closed: {n:?}");
    drop(silent);
    // 50 connections from another address, each in the middle of a request (a body arriving):
    // the 51st from that address is refused with a 503 problem.
    let mut busy = Vec::new();
    for _ in 0..50 {
        let mut s = connect_from(&app, [127, 0, 0, 4]).await;
        s.write_all(b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab").await.unwrap();
        busy.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut extra = connect_from(&app, [127, 0, 0, 4]).await;
    extra.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let r = parse_one(&read_to_close(&mut extra).await);
    let body = r.problem(503, "service_unavailable");
    assert_eq!(r.header("retry-after"), "1");
    assert!(body["detail"].as_str().unwrap().contains("limit of 50 connections"), "{body}");
    // Another address is not affected.
    assert_eq!(signed_in_gets(&app).await, 10);
    // Once one closes, the address may connect again.
    drop(busy.pop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut again = connect_from(&app, [127, 0, 0, 4]).await;
    again.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    assert_eq!(read_reply(&mut again).await.status, 200);
}

#[tokio::test]
async fn an_early_answer_to_a_body_sent_without_expect_is_read_not_reset() {
    let app = spawn_app_with(&[]).await;
    let body = format!("{{\"name\":\"{}\",\"email\":\"a@example.com\"}}", "x".repeat(300_000));
    let cases = [
        // 413: over --max-body-bytes (64 KiB).
        (
            format!("Authorization: Bearer {}\r\nContent-Type: application/json\r\n", app.token),
            413,
            "content_too_large",
        ),
        // 401: no token, the body unread.
        ("Content-Type: application/json\r\n".to_owned(), 401, "unauthorized"),
        // 415: a type the endpoint does not take.
        (format!("Authorization: Bearer {}\r\nContent-Type: text/plain\r\n", app.token), 415, "unsupported_media_type"),
    ];
    for (headers, status, name) in cases {
        let mut s = TcpStream::connect(&app.addr).await.unwrap();
        // Like Python's http.client: the head, then the whole body at once, then read.
        let head = format!("POST /v1/customers HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: {}\r\n\r\n", body.len());
        s.write_all(head.as_bytes()).await.unwrap();
        let sent = s.write_all(body.as_bytes()).await;
        assert!(sent.is_ok(), "{status}: the body could be sent whole: {sent:?}");
        let r = read_reply(&mut s).await;
        r.problem(status, name);
    }
}

#[tokio::test]
async fn sigterm_finishes_requests_in_flight_and_exits_within_the_grace() {
    let mut app = spawn_app_with(&["--shutdown-grace-ms", "2000", "--fault-injection", "--deadline-ms", "5000"]).await;
    // Stalled connections of every kind: a silent one, a head that never ends, a body that
    // never ends.
    let _silent = TcpStream::connect(&app.addr).await.unwrap();
    let mut head = TcpStream::connect(&app.addr).await.unwrap();
    head.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut body = TcpStream::connect(&app.addr).await.unwrap();
    body.write_all(b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nab").await.unwrap();
    // A request in flight that takes 800 ms.
    let r = app
        .send(
            app.client
                .put(app.url("/admin/faults"))
                .header("content-type", "application/json")
                .body(serde_json::json!({"path_prefix": "/v1/customers", "delay_ms": 800}).to_string()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let slow = tokio::spawn({
        let client = app.client.clone();
        let url = app.url("/v1/customers");
        async move { client.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let took = tokio::task::spawn_blocking(move || {
        let took = app.terminate();
        (took, app)
    })
    .await
    .unwrap();
    let (took, app) = took;
    assert_eq!(slow.await.unwrap().expect("the request in flight was answered"), 200);
    assert!(took < Duration::from_millis(2000 + 1500), "exited {took:?} after SIGTERM; the grace is 2 s");
    assert!(std::fs::read_to_string(&app.log).unwrap().contains("shutting down"), "logged its shutdown");
}
