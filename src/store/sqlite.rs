//! The embedded default: a SQLite file in WAL mode. Writers are serialized by `BEGIN IMMEDIATE`
//! (a plain `BEGIN` would fail the second writer at once with "database is locked"), which also
//! makes every check inside a write transaction race-free.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

type Db = sqlx::Sqlite;

const LOCK_ORG: &str = "SELECT 1 FROM organizations WHERE id = $1";
const LOCK_USER: &str = "SELECT is_service_account FROM users WHERE id = $1";
const LOCK_ORGS_OWNED_BY: &str = "SELECT o.id FROM organizations o \
     JOIN memberships m ON m.organization_id = o.id \
     WHERE m.user_id = $1 AND m.role = 'owner' ORDER BY o.id";

/// A single node: nothing to publish.
const NOTIFY: Option<&str> = None;

async fn begin_write(store: &SqlStore) -> crate::store::StoreResult<Tx> {
    let writer = store.writer.clone().lock_owned().await;
    let inner = store
        .pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(crate::store::map_sqlx)?;
    Ok(Tx {
        touched: Vec::new(),
        inner,
        _writer: Some(writer),
    })
}

const LOCK_INVITATION: &str = "SELECT id, organization_id, email, role, status, expires_at \
     FROM invitations WHERE token_hash = $1";

/// The current time in milliseconds since the epoch, in SQL.
macro_rules! now_ms {
    () => {
        "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
    };
}

/// After `ANALYZE`, SQLite's STAT4 samples make it re-plan a statement whenever an indexed
/// parameter is re-bound, which every execution does; the per-index summary (`sqlite_stat1`)
/// alone plans as well for orgd's queries.
const AFTER_ANALYZE: &[&str] = &["DELETE FROM sqlite_stat4", "ANALYZE sqlite_schema"];

include!("engine.rs");
include!("resources.rs");
include!("bulk.rs");

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
            .connect_with(options)
            .await
            .map_err(map_sqlx)?;
        sqlx::migrate!("migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migrations failed: {e}")))?;
        Ok(SqlStore {
            pool,
            caches: Caches::default(),
            writer: Default::default(),
            listener: None,
        })
    }
}
