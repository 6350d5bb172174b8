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
    let token = token(&d.gateway).await;
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
