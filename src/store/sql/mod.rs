//! The SQL both engines run, written once. `sqlite.rs` and `postgres.rs` each mount this directory
//! (`#[path = "sql/mod.rs"] mod sql;`), so it is compiled once per engine against that engine's
//! `engine` module (`Db`, the locking statements, `now_ms!`, how a write transaction begins),
//! which every file here imports by name. Mounting keeps each query a plain sqlx call on one
//! concrete database; code generic over `sqlx::Database` would need trait bounds on every query.
//! The SQL is accepted by both engines (`$n` parameters, `RETURNING`, `lower()` expression
//! indexes).
//!
//! Each resource's file holds its operations whole, every statement of one in one place; the
//! trait implementations below only route each method to its file.

use async_trait::async_trait;
use sqlx::{Pool, QueryBuilder};
use uuid::Uuid;

use crate::authz::Actor;
use crate::domain::Timestamp;
use crate::domain::paging::Page;
use crate::store::{
    Application, ApplicationPatch, Authenticated, DueDelivery, Invitation, Invitee, Member,
    MemberFilter, MemberTarget, NewInvitation, NewOrganization, NewToken, NewUser, OrgAccessRow,
    OrgFilter, OrgKey, OrgPatch, Organization, Project, ProjectMember, ProjectPatch, ProjectRole,
    Resources, RoleChange, Store, StoreError, StoreResult, TokenInfo, User, UserPatch, map_sqlx,
};

use super::engine::{self, Db};
use crate::store::read::{Arg, ReadRow};

mod applications;
mod audit;
mod bulk;
mod invitations;
mod licensing;
mod members;
mod organizations;
mod projects;
mod roles;
mod service_accounts;
mod sso;
mod tokens;
mod tx;
mod users;
mod webhooks;

pub struct SqlStore {
    pub(crate) pool: Pool<Db>,
    pub(crate) caches: Caches,
    /// The plans and the clock the licensing rules run on (set by `Store::set_licensing`).
    pub(crate) licensing: std::sync::RwLock<std::sync::Arc<crate::store::Licensing>>,
    /// SQLite's writer queue (see `Tx`); PostgreSQL relies on row locks instead and has none.
    pub(crate) writer: Option<std::sync::Arc<tokio::sync::Mutex<()>>>,
    /// SQLite: the read connections used inline (`store::reader`); PostgreSQL reads through the
    /// pool.
    pub(crate) reader: Option<crate::store::read::Reader>,
    /// PostgreSQL: the task hearing other nodes' cache invalidations.
    #[allow(dead_code)]
    pub(crate) listener: Option<ListenerTask>,
}

/// Stops its task when the store is dropped.
pub(crate) struct ListenerTask(pub(super) tokio::task::JoinHandle<()>);

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
    app_permissions:
        crate::store::cache::Cache<Option<Uuid>, std::sync::Arc<Vec<crate::store::PermissionInfo>>>,
    sso: crate::store::cache::Cache<Uuid, std::sync::Arc<Vec<crate::store::Enforcement>>>,
}

impl Default for Caches {
    fn default() -> Self {
        use crate::store::cache::Cache;
        // Sized for about 100 MB at most: an organization view is about 1 KB (an access entry
        // holds one), a page of members up to 100 rows.
        Caches {
            auth: Cache::new("auth", 50_000),
            access: Cache::new("access", 50_000),
            organization: Cache::new("organization", 20_000),
            organizations: Cache::new("organizations", 5_000),
            members: Cache::new("members", 1_000),
            member: Cache::new("member", 20_000),
            app_permissions: Cache::new("app_permissions", 10_000),
            sso: Cache::new("sso", 20_000),
        }
    }
}

fn err(e: sqlx::Error) -> StoreError {
    map_sqlx(e)
}

/// A list statement built piece by piece (filters, keyset cursor, page), that runs on the
/// SQLite reader or through the pool. Its parameters are numbered `$1`, `$2`, … in order.
struct Select {
    sql: String,
    args: Vec<Arg>,
    /// A filter that may scan far more rows than it returns (a text search): such a statement
    /// never runs inline, where it would hold up every request on the thread.
    scans: bool,
}

impl Select {
    fn new(sql: &str) -> Self {
        Select {
            sql: sql.into(),
            args: Vec::new(),
            scans: false,
        }
    }

    fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends the next parameter's placeholder and its value.
    fn bind(&mut self, value: impl Into<Arg>) -> &mut Self {
        self.args.push(value.into());
        self.sql.push('$');
        self.sql.push_str(&self.args.len().to_string());
        self
    }

    /// Marks the statement as one that may scan (see `scans`).
    fn scans(&mut self) -> &mut Self {
        self.scans = true;
        self
    }

    fn page(&mut self, page: &Page) -> &mut Self {
        self.push(" LIMIT ").bind(page.fetch());
        self.push(" OFFSET ").bind(page.offset as i64)
    }

    /// Every row, on the store's read path, or through the pool.
    async fn fetch_all<T>(self, store: &SqlStore) -> StoreResult<Vec<T>>
    where
        T: ReadRow + for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row> + Send + Unpin,
    {
        if let Some(reader) = store.reader.as_ref().filter(|_| !self.scans) {
            return reader.rows(&self.sql, &self.args).await;
        }
        // Built only from the constant SQL of this directory and numbered placeholders.
        bind(sqlx::query_as(sqlx::AssertSqlSafe(self.sql)), self.args)
            .fetch_all(&store.pool)
            .await
            .map_err(err)
    }
}

type QueryAs<'q, T> = sqlx::query::QueryAs<'q, Db, T, <Db as sqlx::Database>::Arguments>;

/// Binds `args` to `$1`, `$2`, … in order, as the read path binds them.
fn bind<T>(mut q: QueryAs<'_, T>, args: Vec<Arg>) -> QueryAs<'_, T> {
    for a in args {
        q = match a {
            Arg::Uuid(u) => q.bind(u),
            Arg::Int(i) => q.bind(i),
            Arg::Text(s) => q.bind(s),
            Arg::Bytes(b) => q.bind(b),
        };
    }
    q
}

/// The first row of `sql` with `args`, on the store's read path, or through the pool.
async fn read_row<T>(store: &SqlStore, sql: &'static str, args: Vec<Arg>) -> StoreResult<Option<T>>
where
    T: ReadRow + for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row> + Send + Unpin,
{
    if let Some(reader) = &store.reader {
        return reader.row(sql, &args).await;
    }
    bind(sqlx::query_as(sql), args)
        .fetch_optional(&store.pool)
        .await
        .map_err(err)
}

fn push_page(q: &mut QueryBuilder<Db>, page: &Page) {
    q.push(" LIMIT ");
    q.push_bind(page.fetch());
    q.push(" OFFSET ");
    q.push_bind(page.offset as i64);
}

#[async_trait]
impl Store for SqlStore {
    fn pool_stats(&self) -> crate::store::PoolStats {
        crate::store::PoolStats {
            size: self.pool.size(),
            idle: self.pool.num_idle(),
            max: self.pool.options().get_max_connections(),
        }
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        users::create_user(self, new).await
    }

    async fn user_for_login(&self, login: &str) -> StoreResult<Option<(User, Option<String>)>> {
        users::user_for_login(self, login).await
    }

    async fn user(&self, id: Uuid) -> StoreResult<Option<User>> {
        users::user(self, id).await
    }

    async fn password_hash(&self, id: Uuid) -> StoreResult<Option<String>> {
        users::password_hash(self, id).await
    }

    async fn update_user(&self, id: Uuid, patch: UserPatch) -> StoreResult<User> {
        users::update_user(self, id, patch).await
    }

    async fn set_password(
        &self,
        id: Uuid,
        hash: String,
        keep: Option<Uuid>,
        revoke_tokens: bool,
    ) -> StoreResult<()> {
        users::set_password(self, id, hash, keep, revoke_tokens).await
    }

    async fn create_password_reset(
        &self,
        email: &str,
        hash: [u8; 32],
        expires_at: Timestamp,
    ) -> StoreResult<Option<User>> {
        users::create_password_reset(self, email, hash, expires_at).await
    }

    async fn confirm_password_reset(
        &self,
        hash: [u8; 32],
        password_hash: String,
        revoke_tokens: bool,
    ) -> StoreResult<User> {
        users::confirm_password_reset(self, hash, password_hash, revoke_tokens).await
    }

    async fn create_email_verification(
        &self,
        user: Uuid,
        hash: [u8; 32],
        expires_at: Timestamp,
    ) -> StoreResult<Option<User>> {
        users::create_email_verification(self, user, hash, expires_at).await
    }
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        users::user_by_email(self, email).await
    }
    async fn confirm_email_verification(&self, hash: [u8; 32]) -> StoreResult<User> {
        users::confirm_email_verification(self, hash).await
    }
    async fn list_users(&self, q: Option<&str>, page: &Page) -> StoreResult<Vec<User>> {
        users::list_users(self, q, page).await
    }

    async fn delete_user(&self, id: Uuid) -> StoreResult<()> {
        users::delete_user(self, id).await
    }

    async fn create_token(&self, new: NewToken) -> StoreResult<Uuid> {
        tokens::create_token(self, new).await
    }

    async fn authenticate(
        &self,
        hash: [u8; 32],
        now: Timestamp,
    ) -> StoreResult<Option<Authenticated>> {
        tokens::authenticate(self, hash, now).await
    }

    async fn delete_token(&self, id: Uuid) -> StoreResult<bool> {
        tokens::delete_token(self, id).await
    }

    async fn create_organization(
        &self,
        new: NewOrganization,
        cap: Option<u32>,
    ) -> StoreResult<Uuid> {
        organizations::create_organization(self, new, cap).await
    }

    async fn organization_access(
        &self,
        key: &OrgKey,
        user: Uuid,
    ) -> StoreResult<Option<OrgAccessRow>> {
        organizations::organization_access(self, key, user).await
    }

    async fn organization(&self, id: Uuid, viewer: Uuid) -> StoreResult<Option<Organization>> {
        organizations::organization(self, id, viewer).await
    }

    async fn list_organizations(
        &self,
        f: &OrgFilter,
        page: &Page,
    ) -> StoreResult<Vec<Organization>> {
        organizations::list_organizations(self, f, page).await
    }

    async fn update_organization(
        &self,
        id: Uuid,
        actor: Actor,
        patch: OrgPatch,
    ) -> StoreResult<()> {
        organizations::update_organization(self, id, actor, patch).await
    }

    async fn delete_organization(&self, id: Uuid, actor: Actor) -> StoreResult<()> {
        organizations::delete_organization(self, id, actor).await
    }

    async fn list_members(
        &self,
        org: Uuid,
        f: &MemberFilter,
        page: &Page,
    ) -> StoreResult<Vec<Member>> {
        members::list_members(self, org, f, page).await
    }

    async fn member(&self, org: Uuid, user: Uuid) -> StoreResult<Option<Member>> {
        members::member(self, org, user).await
    }

    async fn add_member(
        &self,
        org: Uuid,
        actor: Actor,
        target: MemberTarget,
        role: String,
    ) -> StoreResult<Member> {
        members::add_member(self, org, actor, target, role).await
    }

    async fn change_member_role(
        &self,
        org: Uuid,
        actor: Actor,
        user: Uuid,
        change: RoleChange,
    ) -> StoreResult<Member> {
        members::change_member_role(self, org, actor, user, change).await
    }

    async fn remove_member(&self, org: Uuid, actor: Actor, user: Uuid) -> StoreResult<()> {
        members::remove_member(self, org, actor, user).await
    }
}

impl SqlStore {
    pub(crate) fn licensing(&self) -> std::sync::Arc<crate::store::Licensing> {
        self.licensing
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[async_trait]
impl crate::store::Sso for SqlStore {
    async fn list_domains(&self, org: Uuid) -> StoreResult<Vec<crate::store::OrgDomain>> {
        sso::list_domains(self, org).await
    }
    async fn domain(&self, org: Uuid, id: Uuid) -> StoreResult<Option<crate::store::OrgDomain>> {
        sso::domain(self, org, id).await
    }
    async fn add_domain(
        &self,
        org: Uuid,
        domain: String,
        token: String,
    ) -> StoreResult<crate::store::OrgDomain> {
        sso::add_domain(self, org, domain, token).await
    }
    async fn verify_domain(
        &self,
        org: Uuid,
        id: Uuid,
        by: &str,
    ) -> StoreResult<crate::store::OrgDomain> {
        sso::verify_domain(self, org, id, by).await
    }
    async fn delete_domain(&self, org: Uuid, id: Uuid) -> StoreResult<()> {
        sso::delete_domain(self, org, id).await
    }
    async fn create_sso_provider(
        &self,
        org: Uuid,
        actor: Actor,
        new: crate::store::NewSsoProvider,
    ) -> StoreResult<crate::store::SsoProvider> {
        sso::create_provider(self, org, actor, new).await
    }
    async fn list_sso_providers(&self, org: Uuid) -> StoreResult<Vec<crate::store::SsoProvider>> {
        sso::list_providers(self, org).await
    }
    async fn sso_provider(
        &self,
        org: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<crate::store::SsoProvider>> {
        sso::provider(self, org, id).await
    }
    async fn update_sso_provider(
        &self,
        org: Uuid,
        actor: Actor,
        id: Uuid,
        patch: crate::store::SsoProviderPatch,
    ) -> StoreResult<crate::store::SsoProvider> {
        sso::update_provider(self, org, actor, id, patch).await
    }
    async fn delete_sso_provider(&self, org: Uuid, id: Uuid) -> StoreResult<()> {
        sso::delete_provider(self, org, id).await
    }
    async fn sso_login_provider(
        &self,
        id: Uuid,
    ) -> StoreResult<Option<(crate::store::SsoProvider, Vec<u8>)>> {
        sso::login_provider(self, id).await
    }
    async fn sso_provider_for_domain(&self, domain: &str) -> StoreResult<Option<Uuid>> {
        sso::provider_for_domain(self, domain).await
    }
    async fn sso_provider_for_organization(
        &self,
        key: &crate::store::OrgKey,
    ) -> StoreResult<Option<Uuid>> {
        sso::provider_for_organization(self, key).await
    }
    async fn create_sso_state(
        &self,
        hash: [u8; 32],
        state: crate::store::SsoState,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        sso::create_state(self, hash, state, expires_at).await
    }
    async fn take_sso_state(
        &self,
        hash: [u8; 32],
        now: Timestamp,
    ) -> StoreResult<Option<crate::store::SsoState>> {
        sso::take_state(self, hash, now).await
    }
    async fn sso_sign_in(
        &self,
        provider: Uuid,
        identity: crate::store::SsoIdentity,
        session: NewToken,
    ) -> StoreResult<User> {
        sso::sign_in(self, provider, identity, session).await
    }
    async fn sso_enforcement(
        &self,
        org: Uuid,
    ) -> StoreResult<std::sync::Arc<Vec<crate::store::Enforcement>>> {
        sso::enforcement(self, org).await
    }
}

#[async_trait]
impl crate::store::Webhooks for SqlStore {
    async fn create_webhook(
        &self,
        scope: Option<Uuid>,
        new: crate::store::NewWebhook,
    ) -> StoreResult<crate::store::Webhook> {
        webhooks::create(self, scope, new).await
    }
    async fn list_webhooks(
        &self,
        scope: Option<Uuid>,
        page: &Page,
    ) -> StoreResult<Vec<crate::store::Webhook>> {
        webhooks::list(self, scope, page).await
    }
    async fn webhook(
        &self,
        scope: Option<Uuid>,
        id: Uuid,
    ) -> StoreResult<Option<crate::store::Webhook>> {
        webhooks::get(self, scope, id).await
    }
    async fn update_webhook(
        &self,
        scope: Option<Uuid>,
        id: Uuid,
        patch: crate::store::WebhookPatch,
    ) -> StoreResult<crate::store::Webhook> {
        webhooks::update(self, scope, id, patch).await
    }
    async fn delete_webhook(&self, scope: Option<Uuid>, id: Uuid) -> StoreResult<()> {
        webhooks::delete(self, scope, id).await
    }
    async fn rotate_webhook_secret(
        &self,
        scope: Option<Uuid>,
        id: Uuid,
        secret: String,
        overlap_until: Timestamp,
    ) -> StoreResult<crate::store::Webhook> {
        webhooks::rotate_secret(self, scope, id, secret, overlap_until).await
    }
    async fn webhook_deliveries(
        &self,
        scope: Option<Uuid>,
        webhook: Uuid,
        status: Option<crate::store::DeliveryStatus>,
        page: &Page,
    ) -> StoreResult<Vec<crate::store::WebhookDelivery>> {
        webhooks::deliveries(self, scope, webhook, status, page).await
    }
    async fn webhook_delivery(
        &self,
        scope: Option<Uuid>,
        webhook: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<(crate::store::WebhookDelivery, String)>> {
        webhooks::delivery(self, scope, webhook, id).await
    }
    async fn retry_webhook_delivery(
        &self,
        scope: Option<Uuid>,
        webhook: Uuid,
        id: Uuid,
    ) -> StoreResult<crate::store::WebhookDelivery> {
        webhooks::retry(self, scope, webhook, id).await
    }
    async fn ping_webhook(
        &self,
        scope: Option<Uuid>,
        webhook: Uuid,
    ) -> StoreResult<crate::store::WebhookDelivery> {
        webhooks::ping(self, scope, webhook).await
    }
    async fn claim_webhook_deliveries(
        &self,
        limit: i64,
        lease: std::time::Duration,
    ) -> StoreResult<Vec<crate::webhooks::Claimed>> {
        webhooks::claim(self, limit, lease).await
    }
    async fn purge_webhook_deliveries(&self, cutoff: Timestamp, batch: i64) -> StoreResult<u64> {
        webhooks::purge(self, cutoff, batch).await
    }
    async fn finish_webhook_delivery(
        &self,
        delivery: &crate::webhooks::Claimed,
        attempt: &crate::webhooks::Attempt,
    ) -> StoreResult<()> {
        webhooks::finish(self, delivery, attempt).await
    }
}

#[async_trait]
impl crate::store::AuditLog for SqlStore {
    async fn record_audit(&self, entry: crate::audit::Entry) -> StoreResult<()> {
        audit::record(self, entry).await
    }
    async fn audit_log(
        &self,
        f: &crate::store::AuditFilter,
        before: Option<Uuid>,
        limit: i64,
    ) -> StoreResult<Vec<crate::audit::Entry>> {
        audit::list(self, f, before, limit).await
    }
    async fn purge_audit(&self, cutoff: Timestamp, batch: i64) -> StoreResult<u64> {
        audit::purge(self, cutoff, batch).await
    }
}

#[async_trait]
impl crate::store::Licenses for SqlStore {
    fn set_licensing(&self, licensing: std::sync::Arc<crate::store::Licensing>) {
        *self.licensing.write().unwrap_or_else(|e| e.into_inner()) = licensing;
    }
    fn licensing(&self) -> std::sync::Arc<crate::store::Licensing> {
        SqlStore::licensing(self)
    }
    async fn create_license(
        &self,
        new: crate::store::NewLicense,
    ) -> StoreResult<crate::store::License> {
        licensing::create_license(self, new).await
    }
    async fn list_licenses(
        &self,
        f: &crate::store::LicenseFilter,
        page: &Page,
    ) -> StoreResult<Vec<crate::store::License>> {
        licensing::list_licenses(self, f, page).await
    }
    async fn license(&self, id: Uuid) -> StoreResult<Option<crate::store::License>> {
        licensing::license(self, id).await
    }
    async fn update_license(
        &self,
        id: Uuid,
        patch: crate::store::LicensePatch,
    ) -> StoreResult<crate::store::License> {
        licensing::update_license(self, id, patch).await
    }
    async fn revoke_license(&self, id: Uuid) -> StoreResult<crate::store::License> {
        licensing::revoke_license(self, id).await
    }
    async fn organization_license(
        &self,
        org: Uuid,
    ) -> StoreResult<crate::store::OrganizationLicense> {
        licensing::organization_license(self, org).await
    }
    async fn attach_license(
        &self,
        org: Uuid,
        actor: Actor,
        which: crate::store::LicenseRef,
    ) -> StoreResult<()> {
        licensing::attach_license(self, org, actor, which).await
    }
    async fn detach_license(&self, org: Uuid, actor: Actor) -> StoreResult<()> {
        licensing::detach_license(self, org, actor).await
    }
    async fn register_deployment(
        &self,
        key: [u8; 32],
        new: crate::store::NewDeployment,
    ) -> StoreResult<Option<crate::store::Deployment>> {
        licensing::register_deployment(self, key, new).await
    }
    async fn heartbeat(
        &self,
        id: Uuid,
        token: [u8; 32],
        version: String,
    ) -> StoreResult<Option<(crate::store::Deployment, crate::store::License)>> {
        licensing::heartbeat(self, id, token, version).await
    }
    async fn list_deployments(
        &self,
        org: Uuid,
        page: &Page,
    ) -> StoreResult<Vec<crate::store::Deployment>> {
        licensing::list_deployments(self, org, page).await
    }
    async fn delete_deployment(&self, org: Uuid, id: Uuid) -> StoreResult<()> {
        licensing::delete_deployment(self, org, id).await
    }
}

#[async_trait]
impl crate::store::Roles for SqlStore {
    async fn list_roles(&self, org: Uuid) -> StoreResult<Vec<crate::store::RoleInfo>> {
        roles::list_roles(self, org).await
    }
    async fn role(&self, org: Uuid, key: &str) -> StoreResult<Option<crate::store::RoleInfo>> {
        roles::role(self, org, key).await
    }
    async fn create_role(
        &self,
        org: Uuid,
        actor: Actor,
        new: crate::store::NewRole,
    ) -> StoreResult<crate::store::RoleInfo> {
        roles::create_role(self, org, actor, new).await
    }
    async fn update_role(
        &self,
        org: Uuid,
        actor: Actor,
        key: &str,
        patch: crate::store::RolePatch,
    ) -> StoreResult<crate::store::RoleInfo> {
        roles::update_role(self, org, actor, key, patch).await
    }
    async fn delete_role(
        &self,
        org: Uuid,
        actor: Actor,
        key: &str,
        replacement: Option<&str>,
    ) -> StoreResult<i64> {
        roles::delete_role(self, org, actor, key, replacement).await
    }
    async fn app_permissions(
        &self,
        org: Option<Uuid>,
    ) -> StoreResult<std::sync::Arc<Vec<crate::store::PermissionInfo>>> {
        roles::app_permissions(self, org).await
    }
    async fn register_permission(
        &self,
        org: Option<Uuid>,
        actor: Actor,
        key: String,
        description: Option<String>,
    ) -> StoreResult<crate::store::PermissionInfo> {
        roles::register_permission(self, org, actor, key, description).await
    }
    async fn remove_permission(
        &self,
        org: Option<Uuid>,
        actor: Actor,
        key: &str,
    ) -> StoreResult<()> {
        roles::remove_permission(self, org, actor, key).await
    }
}

#[async_trait]
impl Resources for SqlStore {
    async fn list_tokens(&self, user: Uuid) -> StoreResult<Vec<TokenInfo>> {
        tokens::list_tokens(self, user).await
    }

    async fn list_sessions(&self, user: Uuid) -> StoreResult<Vec<TokenInfo>> {
        tokens::list_sessions(self, user).await
    }

    async fn token_info(&self, user: Uuid, id: Uuid) -> StoreResult<Option<TokenInfo>> {
        tokens::token_info(self, user, id).await
    }

    async fn revoke_token(&self, user: Uuid, id: Uuid) -> StoreResult<bool> {
        tokens::revoke_token(self, user, id).await
    }

    async fn create_service_account(
        &self,
        org: Uuid,
        actor: Actor,
        username: Option<String>,
        name: String,
        role: String,
    ) -> StoreResult<(User, Member)> {
        service_accounts::create_service_account(self, org, actor, username, name, role).await
    }

    async fn list_service_accounts(&self, org: Uuid) -> StoreResult<Vec<Member>> {
        service_accounts::list_service_accounts(self, org).await
    }

    async fn delete_service_account(&self, org: Uuid, actor: Actor, user: Uuid) -> StoreResult<()> {
        service_accounts::delete_service_account(self, org, actor, user).await
    }

    async fn issue_service_account_token(
        &self,
        org: Uuid,
        actor: Actor,
        new: NewToken,
    ) -> StoreResult<Uuid> {
        service_accounts::issue_service_account_token(self, org, actor, new).await
    }

    async fn service_account_tokens(
        &self,
        org: Uuid,
        actor: Actor,
        account: Uuid,
    ) -> StoreResult<Vec<TokenInfo>> {
        service_accounts::service_account_tokens(self, org, actor, account).await
    }

    async fn revoke_service_account_token(
        &self,
        org: Uuid,
        actor: Actor,
        account: Uuid,
        id: Uuid,
    ) -> StoreResult<()> {
        service_accounts::revoke_service_account_token(self, org, actor, account, id).await
    }

    async fn create_invitation(
        &self,
        new: NewInvitation,
        actor: Actor,
    ) -> StoreResult<(Invitation, bool)> {
        invitations::create_invitation(self, new, actor).await
    }

    async fn list_invitations(&self, org: Uuid, page: &Page) -> StoreResult<Vec<Invitation>> {
        invitations::list_invitations(self, org, page).await
    }

    async fn invitation(&self, org: Uuid, id: Uuid) -> StoreResult<Option<Invitation>> {
        invitations::invitation(self, org, id).await
    }

    async fn revoke_invitation(&self, org: Uuid, actor: Actor, id: Uuid) -> StoreResult<()> {
        invitations::revoke_invitation(self, org, actor, id).await
    }

    async fn rotate_invitation(
        &self,
        org: Uuid,
        actor: Actor,
        id: Uuid,
        hash: [u8; 32],
        expires_at: Option<Timestamp>,
    ) -> StoreResult<Invitation> {
        invitations::rotate_invitation(self, org, actor, id, hash, expires_at).await
    }

    async fn record_delivery(
        &self,
        id: Uuid,
        delivery: &str,
        error: Option<String>,
        next_attempt_at: Option<Timestamp>,
    ) -> StoreResult<()> {
        invitations::record_delivery(self, id, delivery, error, next_attempt_at).await
    }

    async fn due_deliveries(&self, now: Timestamp, limit: i64) -> StoreResult<Vec<DueDelivery>> {
        invitations::due_deliveries(self, now, limit).await
    }

    async fn rotate_for_delivery(&self, id: Uuid, hash: [u8; 32]) -> StoreResult<bool> {
        invitations::rotate_for_delivery(self, id, hash).await
    }

    async fn invitations_for_email(&self, email: &str) -> StoreResult<Vec<Invitation>> {
        invitations::invitations_for_email(self, email).await
    }

    async fn accept_invitation(
        &self,
        hash: [u8; 32],
        invitee: Invitee,
    ) -> StoreResult<(User, Uuid)> {
        invitations::accept_invitation(self, hash, invitee).await
    }

    async fn decline_invitation(&self, hash: [u8; 32], user: Option<Uuid>) -> StoreResult<()> {
        invitations::decline_invitation(self, hash, user).await
    }

    async fn invitation_hash(&self, id: Uuid) -> StoreResult<Option<[u8; 32]>> {
        invitations::invitation_hash(self, id).await
    }

    async fn create_project(
        &self,
        org: Uuid,
        name: String,
        slug: Option<String>,
        description: Option<String>,
    ) -> StoreResult<Project> {
        projects::create_project(self, org, name, slug, description).await
    }

    async fn list_projects(&self, org: Uuid, page: &Page) -> StoreResult<Vec<Project>> {
        projects::list_projects(self, org, page).await
    }

    async fn project(&self, org: Uuid, id: Uuid) -> StoreResult<Option<Project>> {
        projects::project(self, org, id).await
    }

    async fn update_project(
        &self,
        org: Uuid,
        id: Uuid,
        patch: ProjectPatch,
    ) -> StoreResult<Project> {
        projects::update_project(self, org, id, patch).await
    }

    async fn delete_project(&self, org: Uuid, id: Uuid) -> StoreResult<()> {
        projects::delete_project(self, org, id).await
    }

    async fn project_role(&self, project: Uuid, user: Uuid) -> StoreResult<Option<ProjectRole>> {
        projects::project_role(self, project, user).await
    }

    async fn list_project_members(
        &self,
        org: Uuid,
        project: Uuid,
        page: &Page,
    ) -> StoreResult<Vec<ProjectMember>> {
        projects::list_project_members(self, org, project, page).await
    }

    async fn add_project_member(
        &self,
        org: Uuid,
        project: Uuid,
        user: Uuid,
        role: ProjectRole,
    ) -> StoreResult<ProjectMember> {
        projects::add_project_member(self, org, project, user, role).await
    }

    async fn update_project_member(
        &self,
        org: Uuid,
        project: Uuid,
        user: Uuid,
        role: ProjectRole,
    ) -> StoreResult<ProjectMember> {
        projects::update_project_member(self, org, project, user, role).await
    }

    async fn remove_project_member(&self, org: Uuid, project: Uuid, user: Uuid) -> StoreResult<()> {
        projects::remove_project_member(self, org, project, user).await
    }

    async fn create_application(
        &self,
        org: Uuid,
        name: String,
        project: Option<Uuid>,
        description: Option<String>,
    ) -> StoreResult<Application> {
        applications::create_application(self, org, name, project, description).await
    }

    async fn list_applications(&self, org: Uuid, page: &Page) -> StoreResult<Vec<Application>> {
        applications::list_applications(self, org, page).await
    }

    async fn application(&self, org: Uuid, id: Uuid) -> StoreResult<Option<Application>> {
        applications::application(self, org, id).await
    }

    async fn update_application(
        &self,
        org: Uuid,
        id: Uuid,
        patch: ApplicationPatch,
    ) -> StoreResult<Application> {
        applications::update_application(self, org, id, patch).await
    }

    async fn delete_application(&self, org: Uuid, id: Uuid) -> StoreResult<()> {
        applications::delete_application(self, org, id).await
    }
}
