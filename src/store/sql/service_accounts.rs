//! Service accounts: users that belong to the organization that created them, and their tokens
//! scoped to it.

use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::authz::{Actor, Permission};
use crate::domain::Timestamp;
use crate::domain::membership::{self as rules};
use crate::domain::validate;
use crate::store::{Member, NewToken, NewUser, StoreError, StoreResult, TokenInfo, User};

use super::engine::Db;
use super::licensing::{Addition, admit};
use super::members::{
    MEMBER_SELECT, MemberRow, drop_membership, insert_membership, member_in, owner_count,
};
use super::tokens::{TOKEN_SELECT, TokenRow, insert_token};
use super::tx::{Tx, actor_grant, begin_write, commit, held, lock_org, role_grant};
use super::users::{insert_user, user_in};
use super::{SqlStore, err};

/// May `actor` manage the tokens of service account `account` of `org`? Owners and admins with
/// at least the account's role (a token of an account acts with its role).
async fn check_service_account_manager(
    tx: &mut Tx,
    org: Uuid,
    actor: Actor,
    account: Uuid,
) -> StoreResult<()> {
    let actor = actor_grant(tx, org, actor).await?;
    let is_sa = user_in(tx, account)
        .await?
        .is_some_and(|u| u.is_service_account);
    let account = match (is_sa, held(tx, org, account).await?) {
        (true, Some((_, grant))) => grant,
        _ => return Err(StoreError::NotFound("Service account")),
    };
    if !actor.perms.has(Permission::ServiceAccountsRead)
        || (account.owner && !actor.owner)
        || !account.perms.is_subset(&actor.perms)
    {
        return Err(StoreError::Forbidden(
            "Only a member holding every permission of the service account's role manages its tokens"
                .into(),
        ));
    }
    Ok(())
}

pub(super) async fn create_service_account(
    store: &SqlStore,
    org: Uuid,
    actor: Actor,
    username: Option<String>,
    name: String,
    role: String,
) -> StoreResult<(User, Member)> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    let actor_grant = actor_grant(&mut tx, org, actor).await?;
    rules::check_add(&actor_grant, &role_grant(&mut tx, org, &role).await?)?;
    admit(&mut tx, org, Addition::ServiceAccount).await?;
    let local = format!("sa.{}", validate::slug_from_name(&name));
    let email = format!(
        "{local}@{}.service-accounts.invalid",
        Uuid::now_v7().simple()
    );
    let user = insert_user(
        &mut tx,
        NewUser {
            email,
            username,
            name: Some(name),
            password_hash: None,
            is_superuser: false,
            is_service_account: true,
            email_verified: false,
        },
    )
    .await?;
    insert_membership(&mut tx, org, user.id, &role, Timestamp::now()).await?;
    crate::audit::target("service_account", user.id);
    let member = member_in(&mut tx, org, user.id).await?;
    commit(tx).await?;
    Ok((user, member))
}

pub(super) async fn list_service_accounts(store: &SqlStore, org: Uuid) -> StoreResult<Vec<Member>> {
    let mut q = QueryBuilder::<Db>::new(MEMBER_SELECT);
    q.push("WHERE m.organization_id = ");
    q.push_bind(org);
    q.push(" AND u.is_service_account ORDER BY m.created_at, m.user_id");
    let rows: Vec<MemberRow> = q
        .build_query_as()
        .fetch_all(&store.pool)
        .await
        .map_err(err)?;
    Ok(rows.into_iter().map(Member::from).collect())
}

pub(super) async fn delete_service_account(
    store: &SqlStore,
    org: Uuid,
    actor: Actor,
    user: Uuid,
) -> StoreResult<()> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    let actor_grant = actor_grant(&mut tx, org, actor).await?;
    let target = held(&mut tx, org, user).await?;
    let is_sa = user_in(&mut tx, user)
        .await?
        .is_some_and(|u| u.is_service_account);
    let (Some((_, target)), true) = (target, is_sa) else {
        return Err(StoreError::NotFound("Service account"));
    };
    let owners = owner_count(&mut tx, org).await?;
    rules::check_removal(&actor_grant, false, &target, owners)?;
    drop_membership(&mut tx, org, user, target.owner).await?;
    // A service account that belongs nowhere any more is deleted with its tokens.
    let remaining: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE user_id = $1")
        .bind(user)
        .fetch_one(&mut *tx)
        .await
        .map_err(err)?;
    if remaining == 0 {
        sqlx::query("DELETE FROM users WHERE id = $1 AND is_service_account")
            .bind(user)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
    }
    commit(tx).await
}

pub(super) async fn issue_service_account_token(
    store: &SqlStore,
    org: Uuid,
    actor: Actor,
    new: NewToken,
) -> StoreResult<Uuid> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    check_service_account_manager(&mut tx, org, actor, new.user_id).await?;
    admit(&mut tx, org, Addition::Token).await?;
    let id = Uuid::now_v7();
    insert_token(
        &mut *tx,
        id,
        &NewToken {
            organization_id: Some(org),
            ..new
        },
    )
    .await?;
    commit(tx).await?;
    Ok(id)
}

pub(super) async fn service_account_tokens(
    store: &SqlStore,
    org: Uuid,
    actor: Actor,
    account: Uuid,
) -> StoreResult<Vec<TokenInfo>> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    check_service_account_manager(&mut tx, org, actor, account).await?;
    let mut q = QueryBuilder::<Db>::new(TOKEN_SELECT);
    q.push("WHERE user_id = ");
    q.push_bind(account);
    q.push(" AND organization_id = ");
    q.push_bind(org);
    q.push(" ORDER BY id");
    let rows: Vec<TokenRow> = q.build_query_as().fetch_all(&mut *tx).await.map_err(err)?;
    commit(tx).await?;
    Ok(rows.into_iter().map(TokenInfo::from).collect())
}

pub(super) async fn revoke_service_account_token(
    store: &SqlStore,
    org: Uuid,
    actor: Actor,
    account: Uuid,
    id: Uuid,
) -> StoreResult<()> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    check_service_account_manager(&mut tx, org, actor, account).await?;
    let done =
        sqlx::query("DELETE FROM tokens WHERE id = $1 AND user_id = $2 AND organization_id = $3")
            .bind(id)
            .bind(account)
            .bind(org)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("Token"));
    }
    commit(tx).await
}
