//! A store that fails or stalls on request, to test what the server does when
//! the database misbehaves.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use tokio::sync::watch;

use super::{DynStore, NewUpdate, Store, StoreError, StoredDocument};
use crate::ids::{DocumentId, Seq};

/// Wraps a real store; each switch injects one kind of fault.
#[derive(Debug, Clone)]
pub struct FaultyStore {
    inner: DynStore,
    switches: Arc<Switches>,
}

#[derive(Debug)]
struct Switches {
    fail_appends: AtomicBool,
    panic_appends: AtomicBool,
    fail_loads: AtomicBool,
    appends: AtomicUsize,
    /// Append transactions begun (counted before the stall).
    attempts: watch::Sender<usize>,
    /// While `true`, appends wait before reaching the database.
    stall: watch::Sender<bool>,
}

impl FaultyStore {
    /// Wraps `inner`, with every switch off.
    pub fn new(inner: DynStore) -> Self {
        Self {
            inner,
            switches: Arc::new(Switches {
                fail_appends: AtomicBool::new(false),
                panic_appends: AtomicBool::new(false),
                fail_loads: AtomicBool::new(false),
                appends: AtomicUsize::new(0),
                attempts: watch::Sender::new(0),
                stall: watch::Sender::new(false),
            }),
        }
    }

    /// Makes every append fail (or succeed again).
    pub fn fail_appends(&self, fail: bool) {
        self.switches.fail_appends.store(fail, Ordering::SeqCst);
    }

    /// Makes every append panic (or succeed again): a bug in the store's
    /// code, which must cost one document's connections, not the document.
    pub fn panic_appends(&self, panic: bool) {
        self.switches.panic_appends.store(panic, Ordering::SeqCst);
    }

    /// Makes every load fail (or succeed again).
    pub fn fail_loads(&self, fail: bool) {
        self.switches.fail_loads.store(fail, Ordering::SeqCst);
    }

    /// Holds every append until `stall(false)`.
    pub fn stall(&self, stall: bool) {
        self.switches.stall.send_replace(stall);
    }

    /// Waits until at least `count` appends have begun (stalled or not).
    pub async fn wait_attempts(&self, count: usize) {
        let mut attempts = self.switches.attempts.subscribe();
        let _ = attempts.wait_for(|&attempts| attempts >= count).await;
    }

    /// How many append transactions reached the database.
    pub fn appends(&self) -> usize {
        self.switches.appends.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Store for FaultyStore {
    async fn load_document(&self, document: &DocumentId) -> Result<StoredDocument, StoreError> {
        if self.switches.fail_loads.load(Ordering::SeqCst) {
            return Err(StoreError::Injected("load refused"));
        }
        self.inner.load_document(document).await
    }

    async fn append_updates(
        &self,
        document: &DocumentId,
        first: Seq,
        updates: &[NewUpdate],
    ) -> Result<(), StoreError> {
        self.switches
            .attempts
            .send_modify(|attempts| *attempts += 1);
        let mut stall = self.switches.stall.subscribe();
        // The sender lives as long as `self`, so this wait cannot fail.
        let _ = stall.wait_for(|stalled| !stalled).await;
        if self.switches.fail_appends.load(Ordering::SeqCst) {
            return Err(StoreError::Injected("append refused"));
        }
        assert!(
            !self.switches.panic_appends.load(Ordering::SeqCst),
            "an injected panic in an append"
        );
        self.inner.append_updates(document, first, updates).await?;
        self.switches.appends.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn write_snapshot(
        &self,
        document: &DocumentId,
        snapshot: &[u8],
        through: Seq,
    ) -> Result<(), StoreError> {
        self.inner.write_snapshot(document, snapshot, through).await
    }

    async fn load_through(
        &self,
        document: &DocumentId,
        through: Seq,
    ) -> Result<StoredDocument, StoreError> {
        self.inner.load_through(document, through).await
    }

    async fn history(
        &self,
        document: &DocumentId,
        through: Seq,
    ) -> Result<Vec<super::StoredUpdate>, StoreError> {
        self.inner.history(document, through).await
    }

    async fn updates_after(
        &self,
        document: &DocumentId,
        after: Seq,
    ) -> Result<Vec<super::StoredUpdate>, StoreError> {
        self.inner.updates_after(document, after).await
    }

    async fn last_seq(&self, document: &DocumentId) -> Result<Seq, StoreError> {
        self.inner.last_seq(document).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
}
