//! The command line: `plenary serve` (the default), `plenary migrate`,
//! `plenary user add`, `plenary backup` and `plenary export`.
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
use crate::auth::Role;
use crate::auth::routes::NewUser;
use crate::config::{self, Config};
use crate::ids::DelegationId;
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
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Write a consistent copy of the SQLite database while the server runs
    /// (for PostgreSQL, use pg_dump: see docs/deployment.md).
    Backup(BackupArgs),
    /// Export a resolution (at any version), the compilation of its
    /// amendments, or a meeting's adopted resolutions (see docs/export.md).
    Export(ExportArgs),
}

/// `plenary export`.
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["resolution", "meeting"])))]
pub struct ExportArgs {
    /// The resolution's id.
    #[arg(long)]
    pub resolution: Option<String>,
    /// The meeting's id: its adopted resolutions together.
    #[arg(long)]
    pub meeting: Option<String>,
    /// md, txt, html, pdf, docx, akn (a resolution), or zip (a meeting).
    #[arg(long, short)]
    pub format: String,
    /// A version of the resolution: its number or id (default: the text as stored now).
    #[arg(long)]
    pub version: Option<String>,
    /// The compilation of the resolution's amendments instead of its text.
    #[arg(long)]
    pub amendments: bool,
    /// The language of headings and labels: en, es, fr or pt (default: the
    /// meeting's first working language).
    #[arg(long)]
    pub lang: Option<String>,
    /// Where to write (default: the export's own file name in the current
    /// folder; `-` for standard output).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// `plenary backup`.
#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// Where to write the copy (a new file).
    #[arg(long, short)]
    pub output: PathBuf,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// `plenary user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. The password comes from `PLENARY_PASSWORD`, or is
    /// asked for on the terminal.
    Add(UserAddArgs),
}

/// `plenary user add`.
#[derive(Debug, Clone, Args)]
pub struct UserAddArgs {
    /// Sign-in address.
    #[arg(long)]
    pub email: String,
    /// Name shown to others.
    #[arg(long)]
    pub name: String,
    /// secretariat, chair, delegate or observer.
    #[arg(long)]
    pub role: String,
    /// The delegation's id (for a delegate).
    #[arg(long)]
    pub delegation: Option<String>,
    #[command(flatten)]
    pub database: DatabaseArgs,
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
    /// Bytes of frames that may wait for a slow connection before it is
    /// closed (1013); one larger frame passes on an empty queue.
    #[arg(long, env = "PLENARY_OUTBOUND_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub outbound_bytes: usize,
    /// Seconds without a commit after which a burst of editing is recorded
    /// as a checkpoint version.
    #[arg(long, env = "PLENARY_CHECKPOINT_QUIET_SECS", default_value_t = 60)]
    pub checkpoint_quiet_secs: u64,
    /// On an empty database, set up a demo meeting with an account per role.
    #[arg(long, env = "PLENARY_DEMO")]
    pub demo: bool,
    /// On an empty database, create this secretariat account (with
    /// `PLENARY_ADMIN_PASSWORD`).
    #[arg(long, env = "PLENARY_ADMIN_EMAIL")]
    pub admin_email: Option<String>,
    /// Days a sign-in lasts.
    #[arg(long, env = "PLENARY_SESSION_DAYS", default_value_t = 14)]
    pub session_days: u64,
    /// Mark the session cookie Secure (when served over HTTPS).
    #[arg(long, env = "PLENARY_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Websocket connections one account may hold at once.
    #[arg(long, env = "PLENARY_CONNECTIONS_PER_ACCOUNT", default_value_t = 64)]
    pub connections_per_account: usize,
    /// API requests per second per account (bursts of five times as many).
    #[arg(long, env = "PLENARY_API_RATE", default_value_t = 20)]
    pub api_rate: u32,
    /// Websocket frames per second per connection and per account (bursts of ten times as many).
    #[arg(long, env = "PLENARY_SYNC_RATE", default_value_t = 200)]
    pub sync_rate: u32,
}

impl ServeArgs {
    /// The configuration these flags describe.
    pub fn config(&self) -> anyhow::Result<Config> {
        let mut config = Config::new(self.bind, self.database.url()?);
        config.room.max_document_bytes = self.max_document_bytes;
        config.room.compact_after = self.compact_after.max(1);
        config.room.idle_unload = Duration::from_secs(self.idle_unload_secs);
        config.room.outbound_queue = self.outbound_queue.max(1);
        config.room.outbound_bytes = self.outbound_bytes.max(1);
        config.room.checkpoint_quiet = Duration::from_secs(self.checkpoint_quiet_secs.max(1));
        config.connection.max_frame_bytes = self.max_frame_bytes;
        config.session_lifetime = Duration::from_secs(self.session_days.clamp(1, 365) * 24 * 3600);
        config.secure_cookies = self.secure_cookies;
        config.limits.connections_per_account = self.connections_per_account.max(1);
        config.limits.api_per_second = self.api_rate.max(1);
        config.limits.api_burst = self.api_rate.max(1).saturating_mul(5);
        config.limits.sync_messages_per_second = self.sync_rate.max(1);
        config.limits.sync_burst = self.sync_rate.max(1).saturating_mul(10);
        if let Some(email) = &self.admin_email {
            let password = std::env::var("PLENARY_ADMIN_PASSWORD")
                .context("PLENARY_ADMIN_EMAIL is set: PLENARY_ADMIN_PASSWORD must be too")?;
            config.admin = Some((email.clone(), password));
        }
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
        Command::User(UserCommand::Add(args)) => add_user(args).await,
        Command::Backup(args) => backup(args).await,
        Command::Export(args) => export(args).await,
    }
}

async fn export(args: ExportArgs) -> anyhow::Result<()> {
    use crate::export::gather::{Reading, Sources};
    use crate::export::{Export, Format, parse_language};
    let format = Format::parse(&args.format).with_context(|| {
        format!(
            "--format {}: one of md, txt, html, pdf, docx, akn, zip",
            args.format
        )
    })?;
    let language = args
        .lang
        .as_deref()
        .map(|code| {
            parse_language(code).with_context(|| format!("--lang {code}: en, es, fr or pt"))
        })
        .transpose()?;
    let database = store::open(&args.database.url()?)
        .await
        .context("opening the database")?;
    let sources = Sources {
        directory: database.directory.as_ref(),
        store: database.documents.as_ref(),
    };
    let export = match (&args.resolution, &args.meeting) {
        (Some(id), _) => {
            let resolution = sources.resolution(id).await?;
            if args.amendments {
                if args.version.is_some() {
                    anyhow::bail!(
                        "the compilation of amendments is of the current text: drop --version"
                    );
                }
                let seq = sources.stored_seq(&resolution).await?;
                Export::Amendments(Box::new(
                    sources.compilation(&resolution, seq, language).await?,
                ))
            } else {
                let reading = match &args.version {
                    Some(version) => Reading::Version(sources.version(&resolution, version).await?),
                    None => Reading::Live(sources.stored_seq(&resolution).await?),
                };
                Export::Resolution(Box::new(
                    sources
                        .resolution_text(&resolution, reading, language)
                        .await?,
                ))
            }
        }
        (None, Some(id)) => {
            if args.version.is_some() || args.amendments {
                anyhow::bail!("--version and --amendments go with --resolution");
            }
            Export::Meeting(Box::new(sources.meeting_collection(id, language).await?))
        }
        (None, None) => anyhow::bail!("give --resolution ID or --meeting ID"),
    };
    let rendered = tokio::task::spawn_blocking(move || crate::export::render(&export, format))
        .await
        .context("rendering")??;
    match args.output {
        Some(path) if path.as_os_str() == "-" => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&rendered.bytes)?;
            stdout.flush()?;
        }
        output => {
            let path = output.unwrap_or_else(|| PathBuf::from(&rendered.file_name));
            std::fs::write(&path, &rendered.bytes)
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(())
}

async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let url = args.database.url()?;
    match store::Backend::of_url(&url) {
        Some(store::Backend::Sqlite) => {
            if args.output.exists() {
                anyhow::bail!("{} exists; choose a new file", args.output.display());
            }
            let store = store::sqlite::SqliteStore::open(&url)
                .await
                .context("opening the database")?;
            store
                .backup(&args.output)
                .await
                .with_context(|| format!("writing the copy to {}", args.output.display()))?;
            println!("backed up to {}", args.output.display());
            Ok(())
        }
        _ => anyhow::bail!(
            "plenary backup copies SQLite databases; for PostgreSQL run: pg_dump --format=custom --file=BACKUP DATABASE_URL (see docs/deployment.md)"
        ),
    }
}

async fn add_user(args: UserAddArgs) -> anyhow::Result<()> {
    let role = Role::parse(&args.role).with_context(|| {
        format!(
            "--role {}: one of secretariat, chair, delegate, observer",
            args.role
        )
    })?;
    let password = match std::env::var("PLENARY_PASSWORD") {
        Ok(password) => password,
        Err(_) => ask_password()?,
    };
    let database = store::open(&args.database.url()?)
        .await
        .context("opening the database")?;
    let config = Config::new(([127, 0, 0, 1], 0).into(), args.database.url()?);
    let state = AppState::new(config, database, CancellationToken::new());
    let account = crate::auth::routes::create_account(
        &state,
        NewUser {
            email: args.email,
            name: args.name,
            password,
            role,
            delegation_id: args.delegation.map(DelegationId),
        },
        None,
    )
    .await
    .map_err(|error| anyhow::anyhow!("{error}"))?;
    println!(
        "created {} {} ({})",
        account.role.as_str(),
        account.email,
        account.id
    );
    Ok(())
}

fn ask_password() -> anyhow::Result<String> {
    use std::io::BufRead;
    eprint!(
        "Password for the new account (it will be shown as you type; or set PLENARY_PASSWORD): "
    );
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// First start on an empty database: the admin account from the
/// environment, the demo, or a one-time setup link. Prints what a person
/// needs (credentials, the link) on standard output, never in the log.
pub async fn bootstrap(
    state: &AppState,
    demo: bool,
    address: std::net::SocketAddr,
) -> anyhow::Result<()> {
    if state.directory().count_accounts().await? > 0 {
        if demo {
            tracing::warn!("--demo ignored: the database is not empty");
        }
        return Ok(());
    }
    let mut stdout = std::io::stdout().lock();
    if let Some((email, password)) = &state.config().admin {
        let created = crate::auth::routes::create_account(
            state,
            NewUser {
                email: email.clone(),
                name: "Secretariat".into(),
                password: password.clone(),
                role: Role::Secretariat,
                delegation_id: None,
            },
            None,
        )
        .await;
        match created {
            Ok(_) => writeln!(stdout, "created the secretariat account {email}")?,
            // Several nodes started at once on an empty database: another
            // one created it first.
            Err(crate::error::ApiError::Conflict(_)) => {}
            Err(error) => anyhow::bail!("creating the secretariat account {email}: {error}"),
        }
    }
    if demo {
        let demo = crate::demo::seed(state, state.config().admin.is_none())
            .await
            .map_err(|error| anyhow::anyhow!("setting up the demo: {error}"))?;
        writeln!(
            stdout,
            "demo meeting set up: http://{address}/meetings/{}",
            demo.meeting
        )?;
        writeln!(
            stdout,
            "demo accounts (these passwords are shown only now):"
        )?;
        for account in &demo.accounts {
            let role = match &account.delegation {
                Some(delegation) => format!("{} ({delegation})", account.role.as_str()),
                None => account.role.as_str().to_owned(),
            };
            writeln!(
                stdout,
                "  {role:<22} {:<28} {}",
                account.email, account.password
            )?;
        }
    } else if state.config().admin.is_none() {
        let token = state.open_setup();
        writeln!(
            stdout,
            "first run: create the secretariat account at http://{address}/setup#{token}"
        )?;
    }
    stdout.flush()?;
    Ok(())
}

/// Connections the kernel may hold for us before we accept them (capped by
/// `net.core.somaxconn`, 4096 on current Linux). tokio's default is 1024:
/// when a venue's thousand clients reconnect at once, the kernel dropped the
/// handshakes beyond it and those clients waited for their one-second SYN
/// retransmission (seen as `TcpExtListenDrops` in the `storm` benchmark).
const LISTEN_BACKLOG: u32 = 4096;

/// Binds the listening socket, with address reuse as tokio's `bind` does.
fn listen(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match address {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// `plenary serve`: prints `plenary listening on http://ADDRESS` as its first
/// line, serves until SIGINT or SIGTERM, then shuts down cleanly.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let store = store::open(&config.database_url)
        .await
        .context("opening the database")?;
    let listener = listen(config.bind).with_context(|| format!("listening on {}", config.bind))?;
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
    bootstrap(&state, args.demo, address).await?;
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
