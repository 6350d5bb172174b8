//! `statuskit-bench`: the server half and the report half of `bench/run.sh`.
//!
//! * `statuskit-bench serve --database PATH` seeds one customer, then serves
//!   `GET /v1/customers/{id}` twice from one process: through the full statuskit service
//!   (`statuskit_server::app::router`, every layer and extractor) and through a bare axum handler
//!   that runs the same sqlx query on the same SQLite file and answers with plain `axum::Json`.
//! * `statuskit-bench oha FILE` turns an oha JSON report into one line of figures
//!   (`bench/overload.sh`).
//! * `statuskit-bench thumbs` times the avatar worker's `make_images` on a generated 1024×1024
//!   PNG and JPEG (`bench/work.sh`).
//! * `statuskit-bench report FILE` reads what `run.sh` collected from wrk and prints medians,
//!   ratios against each scenario's baseline, and whether each aim was met.
//!
//! Nothing here asserts on time: the bench reports, it does not fail.

mod oha;
mod report;
mod serve;
mod thumbs;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Benchmark harness for the statuskit reference service.
#[derive(Debug, Parser)]
#[command(name = "statuskit-bench", version, about)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Seed a customer and serve the bare and the full router on two loopback ports.
    Serve(ServeArgs),
    /// Print the table of medians and ratios from a results file written by bench/run.sh.
    Report(ReportArgs),
    /// Print one line of figures from an oha JSON report (for bench/overload.sh).
    Oha(OhaArgs),
    /// Time the avatar worker's thumbnails (`make_images`) on a generated PNG and JPEG.
    Thumbs(ThumbsArgs),
}

/// Settings of `statuskit-bench serve`.
#[derive(Debug, Args)]
struct ServeArgs {
    /// SQLite database file (created, migrated and seeded if new).
    #[arg(long)]
    database: PathBuf,
    /// Tokio worker threads shared by both routers.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Stop by itself after this many seconds, even if nobody sends SIGTERM.
    #[arg(long, default_value_t = 1800)]
    max_seconds: u64,
    /// The full stack's `--max-in-flight` (requests past it are shed with 503).
    #[arg(long, default_value_t = 256)]
    max_in_flight: usize,
    /// The full stack's reads per window per client (default: out of reach, 10⁹).
    #[arg(long)]
    rate_limit_reads: Option<u32>,
    /// The full stack's rate-limit window, in seconds.
    #[arg(long, default_value_t = 60)]
    rate_limit_window_seconds: u64,
    /// Routes `/admin/faults` on the full stack (`statuskit serve --fault-injection`).
    #[arg(long)]
    fault_injection: bool,
}

/// Settings of `statuskit-bench oha`.
#[derive(Debug, Args)]
struct OhaArgs {
    /// oha's report, written with `--output-format json --stats-success-breakdown`.
    report: PathBuf,
}

/// Settings of `statuskit-bench thumbs`.
#[derive(Debug, Args)]
struct ThumbsArgs {
    /// Width and height of the generated picture, in pixels.
    #[arg(long, default_value_t = 1024)]
    side: u32,
    /// Timed sets per format.
    #[arg(long, default_value_t = 15)]
    iterations: usize,
    /// Untimed sets per format first.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
}

/// Settings of `statuskit-bench report`.
#[derive(Debug, Args)]
struct ReportArgs {
    /// The results file (`define|…` and `run|…` lines).
    results: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Report(args) => report::run(&args.results),
        Command::Oha(args) => oha::run(&args.report),
        Command::Thumbs(args) => thumbs::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("statuskit-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
