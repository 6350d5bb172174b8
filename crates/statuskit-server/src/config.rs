//! The command line: `statuskit serve [--addr ADDR] [--database PATH|URL] …`.

use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// On.
    On,
    /// Off.
    Off,
}

/// What to do when Redis cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RedisUnavailable {
    /// Let requests through, unlimited (and log it).
    Allow,
    /// Answer 503 with Retry-After.
    Deny,
}

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
    Serve(Box<ServeConfig>),
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
    /// Check a live API (http:// or https://) against the status contract. Exits 0 when every
    /// check passed or was skipped, 1 when one failed, 2 when the probe could not run.
    Probe(ProbeArgs),
    /// Send one request the way the contract wants a client to: wait out Retry-After, retry a
    /// POST with one Idempotency-Key, follow a 202 to its result (--wait), print problems readably.
    Call(CallArgs),
}

/// `statuskit call [METHOD] URL …`.
#[derive(Debug, Clone, Args)]
pub struct CallArgs {
    /// METHOD then URL, or just URL (GET, or POST when --data is given).
    #[arg(required = true, num_args = 1..=2, value_names = ["METHOD", "URL"])]
    pub target: Vec<String>,
    /// The body: JSON text, or @FILE to read it from a file (sent as application/json unless a
    /// Content-Type header is given).
    #[arg(long)]
    pub data: Option<String>,
    /// A header to send, as 'Name: value'; repeat for more.
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// Bearer token (with the `=`: a token may start with `-`).
    #[arg(long, env = "STATUSKIT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Follow a 202 Accepted to its result, polling its monitor.
    #[arg(long)]
    pub wait: bool,
    /// The most time the whole call may take, waits included, in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub max_time: f64,
    /// text (the body on stdout, the status and problems on stderr) or json (one JSON object).
    #[arg(long, value_enum, default_value_t = CallFormat::Text)]
    pub format: CallFormat,
}

/// How `statuskit call` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CallFormat {
    /// The body on stdout; the status line and any problem on stderr.
    Text,
    /// One JSON object on stdout.
    Json,
}

/// `statuskit probe URL …`.
#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// Base URL of the API, e.g. http://127.0.0.1:8080.
    pub url: String,
    /// Bearer token sent with every request (except those testing credentials).
    #[arg(long, env = "STATUSKIT_PROBE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// OpenAPI document (3.x or Swagger 2.0, JSON or YAML): a path on the API, a URL or a file.
    #[arg(long)]
    pub openapi: Option<String>,
    /// A path to read (GET); repeat for more.
    #[arg(long = "path")]
    pub paths: Vec<String>,
    /// table, json or junit.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Only these checks (comma-separated ids: head, head-fields, options, allow, 405, 404, 406,
    /// vary, 415, 400, 422, 201, 204-404, etag, 304-strong, 304-weak, 304-star, 200-inm,
    /// 412-stale, 412-weak, 401, 401-bearer, 401-invalid-token, 429, 411, problem, grammar-etag,
    /// grammar-allow, grammar-retry-after, grammar-www-authenticate). An unknown id exits 2.
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
    /// A PEM file of CA certificates to trust for an https:// API, besides the platform's roots.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Do not verify the API's TLS certificate at all (the report says so first).
    #[arg(long)]
    pub insecure: bool,
}

/// `statuskit users …`.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user (the password is generated and printed if not given).
    Add {
        /// SQLite database file (or `sqlite:PATH`), or a `postgres://` URL.
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
        /// SQLite database file (or `sqlite:PATH`), or a `postgres://` URL.
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
    /// SQLite database file (or `sqlite:PATH`), created on first start; or a `postgres://` (or
    /// `postgresql://`) URL of a PostgreSQL database, shared by every instance.
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
    /// How long a valid access token is remembered without asking the database, in seconds (0:
    /// never). A revocation on another instance takes up to this long to be seen here.
    #[arg(long, env = "STATUSKIT_TOKEN_CACHE_SECONDS", default_value_t = 5)]
    pub token_cache_seconds: u64,
    /// Password attempts allowed per minute, per username and per client IP; as many client-secret
    /// attempts, per client id and per client IP.
    #[arg(long, env = "STATUSKIT_LOGIN_ATTEMPTS_PER_MINUTE", default_value_t = NonZeroU32::new(10).expect("10 > 0"))]
    pub login_attempts_per_minute: NonZeroU32,
    /// Password and client-secret verifications (argon2) run at once, off the request workers;
    /// half the cores by default.
    #[arg(long, env = "STATUSKIT_HASH_CONCURRENCY")]
    pub hash_concurrency: Option<NonZeroUsize>,
    /// `off` turns every rate limit off, sign-in limits included (for benchmarks).
    #[arg(long, env = "STATUSKIT_RATE_LIMITS", value_enum, default_value_t = Switch::On)]
    pub rate_limits: Switch,
    /// Reads (GET, HEAD) allowed per window (a minute), per client (per address before sign-in).
    #[arg(long, env = "STATUSKIT_RATE_LIMIT_READS", default_value_t = 600)]
    pub rate_limit_reads: u32,
    /// Writes (POST, PUT, PATCH, DELETE) allowed per window (a minute), per client.
    #[arg(long, env = "STATUSKIT_RATE_LIMIT_WRITES", default_value_t = 120)]
    pub rate_limit_writes: u32,
    /// The window of the read and write quotas, in seconds (the quotas above are per minute
    /// when it is 60; tests shorten it).
    #[arg(long, env = "STATUSKIT_RATE_LIMIT_WINDOW_SECONDS", default_value_t = 60)]
    pub rate_limit_window_seconds: u64,
    /// Share rate limits between instances through this Redis (e.g. redis://127.0.0.1:6379).
    #[arg(long, env = "STATUSKIT_REDIS_URL")]
    pub redis_url: Option<String>,
    /// When Redis cannot be reached: `allow` requests unlimited, or `deny` them with 503.
    #[arg(long, env = "STATUSKIT_REDIS_UNAVAILABLE", value_enum, default_value_t = RedisUnavailable::Allow)]
    pub redis_unavailable: RedisUnavailable,
    /// Prefix of every Redis key this service writes.
    #[arg(long, env = "STATUSKIT_REDIS_KEY_PREFIX", default_value = "statuskit:rl:")]
    pub redis_key_prefix: String,
    /// How long a Redis decision may take before the choice above applies, in milliseconds.
    #[arg(long, env = "STATUSKIT_REDIS_TIMEOUT_MS", default_value_t = 100)]
    pub redis_timeout_ms: u64,
    /// Requests in flight before new ones are shed with 503.
    #[arg(long, env = "STATUSKIT_MAX_IN_FLIGHT", default_value_t = 256)]
    pub max_in_flight: usize,
    /// Each request's deadline in milliseconds; past it the answer is 504.
    #[arg(long, env = "STATUSKIT_DEADLINE_MS", default_value_t = 5000)]
    pub deadline_ms: u64,
    /// Requests in flight on the routes that need no token (`/oauth/*`, docs) before new ones are
    /// shed with 503: their own share, so strangers cannot spend signed-in callers' capacity.
    #[arg(long, env = "STATUSKIT_MAX_IN_FLIGHT_PUBLIC", default_value_t = 64)]
    pub max_in_flight_public: usize,
    /// A request head that has begun to arrive must be complete within this many milliseconds
    /// (else 408, and the connection is closed).
    #[arg(long, env = "STATUSKIT_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_read_timeout_ms: u64,
    /// A request body must arrive whole within this many milliseconds (else 408).
    #[arg(long, env = "STATUSKIT_BODY_READ_TIMEOUT_MS", default_value_t = 30_000)]
    pub body_read_timeout_ms: u64,
    /// The longest pause in the middle of a request body, in milliseconds (else 408).
    #[arg(long, env = "STATUSKIT_BODY_GAP_TIMEOUT_MS", default_value_t = 5_000)]
    pub body_gap_timeout_ms: u64,
    /// A connection with no request in flight is closed after this many idle milliseconds.
    #[arg(long, env = "STATUSKIT_IDLE_TIMEOUT_MS", default_value_t = 60_000)]
    pub idle_timeout_ms: u64,
    /// Connections open at once; past it the longest-idle one is closed to make room, or, if
    /// none is idle, the newcomer gets 503.
    #[arg(long, env = "STATUSKIT_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Connections open at once from one address (IPv6: one /64); past it, 503.
    #[arg(long, env = "STATUSKIT_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 1024)]
    pub max_connections_per_address: usize,
    /// After SIGTERM or Ctrl-C, how long requests in flight may take to finish, in milliseconds;
    /// connections still open then are closed.
    #[arg(long, env = "STATUSKIT_SHUTDOWN_GRACE_MS", default_value_t = 10_000)]
    pub shutdown_grace_ms: u64,
    /// Enables `/admin/faults` (injected delays and panics), for failure tests. Never in production.
    #[arg(long, env = "STATUSKIT_FAULT_INJECTION")]
    pub fault_injection: bool,
    /// Largest avatar upload, in bytes (larger answers 413).
    #[arg(long, env = "STATUSKIT_MAX_AVATAR_BYTES", default_value_t = 5 * 1024 * 1024)]
    pub max_avatar_bytes: usize,
    /// A pause between the steps of background operations, in milliseconds (0 in production; a
    /// demo or a test sets it to watch an operation's progress move).
    #[arg(long, env = "STATUSKIT_OPERATION_STEP_DELAY_MS", default_value_t = 0)]
    pub operation_step_delay_ms: u64,
    /// How long a worker's lease on a claimed operation lasts, in milliseconds; the worker renews
    /// it three times a lease while it works. When it runs out (its instance died or stalled),
    /// another instance's worker resumes the operation. On PostgreSQL a dead instance's operations
    /// are resumed at once (its sessions are gone); on SQLite only once the lease runs out.
    #[arg(long, env = "STATUSKIT_OPERATION_LEASE_MS", default_value_t = crate::store::postgres::LEASE.as_millis() as u64)]
    pub operation_lease_ms: u64,
    /// How often this instance reads the maintenance switch from the database, in milliseconds:
    /// maintenance switched on or off through another instance takes up to this long (plus one
    /// query) to be followed here.
    #[arg(long, env = "STATUSKIT_MAINTENANCE_POLL_MS", default_value_t = 1000)]
    pub maintenance_poll_ms: u64,
    /// How long an `Idempotency-Key` is remembered, in seconds.
    #[arg(long, env = "STATUSKIT_IDEMPOTENCY_TTL_SECONDS", default_value_t = 24 * 3600)]
    pub idempotency_ttl_seconds: u64,
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
    ///
    /// The defaults are the `#[arg]` attributes above, the one place they are written: an empty
    /// `serve` command line is parsed with every `STATUSKIT_*` variable ignored, so that tests
    /// and benchmarks built on this do not depend on the shell that runs them.
    pub fn for_database(database: PathBuf) -> Self {
        use clap::{CommandFactory as _, FromArgMatches as _};
        let command = Cli::command()
            .find_subcommand("serve")
            .expect("`serve` is a subcommand")
            .clone()
            .mut_args(|arg| arg.env(None::<&'static str>));
        let matches =
            command.try_get_matches_from(["serve"]).expect("every `serve` argument has a default or is optional");
        let mut config = ServeConfig::from_arg_matches(&matches).expect("the defaults parse");
        config.addr = SocketAddr::from(([127, 0, 0, 1], 0));
        config.database = database;
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_database_takes_the_clap_defaults_and_ignores_the_environment() {
        // A variable no other test reads; set while this test runs.
        std::env::set_var("STATUSKIT_REDIS_KEY_PREFIX", "from-the-shell:");
        let config = ServeConfig::for_database("x.db".into());
        std::env::remove_var("STATUSKIT_REDIS_KEY_PREFIX");
        assert_eq!(config.redis_key_prefix, "statuskit:rl:");
        assert_eq!(config.database, PathBuf::from("x.db"));
        assert_eq!(config.addr, SocketAddr::from(([127, 0, 0, 1], 0)));
        assert_eq!(config.max_body_bytes, 64 * 1024);
        assert_eq!(config.login_attempts_per_minute.get(), 10);
        assert_eq!(config.rate_limits, Switch::On);
        assert_eq!(config.operation_lease_ms, crate::store::postgres::LEASE.as_millis() as u64);
        assert!(config.hash_concurrency.is_none() && config.admin_user.is_none() && !config.fault_injection);
        assert_eq!(config.refresh_token_ttl, 30 * 24 * 3600);
    }
}
