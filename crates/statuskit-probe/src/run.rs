//! Running the checks: each sends its requests through the [`Client`] and judges the answers.
//!
//! A check that needs an earlier step (the resource the probe creates, an `ETag` to send back, a
//! path that asks for credentials) skips, naming the step, when that step failed; a request
//! answered 401 or 403 makes its check skip, naming the credential or scope it needs.

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
                } else if ex.status == status::UNAUTHORIZED.code.as_u16() && self.protected.is_none() {
                    self.protected = Some(Some(p.clone()));
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
            CheckId::EtagGrammar => Ok(self.grammar(&header::ETAG, |v| grammar::etag(v.as_bytes()))),
            CheckId::AllowGrammar => Ok(self.grammar(&header::ALLOW, |v| grammar::allow(v).map(|_| ()))),
            CheckId::RetryAfterGrammar => {
                Ok(self.grammar(&header::RETRY_AFTER, |v| grammar::retry_after(v.as_bytes()).map(|_| ())))
            }
            CheckId::WwwAuthenticateGrammar => {
                Ok(self.grammar(&header::WWW_AUTHENTICATE, |v| grammar::www_authenticate(v).map(|_| ())))
            }
        }
    }

    /// GET then HEAD of a readable path, both 2xx, or the reason to skip.
    async fn get_and_head(&mut self) -> Result<Result<(Exchange, Exchange), Verdict>, TransportError> {
        let Some(path) = self.readable().await? else { return Ok(Err(skip(self.nothing_readable()))) };
        let get = self.client.send(Req::new(Method::GET, &path)).await?;
        if !is_success(get.status) {
            return Ok(Err(skip(format!("GET {path} answered {} this time", get.status))));
        }
        let head = self.client.send(Req::new(Method::HEAD, &path)).await?;
        Ok(Ok((get, head)))
    }

    async fn head_parity(&mut self) -> Checked {
        let (get, head) = match self.get_and_head().await? {
            Ok(x) => x,
            Err(v) => return Ok(v),
        };
        let mut wrong = Vec::new();
        if head.status != get.status {
            wrong.push(format!("HEAD answered {}, GET {}", head.status, get.status));
        }
        if !head.body.is_empty() {
            wrong.push(format!("HEAD sent {} bytes of content", head.body.len()));
        }
        if let Some(len) = head.header(&header::CONTENT_LENGTH).filter(|_| head.status == get.status) {
            if len != get.body.len().to_string() {
                wrong.push(format!("HEAD's Content-Length is {len}, GET's content {} bytes", get.body.len()));
            }
        }
        Ok(judged(wrong.is_empty(), &head, || wrong.join("; ")))
    }

    async fn head_fields(&mut self) -> Checked {
        let (get, head) = match self.get_and_head().await? {
            Ok(x) => x,
            Err(v) => return Ok(v),
        };
        if head.status != get.status {
            return Ok(skip(format!(
                "HEAD {} answered {}, GET {}: not the same answer to compare (see the head check)",
                path_of(&head.request),
                head.status,
                get.status
            )));
        }
        // Fields a server may compute only while generating the content (RFC 9110 §9.3.2 lets HEAD
        // leave them out), and those about the connection or the moment rather than the resource.
        let exempt = [
            header::CONTENT_LENGTH,
            header::TRANSFER_ENCODING,
            header::CONTENT_ENCODING,
            header::ETAG,
            header::LAST_MODIFIED,
            header::CONNECTION,
            http::header::DATE,
            http::header::TRAILER,
        ];
        let mut missing: Vec<String> = get
            .headers
            .keys()
            .filter(|k| !exempt.contains(k) && !head.headers.contains_key(*k))
            .map(|k| k.as_str().to_owned())
            .collect();
        missing.dedup();
        Ok(judged(missing.is_empty(), &head, || {
            format!("HEAD {} leaves out {}, which GET sends", path_of(&head.request), listed(&missing))
        }))
    }

    async fn options(&mut self) -> Checked {
        let paths = self.paths().await?;
        if paths.is_empty() {
            return Ok(skip(self.nothing_readable()));
        }
        let mut last = None;
        let mut wrong = Vec::new();
        for p in &paths {
            let ex = self.client.send(Req::new(Method::OPTIONS, p)).await?;
            match ex.header(&header::ALLOW).map(grammar::allow) {
                _ if !is_success(ex.status) => wrong.push(format!("OPTIONS {p} answered {}", ex.status)),
                None => wrong.push(format!("OPTIONS {p} sent no Allow")),
                Some(Err(e)) => wrong.push(e),
                Some(Ok(_)) => {}
            }
            last = Some(ex);
        }
        let last = last.expect("at least one path");
        Ok(judged(wrong.is_empty(), &last, || wrong.join("; ")))
    }

    /// Documented methods an `Allow` leaves out, if the document lists the path.
    fn undocumented_gap(&self, path: &str, allowed: &[String]) -> Option<Vec<String>> {
        let documented = self.targets.methods_for(path)?;
        let missing: Vec<String> = documented.iter().filter(|m| !contains_method(allowed, m)).cloned().collect();
        Some(missing)
    }

    fn allow_documented(&self) -> Verdict {
        if !self.targets.documented {
            return skip("no OpenAPI document was given (--openapi) to compare Allow with");
        }
        let mut seen = BTreeSet::new();
        let mut compared = 0;
        let mut wrong = Vec::new();
        let mut first_wrong = None;
        for e in self.client.exchanges() {
            let on_options = e.request.starts_with("OPTIONS ") && is_success(e.status);
            if !(on_options || e.status == status::METHOD_NOT_ALLOWED.code.as_u16()) {
                continue;
            }
            let Some(Ok(allowed)) = e.header(&header::ALLOW).map(grammar::allow) else { continue };
            let path = path_of(&e.request).to_owned();
            if !seen.insert((path.clone(), e.status)) {
                continue;
            }
            let Some(missing) = self.undocumented_gap(&path, &allowed) else { continue };
            compared += 1;
            if !missing.is_empty() {
                let template = self.targets.template_of(&path).unwrap_or(&path);
                wrong.push(format!(
                    "{} → {}: Allow `{}` leaves out {}, which the document lists for {template}",
                    e.request,
                    e.status,
                    allowed.join(", "),
                    listed(&missing)
                ));
                first_wrong.get_or_insert(e);
            }
        }
        match first_wrong {
            Some(e) => fail(&e, wrong.join("; ")),
            None if compared == 0 => skip("no Allow was received on a path the document lists"),
            None => Verdict {
                outcome: Outcome::Pass,
                reached: None,
                request: Some(format!("{compared} Allow fields compared")),
            },
        }
    }

    async fn method_not_allowed(&mut self) -> Checked {
        // One request per path; every path's fault is reported, the first one's request shown.
        let mut first_fault: Option<Exchange> = None;
        let mut faults = Vec::new();
        let mut tried: Option<Verdict> = None;
        for p in self.paths().await? {
            let documented = self.targets.methods_for(&p).map(<[String]>::to_vec);
            let options = self.client.send(Req::new(Method::OPTIONS, &p)).await?;
            let allowed = match options.header(&header::ALLOW).map(grammar::allow) {
                Some(Ok(a)) if is_success(options.status) => Some(a),
                _ => None,
            };
            if documented.is_none() && allowed.is_none() {
                continue;
            }
            let known: Vec<String> = documented.iter().chain(allowed.iter()).flatten().cloned().collect();
            let candidates = [Method::DELETE, Method::PUT, Method::PATCH, Method::POST];
            let Some(m) = candidates.into_iter().find(|m| !contains_method(&known, m.as_str())) else { continue };
            let ex = self.client.send(Req::new(m.clone(), &p)).await?;
            if let Some(v) = self.credentials(&ex) {
                tried.get_or_insert(v);
                continue;
            }
            let fault = if ex.status != status::METHOD_NOT_ALLOWED.code.as_u16() {
                Some(format!("{m} {p}, a method neither the document nor Allow lists, answered {}, not 405", ex.status))
            } else {
                match ex.header(&header::ALLOW).map(grammar::allow) {
                    None => Some(format!("{m} {p}: 405 without Allow")),
                    Some(Err(e)) => Some(format!("{m} {p}: {e}")),
                    Some(Ok(allow)) => self.undocumented_gap(&p, &allow).filter(|m| !m.is_empty()).map(|missing| {
                        format!(
                            "{m} {p}: the 405's Allow `{}` leaves out {}, which the document lists for {}",
                            allow.join(", "),
                            listed(&missing),
                            self.targets.template_of(&p).unwrap_or(&p)
                        )
                    }),
                }
            };
            match fault {
                Some(f) => {
                    faults.push(f);
                    first_fault.get_or_insert(ex);
                }
                None if tried.as_ref().is_none_or(|v| !matches!(v.outcome, Outcome::Pass)) => tried = Some(pass(&ex)),
                None => {}
            }
        }
        if let Some(ex) = first_fault {
            return Ok(fail(&ex, faults.join("; ")));
        }
        Ok(tried.unwrap_or_else(|| {
            skip("every path allows every method the probe would try, or none told its methods (no document, no Allow)")
        }))
    }

    async fn not_found(&mut self) -> Checked {
        let path = format!("/statuskit-probe/no-such-path-{}", self.next_n());
        let ex = self.client.send(Req::new(Method::GET, &path)).await?;
        if let Some(v) = self.credentials(&ex) {
            return Ok(v);
        }
        if ex.status != status::NOT_FOUND.code.as_u16() {
            return Ok(fail(&ex, format!("answered {}", ex.status)));
        }
        Ok(judged(is_problem(&ex).is_ok(), &ex, || is_problem(&ex).unwrap_err()))
    }

    async fn not_acceptable(&mut self) -> Checked {
        let Some(path) = self.negotiable().await? else { return Ok(skip(self.nothing_readable())) };
        let ex = self.client.send(Req::new(Method::GET, &path).header(header::ACCEPT, "image/png")).await?;
        if ex.status != status::NOT_ACCEPTABLE.code.as_u16() {
            return Ok(fail(&ex, format!("answered {} ({}) to Accept: image/png", ex.status, body_kind(&ex))));
        }
        Ok(judged(essence(&ex) == mime::PROBLEM_JSON, &ex, || {
            format!("the 406 body is {}, not {}", body_kind(&ex), mime::PROBLEM_JSON)
        }))
    }

    async fn vary(&mut self) -> Checked {
        let Some(path) = self.negotiable().await? else { return Ok(skip(self.nothing_readable())) };
        let plain = self.client.send(Req::new(Method::GET, &path)).await?;
        let xml = self.client.send(Req::new(Method::GET, &path).header(header::ACCEPT, mime::XML)).await?;
        let png = self.client.send(Req::new(Method::GET, &path).header(header::ACCEPT, "image/png")).await?;
        let negotiated = essence(&plain) != essence(&xml) || png.status != plain.status;
        if !negotiated {
            return Ok(skip(format!("GET {path} does not depend on Accept")));
        }
        Ok(judged(has_token_in_list(plain.header(&header::VARY), header::ACCEPT.as_str()), &plain, || {
            format!("GET {path} depends on Accept but its Vary is {}", shown(plain.header(&header::VARY)))
        }))
    }

    async fn unsupported_media_type(&mut self) -> Checked {
        let Some(c) = self.collection() else { return Ok(skip(self.no_collection())) };
        let ex = self.client.send(Req::new(Method::POST, &c.path).body(mime::TEXT, "probe")).await?;
        if let Some(v) = self.credentials(&ex) {
            return Ok(v);
        }
        if ex.status != status::UNSUPPORTED_MEDIA_TYPE.code.as_u16() {
            return Ok(fail(&ex, format!("answered {} to a text/plain body", ex.status)));
        }
        Ok(judged(ex.header(&header::ACCEPT_POST).is_some(), &ex, || "415 without Accept-Post".into()))
    }

    async fn bad_json(&mut self) -> Checked {
        let Some(c) = self.collection() else { return Ok(skip(self.no_collection())) };
        let ex = self.client.send(Req::new(Method::POST, &c.path).body(mime::JSON, "{\"probe\":")).await?;
        if let Some(v) = self.credentials(&ex) {
            return Ok(v);
        }
        if ex.status != status::BAD_REQUEST.code.as_u16() {
            return Ok(fail(&ex, format!("answered {} to unparseable JSON", ex.status)));
        }
        Ok(judged(is_problem(&ex).is_ok(), &ex, || is_problem(&ex).unwrap_err()))
    }

    async fn validation(&mut self) -> Checked {
        let Some(c) = self.collection() else { return Ok(skip(self.no_collection())) };
        if !c.requires_fields() {
            return Ok(skip(format!("POST {} requires no field", c.path)));
        }
        let ex = self.client.send(Req::new(Method::POST, &c.path).body(mime::JSON, "{}")).await?;
        if let Some(v) = self.credentials(&ex) {
            return Ok(v);
        }
        if ex.status != status::UNPROCESSABLE_ENTITY.code.as_u16() {
            return Ok(fail(&ex, format!("answered {} to a body missing every required field", ex.status)));
        }
        if let Err(why) = is_problem(&ex) {
            return Ok(fail(&ex, why));
        }
        let errors = ex.json().and_then(|b| b.get("errors").cloned());
        let names_fields = match &errors {
            Some(Value::Object(m)) => !m.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            _ => false,
        };
        Ok(judged(names_fields, &ex, || "a problem without an `errors` member naming the fields".into()))
    }

    async fn created(&mut self) -> Checked {
        let (path, ex) = match self.create().await? {
            Ok(x) => x,
            Err(blocked) => return Ok(blocked.verdict),
        };
        let got = self.client.send(Req::new(Method::GET, &path)).await?;
        self.created = Some(path.clone());
        Ok(judged(got.status == status::OK.code.as_u16(), &ex, || {
            format!("its Location {path} answered {} to GET", got.status)
        }))
    }

    async fn delete_then_gone(&mut self) -> Checked {
        let path = match self.created.take() {
            Some(p) => p,
            None => match self.create().await? {
                Ok((p, _)) => p,
                Err(blocked) => return Ok(skip(format!("{}, so no DELETE was sent", blocked.why))),
            },
        };
        let del = self.client.send(Req::new(Method::DELETE, &path)).await?;
        if let Some(v) = self.credentials(&del) {
            return Ok(v);
        }
        if del.status != status::NO_CONTENT.code.as_u16() {
            return Ok(fail(&del, format!("DELETE answered {}", del.status)));
        }
        if !del.body.is_empty() {
            return Ok(fail(&del, format!("204 with {} bytes of content", del.body.len())));
        }
        let got = self.client.send(Req::new(Method::GET, &path)).await?;
        // Reported against the DELETE: its 204 is the status this check is about.
        Ok(judged(got.status == status::NOT_FOUND.code.as_u16(), &del, || {
            format!("GET after DELETE answered {}", got.status)
        }))
    }

    async fn etag_present(&mut self) -> Checked {
        let f = match self.own().await? {
            Ok(f) => f,
            Err(why) => return Ok(skip(why)),
        };
        let got = self.client.send(Req::new(Method::GET, &f.path)).await?;
        if !is_success(got.status) {
            return Ok(skip(format!("GET {} answered {} this time", f.path, got.status)));
        }
        Ok(judged(got.header(&header::ETAG).is_some(), &got, || format!("GET {} answered without an ETag", f.path)))
    }

    async fn not_modified(&mut self, tag: Tag) -> Checked {
        let f = match self.validated().await? {
            Ok(f) => f,
            Err(why) => return Ok(skip(why)),
        };
        let etag = f.etag.as_deref().unwrap_or_default();
        let value = match tag {
            Tag::Strong => etag.to_owned(),
            Tag::Weak => format!("W/{}", etag.trim_start_matches("W/")),
            Tag::Star => "*".into(),
        };
        let ex = self.client.send(Req::new(Method::GET, &f.path).header(header::IF_NONE_MATCH, value.clone())).await?;
        if ex.status != status::NOT_MODIFIED.code.as_u16() {
            return Ok(fail(&ex, format!("If-None-Match: {value} answered {}", ex.status)));
        }
        if !ex.body.is_empty() {
            return Ok(fail(&ex, format!("304 with {} bytes of content", ex.body.len())));
        }
        let needs_etag = tag != Tag::Star;
        Ok(judged(!needs_etag || ex.header(&header::ETAG).is_some(), &ex, || {
            "304 without the ETag a 200 carries".into()
        }))
    }

    async fn none_match_other(&mut self) -> Checked {
        let mut paths = Vec::new();
        if let Ok(f) = self.own().await? {
            paths.push(f.path);
        }
        for p in self.live().await?.clone() {
            if !paths.contains(&p) {
                paths.push(p);
            }
        }
        if paths.is_empty() {
            return Ok(skip(self.nothing_readable()));
        }
        let mut last = None;
        for p in paths {
            let value = format!("\"statuskit-probe-no-match-{}\"", self.next_n());
            let ex = self.client.send(Req::new(Method::GET, &p).header(header::IF_NONE_MATCH, value.clone())).await?;
            if !is_success(ex.status) {
                return Ok(fail(
                    &ex,
                    format!("If-None-Match: {value}, a tag GET {p} never sent, answered {}, not 200", ex.status),
                ));
            }
            last = Some(ex);
        }
        Ok(pass(&last.expect("at least one path")))
    }

    async fn if_match(&mut self, weak: bool) -> Checked {
        let f = match self.own().await? {
            Ok(f) => f,
            Err(why) => return Ok(skip(why)),
        };
        let Some(c) = &f.collection else { return Ok(skip("the probe created no resource to change")) };
        if weak && f.etag.is_none() {
            return Ok(skip(format!("GET {} sent no ETag, so there is no weak form of it to send", f.path)));
        }
        let options = self.client.send(Req::new(Method::OPTIONS, &f.path)).await?;
        let mut methods: Vec<String> = match options.header(&header::ALLOW).map(grammar::allow) {
            Some(Ok(a)) if is_success(options.status) => a,
            _ => Vec::new(),
        };
        methods.extend(self.targets.methods_for(&f.path).into_iter().flatten().cloned());
        let method = if contains_method(&methods, "PUT") {
            Method::PUT
        } else if contains_method(&methods, "PATCH") {
            Method::PATCH
        } else {
            return Ok(skip(format!(
                "{} takes neither PUT nor PATCH (neither Allow nor the document lists one)",
                f.path
            )));
        };
        let value = match &f.etag {
            Some(etag) if weak => format!("W/{}", etag.trim_start_matches("W/")),
            _ => format!("\"statuskit-probe-stale-{}\"", self.next_n()),
        };
        let body = self.sample_body(c);
        let ex = self
            .client
            .send(Req::new(method.clone(), &f.path).header(header::IF_MATCH, value.clone()).body(mime::JSON, body))
            .await?;
        if let Some(v) = self.credentials(&ex) {
            return Ok(v);
        }
        let after = self.client.send(Req::new(Method::GET, &f.path)).await?;
        let read_back = is_success(after.status);
        let unchanged = match &f.etag {
            Some(etag) => after.header(&header::ETAG) == Some(etag.as_str()),
            None => after.body == f.body,
        };
        if !unchanged && read_back {
            // The next check compares against what the resource is now.
            if let Some(Ok(own)) = &mut self.own {
                own.etag = after.header(&header::ETAG).map(str::to_owned);
                own.body.clone_from(&after.body);
            }
        }
        let precondition_failed = status::PRECONDITION_FAILED.code.as_u16();
        if is_success(ex.status) {
            return Ok(fail(
                &ex,
                format!(
                    "the {method} was carried out (answered {}) although If-Match: {value} does not match; \
                     the method MUST NOT be performed",
                    ex.status
                ),
            ));
        }
        if ex.status != precondition_failed && f.etag.is_some() {
            return Ok(fail(
                &ex,
                format!(
                    "If-Match: {value} answered {}, not 412 (the API has ETags; contract §1 row 412 answers 412)",
                    ex.status
                ),
            ));
        }
        if !is_error(ex.status) {
            return Ok(fail(&ex, format!("If-Match: {value} answered {}, neither 412 nor a refusal", ex.status)));
        }
        if !read_back {
            return Ok(skip_seen(
                &ex,
                format!(
                    "answered {}, but GET {} answered {}, so whether it changed is unknown",
                    ex.status, f.path, after.status
                ),
            ));
        }
        Ok(judged(unchanged, &ex, || match &f.etag {
            Some(etag) => format!(
                "answered {} but the resource changed anyway: its ETag {etag} is now {}",
                ex.status,
                shown(after.header(&header::ETAG))
            ),
            None => format!("answered {} but GET {} shows different content afterwards", ex.status, f.path),
        }))
    }

    async fn challenge(&mut self, token: Option<&str>) -> Result<Option<Exchange>, TransportError> {
        let Some(path) = self.protected().await? else { return Ok(None) };
        let req = Req::new(Method::GET, &path);
        let req = match token {
            Some(t) => req.bearer(t),
            None => req.anonymous(),
        };
        Ok(Some(self.client.send(req).await?))
    }

    fn no_protected_path(&self) -> String {
        "no path the probe reads answered 401 without credentials".into()
    }

    async fn unauthorized(&mut self) -> Checked {
        let Some(ex) = self.challenge(None).await? else { return Ok(skip(self.no_protected_path())) };
        Ok(match ex.header(&header::WWW_AUTHENTICATE).map(grammar::www_authenticate) {
            None => fail(&ex, "401 without WWW-Authenticate"),
            Some(Err(e)) => fail(&ex, e),
            Some(Ok(_)) => pass(&ex),
        })
    }

    async fn bearer(&mut self) -> Checked {
        let Some(ex) = self.challenge(None).await? else { return Ok(skip(self.no_protected_path())) };
        let Some(Ok(challenges)) = ex.header(&header::WWW_AUTHENTICATE).map(grammar::www_authenticate) else {
            return Ok(skip("the 401 carried no WWW-Authenticate that parses (see the 401 check)"));
        };
        let Some(bearer) = challenges.iter().find(|c| c.scheme.eq_ignore_ascii_case("bearer")) else {
            let schemes: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
            return Ok(fail(&ex, format!("no Bearer challenge; the schemes offered are {}", listed(&schemes))));
        };
        Ok(judged(bearer.param("error").is_none(), &ex, || {
            format!(
                "the challenge carries error=\"{}\" although no token was sent",
                bearer.param("error").unwrap_or_default()
            )
        }))
    }

    async fn invalid_token(&mut self) -> Checked {
        let Some(ex) = self.challenge(Some("statuskit-probe-not-a-token")).await? else {
            return Ok(skip(self.no_protected_path()));
        };
        if ex.status != status::UNAUTHORIZED.code.as_u16() {
            return Ok(fail(&ex, format!("an unknown token was answered {}", ex.status)));
        }
        let error = ex
            .header(&header::WWW_AUTHENTICATE)
            .and_then(|v| grammar::www_authenticate(v).ok())
            .and_then(|cs| cs.into_iter().find_map(|c| c.param("error").map(str::to_owned)));
        Ok(judged(error.as_deref() == Some("invalid_token"), &ex, || match &error {
            Some(e) => format!("the challenge's error is \"{e}\", not \"invalid_token\""),
            None => "the challenge has no error attribute".into(),
        }))
    }

    async fn length_required(&mut self) -> Checked {
        let Some(c) = self.collection() else { return Ok(skip(self.no_collection())) };
        if !self.client.url(&c.path).starts_with("http://") {
            return Ok(skip("this check writes its request on a plain TCP socket, so it runs on http:// URLs only"));
        }
        let body = self.sample_body(c);
        let ex = self.client.raw(&Method::POST, &c.path, &[(header::CONTENT_TYPE, mime::JSON)], &body).await?;
        if let Some(v) = self.credentials(&ex) {
            return Ok(v);
        }
        if ex.status != status::LENGTH_REQUIRED.code.as_u16() {
            return Ok(fail(&ex, format!("a body without Content-Length was answered {}", ex.status)));
        }
        Ok(judged(is_problem(&ex).is_ok(), &ex, || is_problem(&ex).unwrap_err()))
    }

    async fn too_many_requests(&mut self) -> Checked {
        let too_many = status::TOO_MANY_REQUESTS.code.as_u16();
        let seen = self.client.exchanges().into_iter().find(|e| e.status == too_many && !e.request.contains("(raw)"));
        let (limited, path) = match seen {
            Some(ex) => {
                let path = path_of(&ex.request).to_owned();
                (ex, path)
            }
            None => {
                let Some(path) = self.readable().await? else { return Ok(skip(self.nothing_readable())) };
                let mut hit = None;
                for _ in 0..self.config.rate_limit_requests {
                    let ex = self.client.send(Req::new(Method::GET, &path)).await?;
                    if ex.status == too_many {
                        hit = Some(ex);
                        break;
                    }
                }
                match hit {
                    Some(ex) => (ex, path),
                    None => {
                        return Ok(skip(format!(
                            "no 429 reached within {} requests to GET {path} (raise --rate-limit-requests)",
                            self.config.rate_limit_requests
                        )))
                    }
                }
            }
        };
        let Some(value) = limited.header(&header::RETRY_AFTER) else {
            return Ok(fail(&limited, "429 without Retry-After"));
        };
        let wait = match grammar::retry_after(value.as_bytes()) {
            Ok(r) => r.delay_from(SystemTime::now()),
            Err(e) => return Ok(fail(&limited, e)),
        };
        if wait > self.config.max_wait {
            return Ok(skip(format!(
                "Retry-After asks for {}s, more than the {}s the probe waits (--max-wait)",
                wait.as_secs(),
                self.config.max_wait.as_secs()
            )));
        }
        tokio::time::sleep(wait + Duration::from_millis(100)).await;
        let again = self.client.send(Req::new(Method::GET, &path)).await?;
        let mut v = judged(again.status != too_many, &limited, || {
            format!("after waiting Retry-After ({}s) the request was answered {} again", wait.as_secs(), again.status)
        });
        v.reached = Some(too_many);
        Ok(v)
    }

    fn problem_bodies(&self) -> Verdict {
        // Once per distinct request and status: the 429 check's repeats are one request.
        let mut seen = BTreeSet::new();
        let errors: Vec<Exchange> = self
            .client
            .exchanges()
            .into_iter()
            .filter(|e| is_error(e.status) && !e.request.starts_with("HEAD "))
            .filter(|e| seen.insert((e.request.clone(), e.status)))
            .collect();
        if errors.is_empty() {
            return skip("no 4xx or 5xx answer was received");
        }
        let wrong: Vec<(&Exchange, String)> =
            errors.iter().filter_map(|e| is_problem(e).err().map(|why| (e, why))).collect();
        let Some((first, _)) = wrong.first() else {
            return Verdict {
                outcome: Outcome::Pass,
                reached: None,
                request: Some(format!("{} distinct error answers", errors.len())),
            };
        };
        let shown: Vec<String> =
            wrong.iter().take(5).map(|(e, why)| format!("{} → {}: {why}", e.request, e.status)).collect();
        let more = if wrong.len() > 5 { format!("; and {} more", wrong.len() - 5) } else { String::new() };
        let mut v = fail(
            first,
            format!("{} of {} distinct error answers: {}{more}", wrong.len(), errors.len(), shown.join("; ")),
        );
        v.reached = None;
        v
    }

    fn grammar(&self, name: &http::HeaderName, parse: impl Fn(&str) -> Result<(), String>) -> Verdict {
        let mut seen = 0;
        for e in self.client.exchanges() {
            for v in e.headers.get_all(name) {
                seen += 1;
                let text = String::from_utf8_lossy(v.as_bytes());
                if let Err(why) = parse(&text) {
                    return fail(&e, why);
                }
            }
        }
        if seen == 0 {
            return skip(format!("no answer carried {name}"));
        }
        Verdict { outcome: Outcome::Pass, reached: None, request: Some(format!("{seen} values")) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Strong,
    Weak,
    Star,
}

/// `Ok` if `ex` carries a problem body whose `status` is the HTTP status.
fn is_problem(ex: &Exchange) -> Result<(), String> {
    let kind = essence(ex);
    if kind == mime::PROBLEM_JSON {
        let status = ex.json().and_then(|b| b.get("status").and_then(Value::as_u64));
        return match status {
            Some(s) if s == u64::from(ex.status) => Ok(()),
            Some(s) => Err(format!("the problem's status {s} differs from the HTTP status")),
            None => Err("problem+json without a numeric `status`".into()),
        };
    }
    if kind == mime::PROBLEM_XML {
        let text = String::from_utf8_lossy(&ex.body);
        return if text.contains(&format!("<status>{}</status>", ex.status)) {
            Ok(())
        } else {
            Err("problem+xml whose <status> differs from the HTTP status".into())
        };
    }
    Err(format!("the body is {}, not a problem", body_kind(ex)))
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
