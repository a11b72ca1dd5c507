//! SSO: an organization's domains and OpenID Connect providers, the single-use states of
//! sign-ins under way, and the sign-in itself (identity, account, membership and session in one
//! transaction).

use std::sync::Arc;

use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use crate::authz::Actor;
use crate::domain::Timestamp;
use crate::store::{
    DomainProof, Enforcement, NewSsoProvider, NewToken, NewUser, OrgDomain, OrgKey, SsoIdentity,
    SsoProvider, SsoProviderPatch, SsoState, StoreError, StoreResult, User,
};

use super::engine::Db;
use super::tx::{Tx, actor_grant, begin_bookkeeping, begin_write, commit, lock_org, role_grant};
use super::users::user_columns;
use super::{Select, SqlStore, err};
use crate::store::read::{Columns, DecodeError, ReadRow};

macro_rules! provider_columns {
    () => {
        "id, organization_id, name, issuer, client_id, scopes, domains, force_sso, \
         jit_provisioning, default_role, created_at, updated_at"
    };
}

#[derive(FromRow)]
struct ProviderRow {
    id: Uuid,
    organization_id: Uuid,
    name: String,
    issuer: String,
    client_id: String,
    scopes: String,
    domains: String,
    force_sso: bool,
    jit_provisioning: bool,
    default_role: String,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<ProviderRow> for SsoProvider {
    fn from(r: ProviderRow) -> SsoProvider {
        SsoProvider {
            id: r.id,
            organization_id: r.organization_id,
            kind: "oidc".into(),
            name: r.name,
            issuer: r.issuer,
            client_id: r.client_id,
            scopes: serde_json::from_str(&r.scopes).unwrap_or_default(),
            domains: serde_json::from_str(&r.domains).unwrap_or_default(),
            force_sso: r.force_sso,
            jit_provisioning: r.jit_provisioning,
            default_role: r.default_role,
            // Filled in by the route, which knows the installation's public URL.
            redirect_uri: String::new(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(FromRow)]
struct DomainRow {
    id: Uuid,
    organization_id: Uuid,
    domain: String,
    token: String,
    verified_at: Option<Timestamp>,
    verified_by: Option<String>,
    created_at: Timestamp,
}

impl From<DomainRow> for OrgDomain {
    fn from(r: DomainRow) -> OrgDomain {
        OrgDomain {
            id: r.id,
            organization_id: r.organization_id,
            domain: r.domain,
            verified: r.verified_at.is_some(),
            verified_at: r.verified_at,
            verified_by: r.verified_by,
            // The URL is filled in by the route, from the installation's settings.
            verification: DomainProof {
                url: String::new(),
                token: r.token,
            },
            created_at: r.created_at,
        }
    }
}

macro_rules! domain_columns {
    () => {
        "id, organization_id, domain, token, verified_at, verified_by, created_at"
    };
}

fn json(v: &[String]) -> String {
    serde_json::to_string(v).expect("strings serialize")
}

pub(super) async fn list_domains(store: &SqlStore, org: Uuid) -> StoreResult<Vec<OrgDomain>> {
    let rows: Vec<DomainRow> = sqlx::query_as(concat!(
        "SELECT ",
        domain_columns!(),
        " FROM organization_domains WHERE organization_id = $1 \
         ORDER BY domain"
    ))
    .bind(org)
    .fetch_all(&store.pool)
    .await
    .map_err(err)?;
    Ok(rows.into_iter().map(OrgDomain::from).collect())
}

async fn domain_in<'e, E: sqlx::Executor<'e, Database = Db>>(
    db: E,
    org: Uuid,
    id: Uuid,
) -> StoreResult<Option<OrgDomain>> {
    let row: Option<DomainRow> = sqlx::query_as(concat!(
        "SELECT ",
        domain_columns!(),
        " FROM organization_domains WHERE organization_id = $1 AND id = $2"
    ))
    .bind(org)
    .bind(id)
    .fetch_optional(db)
    .await
    .map_err(err)?;
    Ok(row.map(OrgDomain::from))
}

pub(super) async fn domain(
    store: &SqlStore,
    org: Uuid,
    id: Uuid,
) -> StoreResult<Option<OrgDomain>> {
    domain_in(&store.pool, org, id).await
}

pub(super) async fn add_domain(
    store: &SqlStore,
    org: Uuid,
    domain: String,
    token: String,
) -> StoreResult<OrgDomain> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO organization_domains (id, organization_id, domain, token, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(org)
    .bind(&domain)
    .bind(&token)
    .bind(Timestamp::now())
    .execute(&mut *tx)
    .await
    .map_err(|e| match err(e) {
        StoreError::Conflict(_) => {
            StoreError::Conflict(format!("{domain} is already claimed by this organization"))
        }
        other => other,
    })?;
    crate::audit::target("domain", id);
    crate::audit::change("domain", &None::<String>, &domain);
    let made = domain_in(&mut *tx, org, id)
        .await?
        .ok_or(StoreError::NotFound("Domain"))?;
    commit(tx).await?;
    Ok(made)
}

pub(super) async fn verify_domain(
    store: &SqlStore,
    org: Uuid,
    id: Uuid,
    by: &str,
) -> StoreResult<OrgDomain> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    let current = domain_in(&mut *tx, org, id)
        .await?
        .ok_or(StoreError::NotFound("Domain"))?;
    if !current.verified {
        let elsewhere: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM organization_domains WHERE domain = $1 AND verified_at IS NOT NULL \
             AND organization_id <> $2",
        )
        .bind(&current.domain)
        .bind(org)
        .fetch_optional(&mut *tx)
        .await
        .map_err(err)?;
        let taken = || {
            StoreError::Conflict(format!(
                "{} is verified by another organization",
                current.domain
            ))
        };
        if elsewhere.is_some() {
            return Err(taken());
        }
        sqlx::query(
            "UPDATE organization_domains SET verified_at = $1, verified_by = $2 WHERE id = $3",
        )
        .bind(Timestamp::now())
        .bind(by)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| match err(e) {
            // Two organizations verifying one domain at once: the unique index decides.
            StoreError::Conflict(_) => taken(),
            other => other,
        })?;
        crate::audit::change("verified", &false, &true);
        crate::audit::change("verified_by", &None::<String>, by);
    }
    let done = domain_in(&mut *tx, org, id)
        .await?
        .ok_or(StoreError::NotFound("Domain"))?;
    commit(tx).await?;
    Ok(done)
}

pub(super) async fn delete_domain(store: &SqlStore, org: Uuid, id: Uuid) -> StoreResult<()> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    let current = domain_in(&mut *tx, org, id)
        .await?
        .ok_or(StoreError::NotFound("Domain"))?;
    let used: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM sso_provider_domains pd JOIN sso_providers p ON p.id = pd.provider_id \
         WHERE p.organization_id = $1 AND pd.domain = $2",
    )
    .bind(org)
    .bind(&current.domain)
    .fetch_optional(&mut *tx)
    .await
    .map_err(err)?;
    if used.is_some() {
        return Err(StoreError::Conflict(format!(
            "an SSO provider routes {}: take it out of the provider's domains first",
            current.domain
        )));
    }
    sqlx::query("DELETE FROM organization_domains WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    commit(tx).await
}

/// The provider's rules, checked under the organization's lock: its domains verified here; its
/// default role existing, not `owner`, and within what the actor holds.
async fn check_provider(
    tx: &mut Tx,
    org: Uuid,
    actor: Actor,
    domains: &[String],
    default_role: &str,
) -> StoreResult<()> {
    let verified: Vec<String> = sqlx::query_scalar(
        "SELECT domain FROM organization_domains WHERE organization_id = $1 \
         AND verified_at IS NOT NULL",
    )
    .bind(org)
    .fetch_all(&mut **tx)
    .await
    .map_err(err)?;
    if let Some(d) = domains.iter().find(|d| !verified.contains(d)) {
        return Err(StoreError::Invalid(format!(
            "{d} is not a verified domain of this organization: add it and verify it first \
             (POST /organizations/{{org}}/domains)"
        )));
    }
    if default_role == "owner" {
        return Err(StoreError::Invalid(
            "default_role cannot be owner: ownership is granted by an owner, one person at a time"
                .into(),
        ));
    }
    let role = role_grant(tx, org, default_role).await?;
    let held = actor_grant(tx, org, actor).await?;
    if !role.perms.is_subset(&held.perms) {
        return Err(StoreError::Forbidden(format!(
            "default_role '{default_role}' grants permissions you do not hold"
        )));
    }
    Ok(())
}

async fn provider_in(tx: &mut Tx, org: Uuid, id: Uuid) -> StoreResult<Option<ProviderRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        provider_columns!(),
        " FROM sso_providers WHERE organization_id = $1 AND id = $2"
    ))
    .bind(org)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(err)
}

async fn route_domains(tx: &mut Tx, id: Uuid, domains: &[String]) -> StoreResult<()> {
    sqlx::query("DELETE FROM sso_provider_domains WHERE provider_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    if domains.is_empty() {
        return Ok(());
    }
    let mut q = QueryBuilder::<Db>::new("INSERT INTO sso_provider_domains (provider_id, domain) ");
    q.push_values(domains, |mut row, d| {
        row.push_bind(id).push_bind(d.clone());
    });
    q.build().execute(&mut **tx).await.map_err(err)?;
    Ok(())
}

pub(super) async fn create_provider(
    store: &SqlStore,
    org: Uuid,
    actor: Actor,
    new: NewSsoProvider,
) -> StoreResult<SsoProvider> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    check_provider(&mut tx, org, actor, &new.domains, &new.default_role).await?;
    let id = Uuid::now_v7();
    let now = Timestamp::now();
    sqlx::query(
        "INSERT INTO sso_providers (id, organization_id, name, issuer, client_id, client_secret, \
         scopes, domains, force_sso, jit_provisioning, default_role, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
    )
    .bind(id)
    .bind(org)
    .bind(&new.name)
    .bind(&new.issuer)
    .bind(&new.client_id)
    .bind(&new.client_secret)
    .bind(json(&new.scopes))
    .bind(json(&new.domains))
    .bind(new.force_sso)
    .bind(new.jit_provisioning)
    .bind(&new.default_role)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    route_domains(&mut tx, id, &new.domains).await?;
    crate::audit::target("sso_provider", id);
    crate::audit::change("issuer", &None::<String>, &new.issuer);
    crate::audit::change("client_id", &None::<String>, &new.client_id);
    crate::audit::change("domains", &None::<String>, &new.domains);
    crate::audit::change("force_sso", &None::<bool>, &new.force_sso);
    crate::audit::change("jit_provisioning", &None::<bool>, &new.jit_provisioning);
    crate::audit::change("default_role", &None::<String>, &new.default_role);
    let made = provider_in(&mut tx, org, id)
        .await?
        .ok_or(StoreError::NotFound("SSO provider"))?;
    commit(tx).await?;
    Ok(made.into())
}

pub(super) async fn list_providers(store: &SqlStore, org: Uuid) -> StoreResult<Vec<SsoProvider>> {
    let rows: Vec<ProviderRow> = sqlx::query_as(concat!(
        "SELECT ",
        provider_columns!(),
        " FROM sso_providers WHERE organization_id = $1 ORDER BY id"
    ))
    .bind(org)
    .fetch_all(&store.pool)
    .await
    .map_err(err)?;
    Ok(rows.into_iter().map(SsoProvider::from).collect())
}

pub(super) async fn provider(
    store: &SqlStore,
    org: Uuid,
    id: Uuid,
) -> StoreResult<Option<SsoProvider>> {
    let row: Option<ProviderRow> = sqlx::query_as(concat!(
        "SELECT ",
        provider_columns!(),
        " FROM sso_providers WHERE organization_id = $1 AND id = $2"
    ))
    .bind(org)
    .bind(id)
    .fetch_optional(&store.pool)
    .await
    .map_err(err)?;
    Ok(row.map(SsoProvider::from))
}

pub(super) async fn update_provider(
    store: &SqlStore,
    org: Uuid,
    actor: Actor,
    id: Uuid,
    patch: SsoProviderPatch,
) -> StoreResult<SsoProvider> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    let before: SsoProvider = provider_in(&mut tx, org, id)
        .await?
        .ok_or(StoreError::NotFound("SSO provider"))?
        .into();
    let name = patch.name.unwrap_or_else(|| before.name.clone());
    let issuer = patch.issuer.unwrap_or_else(|| before.issuer.clone());
    let client_id = patch.client_id.unwrap_or_else(|| before.client_id.clone());
    let scopes = patch.scopes.unwrap_or_else(|| before.scopes.clone());
    let domains = patch.domains.unwrap_or_else(|| before.domains.clone());
    let force_sso = patch.force_sso.unwrap_or(before.force_sso);
    let jit = patch.jit_provisioning.unwrap_or(before.jit_provisioning);
    let default_role = patch
        .default_role
        .unwrap_or_else(|| before.default_role.clone());
    if domains != before.domains || default_role != before.default_role {
        check_provider(&mut tx, org, actor, &domains, &default_role).await?;
    }
    sqlx::query(
        "UPDATE sso_providers SET name = $1, issuer = $2, client_id = $3, scopes = $4, \
         domains = $5, force_sso = $6, jit_provisioning = $7, default_role = $8, updated_at = $9 \
         WHERE id = $10",
    )
    .bind(&name)
    .bind(&issuer)
    .bind(&client_id)
    .bind(json(&scopes))
    .bind(json(&domains))
    .bind(force_sso)
    .bind(jit)
    .bind(&default_role)
    .bind(Timestamp::now())
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    if let Some(secret) = &patch.client_secret {
        sqlx::query("UPDATE sso_providers SET client_secret = $1 WHERE id = $2")
            .bind(secret)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        crate::audit::change("client_secret", "(unchanged)", "(set)");
    }
    if domains != before.domains {
        route_domains(&mut tx, id, &domains).await?;
    }
    crate::audit::change("name", &before.name, &name);
    crate::audit::change("issuer", &before.issuer, &issuer);
    crate::audit::change("client_id", &before.client_id, &client_id);
    crate::audit::change("scopes", &before.scopes, &scopes);
    crate::audit::change("domains", &before.domains, &domains);
    crate::audit::change("force_sso", &before.force_sso, &force_sso);
    crate::audit::change("jit_provisioning", &before.jit_provisioning, &jit);
    crate::audit::change("default_role", &before.default_role, &default_role);
    let after = provider_in(&mut tx, org, id)
        .await?
        .ok_or(StoreError::NotFound("SSO provider"))?;
    commit(tx).await?;
    Ok(after.into())
}

pub(super) async fn delete_provider(store: &SqlStore, org: Uuid, id: Uuid) -> StoreResult<()> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    // Its sessions (and tokens minted from them) end with it.
    let users: Vec<Uuid> =
        sqlx::query_scalar("SELECT DISTINCT user_id FROM tokens WHERE sso_provider_id = $1")
            .bind(id)
            .fetch_all(&mut *tx)
            .await
            .map_err(err)?;
    let gone = sqlx::query("DELETE FROM sso_providers WHERE organization_id = $1 AND id = $2")
        .bind(org)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected();
    if gone == 0 {
        return Err(StoreError::NotFound("SSO provider"));
    }
    for user in users {
        tx.touch(crate::store::cache::Tag::User(user));
    }
    commit(tx).await
}

pub(super) async fn login_provider(
    store: &SqlStore,
    id: Uuid,
) -> StoreResult<Option<(SsoProvider, Vec<u8>)>> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        provider: ProviderRow,
        client_secret: Vec<u8>,
    }
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        provider_columns!(),
        ", client_secret FROM sso_providers WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&store.pool)
    .await
    .map_err(err)?;
    Ok(row.map(|r| (r.provider.into(), r.client_secret)))
}

pub(super) async fn provider_for_domain(
    store: &SqlStore,
    domain: &str,
) -> StoreResult<Option<Uuid>> {
    sqlx::query_scalar(
        "SELECT p.id FROM sso_provider_domains pd JOIN sso_providers p ON p.id = pd.provider_id \
         JOIN organization_domains d ON d.organization_id = p.organization_id \
         AND d.domain = pd.domain AND d.verified_at IS NOT NULL \
         WHERE pd.domain = $1 ORDER BY p.id LIMIT 1",
    )
    .bind(domain)
    .fetch_optional(&store.pool)
    .await
    .map_err(err)
}

pub(super) async fn provider_for_organization(
    store: &SqlStore,
    key: &OrgKey,
) -> StoreResult<Option<Uuid>> {
    let mut q = QueryBuilder::<Db>::new(
        "SELECT p.id FROM sso_providers p JOIN organizations o ON o.id = p.organization_id WHERE ",
    );
    match key {
        OrgKey::Id(id) => q.push("o.id = ").push_bind(*id),
        OrgKey::Slug(slug) => q.push("o.slug = ").push_bind(slug.clone()),
    };
    q.push(" ORDER BY p.id LIMIT 1");
    q.build_query_scalar()
        .fetch_optional(&store.pool)
        .await
        .map_err(err)
}

pub(super) async fn create_state(
    store: &SqlStore,
    hash: [u8; 32],
    state: SsoState,
    expires_at: Timestamp,
) -> StoreResult<()> {
    let mut tx = begin_bookkeeping(store).await?;
    // Sign-ins never finished leave their states behind: gone once expired.
    sqlx::query("DELETE FROM sso_states WHERE expires_at < $1")
        .bind(Timestamp::now())
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    sqlx::query(
        "INSERT INTO sso_states (state_hash, provider_id, nonce, verifier, return_to, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&hash[..])
    .bind(state.provider_id)
    .bind(&state.nonce)
    .bind(&state.verifier)
    .bind(&state.return_to)
    .bind(expires_at)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    commit(tx).await
}

pub(super) async fn take_state(
    store: &SqlStore,
    hash: [u8; 32],
    now: Timestamp,
) -> StoreResult<Option<SsoState>> {
    #[derive(FromRow)]
    struct Row {
        provider_id: Uuid,
        nonce: String,
        verifier: String,
        return_to: Option<String>,
        expires_at: Timestamp,
    }
    let mut tx = begin_bookkeeping(store).await?;
    let row: Option<Row> = sqlx::query_as(
        "DELETE FROM sso_states WHERE state_hash = $1 \
         RETURNING provider_id, nonce, verifier, return_to, expires_at",
    )
    .bind(&hash[..])
    .fetch_optional(&mut *tx)
    .await
    .map_err(err)?;
    commit(tx).await?;
    Ok(row.filter(|r| r.expires_at > now).map(|r| SsoState {
        provider_id: r.provider_id,
        nonce: r.nonce,
        verifier: r.verifier,
        return_to: r.return_to,
    }))
}

pub(super) async fn sign_in(
    store: &SqlStore,
    provider: Uuid,
    identity: SsoIdentity,
    mut session: NewToken,
) -> StoreResult<User> {
    let mut tx = begin_write(store).await?;
    let org: Uuid = sqlx::query_scalar("SELECT organization_id FROM sso_providers WHERE id = $1")
        .bind(provider)
        .fetch_optional(&mut *tx)
        .await
        .map_err(err)?
        .ok_or(StoreError::NotFound("SSO provider"))?;
    lock_org(&mut tx, org).await?;
    let p: SsoProvider = provider_in(&mut tx, org, provider)
        .await?
        .ok_or(StoreError::NotFound("SSO provider"))?
        .into();
    // A provider vouches only for addresses of its organization's verified domains: any other
    // address could belong to anyone, and signing it in would hand over their account.
    let domain = crate::sso::email_domain(&identity.email).unwrap_or_default();
    let verified: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM organization_domains WHERE organization_id = $1 AND domain = $2 \
         AND verified_at IS NOT NULL",
    )
    .bind(org)
    .bind(&domain)
    .fetch_optional(&mut *tx)
    .await
    .map_err(err)?;
    if !p.domains.contains(&domain) || verified.is_none() {
        return Err(StoreError::Forbidden(format!(
            "{domain} is not a verified domain of this identity provider: it cannot sign in \
             {}",
            identity.email
        )));
    }
    let linked: Option<Uuid> = sqlx::query_scalar(
        "SELECT user_id FROM sso_identities WHERE provider_id = $1 AND subject = $2",
    )
    .bind(provider)
    .bind(&identity.subject)
    .fetch_optional(&mut *tx)
    .await
    .map_err(err)?;
    let user_id = match linked {
        Some(id) => id,
        None => {
            let existing: Option<Uuid> =
                sqlx::query_scalar("SELECT id FROM users WHERE lower(email) = lower($1)")
                    .bind(&identity.email)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(err)?;
            let id = match existing {
                Some(id) => {
                    // The provider verified the address of a domain the organization proved.
                    sqlx::query("UPDATE users SET email_verified = TRUE WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?;
                    id
                }
                None => {
                    super::users::insert_user(
                        &mut tx,
                        NewUser {
                            email: identity.email.clone(),
                            username: None,
                            name: identity.name.clone(),
                            password_hash: None,
                            is_superuser: false,
                            is_service_account: false,
                            email_verified: true,
                        },
                    )
                    .await?
                    .id
                }
            };
            sqlx::query(
                "INSERT INTO sso_identities (provider_id, subject, user_id, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(provider)
            .bind(&identity.subject)
            .bind(id)
            .bind(Timestamp::now())
            .execute(&mut *tx)
            .await
            .map_err(err)?;
            id
        }
    };
    let user: User = sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users u WHERE u.id = $1"
    ))
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await
    .map_err(err)?;
    if !user.is_active || user.is_service_account {
        return Err(StoreError::Forbidden(
            "this account cannot sign in (deactivated, or a service account)".into(),
        ));
    }
    crate::audit::subject(user.id);
    if p.jit_provisioning && super::tx::role_of(&mut tx, org, user.id).await?.is_none() {
        super::members::insert_membership(&mut tx, org, user.id, &p.default_role, Timestamp::now())
            .await?;
        tx.touch(crate::store::cache::Tag::User(user.id));
    }
    session.user_id = user.id;
    session.sso_provider_id = Some(provider);
    super::tokens::insert_token(&mut *tx, Uuid::now_v7(), &session).await?;
    crate::audit::target("user", user.id);
    commit(tx).await?;
    Ok(user)
}

/// A provider forcing SSO, as the read path returns it.
struct EnforcementRow {
    id: Uuid,
    domains: String,
}

impl ReadRow for EnforcementRow {
    fn read(r: &impl Columns) -> Result<Self, DecodeError> {
        Ok(EnforcementRow {
            id: r.uuid("id")?,
            domains: r.text("domains")?,
        })
    }
}

impl<'r> FromRow<'r, <Db as sqlx::Database>::Row> for EnforcementRow {
    fn from_row(row: &'r <Db as sqlx::Database>::Row) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        Ok(EnforcementRow {
            id: row.try_get("id")?,
            domains: row.try_get("domains")?,
        })
    }
}

/// Every request under an organization asks this: on the read path (inline on SQLite,
/// pipelined on PostgreSQL), and cached.
pub(super) async fn enforcement(store: &SqlStore, org: Uuid) -> StoreResult<Arc<Vec<Enforcement>>> {
    if let Some(hit) = store.caches.sso.get(&org) {
        return Ok(hit);
    }
    let stamp = crate::store::cache::begin();
    let mut q = Select::new("SELECT id, domains FROM sso_providers WHERE organization_id = ");
    q.bind(org).push(" AND force_sso = TRUE");
    let rows: Vec<EnforcementRow> = q.fetch_all(store).await?;
    let rules = Arc::new(
        rows.into_iter()
            .map(|r| Enforcement {
                provider_id: r.id,
                domains: serde_json::from_str(&r.domains).unwrap_or_default(),
            })
            .collect::<Vec<_>>(),
    );
    store.caches.sso.put(
        org,
        rules.clone(),
        &[crate::store::cache::Tag::Org(org)],
        stamp,
    );
    Ok(rules)
}
