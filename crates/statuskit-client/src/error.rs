//! What can go wrong, as types: every problem body, OAuth2 error, challenge, wait that is too long
//! and budget that ran out is its own variant, keeping its source.
//!
//! ```
//! use statuskit_client::{Error, Response};
//!
//! let r = Response::from_parts(
//!     http::StatusCode::NOT_FOUND,
//!     [(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/problem+json"))].into_iter().collect(),
//!     br#"{"type":"/docs/errors#not_found","title":"Not Found","status":404,"detail":"no customer has id 7"}"#.to_vec(),
//! );
//! let e = Error::from_response(r);
//! assert_eq!(e.status(), Some(404));
//! assert_eq!(e.problem().unwrap().detail.as_deref(), Some("no customer has id 7"));
//! assert_eq!(e.to_string(), "404 Not Found: no customer has id 7");
//! ```

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::challenge::Challenge;
use crate::headers::RetryAfter;
use crate::problem::Problem;
use crate::response::Response;

/// How much of a body that is not a problem an error keeps.
const BODY_START: usize = 200;

/// An error of the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with a problem body (JSON or XML).
    #[error("{0}")]
    Problem(Box<Problem>),
    /// The API answered 4xx or 5xx with a body that is not a problem.
    #[error("{0}")]
    Status(Box<StatusError>),
    /// The token endpoint refused (RFC 6749 §5.2).
    #[error("{0}")]
    OAuth(Box<OAuthError>),
    /// 401: the credentials were refused (after one refresh, when the token was `invalid_token`).
    #[error("401 Unauthorized{}", describe(challenge.as_ref(), problem.as_deref()))]
    Unauthorized {
        /// The Bearer challenge (or the first one), if the response had one.
        challenge: Option<Challenge>,
        /// The problem body, if any.
        problem: Option<Box<Problem>>,
    },
    /// 403 `insufficient_scope`: the token lacks a scope; not retried.
    #[error("403 Forbidden: the token lacks the scope {}", scope.as_deref().unwrap_or("(the server did not name it)"))]
    InsufficientScope {
        /// The scope the resource needs, as the challenge names it.
        scope: Option<String>,
        /// The challenge.
        challenge: Challenge,
        /// The problem body, if any.
        problem: Option<Box<Problem>>,
    },
    /// 429 or 503 asked to wait longer than the client may: past its maximum wait, or past what
    /// is left of the call's time budget. Returned at once, without waiting.
    #[error("{status} asks to retry at {} ({} s from now), past {limit}", httpdate::fmt_http_date(*until), wait.as_secs())]
    RetryAfterTooLong {
        /// 429 or 503.
        status: u16,
        /// When the server said to retry.
        until: SystemTime,
        /// How long that is from when it answered.
        wait: Duration,
        /// What the wait is longer than.
        limit: WaitLimit,
        /// The problem body of the answer, if any.
        problem: Option<Box<Problem>>,
    },
    /// The call's time budget ran out before it could finish.
    #[error("the time budget of {} ms ran out: {what}", budget.as_millis())]
    BudgetExhausted {
        /// The budget.
        budget: Duration,
        /// What was still going on.
        what: String,
        /// The last failure, if the time went on retries.
        #[source]
        last: Option<Box<Error>>,
    },
    /// The per-host retry budget is spent: too many retries lately, so this one is not made.
    #[error("the retry budget for {host} is spent; last answer: {last}")]
    RetryBudgetExhausted {
        /// `host:port`.
        host: String,
        /// The failure that would have been retried.
        #[source]
        last: Box<Error>,
    },
    /// 422: the `Idempotency-Key` was already used with another request. Final: a new logical
    /// call needs a new key.
    #[error("the Idempotency-Key {key} was already used with a different request: {problem}")]
    IdempotencyKeyReused {
        /// The key.
        key: String,
        /// The 422 problem.
        problem: Box<Problem>,
    },
    /// `update` met 412 on every attempt.
    #[error("412 Precondition Failed on all {attempts} attempts to update {url}")]
    UpdateConflict {
        /// The resource.
        url: String,
        /// Attempts made.
        attempts: u32,
    },
    /// A resource to update answered without an `ETag`, so it cannot be updated safely.
    #[error("{url} has no ETag to send in If-Match")]
    NoETag {
        /// The resource.
        url: String,
    },
    /// A create-only PUT (`If-None-Match: *`) found the resource already there (412).
    #[error("{url} already exists")]
    AlreadyExists {
        /// The resource.
        url: String,
    },
    /// A background operation ended in failure.
    #[error("the operation at {monitor} failed{}", problem.as_ref().map(|p| format!(": {p}")).unwrap_or_default())]
    OperationFailed {
        /// Its status monitor.
        monitor: String,
        /// The problem its monitor reported, if any.
        problem: Option<Box<Problem>>,
    },
    /// A 202 Accepted without a `Location` (or `Operation-Location`) to poll.
    #[error("202 Accepted without a Location to poll; body starts: {body_start:?}")]
    NoMonitor {
        /// The start of the 202's body.
        body_start: String,
    },
    /// The request could not be sent or its answer not read.
    #[error("could not reach {url}: {source}")]
    Transport {
        /// The URL.
        url: String,
        /// What reqwest said.
        #[source]
        source: reqwest::Error,
    },
    /// A body was not the JSON the caller expected.
    #[error("the body is not the JSON expected ({source}); it starts: {body_start:?}")]
    Decode {
        /// What serde said.
        #[source]
        source: serde_json::Error,
        /// The start of the body.
        body_start: String,
    },
    /// A URL that cannot be parsed or joined to the base.
    #[error("invalid URL {url:?}: {source}")]
    Url {
        /// The text given.
        url: String,
        /// Why.
        #[source]
        source: url::ParseError,
    },
    /// A header name or value the caller gave is invalid.
    #[error("invalid header {name:?}")]
    InvalidHeader {
        /// The header (name, or `name: value`).
        name: String,
    },
    /// The client was configured inconsistently (for example credentials with no token URL).
    #[error("{0}")]
    Config(String),
    /// A resumption token that cannot be read.
    #[error("invalid operation token: {0}")]
    InvalidToken(#[source] serde_json::Error),
}

/// What a `Retry-After` was longer than.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitLimit {
    /// The client's maximum wait.
    MaxWait(Duration),
    /// What was left of the call's time budget.
    Budget(Duration),
}

impl fmt::Display for WaitLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitLimit::MaxWait(d) => write!(f, "the maximum wait of {} s", d.as_secs_f64()),
            WaitLimit::Budget(d) => write!(f, "the {:.1} s left of the time budget", d.as_secs_f64()),
        }
    }
}

fn describe(challenge: Option<&Challenge>, problem: Option<&Problem>) -> String {
    match (problem.and_then(|p| p.detail.as_deref()), challenge) {
        (Some(d), _) => format!(": {d}"),
        (None, Some(c)) => format!(": {c}"),
        (None, None) => String::new(),
    }
}

/// A 4xx or 5xx whose body is not a problem.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StatusError {
    /// The status.
    pub status: u16,
    /// Its `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The first 200 characters of the body (lossy UTF-8).
    pub body_start: String,
    /// `X-Request-Id`, if any.
    pub request_id: Option<String>,
    /// `Retry-After`, if valid.
    pub retry_after: Option<RetryAfter>,
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = http::StatusCode::from_u16(self.status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
        write!(
            f,
            "{} {reason} ({}, not a problem body)",
            self.status,
            self.content_type.as_deref().unwrap_or("no Content-Type")
        )?;
        if !self.body_start.is_empty() {
            write!(f, ": {:?}", self.body_start)?;
        }
        Ok(())
    }
}

/// An OAuth2 error code (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// `invalid_request`.
    InvalidRequest,
    /// `invalid_client`.
    InvalidClient,
    /// `invalid_grant` (wrong password, expired or reused refresh token).
    InvalidGrant,
    /// `unauthorized_client`.
    UnauthorizedClient,
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `invalid_scope`.
    InvalidScope,
    /// Any other code.
    Other(String),
}

impl OAuthErrorCode {
    fn parse(s: &str) -> Self {
        match s {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The code as sent.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::Other(s) => s,
        }
    }
}

/// The token endpoint's refusal.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OAuthError {
    /// The HTTP status (400, or 401 for `invalid_client`).
    pub status: u16,
    /// `error`.
    pub error: OAuthErrorCode,
    /// `error_description`.
    pub description: Option<String>,
    /// `error_uri`.
    pub uri: Option<String>,
    /// The `WWW-Authenticate` challenge of a 401.
    pub challenge: Option<Challenge>,
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the token endpoint refused ({} {})", self.status, self.error.as_str())?;
        if let Some(d) = &self.description {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl OAuthError {
    /// Reads an RFC 6749 §5.2 body; `None` if it has no `error` string.
    pub fn from_response(response: &Response) -> Option<OAuthError> {
        let v: serde_json::Value = serde_json::from_slice(response.body()).ok()?;
        let code = v.get("error")?.as_str()?;
        let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        Some(OAuthError {
            status: response.status().as_u16(),
            error: OAuthErrorCode::parse(code),
            description: text("error_description"),
            uri: text("error_uri"),
            challenge: Challenge::from_headers(response.headers()).into_iter().next(),
        })
    }
}

pub(crate) fn body_start(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(BODY_START * 4)]);
    text.chars().take(BODY_START).collect()
}

impl Error {
    /// The error a final 4xx or 5xx answer stands for: a challenge (401, 403
    /// `insufficient_scope`), a problem body, or the status and the start of a body that is not one.
    pub fn from_response(response: Response) -> Error {
        let status = response.status().as_u16();
        let problem = Problem::from_response(status, response.headers(), response.body()).map(Box::new);
        let challenges = Challenge::from_headers(response.headers());
        let bearer = challenges.iter().find(|c| c.scheme().eq_ignore_ascii_case("bearer")).cloned();
        if status == 401 {
            return Error::Unauthorized { challenge: bearer.or_else(|| challenges.into_iter().next()), problem };
        }
        if status == 403 {
            if let Some(c) = bearer.filter(|c| c.error() == Some("insufficient_scope")) {
                return Error::InsufficientScope { scope: c.scope().map(str::to_owned), challenge: c, problem };
            }
        }
        match problem {
            Some(p) => Error::Problem(p),
            None => Error::Status(Box::new(StatusError {
                status,
                content_type: response
                    .headers()
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                body_start: body_start(response.body()),
                request_id: response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned),
                retry_after: RetryAfter::from_headers(response.headers()),
            })),
        }
    }

    /// The HTTP status this error came with, if it came from an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Problem(p) => Some(p.status),
            Error::Status(s) => Some(s.status),
            Error::OAuth(o) => Some(o.status),
            Error::Unauthorized { .. } => Some(401),
            Error::InsufficientScope { .. } => Some(403),
            Error::RetryAfterTooLong { status, .. } => Some(*status),
            Error::IdempotencyKeyReused { .. } => Some(422),
            Error::UpdateConflict { .. } | Error::AlreadyExists { .. } => Some(412),
            Error::NoMonitor { .. } => Some(202),
            Error::RetryBudgetExhausted { last, .. } => last.status(),
            Error::BudgetExhausted { last: Some(last), .. } => last.status(),
            _ => None,
        }
    }

    /// The problem body this error carries, if any.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::Problem(p) | Error::IdempotencyKeyReused { problem: p, .. } => Some(p),
            Error::Unauthorized { problem, .. }
            | Error::InsufficientScope { problem, .. }
            | Error::RetryAfterTooLong { problem, .. }
            | Error::OperationFailed { problem, .. } => problem.as_deref(),
            Error::RetryBudgetExhausted { last, .. } => last.problem(),
            Error::BudgetExhausted { last: Some(last), .. } => last.problem(),
            _ => None,
        }
    }

    /// The request id the server gave the failing answer, if known.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Status(s) => s.request_id.as_deref(),
            _ => self.problem().and_then(|p| p.request_id.as_deref()),
        }
    }
}
