//! A small read-through cache for rows read on every request (sessions, module state), kept
//! correct by the writes of this process: every write that could change a cached row calls
//! [`Cache::invalidate`] after it commits. A read that overlapped a write does not fill the cache
//! (the generation moved while it read), so a stale row is never cached after the write. Entries
//! also expire after a TTL, which bounds staleness from writes made by another process (the
//! `admin` CLI).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

/// Entries kept before the cache starts over.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug)]
struct Inner<K, V> {
    map: RwLock<HashMap<K, (V, Instant)>>,
    generation: AtomicU64,
    ttl: Duration,
    /// In a cluster: where this cache's name goes when this process invalidates it, so the
    /// other masters drop theirs (`src/cluster/`).
    announce: OnceLock<(&'static str, UnboundedSender<&'static str>)>,
}

#[derive(Debug, Clone)]
pub(super) struct Cache<K, V>(Arc<Inner<K, V>>);

impl<K: Eq + Hash + Clone, V: Clone> Cache<K, V> {
    pub(super) fn new(ttl: Duration) -> Self {
        Self(Arc::new(Inner {
            map: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            ttl,
            announce: OnceLock::new(),
        }))
    }

    /// The cached value, and the generation to pass to [`Cache::fill`] after a miss.
    pub(super) fn get(&self, key: &K) -> (Option<V>, u64) {
        let generation = self.0.generation.load(Ordering::Acquire);
        let hit = self.0.map.read().ok().and_then(|map| {
            map.get(key)
                .filter(|(_, at)| at.elapsed() < self.0.ttl)
                .map(|(v, _)| v.clone())
        });
        (hit, generation)
    }

    /// Caches what was read, unless a write happened since `generation` was taken.
    pub(super) fn fill(&self, key: K, value: V, generation: u64) {
        let Ok(mut map) = self.0.map.write() else {
            return;
        };
        if self.0.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, (value, Instant::now()));
    }

    /// Forgets everything; call after a write commits (or fails: the next read asks again). In
    /// a cluster the other masters are told to forget theirs.
    pub(super) fn invalidate(&self) {
        self.invalidate_local();
        if let Some((name, tx)) = self.0.announce.get() {
            // The receiver lives as long as the cluster membership; after it, nobody listens.
            let _ = tx.send(name);
        }
    }

    /// Announces this cache's invalidations as `name` on `tx` (once).
    pub(super) fn announce_to(&self, name: &'static str, tx: UnboundedSender<&'static str>) {
        let _ = self.0.announce.set((name, tx));
    }

    /// Forgets everything because another master wrote.
    pub(super) fn invalidate_local(&self) {
        if let Ok(mut map) = self.0.map.write() {
            self.0.generation.fetch_add(1, Ordering::AcqRel);
            map.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_overlapping_a_write_is_not_cached() {
        let cache = Cache::<&str, u32>::new(Duration::from_secs(60));
        let (hit, generation) = cache.get(&"a");
        assert_eq!(hit, None);
        cache.invalidate();
        cache.fill("a", 1, generation);
        assert_eq!(cache.get(&"a").0, None);
        let (_, generation) = cache.get(&"a");
        cache.fill("a", 2, generation);
        assert_eq!(cache.get(&"a").0, Some(2));
        cache.invalidate();
        assert_eq!(cache.get(&"a").0, None);
    }

    #[test]
    fn entries_expire() {
        let cache = Cache::<&str, u32>::new(Duration::ZERO);
        let (_, generation) = cache.get(&"a");
        cache.fill("a", 1, generation);
        assert_eq!(cache.get(&"a").0, None);
    }
}
