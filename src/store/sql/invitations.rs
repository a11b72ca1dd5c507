//! Invitations: creating or refreshing, revoking and rotating (each with the power to grant the
//! invitation's role), delivery bookkeeping, accepting (once) and declining.

use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use crate::authz::Actor;
use crate::domain::Timestamp;
use crate::domain::membership::{self as rules};
use crate::domain::paging::{Cursor, Page};
use crate::store::{
    DueDelivery, Invitation, InvitationStatus, Invitee, NewInvitation, NewUser, OrgSummary,
    StoreError, StoreResult, User, UserSummary,
};

use super::engine::{Db, LOCK_INVITATION};
use super::members::insert_membership;
use super::tx::{Tx, actor_grant, begin_write, commit, lock_org, role_grant, role_of};
use super::users::{insert_user, user_in};
use super::{SqlStore, err, push_page};

const INVITATION_SELECT: &str = "SELECT i.id, i.email, i.role, i.status, i.expires_at, \
     i.delivery, i.delivery_error, i.created_at, o.id AS org_id, o.name AS org_name, \
     o.slug AS org_slug, i.invitee_id, u.id AS inviter_id, u.username AS inviter_username, \
     u.email AS inviter_email FROM invitations i \
     JOIN organizations o ON o.id = i.organization_id \
     LEFT JOIN users u ON u.id = i.inviter_id ";

#[derive(FromRow)]
struct InvitationRow {
    id: Uuid,
    email: String,
    role: String,
    status: String,
    expires_at: Timestamp,
    delivery: String,
    delivery_error: Option<String>,
    created_at: Timestamp,
    org_id: Uuid,
    org_name: String,
    org_slug: String,
    invitee_id: Option<Uuid>,
    inviter_id: Option<Uuid>,
    inviter_username: Option<String>,
    inviter_email: Option<String>,
}

fn invitation_status(status: &str, expires_at: Timestamp, now: Timestamp) -> InvitationStatus {
    match status {
        "pending" if expires_at <= now => InvitationStatus::Expired,
        "pending" => InvitationStatus::Pending,
        "accepted" => InvitationStatus::Accepted,
        "declined" => InvitationStatus::Declined,
        _ => InvitationStatus::Revoked,
    }
}

impl From<InvitationRow> for Invitation {
    fn from(r: InvitationRow) -> Self {
        let inviter = match (r.inviter_id, r.inviter_username, r.inviter_email) {
            (Some(id), Some(username), Some(email)) => Some(UserSummary {
                id,
                username,
                email,
            }),
            _ => None,
        };
        Invitation {
            id: r.id,
            organization: OrgSummary {
                id: r.org_id,
                name: r.org_name,
                slug: r.org_slug,
            },
            email: r.email,
            user_id: r.invitee_id,
            role: r.role,
            status: invitation_status(&r.status, r.expires_at, Timestamp::now()),
            inviter,
            expires_at: r.expires_at,
            delivery: r.delivery,
            delivery_error: r.delivery_error,
            created_at: r.created_at,
        }
    }
}

#[derive(FromRow)]
struct LockedInvitation {
    id: Uuid,
    organization_id: Uuid,
    email: String,
    role: String,
    status: String,
    expires_at: Timestamp,
}

async fn invitation_in(tx: &mut Tx, id: Uuid) -> StoreResult<Invitation> {
    let mut q = QueryBuilder::<Db>::new(INVITATION_SELECT);
    q.push("WHERE i.id = ");
    q.push_bind(id);
    let row: InvitationRow = q.build_query_as().fetch_one(&mut **tx).await.map_err(err)?;
    Ok(row.into())
}

/// A pending invitation of `org` that `actor` may act on: acting on an invitation needs the
/// power to grant its role (only owners act on owner invitations). Read under the organization
/// lock the caller holds.
async fn pending_invitation_for(tx: &mut Tx, org: Uuid, actor: Actor, id: Uuid) -> StoreResult<()> {
    let actor_grant = actor_grant(tx, org, actor).await?;
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT role, status FROM invitations WHERE organization_id = $1 AND id = $2",
    )
    .bind(org)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(err)?;
    let (role, status) = row.ok_or(StoreError::NotFound("Invitation"))?;
    rules::check_invitation(&actor_grant, &role_grant(tx, org, &role).await?)?;
    // An expired invitation is still open: a resend renews it, a revoke ends it.
    if status != "pending" {
        return Err(StoreError::Conflict(
            "the invitation is no longer pending".into(),
        ));
    }
    Ok(())
}

pub(super) async fn create_invitation(
    store: &SqlStore,
    new: NewInvitation,
    actor: Actor,
) -> StoreResult<(Invitation, bool)> {
    let org = new.organization_id;
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    let actor_grant = actor_grant(&mut tx, org, actor).await?;
    rules::check_invitation(&actor_grant, &role_grant(&mut tx, org, &new.role).await?)?;
    let member: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.organization_id = $1 AND lower(u.email) = lower($2)",
    )
    .bind(org)
    .bind(&new.email)
    .fetch_optional(&mut *tx)
    .await
    .map_err(err)?;
    if member.is_some() {
        return Err(StoreError::Conflict("already a member".into()));
    }
    let now = Timestamp::now();
    let existing: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT id, role FROM invitations WHERE organization_id = $1 AND lower(email) = lower($2) \
         AND status = 'pending'",
    )
    .bind(org)
    .bind(&new.email)
    .fetch_optional(&mut *tx)
    .await
    .map_err(err)?;
    let (id, refreshed) = match existing {
        Some((id, role)) => {
            // Refreshing replaces the pending invitation's link: that is acting on it too.
            rules::check_invitation(&actor_grant, &role_grant(&mut tx, org, &role).await?)?;
            sqlx::query(
                "UPDATE invitations SET role = $1, token_hash = $2, expires_at = $3, \
                 inviter_id = $4, delivery = $5, delivery_error = NULL, delivery_attempts = 0, \
                 next_attempt_at = NULL, updated_at = $6, invitee_id = $8 WHERE id = $7",
            )
            .bind(&new.role)
            .bind(&new.hash[..])
            .bind(new.expires_at)
            .bind(actor.id())
            .bind(new.delivery)
            .bind(now)
            .bind(id)
            .bind(new.invitee_id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
            (id, true)
        }
        None => {
            let id = Uuid::now_v7();
            crate::audit::target("invitation", id);
            sqlx::query(
                "INSERT INTO invitations (id, organization_id, email, role, token_hash, status, \
                 inviter_id, expires_at, delivery, created_at, updated_at, invitee_id) \
                 VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9, $9, $10)",
            )
            .bind(id)
            .bind(org)
            .bind(&new.email)
            .bind(&new.role)
            .bind(&new.hash[..])
            .bind(actor.id())
            .bind(new.expires_at)
            .bind(new.delivery)
            .bind(now)
            .bind(new.invitee_id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
            (id, false)
        }
    };
    let inv = invitation_in(&mut tx, id).await?;
    commit(tx).await?;
    Ok((inv, refreshed))
}

pub(super) async fn list_invitations(
    store: &SqlStore,
    org: Uuid,
    page: &Page,
) -> StoreResult<Vec<Invitation>> {
    let mut q = QueryBuilder::<Db>::new(INVITATION_SELECT);
    q.push("WHERE i.organization_id = ");
    q.push_bind(org);
    if let Some(Cursor::Id(after)) = page.after {
        q.push(" AND i.id > ");
        q.push_bind(after);
    }
    q.push(" ORDER BY i.id");
    push_page(&mut q, page);
    let rows: Vec<InvitationRow> = q
        .build_query_as()
        .fetch_all(&store.pool)
        .await
        .map_err(err)?;
    Ok(rows.into_iter().map(Invitation::from).collect())
}

pub(super) async fn invitation(
    store: &SqlStore,
    org: Uuid,
    id: Uuid,
) -> StoreResult<Option<Invitation>> {
    let mut q = QueryBuilder::<Db>::new(INVITATION_SELECT);
    q.push("WHERE i.organization_id = ");
    q.push_bind(org);
    q.push(" AND i.id = ");
    q.push_bind(id);
    let row: Option<InvitationRow> = q
        .build_query_as()
        .fetch_optional(&store.pool)
        .await
        .map_err(err)?;
    Ok(row.map(Invitation::from))
}

pub(super) async fn revoke_invitation(
    store: &SqlStore,
    org: Uuid,
    actor: Actor,
    id: Uuid,
) -> StoreResult<()> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    pending_invitation_for(&mut tx, org, actor, id).await?;
    sqlx::query("UPDATE invitations SET status = 'revoked', updated_at = $1 WHERE id = $2")
        .bind(Timestamp::now())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    commit(tx).await
}

pub(super) async fn rotate_invitation(
    store: &SqlStore,
    org: Uuid,
    actor: Actor,
    id: Uuid,
    hash: [u8; 32],
    expires_at: Option<Timestamp>,
) -> StoreResult<Invitation> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    pending_invitation_for(&mut tx, org, actor, id).await?;
    sqlx::query(
        "UPDATE invitations SET token_hash = $1, expires_at = COALESCE($2, expires_at), \
         updated_at = $3 WHERE id = $4",
    )
    .bind(&hash[..])
    .bind(expires_at)
    .bind(Timestamp::now())
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    let inv = invitation_in(&mut tx, id).await?;
    commit(tx).await?;
    Ok(inv)
}

pub(super) async fn record_delivery(
    store: &SqlStore,
    id: Uuid,
    delivery: &str,
    error: Option<String>,
    next_attempt_at: Option<Timestamp>,
) -> StoreResult<()> {
    let failed = delivery == "failed";
    sqlx::query(
        "UPDATE invitations SET delivery = $1, delivery_error = $2, next_attempt_at = $3, \
         delivery_attempts = delivery_attempts + $4, updated_at = $5 WHERE id = $6",
    )
    .bind(delivery)
    .bind(error)
    .bind(next_attempt_at)
    .bind(if failed { 1i32 } else { 0i32 })
    .bind(Timestamp::now())
    .bind(id)
    .execute(&store.pool)
    .await
    .map_err(err)?;
    Ok(())
}

pub(super) async fn due_deliveries(
    store: &SqlStore,
    now: Timestamp,
    limit: i64,
) -> StoreResult<Vec<DueDelivery>> {
    #[derive(FromRow)]
    struct Row {
        id: Uuid,
        email: String,
        organization_name: String,
        delivery_attempts: i32,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT i.id, i.email, o.name AS organization_name, i.delivery_attempts \
         FROM invitations i JOIN organizations o ON o.id = i.organization_id \
         WHERE i.delivery = 'failed' AND i.status = 'pending' AND i.next_attempt_at <= $1 \
         AND i.expires_at > $1 ORDER BY i.next_attempt_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&store.pool)
    .await
    .map_err(err)?;
    Ok(rows
        .into_iter()
        .map(|r| DueDelivery {
            id: r.id,
            email: r.email,
            organization_name: r.organization_name,
            attempts: r.delivery_attempts,
        })
        .collect())
}

pub(super) async fn rotate_for_delivery(
    store: &SqlStore,
    id: Uuid,
    hash: [u8; 32],
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE invitations SET token_hash = $1, delivery = 'pending', updated_at = $2 \
         WHERE id = $3 AND status = 'pending' AND delivery = 'failed'",
    )
    .bind(&hash[..])
    .bind(Timestamp::now())
    .bind(id)
    .execute(&store.pool)
    .await
    .map_err(err)?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn invitations_for_email(
    store: &SqlStore,
    email: &str,
) -> StoreResult<Vec<Invitation>> {
    let mut q = QueryBuilder::<Db>::new(INVITATION_SELECT);
    q.push("WHERE lower(i.email) = lower(");
    q.push_bind(email.to_owned());
    q.push(") AND i.status = 'pending' AND i.expires_at > ");
    q.push_bind(Timestamp::now());
    q.push(" ORDER BY i.id");
    let rows: Vec<InvitationRow> = q
        .build_query_as()
        .fetch_all(&store.pool)
        .await
        .map_err(err)?;
    Ok(rows.into_iter().map(Invitation::from).collect())
}

pub(super) async fn invitation_hash(store: &SqlStore, id: Uuid) -> StoreResult<Option<[u8; 32]>> {
    let hash: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT token_hash FROM invitations WHERE id = $1")
            .bind(id)
            .fetch_optional(&store.pool)
            .await
            .map_err(err)?;
    Ok(hash.and_then(|h| <[u8; 32]>::try_from(h.as_slice()).ok()))
}

pub(super) async fn accept_invitation(
    store: &SqlStore,
    hash: [u8; 32],
    invitee: Invitee,
) -> StoreResult<(User, Uuid)> {
    let mut tx = begin_write(store).await?;
    // Lock order: the organization first, then the invitation (as deleting the organization
    // does), so an accept racing a delete waits instead of deadlocking.
    let org: Uuid =
        sqlx::query_scalar("SELECT organization_id FROM invitations WHERE token_hash = $1")
            .bind(&hash[..])
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?
            .ok_or(StoreError::NotFound("Invitation"))?;
    lock_org(&mut tx, org)
        .await
        .map_err(|_| StoreError::NotFound("Invitation"))?;
    // Locks the invitation: of concurrent accepts, one finds it pending.
    let inv: LockedInvitation = sqlx::query_as(LOCK_INVITATION)
        .bind(&hash[..])
        .fetch_optional(&mut *tx)
        .await
        .map_err(err)?
        .ok_or(StoreError::NotFound("Invitation"))?;
    let now = Timestamp::now();
    match invitation_status(&inv.status, inv.expires_at, now) {
        InvitationStatus::Pending => {}
        other => {
            let word = serde_json::to_value(other)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            return Err(StoreError::Conflict(format!("The invitation is {word}")));
        }
    }
    let user = match invitee {
        Invitee::User(id) => {
            let user = user_in(&mut tx, id)
                .await?
                .ok_or(StoreError::NotFound("User"))?;
            if user.email.to_lowercase() != inv.email.to_lowercase() {
                return Err(StoreError::Forbidden(
                    "This invitation was sent to another email address".into(),
                ));
            }
            user
        }
        Invitee::NewAccount {
            password_hash,
            name,
            username,
        } => {
            // An invitation only ever creates an account. It never sets or changes the
            // password of an existing one, provisioned (password-less) and deactivated
            // accounts included: whoever holds the link is not thereby that account's owner.
            let existing: Option<Uuid> =
                sqlx::query_scalar("SELECT id FROM users WHERE lower(email) = lower($1)")
                    .bind(&inv.email)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(err)?;
            match existing {
                Some(_) => {
                    return Err(StoreError::Conflict(
                        "An account with this email exists: sign in to accept (an account \
                         without a password is claimed through password reset)"
                            .into(),
                    ));
                }
                None => {
                    insert_user(
                        &mut tx,
                        NewUser {
                            email: inv.email.clone(),
                            username,
                            name,
                            password_hash: Some(password_hash),
                            ..Default::default()
                        },
                    )
                    .await?
                }
            }
        }
    };
    if role_of(&mut tx, inv.organization_id, user.id)
        .await?
        .is_none()
    {
        insert_membership(&mut tx, inv.organization_id, user.id, &inv.role, now).await?;
    }
    sqlx::query("UPDATE invitations SET status = 'accepted', updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(inv.id)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    commit(tx).await?;
    Ok((user, inv.organization_id))
}

pub(super) async fn decline_invitation(
    store: &SqlStore,
    hash: [u8; 32],
    user: Option<Uuid>,
) -> StoreResult<()> {
    let mut tx = begin_write(store).await?;
    let inv: LockedInvitation = sqlx::query_as(LOCK_INVITATION)
        .bind(&hash[..])
        .fetch_optional(&mut *tx)
        .await
        .map_err(err)?
        .ok_or(StoreError::NotFound("Invitation"))?;
    // The organization's pending count changes.
    tx.touch(crate::store::cache::Tag::Org(inv.organization_id));
    if invitation_status(&inv.status, inv.expires_at, Timestamp::now()) != InvitationStatus::Pending
    {
        return Err(StoreError::Invalid(
            "The invitation is no longer pending".into(),
        ));
    }
    if let Some(id) = user {
        let u = user_in(&mut tx, id)
            .await?
            .ok_or(StoreError::NotFound("User"))?;
        if u.email.to_lowercase() != inv.email.to_lowercase() {
            return Err(StoreError::Forbidden(
                "This invitation was sent to another email address".into(),
            ));
        }
    }
    sqlx::query("UPDATE invitations SET status = 'declined', updated_at = $1 WHERE id = $2")
        .bind(Timestamp::now())
        .bind(inv.id)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    commit(tx).await
}
