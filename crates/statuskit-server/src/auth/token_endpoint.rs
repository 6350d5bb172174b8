//! `POST /oauth/token` (RFC 6749: password, client_credentials, refresh_token with rotation) and
//! `POST /oauth/revoke` (RFC 7009).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue};
use serde::Serialize;
use statuskit::auth::Authorization;
use statuskit::body::content_type_essence;
use statuskit::header::{mime, CONTENT_TYPE};
use statuskit::retry_after::RetryAfter;
use statuskit::Problem;

use super::hashing::HashError;
use super::now_ms;
use super::oauth_error::{no_store, OAuthError};
use super::scope::Scopes;
use super::secrets::{new_token, random_string, token_hash};
use crate::state::App;
use crate::store::{Client, Store, Token};

/// Largest form body read, in bytes.
const FORM_LIMIT: usize = 16 * 1024;

/// Success body (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
struct Issued {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    scope: String,
}

/// Why a token request failed: an OAuth error, a 429 problem, or a store failure.
#[derive(Debug)]
enum Refusal {
    OAuth(OAuthError),
    Problem(Problem),
}

impl From<OAuthError> for Refusal {
    fn from(e: OAuthError) -> Self {
        Refusal::OAuth(e)
    }
}

impl From<Problem> for Refusal {
    fn from(p: Problem) -> Self {
        Refusal::Problem(p)
    }
}

impl From<HashError> for Refusal {
    fn from(e: HashError) -> Self {
        Refusal::Problem(e.into())
    }
}

impl From<crate::store::StoreError> for Refusal {
    fn from(e: crate::store::StoreError) -> Self {
        Refusal::Problem(e.into())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut res = match self {
            Refusal::OAuth(e) => e.into_response(),
            Refusal::Problem(p) => p.into_response(),
        };
        no_store(&mut res);
        res
    }
}

/// Where clients get tokens (RFC 6749).
pub const TOKEN_PATH: &str = "/oauth/token";

type Form = HashMap<String, String>;

/// Reads the form: `application/x-www-form-urlencoded`, each parameter at most once.
async fn read_form(req: Request) -> Result<(HeaderMap, Option<IpAddr>, Form), Refusal> {
    let ip = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let (parts, body) = req.into_parts();
    let essence = parts.headers.get(CONTENT_TYPE).and_then(|v| content_type_essence(v.as_bytes()));
    if essence.as_deref() != Some(mime::FORM) {
        return Err(OAuthError::invalid_request(format!("send the parameters as {}", mime::FORM)).into());
    }
    statuskit::body::check_content_encoding(&parts.headers)?;
    let bytes = axum::body::to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| OAuthError::invalid_request(format!("the form is larger than {FORM_LIMIT} bytes")))?;
    let mut form = Form::new();
    for (k, v) in form_urlencoded::parse(&bytes) {
        if form.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(OAuthError::invalid_request(format!("parameter `{k}` is repeated")).into());
        }
    }
    Ok((parts.headers, ip, form))
}

fn required<'a>(form: &'a Form, name: &str) -> Result<&'a str, OAuthError> {
    form.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::invalid_request(format!("parameter `{name}` is missing")))
}

/// Client authentication: HTTP Basic or `client_id` + `client_secret` in the body, not both.
///
/// A secret verified recently ([`super::verified`]) is accepted without a hash. Any other attempt
/// counts against the client id's and the address's limit first (429 once spent, before any
/// hash), then is verified on the bounded hashing pool ([`super::hashing`]).
async fn authenticate_client<S: Store>(
    app: &App<S>,
    ip: Option<IpAddr>,
    headers: &HeaderMap,
    form: &mut Form,
) -> Result<Client, Refusal> {
    let from_header = match Authorization::from_headers(headers) {
        Ok(Some(Authorization::Basic { user, password })) => Some((user, password)),
        Ok(Some(_)) => return Err(OAuthError::invalid_client("authenticate the client with HTTP Basic").into()),
        Ok(None) => None,
        Err(e) => return Err(OAuthError::invalid_request(e.0).into()),
    };
    let in_body = form.contains_key("client_secret");
    let (id, secret) = match (from_header, in_body) {
        (Some(_), true) => {
            return Err(OAuthError::invalid_request("use one client authentication method, not both").into())
        }
        (Some(pair), false) => pair,
        (None, true) => {
            (form.remove("client_id").unwrap_or_default(), form.remove("client_secret").unwrap_or_default())
        }
        (None, false) => return Err(OAuthError::invalid_client("client authentication is required").into()),
    };
    let client = app.store.find_client(&id).await?;
    if let Some(c) = client.as_ref().filter(|c| app.verified.matches(&id, &secret, &c.secret_hash)) {
        return Ok(c.clone());
    }
    if let Some(login) = &app.login {
        if let Err(wait) = login.client_attempt(&id, ip).await {
            return Err(Problem::too_many_requests(
                RetryAfter::from_duration(wait),
                "too many client authentication attempts for this client or address; wait before trying again",
            )
            .into());
        }
    }
    let right = app.hashes.verify(&secret, client.as_ref().map(|c| c.secret_hash.as_str())).await?;
    match client {
        Some(c) if right => {
            app.verified.insert(&id, &secret, &c.secret_hash);
            Ok(c)
        }
        _ => Err(OAuthError::invalid_client("client authentication failed").into()),
    }
}

/// The scopes to grant: the requested ones (or all allowed), which must all be allowed.
fn grant_scopes(form: &Form, allowed: Scopes) -> Result<Scopes, OAuthError> {
    match form.get("scope") {
        None => Ok(allowed),
        Some(list) => {
            let requested =
                Scopes::parse(list).map_err(|s| OAuthError::invalid_scope(format!("unknown scope `{s}`")))?;
            if requested.is_empty() {
                return Err(OAuthError::invalid_scope("the scope list is empty"));
            }
            if !requested.is_subset(allowed) {
                return Err(OAuthError::invalid_scope(format!("the scopes that may be granted here are `{allowed}`")));
            }
            Ok(requested)
        }
    }
}

/// `POST /oauth/token`.
pub async fn token<S: Store>(State(app): State<App<S>>, req: Request) -> Response {
    match issue(&app, req).await {
        Ok(issued) => {
            let mut res = (
                [(CONTENT_TYPE, HeaderValue::from_static(mime::JSON_UTF8))],
                serde_json::to_string(&issued).expect("plain data serializes"),
            )
                .into_response();
            no_store(&mut res);
            res
        }
        Err(refusal) => refusal.into_response(),
    }
}

async fn issue<S: Store>(app: &App<S>, req: Request) -> Result<Issued, Refusal> {
    let (headers, ip, mut form) = read_form(req).await?;
    let client = authenticate_client(app, ip, &headers, &mut form).await?;
    let grant = required(&form, "grant_type")?.to_owned();
    if !matches!(grant.as_str(), "password" | "client_credentials" | "refresh_token") {
        return Err(OAuthError::unsupported_grant_type(format!(
            "grant_type `{grant}` is not supported; use password, client_credentials or refresh_token"
        ))
        .into());
    }
    if !client.grants.split(' ').any(|g| g == grant) {
        return Err(OAuthError::unauthorized_client(format!("this client may not use the `{grant}` grant")).into());
    }
    let client_scopes = Scopes::parse(&client.scopes).unwrap_or_default();
    match grant.as_str() {
        "password" => {
            let username = required(&form, "username")?;
            let password = required(&form, "password")?;
            let limited = match &app.login {
                Some(login) => login.attempt(username, ip).await,
                None => Ok(()),
            };
            if let Err(wait) = limited {
                return Err(Problem::too_many_requests(
                    RetryAfter::from_duration(wait),
                    "too many sign-in attempts for this user or address; wait before trying again",
                )
                .into());
            }
            let user = app.store.find_user(username).await?;
            let right = app.hashes.verify(password, user.as_ref().map(|u| u.password_hash.as_str())).await?;
            let user = match user {
                Some(u) if right => u,
                _ => return Err(OAuthError::invalid_grant("the username or password is wrong").into()),
            };
            let allowed = Scopes::parse(&user.scopes).unwrap_or_default().intersect(client_scopes);
            let scopes = grant_scopes(&form, allowed)?;
            Ok(mint(app, &client, Some(user.id), user.account_id, scopes, None, true).await?)
        }
        "client_credentials" => {
            let scopes = grant_scopes(&form, client_scopes)?;
            // RFC 6749 §4.4.3: no refresh token for client credentials.
            Ok(mint(app, &client, None, client.account_id, scopes, None, false).await?)
        }
        _ => {
            let presented = required(&form, "refresh_token")?;
            let hash = token_hash(presented);
            let old = app.store.find_token(&hash).await?;
            let invalid = || OAuthError::invalid_grant("the refresh token is not valid");
            let old = old.filter(|t| t.kind == "refresh" && t.client_id == client.client_id).ok_or_else(invalid)?;
            if old.revoked {
                return Err(OAuthError::invalid_grant("the refresh token was revoked").into());
            }
            if old.expires_ms <= now_ms() {
                return Err(OAuthError::invalid_grant("the refresh token expired").into());
            }
            if !app.store.use_refresh(&hash).await? {
                // A refresh token used twice was stolen or replayed: end the whole grant.
                app.store.revoke_family(&old.family).await?;
                app.tokens.clear();
                return Err(OAuthError::invalid_grant(
                    "the refresh token was already used; every token of this grant is now revoked",
                )
                .into());
            }
            let scopes = grant_scopes(&form, Scopes::parse(&old.scopes).unwrap_or_default())?;
            Ok(mint(app, &client, old.user_id, old.account_id, scopes, Some(old.family), true).await?)
        }
    }
}

async fn mint<S: Store>(
    app: &App<S>,
    client: &Client,
    user_id: Option<i64>,
    account_id: i64,
    scopes: Scopes,
    family: Option<String>,
    with_refresh: bool,
) -> Result<Issued, Problem> {
    let family = family.unwrap_or_else(|| random_string(16));
    let now = now_ms();
    let access = new_token();
    let refresh = with_refresh.then(new_token);
    let row = |hash: String, kind: &str, ttl_s: u64| Token {
        hash,
        kind: kind.to_owned(),
        client_id: client.client_id.clone(),
        user_id,
        account_id,
        scopes: scopes.to_string(),
        family: family.clone(),
        expires_ms: now + (ttl_s as i64) * 1000,
        revoked: false,
        used: false,
    };
    let mut rows = vec![row(token_hash(&access), "access", app.config.access_token_ttl)];
    if let Some(r) = &refresh {
        rows.push(row(token_hash(r), "refresh", app.config.refresh_token_ttl));
    }
    app.store.insert_tokens(&rows).await?;
    Ok(Issued {
        access_token: access,
        token_type: "Bearer",
        expires_in: app.config.access_token_ttl,
        refresh_token: refresh,
        scope: scopes.to_string(),
    })
}

/// `POST /oauth/revoke` (RFC 7009): 200 whether or not the token was known; a refresh token
/// takes its whole grant with it.
pub async fn revoke<S: Store>(State(app): State<App<S>>, req: Request) -> Response {
    let result: Result<(), Refusal> = async {
        let (headers, ip, mut form) = read_form(req).await?;
        let client = authenticate_client(&app, ip, &headers, &mut form).await?;
        let presented = required(&form, "token")?;
        let hash = token_hash(presented);
        if let Some(t) = app.store.find_token(&hash).await? {
            if t.client_id == client.client_id {
                if t.kind == "refresh" {
                    app.store.revoke_family(&t.family).await?;
                } else {
                    app.store.revoke_token(&hash).await?;
                }
                app.tokens.clear();
            }
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            let mut res = statuskit::status::OK.code.into_response();
            no_store(&mut res);
            res
        }
        Err(refusal) => refusal.into_response(),
    }
}
