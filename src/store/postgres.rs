//! PostgreSQL, for several stateless orgd nodes over one database. Every transaction that can
//! change an organization's owners first locks the organization row (`FOR UPDATE`): under READ
//! COMMITTED a plain check-then-act can leave an organization without an owner.
//!
//! The SQL is shared with SQLite: `sql/` is mounted here and compiled against the `engine`
//! module below (see `sql/mod.rs`).

use std::time::Duration;

use sqlx::Pool;
use sqlx::postgres::PgPoolOptions;

use crate::store::read::Reader;
use crate::store::read::postgres::PgReader;
use crate::store::{StoreError, StoreResult, map_sqlx};

/// Clients of the PostgreSQL read path.
const READ_CLIENTS: usize = 4;

use engine::{CHANNEL, Db};
pub use sql::SqlStore;

// Mounted by both engine modules on purpose: one source, compiled once per engine.
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;

/// What PostgreSQL does its own way; the shared SQL imports each of these by name.
mod engine {
    use sqlx::{Pool, Transaction};

    pub(super) type Db = sqlx::Postgres;

    pub(super) const LOCK_ORG: &str = "SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE";
    pub(super) const LOCK_USER: &str =
        "SELECT is_service_account FROM users WHERE id = $1 FOR UPDATE";
    pub(super) const LOCK_ORGS_OWNED_BY: &str = "SELECT o.id FROM organizations o \
         JOIN memberships m ON m.organization_id = o.id \
         WHERE m.user_id = $1 AND m.role = 'owner' ORDER BY o.id FOR UPDATE OF o";
    pub(super) const LOCK_LICENSE: &str = "SELECT id FROM licenses WHERE id = $1 FOR UPDATE";
    pub(super) const LOCK_INVITATION: &str = "SELECT id, organization_id, email, role, status, \
         expires_at FROM invitations WHERE token_hash = $1 FOR UPDATE";

    /// Cache invalidations for the other nodes, sent in the changing transaction (delivered on
    /// commit; see `store::cache`).
    pub(super) const NOTIFY: Option<&str> = Some("SELECT pg_notify('orgd_cache', $1)");
    pub(super) const CHANNEL: &str = "orgd_cache";

    /// Row locks, taken by the statements above, order the writers: no writer queue.
    pub(super) async fn begin_write(
        pool: &Pool<Db>,
    ) -> Result<Transaction<'static, Db>, sqlx::Error> {
        pool.begin().await
    }

    /// A `WITH` may write: the audit entry and its webhook match go in one statement.
    pub(super) const WRITING_WITH: bool = true;

    /// The current time in milliseconds since the epoch, in SQL.
    macro_rules! now_ms {
        () => {
            "(extract(epoch from clock_timestamp()) * 1000)::bigint"
        };
    }
    pub(super) use now_ms;

    /// Due webhook deliveries another node is claiming right now are skipped, not waited for.
    macro_rules! skip_locked {
        () => {
            " FOR UPDATE OF d SKIP LOCKED"
        };
    }
    pub(super) use skip_locked;

    pub(super) const AFTER_ANALYZE: &[&str] = &[];
}

/// Hears the other nodes' cache invalidations for as long as the store lives; see
/// `store::cache`. A lost connection makes this node's caches deaf (nothing served) until it
/// listens again.
async fn listen(pool: Pool<Db>) {
    let mut hearing = crate::store::cache::Hearing::new();
    let mut backoff = Duration::from_millis(50);
    loop {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if let Err(e) = listener.listen(CHANNEL).await {
                    tracing::warn!(error = %e, "cannot listen for cache invalidations");
                } else {
                    hearing.heard();
                    backoff = Duration::from_millis(50);
                    while let Ok(Some(n)) = listener.try_recv().await {
                        crate::store::cache::apply(n.payload());
                    }
                    tracing::warn!("lost the connection that hears cache invalidations");
                    hearing.lost();
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot connect to hear cache invalidations");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

impl SqlStore {
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        // A ping on every checkout costs a round trip per statement; a connection that sat idle
        // long enough to have been cut (a restarted server, a proxy's idle timeout) is still
        // checked before use, and one that fails later is dropped by the pool.
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= Duration::from_secs(10) {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(map_sqlx)?;
        sqlx::migrate!("migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migrations failed: {e}")))?;
        // The read path's clients (see `store::read`): few, since each pipelines the queries of
        // many requests.
        let reader = PgReader::connect(url, READ_CLIENTS)
            .await?
            .map(|r| Reader::Postgres(Box::new(r)));
        if reader.is_none() {
            tracing::info!(
                "reads go through the connection pool: the URL asks for TLS, which only the pool speaks"
            );
        }
        let listener = Some(sql::ListenerTask(tokio::spawn(listen(pool.clone()))));
        Ok(SqlStore {
            pool,
            caches: sql::Caches::default(),
            licensing: Default::default(),
            writer: None,
            reader,
            listener,
        })
    }
}
