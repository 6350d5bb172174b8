//! `statuskit-client` over real HTTP against the reference service: each behaviour of the client
//! where the service can show it (avatar operations, token refresh under concurrency, the 412
//! loop, Idempotency-Key, rate limits and pacing, ETags, typed problems and OAuth errors).

mod common;

use std::io::Cursor;
use std::time::Duration;

use common::{spawn_app_with, TestApp, ADMIN_PASSWORD, ADMIN_USER, CLIENT_ID, CLIENT_SECRET};
use futures_util::StreamExt;
use serde_json::{json, Value};
use statuskit_client::{Client, Error, OAuthErrorCode, OperationEvent, ProblemFormat};

fn client(app: &TestApp) -> Client {
    Client::builder(&app.base).password(CLIENT_ID, CLIENT_SECRET, ADMIN_USER, ADMIN_PASSWORD).build().unwrap()
}

fn png(side: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(side, side, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 7]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img).write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

/// How many access tokens the service has issued (each token request that succeeds issues one).
async fn access_tokens_issued(app: &TestApp) -> i64 {
    use sqlx::Connection;
    let db = app.db.to_string_lossy().into_owned();
    let sql = "SELECT COUNT(*) FROM tokens WHERE kind = 'access'";
    if db.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(&db).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    } else {
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite:{db}")).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    }
}

#[tokio::test]
async fn avatar_upload_awaited_to_its_thumbnails_and_resumed_from_a_token() {
    let app = spawn_app_with(&["--operation-step-delay-ms", "400"]).await;
    let client = client(&app);
    let accepted = client.put("/v1/me/avatar").header("content-type", "image/png").body(png(256)).send().await.unwrap();
    assert_eq!(accepted.status(), 202);
    let op = statuskit_client::Operation::from_response(&client, &accepted).unwrap();
    assert!(op.monitor().path().starts_with("/v1/operations/"));

    // A token saved now resumes the same operation from another client.
    let saved = op.token().to_string();
    let mut events = Box::pin(op.progress());
    let mut progress = Vec::new();
    let result = loop {
        match events.next().await.expect("the stream ends with Done").unwrap() {
            OperationEvent::Progress(p) => progress.push(p),
            OperationEvent::Done(r) => break r,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(events.next().await.is_none(), "nothing after Done");
    assert!(!progress.is_empty(), "the monitor was polled while it ran");
    assert_eq!(result.status(), 200);
    assert_eq!(result.headers()["content-type"], "image/png");
    assert_eq!(result.url().unwrap().path(), "/v1/me/avatar", "the 303 was followed with the token");
    for size in [32u32, 64, 128, 256] {
        let t = client.get(&format!("/v1/me/avatar/{size}")).send().await.unwrap();
        let img = image::load_from_memory(t.body()).unwrap();
        assert_eq!((img.width(), img.height()), (size, size));
    }

    let other = self::client(&app);
    let resumed = other.resume(&saved).unwrap().wait().await.unwrap();
    assert_eq!(resumed.status(), 200);
    assert_eq!(resumed.body(), result.body());

    // send_and_wait does it in one call.
    let r =
        client.put("/v1/me/avatar").header("content-type", "image/png").body(png(64)).send_and_wait().await.unwrap();
    assert_eq!(image::load_from_memory(r.body()).unwrap().width(), 64);

    // A failed operation is a typed error with the monitor's problem.
    let mut cut = png(256);
    cut.truncate(cut.len() / 2);
    let e =
        client.put("/v1/me/avatar").header("content-type", "image/png").body(cut).send_and_wait().await.unwrap_err();
    match e {
        Error::OperationFailed { problem: Some(p), .. } => assert_eq!(p.status, 422),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn twenty_concurrent_calls_needing_a_refresh_make_one_token_request() {
    // 5 s tokens: after the refresh, the twenty calls have 4 s before the new token is stale too,
    // so a second refresh could only come from the client, not from a slow machine.
    let app = spawn_app_with(&["--access-token-ttl", "5"]).await;
    let client = client(&app);
    client.get("/v1/customers").send().await.unwrap();
    assert_eq!(client.token_requests(), 1);
    let issued_before = access_tokens_issued(&app).await;
    // The token lives 5 s and is refreshed a fifth of its life early: stale after 4 s.
    tokio::time::sleep(Duration::from_millis(4100)).await;
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.get("/v1/customers").no_cache().send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), 200);
    }
    assert_eq!(client.token_requests(), 2, "one refresh for twenty calls");
    assert_eq!(access_tokens_issued(&app).await - issued_before, 1, "the service issued one token");
}

#[tokio::test]
async fn invalid_token_is_refreshed_once_and_the_call_retried_once() {
    let app = spawn_app_with(&["--token-cache-seconds", "0"]).await;
    let client = client(&app);
    let token = client.access_token().await.unwrap().unwrap();
    let r = app
        .send(
            app.anon
                .post(app.url("/oauth/revoke"))
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .form(&[("token", &token)]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = client.get("/v1/customers").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.attempts(), 2, "one 401, one retry");
    assert_eq!(client.token_requests(), 2);

    // A fixed token that is refused: 401, typed, with its challenge, and no loop.
    let fixed = Client::builder(&app.base).bearer("not-a-real-token").build().unwrap();
    match fixed.get("/v1/customers").send().await.unwrap_err() {
        Error::Unauthorized { challenge: Some(c), .. } => assert_eq!(c.error(), Some("invalid_token")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn insufficient_scope_and_oauth_errors_are_typed() {
    let app = spawn_app_with(&[]).await;
    let reader = Client::builder(&app.base)
        .client_credentials(CLIENT_ID, CLIENT_SECRET)
        .scope("customers:read")
        .build()
        .unwrap();
    assert_eq!(reader.get("/v1/customers").send().await.unwrap().status(), 200);
    let e =
        reader.post("/v1/customers").json(&json!({"name": "A", "email": "a@example.com"})).send().await.unwrap_err();
    match &e {
        Error::InsufficientScope { scope, .. } => assert_eq!(scope.as_deref(), Some("customers:write")),
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("customers:write"), "{e}");

    let wrong = Client::builder(&app.base).password(CLIENT_ID, CLIENT_SECRET, ADMIN_USER, "wrong").build().unwrap();
    match wrong.get("/v1/customers").send().await.unwrap_err() {
        Error::OAuth(o) => {
            assert_eq!((o.status, &o.error), (400, &OAuthErrorCode::InvalidGrant));
            assert!(o.description.is_some());
        }
        other => panic!("{other:?}"),
    }
    let bad_client = Client::builder(&app.base).client_credentials(CLIENT_ID, "wrong").build().unwrap();
    match bad_client.get("/v1/customers").send().await.unwrap_err() {
        Error::OAuth(o) => {
            assert_eq!((o.status, &o.error), (401, &OAuthErrorCode::InvalidClient));
            assert_eq!(o.challenge.unwrap().scheme(), "Basic");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn eight_concurrent_updaters_converge_without_losing_an_update() {
    let app = spawn_app_with(&[]).await;
    let client = client(&app);
    let created = client
        .post("/v1/customers")
        .json(&json!({"name": "updated by", "email": "u@example.com"}))
        .send()
        .await
        .unwrap();
    let path = created.location().unwrap().path().to_owned();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let c = client.clone();
            let path = path.clone();
            tokio::spawn(async move {
                c.update(&path, move |mut v: Value| {
                    let name = format!("{} {i}", v["name"].as_str().unwrap());
                    v["name"] = name.into();
                    v
                })
                .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let name = client.get(&path).send().await.unwrap().json::<Value>().unwrap()["name"].as_str().unwrap().to_owned();
    for i in 0..8 {
        assert!(name.split(' ').any(|w| w == i.to_string()), "update {i} lost: {name:?}");
    }
    assert_eq!(name.split(' ').count(), 2 + 8, "each applied once: {name:?}");
}

#[tokio::test]
async fn etags_if_none_match_and_create_only_put() {
    let app = spawn_app_with(&[]).await;
    let client = client(&app);
    let created =
        client.post("/v1/customers").json(&json!({"name": "Ada", "email": "ada@example.com"})).send().await.unwrap();
    let path = created.location().unwrap().path().to_owned();
    let first = client.get(&path).send().await.unwrap();
    assert!(!first.from_cache());
    let second = client.get(&path).send().await.unwrap();
    assert!(second.from_cache(), "a 304 answered from the cache");
    assert_eq!(second.body(), first.body());
    assert_eq!(second.status(), 200);
    // A write through the client forgets the cached copy.
    client
        .update(&path, |mut v: Value| {
            v["name"] = "Ada King".into();
            v
        })
        .await
        .unwrap();
    let third = client.get(&path).send().await.unwrap();
    assert!(!third.from_cache());
    assert_eq!(third.json::<Value>().unwrap()["name"], "Ada King");

    let r = client.put("/v1/customers/777").create_only().json(&json!({"name": "Grace", "email": "g@example.com"}));
    assert_eq!(r.send().await.unwrap().status(), 201);
    let again = client.put("/v1/customers/777").create_only().json(&json!({"name": "Other", "email": "o@example.com"}));
    assert!(matches!(again.send().await.unwrap_err(), Error::AlreadyExists { .. }));
}

#[tokio::test]
async fn problems_are_typed_in_json_and_xml() {
    let app = spawn_app_with(&[]).await;
    let client = client(&app);
    let e = client.post("/v1/customers").json(&json!({"name": " ", "email": "nope"})).send().await.unwrap_err();
    let p = e.problem().expect("a problem");
    assert_eq!((p.status, p.format), (422, ProblemFormat::Json));
    assert_eq!(p.problem_type, "/docs/errors#unprocessable_entity");
    assert!(p.errors.contains_key("email") && p.errors.contains_key("name"), "{p:?}");
    assert!(p.request_id.is_some());
    let e = client.get("/v1/customers/999999").header("accept", "application/xml").send().await.unwrap_err();
    let p = e.problem().expect("a problem");
    assert_eq!((p.status, p.format), (404, ProblemFormat::Xml));
    assert_eq!(p.title.as_deref(), Some("Not Found"));
    assert!(p.detail.as_deref().unwrap().contains("999999"));
    assert_eq!(e.request_id(), p.request_id.as_deref());
    assert!(e.request_id().is_some());
}

#[tokio::test]
async fn a_post_is_retried_with_one_key_and_creates_once_and_reuse_is_final() {
    let app = spawn_app_with(&["--rate-limit-writes", "2", "--rate-limit-window-seconds", "2"]).await;
    // Pacing off, so the client meets the 429s and waits them out.
    let client = Client::builder(&app.base)
        .password(CLIENT_ID, CLIENT_SECRET, ADMIN_USER, ADMIN_PASSWORD)
        .pacing(false)
        .build()
        .unwrap();
    let mut retried = 0;
    for i in 0..5 {
        let r = client
            .post("/v1/customers")
            .json(&json!({"name": format!("c{i}"), "email": format!("c{i}@example.com")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        retried += u32::from(r.attempts() > 1);
    }
    assert!(retried >= 2, "the quota of 2 per 2 s was met and waited out");
    let list = client.get("/v1/customers?limit=100").send().await.unwrap().json::<Value>().unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 5, "each created once");

    let keyed = || client.post("/v1/customers").idempotency_key("order-42");
    let first = keyed().json(&json!({"name": "Once", "email": "once@example.com"})).send().await.unwrap();
    let replay = keyed().json(&json!({"name": "Once", "email": "once@example.com"})).send().await.unwrap();
    assert_eq!(first.location(), replay.location());
    match keyed().json(&json!({"name": "Twice", "email": "twice@example.com"})).send().await.unwrap_err() {
        Error::IdempotencyKeyReused { key, problem } => {
            assert_eq!(key, "\"order-42\"");
            assert_eq!(problem.status, 422);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn pacing_from_ratelimit_fields_avoids_429() {
    let app = spawn_app_with(&["--rate-limit-reads", "10", "--rate-limit-window-seconds", "2"]).await;
    let paced = client(&app);
    let started = std::time::Instant::now();
    let mut attempts = 0;
    for _ in 0..25 {
        attempts += paced.get("/v1/customers").no_cache().send().await.unwrap().attempts();
    }
    assert_eq!(attempts, 25, "no 429 met: every call took one request");
    // 25 reads at 10 per 2 s, the first 10 (less the token's) at once: about 3 s of spacing.
    assert!(started.elapsed() >= Duration::from_secs(2), "{:?}", started.elapsed());
}
