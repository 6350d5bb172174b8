//! # statuskit-probe
//!
//! Checks a live HTTP API against the status contract. Each check ([`check::CheckId`]) is data:
//! what it sends, what it expects, and the rule behind it (an RFC section or a contract row, MUST
//! or SHOULD). The probe finds what to work on in the API's OpenAPI document (3.x or Swagger 2.0)
//! or in paths given by hand, skips (and says why) what does not apply, and reports as a table,
//! JSON or JUnit XML ([`report`]).
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

/// The probe could not start: the API or its document could not be read.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

async fn load_openapi(client: &client::Client, location: &str) -> Result<serde_json::Value, Error> {
    let text = if location.starts_with('/') && !std::path::Path::new(location).is_file()
        || location.starts_with("http://")
        || location.starts_with("https://")
    {
        let ex = client
            .send(client::Req::new(http::Method::GET, location).anonymous())
            .await
            .map_err(|e| Error(format!("reading the OpenAPI document: {e}")))?;
        if !run::is_success(ex.status) {
            return Err(Error(format!("GET {location} answered {}", ex.status)));
        }
        ex.body
    } else {
        std::fs::read(location).map_err(|e| Error(format!("reading {location}: {e}")))?
    };
    serde_json::from_slice(&text).map_err(|e| Error(format!("the OpenAPI document {location} is not JSON: {e}")))
}

/// Runs the configured checks against the API; `progress` advances once per check.
pub async fn probe(config: &Config, progress: &ProgressBar) -> Result<Report, Error> {
    let started = Instant::now();
    let client = client::Client::new(&config.base, config.token.clone(), config.timeout).map_err(|e| Error(e.0))?;
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
        findings.push(run.check(id).await);
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(Report { base: config.base.clone(), findings, elapsed: started.elapsed() })
}
