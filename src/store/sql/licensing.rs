//! Licenses, the plan limits every addition is checked against inside its own transaction, an
//! organization's license, and the deployments registered under a license.

use sqlx::FromRow;
use sqlx::types::Json;
use uuid::Uuid;

use crate::authz::Actor;
use crate::domain::Timestamp;
use crate::domain::paging::{Cursor, Page};
use crate::domain::plans::{LicenseStatus, LicenseTerms, PlanName, Resource, Standing};
use crate::store::{
    Deployment, DeploymentStatus, License, LicenseFilter, LicensePatch, LicenseRef, NewDeployment,
    NewLicense, OrganizationLicense, StoreError, StoreResult, Usage,
};

use super::engine::LOCK_LICENSE;
use super::tx::{Tx, actor_grant, begin_write, commit, lock_org};
use super::{SqlStore, err};

/// What is being added, for the limit it counts against.
#[derive(Debug, Clone, Copy)]
pub(super) enum Addition {
    /// A membership of this user: a seat, unless the user is a service account on a plan where
    /// service accounts take none.
    Member(Uuid),
    Project,
    Application,
    Token,
    ServiceAccount,
}

#[derive(FromRow)]
struct TermsRow {
    active: bool,
    plan: Option<String>,
    seats: Option<i64>,
    trial: Option<bool>,
    starts_at: Option<Timestamp>,
    expires_at: Option<Timestamp>,
    revoked_at: Option<Timestamp>,
}

impl TermsRow {
    fn terms(&self) -> Option<LicenseTerms> {
        Some(LicenseTerms {
            plan: PlanName::parse(self.plan.as_deref()?)?,
            seats: self.seats,
            trial: self.trial.unwrap_or(false),
            starts_at: self.starts_at?,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
        })
    }
}

/// The organization's standing now, and whether it is active, read under its lock.
async fn standing(tx: &mut Tx, org: Uuid) -> StoreResult<(Standing, bool)> {
    let row: TermsRow = sqlx::query_as(
        "SELECT o.active, l.plan, l.seats, l.trial, l.starts_at, l.expires_at, l.revoked_at \
         FROM organizations o LEFT JOIN licenses l ON l.organization_id = o.id WHERE o.id = $1",
    )
    .bind(org)
    .fetch_optional(&mut **tx)
    .await
    .map_err(err)?
    .ok_or(StoreError::NotFound("Organization"))?;
    let now = tx.licensing.clock.now();
    let standing = Standing::at(&tx.licensing.plans, row.terms().as_ref(), now);
    Ok((standing, row.active))
}

/// Checks, under the organization lock the caller holds, that one more `what` fits the plan in
/// force and that the organization is active; the count and the addition happen in the same
/// transaction, so concurrent additions cannot overshoot.
pub(super) async fn admit(tx: &mut Tx, org: Uuid, what: Addition) -> StoreResult<()> {
    let (standing, active) = standing(tx, org).await?;
    if !active {
        return Err(StoreError::Inactive);
    }
    let resource = match what {
        Addition::Member(user) => {
            let service_account: Option<bool> =
                sqlx::query_scalar("SELECT is_service_account FROM users WHERE id = $1")
                    .bind(user)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(err)?;
            if service_account == Some(true) && !standing.service_accounts_take_seats {
                return Ok(());
            }
            Resource::Members
        }
        Addition::Project => Resource::Projects,
        Addition::Application => Resource::Applications,
        Addition::Token => Resource::Tokens,
        Addition::ServiceAccount => Resource::ServiceAccounts,
    };
    if standing.limits.of(resource).is_none() {
        return Ok(());
    }
    let usage = count(
        &mut **tx,
        org,
        resource,
        standing.service_accounts_take_seats,
    )
    .await?;
    standing
        .admit(resource, usage)
        .map_err(StoreError::PlanLimit)
}

/// What the organization uses of `resource`, counted now: the one definition of usage, for the
/// limits (in the adding transaction) and for `GET …/license`.
async fn count<'e, E>(
    db: E,
    org: Uuid,
    resource: Resource,
    service_accounts_take_seats: bool,
) -> StoreResult<i64>
where
    E: sqlx::Executor<'e, Database = super::Db>,
{
    let q = match resource {
        Resource::Members => sqlx::query_scalar(
            "SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.organization_id = $1 AND u.is_active AND ($2 OR NOT u.is_service_account)",
        )
        .bind(org)
        .bind(service_accounts_take_seats),
        Resource::Projects => {
            sqlx::query_scalar("SELECT COUNT(*) FROM projects WHERE organization_id = $1").bind(org)
        }
        Resource::Applications => {
            sqlx::query_scalar("SELECT COUNT(*) FROM applications WHERE organization_id = $1")
                .bind(org)
        }
        Resource::ServiceAccounts => sqlx::query_scalar(
            "SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.organization_id = $1 AND u.is_service_account",
        )
        .bind(org),
        Resource::Tokens => sqlx::query_scalar(
            "SELECT COUNT(*) FROM tokens WHERE organization_id = $1 \
             AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(org)
        .bind(Timestamp::now()),
        Resource::Deployments => sqlx::query_scalar(
            "SELECT COUNT(*) FROM deployments d JOIN licenses l ON l.id = d.license_id \
             WHERE l.organization_id = $1",
        )
        .bind(org),
    };
    q.fetch_one(db).await.map_err(err)
}

macro_rules! license_select {
    ($where:literal) => {
        concat!(
            "SELECT l.id, l.key_hint, l.name, l.plan, l.seats, l.features, \
             l.trial, l.max_deployments, l.starts_at, l.expires_at, l.revoked_at, \
             l.organization_id, \
             (SELECT COUNT(*) FROM deployments d WHERE d.license_id = l.id) AS deployment_count, \
             l.created_at, l.updated_at FROM licenses l ",
            $where
        )
    };
}

const LICENSE_BY_ID: &str = license_select!("WHERE l.id = $1");
const LICENSE_OF_ORG: &str = license_select!("WHERE l.organization_id = $1");
const LICENSE_SELECT: &str = license_select!("");

#[derive(FromRow)]
struct LicenseRow {
    id: Uuid,
    key_hint: String,
    name: Option<String>,
    plan: String,
    seats: Option<i64>,
    #[sqlx(json)]
    features: Vec<String>,
    trial: bool,
    max_deployments: Option<i64>,
    starts_at: Timestamp,
    expires_at: Option<Timestamp>,
    revoked_at: Option<Timestamp>,
    organization_id: Option<Uuid>,
    deployment_count: i64,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl LicenseRow {
    fn at(self, now: Timestamp) -> License {
        let mut l = License {
            id: self.id,
            key_hint: self.key_hint,
            name: self.name,
            plan: PlanName::parse(&self.plan).unwrap_or(PlanName::Free),
            seats: self.seats,
            features: self.features,
            trial: self.trial,
            max_deployments: self.max_deployments,
            starts_at: self.starts_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
            status: LicenseStatus::Active,
            organization_id: self.organization_id,
            deployment_count: self.deployment_count,
            created_at: self.created_at,
            updated_at: self.updated_at,
        };
        l.status = l.terms().status(now);
        l
    }
}

async fn license_in(tx: &mut Tx, id: Uuid) -> StoreResult<License> {
    let now = tx.licensing.clock.now();
    let row: LicenseRow = sqlx::query_as(LICENSE_BY_ID)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(err)?
        .ok_or(StoreError::NotFound("License"))?;
    Ok(row.at(now))
}

/// Locks a license row for the rest of the transaction (PostgreSQL `FOR UPDATE`; SQLite's write
/// transaction holds the database's write lock already).
async fn lock_license(tx: &mut Tx, id: Uuid) -> StoreResult<()> {
    sqlx::query(LOCK_LICENSE)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(err)?
        .map(|_| ())
        .ok_or(StoreError::NotFound("License"))
}

/// The cached views of the organization holding the license go stale with it.
fn touch_holder(tx: &mut Tx, license: &License) {
    if let Some(org) = license.organization_id {
        tx.touch(crate::store::cache::Tag::Org(org));
        tx.touch(crate::store::cache::Tag::AllOrgs);
    }
}

pub(super) async fn create_license(store: &SqlStore, new: NewLicense) -> StoreResult<License> {
    let mut tx = begin_write(store).await?;
    let id = Uuid::now_v7();
    let now = Timestamp::now();
    crate::audit::target("license", id);
    sqlx::query(
        "INSERT INTO licenses (id, key_hash, key_hint, name, plan, seats, features, trial, \
         max_deployments, starts_at, expires_at, revoked_at, organization_id, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, NULL, $12, $12)",
    )
    .bind(id)
    .bind(&new.key_hash[..])
    .bind(&new.key_hint)
    .bind(&new.name)
    .bind(new.plan.as_str())
    .bind(new.seats)
    .bind(Json(&new.features))
    .bind(new.trial)
    .bind(new.max_deployments)
    .bind(new.starts_at)
    .bind(new.expires_at)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    if let Some(org) = new.organization_id {
        lock_org(&mut tx, org).await?;
        hold(&mut tx, org, id).await?;
    }
    let license = license_in(&mut tx, id).await?;
    commit(tx).await?;
    Ok(license)
}

/// Makes `license` the organization's one license, releasing any other it held; refused when
/// the license belongs to another organization. Runs under both locks.
async fn hold(tx: &mut Tx, org: Uuid, license: Uuid) -> StoreResult<()> {
    sqlx::query(
        "UPDATE licenses SET organization_id = NULL, updated_at = $3 \
         WHERE organization_id = $1 AND id <> $2",
    )
    .bind(org)
    .bind(license)
    .bind(Timestamp::now())
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    let taken = sqlx::query(
        "UPDATE licenses SET organization_id = $1, updated_at = $3 \
         WHERE id = $2 AND (organization_id IS NULL OR organization_id = $1)",
    )
    .bind(org)
    .bind(license)
    .bind(Timestamp::now())
    .execute(&mut **tx)
    .await
    .map_err(err)?
    .rows_affected();
    if taken == 0 {
        return Err(StoreError::Conflict(
            "the license belongs to another organization".into(),
        ));
    }
    Ok(())
}

pub(super) async fn list_licenses(
    store: &SqlStore,
    f: &LicenseFilter,
    page: &Page,
) -> StoreResult<Vec<License>> {
    let now = store.licensing().clock.now();
    let mut q = sqlx::QueryBuilder::<super::Db>::new(LICENSE_SELECT);
    q.push("WHERE 1 = 1");
    if let Some(plan) = f.plan {
        q.push(" AND l.plan = ").push_bind(plan.as_str());
    }
    if let Some(org) = f.organization_id {
        q.push(" AND l.organization_id = ").push_bind(org);
    }
    if let Some(Cursor::Id(after)) = page.after {
        q.push(" AND l.id > ").push_bind(after);
    }
    q.push(" ORDER BY l.id");
    super::push_page(&mut q, page);
    let rows: Vec<LicenseRow> = q
        .build_query_as()
        .fetch_all(&store.pool)
        .await
        .map_err(err)?;
    Ok(rows.into_iter().map(|r| r.at(now)).collect())
}

pub(super) async fn license(store: &SqlStore, id: Uuid) -> StoreResult<Option<License>> {
    let now = store.licensing().clock.now();
    let row: Option<LicenseRow> = sqlx::query_as(LICENSE_BY_ID)
        .bind(id)
        .fetch_optional(&store.pool)
        .await
        .map_err(err)?;
    Ok(row.map(|r| r.at(now)))
}

pub(super) async fn update_license(
    store: &SqlStore,
    id: Uuid,
    patch: LicensePatch,
) -> StoreResult<License> {
    let mut tx = begin_write(store).await?;
    lock_license(&mut tx, id).await?;
    let mut l = license_in(&mut tx, id).await?;
    if l.revoked_at.is_some() {
        return Err(StoreError::Conflict(
            "a revoked license cannot be changed".into(),
        ));
    }
    if let Some(v) = patch.name {
        crate::audit::change("name", &l.name, &v);
        l.name = v;
    }
    if let Some(v) = patch.plan {
        crate::audit::change("plan", &l.plan, &v);
        l.plan = v;
    }
    if let Some(v) = patch.seats {
        crate::audit::change("seats", &l.seats, &v);
        l.seats = v;
    }
    if let Some(v) = patch.features {
        crate::audit::change("features", &l.features, &v);
        l.features = v;
    }
    if let Some(v) = patch.trial {
        crate::audit::change("trial", &l.trial, &v);
        l.trial = v;
    }
    if let Some(v) = patch.max_deployments {
        crate::audit::change("max_deployments", &l.max_deployments, &v);
        l.max_deployments = v;
    }
    if let Some(v) = patch.starts_at {
        crate::audit::change("starts_at", &l.starts_at, &v);
        l.starts_at = v;
    }
    if let Some(v) = patch.expires_at {
        crate::audit::change("expires_at", &l.expires_at, &v);
        l.expires_at = v;
    }
    if l.expires_at.is_some_and(|e| e <= l.starts_at) {
        return Err(StoreError::Invalid(
            "expires_at must be after starts_at".into(),
        ));
    }
    sqlx::query(
        "UPDATE licenses SET name = $1, plan = $2, seats = $3, features = $4, trial = $5, \
         max_deployments = $6, starts_at = $7, expires_at = $8, updated_at = $9 WHERE id = $10",
    )
    .bind(&l.name)
    .bind(l.plan.as_str())
    .bind(l.seats)
    .bind(Json(&l.features))
    .bind(l.trial)
    .bind(l.max_deployments)
    .bind(l.starts_at)
    .bind(l.expires_at)
    .bind(Timestamp::now())
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    touch_holder(&mut tx, &l);
    let license = license_in(&mut tx, id).await?;
    commit(tx).await?;
    Ok(license)
}

/// Revokes a license at once (kept for the record; its organization is on the free plan from
/// now on). Revoking again changes nothing.
pub(super) async fn revoke_license(store: &SqlStore, id: Uuid) -> StoreResult<License> {
    let mut tx = begin_write(store).await?;
    lock_license(&mut tx, id).await?;
    let l = license_in(&mut tx, id).await?;
    if l.revoked_at.is_none() {
        sqlx::query("UPDATE licenses SET revoked_at = $1, updated_at = $1 WHERE id = $2")
            .bind(tx.licensing.clock.now())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        touch_holder(&mut tx, &l);
    }
    let license = license_in(&mut tx, id).await?;
    commit(tx).await?;
    Ok(license)
}

pub(super) async fn organization_license(
    store: &SqlStore,
    org: Uuid,
) -> StoreResult<OrganizationLicense> {
    let licensing = store.licensing();
    let now = licensing.clock.now();
    let license: Option<License> = sqlx::query_as::<_, LicenseRow>(LICENSE_OF_ORG)
        .bind(org)
        .fetch_optional(&store.pool)
        .await
        .map_err(err)?
        .map(|r| r.at(now));
    let terms = license.as_ref().map(License::terms);
    let standing = Standing::at(&licensing.plans, terms.as_ref(), now);
    let seats_flag = standing.service_accounts_take_seats;
    let used = |r| count(&store.pool, org, r, seats_flag);
    let usage = Usage {
        members: used(Resource::Members).await?,
        projects: used(Resource::Projects).await?,
        applications: used(Resource::Applications).await?,
        tokens: used(Resource::Tokens).await?,
        service_accounts: used(Resource::ServiceAccounts).await?,
        deployments: used(Resource::Deployments).await?,
    };
    let in_force = license
        .as_ref()
        .filter(|l| l.status == LicenseStatus::Active);
    Ok(OrganizationLicense {
        plan: standing.plan,
        has_active_subscription: standing.has_active_subscription,
        trial_expiry: standing.trial_expiry,
        limits: standing.limits,
        max_deployments: in_force.and_then(|l| l.max_deployments),
        usage,
        features: match in_force {
            // A license's own features add to its plan's.
            Some(l) => {
                let mut f = standing.features.clone();
                for extra in &l.features {
                    if !f.contains(extra) {
                        f.push(extra.clone());
                    }
                }
                f
            }
            None => standing.features,
        },
        service_accounts_take_seats: standing.service_accounts_take_seats,
        license,
    })
}

/// Attaches a license to the organization, replacing its current one: by id (superusers) or by
/// key (an owner holding it). A key that is unknown, revoked or expired is refused alike.
pub(super) async fn attach_license(
    store: &SqlStore,
    org: Uuid,
    actor: Actor,
    which: LicenseRef,
) -> StoreResult<()> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    let grant = actor_grant(&mut tx, org, actor).await?;
    let superuser = matches!(actor, Actor::Superuser(_));
    if !grant.owner {
        return Err(StoreError::Forbidden(
            "Only an owner can attach a license".into(),
        ));
    }
    let (_, active) = standing(&mut tx, org).await?;
    if !active {
        return Err(StoreError::Inactive);
    }
    let id: Uuid = match which {
        LicenseRef::Id(id) => {
            if !superuser {
                return Err(StoreError::Forbidden(
                    "Only a superuser can attach a license by id; owners give its key".into(),
                ));
            }
            id
        }
        LicenseRef::Key(hash) => sqlx::query_scalar("SELECT id FROM licenses WHERE key_hash = $1")
            .bind(&hash[..])
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?
            .ok_or_else(invalid_key)?,
    };
    lock_license(&mut tx, id).await?;
    let license = license_in(&mut tx, id).await?;
    match (license.status, &which) {
        (LicenseStatus::Active | LicenseStatus::Scheduled, _) => {}
        (_, LicenseRef::Key(_)) => return Err(invalid_key()),
        (status, LicenseRef::Id(_)) => {
            return Err(StoreError::Conflict(format!(
                "the license is {}",
                if status == LicenseStatus::Revoked {
                    "revoked"
                } else {
                    "expired"
                }
            )));
        }
    }
    crate::audit::target("license", id);
    hold(&mut tx, org, id).await?;
    commit(tx).await
}

/// A key naming no usable license: unknown, revoked or expired alike.
fn invalid_key() -> StoreError {
    StoreError::NotFound("License")
}

/// Releases the organization's license: it is on the free plan again. Owners and superusers.
pub(super) async fn detach_license(store: &SqlStore, org: Uuid, actor: Actor) -> StoreResult<()> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    if !actor_grant(&mut tx, org, actor).await?.owner {
        return Err(StoreError::Forbidden(
            "Only an owner can remove the organization's license".into(),
        ));
    }
    let (_, active) = standing(&mut tx, org).await?;
    if !active {
        return Err(StoreError::Inactive);
    }
    let released = sqlx::query(
        "UPDATE licenses SET organization_id = NULL, updated_at = $2 WHERE organization_id = $1",
    )
    .bind(org)
    .bind(Timestamp::now())
    .execute(&mut *tx)
    .await
    .map_err(err)?
    .rows_affected();
    if released == 0 {
        return Err(StoreError::NotFound("License"));
    }
    commit(tx).await
}

#[derive(FromRow)]
struct DeploymentRow {
    id: Uuid,
    license_id: Uuid,
    name: String,
    hostname: String,
    version: String,
    last_seen_at: Timestamp,
    created_at: Timestamp,
}

macro_rules! deployment_select {
    ($where:literal) => {
        concat!(
            "SELECT d.id, d.license_id, d.name, d.hostname, d.version, d.last_seen_at, \
             d.created_at FROM deployments d ",
            $where
        )
    };
}

const DEPLOYMENT_SELECT: &str = deployment_select!("");
const DEPLOYMENT_BY_ID: &str = deployment_select!("WHERE d.id = $1");

impl DeploymentRow {
    fn at(self, now: Timestamp, stale_secs: i64) -> Deployment {
        let stale = now.0 - self.last_seen_at.0 > stale_secs.saturating_mul(1000);
        Deployment {
            id: self.id,
            license_id: self.license_id,
            name: self.name,
            hostname: self.hostname,
            version: self.version,
            status: if stale {
                DeploymentStatus::Stale
            } else {
                DeploymentStatus::Active
            },
            last_seen_at: self.last_seen_at,
            created_at: self.created_at,
        }
    }
}

/// Registers a deployment under the license whose key hash is `key`; `None` when the key is
/// unknown, revoked, expired or not yet started (the caller answers all alike).
pub(super) async fn register_deployment(
    store: &SqlStore,
    key: [u8; 32],
    new: NewDeployment,
) -> StoreResult<Option<Deployment>> {
    let mut tx = begin_write(store).await?;
    let found: Option<Uuid> = sqlx::query_scalar("SELECT id FROM licenses WHERE key_hash = $1")
        .bind(&key[..])
        .fetch_optional(&mut *tx)
        .await
        .map_err(err)?;
    let Some(id) = found else { return Ok(None) };
    // The cap holds against concurrent registrations: they queue on the license row.
    lock_license(&mut tx, id).await?;
    let license = license_in(&mut tx, id).await?;
    if license.status != LicenseStatus::Active {
        return Ok(None);
    }
    if let Some(max) = license.max_deployments
        && license.deployment_count >= max
    {
        return Err(StoreError::PlanLimit(crate::domain::plans::LimitReached {
            resource: Resource::Deployments,
            limit: max,
            usage: license.deployment_count,
            plan: license.plan,
        }));
    }
    let now = tx.licensing.clock.now();
    let deployment = Uuid::now_v7();
    crate::audit::target("deployment", deployment);
    sqlx::query(
        "INSERT INTO deployments (id, license_id, name, hostname, version, token_hash, \
         last_seen_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(deployment)
    .bind(id)
    .bind(&new.name)
    .bind(&new.hostname)
    .bind(&new.version)
    .bind(&new.token_hash[..])
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    let stale = tx.licensing.deployment_stale_secs;
    let row: DeploymentRow = sqlx::query_as(DEPLOYMENT_BY_ID)
        .bind(deployment)
        .fetch_one(&mut *tx)
        .await
        .map_err(err)?;
    commit(tx).await?;
    Ok(Some(row.at(now, stale)))
}

/// Records a heartbeat of the deployment `id` authenticated by its token's hash; `None` when
/// they do not match. Answers the deployment and its license as they stand now.
pub(super) async fn heartbeat(
    store: &SqlStore,
    id: Uuid,
    token: [u8; 32],
    version: String,
) -> StoreResult<Option<(Deployment, License)>> {
    let mut tx = begin_write(store).await?;
    let now = tx.licensing.clock.now();
    let updated = sqlx::query(
        "UPDATE deployments SET last_seen_at = $1, version = $2 WHERE id = $3 AND token_hash = $4",
    )
    .bind(now)
    .bind(&version)
    .bind(id)
    .bind(&token[..])
    .execute(&mut *tx)
    .await
    .map_err(err)?
    .rows_affected();
    if updated == 0 {
        return Ok(None);
    }
    let row: DeploymentRow = sqlx::query_as(DEPLOYMENT_BY_ID)
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(err)?;
    let license = license_in(&mut tx, row.license_id).await?;
    let stale = tx.licensing.deployment_stale_secs;
    commit(tx).await?;
    Ok(Some((row.at(now, stale), license)))
}

/// The deployments of the organization's license, oldest first.
pub(super) async fn list_deployments(
    store: &SqlStore,
    org: Uuid,
    page: &Page,
) -> StoreResult<Vec<Deployment>> {
    let licensing = store.licensing();
    let now = licensing.clock.now();
    let mut q = sqlx::QueryBuilder::<super::Db>::new(DEPLOYMENT_SELECT);
    q.push("JOIN licenses l ON l.id = d.license_id WHERE l.organization_id = ")
        .push_bind(org);
    if let Some(Cursor::Id(after)) = page.after {
        q.push(" AND d.id > ").push_bind(after);
    }
    q.push(" ORDER BY d.id");
    super::push_page(&mut q, page);
    let rows: Vec<DeploymentRow> = q
        .build_query_as()
        .fetch_all(&store.pool)
        .await
        .map_err(err)?;
    Ok(rows
        .into_iter()
        .map(|r| r.at(now, licensing.deployment_stale_secs))
        .collect())
}

/// Removes a deployment of the organization's license (its token stops working).
pub(super) async fn delete_deployment(store: &SqlStore, org: Uuid, id: Uuid) -> StoreResult<()> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    let gone = sqlx::query(
        "DELETE FROM deployments WHERE id = $1 \
         AND license_id IN (SELECT id FROM licenses WHERE organization_id = $2)",
    )
    .bind(id)
    .bind(org)
    .execute(&mut *tx)
    .await
    .map_err(err)?
    .rows_affected();
    if gone == 0 {
        return Err(StoreError::NotFound("Deployment"));
    }
    commit(tx).await
}
