//! `spawn_app`: starts the real `statuskit` binary on a random loopback port with its own SQLite
//! file (or, with `spawn_pg_app`, its own fresh PostgreSQL database), and helpers that speak HTTP
//! to it (reqwest, or a raw socket where reqwest would fix the request for us).

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The bootstrap credentials every test service starts with.
pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
pub const CLIENT_ID: &str = "test-client";
pub const CLIENT_SECRET: &str = "test-client-secret";

/// A running service; killed when dropped.
pub struct TestApp {
    pub base: String,
    pub addr: String,
    /// Sends the admin's bearer token with every request.
    pub client: reqwest::Client,
    /// Sends no credentials.
    pub anon: reqwest::Client,
    /// The admin's access token.
    pub token: String,
    /// Its `--database`: a SQLite file, or a PostgreSQL URL.
    pub db: std::path::PathBuf,
    /// The service's stderr (its logs), kept in the temp dir.
    pub log: std::path::PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
    /// The PostgreSQL database this service was made for, dropped after it (fields drop after
    /// `Drop::drop` has stopped the service).
    pg: Option<PgDatabase>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- service log ---\n{}", std::fs::read_to_string(&self.log).unwrap_or_default());
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Runs `statuskit ARGS… --database DB` to completion (e.g. `users add`), returning stdout.
pub fn cli(db: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_statuskit"))
        .args(args)
        .arg("--database")
        .arg(db)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run statuskit");
    assert!(out.status.success(), "statuskit {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub async fn spawn_app_with(extra: &[&str]) -> TestApp {
    spawn_app_on(None, extra).await
}

/// Starts a service on `db` (another instance's database, to run several on one), or on a new one:
/// a SQLite file, or a fresh PostgreSQL database when `STATUSKIT_TEST_BACKEND=postgres` (the
/// whole suite on PostgreSQL).
pub async fn spawn_app_on(db: Option<&std::path::Path>, extra: &[&str]) -> TestApp {
    if db.is_none() && std::env::var(TEST_BACKEND).is_ok_and(|v| v == "postgres") {
        let test = std::thread::current().name().unwrap_or("a test").to_owned();
        let Some(pg) = fresh_postgres(&test).await else {
            panic!("{TEST_BACKEND}=postgres, but PostgreSQL is not reachable (see ${DATABASE_URL})");
        };
        let mut app = Box::pin(spawn_app_on(Some(std::path::Path::new(&pg.url)), extra)).await;
        app.pg = Some(pg);
        return app;
    }
    let mut app = start(db, extra);
    app.token = app.password_token(ADMIN_USER, ADMIN_PASSWORD, None).await;
    app.with_token();
    app
}

/// Starts another service on `other`'s database, signed in with `other`'s token (tokens live in
/// the shared store) instead of asking for one: it starts even while the token endpoint answers
/// 503 (maintenance).
pub async fn spawn_app_joining(other: &TestApp, extra: &[&str]) -> TestApp {
    let mut app = start(Some(&other.db), extra);
    app.token = other.token.clone();
    app.with_token();
    app
}

/// Starts `statuskit serve` on `db` (or a new SQLite file) and reads its address; no token yet.
fn start(db: Option<&std::path::Path>, extra: &[&str]) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = db.map_or_else(|| dir.path().join("test.db"), std::path::Path::to_path_buf);
    let log = dir.path().join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_statuskit"))
        .args(["serve", "--addr", "127.0.0.1:0", "--database"])
        .arg(&db)
        .args(extra)
        .env("RUST_LOG", std::env::var("STATUSKIT_TEST_LOG").unwrap_or_else(|_| "debug".into()))
        .env("STATUSKIT_ADMIN_USER", ADMIN_USER)
        .env("STATUSKIT_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("STATUSKIT_CLIENT_ID", CLIENT_ID)
        .env("STATUSKIT_CLIENT_SECRET", CLIENT_SECRET)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start statuskit");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read the address line");
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let addr = base.trim_start_matches("http://").to_owned();
    let anon = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    TestApp { base, addr, client: anon.clone(), anon, token: String::new(), db, log, child, _dir: dir, pg: None }
}

/// The variable naming the PostgreSQL server tests may use (a URL to any database on it, e.g.
/// `postgres://postgres@127.0.0.1:5432/test`); each test gets a fresh database of its own there.
pub const DATABASE_URL: &str = "DATABASE_URL";
/// Set to `postgres`, every service a test starts without naming its database gets a fresh
/// PostgreSQL database instead of a SQLite file.
pub const TEST_BACKEND: &str = "STATUSKIT_TEST_BACKEND";
/// Set to `1` (as CI does), a test that needs PostgreSQL and finds none fails instead of skipping.
pub const REQUIRE_POSTGRES: &str = "STATUSKIT_REQUIRE_POSTGRES";

/// A fresh PostgreSQL database made for one test; dropped (with its connections) when dropped.
pub struct PgDatabase {
    /// URL of the new database.
    pub url: String,
    /// URL of the database the server was reached through, to drop this one from.
    admin: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // A runtime of its own: drop may run inside (or outside) a test's runtime.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&admin).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut conn).await?;
                conn.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}

/// Makes a fresh, uniquely named database on the server `DATABASE_URL` points at, for `test`.
/// `None` if there is no server to use: then says so on stderr (`SKIPPED <test>: …`), or panics
/// if `STATUSKIT_REQUIRE_POSTGRES=1`.
pub async fn fresh_postgres(test: &str) -> Option<PgDatabase> {
    use sqlx::Connection;
    let skip = |why: String| {
        let line = format!("SKIPPED {test}: PostgreSQL not reachable at {why}");
        if std::env::var(REQUIRE_POSTGRES).is_ok_and(|v| v == "1") {
            panic!("{line} ({REQUIRE_POSTGRES}=1)");
        }
        // Straight to the process's stderr: the test harness captures `eprintln!` of a passing
        // test, and a skip must show in the summary.
        let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("{line}\n").as_bytes());
        None
    };
    let Ok(admin) = std::env::var(DATABASE_URL) else {
        return skip(format!("${DATABASE_URL} (unset)"));
    };
    // Said in the skip line without its password, if it has one.
    let shown = reqwest::Url::parse(&admin).map_or_else(
        |_| admin.clone(),
        |mut u| {
            let _ = u.set_password(None);
            u.to_string()
        },
    );
    let connect = tokio::time::timeout(std::time::Duration::from_secs(5), sqlx::PgConnection::connect(&admin));
    let mut conn = match connect.await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return skip(format!("{shown} ({e})")),
        Err(_) => return skip(format!("{shown} (no answer in 5 s)")),
    };
    let name = format!("statuskit_test_{}", ulid::Ulid::new().to_string().to_lowercase());
    sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&mut conn).await.expect("create the test database");
    let _ = conn.close().await;
    let mut url = reqwest::Url::parse(&admin).expect("DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    Some(PgDatabase { url: url.to_string(), admin, name })
}

/// Starts a service on a fresh PostgreSQL database of its own (see [`fresh_postgres`]); `None`
/// when the test is skipped for want of PostgreSQL.
pub async fn spawn_pg_app(test: &str, extra: &[&str]) -> Option<TestApp> {
    let pg = fresh_postgres(test).await?;
    let mut app = spawn_app_on(Some(std::path::Path::new(&pg.url)), extra).await;
    app.pg = Some(pg);
    Some(app)
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("missing header {name} in {:?}", self.headers))
            .to_str()
            .expect("ASCII header")
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts the contract's problem shape for this status; returns the body.
    pub fn problem(&self, status: u16, name: &str) -> Value {
        assert_eq!(self.status, status, "status; body: {}", self.text());
        assert_eq!(self.header("content-type"), "application/problem+json");
        let body = self.json();
        assert_eq!(body["type"], format!("/docs/errors#{name}"));
        assert_eq!(body["status"], status);
        assert!(body["title"].is_string());
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        assert_eq!(body["detail"], body["message"]);
        assert_eq!(body["request_id"], self.header("x-request-id"));
        assert_eq!(self.header("content-length"), self.body.len().to_string());
        body
    }
}

impl TestApp {
    /// Makes `client` send `token` with every request.
    fn with_token(&mut self) {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", format!("Bearer {}", self.token).parse().unwrap());
        self.client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .expect("client");
    }

    /// Kills the service with SIGKILL (no shutdown of any kind) and waits for it to be gone.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// The service's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the process to exit; returns how long that took.
    pub fn terminate(&mut self) -> std::time::Duration {
        let started = std::time::Instant::now();
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success(), "kill -TERM failed");
        self.child.wait().expect("reaped");
        started.elapsed()
    }

    /// The service's peak resident memory so far (`VmHWM` of `/proc/<pid>/status`), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("/proc/<pid>/status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse().ok())
            .expect("VmHWM in kB");
        kib * 1024
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs a form to the token endpoint with the test client's Basic credentials.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> Reply {
        self.send(self.anon.post(self.url("/oauth/token")).basic_auth(CLIENT_ID, Some(CLIENT_SECRET)).form(form)).await
    }

    /// An access token for `user` (password grant), optionally narrowed to `scope`.
    pub async fn password_token(&self, user: &str, password: &str, scope: Option<&str>) -> String {
        let mut form = vec![("grant_type", "password"), ("username", user), ("password", password)];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        // Tests that set a short --deadline-ms sign in under it too: on a loaded machine the
        // password hash alone can outlast it (504). That is set-up, not what such a test checks,
        // so a 504 is tried again, at most three times in all.
        let mut r = self.token_request(&form).await;
        for _ in 1..3 {
            if r.status != 504 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            r = self.token_request(&form).await;
        }
        assert_eq!(r.status, 200, "token request failed: {}", r.text());
        r.json()["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.bytes().await.expect("body").to_vec();
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.client.get(self.url(path))).await
    }

    /// POSTs a JSON customer and returns the reply.
    pub async fn create(&self, name: &str, email: &str) -> Reply {
        self.send(
            self.client
                .post(self.url("/v1/customers"))
                .header("content-type", "application/json")
                .body(serde_json::json!({"name": name, "email": email}).to_string()),
        )
        .await
    }

    /// Sends raw bytes and reads one response (status, headers, body by Content-Length).
    pub async fn raw(&self, request: &[u8]) -> Reply {
        let mut stream = tokio::net::TcpStream::connect(&self.addr).await.expect("connect");
        stream.write_all(request).await.expect("write");
        read_reply(&mut stream).await
    }
}

/// Reads one response from `stream` (status, headers, body by Content-Length); panics if none
/// comes within 10 s or the connection closes first.
pub async fn read_reply(stream: &mut tokio::net::TcpStream) -> Reply {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("the service answered in time")
            .expect("read");
        assert!(n > 0, "connection closed before a full response head: {:?}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = HeaderMap::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (k, v) = line.split_once(':').unwrap();
        headers
            .append(reqwest::header::HeaderName::from_bytes(k.trim().as_bytes()).unwrap(), v.trim().parse().unwrap());
    }
    let len: usize = headers.get("content-length").map_or(0, |v| v.to_str().unwrap().parse().unwrap());
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut chunk).await.expect("read body");
        assert!(n > 0, "connection closed mid-body");
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(len);
    Reply { status, headers, body }
}
