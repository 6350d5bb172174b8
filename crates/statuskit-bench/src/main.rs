//! `statuskit-bench`: the server half and the report half of `bench/run.sh`.
//!
//! * `statuskit-bench serve --database PATH` seeds one customer, then serves
//!   `GET /v1/customers/{id}` twice from one process: through the full statuskit service
//!   (`statuskit_server::app::router`, every layer and extractor) and through a bare axum handler
//!   that runs the same sqlx query on the same SQLite file and answers with plain `axum::Json`.
//! * `statuskit-bench report FILE` reads what `run.sh` collected from wrk and prints medians,
//!   ratios against each scenario's baseline, and whether each aim was met.
//!
//! Nothing here asserts on time: the bench reports, it does not fail.

mod report;
mod serve;

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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("statuskit-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
