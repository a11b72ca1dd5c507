//! Read caches of one orgd node, in front of the hot queries (authentication, organization
//! access, organization and member reads).
//!
//! Every committed write on this node bumps one generation counter, and an entry is served only
//! while its generation is current, so this node never serves a revoked token, a removed
//! membership or any other state it has itself changed. Other nodes' writes are seen within the
//! time to live (`cache_ttl_ms`, default 1 s; 0 switches caching off).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

static GENERATION: AtomicU64 = AtomicU64::new(0);
static TTL_MS: AtomicU64 = AtomicU64::new(1000);

/// Entries beyond this are dropped wholesale, to bound memory.
const CAPACITY: usize = 50_000;

/// Sets the time to live of cached reads (0: no caching).
pub fn set_ttl(ms: u64) {
    TTL_MS.store(ms, Ordering::Relaxed);
}

/// Makes every cached read of this process stale (called on each committed write).
pub fn invalidate() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// The generation to stamp on a value about to be read from the database: read it before the
/// query, so that a write committed meanwhile makes the entry stale.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::SeqCst)
}

struct Entry<V> {
    value: V,
    generation: u64,
    stored: Instant,
}

pub struct Cache<K, V> {
    map: RwLock<HashMap<K, Entry<V>>>,
}

impl<K, V> Default for Cache<K, V> {
    fn default() -> Self {
        Cache {
            map: RwLock::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> Cache<K, V> {
    pub fn get(&self, key: &K) -> Option<V> {
        let ttl = TTL_MS.load(Ordering::Relaxed);
        if ttl == 0 {
            return None;
        }
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        let entry = map.get(key)?;
        let fresh =
            entry.generation == generation() && entry.stored.elapsed() < Duration::from_millis(ttl);
        fresh.then(|| entry.value.clone())
    }

    pub fn put(&self, key: K, value: V, generation_before_read: u64) {
        if TTL_MS.load(Ordering::Relaxed) == 0 || generation_before_read != generation() {
            return;
        }
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(
            key,
            Entry {
                value,
                generation: generation_before_read,
                stored: Instant::now(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_makes_entries_stale_and_a_read_begun_before_it_is_not_stored() {
        let c: Cache<u32, &str> = Cache::default();
        let g = generation();
        c.put(1, "a", g);
        assert_eq!(c.get(&1), Some("a"));
        invalidate();
        assert_eq!(c.get(&1), None);
        // A value read before the write must not be cached after it.
        c.put(2, "stale", g);
        assert_eq!(c.get(&2), None);
    }
}
