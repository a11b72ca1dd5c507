//! Storage: one `Store` trait of use-case-shaped methods (each one transaction), implemented for
//! SQLite and PostgreSQL from the same SQL (`sql/`, one file per resource), chosen by
//! `connect(url)`. The types that cross the trait, and that clients see, are in `types.rs`.

use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use crate::authz::Actor;
use crate::domain::Timestamp;
use crate::domain::paging::Page;

pub mod cache;
pub mod postgres;
pub mod read;
pub mod sqlite;
mod types;

pub use types::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("last owner")]
    LastOwner,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("organization limit reached")]
    OrganizationLimit,
    /// One more of something would exceed the plan in force.
    #[error("plan limit reached: {0}")]
    PlanLimit(crate::domain::plans::LimitReached),
    /// The organization is deactivated by an owner.
    #[error("organization inactive")]
    Inactive,
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("internal: {0}")]
    Internal(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A connection pool's size, for the metrics.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    pub size: u32,
    pub idle: usize,
    pub max: u32,
}

#[async_trait]
pub trait Store:
    Resources + Roles + Licenses + AuditLog + Webhooks + Sso + Bulk + Send + Sync + 'static
{
    async fn ping(&self) -> StoreResult<()>;
    /// The write pool's connections now.
    fn pool_stats(&self) -> PoolStats;

    // Users and tokens.
    async fn create_user(&self, new: NewUser) -> StoreResult<User>;
    /// The user with this email or username, with their password hash.
    async fn user_for_login(&self, login: &str) -> StoreResult<Option<(User, Option<String>)>>;
    async fn user(&self, id: Uuid) -> StoreResult<Option<User>>;
    async fn password_hash(&self, id: Uuid) -> StoreResult<Option<String>>;
    async fn update_user(&self, id: Uuid, patch: UserPatch) -> StoreResult<User>;
    /// Sets the password and revokes the user's sessions other than `keep` (and, with
    /// `revoke_tokens`, their personal access tokens too).
    async fn set_password(
        &self,
        id: Uuid,
        hash: String,
        keep: Option<Uuid>,
        revoke_tokens: bool,
    ) -> StoreResult<()>;
    /// Records a password-reset link for the active, non-service account with this email and
    /// returns that account; `None` when there is none (callers answer the same either way).
    async fn create_password_reset(
        &self,
        email: &str,
        hash: [u8; 32],
        expires_at: Timestamp,
    ) -> StoreResult<Option<User>>;
    /// Spends a reset link: sets the password, ends every session (with `revoke_tokens`, every
    /// personal access token too) and spends the account's other links. Unknown, used or
    /// expired links are `NotFound`.
    async fn confirm_password_reset(
        &self,
        hash: [u8; 32],
        password_hash: String,
        revoke_tokens: bool,
    ) -> StoreResult<User>;
    async fn list_users(&self, q: Option<&str>, page: &Page) -> StoreResult<Vec<User>>;
    /// Records an email verification link for the account's current address (`Conflict` when
    /// it is verified already; `None` for an account that cannot sign in).
    async fn create_email_verification(
        &self,
        user: Uuid,
        hash: [u8; 32],
        expires_at: Timestamp,
    ) -> StoreResult<Option<User>>;
    /// The active, non-service account with this email.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// Spends a verification link once and marks the address verified.
    async fn confirm_email_verification(&self, hash: [u8; 32]) -> StoreResult<User>;
    /// Deletes a user with their memberships and tokens; refused if they are a last owner.
    async fn delete_user(&self, id: Uuid) -> StoreResult<()>;
    async fn create_token(&self, new: NewToken) -> StoreResult<Uuid>;
    async fn authenticate(
        &self,
        hash: [u8; 32],
        now: Timestamp,
    ) -> StoreResult<Option<Authenticated>>;
    async fn delete_token(&self, id: Uuid) -> StoreResult<bool>;

    // Organizations.
    async fn create_organization(
        &self,
        new: NewOrganization,
        cap: Option<u32>,
    ) -> StoreResult<Uuid>;
    async fn organization_access(
        &self,
        key: &OrgKey,
        user: Uuid,
    ) -> StoreResult<Option<OrgAccessRow>>;
    async fn organization(&self, id: Uuid, viewer: Uuid) -> StoreResult<Option<Organization>>;
    async fn list_organizations(
        &self,
        filter: &OrgFilter,
        page: &Page,
    ) -> StoreResult<Vec<Organization>>;
    /// Applies a change after checking, inside the transaction, that `actor` may make it.
    async fn update_organization(&self, id: Uuid, actor: Actor, patch: OrgPatch)
    -> StoreResult<()>;
    async fn delete_organization(&self, id: Uuid, actor: Actor) -> StoreResult<()>;

    // Members.
    async fn list_members(
        &self,
        org: Uuid,
        filter: &MemberFilter,
        page: &Page,
    ) -> StoreResult<Vec<Member>>;
    async fn member(&self, org: Uuid, user: Uuid) -> StoreResult<Option<Member>>;
    async fn add_member(
        &self,
        org: Uuid,
        actor: Actor,
        target: MemberTarget,
        role: String,
    ) -> StoreResult<Member>;
    async fn change_member_role(
        &self,
        org: Uuid,
        actor: Actor,
        user: Uuid,
        change: RoleChange,
    ) -> StoreResult<Member>;
    /// Removes a member (or lets `actor` leave when `user` is the actor) with its cascade.
    async fn remove_member(&self, org: Uuid, actor: Actor, user: Uuid) -> StoreResult<()>;
}

/// Opens the store named by the URL's scheme and applies pending migrations.
pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(
            sqlite::SqlStore::connect(url, max_connections).await?,
        ))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(
            postgres::SqlStore::connect(url, max_connections).await?,
        ))
    } else {
        Err(StoreError::Invalid(
            "the database URL must start with sqlite: or postgres:".into(),
        ))
    }
}

/// A LIKE pattern matching `s` as a case-insensitive substring (`\` escapes).
pub fn like_pattern(s: &str) -> String {
    let mut p = String::from("%");
    for c in s.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

impl From<crate::domain::membership::Refusal> for StoreError {
    fn from(r: crate::domain::membership::Refusal) -> Self {
        use crate::domain::membership::Refusal;
        match r {
            Refusal::LastOwner => StoreError::LastOwner,
            Refusal::Forbidden(m) => StoreError::Forbidden(m.into()),
            Refusal::Invalid(m) => StoreError::Invalid(m.into()),
        }
    }
}

/// Maps a database error to a store error: unique violations become conflicts, lost
/// connections and exhausted pools become `Unavailable`, the rest is internal.
pub(crate) fn map_sqlx(e: sqlx::Error) -> StoreError {
    use sqlx::error::ErrorKind;
    match &e {
        sqlx::Error::Database(db) => {
            if matches!(db.kind(), ErrorKind::UniqueViolation) {
                let what = format!("{} {}", db.constraint().unwrap_or(""), db.message());
                let msg = if what.contains("email") {
                    "email is already taken"
                } else if what.contains("username") {
                    "username is already taken"
                } else if what.contains("slug") {
                    "slug is already taken"
                } else if what.contains("memberships") {
                    "already a member"
                } else {
                    "the resource already exists"
                };
                return StoreError::Conflict(msg.into());
            }
            // A parent removed by a concurrent request (every write locks its organization
            // first, so this is a safety net): the thing it belonged to is gone.
            if matches!(db.kind(), ErrorKind::ForeignKeyViolation) {
                return StoreError::NotFound("Resource");
            }
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            // Deadlock or serialization failure (PostgreSQL 40P01, 40001): a race between
            // clients, never an internal error. The documented lock order keeps it from happening.
            if code == "40P01" || code == "40001" {
                return StoreError::Conflict(
                    "a concurrent change interfered with this request; retry it".into(),
                );
            }
            // PostgreSQL: connection exceptions (08…), shutdown (57P01-57P03), too many
            // connections (53300), read-only (25006). SQLite: busy (5), locked (6), read-only
            // (8), I/O (10), full (13), cannot open (14).
            let transient = code.starts_with("08")
                || code.starts_with("57P")
                || code == "53300"
                || code == "25006"
                || [
                    "5", "6", "8", "10", "13", "14", "261", "517", "1032", "266", "778",
                ]
                .contains(&code.as_str());
            if transient {
                StoreError::Unavailable(e.to_string())
            } else {
                StoreError::Internal(e.to_string())
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Internal(e.to_string()),
    }
}

/// Tokens, service accounts, invitations, projects and applications.
#[async_trait]
pub trait Resources: Send + Sync + 'static {
    async fn list_tokens(&self, user: Uuid) -> StoreResult<Vec<TokenInfo>>;
    /// `user`'s live sessions, newest first.
    async fn list_sessions(&self, user: Uuid) -> StoreResult<Vec<TokenInfo>>;
    async fn token_info(&self, user: Uuid, id: Uuid) -> StoreResult<Option<TokenInfo>>;
    /// Deletes one of `user`'s tokens.
    async fn revoke_token(&self, user: Uuid, id: Uuid) -> StoreResult<bool>;

    /// Creates a service account that is a member of `org` with `role`.
    async fn create_service_account(
        &self,
        org: Uuid,
        actor: Actor,
        username: Option<String>,
        name: String,
        role: String,
    ) -> StoreResult<(User, Member)>;
    async fn list_service_accounts(&self, org: Uuid) -> StoreResult<Vec<Member>>;
    /// Deletes a service account of `org` (with its tokens and memberships).
    async fn delete_service_account(&self, org: Uuid, actor: Actor, user: Uuid) -> StoreResult<()>;
    /// Issues a token for a service account of `org`, scoped to it. The actor's role must be
    /// at least the service account's: an admin cannot borrow an owner's powers.
    async fn issue_service_account_token(
        &self,
        org: Uuid,
        actor: Actor,
        new: NewToken,
    ) -> StoreResult<Uuid>;

    /// Creates an invitation, or refreshes the pending one for the same email (`true`).
    /// The tokens of service account `account` scoped to `org` (owners and admins with at least
    /// the account's role).
    async fn service_account_tokens(
        &self,
        org: Uuid,
        actor: Actor,
        account: Uuid,
    ) -> StoreResult<Vec<TokenInfo>>;
    async fn revoke_service_account_token(
        &self,
        org: Uuid,
        actor: Actor,
        account: Uuid,
        id: Uuid,
    ) -> StoreResult<()>;
    async fn create_invitation(
        &self,
        new: NewInvitation,
        actor: Actor,
    ) -> StoreResult<(Invitation, bool)>;
    async fn list_invitations(&self, org: Uuid, page: &Page) -> StoreResult<Vec<Invitation>>;
    async fn invitation(&self, org: Uuid, id: Uuid) -> StoreResult<Option<Invitation>>;
    /// Revokes a pending invitation; the actor needs the power to grant its role.
    async fn revoke_invitation(&self, org: Uuid, actor: Actor, id: Uuid) -> StoreResult<()>;
    /// Gives a pending invitation a new token (and, with `expires_at`, a new expiry); the actor
    /// needs the power to grant its role.
    async fn rotate_invitation(
        &self,
        org: Uuid,
        actor: Actor,
        id: Uuid,
        hash: [u8; 32],
        expires_at: Option<Timestamp>,
    ) -> StoreResult<Invitation>;
    async fn record_delivery(
        &self,
        id: Uuid,
        delivery: &str,
        error: Option<String>,
        next_attempt_at: Option<Timestamp>,
    ) -> StoreResult<()>;
    async fn due_deliveries(&self, now: Timestamp, limit: i64) -> StoreResult<Vec<DueDelivery>>;
    /// Gives a due invitation a new token for the next delivery attempt.
    async fn rotate_for_delivery(&self, id: Uuid, hash: [u8; 32]) -> StoreResult<bool>;
    async fn invitations_for_email(&self, email: &str) -> StoreResult<Vec<Invitation>>;
    /// Accepts the pending invitation with this token, once; returns the member and the org.
    async fn accept_invitation(
        &self,
        hash: [u8; 32],
        invitee: Invitee,
    ) -> StoreResult<(User, Uuid)>;
    async fn decline_invitation(&self, hash: [u8; 32], user: Option<Uuid>) -> StoreResult<()>;
    /// The token hash of invitation `id`: its invitee, signed in with the verified invited
    /// address, answers it without the link.
    async fn invitation_hash(&self, id: Uuid) -> StoreResult<Option<[u8; 32]>>;

    async fn create_project(
        &self,
        org: Uuid,
        name: String,
        slug: Option<String>,
        description: Option<String>,
    ) -> StoreResult<Project>;
    async fn list_projects(&self, org: Uuid, page: &Page) -> StoreResult<Vec<Project>>;
    async fn project(&self, org: Uuid, id: Uuid) -> StoreResult<Option<Project>>;
    async fn update_project(
        &self,
        org: Uuid,
        id: Uuid,
        patch: ProjectPatch,
    ) -> StoreResult<Project>;
    async fn delete_project(&self, org: Uuid, id: Uuid) -> StoreResult<()>;
    async fn project_role(&self, project: Uuid, user: Uuid) -> StoreResult<Option<ProjectRole>>;
    async fn list_project_members(
        &self,
        org: Uuid,
        project: Uuid,
        page: &Page,
    ) -> StoreResult<Vec<ProjectMember>>;
    /// Adds an organization member to a project.
    async fn add_project_member(
        &self,
        org: Uuid,
        project: Uuid,
        user: Uuid,
        role: ProjectRole,
    ) -> StoreResult<ProjectMember>;
    async fn update_project_member(
        &self,
        org: Uuid,
        project: Uuid,
        user: Uuid,
        role: ProjectRole,
    ) -> StoreResult<ProjectMember>;
    async fn remove_project_member(&self, org: Uuid, project: Uuid, user: Uuid) -> StoreResult<()>;

    async fn create_application(
        &self,
        org: Uuid,
        name: String,
        project: Option<Uuid>,
        description: Option<String>,
    ) -> StoreResult<Application>;
    async fn list_applications(&self, org: Uuid, page: &Page) -> StoreResult<Vec<Application>>;
    async fn application(&self, org: Uuid, id: Uuid) -> StoreResult<Option<Application>>;
    async fn update_application(
        &self,
        org: Uuid,
        id: Uuid,
        patch: ApplicationPatch,
    ) -> StoreResult<Application>;
    async fn delete_application(&self, org: Uuid, id: Uuid) -> StoreResult<()>;
}

/// Custom roles and registered application permissions.
#[async_trait]
pub trait Roles: Send + Sync + 'static {
    /// The built-in roles, then the organization's custom roles by key, with their use.
    async fn list_roles(&self, org: Uuid) -> StoreResult<Vec<RoleInfo>>;
    async fn role(&self, org: Uuid, key: &str) -> StoreResult<Option<RoleInfo>>;
    /// Defines a custom role; the actor holds every permission it grants.
    async fn create_role(&self, org: Uuid, actor: Actor, new: NewRole) -> StoreResult<RoleInfo>;
    /// Redefines a custom role; the actor holds every permission it granted and will grant.
    async fn update_role(
        &self,
        org: Uuid,
        actor: Actor,
        key: &str,
        patch: RolePatch,
    ) -> StoreResult<RoleInfo>;
    /// Deletes a custom role, moving its members and pending invitations to `replacement`
    /// (required when there are any). Returns the number of members moved.
    async fn delete_role(
        &self,
        org: Uuid,
        actor: Actor,
        key: &str,
        replacement: Option<&str>,
    ) -> StoreResult<i64>;
    /// The application permissions registered for the installation and, with `org`, for that
    /// organization.
    async fn app_permissions(&self, org: Option<Uuid>) -> StoreResult<Arc<Vec<PermissionInfo>>>;
    /// Registers an application permission for `org`, or for the installation with `None`.
    async fn register_permission(
        &self,
        org: Option<Uuid>,
        actor: Actor,
        key: String,
        description: Option<String>,
    ) -> StoreResult<PermissionInfo>;
    /// Removes a registered application permission; refused while a role grants it.
    async fn remove_permission(
        &self,
        org: Option<Uuid>,
        actor: Actor,
        key: &str,
    ) -> StoreResult<()>;
}

/// Plans in force, licenses and deployments.
#[async_trait]
pub trait Licenses: Send + Sync + 'static {
    /// The plans and clock the limits follow (the state sets them at start).
    fn set_licensing(&self, licensing: Arc<Licensing>);
    fn licensing(&self) -> Arc<Licensing>;
    async fn create_license(&self, new: NewLicense) -> StoreResult<License>;
    async fn list_licenses(&self, f: &LicenseFilter, page: &Page) -> StoreResult<Vec<License>>;
    async fn license(&self, id: Uuid) -> StoreResult<Option<License>>;
    async fn update_license(&self, id: Uuid, patch: LicensePatch) -> StoreResult<License>;
    /// Revokes at once; the holder is on the free plan from then on.
    async fn revoke_license(&self, id: Uuid) -> StoreResult<License>;
    async fn organization_license(&self, org: Uuid) -> StoreResult<OrganizationLicense>;
    /// Attaches a license (replacing the current one): by id for superusers, by key for owners.
    async fn attach_license(&self, org: Uuid, actor: Actor, which: LicenseRef) -> StoreResult<()>;
    /// Back to the free plan; owners and superusers.
    async fn detach_license(&self, org: Uuid, actor: Actor) -> StoreResult<()>;
    /// `None` for a key that is unknown, revoked, expired or not yet started.
    async fn register_deployment(
        &self,
        key: [u8; 32],
        new: NewDeployment,
    ) -> StoreResult<Option<Deployment>>;
    /// `None` when the token is not the deployment's.
    async fn heartbeat(
        &self,
        id: Uuid,
        token: [u8; 32],
        version: String,
    ) -> StoreResult<Option<(Deployment, License)>>;
    async fn list_deployments(&self, org: Uuid, page: &Page) -> StoreResult<Vec<Deployment>>;
    async fn delete_deployment(&self, org: Uuid, id: Uuid) -> StoreResult<()>;
}

/// Webhook endpoints and their deliveries. `scope` is the organization whose endpoints are
/// meant, or `None` for the installation's (superusers); an endpoint of another scope is not
/// found.
#[async_trait]
pub trait Webhooks: Send + Sync + 'static {
    async fn create_webhook(&self, scope: Option<Uuid>, new: NewWebhook) -> StoreResult<Webhook>;
    async fn list_webhooks(&self, scope: Option<Uuid>, page: &Page) -> StoreResult<Vec<Webhook>>;
    async fn webhook(&self, scope: Option<Uuid>, id: Uuid) -> StoreResult<Option<Webhook>>;
    async fn update_webhook(
        &self,
        scope: Option<Uuid>,
        id: Uuid,
        patch: WebhookPatch,
    ) -> StoreResult<Webhook>;
    async fn delete_webhook(&self, scope: Option<Uuid>, id: Uuid) -> StoreResult<()>;
    /// Replaces the signing secret; the current one keeps signing until `overlap_until`.
    async fn rotate_webhook_secret(
        &self,
        scope: Option<Uuid>,
        id: Uuid,
        secret: String,
        overlap_until: Timestamp,
    ) -> StoreResult<Webhook>;
    /// An endpoint's deliveries, newest first (`page.after`: older than that delivery).
    async fn webhook_deliveries(
        &self,
        scope: Option<Uuid>,
        webhook: Uuid,
        status: Option<DeliveryStatus>,
        page: &Page,
    ) -> StoreResult<Vec<WebhookDelivery>>;
    /// A delivery and the body it is sent with.
    async fn webhook_delivery(
        &self,
        scope: Option<Uuid>,
        webhook: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<(WebhookDelivery, String)>>;
    /// Makes a finished delivery due again now, for one more attempt.
    async fn retry_webhook_delivery(
        &self,
        scope: Option<Uuid>,
        webhook: Uuid,
        id: Uuid,
    ) -> StoreResult<WebhookDelivery>;
    /// Queues a test event for one endpoint.
    async fn ping_webhook(
        &self,
        scope: Option<Uuid>,
        webhook: Uuid,
    ) -> StoreResult<WebhookDelivery>;
    /// Claims up to `limit` due deliveries of enabled endpoints for this node, for `lease`.
    async fn claim_webhook_deliveries(
        &self,
        limit: i64,
        lease: std::time::Duration,
    ) -> StoreResult<Vec<crate::webhooks::Claimed>>;
    /// Deletes up to `batch` finished deliveries made before `cutoff`; answers how many went.
    async fn purge_webhook_deliveries(&self, cutoff: Timestamp, batch: i64) -> StoreResult<u64>;
    /// Records an attempt at a claimed delivery.
    async fn finish_webhook_delivery(
        &self,
        delivery: &crate::webhooks::Claimed,
        attempt: &crate::webhooks::Attempt,
    ) -> StoreResult<()>;
}

/// SSO: an organization's domains and OpenID Connect providers, sign-ins under way, and the
/// sign-in itself.
#[async_trait]
pub trait Sso: Send + Sync + 'static {
    async fn list_domains(&self, org: Uuid) -> StoreResult<Vec<OrgDomain>>;
    async fn domain(&self, org: Uuid, id: Uuid) -> StoreResult<Option<OrgDomain>>;
    async fn add_domain(&self, org: Uuid, domain: String, token: String) -> StoreResult<OrgDomain>;
    /// Marks a domain verified (`by`: `http` or `superuser`); `409` when another organization
    /// has verified it.
    async fn verify_domain(&self, org: Uuid, id: Uuid, by: &str) -> StoreResult<OrgDomain>;
    /// `409` while a provider names it.
    async fn delete_domain(&self, org: Uuid, id: Uuid) -> StoreResult<()>;
    /// The provider is checked under the organization's lock: its domains verified here, its
    /// default role one the actor may grant (never `owner`).
    async fn create_sso_provider(
        &self,
        org: Uuid,
        actor: Actor,
        new: NewSsoProvider,
    ) -> StoreResult<SsoProvider>;
    async fn list_sso_providers(&self, org: Uuid) -> StoreResult<Vec<SsoProvider>>;
    async fn sso_provider(&self, org: Uuid, id: Uuid) -> StoreResult<Option<SsoProvider>>;
    async fn update_sso_provider(
        &self,
        org: Uuid,
        actor: Actor,
        id: Uuid,
        patch: SsoProviderPatch,
    ) -> StoreResult<SsoProvider>;
    async fn delete_sso_provider(&self, org: Uuid, id: Uuid) -> StoreResult<()>;
    /// A provider with its sealed secret, by id, for a sign-in.
    async fn sso_login_provider(&self, id: Uuid) -> StoreResult<Option<(SsoProvider, Vec<u8>)>>;
    /// The provider that signs in users of `domain` (verified by its organization).
    async fn sso_provider_for_domain(&self, domain: &str) -> StoreResult<Option<Uuid>>;
    /// The first provider of an organization (by id or slug).
    async fn sso_provider_for_organization(&self, key: &OrgKey) -> StoreResult<Option<Uuid>>;
    async fn create_sso_state(
        &self,
        hash: [u8; 32],
        state: SsoState,
        expires_at: Timestamp,
    ) -> StoreResult<()>;
    /// The state of a sign-in, once: it is deleted as it is read; an expired one is `None`.
    async fn take_sso_state(&self, hash: [u8; 32], now: Timestamp)
    -> StoreResult<Option<SsoState>>;
    /// Signs in who `provider` vouches for, in one transaction: the user linked to the
    /// identity, else the user with that email (linked now), else a new user; with just-in-time
    /// provisioning, a membership of the provider's organization. Then a session token marked
    /// with the provider. The email's domain must be one of the provider's verified domains.
    async fn sso_sign_in(
        &self,
        provider: Uuid,
        identity: SsoIdentity,
        session: NewToken,
    ) -> StoreResult<User>;
    /// The providers forcing SSO in an organization (cached; follows every change at once).
    async fn sso_enforcement(&self, org: Uuid) -> StoreResult<Arc<Vec<Enforcement>>>;
}

/// The audit log.
#[async_trait]
pub trait AuditLog: Send + Sync + 'static {
    /// Writes the entry of a refused attempt (entries of changes go in with the change).
    async fn record_audit(&self, entry: crate::audit::Entry) -> StoreResult<()>;
    /// Entries newest first, older than `before`, at most `limit`.
    async fn audit_log(
        &self,
        f: &AuditFilter,
        before: Option<Uuid>,
        limit: i64,
    ) -> StoreResult<Vec<crate::audit::Entry>>;
    /// Deletes up to `batch` entries older than `cutoff`; answers how many.
    async fn purge_audit(&self, cutoff: Timestamp, batch: i64) -> StoreResult<u64>;
}

#[async_trait]
pub trait Bulk: Send + Sync + 'static {
    /// Inserts a batch in one transaction with multi-row statements.
    async fn load(&self, batch: SeedBatch) -> StoreResult<()>;
    /// Refreshes the planner's statistics after a bulk load.
    async fn analyze(&self) -> StoreResult<()>;
}
