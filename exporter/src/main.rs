use std::process::ExitCode;

use clap::Parser;
use motcua_exporter::{Cli, init_logging, process_env, run};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli, process_env).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{}", motcua_exporter::events::error_chain(&e));
            ExitCode::FAILURE
        }
    }
}
