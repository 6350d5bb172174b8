//! The black-box checks that depend on the store, run against PostgreSQL: each test starts the
//! real `statuskit serve --database postgres://…` on a fresh database of its own, made on the
//! server `DATABASE_URL` points at and dropped after.
//!
//! Without a reachable server a test prints `SKIPPED <name>: PostgreSQL not reachable at …` and
//! returns; with `STATUSKIT_REQUIRE_POSTGRES=1` (CI) it fails instead. Run them with e.g.
//! `DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo test -p statuskit-server --test postgres`.

mod common;

use std::io::Cursor;
use std::time::{Duration, Instant};

use common::{cli, spawn_app_on, spawn_pg_app, Reply, TestApp, ADMIN_PASSWORD, CLIENT_ID, CLIENT_SECRET};
use serde_json::json;

const JSON: &str = "application/json";
/// The largest id the API serves (2^53 - 1).
const MAX_ID: i64 = 9_007_199_254_740_991;

/// Starts a service on a fresh PostgreSQL database, or returns from the test (skipped).
macro_rules! pg_app {
    ($name:expr) => {
        pg_app!($name, &[])
    };
    ($name:expr, $extra:expr) => {
        match spawn_pg_app($name, $extra).await {
            Some(app) => app,
            None => return,
        }
    };
}

async fn created(app: &TestApp, name: &str, email: &str) -> (i64, String) {
    let r = app.create(name, email).await;
    assert_eq!(r.status, 201, "{}", r.text());
    (r.json()["id"].as_i64().unwrap(), r.header("etag").to_owned())
}

async fn put_json(app: &TestApp, path: &str, if_match: Option<&str>, body: serde_json::Value) -> Reply {
    let mut req = app.client.put(app.url(path)).header("content-type", JSON).body(body.to_string());
    if let Some(tag) = if_match {
        req = req.header("if-match", tag);
    }
    app.send(req).await
}

async fn post_with_key(app: &TestApp, key: &str, body: &str) -> Reply {
    app.send(
        app.client
            .post(app.url("/v1/customers"))
            .header("content-type", JSON)
            .header("idempotency-key", key)
            .body(body.to_owned()),
    )
    .await
}

#[tokio::test]
async fn pg_create_read_etag_304_412_delete() {
    let app = pg_app!("pg_create_read_etag_304_412_delete");
    let r = app.create("Ada Lovelace", "ada@example.com").await;
    assert_eq!(r.status, 201, "{}", r.text());
    let location = r.header("location").to_owned();
    assert_eq!(location, "/v1/customers/1");
    let etag = r.header("etag").to_owned();
    let got = app.get(&location).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("etag"), etag);
    assert_eq!(got.json(), r.json());

    let r = app.send(app.client.get(app.url(&location)).header("if-none-match", &etag)).await;
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());

    let r = put_json(&app, &location, Some("\"stale\""), json!({"name": "Mallory", "email": "m@example.com"})).await;
    r.problem(412, "precondition_failed");
    assert_eq!(r.header("etag"), etag, "412 carries the current ETag");

    let r = put_json(&app, &location, Some(&etag), json!({"name": "Ada King", "email": "ada@example.com"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let after = app.get(&location).await;
    assert_eq!(after.json()["name"], "Ada King");
    assert_ne!(after.header("etag"), etag, "a write moves the tag");

    let r = app.send(app.client.delete(app.url(&location)).header("if-match", &etag)).await;
    r.problem(412, "precondition_failed");
    let r = app.send(app.client.delete(app.url(&location))).await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    app.get(&location).await.problem(404, "not_found");
}

#[tokio::test]
async fn pg_list_paginates() {
    let app = pg_app!("pg_list_paginates");
    for i in 0..3 {
        created(&app, &format!("Customer {i}"), &format!("c{i}@example.com")).await;
    }
    let body = app.get("/v1/customers?limit=2").await.json();
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    let next = body["_links"]["next"]["href"].as_str().unwrap().to_owned();
    let last = app.get(&next).await.json();
    assert_eq!(last["items"].as_array().unwrap().len(), 1);
    assert_eq!(last["items"][0]["name"], "Customer 2");
    assert!(last["_links"].get("next").is_none());
}

#[tokio::test]
async fn pg_duplicate_email_is_422_by_constraint_in_its_account_only() {
    let app = pg_app!("pg_duplicate_email_is_422_by_constraint_in_its_account_only");
    let (_, _) = created(&app, "Ada", "ada@example.com").await;
    let (bob, _) = created(&app, "Bob", "bob@example.com").await;
    for r in [
        app.create("Other Ada", "ADA@example.com").await,
        put_json(&app, &format!("/v1/customers/{bob}"), None, json!({"name": "Bob", "email": "Ada@Example.com"})).await,
        put_json(&app, "/v1/customers/500", None, json!({"name": "New", "email": "ada@EXAMPLE.com"})).await,
    ] {
        let body = r.problem(422, "unprocessable_entity");
        assert_eq!(body["errors"]["email"][0], "has already been taken", "{body}");
    }
    app.get("/v1/customers/500").await.problem(404, "not_found");
    // Another account may use the same address.
    cli(&app.db, &["users", "add", "--username", "eve", "--password", "eve-password-1", "--account", "other"]);
    let eve = app.password_token("eve", "eve-password-1", None).await;
    let r = app
        .send(
            app.anon
                .post(app.url("/v1/customers"))
                .bearer_auth(&eve)
                .header("content-type", JSON)
                .body(json!({"name": "Eve's Ada", "email": "ada@example.com"}).to_string()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    // A duplicate user name from the command line is refused (names compare case-insensitively).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_statuskit"))
        .args(["users", "add", "--username", "EVE", "--password", "x-password-12", "--database"])
        .arg(&app.db)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("username"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn pg_put_creates_and_the_largest_id_leaves_post_ids_usable() {
    let app = pg_app!("pg_put_creates_and_the_largest_id_leaves_post_ids_usable");
    let (first, _) = created(&app, "First", "first@example.com").await;
    let r = app
        .send(
            app.client
                .put(app.url("/v1/customers/77"))
                .header("content-type", JSON)
                .header("if-none-match", "*")
                .body(json!({"name": "Put", "email": "put@example.com"}).to_string()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("location"), "/v1/customers/77");
    let again = app
        .send(
            app.client
                .put(app.url("/v1/customers/77"))
                .header("content-type", JSON)
                .header("if-none-match", "*")
                .body(json!({"name": "Put", "email": "put@example.com"}).to_string()),
        )
        .await;
    again.problem(412, "precondition_failed");

    let r = put_json(&app, &format!("/v1/customers/{MAX_ID}"), None, json!({"name": "Max", "email": "max@x.io"})).await;
    assert_eq!(r.status, 201, "{}", r.text());
    for id in first + 1..=first + 3 {
        let r = put_json(
            &app,
            &format!("/v1/customers/{id}"),
            None,
            json!({"name": format!("Put {id}"), "email": format!("put{id}@example.com")}),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let r = app.create("Next", "next@example.com").await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_i64().unwrap();
    assert_eq!(id, first + 4, "the POST counter skipped exactly the ids PUT took");
    let location = r.header("location").to_owned();
    assert_eq!(app.get(&location).await.status, 200, "the Location resolves");
    assert_eq!(app.get(&format!("/v1/customers/{MAX_ID}")).await.status, 200);
}

#[tokio::test]
async fn pg_batch_207_lists_each_item() {
    let app = pg_app!("pg_batch_207_lists_each_item");
    created(&app, "Taken", "taken@example.com").await;
    let body = json!({"items": [
        {"name": "One", "email": "one@example.com"},
        {"name": "", "email": "two@example.com"},
        {"name": "Three", "email": "TAKEN@example.com"},
        {"name": "Four", "email": "four@example.com"}
    ]});
    let r = app
        .send(app.client.post(app.url("/v1/customers/batch")).header("content-type", JSON).body(body.to_string()))
        .await;
    assert_eq!(r.status, 207, "{}", r.text());
    let out = r.json();
    let items = out["items"].as_array().unwrap();
    assert_eq!(items.iter().map(|i| i["status"].as_u64().unwrap()).collect::<Vec<_>>(), [201, 422, 422, 201]);
    assert_eq!(items[2]["body"]["errors"]["email"][0], "has already been taken");
    assert_eq!(app.get(items[3]["location"].as_str().unwrap()).await.status, 200);
}

#[tokio::test]
async fn pg_idempotency_key_replays_refuses_and_conflicts() {
    let app = pg_app!("pg_idempotency_key_replays_refuses_and_conflicts", &["--fault-injection"]);
    let body = r#"{"name": "Once", "email": "once@example.com"}"#;
    let first = post_with_key(&app, "\"key-1\"", body).await;
    assert_eq!(first.status, 201, "{}", first.text());
    let replay = post_with_key(&app, "\"key-1\"", body).await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.header("location"), first.header("location"));
    assert_eq!(replay.json(), first.json(), "the first response, replayed");
    assert_eq!(app.get("/v1/customers").await.json()["items"].as_array().unwrap().len(), 1, "created once");
    let other = post_with_key(&app, "\"key-1\"", r#"{"name": "Twice", "email": "twice@example.com"}"#).await;
    let problem = other.problem(422, "unprocessable_entity");
    assert!(problem["errors"]["Idempotency-Key"].is_array(), "{problem}");

    // While the first request is still running: 409.
    let r = app
        .send(
            app.client
                .put(app.url("/admin/faults"))
                .header("content-type", JSON)
                .body(r#"{"path_prefix": "/v1/customers", "delay_ms": 1500}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let slow = {
        let (client, url) = (app.client.clone(), app.url("/v1/customers"));
        tokio::spawn(async move {
            let r = client
                .post(url)
                .header("content-type", JSON)
                .header("idempotency-key", "\"slow\"")
                .body(r#"{"name": "Slow", "email": "slow@example.com"}"#)
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    post_with_key(&app, "\"slow\"", r#"{"name": "Slow", "email": "slow@example.com"}"#).await.problem(409, "conflict");
    assert_eq!(slow.await.unwrap(), 201);
}

/// A PNG of `side`×`side` pixels.
fn png(side: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(side, side, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 7]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img).write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

async fn upload(app: &TestApp, bytes: Vec<u8>) -> Reply {
    app.send(app.client.put(app.url("/v1/me/avatar")).header("content-type", "image/png").body(bytes)).await
}

async fn poll_until_done(app: &TestApp, monitor: &str, within: Duration) -> Reply {
    let started = Instant::now();
    loop {
        let r = app.get(monitor).await;
        if r.status != 200 || r.json()["status"] == "failed" {
            return r;
        }
        assert!(started.elapsed() < within, "the operation never finished: {}", r.text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn pg_avatar_operation_202_then_409_then_303() {
    let app = pg_app!("pg_avatar_operation_202_then_409_then_303", &["--operation-step-delay-ms", "150"]);
    app.get("/v1/me/avatar").await.problem(404, "not_found");
    let r = upload(&app, png(256)).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let monitor = r.header("location").to_owned();
    assert!(monitor.starts_with("/v1/operations/"));
    let second = upload(&app, png(32)).await;
    let problem = second.problem(409, "conflict");
    assert!(problem["detail"].as_str().unwrap().contains(&monitor));

    let done = poll_until_done(&app, &monitor, Duration::from_secs(30)).await;
    assert_eq!(done.status, 303, "{}", done.text());
    assert_eq!(done.header("location"), "/v1/me/avatar");
    let original = app.get("/v1/me/avatar").await;
    assert_eq!(original.status, 200);
    assert!(original.body.starts_with(b"\x89PNG"));
    let etag = original.header("etag").to_owned();
    let again = app.send(app.client.get(app.url("/v1/me/avatar")).header("if-none-match", &etag)).await;
    assert_eq!(again.status, 304);
    let thumb = app.get("/v1/me/avatar/64").await;
    assert_eq!(thumb.status, 200);
    let img = image::load_from_memory(&thumb.body).unwrap();
    assert_eq!((img.width(), img.height()), (64, 64));
    // Once finished, another upload is accepted again.
    assert_eq!(upload(&app, png(32)).await.status, 202);
}

#[tokio::test]
async fn pg_refresh_rotation_reuse_revokes_and_names_fold_case() {
    let app = pg_app!("pg_refresh_rotation_reuse_revokes_and_names_fold_case");
    // The user name compares case-insensitively, as on SQLite.
    let first =
        app.token_request(&[("grant_type", "password"), ("username", "ADMIN"), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let refresh1 = first.json()["refresh_token"].as_str().unwrap().to_owned();
    let second = app.token_request(&[("grant_type", "refresh_token"), ("refresh_token", &refresh1)]).await;
    assert_eq!(second.status, 200, "{}", second.text());
    let access2 = second.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.send(app.anon.get(app.url("/v1/customers")).bearer_auth(&access2)).await.status, 200);
    let reuse = app.token_request(&[("grant_type", "refresh_token"), ("refresh_token", &refresh1)]).await;
    assert_eq!(reuse.status, 400, "{}", reuse.text());
    assert_eq!(reuse.json()["error"], "invalid_grant");
    let r = app.send(app.anon.get(app.url("/v1/customers")).bearer_auth(&access2)).await;
    assert_eq!(r.status, 401, "the whole grant is revoked: {}", r.text());

    let r = app
        .send(
            app.anon
                .post(app.url("/oauth/revoke"))
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .form(&[("token", app.token.as_str())]),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(app.get("/v1/customers").await.status, 401);
}

#[tokio::test]
async fn pg_two_instances_share_data_and_idempotency_keys() {
    let a = pg_app!("pg_two_instances_share_data_and_idempotency_keys");
    let b = spawn_app_on(Some(&a.db), &[]).await;
    let (id, etag) = created(&a, "Shared", "shared@example.com").await;
    let through_b = b.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(through_b.status, 200);
    assert_eq!(through_b.header("etag"), etag, "the same tag through either instance");

    // A retried POST landing on the other instance replays the first response.
    let body = r#"{"name": "Once", "email": "once@example.com"}"#;
    let first = post_with_key(&a, "\"retry\"", body).await;
    assert_eq!(first.status, 201, "{}", first.text());
    let replay = post_with_key(&b, "\"retry\"", body).await;
    assert_eq!(replay.status, 201, "{}", replay.text());
    assert_eq!(replay.json(), first.json());

    // Two POSTs with one key at once, one through each: exactly one customer.
    let body = r#"{"name": "Race", "email": "race@example.com"}"#;
    let (ra, rb) = tokio::join!(post_with_key(&a, "\"race\"", body), post_with_key(&b, "\"race\"", body));
    let statuses = [ra.status, rb.status];
    assert!(statuses.contains(&201), "{statuses:?}: {} / {}", ra.text(), rb.text());
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
    let all = a.get("/v1/customers?limit=100").await.json();
    let races = all["items"].as_array().unwrap().iter().filter(|c| c["email"] == "race@example.com").count();
    assert_eq!(races, 1, "one customer for one key");

    // Concurrent POSTs without keys on both instances never share an id.
    let names: Vec<(String, String)> = (0..10).map(|i| (format!("P{i}"), format!("p{i}@example.com"))).collect();
    let posts = names.iter().enumerate().map(|(i, (name, email))| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.create(name, email)
    });
    let replies = futures_util::future::join_all(posts).await;
    let mut ids: Vec<i64> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{}", r.text());
            r.json()["id"].as_i64().unwrap()
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 10, "ten distinct ids");
}

#[tokio::test]
async fn pg_an_operation_whose_instance_dies_is_finished_by_another() {
    let lease = ["--operation-lease-ms", "1500"];
    let mut a = pg_app!(
        "pg_an_operation_whose_instance_dies_is_finished_by_another",
        &["--operation-step-delay-ms", "1000", "--operation-lease-ms", "1500"]
    );
    let r = upload(&a, png(256)).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let monitor = r.header("location").to_owned();
    // Wait until a's worker is in the middle of it, then kill a without any shutdown.
    let started = Instant::now();
    loop {
        let body = a.get(&monitor).await.json();
        if body["status"] == "running" && body["progress"].as_i64().unwrap() > 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never seen running: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.kill();
    let b = spawn_app_on(Some(&a.db), &lease).await;
    let done = poll_until_done(&b, &monitor, Duration::from_secs(30)).await;
    assert_eq!(done.status, 303, "{}", done.text());
    let original = b.get("/v1/me/avatar").await;
    assert_eq!(original.status, 200);
    assert_eq!(b.get("/v1/me/avatar/256").await.status, 200);
}

#[tokio::test]
async fn pg_a_key_in_flight_is_409_on_another_instance_until_its_instance_dies() {
    let mut a = pg_app!(
        "pg_a_key_in_flight_is_409_on_another_instance_until_its_instance_dies",
        &["--fault-injection", "--deadline-ms", "20000"]
    );
    let b = spawn_app_on(Some(&a.db), &[]).await;
    let r = a
        .send(
            a.client
                .put(a.url("/admin/faults"))
                .header("content-type", JSON)
                .body(r#"{"path_prefix": "/v1/customers", "delay_ms": 10000}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r#"{"name": "Held", "email": "held@example.com"}"#;
    let held = {
        let (client, url) = (a.client.clone(), a.url("/v1/customers"));
        tokio::spawn(async move {
            client
                .post(url)
                .header("content-type", JSON)
                .header("idempotency-key", "\"held\"")
                .body(body)
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    // a holds the key (its request is still running): b answers 409.
    post_with_key(&b, "\"held\"", body).await.problem(409, "conflict");
    // a dies mid-request: the key it held is free as soon as PostgreSQL has seen a's sessions
    // end (a few milliseconds; allowed 3 s here on a loaded machine), not after a timeout.
    a.kill();
    assert!(held.await.unwrap().is_err(), "a's request was cut off");
    let freed = std::time::Instant::now();
    let r = loop {
        let r = post_with_key(&b, "\"held\"", body).await;
        if r.status != 409 || freed.elapsed() > Duration::from_secs(3) {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(r.status, 201, "{}", r.text());
    let replay = post_with_key(&b, "\"held\"", body).await;
    assert_eq!(replay.json(), r.json());
}

#[tokio::test]
async fn pg_a_stale_worker_cannot_finish_an_operation_another_took_over() {
    use statuskit_server::store::postgres::PgStore;
    use statuskit_server::store::{Claimed, Image, InProgress, OperationState, OperationStore, StoreError};
    let Some(pg) = common::fresh_postgres("pg_a_stale_worker_cannot_finish_an_operation_another_took_over").await
    else {
        return;
    };
    let lease = Duration::from_millis(300);
    let first = PgStore::open(&pg.url).await.unwrap().with_lease(lease);
    let second = PgStore::open(&pg.url).await.unwrap().with_lease(lease);
    let queued = first.queue_avatar(1, "image/png", &png(16)).await.unwrap().unwrap();
    let again = second.queue_avatar(1, "image/png", &png(16)).await.unwrap();
    assert_eq!(
        again,
        Err(InProgress { id: queued.id.clone() }),
        "one operation per user at a time, whichever instance"
    );

    let op = first.claim().await.unwrap().expect("the queued operation").operation;
    assert_eq!(op.id, queued.id);
    assert!(second.claim().await.unwrap().is_none(), "leased: not claimable while the lease holds");
    first.progress(&op.id, 20).await.unwrap();
    // The first worker stalls past its lease (alive, but silent): the second takes over.
    tokio::time::sleep(lease * 2).await;
    let Claimed { operation: taken, input, .. } =
        second.claim().await.unwrap().expect("the expired lease is claimable");
    assert_eq!((taken.id.as_str(), taken.progress), (op.id.as_str(), 0), "resumed from the start");
    assert!(!input.is_empty());
    // The stale worker's late steps and result are refused; the new owner's are stored.
    assert!(matches!(first.progress(&op.id, 60).await, Err(StoreError::VersionMoved)));
    let image = Image { size: 0, content_type: "image/png".to_owned(), bytes: png(16), etag: "tag".to_owned() };
    assert!(matches!(first.succeed(&op, std::slice::from_ref(&image)).await, Err(StoreError::VersionMoved)));
    assert!(matches!(first.fail(&op.id, "late").await, Err(StoreError::VersionMoved)));
    assert!(first.avatar(1, 0).await.unwrap().is_none(), "nothing stored by the stale worker");
    second.succeed(&taken, &[image]).await.unwrap();
    let done = second.operation(1, &op.id).await.unwrap().unwrap();
    assert_eq!((done.state, done.progress), (OperationState::Succeeded, 100));
    assert_eq!(first.avatar(1, 0).await.unwrap().unwrap().etag, "tag");
    drop((first, second));
}

#[tokio::test]
async fn pg_a_token_revoked_through_one_instance_is_refused_by_the_other_within_its_cache_time() {
    let cache = ["--token-cache-seconds", "1"];
    let a = pg_app!("pg_a_token_revoked_through_one_instance_is_refused_by_the_other_within_its_cache_time", &cache);
    let b = spawn_app_on(Some(&a.db), &cache).await;
    let token = a.password_token(common::ADMIN_USER, ADMIN_PASSWORD, None).await;
    let through_b = || b.send(b.anon.get(b.url("/v1/customers")).bearer_auth(&token));
    assert_eq!(through_b().await.status, 200, "issued through a, accepted by b");
    let r = a
        .send(
            a.anon
                .post(a.url("/oauth/revoke"))
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .form(&[("token", token.as_str())]),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(a.send(a.anon.get(a.url("/v1/customers")).bearer_auth(&token)).await.status, 401);
    let revoked = Instant::now();
    loop {
        let r = through_b().await;
        if r.status == 401 {
            break;
        }
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(revoked.elapsed() < Duration::from_millis(2500), "b still accepts it after its cache time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn pg_an_operation_queued_by_one_instance_wakes_the_others_workers_by_notify() {
    use statuskit_server::store::postgres::PgStore;
    use statuskit_server::store::OperationStore;
    let Some(pg) =
        common::fresh_postgres("pg_an_operation_queued_by_one_instance_wakes_the_others_workers_by_notify").await
    else {
        return;
    };
    let queuing = PgStore::open(&pg.url).await.unwrap();
    let listening = PgStore::open(&pg.url).await.unwrap();
    let work = std::sync::Arc::new(tokio::sync::Notify::new());
    listening.wake_on_new_work(work.clone());
    // Time for its LISTEN to be in place (it connects in the background).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let woken = work.notified();
    tokio::pin!(woken);
    woken.as_mut().enable();
    queuing.queue_avatar(1, "image/png", &png(16)).await.unwrap().unwrap();
    // Only a notification wakes it: at the store, nothing polls.
    tokio::time::timeout(Duration::from_secs(2), woken).await.expect("woken by NOTIFY within 2 s");
    // Nothing queued, nothing said.
    let quiet = work.notified();
    assert!(tokio::time::timeout(Duration::from_millis(700), quiet).await.is_err(), "woken with no work queued");
    drop((queuing, listening));
}
