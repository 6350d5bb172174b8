//! `statuskit serve`: open the database (SQLite or PostgreSQL, by `--database`), create the first
//! user and client, bind, print the address, serve until Ctrl-C / SIGTERM.

use std::time::Duration;

use statuskit::server::ServerConfig;
use tokio::net::TcpListener;

use crate::app::router;
use crate::auth::bootstrap::{bootstrap, Bootstrap};
use crate::config::ServeConfig;
use crate::state::App;
use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;
use crate::store::{Database, Store};

/// Runs the service until a shutdown signal, on the store `--database` names.
pub async fn run(config: ServeConfig) -> Result<(), Box<dyn std::error::Error>> {
    let lease = Duration::from_millis(config.operation_lease_ms.max(1));
    match Database::of(&config.database) {
        Database::Sqlite(path) => serve(SqliteStore::open(&path).await?.with_lease(lease), config).await,
        Database::Postgres(url) => serve(PgStore::open(&url).await?.with_lease(lease), config).await,
    }
}

/// Runs the service on an opened store until a shutdown signal.
async fn serve<S: Store>(store: S, config: ServeConfig) -> Result<(), Box<dyn std::error::Error>> {
    let generated = bootstrap(
        &store,
        &Bootstrap {
            admin_user: config.admin_user.clone(),
            admin_password: config.admin_password.clone(),
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
        },
    )
    .await?;
    let listener = TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    let swept = store.sweep_idempotency(true).await?;
    if swept > 0 {
        tracing::info!(swept, "forgot idempotency keys left in flight by the last run");
    }
    let step = Duration::from_millis(config.operation_step_delay_ms);
    let app = App::new(store, config)?;
    // Before serving: an instance started during maintenance answers 503 from its first request.
    app.maintenance.refresh(&app.store).await?;
    app.store.wake_on_new_work(app.work.clone());
    let lease = Duration::from_millis(app.config.operation_lease_ms.max(1));
    let worker = crate::worker::spawn(app.store.clone(), app.work.clone(), step, lease);
    let sweeper = app.store.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(300));
        loop {
            every.tick().await;
            if let Err(e) = sweeper.sweep_idempotency(false).await {
                tracing::warn!(error = %e, "could not sweep expired idempotency keys");
            }
        }
    });
    // Follows the maintenance switch other instances set; see `crate::maintenance` for the bound.
    let follower = app.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(follower.config.maintenance_poll_ms.max(1)));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(e) = follower.maintenance.refresh(&follower.store).await {
                tracing::warn!(error = %e, "could not read the maintenance switch; keeping the last state");
            }
        }
    });
    if let Some(limiter) = app.limiter.clone() {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                limiter.evict_idle();
            }
        });
    }
    // The first line on stdout is the address, so scripts and tests can find a port-0 service.
    println!("listening on http://{addr}");
    if let Some((user, password)) = &generated.user {
        eprintln!("statuskit: created user `{user}` with password `{password}` (shown once; keep it now)");
    }
    if let Some((id, secret)) = &generated.client {
        eprintln!("statuskit: created OAuth client `{id}` with secret `{secret}` (shown once; keep it now)");
    }
    if generated.user.is_some() || generated.client.is_some() {
        eprintln!("statuskit: get a token with: curl -s -u <client>:<secret> -d grant_type=password -d username=<user> -d password=<password> http://{addr}/oauth/token");
    }
    tracing::info!(%addr, "serving");
    let server = server_config(&app.config);
    statuskit::server::serve(listener, router(app), server, shutdown()).await?;
    worker.stop().await;
    tracing::info!("stopped");
    Ok(())
}

/// The connection limits and timeouts from the command line; the problems the server writes
/// itself point at the service's error docs, as every other problem does.
pub fn server_config(config: &ServeConfig) -> ServerConfig {
    ServerConfig::default()
        .docs_base(crate::docs::error_docs().docs_base().clone())
        .header_read_timeout(Duration::from_millis(config.header_read_timeout_ms.max(1)))
        .idle_timeout(Duration::from_millis(config.idle_timeout_ms.max(1)))
        .max_connections(config.max_connections)
        .max_connections_per_address(config.max_connections_per_address)
        .shutdown_grace(Duration::from_millis(config.shutdown_grace_ms))
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
