//! `statuskit-client` against a server that misbehaves on purpose (`tests/scripted`): every
//! misbehaviour ends in a typed error or a bounded wait, never a hang or a panic.

mod scripted;

use std::time::{Duration, Instant};

use statuskit_client::{Client, Error, ProblemFormat, WaitLimit};

fn client(base: &str) -> Client {
    Client::builder(base)
        .time_budget(Duration::from_secs(5))
        .max_wait(Duration::from_secs(10))
        .backoff(Duration::from_millis(50), Duration::from_millis(200))
        .operation_budget(Duration::from_secs(3))
        .build()
        .unwrap()
}

/// Runs `f` and fails the test if it takes longer than `limit`: nothing here may hang.
async fn bounded<T>(limit: Duration, f: impl std::future::Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let out = tokio::time::timeout(limit, f).await.expect("the client did not hang");
    (out, started.elapsed())
}

#[tokio::test]
async fn retry_after_as_a_date_is_waited_out() {
    let s = scripted::spawn().await;
    let (r, took) = bounded(Duration::from_secs(6), client(&s.base).get("/date").send()).await;
    let r = r.unwrap();
    assert_eq!((r.status().as_u16(), r.attempts()), (200, 2));
    assert!(took >= Duration::from_millis(900), "waited until the date: {took:?}");
    let hits = s.hits("/date");
    assert_eq!(hits.len(), 2);
    assert!(hits[1].at - hits[0].at >= Duration::from_millis(900));
}

#[tokio::test]
async fn a_huge_retry_after_fails_at_once_saying_until_when() {
    let s = scripted::spawn().await;
    let (e, took) = bounded(Duration::from_secs(2), client(&s.base).get("/huge").send()).await;
    let e = e.unwrap_err();
    assert!(took < Duration::from_secs(1), "no waiting: {took:?}");
    assert_eq!(s.hits("/huge").len(), 1);
    match &e {
        Error::RetryAfterTooLong { status: 503, wait, limit: WaitLimit::MaxWait(_), until, .. } => {
            assert!(*wait > Duration::from_secs(999_999_000));
            assert!(*until > std::time::SystemTime::now() + Duration::from_secs(999_999_000));
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("asks to retry at"), "{e}");
}

#[tokio::test]
async fn garbage_retry_after_falls_back_to_backoff() {
    let s = scripted::spawn().await;
    let (r, _) = bounded(Duration::from_secs(5), client(&s.base).get("/garbage").send()).await;
    let r = r.unwrap();
    assert_eq!((r.status().as_u16(), r.attempts(), r.text().as_str()), (200, 3, "finally"));
}

#[tokio::test]
async fn a_503_forever_ends_at_the_budget() {
    let s = scripted::spawn().await;
    let c = Client::builder(&s.base).time_budget(Duration::from_millis(2500)).build().unwrap();
    let (e, took) = bounded(Duration::from_secs(4), c.get("/down").send()).await;
    match e.unwrap_err() {
        Error::RetryAfterTooLong { status: 503, limit: WaitLimit::Budget(_), .. } => {}
        other => panic!("{other:?}"),
    }
    assert!(took < Duration::from_millis(2600), "{took:?}");
    let n = s.hits("/down").len();
    assert!((2..=3).contains(&n), "one request a second within 2.5 s: {n}");
}

#[tokio::test]
async fn a_502_forever_backs_off_then_gives_up_with_the_answer() {
    let s = scripted::spawn().await;
    let c = Client::builder(&s.base)
        .max_attempts(4)
        .backoff(Duration::from_millis(20), Duration::from_millis(50))
        .build()
        .unwrap();
    let (e, _) = bounded(Duration::from_secs(3), c.get("/bad-gateway").send()).await;
    match e.unwrap_err() {
        Error::Status(st) => {
            assert_eq!(st.status, 502);
            assert!(st.body_start.contains("bad gateway"), "{st:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.hits("/bad-gateway").len(), 4);
}

#[tokio::test]
async fn a_monitor_that_never_finishes_stops_at_the_operation_budget() {
    let s = scripted::spawn().await;
    let c = client(&s.base);
    let (e, took) = bounded(Duration::from_secs(5), c.post("/never").send_and_wait()).await;
    assert!(matches!(e.unwrap_err(), Error::BudgetExhausted { .. }));
    assert!(took < Duration::from_millis(3500), "{took:?}");
    let polls = s.hits("/never/monitor").len();
    assert!((1..=3).contains(&polls), "polled at its Retry-After of 1 s: {polls}");
}

#[tokio::test]
async fn a_202_is_followed_to_its_result_and_one_without_location_is_typed() {
    let s = scripted::spawn().await;
    let c = client(&s.base);
    let (r, _) = bounded(Duration::from_secs(5), c.post("/job").send_and_wait()).await;
    let r = r.unwrap();
    assert_eq!(r.text(), r#"{"result":"done"}"#);
    assert_eq!(s.hits("/job/monitor").len(), 3);
    assert_eq!(s.hits("/job/result").len(), 1);
    let (e, _) = bounded(Duration::from_secs(2), c.post("/no-location").send_and_wait()).await;
    match e.unwrap_err() {
        Error::NoMonitor { body_start } => assert!(body_start.contains("queued")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn xml_problems_are_read_and_entities_never_expanded() {
    let s = scripted::spawn().await;
    let c = client(&s.base);
    let e = c.get("/xml").send().await.unwrap_err();
    let p = e.problem().unwrap();
    assert_eq!((p.status, p.format), (422, ProblemFormat::Xml));
    assert_eq!(p.errors["email"], ["has already been taken"]);
    assert_eq!(e.request_id(), Some("req-xml-1"));
    let (e, _) = bounded(Duration::from_secs(2), c.get("/laughs").send()).await;
    match e.unwrap_err() {
        Error::Status(st) => {
            assert_eq!(st.status, 400);
            assert!(st.body_start.len() <= 200 * 4);
        }
        other => panic!("an undeclared entity is not a problem: {other:?}"),
    }
}

#[tokio::test]
async fn bodies_that_are_not_problems_give_status_and_start() {
    let s = scripted::spawn().await;
    let c = client(&s.base);
    match c.get("/html").send().await.unwrap_err() {
        Error::Status(st) => {
            assert_eq!((st.status, st.content_type.as_deref()), (500, Some("text/html")));
            assert!(st.body_start.starts_with("<html>"));
        }
        other => panic!("{other:?}"),
    }
    let e = c.get("/empty").send().await.unwrap_err();
    assert_eq!(e.status(), Some(418));
}

#[tokio::test]
async fn a_post_is_retried_with_the_same_key_and_in_flight_409_is_waited_out() {
    let s = scripted::spawn().await;
    let c = client(&s.base);
    let r = c.post("/flaky").json(&serde_json::json!({"a": 1})).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.attempts()), (201, 3));
    let keys: Vec<_> = s.hits("/flaky").into_iter().map(|h| h.key.expect("a key on every attempt")).collect();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| *k == keys[0]), "one key per logical call: {keys:?}");
    // Another logical call gets another key.
    let r = c.post("/inflight").json(&serde_json::json!({"a": 1})).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.attempts()), (201, 2));
    let inflight: Vec<_> = s.hits("/inflight").into_iter().map(|h| h.key.unwrap()).collect();
    assert_eq!(inflight[0], inflight[1]);
    assert_ne!(inflight[0], keys[0]);

    match c.post("/reused").json(&serde_json::json!({"a": 1})).send().await.unwrap_err() {
        Error::IdempotencyKeyReused { key, .. } => assert_eq!(Some(key), s.hits("/reused")[0].key.clone()),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.hits("/reused").len(), 1, "final: not retried");

    // Without keys, a POST is never retried.
    let unkeyed = Client::builder(&s.base).idempotency_keys(false).build().unwrap();
    let e = unkeyed.post("/once-503").send().await.unwrap_err();
    assert_eq!(e.status(), Some(503));
    assert_eq!(s.hits("/once-503").len(), 1);
    assert!(s.hits("/once-503")[0].key.is_none());
    // A GET is.
    assert_eq!(c.get("/once-503").send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn an_unreachable_host_is_a_transport_error_within_the_budget() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = Client::builder(format!("http://127.0.0.1:{port}"))
        .time_budget(Duration::from_secs(2))
        .backoff(Duration::from_millis(50), Duration::from_millis(200))
        .build()
        .unwrap();
    let (e, _) = bounded(Duration::from_secs(3), c.get("/").send()).await;
    let e = e.unwrap_err();
    let transport = match &e {
        Error::Transport { .. } => true,
        Error::BudgetExhausted { last: Some(l), .. } | Error::RetryBudgetExhausted { last: l, .. } => {
            matches!(**l, Error::Transport { .. })
        }
        _ => false,
    };
    assert!(transport, "{e:?}");
}

#[tokio::test]
async fn the_retry_budget_stops_a_storm() {
    let s = scripted::spawn().await;
    // No floor and no successes: after the budget's initial allowance, no retries at all.
    let c = Client::builder(&s.base)
        .backoff(Duration::from_millis(1), Duration::from_millis(2))
        .max_attempts(1000)
        .retry_budget(Some(statuskit_client::retry::RetryBudget {
            ttl: Duration::from_secs(10),
            min_per_sec: 1,
            retry_percent: 0.0,
        }))
        .build()
        .unwrap();
    let (e, _) = bounded(Duration::from_secs(5), c.get("/bad-gateway").send()).await;
    assert!(matches!(e.unwrap_err(), Error::RetryBudgetExhausted { .. }));
    let sent = s.hits("/bad-gateway").len();
    assert!(sent <= 12, "the budget stopped the retries: {sent} requests");
}
