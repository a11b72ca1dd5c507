//! Members of an organization: listing (cached), adding, changing roles and removing, and the
//! membership steps that organizations, invitations and service accounts share.

use sqlx::FromRow;
use uuid::Uuid;

use crate::authz::{Actor, Role};
use crate::domain::Timestamp;
use crate::domain::membership::{self as rules};
use crate::domain::paging::{Cursor, Page};
use crate::store::{
    Member, MemberFilter, MemberTarget, NewUser, RoleChange, StoreError, StoreResult, like_pattern,
};

use super::licensing::{Addition, admit};
use super::tx::{Tx, actor_grant, begin_write, commit, held, lock_org, role_grant, role_of};
use super::users::{insert_user, user_in};
use super::{Select, SqlStore, err, read_row};
use crate::store::read::{Columns, DecodeError, ReadRow};

pub(super) const MEMBER_SELECT: &str = "SELECT u.id AS user_id, u.username, u.email, u.name, \
     m.role, m.created_at AS joined_at FROM memberships m JOIN users u ON u.id = m.user_id ";

const MEMBER_BY_USER: &str = "SELECT u.id AS user_id, u.username, u.email, u.name, m.role, m.created_at AS joined_at \
     FROM memberships m JOIN users u ON u.id = m.user_id \
     WHERE m.organization_id = $1 AND m.user_id = $2";

#[derive(FromRow)]
pub(super) struct MemberRow {
    user_id: Uuid,
    username: String,
    email: String,
    name: Option<String>,
    role: String,
    joined_at: Timestamp,
}

impl ReadRow for MemberRow {
    fn read(r: &impl Columns) -> Result<Self, DecodeError> {
        Ok(MemberRow {
            user_id: r.uuid("user_id")?,
            username: r.text("username")?,
            email: r.text("email")?,
            name: r.opt_text("name")?,
            role: r.text("role")?,
            joined_at: r.ts("joined_at")?,
        })
    }
}

impl From<MemberRow> for Member {
    fn from(r: MemberRow) -> Self {
        Member {
            user_id: r.user_id,
            username: r.username,
            email: r.email,
            name: r.name,
            admin: Role::parse(&r.role).is_some_and(Role::is_admin),
            role: r.role,
            joined_at: r.joined_at,
        }
    }
}

pub(super) async fn owner_count(tx: &mut Tx, org: Uuid) -> StoreResult<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM memberships WHERE organization_id = $1 AND role = 'owner'",
    )
    .bind(org)
    .fetch_one(&mut **tx)
    .await
    .map_err(err)
}

pub(super) async fn member_in(tx: &mut Tx, org: Uuid, user: Uuid) -> StoreResult<Member> {
    let row: MemberRow = sqlx::query_as(MEMBER_BY_USER)
        .bind(org)
        .bind(user)
        .fetch_one(&mut **tx)
        .await
        .map_err(err)?;
    Ok(row.into())
}

/// When `leaving` is the primary owner, the earliest-joined other owner becomes primary.
pub(super) async fn hand_over_primary_owner(
    tx: &mut Tx,
    org: Uuid,
    leaving: Uuid,
) -> StoreResult<()> {
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

pub(super) async fn insert_membership(
    tx: &mut Tx,
    org: Uuid,
    user: Uuid,
    role: &str,
    joined: Timestamp,
) -> StoreResult<()> {
    admit(tx, org, Addition::Member(user)).await?;
    crate::audit::target("user", user);
    crate::audit::change("role", &None::<String>, role);
    insert_membership_row(tx, org, user, role, joined).await?;
    recount_members(tx, org).await
}

/// The membership row alone: the caller keeps `member_count` right itself (a new organization
/// counts its owner in the row it inserts).
pub(super) async fn insert_membership_row(
    tx: &mut Tx,
    org: Uuid,
    user: Uuid,
    role: &str,
    joined: Timestamp,
) -> StoreResult<()> {
    tx.touch(crate::store::cache::Tag::User(user));
    sqlx::query(
        "INSERT INTO memberships (organization_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(org)
    .bind(user)
    .bind(role)
    .bind(joined)
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    Ok(())
}

/// Sets the organization's kept `member_count` (active members) from its memberships. A recount
/// rather than a step, so that a count can never drift; it runs under the organization lock of
/// the membership change (or the user change) that calls it.
pub(super) async fn recount_members(tx: &mut Tx, org: Uuid) -> StoreResult<()> {
    sqlx::query(
        "UPDATE organizations SET member_count = (SELECT COUNT(*) FROM memberships m \
         JOIN users u ON u.id = m.user_id WHERE m.organization_id = $1 AND u.is_active) \
         WHERE id = $1",
    )
    .bind(org)
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    Ok(())
}

/// Ends a membership with its cascade: the primary ownership moves on, and the member's project
/// memberships and organization-scoped tokens go (worthless without the membership).
pub(super) async fn drop_membership(
    tx: &mut Tx,
    org: Uuid,
    user: Uuid,
    owner: bool,
) -> StoreResult<()> {
    // Their organization list, and the tokens scoped here that go with the membership.
    tx.touch(crate::store::cache::Tag::User(user));
    if owner {
        hand_over_primary_owner(tx, org, user).await?;
    }
    sqlx::query("DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2")
        .bind(org)
        .bind(user)
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    recount_members(tx, org).await?;
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

pub(super) async fn list_members(
    store: &SqlStore,
    org: Uuid,
    f: &MemberFilter,
    page: &Page,
) -> StoreResult<Vec<Member>> {
    let cache_key = format!("{org}|{f:?}|{page:?}");
    if let Some(hit) = store.caches.members.get(&cache_key) {
        return Ok(hit);
    }
    let stamp = crate::store::cache::begin();
    let mut q = Select::new(MEMBER_SELECT);
    q.push("WHERE m.organization_id = ").bind(org);
    if let Some(role) = &f.role {
        q.push(" AND m.role = ").bind(role.clone()).scans();
    }
    if let Some(s) = &f.q {
        let p = like_pattern(s);
        q.push(" AND (lower(u.username) LIKE ")
            .bind(p.clone())
            .push(" ESCAPE '\\' OR lower(u.email) LIKE ")
            .bind(p.clone())
            .push(" ESCAPE '\\' OR lower(coalesce(u.name, '')) LIKE ")
            .bind(p)
            .push(" ESCAPE '\\')")
            .scans();
    }
    if let Some(Cursor::At(ms, user)) = page.after {
        q.push(" AND (m.created_at > ")
            .bind(ms)
            .push(" OR (m.created_at = ")
            .bind(ms)
            .push(" AND m.user_id > ")
            .bind(user)
            .push("))");
    }
    q.push(" ORDER BY m.created_at, m.user_id").page(page);
    let rows: Vec<MemberRow> = q.fetch_all(store).await?;
    let members: Vec<Member> = rows.into_iter().map(Member::from).collect();
    store.caches.members.put(
        cache_key,
        members.clone(),
        &[crate::store::cache::Tag::Org(org)],
        stamp,
    );
    Ok(members)
}

pub(super) async fn member(store: &SqlStore, org: Uuid, user: Uuid) -> StoreResult<Option<Member>> {
    if let Some(hit) = store.caches.member.get(&(org, user)) {
        return Ok(hit);
    }
    let stamp = crate::store::cache::begin();
    let row: Option<MemberRow> =
        read_row(store, MEMBER_BY_USER, vec![org.into(), user.into()]).await?;
    let member = row.map(Member::from);
    store.caches.member.put(
        (org, user),
        member.clone(),
        &[crate::store::cache::Tag::Org(org)],
        stamp,
    );
    Ok(member)
}

pub(super) async fn add_member(
    store: &SqlStore,
    org: Uuid,
    actor: Actor,
    target: MemberTarget,
    role: String,
) -> StoreResult<Member> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    let actor_grant = actor_grant(&mut tx, org, actor).await?;
    rules::check_add(&actor_grant, &role_grant(&mut tx, org, &role).await?)?;
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
    insert_membership(&mut tx, org, user_id, &role, Timestamp::now()).await?;
    let member = member_in(&mut tx, org, user_id).await?;
    commit(tx).await?;
    Ok(member)
}

pub(super) async fn change_member_role(
    store: &SqlStore,
    org: Uuid,
    actor: Actor,
    user: Uuid,
    change: RoleChange,
) -> StoreResult<Member> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    let actor_grant = actor_grant(&mut tx, org, actor).await?;
    let (current_key, current) = held(&mut tx, org, user)
        .await?
        .ok_or(StoreError::NotFound("Member"))?;
    let new_key = match change {
        RoleChange::Set(role) => role,
        RoleChange::ToggleAdmin => rules::toggled(&current_key)?.as_str().to_owned(),
    };
    let new = role_grant(&mut tx, org, &new_key).await?;
    let owners = if current.owner && !new.owner {
        Some(owner_count(&mut tx, org).await?)
    } else {
        None
    };
    rules::check_role_change(&actor_grant, actor.id() == user, &current, &new, owners)?;
    crate::audit::change("role", &current_key, &new_key);
    if new_key != current_key {
        sqlx::query("UPDATE memberships SET role = $1 WHERE organization_id = $2 AND user_id = $3")
            .bind(&new_key)
            .bind(org)
            .bind(user)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        if current.owner {
            hand_over_primary_owner(&mut tx, org, user).await?;
        }
        // The role shows in the member's list of organizations.
        tx.touch(crate::store::cache::Tag::User(user));
    }
    let member = member_in(&mut tx, org, user).await?;
    commit(tx).await?;
    Ok(member)
}

pub(super) async fn remove_member(
    store: &SqlStore,
    org: Uuid,
    actor: Actor,
    user: Uuid,
) -> StoreResult<()> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    let actor_grant = actor_grant(&mut tx, org, actor).await?;
    let (_, target) = held(&mut tx, org, user)
        .await?
        .ok_or(StoreError::NotFound("Member"))?;
    let owners = owner_count(&mut tx, org).await?;
    rules::check_removal(&actor_grant, actor.id() == user, &target, owners)?;
    drop_membership(&mut tx, org, user, target.owner).await?;
    commit(tx).await
}
