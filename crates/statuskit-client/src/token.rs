//! OAuth2 access tokens (RFC 6749): the password, client-credentials and refresh-token grants,
//! refreshed before they expire, and one refresh at a time however many calls need it.
//!
//! The single flight: a call that finds the token fresh uses it without waiting; a call that finds
//! it stale waits for the refresh gate, then looks again, so only the first of many concurrent
//! calls asks the token endpoint and the others take its answer. A 401 `invalid_token` names the
//! token it refused (by generation), so a refresh that already replaced it is not repeated. A
//! refresh token is used once (the server rotates it, and reuse would revoke the grant), and a
//! token request is never retried after a transport failure for the same reason.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::error::{Error, OAuthError, OAuthErrorCode};
use crate::request::Call;
use crate::Client;

/// How the client gets its access token.
#[derive(Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// The resource owner password grant.
    Password {
        /// The user.
        username: String,
        /// The password.
        password: String,
    },
    /// The client credentials grant (the client acts for itself).
    ClientCredentials,
    /// A refresh token obtained earlier.
    RefreshToken(String),
    /// A bearer token given as is, never refreshed.
    Bearer(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets are never printed.
        match self {
            Credentials::Password { username, .. } => write!(f, "Password {{ username: {username:?}, .. }}"),
            Credentials::ClientCredentials => f.write_str("ClientCredentials"),
            Credentials::RefreshToken(_) => f.write_str("RefreshToken(..)"),
            Credentials::Bearer(_) => f.write_str("Bearer(..)"),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// The `Authorization` value (`Bearer …`), made once per token rather than once per request.
    access: Option<http::HeaderValue>,
    refresh: Option<String>,
    refresh_at: Option<Instant>,
    generation: u64,
}

/// A token the client holds (as its `Authorization` value), with the generation that names it.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    pub(crate) header: http::HeaderValue,
    pub(crate) generation: u64,
}

pub(crate) struct Tokens {
    pub(crate) token_url: url::Url,
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<String>,
    pub(crate) credentials: Credentials,
    pub(crate) scope: Option<String>,
    pub(crate) refresh_before: Duration,
    state: Mutex<State>,
    gate: tokio::sync::Mutex<()>,
    requests: AtomicU64,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
    refresh_token: Option<String>,
}

impl Tokens {
    pub(crate) fn new(
        token_url: url::Url,
        client_id: String,
        client_secret: Option<String>,
        credentials: Credentials,
        scope: Option<String>,
        refresh_before: Duration,
    ) -> Self {
        let state = match &credentials {
            Credentials::Bearer(t) => State { access: authorization(t), ..State::default() },
            _ => State::default(),
        };
        Tokens {
            token_url,
            client_id,
            client_secret,
            credentials,
            scope,
            refresh_before,
            state: Mutex::new(state),
            gate: tokio::sync::Mutex::new(()),
            requests: AtomicU64::new(0),
        }
    }

    /// Token requests sent so far.
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn fresh(&self) -> Option<Held> {
        let s = self.state.lock().expect("token lock");
        let header = s.access.clone()?;
        if s.refresh_at.is_some_and(|at| Instant::now() >= at) {
            return None;
        }
        Some(Held { header, generation: s.generation })
    }

    /// A token to send: the one held if it is fresh, else a new one (one refresh at a time).
    pub(crate) async fn current(&self, client: &Client) -> Result<Held, Error> {
        if let Some(t) = self.fresh() {
            return Ok(t);
        }
        let _gate = self.gate.lock().await;
        if let Some(t) = self.fresh() {
            return Ok(t);
        }
        self.fetch(client).await
    }

    /// The server refused token `generation` as `invalid_token`: a new one, unless another call
    /// already replaced it; `None` when there is no way to get another (a fixed bearer token).
    pub(crate) async fn after_rejection(&self, client: &Client, generation: u64) -> Result<Option<Held>, Error> {
        let _gate = self.gate.lock().await;
        {
            let s = self.state.lock().expect("token lock");
            if s.generation != generation {
                if let Some(header) = s.access.clone() {
                    return Ok(Some(Held { header, generation: s.generation }));
                }
            }
        }
        if matches!(self.credentials, Credentials::Bearer(_)) {
            return Ok(None);
        }
        self.fetch(client).await.map(Some)
    }

    /// Asks the token endpoint; the caller holds the gate.
    async fn fetch(&self, client: &Client) -> Result<Held, Error> {
        let refresh = self.state.lock().expect("token lock").refresh.take();
        if let Some(rt) = refresh {
            match self.grant(client, &[("grant_type", "refresh_token"), ("refresh_token", &rt)]).await {
                Ok(t) => return Ok(t),
                // An expired or revoked refresh token: start over with the original grant, if it
                // can be replayed.
                Err(Error::OAuth(e))
                    if e.error == OAuthErrorCode::InvalidGrant
                        && matches!(
                            self.credentials,
                            Credentials::Password { .. } | Credentials::ClientCredentials
                        ) =>
                {
                    tracing::info!("refresh token refused ({e}); signing in again");
                }
                Err(e) => return Err(e),
            }
        }
        match &self.credentials {
            Credentials::Password { username, password } => {
                self.grant(client, &[("grant_type", "password"), ("username", username), ("password", password)]).await
            }
            Credentials::ClientCredentials => self.grant(client, &[("grant_type", "client_credentials")]).await,
            Credentials::RefreshToken(rt) => {
                self.grant(client, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await
            }
            Credentials::Bearer(_) => {
                let s = self.state.lock().expect("token lock");
                let header = s
                    .access
                    .clone()
                    .ok_or_else(|| Error::Config("the bearer token is not a valid header value".into()))?;
                Ok(Held { header, generation: s.generation })
            }
        }
    }

    async fn grant(&self, client: &Client, form: &[(&str, &str)]) -> Result<Held, Error> {
        let mut pairs: Vec<(&str, &str)> = form.to_vec();
        if let Some(scope) = &self.scope {
            if form[0].1 != "refresh_token" {
                pairs.push(("scope", scope));
            }
        }
        if self.client_secret.is_none() {
            pairs.push(("client_id", &self.client_id));
        }
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        let mut call = Call::new(client, http::Method::POST, self.token_url.clone());
        call.auth = false;
        call.token_request = true;
        call.headers
            .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/x-www-form-urlencoded"));
        if let Some(secret) = &self.client_secret {
            call.headers.insert(http::header::AUTHORIZATION, basic(&self.client_id, secret));
        }
        call.body = Some(body.into());
        self.requests.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(grant = form[0].1, url = %self.token_url, "token request");
        // Boxed: `execute` asks for tokens, and this is how it gets them.
        let response = Box::pin(client.execute(call)).await?;
        if !response.status().is_success() {
            return Err(match OAuthError::from_response(&response) {
                Some(e) => Error::OAuth(Box::new(e)),
                None => Error::from_response(response),
            });
        }
        let t: TokenResponse = response.json()?;
        let now = Instant::now();
        let mut s = self.state.lock().expect("token lock");
        s.generation += 1;
        s.access = Some(authorization(&t.access_token).ok_or_else(|| {
            Error::Config("the token endpoint returned an access token that is not a valid header value".into())
        })?);
        s.refresh = t.refresh_token;
        s.refresh_at = t.expires_in.map(|secs| {
            let life = Duration::from_secs(secs);
            now + life.saturating_sub(self.refresh_before.min(life / 5))
        });
        Ok(Held { header: s.access.clone().expect("just set"), generation: s.generation })
    }
}

/// `Authorization: Bearer TOKEN`, marked sensitive; `None` if the token cannot be a header value.
fn authorization(token: &str) -> Option<http::HeaderValue> {
    let mut v = http::HeaderValue::try_from(format!("Bearer {token}")).ok()?;
    v.set_sensitive(true);
    Some(v)
}

/// `Authorization: Basic` for a client (RFC 6749 §2.3.1: id and secret form-urlencoded first).
fn basic(id: &str, secret: &str) -> http::HeaderValue {
    use base64::Engine as _;
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let raw = format!("{}:{}", enc(id), enc(secret));
    let value = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw));
    let mut v = http::HeaderValue::try_from(value).expect("base64 is a valid header value");
    v.set_sensitive(true);
    v
}
