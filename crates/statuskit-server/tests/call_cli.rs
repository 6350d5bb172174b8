//! Black-box tests of `statuskit call` against the scripted misbehaving server: exit status,
//! how many requests it sent, the key it reused, how long it waited.

mod scripted;

use std::time::{Duration, Instant};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    took: Duration,
}

async fn call(args: &[&str]) -> Run {
    let started = Instant::now();
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_statuskit"))
            .arg("call")
            .args(args)
            .env("RUST_LOG", "info")
            .output(),
    )
    .await
    .expect("statuskit call did not hang")
    .expect("run statuskit call");
    Run {
        code: out.status.code().expect("an exit code"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
    }
}

#[tokio::test]
async fn a_post_is_retried_with_one_key_and_exits_0() {
    let s = scripted::spawn().await;
    let r = call(&["POST", &s.url("/flaky"), "--data", r#"{"a":1}"#]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("201 Created (after 3 attempts)"), "{}", r.stderr);
    assert_eq!(r.stdout.trim(), r#"{"id":1}"#);
    let hits = s.hits("/flaky");
    assert_eq!(hits.len(), 3);
    let key = hits[0].key.clone().expect("a key");
    assert!(hits.iter().all(|h| h.key.as_deref() == Some(&key)), "{hits:?}");
    assert!(r.stderr.contains("retrying"), "retries are logged: {}", r.stderr);
}

#[tokio::test]
async fn retry_after_is_waited_out_or_refused_at_once() {
    let s = scripted::spawn().await;
    let r = call(&[&s.url("/date")]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.took >= Duration::from_millis(900), "waited for the date: {:?}", r.took);
    assert_eq!(s.hits("/date").len(), 2);

    let r = call(&[&s.url("/huge"), "--max-time", "5"]).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.took < Duration::from_secs(3), "{:?}", r.took);
    assert!(r.stderr.contains("asks to retry at"), "{}", r.stderr);
    assert_eq!(s.hits("/huge").len(), 1);

    // 503 forever: the budget runs out, exit 1, within --max-time.
    let r = call(&[&s.url("/down"), "--max-time", "2"]).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.took < Duration::from_secs(4), "{:?}", r.took);
    assert!((1..=2).contains(&s.hits("/down").len()));
}

#[tokio::test]
async fn wait_follows_a_202_to_its_result_or_stops_at_max_time() {
    let s = scripted::spawn().await;
    let r = call(&["--wait", "POST", &s.url("/job")]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), r#"{"result":"done"}"#);
    assert_eq!(s.hits("/job/result").len(), 1);
    // Without --wait, the 202 itself is the answer.
    let r = call(&["POST", &s.url("/job")]).await;
    assert_eq!(r.code, 0);
    assert!(r.stderr.starts_with("202 Accepted"), "{}", r.stderr);

    let r = call(&["--wait", "--max-time", "2", "POST", &s.url("/never")]).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.took < Duration::from_secs(4), "{:?}", r.took);
    assert!(r.stderr.contains("time budget"), "{}", r.stderr);
    let r = call(&["--wait", "POST", &s.url("/no-location")]).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("without a Location"), "{}", r.stderr);
}

#[tokio::test]
async fn problems_are_printed_readably_and_as_json() {
    let s = scripted::spawn().await;
    let r = call(&[&s.url("/xml")]).await;
    assert_eq!(r.code, 1);
    for part in [
        "title:      Unprocessable Entity",
        "detail:     1 field is invalid",
        "field:      email: has already been taken",
        "request id: req-xml-1",
    ] {
        assert!(r.stderr.contains(part), "{part:?} in {}", r.stderr);
    }
    let r = call(&["--format", "json", &s.url("/xml")]).await;
    assert_eq!(r.code, 1);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["status"], 422);
    assert_eq!(v["problem"]["errors"]["email"][0], "has already been taken");
    assert_eq!(v["request_id"], "req-xml-1");

    let r = call(&[&s.url("/html")]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("500") && r.stderr.contains("<html>"), "{}", r.stderr);

    let r = call(&["--format", "json", &s.url("/ok")]).await;
    assert_eq!(r.code, 0);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(
        (v["status"].as_u64(), v["body"]["hello"].as_str(), v["attempts"].as_u64()),
        (Some(200), Some("world"), Some(1))
    );
}

#[tokio::test]
async fn exit_2_when_it_cannot_run() {
    let r = call(&[]).await;
    assert_eq!(r.code, 2, "no URL: {}", r.stderr);
    let r = call(&["not a url"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = call(&["http://127.0.0.1:1/", "--data", "@/nonexistent/file.json"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = call(&["http://127.0.0.1:1/", "--header", "no colon"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let r = call(&[&format!("http://127.0.0.1:{port}/"), "--max-time", "2"]).await;
    assert_eq!(r.code, 2, "unreachable: {}", r.stderr);
    assert!(r.took < Duration::from_secs(4));
}
