//! The command line: `statuskit serve [--addr ADDR] [--database PATH] …`.

use std::net::SocketAddr;
use std::num::NonZeroU32;
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
    /// Manage users who sign in with the password grant.
    Users {
        /// What to do.
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Manage OAuth clients.
    Clients {
        /// What to do.
        #[command(subcommand)]
        command: ClientsCommand,
    },
    /// Print the error documentation (the catalog) or this service's OpenAPI document.
    Docs {
        /// markdown, rst, html or openapi.
        #[arg(long, default_value = "markdown")]
        format: String,
    },
    /// Check a live API against the status contract.
    Probe(ProbeArgs),
}

/// `statuskit probe URL …`.
#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// Base URL of the API, e.g. http://127.0.0.1:8080.
    pub url: String,
    /// Bearer token sent with every request (except those testing credentials).
    #[arg(long, env = "STATUSKIT_PROBE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// OpenAPI document (3.x or Swagger 2.0): a path on the API, a URL or a file.
    #[arg(long)]
    pub openapi: Option<String>,
    /// A path to read (GET); repeat for more.
    #[arg(long = "path")]
    pub paths: Vec<String>,
    /// table, json or junit.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Only these checks (comma-separated ids: head, options, 405, 404, 406, vary, 415, 400, 422,
    /// 201, 204-404, 304-strong, 304-weak, 304-star, 412-stale, 412-weak, 401, 401-realm,
    /// 401-invalid-token, 411, 429, problem, grammar-etag, grammar-allow, grammar-retry-after,
    /// grammar-www-authenticate).
    #[arg(long)]
    pub only: Option<String>,
    /// Write the report to this file instead of stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Requests the 429 check sends before it gives up.
    #[arg(long, default_value_t = 200)]
    pub rate_limit_requests: usize,
    /// Longest Retry-After the probe waits out, in seconds.
    #[arg(long, default_value_t = 60)]
    pub max_wait: u64,
}

/// `statuskit users …`.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user (the password is generated and printed if not given).
    Add {
        /// SQLite database file.
        #[arg(long, env = "STATUSKIT_DATABASE", default_value = "statuskit.db")]
        database: PathBuf,
        /// Sign-in name.
        #[arg(long)]
        username: String,
        /// Password.
        #[arg(long, env = "STATUSKIT_NEW_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Space-separated scopes: customers:read customers:write admin.
        #[arg(long, default_value = "customers:read customers:write")]
        scopes: String,
        /// Account the user acts for (created if missing).
        #[arg(long, default_value = "default")]
        account: String,
    },
}

/// `statuskit clients …`.
#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Add an OAuth client (the secret is generated and printed if not given).
    Add {
        /// SQLite database file.
        #[arg(long, env = "STATUSKIT_DATABASE", default_value = "statuskit.db")]
        database: PathBuf,
        /// The client id.
        #[arg(long)]
        client_id: String,
        /// The client secret.
        #[arg(long, env = "STATUSKIT_NEW_SECRET", hide_env_values = true)]
        secret: Option<String>,
        /// Space-separated scopes the client may request.
        #[arg(long, default_value = "customers:read customers:write")]
        scopes: String,
        /// Space-separated grant types: password client_credentials refresh_token.
        #[arg(long, default_value = "password refresh_token")]
        grants: String,
        /// Account the client acts for with client_credentials (created if missing).
        #[arg(long, default_value = "default")]
        account: String,
    },
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
    #[arg(long, env = "STATUSKIT_REPORT_URL", default_value = "/docs/errors#internal_server_error")]
    pub report_url: String,
    /// Lifetime of access tokens, in seconds.
    #[arg(long, env = "STATUSKIT_ACCESS_TOKEN_TTL", default_value_t = 3600)]
    pub access_token_ttl: u64,
    /// Lifetime of refresh tokens, in seconds.
    #[arg(long, env = "STATUSKIT_REFRESH_TOKEN_TTL", default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl: u64,
    /// Password attempts allowed per minute, per username and per client IP.
    #[arg(long, env = "STATUSKIT_LOGIN_ATTEMPTS_PER_MINUTE", default_value_t = NonZeroU32::new(10).expect("10 > 0"))]
    pub login_attempts_per_minute: NonZeroU32,
    /// First admin user (created at start if missing).
    #[arg(long, env = "STATUSKIT_ADMIN_USER")]
    pub admin_user: Option<String>,
    /// Its password.
    #[arg(long, env = "STATUSKIT_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// First OAuth client id (created at start if missing).
    #[arg(long, env = "STATUSKIT_CLIENT_ID")]
    pub client_id: Option<String>,
    /// Its secret.
    #[arg(long, env = "STATUSKIT_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
}

impl ServeConfig {
    /// Defaults for a database file, listening on a free loopback port.
    pub fn for_database(database: PathBuf) -> Self {
        ServeConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database,
            max_body_bytes: 64 * 1024,
            report_url: "/docs/errors#internal_server_error".into(),
            access_token_ttl: 3600,
            refresh_token_ttl: 30 * 24 * 3600,
            login_attempts_per_minute: NonZeroU32::new(10).expect("10 > 0"),
            admin_user: None,
            admin_password: None,
            client_id: None,
            client_secret: None,
        }
    }
}
