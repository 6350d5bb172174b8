//! A response read whole: status, headers and body, with where it came from.

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::{body_start, Error};

/// A final answer (2xx or 3xx from [`RequestBuilder::send`](crate::RequestBuilder::send)).
#[derive(Debug, Clone)]
pub struct Response {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) url: Option<url::Url>,
    pub(crate) from_cache: bool,
    pub(crate) attempts: u32,
}

impl Response {
    /// A response made of its parts (for tests and for turning answers into [`Error`]s).
    pub fn from_parts(status: StatusCode, headers: HeaderMap, body: impl Into<Bytes>) -> Self {
        Response { status, headers, body: body.into(), url: None, from_cache: false, attempts: 1 }
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    ///
    /// # Errors
    /// [`Error::Decode`] when it is not the JSON `T` expects.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body)
            .map_err(|source| Error::Decode { source, body_start: body_start(&self.body) })
    }

    /// The URL this answer came from.
    pub fn url(&self) -> Option<&url::Url> {
        self.url.as_ref()
    }

    /// The `ETag`, if any.
    pub fn etag(&self) -> Option<&str> {
        self.headers.get(http::header::ETAG).and_then(|v| v.to_str().ok())
    }

    /// `Location`, resolved against the URL of the request.
    pub fn location(&self) -> Option<url::Url> {
        let value = self.headers.get(http::header::LOCATION)?.to_str().ok()?;
        match &self.url {
            Some(base) => base.join(value).ok(),
            None => url::Url::parse(value).ok(),
        }
    }

    /// `true` when this is a cached 200 served because the server answered 304.
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }

    /// How many HTTP requests this logical call took.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}
