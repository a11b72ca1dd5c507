//! Write transactions: how one begins and commits (publishing what it changed to every node's
//! caches), and the organization lock with the role checks made under it.

use sqlx::Transaction;
use uuid::Uuid;

use crate::authz::{Actor, Grant, Role};
use crate::store::{StoreError, StoreResult};

use super::engine::{self, Db, LOCK_ORG, NOTIFY};
use super::{SqlStore, err};

/// A write transaction. On SQLite it also holds the node's writer lock: writers queue in order
/// instead of polling the database's busy handler, which keeps write latency flat under load.
pub(crate) struct Tx {
    inner: Transaction<'static, Db>,
    _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
    /// What this transaction changed, for the caches of this node and the others.
    touched: Vec<crate::store::cache::Tag>,
    /// The plans and clock the limits checked in this transaction follow.
    pub(super) licensing: std::sync::Arc<crate::store::Licensing>,
    /// Whether it carries the request's audit entry (bookkeeping along the way does not).
    audited: bool,
}

impl Tx {
    pub(super) fn touch(&mut self, tag: crate::store::cache::Tag) {
        if !self.touched.contains(&tag) {
            self.touched.push(tag);
        }
    }
}

impl std::ops::Deref for Tx {
    type Target = <Db as sqlx::Database>::Connection;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

/// Begins a write transaction, after queueing on the node's writer lock where the engine has one
/// (SQLite); the lock is held until the transaction ends.
pub(super) async fn begin_write(store: &SqlStore) -> StoreResult<Tx> {
    let started = std::time::Instant::now();
    let writer = match &store.writer {
        Some(queue) => Some(queue.clone().lock_owned().await),
        None => None,
    };
    let inner = engine::begin_write(&store.pool).await.map_err(err)?;
    crate::metrics::write_waited(started.elapsed());
    Ok(Tx {
        touched: Vec::new(),
        licensing: store.licensing(),
        inner,
        _writer: writer,
        audited: true,
    })
}

/// A write transaction for bookkeeping within a request (a sign-in's single-use state): the
/// request's audit entry goes with the change it describes, not with this.
pub(super) async fn begin_bookkeeping(store: &SqlStore) -> StoreResult<Tx> {
    let mut tx = begin_write(store).await?;
    tx.audited = false;
    Ok(tx)
}

/// Commits, and makes what the transaction touched stale in every node's caches: published in
/// the transaction itself (PostgreSQL `NOTIFY` is delivered on commit, and only then), and
/// applied here right after the commit.
pub(super) async fn commit(mut tx: Tx) -> StoreResult<()> {
    // The request's audit entry goes in with its change, or not at all.
    // Its webhook deliveries go into the outbox in the same transaction.
    let mut enqueued = false;
    let entry = if tx.audited {
        crate::audit::for_commit()
    } else {
        None
    };
    if let Some(entry) = entry {
        let written = match super::audit::insert_matching(&mut tx, &entry).await {
            Ok(endpoints) => super::webhooks::enqueue(&mut tx, &entry, endpoints).await,
            Err(e) => Err(e),
        };
        match written {
            Ok(any) => enqueued = any,
            Err(e) => {
                crate::audit::not_committed();
                return Err(e);
            }
        }
    }
    let touched = std::mem::take(&mut tx.touched);
    if let (Some(notify), false) = (NOTIFY, touched.is_empty()) {
        sqlx::query(notify)
            .bind(crate::store::cache::encode_all(&touched))
            .execute(&mut *tx.inner)
            .await
            .map_err(err)?;
    }
    let done = tx.inner.commit().await.map_err(err);
    if done.is_err() {
        crate::audit::not_committed();
    }
    crate::store::cache::bump(&touched);
    if enqueued && done.is_ok() {
        crate::webhooks::wake();
    }
    done
}

/// Locks the organization row for the rest of the transaction (PostgreSQL `FOR UPDATE`; on
/// SQLite the write transaction already holds the database's write lock).
pub(super) async fn lock_org(tx: &mut Tx, org: Uuid) -> StoreResult<()> {
    crate::audit::organization(org);
    // Whatever locks an organization may change it: its cached reads go stale on commit.
    tx.touch(crate::store::cache::Tag::Org(org));
    tx.touch(crate::store::cache::Tag::AllOrgs);
    sqlx::query(LOCK_ORG)
        .bind(org)
        .fetch_optional(&mut **tx)
        .await
        .map_err(err)?
        .map(|_| ())
        .ok_or(StoreError::NotFound("Organization"))
}

/// A member's role key, read under the lock.
pub(super) async fn role_of(tx: &mut Tx, org: Uuid, user: Uuid) -> StoreResult<Option<String>> {
    sqlx::query_scalar("SELECT role FROM memberships WHERE organization_id = $1 AND user_id = $2")
        .bind(org)
        .bind(user)
        .fetch_optional(&mut **tx)
        .await
        .map_err(err)
}

/// A member's role key and what it grants, read under the lock.
pub(super) async fn held(
    tx: &mut Tx,
    org: Uuid,
    user: Uuid,
) -> StoreResult<Option<(String, Grant)>> {
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT m.role, r.permissions FROM memberships m LEFT JOIN roles r \
         ON r.organization_id = m.organization_id AND r.key = m.role \
         WHERE m.organization_id = $1 AND m.user_id = $2",
    )
    .bind(org)
    .bind(user)
    .fetch_optional(&mut **tx)
    .await
    .map_err(err)?;
    Ok(row.map(|(key, custom)| {
        // A membership's role always exists (roles in use are replaced before they go); an
        // unknown one grants nothing.
        let grant = Grant::of_key(&key, custom.as_deref()).unwrap_or(Grant {
            owner: false,
            perms: Default::default(),
        });
        (key, grant)
    }))
}

/// What the actor holds here, read under the lock: a superuser acts as an owner; a non-member
/// sees no organization.
pub(super) async fn actor_grant(tx: &mut Tx, org: Uuid, actor: Actor) -> StoreResult<Grant> {
    match actor {
        Actor::Superuser(_) => Ok(Grant::superuser()),
        Actor::User(id) => held(tx, org, id)
            .await?
            .map(|(_, g)| g)
            .ok_or(StoreError::NotFound("Organization")),
    }
}

/// What the role `key` grants in `org`: a built-in role, or one of the organization's custom
/// roles. An unknown key is invalid.
pub(super) async fn role_grant(tx: &mut Tx, org: Uuid, key: &str) -> StoreResult<Grant> {
    if let Some(role) = Role::parse(key) {
        return Ok(Grant::built_in(role));
    }
    let stored: Option<String> =
        sqlx::query_scalar("SELECT permissions FROM roles WHERE organization_id = $1 AND key = $2")
            .bind(org)
            .bind(key)
            .fetch_optional(&mut **tx)
            .await
            .map_err(err)?;
    stored
        .map(|s| Grant::of_key(key, Some(&s)).expect("a custom role's grant"))
        .ok_or_else(|| {
            StoreError::Conflict(format!(
                "role '{key}' does not exist in this organization (owner, admin, member or one of \
                 its custom roles)"
            ))
        })
}
