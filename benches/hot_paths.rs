//! Micro-benchmarks of the per-request hot paths that do no I/O: token parsing and hashing,
//! the authorization decisions, and JSON encoding of the response bodies of the load workloads.
//!
//! `cargo bench --bench hot_paths` (divan; add `-- --sample-count 1000` or a filter such as
//! `-- token` as needed). The load harness for the whole API is `bench/run.sh`.

use divan::{Bencher, black_box};
use orgd::auth::{self, OrgAccess};
use orgd::authz::{Actor, Permission, Role};
use orgd::domain::Timestamp;
use orgd::domain::membership::{check_removal, check_role_change};
use orgd::store::{Member, OrgStatus, Organization, OwnerSummary, TokenKind};
use uuid::Uuid;

fn main() {
    divan::main();
}

mod token {
    use super::*;

    /// What every authenticated request does before its database lookup.
    #[divan::bench]
    fn parse_valid(bencher: Bencher) {
        let (token, _) = auth::mint(TokenKind::Session);
        bencher.bench(|| auth::parse_token(black_box(&token)));
    }

    /// A malformed token is refused without hashing.
    #[divan::bench]
    fn parse_malformed(bencher: Bencher) {
        let (token, _) = auth::mint(TokenKind::Pat);
        let bad = token.to_uppercase();
        bencher.bench(|| auth::parse_token(black_box(&bad)));
    }

    /// SHA-256 of a session token.
    #[divan::bench]
    fn hash(bencher: Bencher) {
        let (token, _) = auth::mint(TokenKind::Session);
        bencher.bench(|| auth::hash_token(black_box(&token)));
    }

    /// 256 random bits, hex, and their hash: one per login.
    #[divan::bench]
    fn mint() -> (String, [u8; 32]) {
        auth::mint(black_box(TokenKind::Session))
    }
}

mod authorization {
    use super::*;

    fn access(role: Role) -> OrgAccess {
        let id = Uuid::now_v7();
        OrgAccess {
            id,
            status: OrgStatus::Active,
            owner_id: Uuid::now_v7(),
            role: Some(role.as_str().into()),
            grant: orgd::authz::Grant::built_in(role),
            actor: Actor::User(Uuid::now_v7()),
            organization: std::sync::Arc::new(super::json::organization(0)),
        }
    }

    /// The route guard's permission lookup, when it lets the caller in.
    #[divan::bench]
    fn permission_allowed(bencher: Bencher) {
        let a = access(Role::Owner);
        bencher.bench(|| black_box(&a).allows(black_box(Permission::MembersWrite)));
    }

    /// ... and when it refuses.
    #[divan::bench]
    fn permission_refused(bencher: Bencher) {
        let a = access(Role::Member);
        bencher.bench(|| black_box(&a).allows(black_box(Permission::MembersWrite)));
    }

    /// The W6 decision: an owner makes a member an admin.
    #[divan::bench]
    fn role_change() -> bool {
        check_role_change(
            black_box(&orgd::authz::Grant::built_in(Role::Owner)),
            black_box(false),
            black_box(&orgd::authz::Grant::built_in(Role::Member)),
            black_box(&orgd::authz::Grant::built_in(Role::Admin)),
            black_box(None),
        )
        .is_ok()
    }

    /// The last-owner refusal.
    #[divan::bench]
    fn role_change_last_owner() -> bool {
        check_role_change(
            black_box(&orgd::authz::Grant::built_in(Role::Owner)),
            black_box(true),
            black_box(&orgd::authz::Grant::built_in(Role::Owner)),
            black_box(&orgd::authz::Grant::built_in(Role::Member)),
            black_box(Some(1)),
        )
        .is_ok()
    }

    #[divan::bench]
    fn removal() -> bool {
        check_removal(
            black_box(&orgd::authz::Grant::built_in(Role::Admin)),
            black_box(false),
            black_box(&orgd::authz::Grant::built_in(Role::Member)),
            black_box(2),
        )
        .is_ok()
    }
}

mod json {
    use super::*;

    pub(super) fn organization(i: usize) -> Organization {
        let now = Timestamp(1_752_935_165_721);
        Organization {
            id: Uuid::now_v7(),
            name: format!("Organization {i}"),
            slug: format!("organization-{i}"),
            description: Some("A seeded organization used by the load workloads".into()),
            logo_url: None,
            country_code: Some("DE".into()),
            status: OrgStatus::Active,
            status_reason: None,
            verified: false,
            owner: OwnerSummary {
                id: Uuid::now_v7(),
                username: "owner-5f2c9e1a".into(),
                email: "owner-5f2c9e1a@seed.example".into(),
                name: None,
            },
            member_count: 20,
            pending_member_count: 0,
            project_count: 0,
            application_count: 0,
            plan: orgd::domain::plans::PlanName::Free,
            has_active_subscription: false,
            trial_expiry: None,
            active: true,
            license: None,
            managed_by: Vec::new(),
            metadata: serde_json::json!({}),
            service_accounts_can_mint_tokens: false,
            created_at: now,
            updated_at: now,
            role: None,
            members: None,
        }
    }

    fn member(i: usize) -> Member {
        Member {
            user_id: Uuid::now_v7(),
            username: format!("u5f2c9e1a-{i}"),
            email: format!("u5f2c9e1a-{i}@seed.example"),
            name: None,
            role: "member".into(),
            admin: false,
            joined_at: Timestamp(1_752_935_165_721 + i as i64),
        }
    }

    /// The W1 body: one organization.
    #[divan::bench]
    fn organization_one(bencher: Bencher) {
        let org = organization(0);
        bencher.bench(|| serde_json::to_vec(black_box(&org)).unwrap());
    }

    /// The W2 body: the caller's 20 organizations, each with the caller's role.
    #[divan::bench]
    fn organizations_20(bencher: Bencher) {
        let orgs: Vec<Organization> = (0..20)
            .map(|i| Organization {
                role: Some("owner".into()),
                ..organization(i)
            })
            .collect();
        bencher.bench(|| serde_json::to_vec(black_box(&orgs)).unwrap());
    }

    /// The W3 body: a page of 100 members.
    #[divan::bench]
    fn members_100(bencher: Bencher) {
        let members: Vec<Member> = (0..100).map(member).collect();
        bencher.bench(|| serde_json::to_vec(black_box(&members)).unwrap());
    }

    /// One RFC 3339 timestamp, as every body renders several.
    #[divan::bench]
    fn timestamp() -> String {
        black_box(Timestamp(1_752_935_165_721)).to_rfc3339()
    }
}
