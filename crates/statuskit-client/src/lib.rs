//! A Rust client that keeps the status contract (`shared/CONTRACT.md`) from the caller's side.
//!
//! - **Retries that keep the contract**: 429 and 503 wait `Retry-After` (seconds or HTTP-date)
//!   up to a maximum wait; a longer wait, or one past the call's time budget, fails at once with
//!   [`Error::RetryAfterTooLong`] saying until when. 502, 504 and connection failures back off
//!   with jitter ([`retry::Backoff`]), within a per-host retry budget ([`retry::RetryBudget`]).
//! - **Safe writes**: POST and PATCH carry an `Idempotency-Key` made once per logical call and
//!   sent on every attempt; 409 "still in flight" is waited out; 422 "key reused" is
//!   [`Error::IdempotencyKeyReused`].
//! - **Work that takes time**: a 202 becomes an [`Operation`]: awaited, streamed as progress,
//!   saved as an [`OperationToken`] and resumed.
//! - **Conditional requests**: a private ETag cache for GET; [`Client::update`] with `If-Match`
//!   and a bounded 412 loop; [`RequestBuilder::create_only`] (`If-None-Match: *`).
//! - **Typed errors**: problem bodies in JSON and XML ([`Problem`]), OAuth2 errors
//!   ([`OAuthError`]), challenges ([`challenge::Challenge`]), bodies that are not problems
//!   ([`StatusError`]).
//! - **Tokens**: password, client-credentials and refresh grants, refreshed before expiry, one
//!   refresh at a time; 401 `invalid_token` refreshes once and retries once; 403
//!   `insufficient_scope` is [`Error::InsufficientScope`], naming the scope.
//! - **Pacing**: `RateLimit` / `RateLimit-Policy` spread requests over what the quota allows.
//!
//! Every behaviour is on by default and configurable on the [`ClientBuilder`]. Retries and
//! progress are logged through `tracing` (`debug` for each attempt, `info` for each wait).
//!
//! ```no_run
//! # async fn demo() -> Result<(), statuskit_client::Error> {
//! use statuskit_client::Client;
//!
//! let client = Client::builder("http://127.0.0.1:8080")
//!     .password("cli", "cli-secret", "admin", "change-me")
//!     .build()?;
//! let created = client
//!     .post("/v1/customers")
//!     .json(&serde_json::json!({"name": "Ada", "email": "ada@example.com"}))
//!     .send()
//!     .await?;
//! let path = created.location().expect("201 has a Location").path().to_owned();
//! client.update(&path, |mut c: serde_json::Value| { c["name"] = "Ada King".into(); c }).await?;
//! # Ok(()) }
//! ```
//!
//! Plain HTTP needs no feature; HTTPS needs the `rustls` feature.

pub mod challenge;
mod client;
mod conditional;
pub mod error;
pub mod headers;
pub mod operation;
mod pacing;
pub mod problem;
mod request;
mod response;
pub mod retry;
mod token;

pub use client::{Client, ClientBuilder};
pub use error::{Error, OAuthError, OAuthErrorCode, StatusError, WaitLimit};
pub use operation::{Operation, OperationEvent, OperationStatus, OperationToken, Progress};
pub use problem::{Problem, ProblemFormat};
pub use request::{RequestBuilder, IDEMPOTENCY_KEY};
pub use response::Response;
pub use token::Credentials;
