//! Who may call what, from one table. Every operation of the router must have a row here (deny
//! by default: a new route without a declared policy fails this test), and every row is checked
//! by calling the route as a member, an admin and an owner. Also: extra privileged fields on
//! every write are refused and change nothing.

mod common;

use axum::http::Method;
use common::{TestApp, TestUser};
use serde_json::{Value, json};

/// The least role an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Need {
    Public,
    Authenticated,
    Member,
    Admin,
    Owner,
    Superuser,
    /// Authenticated by a deployment's own token (`orgd_dep_…`), not a user's.
    Deployment,
}

const POLICY: &[(&str, &str, Need)] = &[
    ("GET", "/healthz", Need::Public),
    ("GET", "/readyz", Need::Public),
    ("GET", "/metrics", Need::Public),
    ("POST", "/auth/signup", Need::Public),
    ("POST", "/auth/login", Need::Public),
    ("POST", "/auth/password-reset", Need::Public),
    ("POST", "/auth/password-reset/confirm", Need::Public),
    ("POST", "/auth/verify-email", Need::Public),
    ("POST", "/auth/verify-email/resend", Need::Public),
    ("POST", "/invitations/accept", Need::Public),
    ("POST", "/invitations/decline", Need::Public),
    ("POST", "/auth/logout", Need::Authenticated),
    ("GET", "/users/me", Need::Authenticated),
    ("PATCH", "/users/me", Need::Authenticated),
    ("POST", "/users/me/password", Need::Authenticated),
    ("GET", "/users/me/invitations", Need::Authenticated),
    ("GET", "/users/me/sessions", Need::Authenticated),
    (
        "POST",
        "/users/me/invitations/{id}/accept",
        Need::Authenticated,
    ),
    (
        "POST",
        "/users/me/invitations/{id}/decline",
        Need::Authenticated,
    ),
    ("GET", "/tokens", Need::Authenticated),
    ("POST", "/tokens", Need::Authenticated),
    ("DELETE", "/tokens/{id}", Need::Authenticated),
    ("GET", "/organizations", Need::Authenticated),
    ("POST", "/organizations", Need::Authenticated),
    ("GET", "/users", Need::Superuser),
    ("POST", "/users", Need::Superuser),
    ("GET", "/users/{user}", Need::Superuser),
    ("PATCH", "/users/{user}", Need::Superuser),
    ("DELETE", "/users/{user}", Need::Superuser),
    ("POST", "/users/{user}/tokens", Need::Superuser),
    ("GET", "/permissions", Need::Authenticated),
    ("POST", "/permissions", Need::Superuser),
    ("DELETE", "/permissions/{key}", Need::Superuser),
    ("GET", "/plans", Need::Authenticated),
    ("GET", "/audit-log", Need::Superuser),
    ("GET", "/organizations/{org}/audit-log", Need::Admin),
    ("GET", "/webhooks/event-types", Need::Authenticated),
    ("GET", "/auth/sso/start", Need::Public),
    ("GET", "/auth/sso/{provider_id}/start", Need::Public),
    ("GET", "/auth/sso/callback", Need::Public),
    ("GET", "/organizations/{org}/domains", Need::Admin),
    ("POST", "/organizations/{org}/domains", Need::Admin),
    (
        "POST",
        "/organizations/{org}/domains/{id}/verify",
        Need::Admin,
    ),
    ("DELETE", "/organizations/{org}/domains/{id}", Need::Admin),
    ("GET", "/organizations/{org}/sso-providers", Need::Admin),
    ("POST", "/organizations/{org}/sso-providers", Need::Admin),
    (
        "GET",
        "/organizations/{org}/sso-providers/{id}",
        Need::Admin,
    ),
    (
        "PATCH",
        "/organizations/{org}/sso-providers/{id}",
        Need::Admin,
    ),
    (
        "DELETE",
        "/organizations/{org}/sso-providers/{id}",
        Need::Admin,
    ),
    ("GET", "/webhooks", Need::Superuser),
    ("POST", "/webhooks", Need::Superuser),
    ("GET", "/webhooks/{id}", Need::Superuser),
    ("PATCH", "/webhooks/{id}", Need::Superuser),
    ("DELETE", "/webhooks/{id}", Need::Superuser),
    ("POST", "/webhooks/{id}/rotate-secret", Need::Superuser),
    ("POST", "/webhooks/{id}/ping", Need::Superuser),
    ("GET", "/webhooks/{id}/deliveries", Need::Superuser),
    (
        "GET",
        "/webhooks/{id}/deliveries/{delivery}",
        Need::Superuser,
    ),
    (
        "POST",
        "/webhooks/{id}/deliveries/{delivery}/retry",
        Need::Superuser,
    ),
    ("GET", "/organizations/{org}/webhooks", Need::Admin),
    ("POST", "/organizations/{org}/webhooks", Need::Admin),
    ("GET", "/organizations/{org}/webhooks/{id}", Need::Admin),
    ("PATCH", "/organizations/{org}/webhooks/{id}", Need::Admin),
    ("DELETE", "/organizations/{org}/webhooks/{id}", Need::Admin),
    (
        "POST",
        "/organizations/{org}/webhooks/{id}/rotate-secret",
        Need::Admin,
    ),
    (
        "POST",
        "/organizations/{org}/webhooks/{id}/ping",
        Need::Admin,
    ),
    (
        "GET",
        "/organizations/{org}/webhooks/{id}/deliveries",
        Need::Admin,
    ),
    (
        "GET",
        "/organizations/{org}/webhooks/{id}/deliveries/{delivery}",
        Need::Admin,
    ),
    (
        "POST",
        "/organizations/{org}/webhooks/{id}/deliveries/{delivery}/retry",
        Need::Admin,
    ),
    ("GET", "/licenses", Need::Superuser),
    ("POST", "/licenses", Need::Superuser),
    ("GET", "/licenses/{id}", Need::Superuser),
    ("PATCH", "/licenses/{id}", Need::Superuser),
    ("DELETE", "/licenses/{id}", Need::Superuser),
    ("POST", "/deployments/register", Need::Public),
    ("POST", "/deployments/{id}/heartbeat", Need::Deployment),
    ("GET", "/organizations/{org}/license", Need::Member),
    ("PUT", "/organizations/{org}/license", Need::Owner),
    ("DELETE", "/organizations/{org}/license", Need::Owner),
    ("GET", "/organizations/{org}/deployments", Need::Admin),
    (
        "DELETE",
        "/organizations/{org}/deployments/{id}",
        Need::Admin,
    ),
    ("GET", "/organizations/{org}/roles", Need::Admin),
    ("POST", "/organizations/{org}/roles", Need::Admin),
    ("GET", "/organizations/{org}/roles/{key}", Need::Admin),
    ("PATCH", "/organizations/{org}/roles/{key}", Need::Admin),
    ("DELETE", "/organizations/{org}/roles/{key}", Need::Admin),
    ("GET", "/organizations/{org}/permissions", Need::Member),
    ("POST", "/organizations/{org}/permissions", Need::Admin),
    (
        "DELETE",
        "/organizations/{org}/permissions/{key}",
        Need::Admin,
    ),
    (
        "POST",
        "/organizations/{org}/permissions/check",
        Need::Member,
    ),
    (
        "GET",
        "/organizations/{org}/members/{user}/permissions",
        Need::Member,
    ),
    ("GET", "/organizations/{org}", Need::Member),
    ("PATCH", "/organizations/{org}", Need::Admin),
    ("DELETE", "/organizations/{org}", Need::Owner),
    ("POST", "/organizations/{org}/leave", Need::Member),
    ("GET", "/organizations/{org}/members", Need::Member),
    ("POST", "/organizations/{org}/members", Need::Admin),
    ("GET", "/organizations/{org}/members/{user}", Need::Member),
    ("PATCH", "/organizations/{org}/members/{user}", Need::Admin),
    ("DELETE", "/organizations/{org}/members/{user}", Need::Admin),
    (
        "POST",
        "/organizations/{org}/members/{user}/toggle-admin",
        Need::Admin,
    ),
    ("GET", "/organizations/{org}/service-accounts", Need::Admin),
    ("POST", "/organizations/{org}/service-accounts", Need::Admin),
    (
        "DELETE",
        "/organizations/{org}/service-accounts/{user}",
        Need::Admin,
    ),
    (
        "POST",
        "/organizations/{org}/service-accounts/{user}/tokens",
        Need::Admin,
    ),
    (
        "GET",
        "/organizations/{org}/service-accounts/{user}/tokens",
        Need::Admin,
    ),
    (
        "DELETE",
        "/organizations/{org}/service-accounts/{user}/tokens/{id}",
        Need::Admin,
    ),
    ("GET", "/organizations/{org}/invitations", Need::Admin),
    ("POST", "/organizations/{org}/invitations", Need::Admin),
    (
        "DELETE",
        "/organizations/{org}/invitations/{id}",
        Need::Admin,
    ),
    (
        "POST",
        "/organizations/{org}/invitations/{id}/resend",
        Need::Admin,
    ),
    ("GET", "/organizations/{org}/projects", Need::Member),
    ("POST", "/organizations/{org}/projects", Need::Admin),
    ("GET", "/organizations/{org}/projects/{id}", Need::Member),
    ("PATCH", "/organizations/{org}/projects/{id}", Need::Admin),
    ("DELETE", "/organizations/{org}/projects/{id}", Need::Admin),
    (
        "GET",
        "/organizations/{org}/projects/{id}/members",
        Need::Member,
    ),
    (
        "POST",
        "/organizations/{org}/projects/{id}/members",
        Need::Admin,
    ),
    (
        "PATCH",
        "/organizations/{org}/projects/{id}/members/{user}",
        Need::Admin,
    ),
    (
        "DELETE",
        "/organizations/{org}/projects/{id}/members/{user}",
        Need::Admin,
    ),
    ("GET", "/organizations/{org}/applications", Need::Member),
    ("POST", "/organizations/{org}/applications", Need::Admin),
    (
        "GET",
        "/organizations/{org}/applications/{id}",
        Need::Member,
    ),
    (
        "PATCH",
        "/organizations/{org}/applications/{id}",
        Need::Admin,
    ),
    (
        "DELETE",
        "/organizations/{org}/applications/{id}",
        Need::Admin,
    ),
];

struct Operation {
    method: String,
    path: String,
    schema: Option<String>,
}

fn operations() -> Vec<Operation> {
    let spec = serde_json::to_value(orgd::openapi()).unwrap();
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let schema = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .map(|r| r.rsplit('/').next().unwrap().to_string());
            ops.push(Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                schema,
            });
        }
    }
    ops
}

fn need_of(op: &Operation) -> Option<Need> {
    POLICY
        .iter()
        .find(|(m, p, _)| *m == op.method && *p == op.path)
        .map(|(_, _, n)| *n)
}

#[test]
fn every_operation_has_a_declared_policy() {
    let undeclared: Vec<String> = operations()
        .iter()
        .filter(|op| need_of(op).is_none())
        .map(|op| format!("{} {}", op.method, op.path))
        .collect();
    assert!(
        undeclared.is_empty(),
        "operations without a policy (deny by default): {undeclared:?}"
    );
    let stale: Vec<_> = POLICY
        .iter()
        .filter(|(m, p, _)| {
            !operations()
                .iter()
                .any(|op| op.method == *m && op.path == *p)
        })
        .collect();
    assert!(
        stale.is_empty(),
        "policy rows for operations that do not exist: {stale:?}"
    );
}

/// The server decides route-level authorization from one table, `orgd::authz::ROUTES`: every
/// organization route has exactly one row there, and its permission's least built-in role is
/// what this test's own table expects.
#[test]
fn the_servers_authorization_table_covers_every_organization_route() {
    for op in operations()
        .iter()
        .filter(|op| op.path.starts_with("/organizations/{org}"))
    {
        let need = orgd::authz::need(&op.method, &op.path)
            .unwrap_or_else(|| panic!("{} {} has no row in authz::ROUTES", op.method, op.path));
        let least = orgd::authz::Role::least_with(need.permission);
        let expected = match need_of(op).expect("declared") {
            Need::Member => orgd::authz::Role::Member,
            Need::Admin => orgd::authz::Role::Admin,
            Need::Owner => orgd::authz::Role::Owner,
            other => panic!("{} {}: {other:?}", op.method, op.path),
        };
        // Project member management is also open to the project's admins (tested in
        // tests/projects.rs); at the organization level it needs the admin role.
        assert_eq!(least, expected, "{} {}", op.method, op.path);
    }
    let stale: Vec<_> = orgd::authz::ROUTES
        .iter()
        .filter(|(m, p, _)| {
            !operations()
                .iter()
                .any(|op| op.method == *m && op.path == *p)
        })
        .collect();
    assert!(
        stale.is_empty(),
        "rows for routes that do not exist: {stale:?}"
    );
}

/// Every route outside organizations has one row in `orgd::authz::INSTALLATION_ROUTES`, matching
/// this test's own expectations.
#[test]
fn the_servers_installation_table_covers_every_other_route() {
    use orgd::authz::Access;
    for op in operations()
        .iter()
        .filter(|op| !op.path.starts_with("/organizations/{org}"))
    {
        let access = orgd::authz::installation_access(&op.method, &op.path).unwrap_or_else(|| {
            panic!(
                "{} {} has no row in authz::INSTALLATION_ROUTES",
                op.method, op.path
            )
        });
        let expected = match need_of(op).expect("declared") {
            Need::Public | Need::Deployment => Access::Public,
            Need::Authenticated => Access::Authenticated,
            Need::Superuser => Access::Superuser,
            other => panic!("{} {}: {other:?}", op.method, op.path),
        };
        assert_eq!(access, expected, "{} {}", op.method, op.path);
    }
}

/// The custom role's permissions: some reads and writes of several resources.
const CUSTOM: &[&str] = &[
    "members:read",
    "projects:write",
    "invitations:read",
    "roles:read",
    "applications:read",
    "service_accounts:read",
];

/// One organization with every kind of thing in it.
struct Fixture {
    org: String,
    owner: TestUser,
    admin: TestUser,
    member: TestUser,
    /// A member whose custom role grants a few permissions of every kind of route.
    custom: TestUser,
    target: TestUser,
    service_account: String,
    service_account_token: String,
    project: String,
    application: String,
    invitation: String,
    /// A key of a license no organization holds yet.
    license_key: String,
    /// A deployment under the organization's own license.
    deployment: String,
    /// A webhook of the organization, and one finished delivery of it.
    webhook: String,
    delivery: String,
    /// A verified domain and an SSO provider (routing no domain).
    domain: String,
    sso_provider: String,
}

async fn fixture(app: &TestApp, n: usize) -> Fixture {
    let owner = app.user(&format!("owner{n}")).await;
    let admin = app.user(&format!("admin{n}")).await;
    let member = app.user(&format!("member{n}")).await;
    let target = app.user(&format!("target{n}")).await;
    let org = app.org(&owner, &format!("Org {n}")).await;
    app.add(&org, &owner, &admin, "admin").await;
    app.add(&org, &owner, &member, "member").await;
    app.add(&org, &owner, &target, "member").await;
    let base = format!("/organizations/{org}");
    let project = app
        .post(
            &format!("{base}/projects"),
            &owner.token,
            json!({"name": "P"}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        &format!("{base}/projects/{project}/members"),
        &owner.token,
        json!({"user_id": target.id}),
    )
    .await
    .expect(201);
    let application = app
        .post(
            &format!("{base}/applications"),
            &owner.token,
            json!({"name": "A"}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let invitation = app
        .post(
            &format!("{base}/invitations"),
            &owner.token,
            json!({"email": format!("inv{n}@example.com")}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let created = app
        .post(
            &format!("{base}/service-accounts"),
            &owner.token,
            json!({"name": "Bot"}),
        )
        .await
        .expect(201)
        .clone();
    let service_account = created["user"]["id"].as_str().unwrap().to_string();
    app.post(
        &format!("{base}/permissions"),
        &owner.token,
        json!({"key": "app:f:perm"}),
    )
    .await
    .expect(201);
    app.post(
        &format!("{base}/roles"),
        &owner.token,
        json!({"key": "f-role", "name": "F", "permissions": ["members:read"]}),
    )
    .await
    .expect(201);
    app.post(
        &format!("{base}/roles"),
        &owner.token,
        json!({"key": "f-custom", "name": "Custom", "permissions": CUSTOM}),
    )
    .await
    .expect(201);
    let custom = app.user(&format!("custom{n}")).await;
    app.add(&org, &owner, &custom, "f-custom").await;
    let service_account_token = created["token"]["id"].as_str().unwrap().to_string();
    let (license_key, _) = app.license("team", None).await;
    let (held_key, _) = app.license("team", Some(&org)).await;
    let deployment = app.deployment(&held_key).await;
    let webhook = app
        .post(
            &format!("{base}/webhooks"),
            &owner.token,
            json!({"url": PUBLIC_TARGET, "event_types": ["webhook.ping"]}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let delivery = app
        .post_empty(&format!("{base}/webhooks/{webhook}/ping"), &owner.token)
        .await
        .expect(202)["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Delivered (no worker runs here): a delivery that may be retried.
    for claimed in app
        .store
        .claim_webhook_deliveries(1000, std::time::Duration::from_secs(60))
        .await
        .unwrap()
    {
        let attempt = orgd::webhooks::Attempt {
            succeeded: true,
            response_code: Some(204),
            latency_ms: 1,
            error: None,
            retry_at: None,
        };
        app.store
            .finish_webhook_delivery(&claimed, &attempt)
            .await
            .unwrap();
    }
    let org_id: uuid::Uuid = org.parse().unwrap();
    let domain = app
        .store
        .add_domain(org_id, format!("fixture{n}.test"), "t".into())
        .await
        .unwrap()
        .id;
    app.store
        .verify_domain(org_id, domain, "superuser")
        .await
        .unwrap();
    let sso_provider = app
        .store
        .create_sso_provider(
            org_id,
            orgd::authz::Actor::User(owner.id),
            orgd::store::NewSsoProvider {
                name: "IdP".into(),
                issuer: issuer(),
                client_id: "orgd".into(),
                client_secret: vec![0; 40],
                scopes: vec!["openid".into()],
                domains: vec![],
                force_sso: false,
                jit_provisioning: false,
                default_role: "member".into(),
            },
        )
        .await
        .unwrap()
        .id
        .to_string();
    Fixture {
        domain: domain.to_string(),
        sso_provider,
        webhook,
        delivery,
        license_key,
        deployment,
        org,
        owner,
        admin,
        member,
        custom,
        target,
        service_account,
        service_account_token,
        project,
        application,
        invitation,
    }
}

fn body_for(schema: &str, f: &Fixture) -> Value {
    match schema {
        "UpdateOrganizationRequest" => json!({"description": "changed"}),
        "AddMemberRequest" => json!({"email": "someone.new@example.com"}),
        "UpdateMemberRequest" => json!({"role": "admin"}),
        "CreateServiceAccountRequest" => json!({"name": "Another bot"}),
        "CreateServiceTokenRequest" => json!({"name": "t"}),
        "CreateInvitationRequest" => json!({"email": "invitee@example.com"}),
        "CreateProjectRequest" | "UpdateProjectRequest" => json!({"name": "Renamed"}),
        "AddProjectMemberRequest" => json!({"user_id": f.member.id}),
        "UpdateProjectMemberRequest" => json!({"role": "editor"}),
        "CreateApplicationRequest" | "UpdateApplicationRequest" => json!({"name": "Renamed"}),
        "CreateRoleRequest" => {
            json!({"key": "new-role", "name": "New", "permissions": ["projects:read"]})
        }
        "UpdateRoleRequest" => json!({"name": "Renamed"}),
        "RegisterPermissionRequest" => json!({"key": "app:new:perm"}),
        "CheckPermissionsRequest" => json!({"permission": "members:read"}),
        "AttachLicenseRequest" => json!({"license_key": f.license_key}),
        "CreateWebhookRequest" => json!({"url": PUBLIC_TARGET, "event_types": ["*"]}),
        "UpdateWebhookRequest" => json!({"description": "changed"}),
        "AddDomainRequest" => json!({"domain": "added.test"}),
        "VerifyDomainRequest" => json!({}),
        "CreateSsoProviderRequest" => json!({
            "name": "Another IdP", "issuer": issuer(), "client_id": "c", "client_secret": "s"
        }),
        "UpdateSsoProviderRequest" => json!({"name": "Renamed"}),
        other => panic!("no body for {other}: add one"),
    }
}

fn fill(path: &str, f: &Fixture) -> String {
    let id = if path.contains("/service-accounts/{user}/tokens/{id}") {
        &f.service_account_token
    } else if path.contains("/projects/{id}") {
        &f.project
    } else if path.contains("/applications/{id}") {
        &f.application
    } else if path.contains("/deployments/{id}") {
        &f.deployment
    } else if path.contains("/webhooks/{id}") {
        &f.webhook
    } else if path.contains("/domains/{id}") {
        &f.domain
    } else if path.contains("/sso-providers/{id}") {
        &f.sso_provider
    } else {
        &f.invitation
    };
    let user = if path.contains("/service-accounts/{user}") {
        f.service_account.clone()
    } else {
        f.target.id.to_string()
    };
    let key = if path.contains("/permissions/{key}") {
        "app:f:perm"
    } else {
        "f-role"
    };
    path.replace("{org}", &f.org)
        .replace("{id}", id)
        .replace("{user}", &user)
        .replace("{key}", key)
        .replace("{delivery}", &f.delivery)
}

/// The issuer of the OpenID Provider shared by this binary's tests.
fn issuer() -> String {
    common::idp::shared()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .issuer()
}

/// A webhook target on a public address (a literal, so no name is resolved; nothing is sent).
const PUBLIC_TARGET: &str = "https://93.184.215.14/hook";

/// Every audit entry of an organization.
async fn audit_entries(app: &TestApp, org: uuid::Uuid) -> Vec<orgd::audit::Entry> {
    let filter = orgd::store::AuditFilter {
        organization_id: Some(org),
        ..Default::default()
    };
    app.store.audit_log(&filter, None, 10_000).await.unwrap()
}

async fn organization_routes_follow_the_policy_table(app: TestApp) {
    let mut audited = 0;
    let mut checked = 0;
    let mut n = 0;
    for op in operations()
        .iter()
        .filter(|op| op.path.starts_with("/organizations/{org}"))
    {
        let need = need_of(op).expect("declared");
        for (role, rank) in [
            ("member", Need::Member),
            ("admin", Need::Admin),
            ("owner", Need::Owner),
        ] {
            n += 1;
            let f = fixture(&app, n).await;
            let caller = match role {
                "member" => &f.member,
                "admin" => &f.admin,
                _ => &f.owner,
            };
            let body = op.schema.as_deref().map(|s| body_for(s, &f));
            let path = fill(&op.path, &f);
            // The permission check agrees with the route's guard.
            let permission = orgd::authz::need(&op.method, &op.path)
                .expect("a row")
                .permission
                .as_str();
            let allowed = app
                .post(
                    &format!("/organizations/{}/permissions/check", f.org),
                    &caller.token,
                    json!({"permission": permission}),
                )
                .await
                .expect(200)["allowed"]
                .as_bool()
                .unwrap();
            assert_eq!(
                allowed,
                rank >= need,
                "{role} checking {permission} for {} {}",
                op.method,
                op.path
            );
            let org_id: uuid::Uuid = f.org.parse().unwrap();
            let before = audit_entries(&app, org_id).await;
            let r = app
                .request(
                    op.method.parse::<Method>().unwrap(),
                    &path,
                    Some(&caller.token),
                    body,
                )
                .await;
            // The audit log: exactly one entry for a change, one refused entry for a refusal,
            // none for a read.
            let new_entries: Vec<orgd::audit::Entry> = audit_entries(&app, org_id)
                .await
                .into_iter()
                .filter(|e| !before.iter().any(|b| b.id == e.id))
                .collect();
            let action = orgd::audit::action_of(&op.method, &op.path);
            let expected = match (action, r.status.is_success(), r.status.as_u16()) {
                (None, _, _) => None,
                (Some(a), true, _) => Some((a, orgd::audit::Outcome::Succeeded)),
                (Some(a), false, 403) => Some((a, orgd::audit::Outcome::Refused)),
                (Some(_), false, _) => None,
            };
            match expected {
                None => assert!(
                    new_entries.is_empty(),
                    "{role} {} {} ({}) wrote {new_entries:?}",
                    op.method,
                    op.path,
                    r.status
                ),
                Some((action, outcome)) => {
                    assert_eq!(
                        new_entries.len(),
                        1,
                        "{role} {} {}: {new_entries:?}",
                        op.method,
                        op.path
                    );
                    let e = &new_entries[0];
                    assert_eq!((e.action.as_str(), e.outcome), (action, outcome));
                    assert_eq!(e.actor.id, Some(caller.id), "{} {}", op.method, op.path);
                    assert_eq!(e.organization_id, Some(org_id));
                    audited += 1;
                }
            }
            if rank >= need {
                assert!(
                    r.status.is_success()
                        || (op.path.ends_with("/leave") && r.code() == "last_owner"),
                    "{role} may {} {}: {}",
                    op.method,
                    op.path,
                    r.text
                );
            } else {
                assert_eq!(
                    r.status, 403,
                    "{role} may not {} {}: {}",
                    op.method, op.path, r.text
                );
                assert_eq!(r.code(), "forbidden");
            }
            checked += 1;
        }
    }
    eprintln!(
        "[{}] role x route checks: {checked}, of which audited: {audited}",
        app.engine
    );
    assert!(audited >= 90, "{audited}");

    // A custom role: every route admits it exactly when the check says it holds the route's
    // permission (the store's own rules may still refuse what the role cannot grant).
    let mut agreed = 0;
    for op in operations()
        .iter()
        .filter(|op| op.path.starts_with("/organizations/{org}"))
    {
        n += 1;
        let f = fixture(&app, n).await;
        let permission = orgd::authz::need(&op.method, &op.path)
            .expect("a row")
            .permission
            .as_str();
        let allowed = app
            .post(
                &format!("/organizations/{}/permissions/check", f.org),
                &f.custom.token,
                json!({"permission": permission}),
            )
            .await
            .expect(200)["allowed"]
            .as_bool()
            .unwrap();
        assert_eq!(
            allowed,
            CUSTOM.contains(&permission) || permission == "organization:read"
        );
        let body = op.schema.as_deref().map(|s| body_for(s, &f));
        let r = app
            .request(
                op.method.parse::<Method>().unwrap(),
                &fill(&op.path, &f),
                Some(&f.custom.token),
                body,
            )
            .await;
        let refused_by_guard = r.status == 403 && r.text.contains("This requires the");
        if allowed {
            assert!(
                !refused_by_guard,
                "custom role may {} {}: {}",
                op.method, op.path, r.text
            );
        } else {
            assert_eq!(
                r.status, 403,
                "custom role may not {} {}: {}",
                op.method, op.path, r.text
            );
        }
        agreed += 1;
    }
    eprintln!("[{}] custom role x route checks: {agreed}", app.engine);
}

async fn installation_routes_follow_the_policy_table(app: TestApp) {
    let f = fixture(&app, 0).await;
    let sa = &f.service_account;
    for op in operations()
        .iter()
        .filter(|op| !op.path.starts_with("/organizations/{org}"))
    {
        let path = op
            .path
            .replace("{user}", sa)
            .replace("{id}", &uuid::Uuid::now_v7().to_string())
            .replace("{delivery}", &uuid::Uuid::now_v7().to_string())
            .replace("{provider_id}", &uuid::Uuid::now_v7().to_string());
        let method: Method = op.method.parse().unwrap();
        match need_of(op).expect("declared") {
            Need::Superuser => {
                let body = match op.schema.as_deref() {
                    Some("CreateUserRequest") => Some(json!({"email": "z@example.com"})),
                    Some(_) => Some(json!({"name": "x"})),
                    None => None,
                };
                let r = app.request(method, &path, Some(&f.owner.token), body).await;
                assert_eq!(
                    r.status, 403,
                    "{} {} as a non-superuser: {}",
                    op.method, op.path, r.text
                );
            }
            Need::Authenticated => {
                let r = app.request(method, &path, None, None).await;
                r.expect_error(401, "unauthenticated");
            }
            Need::Public => {
                let r = app.request(method, &path, None, Some(json!({}))).await;
                assert_ne!(
                    r.status, 401,
                    "{} {} should need no token",
                    op.method, op.path
                );
            }
            Need::Deployment => {
                // A user's token, even a superuser's, is no deployment's.
                let root = app.superuser("deploy-root").await;
                for token in [&f.owner.token, &root.token] {
                    let r = app
                        .request(
                            method.clone(),
                            &path,
                            Some(token),
                            Some(json!({"version": "1"})),
                        )
                        .await;
                    r.expect_error(401, "unauthenticated");
                }
            }
            other => panic!(
                "{} {}: {other:?} outside an organization",
                op.method, op.path
            ),
        }
    }
}

/// Every write that takes a body refuses privileged extras rather than ignoring them, and
/// nothing changes.
async fn privileged_extra_fields_are_refused_everywhere(app: TestApp) {
    let f = fixture(&app, 0).await;
    let root = app.superuser("root").await;
    let before = app
        .get(&format!("/organizations/{}", f.org), &f.owner.token)
        .await
        .expect(200)
        .clone();
    let members_before = app
        .get(&format!("/organizations/{}/members", f.org), &f.owner.token)
        .await
        .expect(200)
        .clone();
    let mut tried = 0;
    for op in operations().iter().filter(|op| op.schema.is_some()) {
        let path = fill(&op.path, &f)
            .replace("{user}", &f.service_account)
            .replace("{id}", &f.project);
        let schema = op.schema.as_deref().unwrap();
        let mut body = match schema {
            "SignupRequest" => json!({"email": "x@example.com", "password": "hunter2hunter2"}),
            "LoginRequest" => json!({"login": "x", "password": "y"}),
            "PasswordResetRequest" => json!({"email": "x@example.com"}),
            "PasswordResetConfirmRequest" => json!({"token": "orgd_pwr_x", "password": "yyyyyyyy"}),
            "VerifyEmailRequest" => json!({"token": "orgd_vfy_x"}),
            "ResendVerificationRequest" => json!({"email": "x@example.com"}),
            "AcceptInvitationRequest" | "DeclineInvitationRequest" => {
                json!({"token": "orgd_inv_x"})
            }
            "UpdateMeRequest" | "UpdateUserRequest" => json!({"name": "x"}),
            "ChangePasswordRequest" => json!({"current_password": "x", "new_password": "yyyyyyyy"}),
            "CreateTokenRequest" => json!({"name": "x"}),
            "CreateUserRequest" => json!({"email": "y@example.com"}),
            "CreateOrganizationRequest" => json!({"name": "x"}),
            "CreateLicenseRequest" => json!({"plan": "team"}),
            "UpdateLicenseRequest" => json!({"name": "x"}),
            "RegisterDeploymentRequest" => {
                json!({"license_key": "orgd_lic_x", "name": "n", "hostname": "h", "version": "1"})
            }
            "HeartbeatRequest" => json!({"version": "1"}),
            _ => body_for(schema, &f),
        };
        for (field, value) in [
            ("is_superuser", json!(true)),
            ("owner", json!(f.member.id)),
            ("organization_id", json!(uuid::Uuid::now_v7())),
            ("status", json!("active")),
        ] {
            // Fields a route legitimately takes (from the right caller) are tested elsewhere.
            let legitimate = (schema == "UpdateOrganizationRequest" && field == "status")
                || (schema == "CreateLicenseRequest" && field == "organization_id")
                || (["CreateUserRequest", "UpdateUserRequest"].contains(&schema)
                    && field == "is_superuser");
            if body.get(field).is_some() || legitimate {
                continue;
            }
            body[field] = value;
            let token = if (op.path.starts_with("/users")
                && op.path != "/users/me"
                && !op.path.starts_with("/users/me/"))
                || op.path.starts_with("/permissions")
                || op.path.starts_with("/licenses")
                || op.path.starts_with("/webhooks")
            {
                &root.token
            } else {
                &f.owner.token
            };
            let r = app
                .request(
                    op.method.parse().unwrap(),
                    &path,
                    Some(token),
                    Some(body.clone()),
                )
                .await;
            assert_eq!(
                r.status, 400,
                "{} {} with {field}: {}",
                op.method, op.path, r.text
            );
            assert_eq!(r.code(), "invalid_request");
            body.as_object_mut().unwrap().remove(field);
            tried += 1;
        }
    }
    let mut after = app
        .get(&format!("/organizations/{}", f.org), &f.owner.token)
        .await
        .expect(200)
        .clone();
    let mut before = before;
    for v in [&mut before, &mut after] {
        v.as_object_mut().unwrap().remove("updated_at");
    }
    assert_eq!(before, after);
    assert_eq!(
        members_before,
        app.get(&format!("/organizations/{}/members", f.org), &f.owner.token)
            .await
            .expect(200)
            .clone()
    );
    assert!(tried > 60, "{tried}");
    let me = app.get("/users/me", &f.owner.token).await;
    assert_eq!(me.expect(200)["is_superuser"], false);
}

on_both_engines!(
    organization_routes_follow_the_policy_table,
    installation_routes_follow_the_policy_table,
    privileged_extra_fields_are_refused_everywhere,
);
