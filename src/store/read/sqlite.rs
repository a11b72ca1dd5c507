//! SQLite's read path: a few read-only rusqlite connections, each used inline on the thread that
//! asks, with its statements prepared once and kept. In WAL mode a reader never waits for the
//! writer and sees every transaction committed before its statement began, so a read that follows
//! a write (through sqlx, which keeps all writes) sees it.
//!
//! A read holds a connection for one statement and never awaits while it does, so a runtime
//! worker thread holds at most one: one connection per worker thread (plus one) means a read
//! waits for another only when a blocking thread reads too. Statements that may scan many rows
//! (text searches) are not sent here (`Select::scans`), so that no request holds up the others
//! on its thread for long.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, Row, ToSql};
use uuid::Uuid;

use super::{Arg, Columns, DecodeError, ReadRow};
use crate::store::{StoreError, StoreResult};

pub struct SqliteReader {
    conns: Box<[Mutex<Connection>]>,
    next: AtomicUsize,
}

impl SqliteReader {
    /// Opens `n` read-only connections to the database file at `path` (which the writer has
    /// created and migrated already).
    pub fn open(path: &Path, n: usize) -> StoreResult<SqliteReader> {
        let conns = (0..n.max(1))
            .map(|_| {
                let conn = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(Duration::from_secs(10))?;
                // Plans stay as prepared: without this, SQLite (built with STAT4) prepares a
                // statement again whenever a parameter compared to an indexed column is
                // re-bound, which is every run.
                conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
                conn.set_prepared_statement_cache_capacity(64);
                Ok(Mutex::new(conn))
            })
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(map_rusqlite)?;
        Ok(SqliteReader {
            conns: conns.into_boxed_slice(),
            next: AtomicUsize::new(0),
        })
    }

    /// Runs `f` on a free connection, or waits for one.
    fn with<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let n = self.conns.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        for i in 0..n {
            if let Ok(conn) = self.conns[(start + i) % n].try_lock() {
                return f(&conn);
            }
        }
        let conn = self.conns[start]
            .lock()
            .map_err(|_| StoreError::Internal("a read connection was poisoned".into()))?;
        f(&conn)
    }

    /// The first row of `sql` with `args`, or `None`.
    pub fn row<T: ReadRow>(&self, sql: &str, args: &[Arg]) -> StoreResult<Option<T>> {
        self.read(sql, args, Some(1))
            .map(|rows: Vec<T>| rows.into_iter().next())
    }

    /// Every row of `sql` with `args`.
    pub fn rows<T: ReadRow>(&self, sql: &str, args: &[Arg]) -> StoreResult<Vec<T>> {
        self.read(sql, args, None)
    }

    /// Up to `limit` rows of `sql` with `args` (all without one).
    fn read<T: ReadRow>(
        &self,
        sql: &str,
        args: &[Arg],
        limit: Option<usize>,
    ) -> StoreResult<Vec<T>> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(sql).map_err(map_rusqlite)?;
            debug_assert!(numbered_in_order(&stmt), "{sql}");
            let names = column_names(&stmt);
            let mut rows = stmt
                .query(rusqlite::params_from_iter(args))
                .map_err(map_rusqlite)?;
            let mut out = Vec::new();
            while limit.is_none_or(|n| out.len() < n)
                && let Some(row) = rows.next().map_err(map_rusqlite)?
            {
                out.push(T::read(&Named { row, names: &names })?);
            }
            Ok(out)
        })
    }
}

impl ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Arg::Uuid(u) => u.to_sql(),
            Arg::Int(i) => i.to_sql(),
            Arg::Text(s) => s.to_sql(),
            Arg::Bytes(b) => b.to_sql(),
        }
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

fn decode(col: &str, e: impl std::fmt::Display) -> DecodeError {
    DecodeError(format!("{col}: {e}"))
}

/// The statement's column names, read once per statement run: rusqlite looks a name up by asking
/// SQLite for every column's name again, for every column of every row.
fn column_names(stmt: &rusqlite::Statement<'_>) -> Vec<String> {
    stmt.column_names().into_iter().map(String::from).collect()
}

/// A row with its statement's column names.
struct Named<'a> {
    row: &'a Row<'a>,
    names: &'a [String],
}

impl Named<'_> {
    fn get<T: rusqlite::types::FromSql>(&self, col: &str) -> Result<T, DecodeError> {
        let idx = self.index(col)?;
        self.row.get(idx).map_err(|e| decode(col, e))
    }

    fn index(&self, col: &str) -> Result<usize, DecodeError> {
        self.names
            .iter()
            .position(|n| n == col)
            .ok_or_else(|| decode(col, "no such column"))
    }
}

impl Columns for Named<'_> {
    fn uuid(&self, col: &str) -> Result<Uuid, DecodeError> {
        self.get(col)
    }
    fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>, DecodeError> {
        self.get(col)
    }
    fn int(&self, col: &str) -> Result<i64, DecodeError> {
        self.get(col)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>, DecodeError> {
        self.get(col)
    }
    fn boolean(&self, col: &str) -> Result<bool, DecodeError> {
        self.get(col)
    }
    fn text(&self, col: &str) -> Result<String, DecodeError> {
        self.get(col)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>, DecodeError> {
        self.get(col)
    }
    /// sqlx writes JSON to SQLite as text.
    fn json<T: serde::de::DeserializeOwned>(&self, col: &str) -> Result<T, DecodeError> {
        let idx = self.index(col)?;
        match self.row.get_ref(idx).map_err(|e| decode(col, e))? {
            ValueRef::Text(b) | ValueRef::Blob(b) => {
                serde_json::from_slice(b).map_err(|e| decode(col, e))
            }
            other => Err(decode(col, format!("{:?} is not JSON", other.data_type()))),
        }
    }
}
