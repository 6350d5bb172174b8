//! Black-box tests of input an attacker (or a careless client) sends, over real HTTP: a PUT of
//! the largest id, control characters in text, a body in a content coding, a missing or repeated
//! `Host`, and the `Cache-Control` every 2xx carries.

mod common;

use std::collections::BTreeSet;

use common::{cli, spawn_app, spawn_app_with, Reply, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use statuskit_server::app::v1_resources;
use statuskit_server::store::postgres::PgStore;
use statuskit_server::store::sqlite::SqliteStore;
use statuskit_server::store::{CustomerData, CustomerStore, Database};

/// The largest id the API serves (2^53 - 1).
const MAX_ID: i64 = 9_007_199_254_740_991;

fn json_body(v: &Value) -> String {
    v.to_string()
}

async fn post_customer(app: &TestApp, token: &str, name: &str, email: &str) -> Reply {
    app.send(
        app.anon
            .post(app.url("/v1/customers"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(json_body(&json!({"name": name, "email": email}))),
    )
    .await
}

/// Follows a 201's `Location`: the customer must be there, readable, changeable and deletable.
async fn location_works(app: &TestApp, token: &str, created: &Reply) -> i64 {
    assert_eq!(created.status, 201, "{}", created.text());
    let location = created.header("location").to_owned();
    let id = created.json()["id"].as_i64().unwrap();
    assert_eq!(location, format!("/v1/customers/{id}"));
    assert!((1..=MAX_ID).contains(&id), "id {id} is outside 1..=2^53-1");
    let r = app.send(app.anon.get(app.url(&location)).bearer_auth(token)).await;
    assert_eq!(r.status, 200, "GET {location}: {}", r.text());
    assert_eq!(r.json()["id"], id);
    let r = app
        .send(
            app.anon
                .patch(app.url(&location))
                .bearer_auth(token)
                .header("content-type", "application/merge-patch+json")
                .body(r#"{"name": "Renamed"}"#),
        )
        .await;
    assert_eq!(r.status, 200, "PATCH {location}: {}", r.text());
    id
}

#[tokio::test]
async fn a_put_of_the_largest_id_leaves_post_ids_usable_in_every_account() {
    let app = spawn_app().await;
    let first = post_customer(&app, &app.token, "First", "first@example.com").await;
    let first_id = location_works(&app, &app.token, &first).await;

    // The attack: the largest id there is, and a run of ids just ahead of the counter.
    let path = format!("/v1/customers/{MAX_ID}");
    let r = app
        .send(
            app.client
                .put(app.url(&path))
                .header("content-type", "application/json")
                .body(json_body(&json!({"name": "Max", "email": "max@example.com"}))),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    for id in first_id + 1..=first_id + 3 {
        let r = app
            .send(
                app.client
                    .put(app.url(&format!("/v1/customers/{id}")))
                    .header("content-type", "application/json")
                    .body(json_body(&json!({"name": format!("Put {id}"), "email": format!("put{id}@example.com")}))),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
    }

    // Every later POST, in this account and in another, gets an id that resolves.
    cli(&app.db, &["users", "add", "--username", "eve", "--password", "eve-password-1", "--account", "other"]);
    let other = app.password_token("eve", "eve-password-1", None).await;
    let mine = post_customer(&app, &app.token, "Mine", "mine@example.com").await;
    let mine_id = location_works(&app, &app.token, &mine).await;
    assert_eq!(mine_id, first_id + 4, "the POST counter skipped exactly the ids PUT took");
    let theirs = post_customer(&app, &other, "Theirs", "theirs@example.com").await;
    let theirs_id = location_works(&app, &other, &theirs).await;
    assert_eq!(theirs_id, mine_id + 1);
    // The PUT-created customers are untouched, and the other account cannot see them.
    let r = app.get(&path).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["name"], "Max");
    let r = app.send(app.anon.get(app.url(&path)).bearer_auth(&other)).await;
    r.problem(404, "not_found");

    // Concurrent POSTs never collide, and each Location resolves.
    let posts = (0..12).map(|i| {
        let app = &app;
        async move { post_customer(app, &app.token, &format!("Concurrent {i}"), &format!("c{i}@example.com")).await }
    });
    let replies = futures_util::future::join_all(posts).await;
    let mut ids = BTreeSet::new();
    for r in &replies {
        assert!(ids.insert(location_works(&app, &app.token, r).await), "an id was handed out twice");
    }
    assert_eq!(ids.len(), 12);

    // And DELETE of a POSTed customer works.
    let r = app.send(app.client.delete(app.url(&format!("/v1/customers/{mine_id}")))).await;
    assert_eq!(r.status, 204, "{}", r.text());
}

/// Asserts no header value of `r` holds a control character.
fn clean_headers(r: &Reply) {
    for (name, value) in &r.headers {
        assert!(!value.as_bytes().iter().any(|b| b.is_ascii_control()), "control character in {name}: {value:?}");
    }
}

/// Parses `text` with a strict XML parser.
fn parse_xml(r: &Reply) -> roxmltree::Document<'_> {
    let text = std::str::from_utf8(&r.body).expect("UTF-8");
    roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("not well-formed XML ({e}): {text:?}"))
}

fn child_text<'a>(doc: &'a roxmltree::Document<'a>, name: &str) -> &'a str {
    doc.root_element().children().find(|n| n.has_tag_name(name)).and_then(|n| n.text()).unwrap_or("")
}

/// Asserts a 422 naming `field` for a control character.
fn refused(r: &Reply, field: &str) {
    clean_headers(r);
    let body = r.problem(422, "unprocessable_entity");
    let messages = body["errors"][field].as_array().unwrap_or_else(|| panic!("no errors.{field}: {body}"));
    assert!(messages.iter().any(|m| m.as_str().unwrap().starts_with("can't contain control characters")), "{body}");
}

#[tokio::test]
async fn control_characters_are_refused_in_text_and_never_break_xml() {
    let app = spawn_app().await;
    let json_type = ("content-type", "application/json");

    // POST, in JSON and in XML (a raw control byte; `&#1;` is no XML at all).
    let r = app.create("a\u{1}b", "ok@example.com").await;
    refused(&r, "name");
    let r = app.create("Ada", "a\u{7f}@example.com").await;
    refused(&r, "email");
    let xml = "<customer><name>a\u{1}b</name><email>x@example.com</email></customer>";
    let r =
        app.send(app.client.post(app.url("/v1/customers")).header("content-type", "application/xml").body(xml)).await;
    refused(&r, "name");

    // PUT (creating and replacing), PATCH, and one item of a batch.
    let r = app
        .send(
            app.client
                .put(app.url("/v1/customers/777"))
                .header(json_type.0, json_type.1)
                .body(json_body(&json!({"name": "Bo\u{1b}[31m", "email": "bo@example.com"}))),
        )
        .await;
    refused(&r, "name");
    let created = app.create("Ada", "ada@example.com").await;
    assert_eq!(created.status, 201);
    let path = created.header("location").to_owned();
    let r = app
        .send(
            app.client
                .put(app.url(&path))
                .header(json_type.0, json_type.1)
                .body(json_body(&json!({"name": "Ada", "email": "ada\u{0}@example.com"}))),
        )
        .await;
    refused(&r, "email");
    let r = app
        .send(
            app.client
                .patch(app.url(&path))
                .header("content-type", "application/merge-patch+json")
                .body(json_body(&json!({"name": "x\u{85}y"}))),
        )
        .await;
    refused(&r, "name");
    let batch = json!({"items": [{"name": "Fine", "email": "fine@example.com"}, {"name": "b\u{8}d", "email": "bad@example.com"}]});
    let r = app
        .send(app.client.post(app.url("/v1/customers/batch")).header(json_type.0, json_type.1).body(json_body(&batch)))
        .await;
    assert_eq!(r.status, 207, "{}", r.text());
    let items = r.json()["items"].clone();
    assert_eq!(items[0]["status"], 201);
    assert_eq!(items[1]["status"], 422);
    assert!(items[1]["body"]["errors"]["name"][0].as_str().unwrap().starts_with("can't contain control"));
    // Tab and line feed are text, not control: accepted.
    let r = app.create("Ada\tKing", "king@example.com").await;
    assert_eq!(r.status, 201, "{}", r.text());

    // Names stored from the command line follow the same rule.
    for args in [
        &["users", "add", "--username", "ev\u{1}l", "--password", "pw-123456789"][..],
        &["users", "add", "--username", "eve", "--password", "pw-123456789", "--account", "a\u{1b}b"],
        &["clients", "add", "--client-id", "c\u{7f}"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_statuskit"))
            .args(args)
            .arg("--database")
            .arg(&app.db)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(String::from_utf8_lossy(&out.stderr).contains("can't contain control characters"), "{out:?}");
    }

    // Whatever is stored (here written straight into the database, as an older version or
    // another tool could have), the XML representation and list parse; JSON keeps it exactly.
    let data = CustomerData { name: "raw\u{1}\u{b}\u{ffff}\r\nname".into(), email: "raw@example.com".into() };
    let (raw, _) = match Database::of(&app.db) {
        Database::Sqlite(path) => SqliteStore::open(&path).await.unwrap().create(1, &data, None).await.unwrap(),
        Database::Postgres(url) => PgStore::open(&url).await.unwrap().create(1, &data, None).await.unwrap(),
    };
    let xml_accept = ("accept", "application/xml");
    let r = app
        .send(app.client.get(app.url(&format!("/v1/customers/{}", raw.id))).header(xml_accept.0, xml_accept.1))
        .await;
    assert_eq!(r.status, 200);
    clean_headers(&r);
    let doc = parse_xml(&r);
    assert_eq!(child_text(&doc, "name"), "raw\u{fffd}\u{fffd}\u{fffd}\r\nname");
    let r = app.send(app.client.get(app.url("/v1/customers?limit=100")).header(xml_accept.0, xml_accept.1)).await;
    assert_eq!(r.status, 200);
    let doc = parse_xml(&r);
    assert!(doc.descendants().any(|n| n.text() == Some("raw\u{fffd}\u{fffd}\u{fffd}\r\nname")), "{}", r.text());
    let r = app.get(&format!("/v1/customers/{}", raw.id)).await;
    assert_eq!(r.json()["name"], "raw\u{1}\u{b}\u{ffff}\r\nname");

    // Problem bodies that echo input: a path segment decoded to control characters, in XML.
    let r =
        app.send(app.client.get(app.url("/v1/operations/%01%0B%EF%BF%BF")).header(xml_accept.0, xml_accept.1)).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), "application/problem+xml; charset=utf-8");
    clean_headers(&r);
    let doc = parse_xml(&r);
    assert_eq!(child_text(&doc, "detail"), "no operation has id \u{fffd}\u{fffd}\u{fffd}");
    assert_eq!(child_text(&doc, "request_id"), r.header("x-request-id"));
    // The same in JSON: escaped, exact.
    let r = app.get("/v1/operations/%01%0B").await;
    assert_eq!(r.problem(404, "not_found")["detail"], "no operation has id \u{1}\u{b}");
    // The 422 itself, in XML.
    let r = app
        .send(
            app.client
                .post(app.url("/v1/customers"))
                .header(json_type.0, json_type.1)
                .header(xml_accept.0, xml_accept.1)
                .body(json_body(&json!({"name": "a\u{1}b", "email": "x@example.com"}))),
        )
        .await;
    assert_eq!(r.status, 422);
    let doc = parse_xml(&r);
    let field = doc.descendants().find(|n| n.has_tag_name("field")).unwrap();
    assert_eq!(field.attribute("name"), Some("name"));
}

#[tokio::test]
async fn a_content_coding_other_than_identity_is_415_with_accept_encoding() {
    let app = spawn_app().await;
    let body = json_body(&json!({"name": "Zip", "email": "zip@example.com"}));
    for coding in ["gzip", "br", "identity, deflate"] {
        let r = app
            .send(
                app.client
                    .post(app.url("/v1/customers"))
                    .header("content-type", "application/json")
                    .header("content-encoding", coding)
                    .body(body.clone()),
            )
            .await;
        let problem = r.problem(415, "unsupported_media_type");
        assert_eq!(r.header("accept-encoding"), "identity");
        assert_eq!(problem["accepted_encodings"], json!(["identity"]));
        assert!(problem["detail"].as_str().unwrap().contains(coding), "{problem}");
    }
    // Nothing was created; the same body without a coding (or as `identity`) is.
    let list = app.get("/v1/customers").await;
    assert_eq!(list.json()["items"], json!([]));
    let r = app
        .send(
            app.client
                .post(app.url("/v1/customers"))
                .header("content-type", "application/json")
                .header("content-encoding", "identity")
                .body(body),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    // The token endpoint reads its form itself, and refuses codings too.
    let r = app
        .send(
            app.anon
                .post(app.url("/oauth/token"))
                .basic_auth(common::CLIENT_ID, Some(common::CLIENT_SECRET))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("content-encoding", "gzip")
                .body("grant_type=client_credentials"),
        )
        .await;
    r.problem(415, "unsupported_media_type");
    assert_eq!(r.header("accept-encoding"), "identity");
    assert_eq!(r.header("cache-control"), "no-store");
}

#[tokio::test]
async fn a_missing_or_repeated_host_is_400() {
    let app = spawn_app().await;
    let cases: [(&str, &str); 4] = [
        ("GET /health HTTP/1.1\r\nConnection: close\r\n\r\n", "must carry a Host"),
        (
            "GET /health HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n",
            "2 Host header fields",
        ),
        ("GET /health HTTP/1.0\r\nHost: a.example\r\nHost: a.example\r\n\r\n", "2 Host header fields"),
        ("GET /health HTTP/1.1\r\nHost: user@a.example\r\nConnection: close\r\n\r\n", "not a valid host"),
    ];
    for (request, detail) in cases {
        let r = app.raw(request.as_bytes()).await;
        let body = r.problem(400, "bad_request");
        assert!(body["detail"].as_str().unwrap().contains(detail), "{request:?}: {body}");
    }
    // Even before authentication: a /v1 route answers the same 400, not 401.
    let r = app.raw(b"GET /v1/customers HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    r.problem(400, "bad_request");
    // One Host, or HTTP/1.0 without one: served.
    let r =
        app.raw(format!("GET /health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", app.addr).as_bytes()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app.raw(b"GET /health HTTP/1.0\r\n\r\n").await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// A 40×40 PNG.
fn png() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(40, 40, image::Rgb([200, 30, 30]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

#[tokio::test]
async fn every_2xx_carries_the_cache_control_of_its_route() {
    // Slow enough that the monitor is read while the work still runs.
    let app = spawn_app_with(&["--operation-step-delay-ms", "300"]).await;
    let mut seen: BTreeSet<(String, &str)> = BTreeSet::new();
    let mut check = |what: (&str, &'static str), r: &Reply, expected: &str| {
        assert!(r.status / 100 == 2 || r.status == 304, "{what:?}: {} {}", r.status, r.text());
        assert_eq!(r.headers.get("cache-control").map(|v| v.to_str().unwrap()), Some(expected), "{what:?}");
        seen.insert((what.0.to_owned(), what.1));
    };
    let json_type = ("content-type", "application/json");

    // Unauthenticated: health, documentation, tokens.
    check(("GET", "/health"), &app.get("/health").await, "no-store");
    check(("HEAD", "/health"), &app.send(app.anon.head(app.url("/health"))).await, "no-store");
    check(("GET", "/docs/errors"), &app.get("/docs/errors").await, "public, max-age=3600");
    check(("GET", "/openapi.json"), &app.get("/openapi.json").await, "public, max-age=3600");
    let tokens = app
        .token_request(&[
            ("grant_type", "password"),
            ("username", common::ADMIN_USER),
            ("password", common::ADMIN_PASSWORD),
        ])
        .await;
    check(("POST", "/oauth/token"), &tokens, "no-store");
    let refresh = tokens.json()["refresh_token"].as_str().unwrap().to_owned();
    let r = app
        .send(
            app.anon
                .post(app.url("/oauth/revoke"))
                .basic_auth(common::CLIENT_ID, Some(common::CLIENT_SECRET))
                .form(&[("token", refresh.as_str())]),
        )
        .await;
    check(("POST", "/oauth/revoke"), &r, "no-store");

    // What a bearer token reads: private; with a validator, private and revalidated.
    let created = app.create("Ada", "ada@example.com").await;
    check(("POST", "/v1/customers"), &created, "private, no-cache");
    let path = created.header("location").to_owned();
    check(("GET", "/v1/customers"), &app.get("/v1/customers").await, "private");
    let one = app.get(&path).await;
    check(("GET", "/v1/customers/{id}"), &one, "private, no-cache");
    let etag = one.header("etag").to_owned();
    let r = app.send(app.client.get(app.url(&path)).header("if-none-match", &etag)).await;
    assert_eq!(r.status, 304);
    check(("GET 304", "/v1/customers/{id}"), &r, "private, no-cache");
    let r = app
        .send(
            app.client
                .put(app.url(&path))
                .header(json_type.0, json_type.1)
                .body(json_body(&json!({"name": "Ada King", "email": "ada@example.com"}))),
        )
        .await;
    // RFC 9110 §9.3.4: a PUT's answer has no validator, so nothing to revalidate with.
    check(("PUT", "/v1/customers/{id}"), &r, "private");
    let r = app
        .send(
            app.client
                .patch(app.url(&path))
                .header("content-type", "application/merge-patch+json")
                .body(r#"{"name":"Ada"}"#),
        )
        .await;
    check(("PATCH", "/v1/customers/{id}"), &r, "private, no-cache");
    let batch = json!({"items": [{"name": "Bo", "email": "bo@example.com"}]});
    let r = app
        .send(app.client.post(app.url("/v1/customers/batch")).header(json_type.0, json_type.1).body(json_body(&batch)))
        .await;
    check(("POST", "/v1/customers/batch"), &r, "private");
    check(("DELETE", "/v1/customers/{id}"), &app.send(app.client.delete(app.url(&path))).await, "private");

    let r = app.send(app.client.put(app.url("/v1/me/avatar")).header("content-type", "image/png").body(png())).await;
    check(("PUT", "/v1/me/avatar"), &r, "private");
    let monitor = r.header("location").to_owned();
    check(("GET", "/v1/operations/{id}"), &app.get(&monitor).await, "private");
    let mut done = false;
    for _ in 0..100 {
        if app.get(&monitor).await.status == 303 {
            done = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(done, "the avatar operation did not finish");
    check(("GET", "/v1/me/avatar"), &app.get("/v1/me/avatar").await, "private, no-cache");
    check(("GET", "/v1/me/avatar/{size}"), &app.get("/v1/me/avatar/64").await, "private, no-cache");
    check(("GET", "/admin/maintenance"), &app.get("/admin/maintenance").await, "private");
    let r = app
        .send(
            app.client.put(app.url("/admin/maintenance")).header(json_type.0, json_type.1).body(r#"{"enabled":false}"#),
        )
        .await;
    check(("PUT", "/admin/maintenance"), &r, "private");

    // Every /v1 route the router is built from was seen answering 2xx above.
    for (path, resource) in v1_resources::<SqliteStore>() {
        for m in resource.allow().iter() {
            if *m == http::Method::OPTIONS || *m == http::Method::HEAD {
                continue;
            }
            let method = Method::from_bytes(m.as_str().as_bytes()).unwrap();
            assert!(seen.contains(&(method.to_string(), path)), "no Cache-Control check for {method} {path}");
        }
    }
}
