//! The command line: `statuskit serve [--addr ADDR] [--database PATH] …`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// statuskit: an HTTP API that always answers with the right status, headers and error body.
#[derive(Debug, Parser)]
#[command(name = "statuskit", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the reference service.
    Serve(ServeConfig),
}

/// Settings of `statuskit serve`; each flag can also be set by its environment variable.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on (port 0 picks a free port; the chosen one is printed).
    #[arg(long, env = "STATUSKIT_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// SQLite database file, created on first start.
    #[arg(long, env = "STATUSKIT_DATABASE", default_value = "statuskit.db")]
    pub database: PathBuf,
    /// Largest request body accepted, in bytes (larger answers 413).
    #[arg(long, env = "STATUSKIT_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,
    /// Where a 500 tells users to report it.
    #[arg(
        long,
        env = "STATUSKIT_REPORT_URL",
        default_value = "/docs/errors#internal_server_error"
    )]
    pub report_url: String,
}

impl ServeConfig {
    /// Defaults for a database file, listening on a free loopback port.
    pub fn for_database(database: PathBuf) -> Self {
        ServeConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database,
            max_body_bytes: 64 * 1024,
            report_url: "/docs/errors#internal_server_error".into(),
        }
    }
}
