//! The read path: the point reads every request makes (authentication, the organization with the
//! caller's membership, a member) and the pages of a list, on connections of a driver chosen by
//! measurement (`docs/performance.md`, driver comparison), beside the sqlx pool that keeps every
//! write.
//!
//! - SQLite (`sqlite.rs`): a few read-only rusqlite connections used inline on the calling
//!   thread, statements prepared once. sqlx runs each SQLite connection on a worker thread and
//!   hands every statement and every row to it through channels: two thread switches per
//!   statement, one per row, several times the lookup itself.
//! - PostgreSQL (`postgres.rs`): a few tokio-postgres clients shared by all requests, statements
//!   prepared once per client; concurrent requests' queries are pipelined on one connection
//!   instead of each request checking a connection out of a pool.
//!
//! A row type reads itself once from `Columns`, whichever driver produced the row.

use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::domain::Timestamp;
use crate::store::{StoreResult, User};

pub mod postgres;
pub mod sqlite;

/// The fast read path of a store, when it has one.
pub enum Reader {
    Sqlite(sqlite::SqliteReader),
    Postgres(Box<postgres::PgReader>),
}

impl Reader {
    /// The first row of `sql` with `args` for `$1`, `$2`, …, or `None`.
    pub async fn row<T: ReadRow>(&self, sql: &str, args: &[Arg]) -> StoreResult<Option<T>> {
        match self {
            Reader::Sqlite(r) => r.row(sql, args),
            Reader::Postgres(r) => r.row(sql, args).await,
        }
    }

    /// Every row of `sql` with `args`.
    pub async fn rows<T: ReadRow>(&self, sql: &str, args: &[Arg]) -> StoreResult<Vec<T>> {
        match self {
            Reader::Sqlite(r) => r.rows(sql, args),
            Reader::Postgres(r) => r.rows(sql, args).await,
        }
    }
}

/// A statement parameter, bound by both drivers the way sqlx binds it.
#[derive(Debug, Clone)]
pub enum Arg {
    Uuid(Uuid),
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

impl From<Uuid> for Arg {
    fn from(u: Uuid) -> Self {
        Arg::Uuid(u)
    }
}
impl From<i64> for Arg {
    fn from(i: i64) -> Self {
        Arg::Int(i)
    }
}
impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(s)
    }
}
impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(s.into())
    }
}
impl From<&[u8]> for Arg {
    fn from(b: &[u8]) -> Self {
        Arg::Bytes(b.to_vec())
    }
}

/// A column could not be read as the type the code expects: a schema mismatch, never a client's
/// doing.
#[derive(Debug)]
pub struct DecodeError(pub String);

impl From<DecodeError> for crate::store::StoreError {
    fn from(e: DecodeError) -> Self {
        crate::store::StoreError::Internal(format!("cannot read a column: {}", e.0))
    }
}

/// Typed access to a row's columns by name, over the types sqlx writes: UUIDs (16-byte blobs in
/// SQLite), integer milliseconds, booleans, text, JSON.
pub trait Columns {
    fn uuid(&self, col: &str) -> Result<Uuid, DecodeError>;
    fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>, DecodeError>;
    fn int(&self, col: &str) -> Result<i64, DecodeError>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>, DecodeError>;
    fn boolean(&self, col: &str) -> Result<bool, DecodeError>;
    fn text(&self, col: &str) -> Result<String, DecodeError>;
    fn opt_text(&self, col: &str) -> Result<Option<String>, DecodeError>;
    fn json<T: DeserializeOwned>(&self, col: &str) -> Result<T, DecodeError>;

    fn ts(&self, col: &str) -> Result<Timestamp, DecodeError> {
        self.int(col).map(Timestamp)
    }
    fn opt_ts(&self, col: &str) -> Result<Option<Timestamp>, DecodeError> {
        Ok(self.opt_int(col)?.map(Timestamp))
    }
}

/// A row type the read path can return.
pub trait ReadRow: Sized {
    fn read(r: &impl Columns) -> Result<Self, DecodeError>;
}

impl ReadRow for User {
    /// The columns of `user_columns!()`.
    fn read(r: &impl Columns) -> Result<User, DecodeError> {
        Ok(User {
            id: r.uuid("id")?,
            username: r.text("username")?,
            email: r.text("email")?,
            email_verified: r.boolean("email_verified")?,
            name: r.opt_text("name")?,
            avatar_url: r.opt_text("avatar_url")?,
            company: r.opt_text("company")?,
            job_title: r.opt_text("job_title")?,
            metadata: r.json("metadata")?,
            is_active: r.boolean("is_active")?,
            is_superuser: r.boolean("is_superuser")?,
            is_service_account: r.boolean("is_service_account")?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }
}
