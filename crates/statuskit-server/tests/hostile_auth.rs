//! Hostile clients at the token endpoint, over real sockets on loopback: client secrets guessed
//! one after another (429 before any hash, per client id and per address), and a flood of
//! concurrent guessers while a signed-in caller reads (it is served; the guessers are refused).
//!
//! Guessers speak from several loopback addresses (127.0.0.0/8 is all local on Linux), so the
//! per-address and the per-client-id limits can be told apart.

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{cli, spawn_app_with, Reply, TestApp, ADMIN_PASSWORD, ADMIN_USER, CLIENT_ID, CLIENT_SECRET};
use statuskit::retry_after::RetryAfter;

/// Attempts per minute the services below allow, per client id and per address.
const LIMIT: usize = 10;

/// A client whose connections come from `ip`.
fn client_from(ip: &str) -> reqwest::Client {
    let ip: IpAddr = ip.parse().expect("an address");
    reqwest::Client::builder().local_address(ip).redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// One client-credentials request authenticated with `id:secret` (HTTP Basic), from `from`.
async fn client_auth(app: &TestApp, from: &reqwest::Client, id: &str, secret: &str) -> Reply {
    app.send(
        from.post(app.url("/oauth/token")).basic_auth(id, Some(secret)).form(&[("grant_type", "client_credentials")]),
    )
    .await
}

/// A 401 `invalid_client` in RFC 6749 shape, with the Basic challenge.
fn assert_invalid_client(r: &Reply) {
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.header("cache-control"), "no-store");
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("www-authenticate"), r#"Basic realm="statuskit""#);
    let body = r.json();
    assert_eq!(body["error"], "invalid_client", "{body}");
    assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()));
}

/// The token endpoint's 429: a problem saying why, `Retry-After` in seconds within the window,
/// `no-store`. Returns the wait.
fn assert_limited(r: &Reply) -> u64 {
    let body = r.problem(429, "too_many_requests");
    assert!(body["detail"].as_str().unwrap().contains("client authentication attempts"), "{body}");
    assert_eq!(r.header("cache-control"), "no-store");
    match RetryAfter::parse(r.header("retry-after").as_bytes()).expect("Retry-After parses") {
        RetryAfter::Seconds(s) => {
            assert!((1..=60).contains(&s), "Retry-After {s}");
            s
        }
        RetryAfter::Date(_) => panic!("the contract sends seconds"),
    }
}

/// Sends `n` requests made by `attempt(i)` one after another; returns the index of the first 429
/// and checks every answer: 401 before it, 429 from it on.
async fn until_limited<F, Fut>(n: usize, mut attempt: F) -> usize
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    let mut first = None;
    for i in 0..n {
        let r = attempt(i).await;
        match first {
            None if r.status == 401 => assert_invalid_client(&r),
            None => {
                assert_limited(&r);
                first = Some(i);
            }
            Some(_) => {
                assert_limited(&r);
            }
        }
    }
    first.unwrap_or_else(|| panic!("{n} wrong secrets and no 429"))
}

#[tokio::test]
async fn wrong_client_secrets_are_limited_per_client_id_and_per_address() {
    let app = spawn_app_with(&["--login-attempts-per-minute", &LIMIT.to_string()]).await;
    cli(
        &app.db,
        &["clients", "add", "--client-id", "victim", "--secret", "victim-secret", "--grants", "client_credentials"],
    );

    // 150 wrong secrets for one client id, each from its own address (so no address is spent):
    // the client id's limit answers 429 after LIMIT attempts (one more may have been refilled
    // while they ran: one every 6 s), and every 429 comes before any hash, so they are quick.
    let started = Instant::now();
    let first = until_limited(150, |i| {
        let from = client_from(&format!("127.0.1.{}", 1 + i % 200));
        let app = &app;
        async move { client_auth(app, &from, "victim", &format!("guess-{i}")).await }
    })
    .await;
    let took = started.elapsed();
    assert!((LIMIT..=LIMIT + 1).contains(&first), "the first 429 came after {first} attempts");
    assert!(took < Duration::from_secs(20), "150 attempts took {took:?}");

    // The right secret, from an address that never guessed, waits too: the service cannot tell
    // it from a guess without hashing, and it has not verified it recently.
    let fresh = client_from("127.0.2.1");
    let wait = assert_limited(&client_auth(&app, &fresh, "victim", "victim-secret").await);

    // Another client id is not affected (from an address that is not spent either).
    assert_eq!(client_auth(&app, &fresh, CLIENT_ID, CLIENT_SECRET).await.status, 200);
    assert_invalid_client(&client_auth(&app, &fresh, "ghost", "nothing").await);

    // An active client is not locked out by guessers: its secret was verified when the test
    // service signed in (`spawn_app`), so it is accepted from memory, without a hash or a count.
    let guesser = client_from("127.0.3.1");
    let mut last = None;
    for i in 0..LIMIT + 2 {
        last = Some(client_auth(&app, &guesser, CLIENT_ID, &format!("wrong-{i}")).await);
    }
    assert_limited(last.as_ref().unwrap());
    let r = client_auth(&app, &fresh, CLIENT_ID, CLIENT_SECRET).await;
    assert_eq!(r.status, 200, "{}", r.text());

    // Per address: one address guessing a new client id each time is spent after LIMIT attempts,
    // whatever id it tries next; another address is still answered.
    let spreader = client_from("127.0.4.1");
    let (app_ref, spreader_ref) = (&app, &spreader);
    let first =
        until_limited(LIMIT + 5, |i| async move { client_auth(app_ref, spreader_ref, &format!("id-{i}"), "x").await })
            .await;
    assert!((LIMIT..=LIMIT + 1).contains(&first), "the address was limited after {first} attempts");
    assert_limited(&client_auth(&app, &spreader, "id-never-tried", "x").await);
    assert_invalid_client(&client_auth(&app, &client_from("127.0.4.2"), "id-never-tried", "x").await);

    // Once Retry-After has passed, the right secret works.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let r = client_auth(&app, &fresh, "victim", "victim-secret").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("cache-control"), "no-store");
    assert!(r.json()["access_token"].as_str().is_some_and(|t| !t.is_empty()));
}

#[tokio::test]
async fn a_flood_of_guessers_does_not_starve_signed_in_readers() {
    // The attempt limits are raised out of the way, so every guess reaches argon2: this test is
    // about where hashing runs and how much of it may wait, not about the limits.
    let app = Arc::new(spawn_app_with(&["--login-attempts-per-minute", "1000000", "--hash-concurrency", "1"]).await);
    const GUESSERS: usize = 250;
    const EACH: usize = 2;
    let flood_started = Instant::now();
    let guessers: Vec<_> = (0..GUESSERS)
        .map(|g| {
            let app = app.clone();
            // 25 addresses, 10 guessers on each.
            let from = client_from(&format!("127.0.5.{}", 1 + g % 25));
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for i in 0..EACH {
                    let r = if g % 2 == 0 {
                        client_auth(&app, &from, CLIENT_ID, &format!("guess-{g}-{i}")).await
                    } else {
                        // A password guess, with the right client secret.
                        app.send(from.post(app.url("/oauth/token")).basic_auth(CLIENT_ID, Some(CLIENT_SECRET)).form(&[
                            ("grant_type", "password"),
                            ("username", ADMIN_USER),
                            ("password", &format!("guess-{g}-{i}")),
                        ]))
                        .await
                    };
                    answers.push(r);
                }
                (answers, Instant::now())
            })
        })
        .collect();

    // Meanwhile, a signed-in caller reads ten times: every read is answered 200, in time.
    let reads_started = Instant::now();
    let mut reads = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let r = app.get("/v1/customers").await;
        assert_eq!(r.status, 200, "a signed-in read during the flood: {}", r.text());
        assert!(r.json()["_links"]["self"].is_object());
        reads.push(t.elapsed());
    }

    let (mut wrong, mut busy, mut flood_end) = (0, 0, flood_started);
    for g in guessers {
        let (answers, done) = g.await.expect("guesser");
        flood_end = flood_end.max(done);
        for r in answers {
            match r.status {
                401 => {
                    assert_invalid_client(&r);
                    wrong += 1;
                }
                400 => {
                    assert_eq!(r.json()["error"], "invalid_grant", "{}", r.text());
                    assert_eq!(r.header("cache-control"), "no-store");
                    wrong += 1;
                }
                503 => {
                    // Either the hashing pool's queue is full, or the share of in-flight slots
                    // kept for requests without a token (--max-in-flight-public) is spent.
                    let body = r.problem(503, "service_unavailable");
                    let detail = body["detail"].as_str().unwrap();
                    assert!(detail.contains("being checked") || detail.contains("requests in flight"), "{body}");
                    assert_eq!(r.header("retry-after"), "1");
                    busy += 1;
                }
                other => panic!("a guess answered {other}: {}", r.text()),
            }
        }
    }
    eprintln!(
        "flood: {wrong} refused after a hash, {busy} busy (503) in {:?}; reads took {reads:?}",
        flood_end - flood_started
    );
    assert_eq!(wrong + busy, GUESSERS * EACH);
    assert!(wrong >= 1, "some guesses were hashed and refused");
    assert!(busy >= 1, "with one hashing slot, most of {} concurrent guesses cannot wait", GUESSERS * EACH);
    // Each read took well under the deadline (measured: under 0.5 s; before the hashing pool,
    // reads waited behind the guesses' argon2 and answered 504 after 5 s).
    assert!(
        reads.iter().all(|d| *d < Duration::from_secs(3)),
        "signed-in reads stay quick during the flood: {reads:?}"
    );
    // The reads were sent while the flood was still running.
    assert!(reads_started < flood_end, "the reads overlapped the flood");

    // And the service still signs people in afterwards.
    let r =
        app.token_request(&[("grant_type", "password"), ("username", ADMIN_USER), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
}
