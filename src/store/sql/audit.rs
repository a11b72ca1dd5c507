//! The audit log's rows: written by the committing transaction (`tx::commit`) or alone for a
//! refused attempt, read newest first with keyset paging, and deleted only by retention.

use sqlx::FromRow;
use sqlx::types::Json;
use uuid::Uuid;

use crate::audit::{Actor, ActorType, Entry, Outcome, Target};
use crate::domain::Timestamp;
use crate::store::{AuditFilter, StoreResult};

use super::tx::Tx;
use super::{SqlStore, err};

macro_rules! insert_entry {
    () => {
        "INSERT INTO audit_log (id, created_at, action, outcome, actor_type, \
         actor_id, token_id, organization_id, target_type, target_id, ip, user_agent, \
         request_id, changes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    };
}

const INSERT: &str = insert_entry!();

/// The entry and, in the same statement, the enabled webhook endpoints subscribed to it (its
/// organization's and the installation's): one round trip where the engine allows a writing
/// `WITH` (PostgreSQL).
const INSERT_MATCHING: &str = concat!(
    "WITH entry AS (",
    insert_entry!(),
    ") SELECT e.id FROM webhook_endpoints e \
     WHERE (e.organization_id IS NULL OR e.organization_id = $8) AND e.enabled = TRUE \
     AND EXISTS (SELECT 1 FROM webhook_subscriptions s WHERE s.endpoint_id = e.id \
     AND s.event_type IN ($3, '*'))"
);

/// Binds an entry's fields, in `insert_entry!`'s order, to a query of any kind.
macro_rules! bind_entry {
    ($q:expr, $e:expr) => {{
        let e: &Entry = $e;
        $q.bind(e.id)
            .bind(e.created_at)
            .bind(&e.action)
            .bind(match e.outcome {
                Outcome::Succeeded => "succeeded",
                Outcome::Refused => "refused",
            })
            .bind(e.actor.kind.as_str())
            .bind(e.actor.id)
            .bind(e.actor.token_id)
            .bind(e.organization_id)
            .bind(e.target.as_ref().map(|t| t.kind.as_str()))
            .bind(e.target.as_ref().map(|t| t.id.as_str()))
            .bind(e.ip.as_deref())
            .bind(e.user_agent.as_deref())
            .bind(e.request_id.as_deref())
            .bind(Json(&e.changes))
    }};
}

/// Writes `entry` in the transaction of the change it records.
pub(super) async fn insert(tx: &mut Tx, entry: &Entry) -> StoreResult<()> {
    bind_entry!(sqlx::query(INSERT), entry)
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    Ok(())
}

/// Writes `entry` in the transaction of the change it records, and answers the webhook
/// endpoints its event goes to (see `webhooks::enqueue`).
pub(super) async fn insert_matching(tx: &mut Tx, entry: &Entry) -> StoreResult<Vec<Uuid>> {
    if super::engine::WRITING_WITH {
        return bind_entry!(sqlx::query_scalar(INSERT_MATCHING), entry)
            .fetch_all(&mut **tx)
            .await
            .map_err(err);
    }
    insert(tx, entry).await?;
    super::webhooks::matching(tx, entry).await
}

/// Writes the entry of a refused attempt (no change goes with it).
pub(super) async fn record(store: &SqlStore, entry: Entry) -> StoreResult<()> {
    let mut tx = super::tx::begin_write(store).await?;
    insert(&mut tx, &entry).await?;
    super::tx::commit(tx).await
}

#[derive(FromRow)]
struct Row {
    id: Uuid,
    created_at: Timestamp,
    action: String,
    outcome: String,
    actor_type: String,
    actor_id: Option<Uuid>,
    token_id: Option<Uuid>,
    organization_id: Option<Uuid>,
    target_type: Option<String>,
    target_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
    #[sqlx(json)]
    changes: serde_json::Value,
}

impl From<Row> for Entry {
    fn from(r: Row) -> Entry {
        Entry {
            id: r.id,
            action: r.action,
            outcome: if r.outcome == "refused" {
                Outcome::Refused
            } else {
                Outcome::Succeeded
            },
            actor: Actor {
                kind: ActorType::parse(&r.actor_type),
                id: r.actor_id,
                token_id: r.token_id,
            },
            organization_id: r.organization_id,
            target: match (r.target_type, r.target_id) {
                (Some(kind), Some(id)) => Some(Target { kind, id }),
                _ => None,
            },
            ip: r.ip,
            user_agent: r.user_agent,
            request_id: r.request_id,
            changes: r.changes,
            created_at: r.created_at,
        }
    }
}

/// Entries matching `f`, newest first: at most `limit`, older than the cursor `before`.
pub(super) async fn list(
    store: &SqlStore,
    f: &AuditFilter,
    before: Option<Uuid>,
    limit: i64,
) -> StoreResult<Vec<Entry>> {
    let mut q = sqlx::QueryBuilder::<super::Db>::new(
        "SELECT id, created_at, action, outcome, actor_type, actor_id, token_id, \
         organization_id, target_type, target_id, ip, user_agent, request_id, changes \
         FROM audit_log WHERE 1 = 1",
    );
    if let Some(org) = f.organization_id {
        q.push(" AND organization_id = ").push_bind(org);
    }
    if let Some(a) = &f.action {
        q.push(" AND action = ").push_bind(a.clone());
    }
    if let Some(a) = f.actor_id {
        q.push(" AND actor_id = ").push_bind(a);
    }
    if let Some(t) = &f.target_type {
        q.push(" AND target_type = ").push_bind(t.clone());
    }
    if let Some(t) = &f.target_id {
        q.push(" AND target_id = ").push_bind(t.clone());
    }
    if let Some(t) = f.since {
        q.push(" AND created_at >= ").push_bind(t);
    }
    if let Some(t) = f.until {
        q.push(" AND created_at < ").push_bind(t);
    }
    if let Some(b) = before {
        q.push(" AND id < ").push_bind(b);
    }
    q.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
    let rows: Vec<Row> = q
        .build_query_as()
        .fetch_all(&store.pool)
        .await
        .map_err(err)?;
    Ok(rows.into_iter().map(Entry::from).collect())
}

/// Deletes up to `batch` entries created before `cutoff`; answers how many went.
pub(super) async fn purge(store: &SqlStore, cutoff: Timestamp, batch: i64) -> StoreResult<u64> {
    let mut tx = super::tx::begin_write(store).await?;
    // Ids are made from the entries' times (`audit::id_at`): the oldest first, by the primary key.
    let gone = sqlx::query(
        "DELETE FROM audit_log WHERE id IN \
         (SELECT id FROM audit_log WHERE id < $1 ORDER BY id LIMIT $2)",
    )
    .bind(crate::audit::first_id_at(cutoff))
    .bind(batch)
    .execute(&mut *tx)
    .await
    .map_err(err)?
    .rows_affected();
    super::tx::commit(tx).await?;
    Ok(gone)
}
