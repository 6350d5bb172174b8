//! One logical call and the loop that keeps the contract while making it: pacing, tokens,
//! `Retry-After`, backoff with jitter, the retry budget, `Idempotency-Key`, the ETag cache.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::Serialize;

use crate::challenge::Challenge;
use crate::error::{Error, WaitLimit};
use crate::headers::RetryAfter;
use crate::operation::Operation;
use crate::problem::Problem;
use crate::response::Response;
use crate::Client;

/// The `Idempotency-Key` header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// A call being made: what is sent on every attempt.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) method: Method,
    pub(crate) url: url::Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Bytes>,
    pub(crate) key: Option<String>,
    pub(crate) budget: Duration,
    pub(crate) started: Instant,
    pub(crate) auth: bool,
    pub(crate) token_request: bool,
    pub(crate) use_cache: bool,
}

impl Call {
    pub(crate) fn new(client: &Client, method: Method, url: url::Url) -> Self {
        Call {
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
            key: None,
            budget: client.inner.settings.time_budget,
            started: Instant::now(),
            auth: true,
            token_request: false,
            use_cache: true,
        }
    }

    fn deadline(&self) -> Instant {
        self.started + self.budget
    }

    fn left(&self) -> Duration {
        self.deadline().saturating_duration_since(Instant::now())
    }

    /// May this request be sent again after a failure whose effect is unknown?
    fn repeatable(&self) -> bool {
        matches!(self.method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS)
            || self.key.is_some()
    }
}

/// A request to build and send; see [`Client::get`] and friends.
///
/// ```no_run
/// # async fn demo(client: statuskit_client::Client) -> Result<(), statuskit_client::Error> {
/// let created = client
///     .post("/v1/customers")
///     .json(&serde_json::json!({"name": "Ada", "email": "ada@example.com"}))
///     .send()
///     .await?;
/// assert_eq!(created.status(), 201);
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use]
pub struct RequestBuilder {
    client: Client,
    call: Result<Call, Error>,
}

impl RequestBuilder {
    pub(crate) fn new(client: Client, method: Method, path: &str) -> Self {
        let call = client.url(path).map(|url| Call::new(&client, method, url));
        RequestBuilder { client, call }
    }

    fn edit(mut self, f: impl FnOnce(&mut Call) -> Result<(), Error>) -> Self {
        if let Ok(call) = &mut self.call {
            if let Err(e) = f(call) {
                self.call = Err(e);
            }
        }
        self
    }

    /// Adds a header.
    pub fn header(self, name: &str, value: &str) -> Self {
        self.edit(|c| {
            let n = HeaderName::try_from(name).map_err(|_| Error::InvalidHeader { name: name.to_owned() })?;
            let v =
                HeaderValue::try_from(value).map_err(|_| Error::InvalidHeader { name: format!("{name}: {value}") })?;
            if n == IDEMPOTENCY_KEY {
                c.key = Some(value.to_owned());
                return Ok(());
            }
            c.headers.append(n, v);
            Ok(())
        })
    }

    /// A JSON body (`Content-Type: application/json`).
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Self {
        self.edit(|c| {
            let body =
                serde_json::to_vec(value).map_err(|source| Error::Decode { source, body_start: String::new() })?;
            c.headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            c.body = Some(body.into());
            Ok(())
        })
    }

    /// A body of any type (set `Content-Type` with [`header`](Self::header)).
    pub fn body(self, body: impl Into<Bytes>) -> Self {
        self.edit(|c| {
            c.body = Some(body.into());
            Ok(())
        })
    }

    /// Uses this `Idempotency-Key` (sent as an sf-string) instead of one the client makes.
    pub fn idempotency_key(self, key: &str) -> Self {
        self.edit(|c| {
            c.key = Some(format!("\"{key}\""));
            Ok(())
        })
    }

    /// This call's own time budget.
    pub fn time_budget(self, d: Duration) -> Self {
        self.edit(|c| {
            c.budget = d;
            Ok(())
        })
    }

    /// Sends without the client's credentials.
    pub fn anonymous(self) -> Self {
        self.edit(|c| {
            c.auth = false;
            Ok(())
        })
    }

    /// Skips the ETag cache for this GET.
    pub fn no_cache(self) -> Self {
        self.edit(|c| {
            c.use_cache = false;
            Ok(())
        })
    }

    /// `If-None-Match: *`: a create-only PUT (412, turned into [`Error::AlreadyExists`], if the
    /// resource is already there).
    pub fn create_only(self) -> Self {
        self.edit(|c| {
            c.headers.insert(http::header::IF_NONE_MATCH, HeaderValue::from_static("*"));
            Ok(())
        })
    }

    /// Sends the request, retrying as the contract allows, and returns the final answer if it is
    /// 1xx–3xx (a 304 answered from the cache comes back as its cached 200).
    ///
    /// # Errors
    /// A typed [`Error`] for every 4xx and 5xx and for every limit reached.
    pub async fn send(self) -> Result<Response, Error> {
        let mut call = self.call?;
        if call.key.is_none() && self.client.inner.settings.idempotency_keys && is_keyed(&call.method) {
            call.key = Some(format!("\"{}\"", uuid::Uuid::new_v4()));
        }
        let key = call.key.clone();
        let create_only = call.headers.get(http::header::IF_NONE_MATCH).is_some_and(|v| v == "*");
        let url = call.url.to_string();
        let response = self.client.execute(call).await?;
        if response.status().as_u16() < 400 {
            return Ok(response);
        }
        let status = response.status();
        let error = Error::from_response(response);
        match (status, key, error) {
            (StatusCode::UNPROCESSABLE_ENTITY, Some(key), Error::Problem(p))
                if p.errors.keys().any(|k| k.eq_ignore_ascii_case("idempotency-key")) =>
            {
                Err(Error::IdempotencyKeyReused { key, problem: p })
            }
            (StatusCode::PRECONDITION_FAILED, _, _) if create_only => Err(Error::AlreadyExists { url }),
            (_, _, e) => Err(e),
        }
    }

    /// Sends the request and, if it is answered 202, waits for the operation to finish; returns
    /// its result (or the answer itself when it was not 202).
    ///
    /// # Errors
    /// As [`send`](Self::send) and [`Operation::wait`].
    pub async fn send_and_wait(self) -> Result<Response, Error> {
        let client = self.client.clone();
        let response = self.send().await?;
        if response.status() != StatusCode::ACCEPTED {
            return Ok(response);
        }
        Operation::from_response(&client, &response)?.wait().await
    }
}

fn is_keyed(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PATCH)
}

fn host_of(url: &url::Url) -> String {
    format!("{}:{}", url.host_str().unwrap_or_default(), url.port_or_known_default().unwrap_or(0))
}

/// What to do after an answer or a failure.
enum Next {
    Return(Response),
    Fail(Error),
    Wait(Duration),
}

impl Client {
    /// Makes one logical call: attempts until a final answer, a typed error, or the budget ends.
    pub(crate) async fn execute(&self, call: Call) -> Result<Response, Error> {
        let inner = &self.inner;
        let host = host_of(&call.url);
        let cacheable = call.use_cache && call.method == Method::GET && inner.cache.is_some();
        let mut refreshed = false;
        let mut retries = 0u32;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            // The token first: a failure there must not leave a pacing slot taken.
            let held = match (&inner.tokens, call.auth) {
                (Some(tokens), true) => Some(tokens.current(self).await?),
                _ => None,
            };
            if let Some(pacer) = &inner.pacer {
                let wait = pacer.reserve(&host, &call.method);
                if !wait.is_zero() {
                    if wait >= call.left() {
                        pacer.observe(&host, &call.method, None, None);
                        return Err(Error::BudgetExhausted {
                            budget: call.budget,
                            what: format!("pacing asks to wait {} ms before sending", wait.as_millis()),
                            last: None,
                        });
                    }
                    tracing::debug!(wait_ms = wait.as_millis() as u64, %host, "pacing");
                    tokio::time::sleep(wait).await;
                }
            }
            let mut request = inner.http.request(call.method.clone(), call.url.clone()).headers(call.headers.clone());
            if let Some(h) = &held {
                request = request.header(http::header::AUTHORIZATION, h.header.clone());
            }
            if let Some(key) = &call.key {
                let v = HeaderValue::try_from(key.as_str())
                    .map_err(|_| Error::InvalidHeader { name: format!("idempotency-key: {key}") })?;
                request = request.header(IDEMPOTENCY_KEY, v);
            }
            let cached = if cacheable && !call.headers.contains_key(http::header::IF_NONE_MATCH) {
                inner.cache.as_ref().and_then(|c| c.get(&call.url, &call.headers))
            } else {
                None
            };
            if let Some(c) = &cached {
                request = request.header(http::header::IF_NONE_MATCH, c.etag.clone());
            }
            if let Some(body) = &call.body {
                request = request.body(body.clone());
            }
            let left = call.left();
            if left.is_zero() {
                return Err(Error::BudgetExhausted { budget: call.budget, what: "before sending".into(), last: None });
            }
            request = request.timeout(left);
            tracing::debug!(attempt, method = %call.method, url = %call.url, "sending");
            let sent = match request.send().await {
                Ok(mut r) => {
                    let status = r.status();
                    // Taken, not cloned: the body is all that is left to read.
                    let headers = std::mem::take(r.headers_mut());
                    r.bytes().await.map(|body| (status, headers, body))
                }
                Err(e) => Err(e),
            };
            let next = match sent {
                Err(source) => {
                    if let Some(p) = &inner.pacer {
                        p.observe(&host, &call.method, None, None);
                    }
                    let error = Error::Transport { url: call.url.to_string(), source };
                    if call.token_request || !call.repeatable() {
                        return Err(error);
                    }
                    self.backoff(&call, &host, &mut retries, error)
                }
                Ok((status, headers, body)) => {
                    let retry_after = RetryAfter::from_headers(&headers);
                    let now = SystemTime::now();
                    if let Some(p) = &inner.pacer {
                        let block =
                            (status == StatusCode::TOO_MANY_REQUESTS).then(|| retry_after.map(|r| r.delay(now)));
                        p.observe(&host, &call.method, Some(&headers), block.flatten());
                    }
                    let response = Response {
                        status,
                        headers,
                        body,
                        url: Some(call.url.clone()),
                        from_cache: false,
                        attempts: attempt,
                    };
                    self.decide(&call, &host, response, cached, &held, &mut refreshed, &mut retries, retry_after, now)
                        .await?
                }
            };
            match next {
                Next::Return(r) => return Ok(r),
                Next::Fail(e) => return Err(e),
                Next::Wait(d) => tokio::time::sleep(d).await,
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn decide(
        &self,
        call: &Call,
        host: &str,
        response: Response,
        cached: Option<std::sync::Arc<crate::conditional::Cached>>,
        held: &Option<crate::token::Held>,
        refreshed: &mut bool,
        retries: &mut u32,
        retry_after: Option<RetryAfter>,
        now: SystemTime,
    ) -> Result<Next, Error> {
        let inner = &self.inner;
        let status = response.status();
        if status.is_success() || status.is_redirection() || status.is_informational() {
            inner.budgets.deposit(host);
            if let Some(cache) = &inner.cache {
                if status == StatusCode::NOT_MODIFIED {
                    if let Some(c) = cached {
                        tracing::debug!(url = %call.url, "304: served from the ETag cache");
                        return Ok(Next::Return(c.refreshed(&response)));
                    }
                } else if call.method == Method::GET {
                    if call.use_cache && status == StatusCode::OK {
                        cache.store(&call.url, &call.headers, &response);
                    }
                } else if status.is_success() && call.method != Method::HEAD {
                    // A write invalidates what was read from the same URL (RFC 9111 §4.4).
                    cache.invalidate(&call.url);
                }
            }
            return Ok(Next::Return(response));
        }
        if status == StatusCode::UNAUTHORIZED && !*refreshed {
            if let (Some(tokens), Some(h)) = (&inner.tokens, held) {
                let invalid = Challenge::bearer(response.headers()).is_some_and(|c| c.error() == Some("invalid_token"));
                if invalid {
                    *refreshed = true;
                    tracing::info!(url = %call.url, "401 invalid_token: refreshing the token once");
                    if tokens.after_rejection(self, h.generation).await?.is_some() {
                        return Ok(Next::Wait(Duration::ZERO));
                    }
                }
            }
            return Ok(Next::Return(response));
        }
        let refused = status == StatusCode::TOO_MANY_REQUESTS
            || (status == StatusCode::SERVICE_UNAVAILABLE && (call.repeatable() || call.token_request));
        if refused {
            if let Some(ra) = retry_after {
                let wait = ra.delay(now);
                let until = ra.until(now);
                let limit = if wait > inner.settings.max_wait {
                    Some(WaitLimit::MaxWait(inner.settings.max_wait))
                } else if wait >= call.left() {
                    Some(WaitLimit::Budget(call.left()))
                } else {
                    None
                };
                if let Some(limit) = limit {
                    let problem =
                        Problem::from_response(status.as_u16(), response.headers(), response.body()).map(Box::new);
                    return Ok(Next::Fail(Error::RetryAfterTooLong {
                        status: status.as_u16(),
                        until,
                        wait,
                        limit,
                        problem,
                    }));
                }
                if response.attempts >= inner.settings.max_attempts {
                    return Ok(Next::Return(response));
                }
                tracing::info!(status = status.as_u16(), wait_ms = wait.as_millis() as u64, url = %call.url, "waiting out Retry-After");
                return Ok(Next::Wait(wait));
            }
            // No (valid) Retry-After: back off as for any failure.
            return Ok(self.backoff(call, host, retries, Error::from_response(response.clone())).or_return(response));
        }
        let in_flight = status == StatusCode::CONFLICT && call.key.is_some() && is_keyed(&call.method);
        if in_flight {
            // The same key is still being processed (a previous attempt of this very call).
            let wait = retry_after.map_or_else(|| inner.settings.backoff.delay(*retries + 1), |r| r.delay(now));
            *retries += 1;
            if wait >= call.left() || response.attempts >= inner.settings.max_attempts {
                return Ok(Next::Return(response));
            }
            tracing::info!(wait_ms = wait.as_millis() as u64, url = %call.url, "409: the same Idempotency-Key is in flight; waiting");
            return Ok(Next::Wait(wait));
        }
        let flaky = matches!(status, StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT)
            || (status == StatusCode::SERVICE_UNAVAILABLE && call.repeatable());
        if flaky && call.repeatable() && !call.token_request {
            return Ok(self.backoff(call, host, retries, Error::from_response(response.clone())).or_return(response));
        }
        Ok(Next::Return(response))
    }

    /// After a failure without `Retry-After`: wait with jitter, if the attempts, the budget and
    /// the per-host retry budget allow.
    fn backoff(&self, call: &Call, host: &str, retries: &mut u32, last: Error) -> Next {
        let settings = &self.inner.settings;
        *retries += 1;
        if *retries >= settings.max_attempts {
            return Next::Fail(last);
        }
        let delay = settings.backoff.delay(*retries);
        if delay >= call.left() {
            return Next::Fail(Error::BudgetExhausted {
                budget: call.budget,
                what: format!("a retry after {} ms would pass the deadline", delay.as_millis()),
                last: Some(Box::new(last)),
            });
        }
        if !self.inner.budgets.withdraw(host) {
            return Next::Fail(Error::RetryBudgetExhausted { host: host.to_owned(), last: Box::new(last) });
        }
        tracing::info!(retry = *retries, delay_ms = delay.as_millis() as u64, url = %call.url, error = %last, "retrying");
        Next::Wait(delay)
    }
}

impl Next {
    /// A failure that still has an answer returns the answer itself when the retry is given up
    /// for want of attempts (so its own status and problem become the error).
    fn or_return(self, response: Response) -> Next {
        match self {
            Next::Fail(Error::Problem(_) | Error::Status(_)) => Next::Return(response),
            other => other,
        }
    }
}
