//! Organizations: creation under the owner's cap, the access row every request checks and the
//! organization view with its counts (both cached), changes and deletion.

use serde_json::Value;
use sqlx::FromRow;
use sqlx::types::Json;
use uuid::Uuid;

use crate::authz::{Actor, Grant, Permission, Role};
use crate::domain::Timestamp;
use crate::domain::paging::{Cursor, Page};
use crate::domain::plans::{LicenseTerms, PlanName};
use crate::domain::validate;
use crate::store::{
    ManagedBy, NewOrganization, OrgAccessRow, OrgFilter, OrgKey, OrgPatch, OrgStatus, Organization,
    OwnerSummary, StoreError, StoreResult, like_pattern,
};

use super::engine::{LOCK_USER, now_ms};
use super::members::insert_membership_row;
use super::tx::{Tx, actor_grant, begin_write, commit, lock_org, role_of};
use super::{Select, SqlStore, err, read_row};
use crate::store::read::{Arg, Columns, DecodeError, ReadRow};

macro_rules! org_view_select {
    () => {
        org_view_select!(", NULL AS role_permissions")
    };
    ($role_permissions:literal) => {
        concat!(
            "SELECT o.id, o.name, o.slug, o.description, o.logo_url, o.country_code, o.status, \
         o.status_reason, o.verified, o.owner_id, o.managed_by, o.metadata, \
         o.service_accounts_can_mint_tokens, o.active, o.created_at, \
         o.updated_at, lic.plan AS license_plan, lic.seats AS license_seats, \
         COALESCE(lic.trial, FALSE) AS license_trial, lic.starts_at AS license_starts_at, \
         lic.expires_at AS license_expires_at, lic.revoked_at AS license_revoked_at, \
         ou.username AS owner_username, ou.email AS owner_email, \
         ou.name AS owner_name, o.member_count, o.project_count, o.application_count, \
         (SELECT COUNT(*) FROM invitations i WHERE i.organization_id = o.id \
          AND i.status = 'pending' AND i.expires_at > ",
            now_ms!(),
            ") AS pending_member_count, \
         m.role AS role",
            $role_permissions,
            " FROM organizations o JOIN users ou ON ou.id = o.owner_id \
             LEFT JOIN licenses lic ON lic.organization_id = o.id "
        )
    };
}

/// The viewer's membership with what its role grants (a custom role's permissions); a
/// deactivated user's membership grants nothing.
macro_rules! viewer_membership {
    () => {
        "LEFT JOIN memberships m ON m.organization_id = o.id AND m.user_id = $1 \
         AND EXISTS (SELECT 1 FROM users mu WHERE mu.id = $1 AND mu.is_active) \
         LEFT JOIN roles r ON r.organization_id = o.id AND r.key = m.role "
    };
}

const ORG_VIEW_BY_ID: &str = concat!(
    org_view_select!(", r.permissions AS role_permissions"),
    viewer_membership!(),
    "WHERE o.id = $2"
);

const ORG_VIEW_BY_SLUG: &str = concat!(
    org_view_select!(", r.permissions AS role_permissions"),
    viewer_membership!(),
    "WHERE lower(o.slug) = lower($2)"
);

/// A count kept on the organization row by the transactions that change it (members are
/// recounted instead: see `members::recount_members`).
#[derive(Debug, Clone, Copy)]
pub(super) enum KeptCount {
    Projects,
    Applications,
}

/// Steps a kept count by one, under the organization lock the caller holds.
pub(super) async fn step_count(
    tx: &mut Tx,
    org: Uuid,
    count: KeptCount,
    up: bool,
) -> StoreResult<()> {
    let sql = match (count, up) {
        (KeptCount::Projects, true) => {
            "UPDATE organizations SET project_count = project_count + 1 WHERE id = $1"
        }
        (KeptCount::Projects, false) => {
            "UPDATE organizations SET project_count = project_count - 1 WHERE id = $1"
        }
        (KeptCount::Applications, true) => {
            "UPDATE organizations SET application_count = application_count + 1 WHERE id = $1"
        }
        (KeptCount::Applications, false) => {
            "UPDATE organizations SET application_count = application_count - 1 WHERE id = $1"
        }
    };
    sqlx::query(sql)
        .bind(org)
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    Ok(())
}

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
    active: bool,
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
    role_permissions: Option<String>,
    license_plan: Option<String>,
    license_seats: Option<i64>,
    license_trial: bool,
    license_starts_at: Option<Timestamp>,
    license_expires_at: Option<Timestamp>,
    license_revoked_at: Option<Timestamp>,
}

impl ReadRow for OrgRow {
    fn read(r: &impl Columns) -> Result<Self, DecodeError> {
        Ok(OrgRow {
            id: r.uuid("id")?,
            name: r.text("name")?,
            slug: r.text("slug")?,
            description: r.opt_text("description")?,
            logo_url: r.opt_text("logo_url")?,
            country_code: r.opt_text("country_code")?,
            status: r.text("status")?,
            status_reason: r.opt_text("status_reason")?,
            verified: r.boolean("verified")?,
            owner_id: r.uuid("owner_id")?,
            managed_by: r.json("managed_by")?,
            metadata: r.json("metadata")?,
            service_accounts_can_mint_tokens: r.boolean("service_accounts_can_mint_tokens")?,
            active: r.boolean("active")?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }
}

impl ReadRow for OrgViewRow {
    fn read(r: &impl Columns) -> Result<Self, DecodeError> {
        Ok(OrgViewRow {
            org: OrgRow::read(r)?,
            owner_username: r.text("owner_username")?,
            owner_email: r.text("owner_email")?,
            owner_name: r.opt_text("owner_name")?,
            member_count: r.int("member_count")?,
            pending_member_count: r.int("pending_member_count")?,
            project_count: r.int("project_count")?,
            application_count: r.int("application_count")?,
            role: r.opt_text("role")?,
            role_permissions: r.opt_text("role_permissions")?,
            license_plan: r.opt_text("license_plan")?,
            license_seats: r.opt_int("license_seats")?,
            license_trial: r.boolean("license_trial")?,
            license_starts_at: r.opt_ts("license_starts_at")?,
            license_expires_at: r.opt_ts("license_expires_at")?,
            license_revoked_at: r.opt_ts("license_revoked_at")?,
        })
    }
}

/// One organization's view as `viewer` sees it: `ORG_VIEW_BY_ID` or `ORG_VIEW_BY_SLUG` with the
/// viewer and the key.
async fn org_view(
    store: &SqlStore,
    sql: &'static str,
    viewer: Uuid,
    key: Arg,
) -> StoreResult<Option<OrgViewRow>> {
    read_row(store, sql, vec![viewer.into(), key]).await
}

impl From<OrgViewRow> for Organization {
    fn from(r: OrgViewRow) -> Self {
        let o = r.org;
        let license = match (
            r.license_plan.as_deref().and_then(PlanName::parse),
            r.license_starts_at,
        ) {
            (Some(plan), Some(starts_at)) => Some(LicenseTerms {
                plan,
                seats: r.license_seats,
                trial: r.license_trial,
                starts_at,
                expires_at: r.license_expires_at,
                revoked_at: r.license_revoked_at,
            }),
            _ => None,
        };
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
            // Decided when shown (`Organization::at`), from `license`.
            plan: PlanName::Free,
            has_active_subscription: false,
            trial_expiry: None,
            active: o.active,
            license,
            managed_by: o.managed_by,
            metadata: o.metadata,
            service_accounts_can_mint_tokens: o.service_accounts_can_mint_tokens,
            created_at: o.created_at,
            updated_at: o.updated_at,
            role: r.role,
            members: None,
        }
    }
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

pub(super) async fn create_organization(
    store: &SqlStore,
    new: NewOrganization,
    cap: Option<u32>,
) -> StoreResult<Uuid> {
    let mut tx = begin_write(store).await?;
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
    crate::audit::target("organization", id);
    crate::audit::organization(id);
    sqlx::query(
        "INSERT INTO organizations (id, name, slug, description, logo_url, country_code, status, \
         verified, owner_id, managed_by, metadata, created_at, updated_at, member_count) \
         VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $9, $10, $11, $11, \
         (SELECT COUNT(*) FROM users WHERE id = $8 AND is_active))",
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
    insert_membership_row(&mut tx, id, new.owner_id, Role::Owner.as_str(), now).await?;
    commit(tx).await?;
    Ok(id)
}

/// The organization by id or slug, as `user` sees it (with their role), in one statement: the
/// access decision and the organization's view come from the same row.
pub(super) async fn organization_access(
    store: &SqlStore,
    key: &OrgKey,
    user: Uuid,
) -> StoreResult<Option<OrgAccessRow>> {
    let cache_key = match key {
        OrgKey::Id(id) => (id.to_string(), user),
        OrgKey::Slug(slug) => (slug.to_lowercase(), user),
    };
    if let Some(hit) = store.caches.access.get(&cache_key) {
        return Ok(Some(hit));
    }
    let stamp = crate::store::cache::begin();
    let row = match key {
        OrgKey::Id(id) => org_view(store, ORG_VIEW_BY_ID, user, (*id).into()).await?,
        OrgKey::Slug(slug) => org_view(store, ORG_VIEW_BY_SLUG, user, slug.as_str().into()).await?,
    };
    let access = row.map(|r| {
        let grant = r
            .role
            .as_deref()
            .and_then(|key| Grant::of_key(key, r.role_permissions.as_deref()));
        let organization = Organization::from(r);
        OrgAccessRow {
            id: organization.id,
            status: organization.status,
            owner_id: organization.owner.id,
            role: organization.role.clone(),
            grant,
            organization: std::sync::Arc::new(organization),
        }
    });
    if let Some(a) = &access {
        // A user's deactivation ends what their membership grants.
        let tags = [
            crate::store::cache::Tag::Org(a.id),
            crate::store::cache::Tag::User(user),
        ];
        store.caches.access.put(cache_key, a.clone(), &tags, stamp);
        store
            .caches
            .organization
            .put((a.id, user), (*a.organization).clone(), &tags, stamp);
    }
    Ok(access)
}

pub(super) async fn organization(
    store: &SqlStore,
    id: Uuid,
    viewer: Uuid,
) -> StoreResult<Option<Organization>> {
    if let Some(hit) = store.caches.organization.get(&(id, viewer)) {
        return Ok(Some(hit));
    }
    let stamp = crate::store::cache::begin();
    let org = org_view(store, ORG_VIEW_BY_ID, viewer, id.into())
        .await?
        .map(Organization::from);
    if let Some(o) = &org {
        store.caches.organization.put(
            (id, viewer),
            o.clone(),
            &[crate::store::cache::Tag::Org(id)],
            stamp,
        );
    }
    Ok(org)
}

pub(super) async fn list_organizations(
    store: &SqlStore,
    f: &OrgFilter,
    page: &Page,
) -> StoreResult<Vec<Organization>> {
    let cache_key = format!("{f:?}|{page:?}");
    // A plan filter depends on the time: such a list is never cached.
    let cached = f.plan.is_none();
    if cached && let Some(hit) = store.caches.organizations.get(&cache_key) {
        return Ok(hit);
    }
    let stamp = crate::store::cache::begin();
    let mut q = Select::new(org_view_select!());
    match f.member {
        Some(member) => {
            q.push("JOIN memberships m ON m.organization_id = o.id AND m.user_id = ")
                .bind(member);
        }
        None => {
            q.push("LEFT JOIN memberships m ON m.organization_id = o.id AND m.user_id = ")
                .bind(f.viewer);
        }
    }
    q.push(" WHERE 1 = 1");
    if let Some(only) = f.only {
        q.push(" AND o.id = ").bind(only);
    }
    if let Some(name) = &f.name {
        q.push(" AND lower(o.name) LIKE ")
            .bind(like_pattern(name))
            .push(" ESCAPE '\\'")
            .scans();
    }
    if let Some(owner) = f.owner_id {
        q.push(" AND o.owner_id = ").bind(owner).scans();
    }
    if let Some(status) = f.status {
        q.push(" AND o.status = ").bind(status.as_str()).scans();
    }
    if f.active_only {
        q.push(" AND o.status = 'active' AND o.active");
    }
    if let Some((plan, now)) = f.plan {
        // The plan in force at `now`, as `Standing::at` decides it.
        q.push(" AND ");
        if plan == PlanName::Free {
            q.push("NOT ");
        }
        q.push("(lic.plan IS NOT NULL AND lic.revoked_at IS NULL AND lic.starts_at <= ")
            .bind(now.0)
            .push(" AND (lic.expires_at IS NULL OR lic.expires_at > ")
            .bind(now.0)
            .push(")");
        if plan != PlanName::Free {
            q.push(" AND lic.plan = ").bind(plan.as_str());
        }
        q.push(")").scans();
    }
    if let Some(Cursor::Id(after)) = page.after {
        q.push(" AND o.id > ").bind(after);
    }
    q.push(" ORDER BY o.id").page(page);
    let rows: Vec<OrgViewRow> = q.fetch_all(store).await?;
    let orgs: Vec<Organization> = rows.into_iter().map(Organization::from).collect();
    if cached {
        use crate::store::cache::Tag;
        // The list depends on the caller's memberships (or, for a superuser, on every
        // organization) and on each organization in it.
        let mut tags: Vec<Tag> = orgs.iter().map(|o| Tag::Org(o.id)).collect();
        tags.push(match f.member {
            Some(member) => Tag::User(member),
            None => Tag::AllOrgs,
        });
        // A filter on the organizations' own fields also depends on those it left out: a
        // change to any organization (which touches `AllOrgs`) may bring one in.
        let filtered =
            f.name.is_some() || f.owner_id.is_some() || f.status.is_some() || f.active_only;
        if filtered && f.member.is_some() {
            tags.push(Tag::AllOrgs);
        }
        store
            .caches
            .organizations
            .put(cache_key, orgs.clone(), &tags, stamp);
    }
    Ok(orgs)
}

pub(super) async fn update_organization(
    store: &SqlStore,
    id: Uuid,
    actor: Actor,
    patch: OrgPatch,
) -> StoreResult<()> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, id).await?;
    let grant = actor_grant(&mut tx, id, actor).await?;
    let mut o: OrgRow = sqlx::query_as("SELECT * FROM organizations WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(err)?;
    let superuser = matches!(actor, Actor::Superuser(_));
    if patch.touches_profile() && !grant.perms.has(Permission::OrganizationUpdate) {
        return Err(StoreError::Forbidden(
            "Changing the organization requires the organization:update permission".into(),
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
    if patch.active.is_some() && !grant.owner {
        return Err(StoreError::Forbidden(
            "Only owners can deactivate or reactivate the organization".into(),
        ));
    }
    // A deactivated organization accepts its reactivation (and a superuser's status fields)
    // and no other change.
    if !o.active
        && patch.active != Some(true)
        && (patch.touches_profile() || patch.owner_id.is_some())
    {
        return Err(StoreError::Inactive);
    }
    if let Some(v) = patch.active {
        crate::audit::change("active", &o.active, &v);
        o.active = v;
    }
    if let Some(slug) = patch.slug {
        if slug_taken(&mut tx, &slug, Some(id)).await? {
            return Err(StoreError::Conflict("slug is already taken".into()));
        }
        crate::audit::change("slug", &o.slug, &slug);
        o.slug = slug;
    }
    if let Some(v) = patch.name {
        crate::audit::change("name", &o.name, &v);
        o.name = v;
    }
    if let Some(v) = patch.description {
        crate::audit::change("description", &o.description, &v);
        o.description = v;
    }
    if let Some(v) = patch.logo_url {
        crate::audit::change("logo_url", &o.logo_url, &v);
        o.logo_url = v;
    }
    if let Some(v) = patch.country_code {
        crate::audit::change("country_code", &o.country_code, &v);
        o.country_code = v;
    }
    if let Some(v) = patch.metadata {
        crate::audit::change("metadata", &o.metadata, &v);
        o.metadata = v;
    }
    if let Some(v) = patch.service_accounts_can_mint_tokens {
        crate::audit::change(
            "service_accounts_can_mint_tokens",
            &o.service_accounts_can_mint_tokens,
            &v,
        );
        o.service_accounts_can_mint_tokens = v;
    }
    if let Some(v) = patch.status {
        crate::audit::change("status", &o.status, &v);
        o.status = v.as_str().into();
    }
    if let Some(v) = patch.status_reason {
        crate::audit::change("status_reason", &o.status_reason, &v);
        o.status_reason = v;
    }
    if let Some(v) = patch.verified {
        crate::audit::change("verified", &o.verified, &v);
        o.verified = v;
    }
    if let Some(v) = patch.managed_by {
        crate::audit::change("managed_by", &o.managed_by, &v);
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
        crate::audit::change("owner_id", &o.owner_id, &new_owner);
        o.owner_id = new_owner;
    }
    sqlx::query(
        "UPDATE organizations SET name = $1, slug = $2, description = $3, logo_url = $4, \
         country_code = $5, metadata = $6, owner_id = $7, status = $8, status_reason = $9, \
         verified = $10, managed_by = $11, service_accounts_can_mint_tokens = $12, \
         updated_at = $13, active = $15 WHERE id = $14",
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
    .bind(o.active)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    commit(tx).await
}

pub(super) async fn delete_organization(
    store: &SqlStore,
    id: Uuid,
    actor: Actor,
) -> StoreResult<()> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, id).await?;
    if !actor_grant(&mut tx, id, actor)
        .await?
        .perms
        .has(Permission::OrganizationDelete)
    {
        return Err(StoreError::Forbidden(
            "Deleting the organization requires the organization:delete permission".into(),
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
