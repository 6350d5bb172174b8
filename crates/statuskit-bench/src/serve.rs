//! `statuskit-bench serve`: the full service and two bare axum baselines in one process, on one
//! tokio runtime.
//!
//! * `full`: `statuskit_server::app::router`, as `statuskit serve` builds it with its default
//!   settings (every statuskit layer and extractor, the bearer-token check and the in-memory
//!   rate limiter every `/v1` route runs), except that the rate limits are raised out of reach:
//!   the limiter runs on every request, but the bench's one client never gets a 429;
//! * `bare`: one route, plain axum, `axum::Json`, the store's customer query and nothing else;
//! * `bare_auth`: `bare` plus the same token lookup the full stack does per request (the store's
//!   token query on the SHA-256 of the bearer token), still without any statuskit code. It
//!   separates what the contract's layers cost from what the extra database round trip of
//!   authentication costs.
//!
//! Why one process and one runtime: the scenarios never run at the same time (run.sh drives one
//! wrk at a time), so an idle router costs nothing, and sharing the runtime gives the baselines
//! and the full stack exactly the same scheduler, worker thread, allocator and CPU. run.sh starts
//! this process under `taskset -c 0` with one worker thread and wrk under `taskset -c 1`, so the
//! load generator never takes CPU from the server; sqlx's SQLite connection threads are spawned
//! by this process and inherit its affinity, so the database work is on the server's core too,
//! for every router alike. Each router has its own pool (4 connections, as the store's) over the
//! same file.
//!
//! The tracing subscriber is the one `statuskit serve` installs (`statuskit_server::logging`:
//! `RUST_LOG`, default `info`, plain text to stderr when it is not a terminal), because the full stack opens an `info` span per request and its cost is part
//! of what production pays. `RUST_LOG=off` measures the stack without it.

use std::future::IntoFuture;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use statuskit::negotiate::Format;
use statuskit_server::app::router;
use statuskit_server::auth::now_ms;
use statuskit_server::auth::scope::Scopes;
use statuskit_server::auth::secrets::{new_token, token_hash};
use statuskit_server::config::ServeConfig;
use statuskit_server::customers::model::{etag, CustomerView};
use statuskit_server::operations::monitor_path;
use statuskit_server::state::App;
use statuskit_server::store::sqlite::SqliteStore;
use statuskit_server::store::{AuthStore, Customer, CustomerData, CustomerStore, OperationStore, StoreError, Token};
use tokio::net::TcpListener;

use crate::ServeArgs;

type BoxError = Box<dyn std::error::Error>;

/// The columns `SqliteStore::get` selects, in its order.
const COLUMNS: &str = "id, account_id, name, email, version, created_ms, updated_ms";
/// The columns `SqliteStore::find_token` selects, in its order.
const TOKEN_COLUMNS: &str = "hash, kind, client_id, user_id, account_id, scopes, family, expires_ms, revoked, used";
/// Requests per rate-limit window for the full stack: far above what one core can serve.
const UNREACHABLE_LIMIT: u32 = 1_000_000_000;
/// The account the seeded customer and the bench token belong to (created by the migrations).
const ACCOUNT: i64 = 1;
/// The user the second bench token acts for: `/v1/operations` answers only a user's own
/// operations, and a client's own token has no user. No row is needed (tokens and operations
/// refer to users by id only).
const USER: i64 = 1_000_000;

/// Runs `serve`: builds the runtime, then serves until SIGTERM, Ctrl-C or `--max-seconds`.
pub(crate) fn run(args: ServeArgs) -> Result<(), BoxError> {
    statuskit_server::logging::init();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.workers.max(1)).enable_all().build()?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> Result<(), BoxError> {
    let store = SqliteStore::open(&args.database).await?;
    let customer = seed(&store).await?;
    let token = issue_token(&store, None).await?;
    let user_token = issue_token(&store, Some(USER)).await?;
    let (done, running) = seed_operations(&store).await?;

    let mut config = ServeConfig::for_database(args.database.clone());
    config.rate_limit_reads = args.rate_limit_reads.unwrap_or(UNREACHABLE_LIMIT);
    config.rate_limit_writes = UNREACHABLE_LIMIT;
    config.rate_limit_window_seconds = args.rate_limit_window_seconds;
    config.max_in_flight = args.max_in_flight;
    config.fault_injection = args.fault_injection;
    let server = statuskit_server::serve::server_config(&config);
    let full_app = router(App::new(store, config)?);
    let bare_app =
        Router::new().route("/v1/customers/{id}", get(bare_show)).with_state(bare_pool(&args.database).await?);
    let bare_auth_app =
        Router::new().route("/v1/customers/{id}", get(bare_auth_show)).with_state(bare_pool(&args.database).await?);

    let bare = TcpListener::bind(("127.0.0.1", 0)).await?;
    let bare_auth = TcpListener::bind(("127.0.0.1", 0)).await?;
    let full = TcpListener::bind(("127.0.0.1", 0)).await?;
    // run.sh reads these lines before it starts any load.
    println!("bare http://{}", bare.local_addr()?);
    println!("bare_auth http://{}", bare_auth.local_addr()?);
    println!("full http://{}", full.local_addr()?);
    println!("path /v1/customers/{}", customer.id);
    println!("etag {}", etag(&customer, Format::Json).to_header_value().to_str()?);
    println!("token {token}");
    println!("user_token {user_token}");
    println!("op_done {}", monitor_path(&done));
    println!("op_running {}", monitor_path(&running));
    tracing::info!(id = customer.id, "serving the bare, bare_auth and full routers");

    // The full service is served as `statuskit serve` serves it: statuskit's own accept loop
    // (timeouts, caps, lingering close), with the peer address.
    tokio::select! {
        r = axum::serve(bare, bare_app).into_future() => r?,
        r = axum::serve(bare_auth, bare_auth_app).into_future() => r?,
        r = statuskit::server::serve(full, full_app, server, std::future::pending()) => r?,
        why = shutdown(Duration::from_secs(args.max_seconds)) => tracing::info!(why, "stopping"),
    }
    Ok(())
}

/// The customer every scenario reads: created once, found again if the file is reused.
async fn seed(store: &SqliteStore) -> Result<Customer, BoxError> {
    let data = CustomerData { name: "Ada Lovelace".into(), email: "ada@example.com".into() };
    match store.create(ACCOUNT, &data, None).await {
        Ok((c, _)) => Ok(c),
        Err(StoreError::Duplicate(_)) => store
            .list(ACCOUNT, 0, 100)
            .await?
            .into_iter()
            .find(|c| c.email.eq_ignore_ascii_case(&data.email))
            .ok_or_else(|| "the seed customer exists but could not be found".into()),
        Err(e) => Err(e.into()),
    }
}

/// A fresh access token with every scope, valid for a day, stored as the token endpoint stores
/// one (only its hash), acting for `user` if given (as a password-grant token does). Inserted
/// directly: the token endpoint is not what is measured.
async fn issue_token(store: &SqliteStore, user: Option<i64>) -> Result<String, BoxError> {
    let token = new_token();
    store
        .insert_tokens(&[Token {
            hash: token_hash(&token),
            kind: "access".into(),
            client_id: "statuskit-bench".into(),
            user_id: user,
            account_id: ACCOUNT,
            scopes: Scopes::all().to_string(),
            family: new_token(),
            expires_ms: now_ms() + 24 * 3600 * 1000,
            revoked: false,
            used: false,
        }])
        .await?;
    Ok(token)
}

/// Two avatar operations of [`USER`] for the monitor polls, made through the store as the
/// upload handler and the worker make them: one succeeded (its monitor answers 303) and one left
/// running (200 with `Retry-After`; no worker runs in this process, so it stays running). The
/// succeeded one stores no images: the monitor does not read them. Returns their ids.
async fn seed_operations(store: &SqliteStore) -> Result<(String, String), BoxError> {
    let mut ids = Vec::new();
    for finish in [true, false] {
        let id = match store.queue_avatar(USER, "image/png", b"not read").await? {
            Ok(op) => op.id,
            Err(already) => already,
        };
        if let Some((op, _, _)) = store.claim().await? {
            if finish {
                store.succeed(&op, &[]).await?;
            }
        }
        ids.push(id);
    }
    let running = ids.pop().ok_or("no running operation")?;
    let done = ids.pop().ok_or("no finished operation")?;
    Ok((done, running))
}

/// A pool over the same file with the options `SqliteStore::open` uses.
async fn bare_pool(path: &Path) -> Result<SqlitePool, sqlx::Error> {
    let options = SqliteConnectOptions::from_str("sqlite:")?
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    SqlitePoolOptions::new().max_connections(4).connect_with(options).await
}

/// The store's customer query, written the same way (the SQL is formatted per call there too).
async fn load(pool: &SqlitePool, account: i64, id: i64) -> Result<Option<Customer>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM customers WHERE id = ? AND account_id = ?"))
        .bind(id)
        .bind(account)
        .fetch_optional(pool)
        .await
}

/// The same JSON document the full stack sends, as plain `axum::Json`.
fn answer(row: Result<Option<Customer>, sqlx::Error>) -> Response {
    match row {
        Ok(Some(c)) => Json(CustomerView::from(&c)).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(%e, "bare handler query failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `GET /v1/customers/{id}` as a plain axum handler: no statuskit code, no authentication.
async fn bare_show(State(pool): State<SqlitePool>, UrlPath(id): UrlPath<i64>) -> Response {
    answer(load(&pool, ACCOUNT, id).await)
}

/// `bare_show` plus the full stack's per-request token lookup: the bearer token is hashed and
/// looked up with the store's token query; the caller's account then scopes the read.
async fn bare_auth_show(State(pool): State<SqlitePool>, headers: HeaderMap, UrlPath(id): UrlPath<i64>) -> Response {
    let Some(token) =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
    else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let found: Result<Option<Token>, sqlx::Error> =
        sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = ?"))
            .bind(token_hash(token))
            .fetch_optional(&pool)
            .await;
    let account = match found {
        Ok(Some(t)) if t.kind == "access" && !t.revoked && t.expires_ms > now_ms() => t.account_id,
        Ok(_) => return StatusCode::UNAUTHORIZED.into_response(),
        Err(e) => return answer(Err(e)),
    };
    answer(load(&pool, account, id).await)
}

/// Resolves on SIGTERM, Ctrl-C or after `limit`, naming which.
async fn shutdown(limit: Duration) -> &'static str {
    let ctrl_c = tokio::signal::ctrl_c();
    let timer = tokio::time::sleep(limit);
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => "ctrl-c",
            _ = term.recv() => "SIGTERM",
            () = timer => "--max-seconds reached",
        }
    }
    #[cfg(not(unix))]
    tokio::select! {
        _ = ctrl_c => "ctrl-c",
        () = timer => "--max-seconds reached",
    }
}
