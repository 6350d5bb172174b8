//! Crash safety: the service is killed with SIGKILL while 8 clients POST customers with
//! Idempotency-Keys and an avatar operation runs. After a restart, every 201 a client received
//! is there exactly once, retrying every request with its key creates nothing new, and the
//! operation finishes.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{spawn_app_on, spawn_app_with, TestApp};

const CLIENTS: usize = 8;

#[derive(Debug, Clone)]
struct Sent {
    key: String,
    body: String,
    /// The id of the 201 the client received, if it received one.
    created: Option<i64>,
}

fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(300, 300, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

async fn post(client: &reqwest::Client, base: &str, key: &str, body: &str) -> Option<(u16, Option<i64>)> {
    let res = client
        .post(format!("{base}/v1/customers"))
        .header("content-type", "application/json")
        .header("idempotency-key", format!("\"{key}\""))
        .body(body.to_owned())
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?;
    let status = res.status().as_u16();
    let body: serde_json::Value = res.json().await.ok()?;
    Some((status, body["id"].as_i64()))
}

async fn all_customers(app: &TestApp) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut next = Some("/v1/customers?limit=100".to_owned());
    while let Some(path) = next {
        let page = app.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let page = page.json();
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        next = page["_links"]["next"]["href"].as_str().map(str::to_owned);
    }
    out
}

#[tokio::test]
async fn sigkill_during_writes_loses_and_duplicates_nothing() {
    let args = ["--rate-limits", "off", "--operation-step-delay-ms", "400"];
    let mut first = spawn_app_with(&args).await;
    let r =
        first.send(first.client.put(first.url("/v1/me/avatar")).header("content-type", "image/png").body(png())).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let monitor = r.header("location").to_owned();

    let sent: Arc<Mutex<Vec<Sent>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (client, base, sent, stop) = (first.client.clone(), first.base.clone(), sent.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let key = format!("client{c}-req{i}");
                let body = format!(r#"{{"name": "Crash {c} {i}", "email": "crash-{c}-{i}@example.com"}}"#);
                let outcome = post(&client, &base, &key, &body).await;
                let created = match outcome {
                    Some((201, id)) => id,
                    Some((status, _)) => panic!("{key}: unexpected {status} before the crash"),
                    None => None, // cut off by the kill
                };
                sent.lock().unwrap().push(Sent { key, body, created });
                if outcome.is_none() {
                    break;
                }
                i += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let progress_before = first.get(&monitor).await;
    first.kill();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let sent = sent.lock().unwrap().clone();
    let received = sent.iter().filter(|s| s.created.is_some()).count();
    assert!(received >= CLIENTS, "the clients got some writes through before the kill: {received}");
    assert_eq!(progress_before.status, 200, "the operation was still running at the kill: {}", progress_before.text());
    eprintln!(
        "crash test: {} POSTs sent, {received} acknowledged, {} cut off; operation at {}% when killed",
        sent.len(),
        sent.len() - received,
        progress_before.json()["progress"]
    );

    let second = spawn_app_on(Some(&first.db), &args).await;

    // Every acknowledged write survived, exactly once.
    let customers = all_customers(&second).await;
    let mut by_email: HashMap<String, Vec<i64>> = HashMap::new();
    for c in &customers {
        by_email.entry(c["email"].as_str().unwrap().to_owned()).or_default().push(c["id"].as_i64().unwrap());
    }
    for s in sent.iter().filter(|s| s.created.is_some()) {
        let email: serde_json::Value = serde_json::from_str(&s.body).unwrap();
        let ids = &by_email[email["email"].as_str().unwrap()];
        assert_eq!(ids, &vec![s.created.unwrap()], "{}: acknowledged once, stored once", s.key);
    }

    // Retrying every request with its key: the acknowledged ones replay their 201 with the same
    // id; the cut-off ones are created now; nothing is created twice.
    for s in &sent {
        let (status, id) =
            post(&second.client, &second.base, &s.key, &s.body).await.expect("the restarted service answers");
        assert_eq!(status, 201, "{}", s.key);
        if let Some(first_id) = s.created {
            assert_eq!(id, Some(first_id), "{}: the retry found the first write", s.key);
        }
    }
    let after = all_customers(&second).await;
    assert_eq!(after.len(), sent.len(), "one customer per key, whatever happened");

    // The operation resumes and finishes.
    let started = Instant::now();
    loop {
        let r = second.get(&monitor).await;
        if r.status == 303 {
            break;
        }
        assert_eq!(r.status, 200, "{}", r.text());
        assert_ne!(r.json()["status"], "failed", "{}", r.text());
        assert!(started.elapsed() < Duration::from_secs(30), "the operation never finished: {}", r.text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(second.get("/v1/me/avatar/32").await.status, 200);
}
