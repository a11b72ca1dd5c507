//! Sessions and tokens: minting, authenticating (cached), listing and revoking.

use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use crate::domain::Timestamp;
use crate::store::{Authenticated, NewToken, StoreError, StoreResult, TokenInfo, TokenKind, User};

use super::engine::Db;
use super::licensing::{Addition, admit};
use super::tx::{Tx, begin_write, commit, held, lock_org};
use super::users::user_columns;
use super::{SqlStore, err, read_row};
use crate::store::read::{Columns, DecodeError, ReadRow};

#[derive(FromRow)]
struct AuthRow {
    token_id: Uuid,
    kind: String,
    organization_id: Option<Uuid>,
    expires_at: Option<Timestamp>,
    last_used_at: Option<Timestamp>,
    sso_provider_id: Option<Uuid>,
    #[sqlx(flatten)]
    user: User,
}

const AUTHENTICATE: &str = concat!(
    "SELECT t.id AS token_id, t.kind, t.organization_id, t.expires_at, t.last_used_at, \
     t.sso_provider_id, ",
    user_columns!(),
    " FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1"
);

impl ReadRow for AuthRow {
    fn read(r: &impl Columns) -> Result<Self, DecodeError> {
        Ok(AuthRow {
            token_id: r.uuid("token_id")?,
            kind: r.text("kind")?,
            organization_id: r.opt_uuid("organization_id")?,
            expires_at: r.opt_ts("expires_at")?,
            sso_provider_id: r.opt_uuid("sso_provider_id")?,
            last_used_at: r.opt_ts("last_used_at")?,
            user: User::read(r)?,
        })
    }
}

/// `last_used_at` is written at most once a minute per token, so that reads stay reads.
const LAST_USED_GRANULARITY_MS: i64 = 60_000;

#[derive(FromRow)]
pub(super) struct TokenRow {
    id: Uuid,
    name: Option<String>,
    kind: String,
    organization_id: Option<Uuid>,
    expires_at: Option<Timestamp>,
    last_used_at: Option<Timestamp>,
    created_at: Timestamp,
}

impl From<TokenRow> for TokenInfo {
    fn from(r: TokenRow) -> Self {
        TokenInfo {
            id: r.id,
            name: r.name,
            kind: TokenKind::parse(&r.kind).unwrap_or(TokenKind::Pat),
            organization_id: r.organization_id,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            created_at: r.created_at,
        }
    }
}

pub(super) const TOKEN_SELECT: &str = "SELECT id, name, kind, organization_id, expires_at, \
     last_used_at, created_at FROM tokens ";

pub(super) async fn insert_token<'e, E>(db: E, id: Uuid, new: &NewToken) -> StoreResult<()>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    crate::audit::target("token", id);
    sqlx::query(
        "INSERT INTO tokens (id, user_id, kind, name, token_hash, organization_id, expires_at, \
         created_at, sso_provider_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(new.user_id)
    .bind(new.kind.as_str())
    .bind(&new.name)
    .bind(&new.hash[..])
    .bind(new.organization_id)
    .bind(new.expires_at)
    .bind(Timestamp::now())
    .bind(new.sso_provider_id)
    .execute(db)
    .await
    .map_err(err)?;
    Ok(())
}

/// Ends a user's sessions other than `keep`; with `tokens`, their personal access tokens too.
pub(super) async fn end_sessions(
    tx: &mut Tx,
    user: Uuid,
    keep: Option<Uuid>,
    tokens: bool,
) -> StoreResult<()> {
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

pub(super) async fn create_token(store: &SqlStore, new: NewToken) -> StoreResult<Uuid> {
    let id = Uuid::now_v7();
    let Some(org) = new.organization_id else {
        let mut tx = begin_write(store).await?;
        insert_token(&mut *tx, id, &new).await?;
        commit(tx).await?;
        return Ok(id);
    };
    // A scoped token is minted under the organization lock that removals and deletions take,
    // after checking the membership it depends on: a removal either happens first (no token)
    // or after (its cascade deletes the token).
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    let Some((_, grant)) = held(&mut tx, org, new.user_id).await? else {
        return Err(StoreError::NotFound("Organization"));
    };
    // A personal access token scoped here needs `tokens:write` (every built-in role holds it);
    // a service account's tokens follow the service-account rules instead.
    if new.kind == TokenKind::Pat && !grant.perms.has(crate::authz::Permission::TokensWrite) {
        return Err(StoreError::Forbidden(
            "Creating a token scoped to this organization requires the tokens:write permission"
                .into(),
        ));
    }
    admit(&mut tx, org, Addition::Token).await?;
    insert_token(&mut *tx, id, &new).await?;
    commit(tx).await?;
    Ok(id)
}

pub(super) async fn authenticate(
    store: &SqlStore,
    hash: [u8; 32],
    now: Timestamp,
) -> StoreResult<Option<Authenticated>> {
    if let Some(hit) = store.caches.auth.get(&hash) {
        if hit.expires_at.is_some_and(|e| e <= now) {
            return Ok(None);
        }
        return Ok(Some(hit));
    }
    let stamp = crate::store::cache::begin();
    let row: Option<AuthRow> = read_row(store, AUTHENTICATE, vec![hash[..].into()]).await?;
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
            .execute(&store.pool)
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
        user: std::sync::Arc::new(row.user),
        sso_provider_id: row.sso_provider_id,
    };
    let mut tags = vec![crate::store::cache::Tag::User(auth.user.id)];
    if let Some(org) = auth.organization_id {
        tags.push(crate::store::cache::Tag::Org(org));
    }
    store.caches.auth.put(hash, auth.clone(), &tags, stamp);
    Ok(Some(auth))
}

pub(super) async fn delete_token(store: &SqlStore, id: Uuid) -> StoreResult<bool> {
    let mut tx = begin_write(store).await?;
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

pub(super) async fn list_tokens(store: &SqlStore, user: Uuid) -> StoreResult<Vec<TokenInfo>> {
    let mut q = QueryBuilder::<Db>::new(TOKEN_SELECT);
    q.push("WHERE user_id = ");
    q.push_bind(user);
    q.push(" AND kind <> 'session' ORDER BY id");
    let rows: Vec<TokenRow> = q
        .build_query_as()
        .fetch_all(&store.pool)
        .await
        .map_err(err)?;
    Ok(rows.into_iter().map(TokenInfo::from).collect())
}

pub(super) async fn list_sessions(store: &SqlStore, user: Uuid) -> StoreResult<Vec<TokenInfo>> {
    let mut q = QueryBuilder::<Db>::new(TOKEN_SELECT);
    q.push("WHERE user_id = ");
    q.push_bind(user);
    q.push(" AND kind = 'session' AND (expires_at IS NULL OR expires_at > ");
    q.push_bind(Timestamp::now());
    q.push(") ORDER BY id DESC");
    let rows: Vec<TokenRow> = q
        .build_query_as()
        .fetch_all(&store.pool)
        .await
        .map_err(err)?;
    Ok(rows.into_iter().map(TokenInfo::from).collect())
}

pub(super) async fn token_info(
    store: &SqlStore,
    user: Uuid,
    id: Uuid,
) -> StoreResult<Option<TokenInfo>> {
    let mut q = QueryBuilder::<Db>::new(TOKEN_SELECT);
    q.push("WHERE user_id = ");
    q.push_bind(user);
    q.push(" AND id = ");
    q.push_bind(id);
    let row: Option<TokenRow> = q
        .build_query_as()
        .fetch_optional(&store.pool)
        .await
        .map_err(err)?;
    Ok(row.map(TokenInfo::from))
}

pub(super) async fn revoke_token(store: &SqlStore, user: Uuid, id: Uuid) -> StoreResult<bool> {
    let mut tx = begin_write(store).await?;
    let done = sqlx::query("DELETE FROM tokens WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    tx.touch(crate::store::cache::Tag::User(user));
    commit(tx).await?;
    Ok(done.rows_affected() > 0)
}
