//! Roles of an organization (the built-in three and its custom ones) and the application
//! permissions registered for the installation or for one organization.
//!
//! Every change to a role locks its organization first, so it is ordered with the membership
//! changes that read roles, and its commit makes every cached access decision of the
//! organization stale on every node.

use std::sync::Arc;

use uuid::Uuid;

use crate::authz::{Actor, Grant, Permission, Perms, Role, is_app_permission, is_role_key};
use crate::domain::Timestamp;
use crate::domain::membership::{self as rules};
use crate::store::cache::Tag;
use crate::store::{NewRole, PermissionInfo, RoleInfo, RolePatch, StoreError, StoreResult};

use super::tx::{Tx, actor_grant, begin_write, commit, lock_org, role_grant};
use super::{SqlStore, err};

const BUILT_IN: [(Role, &str, &str); 3] = [
    (
        Role::Owner,
        "Owner",
        "Owns the organization: every permission, application permissions included",
    ),
    (
        Role::Admin,
        "Admin",
        "Manages members, invitations, projects, applications, service accounts and roles",
    ),
    (
        Role::Member,
        "Member",
        "Reads the organization, its members, projects and applications",
    ),
];

type CustomRow = (String, String, Option<String>, String, Timestamp, Timestamp);

/// Members and pending invitations holding each role of `org`.
async fn usage(
    pool: &sqlx::Pool<super::engine::Db>,
    org: Uuid,
) -> StoreResult<(Vec<(String, i64)>, Vec<(String, i64)>)> {
    let members: Vec<(String, i64)> = sqlx::query_as(
        "SELECT role, COUNT(*) FROM memberships WHERE organization_id = $1 GROUP BY role",
    )
    .bind(org)
    .fetch_all(pool)
    .await
    .map_err(err)?;
    let invitations: Vec<(String, i64)> = sqlx::query_as(
        "SELECT role, COUNT(*) FROM invitations WHERE organization_id = $1 \
         AND status = 'pending' GROUP BY role",
    )
    .bind(org)
    .fetch_all(pool)
    .await
    .map_err(err)?;
    Ok((members, invitations))
}

fn count(of: &[(String, i64)], key: &str) -> i64 {
    of.iter().find(|(k, _)| k == key).map_or(0, |(_, n)| *n)
}

pub(super) async fn list_roles(store: &SqlStore, org: Uuid) -> StoreResult<Vec<RoleInfo>> {
    let (members, invitations) = usage(&store.pool, org).await?;
    let mut roles: Vec<RoleInfo> = BUILT_IN
        .iter()
        .map(|(role, name, description)| RoleInfo {
            key: role.as_str().into(),
            name: (*name).into(),
            description: Some((*description).into()),
            permissions: Perms::of(*role).names(),
            built_in: true,
            member_count: count(&members, role.as_str()),
            pending_invitation_count: count(&invitations, role.as_str()),
            created_at: None,
            updated_at: None,
        })
        .collect();
    let custom: Vec<CustomRow> = sqlx::query_as(
        "SELECT key, name, description, permissions, created_at, updated_at FROM roles \
         WHERE organization_id = $1 ORDER BY key",
    )
    .bind(org)
    .fetch_all(&store.pool)
    .await
    .map_err(err)?;
    roles.extend(
        custom
            .into_iter()
            .map(|(key, name, description, perms, c, u)| RoleInfo {
                member_count: count(&members, &key),
                pending_invitation_count: count(&invitations, &key),
                key,
                name,
                description,
                permissions: Perms::from_stored(&perms).names(),
                built_in: false,
                created_at: Some(c),
                updated_at: Some(u),
            }),
    );
    Ok(roles)
}

pub(super) async fn role(store: &SqlStore, org: Uuid, key: &str) -> StoreResult<Option<RoleInfo>> {
    Ok(list_roles(store, org)
        .await?
        .into_iter()
        .find(|r| r.key == key))
}

/// The application permissions registered for the installation and, with `org`, for that
/// organization too, read in the transaction.
async fn registered_in(tx: &mut Tx, org: Option<Uuid>) -> StoreResult<Vec<String>> {
    sqlx::query_scalar(
        "SELECT key FROM app_permissions WHERE organization_id IS NULL OR organization_id = $1 \
         ORDER BY key",
    )
    .bind(org)
    .fetch_all(&mut **tx)
    .await
    .map_err(err)
}

/// The permission set named by `names`, each of them from the catalogue or registered; every
/// custom role also holds `organization:read` (a member always sees their organization).
async fn permission_set(tx: &mut Tx, org: Uuid, names: &[String]) -> StoreResult<Perms> {
    let registered = registered_in(tx, Some(org)).await?;
    let unknown: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| Permission::parse(n).is_none() && !registered.iter().any(|r| r == n))
        .collect();
    // A malformed name is a bad request; a well-formed application permission that is not
    // registered here is a reference to something that is not there.
    let malformed = unknown.iter().any(|n| !is_app_permission(n));
    if !unknown.is_empty() {
        let valid: Vec<String> = Permission::all()
            .map(|p| p.as_str().to_owned())
            .chain(registered.iter().cloned())
            .collect();
        let error = if malformed {
            StoreError::Invalid
        } else {
            StoreError::Conflict
        };
        return Err(error(format!(
            "unknown permission{} {}; the valid ones are: {}",
            if unknown.len() > 1 { "s" } else { "" },
            unknown.join(", "),
            valid.join(", ")
        )));
    }
    Ok(Perms::from_names(
        names
            .iter()
            .map(String::as_str)
            .chain([Permission::OrganizationRead.as_str()]),
    ))
}

fn custom(perms: Perms) -> Grant {
    Grant {
        owner: false,
        perms,
    }
}

fn refuse_built_in(key: &str) -> StoreResult<()> {
    if Role::parse(key).is_some() {
        return Err(StoreError::Forbidden(
            "Built-in roles cannot be changed or deleted".into(),
        ));
    }
    Ok(())
}

async fn stored(tx: &mut Tx, org: Uuid, key: &str) -> StoreResult<Option<CustomRow>> {
    sqlx::query_as(
        "SELECT key, name, description, permissions, created_at, updated_at FROM roles \
         WHERE organization_id = $1 AND key = $2",
    )
    .bind(org)
    .bind(key)
    .fetch_optional(&mut **tx)
    .await
    .map_err(err)
}

pub(super) async fn create_role(
    store: &SqlStore,
    org: Uuid,
    actor: Actor,
    new: NewRole,
) -> StoreResult<RoleInfo> {
    if Role::parse(&new.key).is_some() {
        return Err(StoreError::Conflict(format!(
            "'{}' is a built-in role",
            new.key
        )));
    }
    if !is_role_key(&new.key) {
        return Err(StoreError::Invalid(
            "key must be a lowercase letter followed by up to 47 lowercase letters, digits, _ or -"
                .into(),
        ));
    }
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    let actor = actor_grant(&mut tx, org, actor).await?;
    let perms = permission_set(&mut tx, org, &new.permissions).await?;
    rules::check_role_definition(&actor, None, &custom(perms.clone()))?;
    if stored(&mut tx, org, &new.key).await?.is_some() {
        return Err(StoreError::Conflict(
            "a role with this key already exists".into(),
        ));
    }
    let now = Timestamp::now();
    crate::audit::target("role", &new.key);
    sqlx::query(
        "INSERT INTO roles (organization_id, key, name, description, permissions, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(org)
    .bind(&new.key)
    .bind(&new.name)
    .bind(&new.description)
    .bind(perms.to_stored())
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    commit(tx).await?;
    Ok(RoleInfo {
        key: new.key,
        name: new.name,
        description: new.description,
        permissions: perms.names(),
        built_in: false,
        member_count: 0,
        pending_invitation_count: 0,
        created_at: Some(now),
        updated_at: Some(now),
    })
}

pub(super) async fn update_role(
    store: &SqlStore,
    org: Uuid,
    actor: Actor,
    key: &str,
    patch: RolePatch,
) -> StoreResult<RoleInfo> {
    refuse_built_in(key)?;
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    let actor = actor_grant(&mut tx, org, actor).await?;
    let (_, mut name, mut description, old, _, _) = stored(&mut tx, org, key)
        .await?
        .ok_or(StoreError::NotFound("Role"))?;
    let old = custom(Perms::from_stored(&old));
    let new = match &patch.permissions {
        Some(names) => custom(permission_set(&mut tx, org, names).await?),
        None => old.clone(),
    };
    rules::check_role_definition(&actor, Some(&old), &new)?;
    crate::audit::change(
        "permissions",
        &old.perms.to_stored(),
        &new.perms.to_stored(),
    );
    if let Some(n) = patch.name {
        crate::audit::change("name", &name, &n);
        name = n;
    }
    if let Some(d) = patch.description {
        crate::audit::change("description", &description, &d);
        description = d;
    }
    sqlx::query(
        "UPDATE roles SET name = $1, description = $2, permissions = $3, updated_at = $4 \
         WHERE organization_id = $5 AND key = $6",
    )
    .bind(&name)
    .bind(&description)
    .bind(new.perms.to_stored())
    .bind(Timestamp::now())
    .bind(org)
    .bind(key)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    commit(tx).await?;
    role(store, org, key)
        .await?
        .ok_or(StoreError::NotFound("Role"))
}

/// Deletes a custom role; one that members or pending invitations hold needs `replacement`,
/// which they get in the same transaction. Returns how many members were moved.
pub(super) async fn delete_role(
    store: &SqlStore,
    org: Uuid,
    actor: Actor,
    key: &str,
    replacement: Option<&str>,
) -> StoreResult<i64> {
    refuse_built_in(key)?;
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    let actor = actor_grant(&mut tx, org, actor).await?;
    let (_, _, _, old, _, _) = stored(&mut tx, org, key)
        .await?
        .ok_or(StoreError::NotFound("Role"))?;
    let old = custom(Perms::from_stored(&old));
    rules::check_role_definition(&actor, Some(&old), &custom(Perms::default()))?;
    let holders: Vec<Uuid> = sqlx::query_scalar(
        "SELECT user_id FROM memberships WHERE organization_id = $1 AND role = $2",
    )
    .bind(org)
    .bind(key)
    .fetch_all(&mut *tx)
    .await
    .map_err(err)?;
    let invitations: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM invitations WHERE organization_id = $1 AND role = $2 \
         AND status = 'pending'",
    )
    .bind(org)
    .bind(key)
    .fetch_one(&mut *tx)
    .await
    .map_err(err)?;
    if !holders.is_empty() || invitations > 0 {
        let Some(replacement) = replacement else {
            return Err(StoreError::Conflict(format!(
                "the role is held by {} member(s) and {invitations} pending invitation(s): name a \
                 replacement role for them (?replacement=KEY)",
                holders.len()
            )));
        };
        if replacement == key {
            return Err(StoreError::Conflict(
                "the replacement must be another role".into(),
            ));
        }
        if replacement == Role::Owner.as_str() {
            return Err(StoreError::Conflict(
                "the replacement cannot be the owner role: ownership is granted one member at a \
                 time"
                    .into(),
            ));
        }
        let grant = role_grant(&mut tx, org, replacement).await?;
        rules::check_grant(&actor, &grant)?;
        sqlx::query("UPDATE memberships SET role = $1 WHERE organization_id = $2 AND role = $3")
            .bind(replacement)
            .bind(org)
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        sqlx::query(
            "UPDATE invitations SET role = $1, updated_at = $2 WHERE organization_id = $3 \
             AND role = $4 AND status = 'pending'",
        )
        .bind(replacement)
        .bind(Timestamp::now())
        .bind(org)
        .bind(key)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        // Each holder's list of organizations shows their role.
        for user in &holders {
            tx.touch(Tag::User(*user));
        }
    }
    sqlx::query("DELETE FROM roles WHERE organization_id = $1 AND key = $2")
        .bind(org)
        .bind(key)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    commit(tx).await?;
    Ok(holders.len() as i64)
}

type PermissionRow = (String, Option<String>, Option<Uuid>, Timestamp);

fn permission_info(row: PermissionRow) -> PermissionInfo {
    let (key, description, org, created_at) = row;
    PermissionInfo {
        key,
        description,
        source: if org.is_some() {
            "organization"
        } else {
            "installation"
        }
        .into(),
        built_in_roles: vec![Role::Owner.as_str().into()],
        created_at: Some(created_at),
    }
}

/// The application permissions of the installation and, with `org`, of that organization:
/// cached, since the permission check reads them when an owner is asked about one.
pub(super) async fn app_permissions(
    store: &SqlStore,
    org: Option<Uuid>,
) -> StoreResult<Arc<Vec<PermissionInfo>>> {
    if let Some(hit) = store.caches.app_permissions.get(&org) {
        return Ok(hit);
    }
    let stamp = crate::store::cache::begin();
    let rows: Vec<PermissionRow> = sqlx::query_as(
        "SELECT key, description, organization_id, created_at FROM app_permissions \
         WHERE organization_id IS NULL OR organization_id = $1 ORDER BY key, organization_id",
    )
    .bind(org)
    .fetch_all(&store.pool)
    .await
    .map_err(err)?;
    let mut list: Vec<PermissionInfo> = Vec::with_capacity(rows.len());
    for info in rows.into_iter().map(permission_info) {
        // Registered for the installation and by the organization too: listed once.
        if list.last().is_none_or(|l| l.key != info.key) {
            list.push(info);
        }
    }
    let list = Arc::new(list);
    let mut tags = vec![Tag::Installation];
    tags.extend(org.map(Tag::Org));
    store
        .caches
        .app_permissions
        .put(org, list.clone(), &tags, stamp);
    Ok(list)
}

/// Locks `org` and checks, under the lock, that `actor` may manage its application permissions.
async fn lock_for_permissions(tx: &mut Tx, org: Uuid, actor: Actor) -> StoreResult<()> {
    lock_org(tx, org).await?;
    if !actor_grant(tx, org, actor)
        .await?
        .perms
        .has(Permission::PermissionsWrite)
    {
        return Err(StoreError::Forbidden(
            "Managing the organization's application permissions requires the permissions:write \
             permission"
                .into(),
        ));
    }
    Ok(())
}

pub(super) async fn register_permission(
    store: &SqlStore,
    org: Option<Uuid>,
    actor: Actor,
    key: String,
    description: Option<String>,
) -> StoreResult<PermissionInfo> {
    if !is_app_permission(&key) {
        return Err(StoreError::Invalid(
            "an application permission is app: followed by up to 8 segments of lowercase \
             letters, digits, _ or -, separated by : (app:invoices:read), 128 characters at most"
                .into(),
        ));
    }
    let mut tx = begin_write(store).await?;
    match org {
        Some(org) => lock_for_permissions(&mut tx, org, actor).await?,
        None => tx.touch(Tag::Installation),
    }
    let taken: Option<Option<Uuid>> = sqlx::query_scalar(
        "SELECT organization_id FROM app_permissions WHERE key = $1 \
         AND (organization_id IS NULL OR organization_id = $2)",
    )
    .bind(&key)
    .bind(org)
    .fetch_optional(&mut *tx)
    .await
    .map_err(err)?;
    if let Some(by) = taken {
        return Err(StoreError::Conflict(if by.is_none() && org.is_some() {
            "this permission is registered for the whole installation already".into()
        } else {
            "this permission is registered already".into()
        }));
    }
    let now = Timestamp::now();
    sqlx::query(
        "INSERT INTO app_permissions (id, organization_id, key, description, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(&key)
    .bind(&description)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    commit(tx).await?;
    Ok(permission_info((key, description, org, now)))
}

/// Removes a registered application permission; refused while a role grants it.
pub(super) async fn remove_permission(
    store: &SqlStore,
    org: Option<Uuid>,
    actor: Actor,
    key: &str,
) -> StoreResult<()> {
    let mut tx = begin_write(store).await?;
    let id: Option<Uuid> = match org {
        Some(org) => {
            lock_for_permissions(&mut tx, org, actor).await?;
            sqlx::query_scalar(
                "SELECT id FROM app_permissions WHERE organization_id = $1 AND key = $2",
            )
            .bind(org)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?
        }
        None => {
            tx.touch(Tag::Installation);
            sqlx::query_scalar(
                "SELECT id FROM app_permissions WHERE organization_id IS NULL AND key = $1",
            )
            .bind(key)
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?
        }
    };
    let id = id.ok_or(StoreError::NotFound("Permission"))?;
    // The roles that could hold it: the organization's, or every organization's for a
    // permission of the installation.
    let granted: Vec<String> = sqlx::query_scalar(
        "SELECT permissions FROM roles WHERE ($1 IS NULL OR organization_id = $1)",
    )
    .bind(org)
    .fetch_all(&mut *tx)
    .await
    .map_err(err)?;
    let in_use = granted
        .iter()
        .filter(|p| p.split_ascii_whitespace().any(|n| n == key))
        .count();
    if in_use > 0 {
        return Err(StoreError::Conflict(format!(
            "{in_use} role(s) grant this permission: take it out of them first"
        )));
    }
    sqlx::query("DELETE FROM app_permissions WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    commit(tx).await
}
