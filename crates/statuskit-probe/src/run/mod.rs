//! Running the checks: each sends its requests through the [`Client`] and judges the answers.
//!
//! A check that needs an earlier step (the resource the probe creates, an `ETag` to send back, a
//! path that asks for credentials) skips, naming the step, when that step failed; a request
//! answered 401 or 403 makes its check skip, naming the credential or scope it needs.
//!
//! This module holds the run's state and the steps checks share (the resource the probe creates,
//! the live reads, a protected path); the checks themselves are grouped by topic: `methods`
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

mod auth;
mod bodies;
mod conditional;
mod limits;
mod methods;
mod resources;
mod seen;

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

/// A 2xx status.
pub(crate) fn is_success(code: u16) -> bool {
    http::StatusCode::from_u16(code).is_ok_and(|c| c.is_success())
}

/// A 4xx or 5xx status.
fn is_error(code: u16) -> bool {
    http::StatusCode::from_u16(code).is_ok_and(|c| c.is_client_error() || c.is_server_error())
}

fn essence(ex: &Exchange) -> String {
    ex.header(&header::CONTENT_TYPE)
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The media type of the body, in words.
fn body_kind(ex: &Exchange) -> String {
    match essence(ex) {
        k if !k.is_empty() => k,
        _ if ex.body.is_empty() => "empty".into(),
        _ => "untyped".into(),
    }
}

fn has_token_in_list(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token) || t.trim() == "*"))
}

/// A header value in words: `` `value` `` or "none".
fn shown(v: Option<&str>) -> String {
    v.map_or_else(|| "none".to_owned(), |v| format!("`{v}`"))
}

/// `a`, `a and b`, `a, b and c`.
fn listed<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_owned(),
        [init @ .., last] => {
            format!("{} and {}", init.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", "), last.as_ref())
        }
    }
}

/// The path of a logged request line (`GET /x` or `POST /x (raw)`).
fn path_of(request: &str) -> &str {
    let rest = request.split_once(' ').map_or(request, |(_, p)| p);
    rest.strip_suffix(" (raw)").unwrap_or(rest)
}

fn contains_method(list: &[String], m: &str) -> bool {
    list.iter().any(|a| a.eq_ignore_ascii_case(m))
}

/// A resource the probe reads, and changes when the probe created it.
#[derive(Debug, Clone)]
struct Fixture {
    path: String,
    etag: Option<String>,
    /// Its GET content, to tell whether a refused change left it alone.
    body: Vec<u8>,
    /// Where it came from, to make a valid replacement body; `None` for a read.
    collection: Option<Collection>,
}

/// Why a step another check depends on did not give what that check needs (a skip reason).
type Missing = String;

/// The create step's outcome when it gave no resource: the 201 check's own verdict, and the
/// reason the checks that needed the resource give.
struct Blocked {
    verdict: Verdict,
    why: Missing,
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

    /// A skip when `ex` is the API asking for credentials (401) or refusing the token (403),
    /// naming what the request needs: a token, and the scope the challenge or the document names.
    fn credentials(&self, ex: &Exchange) -> Option<Verdict> {
        self.credential_needed(ex).map(|why| skip_seen(ex, why))
    }

    /// What [`Self::credentials`] says, in words.
    fn credential_needed(&self, ex: &Exchange) -> Option<String> {
        let unauthorized = ex.status == status::UNAUTHORIZED.code.as_u16();
        if !unauthorized && ex.status != status::FORBIDDEN.code.as_u16() {
            return None;
        }
        let method = ex.request.split(' ').next().unwrap_or_default();
        let path = path_of(&ex.request);
        let challenged: Vec<String> = ex
            .header(&header::WWW_AUTHENTICATE)
            .and_then(|v| grammar::www_authenticate(v).ok())
            .into_iter()
            .flatten()
            .filter_map(|c| c.param("scope").map(|s| s.split(' ').map(str::to_owned).collect::<Vec<_>>()))
            .flatten()
            .collect();
        let scopes = if challenged.is_empty() {
            self.targets.scopes_for(method, path).map(<[String]>::to_vec).unwrap_or_default()
        } else {
            challenged
        };
        let scope = if scopes.is_empty() { String::new() } else { format!(" with scope {}", scopes.join(" ")) };
        Some(if unauthorized && self.client.has_token() {
            format!("{method} {path} refused the token given with --token (401): it needs a valid bearer token{scope}")
        } else if unauthorized {
            format!("{method} {path} needs credentials (answered 401): give a bearer token{scope} with --token")
        } else if scopes.is_empty() {
            format!("{method} {path} answered 403: the token given is not allowed to; it needs a token that is")
        } else {
            format!("{method} {path} answered 403: it needs a token{scope}")
        })
    }

    /// POSTs a body made from the first collection's schema.
    async fn create(&self) -> Result<Result<(String, Exchange), Blocked>, TransportError> {
        let Some(c) = self.collection() else {
            let why = self.no_collection();
            return Ok(Err(Blocked { verdict: skip(why.clone()), why }));
        };
        let ex = self.client.send(Req::new(Method::POST, &c.path).body(mime::JSON, self.sample_body(c))).await?;
        if let Some(need) = self.credential_needed(&ex) {
            let why = format!("the create step could not run: {need}");
            return Ok(Err(Blocked { verdict: skip_seen(&ex, need), why }));
        }
        if ex.status != status::CREATED.code.as_u16() {
            if is_success(ex.status) {
                let why = format!("the create step POST {} answered {}, not 201 with Location", c.path, ex.status);
                return Ok(Err(Blocked { verdict: skip(why.clone()), why }));
            }
            let why = format!(
                "the create step failed: POST {} answered {} to the body made from its schema",
                c.path, ex.status
            );
            let verdict = fail(
                &ex,
                format!("the body made from the document's schema was refused with {}: {}", ex.status, snippet(&ex)),
            );
            return Ok(Err(Blocked { verdict, why }));
        }
        let Some(location) = ex.header(&header::LOCATION) else {
            let why = format!("the create step POST {} answered 201 without Location", c.path);
            return Ok(Err(Blocked { verdict: fail(&ex, "201 without Location"), why }));
        };
        let path = resolve_location(self.client.base(), &c.path, location);
        Ok(Ok((path, ex)))
    }

    /// The resource the probe created (once per run), read back.
    async fn own(&mut self) -> Result<Result<Fixture, Missing>, TransportError> {
        if let Some(f) = &self.own {
            return Ok(f.clone());
        }
        let found = match self.create().await? {
            Err(blocked) => Err(blocked.why),
            Ok((path, _)) => {
                let got = self.client.send(Req::new(Method::GET, &path)).await?;
                if got.status == status::OK.code.as_u16() {
                    Ok(Fixture {
                        etag: got.header(&header::ETAG).map(str::to_owned),
                        body: got.body,
                        path,
                        collection: self.collection().cloned(),
                    })
                } else {
                    Err(format!("GET {path}, the resource the probe created, answered {}", got.status))
                }
            }
        };
        self.own = Some(found.clone());
        Ok(found)
    }

    /// A resource with an `ETag`: the probe's own, else a read that sends one.
    async fn validated(&mut self) -> Result<Result<Fixture, Missing>, TransportError> {
        if let Some(f) = &self.validated {
            return Ok(f.clone());
        }
        let mut tried = Vec::new();
        let mut own_missing = None;
        let mut found = match self.own().await? {
            Ok(f) if f.etag.is_some() => Some(f),
            Ok(f) => {
                tried.push(format!("GET {}", f.path));
                None
            }
            Err(why) => {
                own_missing = Some(why);
                None
            }
        };
        if found.is_none() {
            for p in self.live().await?.clone() {
                let got = self.client.send(Req::new(Method::GET, &p)).await?;
                if let Some(etag) = got.header(&header::ETAG) {
                    found = Some(Fixture { path: p, etag: Some(etag.to_owned()), body: got.body, collection: None });
                    break;
                }
                tried.push(format!("GET {p}"));
            }
        }
        let result = found.ok_or_else(|| {
            let mut why = "no answer carried an ETag to send back".to_owned();
            if !tried.is_empty() {
                why.push_str(&format!(": {} sent none", listed(&tried)));
            }
            if let Some(own) = own_missing {
                why.push_str(&format!("; and {own}"));
            }
            why
        });
        self.validated = Some(result.clone());
        Ok(result)
    }

    /// The reads whose GET answers 2xx (paths that are alive, not moved or retired).
    async fn live(&mut self) -> Result<&Vec<String>, TransportError> {
        if self.live.is_none() {
            let mut live = Vec::new();
            for p in &self.targets.reads {
                let ex = self.client.send(Req::new(Method::GET, p)).await?;
                if is_success(ex.status) {
                    let kind = essence(&ex);
                    if kind == mime::JSON || kind.ends_with("+json") {
                        self.json_reads.push(p.clone());
                    }
                    live.push(p.clone());
                } else {
                    if ex.status == status::UNAUTHORIZED.code.as_u16() && self.protected.is_none() {
                        self.protected = Some(Some(p.clone()));
                    }
                    if self.read_refused.is_none() {
                        self.read_refused = self.credential_needed(&ex);
                    }
                }
            }
            self.live = Some(live);
        }
        Ok(self.live.as_ref().expect("set above"))
    }

    /// A path to read: the probe's own resource, else the first live read.
    async fn readable(&mut self) -> Result<Option<String>, TransportError> {
        if let Ok(f) = self.own().await? {
            return Ok(Some(f.path));
        }
        Ok(self.live().await?.first().cloned())
    }

    /// A path whose representation the API chooses by `Accept`, for the 406 and Vary checks:
    /// the probe's own resource, else a read that answered JSON (an API resource rather than a
    /// page for browsers), else any live read.
    async fn negotiable(&mut self) -> Result<Option<String>, TransportError> {
        if let Ok(f) = self.own().await? {
            return Ok(Some(f.path));
        }
        let first = self.live().await?.first().cloned();
        Ok(self.json_reads.first().cloned().or(first))
    }

    /// Why [`Self::readable`] found nothing.
    fn nothing_readable(&self) -> String {
        if self.targets.reads.is_empty() {
            "no path to read: give --openapi or --path".into()
        } else if let Some(why) = &self.read_refused {
            format!("no path answered GET with 2xx: {why}")
        } else {
            format!("no path answered GET with 2xx (tried {})", listed(&self.targets.reads))
        }
    }

    /// Every concrete path known to be alive: live reads, collections, the probe's own resource.
    async fn paths(&mut self) -> Result<Vec<String>, TransportError> {
        let mut out = self.live().await?.clone();
        for c in &self.targets.collections {
            if !out.contains(&c.path) {
                out.push(c.path.clone());
            }
        }
        if let Ok(f) = self.own().await? {
            if !out.contains(&f.path) {
                out.push(f.path);
            }
        }
        Ok(out)
    }

    /// A path that asks for credentials: answers 401 without them.
    async fn protected(&mut self) -> Result<Option<String>, TransportError> {
        self.live().await?;
        if let Some(p) = &self.protected {
            return Ok(p.clone());
        }
        let mut candidates: Vec<String> = self.readable().await?.into_iter().collect();
        candidates.extend(self.targets.collections.iter().map(|c| c.path.clone()));
        candidates.extend(self.live().await?.iter().cloned());
        let mut found = None;
        for p in candidates {
            let ex = self.client.send(Req::new(Method::GET, &p).anonymous()).await?;
            if ex.status == status::UNAUTHORIZED.code.as_u16() {
                found = Some(p);
                break;
            }
        }
        self.protected = Some(found.clone());
        Ok(found)
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

/// `Ok` if `ex` carries a problem body whose `status` is the HTTP status. The body is read by
/// `statuskit-client`'s problem parser (JSON, and XML in RFC 9457 Appendix B's namespace), the
/// one parser for problems in this workspace.
fn is_problem(ex: &Exchange) -> Result<(), String> {
    let kind = essence(ex);
    let (json, xml) = (kind == mime::PROBLEM_JSON, kind == mime::PROBLEM_XML);
    if !json && !xml {
        return Err(format!("the body is {}, not a problem", body_kind(ex)));
    }
    let Some(problem) = statuskit_client::Problem::from_response(ex.status, &ex.headers, &ex.body) else {
        return Err(if json {
            "problem+json whose body is not a JSON object".into()
        } else {
            "problem+xml whose body is not a <problem> in the urn:ietf:rfc:7807 namespace".into()
        });
    };
    match problem.body_status {
        Some(s) if s == ex.status => Ok(()),
        Some(s) => Err(format!("the problem's status {s} differs from the HTTP status")),
        None if json => Err("problem+json without a numeric `status`".into()),
        None => Err("problem+xml without a numeric <status>".into()),
    }
}

fn snippet(ex: &Exchange) -> String {
    String::from_utf8_lossy(&ex.body).chars().take(160).collect()
}

/// The path a `Location` names: resolved against the collection `from`, and cut to its path when
/// it is an absolute URL on the API itself (`base`).
fn resolve_location(base: &str, from: &str, location: &str) -> String {
    if let Some(path) = location.strip_prefix(base).filter(|p| p.starts_with('/')) {
        return path.to_owned();
    }
    if location.starts_with('/') || location.starts_with("http://") || location.starts_with("https://") {
        location.to_owned()
    } else {
        format!("{}/{location}", from.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_recognised() {
        let mut h = http::HeaderMap::new();
        h.insert(header::CONTENT_TYPE, mime::PROBLEM_JSON.parse().unwrap());
        let ex =
            Exchange { request: "GET /".into(), status: 404, headers: h.clone(), body: br#"{"status":404}"#.to_vec() };
        assert!(is_problem(&ex).is_ok());
        let ex = Exchange { status: 400, ..ex };
        assert!(is_problem(&ex).is_err());
        h.insert(header::CONTENT_TYPE, "text/html".parse().unwrap());
        let ex = Exchange { request: "GET /".into(), status: 404, headers: h, body: b"<p>".to_vec() };
        assert_eq!(is_problem(&ex).unwrap_err(), "the body is text/html, not a problem");
        let empty = Exchange { request: "GET /".into(), status: 405, headers: http::HeaderMap::new(), body: vec![] };
        assert_eq!(is_problem(&empty).unwrap_err(), "the body is empty, not a problem");
        let mut xml = http::HeaderMap::new();
        xml.insert(header::CONTENT_TYPE, mime::PROBLEM_XML.parse().unwrap());
        let body = br#"<problem xmlns="urn:ietf:rfc:7807"><title>Gone</title><status>410</status></problem>"#;
        let ex = Exchange { request: "GET /".into(), status: 410, headers: xml.clone(), body: body.to_vec() };
        assert!(is_problem(&ex).is_ok());
        assert!(is_problem(&Exchange { status: 404, ..ex }).unwrap_err().contains("differs"));
        // The text alone does not make a problem: the root must be <problem> in RFC 9457's namespace.
        let body = br#"<error><status>410</status></error>"#;
        let ex = Exchange { request: "GET /".into(), status: 410, headers: xml, body: body.to_vec() };
        assert!(is_problem(&ex).unwrap_err().contains("namespace"));
    }

    #[test]
    fn locations_and_words() {
        assert_eq!(resolve_location("http://h", "/v1/c", "/v1/c/1"), "/v1/c/1");
        assert_eq!(resolve_location("http://h", "/v1/c", "1"), "/v1/c/1");
        assert_eq!(resolve_location("http://h:1", "/c/", "http://h:1/c/2/"), "/c/2/");
        assert_eq!(resolve_location("http://h:1", "/c/", "https://other/c/2"), "https://other/c/2");
        assert_eq!(listed(&["PUT", "PATCH", "DELETE"]), "PUT, PATCH and DELETE");
        assert_eq!(listed(&["PUT"]), "PUT");
        assert_eq!(shown(None), "none");
        assert_eq!(shown(Some("\"a\"")), "`\"a\"`");
        assert_eq!(path_of("POST /x (raw)"), "/x");
        assert_eq!(path_of("GET /x/1"), "/x/1");
    }
}
