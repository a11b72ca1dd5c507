//! Examples for the published document: one for every request body, and for the bodies clients
//! read most. Documentation renders them, schemathesis sends the request examples, and the lint
//! in `tests/clients/run.sh` checks each against its schema.

use serde_json::{Value, json};

const ALICE: &str = "0197b3f2-5c1e-7a4b-9f3d-2e8c1a6b4d10";
const BOB: &str = "0197b3f2-6d20-7c11-8a02-5b7e9d3c2f41";
const ACME: &str = "0197b3f2-7a31-7e52-b6c4-9f1d0e8a3b72";
const PROJECT: &str = "0197b3f2-8b42-7f63-a7d5-0a2e1f9b4c83";
const CREATED: &str = "2025-07-19T14:26:05.721Z";
const LATER: &str = "2025-07-26T14:26:05.721Z";
const LICENSE_KEY: &str =
    "orgd_lic_8c4a6e0f3d9b2c7a3f9c2a7d1e8b4c6a0f5d9e2b7c1a8f4e6d3b0c9a2e7f1d5b";
const LICENSE: &str = "0197b3f2-9c53-7074-b8e6-1b3f2a0c5d94";
const DEPLOYMENT: &str = "0197b3f2-ad64-7185-89f7-2c4a3b1d6ea5";
const WEBHOOK: &str = "0197b3f2-be75-7296-9a08-3d5b4c2e7fb6";
const EVENT: &str = "0197b3f2-5c1e-7a4b-9f3d-2e8c1a6b4d99";
const SESSION: &str = "orgd_s_5d9e2b7c1a8f4e6d3b0c9a2e7f1d5b8c4a6e0f3d9b2c7a3f9c2a7d1e8b4c6a0f";

/// The example of a request body, by its schema's name.
pub fn request(schema: &str) -> Option<Value> {
    let password = "correct horse battery staple";
    let token = "orgd_inv_3f9c2a7d1e8b4c6a0f5d9e2b7c1a8f4e6d3b0c9a2e7f1d5b8c4a6e0f3d9b2c7a";
    Some(match schema {
        "SignupRequest" => json!({
            "email": "alice@example.com",
            "password": password,
            "username": "alice",
            "name": "Alice Liddell"
        }),
        "LoginRequest" => json!({"login": "alice@example.com", "password": password}),
        "PasswordResetRequest" => json!({"email": "alice@example.com"}),
        "PasswordResetConfirmRequest" => json!({
            "token": "orgd_pwr_9b2c7a3f9c2a7d1e8b4c6a0f5d9e2b7c1a8f4e6d3b0c9a2e7f1d5b8c4a6e0f3d",
            "password": "a new correct horse",
            "revoke_tokens": true
        }),
        "VerifyEmailRequest" => json!({
            "token": "orgd_vfy_e6d3b0c9a2e7f1d5b8c4a6e0f3d9b2c7a3f9c2a7d1e8b4c6a0f5d9e2b7c1a8f4"
        }),
        "ResendVerificationRequest" => json!({"email": "alice@example.com"}),
        "UpdateMeRequest" => {
            json!({"name": "Alice Liddell", "company": "Acme Inc.", "job_title": "CTO"})
        }
        "ChangePasswordRequest" => json!({
            "current_password": password,
            "new_password": "a new correct horse",
            "revoke_tokens": true
        }),
        "CreateUserRequest" => json!({
            "email": "bob@example.com",
            "username": "bob",
            "name": "Bob",
            "password": password
        }),
        "UpdateUserRequest" => json!({"is_active": false}),
        "CreateOrganizationRequest" => json!({
            "name": "Acme Inc.",
            "slug": "acme",
            "description": "Rockets, anvils and roller skates",
            "country_code": "US"
        }),
        "UpdateOrganizationRequest" => {
            json!({"description": "Rockets and anvils", "country_code": null})
        }
        "AddMemberRequest" => {
            json!({"email": "carol@example.com", "name": "Carol", "role": "admin"})
        }
        "UpdateMemberRequest" => json!({"role": "admin"}),
        "CreateTokenRequest" => json!({
            "name": "deploy script",
            "organization": "acme",
            "expires_at": "2030-01-01T00:00:00Z"
        }),
        "CreateServiceAccountRequest" => {
            json!({"name": "CI deployer", "username": "ci-deployer", "role": "member"})
        }
        "CreateServiceTokenRequest" => {
            json!({"name": "release pipeline", "expires_at": "2030-01-01T00:00:00Z"})
        }
        "CreateInvitationRequest" => json!({"email": "dave@example.com", "role": "member"}),
        "AcceptInvitationRequest" => {
            json!({"token": token, "password": password, "username": "dave", "name": "Dave"})
        }
        "DeclineInvitationRequest" => json!({"token": token}),
        "CreateProjectRequest" => {
            json!({"name": "Website", "slug": "website", "description": "The public website"})
        }
        "UpdateProjectRequest" => json!({"name": "Marketing website"}),
        "AddProjectMemberRequest" => json!({"user_id": BOB, "role": "editor"}),
        "UpdateProjectMemberRequest" => json!({"role": "admin"}),
        "CreateApplicationRequest" => {
            json!({"name": "Invoices", "project_id": PROJECT, "description": "Billing front end"})
        }
        "UpdateApplicationRequest" => json!({"project_id": null}),
        "RegisterPermissionRequest" => json!({"key": "app:invoices:read"}),
        "CheckPermissionsRequest" => json!({"permission": "members:write"}),
        "CreateRoleRequest" => json!({
            "key": "billing",
            "name": "Billing",
            "permissions": ["members:read", "app:invoices:read"]
        }),
        "UpdateRoleRequest" => {
            json!({"permissions": ["members:read", "app:invoices:read", "app:invoices:write"]})
        }
        "CreateLicenseRequest" => json!({
            "plan": "team",
            "name": "Acme Inc. (contract 2025-114)",
            "seats": 40,
            "expires_at": "2026-07-19T00:00:00.000Z",
            "max_deployments": 3,
            "organization_id": ACME
        }),
        "UpdateLicenseRequest" => json!({"seats": 60, "expires_at": "2027-07-19T00:00:00.000Z"}),
        "AttachLicenseRequest" => json!({"license_key": LICENSE_KEY}),
        "RegisterDeploymentRequest" => json!({
            "license_key": LICENSE_KEY,
            "name": "Production",
            "hostname": "orgd.acme.internal",
            "version": "1.4.2"
        }),
        "HeartbeatRequest" => json!({"version": "1.4.3"}),
        "CreateWebhookRequest" => json!({
            "url": "https://hooks.acme.example/orgd",
            "event_types": ["member.added", "member.removed", "member.role_changed"],
            "description": "Sync seats to billing"
        }),
        "UpdateWebhookRequest" => json!({"event_types": ["*"], "enabled": true}),
        "AddDomainRequest" => json!({"domain": "acme.com"}),
        "VerifyDomainRequest" => json!({}),
        "CreateSsoProviderRequest" => json!({
            "name": "Acme Okta",
            "issuer": "https://acme.okta.com",
            "client_id": "0oa8f4e6d3b0c9a2e7f1",
            "client_secret": "a-client-secret-from-the-provider",
            "domains": ["acme.com"],
            "force_sso": false,
            "jit_provisioning": true,
            "default_role": "member"
        }),
        "UpdateSsoProviderRequest" => json!({"force_sso": true}),
        _ => return None,
    })
}

/// The example of a response body, by its schema's name (a list shows one item).
pub fn response(schema: &str) -> Option<Value> {
    Some(match schema {
        "User" => user(),
        "AuthResponse" => json!({
            "user": user(),
            "access_token": SESSION,
            "token_type": "Bearer",
            "expires_at": LATER
        }),
        "Organization" => json!({
            "id": ACME,
            "name": "Acme Inc.",
            "slug": "acme",
            "description": "Rockets, anvils and roller skates",
            "logo_url": null,
            "country_code": "US",
            "status": "active",
            "status_reason": null,
            "verified": false,
            "owner": {
                "id": ALICE,
                "username": "alice",
                "email": "alice@example.com",
                "name": "Alice Liddell"
            },
            "member_count": 2,
            "pending_member_count": 1,
            "project_count": 1,
            "application_count": 0,
            "plan": "free",
            "has_active_subscription": false,
            "trial_expiry": null,
            "active": true,
            "managed_by": [],
            "metadata": {},
            "service_accounts_can_mint_tokens": false,
            "created_at": CREATED,
            "updated_at": CREATED,
            "role": "owner"
        }),
        "Member" => member(),
        "Invitation" => invitation(),
        "SentInvitation" => {
            let mut sent = invitation();
            let token = "orgd_inv_3f9c2a7d1e8b4c6a0f5d9e2b7c1a8f4e6d3b0c9a2e7f1d5b8c4a6e0f3d9b2c7a";
            sent["accept_url"] = json!(format!(
                "http://localhost:8080/invitations/accept?token={token}"
            ));
            sent["token"] = json!(token);
            sent
        }
        "CreatedToken" => json!({
            "id": "0197b3f2-9c53-7074-b8e6-1b3f2a0c5d94",
            "name": "deploy script",
            "kind": "pat",
            "organization_id": ACME,
            "expires_at": "2030-01-01T00:00:00Z",
            "last_used_at": null,
            "created_at": CREATED,
            "token": "orgd_pat_c1a8f4e6d3b0c9a2e7f1d5b8c4a6e0f3d9b2c7a3f9c2a7d1e8b4c6a0f5d9e2b7"
        }),
        "Project" => json!({
            "id": PROJECT,
            "name": "Website",
            "slug": "website",
            "created_at": CREATED,
            "updated_at": CREATED
        }),
        "CheckPermissionsResponse" => json!({"allowed": true}),
        "License" => license(),
        "IssuedLicense" => {
            let mut l = license();
            l["key"] = json!(LICENSE_KEY);
            l
        }
        "OrganizationLicense" => json!({
            "plan": "team",
            "has_active_subscription": true,
            "trial_expiry": null,
            "limits": {"members": 40, "projects": 25, "applications": 25, "tokens": 100,
                       "service_accounts": 10},
            "max_deployments": 3,
            "usage": {"members": 12, "projects": 4, "applications": 2, "tokens": 7,
                      "service_accounts": 1, "deployments": 1},
            "features": ["custom_roles"],
            "service_accounts_take_seats": false,
            "license": license()
        }),
        "Deployment" => deployment(),
        "Webhook" => webhook(),
        "WebhookWithSecret" => {
            let mut w = webhook();
            w["secret"] = json!("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwH3ZbDq7Zb0M=");
            w
        }
        "WebhookDelivery" => delivery(),
        "WebhookDeliveryDetail" => {
            let mut d = delivery();
            d["payload"] = json!({
                "id": EVENT,
                "type": "member.added",
                "created_at": CREATED,
                "organization_id": ACME,
                "data": {
                    "actor": {"type": "user", "id": ALICE},
                    "target": {"type": "user", "id": BOB},
                    "changes": {"role": {"from": null, "to": "member"}},
                    "request_id": "01a20b67329f74b3ba5aac173d3898a4"
                }
            });
            d
        }
        "SsoProvider" => json!({
            "id": "0197b3f2-df97-74b8-bc2a-5f7d6e4a9b18",
            "organization_id": ACME,
            "type": "oidc",
            "name": "Acme Okta",
            "issuer": "https://acme.okta.com",
            "client_id": "0oa8f4e6d3b0c9a2e7f1",
            "scopes": ["openid", "email", "profile"],
            "domains": ["acme.com"],
            "force_sso": false,
            "jit_provisioning": true,
            "default_role": "member",
            "redirect_uri": "https://orgd.acme.com/auth/sso/callback",
            "created_at": CREATED,
            "updated_at": CREATED
        }),
        "OrgDomain" => json!({
            "id": "0197b3f2-e0a8-75c9-8d3b-6a8e7f5b0c29",
            "organization_id": ACME,
            "domain": "acme.com",
            "verified": true,
            "verified_at": LATER,
            "verified_by": "http",
            "verification": {
                "url": "https://acme.com/.well-known/orgd-domain-verification.txt",
                "token": "orgd-domain-verification=Jx3v9q0dQm1a7Kc2Zr8tYb4nLw6sEe5H"
            },
            "created_at": CREATED
        }),
        "EventTypes" => json!({"event_types": ["member.added", "member.removed", "webhook.ping"]}),
        "RegisteredDeployment" => json!({
            "id": DEPLOYMENT,
            "token": "orgd_dep_1d5b8c4a6e0f3d9b2c7a3f9c2a7d1e8b4c6a0f5d9e2b7c1a8f4e6d3b0c9a2e7f",
            "deployment": deployment()
        }),
        _ => return None,
    })
}

fn user() -> Value {
    json!({
        "id": ALICE,
        "username": "alice",
        "email": "alice@example.com",
        "email_verified": true,
        "name": "Alice Liddell",
        "avatar_url": null,
        "company": "Acme Inc.",
        "job_title": "CTO",
        "metadata": {},
        "is_active": true,
        "is_superuser": false,
        "is_service_account": false,
        "created_at": CREATED,
        "updated_at": CREATED
    })
}

fn member() -> Value {
    json!({
        "user_id": BOB,
        "username": "bob",
        "email": "bob@example.com",
        "name": "Bob",
        "role": "admin",
        "admin": true,
        "joined_at": CREATED
    })
}

fn invitation() -> Value {
    json!({
        "id": "0197b3f2-ad64-7185-c9f7-2c4a3b1d6ea5",
        "organization": {"id": ACME, "name": "Acme Inc.", "slug": "acme"},
        "email": "dave@example.com",
        "role": "member",
        "status": "pending",
        "inviter": {"id": ALICE, "username": "alice", "email": "alice@example.com"},
        "expires_at": LATER,
        "delivery": "none",
        "delivery_error": null,
        "created_at": CREATED
    })
}

fn license() -> Value {
    json!({
        "id": LICENSE,
        "key_hint": "orgd_lic_8c4a6e…",
        "name": "Acme Inc. (contract 2025-114)",
        "plan": "team",
        "seats": 40,
        "features": [],
        "trial": false,
        "max_deployments": 3,
        "starts_at": CREATED,
        "expires_at": "2026-07-19T00:00:00.000Z",
        "revoked_at": null,
        "status": "active",
        "organization_id": ACME,
        "deployment_count": 1,
        "created_at": CREATED,
        "updated_at": CREATED
    })
}

fn webhook() -> Value {
    json!({
        "id": WEBHOOK,
        "organization_id": ACME,
        "url": "https://hooks.acme.example/orgd",
        "description": "Sync seats to billing",
        "event_types": ["member.added", "member.removed", "member.role_changed"],
        "enabled": true,
        "disabled_reason": null,
        "previous_secret_expires_at": null,
        "last_success_at": LATER,
        "created_at": CREATED,
        "updated_at": CREATED
    })
}

fn delivery() -> Value {
    json!({
        "id": "0197b3f2-cf86-73a7-ab19-4e6c5d3f8a07",
        "webhook_id": WEBHOOK,
        "event_id": EVENT,
        "event_type": "member.added",
        "status": "succeeded",
        "attempts": 1,
        "next_attempt_at": null,
        "response_code": 204,
        "latency_ms": 38,
        "error": null,
        "created_at": CREATED,
        "updated_at": CREATED
    })
}

fn deployment() -> Value {
    json!({
        "id": DEPLOYMENT,
        "license_id": LICENSE,
        "name": "Production",
        "hostname": "orgd.acme.internal",
        "version": "1.4.2",
        "status": "active",
        "last_seen_at": LATER,
        "created_at": CREATED
    })
}
