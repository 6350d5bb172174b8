//! Conditional requests (RFC 9110 §13): a private ETag cache for GET (revalidated with
//! `If-None-Match`, a 304 served from it), and read-modify-write with `If-Match` that re-reads
//! and re-applies on 412, a bounded number of times.
//!
//! The cache is private to one client (one set of credentials): it keys on the URL and the
//! `Accept` sent (the negotiated representation), keeps only 200s with a strong or weak `ETag`
//! and without `Cache-Control: no-store`, and forgets a URL when a write to it succeeds.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Error;
use crate::response::Response;
use crate::Client;

/// A cached 200.
#[derive(Debug)]
pub(crate) struct Cached {
    pub(crate) etag: HeaderValue,
    headers: HeaderMap,
    body: Bytes,
    url: Option<url::Url>,
}

impl Cached {
    /// The cached answer, with the fields a 304 updates (RFC 9111 §4.3.4).
    pub(crate) fn refreshed(&self, not_modified: &Response) -> Response {
        let mut headers = self.headers.clone();
        for (name, value) in not_modified.headers() {
            if name != http::header::CONTENT_LENGTH {
                headers.insert(name.clone(), value.clone());
            }
        }
        Response {
            status: StatusCode::OK,
            headers,
            body: self.body.clone(),
            url: self.url.clone(),
            from_cache: true,
            attempts: not_modified.attempts,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Cache {
    entries: moka::sync::Cache<(String, String), Arc<Cached>>,
}

fn key(url: &url::Url, request_headers: &HeaderMap) -> (String, String) {
    let accept = request_headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    (url.as_str().to_owned(), accept.to_owned())
}

impl Cache {
    pub(crate) fn new(capacity: u64) -> Self {
        Cache { entries: moka::sync::Cache::builder().max_capacity(capacity).support_invalidation_closures().build() }
    }

    pub(crate) fn get(&self, url: &url::Url, request_headers: &HeaderMap) -> Option<Arc<Cached>> {
        self.entries.get(&key(url, request_headers))
    }

    pub(crate) fn store(&self, url: &url::Url, request_headers: &HeaderMap, response: &Response) {
        let Some(etag) = response.headers().get(http::header::ETAG) else { return };
        let no_store = response
            .headers()
            .get_all(http::header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|d| d.trim().eq_ignore_ascii_case("no-store")));
        if no_store {
            return;
        }
        let cached = Cached {
            etag: etag.clone(),
            headers: response.headers().clone(),
            body: response.body().clone(),
            url: response.url().cloned(),
        };
        self.entries.insert(key(url, request_headers), Arc::new(cached));
    }

    pub(crate) fn invalidate(&self, url: &url::Url) {
        let target = url.as_str().to_owned();
        // Only fails without `support_invalidation_closures`, which `new` turns on.
        let _ = self.entries.invalidate_entries_if(move |(u, _), _| *u == target);
    }
}

impl Client {
    /// Read-modify-write: GETs `path`, applies `change` to what it read, PUTs the result with
    /// `If-Match` set to the ETag it read; on 412 (someone else wrote first) starts over, up to the
    /// client's update attempts. Returns the PUT's answer.
    ///
    /// ```no_run
    /// # async fn demo(client: statuskit_client::Client) -> Result<(), statuskit_client::Error> {
    /// use serde_json::Value;
    /// client
    ///     .update("/v1/customers/1", |mut c: Value| {
    ///         c["name"] = "Ada King".into();
    ///         c
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::UpdateConflict`] after the last 412; [`Error::NoETag`] when the resource has no
    /// ETag; any error of the GET or the PUT.
    pub async fn update<T, U, F>(&self, path: &str, mut change: F) -> Result<Response, Error>
    where
        T: DeserializeOwned,
        U: Serialize,
        F: FnMut(T) -> U,
    {
        let attempts = self.inner.settings.update_attempts;
        for attempt in 1..=attempts {
            let current = self.get(path).send().await?;
            let Some(etag) = current.etag().map(str::to_owned) else {
                return Err(Error::NoETag { url: current.url().map_or_else(|| path.to_owned(), |u| u.to_string()) });
            };
            let new = change(current.json()?);
            match self.put(path).header("if-match", &etag).json(&new).send().await {
                Err(e) if e.status() == Some(412) => {
                    // Someone wrote in between: read again, after a short jittered pause so that
                    // writers who collided do not collide again at once.
                    let pause = Duration::from_millis(fastrand::u64(0..=(10 * u64::from(attempt)).min(200)));
                    tracing::debug!(attempt, path, "412: re-reading and re-applying");
                    tokio::time::sleep(pause).await;
                }
                other => return other,
            }
        }
        Err(Error::UpdateConflict { url: self.url(path)?.to_string(), attempts })
    }
}
