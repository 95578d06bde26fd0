//! What the end-to-end tests stand on: throwaway databases, the built binary
//! on a free port, the npm `yjs`/`y-websocket` client driven over a pipe, and
//! a Rust yrs client over a real socket.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use plenary::sync::protocol::{self, AwarenessEntry, Message};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, GetString, ReadTxn, StateVector, Text, Transact, Update};

/// How long any single wait in a test may take before it fails.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The secretariat account every test server starts with.
pub const ADMIN_EMAIL: &str = "secretariat@plenary.example";
/// Its password.
pub const ADMIN_PASSWORD: &str = "a long secretariat password";

/// The environment variable naming a PostgreSQL server for the tests.
pub const POSTGRES_URL_VAR: &str = "PLENARY_TEST_DATABASE_URL";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test and is dropped after it.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A fresh database of `backend`; `None` (with a loud message) when the
    /// PostgreSQL tests cannot run here.
    pub async fn new(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite()),
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// A database at `url` that the test does not own (a restored backup).
    pub fn from_url(url: &str) -> TestDb {
        TestDb {
            url: url.to_owned(),
            backend: Backend::Sqlite,
            dir: tempfile::tempdir().expect("temporary folder"),
            postgres: None,
        }
    }

    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = format!("sqlite://{}", dir.path().join("plenary.db").display());
        TestDb {
            url,
            backend: Backend::Sqlite,
            dir,
            postgres: None,
        }
    }

    pub async fn postgres() -> Option<TestDb> {
        let Ok(admin) = std::env::var(POSTGRES_URL_VAR) else {
            eprintln!(
                "\n*** PostgreSQL tests NOT RUN: {POSTGRES_URL_VAR} is not set (tests/run starts a throwaway cluster when PostgreSQL is installed) ***\n"
            );
            return None;
        };
        let name = format!("plenary_test_{}", rand::random::<u64>());
        let mut connection = connect_postgres(&admin).await;
        sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
            .execute(&mut connection)
            .await
            .expect("create a test database");
        Some(TestDb {
            url: with_database(&admin, &name),
            backend: Backend::Postgres,
            dir: tempfile::tempdir().expect("temporary folder"),
            postgres: Some((admin, name)),
        })
    }

    /// A folder that lives as long as the database.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub async fn store(&self) -> plenary::store::DynStore {
        self.database().await.documents
    }

    pub async fn database(&self) -> plenary::store::Database {
        plenary::store::open(&self.url)
            .await
            .expect("open the database")
    }

    /// Makes PostgreSQL drop the connections to this database (as a restart
    /// does): every one, or only those listening for the other nodes'
    /// notices. Returns how many it dropped.
    pub async fn drop_connections(&self, which: Connections) -> usize {
        let listening = match which {
            Connections::All => "",
            Connections::Listening => " and query ilike 'listen%'",
        };
        let mut admin = connect_postgres(&self.url).await;
        let dropped: Vec<bool> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select pg_terminate_backend(pid) from pg_stat_activity \
             where datname = current_database() and pid <> pg_backend_pid(){listening}"
        )))
        .fetch_all(&mut admin)
        .await
        .expect("terminate the connections");
        dropped.len()
    }
}

/// Which connections [`TestDb::drop_connections`] drops.
pub enum Connections {
    All,
    Listening,
}

async fn connect_postgres(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|error| {
            panic!("{POSTGRES_URL_VAR} is set but PostgreSQL is unreachable at {url}: {error}")
        })
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base
        .find("://")
        .map(|scheme| scheme + 3)
        .and_then(|start| base[start..].find('/').map(|slash| start + slash))
        .unwrap_or(base.len());
    let mut out = format!("{}/{name}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.postgres.take() {
            // Drop runs outside any runtime we may block: use a thread of our own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async {
                    let mut connection = connect_postgres(&admin).await;
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "drop database if exists {name} with (force)"
                    )))
                    .execute(&mut connection)
                    .await;
                });
            })
            .join();
        }
    }
}

/// Expands a test body into one test per backend (zed's `test_both_dbs!`).
#[macro_export]
macro_rules! test_both_dbs {
    ($body:ident, $sqlite:ident, $postgres:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            let db = $crate::support::TestDb::new($crate::support::Backend::Sqlite)
                .await
                .expect("SQLite is always there");
            $body(db).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            if let Some(db) = $crate::support::TestDb::new($crate::support::Backend::Postgres).await
            {
                $body(db).await;
            }
        }
    };
}

/// Something serving `/sync`.
pub trait Endpoint {
    /// The y-websocket server URL (the provider appends `/{room}`).
    fn ws_url(&self) -> String;
    /// `http://ADDRESS`.
    fn base_url(&self) -> String;
}

impl Endpoint for Server {
    fn ws_url(&self) -> String {
        Server::ws_url(self)
    }
    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The library's server in this process, on a free port, over any store
/// (a [`plenary::store::faults::FaultyStore`] included).
pub struct InProcess {
    pub addr: SocketAddr,
    pub state: plenary::app::AppState,
    shutdown: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl InProcess {
    pub async fn start(
        database: plenary::store::Database,
        mut config: plenary::config::Config,
    ) -> InProcess {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let addr = listener.local_addr().expect("bound");
        let shutdown = tokio_util::sync::CancellationToken::new();
        config.admin = Some((ADMIN_EMAIL.into(), ADMIN_PASSWORD.into()));
        let state = plenary::app::AppState::new(config, database, shutdown.clone());
        plenary::cli::bootstrap(&state, false, addr)
            .await
            .expect("bootstrap the secretariat account");
        let task = tokio::spawn(plenary::app::serve(listener, state.clone()));
        InProcess {
            addr,
            state,
            shutdown,
            task,
        }
    }

    /// Waits until every document has unloaded (with no idle time
    /// configured, once its last socket has left and its last commit landed).
    pub async fn until_unloaded(&self) {
        let rooms = self.state.rooms();
        tokio::time::timeout(PATIENCE, async {
            while rooms.open_documents() > 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .await
        .expect("the idle documents unload");
    }

    /// Default configuration (tests adjust it before starting).
    pub fn config() -> plenary::config::Config {
        plenary::config::Config::new(([127, 0, 0, 1], 0).into(), "unused://")
    }

    /// Shuts down as SIGTERM would, and waits.
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("the server stops in time")
            .expect("server task")
            .expect("serve");
    }
}

impl Endpoint for InProcess {
    fn ws_url(&self) -> String {
        format!("ws://{}/sync", self.addr)
    }
    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The built `plenary` binary, running on a free port.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    database_url: String,
    args: Vec<String>,
    output: mpsc::UnboundedReceiver<String>,
}

impl Server {
    /// Starts `plenary serve` on `db` with extra flags.
    pub async fn start(db: &TestDb, args: &[&str]) -> Server {
        Self::spawn(db.url.clone(), args.iter().map(|s| s.to_string()).collect()).await
    }

    /// Starts `plenary serve` with no secretariat account from the
    /// environment (first-run setup, or `--demo`).
    pub async fn start_without_admin(db: &TestDb, args: &[&str]) -> Server {
        Self::spawn_with(
            db.url.clone(),
            args.iter().map(|s| s.to_string()).collect(),
            false,
        )
        .await
    }

    /// Starts `plenary serve` with debug logging, keeping what it logs.
    pub async fn start_logging(db: &TestDb) -> (Server, Arc<Mutex<String>>) {
        let log = Arc::new(Mutex::new(String::new()));
        let server = Self::spawn_full(db.url.clone(), Vec::new(), true, Some(log.clone())).await;
        (server, log)
    }

    async fn spawn(database_url: String, args: Vec<String>) -> Server {
        Self::spawn_with(database_url, args, true).await
    }

    async fn spawn_with(database_url: String, args: Vec<String>, admin: bool) -> Server {
        Self::spawn_full(database_url, args, admin, None).await
    }

    async fn spawn_full(
        database_url: String,
        args: Vec<String>,
        admin: bool,
        log: Option<Arc<Mutex<String>>>,
    ) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_plenary"));
        command
            .arg("serve")
            .args(["--bind", "127.0.0.1:0", "--database-url", &database_url])
            .args(&args)
            .env(
                "PLENARY_LOG",
                std::env::var("PLENARY_LOG").unwrap_or("warn".into()),
            )
            .env_remove("PLENARY_ADMIN_EMAIL")
            .env_remove("PLENARY_ADMIN_PASSWORD");
        if admin {
            command
                .env("PLENARY_ADMIN_EMAIL", ADMIN_EMAIL)
                .env("PLENARY_ADMIN_PASSWORD", ADMIN_PASSWORD);
        }
        if log.is_some() {
            command.env("PLENARY_LOG", "debug").stderr(Stdio::piped());
        } else {
            command.stderr(Stdio::inherit());
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the plenary binary");
        if let (Some(log), Some(stderr)) = (log, child.stderr.take()) {
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut log = log.lock().expect("lock");
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(PATIENCE, lines.next_line())
            .await
            .expect("the server prints its address in time")
            .expect("read stdout")
            .expect("the server printed a first line");
        let addr = first
            .rsplit("http://")
            .next()
            .and_then(|a| a.trim().parse().ok())
            .unwrap_or_else(|| panic!("first line names the address: {first:?}"));
        // Keep draining stdout so the server never blocks on it; tests may
        // read what it printed after the address.
        let (output_tx, output) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = output_tx.send(line);
            }
        });
        Server {
            child,
            addr,
            database_url,
            args,
            output,
        }
    }

    /// The next line the server printed after its address.
    pub async fn output_line(&mut self) -> String {
        tokio::time::timeout(PATIENCE, self.output.recv())
            .await
            .expect("the server prints in time")
            .expect("the server printed a line")
    }

    /// The y-websocket server URL (the provider appends `/{room}`).
    pub fn ws_url(&self) -> String {
        format!("ws://{}/sync", self.addr)
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A counter or gauge of `/metrics`.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = reqwest::get(self.http_url("/metrics"))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics");
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} is not in /metrics"))
    }

    /// SIGKILL: the process dies at once, with whatever it had in flight.
    pub async fn kill9(&mut self) {
        self.child.start_kill().expect("SIGKILL");
        let _ = self.child.wait().await;
    }

    /// SIGTERM, then waits for the exit status.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("the server exits after SIGTERM")
            .expect("wait")
    }

    /// Starts the server again on the same database (a new port).
    pub async fn restart(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.kill9().await;
        }
        *self = Self::spawn(self.database_url.clone(), self.args.clone()).await;
    }
}

/// Path to the folder of the npm test clients.
pub fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js")
}

/// The npm `yjs` + `y-websocket` client in a Node.js process.
pub struct JsClient {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    next_id: u64,
}

impl JsClient {
    pub async fn spawn() -> JsClient {
        let dir = js_dir();
        assert!(
            dir.join("node_modules/y-websocket").exists(),
            "the npm test clients are not installed: run `npm ci --prefix tests/js` (tests/run does it)"
        );
        let mut child = Command::new("node")
            .arg(dir.join("client.mjs"))
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start node (Node.js 20 or later must be installed)");
        let stdin = child.stdin.take().expect("piped");
        let lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        JsClient {
            child,
            stdin,
            lines,
            next_id: 1,
        }
    }

    /// Sends one command and waits for its answer.
    pub async fn call(&mut self, mut command: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        command["id"] = json!(id);
        let mut line = command.to_string();
        line.push('\n');
        self.stdin
            .write_all(line.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let answer =
            tokio::time::timeout(PATIENCE + Duration::from_secs(5), self.lines.next_line())
                .await
                .map_err(|_| format!("no answer to {command}"))?
                .map_err(|e| e.to_string())?
                .ok_or("the node client exited")?;
        let answer: Value = serde_json::from_str(&answer).map_err(|e| e.to_string())?;
        if let Some(error) = answer.get("error") {
            return Err(error.as_str().unwrap_or_default().to_owned());
        }
        Ok(answer["ok"].clone())
    }

    /// Connects to `room` and waits for the first sync.
    pub async fn connect(&mut self, server: &Server, room: &str) {
        self.connect_with(server, room, json!({})).await;
    }

    pub async fn connect_with(&mut self, server: &Server, room: &str, params: Value) {
        self.call(json!({"op": "connect", "url": server.ws_url(), "room": room, "params": params}))
            .await
            .expect("the npm client connects and syncs");
    }

    /// Evaluates a JavaScript expression with `doc`, `Y`, `provider`,
    /// `awareness`, `helpers` and `closes` in scope.
    pub async fn eval(&mut self, expr: &str) -> Value {
        self.call(json!({"op": "eval", "expr": expr}))
            .await
            .unwrap_or_else(|e| panic!("eval {expr}: {e}"))
    }

    /// Waits until the expression is truthy (re-checked on each change).
    pub async fn until(&mut self, expr: &str) -> Value {
        self.call(json!({"op": "until", "expr": expr, "timeout": PATIENCE.as_millis() as u64}))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn text(&mut self, name: &str) -> String {
        self.eval(&format!("doc.getText({name:?}).toString()"))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn exit(mut self) {
        let _ = self.call(json!({"op": "exit"})).await;
        let _ = self.child.wait().await;
    }
}

/// What a [`YrsClient`] has heard from the server.
#[derive(Default)]
struct Heard {
    synced: bool,
    awareness: HashMap<u64, (u64, Option<String>)>,
    close: Option<(u16, String)>,
    permission_denied: Vec<String>,
    frames: u64,
}

/// A Rust client: a yrs document synced over a real websocket.
///
/// `doc` is the client's replica (its own edits plus the server's);
/// `mirror` holds only what the server sent, so it is exactly "what this
/// client has seen from the server".
pub struct YrsClient {
    pub doc: Doc,
    pub mirror: Doc,
    heard: Arc<Mutex<Heard>>,
    changed: Arc<Notify>,
    outgoing: mpsc::UnboundedSender<tungstenite::Message>,
    reader: tokio::task::JoinHandle<()>,
    pub client_id: u64,
}

impl YrsClient {
    /// Connects to `room` with a fresh document and waits for the first sync.
    pub async fn connect(server: &impl Endpoint, room: &str) -> YrsClient {
        let client = Self::connect_doc(server, room, Doc::new()).await;
        client.wait_synced().await;
        client
    }

    /// Connects with an existing document (a reconnect keeps its edits).
    pub async fn connect_doc(server: &impl Endpoint, room: &str, doc: Doc) -> YrsClient {
        Self::connect_url(&format!("{}/{room}", server.ws_url()), doc).await
    }

    pub async fn connect_url(url: &str, doc: Doc) -> YrsClient {
        Self::connect_url_mirrored(url, doc, Doc::new()).await
    }

    /// Reconnects with a document and the mirror of what it saw before.
    pub async fn reconnect(server: &impl Endpoint, room: &str, doc: Doc, mirror: Doc) -> YrsClient {
        let url = format!("{}/{room}", server.ws_url());
        let client = Self::connect_url_mirrored(&url, doc, mirror).await;
        client.wait_synced().await;
        client
    }

    async fn connect_url_mirrored(url: &str, doc: Doc, mirror: Doc) -> YrsClient {
        let (socket, _) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect in time")
            .expect("websocket handshake");
        let (mut sink, mut stream) = socket.split();
        let heard = Arc::new(Mutex::new(Heard::default()));
        let changed = Arc::new(Notify::new());
        let (outgoing, mut outgoing_rx) = mpsc::unbounded_channel::<tungstenite::Message>();
        tokio::spawn(async move {
            while let Some(message) = outgoing_rx.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
        });
        let client_id = doc.client_id().get();
        // Our own step 1, as y-websocket sends it on open.
        let sv = doc.transact().state_vector().encode_v1();
        let _ = outgoing.send(tungstenite::Message::Binary(protocol::encode_sync_step1(
            &sv,
        )));
        let reader = {
            let doc = doc.clone();
            let mirror = mirror.clone();
            let heard = heard.clone();
            let changed = changed.clone();
            let outgoing = outgoing.clone();
            tokio::spawn(async move {
                while let Some(message) = stream.next().await {
                    match message {
                        Ok(tungstenite::Message::Binary(frame)) => {
                            let messages = protocol::decode_frame(&frame)
                                .expect("the server sends valid frames");
                            let mut heard = heard.lock().expect("lock");
                            heard.frames += 1;
                            for message in messages {
                                handle_server_message(
                                    message, &doc, &mirror, &mut heard, &outgoing,
                                );
                            }
                        }
                        Ok(tungstenite::Message::Close(frame)) => {
                            let (code, reason) = frame
                                .map(|f| (u16::from(f.code), f.reason.to_string()))
                                .unwrap_or((1005, String::new()));
                            heard.lock().expect("lock").close = Some((code, reason));
                            break;
                        }
                        Ok(_) => {}
                        Err(_) => {
                            let mut heard = heard.lock().expect("lock");
                            if heard.close.is_none() {
                                heard.close = Some((1006, "connection lost".into()));
                            }
                            break;
                        }
                    }
                    changed.notify_waiters();
                }
                let mut guard = heard.lock().expect("lock");
                if guard.close.is_none() {
                    guard.close = Some((1006, "stream ended".into()));
                }
                drop(guard);
                changed.notify_waiters();
            })
        };
        YrsClient {
            doc,
            mirror,
            heard,
            changed,
            outgoing,
            reader,
            client_id,
        }
    }

    /// Waits until `condition` holds, re-checking whenever a frame arrives.
    pub async fn wait_for(&self, what: &str, condition: impl Fn(&YrsClient) -> bool) {
        if !self.wait_until(condition).await {
            panic!("timed out waiting for {what}");
        }
    }

    /// Waits until `condition` holds, re-checking whenever a frame arrives;
    /// false if it still does not after [`PATIENCE`].
    pub async fn wait_until(&self, condition: impl Fn(&YrsClient) -> bool) -> bool {
        let wait = async {
            loop {
                let notified = self.changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if condition(self) {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(PATIENCE, wait).await.is_ok()
    }

    pub async fn wait_synced(&self) {
        self.wait_for("the first sync", |c| c.heard.lock().expect("lock").synced)
            .await;
    }

    /// Waits for the server to close the socket; returns (code, reason).
    pub async fn wait_closed(&self) -> (u16, String) {
        self.wait_for("the server to close", |c| c.closed().is_some())
            .await;
        self.closed().expect("closed")
    }

    pub fn closed(&self) -> Option<(u16, String)> {
        self.heard.lock().expect("lock").close.clone()
    }

    pub fn permission_denied(&self) -> Vec<String> {
        self.heard.lock().expect("lock").permission_denied.clone()
    }

    /// The awareness states this client has heard, by client id.
    pub fn awareness(&self) -> HashMap<u64, Option<String>> {
        self.heard
            .lock()
            .expect("lock")
            .awareness
            .iter()
            .map(|(client, (_, state))| (*client, state.clone()))
            .collect()
    }

    pub fn text(&self, name: &str) -> String {
        let text = self.doc.get_or_insert_text(name);
        text.get_string(&self.doc.transact())
    }

    /// Length of a `Y.Text` in what the server sent (cheaper than its text).
    pub fn mirror_len(&self, name: &str) -> u32 {
        let text = self.mirror.get_or_insert_text(name);
        text.len(&self.mirror.transact())
    }

    pub fn mirror_text(&self, name: &str) -> String {
        let text = self.mirror.get_or_insert_text(name);
        text.get_string(&self.mirror.transact())
    }

    /// Inserts into a `Y.Text` and sends the update.
    pub fn insert(&self, name: &str, index: u32, chunk: &str) {
        let text = self.doc.get_or_insert_text(name);
        let update = {
            let mut transaction = self.doc.transact_mut();
            text.insert(&mut transaction, index, chunk);
            transaction.encode_update_v1()
        };
        self.send_frame(protocol::encode_update(&update));
    }

    /// Runs `change` on the client's document as one transaction and sends
    /// the update (as an editor would).
    pub fn transact(&self, change: impl FnOnce(&mut yrs::TransactionMut)) {
        let update = {
            let mut transaction = self.doc.transact_mut();
            change(&mut transaction);
            transaction.encode_update_v1()
        };
        self.send_frame(protocol::encode_update(&update));
    }

    /// The body as the server reads it, from what this client has seen.
    pub fn mirror_body(&self) -> Vec<plenary::document::Block> {
        plenary::document::read_body(&self.mirror)
    }

    /// Deletes from a `Y.Text` and sends the update.
    pub fn delete(&self, name: &str, index: u32, len: u32) {
        let text = self.doc.get_or_insert_text(name);
        let update = {
            let mut transaction = self.doc.transact_mut();
            text.remove_range(&mut transaction, index, len);
            transaction.encode_update_v1()
        };
        self.send_frame(protocol::encode_update(&update));
    }

    /// Appends to the end of a `Y.Text`: its length is read in the same
    /// transaction as the insert, or an update the reader applies in between
    /// would put the chunk inside text that arrived meanwhile, splitting a
    /// word of another client (or of this one) in two.
    pub fn append(&self, name: &str, chunk: &str) {
        let text = self.doc.get_or_insert_text(name);
        self.transact(|transaction| {
            let len = text.len(transaction);
            text.insert(transaction, len, chunk);
        });
    }

    /// Sets this client's awareness state (with the next clock).
    pub fn set_awareness(&self, clock: u64, state: Option<&str>) {
        self.send_awareness(self.client_id, clock, state);
    }

    pub fn send_awareness(&self, client: u64, clock: u64, state: Option<&str>) {
        let entry = AwarenessEntry {
            client,
            clock,
            state: state.map(str::to_owned),
        };
        self.send_frame(protocol::encode_awareness([&entry]));
    }

    pub fn send_frame(&self, frame: Bytes) {
        let _ = self.outgoing.send(tungstenite::Message::Binary(frame));
    }

    pub fn send_raw(&self, message: tungstenite::Message) {
        let _ = self.outgoing.send(message);
    }

    /// Frames received so far.
    pub fn frames(&self) -> u64 {
        self.heard.lock().expect("lock").frames
    }

    pub fn close(&self) {
        let _ = self.outgoing.send(tungstenite::Message::Close(None));
    }
}

impl Drop for YrsClient {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

fn handle_server_message(
    message: Message,
    doc: &Doc,
    mirror: &Doc,
    heard: &mut Heard,
    outgoing: &mpsc::UnboundedSender<tungstenite::Message>,
) {
    let apply = |target: &Doc, update: &[u8]| {
        let update = Update::decode_v1(update).expect("the server sends valid updates");
        target
            .transact_mut()
            .apply_update(update)
            .expect("the server's updates apply");
    };
    match message {
        Message::SyncStep1(sv) => {
            let sv = StateVector::decode_v1(&sv).expect("valid state vector");
            let update = doc.transact().encode_state_as_update_v1(&sv);
            let _ = outgoing.send(tungstenite::Message::Binary(protocol::encode_sync_step2(
                &update,
            )));
        }
        Message::SyncStep2(update) => {
            apply(doc, &update);
            apply(mirror, &update);
            heard.synced = true;
        }
        Message::Update(update) => {
            apply(doc, &update);
            apply(mirror, &update);
        }
        Message::Awareness(entries) => {
            for entry in entries {
                heard
                    .awareness
                    .insert(entry.client, (entry.clock, entry.state));
            }
        }
        Message::Auth { reason, .. } => heard.permission_denied.push(reason),
        Message::QueryAwareness => {}
    }
}

/// The whole content of a document as one comparable value: every root
/// `Y.Text` named in `texts`, as strings.
pub fn texts_of(doc: &Doc, texts: &[&str]) -> Vec<String> {
    texts
        .iter()
        .map(|name| {
            let text = doc.get_or_insert_text(*name);
            text.get_string(&doc.transact())
        })
        .collect()
}

/// A raw websocket, for sending what no real client would.
pub async fn raw_socket(
    server: &impl Endpoint,
    room: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let url = format!("{}/{room}", server.ws_url());
    let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("websocket handshake");
    socket
}

/// Reads from a raw socket until the server closes it; returns its close code and reason.
pub async fn read_until_close<S>(
    socket: &mut tokio_tungstenite::WebSocketStream<S>,
) -> (u16, String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let wait = async {
        while let Some(message) = socket.next().await {
            match message {
                Ok(tungstenite::Message::Close(Some(frame))) => {
                    return (u16::from(frame.code), frame.reason.to_string());
                }
                Ok(tungstenite::Message::Close(None)) => return (1005, String::new()),
                Ok(_) => {}
                Err(error) => return (1006, error.to_string()),
            }
        }
        (1006, "stream ended".into())
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .expect("the server closes the socket in time")
}

/// The seed of a randomized test: `PLENARY_TEST_SEED` to replay one, else a
/// fresh one. Printed so that a failure can be replayed.
pub fn seed(test: &str) -> u64 {
    let seed = std::env::var("PLENARY_TEST_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("{test}: seed {seed} (replay with PLENARY_TEST_SEED={seed})");
    seed
}

/// A raw websocket whose receive buffer is tiny, so that a client that does
/// not read backs up into the server quickly.
pub async fn raw_socket_small_buffer(
    server: &impl Endpoint,
    room: &str,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    let url = format!("{}/{room}", server.ws_url());
    let authority = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .expect("host:port")
        .to_owned();
    let address: SocketAddr = authority.parse().expect("an address");
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let stream = socket.connect(address).await.expect("connect");
    let (socket, _) = tokio_tungstenite::client_async(url.as_str(), stream)
        .await
        .expect("websocket handshake");
    socket
}

/// The HTTP API, as a signed-in account.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: String,
    pub client: reqwest::Client,
}

impl Api {
    /// Signs in.
    pub async fn login(server: &impl Endpoint, email: &str, password: &str) -> Api {
        let client = reqwest::Client::builder()
            .timeout(PATIENCE)
            .build()
            .expect("an HTTP client");
        let response = client
            .post(format!("{}/api/auth/login", server.base_url()))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("login request");
        assert_eq!(response.status(), 200, "login of {email}");
        let body: Value = response.json().await.expect("login body");
        Api {
            base: server.base_url(),
            token: body["token"].as_str().expect("a token").to_owned(),
            client,
        }
    }

    /// Signs in as the secretariat account every test server has.
    pub async fn admin(server: &impl Endpoint) -> Api {
        Self::login(server, ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// Sends a request; returns the status and the JSON body (Null if none).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|error| panic!("{path}: {error:?}"));
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    /// POSTs and expects 201 with an id.
    pub async fn create(&self, path: &str, body: Value) -> String {
        let (status, answer) = self.post(path, body.clone()).await;
        assert_eq!(status, 201, "POST {path} {body}: {answer}");
        answer["id"].as_str().expect("an id").to_owned()
    }
}

/// A meeting with one delegation and one resolution it sponsors, made by the
/// secretariat: what most sync tests need.
pub struct Fixture {
    pub admin: Api,
    pub meeting: String,
    pub delegation: String,
    pub resolution: String,
}

impl Fixture {
    pub async fn new(server: &impl Endpoint) -> Fixture {
        let admin = Api::admin(server).await;
        let meeting = admin
            .create(
                "/api/meetings",
                json!({"title": "7th Annual Meeting", "theme": "Human trafficking"}),
            )
            .await;
        let delegation = admin
            .create(
                &format!("/api/meetings/{meeting}/delegations"),
                json!({"name": "Mexico"}),
            )
            .await;
        let resolution = admin
            .create(
                &format!("/api/meetings/{meeting}/resolutions"),
                json!({"title": "Trafficking in persons", "sponsors": [delegation]}),
            )
            .await;
        Fixture {
            admin,
            meeting,
            delegation,
            resolution,
        }
    }

    /// The room to connect to as the secretariat: `ID?token=TOKEN`.
    pub fn room(&self) -> String {
        format!("{}?token={}", self.resolution, self.admin.token)
    }

    /// The room of another resolution of the same meeting.
    pub async fn new_room(&self) -> (String, String) {
        let resolution = self
            .admin
            .create(
                &format!("/api/meetings/{}/resolutions", self.meeting),
                json!({"title": "Another resolution", "sponsors": [self.delegation]}),
            )
            .await;
        let room = format!("{resolution}?token={}", self.admin.token);
        (resolution, room)
    }

    /// The live document's id.
    pub fn document(&self) -> plenary::ids::DocumentId {
        plenary::ids::DocumentId::parse(&self.resolution).expect("a document name")
    }

    /// Creates an account and signs it in.
    pub async fn account(
        &self,
        server: &impl Endpoint,
        role: &str,
        delegation: Option<&str>,
    ) -> Api {
        self.person(server, &format!("A {role}"), role, delegation)
            .await
    }

    /// Creates a named account and signs it in.
    pub async fn person(
        &self,
        server: &impl Endpoint,
        name: &str,
        role: &str,
        delegation: Option<&str>,
    ) -> Api {
        let email = format!("{role}-{}@plenary.example", rand::random::<u32>());
        let password = "a long enough password";
        self.admin
            .create(
                "/api/users",
                json!({"email": email, "name": name, "password": password, "role": role, "delegation_id": delegation}),
            )
            .await;
        Api::login(server, &email, password).await
    }

    /// The room of this fixture's resolution for another account.
    pub fn room_for(&self, api: &Api) -> String {
        format!("{}?token={}", self.resolution, api.token)
    }
}
