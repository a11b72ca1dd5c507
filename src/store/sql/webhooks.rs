//! Webhook endpoints, and the outbox of their deliveries: written by the transaction of each
//! change (`enqueue`, from `tx::commit`), claimed by the delivery workers of every node, and
//! read by the deliveries routes.

use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use crate::domain::Timestamp;
use crate::domain::paging::{Cursor, Page};
use crate::store::{
    DeliveryStatus, NewWebhook, StoreError, StoreResult, Webhook, WebhookDelivery, WebhookPatch,
};
use crate::webhooks::{Attempt, Claimed};

use super::engine::{Db, skip_locked};
use super::tx::{Tx, begin_write, commit, lock_org};
use super::{SqlStore, err};

/// Most endpoints one organization (or the installation) has.
pub const MAX_ENDPOINTS: i64 = 50;

const ENDPOINT_COLUMNS: &str = "id, organization_id, url, description, event_types, enabled, \
     disabled_reason, previous_secret_expires_at, last_success_at, created_at, updated_at";

const DELIVERY_COLUMNS: &str = "d.id, d.endpoint_id, d.event_id, d.event_type, d.status, \
     d.attempts, d.next_attempt_at, d.response_code, d.latency_ms, d.error, d.created_at, \
     d.updated_at";

#[derive(FromRow)]
struct EndpointRow {
    id: Uuid,
    organization_id: Option<Uuid>,
    url: String,
    description: Option<String>,
    event_types: String,
    enabled: bool,
    disabled_reason: Option<String>,
    previous_secret_expires_at: Option<Timestamp>,
    last_success_at: Option<Timestamp>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl EndpointRow {
    fn view(self, now: Timestamp) -> Webhook {
        Webhook {
            id: self.id,
            organization_id: self.organization_id,
            url: self.url,
            description: self.description,
            event_types: serde_json::from_str(&self.event_types).unwrap_or_default(),
            enabled: self.enabled,
            disabled_reason: self.disabled_reason,
            previous_secret_expires_at: self.previous_secret_expires_at.filter(|t| *t > now),
            last_success_at: self.last_success_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(FromRow)]
struct DeliveryRow {
    id: Uuid,
    endpoint_id: Uuid,
    event_id: Uuid,
    event_type: String,
    status: String,
    attempts: i32,
    next_attempt_at: Timestamp,
    response_code: Option<i32>,
    latency_ms: Option<i32>,
    error: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<DeliveryRow> for WebhookDelivery {
    fn from(r: DeliveryRow) -> Self {
        let status = DeliveryStatus::parse(&r.status);
        WebhookDelivery {
            id: r.id,
            webhook_id: r.endpoint_id,
            event_id: r.event_id,
            event_type: r.event_type,
            status,
            attempts: r.attempts,
            next_attempt_at: (status == DeliveryStatus::Pending).then_some(r.next_attempt_at),
            response_code: r.response_code,
            latency_ms: r.latency_ms,
            error: r.error,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// `AND organization_id …` for the endpoints of `scope`.
fn push_scope(q: &mut QueryBuilder<Db>, column: &str, scope: Option<Uuid>) {
    q.push(" AND ").push(column);
    match scope {
        Some(org) => {
            q.push(" = ").push_bind(org);
        }
        None => {
            q.push(" IS NULL");
        }
    }
}

/// Locks the organization of `scope` (the installation's endpoints need no lock: only
/// superusers change them, and each change is one row).
async fn lock_scope(tx: &mut Tx, scope: Option<Uuid>) -> StoreResult<()> {
    match scope {
        Some(org) => lock_org(tx, org).await,
        None => Ok(()),
    }
}

async fn endpoint_in(
    tx: &mut Tx,
    scope: Option<Uuid>,
    id: Uuid,
) -> StoreResult<Option<EndpointRow>> {
    let mut q = QueryBuilder::<Db>::new(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = "
    ));
    q.push_bind(id);
    push_scope(&mut q, "organization_id", scope);
    q.build_query_as()
        .fetch_optional(&mut **tx)
        .await
        .map_err(err)
}

async fn subscribe(tx: &mut Tx, id: Uuid, types: &[String]) -> StoreResult<()> {
    sqlx::query("DELETE FROM webhook_subscriptions WHERE endpoint_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    let mut q =
        QueryBuilder::<Db>::new("INSERT INTO webhook_subscriptions (endpoint_id, event_type) ");
    q.push_values(types, |mut row, t| {
        row.push_bind(id).push_bind(t.clone());
    });
    q.build().execute(&mut **tx).await.map_err(err)?;
    Ok(())
}

pub(super) async fn create(
    store: &SqlStore,
    scope: Option<Uuid>,
    new: NewWebhook,
) -> StoreResult<Webhook> {
    let mut tx = begin_write(store).await?;
    lock_scope(&mut tx, scope).await?;
    let mut count = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM webhook_endpoints WHERE 1 = 1");
    push_scope(&mut count, "organization_id", scope);
    let n: i64 = count
        .build_query_scalar()
        .fetch_one(&mut *tx)
        .await
        .map_err(err)?;
    if n >= MAX_ENDPOINTS {
        return Err(StoreError::Conflict(format!(
            "at most {MAX_ENDPOINTS} webhooks per organization (and for the installation); \
             delete one first"
        )));
    }
    let id = Uuid::now_v7();
    let now = Timestamp::now();
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, organization_id, url, description, event_types, \
         enabled, secret, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(id)
    .bind(scope)
    .bind(&new.url)
    .bind(&new.description)
    .bind(serde_json::to_string(&new.event_types).expect("strings serialize"))
    .bind(new.enabled)
    .bind(&new.secret)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    subscribe(&mut tx, id, &new.event_types).await?;
    crate::audit::target("webhook", id);
    crate::audit::change("url", &None::<String>, &new.url);
    crate::audit::change("event_types", &None::<String>, &new.event_types);
    crate::audit::change("enabled", &None::<bool>, &new.enabled);
    let row = endpoint_in(&mut tx, scope, id)
        .await?
        .ok_or(StoreError::NotFound("Webhook"))?;
    commit(tx).await?;
    Ok(row.view(now))
}

pub(super) async fn list(
    store: &SqlStore,
    scope: Option<Uuid>,
    page: &Page,
) -> StoreResult<Vec<Webhook>> {
    let mut q = QueryBuilder::<Db>::new(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE 1 = 1"
    ));
    push_scope(&mut q, "organization_id", scope);
    if let Some(Cursor::Id(after)) = page.after {
        q.push(" AND id > ").push_bind(after);
    }
    q.push(" ORDER BY id");
    super::push_page(&mut q, page);
    let rows: Vec<EndpointRow> = q
        .build_query_as()
        .fetch_all(&store.pool)
        .await
        .map_err(err)?;
    let now = Timestamp::now();
    Ok(rows.into_iter().map(|r| r.view(now)).collect())
}

pub(super) async fn get(
    store: &SqlStore,
    scope: Option<Uuid>,
    id: Uuid,
) -> StoreResult<Option<Webhook>> {
    let mut q = QueryBuilder::<Db>::new(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = "
    ));
    q.push_bind(id);
    push_scope(&mut q, "organization_id", scope);
    let row: Option<EndpointRow> = q
        .build_query_as()
        .fetch_optional(&store.pool)
        .await
        .map_err(err)?;
    Ok(row.map(|r| r.view(Timestamp::now())))
}

pub(super) async fn update(
    store: &SqlStore,
    scope: Option<Uuid>,
    id: Uuid,
    patch: WebhookPatch,
) -> StoreResult<Webhook> {
    let mut tx = begin_write(store).await?;
    lock_scope(&mut tx, scope).await?;
    let before = endpoint_in(&mut tx, scope, id)
        .await?
        .ok_or(StoreError::NotFound("Webhook"))?
        .view(Timestamp::now());
    let now = Timestamp::now();
    let url = patch.url.unwrap_or_else(|| before.url.clone());
    let description = patch
        .description
        .unwrap_or_else(|| before.description.clone());
    let types = patch
        .event_types
        .unwrap_or_else(|| before.event_types.clone());
    let enabled = patch.enabled.unwrap_or(before.enabled);
    // Enabling clears the reason orgd disabled it for; disabling by hand gives none.
    let reason = if enabled == before.enabled {
        before.disabled_reason.clone()
    } else {
        None
    };
    sqlx::query(
        "UPDATE webhook_endpoints SET url = $1, description = $2, event_types = $3, enabled = $4, \
         disabled_reason = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(&url)
    .bind(&description)
    .bind(serde_json::to_string(&types).expect("strings serialize"))
    .bind(enabled)
    .bind(&reason)
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    if types != before.event_types {
        subscribe(&mut tx, id, &types).await?;
    }
    crate::audit::change("url", &before.url, &url);
    crate::audit::change("description", &before.description, &description);
    crate::audit::change("event_types", &before.event_types, &types);
    crate::audit::change("enabled", &before.enabled, &enabled);
    let row = endpoint_in(&mut tx, scope, id)
        .await?
        .ok_or(StoreError::NotFound("Webhook"))?;
    commit(tx).await?;
    if enabled && !before.enabled {
        // Its pending deliveries are due again.
        crate::webhooks::wake();
    }
    Ok(row.view(now))
}

pub(super) async fn delete(store: &SqlStore, scope: Option<Uuid>, id: Uuid) -> StoreResult<()> {
    let mut tx = begin_write(store).await?;
    lock_scope(&mut tx, scope).await?;
    let mut q = QueryBuilder::<Db>::new("DELETE FROM webhook_endpoints WHERE id = ");
    q.push_bind(id);
    push_scope(&mut q, "organization_id", scope);
    if q.build()
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected()
        == 0
    {
        return Err(StoreError::NotFound("Webhook"));
    }
    commit(tx).await
}

pub(super) async fn rotate_secret(
    store: &SqlStore,
    scope: Option<Uuid>,
    id: Uuid,
    secret: String,
    overlap_until: Timestamp,
) -> StoreResult<Webhook> {
    let mut tx = begin_write(store).await?;
    lock_scope(&mut tx, scope).await?;
    endpoint_in(&mut tx, scope, id)
        .await?
        .ok_or(StoreError::NotFound("Webhook"))?;
    let now = Timestamp::now();
    sqlx::query(
        "UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_expires_at = $1, \
         secret = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(overlap_until)
    .bind(&secret)
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    crate::audit::change(
        "previous_secret_expires_at",
        &None::<String>,
        &overlap_until,
    );
    let row = endpoint_in(&mut tx, scope, id)
        .await?
        .ok_or(StoreError::NotFound("Webhook"))?;
    commit(tx).await?;
    Ok(row.view(now))
}

fn delivery_select(scope: Option<Uuid>, webhook: Uuid, extra: &str) -> QueryBuilder<Db> {
    let mut q = QueryBuilder::<Db>::new(format!(
        "SELECT {DELIVERY_COLUMNS}{extra} FROM webhook_deliveries d \
         JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.endpoint_id = "
    ));
    q.push_bind(webhook);
    push_scope(&mut q, "e.organization_id", scope);
    q
}

pub(super) async fn deliveries(
    store: &SqlStore,
    scope: Option<Uuid>,
    webhook: Uuid,
    status: Option<DeliveryStatus>,
    page: &Page,
) -> StoreResult<Vec<WebhookDelivery>> {
    let mut q = delivery_select(scope, webhook, "");
    if let Some(s) = status {
        q.push(" AND d.status = ").push_bind(s.as_str());
    }
    // Newest first: the cursor is the last delivery of the previous page.
    if let Some(Cursor::Id(after)) = page.after {
        q.push(" AND d.id < ").push_bind(after);
    }
    q.push(" ORDER BY d.id DESC");
    super::push_page(&mut q, page);
    let rows: Vec<DeliveryRow> = q
        .build_query_as()
        .fetch_all(&store.pool)
        .await
        .map_err(err)?;
    Ok(rows.into_iter().map(WebhookDelivery::from).collect())
}

pub(super) async fn delivery(
    store: &SqlStore,
    scope: Option<Uuid>,
    webhook: Uuid,
    id: Uuid,
) -> StoreResult<Option<(WebhookDelivery, String)>> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        delivery: DeliveryRow,
        payload: String,
    }
    let mut q = delivery_select(scope, webhook, ", d.payload");
    q.push(" AND d.id = ").push_bind(id);
    let row: Option<Row> = q
        .build_query_as()
        .fetch_optional(&store.pool)
        .await
        .map_err(err)?;
    Ok(row.map(|r| (r.delivery.into(), r.payload)))
}

async fn delivery_in(
    tx: &mut Tx,
    scope: Option<Uuid>,
    webhook: Uuid,
    id: Uuid,
) -> StoreResult<WebhookDelivery> {
    let mut q = delivery_select(scope, webhook, "");
    q.push(" AND d.id = ").push_bind(id);
    let row: Option<DeliveryRow> = q
        .build_query_as()
        .fetch_optional(&mut **tx)
        .await
        .map_err(err)?;
    row.map(WebhookDelivery::from)
        .ok_or(StoreError::NotFound("Delivery"))
}

/// The endpoint must exist in `scope` and be enabled.
async fn enabled_endpoint(tx: &mut Tx, scope: Option<Uuid>, id: Uuid) -> StoreResult<()> {
    let row = endpoint_in(tx, scope, id)
        .await?
        .ok_or(StoreError::NotFound("Webhook"))?;
    if !row.enabled {
        return Err(StoreError::Conflict(
            "the webhook is disabled; enable it first (PATCH {\"enabled\": true})".into(),
        ));
    }
    Ok(())
}

pub(super) async fn retry(
    store: &SqlStore,
    scope: Option<Uuid>,
    webhook: Uuid,
    id: Uuid,
) -> StoreResult<WebhookDelivery> {
    let mut tx = begin_write(store).await?;
    lock_scope(&mut tx, scope).await?;
    enabled_endpoint(&mut tx, scope, webhook).await?;
    let delivery = delivery_in(&mut tx, scope, webhook, id).await?;
    if delivery.status == DeliveryStatus::Pending {
        return Err(StoreError::Conflict(
            "the delivery is pending: its next attempt is already due".into(),
        ));
    }
    let now = Timestamp::now();
    sqlx::query(
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, \
         claimed_until = NULL, updated_at = $1 WHERE id = $2",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    crate::audit::target("webhook_delivery", id);
    crate::audit::change("status", &delivery.status, &DeliveryStatus::Pending);
    let delivery = delivery_in(&mut tx, scope, webhook, id).await?;
    commit(tx).await?;
    crate::webhooks::wake();
    Ok(delivery)
}

const INSERT_DELIVERY: &str = "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, \
     event_type, payload, status, attempts, next_attempt_at, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6, $6)";

pub(super) async fn ping(
    store: &SqlStore,
    scope: Option<Uuid>,
    webhook: Uuid,
) -> StoreResult<WebhookDelivery> {
    let mut tx = begin_write(store).await?;
    lock_scope(&mut tx, scope).await?;
    enabled_endpoint(&mut tx, scope, webhook).await?;
    let now = Timestamp::now();
    let (id, event) = (Uuid::now_v7(), crate::audit::id_at(now));
    sqlx::query(INSERT_DELIVERY)
        .bind(id)
        .bind(webhook)
        .bind(event)
        .bind(crate::webhooks::PING)
        .bind(crate::webhooks::ping_payload(event, now, scope, webhook))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    crate::audit::target("webhook_delivery", id);
    let delivery = delivery_in(&mut tx, scope, webhook, id).await?;
    commit(tx).await?;
    crate::webhooks::wake();
    Ok(delivery)
}

/// The enabled endpoints subscribed to the event of `entry` (its organization's and the
/// installation's).
pub(super) async fn matching(tx: &mut Tx, entry: &crate::audit::Entry) -> StoreResult<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT e.id FROM webhook_endpoints e \
         WHERE (e.organization_id IS NULL OR e.organization_id = $1) AND e.enabled = TRUE \
         AND EXISTS (SELECT 1 FROM webhook_subscriptions s WHERE s.endpoint_id = e.id \
         AND s.event_type IN ($2, '*'))",
    )
    .bind(entry.organization_id)
    .bind(&entry.action)
    .fetch_all(&mut **tx)
    .await
    .map_err(err)
}

/// Writes the deliveries of the change `entry` records to `endpoints` (from `matching`), in the
/// change's transaction. Answers whether it wrote any.
pub(super) async fn enqueue(
    tx: &mut Tx,
    entry: &crate::audit::Entry,
    endpoints: Vec<Uuid>,
) -> StoreResult<bool> {
    if endpoints.is_empty() {
        return Ok(false);
    }
    let payload = crate::webhooks::payload(entry);
    for endpoint in endpoints {
        sqlx::query(INSERT_DELIVERY)
            .bind(Uuid::now_v7())
            .bind(endpoint)
            .bind(entry.id)
            .bind(&entry.action)
            .bind(&payload)
            .bind(entry.created_at)
            .execute(&mut **tx)
            .await
            .map_err(err)?;
    }
    Ok(true)
}

const CLAIM: &str = concat!(
    "UPDATE webhook_deliveries SET claimed_until = $1, attempts = attempts + 1, updated_at = $2 \
     WHERE id IN (SELECT d.id FROM webhook_deliveries d \
     JOIN webhook_endpoints e ON e.id = d.endpoint_id \
     WHERE d.status = 'pending' AND d.next_attempt_at <= $2 \
     AND (d.claimed_until IS NULL OR d.claimed_until <= $2) AND e.enabled = TRUE \
     ORDER BY d.next_attempt_at, d.id LIMIT $3",
    skip_locked!(),
    ") RETURNING id, endpoint_id, event_id, payload, attempts"
);

pub(super) async fn claim(
    store: &SqlStore,
    limit: i64,
    lease: std::time::Duration,
) -> StoreResult<Vec<Claimed>> {
    #[derive(FromRow)]
    struct Due {
        id: Uuid,
        endpoint_id: Uuid,
        event_id: Uuid,
        payload: String,
        attempts: i32,
    }
    #[derive(FromRow)]
    struct Target {
        id: Uuid,
        url: String,
        secret: String,
        previous_secret: Option<String>,
        previous_secret_expires_at: Option<Timestamp>,
    }
    let now = Timestamp::now();
    // A look without the write lock first: an idle node takes no write transaction.
    let any: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE d.status = 'pending' AND d.next_attempt_at <= $1 \
         AND (d.claimed_until IS NULL OR d.claimed_until <= $1) AND e.enabled = TRUE LIMIT 1",
    )
    .bind(now)
    .fetch_optional(&store.pool)
    .await
    .map_err(err)?;
    if any.is_none() {
        return Ok(Vec::new());
    }
    let mut tx = begin_write(store).await?;
    let due: Vec<Due> = sqlx::query_as(CLAIM)
        .bind(Timestamp(now.0 + lease.as_millis() as i64))
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(err)?;
    if due.is_empty() {
        commit(tx).await?;
        return Ok(Vec::new());
    }
    let mut q = QueryBuilder::<Db>::new(
        "SELECT id, url, secret, previous_secret, previous_secret_expires_at \
         FROM webhook_endpoints WHERE id IN (",
    );
    let mut ids = q.separated(", ");
    for d in &due {
        ids.push_bind(d.endpoint_id);
    }
    q.push(")");
    let targets: Vec<Target> = q.build_query_as().fetch_all(&mut *tx).await.map_err(err)?;
    commit(tx).await?;
    Ok(due
        .into_iter()
        .filter_map(|d| {
            let t = targets.iter().find(|t| t.id == d.endpoint_id)?;
            Some(Claimed {
                id: d.id,
                endpoint_id: d.endpoint_id,
                event_id: d.event_id,
                payload: d.payload,
                attempts: d.attempts,
                url: t.url.clone(),
                secret: t.secret.clone(),
                previous_secret: t
                    .previous_secret
                    .clone()
                    .filter(|_| t.previous_secret_expires_at.is_some_and(|e| e > now)),
            })
        })
        .collect())
}

pub(super) async fn finish(store: &SqlStore, d: &Claimed, a: &Attempt) -> StoreResult<()> {
    let mut tx = begin_write(store).await?;
    let now = Timestamp::now();
    let status = match (a.succeeded, a.retry_at) {
        (true, _) => DeliveryStatus::Succeeded,
        (false, Some(_)) => DeliveryStatus::Pending,
        (false, None) => DeliveryStatus::Failed,
    };
    // The attempt count fences a lease that ran out: an attempt another node has taken over
    // since is recorded by that node only.
    let recorded = sqlx::query(
        "UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, claimed_until = NULL, \
         response_code = $3, latency_ms = $4, error = $5, updated_at = $6 \
         WHERE id = $7 AND attempts = $8 AND status = 'pending'",
    )
    .bind(status.as_str())
    .bind(a.retry_at.unwrap_or(now))
    .bind(a.response_code)
    .bind(a.latency_ms)
    .bind(&a.error)
    .bind(now)
    .bind(d.id)
    .bind(d.attempts)
    .execute(&mut *tx)
    .await
    .map_err(err)?
    .rows_affected();
    if recorded > 0 {
        match status {
            DeliveryStatus::Succeeded => {
                sqlx::query("UPDATE webhook_endpoints SET last_success_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(d.endpoint_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
            }
            DeliveryStatus::Failed => {
                // An endpoint that accepted nothing since this event was made (its whole
                // schedule) keeps failing: it is disabled until someone enables it again.
                let reason = format!(
                    "Disabled at {}: no delivery succeeded since {} ({} attempts of event {} \
                     failed; the last: {})",
                    now.to_rfc3339(),
                    crate::audit::time_of(d.event_id).to_rfc3339(),
                    d.attempts,
                    d.event_id,
                    a.error.as_deref().unwrap_or("no answer")
                );
                let disabled = sqlx::query(
                    "UPDATE webhook_endpoints SET enabled = FALSE, disabled_reason = $1, \
                     updated_at = $2 WHERE id = $3 AND enabled = TRUE \
                     AND (last_success_at IS NULL OR last_success_at < $4)",
                )
                .bind(reason)
                .bind(now)
                .bind(d.endpoint_id)
                .bind(crate::audit::time_of(d.event_id))
                .execute(&mut *tx)
                .await
                .map_err(err)?
                .rows_affected();
                if disabled > 0 {
                    tracing::warn!(webhook = %d.endpoint_id, "webhook disabled: its deliveries keep failing");
                }
            }
            DeliveryStatus::Pending => {}
        }
    }
    commit(tx).await
}

pub(super) async fn purge(store: &SqlStore, cutoff: Timestamp, batch: i64) -> StoreResult<u64> {
    let mut tx = begin_write(store).await?;
    // Delivery ids are UUIDv7 of their creation: the oldest first, by the primary key.
    let gone = sqlx::query(
        "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries \
         WHERE id < $1 AND status <> 'pending' ORDER BY id LIMIT $2)",
    )
    .bind(crate::audit::first_id_at(cutoff))
    .bind(batch)
    .execute(&mut *tx)
    .await
    .map_err(err)?
    .rows_affected();
    commit(tx).await?;
    Ok(gone)
}
