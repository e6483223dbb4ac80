use std::process::ExitCode;

use clap::Parser;
use motcua_exporter::{Cli, init_logging, process_env, run};

/// mimalloc rather than the system allocator: a full read allocates and
/// frees hundreds of megabytes across the runtime's threads, and glibc's
/// per-thread arenas kept much of it resident afterwards (peak RSS at 10
/// million dossiers: see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
