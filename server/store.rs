//! Persistence: one [`Store`] trait, one implementation per database.
//!
//! Per document the store keeps an append-only log of every update (the
//! history: versions are positions in it, attribution reads its authors) and
//! a compacted state (the snapshot) of a prefix of it. Loading is "snapshot,
//! then the log after it"; compaction writes a newer snapshot, so what a load
//! reads stays bounded while the history stays whole. SQL lives only in the backends ([`sqlite`], [`postgres`]),
//! each with its own migrations under `migrations/`.
//!
//! A document's row in `documents` is created by its first append, which
//! otherwise leaves it alone, and rewritten by each snapshot: its
//! `updated_at` is the time of its last snapshot (or of its creation), and
//! the time of its last edit is the `created_at` of its last logged update.
//! (Touching the row at every commit cost a page on SQLite and a row version
//! on PostgreSQL per commit, for a column nothing reads.)

mod appends;
pub mod directory;
pub mod faults;
pub mod postgres;
pub mod sqlite;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;

use crate::ids::{DocumentId, Seq};

/// A shared handle on whichever store the server runs on.
pub type DynStore = Arc<dyn Store>;

/// A shared handle on the records of whichever database the server runs on.
pub type DynDirectory = Arc<dyn directory::Directory>;

/// Both halves of one database: the live documents' log, and the records.
#[derive(Debug, Clone)]
pub struct Database {
    /// Documents: snapshots and update logs.
    pub documents: DynStore,
    /// Meetings, delegations, accounts, sessions, resolutions, audit.
    pub directory: DynDirectory,
    /// The PostgreSQL pool, when several nodes may share the database: the
    /// nodes tell each other of commits over it (see `cluster.rs`).
    pub postgres: Option<sqlx::PgPool>,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row asked for does not exist.
    #[error("not found")]
    NotFound,
    /// A row with the same key exists: another writer got there first.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database refused or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration could not be applied, or the database is newer than this binary.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The commit this write shared with other documents' writes failed
    /// (SQLite's group commit); what the database said.
    #[error("database error: {0}")]
    Batch(String),
    /// A failure injected by [`faults::FaultyStore`].
    #[error("injected fault: {0}")]
    Injected(&'static str),
}

/// One update to append to a document's log.
#[derive(Debug, Clone)]
pub struct NewUpdate {
    /// A yrs v1 update, exactly as it was applied.
    pub data: Bytes,
    /// Who sent it (an account id).
    pub author: Option<String>,
    /// The delegation the author belonged to when it was written.
    pub delegation: Option<String>,
}

/// One update read back from a document's log.
#[derive(Debug, Clone)]
pub struct StoredUpdate {
    /// Its position in the log.
    pub seq: Seq,
    /// The yrs v1 update.
    pub data: Vec<u8>,
    /// Who wrote it (an account id; none for the server's own changes).
    pub author: Option<String>,
    /// The author's delegation at the time.
    pub delegation: Option<String>,
}

/// Everything needed to rebuild a document.
#[derive(Debug, Clone, Default)]
pub struct StoredDocument {
    /// The compacted state, holding every update through `snapshot_seq`.
    pub snapshot: Option<Vec<u8>>,
    /// The last update folded into `snapshot` (0 when there is none).
    pub snapshot_seq: Seq,
    /// The updates after `snapshot_seq`, in order.
    pub updates: Vec<StoredUpdate>,
}

impl StoredDocument {
    /// The sequence of the last stored update.
    pub fn last_seq(&self) -> Seq {
        self.updates
            .last()
            .map_or(self.snapshot_seq, |update| update.seq)
    }

    /// Bytes held: the snapshot plus the log after it.
    pub fn stored_bytes(&self) -> u64 {
        let log: usize = self.updates.iter().map(|update| update.data.len()).sum();
        (self.snapshot.as_ref().map_or(0, Vec::len) + log) as u64
    }
}

/// The persistence of live documents.
///
/// Every method is one transaction: it happens entirely or not at all.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Reads a document's snapshot and the log after it. A document that was
    /// never written reads as empty.
    async fn load_document(&self, document: &DocumentId) -> Result<StoredDocument, StoreError>;

    /// Appends `updates` at `first`, `first + 1`, … in one transaction
    /// (creating the document on its first write). Fails with
    /// [`StoreError::Conflict`] if any of those sequences is taken.
    async fn append_updates(
        &self,
        document: &DocumentId,
        first: Seq,
        updates: &[NewUpdate],
    ) -> Result<(), StoreError>;

    /// Replaces the snapshot with `snapshot`, which holds every update through
    /// `through`. Does nothing if the stored snapshot already reaches
    /// `through`. The log rows stay: they are the history.
    async fn write_snapshot(
        &self,
        document: &DocumentId,
        snapshot: &[u8],
        through: Seq,
    ) -> Result<(), StoreError>;

    /// What the document held right after update `through`: the snapshot if
    /// it does not reach beyond `through`, and the log up to `through`.
    async fn load_through(
        &self,
        document: &DocumentId,
        through: Seq,
    ) -> Result<StoredDocument, StoreError>;

    /// Every update through `through`, from the first, with its author (for
    /// attribution, which the snapshot cannot tell).
    async fn history(
        &self,
        document: &DocumentId,
        through: Seq,
    ) -> Result<Vec<StoredUpdate>, StoreError>;

    /// The updates after `after`, in order (what another node committed).
    async fn updates_after(
        &self,
        document: &DocumentId,
        after: Seq,
    ) -> Result<Vec<StoredUpdate>, StoreError>;

    /// The sequence of the last stored update (0 for none).
    async fn last_seq(&self, document: &DocumentId) -> Result<Seq, StoreError>;

    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Which backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://…`
    Sqlite,
    /// `postgres://…` or `postgresql://…`
    Postgres,
}

impl Backend {
    /// Reads the scheme of a database URL.
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// Opens the database at `url`, applies the migrations this binary carries,
/// and returns both of its halves.
pub async fn open(url: &str) -> Result<Database, StoreError> {
    match Backend::of_url(url) {
        Some(Backend::Sqlite) => {
            let store = Arc::new(sqlite::SqliteStore::open(url).await?);
            Ok(Database {
                documents: store.clone(),
                directory: store,
                postgres: None,
            })
        }
        Some(Backend::Postgres) => {
            let store = Arc::new(postgres::PostgresStore::open(url).await?);
            Ok(Database {
                documents: store.clone(),
                postgres: Some(store.pool().clone()),
                directory: store,
            })
        }
        None => Err(StoreError::Database(sqlx::Error::Configuration(
            "the database URL must start with sqlite:// or postgres://".into(),
        ))),
    }
}

/// Milliseconds since the Unix epoch, as stored in `created_at` columns.
pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// Whether a database error is a unique-key violation.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// A connection idle this long is pinged before it is handed out. Under load
/// connections come back within milliseconds and are never pinged; a
/// database that restarts leaves dead only those used within the last second.
pub const PING_AFTER_IDLE: std::time::Duration = std::time::Duration::from_secs(1);

/// The pool settings both stores share. sqlx pings every connection before
/// it hands it out (by default) and again when it comes back: a round trip
/// to PostgreSQL, or a hand-over to SQLite's thread and back, before every
/// query on the way. The ping on return stays (a connection that failed is
/// closed then); a connection is pinged before use only when it has been
/// idle long enough for the database or the network to have dropped it (a
/// restart of PostgreSQL, a firewall's idle timeout): sqlx's own pattern for
/// this. One that fails its ping is closed and the next is tried.
pub(crate) fn pool_options<DB: sqlx::Database>(
    max_connections: u32,
) -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::new()
        .max_connections(max_connections)
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    sqlx::Connection::ping(connection).await?;
                }
                Ok(true)
            })
        })
}
