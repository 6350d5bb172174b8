//! Black-box tests of the maintenance switch shared by every instance on one database, over real
//! HTTP: switched on through one instance, every other answers 503 with its `Retry-After` within
//! `--maintenance-poll-ms`; switched off through any, all serve again; an instance started during
//! maintenance answers 503 from its first request. On SQLite (two instances on one file) and on
//! PostgreSQL (skipped, saying so, without a server; see tests/postgres.rs).

mod common;

use std::time::{Duration, Instant};

use common::{spawn_app_joining, spawn_app_on, spawn_app_with, spawn_pg_app, Reply, TestApp};
use serde_json::json;
use statuskit::retry_after::RetryAfter;

/// How often the instances in these tests read the stored switch.
const POLL: [&str; 2] = ["--maintenance-poll-ms", "200"];

/// How long another instance may take to follow the switch in these tests.
const FOLLOW_WITHIN: Duration = Duration::from_secs(1);

fn retry_after_secs(r: &Reply) -> u64 {
    match RetryAfter::parse(r.header("retry-after").as_bytes()).expect("Retry-After parses") {
        RetryAfter::Seconds(s) => s,
        RetryAfter::Date(_) => panic!("the contract sends seconds"),
    }
}

/// `PUT /admin/maintenance` through `app`; asserts the 200 and the state it reports.
async fn switch(app: &TestApp, on: Option<u64>) {
    let body = match on {
        Some(secs) => json!({"enabled": true, "retry_after_seconds": secs}),
        None => json!({"enabled": false}),
    };
    let r = app
        .send(
            app.client
                .put(app.url("/admin/maintenance"))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.json(), body);
}

/// Asks `path` of `app` until it answers `status`, for at most `within`; returns that reply and
/// how long it took (panics with the last reply if it never did).
async fn until(app: &TestApp, path: &str, status: u16, within: Duration) -> (Reply, Duration) {
    let started = Instant::now();
    loop {
        let r = app.get(path).await;
        if r.status == status {
            return (r, started.elapsed());
        }
        assert!(started.elapsed() < within, "{path} still {} after {within:?}: {}", r.status, r.text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A maintenance 503 on `/v1/customers` and `/health`, and the stored state on `/admin`.
async fn assert_in_maintenance(app: &TestApp, secs: u64) {
    for path in ["/v1/customers", "/health"] {
        let r = app.get(path).await;
        let body = r.problem(503, "service_unavailable");
        assert_eq!(retry_after_secs(&r), secs, "{path}");
        assert!(body["detail"].as_str().unwrap().contains("maintenance"), "{path} says why: {body}");
    }
    let r = app.get("/admin/maintenance").await;
    assert_eq!(r.status, 200, "/admin stays reachable: {}", r.text());
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.json(), json!({"enabled": true, "retry_after_seconds": secs}));
}

/// `/v1/customers`, `/health` and `/admin/maintenance` answer 200, maintenance off.
async fn assert_serving(app: &TestApp) {
    let r = app.get("/v1/customers").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), "application/json");
    assert!(r.headers.get("retry-after").is_none());
    assert!(r.json()["items"].is_array(), "{}", r.text());
    let r = app.get("/health").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.json()["status"], "ok");
    let r = app.get("/admin/maintenance").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.json(), json!({"enabled": false}));
}

/// The whole story on two instances `a` and `b` of one database (both polling every 200 ms).
async fn switched_through_one_followed_by_all(a: &TestApp, b: &TestApp) {
    assert_serving(a).await;
    assert_serving(b).await;

    // On through A: A at once, B within the poll interval.
    switch(a, Some(90)).await;
    assert_in_maintenance(a, 90).await;
    let (r, took) = until(b, "/v1/customers", 503, FOLLOW_WITHIN).await;
    r.problem(503, "service_unavailable");
    assert_eq!(retry_after_secs(&r), 90);
    assert!(took <= FOLLOW_WITHIN, "B followed in {took:?}");
    assert_in_maintenance(b, 90).await;

    // A new Retry-After through B reaches A.
    switch(b, Some(30)).await;
    assert_in_maintenance(b, 30).await;
    let started = Instant::now();
    loop {
        let r = a.get("/v1/customers").await;
        r.problem(503, "service_unavailable");
        if retry_after_secs(&r) == 30 {
            break;
        }
        assert!(started.elapsed() < FOLLOW_WITHIN, "A still announces {} s", retry_after_secs(&r));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_in_maintenance(a, 30).await;

    // An instance started now answers 503 from its first request (default poll interval).
    let c = spawn_app_joining(a, &[]).await;
    assert_in_maintenance(&c, 30).await;

    // Off through B: B at once, A (and C) within their poll intervals.
    switch(b, None).await;
    assert_serving(b).await;
    let (r, took) = until(a, "/v1/customers", 200, FOLLOW_WITHIN).await;
    assert_eq!(r.header("content-type"), "application/json");
    assert!(r.json()["items"].is_array());
    assert!(took <= FOLLOW_WITHIN, "A followed in {took:?}");
    assert_serving(a).await;
    until(&c, "/v1/customers", 200, Duration::from_secs(2)).await;
    assert_serving(&c).await;
}

#[tokio::test]
async fn maintenance_through_one_instance_reaches_every_instance_on_sqlite() {
    let a = spawn_app_with(&POLL).await;
    let b = spawn_app_on(Some(&a.db), &POLL).await;
    switched_through_one_followed_by_all(&a, &b).await;
}

#[tokio::test]
async fn maintenance_through_one_instance_reaches_every_instance_on_postgres() {
    let name = "maintenance_through_one_instance_reaches_every_instance_on_postgres";
    let Some(a) = spawn_pg_app(name, &POLL).await else {
        return;
    };
    let b = spawn_app_on(Some(&a.db), &POLL).await;
    switched_through_one_followed_by_all(&a, &b).await;
}

#[tokio::test]
async fn maintenance_survives_a_restart() {
    let mut a = spawn_app_with(&POLL).await;
    switch(&a, Some(45)).await;
    a.terminate();
    let b = spawn_app_joining(&a, &POLL).await;
    assert_in_maintenance(&b, 45).await;
    switch(&b, None).await;
    assert_serving(&b).await;
}
