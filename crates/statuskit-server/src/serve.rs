//! `statuskit serve`: open the database, bind, print the address, serve until Ctrl-C / SIGTERM.

use std::sync::Arc;

use tokio::net::TcpListener;

use crate::app::{router, App};
use crate::config::ServeConfig;
use crate::store::sqlite::SqliteStore;

/// Runs the service until a shutdown signal.
pub async fn run(config: ServeConfig) -> Result<(), Box<dyn std::error::Error>> {
    let store = SqliteStore::open(&config.database).await?;
    let listener = TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    let app = router(App {
        store,
        config: Arc::new(config),
    });
    // The first line on stdout is the address, so scripts and tests can find a port-0 service.
    println!("listening on http://{addr}");
    tracing::info!(%addr, "serving");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
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
