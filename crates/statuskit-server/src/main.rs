//! The `statuskit` command.

use clap::Parser;
use statuskit_server::config::{Cli, Command};
use statuskit_server::probe_cli::Verdict;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    statuskit_server::logging::init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(config) => statuskit_server::serve::run(*config).await,
        Command::Users { command } => statuskit_server::admin_cli::users(command).await,
        Command::Clients { command } => statuskit_server::admin_cli::clients(command).await,
        Command::Docs { format } => statuskit_server::docs_cli::print(&format).await,
        Command::Call(args) => return statuskit_server::call_cli::run(args).await,
        // 0 passed, 1 a check failed, 2 the probe could not run (clap's own usage errors are 2 too).
        Command::Probe(args) => {
            return match statuskit_server::probe_cli::run(args).await {
                Ok(Verdict::Passed) => std::process::ExitCode::SUCCESS,
                Ok(Verdict::Failed) => std::process::ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("statuskit probe: could not run: {e}");
                    std::process::ExitCode::from(2)
                }
            }
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("statuskit: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
