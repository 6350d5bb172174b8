//! The client and its builder.

use std::sync::Arc;
use std::time::Duration;

use http::Method;

use crate::conditional::Cache;
use crate::error::Error;
use crate::pacing::Pacer;
use crate::request::RequestBuilder;
use crate::retry::{Backoff, Budgets, RetryBudget};
use crate::token::{Credentials, Tokens};

/// A client for one API. Cheap to clone: clones share the connection pool, the token, the ETag
/// cache, the pacing state and the retry budget.
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) base: url::Url,
    pub(crate) tokens: Option<Tokens>,
    pub(crate) settings: Settings,
    pub(crate) budgets: Budgets,
    pub(crate) pacer: Option<Pacer>,
    pub(crate) cache: Option<Cache>,
}

/// The limits every call keeps (see the builder's methods).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) time_budget: Duration,
    pub(crate) max_wait: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) backoff: Backoff,
    pub(crate) idempotency_keys: bool,
    pub(crate) operation_budget: Duration,
    pub(crate) poll_min: Duration,
    pub(crate) poll_max: Duration,
    pub(crate) update_attempts: u32,
}

/// Builds a [`Client`].
///
/// ```
/// use std::time::Duration;
/// use statuskit_client::Client;
///
/// let client = Client::builder("http://127.0.0.1:8080")
///     .password("cli", "cli-secret", "admin", "change-me")
///     .time_budget(Duration::from_secs(30))
///     .max_wait(Duration::from_secs(10))
///     .build()
///     .unwrap();
/// # drop(client);
/// ```
#[must_use]
pub struct ClientBuilder {
    base: String,
    token_path: String,
    client_id: Option<String>,
    client_secret: Option<String>,
    credentials: Option<Credentials>,
    scope: Option<String>,
    refresh_before: Duration,
    settings: Settings,
    retry_budget: Option<RetryBudget>,
    pacing: bool,
    cache_capacity: u64,
    timeout_connect: Duration,
    http: Option<reqwest::Client>,
}

impl Client {
    /// A builder for an API at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn builder(base: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base: base.into(),
            token_path: "/oauth/token".into(),
            client_id: None,
            client_secret: None,
            credentials: None,
            scope: None,
            refresh_before: Duration::from_secs(30),
            settings: Settings {
                time_budget: Duration::from_secs(30),
                max_wait: Duration::from_secs(60),
                max_attempts: 10,
                backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(5)),
                idempotency_keys: true,
                operation_budget: Duration::from_secs(300),
                poll_min: Duration::from_millis(100),
                poll_max: Duration::from_secs(30),
                update_attempts: 16,
            },
            retry_budget: Some(RetryBudget::default()),
            pacing: true,
            cache_capacity: 1000,
            timeout_connect: Duration::from_secs(10),
            http: None,
        }
    }

    /// The base URL.
    pub fn base(&self) -> &url::Url {
        &self.inner.base
    }

    /// A request with any method; `path` is joined to the base URL (an absolute URL is used as is).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, path)
    }

    /// A GET.
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    /// A POST (retried with an `Idempotency-Key` the client makes for this call).
    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }

    /// A PUT.
    pub fn put(&self, path: &str) -> RequestBuilder {
        self.request(Method::PUT, path)
    }

    /// A PATCH (retried with an `Idempotency-Key`, as a POST).
    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.request(Method::PATCH, path)
    }

    /// A DELETE.
    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.request(Method::DELETE, path)
    }

    /// How many token requests this client (and its clones) sent.
    pub fn token_requests(&self) -> u64 {
        self.inner.tokens.as_ref().map_or(0, Tokens::requests)
    }

    /// The access token the client holds now, getting one if it has none (or a stale one).
    ///
    /// # Errors
    /// The token endpoint's refusal ([`Error::OAuth`]) or any failure to reach it.
    pub async fn access_token(&self) -> Result<Option<String>, Error> {
        match &self.inner.tokens {
            Some(t) => {
                let held = t.current(self).await?;
                let value = held.header.to_str().unwrap_or_default();
                Ok(Some(value.strip_prefix("Bearer ").unwrap_or(value).to_owned()))
            }
            None => Ok(None),
        }
    }

    pub(crate) fn url(&self, path: &str) -> Result<url::Url, Error> {
        self.inner.base.join(path).map_err(|source| Error::Url { url: path.to_owned(), source })
    }
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No secret: the client secret and the credentials' password are left out.
        f.debug_struct("ClientBuilder")
            .field("base", &self.base)
            .field("client_id", &self.client_id)
            .field("credentials", &self.credentials)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Signs in with the password grant, as OAuth client `client_id` / `client_secret`.
    pub fn password(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.client_id = Some(client_id.into());
        self.client_secret = Some(client_secret.into());
        self.credentials = Some(Credentials::Password { username: username.into(), password: password.into() });
        self
    }

    /// Gets tokens with the client credentials grant.
    pub fn client_credentials(mut self, client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self.client_secret = Some(client_secret.into());
        self.credentials = Some(Credentials::ClientCredentials);
        self
    }

    /// Starts from a refresh token (a client without a secret sends `client_id` in the form).
    pub fn refresh_token(
        mut self,
        client_id: impl Into<String>,
        client_secret: Option<String>,
        refresh_token: impl Into<String>,
    ) -> Self {
        self.client_id = Some(client_id.into());
        self.client_secret = client_secret;
        self.credentials = Some(Credentials::RefreshToken(refresh_token.into()));
        self
    }

    /// Sends this bearer token as is, never refreshing it.
    pub fn bearer(mut self, token: impl Into<String>) -> Self {
        self.credentials = Some(Credentials::Bearer(token.into()));
        self
    }

    /// The scope to ask for (space-separated).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The token endpoint's path or URL (default `/oauth/token`).
    pub fn token_path(mut self, path: impl Into<String>) -> Self {
        self.token_path = path.into();
        self
    }

    /// Refresh a token this long before it expires (default 30 s, at most a fifth of its life).
    pub fn refresh_before(mut self, d: Duration) -> Self {
        self.refresh_before = d;
        self
    }

    /// How long one logical call may take in all, retries and waits included (default 30 s).
    pub fn time_budget(mut self, d: Duration) -> Self {
        self.settings.time_budget = d;
        self
    }

    /// The longest `Retry-After` the client waits out (default 60 s); a longer one fails at once.
    pub fn max_wait(mut self, d: Duration) -> Self {
        self.settings.max_wait = d;
        self
    }

    /// The most HTTP attempts for one logical call (default 10).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.settings.max_attempts = n.max(1);
        self
    }

    /// The backoff for failures without `Retry-After` (default 100 ms doubling up to 5 s).
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.settings.backoff = Backoff::new(base, max);
        self
    }

    /// The per-host retry budget; `None` turns it off (default [`RetryBudget::default`]).
    pub fn retry_budget(mut self, budget: Option<RetryBudget>) -> Self {
        self.retry_budget = budget;
        self
    }

    /// Whether POST and PATCH get an `Idempotency-Key` (and so are retried); default on.
    pub fn idempotency_keys(mut self, on: bool) -> Self {
        self.settings.idempotency_keys = on;
        self
    }

    /// Pacing from `RateLimit` fields; default on.
    pub fn pacing(mut self, on: bool) -> Self {
        self.pacing = on;
        self
    }

    /// Entries of the private ETag cache for GET; 0 turns it off (default 1000).
    pub fn etag_cache(mut self, capacity: u64) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// How long waiting for a background operation may take (default 5 minutes).
    pub fn operation_budget(mut self, d: Duration) -> Self {
        self.settings.operation_budget = d;
        self
    }

    /// The bounds a monitor's `Retry-After` is clamped to (default 100 ms to 30 s).
    pub fn poll_interval(mut self, min: Duration, max: Duration) -> Self {
        self.settings.poll_min = min;
        self.settings.poll_max = max.max(min);
        self
    }

    /// How many times `update` re-reads and re-applies after a 412 (default 16).
    pub fn update_attempts(mut self, n: u32) -> Self {
        self.settings.update_attempts = n.max(1);
        self
    }

    /// Uses this reqwest client (its redirect policy should be `none`: the client follows 303 itself).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`Error::Url`] for a base URL that does not parse, [`Error::Transport`] if reqwest cannot
    /// build its client.
    pub fn build(self) -> Result<Client, Error> {
        let mut base = url::Url::parse(&self.base).map_err(|source| Error::Url { url: self.base.clone(), source })?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = match self.http {
            Some(h) => h,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(self.timeout_connect)
                .build()
                .map_err(|source| Error::Transport { url: self.base.clone(), source })?,
        };
        let tokens = match self.credentials {
            None => None,
            Some(credentials) => {
                let token_url = base
                    .join(&self.token_path)
                    .map_err(|source| Error::Url { url: self.token_path.clone(), source })?;
                Some(Tokens::new(
                    token_url,
                    self.client_id.unwrap_or_default(),
                    self.client_secret,
                    credentials,
                    self.scope,
                    self.refresh_before,
                ))
            }
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                tokens,
                settings: self.settings,
                budgets: Budgets::new(self.retry_budget),
                pacer: self.pacing.then(Pacer::default),
                cache: (self.cache_capacity > 0).then(|| Cache::new(self.cache_capacity)),
            }),
        })
    }
}
