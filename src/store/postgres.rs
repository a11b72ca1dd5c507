//! PostgreSQL, for several stateless orgd nodes over one database. Every transaction that can
//! change an organization's owners first locks the organization row (`FOR UPDATE`): under READ
//! COMMITTED a plain check-then-act can leave an organization without an owner.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;

type Db = sqlx::Postgres;

const LOCK_ORG: &str = "SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE";
const LOCK_USER: &str = "SELECT is_service_account FROM users WHERE id = $1 FOR UPDATE";
const LOCK_ORGS_OWNED_BY: &str = "SELECT o.id FROM organizations o \
     JOIN memberships m ON m.organization_id = o.id \
     WHERE m.user_id = $1 AND m.role = 'owner' ORDER BY o.id FOR UPDATE OF o";

/// Cache invalidations for the other nodes, sent in the changing transaction (delivered on
/// commit; see `store::cache`).
const NOTIFY: Option<&str> = Some("SELECT pg_notify('orgd_cache', $1)");
const CHANNEL: &str = "orgd_cache";

async fn begin_write(store: &SqlStore) -> crate::store::StoreResult<Tx> {
    let inner = store.pool.begin().await.map_err(crate::store::map_sqlx)?;
    Ok(Tx {
        touched: Vec::new(),
        inner,
        _writer: None,
    })
}

const LOCK_INVITATION: &str = "SELECT id, organization_id, email, role, status, expires_at \
     FROM invitations WHERE token_hash = $1 FOR UPDATE";

/// The current time in milliseconds since the epoch, in SQL.
macro_rules! now_ms {
    () => {
        "(extract(epoch from clock_timestamp()) * 1000)::bigint"
    };
}

const AFTER_ANALYZE: &[&str] = &[];

include!("engine.rs");
include!("resources.rs");
include!("bulk.rs");

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
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(map_sqlx)?;
        sqlx::migrate!("migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migrations failed: {e}")))?;
        let listener = Some(ListenerTask(tokio::spawn(listen(pool.clone()))));
        Ok(SqlStore {
            pool,
            caches: Caches::default(),
            writer: Default::default(),
            listener,
        })
    }
}
