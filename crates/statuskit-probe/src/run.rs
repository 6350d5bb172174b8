//! Running the checks: each sends its requests through the [`Client`] and judges the answers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use http::Method;
use serde_json::Value;
use statuskit::header::{self, mime};
use statuskit::status;

use crate::check::{CheckId, Finding, Outcome};
use crate::client::{Client, Exchange, Req, TransportError};
use crate::grammar;
use crate::target::{fill, Collection, Targets};
use crate::Config;

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

fn has_token_in_list(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token) || t.trim() == "*"))
}

/// A resource the probe may read, and change when it was created by the probe.
#[derive(Debug, Clone)]
struct Fixture {
    path: String,
    etag: Option<String>,
    /// Where it came from, to make a valid replacement body.
    collection: Option<Collection>,
}

/// Shared state of one run.
pub(crate) struct Run<'a> {
    client: &'a Client,
    targets: &'a Targets,
    config: &'a Config,
    counter: AtomicU64,
    fixture: Option<Option<Fixture>>,
    live: Option<Vec<String>>,
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
            fixture: None,
            live: None,
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

    fn sample_body(&self, c: &Collection) -> Vec<u8> {
        fill(&c.sample, self.next_n()).to_string().into_bytes()
    }

    /// POSTs a sample to the first collection: `Ok((location path, exchange))`.
    async fn create(&self) -> Result<Result<(String, Exchange), Verdict>, TransportError> {
        let Some(c) = self.collection() else {
            return Ok(Err(skip("the API documents no collection that creates resources from JSON (POST)")));
        };
        let ex = self.client.send(Req::new(Method::POST, &c.path).body(mime::JSON, self.sample_body(c))).await?;
        if ex.status != status::CREATED.code.as_u16() {
            if is_success(ex.status) {
                return Ok(Err(skip(format!(
                    "POST {} answered {}, not 201: it creates nothing to follow",
                    c.path, ex.status
                ))));
            }
            return Ok(Err(fail(&ex, format!("a valid sample body was refused with {}: {}", ex.status, snippet(&ex)))));
        }
        let Some(location) = ex.header(&header::LOCATION) else {
            return Ok(Err(fail(&ex, "201 without Location")));
        };
        let path = resolve_location(&c.path, location);
        Ok(Ok((path, ex)))
    }

    /// A resource with an `ETag`: one the probe creates, else a read that sends one.
    async fn fixture(&mut self) -> Result<Option<Fixture>, TransportError> {
        if let Some(f) = &self.fixture {
            return Ok(f.clone());
        }
        let mut found = None;
        if let Ok((path, _)) = self.create().await? {
            let got = self.client.send(Req::new(Method::GET, &path)).await?;
            let etag = got.header(&header::ETAG).map(str::to_owned);
            found = Some(Fixture { path, etag, collection: self.collection().cloned() });
        } else {
            for p in self.live().await?.clone() {
                let got = self.client.send(Req::new(Method::GET, &p)).await?;
                if let Some(etag) = got.header(&header::ETAG) {
                    found = Some(Fixture { path: p, etag: Some(etag.to_owned()), collection: None });
                    break;
                }
            }
        }
        self.fixture = Some(found.clone());
        Ok(found)
    }

    /// The reads whose GET answers 2xx (paths that are alive, not moved or retired).
    async fn live(&mut self) -> Result<&Vec<String>, TransportError> {
        if self.live.is_none() {
            let mut live = Vec::new();
            for p in &self.targets.reads {
                let ex = self.client.send(Req::new(Method::GET, p)).await?;
                if is_success(ex.status) {
                    live.push(p.clone());
                } else if ex.status == status::UNAUTHORIZED.code.as_u16() && self.protected.is_none() {
                    self.protected = Some(Some(p.clone()));
                }
            }
            self.live = Some(live);
        }
        Ok(self.live.as_ref().expect("set above"))
    }

    /// A path to read: the fixture, else the first live read.
    async fn readable(&mut self) -> Result<Option<String>, TransportError> {
        if let Some(f) = self.fixture().await? {
            return Ok(Some(f.path));
        }
        Ok(self.live().await?.first().cloned())
    }

    /// Every concrete path known to be alive: live reads, collections, the fixture.
    async fn paths(&mut self) -> Result<Vec<String>, TransportError> {
        let mut out = self.live().await?.clone();
        for c in &self.targets.collections {
            if !out.contains(&c.path) {
                out.push(c.path.clone());
            }
        }
        if let Some(f) = self.fixture().await? {
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

    /// Runs one check.
    pub(crate) async fn check(&mut self, id: CheckId) -> Finding {
        let verdict = match self.verdict(id).await {
            Ok(v) => v,
            Err(e) => Verdict { outcome: Outcome::Fail(format!("transport error: {e}")), reached: None, request: None },
        };
        Finding { check: id.check(), outcome: verdict.outcome, reached: verdict.reached, request: verdict.request }
    }

    async fn verdict(&mut self, id: CheckId) -> Checked {
        match id {
            CheckId::HeadParity => self.head_parity().await,
            CheckId::OptionsAllow => self.options().await,
            CheckId::MethodNotAllowed => self.method_not_allowed().await,
            CheckId::NotFound => self.not_found().await,
            CheckId::NotAcceptable => self.not_acceptable().await,
            CheckId::VaryAccept => self.vary().await,
            CheckId::UnsupportedMediaType => self.unsupported_media_type().await,
            CheckId::BadJson => self.bad_json().await,
            CheckId::Validation => self.validation().await,
            CheckId::Created => self.created().await,
            CheckId::DeleteThenGone => self.delete_then_gone().await,
            CheckId::NotModifiedStrong => self.not_modified(Tag::Strong).await,
            CheckId::NotModifiedWeak => self.not_modified(Tag::Weak).await,
            CheckId::NotModifiedStar => self.not_modified(Tag::Star).await,
            CheckId::StaleIfMatch => self.if_match(false).await,
            CheckId::WeakIfMatch => self.if_match(true).await,
            CheckId::Unauthorized => self.unauthorized().await,
            CheckId::ChallengeRealm => self.realm().await,
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

    async fn head_parity(&mut self) -> Checked {
        let Some(path) = self.readable().await? else { return Ok(skip("no path answered GET with 2xx")) };
        let get = self.client.send(Req::new(Method::GET, &path)).await?;
        let head = self.client.send(Req::new(Method::HEAD, &path)).await?;
        let mut wrong = Vec::new();
        if head.status != get.status {
            wrong.push(format!("HEAD answered {}, GET {}", head.status, get.status));
        }
        if !head.body.is_empty() {
            wrong.push(format!("HEAD sent {} bytes of content", head.body.len()));
        }
        if let Some(len) = head.header(&header::CONTENT_LENGTH) {
            if len != get.body.len().to_string() {
                wrong.push(format!("HEAD's Content-Length is {len}, GET's content {} bytes", get.body.len()));
            }
        }
        for name in [header::CONTENT_TYPE, header::ETAG, header::LAST_MODIFIED, header::VARY, header::CACHE_CONTROL] {
            if head.header(&name) != get.header(&name) {
                wrong.push(format!("{name}: HEAD {:?}, GET {:?}", head.header(&name), get.header(&name)));
            }
        }
        Ok(judged(wrong.is_empty(), &head, || wrong.join("; ")))
    }

    async fn options(&mut self) -> Checked {
        let paths = self.paths().await?;
        if paths.is_empty() {
            return Ok(skip("no live path to ask"));
        }
        let mut last = None;
        let mut wrong = Vec::new();
        for p in &paths {
            let ex = self.client.send(Req::new(Method::OPTIONS, p)).await?;
            match ex.header(&header::ALLOW).map(grammar::allow) {
                _ if !is_success(ex.status) => wrong.push(format!("OPTIONS {p} answered {}", ex.status)),
                None => wrong.push(format!("OPTIONS {p}: no Allow")),
                Some(Err(e)) => wrong.push(e),
                Some(Ok(allowed)) => {
                    let template = self.template_of(p);
                    if let Some(documented) = template.as_deref().and_then(|t| self.targets.documented_methods(t)) {
                        let missing: Vec<&String> =
                            documented.iter().filter(|m| !allowed.iter().any(|a| a.eq_ignore_ascii_case(m))).collect();
                        if !missing.is_empty() {
                            wrong.push(format!(
                                "OPTIONS {p}: Allow `{}` lacks documented {missing:?}",
                                allowed.join(", ")
                            ));
                        }
                    }
                }
            }
            last = Some(ex);
        }
        let last = last.expect("at least one path");
        Ok(judged(wrong.is_empty(), &last, || wrong.join("; ")))
    }

    /// The documented template a concrete path came from.
    fn template_of(&self, path: &str) -> Option<String> {
        if self.targets.methods.iter().any(|(p, _)| p == path) {
            return Some(path.to_owned());
        }
        let fixture = self.fixture.clone().flatten()?;
        if fixture.path == path {
            return fixture.collection.and_then(|c| c.item);
        }
        None
    }

    async fn allow_of(&self, path: &str) -> Result<Option<Vec<String>>, TransportError> {
        let ex = self.client.send(Req::new(Method::OPTIONS, path)).await?;
        if let Some(Ok(a)) = ex.header(&header::ALLOW).map(grammar::allow) {
            if is_success(ex.status) {
                return Ok(Some(a));
            }
        }
        let template = self.template_of(path);
        Ok(template.and_then(|t| self.targets.documented_methods(&t).map(<[String]>::to_vec)))
    }

    async fn method_not_allowed(&mut self) -> Checked {
        let mut tried = None;
        for p in self.paths().await? {
            let Some(allowed) = self.allow_of(&p).await? else { continue };
            let candidates = [Method::DELETE, Method::PUT, Method::PATCH, Method::POST];
            let Some(m) = candidates.into_iter().find(|m| !allowed.iter().any(|a| a.eq_ignore_ascii_case(m.as_str())))
            else {
                continue;
            };
            let ex = self.client.send(Req::new(m, &p)).await?;
            let expected = status::METHOD_NOT_ALLOWED.code.as_u16();
            if ex.status != expected {
                return Ok(fail(
                    &ex,
                    format!("answered {}, not 405, for a method outside Allow `{}`", ex.status, allowed.join(", ")),
                ));
            }
            match ex.header(&header::ALLOW).map(grammar::allow) {
                None => return Ok(fail(&ex, "405 without Allow")),
                Some(Err(e)) => return Ok(fail(&ex, e)),
                Some(Ok(_)) => {}
            }
            tried = Some(ex);
        }
        Ok(match tried {
            Some(ex) => pass(&ex),
            None => skip("every path allows every method the probe would try, or none told its methods"),
        })
    }

    async fn not_found(&mut self) -> Checked {
        let path = format!("/statuskit-probe/no-such-path-{}", self.next_n());
        let ex = self.client.send(Req::new(Method::GET, &path)).await?;
        if ex.status != status::NOT_FOUND.code.as_u16() {
            return Ok(fail(&ex, format!("answered {}", ex.status)));
        }
        Ok(judged(is_problem(&ex).is_ok(), &ex, || is_problem(&ex).unwrap_err()))
    }

    async fn not_acceptable(&mut self) -> Checked {
        let Some(path) = self.readable().await? else { return Ok(skip("no path answered GET with 2xx")) };
        let ex = self.client.send(Req::new(Method::GET, &path).header(header::ACCEPT, "image/png")).await?;
        if ex.status != status::NOT_ACCEPTABLE.code.as_u16() {
            return Ok(fail(&ex, format!("answered {} ({}) to Accept: image/png", ex.status, essence(&ex))));
        }
        Ok(judged(essence(&ex) == mime::PROBLEM_JSON, &ex, || {
            format!("406 body is `{}`, not {}", essence(&ex), mime::PROBLEM_JSON)
        }))
    }

    async fn vary(&mut self) -> Checked {
        let Some(path) = self.readable().await? else { return Ok(skip("no path answered GET with 2xx")) };
        let plain = self.client.send(Req::new(Method::GET, &path)).await?;
        let xml = self.client.send(Req::new(Method::GET, &path).header(header::ACCEPT, mime::XML)).await?;
        let png = self.client.send(Req::new(Method::GET, &path).header(header::ACCEPT, "image/png")).await?;
        let negotiated = essence(&plain) != essence(&xml) || png.status != plain.status;
        if !negotiated {
            return Ok(skip(format!("GET {path} does not depend on Accept")));
        }
        Ok(judged(has_token_in_list(plain.header(&header::VARY), header::ACCEPT.as_str()), &plain, || {
            format!("Vary is {:?}", plain.header(&header::VARY))
        }))
    }

    async fn unsupported_media_type(&mut self) -> Checked {
        let Some(c) = self.collection() else { return Ok(skip("no collection takes a JSON body")) };
        let ex = self.client.send(Req::new(Method::POST, &c.path).body(mime::TEXT, "probe")).await?;
        if ex.status != status::UNSUPPORTED_MEDIA_TYPE.code.as_u16() {
            return Ok(fail(&ex, format!("answered {} to a text/plain body", ex.status)));
        }
        Ok(judged(ex.header(&header::ACCEPT_POST).is_some(), &ex, || "415 without Accept-Post".into()))
    }

    async fn bad_json(&mut self) -> Checked {
        let Some(c) = self.collection() else { return Ok(skip("no collection takes a JSON body")) };
        let ex = self.client.send(Req::new(Method::POST, &c.path).body(mime::JSON, "{\"probe\":")).await?;
        let ok = ex.status == status::BAD_REQUEST.code.as_u16();
        Ok(judged(ok, &ex, || format!("answered {} to unparseable JSON", ex.status)))
    }

    async fn validation(&mut self) -> Checked {
        let Some(c) = self.collection() else { return Ok(skip("no collection takes a JSON body")) };
        if c.sample.as_object().is_none_or(|m| m.is_empty()) {
            return Ok(skip(format!("POST {} requires no field", c.path)));
        }
        let ex = self.client.send(Req::new(Method::POST, &c.path).body(mime::JSON, "{}")).await?;
        if ex.status != status::UNPROCESSABLE_ENTITY.code.as_u16() {
            return Ok(fail(&ex, format!("answered {} to a body missing every required field", ex.status)));
        }
        let errors = ex.json().and_then(|b| b.get("errors").cloned());
        let names_fields = match &errors {
            Some(Value::Object(m)) => !m.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            _ => false,
        };
        Ok(judged(names_fields, &ex, || "422 without an `errors` member naming the fields".into()))
    }

    async fn created(&mut self) -> Checked {
        let (path, ex) = match self.create().await? {
            Ok(x) => x,
            Err(v) => return Ok(v),
        };
        let got = self.client.send(Req::new(Method::GET, &path)).await?;
        self.created = Some(path.clone());
        Ok(judged(got.status == status::OK.code.as_u16(), &ex, || {
            format!("Location {path} answered {} to GET", got.status)
        }))
    }

    async fn delete_then_gone(&mut self) -> Checked {
        let path = match self.created.take() {
            Some(p) => p,
            None => match self.create().await? {
                Ok((p, _)) => p,
                Err(v) => return Ok(v),
            },
        };
        let del = self.client.send(Req::new(Method::DELETE, &path)).await?;
        if del.status != status::NO_CONTENT.code.as_u16() {
            return Ok(fail(&del, format!("DELETE answered {}", del.status)));
        }
        if !del.body.is_empty() {
            return Ok(fail(&del, "204 with content"));
        }
        let got = self.client.send(Req::new(Method::GET, &path)).await?;
        // Reported against the DELETE: its 204 is the status this check is about.
        Ok(judged(got.status == status::NOT_FOUND.code.as_u16(), &del, || {
            format!("GET after DELETE answered {}", got.status)
        }))
    }

    async fn not_modified(&mut self, tag: Tag) -> Checked {
        let Some(f) = self.fixture().await? else { return Ok(skip("no resource with an ETag to revalidate")) };
        let Some(etag) = &f.etag else { return Ok(skip(format!("GET {} sent no ETag", f.path))) };
        let value = match tag {
            Tag::Strong => etag.clone(),
            Tag::Weak => format!("W/{}", etag.trim_start_matches("W/")),
            Tag::Star => "*".into(),
        };
        let ex = self.client.send(Req::new(Method::GET, &f.path).header(header::IF_NONE_MATCH, value.clone())).await?;
        if ex.status != status::NOT_MODIFIED.code.as_u16() {
            return Ok(fail(&ex, format!("If-None-Match: {value} answered {}", ex.status)));
        }
        if !ex.body.is_empty() {
            return Ok(fail(&ex, "304 with content"));
        }
        let needs_etag = tag != Tag::Star;
        Ok(judged(!needs_etag || ex.header(&header::ETAG).is_some(), &ex, || {
            "304 without the ETag a 200 carries".into()
        }))
    }

    async fn if_match(&mut self, weak: bool) -> Checked {
        let Some(f) = self.fixture().await? else { return Ok(skip("no resource with an ETag")) };
        let (Some(etag), Some(c)) = (&f.etag, &f.collection) else {
            return Ok(skip("the resource with an ETag was not created by the probe, so it will not change it"));
        };
        let allowed = self.allow_of(&f.path).await?.unwrap_or_default();
        let (method, media) = if allowed.iter().any(|m| m == "PUT") {
            (Method::PUT, mime::JSON)
        } else if allowed.iter().any(|m| m == "PATCH") {
            (Method::PATCH, mime::MERGE_PATCH_JSON)
        } else {
            return Ok(skip(format!("{} accepts neither PUT nor PATCH", f.path)));
        };
        let value =
            if weak { format!("W/{}", etag.trim_start_matches("W/")) } else { "\"statuskit-probe-stale\"".into() };
        let body = self.sample_body(c);
        let ex = self
            .client
            .send(Req::new(method, &f.path).header(header::IF_MATCH, value.clone()).body(media, body))
            .await?;
        if ex.status != status::PRECONDITION_FAILED.code.as_u16() {
            return Ok(fail(&ex, format!("If-Match: {value} answered {}", ex.status)));
        }
        let after = self.client.send(Req::new(Method::GET, &f.path)).await?;
        Ok(judged(after.header(&header::ETAG) == Some(etag.as_str()), &ex, || {
            format!("the resource changed anyway: ETag {etag} became {:?}", after.header(&header::ETAG))
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

    async fn unauthorized(&mut self) -> Checked {
        let Some(ex) = self.challenge(None).await? else { return Ok(skip("no path asked for credentials")) };
        Ok(match ex.header(&header::WWW_AUTHENTICATE).map(grammar::www_authenticate) {
            None => fail(&ex, "401 without WWW-Authenticate"),
            Some(Err(e)) => fail(&ex, e),
            Some(Ok(_)) => pass(&ex),
        })
    }

    async fn realm(&mut self) -> Checked {
        let Some(ex) = self.challenge(None).await? else { return Ok(skip("no path asked for credentials")) };
        let Some(Ok(challenges)) = ex.header(&header::WWW_AUTHENTICATE).map(grammar::www_authenticate) else {
            return Ok(fail(&ex, "no readable WWW-Authenticate"));
        };
        let Some(bearer) = challenges.iter().find(|c| c.scheme.eq_ignore_ascii_case("bearer")) else {
            return Ok(fail(
                &ex,
                format!("no Bearer challenge among {:?}", challenges.iter().map(|c| &c.scheme).collect::<Vec<_>>()),
            ));
        };
        if bearer.param("realm").is_none() {
            return Ok(fail(&ex, "the Bearer challenge has no realm"));
        }
        Ok(judged(bearer.param("error").is_none(), &ex, || "an error attribute although no token was sent".into()))
    }

    async fn invalid_token(&mut self) -> Checked {
        let Some(ex) = self.challenge(Some("statuskit-probe-not-a-token")).await? else {
            return Ok(skip("no path asked for credentials"));
        };
        if ex.status != status::UNAUTHORIZED.code.as_u16() {
            return Ok(fail(&ex, format!("an unknown token was answered {}", ex.status)));
        }
        let error = ex
            .header(&header::WWW_AUTHENTICATE)
            .and_then(|v| grammar::www_authenticate(v).ok())
            .and_then(|cs| cs.into_iter().find_map(|c| c.param("error").map(str::to_owned)));
        Ok(judged(error.as_deref() == Some("invalid_token"), &ex, || format!("challenge error is {error:?}")))
    }

    async fn length_required(&mut self) -> Checked {
        let Some(c) = self.collection() else { return Ok(skip("no collection takes a body")) };
        if !self.client.url(&c.path).starts_with("http://") {
            return Ok(skip("raw requests need http://"));
        }
        let body = self.sample_body(c);
        let ex = self.client.raw(&Method::POST, &c.path, &[(header::CONTENT_TYPE, mime::JSON)], &body).await?;
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
                let path = ex.request.split_once(' ').map(|(_, p)| p.to_owned()).unwrap_or_default();
                (ex, path)
            }
            None => {
                let Some(path) = self.readable().await? else { return Ok(skip("no path answered GET with 2xx")) };
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
                            "no 429 reached within {} requests to GET {path}",
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
                "Retry-After asks for {}s, more than the {}s the probe waits",
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
        let errors: Vec<Exchange> = self
            .client
            .exchanges()
            .into_iter()
            .filter(|e| is_error(e.status) && !e.request.starts_with("HEAD "))
            .collect();
        if errors.is_empty() {
            return skip("no 4xx or 5xx answer was received");
        }
        let wrong: Vec<String> = errors
            .iter()
            .filter_map(|e| is_problem(e).err().map(|why| format!("{} → {}: {why}", e.request, e.status)))
            .collect();
        let n = wrong.len();
        match wrong.into_iter().take(5).reduce(|a, b| format!("{a}; {b}")) {
            None => Verdict {
                outcome: Outcome::Pass,
                reached: None,
                request: Some(format!("{} error answers", errors.len())),
            },
            Some(list) => Verdict {
                outcome: Outcome::Fail(format!("{n} of {} error answers: {list}", errors.len())),
                reached: None,
                request: None,
            },
        }
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
            Some(s) => Err(format!("problem status {s} differs from the HTTP status")),
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
    Err(format!("body is `{}`, not a problem", if kind.is_empty() { "untyped" } else { &kind }))
}

fn snippet(ex: &Exchange) -> String {
    String::from_utf8_lossy(&ex.body).chars().take(160).collect()
}

/// The path (or absolute URL) a `Location` names, resolved against `base`.
fn resolve_location(base: &str, location: &str) -> String {
    if location.starts_with('/') || location.starts_with("http://") || location.starts_with("https://") {
        location.to_owned()
    } else {
        format!("{}/{location}", base.trim_end_matches('/'))
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
        assert!(is_problem(&ex).unwrap_err().contains("text/html"));
        assert_eq!(resolve_location("/v1/c", "/v1/c/1"), "/v1/c/1");
        assert_eq!(resolve_location("/v1/c", "1"), "/v1/c/1");
    }
}
