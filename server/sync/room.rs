//! One task per open document (the room), and the registry that finds or
//! starts it.
//!
//! # Invariants of a room
//! - It alone owns the document's [`Replica`] and [`Awareness`]; connections
//!   talk to it over a bounded channel of [`Command`]s.
//! - It serves nobody before the stored document is read; if the read
//!   fails, every waiting connection is refused and nothing is ever written.
//!   A document stored as a snapshot alone (the usual case after a clean
//!   stop or an unload, which compact it) is rebuilt in the background: a
//!   fresh client's sync step 1 is answered with the stored snapshot at once,
//!   and everything that needs the replica waits for it, in order.
//! - **Durable before visible.** An applied update is staged; a frame derived
//!   from the document (a relayed update, a sync answer, even the state
//!   vector) is held until every update applied before it is committed.
//!   While one commit runs, newly staged updates wait and go together in the
//!   next one (group commit).
//! - A failed commit closes every connection (they resync on reconnect and
//!   resend what was not saved) and ends the room: nothing uncommitted is
//!   ever relayed.
//! - Every outgoing frame is encoded once; each recipient gets a clone of the
//!   same `Bytes`. A recipient whose queue is full is closed with a reason,
//!   never skipped.
//! - The room unloads only when it has had no connection for the idle time
//!   and has nothing staged, committing or compacting.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use futures_util::FutureExt;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use yrs::{StateVector, Update};

use super::awareness::{Awareness, AwarenessError, AwarenessLimits};
use super::crdt::{self, Applied, InvalidUpdate, Replica};
use super::protocol::{self, AwarenessEntry};
use crate::auth::Role;
use crate::ids::{AccountId, ConnectionId, DelegationId, DocumentId, Seq, SessionId};
use crate::store::{DynStore, NewUpdate, StoreError};

/// A websocket close code and reason, as documented in docs/protocol.md.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReason {
    /// The close code.
    pub code: u16,
    /// Why, in words a developer can act on.
    pub reason: Cow<'static, str>,
}

impl CloseReason {
    /// Builds a close reason.
    pub fn new(code: u16, reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// Close codes (RFC 6455 §7.4.1 and the 4000–4999 private range).
pub mod close {
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// A malformed frame or message.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A text frame: the protocol is binary.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// An update, state vector or awareness state that cannot be read.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// A limit on awareness was exceeded.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A frame, or the document, would exceed its size limit.
    pub const TOO_BIG: u16 = 1009;
    /// The server could not store the document (or load it).
    pub const INTERNAL_ERROR: u16 = 1011;
    /// The connection could not keep up with the document's traffic.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// The account changed (role, delegation): reconnect to continue with the
    /// new rights. Stock clients reconnect on it.
    pub const SERVICE_RESTART: u16 = 1012;
    /// The session ended (signed out, revoked, expired, account disabled).
    /// In 4400–4499, so the y-websocket client does not reconnect.
    pub const SESSION_ENDED: u16 = 4401;
}

/// Who is on a connection, as the server knows them (never as the client
/// claims).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The account.
    pub account: AccountId,
    /// The session the connection came with.
    pub session: SessionId,
    /// The account's name.
    pub name: String,
    /// The account's role.
    pub role: Role,
    /// The delegation of a delegate.
    pub delegation: Option<DelegationId>,
    /// That delegation's name.
    pub delegation_name: Option<String>,
    /// When the session expires (unix milliseconds): the connection closes then.
    pub expires_at: i64,
}

/// Decides each connection's access from its identity (the resolution's
/// permission rules, applied to its current phase and sponsors).
pub type AccessPolicy = Arc<dyn Fn(&Identity) -> Access + Send + Sync>;

/// Picks connections by identity (a revoked session, a changed account).
pub type IdentityFilter = Arc<dyn Fn(&Identity) -> bool + Send + Sync>;

/// What a room reports to the rest of the application.
#[derive(Debug, Clone)]
pub enum RoomEvent {
    /// A burst of writing ended: nothing was committed for the quiet time
    /// (or the document unloaded) since the last commit.
    Settled {
        /// The document.
        document: DocumentId,
        /// Its last committed update.
        seq: Seq,
    },
    /// A read-only connection tried to write (reported once per connection).
    WriteRefused {
        /// The document.
        document: DocumentId,
        /// Who tried.
        identity: Arc<Identity>,
    },
}

/// Whether a connection may change the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Its updates are applied.
    ReadWrite,
    /// Its updates are refused with the protocol's permission-denied message.
    ReadOnly,
}

/// Tunables of every room.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    /// Frames a connection may have waiting to be written.
    pub outbound_queue: usize,
    /// Bytes of frames a connection may have waiting to be written (one
    /// larger frame passes on an empty queue).
    pub outbound_bytes: usize,
    /// Largest document (snapshot plus log), in bytes.
    pub max_document_bytes: u64,
    /// Log length that triggers a compaction.
    pub compact_after: u64,
    /// How long a room with no connection stays loaded.
    pub idle_unload: Duration,
    /// Awareness bounds per connection.
    pub awareness: AwarenessLimits,
    /// Quiet time after which a burst of writing counts as ended (a checkpoint).
    pub checkpoint_quiet: Duration,
}

impl Default for RoomConfig {
    fn default() -> Self {
        Self {
            outbound_queue: 1024,
            outbound_bytes: 32 * 1024 * 1024,
            max_document_bytes: 64 * 1024 * 1024,
            compact_after: 1000,
            idle_unload: Duration::from_secs(30),
            awareness: AwarenessLimits {
                clients_per_connection: 8,
                state_bytes: 16 * 1024,
            },
            checkpoint_quiet: Duration::from_secs(60),
        }
    }
}

pub use super::outbound::Outbound;
use super::outbound::{self, Refused};

/// A message from a connection, decoded on the connection's task.
#[derive(Debug)]
pub enum Inbound {
    /// The client's state vector: answer with what it is missing.
    SyncStep1(StateVector),
    /// An update (or a sync step 2, the client's offline edits).
    Update {
        /// The bytes as received, stored and relayed when the update changes something.
        raw: Bytes,
        /// The decoded update.
        update: Update,
    },
    /// Presence states.
    Awareness(Vec<AwarenessEntry>),
    /// A request for every presence state.
    QueryAwareness,
}

/// Why a connection could not join a room.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The stored document could not be loaded.
    #[error("the document could not be loaded")]
    LoadFailed,
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The room kept unloading under us (should not persist beyond a retry).
    #[error("the document is busy, try again")]
    Busy,
}

enum Command {
    Join {
        connection: ConnectionId,
        identity: Arc<Identity>,
        access: Access,
        outbound: outbound::Sender,
        kill: oneshot::Sender<CloseReason>,
        reply: oneshot::Sender<Result<(), JoinError>>,
    },
    Leave {
        connection: ConnectionId,
    },
    Messages {
        connection: ConnectionId,
        messages: Vec<Inbound>,
    },
    SetAccess {
        connection: ConnectionId,
        access: Access,
    },
    Reauthorize(AccessPolicy),
    CloseWhere(IdentityFilter, CloseReason),
    Edit {
        author: Author,
        change: Change,
        reply: oneshot::Sender<Result<Seq, EditError>>,
    },
    Flush {
        reply: oneshot::Sender<Result<Seq, EditError>>,
    },
    /// Another node committed: read the log after our last sequence.
    CatchUp,
    /// Awareness states from another node's clients.
    RemoteAwareness(Vec<AwarenessEntry>),
}

/// The owner of awareness states that came from other nodes.
const REMOTE: ConnectionId = ConnectionId(0);

/// A change the server makes to a live document (a restore, an adopted
/// amendment), run by the room on its replica.
pub type Change = Box<dyn FnOnce(&mut yrs::TransactionMut) + Send>;

/// Who a server-side change is attributed to: (account id, delegation id).
pub type Author = (Option<String>, Option<String>);

/// Why a server-side change or a flush did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The document could not be loaded, or its room is closing.
    #[error("the document is unavailable: {0}")]
    Unavailable(String),
    /// The commit failed; nothing was kept.
    #[error("the change could not be saved")]
    NotSaved,
}

/// The registry of open rooms. Cheap to clone.
#[derive(Clone)]
pub struct Rooms {
    inner: Arc<RoomsInner>,
}

struct RoomsInner {
    rooms: Mutex<HashMap<DocumentId, RoomHandle>>,
    store: DynStore,
    config: RoomConfig,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    generations: AtomicU64,
    metrics: Arc<super::Metrics>,
    events: Option<mpsc::Sender<RoomEvent>>,
    cluster: Option<crate::cluster::Cluster>,
}

#[derive(Clone)]
struct RoomHandle {
    commands: mpsc::Sender<Command>,
    generation: u64,
}

impl std::fmt::Debug for Rooms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rooms").finish_non_exhaustive()
    }
}

/// A connection's place in a room: the link to send it messages, and the
/// frames it sends back.
#[derive(Debug)]
pub struct Membership {
    /// Messages to the room; leaves the room when dropped.
    pub room: RoomLink,
    /// Frames to write, in order.
    pub outbound: outbound::Receiver,
    /// Fires when the room must close the socket at once (queue full, bad input).
    pub kill: oneshot::Receiver<CloseReason>,
}

/// A connection's sending side of its room. Dropping it leaves the room.
#[derive(Debug)]
pub struct RoomLink {
    connection: ConnectionId,
    document: DocumentId,
    commands: mpsc::Sender<Command>,
    left: bool,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Join { connection, .. } => write!(f, "Join({connection})"),
            Command::Leave { connection } => write!(f, "Leave({connection})"),
            Command::Messages { connection, .. } => write!(f, "Messages({connection})"),
            Command::SetAccess { connection, .. } => write!(f, "SetAccess({connection})"),
            Command::Reauthorize(_) => write!(f, "Reauthorize"),
            Command::Edit { .. } => write!(f, "Edit"),
            Command::Flush { .. } => write!(f, "Flush"),
            Command::CatchUp => write!(f, "CatchUp"),
            Command::RemoteAwareness(_) => write!(f, "RemoteAwareness"),
            Command::CloseWhere(_, reason) => write!(f, "CloseWhere({reason:?})"),
        }
    }
}

/// The room is gone (it failed or unloaded); the connection must close.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the document's room has closed")]
pub struct RoomGone;

impl RoomLink {
    /// The connection's id.
    pub fn connection(&self) -> ConnectionId {
        self.connection
    }

    /// The document joined.
    pub fn document(&self) -> &DocumentId {
        &self.document
    }

    /// Hands a frame's messages to the room, waiting if its queue is full
    /// (which slows this one client down, not the room).
    pub async fn send(&self, messages: Vec<Inbound>) -> Result<(), RoomGone> {
        self.commands
            .send(Command::Messages {
                connection: self.connection,
                messages,
            })
            .await
            .map_err(|_| RoomGone)
    }

    /// Leaves the room.
    pub async fn leave(mut self) {
        self.left = true;
        let _ = self
            .commands
            .send(Command::Leave {
                connection: self.connection,
            })
            .await;
    }
}

impl Drop for RoomLink {
    fn drop(&mut self) {
        if !self.left {
            // Best effort; if the queue is full, the room notices the closed
            // outbound channel at its next sweep.
            let _ = self.commands.try_send(Command::Leave {
                connection: self.connection,
            });
        }
    }
}

/// What a read-only connection is told when it writes (or becomes read-only).
pub const READ_ONLY_NOTICE: &str =
    "read-only: you may not edit this resolution in its current phase";

/// How many times a join retries when it meets a room that is unloading.
const JOIN_ATTEMPTS: usize = 8;

/// Commands a room may have queued.
const ROOM_QUEUE: usize = 256;

/// How often a room with other nodes around polls the log for their commits.
const POLL_INTERVAL: Duration = Duration::from_secs(5);

/// How often a room expires awareness and checks whether it is idle.
const SWEEP_INTERVAL: Duration = Duration::from_secs(2);

impl Rooms {
    /// An empty registry over `store`. Rooms stop when `shutdown` is cancelled,
    /// after committing what they hold.
    pub fn new(
        store: DynStore,
        config: RoomConfig,
        shutdown: CancellationToken,
        metrics: Arc<super::Metrics>,
        events: Option<mpsc::Sender<RoomEvent>>,
        cluster: Option<crate::cluster::Cluster>,
    ) -> Self {
        Self {
            inner: Arc::new(RoomsInner {
                rooms: Mutex::new(HashMap::new()),
                store,
                config,
                tracker: TaskTracker::new(),
                shutdown,
                generations: AtomicU64::new(1),
                metrics,
                events,
                cluster,
            }),
        }
    }

    /// Joins the room of `document`, loading it first if nobody has it open.
    /// Returns once the document is loaded and the connection registered.
    pub async fn join(
        &self,
        document: &DocumentId,
        connection: ConnectionId,
        identity: Arc<Identity>,
        access: Access,
    ) -> Result<Membership, JoinError> {
        for _ in 0..JOIN_ATTEMPTS {
            if self.inner.shutdown.is_cancelled() {
                return Err(JoinError::ShuttingDown);
            }
            let handle = self.handle(document)?;
            let (outbound_tx, outbound_rx) = outbound::channel(
                self.inner.config.outbound_queue,
                self.inner.config.outbound_bytes,
            );
            let (kill_tx, kill_rx) = oneshot::channel();
            let (reply_tx, reply_rx) = oneshot::channel();
            let join = Command::Join {
                connection,
                identity: identity.clone(),
                access,
                outbound: outbound_tx,
                kill: kill_tx,
                reply: reply_tx,
            };
            if handle.commands.send(join).await.is_err() {
                continue;
            }
            match reply_rx.await {
                Ok(Ok(())) => {
                    return Ok(Membership {
                        room: RoomLink {
                            connection,
                            document: document.clone(),
                            commands: handle.commands,
                            left: false,
                        },
                        outbound: outbound_rx,
                        kill: kill_rx,
                    });
                }
                Ok(Err(JoinError::Busy)) | Err(_) => continue,
                Ok(Err(error)) => return Err(error),
            }
        }
        Err(JoinError::Busy)
    }

    /// Changes the access of one connection of an open document.
    pub async fn set_access(
        &self,
        document: &DocumentId,
        connection: ConnectionId,
        access: Access,
    ) {
        self.send(document, Command::SetAccess { connection, access })
            .await;
    }

    /// Applies `policy` to every connection of `document` (now, and to those
    /// that join later). A closed document needs nothing: access is decided
    /// again at each join.
    pub async fn reauthorize(&self, document: &DocumentId, policy: AccessPolicy) {
        self.send(document, Command::Reauthorize(policy)).await;
    }

    /// The documents open on this node.
    pub fn open_document_ids(&self) -> Vec<DocumentId> {
        self.lock().keys().cloned().collect()
    }

    /// Closes, in every open document, the connections `filter` picks.
    pub async fn close_where(&self, filter: IdentityFilter, reason: CloseReason) {
        let handles: Vec<RoomHandle> = self.lock().values().cloned().collect();
        for handle in handles {
            let _ = handle
                .commands
                .send(Command::CloseWhere(filter.clone(), reason.clone()))
                .await;
        }
    }

    /// Runs `change` on the live document as one transaction attributed to
    /// `author`, loading the document if nobody has it open; returns once the
    /// change is committed (the sequence of the log after it), and relays it
    /// to every connection. A change that changes nothing stores nothing.
    pub async fn edit(
        &self,
        document: &DocumentId,
        author: Author,
        change: Change,
    ) -> Result<Seq, EditError> {
        let mut change = Some(change);
        for _ in 0..JOIN_ATTEMPTS {
            if self.inner.shutdown.is_cancelled() {
                break;
            }
            let handle = self
                .handle(document)
                .map_err(|error| EditError::Unavailable(error.to_string()))?;
            let Some(pending) = change.take() else { break };
            let (reply_tx, reply_rx) = oneshot::channel();
            let command = Command::Edit {
                author: author.clone(),
                change: pending,
                reply: reply_tx,
            };
            match handle.commands.send(command).await {
                Ok(()) => {}
                Err(mpsc::error::SendError(Command::Edit {
                    change: pending, ..
                })) => {
                    change = Some(pending);
                    continue;
                }
                Err(_) => break,
            }
            return reply_rx
                .await
                .unwrap_or_else(|_| Err(EditError::Unavailable("the room closed".into())));
        }
        Err(EditError::Unavailable("the server is shutting down".into()))
    }

    /// Waits until everything the open document has applied is committed;
    /// returns its last sequence, or `None` if the document is not open (then
    /// the store's last sequence is the answer).
    pub async fn flush(&self, document: &DocumentId) -> Result<Option<Seq>, EditError> {
        let handle = self.lock().get(document).cloned();
        let Some(handle) = handle else {
            return Ok(None);
        };
        let (reply_tx, reply_rx) = oneshot::channel();
        if handle
            .commands
            .send(Command::Flush { reply: reply_tx })
            .await
            .is_err()
        {
            return Ok(None);
        }
        match reply_rx.await {
            Ok(result) => result.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Another node committed to `document`: if it is open here, it reads
    /// the log after its last sequence and relays what it missed.
    pub async fn catch_up(&self, document: &DocumentId) {
        self.send(document, Command::CatchUp).await;
    }

    /// Every open document catches up (after notices may have been missed).
    pub async fn catch_up_all(&self) {
        let handles: Vec<RoomHandle> = self.lock().values().cloned().collect();
        for handle in handles {
            let _ = handle.commands.send(Command::CatchUp).await;
        }
    }

    /// Awareness states from another node, for this node's clients.
    pub async fn remote_awareness(&self, document: &DocumentId, entries: Vec<AwarenessEntry>) {
        self.send(document, Command::RemoteAwareness(entries)).await;
    }

    async fn send(&self, document: &DocumentId, command: Command) {
        let handle = self.lock().get(document).cloned();
        if let Some(handle) = handle {
            let _ = handle.commands.send(command).await;
        }
    }

    /// Number of loaded documents.
    pub fn open_documents(&self) -> usize {
        self.lock().len()
    }

    /// Waits until every room has committed what it held and closed its
    /// connections. Call after cancelling the shutdown token.
    pub async fn wait_closed(&self) {
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<DocumentId, RoomHandle>> {
        // A panic while holding this lock cannot leave the map half-changed
        // (every critical section is a single insert, get or remove), so a
        // poisoned lock is safe to keep using.
        self.inner
            .rooms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn handle(&self, document: &DocumentId) -> Result<RoomHandle, JoinError> {
        let mut rooms = self.lock();
        if let Some(handle) = rooms.get(document) {
            return Ok(handle.clone());
        }
        if self.inner.tracker.is_closed() {
            return Err(JoinError::ShuttingDown);
        }
        let (commands_tx, commands_rx) = mpsc::channel(ROOM_QUEUE);
        let handle = RoomHandle {
            commands: commands_tx,
            generation: self.inner.generations.fetch_add(1, Ordering::Relaxed),
        };
        rooms.insert(document.clone(), handle.clone());
        let room = Room::new(self.clone(), document.clone(), handle.generation);
        self.inner.tracker.spawn(Box::new(room).run(commands_rx));
        Ok(handle)
    }

    /// Removes a room from the registry if it is still the registered one.
    fn deregister(&self, document: &DocumentId, generation: u64) {
        let mut rooms = self.lock();
        if rooms
            .get(document)
            .is_some_and(|handle| handle.generation == generation)
        {
            rooms.remove(document);
        }
    }
}

struct Member {
    identity: Arc<Identity>,
    access: Access,
    /// Whether a refused write was already reported for this connection.
    refusal_reported: bool,
    /// When the room last answered an update past a hole in its client's
    /// clocks with its state vector (see `apply_update`).
    resync_asked: Option<Instant>,
    outbound: outbound::Sender,
    kill: Option<oneshot::Sender<CloseReason>>,
    /// The sweep found its connection gone (see [`Room::sweep`]).
    seen_gone: bool,
}

/// How long a connection that was asked to resync may send updates past a
/// hole (dropped: its answer brings them again) before it is closed.
const RESYNC_GRACE: Duration = Duration::from_secs(5);

/// A frame for one connection, waiting for a commit.
struct Delivery(ConnectionId, Bytes);

/// Updates merged into one relayed frame: a group commit of a thousand
/// keystrokes reaches each client as a few frames, not a thousand (each
/// costing a queue slot, a syscall and a transaction on the client).
const RELAY_MERGE: usize = 64;

/// The frames that relay a committed batch of updates.
fn relay_frames(updates: &[NewUpdate]) -> Vec<Bytes> {
    updates
        .chunks(RELAY_MERGE)
        .flat_map(|group| {
            if let [single] = group {
                return vec![protocol::encode_update(&single.data)];
            }
            let merged = catch_unwind(AssertUnwindSafe(|| {
                yrs::merge_updates_v1(group.iter().map(|update| &update.data[..]))
            }));
            match merged {
                Ok(Ok(merged)) => vec![protocol::encode_update(&merged)],
                // Every update here was applied, so merging cannot fail (nor
                // panic); if it ever did, relaying them one by one is still
                // correct.
                _ => group
                    .iter()
                    .map(|update| protocol::encode_update(&update.data))
                    .collect(),
            }
        })
        .collect()
}

#[derive(Default)]
struct Batch {
    updates: Vec<NewUpdate>,
    bytes: u64,
    held: Vec<Delivery>,
    /// Told the last sequence once this batch (and all before it) is committed.
    waiters: Vec<oneshot::Sender<Result<Seq, EditError>>>,
}

/// A batch's write, awaited by the room itself: it hands the batch to the
/// store's writer and waits for its answer, with no task of its own between
/// (a spawned task was two more hand-offs between threads on every commit).
type Commit = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send>>;

struct Inflight {
    /// Writes the batch.
    commit: Commit,
    /// The frames that relay the batch once it is committed.
    relay: Vec<Bytes>,
    /// The sequence of its first update.
    first: Seq,
    /// The updates being written (cheap clones of the staged buffers).
    updates: Vec<NewUpdate>,
    bytes: u64,
    held: Vec<Delivery>,
    waiters: Vec<oneshot::Sender<Result<Seq, EditError>>>,
    started: Instant,
}

struct Compaction {
    task: JoinHandle<Result<(Seq, u64), String>>,
}

/// A replica being built from a stored snapshot, and what waits for it.
struct Building {
    task: JoinHandle<Result<Replica, crdt::CorruptDocument>>,
    /// The snapshot (the whole committed document) framed as the sync step 2
    /// that answers a client that has nothing yet.
    step2: Bytes,
    /// When the load began.
    started: Instant,
    /// Commands that need the replica, in arrival order.
    waiting: VecDeque<Command>,
    /// Connections with messages waiting: their later messages wait too.
    held: HashSet<ConnectionId>,
    /// Connections that joined meanwhile: the server's sync step 1 (our
    /// state vector) is sent to them once the replica is built.
    owed_step1: Vec<ConnectionId>,
}

/// What a logged update costs to store beyond its own bytes (its row's
/// header, sequence, time and index entry, in SQLite and in PostgreSQL
/// alike), as [`Room::maybe_compact`] weighs the log against the snapshot. A
/// log of keystrokes is mostly rows: counted by their bytes alone, a
/// 100 KB document let 2,000 of them pile up before it was compacted.
const LOGGED_ROW_BYTES: u64 = 64;

/// A room that unloads with at least this many updates logged after its
/// snapshot writes a new snapshot first, so that its next load is a
/// snapshot alone (see [`Building`]).
const COMPACT_ON_UNLOAD_AFTER: usize = 64;

/// How many times the snapshot's bytes the log may hold, while updates keep
/// arriving without a pause, before the snapshot is folded from what is
/// stored (see `Room::maybe_compact`). Folding at half the snapshot, as a
/// committed replica is written, rebuilt the document so often that it was
/// 30% of the server's time under `plenary-load --scenario saturation`;
/// each fold at twice makes the document's history 3 times as large as
/// before it, so the rebuilds add up to about 1.5 times the document, not 3.
const FOLD_AFTER_SNAPSHOTS: u64 = 2;

struct Room {
    rooms: Rooms,
    document: DocumentId,
    generation: u64,
    replica: Replica,
    awareness: Awareness,
    members: HashMap<ConnectionId, Member>,
    /// The last committed sequence.
    last_seq: Seq,
    /// The snapshot's size, and each committed update after it.
    snapshot_bytes: u64,
    log: Log,
    staged: Batch,
    inflight: Option<Inflight>,
    compaction: Option<Compaction>,
    /// While the replica is built in the background after a load.
    building: Option<Building>,
    idle_since: Option<Instant>,
    /// Set when a failed apply may have left part of an update in the replica.
    needs_rebuild: bool,
    /// Set when the room failed: the replica may hold what was never committed.
    failed: bool,
    /// The latest access policy, applied to connections that join after it.
    policy: Option<AccessPolicy>,
    /// Whether to read the log for what other nodes committed (as soon as
    /// no commit of ours is running).
    needs_catch_up: bool,
    /// When the log was last polled for other nodes' commits.
    last_poll: Instant,
    /// When the last commit completed, and whether its burst was reported settled.
    last_commit: Option<Instant>,
    settled_reported: bool,
    stopping: bool,
    /// Awareness entries applied but not yet relayed (see [`PendingAwareness`]).
    pending_awareness: PendingAwareness,
}

/// The committed updates logged after the snapshot: each one's sequence and
/// size, and their total, kept as they come and go (summing them on every
/// update was 8% of the server's time in saturation, with a long log).
#[derive(Debug, Default)]
struct Log {
    entries: VecDeque<(Seq, u64)>,
    bytes: u64,
}

impl Log {
    fn push(&mut self, seq: Seq, bytes: u64) {
        self.entries.push_back((seq, bytes));
        self.bytes += bytes;
    }

    /// Forgets the updates folded into a snapshot through `through`.
    fn drop_through(&mut self, through: Seq) {
        while let Some(&(seq, bytes)) = self.entries.front() {
            if seq > through {
                break;
            }
            self.entries.pop_front();
            self.bytes -= bytes;
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    /// What the log weighs in the database, for compaction: each update's
    /// bytes and its row's ([`LOGGED_ROW_BYTES`]). (The document-size limit,
    /// `Room::stored_bytes`, counts the updates' bytes alone.)
    fn bytes_with_rows(&self) -> u64 {
        self.bytes + self.entries.len() as u64 * LOGGED_ROW_BYTES
    }
}

/// Awareness entries waiting to be relayed. A room relays awareness at most
/// once every [`AWARENESS_FLUSH_AFTER`]: an entry that comes after a quiet
/// moment goes out at once, and the entries that come within the next 20 ms
/// go out together, every client's latest in one frame to each member.
/// When a thousand clients reconnect at once, each member gets a few dozen
/// frames instead of a thousand. A member that joins gets every state the
/// same way: at once in a quiet room, and in a busy one with the others who
/// joined before the next relay, one frame encoded for them all (in a
/// reconnect storm, one encoding of a thousand states per relay instead of
/// per client, and one copy in memory instead of one per client's queue).
///
/// Presence yields to a burst of joins: once more than one member waits for
/// every state (a second joined before the relay owed to the first), the
/// relay waits until no member has joined for [`AWARENESS_JOIN_PAUSE`], at
/// most [`AWARENESS_JOIN_HOLD`] after the first of them, so that the sync of
/// the documents comes first. A reconnect storm of a thousand clients is a
/// thousand syncs and a million presence states (every client's to every
/// client): the states then go out once the syncs are done, instead of
/// taking the cores from the syncs still under way. Everything the relay
/// holds waits with it (the members' own changes, and what goes to the
/// other nodes): at most a second, in a burst, against the 30 s a state
/// lives.
#[derive(Default)]
struct PendingAwareness {
    /// In arrival order; `true` for the entries of this node's clients,
    /// which go to the other nodes as well.
    entries: Vec<(AwarenessEntry, bool)>,
    /// Members who joined since the last relay and are owed every state.
    joiners: Vec<ConnectionId>,
    /// When the first and the last of `joiners` joined.
    joins: Option<(Instant, Instant)>,
    last_flush: Option<Instant>,
}

/// The shortest time between two relays of awareness by one room.
const AWARENESS_FLUSH_AFTER: Duration = Duration::from_millis(20);

/// A burst of joins has ended when none came for this long.
const AWARENESS_JOIN_PAUSE: Duration = Duration::from_millis(50);

/// The longest a burst of joins holds back the relay of presence.
const AWARENESS_JOIN_HOLD: Duration = Duration::from_secs(1);

impl PendingAwareness {
    fn push(&mut self, entries: impl IntoIterator<Item = AwarenessEntry>, local: bool) {
        self.entries
            .extend(entries.into_iter().map(|entry| (entry, local)));
    }

    /// A member joined and is owed every state.
    fn join(&mut self, connection: ConnectionId, now: Instant) {
        self.joiners.push(connection);
        self.joins = Some(match self.joins {
            Some((first, _)) => (first, now),
            None => (now, now),
        });
    }

    /// A member left: it is owed nothing any more.
    fn leave(&mut self, connection: ConnectionId) {
        self.joiners.retain(|&joiner| joiner != connection);
        if self.joiners.is_empty() {
            self.joins = None;
        }
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.joiners.is_empty()
    }

    /// When what waits may go out, if not at once: the end of the window
    /// after the last relay, and, while members join in a burst (more than
    /// one owed every state), a pause in the joins.
    fn not_before(&self) -> Option<Instant> {
        let window = self.last_flush.map(|last| last + AWARENESS_FLUSH_AFTER);
        let burst = match self.joins {
            Some((first, last)) if self.joiners.len() > 1 => {
                Some((last + AWARENESS_JOIN_PAUSE).min(first + AWARENESS_JOIN_HOLD))
            }
            _ => None,
        };
        window.max(burst)
    }

    /// When the entries waiting should go out (`None`: none waits).
    fn next_flush(&self) -> Option<Instant> {
        if self.is_empty() {
            return None;
        }
        Some(self.not_before().unwrap_or_else(Instant::now))
    }

    fn due(&self, now: Instant) -> bool {
        !self.is_empty() && self.not_before().is_none_or(|at| at <= now)
    }

    /// What goes out now. Only a relay of changes starts a window: joiners
    /// alone do not make the next change wait.
    fn take(&mut self) -> Relay {
        let mut joiners = std::mem::take(&mut self.joiners);
        self.joins = None;
        joiners.sort_unstable();
        if !self.entries.is_empty() {
            self.last_flush = Some(Instant::now());
        }
        let mut seen = std::collections::HashSet::new();
        let mut latest: Vec<(AwarenessEntry, bool)> = std::mem::take(&mut self.entries)
            .into_iter()
            .rev()
            .filter(|(entry, _)| seen.insert(entry.client))
            .collect();
        latest.reverse();
        let local = latest
            .iter()
            .filter(|(_, local)| *local)
            .map(|(entry, _)| entry.clone())
            .collect();
        Relay {
            all: latest.into_iter().map(|(entry, _)| entry).collect(),
            local,
            joiners,
        }
    }
}

/// What a room's relay of awareness sends (see [`PendingAwareness::take`]).
struct Relay {
    /// The latest entry of each client, in the order of their last change,
    /// for the members.
    all: Vec<AwarenessEntry>,
    /// Those of this node's clients, for the other nodes.
    local: Vec<AwarenessEntry>,
    /// The members owed every state, sorted.
    joiners: Vec<ConnectionId>,
}

/// Sleeps until `at`, or for ever.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What the loop should do after handling an event.
enum Flow {
    Continue,
    Exit,
}

impl Room {
    fn new(rooms: Rooms, document: DocumentId, generation: u64) -> Self {
        Self {
            rooms,
            document,
            generation,
            replica: Replica::empty(),
            awareness: Awareness::default(),
            members: HashMap::new(),
            last_seq: Seq(0),
            snapshot_bytes: 0,
            log: Log::default(),
            staged: Batch::default(),
            inflight: None,
            compaction: None,
            building: None,
            idle_since: Some(Instant::now()),
            needs_rebuild: false,
            failed: false,
            policy: None,
            needs_catch_up: false,
            last_poll: Instant::now(),
            last_commit: None,
            settled_reported: true,
            stopping: false,
            pending_awareness: PendingAwareness::default(),
        }
    }

    fn config(&self) -> &RoomConfig {
        &self.rooms.inner.config
    }

    /// Serves the room until it unloads. The room comes boxed: a future
    /// keeps what it was given beside what it moves that into (here, through
    /// the span's wrapper, three times), and a room's state is ~700 bytes.
    #[tracing::instrument(name = "room", skip_all, fields(document = %self.document))]
    async fn run(mut self: Box<Self>, mut commands: mpsc::Receiver<Command>) {
        if let Err(error) = self.load().await {
            tracing::error!(%error, "loading the document failed; refusing its connections");
            self.rooms
                .inner
                .metrics
                .load_failures
                .fetch_add(1, Ordering::Relaxed);
            self.rooms.deregister(&self.document, self.generation);
            commands.close();
            while let Some(command) = commands.recv().await {
                if let Command::Join { reply, .. } = command {
                    let _ = reply.send(Err(JoinError::LoadFailed));
                }
            }
            return;
        }
        let shutdown = self.rooms.inner.shutdown.clone();
        let mut sweep = tokio::time::interval(SWEEP_INTERVAL);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let flow = tokio::select! {
                result = wait_inflight(&mut self.inflight) => self.on_committed(result),
                result = wait_compaction(&mut self.compaction) => {
                    self.on_compacted(result);
                    Flow::Continue
                }
                result = wait_building(&mut self.building) => self.on_built(result),
                command = commands.recv() => match command {
                    Some(command) => {
                        self.handle(command);
                        Flow::Continue
                    }
                    None => Flow::Exit,
                },
                () = sleep_until_some(self.pending_awareness.next_flush()) => Flow::Continue,
                _ = sweep.tick() => match self.sweep() {
                    // A join may be waiting in the queue: never unload under it.
                    Flow::Exit if !commands.is_empty() => Flow::Continue,
                    flow => flow,
                },
                () = shutdown.cancelled(), if !self.stopping => {
                    self.stopping = true;
                    Flow::Continue
                }
            };
            if let Flow::Exit = flow {
                break;
            }
            if self.needs_rebuild {
                self.rebuild().await;
            }
            if self.needs_catch_up
                && self.inflight.is_none()
                && self.building.is_none()
                && !self.stopping
            {
                self.catch_up().await;
            }
            self.start_commit();
            if self.pending_awareness.due(Instant::now()) {
                self.flush_awareness();
            }
            // With no idle time configured, unload as soon as the last
            // connection leaves and the last commit lands (unless a join waits).
            if self.config().idle_unload.is_zero()
                && commands.is_empty()
                && self.is_idle(Instant::now())
            {
                break;
            }
            if self.stopping
                && self.inflight.is_none()
                && self.staged.updates.is_empty()
                && self.building.is_none()
            {
                self.close_all(CloseReason::new(
                    close::GOING_AWAY,
                    "the server is shutting down",
                ));
                break;
            }
        }
        // Whoever is left (other nodes' clients) learns who went.
        self.flush_awareness();
        if !self.settled_reported && self.inflight.is_none() && self.staged.updates.is_empty() {
            self.report_settled();
        }
        // Deregister first: a join from now on starts a fresh room, which
        // loads what this one committed.
        self.rooms.deregister(&self.document, self.generation);
        commands.close();
        while let Some(command) = commands.recv().await {
            if let Command::Join { reply, .. } = command {
                let _ = reply.send(Err(self.refusal()));
            }
        }
        if let Some(compaction) = self.compaction.take() {
            let _ = compaction.task.await;
        }
        self.compact_on_unload().await;
        tracing::debug!("room closed");
    }

    /// Writes the replica as the new snapshot when many updates are logged
    /// after the last one, so that the next load reads a snapshot alone.
    /// Only when the replica holds exactly what is committed (nothing
    /// staged or committing, no failure, nothing to rebuild or catch up).
    async fn compact_on_unload(&mut self) {
        if self.log.len() < COMPACT_ON_UNLOAD_AFTER || !self.replica_is_committed() {
            return;
        }
        let through = self.last_seq;
        let snapshot = match self.replica.full_state() {
            Ok(snapshot) => snapshot,
            Err(error) => {
                tracing::warn!(%error, "could not encode the document to compact it on unload");
                return;
            }
        };
        match self
            .rooms
            .inner
            .store
            .write_snapshot(&self.document, &snapshot, through)
            .await
        {
            Ok(()) => {
                tracing::debug!(%through, snapshot_bytes = snapshot.len(), "compacted on unload");
            }
            // The log is intact: the next load replays it.
            Err(error) => tracing::warn!(%error, "compaction on unload failed"),
        }
    }

    /// Whether the replica holds exactly what is committed through
    /// `last_seq`: nothing staged or committing, no failure, nothing to
    /// rebuild or catch up.
    fn replica_is_committed(&self) -> bool {
        !self.failed
            && !self.needs_rebuild
            && !self.needs_catch_up
            && self.building.is_none()
            && self.inflight.is_none()
            && self.staged.updates.is_empty()
    }

    async fn load(&mut self) -> Result<(), String> {
        let started = Instant::now();
        let mut stored = self
            .rooms
            .inner
            .store
            .load_document(&self.document)
            .await
            .map_err(|error| error.to_string())?;
        self.last_seq = stored.last_seq();
        self.snapshot_bytes = stored.snapshot.as_ref().map_or(0, Vec::len) as u64;
        self.log = Log::default();
        for update in &stored.updates {
            self.log.push(update.seq, update.data.len() as u64);
        }
        // Rebuilding a document is CPU work: keep it off the async threads.
        if stored.updates.is_empty()
            && let Some(snapshot) = stored.snapshot.take()
        {
            // Serve from the snapshot while the replica is built (`on_built`).
            // Framed once: served from here, then kept by the replica.
            let snapshot = crdt::Answer::new(&snapshot);
            self.building = Some(Building {
                step2: snapshot.framed(),
                task: tokio::task::spawn_blocking(move || Replica::from_snapshot(snapshot)),
                started,
                waiting: VecDeque::new(),
                held: HashSet::new(),
                owed_step1: Vec::new(),
            });
            tracing::debug!(seq = %self.last_seq, elapsed = ?started.elapsed(), "snapshot read; building the document");
            return Ok(());
        }
        let replica = tokio::task::spawn_blocking(move || Replica::load(&stored))
            .await
            .map_err(|error| error.to_string())?
            .map_err(|error| error.to_string())?;
        self.install(replica, started);
        Ok(())
    }

    /// Puts a freshly loaded replica in place.
    fn install(&mut self, replica: Replica, started: Instant) {
        self.replica = replica;
        self.rooms
            .inner
            .metrics
            .documents_loaded
            .fetch_add(1, Ordering::Relaxed);
        tracing::debug!(seq = %self.last_seq, elapsed = ?started.elapsed(), "document loaded");
    }

    /// The replica is built (or could not be): serve what waited for it.
    fn on_built(&mut self, result: Result<Replica, String>) -> Flow {
        let Some(building) = self.building.take() else {
            return Flow::Continue;
        };
        match result {
            Ok(replica) => {
                self.install(replica, building.started);
                let step1 = protocol::encode_sync_step1(&self.replica.state_vector());
                for connection in building.owed_step1 {
                    if self.members.contains_key(&connection) {
                        self.deliver(Delivery(connection, step1.clone()));
                    }
                }
                for command in building.waiting {
                    self.handle(command);
                }
                Flow::Continue
            }
            Err(error) => {
                tracing::error!(%error, "building the document from its snapshot failed; closing it");
                self.rooms
                    .inner
                    .metrics
                    .load_failures
                    .fetch_add(1, Ordering::Relaxed);
                for command in building.waiting {
                    match command {
                        Command::Edit { reply, .. } | Command::Flush { reply } => {
                            let _ = reply.send(Err(EditError::Unavailable(
                                "the document could not be loaded".into(),
                            )));
                        }
                        _ => {}
                    }
                }
                self.fail(CloseReason::new(
                    close::INTERNAL_ERROR,
                    "the document could not be loaded; reconnect",
                ));
                Flow::Exit
            }
        }
    }

    /// A connection's messages while the replica is built: a sync step 1 with
    /// an empty state vector is answered from the snapshot, presence is
    /// handled, and from the first message that needs the replica on, the
    /// connection's messages wait.
    fn take_early_messages(&mut self, connection: ConnectionId, messages: Vec<Inbound>) {
        let mut messages = messages.into_iter();
        while let Some(message) = messages.next() {
            if !self.members.contains_key(&connection) {
                return;
            }
            let Some(building) = self.building.as_mut() else {
                self.handle_message(connection, message);
                continue;
            };
            match message {
                Inbound::SyncStep1(state_vector)
                    if state_vector.is_empty() && !building.held.contains(&connection) =>
                {
                    let step2 = building.step2.clone();
                    self.rooms
                        .inner
                        .metrics
                        .answered_from_snapshot
                        .fetch_add(1, Ordering::Relaxed);
                    self.deliver(Delivery(connection, step2));
                }
                message @ (Inbound::Awareness(_) | Inbound::QueryAwareness)
                    if !building.held.contains(&connection) =>
                {
                    self.handle_message(connection, message);
                }
                message => {
                    building.held.insert(connection);
                    building.waiting.push_back(Command::Messages {
                        connection,
                        messages: std::iter::once(message).chain(messages).collect(),
                    });
                    return;
                }
            }
        }
    }

    /// Takes a command while the replica is built: what does not need it is
    /// handled now, a fresh client's sync step 1 is answered from the
    /// snapshot, and the rest waits in order. A connection's messages keep
    /// their order, and once anything waits, so does every command that is
    /// not a join or another connection's messages.
    /// `Some`: handle the command as usual; `None`: it was taken.
    fn early(&mut self, command: Command) -> Option<Command> {
        let Some(building) = self.building.as_mut() else {
            return Some(command);
        };
        match command {
            command @ Command::Join { .. } => Some(command),
            Command::Messages {
                connection,
                messages,
            } => {
                self.take_early_messages(connection, messages);
                None
            }
            command @ Command::Edit { .. } => {
                building.waiting.push_back(command);
                None
            }
            command if building.waiting.is_empty() => Some(command),
            command => {
                building.waiting.push_back(command);
                None
            }
        }
    }

    /// Why a join is refused once the room is on its way out.
    fn refusal(&self) -> JoinError {
        if self.rooms.inner.shutdown.is_cancelled() {
            JoinError::ShuttingDown
        } else {
            JoinError::Busy
        }
    }

    fn handle(&mut self, command: Command) {
        let Some(command) = self.early(command) else {
            return;
        };
        match command {
            Command::Join {
                connection,
                identity,
                access,
                outbound,
                kill,
                reply,
            } => {
                if self.stopping {
                    let _ = reply.send(Err(self.refusal()));
                    return;
                }
                if reply.send(Ok(())).is_err() {
                    return;
                }
                let access = self
                    .policy
                    .as_ref()
                    .map_or(access, |policy| policy(&identity));
                self.members.insert(
                    connection,
                    Member {
                        identity,
                        access,
                        refusal_reported: false,
                        resync_asked: None,
                        outbound,
                        kill: Some(kill),
                        seen_gone: false,
                    },
                );
                self.idle_since = None;
                tracing::trace!(%connection, members = self.members.len(), "joined");
                if let Some(building) = &mut self.building {
                    building.owed_step1.push(connection);
                } else {
                    let step1 = protocol::encode_sync_step1(&self.replica.state_vector());
                    self.deliver(Delivery(connection, step1));
                }
                self.pending_awareness.join(connection, Instant::now());
            }
            Command::Leave { connection } => self.remove_member(connection),
            Command::Messages {
                connection,
                messages,
            } => {
                for message in messages {
                    if !self.members.contains_key(&connection) {
                        break;
                    }
                    self.handle_message(connection, message);
                }
            }
            Command::SetAccess { connection, access } => {
                if let Some(member) = self.members.get_mut(&connection) {
                    member.access = access;
                }
            }
            Command::Reauthorize(policy) => {
                let mut now_read_only = Vec::new();
                for (&connection, member) in &mut self.members {
                    let access = policy(&member.identity);
                    if access == Access::ReadOnly && member.access == Access::ReadWrite {
                        now_read_only.push(connection);
                    }
                    member.access = access;
                }
                self.policy = Some(policy);
                // Tell them now, in the protocol's words, not at their next keystroke.
                let notice = protocol::encode_permission_denied(READ_ONLY_NOTICE);
                for connection in now_read_only {
                    self.send_now(connection, notice.clone());
                }
            }
            Command::Edit {
                author,
                change,
                reply,
            } => {
                if self.stopping {
                    let _ = reply.send(Err(EditError::Unavailable(
                        "the document is closing".into(),
                    )));
                    return;
                }
                match self.replica.edit(change) {
                    Ok(Some(update)) => {
                        self.staged.bytes += update.len() as u64;
                        self.staged.updates.push(NewUpdate {
                            data: update,
                            author: author.0,
                            delegation: author.1,
                        });
                        self.staged.waiters.push(reply);
                    }
                    Ok(None) => self.wait_for_commits(reply),
                    Err(error) => {
                        tracing::error!(%error, "a server-side change failed; rebuilding the document");
                        self.needs_rebuild = true;
                        let _ = reply.send(Err(EditError::NotSaved));
                    }
                }
            }
            Command::Flush { reply } => self.wait_for_commits(reply),
            Command::CatchUp => self.needs_catch_up = true,
            Command::RemoteAwareness(entries) => {
                let limits = AwarenessLimits {
                    clients_per_connection: usize::MAX,
                    ..self.config().awareness
                };
                if let Ok(relayed) = self
                    .awareness
                    .apply(REMOTE, entries, Instant::now(), limits)
                {
                    self.pending_awareness.push(relayed, false);
                }
            }
            Command::CloseWhere(filter, reason) => {
                let picked: Vec<ConnectionId> = self
                    .members
                    .iter()
                    .filter(|(_, member)| filter(&member.identity))
                    .map(|(&connection, _)| connection)
                    .collect();
                for connection in picked {
                    self.close_member(connection, reason.clone());
                }
            }
        }
    }

    fn handle_message(&mut self, connection: ConnectionId, message: Inbound) {
        match message {
            Inbound::SyncStep1(state_vector) => {
                match self.replica.sync_answer(&state_vector) {
                    Ok(step2) => {
                        tracing::trace!(%connection, held = !self.staged.updates.is_empty() || self.inflight.is_some(), "sync step 1 answered");
                        self.deliver(Delivery(connection, step2));
                    }
                    Err(error) => {
                        // `apply` refuses what yrs cannot encode, so this is
                        // a yrs fault on content we hold: reload it.
                        tracing::error!(%connection, %error, "could not answer sync step 1; rebuilding");
                        self.close_member(
                            connection,
                            CloseReason::new(
                                close::INTERNAL_ERROR,
                                "the document could not be sent; reconnect",
                            ),
                        );
                        self.needs_rebuild = true;
                    }
                }
            }
            Inbound::Update { raw, update } => self.apply_update(connection, raw, update),
            Inbound::Awareness(entries) => {
                let now = Instant::now();
                let limits = self.config().awareness;
                match self.awareness.apply(connection, entries, now, limits) {
                    Ok(relayed) => self.relay_awareness(relayed),
                    Err(error @ AwarenessError::TooManyClients)
                    | Err(error @ AwarenessError::StateTooLarge) => {
                        self.close_member(
                            connection,
                            CloseReason::new(close::POLICY_VIOLATION, error.to_string()),
                        );
                    }
                }
            }
            Inbound::QueryAwareness => {
                let mut frames = self.awareness.encode_states();
                if frames.is_empty() {
                    frames.push(protocol::encode_awareness_states(std::iter::empty()));
                }
                for frame in frames {
                    self.send_now(connection, frame);
                }
            }
        }
    }

    fn apply_update(&mut self, connection: ConnectionId, raw: Bytes, update: Update) {
        let Some(member) = self.members.get(&connection) else {
            return;
        };
        if member.access == Access::ReadOnly {
            self.refuse_write(connection);
            return;
        }
        let author = Some(member.identity.account.0.clone());
        let delegation = member.identity.delegation.as_ref().map(|d| d.0.clone());
        let pending_bytes = self.staged.bytes + self.inflight.as_ref().map_or(0, |i| i.bytes);
        if self.stored_bytes() + pending_bytes + raw.len() as u64 > self.config().max_document_bytes
        {
            self.close_member(
                connection,
                CloseReason::new(close::TOO_BIG, "the document has reached its size limit"),
            );
            return;
        }
        let outcome = self.replica.apply(update, &raw);
        if outcome.is_ok()
            && let Some(member) = self.members.get_mut(&connection)
        {
            member.resync_asked = None;
        }
        match outcome {
            Ok(Applied::Unchanged) => {}
            Err(InvalidUpdate::Gap(error)) if self.ask_resync(connection) => {
                tracing::debug!(%connection, %error, "update past a hole; asked the client to resync");
            }
            Ok(Applied::Changed) => {
                self.staged.bytes += raw.len() as u64;
                self.staged.updates.push(NewUpdate {
                    data: raw,
                    author,
                    delegation,
                });
            }
            Err(error) => {
                tracing::warn!(%connection, %error, "update refused");
                self.close_member(
                    connection,
                    CloseReason::new(close::INVALID_PAYLOAD, format!("invalid update: {error}")),
                );
                // yrs may have integrated part of it: rebuild from what is
                // stored plus what is waiting to be, which never included it.
                self.needs_rebuild = true;
            }
        }
    }

    /// An update starts past its client's clock here (refused before yrs saw
    /// it: nothing changed). That is what a client sends when it types
    /// between reconnecting and its sync answer, after the server lost what
    /// it had not committed yet: as y-protocols does, send it our state
    /// vector, and its sync step 2 brings everything we lack, the dropped
    /// update included. Returns false when the connection was asked already
    /// more than [`RESYNC_GRACE`] ago and still sends such updates: it is
    /// then closed, as for any invalid update.
    fn ask_resync(&mut self, connection: ConnectionId) -> bool {
        let now = Instant::now();
        let Some(member) = self.members.get_mut(&connection) else {
            return true;
        };
        match member.resync_asked {
            Some(asked) if now.duration_since(asked) > RESYNC_GRACE => false,
            Some(_) => true,
            None => {
                member.resync_asked = Some(now);
                let step1 = protocol::encode_sync_step1(&self.replica.state_vector());
                self.send_now(connection, step1);
                true
            }
        }
    }

    /// Relays awareness entries of this node's clients to them and to the
    /// other nodes (soon: see [`PendingAwareness`]).
    fn relay_awareness(&mut self, entries: Vec<AwarenessEntry>) {
        self.pending_awareness.push(entries, true);
    }

    /// Relays the awareness entries waiting, in one frame; gives the members
    /// who joined since every state, in another.
    fn flush_awareness(&mut self) {
        if self.pending_awareness.is_empty() {
            return;
        }
        let Relay {
            all,
            local,
            joiners,
        } = self.pending_awareness.take();
        if let Some(cluster) = &self.rooms.inner.cluster
            && !local.is_empty()
        {
            cluster.awareness(&self.document, &local);
        }
        if !joiners.is_empty() {
            for frame in self.awareness.encode_states() {
                for &connection in &joiners {
                    self.send_now(connection, frame.clone());
                }
            }
        }
        if !self.members.is_empty() {
            // The joiners' frames hold these changes already.
            let changes = all
                .iter()
                .map(|entry| (entry.client, entry.clock, entry.state.as_deref()));
            for frame in protocol::encode_awareness_frames(changes) {
                self.broadcast_except(frame, &joiners);
            }
        }
    }

    /// Reads what other nodes committed after our last sequence, applies it
    /// and relays it (it is durable already).
    async fn catch_up(&mut self) {
        self.needs_catch_up = false;
        self.last_poll = Instant::now();
        let rows = match self
            .rooms
            .inner
            .store
            .updates_after(&self.document, self.last_seq)
            .await
        {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, "could not read other nodes' updates; will retry");
                return;
            }
        };
        for row in rows {
            let applied = crdt::decode_update(&row.data)
                .map_err(|e| e.to_string())
                .and_then(|update| {
                    self.replica
                        .apply(update, &row.data)
                        .map_err(|e| e.to_string())
                });
            match applied {
                Ok(Applied::Changed) => self.broadcast_now(protocol::encode_update(&row.data)),
                Ok(Applied::Unchanged) => {}
                Err(error) => {
                    tracing::error!(seq = %row.seq, %error, "a stored update from another node does not apply; rebuilding");
                    self.needs_rebuild = true;
                }
            }
            self.last_seq = self.last_seq.max(row.seq);
            self.log.push(row.seq, row.data.len() as u64);
            self.rooms
                .inner
                .metrics
                .caught_up
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Answers `reply` once everything applied so far is committed.
    fn wait_for_commits(&mut self, reply: oneshot::Sender<Result<Seq, EditError>>) {
        if !self.staged.updates.is_empty() {
            self.staged.waiters.push(reply);
        } else if let Some(inflight) = &mut self.inflight {
            inflight.waiters.push(reply);
        } else {
            let _ = reply.send(Ok(self.last_seq));
        }
    }

    /// Refuses a write: never applied, stored or relayed; the client is told
    /// with the protocol's permission-denied message, and the first refusal
    /// of each connection goes to the audit log.
    fn refuse_write(&mut self, connection: ConnectionId) {
        self.rooms
            .inner
            .metrics
            .refused_writes
            .fetch_add(1, Ordering::Relaxed);
        let Some(member) = self.members.get_mut(&connection) else {
            return;
        };
        if !member.refusal_reported {
            member.refusal_reported = true;
            if let Some(events) = &self.rooms.inner.events {
                let event = RoomEvent::WriteRefused {
                    document: self.document.clone(),
                    identity: member.identity.clone(),
                };
                if events.try_send(event).is_err() {
                    tracing::warn!(%connection, "audit queue full; a refused write is counted but not logged");
                }
            }
        }
        self.send_now(
            connection,
            protocol::encode_permission_denied(READ_ONLY_NOTICE),
        );
    }

    /// Rebuilds the replica from the store's view of it (the committed log
    /// plus the updates staged or committing), after a failed apply left it
    /// holding part of an update that was never stored.
    async fn rebuild(&mut self) {
        self.needs_rebuild = false;
        let waiting: Vec<Bytes> = self
            .inflight
            .iter()
            .flat_map(|inflight| inflight.updates.iter())
            .chain(self.staged.updates.iter())
            .map(|update| update.data.clone())
            .collect();
        let rebuilt = async {
            let stored = self
                .rooms
                .inner
                .store
                .load_document(&self.document)
                .await
                .map_err(|e| e.to_string())?;
            let mut replica = Replica::load(&stored).map_err(|e| e.to_string())?;
            for data in waiting {
                let update = crdt::decode_update(&data).map_err(|e| e.to_string())?;
                replica.apply(update, &data).map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(replica)
        }
        .await;
        match rebuilt {
            Ok(replica) => self.replica = replica,
            Err(error) => {
                tracing::error!(%error, "rebuilding the document failed; closing it");
                self.fail(CloseReason::new(
                    close::INTERNAL_ERROR,
                    "the document could not be reloaded; reconnect",
                ));
            }
        }
    }

    fn stored_bytes(&self) -> u64 {
        self.snapshot_bytes + self.log.bytes
    }

    /// Sends a frame derived from the document: at once if everything applied
    /// is committed, else after the commit that covers it.
    fn deliver(&mut self, delivery: Delivery) {
        if !self.staged.updates.is_empty() {
            self.staged.held.push(delivery);
        } else if let Some(inflight) = &mut self.inflight {
            inflight.held.push(delivery);
        } else {
            self.release(vec![delivery]);
        }
    }

    fn release(&mut self, deliveries: Vec<Delivery>) {
        for Delivery(connection, frame) in deliveries {
            self.send_now(connection, frame);
        }
    }

    fn broadcast_now(&mut self, frame: Bytes) {
        self.broadcast_except(frame, &[]);
    }

    /// Sends `frame` to every member but those of `skip` (sorted).
    fn broadcast_except(&mut self, frame: Bytes, skip: &[ConnectionId]) {
        let mut full = Vec::new();
        for (&connection, member) in &self.members {
            if skip.binary_search(&connection).is_ok() {
                continue;
            }
            if let Err(Refused::Full) = member.outbound.try_send_frame(frame.clone()) {
                full.push(connection);
            }
        }
        for connection in full {
            self.close_slow(connection);
        }
    }

    fn send_now(&mut self, connection: ConnectionId, frame: Bytes) {
        let Some(member) = self.members.get(&connection) else {
            return;
        };
        if let Err(Refused::Full) = member.outbound.try_send_frame(frame) {
            self.close_slow(connection);
        }
    }

    /// Closes a connection whose queue is full. A connection whose queue is
    /// closed (its task ended) is not closed here: it stays a member until
    /// its leave, which comes behind its last messages, and those still count
    /// (or until the sweep finds it gone, see [`Room::sweep`]).
    fn close_slow(&mut self, connection: ConnectionId) {
        tracing::info!(%connection, "outbound queue full; closing the connection");
        self.rooms
            .inner
            .metrics
            .slow_consumers_closed
            .fetch_add(1, Ordering::Relaxed);
        self.close_member(
            connection,
            CloseReason::new(
                close::TRY_AGAIN_LATER,
                "too slow to keep up with the document; reconnect to resync",
            ),
        );
    }

    /// Closes one connection at once, whatever its queue holds.
    fn close_member(&mut self, connection: ConnectionId, reason: CloseReason) {
        if let Some(member) = self.members.get_mut(&connection)
            && let Some(kill) = member.kill.take()
        {
            let _ = kill.send(reason);
        }
        self.remove_member(connection);
    }

    fn remove_member(&mut self, connection: ConnectionId) {
        if self.members.remove(&connection).is_none() {
            return;
        }
        self.pending_awareness.leave(connection);
        let removed = self.awareness.remove_connection(connection);
        self.relay_awareness(removed);
        if self.members.is_empty() {
            self.idle_since = Some(Instant::now());
        }
    }

    fn close_all(&mut self, reason: CloseReason) {
        for (_, member) in self.members.drain() {
            // Behind the frames already queued; if the queue is full, at once.
            if let Err(Refused::Full) = member.outbound.try_close(reason.clone())
                && let Some(kill) = member.kill
            {
                let _ = kill.send(reason.clone());
            }
        }
    }

    /// Ends the room after a storage failure: nothing it holds uncommitted
    /// may reach anyone.
    fn fail(&mut self, reason: CloseReason) {
        self.failed = true;
        self.staged = Batch::default();
        // Dropping a write stops the wait for it: what it holds reaches
        // nobody, whether or not the store's writer still commits it.
        self.inflight = None;
        for (_, member) in self.members.drain() {
            if let Some(kill) = member.kill {
                let _ = kill.send(reason.clone());
            }
        }
        self.stopping = true;
    }

    fn start_commit(&mut self) {
        if self.inflight.is_some() || self.staged.updates.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.staged);
        let store = self.rooms.inner.store.clone();
        let document = self.document.clone();
        let first = self.last_seq.next();
        let updates = batch.updates.clone();
        let relay = relay_frames(&batch.updates);
        // A panic in the store's code fails this commit (the room closes its
        // connections and unloads, as for any failed commit), not the room's
        // task, whose registration would outlive it.
        let commit: Commit = Box::pin(
            AssertUnwindSafe(async move { store.append_updates(&document, first, &updates).await })
                .catch_unwind()
                .map(|outcome| {
                    outcome.unwrap_or_else(|_| Err(StoreError::Batch("the commit panicked".into())))
                }),
        );
        self.inflight = Some(Inflight {
            commit,
            relay,
            first,
            updates: batch.updates,
            bytes: batch.bytes,
            held: batch.held,
            waiters: batch.waiters,
            started: Instant::now(),
        });
    }

    fn on_committed(&mut self, result: Result<(), CommitError>) -> Flow {
        let Some(inflight) = self.inflight.take() else {
            return Flow::Continue;
        };
        let metrics = &self.rooms.inner.metrics;
        match result {
            Ok(()) => {
                tracing::trace!(
                    count = inflight.updates.len(),
                    held = inflight.held.len(),
                    "committed"
                );
                metrics.observe_commit(inflight.started.elapsed(), inflight.updates.len() as u64);
                let mut seq = inflight.first;
                for update in &inflight.updates {
                    self.log.push(seq, update.data.len() as u64);
                    self.last_seq = self.last_seq.max(seq);
                    seq = seq.next();
                }
                if let Some(cluster) = &self.rooms.inner.cluster {
                    cluster.committed(&self.document, self.last_seq);
                }
                for frame in inflight.relay {
                    self.broadcast_now(frame);
                }
                self.release(inflight.held);
                for waiter in inflight.waiters {
                    let _ = waiter.send(Ok(self.last_seq));
                }
                self.last_commit = Some(Instant::now());
                self.settled_reported = false;
                self.maybe_compact();
                Flow::Continue
            }
            Err(CommitError::Conflict) => {
                // Another node took these sequences: read what it wrote, then
                // write ours after it. Nothing of ours was visible yet.
                tracing::debug!("sequence taken by another node; catching up and retrying");
                let mut batch = Batch {
                    bytes: inflight.bytes,
                    updates: inflight.updates,
                    held: inflight.held,
                    waiters: inflight.waiters,
                };
                let staged = std::mem::take(&mut self.staged);
                batch.bytes += staged.bytes;
                batch.updates.extend(staged.updates);
                batch.held.extend(staged.held);
                batch.waiters.extend(staged.waiters);
                self.staged = batch;
                self.needs_catch_up = true;
                Flow::Continue
            }
            Err(CommitError::Failed(error)) => {
                metrics.commit_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%error, "commit failed; closing the document's connections");
                self.fail(CloseReason::new(
                    close::INTERNAL_ERROR,
                    "the server could not save the document; reconnect to resend your changes",
                ));
                Flow::Exit
            }
        }
    }

    /// Writes a new snapshot once [`RoomConfig::compact_after`] updates, and
    /// at least half the snapshot's bytes, are logged after the last one
    /// (each logged update counted as stored: its bytes and its row's,
    /// [`LOGGED_ROW_BYTES`]).
    ///
    /// A compaction costs in proportion to the whole document, so the second
    /// condition keeps its cost in proportion to what is written: a document
    /// taking thousands of updates a second was otherwise compacted without
    /// end (half the server's time under `plenary-load --scenario
    /// saturation`, and a snapshot of megabytes written to the database every
    /// thousand updates).
    ///
    /// When the replica holds exactly what is committed, its encoding is the
    /// snapshot, and a task only writes it. Otherwise (updates keep arriving)
    /// the snapshot must be folded from what is stored, on a blocking
    /// thread, which rebuilds the whole document: that waits for a moment
    /// when the replica is committed (under a meeting's typing, one of the
    /// next few commits), or, should none come, for a log of
    /// [`FOLD_AFTER_SNAPSHOTS`] times the snapshot.
    fn maybe_compact(&mut self) {
        if self.compaction.is_some() || (self.log.len() as u64) < self.config().compact_after {
            return;
        }
        let logged = self.log.bytes_with_rows();
        let committed = self.replica_is_committed();
        let enough = if committed {
            logged.saturating_mul(2) >= self.snapshot_bytes
        } else {
            logged >= self.snapshot_bytes.saturating_mul(FOLD_AFTER_SNAPSHOTS)
        };
        if !enough {
            return;
        }
        let store = self.rooms.inner.store.clone();
        let document = self.document.clone();
        let through = self.last_seq;
        if committed {
            match self.replica.full_state() {
                Ok(snapshot) => {
                    let task = tokio::spawn(async move {
                        store
                            .write_snapshot(&document, &snapshot, through)
                            .await
                            .map_err(|e| e.to_string())?;
                        Ok((through, snapshot.len() as u64))
                    });
                    self.compaction = Some(Compaction { task });
                    return;
                }
                // Folding what is stored may still succeed.
                Err(error) => tracing::warn!(%error, "could not encode the document to compact it"),
            }
        }
        let task = tokio::spawn(async move {
            let mut stored = store
                .load_document(&document)
                .await
                .map_err(|e| e.to_string())?;
            stored.updates.retain(|update| update.seq <= through);
            if stored.last_seq() < through {
                return Err(format!("the log ends before {through}"));
            }
            let snapshot = tokio::task::spawn_blocking(move || crdt::fold(&stored))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            store
                .write_snapshot(&document, &snapshot, through)
                .await
                .map_err(|e| e.to_string())?;
            Ok((through, snapshot.len() as u64))
        });
        self.compaction = Some(Compaction { task });
    }

    fn on_compacted(&mut self, result: Result<(Seq, u64), String>) {
        self.compaction = None;
        match result {
            Ok((through, snapshot_bytes)) => {
                self.snapshot_bytes = snapshot_bytes;
                self.log.drop_through(through);
                tracing::debug!(%through, snapshot_bytes, "compacted");
                // Writes that landed while it ran may already call for the next.
                self.maybe_compact();
            }
            // The log is intact; the next commit tries again.
            Err(error) => tracing::warn!(%error, "compaction failed"),
        }
    }

    fn report_settled(&mut self) {
        self.settled_reported = true;
        if let Some(events) = &self.rooms.inner.events {
            let event = RoomEvent::Settled {
                document: self.document.clone(),
                seq: self.last_seq,
            };
            if events.try_send(event).is_err() {
                tracing::warn!("event queue full; a checkpoint was skipped");
            }
        }
    }

    fn sweep(&mut self) -> Flow {
        let now = Instant::now();
        let expired = self.awareness.expire(now);
        self.pending_awareness.push(expired, false);
        // With other nodes, poll the log now and then: a lost notice costs
        // at most this long.
        if self.rooms.inner.cluster.is_some() && now.duration_since(self.last_poll) >= POLL_INTERVAL
        {
            self.needs_catch_up = true;
        }
        // A connection whose task ended without its leave reaching the room
        // (aborted, or the queue was full) is removed here. A connection
        // that ended normally queued its leave behind its last messages, and
        // those still count: it is removed only when a second sweep finds it
        // gone, and never while its messages wait for the document.
        let held = self.building.as_ref().map(|building| &building.held);
        let mut gone = Vec::new();
        for (&connection, member) in &mut self.members {
            if !member.outbound.is_closed() || held.is_some_and(|held| held.contains(&connection)) {
                continue;
            }
            if member.seen_gone {
                gone.push(connection);
            } else {
                member.seen_gone = true;
            }
        }
        for connection in gone {
            self.remove_member(connection);
        }
        let wall_clock = crate::store::now_millis();
        let expired: Vec<ConnectionId> = self
            .members
            .iter()
            .filter(|(_, member)| member.identity.expires_at <= wall_clock)
            .map(|(&connection, _)| connection)
            .collect();
        for connection in expired {
            self.close_member(
                connection,
                CloseReason::new(
                    close::SESSION_ENDED,
                    "your session has expired; sign in again",
                ),
            );
        }
        if let Some(last) = self.last_commit
            && !self.settled_reported
            && now.duration_since(last) >= self.config().checkpoint_quiet
            && self.staged.updates.is_empty()
            && self.inflight.is_none()
        {
            self.report_settled();
        }
        if self.is_idle(now) {
            Flow::Exit
        } else {
            Flow::Continue
        }
    }

    /// Nobody connected for the idle time, and nothing staged, committing or
    /// compacting: the room may unload.
    fn is_idle(&self, now: Instant) -> bool {
        self.idle_since
            .is_some_and(|since| now.duration_since(since) >= self.config().idle_unload)
            && self.members.is_empty()
            && self.staged.updates.is_empty()
            && self.inflight.is_none()
            && self.compaction.is_none()
            && self.building.is_none()
            && !self.needs_catch_up
    }
}

/// Why a group commit did not go through.
enum CommitError {
    /// Another node committed at these sequences first.
    Conflict,
    /// The database failed.
    Failed(String),
}

async fn wait_inflight(inflight: &mut Option<Inflight>) -> Result<(), CommitError> {
    match inflight {
        Some(inflight) => match (&mut inflight.commit).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(_)) => Err(CommitError::Conflict),
            Err(error) => Err(CommitError::Failed(error.to_string())),
        },
        None => std::future::pending().await,
    }
}

async fn wait_building(building: &mut Option<Building>) -> Result<Replica, String> {
    match building {
        Some(building) => match (&mut building.task).await {
            Ok(result) => result.map_err(|error| error.to_string()),
            Err(error) => Err(format!("building task failed: {error}")),
        },
        None => std::future::pending().await,
    }
}

async fn wait_compaction(compaction: &mut Option<Compaction>) -> Result<(Seq, u64), String> {
    match compaction {
        Some(compaction) => match (&mut compaction.task).await {
            Ok(result) => result,
            Err(error) => Err(format!("compaction task failed: {error}")),
        },
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::super::awareness::tests::entry;
    use super::*;

    /// The ends of a member's kill switch and join reply, kept alive.
    type Alive = (
        oneshot::Receiver<CloseReason>,
        oneshot::Receiver<Result<(), JoinError>>,
    );

    /// A connection joining as a delegate with write access: the command,
    /// its outbound frames, and what must stay alive while it is a member.
    fn join(connection: u64) -> (Command, outbound::Receiver, Alive) {
        let (outbound, frames) = outbound::channel(64, 1 << 20);
        let (kill, killed) = oneshot::channel();
        let (reply, replied) = oneshot::channel();
        let identity = Arc::new(Identity {
            account: AccountId(format!("account-{connection}")),
            session: SessionId(format!("session-{connection}")),
            name: format!("Delegate {connection}"),
            role: Role::Delegate,
            delegation: None,
            delegation_name: None,
            expires_at: i64::MAX,
        });
        let command = Command::Join {
            connection: ConnectionId(connection),
            identity,
            access: Access::ReadWrite,
            outbound,
            kill,
            reply,
        };
        (command, frames, (killed, replied))
    }

    /// A client holding `source` joins, sends its sync step 1 and the update
    /// that `edit` makes to `source`, and leaves at once.
    fn edit_and_leave(
        room: &mut Room,
        connection: u64,
        source: &yrs::Doc,
        edit: impl FnOnce(&mut yrs::TransactionMut),
    ) -> (outbound::Receiver, Alive) {
        use yrs::{ReadTxn, Transact};
        let state_vector = source.transact().state_vector();
        let update = {
            let mut transaction = source.transact_mut();
            edit(&mut transaction);
            transaction.encode_update_v1()
        };
        let (command, frames, alive) = join(connection);
        room.handle(command);
        room.handle(Command::Messages {
            connection: ConnectionId(connection),
            messages: vec![
                Inbound::SyncStep1(state_vector),
                Inbound::Update {
                    update: crdt::decode_update(&update).expect("an update"),
                    raw: Bytes::from(update),
                },
            ],
        });
        room.handle(Command::Leave {
            connection: ConnectionId(connection),
        });
        (frames, alive)
    }

    /// A registry of rooms over a fresh SQLite store in `dir`.
    async fn sqlite_rooms(
        dir: &tempfile::TempDir,
        config: RoomConfig,
    ) -> (Arc<crate::store::sqlite::SqliteStore>, Rooms) {
        let url = format!("sqlite://{}", dir.path().join("plenary.db").display());
        let store = Arc::new(
            crate::store::sqlite::SqliteStore::open(&url)
                .await
                .expect("opens"),
        );
        let rooms = Rooms::new(
            store.clone(),
            config,
            CancellationToken::new(),
            Arc::default(),
            None,
            None,
        );
        (store, rooms)
    }

    /// The protocol messages queued for a connection so far.
    fn received(frames: &mut outbound::Receiver) -> Vec<protocol::Message> {
        let mut messages = Vec::new();
        while let Ok(Outbound::Frame(frame)) = frames.try_recv() {
            messages.extend(protocol::decode_frame(&frame).expect("a valid frame"));
        }
        messages
    }

    /// While the replica is rebuilt from a snapshot: a client with nothing
    /// is answered from the snapshot at once; a client with a state vector
    /// waits, and so do its edit and its leaving, in their order, until the
    /// replica is built.
    #[tokio::test]
    async fn while_a_snapshot_is_rebuilt_a_fresh_client_is_answered_and_the_rest_waits_in_order() {
        use yrs::{GetString, ReadTxn, Text, Transact};
        let dir = tempfile::tempdir().expect("a temporary folder");
        let (_, rooms) = sqlite_rooms(&dir, RoomConfig::default()).await;
        let source = yrs::Doc::new();
        let text = source.get_or_insert_text("t");
        text.insert(
            &mut source.transact_mut(),
            0,
            "Recalling the Palermo Protocol",
        );
        let snapshot = source
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let stored = crdt::Answer::new(&snapshot);
        let step2 = stored.framed();
        let (gate, opened) = oneshot::channel::<()>();
        let mut room = Room::new(rooms, DocumentId::parse("preamble").expect("an id"), 1);
        room.last_seq = Seq(1);
        room.building = Some(Building {
            task: tokio::spawn(async move {
                let _ = opened.await;
                Replica::from_snapshot(stored)
            }),
            step2,
            started: Instant::now(),
            waiting: VecDeque::new(),
            held: HashSet::new(),
            owed_step1: Vec::new(),
        });

        let (command, mut fresh, _alive) = join(1);
        room.handle(command);
        room.handle(Command::Messages {
            connection: ConnectionId(1),
            messages: vec![Inbound::SyncStep1(StateVector::default())],
        });
        assert_eq!(
            received(&mut fresh),
            vec![protocol::Message::SyncStep2(Bytes::from(snapshot))],
            "a client with nothing is answered from the snapshot at once"
        );
        assert_eq!(
            room.rooms
                .inner
                .metrics
                .answered_from_snapshot
                .load(Ordering::Relaxed),
            1,
            "and the answer is counted (plenary_sync_answered_from_snapshot_total)"
        );

        // A client that holds the paragraph adds to it, and leaves at once.
        let (mut editor, _alive_too) = edit_and_leave(&mut room, 2, &source, |transaction| {
            text.push(transaction, ", 2000");
        });
        // Another adds to the start and leaves too; its connection's task has
        // ended by the time the room sweeps, which must not drop its edit.
        let (gone, _alive_three) = edit_and_leave(&mut room, 3, &source, |transaction| {
            text.insert(transaction, 0, "Also ");
        });
        drop(gone);
        for _ in 0..3 {
            assert!(matches!(room.sweep(), Flow::Continue));
        }
        assert!(
            room.members.contains_key(&ConnectionId(3)),
            "a member whose messages wait is not swept away"
        );
        assert!(received(&mut editor).is_empty(), "its sync waits");
        assert!(room.staged.updates.is_empty(), "its edit waits");
        assert!(
            room.members.contains_key(&ConnectionId(2)),
            "its leaving waits behind its edit"
        );

        gate.send(()).expect("the build is waiting");
        let built = wait_building(&mut room.building).await;
        assert!(matches!(room.on_built(built), Flow::Continue));
        assert!(room.building.is_none());
        assert!(
            matches!(
                received(&mut fresh).as_slice(),
                [protocol::Message::SyncStep1(_)]
            ),
            "the server's state vector goes out once the document is built"
        );
        let editor_got = received(&mut editor);
        assert!(
            matches!(
                editor_got.as_slice(),
                [
                    protocol::Message::SyncStep1(_),
                    protocol::Message::SyncStep2(_)
                ]
            ),
            "{editor_got:?}"
        );
        assert_eq!(
            room.staged.updates.len(),
            2,
            "both edits are staged for the next commit"
        );
        assert!(!room.members.contains_key(&ConnectionId(2)), "then it left");
        assert!(
            !room.members.contains_key(&ConnectionId(3)),
            "and so did the other"
        );
        let text = room.replica.doc().get_or_insert_text("t");
        assert_eq!(
            text.get_string(&room.replica.doc().transact()),
            "Also Recalling the Palermo Protocol, 2000"
        );

        // A connection whose task ended without a word: the second sweep
        // that finds it gone removes it.
        let (command, vanished, _alive_four) = join(4);
        room.handle(command);
        drop(vanished);
        assert!(matches!(room.sweep(), Flow::Continue));
        assert!(
            room.members.contains_key(&ConnectionId(4)),
            "not at the first sweep"
        );
        assert!(matches!(room.sweep(), Flow::Continue));
        assert!(
            !room.members.contains_key(&ConnectionId(4)),
            "at the second"
        );
    }

    #[test]
    fn the_log_keeps_its_total_as_updates_come_and_are_folded() {
        let mut log = Log::default();
        for (seq, bytes) in [(1, 10), (2, 20), (3, 30)] {
            log.push(Seq(seq), bytes);
        }
        assert_eq!((log.len(), log.bytes), (3, 60));
        assert_eq!(log.bytes_with_rows(), 60 + 3 * LOGGED_ROW_BYTES);
        log.drop_through(Seq(2));
        assert_eq!((log.len(), log.bytes), (1, 30));
        log.drop_through(Seq(1));
        assert_eq!((log.len(), log.bytes), (1, 30), "already folded");
        log.drop_through(Seq(9));
        assert_eq!((log.len(), log.bytes, log.bytes_with_rows()), (0, 0, 0));
    }

    #[test]
    fn pending_awareness_keeps_each_clients_latest_entry() {
        let mut pending = PendingAwareness::default();
        assert!(!pending.due(Instant::now()));
        pending.push(
            [entry(1, 1, Some("{\"a\":1}")), entry(2, 1, Some("{}"))],
            true,
        );
        pending.push([entry(9, 4, Some("{\"remote\":1}"))], false);
        pending.push([entry(1, 2, Some("{\"a\":2}"))], true);
        pending.push([entry(2, 1, None)], true);
        // Nothing was relayed lately: due at once.
        assert!(pending.due(Instant::now()));
        let Relay { all, local, .. } = pending.take();
        assert_eq!(
            all,
            vec![
                entry(9, 4, Some("{\"remote\":1}")),
                entry(1, 2, Some("{\"a\":2}")),
                entry(2, 1, None),
            ]
        );
        // Another node's clients are not sent back to the other nodes.
        assert_eq!(
            local,
            vec![entry(1, 2, Some("{\"a\":2}")), entry(2, 1, None)]
        );
        assert!(pending.entries.is_empty());
        assert_eq!(pending.next_flush(), None);
        // Nothing pushed: nothing due.
        pending.push(Vec::new(), true);
        assert!(!pending.due(Instant::now() + AWARENESS_FLUSH_AFTER));
        // Just relayed: the next entry waits for the rest of the 20 ms.
        pending.push([entry(1, 3, Some("{}"))], true);
        assert!(!pending.due(Instant::now()));
        assert!(pending.due(Instant::now() + AWARENESS_FLUSH_AFTER));
    }

    /// Members joining in a burst hold the relay of presence until their
    /// joins pause, and never longer than
    /// [`AWARENESS_JOIN_HOLD`] after the first of them; one member joining
    /// a quiet room gets every state at once.
    #[test]
    fn a_burst_of_joins_holds_presence_until_the_joins_pause() {
        let ms = Duration::from_millis;
        let start = Instant::now();
        let mut pending = PendingAwareness::default();
        pending.join(ConnectionId(1), start);
        assert!(pending.due(start), "one member: at once");
        let Relay { joiners, .. } = pending.take();
        assert_eq!(joiners, vec![ConnectionId(1)]);

        assert_eq!(pending.joins, None);
        let burst = start + ms(100);
        for i in 0..10 {
            pending.join(ConnectionId(10 + i), burst + ms(5 * i));
            pending.push([entry(10 + i, 1, Some("{}"))], true);
        }
        let last = burst + ms(45);
        let pause = last + AWARENESS_JOIN_PAUSE;
        assert!(!pending.due(last), "joins are still coming");
        assert!(!pending.due(pause - ms(1)));
        assert!(pending.due(pause), "a pause");
        assert_eq!(pending.next_flush(), Some(pause));
        let Relay { all, joiners, .. } = pending.take();
        assert_eq!((all.len(), joiners.len()), (10, 10), "all in one relay");

        // Joins that do not pause: out after the longest hold.
        let mut pending = PendingAwareness::default();
        for i in 0..300 {
            pending.join(ConnectionId(100 + i), start + ms(5 * i));
        }
        assert!(!pending.due(start + AWARENESS_JOIN_HOLD - ms(1)));
        assert!(pending.due(start + AWARENESS_JOIN_HOLD));

        // Joiners who leave before the relay are owed nothing; when none is
        // left, the burst is over.
        let mut pending = PendingAwareness::default();
        pending.join(ConnectionId(1), start);
        pending.join(ConnectionId(2), start + ms(1));
        assert!(!pending.due(start + ms(2)));
        pending.leave(ConnectionId(1));
        pending.leave(ConnectionId(2));
        assert_eq!((pending.joiners.len(), pending.joins), (0, None));
        assert!(pending.is_empty());
    }

    /// A member who joins gets every presence state with the next relay;
    /// the members who joined within the same 20 ms share one encoding of
    /// it, while the members already there get only what changed.
    #[tokio::test]
    async fn members_who_join_together_share_one_frame_of_every_state() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let (_, rooms) = sqlite_rooms(&dir, RoomConfig::default()).await;
        let mut room = Room::new(rooms, DocumentId::parse("preamble").expect("an id"), 1);
        let presence = |connection: u64, clock: u64, state: &str| Command::Messages {
            connection: ConnectionId(connection),
            messages: vec![Inbound::Awareness(vec![entry(
                connection,
                clock,
                Some(state),
            )])],
        };
        let awareness_frames = |frames: &mut outbound::Receiver| {
            let mut found = Vec::new();
            while let Ok(Outbound::Frame(frame)) = frames.try_recv() {
                let messages = protocol::decode_frame(&frame).expect("a valid frame");
                if let [protocol::Message::Awareness(entries)] = messages.as_slice() {
                    found.push((frame.clone(), entries.clone()));
                }
            }
            found
        };

        // A quiet room: the first member's state goes out at once, and so
        // does every state to the next member when it joins.
        let (command, mut first, _alive_1) = join(1);
        room.handle(command);
        room.handle(presence(1, 1, "{\"cursor\":1}"));
        assert!(room.pending_awareness.due(Instant::now()));
        room.flush_awareness();
        let (command, mut second, _alive_2) = join(2);
        room.handle(command);
        let waited = Instant::now() + AWARENESS_FLUSH_AFTER;
        assert!(room.pending_awareness.due(waited));
        room.flush_awareness();
        let got = awareness_frames(&mut second);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, vec![entry(1, 1, Some("{\"cursor\":1}"))]);
        assert_eq!(
            awareness_frames(&mut first).len(),
            1,
            "its own change, and nothing when another joins"
        );

        // Busy: two members join and the first moves within 20 ms of a relay.
        let (command, mut third, _alive_3) = join(3);
        room.handle(command);
        let (command, mut fourth, _alive_4) = join(4);
        room.handle(command);
        room.handle(presence(1, 2, "{\"cursor\":2}"));
        assert!(!room.pending_awareness.due(Instant::now()));
        assert!(
            awareness_frames(&mut third).is_empty(),
            "nothing before the window ends"
        );
        room.flush_awareness();
        let (third_got, fourth_got) = (awareness_frames(&mut third), awareness_frames(&mut fourth));
        assert_eq!(third_got.len(), 1, "one frame of every state");
        assert_eq!(third_got[0].1, vec![entry(1, 2, Some("{\"cursor\":2}"))]);
        assert_eq!(fourth_got.len(), 1);
        assert_eq!(
            third_got[0].0.as_ptr(),
            fourth_got[0].0.as_ptr(),
            "encoded once, shared by both queues"
        );
        for member in [&mut first, &mut second] {
            let got = awareness_frames(member);
            assert_eq!(got.len(), 1);
            assert_eq!(
                got[0].1,
                vec![entry(1, 2, Some("{\"cursor\":2}"))],
                "only the change"
            );
        }
        assert!(!room.pending_awareness.due(waited + AWARENESS_FLUSH_AFTER));
    }

    /// Compaction waits for a log of half the snapshot's bytes; then a room
    /// still taking updates folds the stored log, and a room whose replica
    /// holds exactly what is committed writes the replica as the snapshot.
    #[tokio::test]
    async fn compaction_writes_a_committed_replica_at_half_a_snapshot_of_log_and_folds_at_twice() {
        use crate::store::Store;
        use yrs::{GetString, Text, Transact};
        let dir = tempfile::tempdir().expect("a temporary folder");
        let config = RoomConfig {
            compact_after: 2,
            ..RoomConfig::default()
        };
        let (store, rooms) = sqlite_rooms(&dir, config).await;
        let document = DocumentId::parse("operative").expect("an id");
        let source = yrs::Doc::with_client_id(7);
        let text = source.get_or_insert_text("t");
        let mut updates = Vec::new();
        for word in ["Urges ", "member ", "States"] {
            let mut transaction = source.transact_mut();
            let end = text.len(&transaction);
            text.insert(&mut transaction, end, word);
            updates.push(NewUpdate {
                data: Bytes::from(transaction.encode_update_v1()),
                author: None,
                delegation: None,
            });
        }
        store
            .append_updates(&document, Seq(1), &updates)
            .await
            .expect("appends");
        let mut room = Room::new(rooms, document.clone(), 1);
        room.load().await.expect("loads");
        assert_eq!(room.log.len(), 3);

        // Still taking updates, with a log far smaller than the snapshot:
        // no fold.
        room.staged.updates.push(updates[2].clone());
        room.snapshot_bytes = 1 << 20;
        room.maybe_compact();
        assert!(room.compaction.is_none());
        // As the log reaches half the snapshot, a committed replica would be
        // written; this one is not committed, and a fold rebuilds the whole
        // document: it waits.
        let logged = room.log.bytes_with_rows();
        room.snapshot_bytes = 2 * logged;
        room.maybe_compact();
        assert!(room.compaction.is_none());
        // With a log of twice the snapshot: folded from the store.
        room.snapshot_bytes = logged / FOLD_AFTER_SNAPSHOTS;
        room.maybe_compact();
        let folded = wait_compaction(&mut room.compaction).await;
        room.compaction = None;
        assert_eq!(folded.map(|(through, _)| through), Ok(Seq(3)));

        // Committed: the replica itself is the snapshot, under the same
        // condition.
        room.staged = Batch::default();
        room.snapshot_bytes = 1 << 20;
        room.maybe_compact();
        assert!(room.compaction.is_none());
        room.snapshot_bytes = 2 * room.log.bytes;
        room.maybe_compact();
        let written = wait_compaction(&mut room.compaction).await;
        room.compaction = None;
        let state = room.replica.full_state().expect("encodes");
        assert_eq!(written, Ok((Seq(3), state.len() as u64)));
        let stored = store.load_document(&document).await.expect("loads");
        assert_eq!(stored.snapshot.as_deref(), Some(&state[..]));
        let reloaded = Replica::load(&stored).expect("a valid snapshot");
        let text = reloaded.doc().get_or_insert_text("t");
        assert_eq!(
            text.get_string(&reloaded.doc().transact()),
            "Urges member States"
        );
    }
}
