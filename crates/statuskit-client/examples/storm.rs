//! The retry storm (`bench/storm.sh`): 200 concurrent clients create one customer each against
//! a `statuskit serve` whose write quota is far below their demand, three ways in one run:
//!
//! * **naive**: bare reqwest, retrying every 429 (and 503, 409, transport error) at once, with a
//!   key so that nothing is duplicated; any other answer ends that client (and is printed);
//! * **fleet**: one `statuskit_client::Client` shared by the 200 tasks (shared pacing and budget);
//! * **independent**: 200 separate `Client`s (each learns the quota only from its own answers).
//!
//! For each: HTTP requests sent, 429s met, wall time, and whether every logical request created
//! exactly one customer (the service's list is read back and counted). Then the client's own cost
//! on a plain 200 against bare reqwest's: CPU time of this process (the service is another
//! process) per GET, alternating rounds, the ratio of the medians.
//!
//! ```text
//! cargo run --release -p statuskit-client --example storm -- STATUSKIT_BINARY [CLIENTS] [QUOTA] [WINDOW_S] [PLAIN_N] [ROUNDS]
//! ```

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use statuskit_client::Client;

const USER: &str = "admin";
const PASSWORD: &str = "storm-password";
const CLIENT_ID: &str = "storm";
const SECRET: &str = "storm-secret";

struct Service {
    base: String,
    child: Child,
    _dir: std::path::PathBuf,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn start(bin: &str, name: &str, extra: &[&str]) -> Service {
    let dir = std::env::temp_dir().join(format!("statuskit-storm-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(bin)
        .args(["serve", "--addr", "127.0.0.1:0", "--database"])
        .arg(dir.join("storm.db"))
        .args(extra)
        .env("RUST_LOG", "warn")
        .env("STATUSKIT_ADMIN_USER", USER)
        .env("STATUSKIT_ADMIN_PASSWORD", PASSWORD)
        .env("STATUSKIT_CLIENT_ID", CLIENT_ID)
        .env("STATUSKIT_CLIENT_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start statuskit serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("listening on ").expect("the address line").to_owned();
    Service { base, child, _dir: dir }
}

async fn token(base: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("{base}/oauth/token"))
        .basic_auth(CLIENT_ID, Some(SECRET))
        .form(&[("grant_type", "password"), ("username", USER), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

/// Customers in the service, and how many distinct e-mails among them.
async fn created(base: &str, token: &str) -> (usize, usize) {
    let http = reqwest::Client::new();
    let mut emails = Vec::new();
    let mut next = Some("/v1/customers?limit=100".to_owned());
    while let Some(path) = next {
        let page: Value =
            http.get(format!("{base}{path}")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
        for item in page["items"].as_array().unwrap() {
            emails.push(item["email"].as_str().unwrap().to_owned());
        }
        next = page["_links"]["next"]["href"].as_str().map(str::to_owned);
    }
    let n = emails.len();
    emails.sort();
    emails.dedup();
    (n, emails.len())
}

struct Outcome {
    name: &'static str,
    requests: u64,
    too_many: u64,
    failed: u64,
    took: Duration,
    customers: (usize, usize),
}

fn body(i: usize) -> Value {
    json!({"name": format!("storm {i}"), "email": format!("storm{i}@example.com")})
}

async fn naive(base: &str, clients: usize) -> Outcome {
    let token = token(base).await;
    let http = reqwest::Client::new();
    let requests = Arc::new(AtomicU64::new(0));
    let too_many = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let (http, token, url) = (http.clone(), token.clone(), format!("{base}/v1/customers"));
            let (requests, too_many, failed) = (requests.clone(), too_many.clone(), failed.clone());
            tokio::spawn(async move {
                let key = format!("\"naive-{i}\"");
                let started = Instant::now();
                loop {
                    if started.elapsed() > Duration::from_secs(120) {
                        eprintln!("naive: client {i} gave up after 120 s");
                        failed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    requests.fetch_add(1, Ordering::Relaxed);
                    let r =
                        http.post(&url).bearer_auth(&token).header("idempotency-key", &key).json(&body(i)).send().await;
                    match r.map(|r| r.status().as_u16()) {
                        Ok(201) => break,
                        Ok(429) => {
                            too_many.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(503 | 409) | Err(_) => {}
                        Ok(other) => {
                            eprintln!("naive: {other} for client {i}; giving up");
                            failed.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let took = started.elapsed();
    Outcome {
        name: "naive",
        requests: requests.load(Ordering::Relaxed),
        too_many: too_many.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        took,
        customers: created(base, &token).await,
    }
}

async fn with_client(base: &str, clients: usize, shared: bool) -> Outcome {
    let token = token(base).await;
    let build = || {
        Client::builder(base)
            .bearer(token.clone())
            .time_budget(Duration::from_secs(300))
            .max_attempts(1000)
            .build()
            .unwrap()
    };
    let fleet = build();
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let c = if shared { fleet.clone() } else { build() };
            tokio::spawn(async move { c.post("/v1/customers").json(&body(i)).send().await })
        })
        .collect();
    let (mut requests, mut failed) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(r) => requests += u64::from(r.attempts()),
            Err(e) => {
                eprintln!("failed: {e}");
                failed += 1;
            }
        }
    }
    let took = started.elapsed();
    Outcome {
        name: if shared { "fleet (one Client)" } else { "independent Clients" },
        requests,
        // Every attempt past the first met a 429 (nothing else fails against this service).
        too_many: requests - (clients as u64 - failed),
        failed,
        took,
        customers: created(base, &token).await,
    }
}

/// CPU time of this whole process (every thread), from /proc/self/task/*/schedstat, in ns:
/// nanosecond resolution, unlike getrusage's ticks on some kernels.
fn cpu_ns() -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if let Ok(s) = std::fs::read_to_string(task.path().join("schedstat")) {
            total += s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    total
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bin =
        args.first().expect("usage: storm STATUSKIT_BINARY [CLIENTS] [QUOTA] [WINDOW_S] [PLAIN_N] [ROUNDS]").clone();
    let num = |i: usize, d: usize| args.get(i).map_or(d, |v| v.parse().expect("a number"));
    let (clients, quota, window, plain, rounds) = (num(1, 200), num(2, 40), num(3, 2), num(4, 2000), num(5, 5));
    let limits = [
        "--rate-limit-writes",
        &quota.to_string(),
        "--rate-limit-window-seconds",
        &window.to_string(),
        "--rate-limit-reads",
        "1000000",
    ];
    println!("retry storm: {clients} concurrent clients, one POST /v1/customers each; write quota {quota} per {window} s ({} /s)", quota / window);
    println!();
    println!("| scenario | HTTP requests | 429s met | failed | wall s | customers | distinct |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut outcomes = Vec::new();
    for scenario in 0..3 {
        let service = start(&bin, &format!("s{scenario}"), &limits);
        let o = match scenario {
            0 => naive(&service.base, clients).await,
            1 => with_client(&service.base, clients, true).await,
            _ => with_client(&service.base, clients, false).await,
        };
        println!(
            "| {} | {} | {} | {} | {:.2} | {} | {} |",
            o.name,
            o.requests,
            o.too_many,
            o.failed,
            o.took.as_secs_f64(),
            o.customers.0,
            o.customers.1
        );
        outcomes.push(o);
    }
    let naive_requests = outcomes[0].requests as f64;
    for o in &outcomes[1..] {
        let once = o.customers == (clients, clients) && o.failed == 0;
        println!(
            "{}: {:.3} of naive's requests (aim ≤ 0.5: {}); every logical request created exactly once: {}",
            o.name,
            o.requests as f64 / naive_requests,
            if o.requests as f64 <= naive_requests / 2.0 { "met" } else { "missed" },
            if once { "yes" } else { "NO" }
        );
    }

    // The client's own cost on a plain 200, against bare reqwest, alternating rounds.
    let service = start(&bin, "plain", &["--rate-limits", "off"]);
    let token = token(&service.base).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r =
        http.post(format!("{}/v1/customers", service.base)).bearer_auth(&token).json(&body(0)).send().await.unwrap();
    let path = r.headers()["location"].to_str().unwrap().to_owned();
    let url = format!("{}{path}", service.base);
    let client = Client::builder(&service.base).bearer(token.clone()).build().unwrap();
    let (mut bare_ns, mut client_ns) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let before = cpu_ns();
        for _ in 0..plain {
            let r = http.get(&url).bearer_auth(&token).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let _ = r.bytes().await.unwrap();
        }
        bare_ns.push((cpu_ns() - before) as f64 / plain as f64);
        let before = cpu_ns();
        for _ in 0..plain {
            let r = client.get(&path).no_cache().send().await.unwrap();
            assert_eq!(r.status(), 200);
        }
        client_ns.push((cpu_ns() - before) as f64 / plain as f64);
    }
    let (b, c) = (median(bare_ns.clone()), median(client_ns.clone()));
    println!();
    println!("plain 200 (GET {path}, {plain} requests × {rounds} rounds, CPU of the calling process):");
    println!(
        "  bare reqwest:     {:.1} µs/request (rounds {:?})",
        b / 1000.0,
        bare_ns.iter().map(|v| (v / 100.0).round() / 10.0).collect::<Vec<_>>()
    );
    println!(
        "  statuskit-client: {:.1} µs/request (rounds {:?})",
        c / 1000.0,
        client_ns.iter().map(|v| (v / 100.0).round() / 10.0).collect::<Vec<_>>()
    );
    println!("  ratio {:.3} (aim ≤ 1.10: {})", c / b, if c / b <= 1.10 { "met" } else { "missed" });
}
