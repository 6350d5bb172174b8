//! The probe against our own service (every check passes) and against a server we did not write,
//! httpbin from PyPI on loopback (the probe finds its known faults); and /openapi.json, whose
//! paths and methods are checked against what the service answers to OPTIONS.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{spawn_app, spawn_app_with};
use statuskit_probe::check::Outcome;
use statuskit_probe::report::{Format, Report};
use statuskit_probe::{probe, Config};

async fn run(config: Config) -> Report {
    probe(&config, &indicatif::ProgressBar::hidden()).await.expect("the probe ran")
}

fn outcome<'a>(r: &'a Report, id: &str) -> &'a Outcome {
    &r.finding(id).unwrap_or_else(|| panic!("check {id} did not run")).outcome
}

#[tokio::test]
async fn every_check_passes_against_our_service() {
    // A small read limit, so the 429 check reaches it within a few requests.
    let app = spawn_app_with(&["--rate-limit-reads", "20"]).await;
    let config = Config {
        token: Some(app.token.clone()),
        openapi: Some("/openapi.json".into()),
        rate_limit_requests: 30,
        max_wait: Duration::from_secs(5),
        ..Config::new(&app.base)
    };
    let report = run(config).await;
    let table = report.render(Format::Table);
    assert!(!report.failed(), "{table}");
    for f in &report.findings {
        match &f.outcome {
            Outcome::Pass => {}
            other => panic!("{} was {other:?}\n{table}", f.check.id),
        }
    }
    assert_eq!(report.summary().iter().find(|l| l.status == 304).map(|l| (l.reached, l.passed)), Some((3, 3)));

    // The same through the command line, as CI runs it: JUnit to a file, exit 0.
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("probe.xml");
    let out = Command::new(env!("CARGO_BIN_EXE_statuskit"))
        .args(["probe", &app.base, "--openapi", "/openapi.json", "--format", "junit", "--rate-limit-requests", "5"])
        .arg("--output")
        .arg(&junit)
        .env("STATUSKIT_PROBE_TOKEN", &app.token)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(r#"<testsuite name="statuskit-probe""#) && xml.contains(r#"failures="0""#), "{xml}");
}

#[tokio::test]
async fn only_runs_the_named_checks_and_a_failure_exits_1() {
    let app = spawn_app().await;
    // Without a token every /v1 request is 401, so the 201 check fails: exit code 1.
    let out = Command::new(env!("CARGO_BIN_EXE_statuskit"))
        .args(["probe", &app.base, "--openapi", "/openapi.json", "--only", "201,404", "--format", "json"])
        .env_remove("STATUSKIT_PROBE_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> =
        json["findings"].as_array().unwrap().iter().map(|f| f["check"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["404", "201"]);
    assert_eq!(json["findings"][1]["outcome"]["outcome"], "fail");
    assert_eq!(json["findings"][0]["outcome"]["outcome"], "pass");
}

/// httpbin on a free loopback port; killed when dropped.
struct Httpbin(Child, String);

impl Drop for Httpbin {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_httpbin() -> Option<Httpbin> {
    let installed = Command::new("python3").args(["-c", "import httpbin"]).output();
    if !installed.is_ok_and(|o| o.status.success()) {
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("python3")
        .args(["-m", "httpbin.core", "--host", "127.0.0.1", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let bin = Httpbin(child, format!("http://127.0.0.1:{port}"));
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Some(bin);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test]
async fn the_probe_finds_httpbins_known_faults() {
    let Some(httpbin) = start_httpbin().await else {
        eprintln!(
            "SKIPPED the_probe_finds_httpbins_known_faults: httpbin is not installed or did not start \
             (python3 -m pip install httpbin; .ci/run installs it)"
        );
        return;
    };
    let paths = ["/get", "/bearer", "/status/429", "/etag/probe"].map(String::from).to_vec();
    let config = Config { paths, max_wait: Duration::from_secs(2), ..Config::new(&httpbin.1) };
    let report = run(config).await;
    let table = report.render(Format::Table);
    let failed = |id: &str, needle: &str| match outcome(&report, id) {
        Outcome::Fail(why) => assert!(why.contains(needle), "{id}: {why}\n{table}"),
        other => panic!("{id} should fail against httpbin, was {other:?}\n{table}"),
    };
    // Its error bodies are HTML or empty, never problem details.
    failed("404", "text/html");
    failed("problem", "not a problem");
    // It ignores Accept (200 to image/png).
    failed("406", "answered 200");
    // Its Bearer challenge has no realm, and it takes any token at all.
    failed("401-realm", "no realm");
    failed("401-invalid-token", "answered 200");
    // Its 429 says nothing about when to come back.
    failed("429", "without Retry-After");
    // Its /etag/{etag} sends the tag unquoted (`ETag: probe`), which is no entity-tag.
    failed("grammar-etag", "`probe` is not an entity-tag");
    // What it does right: HEAD, OPTIONS, 405 with Allow, a challenge on 401, If-None-Match.
    for id in ["head", "options", "405", "401", "304-strong", "grammar-allow"] {
        assert_eq!(outcome(&report, id), &Outcome::Pass, "{id}\n{table}");
    }
    // It has no JSON collection: those checks say why they do not apply.
    for id in ["415", "400", "422", "201", "411"] {
        assert!(matches!(outcome(&report, id), Outcome::Skip(_)), "{id}\n{table}");
    }
    assert!(report.failed());
    eprintln!("{table}");
}

#[tokio::test]
async fn openapi_lists_exactly_the_methods_each_path_answers() {
    let app = spawn_app().await;
    let r = app.get("/openapi.json").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "application/json");
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        "/admin/maintenance",
        "/docs/errors",
        "/health",
        "/oauth/revoke",
        "/oauth/token",
        "/openapi.json",
        "/v1/clients",
        "/v1/clients/{rest}",
        "/v1/customers",
        "/v1/customers/batch",
        "/v1/customers/{id}",
        "/v1/me/avatar",
        "/v1/me/avatar/{size}",
        "/v1/operations/{id}",
    ];
    assert_eq!(paths.keys().collect::<Vec<_>>(), expected);
    for (template, item) in paths {
        let ops: Vec<(&String, &serde_json::Value)> =
            item.as_object().unwrap().iter().filter(|(k, _)| *k != "parameters").collect();
        let mut documented: Vec<String> = ops.iter().map(|(m, _)| m.to_ascii_uppercase()).collect();
        documented.sort();
        let path = template.replace("{id}", "1").replace("{rest}", "x").replace("{size}", "64");
        let options = app.send(app.client.request(reqwest::Method::OPTIONS, app.url(&path))).await;
        if template.contains('{') {
            // OPTIONS is documented on paths without parameters only (see openapi.rs).
            documented.push("OPTIONS".into());
            documented.sort();
        }
        let mut allowed: Vec<String> = options.header("allow").split(", ").map(str::to_owned).collect();
        allowed.sort();
        assert_eq!(allowed, documented, "{template}");
        for (method, op) in ops {
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("500"), "{method} {template} documents 500");
            for (code, response) in responses {
                assert_eq!(response["headers"]["x-request-id"]["required"], true, "{method} {template} {code}");
            }
        }
    }
}
