//! Work that takes time (RFC 9110 §15.3.3): a 202 gives an [`Operation`] whose status monitor is
//! polled at its `Retry-After` (clamped), until it answers 303 (followed, with the client's
//! credentials, to the result) or says it failed; it stops at the operation's time budget, and can
//! be saved as an [`OperationToken`] and resumed later.
//!
//! ```no_run
//! # async fn demo(client: statuskit_client::Client, png: Vec<u8>) -> Result<(), statuskit_client::Error> {
//! use futures_util::StreamExt;
//! use statuskit_client::{Operation, OperationEvent};
//!
//! let accepted = client.put("/v1/me/avatar").header("content-type", "image/png").body(png).send().await?;
//! let op = Operation::from_response(&client, &accepted)?;
//! let saved = op.token().to_string(); // to resume later: client.resume(&saved)?
//! let mut events = Box::pin(op.progress());
//! while let Some(event) = events.next().await {
//!     match event? {
//!         OperationEvent::Progress(p) => println!("{:?} {:?}%", p.status, p.percent),
//!         OperationEvent::Done(result) => println!("done: {}", result.status()),
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::Stream;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::error::{body_start, Error};
use crate::headers::RetryAfter;
use crate::problem::Problem;
use crate::response::Response;
use crate::Client;

/// A background operation's state, as its monitor reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum OperationStatus {
    /// Queued, not started (`queued`, `NotStarted`).
    Queued,
    /// Running.
    Running,
    /// Finished well.
    Succeeded,
    /// Finished badly.
    Failed,
    /// Canceled.
    Canceled,
    /// A state this client does not know (treated as still running).
    Other(String),
}

impl OperationStatus {
    fn parse(s: &str) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "queued" | "notstarted" | "not_started" | "pending" => Self::Queued,
            "running" | "inprogress" | "in_progress" => Self::Running,
            "succeeded" | "success" | "done" | "completed" => Self::Succeeded,
            "failed" | "error" => Self::Failed,
            "canceled" | "cancelled" => Self::Canceled,
            _ => Self::Other(s.to_owned()),
        }
    }
}

/// One reading of the monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// The state.
    pub status: OperationStatus,
    /// `progress` or `percentComplete`, 0–100, if given.
    pub percent: Option<u8>,
}

/// What the [`Operation::progress`] stream yields.
#[derive(Debug)]
#[non_exhaustive]
pub enum OperationEvent {
    /// The monitor says it is still going.
    Progress(Progress),
    /// The result (the answer to the 303's `Location`, or the monitor's final answer). Last.
    Done(Response),
}

/// Enough to find an operation again later: its monitor and its deadline. Serializes to JSON
/// (`Display` / [`Client::resume`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationToken {
    /// The monitor's absolute URL.
    pub monitor: String,
    /// The deadline, in seconds since the Unix epoch.
    pub deadline_unix: u64,
}

impl std::fmt::Display for OperationToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&serde_json::to_string(self).map_err(|_| std::fmt::Error)?)
    }
}

/// A 202's operation, to await.
#[derive(Debug)]
pub struct Operation {
    client: Client,
    monitor: url::Url,
    deadline: Instant,
    budget: Duration,
    next_poll: Duration,
    done: bool,
}

impl Operation {
    /// The operation a 202 announced: its monitor is `Location` (or `Operation-Location`).
    ///
    /// # Errors
    /// [`Error::NoMonitor`] for a 202 without one.
    pub fn from_response(client: &Client, accepted: &Response) -> Result<Operation, Error> {
        let monitor = accepted
            .location()
            .or_else(|| {
                let v = accepted.headers().get("operation-location")?.to_str().ok()?;
                accepted.url().map_or_else(|| url::Url::parse(v).ok(), |u| u.join(v).ok())
            })
            .ok_or_else(|| Error::NoMonitor { body_start: body_start(accepted.body()) })?;
        let budget = client.inner.settings.operation_budget;
        let first = RetryAfter::from_headers(accepted.headers()).map(|r| r.delay(SystemTime::now()));
        Ok(Operation {
            client: client.clone(),
            monitor,
            deadline: Instant::now() + budget,
            budget,
            next_poll: client.clamp_poll(first),
            done: false,
        })
    }

    /// The monitor's URL.
    pub fn monitor(&self) -> &url::Url {
        &self.monitor
    }

    /// Waits at most `budget` from now (instead of the client's operation budget).
    #[must_use]
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.deadline = Instant::now() + budget;
        self.budget = budget;
        self
    }

    /// A token to resume this operation from, in this process or another.
    pub fn token(&self) -> OperationToken {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let deadline = SystemTime::now() + left;
        OperationToken {
            monitor: self.monitor.to_string(),
            deadline_unix: deadline.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        }
    }

    /// Waits for the result.
    ///
    /// # Errors
    /// [`Error::OperationFailed`] when the monitor says it failed; [`Error::BudgetExhausted`]
    /// when it is still running at the deadline; any error of a poll.
    pub async fn wait(mut self) -> Result<Response, Error> {
        loop {
            if let OperationEvent::Done(r) = self.step().await? {
                return Ok(r);
            }
        }
    }

    /// The operation as a stream: a [`OperationEvent::Progress`] per poll, then one
    /// [`OperationEvent::Done`] (or an error), then the end.
    pub fn progress(self) -> impl Stream<Item = Result<OperationEvent, Error>> {
        futures_util::stream::unfold(Some(self), |op| async move {
            let mut op = op?;
            match op.step().await {
                Ok(OperationEvent::Done(r)) => Some((Ok(OperationEvent::Done(r)), None)),
                Ok(event) => Some((Ok(event), Some(op))),
                Err(e) => Some((Err(e), None)),
            }
        })
    }

    /// One poll (after waiting the interval the last one asked for, except the first time on a
    /// resumed operation).
    async fn step(&mut self) -> Result<OperationEvent, Error> {
        if self.done {
            return Err(Error::Config("the operation is already done".into()));
        }
        let wait = self.next_poll;
        if Instant::now() + wait >= self.deadline {
            return Err(Error::BudgetExhausted {
                budget: self.budget,
                what: format!("the operation at {} has not finished", self.monitor),
                last: None,
            });
        }
        tokio::time::sleep(wait).await;
        let left = self.deadline.saturating_duration_since(Instant::now());
        let answer = self
            .client
            .get(self.monitor.as_str())
            .header("accept", "application/json")
            .no_cache()
            .time_budget(left)
            .send()
            .await?;
        if answer.status() == StatusCode::SEE_OTHER {
            let result =
                answer.location().ok_or_else(|| Error::NoMonitor { body_start: "303 without Location".into() })?;
            tracing::info!(monitor = %self.monitor, result = %result, "operation finished; following 303");
            let left = self.deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
            let r = self.client.get(result.as_str()).time_budget(left).send().await?;
            self.done = true;
            return Ok(OperationEvent::Done(r));
        }
        if !answer.status().is_success() {
            // Another 3xx: nothing to poll.
            self.done = true;
            return Ok(OperationEvent::Done(answer));
        }
        let body: serde_json::Value = serde_json::from_slice(answer.body()).unwrap_or_default();
        let status =
            body.get("status").and_then(|s| s.as_str()).map_or(OperationStatus::Running, OperationStatus::parse);
        let percent = body
            .get("progress")
            .or_else(|| body.get("percentComplete"))
            .and_then(serde_json::Value::as_f64)
            .map(|p| p.clamp(0.0, 100.0) as u8);
        match status {
            OperationStatus::Failed | OperationStatus::Canceled => {
                self.done = true;
                let problem = body.get("error").and_then(|e| {
                    let status = e.get("status").and_then(serde_json::Value::as_u64).map_or(500, |s| s as u16);
                    Problem::from_json(status, e.to_string().as_bytes()).map(Box::new)
                });
                Err(Error::OperationFailed { monitor: self.monitor.to_string(), problem })
            }
            OperationStatus::Succeeded => {
                self.done = true;
                let target =
                    body.get("resourceLocation").and_then(|v| v.as_str()).and_then(|l| self.monitor.join(l).ok());
                match target {
                    Some(t) => Ok(OperationEvent::Done(self.client.get(t.as_str()).send().await?)),
                    None => Ok(OperationEvent::Done(answer)),
                }
            }
            status => {
                let ra = RetryAfter::from_headers(answer.headers()).map(|r| r.delay(SystemTime::now()));
                self.next_poll = self.client.clamp_poll(ra.or(Some(Duration::from_secs(1))));
                tracing::info!(monitor = %self.monitor, ?status, ?percent, next_poll_ms = self.next_poll.as_millis() as u64, "operation running");
                Ok(OperationEvent::Progress(Progress { status, percent }))
            }
        }
    }
}

impl Client {
    fn clamp_poll(&self, wanted: Option<Duration>) -> Duration {
        let s = &self.inner.settings;
        wanted.unwrap_or(s.poll_min).clamp(s.poll_min, s.poll_max)
    }

    /// Resumes an operation from a token made by [`Operation::token`] (its JSON text).
    ///
    /// # Errors
    /// [`Error::InvalidToken`] when the text is not a token; [`Error::Url`] for a bad monitor.
    pub fn resume(&self, token: &str) -> Result<Operation, Error> {
        let t: OperationToken = serde_json::from_str(token).map_err(Error::InvalidToken)?;
        let monitor = url::Url::parse(&t.monitor).map_err(|source| Error::Url { url: t.monitor.clone(), source })?;
        let left = (UNIX_EPOCH + Duration::from_secs(t.deadline_unix))
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        Ok(Operation {
            client: self.clone(),
            monitor,
            deadline: Instant::now() + left,
            budget: left,
            next_poll: Duration::ZERO,
            done: false,
        })
    }
}
