//! # statuskit-probe
//!
//! Checks a live HTTP API against the status contract. Each check ([`check::CheckId`]) is data:
//! what it sends, what it expects, and the rule behind it (an RFC section or a contract row, MUST
//! or SHOULD). The probe finds what to work on in the API's OpenAPI document (3.x or Swagger 2.0)
//! or in paths given by hand, skips (and says why) what does not apply, and reports as a table,
//! JSON or JUnit XML ([`report`]).
//!
//! It speaks HTTP and HTTPS (rustls, trusting the platform's roots, plus [`Config::cacert`]; or
//! nothing with [`Config::insecure`], which the report states). When it cannot run at all (the API
//! does not answer, the document cannot be read) [`probe`] returns an [`Error`] and no findings:
//! the command line exits 2 then, 1 when a check failed, 0 otherwise.
//!
//! ```no_run
//! use statuskit_probe::{probe, Config, report::Format};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let config = Config {
//!     token: Some("…".into()),
//!     openapi: Some("/openapi.json".into()),
//!     ..Config::new("http://127.0.0.1:8080")
//! };
//! let report = probe(&config, &indicatif::ProgressBar::hidden()).await.unwrap();
//! println!("{}", report.render(Format::Table));
//! assert!(!report.failed());
//! # });
//! ```

pub mod check;
pub mod client;
pub mod grammar;
mod raw_tls;
pub mod report;
mod run;
pub mod target;

use std::time::{Duration, Instant};

use check::CheckId;
use indicatif::ProgressBar;
use report::Report;
use target::Targets;

/// What to probe and how.
#[derive(Debug, Clone)]
pub struct Config {
    /// Base URL of the API, e.g. `http://127.0.0.1:8080`.
    pub base: String,
    /// A bearer token sent with every request (except the ones testing credentials).
    pub token: Option<String>,
    /// The OpenAPI document: a path on the API (`/openapi.json`), a URL, or a local file.
    pub openapi: Option<String>,
    /// Paths to read (GET), in addition to the document's.
    pub paths: Vec<String>,
    /// Run only these checks (ids, see [`check::CheckId`]); all when empty.
    pub only: Vec<CheckId>,
    /// How many requests the 429 check sends before it gives up.
    pub rate_limit_requests: usize,
    /// The longest `Retry-After` the probe waits out.
    pub max_wait: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// A PEM file of CA certificates to trust, besides the platform's roots.
    pub cacert: Option<std::path::PathBuf>,
    /// Skip certificate verification (the report says so, loudly).
    pub insecure: bool,
}

impl Config {
    /// Defaults for the API at `base`: every check, 200 requests for the 429 check, waits of
    /// up to 60 s, 10 s per request.
    pub fn new(base: &str) -> Self {
        Config {
            base: base.to_owned(),
            token: None,
            openapi: None,
            paths: Vec::new(),
            only: Vec::new(),
            rate_limit_requests: 200,
            max_wait: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            cacert: None,
            insecure: false,
        }
    }

    /// Parses `--only`: comma-separated check ids.
    pub fn parse_only(list: &str) -> Result<Vec<CheckId>, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|id| {
                CheckId::from_id(id).ok_or_else(|| {
                    let known: Vec<&str> = CheckId::ALL.iter().map(|c| c.check().id).collect();
                    format!("unknown check `{id}`; known: {}", known.join(", "))
                })
            })
            .collect()
    }

    /// The checks to run, in order.
    pub fn checks(&self) -> Vec<CheckId> {
        CheckId::ALL.iter().copied().filter(|c| self.only.is_empty() || self.only.contains(c)).collect()
    }
}

/// The probe could not run: the API did not answer, its document could not be read, or the
/// configuration is wrong. No check is reported then.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Reads an OpenAPI document, JSON or YAML (JSON is YAML too, but JSON's own parser says more
/// about a broken JSON file).
fn parse_openapi(text: &[u8], location: &str) -> Result<serde_json::Value, Error> {
    let json = serde_json::from_slice::<serde_json::Value>(text);
    let doc = match json {
        Ok(v) => v,
        Err(json_error) => match serde_yaml_ng::from_slice::<serde_json::Value>(text) {
            Ok(v) => v,
            Err(yaml_error) => {
                let starts_like_json = text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
                let why = if starts_like_json { json_error.to_string() } else { yaml_error.to_string() };
                return Err(Error(format!("the OpenAPI document {location} is neither JSON nor YAML: {why}")));
            }
        },
    };
    if doc.get("paths").is_none_or(|p| !p.is_object()) {
        return Err(Error(format!("{location} is no OpenAPI document: it has no `paths` object")));
    }
    Ok(doc)
}

async fn load_openapi(client: &client::Client, location: &str) -> Result<serde_json::Value, Error> {
    let text = if location.starts_with('/') && !std::path::Path::new(location).is_file()
        || location.starts_with("http://")
        || location.starts_with("https://")
    {
        let ex = client
            .send(client::Req::new(http::Method::GET, location).anonymous())
            .await
            .map_err(|e| Error(format!("reading the OpenAPI document: {e}")))?;
        let ex = if run::is_success(ex.status) || !client.has_token() {
            ex
        } else {
            // Some APIs publish their document to signed-in callers only.
            client
                .send(client::Req::new(http::Method::GET, location))
                .await
                .map_err(|e| Error(format!("reading the OpenAPI document: {e}")))?
        };
        if !run::is_success(ex.status) {
            return Err(Error(format!("the OpenAPI document was not found: GET {location} answered {}", ex.status)));
        }
        ex.body
    } else {
        std::fs::read(location).map_err(|e| Error(format!("reading the OpenAPI document {location}: {e}")))?
    };
    parse_openapi(&text, location)
}

/// Runs the configured checks against the API; `progress` advances once per check.
///
/// # Errors
/// [`Error`] when the probe cannot run: the CA file cannot be read, the API does not answer
/// (or stops answering during the run), or the OpenAPI document cannot be read.
pub async fn probe(config: &Config, progress: &ProgressBar) -> Result<Report, Error> {
    let started = Instant::now();
    let cacert = match &config.cacert {
        Some(path) => {
            Some(std::fs::read(path).map_err(|e| Error(format!("reading the CA file {}: {e}", path.display())))?)
        }
        None => None,
    };
    let tls = client::Tls { cacert, insecure: config.insecure };
    let client =
        client::Client::new(&config.base, config.token.clone(), config.timeout, &tls).map_err(|e| Error(e.0))?;
    client.reach().await.map_err(|e| Error(format!("cannot reach {}: {e}", config.base)))?;
    let targets = match &config.openapi {
        Some(location) => Targets::from_openapi(&load_openapi(&client, location).await?),
        None => Targets::default(),
    }
    .with_paths(&config.paths);
    let checks = config.checks();
    progress.set_length(checks.len() as u64);
    let mut run = run::Run::new(&client, &targets, config);
    let mut findings = Vec::with_capacity(checks.len());
    for id in checks {
        progress.set_message(id.check().id);
        findings.push(run.check(id).await?);
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(Report { base: config.base.clone(), insecure: config.insecure, findings, elapsed: started.elapsed() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_documents_in_json_and_yaml() {
        let yaml = b"openapi: 3.0.3\npaths:\n  /customers/:\n    get: {}\n";
        assert_eq!(parse_openapi(yaml, "x").unwrap()["paths"]["/customers/"]["get"], serde_json::json!({}));
        let json = br#"{"openapi": "3.1.0", "paths": {"/a": {"get": {}}}}"#;
        assert!(parse_openapi(json, "x").unwrap()["paths"]["/a"].is_object());
        assert!(parse_openapi(b"{\"paths\": ", "x").unwrap_err().0.contains("neither JSON nor YAML"));
        assert!(parse_openapi(b"<html></html>", "x").unwrap_err().0.contains("no `paths`"));
    }

    /// A server that answers one request (the probe's first contact) and then stops listening.
    async fn answers_once() -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            drop(listener);
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let _ = socket.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
        });
        base
    }

    #[tokio::test]
    async fn an_api_that_stops_answering_is_an_error_not_findings() {
        let base = answers_once().await;
        let config = Config { paths: vec!["/x".into()], ..Config::new(&base) };
        let e = probe(&config, &ProgressBar::hidden()).await.unwrap_err();
        assert!(e.0.starts_with("the API stopped answering during the `head` check: "), "{e}");
        let nobody = Config::new(&format!("http://{}", "127.0.0.1:1"));
        let e = probe(&nobody, &ProgressBar::hidden()).await.unwrap_err();
        assert!(e.0.starts_with("cannot reach http://127.0.0.1:1: "), "{e}");
    }

    #[test]
    fn unknown_check_ids_are_refused() {
        assert!(Config::parse_only("404, 405").is_ok());
        assert!(Config::parse_only("404,nope").unwrap_err().contains("unknown check `nope`"));
    }
}
