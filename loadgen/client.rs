//! One load client: a yrs document kept in sync with a server over the
//! y-websocket protocol (or Hocuspocus's dialect of it), as the stock
//! `y-websocket` provider does: sync step 1 and awareness on open, step 2 in
//! answer to the server's step 1, every local change sent as an update,
//! awareness renewed 15 s after each connection and every 15 s after.
//!
//! Each client is one tokio task that owns its socket and its document, so a
//! client never locks anything on the hot path. It measures fan-out latency
//! itself: every edit is one character, so the k-th edit of a writer is the
//! item at clock k of that writer's yrs client id. That (client id, clock)
//! pair is the edit's unique marker; the writer stamps the moment it sends it
//! in its [`WriterLog`], and a receiver that sees the clock of a writer pass k
//! (after applying a frame) records `now − sent[k]` in its histogram. This
//! holds however the server batches or merges updates on the way.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use plenary::sync::protocol::{self, AwarenessEntry};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Assoc, Doc, GetString, ID, ReadTxn, StateVector, StickyIndex, Text, Transact, Update};

/// The root text every client edits.
pub const TEXT: &str = "load";

/// A saturating writer types among the text's first characters. yrs finds an
/// index by walking the text from its start, so typing anywhere in a text of
/// 60,000 separate insertions kept the writers busy walking (80 % of the
/// load generator's time in perf) and the figure measured them, not the
/// server; the server's work does not depend on where an edit lands.
const SATURATOR_SPAN: u32 = 64;

/// Client ids of writers start at or above this; see [`Shared::writer_id`].
const WRITER_BASE: u64 = 1_000_000;

/// Room for this many writers above each run's first writer id.
const WRITERS_PER_BASE: u64 = 4096;

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest frame or message a client accepts.
const MAX_MESSAGE_BYTES: usize = 1 << 30;

/// The y-websocket client's reconnection delays: 100 ms · 2^n, at most 2.5 s.
const MAX_BACKOFF: Duration = Duration::from_millis(2500);

/// How a server frames the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// y-websocket: one document per socket, messages as they are.
    YWebsocket,
    /// Hocuspocus: every message starts with the document's name, and the
    /// first one for a document is an auth message.
    Hocuspocus,
}

/// Where a client connects.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The full websocket URL (with `?token=` when there is one).
    pub url: String,
    /// How the server frames messages.
    pub dialect: Dialect,
    /// The document's name (Hocuspocus needs it in every message).
    pub document: String,
    /// The token sent in Hocuspocus's auth message.
    pub token: String,
}

/// The moments at which a writer sent each of its edits.
#[derive(Debug, Default)]
pub struct WriterLog {
    /// Nanoseconds since [`Shared::epoch`] at which edit `k` (clock `k`) was sent.
    sent: RwLock<Vec<u64>>,
    /// Edits sent.
    pub count: AtomicU64,
    /// Woken whenever a reader's progress on this writer moves (saturation).
    pub progress: Notify,
}

/// What every client of one run shares.
#[derive(Debug)]
pub struct Shared {
    /// The zero of every timestamp.
    pub epoch: Instant,
    /// One log per writer, by writer index.
    pub writers: Vec<WriterLog>,
    /// Readers' progress per writer, `[client * writers + writer]`: edits of
    /// that writer the client has (only allocated when a role needs it).
    pub progress: Vec<AtomicU64>,
    /// Number of clients in `progress`.
    pub progress_clients: usize,
    /// Latencies are recorded only while this is set.
    pub recording: AtomicBool,
    /// Frames received by all clients, and the bytes in them.
    pub frames_in: AtomicU64,
    pub bytes_in: AtomicU64,
    /// When the last frame came (nanoseconds since `epoch`).
    last_frame_in: AtomicU64,
    /// Frames that held a message type this client does not know (ignored).
    pub unknown_frames: AtomicU64,
    /// The client id of writer 0 of this scenario: random, so that a scenario
    /// run again on a document that already holds another run's edits never
    /// types under the ids of that run's writers (a y-websocket client never
    /// takes an id that has items in the document).
    writer_base: u64,
}

impl Shared {
    /// State for `writers` writers; `tracked_clients` > 0 allocates the
    /// progress table that windowed writers wait on.
    pub fn new(writers: usize, tracked_clients: usize) -> Arc<Self> {
        assert!(
            writers as u64 <= WRITERS_PER_BASE,
            "at most {WRITERS_PER_BASE} writers a scenario"
        );
        Arc::new(Self {
            epoch: Instant::now(),
            writers: (0..writers).map(|_| WriterLog::default()).collect(),
            progress: (0..writers * tracked_clients)
                .map(|_| AtomicU64::new(0))
                .collect(),
            progress_clients: tracked_clients,
            recording: AtomicBool::new(false),
            frames_in: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            last_frame_in: AtomicU64::new(0),
            unknown_frames: AtomicU64::new(0),
            // Below 2^32: the ids Yjs takes, which every peer server reads.
            writer_base: WRITER_BASE + u64::from(rand::random::<u16>()) * WRITERS_PER_BASE,
        })
    }

    /// The yrs client id of writer `writer`.
    pub fn writer_id(&self, writer: usize) -> u64 {
        self.writer_base + writer as u64
    }

    /// The writer whose client id is `client`, if it is one of this scenario's.
    pub fn writer_of(&self, client: u64) -> Option<usize> {
        client
            .checked_sub(self.writer_base)
            .map(|writer| writer as usize)
            .filter(|&writer| writer < self.writers.len())
    }

    fn nanos(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// When any client last received a frame.
    pub fn last_frame_at(&self) -> Instant {
        self.epoch + Duration::from_nanos(self.last_frame_in.load(Ordering::Relaxed))
    }

    /// The smallest number of edits of `writer` that every tracked client
    /// other than the writer itself has received.
    pub fn min_progress(&self, writer: usize, except_client: usize) -> u64 {
        let writers = self.writers.len();
        (0..self.progress_clients)
            .filter(|&client| client != except_client)
            .map(|client| self.progress[client * writers + writer].load(Ordering::Acquire))
            .min()
            .unwrap_or(u64::MAX)
    }
}

/// What a client does besides staying in sync.
#[derive(Debug, Clone, Copy)]
pub enum Role {
    /// Only receives.
    Reader,
    /// Types one character every `interval` while typing is on.
    Typist {
        /// Writer index.
        writer: usize,
        /// Time between keystrokes.
        interval: Duration,
        /// `None`: every character at a random place (the worst case for
        /// the CRDT: each one its own item). `Some(n)`: as a person types,
        /// at a cursor, and every `n` characters the typist deletes the
        /// sentence it wrote and writes another in its place, so the
        /// document stops growing.
        rewrite: Option<u32>,
    },
    /// Keeps `window` edits in flight (sent, not yet received by every
    /// tracked client) while typing is on.
    Saturator {
        /// Writer index.
        writer: usize,
        /// Edits in flight.
        window: u64,
    },
}

impl Role {
    fn writer(&self) -> Option<usize> {
        match *self {
            Role::Reader => None,
            Role::Typist { writer, .. } | Role::Saturator { writer, .. } => Some(writer),
        }
    }
}

/// The connection state a client publishes.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// Completed syncs (first SyncStep2 received on a connection).
    pub syncs: u64,
    /// When the last sync completed.
    pub synced_at: Option<Instant>,
    /// How long this client took to decode and apply the sync step 2 that
    /// completed the last sync: its own share of the time to synced, the
    /// same whichever server sent it.
    pub sync_apply: Option<Duration>,
    /// Whether a socket is open.
    pub connected: bool,
    /// The last close or error, if any.
    pub last_error: Option<String>,
    /// Connection attempts that failed.
    pub failed_attempts: u64,
    /// Connections the server closed or that broke (not ours to close).
    pub lost_connections: u64,
    /// The first bytes of the sync frames received on the current
    /// connection (the first 8 of them), to tell what a client that never
    /// synced saw.
    pub frames_seen: Vec<String>,
}

/// What a client reports when asked.
#[derive(Debug)]
pub struct Report {
    /// Its text.
    pub text: String,
    /// Its state vector (client id → clock).
    pub clocks: HashMap<u64, u32>,
    /// Fan-out latencies it recorded, in microseconds.
    pub latency: Histogram<u64>,
    /// Edits of others it received while recording.
    pub delivered: u64,
}

/// Orders to a client.
#[derive(Debug)]
pub enum Command {
    /// Start or stop typing (writers only).
    Typing(bool),
    /// Insert one bulk of text as `count` separate updates of one character,
    /// keeping at most `window` in flight; replies when all are sent.
    Burst {
        count: u64,
        window: u64,
        done: oneshot::Sender<()>,
    },
    /// Close the socket (with a close frame) and stay disconnected.
    Disconnect(oneshot::Sender<()>),
    /// Open a new socket (resyncing from the current document).
    Connect,
    /// Report the document and the measurements.
    Report(oneshot::Sender<Report>),
    /// The whole document, encoded as one update (v1).
    State(oneshot::Sender<Vec<u8>>),
    /// Answer once every command before this one is handled.
    Barrier(oneshot::Sender<()>),
    /// Send an awareness state on the next connections (and renew it), or
    /// none.
    Presence(bool),
}

/// The scenario's handle on a running client.
#[derive(Debug)]
pub struct ClientHandle {
    /// The document it edits.
    pub document: String,
    commands: mpsc::UnboundedSender<Command>,
    /// The client's connection state.
    pub status: watch::Receiver<Status>,
    task: tokio::task::JoinHandle<()>,
}

impl ClientHandle {
    /// Sends a command (ignored if the client has ended).
    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// Waits until the client has completed `syncs` syncs, or `deadline`.
    pub async fn wait_syncs(&mut self, syncs: u64, deadline: Instant) -> Option<Instant> {
        let wait = self
            .status
            .wait_for(|status| status.syncs >= syncs && status.synced_at.is_some());
        match tokio::time::timeout_at(deadline.into(), wait).await {
            Ok(Ok(status)) => status.synced_at,
            _ => None,
        }
    }

    /// Asks for the client's report.
    pub async fn report(&self) -> Option<Report> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Report(reply));
        tokio::time::timeout(Duration::from_secs(10), answer)
            .await
            .ok()?
            .ok()
    }

    /// Asks for the client's whole document, encoded as one update.
    pub async fn state(&self) -> Option<Vec<u8>> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::State(reply));
        tokio::time::timeout(Duration::from_secs(10), answer)
            .await
            .ok()?
            .ok()
    }

    /// Stops typing, and returns once the client has taken it in.
    pub async fn stop_typing(&self) {
        self.send(Command::Typing(false));
        let (reply, answer) = oneshot::channel();
        self.send(Command::Barrier(reply));
        let _ = tokio::time::timeout(Duration::from_secs(30), answer).await;
    }

    /// Closes the socket and waits until it is closed.
    pub async fn disconnect(&self) {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Disconnect(reply));
        let _ = tokio::time::timeout(Duration::from_secs(30), answer).await;
    }

    /// Ends the client's task.
    pub fn abort(&self) {
        self.task.abort();
    }
}

impl Drop for ClientHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Everything a client needs to start.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub index: usize,
    pub endpoint: Endpoint,
    pub role: Role,
    /// Send an awareness state on open and every 15 s, as y-websocket does.
    pub awareness: bool,
    /// Connect at once (else wait for [`Command::Connect`]).
    pub connect: bool,
    /// Seed of the client's choices (where to type).
    pub seed: u64,
}

/// Starts a client task.
pub fn spawn(options: ClientOptions, shared: Arc<Shared>) -> ClientHandle {
    let (commands_tx, commands_rx) = mpsc::unbounded_channel();
    let (status_tx, status_rx) = watch::channel(Status::default());
    let document = options.endpoint.document.clone();
    let client = Client::new(options, shared, status_tx);
    let task = tokio::spawn(client.run(commands_rx));
    ClientHandle {
        document,
        commands: commands_tx,
        status: status_rx,
        task,
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Client {
    options: ClientOptions,
    shared: Arc<Shared>,
    status: watch::Sender<Status>,
    doc: Doc,
    /// Clock per client id as of the last frame applied.
    seen: HashMap<u64, u32>,
    latency: Histogram<u64>,
    delivered: u64,
    typing: bool,
    awareness_clock: u64,
    rng: u64,
    /// A pending burst: (left to send, window, reply).
    burst: Option<(u64, u64, oneshot::Sender<()>)>,
    socket: Option<Socket>,
    want_connected: bool,
    attempts: u32,
    /// Edits sent by this client (its writer log's count, kept locally).
    sent: u64,
    /// A rewriting typist's sentence: the clock of its first character and
    /// its length (its characters are consecutive: typed at a cursor).
    sentence: Option<(u32, u32)>,
    /// The window was still open when [`Client::pump_window`] handed back
    /// control (to let commands and frames in): pump again at once.
    pump_again: bool,
}

/// What one pass of the client's loop woke up for.
enum Event {
    Frame(Option<Result<Message, tokio_tungstenite::tungstenite::Error>>),
    Command(Option<Command>),
    Keystroke,
    Renew,
    Progress,
    Reconnect,
}

impl Client {
    fn new(options: ClientOptions, shared: Arc<Shared>, status: watch::Sender<Status>) -> Self {
        let doc = match options.role.writer() {
            Some(writer) => Doc::with_client_id(shared.writer_id(writer)),
            None => Doc::new(),
        };
        let rng = options.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        Self {
            want_connected: options.connect,
            options,
            shared,
            status,
            doc,
            seen: HashMap::new(),
            latency: new_histogram(),
            delivered: 0,
            typing: false,
            awareness_clock: 0,
            rng,
            burst: None,
            socket: None,
            attempts: 0,
            sent: 0,
            sentence: None,
            pump_again: false,
        }
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let interval = match self.options.role {
            Role::Typist { interval, .. } => interval,
            _ => Duration::from_secs(3600),
        };
        // Keystrokes start at a random phase, so writers do not type in step.
        let phase = Duration::from_nanos(self.next_random() % interval.as_nanos().max(1) as u64);
        let mut keystrokes = tokio::time::interval_at((Instant::now() + phase).into(), interval);
        keystrokes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut renew = tokio::time::interval(Duration::from_secs(15));
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reconnect_at: Option<tokio::time::Instant> = None;
        loop {
            if self.want_connected && self.socket.is_none() && reconnect_at.is_none() {
                reconnect_at = Some(tokio::time::Instant::now());
            }
            let typist = matches!(self.options.role, Role::Typist { .. }) && self.typing;
            let windowed = self.window_open_wait();
            let writer_log = self
                .options
                .role
                .writer()
                .map(|writer| &self.shared.writers[writer]);
            let event = {
                let socket = self.socket.as_mut();
                let frame = async {
                    match socket {
                        Some(socket) => socket.next().await,
                        None => std::future::pending().await,
                    }
                };
                let pump_again = std::mem::take(&mut self.pump_again);
                let progress = async {
                    match (windowed, writer_log) {
                        _ if pump_again => {}
                        // A wake-up between our last look and this wait would
                        // be missed: look again every few milliseconds anyway.
                        (true, Some(log)) => {
                            let _ = tokio::time::timeout(
                                Duration::from_millis(5),
                                log.progress.notified(),
                            )
                            .await;
                        }
                        _ => std::future::pending().await,
                    }
                };
                let reconnect = async {
                    match reconnect_at {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    biased;
                    command = commands.recv() => Event::Command(command),
                    frame = frame => Event::Frame(frame),
                    () = reconnect => Event::Reconnect,
                    _ = keystrokes.tick(), if typist => Event::Keystroke,
                    () = progress => Event::Progress,
                    _ = renew.tick(), if self.options.awareness => Event::Renew,
                }
            };
            match event {
                Event::Command(None) => break,
                Event::Command(Some(command)) => self.handle_command(command).await,
                Event::Frame(Some(Ok(message))) => self.handle_message(message).await,
                Event::Frame(Some(Err(error))) => self.lost(error.to_string()),
                Event::Frame(None) => self.lost("the server closed the socket".into()),
                Event::Reconnect => {
                    reconnect_at = None;
                    if self.want_connected && self.socket.is_none() {
                        if let Err(error) = self.connect().await {
                            self.attempts += 1;
                            self.status.send_modify(|status| {
                                status.failed_attempts += 1;
                                status.last_error = Some(error);
                            });
                            let backoff = Duration::from_millis(100)
                                .saturating_mul(1 << self.attempts.min(5))
                                .min(MAX_BACKOFF);
                            reconnect_at = Some(tokio::time::Instant::now() + backoff);
                        } else {
                            self.attempts = 0;
                            // The state just went out with the connection:
                            // the next renewal is a full period later (so
                            // the renewals of clients that reconnect
                            // together do not fall in the same moment as
                            // their reconnection).
                            renew.reset();
                        }
                    }
                }
                Event::Keystroke => self.keystroke().await,
                Event::Progress => {}
                Event::Renew => self.send_awareness().await,
            }
            self.pump_window().await;
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: cheap and good enough to pick where to type.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    async fn handle_command(&mut self, command: Command) {
        match command {
            Command::Typing(on) => self.typing = on,
            Command::Burst {
                count,
                window,
                done,
            } => {
                self.burst = Some((count, window, done));
            }
            Command::Disconnect(reply) => {
                self.want_connected = false;
                if let Some(mut socket) = self.socket.take() {
                    let _ = socket.close(None).await;
                    // Read until the server's close comes back (bounded).
                    let _ = tokio::time::timeout(Duration::from_secs(5), async {
                        while let Some(Ok(_)) = socket.next().await {}
                    })
                    .await;
                }
                self.status.send_modify(|status| status.connected = false);
                let _ = reply.send(());
            }
            Command::Connect => self.want_connected = true,
            Command::Barrier(reply) => {
                let _ = reply.send(());
            }
            Command::Presence(on) => self.options.awareness = on,
            Command::State(reply) => {
                let state = self
                    .doc
                    .transact()
                    .encode_state_as_update_v1(&StateVector::default());
                let _ = reply.send(state);
            }
            Command::Report(reply) => {
                let text = {
                    let text = self.doc.get_or_insert_text(TEXT);
                    text.get_string(&self.doc.transact())
                };
                let clocks = self
                    .doc
                    .transact()
                    .state_vector()
                    .iter()
                    .map(|(client, clock)| (client.get(), *clock))
                    .collect();
                let _ = reply.send(Report {
                    text,
                    clocks,
                    latency: std::mem::replace(&mut self.latency, new_histogram()),
                    delivered: std::mem::take(&mut self.delivered),
                });
            }
        }
    }

    fn lost(&mut self, reason: String) {
        if std::env::var_os("PLENARY_LOAD_DEBUG").is_some() {
            eprintln!("client {}: connection lost: {reason}", self.options.index);
        }
        self.socket = None;
        self.status.send_modify(|status| {
            status.connected = false;
            status.lost_connections += 1;
            status.last_error = Some(reason);
        });
    }

    async fn connect(&mut self) -> Result<(), String> {
        // tungstenite zero-fills its read buffer before every read, 128 KiB
        // by default: with a thousand clients reading small frames that was
        // the load generator's largest cost (a memset). The server reads in
        // 8 KiB chunks too; frames of any size still arrive whole.
        //
        // tungstenite also refuses frames over 16 MiB and messages over 64
        // MiB by default, where a browser takes any size: a fresh client of
        // the million keystrokes a `saturation` run leaves (a sync answer of
        // over 20 MB in one frame) could never sync. The limit here is only
        // against a runaway server.
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(8 * 1024)
            .max_frame_size(Some(MAX_MESSAGE_BYTES))
            .max_message_size(Some(MAX_MESSAGE_BYTES));
        // Nagle off, as browsers have it (Chromium sets TCP_NODELAY on every
        // socket): a keystroke is sent when it is typed.
        let connecting = tokio_tungstenite::connect_async_with_config(
            self.options.endpoint.url.as_str(),
            Some(config),
            true,
        );
        let (socket, _) = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| "connection timed out".to_owned())?
            .map_err(|error| error.to_string())?;
        self.socket = Some(socket);
        self.status.send_modify(|status| {
            status.connected = true;
            status.frames_seen.clear();
        });
        if self.options.endpoint.dialect == Dialect::Hocuspocus {
            let token = self.options.endpoint.token.clone();
            let mut auth = BytesMut::new();
            write_var_uint(&mut auth, 2); // auth
            write_var_uint(&mut auth, 0); // token
            write_bytes(&mut auth, token.as_bytes());
            self.send(auth.freeze()).await;
        }
        let state_vector = self.doc.transact().state_vector().encode_v1();
        self.send(protocol::encode_sync_step1(&state_vector)).await;
        if self.options.awareness {
            self.send_awareness().await;
        }
        Ok(())
    }

    /// Sends one protocol message in its own frame, in the server's dialect.
    async fn send(&mut self, message: Bytes) {
        let frame = match self.options.endpoint.dialect {
            Dialect::YWebsocket => message,
            Dialect::Hocuspocus => {
                let name = self.options.endpoint.document.as_bytes();
                let mut framed = BytesMut::with_capacity(message.len() + name.len() + 2);
                write_bytes(&mut framed, name);
                framed.put_slice(&message);
                framed.freeze()
            }
        };
        if let Some(socket) = self.socket.as_mut()
            && let Err(error) = socket.send(Message::Binary(frame)).await
        {
            self.lost(error.to_string());
        }
    }

    async fn send_awareness(&mut self) {
        if self.socket.is_none() {
            return;
        }
        self.awareness_clock += 1;
        let entry = AwarenessEntry {
            client: self.doc.client_id().get(),
            clock: self.awareness_clock,
            state: Some(format!(
                r##"{{"user":{{"name":"load-{}","color":"#30bced"}}}}"##,
                self.options.index
            )),
        };
        self.send(protocol::encode_awareness([&entry])).await;
    }

    async fn handle_message(&mut self, message: Message) {
        let frame = match message {
            Message::Binary(frame) => frame,
            Message::Close(_) => {
                self.lost("the server sent a close frame".into());
                return;
            }
            _ => return,
        };
        self.shared.frames_in.fetch_add(1, Ordering::Relaxed);
        self.shared
            .bytes_in
            .fetch_add(frame.len() as u64, Ordering::Relaxed);
        self.shared
            .last_frame_in
            .fetch_max(self.shared.nanos(), Ordering::Relaxed);
        self.status.send_if_modified(|status| {
            if status.frames_seen.len() >= 8 || frame.first() != Some(&0) {
                return false;
            }
            let head: Vec<String> = frame.iter().take(3).map(u8::to_string).collect();
            status
                .frames_seen
                .push(format!("[{}] {} bytes", head.join(","), frame.len()));
            false
        });
        let mut reader = Reader::new(&frame);
        if self.options.endpoint.dialect == Dialect::Hocuspocus && reader.bytes().is_none() {
            self.shared.unknown_frames.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut applied = false;
        while reader.remaining() > 0 {
            let Some(kind) = reader.var_uint() else {
                break;
            };
            match kind {
                0 => {
                    let (Some(sync), Some(payload)) = (reader.var_uint(), reader.bytes()) else {
                        break;
                    };
                    match sync {
                        0 => {
                            let Ok(state_vector) = StateVector::decode_v1(payload) else {
                                break;
                            };
                            let diff = self.doc.transact().encode_state_as_update_v1(&state_vector);
                            self.send(protocol::encode_sync_step2(&diff)).await;
                        }
                        1 | 2 => {
                            let applying = Instant::now();
                            if let Err(error) = self.apply(payload) {
                                self.shared.unknown_frames.fetch_add(1, Ordering::Relaxed);
                                self.status.send_modify(|status| {
                                    status.last_error =
                                        Some(format!("a sync message did not apply: {error}"));
                                });
                                break;
                            }
                            applied = true;
                            if sync == 1 {
                                let now = Instant::now();
                                self.status.send_modify(|status| {
                                    status.syncs += 1;
                                    status.synced_at = Some(now);
                                    status.sync_apply = Some(now - applying);
                                });
                            }
                        }
                        _ => break,
                    }
                }
                // Awareness: y-websocket-server, Hocuspocus and y-sweet relay
                // every state to everyone; nothing to measure here.
                1 => {
                    if reader.bytes().is_none() {
                        break;
                    }
                }
                2 => {
                    let (Some(_kind), Some(_reason)) = (reader.var_uint(), reader.bytes()) else {
                        break;
                    };
                }
                3 => {}
                _ => {
                    // SyncStatus (Hocuspocus), y-sweet's extensions, …
                    self.shared.unknown_frames.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
        if applied {
            self.observe_progress();
        }
    }

    fn apply(&mut self, payload: &[u8]) -> Result<(), String> {
        let update = Update::decode_v1(payload).map_err(|error| error.to_string())?;
        self.doc
            .transact_mut()
            .apply_update(update)
            .map_err(|error| error.to_string())
    }

    /// After applying: credit every writer whose clock moved, and record the
    /// latency of each newly received edit.
    fn observe_progress(&mut self) {
        let now = self.shared.nanos();
        let recording = self.shared.recording.load(Ordering::Relaxed);
        let own = self.doc.client_id().get();
        let clocks: Vec<(u64, u32)> = self
            .doc
            .transact()
            .state_vector()
            .iter()
            .map(|(client, clock)| (client.get(), *clock))
            .collect();
        for (client, clock) in clocks {
            let before = self.seen.insert(client, clock).unwrap_or(0);
            if clock <= before || client == own {
                continue;
            }
            let Some(writer) = self.shared.writer_of(client) else {
                continue;
            };
            let log = &self.shared.writers[writer];
            if recording {
                let sent = log.sent.read().unwrap_or_else(|e| e.into_inner());
                for k in before..clock {
                    if let Some(&at) = sent.get(k as usize) {
                        let micros = now.saturating_sub(at) / 1_000;
                        let _ = self.latency.record(micros.max(1));
                        self.delivered += 1;
                    }
                }
            }
            if self.shared.progress_clients > self.options.index {
                let slot = self.options.index * self.shared.writers.len() + writer;
                self.shared.progress[slot].store(u64::from(clock), Ordering::Release);
                log.progress.notify_waiters();
            }
        }
    }

    /// Types one character at a random place and sends it.
    async fn keystroke(&mut self) {
        let Some(writer) = self.options.role.writer() else {
            return;
        };
        if self.socket.is_none() {
            return;
        }
        let text = self.doc.get_or_insert_text(TEXT);
        let rewrite = match self.options.role {
            Role::Typist { rewrite, .. } => rewrite,
            _ => None,
        };
        let random = self.next_random();
        let letter = (b'a' + (writer % 26) as u8) as char;
        let update = {
            let mut transaction = self.doc.transact_mut();
            let mut length = text.len(&transaction);
            if matches!(self.options.role, Role::Saturator { .. }) {
                length = length.min(SATURATOR_SPAN);
            }
            let mut position = (random % (u64::from(length) + 1)) as u32;
            if let Some(limit) = rewrite {
                let own = self.doc.client_id();
                // The cursor sits after the sentence's last character.
                if let Some((first, len)) = self.sentence {
                    let at = |clock: u32, assoc: Assoc| {
                        StickyIndex::from_id(ID::new(own, clock), assoc)
                            .get_offset(&transaction)
                            .map(|offset| offset.index)
                    };
                    let start = at(first, Assoc::After);
                    match (start, at(first + len - 1, Assoc::Before)) {
                        (Some(start), Some(_)) if len >= limit => {
                            text.remove_range(&mut transaction, start, len);
                            position = start;
                            self.sentence = None;
                        }
                        (Some(_), Some(end)) => position = end,
                        _ => self.sentence = None,
                    }
                }
                let clock = transaction.state_vector().get(&own);
                self.sentence = match self.sentence {
                    Some((first, len)) => Some((first, len + 1)),
                    None => Some((clock, 1)),
                };
            }
            text.insert(&mut transaction, position, letter.encode_utf8(&mut [0; 4]));
            transaction.encode_update_v1()
        };
        let log = &self.shared.writers[writer];
        {
            let mut sent = log.sent.write().unwrap_or_else(|e| e.into_inner());
            sent.push(self.shared.nanos());
        }
        self.sent += 1;
        log.count.store(self.sent, Ordering::Release);
        self.send(protocol::encode_update(&update)).await;
    }

    /// Whether this client waits on readers' progress to send more.
    fn window_open_wait(&self) -> bool {
        match self.options.role {
            Role::Saturator { .. } => self.typing || self.burst.is_some(),
            Role::Typist { .. } => self.burst.is_some(),
            Role::Reader => false,
        }
    }

    /// Sends as many edits as the window allows (saturation, bursts).
    async fn pump_window(&mut self) {
        let window = match (&self.options.role, &self.burst) {
            (_, Some((_, window, _))) => *window,
            (Role::Saturator { window, .. }, None) if self.typing => *window,
            _ => return,
        };
        let Some(writer) = self.options.role.writer() else {
            return;
        };
        // At most one window per call: a writer whose readers keep up would
        // otherwise stay in this loop, and neither read its socket nor hear
        // that it must stop typing.
        for _ in 0..window {
            if self.socket.is_none() {
                return;
            }
            let received = self.shared.min_progress(writer, self.options.index);
            if self.sent >= received.saturating_add(window) {
                return;
            }
            if let Some((left, _, _)) = &mut self.burst {
                if *left == 0 {
                    if received >= self.sent
                        && let Some((_, _, done)) = self.burst.take()
                    {
                        let _ = done.send(());
                    }
                    return;
                }
                *left -= 1;
            } else if !self.typing {
                return;
            }
            self.keystroke().await;
        }
        self.pump_again = true;
    }
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to 10 minutes, 3 significant figures.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

fn write_var_uint(buffer: &mut BytesMut, mut value: u64) {
    while value >= 0x80 {
        buffer.put_u8((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    buffer.put_u8(value as u8);
}

fn write_bytes(buffer: &mut BytesMut, bytes: &[u8]) {
    write_var_uint(buffer, bytes.len() as u64);
    buffer.put_slice(bytes);
}

/// A lenient reader over a received frame: unlike the server's, it skips
/// what it does not know (peers send their own message types).
struct Reader<'a> {
    frame: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    fn new(frame: &'a [u8]) -> Self {
        Self { frame, position: 0 }
    }

    fn remaining(&self) -> usize {
        self.frame.len() - self.position
    }

    fn var_uint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            let byte = *self.frame.get(self.position)?;
            self.position += 1;
            if shift > 63 {
                return None;
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
            shift += 7;
        }
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let length = usize::try_from(self.var_uint()?).ok()?;
        if length > self.remaining() {
            return None;
        }
        let bytes = &self.frame[self.position..self.position + length];
        self.position += length;
        Some(bytes)
    }
}

/// Merges reports' histograms.
pub fn merge_latency<'a>(reports: impl IntoIterator<Item = &'a Report>) -> Histogram<u64> {
    let mut merged = new_histogram();
    for report in reports {
        let _ = merged.add(&report.latency);
    }
    merged
}
