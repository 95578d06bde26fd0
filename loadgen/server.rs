//! The server under test: started by the load generator from a command line
//! (so that it can be restarted), or an already running process given by its
//! pid; and what /proc says about it (CPU seconds, resident memory).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// How long a server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a server may take to stop after SIGINT.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach (and perhaps start) the server.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// A shell command that runs the server in the foreground (`exec` it, so
    /// that its pid is the server's). `{port}`, `{data}` and `{run}` are
    /// replaced by a free port, a data folder and a unique run name, each
    /// the same across restarts of one run.
    pub spawn: Option<String>,
    /// The pid of a server already running (when not spawned).
    pub pid: Option<u32>,
    /// Also count the CPU of every process with this command name
    /// (e.g. `postgres`, whose backends do Plenary's commits).
    pub count_comm: Vec<String>,
}

/// One node of the server under test.
pub struct Node {
    spec: ServerSpec,
    /// The port it listens on.
    pub port: u16,
    data: PathBuf,
    run: String,
    child: Option<Child>,
    pid: Option<u32>,
}

impl Node {
    /// Starts the server (or attaches to the given pid).
    pub async fn start(
        spec: &ServerSpec,
        port: Option<u16>,
        data: PathBuf,
        run: String,
    ) -> anyhow::Result<Node> {
        let port = match port {
            Some(port) => port,
            None => free_port()?,
        };
        let mut node = Node {
            spec: spec.clone(),
            port,
            data,
            run,
            child: None,
            pid: spec.pid,
        };
        if spec.spawn.is_some() {
            node.launch().await?;
        }
        Ok(node)
    }

    /// Whether the load generator can restart this node.
    pub fn restartable(&self) -> bool {
        self.spec.spawn.is_some()
    }

    /// The server's pid, when known.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    async fn launch(&mut self) -> anyhow::Result<()> {
        let Some(template) = &self.spec.spawn else {
            bail!("no --spawn command to start the server with");
        };
        std::fs::create_dir_all(&self.data)
            .with_context(|| format!("creating {}", self.data.display()))?;
        let command = template
            .replace("{port}", &self.port.to_string())
            .replace("{data}", &self.data.display().to_string())
            .replace("{run}", &self.run);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data.join("server.log"))
            .context("opening the server's log")?;
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("exec {command}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("log")?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting `{command}`"))?;
        self.pid = child.id();
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                bail!(
                    "the server exited ({status}) before listening; see {}",
                    self.data.join("server.log").display()
                );
            }
            if started.elapsed() > START_TIMEOUT {
                bail!(
                    "the server did not listen on port {} within {START_TIMEOUT:?}",
                    self.port
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the server with SIGINT (every server under test commits or
    /// stores what it holds on it), then SIGKILL if it lingers.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if let Some(pid) = child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status();
        }
        if tokio::time::timeout(STOP_TIMEOUT, child.wait())
            .await
            .is_err()
        {
            child.start_kill().context("SIGKILL")?;
            let _ = child.wait().await;
        }
        self.pid = None;
        Ok(())
    }

    /// Stops and starts the server again on the same port, data and run.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        self.launch().await
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// CPU time and memory of a process, read from /proc.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcStat {
    /// User plus system CPU seconds.
    pub cpu_seconds: f64,
    /// Resident memory now, in bytes.
    pub rss_bytes: u64,
    /// Peak resident memory since the process started (VmHWM), in bytes.
    pub hwm_bytes: u64,
}

fn clock_ticks() -> f64 {
    // Linux has used 100 on every mainstream architecture for decades;
    // getconf says so if it is there.
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Reads one process's CPU and memory.
pub fn proc_stat(pid: u32, ticks: f64) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields follow the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find(|line| line.starts_with(key))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    Some(ProcStat {
        cpu_seconds: (utime + stime) / ticks,
        rss_bytes: kib("VmRSS:") * 1024,
        hwm_bytes: kib("VmHWM:") * 1024,
    })
}

/// CPU seconds of every process whose command name is `comm`.
fn comm_cpu(comm: &str, ticks: f64) -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|name| name.trim() == comm)
        })
        .filter_map(|pid| proc_stat(pid, ticks))
        .map(|stat| stat.cpu_seconds)
        .sum()
}

/// CPU seconds of this process (not of its children).
fn own_cpu(ticks: f64) -> f64 {
    proc_stat(std::process::id(), ticks).map_or(0.0, |stat| stat.cpu_seconds)
}

/// Samples the servers' memory while a phase runs, and their CPU across it.
pub struct Sampler {
    pids: Vec<u32>,
    comms: Vec<String>,
    ticks: f64,
    start_cpu: f64,
    start_comm_cpu: f64,
    start_own_cpu: f64,
    started: Instant,
    peak_rss: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

/// What a [`Sampler`] measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// Wall seconds.
    pub seconds: f64,
    /// CPU seconds of the server processes.
    pub cpu_seconds: f64,
    /// CPU seconds of the `count_comm` processes (e.g. PostgreSQL).
    pub comm_cpu_seconds: f64,
    /// CPU seconds of the load generator itself (its clients), which shares
    /// the machine with the server.
    pub own_cpu_seconds: f64,
    /// Peak of the summed resident memory of the server processes, sampled
    /// every 20 ms.
    pub peak_rss_bytes: u64,
    /// Peak resident memory since each server started (VmHWM), summed.
    pub hwm_bytes: u64,
}

impl Sampler {
    /// Starts sampling `pids` (the nodes) and the `comms` processes.
    pub fn start(pids: Vec<u32>, comms: Vec<String>) -> Sampler {
        let ticks = clock_ticks();
        let start_cpu = pids
            .iter()
            .filter_map(|&pid| proc_stat(pid, ticks))
            .map(|stat| stat.cpu_seconds)
            .sum();
        let start_comm_cpu = comms.iter().map(|comm| comm_cpu(comm, ticks)).sum();
        let start_own_cpu = own_cpu(ticks);
        let peak_rss = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let pids = pids.clone();
            let peak_rss = peak_rss.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let rss: u64 = pids
                        .iter()
                        .filter_map(|&pid| proc_stat(pid, ticks))
                        .map(|stat| stat.rss_bytes)
                        .sum();
                    peak_rss.fetch_max(rss, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        Sampler {
            pids,
            comms,
            ticks,
            start_cpu,
            start_comm_cpu,
            start_own_cpu,
            started: Instant::now(),
            peak_rss,
            stop,
            task,
        }
    }

    /// Stops and returns what was measured.
    pub async fn finish(self) -> Sample {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        let stats: Vec<ProcStat> = self
            .pids
            .iter()
            .filter_map(|&pid| proc_stat(pid, self.ticks))
            .collect();
        let cpu: f64 = stats.iter().map(|stat| stat.cpu_seconds).sum();
        let comm_cpu: f64 = self
            .comms
            .iter()
            .map(|comm| comm_cpu(comm, self.ticks))
            .sum();
        let rss_now: u64 = stats.iter().map(|stat| stat.rss_bytes).sum();
        Sample {
            seconds: self.started.elapsed().as_secs_f64(),
            cpu_seconds: (cpu - self.start_cpu).max(0.0),
            comm_cpu_seconds: (comm_cpu - self.start_comm_cpu).max(0.0),
            own_cpu_seconds: (own_cpu(self.ticks) - self.start_own_cpu).max(0.0),
            peak_rss_bytes: self.peak_rss.load(Ordering::Relaxed).max(rss_now),
            hwm_bytes: stats.iter().map(|stat| stat.hwm_bytes).sum(),
        }
    }
}
