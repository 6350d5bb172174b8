//! Running the checks: each sends its requests through the [`Client`] and judges the answers.
//!
//! A check that needs an earlier step (the resource the probe creates, an `ETag` to send back, a
//! path that asks for credentials) skips, naming the step, when that step failed; a request
//! answered 401 or 403 makes its check skip, naming the credential or scope it needs.
//!
//! This module holds the run's state, the verdicts and the dispatch from a check to its code;
//! `steps` the steps checks share (the resource the probe creates, the live reads, a protected
//! path); `answers` how answers are read and put in words. The checks themselves are grouped by
//! topic: `methods`
//! (HEAD, OPTIONS, Allow, 405), `bodies` (404, 406, Vary, 415, 400, 422), `resources` (201,
//! 204-404, ETag), `conditional` (304, 200-inm, 412), `auth` (401), `limits` (411, 429) and
//! `seen` (problem bodies and header grammar over every answer).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use http::Method;
use serde_json::Value;
use statuskit::header::{self, mime};
use statuskit::status;

use crate::check::{CheckId, Finding, Outcome};
use crate::client::{Client, Exchange, Req, TransportError};
use crate::target::{Collection, Targets};
use crate::{grammar, Config, Error};

mod answers;
mod auth;
mod bodies;
mod conditional;
mod limits;
mod methods;
mod resources;
mod seen;
mod steps;

pub(crate) use answers::is_success;
use answers::*;
use steps::{Fixture, Missing};

/// What one check decided, before it is joined with the check's data.
struct Verdict {
    outcome: Outcome,
    reached: Option<u16>,
    request: Option<String>,
}

fn pass(ex: &Exchange) -> Verdict {
    Verdict { outcome: Outcome::Pass, reached: Some(ex.status), request: Some(ex.request.clone()) }
}

fn fail(ex: &Exchange, why: impl Into<String>) -> Verdict {
    Verdict { outcome: Outcome::Fail(why.into()), reached: Some(ex.status), request: Some(ex.request.clone()) }
}

fn skip(why: impl Into<String>) -> Verdict {
    Verdict { outcome: Outcome::Skip(why.into()), reached: None, request: None }
}

/// A skip decided by an answer (a 401, a 403): the request is reported with it.
fn skip_seen(ex: &Exchange, why: impl Into<String>) -> Verdict {
    Verdict { outcome: Outcome::Skip(why.into()), reached: Some(ex.status), request: Some(ex.request.clone()) }
}

fn judged(ok: bool, ex: &Exchange, why: impl FnOnce() -> String) -> Verdict {
    if ok {
        pass(ex)
    } else {
        fail(ex, why())
    }
}

/// Shared state of one run.
pub(crate) struct Run<'a> {
    client: &'a Client,
    targets: &'a Targets,
    config: &'a Config,
    counter: AtomicU64,
    own: Option<Result<Fixture, Missing>>,
    validated: Option<Result<Fixture, Missing>>,
    live: Option<Vec<String>>,
    /// The live reads whose GET answered JSON (`application/json` or `…+json`).
    json_reads: Vec<String>,
    /// What the first read answered 401 or 403 needs (a token, a scope), in words.
    read_refused: Option<String>,
    protected: Option<Option<String>>,
    created: Option<String>,
}

type Checked = Result<Verdict, TransportError>;

impl<'a> Run<'a> {
    pub(crate) fn new(client: &'a Client, targets: &'a Targets, config: &'a Config) -> Self {
        let seed = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
        Run {
            client,
            targets,
            config,
            counter: AtomicU64::new(seed % 1_000_000_000_000),
            own: None,
            validated: None,
            live: None,
            json_reads: Vec::new(),
            read_refused: None,
            protected: None,
            created: None,
        }
    }

    fn next_n(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    fn collection(&self) -> Option<&'a Collection> {
        self.targets.collections.first()
    }

    /// Why there is no collection to POST to.
    fn no_collection(&self) -> String {
        if self.targets.documented {
            "the OpenAPI document lists no collection that takes a JSON body by POST".into()
        } else {
            "no OpenAPI document was given (--openapi), so the probe knows no collection to POST to".into()
        }
    }

    fn sample_body(&self, c: &Collection) -> Vec<u8> {
        c.body(self.next_n()).to_string().into_bytes()
    }

    /// Runs one check. A transport error fails the check when the API still answers, and
    /// stops the run (an [`Error`]) when it does not.
    pub(crate) async fn check(&mut self, id: CheckId) -> Result<Finding, Error> {
        let verdict = match self.verdict(id).await {
            Ok(v) => v,
            Err(e) => {
                if let Err(gone) = self.client.reach().await {
                    return Err(Error(format!(
                        "the API stopped answering during the `{}` check: {gone}",
                        id.check().id
                    )));
                }
                Verdict { outcome: Outcome::Fail(format!("no answer: {e}")), reached: None, request: None }
            }
        };
        Ok(Finding { check: id.check(), outcome: verdict.outcome, reached: verdict.reached, request: verdict.request })
    }

    async fn verdict(&mut self, id: CheckId) -> Checked {
        match id {
            CheckId::HeadParity => self.head_parity().await,
            CheckId::HeadFields => self.head_fields().await,
            CheckId::OptionsAllow => self.options().await,
            CheckId::AllowDocumented => Ok(self.allow_documented()),
            CheckId::MethodNotAllowed => self.method_not_allowed().await,
            CheckId::NotFound => self.not_found().await,
            CheckId::NotAcceptable => self.not_acceptable().await,
            CheckId::VaryAccept => self.vary().await,
            CheckId::UnsupportedMediaType => self.unsupported_media_type().await,
            CheckId::BadJson => self.bad_json().await,
            CheckId::Validation => self.validation().await,
            CheckId::Created => self.created().await,
            CheckId::DeleteThenGone => self.delete_then_gone().await,
            CheckId::EtagPresent => self.etag_present().await,
            CheckId::NotModifiedStrong => self.not_modified(Tag::Strong).await,
            CheckId::NotModifiedWeak => self.not_modified(Tag::Weak).await,
            CheckId::NotModifiedStar => self.not_modified(Tag::Star).await,
            CheckId::NoneMatchOther => self.none_match_other().await,
            CheckId::StaleIfMatch => self.if_match(false).await,
            CheckId::WeakIfMatch => self.if_match(true).await,
            CheckId::Unauthorized => self.unauthorized().await,
            CheckId::BearerChallenge => self.bearer().await,
            CheckId::InvalidToken => self.invalid_token().await,
            CheckId::LengthRequired => self.length_required().await,
            CheckId::TooManyRequests => self.too_many_requests().await,
            CheckId::ProblemBodies => Ok(self.problem_bodies()),
            CheckId::EtagGrammar => Ok(self.grammar(&header::ETAG, "ETag", |v| grammar::etag(v.as_bytes()))),
            CheckId::AllowGrammar => Ok(self.grammar(&header::ALLOW, "Allow", |v| grammar::allow(v).map(|_| ()))),
            CheckId::RetryAfterGrammar => {
                Ok(self
                    .grammar(&header::RETRY_AFTER, "Retry-After", |v| grammar::retry_after(v.as_bytes()).map(|_| ())))
            }
            CheckId::WwwAuthenticateGrammar => Ok(self
                .grammar(&header::WWW_AUTHENTICATE, "WWW-Authenticate", |v| grammar::www_authenticate(v).map(|_| ()))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Strong,
    Weak,
    Star,
}
