//! Model-based invariant test: random sequences of 50+ operations (create organization, add,
//! change role, remove, leave, transfer, invite and accept, delete organization, delete user),
//! each checked against a small in-memory model — the status orgd answers and the state it ends
//! in — and against the invariants: every organization keeps at least one owner, its primary
//! owner is one of them, counts match, and no membership or scoped token is orphaned.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{TestApp, TestUser};
use proptest::prelude::*;
use serde_json::json;

const USERS: usize = 5;
const MAX_ORGS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    CreateOrg {
        actor: usize,
    },
    Add {
        org: usize,
        actor: usize,
        target: usize,
        role: Role,
    },
    ChangeRole {
        org: usize,
        actor: usize,
        target: usize,
        role: Role,
    },
    Remove {
        org: usize,
        actor: usize,
        target: usize,
    },
    Leave {
        org: usize,
        actor: usize,
    },
    Transfer {
        org: usize,
        actor: usize,
        target: usize,
    },
    Invite {
        org: usize,
        actor: usize,
        target: usize,
        role: Role,
    },
    Accept {
        org: usize,
        target: usize,
    },
    DeleteOrg {
        org: usize,
        actor: usize,
    },
    DeleteUser {
        target: usize,
    },
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Member), Just(Role::Admin), Just(Role::Owner)]
}

/// A raw draw: which operation, on which organization slot, and who acts on whom. Actors and
/// targets are drawn mostly among the organization's current members (see `Run::resolve`), so
/// sequences reach the interesting rules rather than bouncing off 404s.
#[derive(Debug, Clone)]
struct Draw {
    kind: u8,
    org: usize,
    actor: (usize, bool),
    target: (usize, bool),
    role: Role,
}

fn draw() -> impl Strategy<Value = Draw> {
    let who = (0..USERS, proptest::bool::weighted(0.8));
    (0u8..100, 0..MAX_ORGS, who.clone(), who, role()).prop_map(
        |(kind, org, actor, target, role)| Draw {
            kind,
            org,
            actor,
            target,
            role,
        },
    )
}

#[derive(Debug, Clone, Default)]
struct ModelOrg {
    id: String,
    members: BTreeMap<usize, (Role, u64)>,
    primary: usize,
    /// Pending invitations: invitee → (role, token).
    invitations: BTreeMap<usize, (Role, String)>,
    /// After a hand-over, the owners who may have become primary (joins in the same
    /// millisecond order by id, which the model does not track); resolved by the next check.
    successors: Option<BTreeSet<usize>>,
}

impl ModelOrg {
    fn owners(&self) -> usize {
        self.members
            .values()
            .filter(|(r, _)| *r == Role::Owner)
            .count()
    }
    fn role(&self, u: usize) -> Option<Role> {
        self.members.get(&u).map(|(r, _)| *r)
    }
    /// Another owner becomes primary when the primary one stops being an owner.
    fn hand_over(&mut self, leaving: usize) {
        if self.primary == leaving {
            let others: BTreeSet<usize> = self
                .members
                .iter()
                .filter(|(u, (r, _))| **u != leaving && *r == Role::Owner)
                .map(|(u, _)| *u)
                .collect();
            self.successors = Some(others);
        }
    }
}

struct Model {
    orgs: Vec<Option<ModelOrg>>,
    alive: Vec<bool>,
    clock: u64,
}

struct Run {
    app: TestApp,
    users: Vec<TestUser>,
    root: TestUser,
    model: Model,
}

impl Run {
    fn pick(&self, org: usize, (index, inside): (usize, bool)) -> usize {
        let members: Vec<usize> = self.model.orgs[org]
            .as_ref()
            .map(|o| o.members.keys().copied().collect())
            .unwrap_or_default();
        if inside && !members.is_empty() {
            members[index % members.len()]
        } else {
            index
        }
    }

    /// Turns a draw into an operation against the current state.
    fn resolve(&self, d: &Draw) -> Op {
        let (org, role) = (d.org, d.role);
        let actor = self.pick(org, d.actor);
        let mut target = self.pick(org, d.target);
        if !self.model.alive[target] {
            target = (0..USERS)
                .map(|i| (target + i) % USERS)
                .find(|u| self.model.alive[*u])
                .unwrap_or(target);
        }
        let Some(o) = self.model.orgs[org].as_ref() else {
            // An empty slot gets an organization first.
            return Op::CreateOrg { actor };
        };
        let kind = match d.kind {
            // Accepting needs a pending invitation: invite instead when there is none.
            85..=94 if o.invitations.is_empty() => 80,
            k => k,
        };
        if (85..=94).contains(&kind) {
            let invited: Vec<usize> = o.invitations.keys().copied().collect();
            return Op::Accept {
                org,
                target: invited[d.target.0 % invited.len()],
            };
        }
        match kind {
            0..=9 => Op::CreateOrg { actor },
            10..=27 => Op::Add {
                org,
                actor,
                target,
                role,
            },
            28..=47 => Op::ChangeRole {
                org,
                actor,
                target,
                role,
            },
            48..=59 => Op::Remove { org, actor, target },
            60..=66 => Op::Leave { org, actor },
            67..=74 => Op::Transfer { org, actor, target },
            75..=84 => Op::Invite {
                org,
                actor,
                target,
                role,
            },
            85..=94 => Op::Accept { org, target },
            95..=97 => Op::DeleteOrg { org, actor },
            _ => Op::DeleteUser { target },
        }
    }

    fn tick(&mut self) -> u64 {
        self.model.clock += 1;
        self.model.clock
    }

    /// The status orgd should answer for `op`, applying it to the model when it succeeds.
    fn predict_and_apply(&mut self, op: &Op) -> Option<u16> {
        let alive = self.model.alive.clone();
        let dead = |u: usize| !alive[u];
        match *op {
            Op::CreateOrg { actor } => {
                if dead(actor) {
                    return Some(401);
                }
                let slot = self.model.orgs.iter().position(Option::is_none)?;
                let t = self.tick();
                let mut org = ModelOrg {
                    primary: actor,
                    ..Default::default()
                };
                org.members.insert(actor, (Role::Owner, t));
                self.model.orgs[slot] = Some(org);
                Some(201)
            }
            Op::DeleteUser { target } => {
                if dead(target) {
                    return None;
                }
                let sole_owner = self
                    .model
                    .orgs
                    .iter()
                    .flatten()
                    .any(|o| o.role(target) == Some(Role::Owner) && o.owners() == 1);
                if sole_owner {
                    return Some(400);
                }
                for o in self.model.orgs.iter_mut().flatten() {
                    if o.role(target) == Some(Role::Owner) {
                        o.hand_over(target);
                    }
                    o.members.remove(&target);
                }
                self.model.alive[target] = false;
                Some(200)
            }
            Op::Accept { org, target } => {
                if dead(target) {
                    return None;
                }
                let o = self.model.orgs.get_mut(org)?.as_mut()?;
                let (role, _) = o.invitations.remove(&target)?;
                if o.role(target).is_none() {
                    self.model.clock += 1;
                    let t = self.model.clock;
                    o.members.insert(target, (role, t));
                }
                Some(200)
            }
            _ => self.predict_org_op(op),
        }
    }

    fn predict_org_op(&mut self, op: &Op) -> Option<u16> {
        let (org_slot, actor) = match *op {
            Op::Add { org, actor, .. }
            | Op::ChangeRole { org, actor, .. }
            | Op::Remove { org, actor, .. }
            | Op::Leave { org, actor }
            | Op::Transfer { org, actor, .. }
            | Op::Invite { org, actor, .. }
            | Op::DeleteOrg { org, actor } => (org, actor),
            _ => unreachable!(),
        };
        if !self.model.alive[actor] {
            return Some(401);
        }
        let clock = self.model.clock + 1;
        let o = self.model.orgs.get_mut(org_slot)?.as_mut()?;
        let Some(me) = o.role(actor) else {
            return Some(404);
        };
        match *op {
            Op::Add { target, role, .. } => {
                if !self.model.alive[target] {
                    return None;
                }
                if me < Role::Admin {
                    return Some(403);
                }
                if role == Role::Owner && me != Role::Owner {
                    return Some(403);
                }
                if o.role(target).is_some() {
                    return Some(409);
                }
                o.members.insert(target, (role, clock));
                self.model.clock = clock;
                Some(201)
            }
            Op::ChangeRole { target, role, .. } => {
                if me < Role::Admin {
                    return Some(403);
                }
                let Some(current) = o.role(target) else {
                    return Some(404);
                };
                if (current == Role::Owner || role == Role::Owner) && me != Role::Owner {
                    return Some(403);
                }
                if actor == target && role > current {
                    return Some(403);
                }
                if current == Role::Owner && role != Role::Owner && o.owners() <= 1 {
                    return Some(400);
                }
                if role != current {
                    let joined = o.members[&target].1;
                    o.members.insert(target, (role, joined));
                    if current == Role::Owner {
                        o.hand_over(target);
                    }
                }
                Some(200)
            }
            Op::Remove { target, .. } => {
                if target != actor && me < Role::Admin {
                    return Some(403);
                }
                let Some(current) = o.role(target) else {
                    return Some(404);
                };
                if target != actor && current == Role::Owner && me != Role::Owner {
                    return Some(403);
                }
                if current == Role::Owner && o.owners() <= 1 {
                    return Some(400);
                }
                o.hand_over(target);
                o.members.remove(&target);
                Some(200)
            }
            Op::Leave { .. } => {
                if me == Role::Owner && o.owners() <= 1 {
                    return Some(400);
                }
                o.hand_over(actor);
                o.members.remove(&actor);
                Some(200)
            }
            Op::Transfer { target, .. } => {
                if o.primary != actor {
                    return Some(403);
                }
                if o.role(target).is_none() {
                    return Some(409);
                }
                let joined = o.members[&target].1;
                o.members.insert(target, (Role::Owner, joined));
                o.primary = target;
                o.successors = None;
                Some(200)
            }
            Op::Invite { target, role, .. } => {
                if !self.model.alive[target] {
                    return None;
                }
                if me < Role::Admin || (role == Role::Owner && me != Role::Owner) {
                    return Some(403);
                }
                if o.role(target).is_some() {
                    return Some(409);
                }
                let status = if o.invitations.contains_key(&target) {
                    200
                } else {
                    201
                };
                o.invitations.insert(target, (role, String::new()));
                Some(status)
            }
            Op::DeleteOrg { .. } => {
                if me != Role::Owner {
                    return Some(403);
                }
                self.model.orgs[org_slot] = None;
                Some(200)
            }
            _ => unreachable!(),
        }
    }

    fn org_id(&self, slot: usize) -> String {
        self.model
            .orgs
            .get(slot)
            .and_then(|o| o.as_ref())
            .map(|o| o.id.clone())
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
    }

    /// Sends `op` to orgd; returns the status and, for creations, the new id or token.
    async fn send(&self, op: &Op) -> (u16, Option<String>) {
        let u = &self.users;
        let r = match *op {
            Op::CreateOrg { actor } => {
                let r = self
                    .app
                    .post(
                        "/organizations",
                        &u[actor].token,
                        json!({"name": "Model org"}),
                    )
                    .await;
                let id = r.body["id"].as_str().map(String::from);
                return (r.status.as_u16(), id);
            }
            Op::Add {
                org,
                actor,
                target,
                role,
            } => {
                self.app
                    .post(
                        &format!("/organizations/{}/members", self.org_id(org)),
                        &u[actor].token,
                        json!({"user_id": u[target].id, "role": role.name()}),
                    )
                    .await
            }
            Op::ChangeRole {
                org,
                actor,
                target,
                role,
            } => {
                self.app
                    .patch(
                        &format!(
                            "/organizations/{}/members/{}",
                            self.org_id(org),
                            u[target].id
                        ),
                        &u[actor].token,
                        json!({"role": role.name()}),
                    )
                    .await
            }
            Op::Remove { org, actor, target } => {
                self.app
                    .delete(
                        &format!(
                            "/organizations/{}/members/{}",
                            self.org_id(org),
                            u[target].id
                        ),
                        &u[actor].token,
                    )
                    .await
            }
            Op::Leave { org, actor } => {
                self.app
                    .post_empty(
                        &format!("/organizations/{}/leave", self.org_id(org)),
                        &u[actor].token,
                    )
                    .await
            }
            Op::Transfer { org, actor, target } => {
                self.app
                    .patch(
                        &format!("/organizations/{}", self.org_id(org)),
                        &u[actor].token,
                        json!({"owner_id": u[target].id}),
                    )
                    .await
            }
            Op::Invite {
                org,
                actor,
                target,
                role,
            } => {
                let r = self
                    .app
                    .post(
                        &format!("/organizations/{}/invitations", self.org_id(org)),
                        &u[actor].token,
                        json!({"email": u[target].email, "role": role.name()}),
                    )
                    .await;
                let token = r.body["token"].as_str().map(String::from);
                return (r.status.as_u16(), token);
            }
            Op::Accept { org, target } => {
                let token = self.model.orgs[org]
                    .as_ref()
                    .and_then(|o| o.invitations.get(&target))
                    .map(|(_, t)| t.clone())
                    .unwrap_or_default();
                self.app
                    .post(
                        "/invitations/accept",
                        &u[target].token,
                        json!({"token": token}),
                    )
                    .await
            }
            Op::DeleteOrg { org, actor } => {
                self.app
                    .delete(
                        &format!("/organizations/{}", self.org_id(org)),
                        &u[actor].token,
                    )
                    .await
            }
            Op::DeleteUser { target } => {
                self.app
                    .delete(&format!("/users/{}", u[target].id), &self.root.token)
                    .await
            }
        };
        (r.status.as_u16(), None)
    }

    /// orgd's state equals the model's, and the invariants hold.
    async fn check(&mut self, step: usize, op: &Op) {
        for o in self.model.orgs.iter_mut().flatten() {
            let members = self
                .app
                .get(
                    &format!("/organizations/{}/members?limit=1000", o.id),
                    &self.root.token,
                )
                .await;
            let actual: BTreeSet<(String, String)> = members
                .expect(200)
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    (
                        m["user_id"].as_str().unwrap().to_string(),
                        m["role"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            let expected: BTreeSet<(String, String)> = o
                .members
                .iter()
                .map(|(u, (r, _))| (self.users[*u].id.to_string(), r.name().to_string()))
                .collect();
            assert_eq!(actual, expected, "step {step} after {op:?}: members differ");
            assert!(o.owners() >= 1, "step {step}: the model lost its owner");
            let org = self
                .app
                .get(&format!("/organizations/{}", o.id), &self.root.token)
                .await;
            let org = org.expect(200);
            if let Some(successors) = o.successors.take() {
                let primary = org["owner"]["id"].as_str().unwrap();
                let chosen = successors
                    .iter()
                    .find(|u| self.users[**u].id.to_string() == primary);
                o.primary = *chosen.unwrap_or_else(|| {
                    panic!("step {step} after {op:?}: primary {primary} is not a successor")
                });
            }
            assert_eq!(
                org["owner"]["id"],
                self.users[o.primary].id.to_string(),
                "step {step} after {op:?}: primary owner"
            );
            assert_eq!(
                org["member_count"],
                o.members.len(),
                "step {step}: member_count"
            );
            assert_eq!(
                org["pending_member_count"],
                o.invitations.len(),
                "step {step}: pending_member_count"
            );
        }
        let orphans = self
            .app
            .count(
                "SELECT COUNT(*) FROM tokens t WHERE t.organization_id IS NOT NULL AND NOT EXISTS \
                 (SELECT 1 FROM memberships m WHERE m.organization_id = t.organization_id AND m.user_id = t.user_id)",
            )
            .await;
        assert_eq!(
            orphans, 0,
            "step {step}: scoped tokens without a membership"
        );
        let ownerless = self
            .app
            .count(
                "SELECT COUNT(*) FROM organizations o WHERE NOT EXISTS (SELECT 1 FROM memberships m \
                 WHERE m.organization_id = o.id AND m.user_id = o.owner_id AND m.role = 'owner')",
            )
            .await;
        assert_eq!(
            ownerless, 0,
            "step {step}: an organization whose primary owner is not an owner"
        );
    }
}

async fn run_sequence(app: TestApp, draws: Vec<Draw>) {
    let mut users = Vec::new();
    for i in 0..USERS {
        users.push(app.user(&format!("u{i}")).await);
    }
    let root = app.superuser("root").await;
    let mut run = Run {
        app,
        users,
        root,
        model: Model {
            orgs: vec![None; MAX_ORGS],
            alive: vec![true; USERS],
            clock: 0,
        },
    };
    let mut outcomes: BTreeMap<u16, usize> = BTreeMap::new();
    // A scoped token per user and organization as they appear, to catch orphans.
    let mut applied = 0;
    for (step, d) in draws.iter().enumerate() {
        let op = &run.resolve(d);
        let before_orgs = run.model.orgs.clone();
        let Some(expected) = run.predict_and_apply(op) else {
            continue;
        };
        // Reads for the request need the org id as it was before the operation.
        let after_orgs = std::mem::replace(&mut run.model.orgs, before_orgs);
        let (status, created) = run.send(op).await;
        run.model.orgs = after_orgs;
        assert_eq!(status, expected, "step {step}: {op:?}");
        *outcomes.entry(status).or_default() += 1;
        applied += 1;
        match (op, created) {
            (Op::CreateOrg { actor }, Some(id)) => {
                let slot = run
                    .model
                    .orgs
                    .iter()
                    .position(|o| o.as_ref().is_some_and(|o| o.id.is_empty()))
                    .unwrap();
                run.model.orgs[slot].as_mut().unwrap().id = id.clone();
                let user = run.users[*actor].id;
                run.app
                    .token_for(user, orgd::store::TokenKind::Pat, Some(id.parse().unwrap()))
                    .await;
            }
            (Op::Invite { org, target, .. }, Some(token)) => {
                run.model.orgs[*org]
                    .as_mut()
                    .unwrap()
                    .invitations
                    .get_mut(target)
                    .unwrap()
                    .1 = token;
            }
            _ => {}
        }
        run.check(step, op).await;
    }
    eprintln!(
        "[{}] {applied} of {} drawn operations applied; outcomes by status: {outcomes:?}",
        run.app.engine,
        draws.len()
    );
    assert!(applied >= 50, "only {applied} operations applied");
}

fn cases() -> u32 {
    std::env::var("ORGD_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12)
}

fn run_engine(engine: &'static str, ops: Vec<Draw>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let app = match engine {
            "sqlite" => TestApp::sqlite().await,
            _ => match TestApp::postgres().await {
                Some(app) => app,
                None => return,
            },
        };
        run_sequence(app, ops).await;
    });
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_follows_the_model(ops in proptest::collection::vec(draw(), 70..100)) {
        run_engine("sqlite", ops)?;
    }

    #[test]
    fn postgres_follows_the_model(ops in proptest::collection::vec(draw(), 70..100)) {
        run_engine("postgres", ops)?;
    }
}
