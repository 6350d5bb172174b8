//! Black-box tests of work that takes time, many at once, and safe retries: the avatar chain
//! 202 → monitor 200 → 303 → image 200 → 304, its errors, 207 batches, and Idempotency-Key.

mod common;

use std::io::Cursor;
use std::time::{Duration, Instant};

use common::{spawn_app_with, Reply, TestApp};

/// A PNG (or JPEG) of `side`×`side` pixels, with a gradient so it compresses like a photo.
pub fn image_bytes(side: u32, format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(side, side, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img).write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

async fn upload(app: &TestApp, content_type: &str, bytes: Vec<u8>) -> Reply {
    app.send(app.client.put(app.url("/v1/me/avatar")).header("content-type", content_type).body(bytes)).await
}

async fn poll_until_done(app: &TestApp, monitor: &str) -> Reply {
    let started = Instant::now();
    loop {
        let r = app.get(monitor).await;
        if r.status != 200 || r.json()["status"] == "failed" {
            return r;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the operation never finished: {}", r.text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn avatar_chain_202_monitor_303_image_304() {
    let app = spawn_app_with(&["--operation-step-delay-ms", "150"]).await;
    app.get("/v1/me/avatar").await.problem(404, "not_found");
    app.get("/v1/me/avatar/64").await.problem(404, "not_found");

    let r = upload(&app, "image/png", image_bytes(512, image::ImageFormat::Png)).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let monitor = r.header("location").to_owned();
    assert!(monitor.starts_with("/v1/operations/"));
    assert_eq!(r.header("retry-after"), "1");
    let body = r.json();
    assert_eq!(body["_links"]["status"]["href"], monitor);
    assert!(body["status"] == "queued" || body["status"] == "running");
    assert_eq!(body["progress"], 0);

    // While it runs: 200 with progress and Retry-After; a second upload is 409.
    let r = app.get(&monitor).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("retry-after"), "1");
    let progress = r.json()["progress"].as_i64().unwrap();
    assert!((0..100).contains(&progress));
    let second = upload(&app, "image/png", image_bytes(64, image::ImageFormat::Png)).await;
    let problem = second.problem(409, "conflict");
    assert!(problem["detail"].as_str().unwrap().contains(&monitor));

    // Done: 303 to the result, which is there with an ETag, and 304 with it.
    let done = poll_until_done(&app, &monitor).await;
    assert_eq!(done.status, 303, "{}", done.text());
    assert_eq!(done.header("location"), "/v1/me/avatar");
    let original = app.get("/v1/me/avatar").await;
    assert_eq!(original.status, 200);
    assert_eq!(original.header("content-type"), "image/png");
    assert!(original.body.starts_with(b"\x89PNG"));
    let etag = original.header("etag").to_owned();
    let again = app.send(app.client.get(app.url("/v1/me/avatar")).header("if-none-match", &etag)).await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    for size in [32, 64, 128, 256] {
        let t = app.get(&format!("/v1/me/avatar/{size}")).await;
        assert_eq!(t.status, 200, "{size}");
        let img = image::load_from_memory(&t.body).unwrap();
        assert_eq!((img.width(), img.height()), (size, size));
        let etag = t.header("etag").to_owned();
        let r = app.send(app.client.get(app.url(&format!("/v1/me/avatar/{size}"))).header("if-none-match", etag)).await;
        assert_eq!(r.status, 304);
    }
    app.get("/v1/me/avatar/100").await.problem(404, "not_found");
    let r = app.send(app.client.get(app.url("/v1/me/avatar")).header("accept", "application/json")).await;
    r.problem(406, "not_acceptable");

    // Another user cannot see this operation.
    common::cli(&app.db, &["users", "add", "--username", "bob", "--password", "bob-password", "--account", "other"]);
    let bob = app.password_token("bob", "bob-password", None).await;
    let r = app.send(app.anon.get(app.url(&monitor)).bearer_auth(&bob)).await;
    r.problem(404, "not_found");
}

#[tokio::test]
async fn avatar_upload_errors() {
    let app = spawn_app_with(&["--max-avatar-bytes", "200000"]).await;
    let r = upload(&app, "image/gif", b"GIF89a".to_vec()).await;
    r.problem(415, "unsupported_media_type");
    assert_eq!(r.header("accept"), "image/png, image/jpeg");
    let r = upload(&app, "image/png", b"definitely not a png".to_vec()).await;
    let body = r.problem(422, "unprocessable_entity");
    assert!(body["errors"]["body"].is_array());
    let r = upload(&app, "image/jpeg", image_bytes(32, image::ImageFormat::Png)).await;
    r.problem(422, "unprocessable_entity");
    let r = upload(&app, "image/png", vec![0u8; 300_000]).await;
    r.problem(413, "content_too_large");
    // A client's own token (no user) has no "me".
    let r = app.token_request(&[("grant_type", "client_credentials")]).await;
    let token = r.json()["access_token"].as_str().unwrap().to_owned();
    let r = app.send(app.anon.get(app.url("/v1/me/avatar")).bearer_auth(&token)).await;
    r.problem(403, "forbidden");

    // A PNG whose header is fine but whose data is cut off fails in the worker: the monitor
    // says failed, with a problem.
    let mut truncated = image_bytes(256, image::ImageFormat::Png);
    truncated.truncate(truncated.len() / 2);
    let r = upload(&app, "image/png", truncated).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let monitor = r.header("location").to_owned();
    let done = poll_until_done(&app, &monitor).await;
    assert_eq!(done.status, 200, "{}", done.text());
    let body = done.json();
    assert_eq!(body["status"], "failed");
    assert_eq!(body["error"]["status"], 422);
    assert!(done.headers.get("retry-after").is_none(), "nothing to wait for");
}

#[tokio::test]
async fn batch_207_lists_each_item() {
    let app = spawn_app_with(&[]).await;
    app.create("Taken", "taken@example.com").await;
    let body = serde_json::json!({"items": [
        {"name": "One", "email": "one@example.com"},
        {"name": "", "email": "two@example.com"},
        {"name": "Three", "email": "TAKEN@example.com"},
        {"name": "Four", "email": "four@example.com"}
    ]});
    let r = app
        .send(
            app.client
                .post(app.url("/v1/customers/batch"))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await;
    assert_eq!(r.status, 207, "{}", r.text());
    let out = r.json();
    assert_eq!((out["created"].as_u64(), out["failed"].as_u64()), (Some(2), Some(2)));
    let items = out["items"].as_array().unwrap();
    assert_eq!(items.iter().map(|i| i["status"].as_u64().unwrap()).collect::<Vec<_>>(), [201, 422, 422, 201]);
    assert_eq!(items[0]["body"]["name"], "One");
    let loc = items[0]["location"].as_str().unwrap();
    assert_eq!(app.get(loc).await.status, 200);
    assert_eq!(items[1]["body"]["errors"]["name"][0], "can't be blank");
    assert_eq!(items[2]["body"]["errors"]["email"][0], "has already been taken");
    assert_eq!(items[2]["body"]["type"], "/docs/errors#unprocessable_entity");

    // XML both ways.
    let r = app
        .send(
            app.client
                .post(app.url("/v1/customers/batch"))
                .header("content-type", "application/xml")
                .header("accept", "application/xml")
                .body("<batch><item><name>Xml One</name><email>x1@example.com</email></item><item><name>Xml Two</name><email>x2@example.com</email></item></batch>"),
        )
        .await;
    assert_eq!(r.status, 207, "{}", r.text());
    assert_eq!(r.header("content-type"), "application/xml; charset=utf-8");
    assert!(r.text().contains("<status>201</status>"), "{}", r.text());

    // A malformed batch is 400 as a whole.
    let too_many: Vec<_> =
        (0..101).map(|i| serde_json::json!({"name": format!("N{i}"), "email": format!("n{i}@example.com")})).collect();
    for bad in [serde_json::json!({"items": []}), serde_json::json!({"items": too_many})] {
        let r = app
            .send(
                app.client
                    .post(app.url("/v1/customers/batch"))
                    .header("content-type", "application/json")
                    .body(bad.to_string()),
            )
            .await;
        r.problem(400, "bad_request");
    }
}

async fn post_with_key(app: &TestApp, key: &str, body: &str) -> Reply {
    app.send(
        app.client
            .post(app.url("/v1/customers"))
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(body.to_owned()),
    )
    .await
}

#[tokio::test]
async fn idempotency_key_replays_refuses_and_conflicts() {
    let app = spawn_app_with(&["--fault-injection"]).await;
    let body = r#"{"name": "Once", "email": "once@example.com"}"#;
    let first = post_with_key(&app, "\"key-1\"", body).await;
    assert_eq!(first.status, 201, "{}", first.text());
    let replay = post_with_key(&app, "\"key-1\"", body).await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.header("location"), first.header("location"));
    assert_eq!(replay.json(), first.json(), "the first response, replayed");
    let list = app.get("/v1/customers").await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "created once");

    // An error is replayed too (and a different body with the same key is 422).
    let bad = post_with_key(&app, "key-2", r#"{"name": ""}"#).await;
    bad.problem(422, "unprocessable_entity");
    assert_eq!(post_with_key(&app, "key-2", r#"{"name": ""}"#).await.status, 422);
    let other = post_with_key(&app, "\"key-1\"", r#"{"name": "Twice", "email": "twice@example.com"}"#).await;
    let problem = other.problem(422, "unprocessable_entity");
    assert!(problem["errors"]["Idempotency-Key"].is_array(), "{problem}");

    // Malformed keys are 400.
    post_with_key(&app, "\"\"", body).await.problem(400, "bad_request");
    post_with_key(&app, "two words", body).await.problem(400, "bad_request");

    // While the first request is still running: 409.
    let r = app
        .send(
            app.client
                .put(app.url("/admin/faults"))
                .header("content-type", "application/json")
                .body(r#"{"path_prefix": "/v1/customers", "delay_ms": 1500}"#),
        )
        .await;
    assert_eq!(r.status, 200);
    let slow = {
        let client = app.client.clone();
        let url = app.url("/v1/customers");
        tokio::spawn(async move {
            client
                .post(url)
                .header("content-type", "application/json")
                .header("idempotency-key", "\"slow\"")
                .body(r#"{"name": "Slow", "email": "slow@example.com"}"#)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    let during = post_with_key(&app, "\"slow\"", r#"{"name": "Slow", "email": "slow@example.com"}"#).await;
    during.problem(409, "conflict");
    assert_eq!(slow.await.unwrap(), 201);
}

#[tokio::test]
async fn idempotency_keys_expire() {
    let app = spawn_app_with(&["--idempotency-ttl-seconds", "1"]).await;
    let first = post_with_key(&app, "\"k\"", r#"{"name": "A", "email": "a@example.com"}"#).await;
    assert_eq!(first.status, 201);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Expired: the key starts over, so a different body is processed (not 422).
    let r = post_with_key(&app, "\"k\"", r#"{"name": "B", "email": "b@example.com"}"#).await;
    assert_eq!(r.status, 201, "{}", r.text());
}

/// The stored state and lease owner of operation `id` (read straight from the service's
/// database, SQLite file or PostgreSQL URL; SQLite keeps no owner).
async fn stored_operation(db: &std::path::Path, id: &str) -> (String, Option<String>) {
    use sqlx::Connection;
    let db = db.to_str().expect("a UTF-8 database name");
    if db.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(db).await.expect("connect to the service's database");
        sqlx::query_as("SELECT state, lease_owner FROM operations WHERE id = $1")
            .bind(id)
            .fetch_one(&mut conn)
            .await
            .expect("the operation's row")
    } else {
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite:{db}")).await.expect("open the SQLite file");
        let state: String = sqlx::query_scalar("SELECT state FROM operations WHERE id = ?")
            .bind(id)
            .fetch_one(&mut conn)
            .await
            .expect("the operation's row");
        (state, None)
    }
}

#[tokio::test]
async fn sigterm_gives_back_the_operation_in_the_middle_so_the_next_instance_takes_it_at_once() {
    // A lease far longer than the test: only the release at shutdown can free it early.
    let slow = ["--operation-step-delay-ms", "1000", "--operation-lease-ms", "600000"];
    let mut app = spawn_app_with(&slow).await;
    let r = upload(&app, "image/png", image_bytes(256, image::ImageFormat::Png)).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let monitor = r.header("location").to_owned();
    let id = monitor.rsplit('/').next().unwrap().to_owned();
    let started = Instant::now();
    loop {
        let body = app.get(&monitor).await.json();
        if body["status"] == "running" && body["progress"].as_i64().unwrap() > 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never seen running: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = app.terminate();
    assert!(took < Duration::from_secs(8), "SIGTERM took {took:?}");
    let (state, owner) = stored_operation(&app.db, &id).await;
    assert_eq!((state.as_str(), owner), ("queued", None), "given back, owned by nobody");
    // The next instance on the same database finishes it from the start.
    let next = common::spawn_app_joining(&app, &["--operation-lease-ms", "600000"]).await;
    let done = poll_until_done(&next, &monitor).await;
    assert_eq!(done.status, 303, "{}", done.text());
    assert_eq!(next.get("/v1/me/avatar/64").await.status, 200);
}

#[tokio::test]
async fn sqlite_leases_a_stale_worker_cannot_finish_an_operation_another_took_over() {
    use statuskit_server::store::sqlite::SqliteStore;
    use statuskit_server::store::{Claimed, Image, OperationState, OperationStore, StoreError};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leases.db");
    let lease = Duration::from_millis(300);
    let first = SqliteStore::open(&file).await.unwrap().with_lease(lease);
    let second = SqliteStore::open(&file).await.unwrap().with_lease(lease);
    let png = image_bytes(16, image::ImageFormat::Png);
    let queued = first.queue_avatar(1, "image/png", &png).await.unwrap().unwrap();
    let op = first.claim().await.unwrap().expect("the queued operation").operation;
    assert_eq!(op.id, queued.id);
    assert!(second.claim().await.unwrap().is_none(), "leased: not claimable while the lease holds");
    first.progress(&op.id, 20).await.unwrap();
    // Renewed (the heartbeat) past its first lease: still the first's.
    tokio::time::sleep(lease / 2).await;
    first.renew(&op.id).await.unwrap();
    tokio::time::sleep(lease / 2).await;
    assert!(second.claim().await.unwrap().is_none(), "renewed: still not claimable");
    // The first falls silent past its lease: the second takes over, from the start.
    tokio::time::sleep(lease * 2).await;
    let Claimed { operation: taken, input, .. } =
        second.claim().await.unwrap().expect("the expired lease is claimable");
    assert_eq!((taken.id.as_str(), taken.progress), (op.id.as_str(), 0));
    assert!(!input.is_empty());
    assert!(matches!(first.progress(&op.id, 60).await, Err(StoreError::VersionMoved)));
    assert!(matches!(first.renew(&op.id).await, Err(StoreError::VersionMoved)));
    let image = Image { size: 0, content_type: "image/png".to_owned(), bytes: png.clone(), etag: "tag".to_owned() };
    assert!(matches!(first.succeed(&op, std::slice::from_ref(&image)).await, Err(StoreError::VersionMoved)));
    assert!(matches!(first.fail(&op.id, "late").await, Err(StoreError::VersionMoved)));
    assert!(first.avatar(1, 0).await.unwrap().is_none(), "nothing stored by the stale worker");
    assert!(!first.release(&op.id).await.unwrap(), "not the first's to give back");
    second.succeed(&taken, &[image]).await.unwrap();
    let done = second.operation(1, &op.id).await.unwrap().unwrap();
    assert_eq!((done.state, done.progress), (OperationState::Succeeded, 100));
}
