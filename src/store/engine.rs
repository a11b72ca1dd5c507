// The SQL store, written once and compiled for each engine: `sqlite.rs` and `postgres.rs` each
// define `Db`, the locking statements and `begin_write`, then include this file. The SQL here is
// accepted by both engines (`$n` parameters, `RETURNING`, `lower()` expression indexes).

use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{FromRow, Pool, QueryBuilder, Transaction};
use uuid::Uuid;

use crate::authz::{Actor, Role, effective};
use crate::domain::Timestamp;
use crate::domain::membership::{self as rules};
use crate::domain::paging::{Cursor, Page};
use crate::domain::validate;
use crate::store::*;

pub struct SqlStore {
    pub(crate) pool: Pool<Db>,
    pub(crate) caches: Caches,
    /// SQLite's writer queue; PostgreSQL relies on row locks instead and leaves it unused.
    #[allow(dead_code)]
    pub(crate) writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// PostgreSQL: the task hearing other nodes' cache invalidations.
    #[allow(dead_code)]
    pub(crate) listener: Option<ListenerTask>,
}

/// Stops its task when the store is dropped.
pub(crate) struct ListenerTask(#[allow(dead_code)] tokio::task::JoinHandle<()>);

impl Drop for ListenerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The node's read caches (see `store::cache`), each bounded.
pub(crate) struct Caches {
    auth: crate::store::cache::Cache<[u8; 32], Authenticated>,
    access: crate::store::cache::Cache<(String, Uuid), OrgAccessRow>,
    organization: crate::store::cache::Cache<(Uuid, Uuid), Organization>,
    organizations: crate::store::cache::Cache<String, Vec<Organization>>,
    members: crate::store::cache::Cache<String, Vec<Member>>,
    member: crate::store::cache::Cache<(Uuid, Uuid), Option<Member>>,
}

impl Default for Caches {
    fn default() -> Self {
        use crate::store::cache::Cache;
        // Sized for about 100 MB at most: an organization view is about 1 KB, a page of members
        // up to 100 rows.
        Caches {
            auth: Cache::new(100_000),
            access: Cache::new(100_000),
            organization: Cache::new(50_000),
            organizations: Cache::new(10_000),
            members: Cache::new(2_000),
            member: Cache::new(50_000),
        }
    }
}

/// A write transaction. On SQLite it also holds the node's writer lock: writers queue in order
/// instead of polling the database's busy handler, which keeps write latency flat under load.
pub(crate) struct Tx {
    inner: Transaction<'static, Db>,
    _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
    /// What this transaction changed, for the caches of this node and the others.
    touched: Vec<crate::store::cache::Tag>,
}

impl Tx {
    fn touch(&mut self, tag: crate::store::cache::Tag) {
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

macro_rules! user_columns {
    () => {
        "u.id, u.username, u.email, u.name, u.avatar_url, u.company, u.job_title, u.metadata, \
         u.is_active, u.is_superuser, u.is_service_account, u.created_at, u.updated_at"
    };
}

macro_rules! org_view_select {
    () => {
        concat!("SELECT o.id, o.name, o.slug, o.description, o.logo_url, o.country_code, o.status, \
         o.status_reason, o.verified, o.owner_id, o.managed_by, o.metadata, \
         o.service_accounts_can_mint_tokens, o.created_at, \
         o.updated_at, ou.username AS owner_username, ou.email AS owner_email, \
         ou.name AS owner_name, \
         (SELECT COUNT(*) FROM memberships c JOIN users cu ON cu.id = c.user_id \
          WHERE c.organization_id = o.id AND cu.is_active) AS member_count, \
         (SELECT COUNT(*) FROM invitations i WHERE i.organization_id = o.id \
          AND i.status = 'pending' AND i.expires_at > ",
        now_ms!(),
        ") AS pending_member_count, \
         (SELECT COUNT(*) FROM projects p WHERE p.organization_id = o.id) AS project_count, \
         (SELECT COUNT(*) FROM applications a WHERE a.organization_id = o.id) AS application_count, \
         m.role AS role \
         FROM organizations o JOIN users ou ON ou.id = o.owner_id ")
    };
}

const MEMBER_SELECT: &str = "SELECT u.id AS user_id, u.username, u.email, u.name, m.role, \
     m.created_at AS joined_at FROM memberships m JOIN users u ON u.id = m.user_id ";

#[derive(FromRow)]
struct OrgRow {
    id: Uuid,
    name: String,
    slug: String,
    description: Option<String>,
    logo_url: Option<String>,
    country_code: Option<String>,
    status: String,
    status_reason: Option<String>,
    verified: bool,
    owner_id: Uuid,
    #[sqlx(json)]
    managed_by: Vec<ManagedBy>,
    #[sqlx(json)]
    metadata: Value,
    service_accounts_can_mint_tokens: bool,
    created_at: Timestamp,
    updated_at: Timestamp,
}

#[derive(FromRow)]
struct OrgViewRow {
    #[sqlx(flatten)]
    org: OrgRow,
    owner_username: String,
    owner_email: String,
    owner_name: Option<String>,
    member_count: i64,
    pending_member_count: i64,
    project_count: i64,
    application_count: i64,
    role: Option<String>,
}

impl From<OrgViewRow> for Organization {
    fn from(r: OrgViewRow) -> Self {
        let o = r.org;
        Organization {
            id: o.id,
            name: o.name,
            slug: o.slug,
            description: o.description,
            logo_url: o.logo_url,
            country_code: o.country_code,
            status: OrgStatus::parse(&o.status),
            status_reason: o.status_reason,
            verified: o.verified,
            owner: OwnerSummary {
                id: o.owner_id,
                username: r.owner_username,
                email: r.owner_email,
                name: r.owner_name,
            },
            member_count: r.member_count,
            pending_member_count: r.pending_member_count,
            project_count: r.project_count,
            application_count: r.application_count,
            plan: "free".into(),
            has_active_subscription: false,
            trial_expiry: None,
            managed_by: o.managed_by,
            metadata: o.metadata,
            service_accounts_can_mint_tokens: o.service_accounts_can_mint_tokens,
            created_at: o.created_at,
            updated_at: o.updated_at,
            role: r.role.as_deref().and_then(Role::parse),
            members: None,
        }
    }
}

#[derive(FromRow)]
struct MemberRow {
    user_id: Uuid,
    username: String,
    email: String,
    name: Option<String>,
    role: String,
    joined_at: Timestamp,
}

impl From<MemberRow> for Member {
    fn from(r: MemberRow) -> Self {
        let role = Role::parse(&r.role).unwrap_or(Role::Member);
        Member {
            user_id: r.user_id,
            username: r.username,
            email: r.email,
            name: r.name,
            role,
            admin: role.is_admin(),
            joined_at: r.joined_at,
        }
    }
}

#[derive(FromRow)]
struct AuthRow {
    token_id: Uuid,
    kind: String,
    organization_id: Option<Uuid>,
    expires_at: Option<Timestamp>,
    last_used_at: Option<Timestamp>,
    #[sqlx(flatten)]
    user: User,
}

/// `last_used_at` is written at most once a minute per token, so that reads stay reads.
const LAST_USED_GRANULARITY_MS: i64 = 60_000;

fn err(e: sqlx::Error) -> StoreError {
    map_sqlx(e)
}

/// Commits, and makes what the transaction touched stale in every node's caches: published in
/// the transaction itself (PostgreSQL `NOTIFY` is delivered on commit, and only then), and
/// applied here right after the commit.
async fn commit(mut tx: Tx) -> StoreResult<()> {
    let touched = std::mem::take(&mut tx.touched);
    if let (Some(notify), false) = (NOTIFY, touched.is_empty()) {
        sqlx::query(notify)
            .bind(crate::store::cache::encode_all(&touched))
            .execute(&mut *tx.inner)
            .await
            .map_err(err)?;
    }
    let done = tx.inner.commit().await.map_err(err);
    crate::store::cache::bump(&touched);
    done
}

/// Marks a user's profile, tokens and organization list as changed, and every organization they
/// belong to (whose member rows, counts and owner summary show them).
async fn touch_user_everywhere(tx: &mut Tx, user: Uuid) -> StoreResult<()> {
    use crate::store::cache::Tag;
    tx.touch(Tag::User(user));
    let orgs: Vec<Uuid> =
        sqlx::query_scalar("SELECT organization_id FROM memberships WHERE user_id = $1")
            .bind(user)
            .fetch_all(&mut **tx)
            .await
            .map_err(err)?;
    for o in orgs {
        tx.touch(Tag::Org(o));
    }
    tx.touch(Tag::AllOrgs);
    Ok(())
}

/// Locks the organization row for the rest of the transaction (PostgreSQL `FOR UPDATE`; on
/// SQLite the write transaction already holds the database's write lock).
async fn lock_org(tx: &mut Tx, org: Uuid) -> StoreResult<()> {
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

async fn role_of(tx: &mut Tx, org: Uuid, user: Uuid) -> StoreResult<Option<Role>> {
    let role: Option<String> = sqlx::query_scalar(
        "SELECT role FROM memberships WHERE organization_id = $1 AND user_id = $2",
    )
    .bind(org)
    .bind(user)
    .fetch_optional(&mut **tx)
    .await
    .map_err(err)?;
    Ok(role.as_deref().and_then(Role::parse))
}

/// The actor's effective role, read under the lock; a non-member sees no organization.
async fn actor_role(tx: &mut Tx, org: Uuid, actor: Actor) -> StoreResult<Role> {
    let own = role_of(tx, org, actor.id()).await?;
    effective(actor, own).ok_or(StoreError::NotFound("Organization"))
}

async fn owner_count(tx: &mut Tx, org: Uuid) -> StoreResult<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM memberships WHERE organization_id = $1 AND role = 'owner'",
    )
    .bind(org)
    .fetch_one(&mut **tx)
    .await
    .map_err(err)
}

async fn member_in(tx: &mut Tx, org: Uuid, user: Uuid) -> StoreResult<Member> {
    let row: MemberRow = sqlx::query_as(MEMBER_BY_USER)
        .bind(org)
        .bind(user)
        .fetch_one(&mut **tx)
        .await
        .map_err(err)?;
    Ok(row.into())
}

const MEMBER_BY_USER: &str = "SELECT u.id AS user_id, u.username, u.email, u.name, m.role, m.created_at AS joined_at \
     FROM memberships m JOIN users u ON u.id = m.user_id \
     WHERE m.organization_id = $1 AND m.user_id = $2";

/// When `leaving` is the primary owner, the earliest-joined other owner becomes primary.
async fn hand_over_primary_owner(tx: &mut Tx, org: Uuid, leaving: Uuid) -> StoreResult<()> {
    let primary: Uuid = sqlx::query_scalar("SELECT owner_id FROM organizations WHERE id = $1")
        .bind(org)
        .fetch_one(&mut **tx)
        .await
        .map_err(err)?;
    if primary != leaving {
        return Ok(());
    }
    let next: Option<Uuid> = sqlx::query_scalar(
        "SELECT user_id FROM memberships WHERE organization_id = $1 AND role = 'owner' \
         AND user_id <> $2 ORDER BY created_at, user_id LIMIT 1",
    )
    .bind(org)
    .bind(leaving)
    .fetch_optional(&mut **tx)
    .await
    .map_err(err)?;
    let next = next.ok_or(StoreError::LastOwner)?;
    sqlx::query("UPDATE organizations SET owner_id = $1, updated_at = $2 WHERE id = $3")
        .bind(next)
        .bind(Timestamp::now())
        .bind(org)
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    Ok(())
}

async fn insert_membership(
    tx: &mut Tx,
    org: Uuid,
    user: Uuid,
    role: Role,
    joined: Timestamp,
) -> StoreResult<()> {
    tx.touch(crate::store::cache::Tag::User(user));
    sqlx::query(
        "INSERT INTO memberships (organization_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(org)
    .bind(user)
    .bind(role.as_str())
    .bind(joined)
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    Ok(())
}

/// Ends a membership with its cascade: the primary ownership moves on, and the member's project
/// memberships and organization-scoped tokens go (worthless without the membership).
async fn drop_membership(tx: &mut Tx, org: Uuid, user: Uuid, role: Role) -> StoreResult<()> {
    // Their organization list, and the tokens scoped here that go with the membership.
    tx.touch(crate::store::cache::Tag::User(user));
    if role == Role::Owner {
        hand_over_primary_owner(tx, org, user).await?;
    }
    sqlx::query("DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2")
        .bind(org)
        .bind(user)
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    sqlx::query(
        "DELETE FROM project_members WHERE user_id = $1 \
         AND project_id IN (SELECT id FROM projects WHERE organization_id = $2)",
    )
    .bind(user)
    .bind(org)
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    sqlx::query("DELETE FROM tokens WHERE organization_id = $1 AND user_id = $2")
        .bind(org)
        .bind(user)
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    Ok(())
}

async fn insert_token<'e, E>(db: E, id: Uuid, new: &NewToken) -> StoreResult<()>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    sqlx::query(
        "INSERT INTO tokens (id, user_id, kind, name, token_hash, organization_id, expires_at, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(new.user_id)
    .bind(new.kind.as_str())
    .bind(&new.name)
    .bind(&new.hash[..])
    .bind(new.organization_id)
    .bind(new.expires_at)
    .bind(Timestamp::now())
    .execute(db)
    .await
    .map_err(err)?;
    Ok(())
}

/// Ends a user's sessions other than `keep`; with `tokens`, their personal access tokens too.
async fn end_sessions(tx: &mut Tx, user: Uuid, keep: Option<Uuid>, tokens: bool) -> StoreResult<()> {
    tx.touch(crate::store::cache::Tag::User(user));
    let sql = if tokens {
        "DELETE FROM tokens WHERE user_id = $1 AND kind IN ('session', 'pat') AND id <> $2"
    } else {
        "DELETE FROM tokens WHERE user_id = $1 AND kind = 'session' AND id <> $2"
    };
    sqlx::query(sql)
        .bind(user)
        .bind(keep.unwrap_or(Uuid::nil()))
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    Ok(())
}

async fn username_taken(tx: &mut Tx, username: &str) -> StoreResult<bool> {
    let hit: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM users WHERE lower(username) = lower($1)")
            .bind(username)
            .fetch_optional(&mut **tx)
            .await
            .map_err(err)?;
    Ok(hit.is_some())
}

async fn insert_user(tx: &mut Tx, new: NewUser) -> StoreResult<User> {
    let username = match new.username {
        Some(u) => u,
        None => {
            // A free variant of the email's local part.
            let base = validate::username_from_email(&new.email);
            let mut candidate = base.clone();
            let mut n = 0u32;
            while username_taken(tx, &candidate).await? {
                n += 1;
                candidate = if n < 5 {
                    format!("{base}{}", n + 1)
                } else {
                    format!("{base}-{}", &Uuid::now_v7().simple().to_string()[24..])
                };
            }
            candidate
        }
    };
    let now = Timestamp::now();
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO users (id, username, email, name, metadata, password_hash, is_active, \
         is_superuser, is_service_account, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
    )
    .bind(id)
    .bind(&username)
    .bind(&new.email)
    .bind(&new.name)
    .bind(Json(serde_json::json!({})))
    .bind(&new.password_hash)
    .bind(true)
    .bind(new.is_superuser)
    .bind(new.is_service_account)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    Ok(User {
        id,
        username,
        email: new.email,
        name: new.name,
        avatar_url: None,
        company: None,
        job_title: None,
        metadata: serde_json::json!({}),
        is_active: true,
        is_superuser: new.is_superuser,
        is_service_account: new.is_service_account,
        created_at: now,
        updated_at: now,
    })
}

async fn user_in(tx: &mut Tx, id: Uuid) -> StoreResult<Option<User>> {
    sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users u WHERE u.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(err)
}

async fn slug_taken(tx: &mut Tx, slug: &str, except: Option<Uuid>) -> StoreResult<bool> {
    let hit: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM organizations WHERE lower(slug) = lower($1) AND id <> $2",
    )
    .bind(slug)
    .bind(except.unwrap_or(Uuid::nil()))
    .fetch_optional(&mut **tx)
    .await
    .map_err(err)?;
    Ok(hit.is_some())
}

fn push_page(q: &mut QueryBuilder<Db>, page: &Page) {
    q.push(" LIMIT ");
    q.push_bind(page.fetch());
    q.push(" OFFSET ");
    q.push_bind(page.offset as i64);
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        let mut tx = begin_write(self).await?;
        let user = insert_user(&mut tx, new).await?;
        commit(tx).await?;
        Ok(user)
    }

    async fn user_for_login(&self, login: &str) -> StoreResult<Option<(User, Option<String>)>> {
        let sql = if login.contains('@') {
            concat!(
                "SELECT ",
                user_columns!(),
                ", u.password_hash FROM users u WHERE lower(u.email) = lower($1)"
            )
        } else {
            concat!(
                "SELECT ",
                user_columns!(),
                ", u.password_hash FROM users u WHERE lower(u.username) = lower($1)"
            )
        };
        #[derive(FromRow)]
        struct Row {
            #[sqlx(flatten)]
            user: User,
            password_hash: Option<String>,
        }
        let row: Option<Row> = sqlx::query_as(sql)
            .bind(login)
            .fetch_optional(&self.pool)
            .await
            .map_err(err)?;
        Ok(row.map(|r| (r.user, r.password_hash)))
    }

    async fn user(&self, id: Uuid) -> StoreResult<Option<User>> {
        sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE u.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(err)
    }

    async fn password_hash(&self, id: Uuid) -> StoreResult<Option<String>> {
        let hash: Option<Option<String>> =
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(err)?;
        Ok(hash.flatten())
    }

    async fn update_user(&self, id: Uuid, patch: UserPatch) -> StoreResult<User> {
        let mut tx = begin_write(self).await?;
        let mut u = user_in(&mut tx, id)
            .await?
            .ok_or(StoreError::NotFound("User"))?;
        touch_user_everywhere(&mut tx, id).await?;
        if let Some(v) = patch.username {
            u.username = v;
        }
        if let Some(v) = patch.email {
            u.email = v;
        }
        if let Some(v) = patch.name {
            u.name = v;
        }
        if let Some(v) = patch.avatar_url {
            u.avatar_url = v;
        }
        if let Some(v) = patch.company {
            u.company = v;
        }
        if let Some(v) = patch.job_title {
            u.job_title = v;
        }
        if let Some(v) = patch.metadata {
            u.metadata = v;
        }
        if let Some(v) = patch.is_active {
            u.is_active = v;
        }
        if let Some(v) = patch.is_superuser {
            u.is_superuser = v;
        }
        u.updated_at = Timestamp::now();
        sqlx::query(
            "UPDATE users SET username = $1, email = $2, name = $3, avatar_url = $4, company = $5, \
             job_title = $6, metadata = $7, is_active = $8, is_superuser = $9, updated_at = $10 \
             WHERE id = $11",
        )
        .bind(&u.username)
        .bind(&u.email)
        .bind(&u.name)
        .bind(&u.avatar_url)
        .bind(&u.company)
        .bind(&u.job_title)
        .bind(Json(&u.metadata))
        .bind(u.is_active)
        .bind(u.is_superuser)
        .bind(u.updated_at)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        commit(tx).await?;
        Ok(u)
    }

    async fn set_password(
        &self,
        id: Uuid,
        hash: String,
        keep: Option<Uuid>,
        revoke_tokens: bool,
    ) -> StoreResult<()> {
        let mut tx = begin_write(self).await?;
        let done =
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(hash)
                .bind(Timestamp::now())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("User"));
        }
        end_sessions(&mut tx, id, keep, revoke_tokens).await?;
        commit(tx).await
    }

    async fn create_password_reset(
        &self,
        email: &str,
        hash: [u8; 32],
        expires_at: Timestamp,
    ) -> StoreResult<Option<User>> {
        let mut tx = begin_write(self).await?;
        let user: Option<User> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE lower(u.email) = lower($1)"
        ))
        .bind(email)
        .fetch_optional(&mut *tx)
        .await
        .map_err(err)?;
        let Some(user) = user.filter(|u| u.is_active && !u.is_service_account) else {
            return Ok(None);
        };
        let now = Timestamp::now();
        sqlx::query(
            "INSERT INTO password_resets (id, user_id, token_hash, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(Uuid::now_v7())
        .bind(user.id)
        .bind(&hash[..])
        .bind(expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        commit(tx).await?;
        Ok(Some(user))
    }

    async fn confirm_password_reset(
        &self,
        hash: [u8; 32],
        password_hash: String,
        revoke_tokens: bool,
    ) -> StoreResult<User> {
        let mut tx = begin_write(self).await?;
        let now = Timestamp::now();
        // Spending the link first makes it single-use under concurrent confirms: the row update
        // takes the row's lock, and the loser finds it used.
        let user_id: Option<Uuid> = sqlx::query_scalar(
            "UPDATE password_resets SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
        )
        .bind(now)
        .bind(&hash[..])
        .fetch_optional(&mut *tx)
        .await
        .map_err(err)?;
        let not_found = || StoreError::NotFound("Password reset link");
        let user_id = user_id.ok_or_else(not_found)?;
        let user = user_in(&mut tx, user_id)
            .await?
            .filter(|u| u.is_active && !u.is_service_account)
            .ok_or_else(not_found)?;
        sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(now)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        sqlx::query("UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
            .bind(now)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        end_sessions(&mut tx, user_id, None, revoke_tokens).await?;
        commit(tx).await?;
        Ok(user)
    }

    async fn list_users(&self, q: Option<&str>, page: &Page) -> StoreResult<Vec<User>> {
        let mut sql = QueryBuilder::<Db>::new(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE 1 = 1"
        ));
        if let Some(q) = q {
            let p = like_pattern(q);
            sql.push(" AND (lower(u.username) LIKE ");
            sql.push_bind(p.clone());
            sql.push(" ESCAPE '\\' OR lower(u.email) LIKE ");
            sql.push_bind(p.clone());
            sql.push(" ESCAPE '\\' OR lower(coalesce(u.name, '')) LIKE ");
            sql.push_bind(p);
            sql.push(" ESCAPE '\\')");
        }
        if let Some(Cursor::Id(after)) = page.after {
            sql.push(" AND u.id > ");
            sql.push_bind(after);
        }
        sql.push(" ORDER BY u.id");
        push_page(&mut sql, page);
        sql.build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(err)
    }

    async fn delete_user(&self, id: Uuid) -> StoreResult<()> {
        let mut tx = begin_write(self).await?;
        touch_user_everywhere(&mut tx, id).await?;
        let owned: Vec<Uuid> = sqlx::query_scalar(LOCK_ORGS_OWNED_BY)
            .bind(id)
            .fetch_all(&mut *tx)
            .await
            .map_err(err)?;
        for org in owned {
            if owner_count(&mut tx, org).await? <= 1 {
                return Err(StoreError::LastOwner);
            }
            hand_over_primary_owner(&mut tx, org, id).await?;
        }
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("User"));
        }
        commit(tx).await
    }

    async fn create_token(&self, new: NewToken) -> StoreResult<Uuid> {
        let id = Uuid::now_v7();
        let Some(org) = new.organization_id else {
            insert_token(&self.pool, id, &new).await?;
            return Ok(id);
        };
        // A scoped token is minted under the organization lock that removals and deletions take,
        // after checking the membership it depends on: a removal either happens first (no token)
        // or after (its cascade deletes the token).
        let mut tx = begin_write(self).await?;
        lock_org(&mut tx, org).await?;
        if role_of(&mut tx, org, new.user_id).await?.is_none() {
            return Err(StoreError::NotFound("Organization"));
        }
        insert_token(&mut *tx, id, &new).await?;
        commit(tx).await?;
        Ok(id)
    }

    async fn authenticate(
        &self,
        hash: [u8; 32],
        now: Timestamp,
    ) -> StoreResult<Option<Authenticated>> {
        if let Some(hit) = self.caches.auth.get(&hash) {
            if hit.expires_at.is_some_and(|e| e <= now) {
                return Ok(None);
            }
            return Ok(Some(hit));
        }
        let stamp = crate::store::cache::begin();
        let row: Option<AuthRow> = sqlx::query_as(concat!(
            "SELECT t.id AS token_id, t.kind, t.organization_id, t.expires_at, t.last_used_at, ",
            user_columns!(),
            " FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1"
        ))
        .bind(&hash[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(err)?;
        let Some(row) = row else { return Ok(None) };
        if row.expires_at.is_some_and(|e| e <= now) || !row.user.is_active {
            return Ok(None);
        }
        let Some(kind) = TokenKind::parse(&row.kind) else {
            return Ok(None);
        };
        if row
            .last_used_at
            .is_none_or(|t| now.0 - t.0 >= LAST_USED_GRANULARITY_MS)
        {
            // Bookkeeping only: a database that cannot take the write (read-only, busy) must
            // not fail the request.
            if let Err(e) = sqlx::query("UPDATE tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(row.token_id)
                .execute(&self.pool)
                .await
            {
                tracing::warn!(error = %e, "cannot record a token's last use");
            }
        }
        let auth = Authenticated {
            token_id: row.token_id,
            kind,
            organization_id: row.organization_id,
            expires_at: row.expires_at,
            user: row.user,
        };
        let mut tags = vec![crate::store::cache::Tag::User(auth.user.id)];
        if let Some(org) = auth.organization_id {
            tags.push(crate::store::cache::Tag::Org(org));
        }
        self.caches.auth.put(hash, auth.clone(), &tags, stamp);
        Ok(Some(auth))
    }

    async fn delete_token(&self, id: Uuid) -> StoreResult<bool> {
        let mut tx = begin_write(self).await?;
        let owner: Option<Uuid> =
            sqlx::query_scalar("DELETE FROM tokens WHERE id = $1 RETURNING user_id")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(err)?;
        if let Some(user) = owner {
            tx.touch(crate::store::cache::Tag::User(user));
        }
        commit(tx).await?;
        Ok(owner.is_some())
    }

    async fn create_organization(
        &self,
        new: NewOrganization,
        cap: Option<u32>,
    ) -> StoreResult<Uuid> {
        let mut tx = begin_write(self).await?;
        tx.touch(crate::store::cache::Tag::AllOrgs);
        // Serializes concurrent creations by one owner, so the cap holds.
        let owner: Option<bool> = sqlx::query_scalar(LOCK_USER)
            .bind(new.owner_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?;
        match owner {
            None => return Err(StoreError::NotFound("User")),
            Some(true) => {
                return Err(StoreError::Forbidden(
                    "Service accounts cannot own organizations".into(),
                ));
            }
            Some(false) => {}
        }
        if let Some(cap) = cap {
            let owned: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM organizations WHERE owner_id = $1")
                    .bind(new.owner_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(err)?;
            if owned >= cap as i64 {
                return Err(StoreError::OrganizationLimit);
            }
        }
        let slug = match new.slug {
            Some(slug) => {
                if slug_taken(&mut tx, &slug, None).await? {
                    return Err(StoreError::Conflict("slug is already taken".into()));
                }
                slug
            }
            None => {
                let base = validate::slug_from_name(&new.name);
                let mut candidate = base.clone();
                let mut n = 1u32;
                while slug_taken(&mut tx, &candidate, None).await?
                    || validate::slug(&candidate).is_err()
                {
                    n += 1;
                    candidate = if n < 10 {
                        format!("{base}-{n}")
                    } else {
                        format!("{base}-{}", &Uuid::now_v7().simple().to_string()[24..])
                    };
                }
                candidate
            }
        };
        let id = Uuid::now_v7();
        let now = Timestamp::now();
        sqlx::query(
            "INSERT INTO organizations (id, name, slug, description, logo_url, country_code, status, \
             verified, owner_id, managed_by, metadata, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $9, $10, $11, $11)",
        )
        .bind(id)
        .bind(&new.name)
        .bind(&slug)
        .bind(&new.description)
        .bind(&new.logo_url)
        .bind(&new.country_code)
        .bind(false)
        .bind(new.owner_id)
        .bind(Json(serde_json::json!([])))
        .bind(Json(&new.metadata))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        insert_membership(&mut tx, id, new.owner_id, Role::Owner, now).await?;
        commit(tx).await?;
        Ok(id)
    }

    async fn organization_access(
        &self,
        key: &OrgKey,
        user: Uuid,
    ) -> StoreResult<Option<OrgAccessRow>> {
        #[derive(FromRow)]
        struct Row {
            id: Uuid,
            status: String,
            owner_id: Uuid,
            role: Option<String>,
        }
        let cache_key = match key {
            OrgKey::Id(id) => (id.to_string(), user),
            OrgKey::Slug(slug) => (slug.to_lowercase(), user),
        };
        if let Some(hit) = self.caches.access.get(&cache_key) {
            return Ok(Some(hit));
        }
        let stamp = crate::store::cache::begin();
        let row: Option<Row> = match key {
            OrgKey::Id(id) => {
                sqlx::query_as(ORG_ACCESS_BY_ID)
                    .bind(*id)
                    .bind(user)
                    .fetch_optional(&self.pool)
                    .await
            }
            OrgKey::Slug(slug) => {
                sqlx::query_as(ORG_ACCESS_BY_SLUG)
                    .bind(slug)
                    .bind(user)
                    .fetch_optional(&self.pool)
                    .await
            }
        }
        .map_err(err)?;
        let access = row.map(|r| OrgAccessRow {
            id: r.id,
            status: OrgStatus::parse(&r.status),
            owner_id: r.owner_id,
            role: r.role.as_deref().and_then(Role::parse),
        });
        if let Some(a) = &access {
            self.caches.access.put(
                cache_key,
                a.clone(),
                &[crate::store::cache::Tag::Org(a.id)],
                stamp,
            );
        }
        Ok(access)
    }

    async fn organization(&self, id: Uuid, viewer: Uuid) -> StoreResult<Option<Organization>> {
        if let Some(hit) = self.caches.organization.get(&(id, viewer)) {
            return Ok(Some(hit));
        }
        let stamp = crate::store::cache::begin();
        let row: Option<OrgViewRow> = sqlx::query_as(concat!(
            org_view_select!(),
            "LEFT JOIN memberships m ON m.organization_id = o.id AND m.user_id = $1 WHERE o.id = $2"
        ))
        .bind(viewer)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(err)?;
        let org = row.map(Organization::from);
        if let Some(o) = &org {
            self.caches.organization.put(
                (id, viewer),
                o.clone(),
                &[crate::store::cache::Tag::Org(id)],
                stamp,
            );
        }
        Ok(org)
    }

    async fn list_organizations(
        &self,
        f: &OrgFilter,
        page: &Page,
    ) -> StoreResult<Vec<Organization>> {
        let cache_key = format!("{f:?}|{page:?}");
        if let Some(hit) = self.caches.organizations.get(&cache_key) {
            return Ok(hit);
        }
        let stamp = crate::store::cache::begin();
        let mut q = QueryBuilder::<Db>::new(org_view_select!());
        match f.member {
            Some(member) => {
                q.push("JOIN memberships m ON m.organization_id = o.id AND m.user_id = ");
                q.push_bind(member);
            }
            None => {
                q.push("LEFT JOIN memberships m ON m.organization_id = o.id AND m.user_id = ");
                q.push_bind(f.viewer);
            }
        }
        q.push(" WHERE 1 = 1");
        if let Some(only) = f.only {
            q.push(" AND o.id = ");
            q.push_bind(only);
        }
        if let Some(name) = &f.name {
            q.push(" AND lower(o.name) LIKE ");
            q.push_bind(like_pattern(name));
            q.push(" ESCAPE '\\'");
        }
        if let Some(owner) = f.owner_id {
            q.push(" AND o.owner_id = ");
            q.push_bind(owner);
        }
        if let Some(status) = f.status {
            q.push(" AND o.status = ");
            q.push_bind(status.as_str());
        }
        if f.active_only {
            q.push(" AND o.status = 'active'");
        }
        if let Some(Cursor::Id(after)) = page.after {
            q.push(" AND o.id > ");
            q.push_bind(after);
        }
        q.push(" ORDER BY o.id");
        push_page(&mut q, page);
        let rows: Vec<OrgViewRow> = q
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        let orgs: Vec<Organization> = rows.into_iter().map(Organization::from).collect();
        {
            use crate::store::cache::Tag;
            // The list depends on the caller's memberships (or, for a superuser, on every
            // organization) and on each organization in it.
            let mut tags: Vec<Tag> = orgs.iter().map(|o| Tag::Org(o.id)).collect();
            tags.push(match f.member {
                Some(member) => Tag::User(member),
                None => Tag::AllOrgs,
            });
            self.caches
                .organizations
                .put(cache_key, orgs.clone(), &tags, stamp);
        }
        Ok(orgs)
    }

    async fn update_organization(
        &self,
        id: Uuid,
        actor: Actor,
        patch: OrgPatch,
    ) -> StoreResult<()> {
        let mut tx = begin_write(self).await?;
        lock_org(&mut tx, id).await?;
        let role = actor_role(&mut tx, id, actor).await?;
        let mut o: OrgRow = sqlx::query_as("SELECT * FROM organizations WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .map_err(err)?;
        let superuser = matches!(actor, Actor::Superuser(_));
        if patch.touches_profile() && role < Role::Admin {
            return Err(StoreError::Forbidden(
                "Only owners and admins can change the organization".into(),
            ));
        }
        if patch.owner_id.is_some() && !(superuser || o.owner_id == actor.id()) {
            return Err(StoreError::Forbidden(
                "Only the primary owner can transfer ownership".into(),
            ));
        }
        if patch.touches_superuser_fields() && !superuser {
            return Err(StoreError::Forbidden(
                "Only superusers can set status, status_reason, verified and managed_by".into(),
            ));
        }
        if let Some(slug) = patch.slug {
            if slug_taken(&mut tx, &slug, Some(id)).await? {
                return Err(StoreError::Conflict("slug is already taken".into()));
            }
            o.slug = slug;
        }
        if let Some(v) = patch.name {
            o.name = v;
        }
        if let Some(v) = patch.description {
            o.description = v;
        }
        if let Some(v) = patch.logo_url {
            o.logo_url = v;
        }
        if let Some(v) = patch.country_code {
            o.country_code = v;
        }
        if let Some(v) = patch.metadata {
            o.metadata = v;
        }
        if let Some(v) = patch.service_accounts_can_mint_tokens {
            o.service_accounts_can_mint_tokens = v;
        }
        if let Some(v) = patch.status {
            o.status = v.as_str().into();
        }
        if let Some(v) = patch.status_reason {
            o.status_reason = v;
        }
        if let Some(v) = patch.verified {
            o.verified = v;
        }
        if let Some(v) = patch.managed_by {
            o.managed_by = v;
        }
        if let Some(new_owner) = patch.owner_id {
            if role_of(&mut tx, id, new_owner).await?.is_none() {
                return Err(StoreError::Conflict(
                    "the new owner must be a member".into(),
                ));
            }
            sqlx::query(
                "UPDATE memberships SET role = 'owner' WHERE organization_id = $1 AND user_id = $2",
            )
            .bind(id)
            .bind(new_owner)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
            o.owner_id = new_owner;
        }
        sqlx::query(
            "UPDATE organizations SET name = $1, slug = $2, description = $3, logo_url = $4, \
             country_code = $5, metadata = $6, owner_id = $7, status = $8, status_reason = $9, \
             verified = $10, managed_by = $11, service_accounts_can_mint_tokens = $12, \
             updated_at = $13 WHERE id = $14",
        )
        .bind(&o.name)
        .bind(&o.slug)
        .bind(&o.description)
        .bind(&o.logo_url)
        .bind(&o.country_code)
        .bind(Json(&o.metadata))
        .bind(o.owner_id)
        .bind(&o.status)
        .bind(&o.status_reason)
        .bind(o.verified)
        .bind(Json(&o.managed_by))
        .bind(o.service_accounts_can_mint_tokens)
        .bind(Timestamp::now())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        commit(tx).await
    }

    async fn delete_organization(&self, id: Uuid, actor: Actor) -> StoreResult<()> {
        let mut tx = begin_write(self).await?;
        lock_org(&mut tx, id).await?;
        if actor_role(&mut tx, id, actor).await? != Role::Owner {
            return Err(StoreError::Forbidden(
                "Only owners can delete the organization".into(),
            ));
        }
        let service_accounts: Vec<Uuid> = sqlx::query_scalar(
            "SELECT u.id FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.organization_id = $1 AND u.is_service_account",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(err)?;
        // Memberships, scoped tokens and everything else under it go by ON DELETE CASCADE.
        sqlx::query("DELETE FROM organizations WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        // Its service accounts that belong nowhere else go with it.
        for sa in service_accounts {
            sqlx::query(
                "DELETE FROM users WHERE id = $1 AND is_service_account \
                 AND NOT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1)",
            )
            .bind(sa)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        commit(tx).await
    }

    async fn list_members(
        &self,
        org: Uuid,
        f: &MemberFilter,
        page: &Page,
    ) -> StoreResult<Vec<Member>> {
        let cache_key = format!("{org}|{f:?}|{page:?}");
        if let Some(hit) = self.caches.members.get(&cache_key) {
            return Ok(hit);
        }
        let stamp = crate::store::cache::begin();
        let mut q = QueryBuilder::<Db>::new(MEMBER_SELECT);
        q.push("WHERE m.organization_id = ");
        q.push_bind(org);
        if let Some(role) = f.role {
            q.push(" AND m.role = ");
            q.push_bind(role.as_str());
        }
        if let Some(s) = &f.q {
            let p = like_pattern(s);
            q.push(" AND (lower(u.username) LIKE ");
            q.push_bind(p.clone());
            q.push(" ESCAPE '\\' OR lower(u.email) LIKE ");
            q.push_bind(p.clone());
            q.push(" ESCAPE '\\' OR lower(coalesce(u.name, '')) LIKE ");
            q.push_bind(p);
            q.push(" ESCAPE '\\')");
        }
        if let Some(Cursor::At(ms, user)) = page.after {
            q.push(" AND (m.created_at > ");
            q.push_bind(ms);
            q.push(" OR (m.created_at = ");
            q.push_bind(ms);
            q.push(" AND m.user_id > ");
            q.push_bind(user);
            q.push("))");
        }
        q.push(" ORDER BY m.created_at, m.user_id");
        push_page(&mut q, page);
        let rows: Vec<MemberRow> = q
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        let members: Vec<Member> = rows.into_iter().map(Member::from).collect();
        self.caches.members.put(
            cache_key,
            members.clone(),
            &[crate::store::cache::Tag::Org(org)],
            stamp,
        );
        Ok(members)
    }

    async fn member(&self, org: Uuid, user: Uuid) -> StoreResult<Option<Member>> {
        if let Some(hit) = self.caches.member.get(&(org, user)) {
            return Ok(hit);
        }
        let stamp = crate::store::cache::begin();
        let row: Option<MemberRow> = sqlx::query_as(MEMBER_BY_USER)
            .bind(org)
            .bind(user)
            .fetch_optional(&self.pool)
            .await
            .map_err(err)?;
        let member = row.map(Member::from);
        self.caches.member.put(
            (org, user),
            member.clone(),
            &[crate::store::cache::Tag::Org(org)],
            stamp,
        );
        Ok(member)
    }

    async fn add_member(
        &self,
        org: Uuid,
        actor: Actor,
        target: MemberTarget,
        role: Role,
    ) -> StoreResult<Member> {
        let mut tx = begin_write(self).await?;
        lock_org(&mut tx, org).await?;
        let actor_role = actor_role(&mut tx, org, actor).await?;
        rules::check_add(actor_role, role)?;
        let user_id: Uuid = match target {
            MemberTarget::UserId(id) => user_in(&mut tx, id)
                .await?
                .map(|u| u.id)
                .ok_or(StoreError::NotFound("User"))?,
            MemberTarget::Username(name) => {
                sqlx::query_scalar("SELECT id FROM users WHERE lower(username) = lower($1)")
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(err)?
                    .ok_or(StoreError::NotFound("User"))?
            }
            MemberTarget::Email { email, name } => {
                let found: Option<Uuid> =
                    sqlx::query_scalar("SELECT id FROM users WHERE lower(email) = lower($1)")
                        .bind(&email)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(err)?;
                match found {
                    Some(id) => id,
                    None => {
                        insert_user(
                            &mut tx,
                            NewUser {
                                email,
                                name,
                                ..Default::default()
                            },
                        )
                        .await?
                        .id
                    }
                }
            }
        };
        if role_of(&mut tx, org, user_id).await?.is_some() {
            return Err(StoreError::Conflict("already a member".into()));
        }
        // A service account belongs to the organization that created it: adding it elsewhere
        // would let that organization issue its tokens and act as it. Only a superuser attaches
        // an installation's service account (one in no organization) to an organization.
        if user_in(&mut tx, user_id)
            .await?
            .is_some_and(|u| u.is_service_account)
        {
            let elsewhere: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(err)?;
            if elsewhere > 0 || !matches!(actor, Actor::Superuser(_)) {
                return Err(StoreError::Forbidden(
                    "A service account belongs to the organization that created it".into(),
                ));
            }
        }
        insert_membership(&mut tx, org, user_id, role, Timestamp::now()).await?;
        let member = member_in(&mut tx, org, user_id).await?;
        commit(tx).await?;
        Ok(member)
    }

    async fn change_member_role(
        &self,
        org: Uuid,
        actor: Actor,
        user: Uuid,
        change: RoleChange,
    ) -> StoreResult<Member> {
        let mut tx = begin_write(self).await?;
        lock_org(&mut tx, org).await?;
        let actor_role = actor_role(&mut tx, org, actor).await?;
        let current = role_of(&mut tx, org, user)
            .await?
            .ok_or(StoreError::NotFound("Member"))?;
        let new = match change {
            RoleChange::Set(role) => role,
            RoleChange::ToggleAdmin => rules::toggled(current)?,
        };
        let owners = owner_count(&mut tx, org).await?;
        rules::check_role_change(actor_role, actor.id() == user, current, new, owners)?;
        if new != current {
            sqlx::query(
                "UPDATE memberships SET role = $1 WHERE organization_id = $2 AND user_id = $3",
            )
            .bind(new.as_str())
            .bind(org)
            .bind(user)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
            if current == Role::Owner {
                hand_over_primary_owner(&mut tx, org, user).await?;
            }
        }
        let member = member_in(&mut tx, org, user).await?;
        commit(tx).await?;
        Ok(member)
    }

    async fn remove_member(&self, org: Uuid, actor: Actor, user: Uuid) -> StoreResult<()> {
        let mut tx = begin_write(self).await?;
        lock_org(&mut tx, org).await?;
        let actor_role = actor_role(&mut tx, org, actor).await?;
        let target = role_of(&mut tx, org, user)
            .await?
            .ok_or(StoreError::NotFound("Member"))?;
        let owners = owner_count(&mut tx, org).await?;
        rules::check_removal(actor_role, actor.id() == user, target, owners)?;
        drop_membership(&mut tx, org, user, target).await?;
        commit(tx).await
    }
}

const ORG_ACCESS_BY_ID: &str = "SELECT o.id, o.status, o.owner_id, m.role FROM organizations o \
     LEFT JOIN memberships m ON m.organization_id = o.id AND m.user_id = $2 WHERE o.id = $1";

const ORG_ACCESS_BY_SLUG: &str = "SELECT o.id, o.status, o.owner_id, m.role FROM organizations o \
     LEFT JOIN memberships m ON m.organization_id = o.id AND m.user_id = $2 \
     WHERE lower(o.slug) = lower($1)";
