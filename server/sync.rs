//! Live documents over the y-websocket protocol.
//!
//! - [`protocol`]: reading and writing frames.
//! - [`awareness`]: the presence states of a document.
//! - [`crdt`]: the yrs document of a room (load, apply, answer).
//! - [`room`]: the task that owns an open document, and the registry of rooms.
//! - [`connection`]: one websocket, between its socket and its room.
//! - [`outbound`]: a connection's queue of frames, bounded in frames and bytes.

pub mod awareness;
pub mod connection;
pub mod crdt;
pub mod outbound;
pub mod preflight;
pub mod protocol;
pub mod room;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds, in seconds, of the commit latency histogram.
pub const COMMIT_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0,
];

/// Upper bounds of the group-commit size histogram.
pub const BATCH_BUCKETS: [u64; 8] = [1, 2, 4, 8, 16, 64, 256, 1024];

/// Counters of the sync layer, read by `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Websocket connections open now.
    pub connections: AtomicU64,
    /// Updates committed since start.
    pub updates_committed: AtomicU64,
    /// Group commits since start.
    pub commits: AtomicU64,
    /// Commits that failed.
    pub commit_failures: AtomicU64,
    /// Document loads that failed.
    pub load_failures: AtomicU64,
    /// Documents loaded from the store since start.
    pub documents_loaded: AtomicU64,
    /// Sync step 1s answered from a stored snapshot while its document was
    /// still being built.
    pub answered_from_snapshot: AtomicU64,
    /// Updates committed per group commit: counts per bucket of [`BATCH_BUCKETS`] (+Inf last).
    pub batch_sizes: [AtomicU64; BATCH_BUCKETS.len() + 1],
    /// Updates read from other nodes' commits.
    pub caught_up: AtomicU64,
    /// Connections closed because their outbound queue was full.
    pub slow_consumers_closed: AtomicU64,
    /// Updates refused from read-only connections.
    pub refused_writes: AtomicU64,
    /// Connections closed for a malformed or refused frame.
    pub protocol_errors: AtomicU64,
    /// Commit latency histogram: counts per bucket of [`COMMIT_BUCKETS`] (+Inf last).
    pub commit_latency: [AtomicU64; COMMIT_BUCKETS.len() + 1],
    /// Sum of commit latencies, in microseconds.
    pub commit_latency_micros: AtomicU64,
}

impl Metrics {
    /// Records one group commit of `updates` updates that took `elapsed`.
    pub fn observe_commit(&self, elapsed: Duration, updates: u64) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.updates_committed.fetch_add(updates, Ordering::Relaxed);
        self.commit_latency_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64();
        let bucket = COMMIT_BUCKETS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(COMMIT_BUCKETS.len());
        self.commit_latency[bucket].fetch_add(1, Ordering::Relaxed);
        let size = BATCH_BUCKETS
            .iter()
            .position(|&bound| updates <= bound)
            .unwrap_or(BATCH_BUCKETS.len());
        self.batch_sizes[size].fetch_add(1, Ordering::Relaxed);
    }

    /// Renders the counters in the Prometheus text format.
    pub fn render(&self, open_documents: usize) -> String {
        use std::fmt::Write;
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        metric(
            "plenary_open_documents",
            "gauge",
            "Documents loaded in memory.",
            open_documents as u64,
        );
        metric(
            "plenary_connections",
            "gauge",
            "Open websocket connections.",
            get(&self.connections),
        );
        metric(
            "plenary_updates_committed_total",
            "counter",
            "Updates committed.",
            get(&self.updates_committed),
        );
        metric(
            "plenary_commits_total",
            "counter",
            "Group commits.",
            get(&self.commits),
        );
        metric(
            "plenary_commit_failures_total",
            "counter",
            "Commits that failed.",
            get(&self.commit_failures),
        );
        metric(
            "plenary_load_failures_total",
            "counter",
            "Document loads that failed.",
            get(&self.load_failures),
        );
        metric(
            "plenary_slow_consumers_closed_total",
            "counter",
            "Connections closed because they could not keep up.",
            get(&self.slow_consumers_closed),
        );
        metric(
            "plenary_refused_writes_total",
            "counter",
            "Updates refused from read-only connections.",
            get(&self.refused_writes),
        );
        metric(
            "plenary_protocol_errors_total",
            "counter",
            "Connections closed for a malformed or refused frame.",
            get(&self.protocol_errors),
        );
        metric(
            "plenary_documents_loaded_total",
            "counter",
            "Documents loaded from the store.",
            get(&self.documents_loaded),
        );
        metric(
            "plenary_sync_answered_from_snapshot_total",
            "counter",
            "Fresh clients answered from the stored snapshot while their document was being built.",
            get(&self.answered_from_snapshot),
        );
        metric(
            "plenary_caught_up_updates_total",
            "counter",
            "Updates read from other nodes' commits.",
            get(&self.caught_up),
        );
        let _ = writeln!(
            out,
            "# HELP plenary_commit_batch_updates Updates per group commit.\n# TYPE plenary_commit_batch_updates histogram"
        );
        let mut batches = 0;
        for (index, bound) in BATCH_BUCKETS.iter().enumerate() {
            batches += get(&self.batch_sizes[index]);
            let _ = writeln!(
                out,
                "plenary_commit_batch_updates_bucket{{le=\"{bound}\"}} {batches}"
            );
        }
        batches += get(&self.batch_sizes[BATCH_BUCKETS.len()]);
        let _ = writeln!(
            out,
            "plenary_commit_batch_updates_bucket{{le=\"+Inf\"}} {batches}"
        );
        let _ = writeln!(
            out,
            "plenary_commit_batch_updates_sum {}\nplenary_commit_batch_updates_count {batches}",
            get(&self.updates_committed)
        );
        let _ = writeln!(
            out,
            "# HELP plenary_commit_seconds Latency of group commits.\n# TYPE plenary_commit_seconds histogram"
        );
        let mut cumulative = 0;
        for (index, bound) in COMMIT_BUCKETS.iter().enumerate() {
            cumulative += get(&self.commit_latency[index]);
            let _ = writeln!(
                out,
                "plenary_commit_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        cumulative += get(&self.commit_latency[COMMIT_BUCKETS.len()]);
        let _ = writeln!(
            out,
            "plenary_commit_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let _ = writeln!(
            out,
            "plenary_commit_seconds_sum {}\nplenary_commit_seconds_count {cumulative}",
            get(&self.commit_latency_micros) as f64 / 1e6
        );
        out
    }
}
