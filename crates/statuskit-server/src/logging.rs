//! The log output `statuskit` installs: `tracing` events to stderr, filtered by `RUST_LOG`
//! (default `info`), in colour only when stderr is a terminal.
//!
//! Colour matters beyond looks: escape codes in a log file get in the way of `grep`, and styling
//! every field of the per-request span cost about 5 700 instructions a request in a profile of
//! `GET /v1/customers/{id}` (a third of what the whole span cost), so files and pipes get plain
//! text.
//!
//! ```no_run
//! statuskit_server::logging::init();
//! tracing::info!("ready");
//! ```

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The filter used when `RUST_LOG` is unset or cannot be parsed.
pub const DEFAULT_FILTER: &str = "info";

/// Installs the global subscriber. Call once, at start-up; a second call does nothing.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| DEFAULT_FILTER.into());
    // An error here means a subscriber is already installed (a test, an embedding program): keep it.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
