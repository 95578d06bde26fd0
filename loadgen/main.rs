//! `plenary-load`: the load generator of issue 9.
//!
//! Speaks y-websocket (or Hocuspocus's dialect) with yrs clients to Plenary
//! or to a peer server, runs the scenarios of the issue, and reports fan-out
//! latency (HdrHistogram), delivered updates per second, the server's CPU
//! seconds and peak memory (from /proc), and whether every client, and a
//! fresh one, ended with the same document. `plenary-load report` turns the
//! results of several servers into one Markdown table and a plot.
//!
//! - [`client`]: one yrs client over a websocket, and the shared measurements.
//! - [`server`]: starting, restarting and watching the server under test.
//! - [`scenarios`]: plenary, saturation, rooms, cold, storm, cross-node.
//! - [`report`]: the comparison table and plot.
//!
//! docs/performance/README.md tells how to run it.

mod client;
mod report;
mod scenarios;
mod server;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::scenarios::Run;
use crate::server::{Node, ServerSpec};

/// jemalloc, as the server: every client's document only grows, and glibc's
/// allocator gave freed pages back and took fresh ones, zeroed by the kernel,
/// again and again (a sixth of the generator's time in `saturation`).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Load generator for y-websocket servers (Plenary and its peers).
#[derive(Debug, Parser)]
#[command(name = "plenary-load", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Subcommands>,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Debug, Subcommand)]
enum Subcommands {
    /// Writes the comparison table and plot from result files.
    Report(report::ReportArgs),
}

/// The scenarios of issue 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// 1 document, 100 clients, 20 typing 5 characters a second for 20 s.
    Plenary,
    /// 1 document, 20 clients, 4 writers keeping 50 updates in flight, 15 s.
    Saturation,
    /// 1000 documents × 2 clients, one edit per document per second.
    Rooms,
    /// A history of 20,000 updates: a fresh client's sync, warm and after a restart.
    Cold,
    /// 1000 clients of one document reconnect at once.
    Storm,
    /// `plenary` with the clients spread over several nodes.
    CrossNode,
    /// A meeting's mix for --soak-minutes (30): a plenary document, 100
    /// committee documents, readers dropping and rejoining, documents
    /// unloaded and loaded again; memory read every minute. Not for CI.
    Soak,
}

/// How the server frames the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dialect {
    /// y-websocket (Plenary, @y/websocket-server, y-sweet).
    YWebsocket,
    /// Hocuspocus (every message carries the document's name).
    Hocuspocus,
}

#[derive(Debug, clap::Args)]
struct LoadArgs {
    /// Scenarios to run, in order (each on a freshly started server when
    /// --spawn is given).
    #[arg(long = "scenario", value_enum)]
    scenarios: Vec<Scenario>,
    /// A label for the server under test, as it appears in the results.
    #[arg(long, default_value = "server")]
    label: String,
    /// WebSocket URL template: `{port}` is the node's port, `{doc}` the
    /// document's name; `?token=` is appended when --token is given.
    #[arg(long, default_value = "ws://127.0.0.1:{port}/sync/{doc}")]
    url: String,
    /// Ports of running nodes (with --server-pid), when not spawned.
    #[arg(long = "port")]
    ports: Vec<u16>,
    /// Shell command that runs one node in the foreground; `{port}`,
    /// `{data}` and `{run}` are filled in. Lets the load generator restart
    /// the server (the `cold` scenario) and start a fresh one per scenario.
    #[arg(long)]
    spawn: Option<String>,
    /// Pid of the running server (when not spawned), for its CPU and memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Nodes to start for `cross-node`.
    #[arg(long, default_value_t = 2)]
    nodes: usize,
    /// Also count the CPU of processes with this name (e.g. `postgres`).
    #[arg(long = "count-cpu-of")]
    count_comm: Vec<String>,
    /// Protocol dialect of the server.
    #[arg(long, value_enum, default_value = "y-websocket")]
    dialect: Dialect,
    /// Token appended to every URL as `?token=` (and sent in Hocuspocus's auth).
    #[arg(long, env = "PLENARY_LOAD_TOKEN")]
    token: Option<String>,
    /// Document name for the one-document scenarios.
    #[arg(long)]
    document: Option<String>,
    /// File of document names, one per line (the `rooms` scenario needs as many as documents).
    #[arg(long)]
    documents_file: Option<PathBuf>,
    /// Command run once the server listens, that creates the documents and
    /// prints their names, one per line (a line `token T` sets the token);
    /// `{http}` is the server's base URL, `{count}` how many are needed.
    #[arg(long)]
    prepare: Option<String>,
    /// Small sizes and short durations: a smoke test, not a measurement.
    #[arg(long)]
    quick: bool,
    /// Clients do not send awareness states (y-websocket clients do).
    #[arg(long)]
    no_awareness: bool,
    /// Minutes the `soak` scenario runs (default: 30; 1 with --quick).
    #[arg(long)]
    soak_minutes: Option<f64>,
    /// Write the results as JSON to this file.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Folder for the servers' data and logs (default: a temporary folder).
    #[arg(long)]
    work_dir: Option<PathBuf>,
}

/// The sizes of every scenario.
#[derive(Debug, Clone)]
pub struct Sizes {
    pub typing_clients: usize,
    pub typing_writers: usize,
    pub typing_rate: f64,
    pub typing_duration: Duration,
    pub saturation_clients: usize,
    pub saturation_writers: usize,
    pub saturation_window: u64,
    pub saturation_duration: Duration,
    pub rooms_documents: usize,
    pub rooms_duration: Duration,
    pub cold_updates: u64,
    pub cold_repeats: usize,
    pub cold_settle: Duration,
    pub storm_clients: usize,
    pub storm_content: u64,
    pub soak_duration: Duration,
    pub soak_documents: usize,
}

impl Sizes {
    /// The sizes of the issue.
    fn full() -> Self {
        Self {
            typing_clients: 100,
            typing_writers: 20,
            typing_rate: 5.0,
            typing_duration: Duration::from_secs(20),
            saturation_clients: 20,
            saturation_writers: 4,
            saturation_window: 50,
            saturation_duration: Duration::from_secs(15),
            rooms_documents: 1000,
            rooms_duration: Duration::from_secs(20),
            cold_updates: 20_000,
            cold_repeats: 9,
            cold_settle: Duration::from_secs(3),
            storm_clients: 1000,
            storm_content: 2000,
            soak_duration: Duration::from_secs(30 * 60),
            soak_documents: 100,
        }
    }

    /// A smoke test.
    fn quick() -> Self {
        Self {
            typing_clients: 20,
            typing_writers: 4,
            typing_rate: 5.0,
            typing_duration: Duration::from_secs(3),
            saturation_clients: 6,
            saturation_writers: 2,
            saturation_window: 20,
            saturation_duration: Duration::from_secs(2),
            rooms_documents: 20,
            rooms_duration: Duration::from_secs(3),
            cold_updates: 1000,
            cold_repeats: 1,
            cold_settle: Duration::from_secs(1),
            storm_clients: 50,
            storm_content: 200,
            soak_duration: Duration::from_secs(60),
            soak_documents: 10,
        }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Subcommands::Report(args)) = cli.command {
        return report::write(&args);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(load(cli.load))
}

async fn load(args: LoadArgs) -> anyhow::Result<()> {
    if args.scenarios.is_empty() {
        bail!(
            "name at least one --scenario (plenary, saturation, rooms, cold, storm, cross-node, soak)"
        );
    }
    if args.spawn.is_none() && args.ports.is_empty() {
        bail!(
            "give --spawn CMD to start the server, or --port (and --server-pid) of a running one"
        );
    }
    let mut sizes = if args.quick {
        Sizes::quick()
    } else {
        Sizes::full()
    };
    if let Some(minutes) = args.soak_minutes {
        sizes.soak_duration = Duration::from_secs_f64(minutes.max(0.1) * 60.0);
    }
    let spec = ServerSpec {
        spawn: args.spawn.clone(),
        pid: args.server_pid,
        count_comm: args.count_comm.clone(),
    };
    let work_dir = match &args.work_dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("plenary-load-{}", std::process::id())),
    };
    let mut results = Vec::new();
    for (number, &scenario) in args.scenarios.iter().enumerate() {
        let name = scenario
            .to_possible_value()
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default();
        eprintln!("== {} · {name}", args.label);
        let started = std::time::Instant::now();
        let result =
            match run_scenario(&args, &spec, &sizes, &work_dir, number, scenario, &name).await {
                Ok(result) => result,
                Err(error) => json!({
                    "scenario": name,
                    "status": "error",
                    "note": format!("{error:#}"),
                }),
            };
        eprintln!("{}", summary(&result));
        eprintln!("   ({:.0} s)", started.elapsed().as_secs_f64());
        results.push(result);
    }
    let output = json!({
        "label": args.label,
        "quick": args.quick,
        "awareness": !args.no_awareness,
        "results": results,
    });
    let text = serde_json::to_string_pretty(&output)?;
    match &args.output {
        Some(path) => std::fs::write(path, format!("{text}\n"))
            .with_context(|| format!("writing {}", path.display()))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{text}")?;
        }
    }
    if args.work_dir.is_none() {
        let _ = std::fs::remove_dir_all(&work_dir);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn run_scenario(
    args: &LoadArgs,
    spec: &ServerSpec,
    sizes: &Sizes,
    work_dir: &std::path::Path,
    number: usize,
    scenario: Scenario,
    name: &str,
) -> anyhow::Result<Value> {
    let node_count = match scenario {
        Scenario::CrossNode => args.nodes.max(2),
        _ => 1,
    };
    let run_name = format!("load_{}_{number}_{name}", std::process::id()).replace('-', "_");
    let data = work_dir.join(&run_name);
    let mut nodes = Vec::new();
    for index in 0..node_count {
        let port = args.ports.get(index).copied();
        if spec.spawn.is_none() && port.is_none() {
            bail!("{name} needs {node_count} nodes: give as many --port");
        }
        nodes.push(Node::start(spec, port, data.clone(), run_name.clone()).await?);
        if index == 0 {
            // Several nodes share the data folder (and database).
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let needed = match scenario {
        Scenario::Rooms => sizes.rooms_documents,
        Scenario::Soak => sizes.soak_documents + 1,
        _ => 1,
    };
    let (documents, prepared_token) = documents(args, &nodes[0], needed, &run_name).await?;
    let mut run = Run {
        nodes,
        spec: spec.clone(),
        url_template: args.url.clone(),
        dialect: args.dialect,
        token: args.token.clone().or(prepared_token),
        documents,
        awareness: !args.no_awareness,
        sizes: sizes.clone(),
    };
    let result = match scenario {
        Scenario::Plenary => scenarios::typing(&run, name).await,
        Scenario::CrossNode => scenarios::typing(&run, name).await,
        Scenario::Saturation => scenarios::saturation(&run).await,
        Scenario::Rooms => scenarios::rooms(&run).await,
        Scenario::Cold => scenarios::cold(&mut run).await,
        Scenario::Storm => scenarios::storm(&mut run).await,
        Scenario::Soak => scenarios::soak(&run).await,
    };
    for node in &mut run.nodes {
        node.stop().await?;
    }
    result
}

/// The documents to use, and a token if the prepare command printed one.
async fn documents(
    args: &LoadArgs,
    node: &Node,
    needed: usize,
    run_name: &str,
) -> anyhow::Result<(Vec<String>, Option<String>)> {
    let mut token = None;
    let mut names: Vec<String> = Vec::new();
    if let Some(prepare) = &args.prepare {
        let command = prepare
            .replace("{http}", &format!("http://127.0.0.1:{}", node.port))
            .replace("{count}", &needed.to_string());
        let output = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&command)
            .output()
            .await
            .with_context(|| format!("running `{command}`"))?;
        if !output.status.success() {
            bail!(
                "`{command}` failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let line = line.trim();
            if let Some(value) = line.strip_prefix("token ") {
                token = Some(value.trim().to_owned());
            } else if !line.is_empty() {
                names.push(line.to_owned());
            }
        }
    } else if let Some(file) = &args.documents_file {
        names = std::fs::read_to_string(file)
            .with_context(|| format!("reading {}", file.display()))?
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect();
    } else if let Some(document) = &args.document {
        names.push(document.clone());
    }
    if names.is_empty()
        || (names.len() < needed && args.prepare.is_none() && args.documents_file.is_none())
    {
        // Servers that create documents on first use take any name.
        let base = names
            .first()
            .cloned()
            .unwrap_or_else(|| run_name.replace('_', "-"));
        names = (0..needed).map(|index| format!("{base}-{index}")).collect();
    }
    if names.len() < needed {
        bail!("{needed} documents are needed; {} were given", names.len());
    }
    Ok((names, token))
}

/// One line per scenario for people.
fn summary(result: &Value) -> String {
    let status = result["status"].as_str().unwrap_or("?");
    let number = |value: &Value| {
        value
            .as_f64()
            .map(|v| format!("{v:.1}"))
            .unwrap_or("–".into())
    };
    let server = &result["server"];
    let mut line = format!("   status {status}");
    match result["scenario"].as_str().unwrap_or_default() {
        "plenary" | "cross-node" => line.push_str(&format!(
            "; fan-out p50 {} ms, p99 {} ms; {} deliveries/s; server CPU {} s, peak RSS {} MB",
            number(&result["latency"]["p50_ms"]),
            number(&result["latency"]["p99_ms"]),
            number(&result["delivered_per_s"]),
            number(&server["server_cpu_s"]),
            number(&server["server_peak_rss_mb"]),
        )),
        "saturation" => line.push_str(&format!(
            "; {} updates/s to every reader ({} deliveries/s); p99 {} ms",
            number(&result["updates_to_every_reader_per_s"]),
            number(&result["delivered_per_s"]),
            number(&result["latency"]["p99_ms"]),
        )),
        "rooms" => line.push_str(&format!(
            "; server CPU {} s, peak RSS {} MB; p99 {} ms",
            number(&server["server_cpu_s"]),
            number(&server["server_peak_rss_mb"]),
            number(&result["latency"]["p99_ms"]),
        )),
        "cold" => line.push_str(&format!(
            "; warm sync {} ms, after restart {} ms (history written at {} updates/s)",
            number(&result["warm_sync_ms"]),
            number(&result["restart_sync_ms"]),
            number(&result["history_updates_per_s"]),
        )),
        "storm" => line.push_str(&format!(
            "; all synced again in {} ms (p50 {} ms; {} MB to the clients); peak RSS {} MB; after a restart, all synced again in {} ms; without presence states {} ms",
            number(&result["all_synced_ms"]),
            number(&result["synced_p50_ms"]),
            number(&result["received_by_clients"]["mb"]),
            number(&server["server_peak_rss_mb"]),
            number(&result["after_restart"]["all_synced_ms"]),
            number(&result["without_presence"]["all_synced_ms"]),
        )),
        "soak" => line.push_str(&format!(
            "; {} edits, {} rejoins, {} connections lost; RSS {} MB after the first minute, {} MB at the end; p99 {} ms",
            number(&result["edits_sent"]),
            number(&result["rejoins"]),
            number(&result["connections_lost"]),
            number(&result["rss_mb"]["after_first_minute"]),
            number(&result["rss_mb"]["end"]),
            number(&result["latency"]["p99_ms"]),
        )),
        _ => {}
    }
    if let Some(note) = result["note"].as_str() {
        line.push_str(&format!("\n   note: {note}"));
    }
    if result["convergence"]["converged"] == json!(false) {
        line.push_str(&format!("\n   NOT CONVERGED: {}", result["convergence"]));
    }
    line
}
