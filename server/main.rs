//! `plenary`: parses the command line, sets up logging, runs the library.

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// jemalloc, not the C library's allocator: with a thread per SQLite
/// connection beside tokio's workers, glibc's per-thread arenas held freed
/// memory apart, and 2,000 sockets' server peaked 14 MB (18%) higher with
/// slightly more CPU (docs/performance/README.md, "Memory per socket").
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("PLENARY_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    plenary::cli::run(plenary::cli::Cli::parse()).await
}
