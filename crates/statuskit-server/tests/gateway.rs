//! Through the gateway (`deploy/up.sh`: nginx in front of two instances), over real HTTP on
//! loopback: the service's answers pass through untouched, and the gateway's own answers (502
//! when no instance answers, 504 when one is too slow, 413 past its body limit) are problems
//! carrying the request id. On PostgreSQL when `DATABASE_URL` reaches one (a fresh database per
//! test), else on one shared SQLite file. Without nginx (and no way to install it) the tests say
//! SKIPPED on stderr, and fail with `STATUSKIT_REQUIRE_NGINX=1`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{ADMIN_PASSWORD, ADMIN_USER, CLIENT_ID, CLIENT_SECRET};
use serde_json::Value;

/// A deployment started by `deploy/up.sh`; stopped by `deploy/down.sh` when dropped. (A rolling
/// restart by `deploy/restart.sh` under load is tested too.)
struct Deployment {
    dir: tempfile::TempDir,
    gateway: String,
    instances: Vec<(u32, String)>,
    _db: Option<common::PgDatabase>,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl Deployment {
    /// `deploy/up.sh 2 -- FLAGS`, or `None` (having said SKIPPED) without nginx.
    async fn up(name: &str, env: &[(&str, &str)], flags: &[&str]) -> Option<Deployment> {
        let has_nginx = Command::new("sh").args(["-c", "command -v nginx || test -x /usr/sbin/nginx"]).status();
        let root = Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
        if !has_nginx.is_ok_and(|s| s.success()) && !root {
            let why = format!("SKIPPED {name}: nginx is not installed and cannot be installed without root");
            assert!(std::env::var("STATUSKIT_REQUIRE_NGINX").as_deref() != Ok("1"), "{why}");
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "{why}");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        // PostgreSQL when there is one to use (a fresh database), else a shared SQLite file.
        let db = match std::env::var("DATABASE_URL") {
            Ok(_) => common::fresh_postgres(name).await,
            Err(_) => None,
        };
        let mut cmd = Command::new(repo().join("deploy/up.sh"));
        cmd.arg("2").arg("--").args(flags);
        cmd.env("STATUSKIT_DEPLOY_DIR", dir.path())
            .env("STATUSKIT_BIN", env!("CARGO_BIN_EXE_statuskit"))
            .env("STATUSKIT_ADMIN_USER", ADMIN_USER)
            .env("STATUSKIT_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("STATUSKIT_CLIENT_ID", CLIENT_ID)
            .env("STATUSKIT_CLIENT_SECRET", CLIENT_SECRET)
            .env_remove("REDIS_URL")
            .env("RUST_LOG", "info");
        match &db {
            Some(db) => cmd.env("DATABASE_URL", &db.url),
            None => cmd.env_remove("DATABASE_URL"),
        };
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run deploy/up.sh");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "up.sh failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        let mut instances = Vec::new();
        let mut gateway = String::new();
        for line in stdout.lines() {
            let parts: Vec<&str> = line.split(' ').collect();
            match parts.as_slice() {
                ["instance", pid, url] => instances.push((pid.parse().unwrap(), (*url).to_owned())),
                ["gateway", url] => gateway = (*url).to_owned(),
                _ => panic!("unexpected line from up.sh: {line:?}"),
            }
        }
        assert_eq!(instances.len(), 2, "{stdout}");
        assert!(stdout.lines().last().unwrap().starts_with("gateway "), "the gateway line comes last");
        Some(Deployment { dir, gateway, instances, _db: db })
    }

    /// The instance URL the gateway sent the request with `request_id` to, from its access log
    /// (written every second; waits up to 5 s for the line).
    fn served_by(&self, request_id: &str) -> String {
        let needle = format!(" request_id={request_id} ");
        let started = std::time::Instant::now();
        loop {
            let log = std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default();
            if let Some(line) = log.lines().find(|l| l.contains(&needle)) {
                let upstream = line.split(" upstream=").nth(1).and_then(|r| r.split(' ').next()).unwrap_or("");
                return format!("http://{upstream}");
            }
            assert!(started.elapsed() < Duration::from_secs(5), "no access log line for {request_id}:\n{log}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Instance `i`'s log (its stderr).
    fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("instance-{}.log", i + 1))).unwrap_or_default()
    }

    fn kill(&self, i: usize) {
        let status = Command::new("kill").args(["-KILL", &self.instances[i].0.to_string()]).status().unwrap();
        assert!(status.success());
        std::thread::sleep(Duration::from_millis(200));
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("deploy/down.sh")).env("STATUSKIT_DEPLOY_DIR", self.dir.path()).output();
    }
}

async fn token(base: &str) -> String {
    let res = reqwest::Client::new()
        .post(format!("{base}/oauth/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "password"), ("username", ADMIN_USER), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .expect("token request");
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

/// Asserts a problem of `status` named `name` whose request_id equals `X-Request-Id`.
async fn problem(res: reqwest::Response, status: u16, name: &str) -> Value {
    assert_eq!(res.status().as_u16(), status);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.expect("a JSON problem");
    assert_eq!(body["type"], format!("/docs/errors#{name}"));
    assert_eq!(body["status"], status);
    assert_eq!(body["request_id"], id.as_str());
    assert_eq!(body["detail"], body["message"]);
    body
}

#[tokio::test]
async fn through_the_gateway_answers_pass_and_failures_are_502_problems() {
    let Some(d) = Deployment::up("gateway_failures", &[], &[]).await else { return };
    let http = reqwest::Client::new();
    let token = token(&d.gateway).await;
    // A write through the gateway is read through each instance with the same ETag.
    let res = http
        .post(format!("{}/v1/customers", d.gateway))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "Ada", "email": "ada@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    for (_, url) in &d.instances {
        let res = http.get(format!("{url}{location}")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["etag"], etag.as_str());
    }
    // The service's own problems pass through untouched, with the caller's request id.
    let res = http
        .get(format!("{}/v1/customers/999999", d.gateway))
        .bearer_auth(&token)
        .header("x-request-id", "probe-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "probe-42");
    problem(res, 404, "not_found").await;
    // An insane incoming id is replaced by the gateway's own.
    let res = http.get(format!("{}/health", d.gateway)).header("x-request-id", "a b<c>").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_ne!(res.headers()["x-request-id"], "a b<c>");
    // One instance killed: requests keep succeeding.
    d.kill(0);
    for _ in 0..10 {
        let res = http.get(format!("{}{location}", d.gateway)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    // Every instance killed: the gateway's own 502 problem.
    d.kill(1);
    let res = http.get(format!("{}/v1/customers", d.gateway)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body = problem(res, 502, "bad_gateway").await;
    assert!(body["detail"].as_str().unwrap().contains("no instance"), "{body}");
}

#[tokio::test]
async fn a_stalled_instance_is_a_504_problem_and_a_huge_body_a_413_from_the_gateway() {
    let env = [("GATEWAY_READ_TIMEOUT", "1s"), ("GATEWAY_MAX_BODY", "100k")];
    let Some(d) = Deployment::up("gateway_stall", &env, &["--fault-injection", "--deadline-ms", "30000"]).await else {
        return;
    };
    let http = reqwest::Client::new();
    // From an instance: through the gateway, a sign-in slower than its 1 s read timeout (a loaded
    // machine) would be a 504 before the test begins.
    let token = token(&d.instances[0].1).await;
    // Both instances stall (faults are per instance).
    for (_, url) in &d.instances {
        let res = http
            .put(format!("{url}/admin/faults"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"path_prefix": "/v1/customers", "delay_ms": 5000}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let res = http.get(format!("{}/v1/customers", d.gateway)).bearer_auth(&token).send().await.unwrap();
    problem(res, 504, "gateway_timeout").await;
    let res = http
        .post(format!("{}/v1/customers", d.gateway))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(vec![b'x'; 200_000])
        .send()
        .await
        .unwrap();
    problem(res, 413, "content_too_large").await;
}

#[tokio::test]
async fn a_rolling_restart_under_load_answers_every_request_within_the_contract() {
    let Some(d) =
        Deployment::up("gateway_rolling", &[], &["--shutdown-grace-ms", "5000", "--rate-limits", "off"]).await
    else {
        return;
    };
    let token = token(&d.gateway).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Four clients: reads, and creates each with its own Idempotency-Key, until the restart is over.
    let load: Vec<_> = (0..4)
        .map(|c| {
            let (gateway, token, stop) = (d.gateway.clone(), token.clone(), stop.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let (mut ok, mut outside) = (0usize, Vec::new());
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    let res = if n % 3 == 0 {
                        http.post(format!("{gateway}/v1/customers"))
                            .bearer_auth(&token)
                            .header("idempotency-key", format!("\"rolling-{c}-{n}\""))
                            .json(&serde_json::json!({"name": "Rolling", "email": format!("r{c}-{n}@example.com")}))
                            .send()
                            .await
                    } else {
                        http.get(format!("{gateway}/v1/customers?limit=5")).bearer_auth(&token).send().await
                    };
                    match res {
                        Ok(r) if r.status().is_success() => ok += 1,
                        Ok(r) => outside.push(format!("{} {}", r.status(), r.text().await.unwrap_or_default())),
                        Err(e) => outside.push(format!("no answer: {e}")),
                    }
                }
                (ok, outside)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let dir = d.dir.path().to_owned();
    let restart = tokio::task::spawn_blocking(move || {
        Command::new(repo().join("deploy/restart.sh"))
            .env("STATUSKIT_DEPLOY_DIR", &dir)
            .env("STATUSKIT_BIN", env!("CARGO_BIN_EXE_statuskit"))
            .output()
            .expect("run deploy/restart.sh")
    })
    .await
    .unwrap();
    assert!(restart.status.success(), "restart.sh failed: {}", String::from_utf8_lossy(&restart.stderr));
    let restarted = String::from_utf8_lossy(&restart.stdout).lines().filter(|l| l.starts_with("instance ")).count();
    assert_eq!(restarted, 2, "both instances were restarted");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut ok, mut outside) = (0, Vec::new());
    for l in load {
        let (o, bad) = l.await.unwrap();
        ok += o;
        outside.extend(bad);
    }
    assert!(ok > 20, "the load ran during the restart ({ok} answers)");
    let first: Vec<_> = outside.iter().take(5).collect();
    assert!(
        outside.is_empty(),
        "{} of {} requests answered outside the contract, first: {first:?}",
        outside.len(),
        ok + outside.len()
    );
}

/// POSTs a customer through the gateway with `key` and this attempt's own request id.
async fn keyed_post(
    http: &reqwest::Client,
    d: &Deployment,
    token: &str,
    key: &str,
    attempt: &str,
) -> reqwest::Response {
    http.post(format!("{}/v1/customers", d.gateway))
        .bearer_auth(token)
        .header("idempotency-key", format!("\"{key}\""))
        .header("x-request-id", attempt)
        .json(&serde_json::json!({"name": "Keyed", "email": format!("{key}@example.com")}))
        .send()
        .await
        .unwrap()
}

/// How many of the account's customers have `email`.
async fn customers_with(http: &reqwest::Client, d: &Deployment, token: &str, email: &str) -> usize {
    let res = http.get(format!("{}/v1/customers?limit=100", d.gateway)).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let all: Value = res.json().await.unwrap();
    all["items"].as_array().unwrap().iter().filter(|c| c["email"] == email).count()
}

#[tokio::test]
async fn through_the_gateway_a_key_is_one_customer_whichever_instance_and_a_revocation_reaches_both() {
    let Some(d) = Deployment::up("gateway_keys", &[], &["--token-cache-seconds", "1"]).await else { return };
    let http = reqwest::Client::new();
    let token = token(&d.gateway).await;

    // A POST retried with its key: every retry replays the first answer, wherever it lands.
    let mut served = std::collections::BTreeSet::new();
    let first = keyed_post(&http, &d, &token, "retried", "retried-0").await;
    assert_eq!(first.status(), 201);
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = first.json().await.unwrap();
    served.insert(d.served_by("retried-0"));
    for attempt in 1..4 {
        let id = format!("retried-{attempt}");
        let replay = keyed_post(&http, &d, &token, "retried", &id).await;
        assert_eq!(replay.status(), 201, "attempt {attempt} replays the 201");
        assert_eq!(replay.headers()["location"], location.as_str());
        assert_eq!(replay.json::<Value>().await.unwrap(), body);
        served.insert(d.served_by(&id));
    }
    assert_eq!(served.len(), 2, "the retries landed on both instances: {served:?}");
    assert_eq!(customers_with(&http, &d, &token, "retried@example.com").await, 1);

    // Eight POSTs with one key at once, spread over both instances: exactly one customer.
    let attempts = (0..8).map(|i| {
        let (http, d, token) = (&http, &d, &token);
        async move {
            let id = format!("race-{i}");
            let res = keyed_post(http, d, token, "race", &id).await;
            let status = res.status().as_u16();
            (id, status, res.json::<Value>().await.unwrap())
        }
    });
    let replies = futures_util::future::join_all(attempts).await;
    let created: Vec<&Value> = replies.iter().filter(|(_, s, _)| *s == 201).map(|(_, _, b)| b).collect();
    assert!(!created.is_empty(), "{replies:?}");
    assert!(created.iter().all(|b| *b == created[0]), "every 201 is the same customer: {replies:?}");
    for (_, status, body) in &replies {
        if *status != 201 {
            assert_eq!(*status, 409, "{body}");
            assert_eq!(body["type"], "/docs/errors#conflict");
        }
    }
    let served: std::collections::BTreeSet<String> = replies.iter().map(|(id, _, _)| d.served_by(id)).collect();
    assert_eq!(served.len(), 2, "the racing POSTs reached both instances: {served:?}");
    assert_eq!(customers_with(&http, &d, &token, "race@example.com").await, 1, "one customer for one key");

    // A token revoked through one instance is refused by the other within its cache time (1 s).
    let doomed = {
        let res = http
            .post(format!("{}/oauth/token", d.instances[0].1))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&[("grant_type", "password"), ("username", ADMIN_USER), ("password", ADMIN_PASSWORD)])
            .send()
            .await
            .unwrap();
        res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
    };
    let other = &d.instances[1].1;
    let res = http.get(format!("{other}/v1/customers")).bearer_auth(&doomed).send().await.unwrap();
    assert_eq!(res.status(), 200, "issued through one, accepted by the other (and now in its cache)");
    let res = http
        .post(format!("{}/oauth/revoke", d.instances[0].1))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", doomed.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let revoked = std::time::Instant::now();
    loop {
        let res = http.get(format!("{other}/v1/customers")).bearer_auth(&doomed).send().await.unwrap();
        if res.status() == 401 {
            break;
        }
        assert_eq!(res.status(), 200);
        assert!(revoked.elapsed() < Duration::from_millis(2500), "still accepted after the 1 s cache time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..4 {
        let res = http.get(format!("{}/v1/customers", d.gateway)).bearer_auth(&doomed).send().await.unwrap();
        assert_eq!(res.status(), 401, "refused through the gateway, whichever instance answers");
        assert!(res.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    }
}

#[tokio::test]
async fn maintenance_switched_through_one_instance_turns_every_instance_to_503_behind_the_gateway() {
    let Some(d) = Deployment::up("gateway_maintenance", &[], &["--maintenance-poll-ms", "200"]).await else {
        return;
    };
    let http = reqwest::Client::new();
    let token = token(&d.gateway).await;
    let switch = |url: String, body: Value| {
        let (http, token) = (http.clone(), token.clone());
        async move {
            let res =
                http.put(format!("{url}/admin/maintenance")).bearer_auth(&token).json(&body).send().await.unwrap();
            assert_eq!(res.status(), 200);
        }
    };
    switch(d.instances[0].1.clone(), serde_json::json!({"enabled": true, "retry_after_seconds": 120})).await;
    // Within the poll interval (and a margin for a loaded machine) the other instance follows.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for (_, url) in &d.instances {
        let res = http.get(format!("{url}/v1/customers")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(res.headers()["retry-after"], "120", "{url}");
        problem(res, 503, "service_unavailable").await;
    }
    let mut served = std::collections::BTreeSet::new();
    for i in 0..4 {
        let id = format!("maintenance-{i}");
        let res = http
            .get(format!("{}/v1/customers", d.gateway))
            .bearer_auth(&token)
            .header("x-request-id", &id)
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["retry-after"], "120");
        let body = problem(res, 503, "service_unavailable").await;
        assert!(body["detail"].as_str().unwrap().contains("maintenance"), "the instance's own 503: {body}");
        served.insert(d.served_by(&id));
    }
    assert_eq!(served.len(), 2, "both instances answered 503: {served:?}");
    // Off through the gateway: both serve again.
    switch(d.gateway.clone(), serde_json::json!({"enabled": false})).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for (_, url) in &d.instances {
        let res = http.get(format!("{url}/v1/customers")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(res.status(), 200, "{url}");
    }
}

#[tokio::test]
async fn one_rate_limit_is_shared_by_both_instances_behind_the_gateway() {
    let Ok(redis) = std::env::var("REDIS_URL") else {
        let why = "SKIPPED one_rate_limit_is_shared_by_both_instances_behind_the_gateway: REDIS_URL is not set \
                   (e.g. redis://127.0.0.1:6379)";
        let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("{why}\n").as_bytes());
        return;
    };
    let prefix = format!("statuskit-gateway-test:{}:{}:", std::process::id(), ulid::Ulid::new());
    // 6 reads an hour: none comes back during the test, however slow the machine.
    let flags = ["--redis-key-prefix", &prefix, "--rate-limit-reads", "6", "--rate-limit-window-seconds", "3600"];
    let Some(d) = Deployment::up("gateway_rate_limit", &[("REDIS_URL", &redis)], &flags).await else { return };
    let http = reqwest::Client::new();
    let token = token(&d.gateway).await;
    let mut statuses = Vec::new();
    for i in 0..10 {
        let id = format!("limited-{i}");
        let res = http
            .get(format!("{}/v1/customers", d.gateway))
            .bearer_auth(&token)
            .header("x-request-id", &id)
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            assert!(res.headers().contains_key("retry-after"));
            assert!(res.headers().contains_key("ratelimit-policy"));
            problem(res, 429, "too_many_requests").await;
        }
    }
    let served: std::collections::BTreeSet<String> = (0..10).map(|i| d.served_by(&format!("limited-{i}"))).collect();
    assert_eq!(served.len(), 2, "the requests reached both instances: {served:?}");
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 429, 429, 429, 429], "one quota of 6 across both instances");
}

#[tokio::test]
async fn an_operation_whose_instance_is_killed_mid_way_is_finished_by_the_other_behind_the_gateway() {
    let flags = ["--operation-step-delay-ms", "1000", "--operation-lease-ms", "1500"];
    let Some(d) = Deployment::up("gateway_operation", &[], &flags).await else { return };
    // The monitor's 303 is looked at, not followed.
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let token = token(&d.gateway).await;
    let png = {
        let img = image::RgbImage::from_fn(256, 256, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 7]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    let res = http
        .put(format!("{}/v1/me/avatar", d.gateway))
        .bearer_auth(&token)
        .header("content-type", "image/png")
        .body(png)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let monitor = res.headers()["location"].to_str().unwrap().to_owned();
    let op = monitor.rsplit('/').next().unwrap().to_owned();
    let working_on = format!("op={op}");
    // Wait until one instance's worker is in the middle of it; find which one.
    let started = std::time::Instant::now();
    let busy = loop {
        let body: Value =
            http.get(format!("{}{monitor}", d.gateway)).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        let holder = (0..2)
            .find(|i| d.log(*i).lines().any(|l| l.contains("working on an operation") && l.contains(&working_on)));
        if body["status"] == "running" && body["progress"].as_i64().unwrap() > 0 {
            if let Some(i) = holder {
                break i;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(15), "never seen running: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    d.kill(busy);
    let other = 1 - busy;
    let started = std::time::Instant::now();
    let done = loop {
        let res = http.get(format!("{}{monitor}", d.gateway)).bearer_auth(&token).send().await.unwrap();
        if res.status() != 200 {
            break res;
        }
        let body: Value = res.json().await.unwrap();
        assert_ne!(body["status"], "failed", "{body}");
        assert!(started.elapsed() < Duration::from_secs(40), "never finished: {body}\n{}", d.log(other));
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(done.status(), 303);
    assert_eq!(done.headers()["location"], "/v1/me/avatar");
    assert!(
        d.log(other).lines().any(|l| l.contains("working on an operation") && l.contains(&working_on)),
        "the surviving instance took it over"
    );
    let thumb = http.get(format!("{}/v1/me/avatar/64", d.gateway)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(thumb.status(), 200);
    let img = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert_eq!((img.width(), img.height()), (64, 64));
}
