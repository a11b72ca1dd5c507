//! Users: accounts, profiles, passwords and password resets.

use sqlx::types::Json;
use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use crate::domain::Timestamp;
use crate::domain::paging::{Cursor, Page};
use crate::domain::validate;
use crate::store::{NewUser, StoreError, StoreResult, User, UserPatch, like_pattern};

use super::engine::{Db, LOCK_ORGS_OWNED_BY};
use super::members::{hand_over_primary_owner, owner_count};
use super::tokens::end_sessions;
use super::tx::{Tx, begin_write, commit};
use super::{SqlStore, err, push_page};

/// The columns of a `User`: a macro rather than a constant, so that `concat!` builds whole
/// statements from it (here and in `tokens.rs`).
macro_rules! user_columns {
    () => {
        "u.id, u.username, u.email, u.email_verified, u.name, u.avatar_url, u.company, u.job_title, u.metadata, \
         u.is_active, u.is_superuser, u.is_service_account, u.created_at, u.updated_at"
    };
}

pub(super) use user_columns;

/// Marks a user's profile, tokens and organization list as changed, and every organization they
/// belong to (whose member rows, counts and owner summary show them). Returns those
/// organizations, in id order.
async fn touch_user_everywhere(tx: &mut Tx, user: Uuid) -> StoreResult<Vec<Uuid>> {
    use crate::store::cache::Tag;
    tx.touch(Tag::User(user));
    let orgs: Vec<Uuid> = sqlx::query_scalar(
        "SELECT organization_id FROM memberships WHERE user_id = $1 ORDER BY organization_id",
    )
    .bind(user)
    .fetch_all(&mut **tx)
    .await
    .map_err(err)?;
    for o in &orgs {
        tx.touch(Tag::Org(*o));
    }
    tx.touch(Tag::AllOrgs);
    Ok(orgs)
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

pub(super) async fn insert_user(tx: &mut Tx, new: NewUser) -> StoreResult<User> {
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
    crate::audit::target("user", id);
    crate::audit::subject(id);
    sqlx::query(
        "INSERT INTO users (id, username, email, name, metadata, password_hash, is_active, \
         is_superuser, is_service_account, created_at, updated_at, email_verified) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11)",
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
    .bind(new.email_verified)
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    Ok(User {
        id,
        username,
        email: new.email,
        email_verified: new.email_verified,
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

pub(super) async fn user_in(tx: &mut Tx, id: Uuid) -> StoreResult<Option<User>> {
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

pub(super) async fn create_user(store: &SqlStore, new: NewUser) -> StoreResult<User> {
    let mut tx = begin_write(store).await?;
    let user = insert_user(&mut tx, new).await?;
    commit(tx).await?;
    Ok(user)
}

pub(super) async fn user_for_login(
    store: &SqlStore,
    login: &str,
) -> StoreResult<Option<(User, Option<String>)>> {
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
        .fetch_optional(&store.pool)
        .await
        .map_err(err)?;
    Ok(row.map(|r| (r.user, r.password_hash)))
}

pub(super) async fn user(store: &SqlStore, id: Uuid) -> StoreResult<Option<User>> {
    sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users u WHERE u.id = $1"
    ))
    .bind(id)
    .fetch_optional(&store.pool)
    .await
    .map_err(err)
}

pub(super) async fn password_hash(store: &SqlStore, id: Uuid) -> StoreResult<Option<String>> {
    let hash: Option<Option<String>> =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&store.pool)
            .await
            .map_err(err)?;
    Ok(hash.flatten())
}

pub(super) async fn update_user(store: &SqlStore, id: Uuid, patch: UserPatch) -> StoreResult<User> {
    let mut tx = begin_write(store).await?;
    let mut u = user_in(&mut tx, id)
        .await?
        .ok_or(StoreError::NotFound("User"))?;
    let member_of = touch_user_everywhere(&mut tx, id).await?;
    if let Some(v) = patch.username {
        crate::audit::change("username", &u.username, &v);
        u.username = v;
    }
    if let Some(v) = patch.email {
        if !v.eq_ignore_ascii_case(&u.email) {
            u.email_verified = false;
        }
        crate::audit::change("email", &u.email, &v);
        u.email = v;
    }
    if let Some(v) = patch.email_verified {
        crate::audit::change("email_verified", &u.email_verified, &v);
        u.email_verified = v;
    }
    if let Some(v) = patch.name {
        crate::audit::change("name", &u.name, &v);
        u.name = v;
    }
    if let Some(v) = patch.avatar_url {
        crate::audit::change("avatar_url", &u.avatar_url, &v);
        u.avatar_url = v;
    }
    if let Some(v) = patch.company {
        crate::audit::change("company", &u.company, &v);
        u.company = v;
    }
    if let Some(v) = patch.job_title {
        crate::audit::change("job_title", &u.job_title, &v);
        u.job_title = v;
    }
    if let Some(v) = patch.metadata {
        crate::audit::change("metadata", &u.metadata, &v);
        u.metadata = v;
    }
    if let Some(v) = patch.is_active {
        crate::audit::change("is_active", &u.is_active, &v);
        u.is_active = v;
    }
    if let Some(v) = patch.is_superuser {
        crate::audit::change("is_superuser", &u.is_superuser, &v);
        u.is_superuser = v;
    }
    if patch.password_hash.is_some() {
        // That it changed, never the value.
        crate::audit::change("password", "(unchanged)", "(set)");
    }
    u.updated_at = Timestamp::now();
    sqlx::query(
        "UPDATE users SET username = $1, email = $2, name = $3, avatar_url = $4, company = $5, \
         job_title = $6, metadata = $7, is_active = $8, is_superuser = $9, updated_at = $10, \
         email_verified = $12, password_hash = COALESCE($13, password_hash) WHERE id = $11",
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
    .bind(u.email_verified)
    .bind(&patch.password_hash)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    if patch.password_hash.is_some() {
        end_sessions(&mut tx, id, None, true).await?;
    }
    if patch.is_active.is_some() {
        for org in member_of {
            super::members::recount_members(&mut tx, org).await?;
        }
    }
    commit(tx).await?;
    Ok(u)
}

pub(super) async fn set_password(
    store: &SqlStore,
    id: Uuid,
    hash: String,
    keep: Option<Uuid>,
    revoke_tokens: bool,
) -> StoreResult<()> {
    let mut tx = begin_write(store).await?;
    let done = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(Timestamp::now())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("User"));
    }
    crate::audit::target("user", id);
    // That it changed, never the value.
    crate::audit::change("password", "(unchanged)", "(set)");
    end_sessions(&mut tx, id, keep, revoke_tokens).await?;
    commit(tx).await
}

pub(super) async fn create_password_reset(
    store: &SqlStore,
    email: &str,
    hash: [u8; 32],
    expires_at: Timestamp,
) -> StoreResult<Option<User>> {
    let mut tx = begin_write(store).await?;
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

pub(super) async fn confirm_password_reset(
    store: &SqlStore,
    hash: [u8; 32],
    password_hash: String,
    revoke_tokens: bool,
) -> StoreResult<User> {
    let mut tx = begin_write(store).await?;
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
    // The link's holder acts as the account.
    crate::audit::subject(user_id);
    crate::audit::target("user", user_id);
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

pub(super) async fn list_users(
    store: &SqlStore,
    q: Option<&str>,
    page: &Page,
) -> StoreResult<Vec<User>> {
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
        .fetch_all(&store.pool)
        .await
        .map_err(err)
}

pub(super) async fn delete_user(store: &SqlStore, id: Uuid) -> StoreResult<()> {
    let mut tx = begin_write(store).await?;
    // Handing over ownership below changes no membership: these stay the user's organizations.
    let member_of = touch_user_everywhere(&mut tx, id).await?;
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
    // The memberships went with the user.
    for org in member_of {
        super::members::recount_members(&mut tx, org).await?;
    }
    commit(tx).await
}

/// Records a verification link for the account's current address. `Conflict` when that address
/// is verified already; `None` for an account that cannot sign in (deactivated, a service
/// account) or does not exist.
pub(super) async fn create_email_verification(
    store: &SqlStore,
    user: Uuid,
    hash: [u8; 32],
    expires_at: Timestamp,
) -> StoreResult<Option<User>> {
    let mut tx = begin_write(store).await?;
    let Some(u) = user_in(&mut tx, user)
        .await?
        .filter(|u| u.is_active && !u.is_service_account)
    else {
        return Ok(None);
    };
    if u.email_verified {
        return Err(StoreError::Conflict(
            "the email address is verified already".into(),
        ));
    }
    sqlx::query(
        "INSERT INTO email_verifications (id, user_id, email, token_hash, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(&u.email)
    .bind(&hash[..])
    .bind(expires_at)
    .bind(Timestamp::now())
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    commit(tx).await?;
    Ok(Some(u))
}

/// The account with this email, for a resend (`None` when there is none that can sign in).
pub(super) async fn user_by_email(store: &SqlStore, email: &str) -> StoreResult<Option<User>> {
    let u: Option<User> = sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users u WHERE lower(u.email) = lower($1)"
    ))
    .bind(email)
    .fetch_optional(&store.pool)
    .await
    .map_err(err)?;
    Ok(u.filter(|u| u.is_active && !u.is_service_account))
}

/// Spends a verification link, once: the account's address is verified if it is still the one
/// the link was sent to. Unknown, used, expired or outdated links are `NotFound`.
pub(super) async fn confirm_email_verification(
    store: &SqlStore,
    hash: [u8; 32],
) -> StoreResult<User> {
    let mut tx = begin_write(store).await?;
    let now = Timestamp::now();
    let spent: Option<(Uuid, String)> = sqlx::query_as(
        "UPDATE email_verifications SET used_at = $1 \
         WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id, email",
    )
    .bind(now)
    .bind(&hash[..])
    .fetch_optional(&mut *tx)
    .await
    .map_err(err)?;
    let not_found = || StoreError::NotFound("Email verification link");
    let (user_id, email) = spent.ok_or_else(not_found)?;
    let mut user = user_in(&mut tx, user_id)
        .await?
        .filter(|u| u.is_active && u.email.eq_ignore_ascii_case(&email))
        .ok_or_else(not_found)?;
    tx.touch(crate::store::cache::Tag::User(user_id));
    sqlx::query("UPDATE users SET email_verified = $1, updated_at = $2 WHERE id = $3")
        .bind(true)
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    sqlx::query(
        "UPDATE email_verifications SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    commit(tx).await?;
    user.email_verified = true;
    user.updated_at = now;
    Ok(user)
}
