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

async fn begin_write(store: &SqlStore) -> crate::store::StoreResult<Tx> {
    let inner = store.pool.begin().await.map_err(crate::store::map_sqlx)?;
    Ok(Tx {
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
        Ok(SqlStore {
            pool,
            caches: Caches::default(),
            writer: Default::default(),
        })
    }
}
