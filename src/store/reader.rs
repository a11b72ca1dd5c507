//! SQLite's read path: a few read-only connections of rusqlite, each used inline on the thread
//! that asks, with its statements prepared once and kept.
//!
//! sqlx runs every SQLite connection on a worker thread of its own and hands each statement and
//! each row to it and back through channels; with one core that is two thread switches per
//! statement plus one per row, several times what the lookup itself costs
//! (`docs/performance.md`, driver comparison). The point reads every request makes
//! (authentication, the organization and the caller's membership, a member) and the pages of a
//! list therefore run here, as a plain function call. In WAL mode a reader never waits for the
//! writer and sees every transaction committed before its statement began, so a read that follows
//! a write (through sqlx, which keeps all writes) sees it.
//!
//! A read holds a connection for one statement and never awaits while it does, so a runtime
//! worker thread holds at most one: one connection per worker thread (plus one) means a read
//! waits for another only when a blocking thread reads too.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Params, Row};
use uuid::Uuid;

use crate::domain::Timestamp;
use crate::store::{StoreError, StoreResult, User};

pub struct Reader {
    conns: Box<[Mutex<Connection>]>,
    next: AtomicUsize,
}

impl Reader {
    /// Opens `n` read-only connections to the database file at `path` (which the writer has
    /// created and migrated already).
    pub fn open(path: &Path, n: usize) -> StoreResult<Reader> {
        let conns = (0..n.max(1))
            .map(|_| {
                let conn = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(Duration::from_secs(10))?;
                conn.set_prepared_statement_cache_capacity(64);
                Ok(Mutex::new(conn))
            })
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(map_rusqlite)?;
        Ok(Reader {
            conns: conns.into_boxed_slice(),
            next: AtomicUsize::new(0),
        })
    }

    /// Runs `f` on a free connection, or waits for one.
    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let n = self.conns.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        for i in 0..n {
            if let Ok(conn) = self.conns[(start + i) % n].try_lock() {
                return f(&conn).map_err(map_rusqlite);
            }
        }
        let conn = self.conns[start]
            .lock()
            .map_err(|_| StoreError::Internal("a read connection was poisoned".into()))?;
        f(&conn).map_err(map_rusqlite)
    }

    /// The first row of `sql`, mapped by `f`, or `None`.
    pub fn row<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> StoreResult<Option<T>> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(sql)?;
            debug_assert!(numbered_in_order(&stmt), "{sql}");
            let mut rows = stmt.query(params)?;
            match rows.next()? {
                Some(row) => f(row).map(Some),
                None => Ok(None),
            }
        })
    }

    /// Every row of `sql`, mapped by `f`. Dynamic SQL (filters) is prepared once per shape.
    pub fn rows<T>(
        &self,
        sql: &str,
        params: impl Params,
        mut f: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> StoreResult<Vec<T>> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(sql)?;
            debug_assert!(numbered_in_order(&stmt), "{sql}");
            let mut rows = stmt.query(params)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(f(row)?);
            }
            Ok(out)
        })
    }
}

/// The shared SQL numbers its parameters `$1`, `$2`, … and they are bound by position here;
/// SQLite numbers them in order of first appearance, so the two agree only when `$n` first
/// appears n-th.
fn numbered_in_order(stmt: &rusqlite::Statement<'_>) -> bool {
    (1..=stmt.parameter_count()).all(|i| {
        stmt.parameter_name(i)
            .is_none_or(|name| name == format!("${i}"))
    })
}

/// The same classes as `map_sqlx`: a busy, locked, read-only, full or unreadable database is
/// unavailable (503), anything else internal.
fn map_rusqlite(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::*;
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                DatabaseBusy
                    | DatabaseLocked
                    | ReadOnly
                    | SystemIoFailure
                    | DiskFull
                    | CannotOpen
                    | DatabaseCorrupt
                    | NotADatabase
            ) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Internal(e.to_string()),
    }
}

/// Column decoding for the types sqlx writes: UUIDs as 16-byte blobs, timestamps as integer
/// milliseconds, booleans as integers, JSON as text.
pub trait Columns {
    fn uuid(&self, col: &str) -> rusqlite::Result<Uuid>;
    fn opt_uuid(&self, col: &str) -> rusqlite::Result<Option<Uuid>>;
    fn ts(&self, col: &str) -> rusqlite::Result<Timestamp>;
    fn opt_ts(&self, col: &str) -> rusqlite::Result<Option<Timestamp>>;
    fn json<T: serde::de::DeserializeOwned>(&self, col: &str) -> rusqlite::Result<T>;
}

impl Columns for Row<'_> {
    fn uuid(&self, col: &str) -> rusqlite::Result<Uuid> {
        self.get(col)
    }
    fn opt_uuid(&self, col: &str) -> rusqlite::Result<Option<Uuid>> {
        self.get(col)
    }
    fn ts(&self, col: &str) -> rusqlite::Result<Timestamp> {
        self.get(col).map(Timestamp)
    }
    fn opt_ts(&self, col: &str) -> rusqlite::Result<Option<Timestamp>> {
        Ok(self.get::<_, Option<i64>>(col)?.map(Timestamp))
    }
    fn json<T: serde::de::DeserializeOwned>(&self, col: &str) -> rusqlite::Result<T> {
        let idx = self.as_ref().column_index(col)?;
        let bytes = match self.get_ref(idx)? {
            rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => b,
            other => {
                return Err(rusqlite::Error::InvalidColumnType(
                    idx,
                    col.into(),
                    other.data_type(),
                ));
            }
        };
        serde_json::from_slice(bytes).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
        })
    }
}

impl User {
    /// A user from the columns of `user_columns!()`.
    pub(crate) fn from_sqlite(r: &Row<'_>) -> rusqlite::Result<User> {
        Ok(User {
            id: r.uuid("id")?,
            username: r.get("username")?,
            email: r.get("email")?,
            name: r.get("name")?,
            avatar_url: r.get("avatar_url")?,
            company: r.get("company")?,
            job_title: r.get("job_title")?,
            metadata: r.json("metadata")?,
            is_active: r.get("is_active")?,
            is_superuser: r.get("is_superuser")?,
            is_service_account: r.get("is_service_account")?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }
}
