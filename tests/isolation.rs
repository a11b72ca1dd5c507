//! Tenant isolation, driven by the route table: every operation under `/organizations/{org}`
//! in the generated OpenAPI document is called with organization B's ids by every kind of
//! principal of organization A. Each gets the same 404 as for an organization that does not
//! exist (401 when anonymous), and nothing of B changes. A new route is covered automatically;
//! a new request body shape must be added to `body_for`, or the test fails.

mod common;

use axum::http::Method;
use common::{TestApp, TestUser};
use orgd::store::TokenKind;
use serde_json::{Value, json};

/// A request body that would succeed if the caller were allowed, by request schema.
fn body_for(schema: &str, attacker: &TestUser, license_key: &str) -> Value {
    match schema {
        "UpdateOrganizationRequest" => json!({"name": "Hijacked", "slug": "hijacked"}),
        "AddMemberRequest" => json!({"user_id": attacker.id, "role": "owner"}),
        "UpdateMemberRequest" => json!({"role": "member"}),
        "CreateProjectRequest" | "UpdateProjectRequest" => json!({"name": "Hijacked"}),
        "CreateApplicationRequest" | "UpdateApplicationRequest" => json!({"name": "Hijacked"}),
        "AddProjectMemberRequest" => json!({"user_id": attacker.id, "role": "admin"}),
        "UpdateProjectMemberRequest" => json!({"role": "admin"}),
        "CreateInvitationRequest" => json!({"email": "evil@example.com", "role": "owner"}),
        "CreateServiceAccountRequest" => json!({"name": "Evil robot", "role": "owner"}),
        "CreateServiceTokenRequest" => json!({"name": "evil"}),
        "CreateRoleRequest" => {
            json!({"key": "evil", "name": "Evil", "permissions": ["members:write"]})
        }
        "UpdateRoleRequest" => json!({"permissions": ["members:write", "organization:delete"]}),
        "RegisterPermissionRequest" => json!({"key": "app:evil"}),
        "CheckPermissionsRequest" => json!({"permission": "members:read"}),
        "AttachLicenseRequest" => json!({"license_key": license_key}),
        "CreateWebhookRequest" => {
            json!({"url": "https://93.184.215.14/exfiltrate", "event_types": ["*"]})
        }
        "UpdateWebhookRequest" => json!({"url": "https://93.184.215.14/exfiltrate"}),
        "AddDomainRequest" => json!({"domain": "evil.test"}),
        "VerifyDomainRequest" => json!({}),
        "CreateSsoProviderRequest" => json!({
            "name": "Evil IdP", "issuer": "https://idp.evil.test", "client_id": "c",
            "client_secret": "s", "domains": ["b.test"], "force_sso": true
        }),
        "UpdateSsoProviderRequest" => json!({"force_sso": true, "domains": []}),
        other => panic!("no isolation body for request schema {other}: add one to body_for"),
    }
}

struct Op {
    method: Method,
    path: String,
    schema: Option<String>,
}

fn org_operations() -> Vec<Op> {
    let spec = serde_json::to_value(orgd::openapi()).unwrap();
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        if !path.contains("{org}") {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            let schema = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .map(|r| r.rsplit('/').next().unwrap().to_string());
            ops.push(Op {
                method: method.to_uppercase().parse().unwrap(),
                path: path.clone(),
                schema,
            });
        }
    }
    ops
}

/// Everything of an organization its owner can read.
async fn snapshot(app: &TestApp, owner: &TestUser, org: &str, project: &str) -> Vec<Value> {
    let mut o = app
        .get(&format!("/organizations/{org}"), &owner.token)
        .await
        .expect(200)
        .clone();
    o.as_object_mut().unwrap().remove("updated_at");
    let mut all = vec![o];
    for part in [
        "members",
        "projects",
        "applications",
        "invitations",
        "service-accounts",
        "roles",
        "permissions",
        "license",
        "deployments",
        "webhooks",
        "domains",
        "sso-providers",
    ] {
        all.push(
            app.get(&format!("/organizations/{org}/{part}"), &owner.token)
                .await
                .expect(200)
                .clone(),
        );
    }
    all.push(
        app.get(
            &format!("/organizations/{org}/projects/{project}/members"),
            &owner.token,
        )
        .await
        .expect(200)
        .clone(),
    );
    all.push(app.get("/tokens", &owner.token).await.expect(200).clone());
    let hooks = app
        .get(&format!("/organizations/{org}/webhooks"), &owner.token)
        .await
        .expect(200)
        .clone();
    for hook in hooks.as_array().unwrap() {
        let id = hook["id"].as_str().unwrap();
        all.push(
            app.get(
                &format!("/organizations/{org}/webhooks/{id}/deliveries"),
                &owner.token,
            )
            .await
            .expect(200)
            .clone(),
        );
    }
    all
}

/// Fills a path template with one organization's ids.
fn fill(template: &str, org: &str, ids: &Ids) -> String {
    let id = if template.contains("/service-accounts/{user}/tokens/{id}") {
        &ids.service_account_token
    } else if template.contains("/projects/{id}") {
        &ids.project
    } else if template.contains("/applications/{id}") {
        &ids.application
    } else if template.contains("/invitations/{id}") {
        &ids.invitation
    } else if template.contains("/deployments/{id}") {
        &ids.deployment
    } else if template.contains("/webhooks/{id}") {
        &ids.webhook
    } else if template.contains("/domains/{id}") {
        &ids.domain
    } else if template.contains("/sso-providers/{id}") {
        &ids.sso_provider
    } else {
        ""
    };
    let user = if template.contains("/service-accounts/{user}") {
        &ids.service_account
    } else {
        &ids.member
    };
    let key = if template.contains("/permissions/{key}") {
        &ids.permission
    } else {
        &ids.role
    };
    template
        .replace("{org}", org)
        .replace("{id}", id)
        .replace("{user}", user)
        .replace("{key}", key)
        .replace("{delivery}", &ids.delivery)
}

struct Ids {
    project: String,
    application: String,
    invitation: String,
    service_account: String,
    service_account_token: String,
    member: String,
    token: String,
    role: String,
    permission: String,
    deployment: String,
    webhook: String,
    delivery: String,
    domain: String,
    sso_provider: String,
}

async fn organization_b_is_invisible_to_every_principal_of_a(app: TestApp) {
    let owner_a = app.user("owner_a").await;
    let admin_a = app.user("admin_a").await;
    let member_a = app.user("member_a").await;
    let sa_a = app.service_account("robot_a").await;
    let owner_b = app.user("owner_b").await;
    let member_b = app.user("member_b").await;
    let a = app.org(&owner_a, "Tenant A").await;
    let b = app.org(&owner_b, "Tenant B").await;
    app.add(&a, &owner_a, &admin_a, "admin").await;
    app.add(&a, &owner_a, &member_a, "member").await;
    // An installation's service account joins an organization through a superuser only.
    let root = app.superuser("root_a").await;
    app.add(&a, &root, &sa_a, "admin").await;
    app.add(&b, &owner_b, &member_b, "member").await;
    let scoped_a = app
        .token_for(owner_a.id, TokenKind::Pat, Some(a.parse().unwrap()))
        .await;
    let scoped = TestUser {
        token: scoped_a,
        ..owner_a.clone()
    };

    // B's resources.
    let project_b = app
        .post(
            &format!("/organizations/{b}/projects"),
            &owner_b.token,
            json!({"name": "Secret"}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        &format!("/organizations/{b}/projects/{project_b}/members"),
        &owner_b.token,
        json!({"user_id": member_b.id, "role": "editor"}),
    )
    .await
    .expect(201);
    let app_b = app
        .post(
            &format!("/organizations/{b}/applications"),
            &owner_b.token,
            json!({"name": "Secret app", "project_id": project_b}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let inv_b = app
        .post(
            &format!("/organizations/{b}/invitations"),
            &owner_b.token,
            json!({"email": "newbie@example.com"}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let sa_b = app
        .post(
            &format!("/organizations/{b}/service-accounts"),
            &owner_b.token,
            json!({"name": "B robot"}),
        )
        .await
        .expect(201)
        .clone();
    let sa_b_token = sa_b["token"]["id"].as_str().unwrap().to_string();
    let sa_b = sa_b["user"]["id"].as_str().unwrap().to_string();
    let token_b = app
        .post(
            "/tokens",
            &owner_b.token,
            json!({"name": "ci", "organization": b}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        &format!("/organizations/{b}/permissions"),
        &owner_b.token,
        json!({"key": "app:b:secret"}),
    )
    .await
    .expect(201);
    app.post(
        &format!("/organizations/{b}/roles"),
        &owner_b.token,
        json!({"key": "auditor", "name": "Auditor", "permissions": ["members:read", "app:b:secret"]}),
    )
    .await
    .expect(201);
    app.patch(
        &format!("/organizations/{b}/members/{}", member_b.id),
        &owner_b.token,
        json!({"role": "auditor"}),
    )
    .await
    .expect(200);
    let (key_b, _) = app.license("team", Some(&b)).await;
    let deployment_b = app.deployment(&key_b).await;
    let webhook_b = app
        .post(
            &format!("/organizations/{b}/webhooks"),
            &owner_b.token,
            json!({"url": "https://93.184.215.14/b", "event_types": ["webhook.ping"]}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b_id: uuid::Uuid = b.parse().unwrap();
    let domain_b = app
        .store
        .add_domain(b_id, "b.test".into(), "t".into())
        .await
        .unwrap()
        .id;
    app.store
        .verify_domain(b_id, domain_b, "superuser")
        .await
        .unwrap();
    let provider_b = app
        .store
        .create_sso_provider(
            b_id,
            orgd::authz::Actor::User(owner_b.id),
            orgd::store::NewSsoProvider {
                name: "B IdP".into(),
                issuer: "https://idp.b.test".into(),
                client_id: "b".into(),
                client_secret: vec![0; 40],
                scopes: vec!["openid".into()],
                domains: vec!["b.test".into()],
                force_sso: false,
                jit_provisioning: true,
                default_role: "member".into(),
            },
        )
        .await
        .unwrap()
        .id
        .to_string();
    let delivery_b = app
        .post_empty(
            &format!("/organizations/{b}/webhooks/{webhook_b}/ping"),
            &owner_b.token,
        )
        .await
        .expect(202)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ids_b = Ids {
        project: project_b.clone(),
        application: app_b,
        invitation: inv_b,
        service_account: sa_b,
        service_account_token: sa_b_token,
        member: member_b.id.to_string(),
        token: token_b,
        role: "auditor".into(),
        permission: "app:b:secret".into(),
        deployment: deployment_b,
        webhook: webhook_b.clone(),
        delivery: delivery_b,
        domain: domain_b.to_string(),
        sso_provider: provider_b,
    };
    let unknown = Ids {
        project: uuid::Uuid::now_v7().to_string(),
        application: uuid::Uuid::now_v7().to_string(),
        invitation: uuid::Uuid::now_v7().to_string(),
        service_account: uuid::Uuid::now_v7().to_string(),
        service_account_token: uuid::Uuid::now_v7().to_string(),
        member: uuid::Uuid::now_v7().to_string(),
        token: uuid::Uuid::now_v7().to_string(),
        role: "nosuchrole".into(),
        permission: "app:nosuch".into(),
        deployment: uuid::Uuid::now_v7().to_string(),
        webhook: uuid::Uuid::now_v7().to_string(),
        delivery: uuid::Uuid::now_v7().to_string(),
        domain: uuid::Uuid::now_v7().to_string(),
        sso_provider: uuid::Uuid::now_v7().to_string(),
    };
    // A key nobody holds: attaching it would succeed where the caller may.
    let (free_key, _) = app.license("business", None).await;

    let before = snapshot(&app, &owner_b, &b, &project_b).await;
    let callers: Vec<(&str, Option<&TestUser>)> = vec![
        ("anonymous", None),
        ("member of A", Some(&member_a)),
        ("admin of A", Some(&admin_a)),
        ("owner of A", Some(&owner_a)),
        ("token scoped to A", Some(&scoped)),
        ("service account of A", Some(&sa_a)),
    ];
    let unknown_org = uuid::Uuid::now_v7().to_string();
    let mut attempts = 0;
    let ops = org_operations();
    assert!(
        ops.len() >= 29,
        "only {} organization operations found",
        ops.len()
    );
    for op in &ops {
        for (who, caller) in &callers {
            let attacker: &TestUser = caller.unwrap_or(&owner_a);
            let body = op
                .schema
                .as_deref()
                .map(|s| body_for(s, attacker, &free_key));
            let token = caller.map(|c| c.token.as_str());
            // B by id and by slug, against the answer for an organization that does not exist.
            let reference = app
                .request(
                    op.method.clone(),
                    &fill(&op.path, &unknown_org, &unknown),
                    token,
                    body.clone(),
                )
                .await;
            for key in [b.as_str(), "tenant-b"] {
                let path = fill(&op.path, key, &ids_b);
                let r = app
                    .request(op.method.clone(), &path, token, body.clone())
                    .await;
                attempts += 1;
                if caller.is_none() {
                    r.expect_error(401, "unauthenticated");
                } else {
                    assert_eq!(r.status, 404, "{who}: {} {path} → {}", op.method, r.text);
                    assert_eq!(r.body["code"], "not_found", "{who}: {} {path}", op.method);
                    assert_eq!(
                        r.body["error"], reference.body["error"],
                        "{who}: {} {path} differs from an unknown id",
                        op.method
                    );
                }
            }
            // Nested ids: A's routes naming B's members, projects, applications, invitations.
            if caller.is_some() && op.path.matches('{').count() > 1 {
                let path = fill(&op.path, &a, &ids_b);
                let r = app
                    .request(op.method.clone(), &path, token, body.clone())
                    .await;
                attempts += 1;
                assert!(
                    [403, 404].contains(&r.status.as_u16()),
                    "{who}: {} {path} → {}",
                    op.method,
                    r.text
                );
            }
        }
    }
    // Tokens are per user: A's principals cannot revoke B's owner's token.
    for (who, caller) in callers.iter().skip(1) {
        let r = app
            .delete(&format!("/tokens/{}", ids_b.token), &caller.unwrap().token)
            .await;
        attempts += 1;
        assert_eq!(r.status, 404, "{who}: {}", r.text);
    }
    let after = snapshot(&app, &owner_b, &b, &project_b).await;
    assert_eq!(before, after, "organization B changed");
    // And B's member is still only in B.
    assert_eq!(
        app.get("/organizations", &member_b.token)
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .len(),
        1
    );
    eprintln!(
        "[{}] isolation attempts: {attempts} over {} operations",
        app.engine,
        ops.len()
    );
}

on_both_engines!(organization_b_is_invisible_to_every_principal_of_a);
