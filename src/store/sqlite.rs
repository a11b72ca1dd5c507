//! The embedded default: a SQLite file in WAL mode. Writers are serialized by `BEGIN IMMEDIATE`
//! (a plain `BEGIN` would fail the second writer at once with "database is locked"), which also
//! makes every check inside a write transaction race-free.
//!
//! The SQL is shared with PostgreSQL: `sql/` is mounted here and compiled against the `engine`
//! module below (see `sql/mod.rs`).

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::store::read::Reader;
use crate::store::read::sqlite::SqliteReader;
use crate::store::{StoreError, StoreResult, map_sqlx};

pub use sql::SqlStore;

/// The SQLite migrations, embedded.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

// Mounted by both engine modules on purpose: one source, compiled once per engine.
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;

/// What SQLite does its own way; the shared SQL imports each of these by name.
mod engine {
    use sqlx::{Pool, Transaction};

    pub(super) type Db = sqlx::Sqlite;

    pub(super) const LOCK_ORG: &str = "SELECT 1 FROM organizations WHERE id = $1";
    pub(super) const LOCK_USER: &str = "SELECT is_service_account FROM users WHERE id = $1";
    pub(super) const LOCK_ORGS_OWNED_BY: &str = "SELECT o.id FROM organizations o \
         JOIN memberships m ON m.organization_id = o.id \
         WHERE m.user_id = $1 AND m.role = 'owner' ORDER BY o.id";
    pub(super) const LOCK_LICENSE: &str = "SELECT id FROM licenses WHERE id = $1";
    pub(super) const LOCK_INVITATION: &str = "SELECT id, organization_id, email, role, status, \
         expires_at FROM invitations WHERE token_hash = $1";

    /// A single node: nothing to publish.
    pub(super) const NOTIFY: Option<&str> = None;

    /// Takes the database's write lock at once (callers hold the node's writer lock already).
    pub(super) async fn begin_write(
        pool: &Pool<Db>,
    ) -> Result<Transaction<'static, Db>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// No writing `WITH`: the audit entry and its webhook match are two statements (in-process).
    pub(super) const WRITING_WITH: bool = false;

    /// The current time in milliseconds since the epoch, in SQL.
    macro_rules! now_ms {
        () => {
            "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
        };
    }
    pub(super) use now_ms;

    /// One writer at a time: a claim cannot meet another.
    macro_rules! skip_locked {
        () => {
            ""
        };
    }
    pub(super) use skip_locked;

    /// After `ANALYZE`, SQLite's STAT4 samples make it re-plan a statement whenever an indexed
    /// parameter is re-bound, which every execution does; the per-index summary (`sqlite_stat1`)
    /// alone plans as well for orgd's queries.
    pub(super) const AFTER_ANALYZE: &[&str] =
        &["DELETE FROM sqlite_stat4", "ANALYZE sqlite_schema"];
}

impl SqlStore {
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Invalid(format!("bad SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        if let Some(dir) = options.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        // An embedded file's connection cannot go stale, so the ping on every checkout (a round
        // trip to the connection's worker thread) buys nothing.
        let pool = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(max_connections.max(2))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await
            .map_err(map_sqlx)?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migrations failed: {e}")))?;
        // One read connection per runtime worker thread (see `store::read`); an in-memory
        // database is private to its connection and reads through the pool.
        let file = options.get_filename();
        let reader = if file.as_os_str() == ":memory:" || url.contains("mode=memory") {
            None
        } else {
            let n = std::thread::available_parallelism().map_or(2, |n| n.get()) + 1;
            Some(Reader::Sqlite(SqliteReader::open(file, n)?))
        };
        Ok(SqlStore {
            pool,
            caches: sql::Caches::default(),
            licensing: Default::default(),
            writer: Some(Default::default()),
            reader,
            listener: None,
        })
    }
}
