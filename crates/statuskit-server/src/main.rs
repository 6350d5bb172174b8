//! The `statuskit` command.

use clap::Parser;
use statuskit_server::config::{Cli, Command};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    statuskit_server::logging::init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(config) => statuskit_server::serve::run(*config).await,
        Command::Users { command } => statuskit_server::admin_cli::users(command).await,
        Command::Clients { command } => statuskit_server::admin_cli::clients(command).await,
        Command::Docs { format } => statuskit_server::docs::print(&format),
        Command::Call(args) => return statuskit_server::call_cli::run(args).await,
        Command::Probe(args) => match statuskit_server::probe_cli::run(args).await {
            Ok(true) => Ok(()),
            Ok(false) => return std::process::ExitCode::FAILURE,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("statuskit: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
