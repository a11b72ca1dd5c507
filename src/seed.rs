//! `orgd admin seed`: bulk, realistic data for load tests, plus a few known callers.
//!
//! Shape: `orgs` organizations of `members_per_org` members drawn from `users` users (an owner
//! first, every tenth an admin), and fixtures the load harness needs: organization X (owner,
//! member and 18 more members), a 1,000-member organization, an owner who belongs to 20
//! organizations, and an outsider. Optionally, `callers` more users who each own an organization
//! of their own (shaped like the others) and get a session token of their own, for workloads with
//! many distinct callers. Rows go in with multi-row INSERTs, one transaction a batch.

use serde::Serialize;
use uuid::Uuid;

use crate::authz::Role;
use crate::domain::Timestamp;
use crate::store::{NewToken, SeedBatch, Store, StoreError, TokenKind};

pub const PASSWORD: &str = "seed-password";

#[derive(Debug, Clone, Copy)]
pub struct SeedOptions {
    pub orgs: u64,
    pub members_per_org: u64,
    pub users: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct Caller {
    pub id: Uuid,
    pub username: String,
    pub token: String,
}

/// A user who owns an organization of their own, with a session token of their own.
#[derive(Debug, Serialize)]
pub struct OrgCaller {
    pub id: Uuid,
    pub token: String,
    /// The organization the caller owns.
    pub org: Uuid,
    /// A non-owner member of that organization, for role-change workloads.
    pub member: Uuid,
}

#[derive(Debug, Serialize)]
pub struct SeededOrg {
    pub id: Uuid,
    pub slug: String,
}

#[derive(Debug, Serialize)]
pub struct SeedReport {
    /// The password of every seeded user.
    pub password: String,
    /// Owner of organization X and of 20 organizations in all; also in the big organization.
    pub owner: Caller,
    /// A plain member of organization X and of the big organization.
    pub member: Caller,
    /// A user in no organization.
    pub outsider: Caller,
    pub org_x: SeededOrg,
    pub big_org: SeededOrg,
    /// Plain members of the big organization, for role-change workloads.
    pub big_org_members: Vec<Uuid>,
    /// Owners of one organization each, with their own tokens (`orgd admin seed --callers`).
    pub callers: Vec<OrgCaller>,
    pub users: u64,
    pub organizations: u64,
    pub memberships: u64,
}

/// Bulk-inserts the data; `progress(done, total)` is called after each batch of memberships.
pub async fn seed(
    store: &dyn Store,
    opts: SeedOptions,
    password_hash: String,
    progress: impl Fn(u64, u64),
) -> Result<SeedReport, StoreError> {
    seed_with_callers(store, opts, 0, password_hash, progress).await
}

/// [`seed`], plus `callers` owners of one organization each, with a session token each.
pub async fn seed_with_callers(
    store: &dyn Store,
    opts: SeedOptions,
    callers: u64,
    password_hash: String,
    progress: impl Fn(u64, u64),
) -> Result<SeedReport, StoreError> {
    let m = opts.members_per_org.max(1);
    let user_count = opts
        .users
        .unwrap_or((opts.orgs * m / 10).max(1000))
        .max(m)
        .max(1000);
    let run = Uuid::now_v7().simple().to_string()[24..].to_string();
    let total = opts.orgs * m;

    let user_ids: Vec<Uuid> = (0..user_count).map(|_| Uuid::now_v7()).collect();
    for (c, chunk) in user_ids.chunks(20_000).enumerate() {
        let users = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let n = c * 20_000 + i;
                (
                    *id,
                    format!("u{run}-{n}"),
                    format!("u{run}-{n}@seed.example"),
                    Some(password_hash.clone()),
                )
            })
            .collect();
        store
            .load(SeedBatch {
                users,
                ..Default::default()
            })
            .await?;
    }

    let orgs_per_batch = (50_000 / m).max(1);
    let mut done_orgs = 0;
    while done_orgs < opts.orgs {
        let n = orgs_per_batch.min(opts.orgs - done_orgs);
        let mut batch = SeedBatch::default();
        for i in done_orgs..done_orgs + n {
            let org = Uuid::now_v7();
            let member = |j: u64| user_ids[((i * m + j) % user_count) as usize];
            batch.organizations.push((
                org,
                format!("Organization {i}"),
                format!("o{run}-{i}"),
                member(0),
            ));
            for j in 0..m {
                let role = match j {
                    0 => Role::Owner,
                    j if j % 10 == 1 => Role::Admin,
                    _ => Role::Member,
                };
                batch.memberships.push((org, member(j), role));
            }
        }
        store.load(batch).await?;
        done_orgs += n;
        progress(done_orgs * m, total);
    }

    // Fixtures.
    let named = |name: &str| {
        (
            Uuid::now_v7(),
            format!("{name}-{run}"),
            format!("{name}-{run}@seed.example"),
        )
    };
    let (owner, member, outsider) = (named("owner"), named("member"), named("outsider"));
    let mut batch = SeedBatch::default();
    for (id, username, email) in [&owner, &member, &outsider] {
        batch.users.push((
            *id,
            username.clone(),
            email.clone(),
            Some(password_hash.clone()),
        ));
    }
    let org_x = (Uuid::now_v7(), format!("x-{run}"));
    let big = (Uuid::now_v7(), format!("big-{run}"));
    batch
        .organizations
        .push((org_x.0, "Organization X".into(), org_x.1.clone(), owner.0));
    batch
        .organizations
        .push((big.0, "Big Organization".into(), big.1.clone(), owner.0));
    for (org, size) in [(org_x.0, 20u64), (big.0, 1000u64)] {
        batch.memberships.push((org, owner.0, Role::Owner));
        batch.memberships.push((org, member.0, Role::Member));
        for j in 0..size - 2 {
            batch
                .memberships
                .push((org, user_ids[(j % user_count) as usize], Role::Member));
        }
    }
    for k in 0..18 {
        let id = Uuid::now_v7();
        batch.organizations.push((
            id,
            format!("Owner's organization {k}"),
            format!("w-{run}-{k}"),
            owner.0,
        ));
        batch.memberships.push((id, owner.0, Role::Owner));
    }
    store.load(batch).await?;

    // Callers: each owns an organization of max(members_per_org, 2) members; the one after the
    // owner is the member a role-change workload flips.
    let caller_size = m.max(2);
    let callers_per_batch = (50_000 / caller_size).max(1);
    let mut caller_orgs = Vec::new();
    let mut done_callers = 0;
    while done_callers < callers {
        let n = callers_per_batch.min(callers - done_callers);
        let mut batch = SeedBatch::default();
        for k in done_callers..done_callers + n {
            let (user, org) = (Uuid::now_v7(), Uuid::now_v7());
            let pick = |j: u64| user_ids[((k * (caller_size - 1) + j - 1) % user_count) as usize];
            batch.users.push((
                user,
                format!("caller-{run}-{k}"),
                format!("caller-{run}-{k}@seed.example"),
                Some(password_hash.clone()),
            ));
            batch.organizations.push((
                org,
                format!("Caller's organization {k}"),
                format!("c-{run}-{k}"),
                user,
            ));
            batch.memberships.push((org, user, Role::Owner));
            for j in 1..caller_size {
                let role = if j % 10 == 1 {
                    Role::Admin
                } else {
                    Role::Member
                };
                batch.memberships.push((org, pick(j), role));
            }
            caller_orgs.push((user, org, pick(1)));
        }
        store.load(batch).await?;
        done_callers += n;
    }
    store.analyze().await?;

    let mut named_callers = Vec::new();
    for (id, username, _) in [owner, member, outsider] {
        named_callers.push(Caller {
            id,
            username,
            token: session_token(store, id).await?,
        });
    }
    let outsider = named_callers.pop().expect("three callers");
    let member = named_callers.pop().expect("three callers");
    let owner = named_callers.pop().expect("three callers");
    let mut org_callers = Vec::with_capacity(caller_orgs.len());
    for (id, org, member) in caller_orgs {
        org_callers.push(OrgCaller {
            id,
            token: session_token(store, id).await?,
            org,
            member,
        });
    }
    Ok(SeedReport {
        password: PASSWORD.into(),
        owner,
        member,
        outsider,
        org_x: SeededOrg {
            id: org_x.0,
            slug: org_x.1,
        },
        big_org: SeededOrg {
            id: big.0,
            slug: big.1,
        },
        big_org_members: user_ids.iter().take(100).copied().collect(),
        callers: org_callers,
        users: user_count + 3 + callers,
        organizations: opts.orgs + 20 + callers,
        memberships: total + 20 + 1000 + 18 + callers * caller_size,
    })
}

/// A new 30-day session token for `user_id`.
async fn session_token(store: &dyn Store, user_id: Uuid) -> Result<String, StoreError> {
    let (token, hash) = crate::auth::mint(TokenKind::Session);
    store
        .create_token(NewToken {
            sso_provider_id: None,
            user_id,
            kind: TokenKind::Session,
            name: Some("seed".into()),
            hash,
            organization_id: None,
            expires_at: Some(Timestamp::now().plus_secs(30 * 24 * 3600)),
        })
        .await?;
    Ok(token)
}
