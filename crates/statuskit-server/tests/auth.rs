//! Black-box tests of who may do what: every `/v1` route × every kind of credential, the OAuth2
//! token endpoint's errors, refresh rotation, revocation, brute-force limits, and secrets at rest.

mod common;

use common::{cli, spawn_app, Reply, TestApp, ADMIN_PASSWORD, ADMIN_USER, CLIENT_ID, CLIENT_SECRET};
use reqwest::Method;
use statuskit_server::app::v1_resources;
use statuskit_server::store::sqlite::SqliteStore;

const CHALLENGE: &str = r#"Bearer realm="statuskit""#;

/// Every (method, path template) the router serves under /v1, from the list it is built from.
fn v1_routes() -> Vec<(Method, &'static str)> {
    let mut out = Vec::new();
    for (path, resource) in v1_resources::<SqliteStore>() {
        for m in resource.allow().iter() {
            if *m != http::Method::OPTIONS {
                out.push((Method::from_bytes(m.as_str().as_bytes()).unwrap(), path));
            }
        }
    }
    assert!(out.len() >= 12, "the route list shrank: {out:?}");
    out
}

async fn new_customer(app: &TestApp, email: &str) -> i64 {
    let r = app.create("Customer", email).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_i64().unwrap()
}

fn png(red: u8) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(40, 40, image::Rgb([red, 30, 30]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

/// `other_account` for /v1/me reads: 404, or the caller's own image.
const OWN: u16 = 0;

/// The admin's resources the item routes point at.
struct Fixture {
    customer: i64,
    operation: String,
}

/// What a route needs sent, and what it answers with the right token and for another account.
/// A route missing here fails the test: add it when you add the route.
struct Case {
    path: String,
    body: Option<(&'static str, Vec<u8>)>,
    ok: u16,
    other_account: u16,
}

fn case(method: &Method, template: &str, f: &Fixture, n: usize) -> Case {
    let customer = || {
        Some((
            "application/json",
            format!(r#"{{"name": "Matrix {n}", "email": "matrix{n}@example.com"}}"#).into_bytes(),
        ))
    };
    let path = template.replace(
        "{id}",
        &if template.starts_with("/v1/operations") { f.operation.clone() } else { f.customer.to_string() },
    );
    let path = path.replace("{size}", "64");
    let (body, ok, other) = match (method.as_str(), template) {
        ("GET" | "HEAD", "/v1/customers") => (None, 200, 200),
        ("POST", "/v1/customers") => (customer(), 201, 201),
        ("POST", "/v1/customers/batch") => {
            let batch = format!(r#"{{"items": [{{"name": "Batch {n}", "email": "batch{n}@example.com"}}]}}"#);
            (Some(("application/json", batch.into_bytes())), 207, 207)
        }
        ("GET" | "HEAD", "/v1/customers/{id}") => (None, 200, 404),
        ("PUT", "/v1/customers/{id}") => (customer(), 200, 404),
        ("PATCH", "/v1/customers/{id}") => {
            (Some(("application/merge-patch+json", br#"{"name": "Patched"}"#.to_vec())), 200, 404)
        }
        ("DELETE", "/v1/customers/{id}") => (None, 204, 404),
        // /v1/me is the caller's own: the other account's user sees no avatar, or (once the
        // PUT below has run for it) its own, never the admin's (checked by ETag).
        ("GET" | "HEAD", "/v1/me/avatar" | "/v1/me/avatar/{size}") => (None, 200, OWN),
        ("PUT", "/v1/me/avatar") => (Some(("image/png", png(100))), 202, 202),
        ("GET" | "HEAD", "/v1/operations/{id}") => (None, 303, 404),
        _ => panic!("{method} {template} is not in the auth matrix: add it to `case`"),
    };
    Case { path, body, ok, other_account: other }
}

/// Sends the route's request with the given Authorization header value (none if `None`).
async fn call(app: &TestApp, method: &Method, c: &Case, auth: Option<&str>) -> Reply {
    let mut req = app.anon.request(method.clone(), app.url(&c.path));
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    if let Some((content_type, body)) = &c.body {
        req = req.header("content-type", *content_type).body(body.clone());
    }
    app.send(req).await
}

fn assert_challenge(r: &Reply, status: u16, error: Option<&str>, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text());
    let challenge = r.header("www-authenticate");
    assert!(challenge.starts_with(CHALLENGE), "{what}: {challenge}");
    match error {
        None => assert_eq!(challenge, CHALLENGE, "{what}: no error attribute without a token"),
        Some(e) => assert!(challenge.contains(&format!("error=\"{e}\"")), "{what}: {challenge}"),
    }
    if r.headers.get("content-length").is_some_and(|l| l != "0") && !r.body.is_empty() {
        let body = r.json();
        assert_eq!(body["status"], status, "{what}");
        assert_eq!(body["request_id"], r.header("x-request-id"));
    }
}

#[tokio::test]
async fn every_v1_route_checks_its_credentials() {
    let app = spawn_app().await;
    // A second instance on the same database issuing 1-second tokens; the customer is made
    // through the first, whose token does not run out on a slow machine.
    let short = common::spawn_app_joining(&app, &["--access-token-ttl", "1"]).await;
    let expired = short.password_token(ADMIN_USER, ADMIN_PASSWORD, None).await;
    let short_id = new_customer(&app, "short@example.com").await;

    let read_only = app.password_token(ADMIN_USER, ADMIN_PASSWORD, Some("customers:read")).await;
    let write_only = app.password_token(ADMIN_USER, ADMIN_PASSWORD, Some("customers:write")).await;
    let revoked = app.password_token(ADMIN_USER, ADMIN_PASSWORD, None).await;
    let r = app
        .send(
            app.anon
                .post(app.url("/oauth/revoke"))
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .form(&[("token", revoked.as_str())]),
        )
        .await;
    assert_eq!(r.status, 200);
    cli(&app.db, &["users", "add", "--username", "bob", "--password", "bob-password", "--account", "other"]);
    let other = app.password_token("bob", "bob-password", None).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // `expired` is now expired

    // The admin has an avatar, made by an operation that finished.
    let r = app.send(app.client.put(app.url("/v1/me/avatar")).header("content-type", "image/png").body(png(200))).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let monitor = r.header("location").to_owned();
    for _ in 0..100 {
        if app.get(&monitor).await.status == 303 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let operation = monitor.rsplit('/').next().unwrap().to_owned();
    // The admin's images as they are now: another user must never be shown these.
    let mut admin_etags = std::collections::HashMap::new();
    for path in ["/v1/me/avatar", "/v1/me/avatar/64"] {
        let r = app.get(path).await;
        assert_eq!(r.status, 200, "{path}");
        admin_etags.insert(path.to_owned(), r.header("etag").to_owned());
    }

    let mut n = 0;
    for (method, template) in v1_routes() {
        let what = format!("{method} {template}");
        n += 1;
        let fixture = Fixture {
            customer: new_customer(&app, &format!("owner{n}@example.com")).await,
            operation: operation.clone(),
        };
        let c = case(&method, template, &fixture, n);
        let head = method == Method::HEAD;

        let r = call(&app, &method, &c, None).await;
        assert_challenge(&r, 401, None, &format!("{what} without a token"));
        if !head {
            r.problem(401, "unauthorized");
        }

        for malformed in ["Bearer", "Bearer two words", "Bearer bad\"char"] {
            let r = call(&app, &method, &c, Some(malformed)).await;
            assert_challenge(&r, 400, Some("invalid_request"), &format!("{what} with {malformed:?}"));
        }

        let r = call(&app, &method, &c, Some("Bearer AAAAunknownTOKENAAAA")).await;
        assert_challenge(&r, 401, Some("invalid_token"), &format!("{what} with an unknown token"));

        let short_case = case(&method, template, &Fixture { customer: short_id, operation: operation.clone() }, n);
        let r = call(&short, &method, &short_case, Some(&format!("Bearer {expired}"))).await;
        assert_challenge(&r, 401, Some("invalid_token"), &format!("{what} with an expired token"));
        if !head {
            assert!(r.json()["detail"].as_str().unwrap().contains("expired"));
        }

        let r = call(&app, &method, &c, Some(&format!("Bearer {revoked}"))).await;
        assert_challenge(&r, 401, Some("invalid_token"), &format!("{what} with a revoked token"));
        if !head {
            assert!(r.json()["detail"].as_str().unwrap().contains("revoked"));
        }

        let reads = matches!(method, Method::GET | Method::HEAD);
        let (wrong, needed) = if reads { (&write_only, "customers:read") } else { (&read_only, "customers:write") };
        let r = call(&app, &method, &c, Some(&format!("Bearer {wrong}"))).await;
        assert_challenge(&r, 403, Some("insufficient_scope"), &format!("{what} with the wrong scope"));
        assert!(r.header("www-authenticate").contains(&format!("scope=\"{needed}\"")), "{what}");
        if !head {
            r.problem(403, "forbidden");
        }

        let r = call(&app, &method, &c, Some(&format!("Bearer {other}"))).await;
        if c.other_account == OWN && r.status == 200 {
            // Its own upload (the PUT case below ran for it already), never the admin's image.
            assert_ne!(r.header("etag"), admin_etags[&c.path], "{what}: another user's image");
        } else {
            let expected = if c.other_account == OWN { 404 } else { c.other_account };
            assert_eq!(r.status, expected, "{what} for another account: {}", r.text());
        }
        assert!(r.headers.get("www-authenticate").is_none(), "{what}");
        if method == Method::GET && template == "/v1/customers" {
            let items = r.json()["items"].as_array().unwrap().clone();
            assert!(items.iter().all(|i| i["id"] != fixture.customer), "another account's customer leaked");
        }

        let r = call(&app, &method, &c, Some(&format!("Bearer {}", app.token))).await;
        assert_eq!(r.status, c.ok, "{what} with the right token: {}", r.text());
    }
}

#[tokio::test]
async fn token_endpoint_success_shape() {
    let app = spawn_app().await;
    let r =
        app.token_request(&[("grant_type", "password"), ("username", ADMIN_USER), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("cache-control"), "no-store");
    assert_eq!(r.header("pragma"), "no-cache");
    assert_eq!(r.header("content-type"), "application/json");
    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "customers:read customers:write admin");
    assert!(body["access_token"].as_str().unwrap().len() >= 22, "at least 128 bits");
    assert!(body["refresh_token"].is_string());

    // Client authentication in the body works too.
    let r = app
        .send(app.anon.post(app.url("/oauth/token")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("scope", "customers:read"),
        ]))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["scope"], "customers:read");
    assert!(body.get("refresh_token").is_none(), "no refresh token for client credentials");
    let token = body["access_token"].as_str().unwrap();
    let r = app.send(app.anon.get(app.url("/v1/customers")).bearer_auth(token)).await;
    assert_eq!(r.status, 200);
}

fn oauth_error(r: &Reply, status: u16, error: &str) {
    assert_eq!(r.status, status, "{error}: {}", r.text());
    assert_eq!(r.header("cache-control"), "no-store");
    assert_eq!(r.header("content-type"), "application/json");
    let body = r.json();
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()));
    assert!(body.get("errors").is_none(), "the token endpoint has no errors field");
    assert!(body.get("type").is_none(), "the token endpoint answers in RFC 6749 shape");
}

#[tokio::test]
async fn token_endpoint_errors_follow_rfc_6749() {
    let app = spawn_app().await;
    cli(&app.db, &["clients", "add", "--client-id", "pw-only", "--secret", "s3cret", "--grants", "password"]);
    let token = |form: Vec<(&'static str, &'static str)>| app.token_request_owned(form);

    oauth_error(&token(vec![("username", ADMIN_USER)]).await, 400, "invalid_request");
    oauth_error(&token(vec![("grant_type", "password"), ("grant_type", "password")]).await, 400, "invalid_request");
    oauth_error(&token(vec![("grant_type", "password"), ("username", ADMIN_USER)]).await, 400, "invalid_request");
    oauth_error(&token(vec![("grant_type", "magic")]).await, 400, "unsupported_grant_type");
    oauth_error(
        &token(vec![("grant_type", "password"), ("username", ADMIN_USER), ("password", "wrong")]).await,
        400,
        "invalid_grant",
    );
    oauth_error(
        &token(vec![("grant_type", "password"), ("username", "nobody"), ("password", "wrong")]).await,
        400,
        "invalid_grant",
    );
    oauth_error(
        &token(vec![
            ("grant_type", "password"),
            ("username", ADMIN_USER),
            ("password", ADMIN_PASSWORD),
            ("scope", "root"),
        ])
        .await,
        400,
        "invalid_scope",
    );
    oauth_error(
        &token(vec![("grant_type", "refresh_token"), ("refresh_token", "made-up")]).await,
        400,
        "invalid_grant",
    );

    // The client may not use this grant.
    let r = app
        .send(
            app.anon
                .post(app.url("/oauth/token"))
                .basic_auth("pw-only", Some("s3cret"))
                .form(&[("grant_type", "client_credentials")]),
        )
        .await;
    oauth_error(&r, 400, "unauthorized_client");

    // No client authentication, a wrong secret, an unknown client: 401 with a Basic challenge.
    for req in [
        app.anon.post(app.url("/oauth/token")).form(&[("grant_type", "client_credentials")]),
        app.anon
            .post(app.url("/oauth/token"))
            .basic_auth(CLIENT_ID, Some("wrong"))
            .form(&[("grant_type", "client_credentials")]),
        app.anon
            .post(app.url("/oauth/token"))
            .basic_auth("ghost", Some("x"))
            .form(&[("grant_type", "client_credentials")]),
        app.anon.post(app.url("/oauth/token")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", "wrong"),
        ]),
    ] {
        let r = app.send(req).await;
        oauth_error(&r, 401, "invalid_client");
        assert_eq!(r.header("www-authenticate"), r#"Basic realm="statuskit""#);
    }

    // Both client authentication methods at once.
    let r = app
        .send(app.anon.post(app.url("/oauth/token")).basic_auth(CLIENT_ID, Some(CLIENT_SECRET)).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ]))
        .await;
    oauth_error(&r, 400, "invalid_request");

    // Not a form.
    let r = app
        .send(
            app.anon
                .post(app.url("/oauth/token"))
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .header("content-type", "application/json")
                .body(r#"{"grant_type":"client_credentials"}"#),
        )
        .await;
    oauth_error(&r, 400, "invalid_request");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reuse_revokes_the_grant() {
    let app = spawn_app().await;
    let first = app
        .token_request(&[("grant_type", "password"), ("username", ADMIN_USER), ("password", ADMIN_PASSWORD)])
        .await
        .json();
    let refresh1 = first["refresh_token"].as_str().unwrap().to_owned();
    let second = app.token_request(&[("grant_type", "refresh_token"), ("refresh_token", &refresh1)]).await;
    assert_eq!(second.status, 200, "{}", second.text());
    let second = second.json();
    let refresh2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh1, refresh2, "rotated");
    let access2 = second["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.send(app.anon.get(app.url("/v1/customers")).bearer_auth(&access2)).await.status, 200);

    // Narrowing the scope on refresh is allowed.
    let third = app
        .token_request(&[("grant_type", "refresh_token"), ("refresh_token", &refresh2), ("scope", "customers:read")])
        .await;
    assert_eq!(third.status, 200, "{}", third.text());
    let third = third.json();
    assert_eq!(third["scope"], "customers:read");
    let access3 = third["access_token"].as_str().unwrap().to_owned();

    // Reusing an exchanged refresh token: refused, and every token of the grant is revoked.
    let reuse = app.token_request(&[("grant_type", "refresh_token"), ("refresh_token", &refresh1)]).await;
    oauth_error(&reuse, 400, "invalid_grant");
    for t in [&access2, &access3] {
        let r = app.send(app.anon.get(app.url("/v1/customers")).bearer_auth(t)).await;
        assert_eq!(r.status, 401, "{}", r.text());
    }
    let refresh3 = third["refresh_token"].as_str().unwrap();
    oauth_error(
        &app.token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh3)]).await,
        400,
        "invalid_grant",
    );
}

#[tokio::test]
async fn revocation_follows_rfc_7009() {
    let app = spawn_app().await;
    let body = app
        .token_request(&[("grant_type", "password"), ("username", ADMIN_USER), ("password", ADMIN_PASSWORD)])
        .await
        .json();
    let access = body["access_token"].as_str().unwrap();
    let revoke = |token: &str| {
        app.send(
            app.anon
                .post(app.url("/oauth/revoke"))
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .form(&[("token", token)]),
        )
    };
    assert_eq!(revoke("never-issued").await.status, 200, "unknown tokens are fine");
    let r = revoke(access).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), "no-store");
    let r = app.send(app.anon.get(app.url("/v1/customers")).bearer_auth(access)).await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").contains("invalid_token"));
    let r = app.send(app.anon.post(app.url("/oauth/revoke")).form(&[("token", access)])).await;
    oauth_error(&r, 401, "invalid_client");
}

#[tokio::test]
async fn twenty_wrong_passwords_are_429_then_waiting_works() {
    let app = spawn_app().await;
    let mut limited = None;
    for _ in 0..20 {
        let r = app.token_request(&[("grant_type", "password"), ("username", ADMIN_USER), ("password", "guess")]).await;
        match r.status {
            400 => oauth_error(&r, 400, "invalid_grant"),
            429 => {
                let body = r.problem(429, "too_many_requests");
                assert!(body["detail"].as_str().unwrap().contains("sign-in"));
                limited = Some(r.header("retry-after").parse::<u64>().expect("Retry-After in seconds"));
            }
            other => panic!("unexpected {other}: {}", r.text()),
        }
    }
    let wait = limited.expect("20 wrong passwords must hit the limit");
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    // Even the right password waits its turn...
    let r =
        app.token_request(&[("grant_type", "password"), ("username", ADMIN_USER), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(r.status, 429);
    // ...and works once Retry-After has passed.
    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    let r =
        app.token_request(&[("grant_type", "password"), ("username", ADMIN_USER), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn no_secret_is_stored_or_logged_in_clear() {
    let app = spawn_app().await;
    cli(&app.db, &["users", "add", "--username", "carol", "--password", "carol-secret-pw-42"]);
    let body = app
        .token_request(&[("grant_type", "password"), ("username", "carol"), ("password", "carol-secret-pw-42")])
        .await
        .json();
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let r = app
        .token_request(&[("grant_type", "password"), ("username", "carol"), ("password", "wrong-guess-pw-17")])
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(app.send(app.anon.get(app.url("/v1/customers")).bearer_auth(&access)).await.status, 200);
    let secrets =
        [ADMIN_PASSWORD, CLIENT_SECRET, "carol-secret-pw-42", "wrong-guess-pw-17", &access, &refresh, &app.token];
    let mut files = vec![app.log.clone()];
    for suffix in ["", "-wal", "-shm"] {
        let mut p = app.db.clone().into_os_string();
        p.push(suffix);
        files.push(p.into());
    }
    let mut read_any = 0;
    for f in files {
        let Ok(bytes) = std::fs::read(&f) else { continue };
        read_any += bytes.len();
        for s in secrets {
            assert!(!bytes.windows(s.len()).any(|w| w == s.as_bytes()), "{} holds a secret in clear: {s}", f.display());
        }
    }
    assert!(read_any > 10_000, "the database and the log were read");
}

impl TestApp {
    async fn token_request_owned(&self, form: Vec<(&'static str, &'static str)>) -> Reply {
        self.token_request(&form).await
    }
}
