//! Recent reads of records that every connection asks for (a session by its
//! token, a resolution's access rules), kept so that a reconnect storm of a
//! thousand clients does not make a thousand round trips to the database's
//! thread for the same few rows.
//!
//! A cache is only as exact as its invalidation: whoever changes a cached
//! record calls [`ReadCache::forget`] after writing it (on every node: the
//! changes that matter here already travel between nodes as notices). A read
//! races a change when it starts before the change is written and stores
//! its result after the change was forgotten; every `forget` therefore moves
//! a generation, and a result read under an older generation is not stored.
//! The generation is also the count of changes a caller may compare before
//! and after something that must not miss one (`sync_document`).
//! Entries also expire after a while, which bounds how long a node keeps a
//! record whose change it never heard of (a notice lost with the listening
//! connection is covered: the node clears everything when it reconnects).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A bounded map of recent reads. Cheap to share: one short lock per call.
#[derive(Debug)]
pub struct ReadCache<K, V> {
    inner: Mutex<Inner<K, V>>,
    ttl: Duration,
    capacity: usize,
}

#[derive(Debug)]
struct Inner<K, V> {
    generation: u64,
    entries: HashMap<K, (V, Instant)>,
}

/// Where a read starts: the generation it must still find to be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

impl<K: Eq + Hash, V: Clone> ReadCache<K, V> {
    /// A cache of at most `capacity` entries, each kept at most `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            inner: Mutex::new(Inner {
                generation: 0,
                entries: HashMap::new(),
            }),
            ttl,
            capacity,
        }
    }

    /// The map, also after a panic elsewhere held its lock (every change
    /// under the lock leaves it whole).
    fn lock(&self) -> MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value read for `key`, unless it has expired or been forgotten.
    pub fn get(&self, key: &K) -> Option<V> {
        let inner = self.lock();
        let (value, stored) = inner.entries.get(key)?;
        (stored.elapsed() < self.ttl).then(|| value.clone())
    }

    /// Call before reading from the database; pass the result to
    /// [`ReadCache::store`]. Moves with every `forget` and `clear`.
    pub fn generation(&self) -> Generation {
        Generation(self.lock().generation)
    }

    /// Keeps `value`, read from the database since `read_at`, unless
    /// something was forgotten since (the read may predate that change).
    pub fn store(&self, key: K, value: V, read_at: Generation) {
        let mut inner = self.lock();
        if inner.generation != read_at.0 {
            return;
        }
        if inner.entries.len() >= self.capacity && !inner.entries.contains_key(&key) {
            let ttl = self.ttl;
            inner
                .entries
                .retain(|_, (_, stored)| stored.elapsed() < ttl);
            if inner.entries.len() >= self.capacity {
                inner.entries.clear();
            }
        }
        inner.entries.insert(key, (value, Instant::now()));
    }

    /// Drops the entries `which` selects, and every read in flight.
    pub fn forget(&self, which: impl Fn(&K, &V) -> bool) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.retain(|key, (value, _)| !which(key, value));
    }

    /// Drops everything, and every read in flight.
    pub fn clear(&self) {
        self.forget(|_, _| true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> ReadCache<&'static str, u32> {
        ReadCache::new(3, Duration::from_secs(60))
    }

    #[test]
    fn keeps_a_read_until_it_is_forgotten() {
        let cache = cache();
        assert_eq!(cache.get(&"a"), None);
        let read_at = cache.generation();
        cache.store("a", 1, read_at);
        cache.store("b", 2, read_at);
        assert_eq!(cache.get(&"a"), Some(1));
        cache.forget(|key, _| *key == "a");
        assert_eq!(cache.get(&"a"), None);
        assert_eq!(cache.get(&"b"), Some(2), "only what was selected goes");
        cache.clear();
        assert_eq!(cache.get(&"b"), None);
    }

    #[test]
    fn a_read_that_began_before_a_change_is_not_kept() {
        let cache = cache();
        let read_at = cache.generation();
        // The record changes, and is forgotten, while the read is in flight.
        cache.forget(|key, _| *key == "a");
        cache.store("a", 1, read_at);
        assert_eq!(cache.get(&"a"), None);
        assert_ne!(cache.generation(), read_at, "the change is counted");
        // A read after the change is kept.
        cache.store("a", 2, cache.generation());
        assert_eq!(cache.get(&"a"), Some(2));
    }

    #[test]
    fn entries_expire() {
        let cache = ReadCache::new(3, Duration::ZERO);
        cache.store("a", 1, cache.generation());
        assert_eq!(cache.get(&"a"), None);
    }

    #[test]
    fn stays_within_its_capacity() {
        let cache = cache();
        for (index, key) in ["a", "b", "c", "d"].into_iter().enumerate() {
            cache.store(key, index as u32, cache.generation());
        }
        assert_eq!(cache.get(&"d"), Some(3), "the newest read is kept");
        let kept = ["a", "b", "c"]
            .iter()
            .filter(|key| cache.get(key).is_some())
            .count();
        assert!(
            kept < 3,
            "a full cache makes room: {kept} of the old entries kept"
        );
        // Storing a key it holds replaces it without making room.
        cache.store("d", 9, cache.generation());
        assert_eq!(cache.get(&"d"), Some(9));
    }
}
