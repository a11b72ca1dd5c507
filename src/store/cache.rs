//! Read caches of one orgd node, in front of the hot queries (authentication, organization
//! access, organization and member reads), invalidated per key.
//!
//! Every cached value names the things it was read from as tags: an organization, a user, or
//! "every organization" (for a superuser's list). A committed write bumps the tags it touched,
//! here and, on PostgreSQL, on every other node (the store publishes them with `NOTIFY` in the
//! same transaction, and each node's listener bumps them when it hears them). A value is served
//! only while none of its tags was bumped since its read began, so a write on one organization
//! leaves every other organization's entries warm.
//!
//! Tags map onto a fixed table of sequence numbers (`SLOTS`): each bump records a new global
//! sequence number in its tag's slot. Two tags that share a slot only cost an extra miss, never a
//! stale read, and the table's memory is fixed. A read takes the global sequence number before
//! its query ([`begin`]); its value is stored only if no slot of its tags moved past that number
//! meanwhile, which keeps a read that began before a write from being cached after it.
//!
//! Entries live in bounded caches with real eviction (`quick_cache`), and expire after the time
//! to live (`cache_ttl_ms`, default 1 s; 0 switches caching off), a safety net only. While a node
//! cannot hear other nodes' changes (its listening connection is down) it serves nothing from
//! its caches and, once it hears again, starts from empty ones.

use std::hash::Hash;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use uuid::Uuid;

static TTL_MS: AtomicU64 = AtomicU64::new(1000);
/// The sequence number of the latest bump.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);
/// Bumped to drop every entry at once.
static EPOCH: AtomicU64 = AtomicU64::new(0);
/// Listeners of this process that are not hearing other nodes' changes right now; the caches
/// serve nothing while any is deaf.
static DEAF: AtomicUsize = AtomicUsize::new(0);

fn coherent() -> bool {
    DEAF.load(Ordering::SeqCst) == 0
}

const SLOTS: usize = 1 << 16;
static SLOT_SEQUENCE: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];

/// What a cached value was read from; what a write invalidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tag {
    /// An organization and everything under it (its members, counts, access rows).
    Org(Uuid),
    /// A user: their profile, tokens, and the list of their organizations.
    User(Uuid),
    /// Any organization at all (a superuser's list of every organization).
    AllOrgs,
    /// The installation's own settings that every organization reads (its registered
    /// application permissions).
    Installation,
}

impl Tag {
    fn slot(self) -> usize {
        let (kind, id) = match self {
            Tag::Org(id) => (1u64, id.as_u128()),
            Tag::User(id) => (2, id.as_u128()),
            Tag::AllOrgs => (3, 0),
            Tag::Installation => (4, 0),
        };
        // UUIDv7's low bits are random; mixing both halves spreads time-ordered ids too.
        let mixed = (id as u64) ^ ((id >> 64) as u64).rotate_left(29) ^ kind;
        let h = mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> 48) as usize & (SLOTS - 1)
    }

    /// The tag as published to other nodes: `o<id>`, `u<id>` or `a`.
    pub fn encode(self) -> String {
        match self {
            Tag::Org(id) => format!("o{}", id.simple()),
            Tag::User(id) => format!("u{}", id.simple()),
            Tag::AllOrgs => "a".into(),
            Tag::Installation => "i".into(),
        }
    }

    pub fn decode(s: &str) -> Option<Tag> {
        match s.split_at_checked(1)? {
            ("o", id) => Uuid::try_parse(id).ok().map(Tag::Org),
            ("u", id) => Uuid::try_parse(id).ok().map(Tag::User),
            ("a", "") => Some(Tag::AllOrgs),
            ("i", "") => Some(Tag::Installation),
            _ => None,
        }
    }
}

/// A message of tags as published to other nodes; `*` means "drop everything".
pub fn encode_all(tags: &[Tag]) -> String {
    // NOTIFY payloads are limited to 8000 bytes.
    if tags.len() > 200 {
        return "*".into();
    }
    let mut out = String::with_capacity(tags.len() * 34);
    for (i, t) in tags.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&t.encode());
    }
    out
}

/// Applies a message from another node (or this one).
pub fn apply(message: &str) {
    if message == "*" {
        bump_all();
        return;
    }
    let tags: Vec<Tag> = message.split(' ').filter_map(Tag::decode).collect();
    bump(&tags);
}

/// Sets the time to live of cached reads (0: no caching).
pub fn set_ttl(ms: u64) {
    TTL_MS.store(ms, Ordering::Relaxed);
}

/// Makes every cached value read from `tags` stale. Called after a write commits.
pub fn bump(tags: &[Tag]) {
    if tags.is_empty() {
        return;
    }
    let seq = SEQUENCE.fetch_add(1, Ordering::SeqCst) + 1;
    for t in tags {
        SLOT_SEQUENCE[t.slot()].fetch_max(seq, Ordering::SeqCst);
    }
}

/// Makes every cached value of this process stale.
pub fn bump_all() {
    EPOCH.fetch_add(1, Ordering::SeqCst);
}

/// The state of one listener for other nodes' changes. It starts deaf; while deaf, this
/// process's caches serve and store nothing; becoming deaf or hearing again drops every entry
/// (changes may have been missed in between).
pub struct Hearing {
    deaf: bool,
}

impl Hearing {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Hearing {
        DEAF.fetch_add(1, Ordering::SeqCst);
        bump_all();
        Hearing { deaf: true }
    }

    /// The listening connection is gone.
    pub fn lost(&mut self) {
        if !self.deaf {
            self.deaf = true;
            DEAF.fetch_add(1, Ordering::SeqCst);
            bump_all();
        }
    }

    /// Listening again (or for the first time).
    pub fn heard(&mut self) {
        if self.deaf {
            bump_all();
            self.deaf = false;
            DEAF.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Hearing {
    fn drop(&mut self) {
        if self.deaf {
            DEAF.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// When a read began, taken before its query.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    sequence: u64,
    epoch: u64,
}

/// Call before the query whose result will be cached.
pub fn begin() -> Stamp {
    Stamp {
        epoch: EPOCH.load(Ordering::SeqCst),
        sequence: SEQUENCE.load(Ordering::SeqCst),
    }
}

fn untouched_since(slots: &[u32], sequence: u64) -> bool {
    slots
        .iter()
        .all(|s| SLOT_SEQUENCE[*s as usize].load(Ordering::SeqCst) <= sequence)
}

#[derive(Clone)]
struct Entry<V> {
    value: V,
    stamp: Stamp,
    slots: Box<[u32]>,
    stored: Instant,
}

/// One bounded cache of values with their tags.
pub struct Cache<K, V> {
    entries: quick_cache::sync::Cache<K, Entry<V>>,
    hits: prometheus_client::metrics::counter::Counter,
    misses: prometheus_client::metrics::counter::Counter,
}

impl<K: Eq + Hash + Clone, V: Clone> Cache<K, V> {
    /// A cache of at most `capacity` entries (least recently and least frequently used go first).
    /// `name` labels its hits and misses in the metrics.
    pub fn new(name: &str, capacity: usize) -> Self {
        use crate::metrics::{METRICS, named};
        Cache {
            entries: quick_cache::sync::Cache::new(capacity.max(16)),
            hits: named(&METRICS.cache_hits, name),
            misses: named(&METRICS.cache_misses, name),
        }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let ttl = TTL_MS.load(Ordering::Relaxed);
        if ttl == 0 || !coherent() {
            self.misses.inc();
            return None;
        }
        let Some(entry) = self.entries.get(key) else {
            self.misses.inc();
            return None;
        };
        let fresh = entry.stamp.epoch == EPOCH.load(Ordering::SeqCst)
            && entry.stored.elapsed() < Duration::from_millis(ttl)
            && untouched_since(&entry.slots, entry.stamp.sequence);
        if !fresh {
            self.entries.remove(key);
            self.misses.inc();
            return None;
        }
        self.hits.inc();
        Some(entry.value)
    }

    /// Stores a value read from `tags` by a read that began at `stamp`, unless a write touched
    /// one of them since.
    pub fn put(&self, key: K, value: V, tags: &[Tag], stamp: Stamp) {
        if TTL_MS.load(Ordering::Relaxed) == 0 || !coherent() {
            return;
        }
        let slots: Box<[u32]> = tags.iter().map(|t| t.slot() as u32).collect();
        if stamp.epoch != EPOCH.load(Ordering::SeqCst) || !untouched_since(&slots, stamp.sequence) {
            return;
        }
        self.entries.insert(
            key,
            Entry {
                value,
                stamp,
                slots,
                stored: Instant::now(),
            },
        );
    }

    /// The number of entries held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> Uuid {
        Uuid::now_v7()
    }

    #[test]
    fn a_write_makes_only_what_it_touched_stale() {
        let c: Cache<u32, &str> = Cache::new("test", 100);
        let (a, b) = (id(), id());
        let s = begin();
        c.put(1, "org a", &[Tag::Org(a)], s);
        c.put(2, "org b", &[Tag::Org(b)], s);
        assert_eq!(c.get(&1), Some("org a"));
        bump(&[Tag::Org(a)]);
        assert_eq!(c.get(&1), None);
        assert_eq!(c.get(&2), Some("org b"));
    }

    #[test]
    fn a_read_begun_before_a_write_is_not_stored_after_it() {
        let c: Cache<u32, &str> = Cache::new("test", 100);
        let a = id();
        let s = begin();
        bump(&[Tag::Org(a)]);
        c.put(1, "stale", &[Tag::Org(a)], s);
        assert_eq!(c.get(&1), None);
        // A read that began after the write is stored.
        c.put(1, "fresh", &[Tag::Org(a)], begin());
        assert_eq!(c.get(&1), Some("fresh"));
    }

    #[test]
    fn messages_from_other_nodes_round_trip() {
        let (a, u) = (id(), id());
        let tags = [Tag::Org(a), Tag::User(u), Tag::AllOrgs];
        let msg = encode_all(&tags);
        let back: Vec<Tag> = msg.split(' ').filter_map(Tag::decode).collect();
        assert_eq!(back, tags);
        let c: Cache<u32, &str> = Cache::new("test", 100);
        c.put(1, "x", &[Tag::User(u)], begin());
        apply(&msg);
        assert_eq!(c.get(&1), None);
        assert_eq!(encode_all(&vec![Tag::AllOrgs; 500]), "*");
        assert_eq!(Tag::decode("zzz"), None);
    }

    #[test]
    fn memory_is_bounded() {
        let c: Cache<u32, u32> = Cache::new("test", 1000);
        let s = begin();
        for i in 0..10_000 {
            c.put(i, i, &[Tag::Org(id())], s);
        }
        assert!(c.len() <= 1100, "{}", c.len());
    }
}
