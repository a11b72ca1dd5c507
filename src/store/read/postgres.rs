//! PostgreSQL's read path: a few tokio-postgres clients shared by every request, each statement
//! prepared once per client. A client sends the queries of concurrent requests down its one
//! connection without waiting for each answer (pipelining), so a read never waits for a
//! connection to be checked out and returned, which is most of what a pooled read costs at 64
//! concurrent requests (`docs/performance.md`, driver comparison).
//!
//! It speaks plain TCP or a Unix socket only. When the URL asks for TLS (`sslmode=require` and
//! stricter), or leaves it to the default (`prefer`) towards a host that is not this machine,
//! there is no fast read path and reads go through the sqlx pool, which speaks TLS.
//!
//! A client whose connection was lost (the server restarted) is replaced on its next use; the
//! read that found it lost gets `503`, as a pooled read would.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Config, NoTls, Row, Statement};
use uuid::Uuid;

use super::{Arg, Columns, DecodeError, ReadRow};
use crate::store::{StoreError, StoreResult};

pub struct PgReader {
    config: Config,
    slots: Box<[Mutex<Option<Arc<PgConn>>>]>,
    next: AtomicUsize,
}

struct PgConn {
    client: Client,
    statements: Mutex<HashMap<String, Statement>>,
}

impl PgReader {
    /// `n` clients for `url`, or `None` when the URL needs TLS (see the module's note) or is
    /// not one tokio-postgres reads.
    pub async fn connect(url: &str, n: usize) -> StoreResult<Option<PgReader>> {
        let Ok(mut config) = url.parse::<Config>() else {
            return Ok(None);
        };
        if !plain_is_fine(&config) {
            return Ok(None);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        let reader = PgReader {
            config,
            slots: (0..n.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        };
        // One client now, so that a server orgd cannot read from fails the start.
        let first = reader.open().await?;
        *lock(&reader.slots[0]) = Some(first);
        Ok(Some(reader))
    }

    async fn open(&self) -> StoreResult<Arc<PgConn>> {
        let (client, connection) = self.config.connect(NoTls).await.map_err(map_pg)?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "a read connection to PostgreSQL ended");
            }
        });
        Ok(Arc::new(PgConn {
            client,
            statements: Mutex::new(HashMap::new()),
        }))
    }

    /// The next client in turn, replaced first if its connection was lost.
    async fn conn(&self) -> StoreResult<Arc<PgConn>> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        if let Some(conn) = lock(&self.slots[i]).as_ref()
            && !conn.client.is_closed()
        {
            return Ok(conn.clone());
        }
        let fresh = self.open().await?;
        *lock(&self.slots[i]) = Some(fresh.clone());
        Ok(fresh)
    }

    async fn query(&self, sql: &str, args: &[Arg]) -> StoreResult<Vec<Row>> {
        let conn = self.conn().await?;
        let cached = lock(&conn.statements).get(sql).cloned();
        let statement = match cached {
            Some(s) => s,
            None => {
                let s = conn.client.prepare(sql).await.map_err(map_pg)?;
                lock(&conn.statements).insert(sql.to_string(), s.clone());
                s
            }
        };
        let params: Vec<&(dyn ToSql + Sync)> =
            args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
        conn.client.query(&statement, &params).await.map_err(map_pg)
    }

    /// The first row of `sql` with `args`, or `None`.
    pub async fn row<T: ReadRow>(&self, sql: &str, args: &[Arg]) -> StoreResult<Option<T>> {
        let rows = self.query(sql, args).await?;
        Ok(rows.first().map(T::read).transpose()?)
    }

    /// Every row of `sql` with `args`.
    pub async fn rows<T: ReadRow>(&self, sql: &str, args: &[Arg]) -> StoreResult<Vec<T>> {
        let rows = self.query(sql, args).await?;
        Ok(rows.iter().map(T::read).collect::<Result<_, _>>()?)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing panics while holding these locks; a poisoned one holds a consistent value still.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Plain TCP is used only where sqlx would not have used TLS either: `sslmode=disable`, or the
/// default `prefer` towards this machine (a loopback address or a Unix socket).
fn plain_is_fine(config: &Config) -> bool {
    match config.get_ssl_mode() {
        SslMode::Disable => true,
        SslMode::Prefer => config.get_hosts().iter().all(|h| match h {
            Host::Unix(_) => true,
            Host::Tcp(name) => {
                name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
            }
        }),
        _ => false,
    }
}

/// The same classes as `map_sqlx`: a lost or refused connection is unavailable (503), a
/// deadlock or serialization failure a conflict (409), anything else internal.
fn map_pg(e: tokio_postgres::Error) -> StoreError {
    let Some(code) = e.code().map(|c| c.code().to_string()) else {
        return StoreError::Unavailable(e.to_string());
    };
    if code == "40P01" || code == "40001" {
        return StoreError::Conflict(
            "a concurrent change interfered with this request; retry it".into(),
        );
    }
    if code.starts_with("08") || code.starts_with("57P") || code == "53300" {
        return StoreError::Unavailable(e.to_string());
    }
    StoreError::Internal(e.to_string())
}

impl ToSql for Arg {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Arg::Uuid(u) => u.to_sql(ty, out),
            Arg::Int(i) => i.to_sql(ty, out),
            Arg::Text(s) => s.to_sql(ty, out),
            Arg::Bytes(b) => b.to_sql(ty, out),
        }
    }

    /// Each value is checked by its own type's encoder when the statement is prepared and bound.
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn decode(col: &str, e: impl std::fmt::Display) -> DecodeError {
    DecodeError(format!("{col}: {e}"))
}

impl Columns for Row {
    fn uuid(&self, col: &str) -> Result<Uuid, DecodeError> {
        self.try_get(col).map_err(|e| decode(col, e))
    }
    fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>, DecodeError> {
        self.try_get(col).map_err(|e| decode(col, e))
    }
    fn int(&self, col: &str) -> Result<i64, DecodeError> {
        self.try_get(col).map_err(|e| decode(col, e))
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>, DecodeError> {
        self.try_get(col).map_err(|e| decode(col, e))
    }
    fn boolean(&self, col: &str) -> Result<bool, DecodeError> {
        self.try_get(col).map_err(|e| decode(col, e))
    }
    fn text(&self, col: &str) -> Result<String, DecodeError> {
        self.try_get(col).map_err(|e| decode(col, e))
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>, DecodeError> {
        self.try_get(col).map_err(|e| decode(col, e))
    }
    fn json<T: serde::de::DeserializeOwned>(&self, col: &str) -> Result<T, DecodeError> {
        let value: serde_json::Value = self.try_get(col).map_err(|e| decode(col, e))?;
        serde_json::from_value(value).map_err(|e| decode(col, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(url: &str) -> bool {
        plain_is_fine(&url.parse::<Config>().unwrap())
    }

    #[test]
    fn plain_tcp_only_where_sqlx_would_not_use_tls_either() {
        assert!(plain("postgres://u@127.0.0.1:5432/db"));
        assert!(plain("postgres://u@localhost/db"));
        assert!(plain("postgres://u@[::1]:5432/db"));
        assert!(plain("postgres://u@db.internal/db?sslmode=disable"));
        assert!(plain("postgresql://u@%2Fvar%2Frun%2Fpostgresql/db"));
        assert!(!plain("postgres://u@db.internal/db"));
        assert!(!plain("postgres://u@10.0.0.5/db?sslmode=prefer"));
        assert!(!plain("postgres://u@127.0.0.1/db?sslmode=require"));
    }
}
