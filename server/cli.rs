//! The command line: `plenary serve` (the default) and `plenary migrate`.
//! Every flag also reads a `PLENARY_*` environment variable.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::app::{self, AppState};
use crate::config::{self, Config};
use crate::store;

/// Plenary: co-drafting, amendment and adoption of resolutions, in real time.
#[derive(Debug, Parser)]
#[command(name = "plenary", version, about)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the application (the default).
    Serve(ServeArgs),
    /// Apply the database migrations and exit.
    Migrate(DatabaseArgs),
}

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Folder for the embedded SQLite database.
    #[arg(long = "data", env = "PLENARY_DATA", default_value = "./plenary-data")]
    pub data: PathBuf,
    /// `sqlite://FILE` or `postgres://USER@HOST/DB`; overrides --data.
    #[arg(long, env = "PLENARY_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DatabaseArgs {
    fn url(&self) -> anyhow::Result<String> {
        config::database_url(self.database_url.as_deref(), &self.data)
            .with_context(|| format!("creating the data folder {}", self.data.display()))
    }
}

/// `plenary serve`.
#[derive(Debug, Clone, Parser)]
pub struct ServeArgs {
    /// Address to listen on; with port 0 a free port is chosen and printed.
    #[arg(long, env = "PLENARY_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Largest websocket frame accepted, in bytes (larger: closed with 1009).
    #[arg(long, env = "PLENARY_MAX_FRAME_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_frame_bytes: usize,
    /// Largest document (stored state plus log), in bytes.
    #[arg(long, env = "PLENARY_MAX_DOCUMENT_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_document_bytes: u64,
    /// Updates in a document's log that trigger a compaction.
    #[arg(long, env = "PLENARY_COMPACT_AFTER", default_value_t = 1000)]
    pub compact_after: u64,
    /// Seconds a document with no connection stays loaded.
    #[arg(long, env = "PLENARY_IDLE_UNLOAD_SECS", default_value_t = 30)]
    pub idle_unload_secs: u64,
    /// Frames that may wait for a slow connection before it is closed (1013).
    #[arg(long, env = "PLENARY_OUTBOUND_QUEUE", default_value_t = 1024)]
    pub outbound_queue: usize,
}

impl ServeArgs {
    /// The configuration these flags describe.
    pub fn config(&self) -> anyhow::Result<Config> {
        let mut config = Config::new(self.bind, self.database.url()?);
        config.room.max_document_bytes = self.max_document_bytes;
        config.room.compact_after = self.compact_after.max(1);
        config.room.idle_unload = Duration::from_secs(self.idle_unload_secs);
        config.room.outbound_queue = self.outbound_queue.max(1);
        config.connection.max_frame_bytes = self.max_frame_bytes;
        Ok(config)
    }
}

/// Runs the command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = match cli.command {
        Some(command) => command,
        None => Command::Serve(ServeArgs::parse_from(["plenary serve"])),
    };
    match command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(args) => {
            store::open(&args.url()?)
                .await
                .context("opening and migrating the database")?;
            println!("migrations applied");
            Ok(())
        }
    }
}

/// `plenary serve`: prints `plenary listening on http://ADDRESS` as its first
/// line, serves until SIGINT or SIGTERM, then shuts down cleanly.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let store = store::open(&config.database_url)
        .await
        .context("opening the database")?;
    let listener = TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("listening on {}", config.bind))?;
    let address = listener.local_addr().context("reading the bound address")?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "plenary listening on http://{address}")?;
        stdout.flush()?;
    }
    tracing::info!(%address, database = %redact(&config.database_url), "serving");
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    let state = AppState::new(config, store, shutdown);
    app::serve(listener, state).await.context("serving")?;
    tracing::info!("stopped");
    Ok(())
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: committing and closing connections");
    shutdown.cancel();
}

/// A database URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_the_log() {
        assert_eq!(
            redact("postgres://plenary:s3cret@db/plenary"),
            "postgres://plenary:***@db/plenary"
        );
        assert_eq!(
            redact("sqlite://./plenary-data/plenary.db"),
            "sqlite://./plenary-data/plenary.db"
        );
    }

    #[test]
    fn no_arguments_means_serve_on_the_defaults() {
        let args = ServeArgs::parse_from(["plenary serve"]);
        assert_eq!(args.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(args.database.data, PathBuf::from("./plenary-data"));
    }
}
