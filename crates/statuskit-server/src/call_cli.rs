//! `statuskit call [METHOD] URL …`: one request through `statuskit-client`, for people who reach
//! for curl: it waits out `Retry-After`, retries a POST with one `Idempotency-Key`, with `--wait`
//! follows a 202 to its result (a progress bar on a terminal), and prints a problem readably.
//!
//! Exit status: 0 when the final answer is 2xx or 3xx; 1 when it is a problem (any 4xx or 5xx)
//! or the time ran out waiting; 2 when the call could not be made (bad arguments, a file that
//! cannot be read, an unreachable host).

use std::process::ExitCode;
use std::time::Duration;

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use statuskit_client::{Client, Error, Operation, OperationEvent, Response};

use crate::config::{CallArgs, CallFormat};

/// Could not run: bad arguments or an unreachable host.
const COULD_NOT_RUN: u8 = 2;
/// Answered with a problem, or out of time.
const PROBLEM: u8 = 1;

/// Runs the call; returns the process's exit status.
pub async fn run(args: CallArgs) -> ExitCode {
    match call(&args).await {
        Ok(response) => {
            print_response(&args, &response);
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(why)) => {
            eprintln!("statuskit call: {why}");
            ExitCode::from(COULD_NOT_RUN)
        }
        Err(Failure::Client(e)) => {
            print_error(&args, &e);
            ExitCode::from(if could_not_run(&e) { COULD_NOT_RUN } else { PROBLEM })
        }
    }
}

enum Failure {
    Usage(String),
    Client(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Client(e)
    }
}

/// A failure to reach the host at all (even after retries), or to build the request.
fn could_not_run(e: &Error) -> bool {
    match e {
        Error::Transport { .. } | Error::Url { .. } | Error::InvalidHeader { .. } | Error::Config(_) => true,
        Error::BudgetExhausted { last: Some(l), .. } | Error::RetryBudgetExhausted { last: l, .. } => {
            matches!(**l, Error::Transport { .. })
        }
        _ => false,
    }
}

async fn call(args: &CallArgs) -> Result<Response, Failure> {
    let (method, target) = match args.target.as_slice() {
        [url] => (if args.data.is_some() { "POST" } else { "GET" }.to_owned(), url.clone()),
        [method, url] => (method.to_ascii_uppercase(), url.clone()),
        _ => return Err(Failure::Usage("give [METHOD] URL".into())),
    };
    let method =
        http::Method::from_bytes(method.as_bytes()).map_err(|_| Failure::Usage(format!("bad method {method:?}")))?;
    let url = url::Url::parse(&target).map_err(|e| Failure::Usage(format!("bad URL {target:?}: {e}")))?;
    if !args.max_time.is_finite() || args.max_time <= 0.0 {
        return Err(Failure::Usage("--max-time must be a positive number of seconds".into()));
    }
    let budget = Duration::from_secs_f64(args.max_time);
    let mut builder = Client::builder(url.origin().ascii_serialization())
        .time_budget(budget)
        .max_wait(budget)
        .operation_budget(budget);
    if let Some(token) = &args.token {
        builder = builder.bearer(token.clone());
    }
    let client = builder.build()?;
    let mut path = url.path().to_owned();
    if let Some(q) = url.query() {
        path = format!("{path}?{q}");
    }
    let mut request = client.request(method, &path);
    let mut has_content_type = false;
    for h in &args.headers {
        let (name, value) =
            h.split_once(':').ok_or_else(|| Failure::Usage(format!("header {h:?} is not 'Name: value'")))?;
        has_content_type |= name.trim().eq_ignore_ascii_case("content-type");
        request = request.header(name.trim(), value.trim());
    }
    if let Some(data) = &args.data {
        let body = match data.strip_prefix('@') {
            Some(file) => std::fs::read(file).map_err(|e| Failure::Usage(format!("cannot read {file}: {e}")))?,
            None => data.clone().into_bytes(),
        };
        if !has_content_type {
            request = request.header("content-type", "application/json");
        }
        request = request.body(body);
    }
    let response = request.send().await?;
    if !(args.wait && response.status() == http::StatusCode::ACCEPTED) {
        return Ok(response);
    }
    let op = Operation::from_response(&client, &response)?;
    tracing::info!(monitor = %op.monitor(), "202 Accepted: waiting for the operation");
    // Drawn on stderr, and only on a terminal (indicatif hides it otherwise).
    let bar = ProgressBar::new(100).with_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}% {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let mut events = Box::pin(op.progress());
    let result = loop {
        match events.next().await {
            Some(Ok(OperationEvent::Progress(p))) => {
                if let Some(pct) = p.percent {
                    bar.set_position(u64::from(pct));
                }
                bar.set_message(format!("{:?}", p.status).to_lowercase());
            }
            Some(Ok(OperationEvent::Done(r))) => break Ok(r),
            Some(Ok(_)) => {}
            Some(Err(e)) => break Err(e),
            None => break Err(Error::Config("the operation ended without a result".into())),
        }
    };
    bar.finish_and_clear();
    Ok(result?)
}

/// The body for `--format json`: JSON as JSON, text as a string, anything else (an image) as
/// `{"base64": …}`.
fn body_value(response: &Response) -> Value {
    use base64::Engine as _;
    if let Ok(v) = serde_json::from_slice(response.body()) {
        return v;
    }
    match std::str::from_utf8(response.body()) {
        Ok(text) => Value::String(text.to_owned()),
        Err(_) => json!({"base64": base64::engine::general_purpose::STANDARD.encode(response.body())}),
    }
}

fn print_response(args: &CallArgs, response: &Response) {
    match args.format {
        CallFormat::Json => {
            let headers: serde_json::Map<String, Value> = response
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned())))
                .collect();
            let out = json!({
                "status": response.status().as_u16(),
                "url": response.url().map(|u| u.to_string()),
                "headers": headers,
                "body": body_value(response),
                "attempts": response.attempts(),
            });
            println!("{out}");
        }
        CallFormat::Text => {
            eprintln!(
                "{} {}{}",
                response.status().as_u16(),
                response.status().canonical_reason().unwrap_or_default(),
                if response.attempts() > 1 {
                    format!(" (after {} attempts)", response.attempts())
                } else {
                    String::new()
                }
            );
            if let Some(l) = response.headers().get(http::header::LOCATION).and_then(|v| v.to_str().ok()) {
                eprintln!("location: {l}");
            }
            let text = response.text();
            if !text.is_empty() {
                println!("{text}");
            }
        }
    }
}

fn print_error(args: &CallArgs, e: &Error) {
    match args.format {
        CallFormat::Json => {
            let out = json!({
                "error": e.to_string(),
                "status": e.status(),
                "problem": e.problem(),
                "request_id": e.request_id(),
            });
            println!("{out}");
        }
        CallFormat::Text => {
            eprintln!("statuskit call: {e}");
            if let Some(p) = e.problem() {
                if let Some(t) = &p.title {
                    eprintln!("  title:      {t}");
                }
                if let Some(d) = &p.detail {
                    eprintln!("  detail:     {d}");
                }
                for (field, messages) in &p.errors {
                    for m in messages {
                        eprintln!("  field:      {field}: {m}");
                    }
                }
                eprintln!("  type:       {}", p.problem_type);
            }
            if let Some(id) = e.request_id() {
                eprintln!("  request id: {id}");
            }
        }
    }
}
