//! `statuskit-bench serve`: both routers in one process, on one tokio runtime.
//!
//! Why one process and one runtime: the scenarios never run at the same time (run.sh drives one
//! wrk at a time), so the idle router costs nothing, and sharing the runtime gives the bare and
//! the full stack exactly the same scheduler, worker thread, allocator and CPU. run.sh starts this
//! process under `taskset -c 0` with one worker thread and wrk under `taskset -c 1`, so the load
//! generator never takes CPU from the server; sqlx's SQLite connection threads are spawned by
//! this process and inherit its affinity, so the database work is on the server's core too, for
//! both routers alike.
//!
//! The tracing subscriber is the one `statuskit serve` installs (`RUST_LOG`, default `info`,
//! fmt to stderr), because the full stack opens an `info` span per request and its cost is part
//! of what production pays. `RUST_LOG=off` measures the stack without it.

use std::future::IntoFuture;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use statuskit::negotiate::Format;
use statuskit_server::app::{router, App};
use statuskit_server::config::ServeConfig;
use statuskit_server::customers::model::{etag, CustomerView};
use statuskit_server::store::sqlite::SqliteStore;
use statuskit_server::store::{Customer, CustomerData, Store, StoreError};
use tokio::net::TcpListener;

use crate::ServeArgs;

type BoxError = Box<dyn std::error::Error>;

/// The columns `SqliteStore::get` selects, in its order.
const COLUMNS: &str = "id, name, email, version, created_ms, updated_ms";

/// Runs `serve`: builds the runtime, then serves until SIGTERM, Ctrl-C or `--max-seconds`.
pub(crate) fn run(args: ServeArgs) -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> Result<(), BoxError> {
    let store = SqliteStore::open(&args.database).await?;
    let customer = seed(&store).await?;
    let bare_pool = bare_pool(&args.database).await?;

    let full_app = router(App { store, config: Arc::new(ServeConfig::for_database(args.database.clone())) });
    let bare_app = bare_router(bare_pool);

    let bare = TcpListener::bind(("127.0.0.1", 0)).await?;
    let full = TcpListener::bind(("127.0.0.1", 0)).await?;
    // run.sh reads these four lines before it starts any load.
    println!("bare http://{}", bare.local_addr()?);
    println!("full http://{}", full.local_addr()?);
    println!("path /v1/customers/{}", customer.id);
    println!("etag {}", etag(&customer, Format::Json).to_header_value().to_str()?);
    tracing::info!(id = customer.id, "serving the bare and the full router");

    tokio::select! {
        r = axum::serve(bare, bare_app).into_future() => r?,
        r = axum::serve(full, full_app).into_future() => r?,
        why = shutdown(Duration::from_secs(args.max_seconds)) => tracing::info!(why, "stopping"),
    }
    Ok(())
}

/// The customer every scenario reads: created once, found again if the file is reused.
async fn seed(store: &SqliteStore) -> Result<Customer, BoxError> {
    let data = CustomerData { name: "Ada Lovelace".into(), email: "ada@example.com".into() };
    match store.create(&data).await {
        Ok(c) => Ok(c),
        Err(StoreError::Duplicate(_)) => store
            .list(0, 100)
            .await?
            .into_iter()
            .find(|c| c.email.eq_ignore_ascii_case(&data.email))
            .ok_or_else(|| "the seed customer exists but could not be found".into()),
        Err(e) => Err(e.into()),
    }
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

/// The baseline: one route, no statuskit layer or extractor, plain `axum::Json`.
fn bare_router(pool: SqlitePool) -> Router {
    Router::new().route("/v1/customers/{id}", get(bare_show)).with_state(pool)
}

/// `GET /v1/customers/{id}` as a plain axum handler: the store's query, written the same way
/// (the SQL string is formatted per call there too), and the same JSON document.
async fn bare_show(State(pool): State<SqlitePool>, UrlPath(id): UrlPath<i64>) -> Response {
    let row: Result<Option<Customer>, sqlx::Error> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM customers WHERE id = ?"))
            .bind(id)
            .fetch_optional(&pool)
            .await;
    match row {
        Ok(Some(c)) => Json(CustomerView::from(&c)).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(%e, "bare handler query failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
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
