//! The published OpenAPI document: what utoipa derives from the handlers, completed with what
//! every operation shares and with the validation rules of `domain::validate` written as JSON
//! Schema, so that a request valid by the document is a request orgd accepts.

use serde_json::{Value, json};

use crate::domain::country;

mod examples;

use crate::domain::validate::{
    EMAIL_PATTERN, NAME_PATTERN, NO_NUL_PATTERN, PERSON_PATTERN, SLUG_PATTERN, TEXT_PATTERN,
    URL_PATTERN, USERNAME_PATTERN, UUID_PATTERNS,
};

pub const ID_CURSOR: &str = "^i[0-9a-f]{32}$";
pub const TIME_CURSOR: &str = "^t[0-9]{1,15}_[0-9a-f]{32}$";

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    })
}

fn merge(target: &mut Value, patch: &Value) {
    if let (Some(t), Some(p)) = (target.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            t.insert(k.clone(), v.clone());
        }
    }
}

/// The `operationId` of every operation, by method and path. Generated clients name their
/// functions after it, so renaming one breaks them: a new route adds a row, an old row stays
/// as it is. A test checks that every operation has exactly one row here.
pub const OPERATION_IDS: &[(&str, &str, &str)] = &[
    ("get", "/healthz", "getHealth"),
    ("get", "/readyz", "getReadiness"),
    ("get", "/metrics", "getMetrics"),
    ("post", "/auth/signup", "signup"),
    ("post", "/auth/login", "login"),
    ("post", "/auth/logout", "logout"),
    ("post", "/auth/password-reset", "requestPasswordReset"),
    (
        "post",
        "/auth/password-reset/confirm",
        "confirmPasswordReset",
    ),
    ("post", "/auth/verify-email", "verifyEmail"),
    ("post", "/auth/verify-email/resend", "resendVerification"),
    ("get", "/users/me", "getCurrentUser"),
    ("patch", "/users/me", "updateCurrentUser"),
    ("post", "/users/me/password", "changePassword"),
    ("get", "/users/me/invitations", "listMyInvitations"),
    ("get", "/users/me/sessions", "listMySessions"),
    ("get", "/users", "listUsers"),
    ("post", "/users", "createUser"),
    ("get", "/users/{user}", "getUser"),
    ("patch", "/users/{user}", "updateUser"),
    ("delete", "/users/{user}", "deleteUser"),
    ("post", "/users/{user}/tokens", "createUserToken"),
    ("get", "/organizations", "listOrganizations"),
    ("post", "/organizations", "createOrganization"),
    ("get", "/organizations/{org}", "getOrganization"),
    ("patch", "/organizations/{org}", "updateOrganization"),
    ("delete", "/organizations/{org}", "deleteOrganization"),
    ("post", "/organizations/{org}/leave", "leaveOrganization"),
    ("get", "/organizations/{org}/members", "listMembers"),
    ("post", "/organizations/{org}/members", "addMember"),
    ("get", "/organizations/{org}/members/{user}", "getMember"),
    (
        "patch",
        "/organizations/{org}/members/{user}",
        "updateMemberRole",
    ),
    (
        "delete",
        "/organizations/{org}/members/{user}",
        "removeMember",
    ),
    (
        "post",
        "/organizations/{org}/members/{user}/toggle-admin",
        "toggleMemberAdmin",
    ),
    (
        "get",
        "/organizations/{org}/members/{user}/permissions",
        "getMemberPermissions",
    ),
    ("get", "/tokens", "listTokens"),
    ("post", "/tokens", "createToken"),
    ("delete", "/tokens/{id}", "revokeToken"),
    (
        "get",
        "/organizations/{org}/service-accounts",
        "listServiceAccounts",
    ),
    (
        "post",
        "/organizations/{org}/service-accounts",
        "createServiceAccount",
    ),
    (
        "delete",
        "/organizations/{org}/service-accounts/{user}",
        "deleteServiceAccount",
    ),
    (
        "get",
        "/organizations/{org}/service-accounts/{user}/tokens",
        "listServiceAccountTokens",
    ),
    (
        "post",
        "/organizations/{org}/service-accounts/{user}/tokens",
        "createServiceAccountToken",
    ),
    (
        "delete",
        "/organizations/{org}/service-accounts/{user}/tokens/{id}",
        "revokeServiceAccountToken",
    ),
    ("get", "/organizations/{org}/invitations", "listInvitations"),
    (
        "post",
        "/organizations/{org}/invitations",
        "createInvitation",
    ),
    (
        "delete",
        "/organizations/{org}/invitations/{id}",
        "revokeInvitation",
    ),
    (
        "post",
        "/organizations/{org}/invitations/{id}/resend",
        "resendInvitation",
    ),
    ("post", "/invitations/accept", "acceptInvitation"),
    ("post", "/invitations/decline", "declineInvitation"),
    (
        "post",
        "/users/me/invitations/{id}/accept",
        "acceptMyInvitation",
    ),
    (
        "post",
        "/users/me/invitations/{id}/decline",
        "declineMyInvitation",
    ),
    ("get", "/organizations/{org}/projects", "listProjects"),
    ("post", "/organizations/{org}/projects", "createProject"),
    ("get", "/organizations/{org}/projects/{id}", "getProject"),
    (
        "patch",
        "/organizations/{org}/projects/{id}",
        "updateProject",
    ),
    (
        "delete",
        "/organizations/{org}/projects/{id}",
        "deleteProject",
    ),
    (
        "get",
        "/organizations/{org}/projects/{id}/members",
        "listProjectMembers",
    ),
    (
        "post",
        "/organizations/{org}/projects/{id}/members",
        "addProjectMember",
    ),
    (
        "patch",
        "/organizations/{org}/projects/{id}/members/{user}",
        "updateProjectMemberRole",
    ),
    (
        "delete",
        "/organizations/{org}/projects/{id}/members/{user}",
        "removeProjectMember",
    ),
    (
        "get",
        "/organizations/{org}/applications",
        "listApplications",
    ),
    (
        "post",
        "/organizations/{org}/applications",
        "createApplication",
    ),
    (
        "get",
        "/organizations/{org}/applications/{id}",
        "getApplication",
    ),
    (
        "patch",
        "/organizations/{org}/applications/{id}",
        "updateApplication",
    ),
    (
        "delete",
        "/organizations/{org}/applications/{id}",
        "deleteApplication",
    ),
    ("get", "/permissions", "listPermissions"),
    ("post", "/permissions", "registerInstallationPermission"),
    (
        "delete",
        "/permissions/{key}",
        "removeInstallationPermission",
    ),
    (
        "get",
        "/organizations/{org}/permissions",
        "listOrganizationPermissions",
    ),
    (
        "post",
        "/organizations/{org}/permissions",
        "registerOrganizationPermission",
    ),
    (
        "delete",
        "/organizations/{org}/permissions/{key}",
        "removeOrganizationPermission",
    ),
    (
        "post",
        "/organizations/{org}/permissions/check",
        "checkPermissions",
    ),
    ("get", "/organizations/{org}/roles", "listRoles"),
    ("post", "/organizations/{org}/roles", "createRole"),
    ("get", "/organizations/{org}/roles/{key}", "getRole"),
    ("patch", "/organizations/{org}/roles/{key}", "updateRole"),
    ("delete", "/organizations/{org}/roles/{key}", "deleteRole"),
    ("get", "/plans", "listPlans"),
    ("get", "/audit-log", "listInstallationAuditLog"),
    ("get", "/organizations/{org}/audit-log", "listAuditLog"),
    ("get", "/webhooks/event-types", "listWebhookEventTypes"),
    ("get", "/organizations/{org}/domains", "listDomains"),
    ("post", "/organizations/{org}/domains", "addDomain"),
    (
        "post",
        "/organizations/{org}/domains/{id}/verify",
        "verifyDomain",
    ),
    (
        "delete",
        "/organizations/{org}/domains/{id}",
        "deleteDomain",
    ),
    (
        "get",
        "/organizations/{org}/sso-providers",
        "listSsoProviders",
    ),
    (
        "post",
        "/organizations/{org}/sso-providers",
        "createSsoProvider",
    ),
    (
        "get",
        "/organizations/{org}/sso-providers/{id}",
        "getSsoProvider",
    ),
    (
        "patch",
        "/organizations/{org}/sso-providers/{id}",
        "updateSsoProvider",
    ),
    (
        "delete",
        "/organizations/{org}/sso-providers/{id}",
        "deleteSsoProvider",
    ),
    ("get", "/auth/sso/start", "startSso"),
    (
        "get",
        "/auth/sso/{provider_id}/start",
        "startSsoWithProvider",
    ),
    ("get", "/auth/sso/callback", "finishSso"),
    ("get", "/organizations/{org}/webhooks", "listWebhooks"),
    ("post", "/organizations/{org}/webhooks", "createWebhook"),
    ("get", "/organizations/{org}/webhooks/{id}", "getWebhook"),
    (
        "patch",
        "/organizations/{org}/webhooks/{id}",
        "updateWebhook",
    ),
    (
        "delete",
        "/organizations/{org}/webhooks/{id}",
        "deleteWebhook",
    ),
    (
        "post",
        "/organizations/{org}/webhooks/{id}/rotate-secret",
        "rotateWebhookSecret",
    ),
    (
        "post",
        "/organizations/{org}/webhooks/{id}/ping",
        "pingWebhook",
    ),
    (
        "get",
        "/organizations/{org}/webhooks/{id}/deliveries",
        "listWebhookDeliveries",
    ),
    (
        "get",
        "/organizations/{org}/webhooks/{id}/deliveries/{delivery}",
        "getWebhookDelivery",
    ),
    (
        "post",
        "/organizations/{org}/webhooks/{id}/deliveries/{delivery}/retry",
        "retryWebhookDelivery",
    ),
    ("get", "/webhooks", "listInstallationWebhooks"),
    ("post", "/webhooks", "createInstallationWebhook"),
    ("get", "/webhooks/{id}", "getInstallationWebhook"),
    ("patch", "/webhooks/{id}", "updateInstallationWebhook"),
    ("delete", "/webhooks/{id}", "deleteInstallationWebhook"),
    (
        "post",
        "/webhooks/{id}/rotate-secret",
        "rotateInstallationWebhookSecret",
    ),
    ("post", "/webhooks/{id}/ping", "pingInstallationWebhook"),
    (
        "get",
        "/webhooks/{id}/deliveries",
        "listInstallationWebhookDeliveries",
    ),
    (
        "get",
        "/webhooks/{id}/deliveries/{delivery}",
        "getInstallationWebhookDelivery",
    ),
    (
        "post",
        "/webhooks/{id}/deliveries/{delivery}/retry",
        "retryInstallationWebhookDelivery",
    ),
    ("get", "/licenses", "listLicenses"),
    ("post", "/licenses", "createLicense"),
    ("get", "/licenses/{id}", "getLicense"),
    ("patch", "/licenses/{id}", "updateLicense"),
    ("delete", "/licenses/{id}", "revokeLicense"),
    (
        "get",
        "/organizations/{org}/license",
        "getOrganizationLicense",
    ),
    (
        "put",
        "/organizations/{org}/license",
        "attachOrganizationLicense",
    ),
    (
        "delete",
        "/organizations/{org}/license",
        "detachOrganizationLicense",
    ),
    ("get", "/organizations/{org}/deployments", "listDeployments"),
    (
        "delete",
        "/organizations/{org}/deployments/{id}",
        "deleteDeployment",
    ),
    ("post", "/deployments/register", "registerDeployment"),
    ("post", "/deployments/{id}/heartbeat", "sendHeartbeat"),
];

/// Operations that add something a plan limits, by operationId: they can answer
/// `403 plan_limit_reached`.
pub const PLAN_LIMITED: &[&str] = &[
    "addMember",
    "acceptInvitation",
    "createProject",
    "createApplication",
    "createToken",
    "createServiceAccount",
    "createServiceAccountToken",
    "createUserToken",
];

/// Operations a rate limit can refuse with `429 rate_limited`, by operationId. Their answers
/// carry the IETF `RateLimit` headers of the tightest limit the request met.
pub const RATE_LIMITED: &[&str] = &[
    "signup",
    "login",
    "requestPasswordReset",
    "resendVerification",
    "createInvitation",
    "resendInvitation",
    // Creating the invitee's account counts as a sign-up.
    "acceptInvitation",
    // With `member_add_requires_consent` an addition sends an invitation.
    "addMember",
    "registerDeployment",
    "sendHeartbeat",
];

/// Operations that never reach the database, so never answer `503 unavailable`.
const NO_DATABASE: &[&str] = &["getHealth", "getMetrics"];

/// Rules for request body properties: (schema, property, JSON Schema keywords).
fn email_rule() -> Value {
    json!({"pattern": EMAIL_PATTERN, "maxLength": 254})
}

fn body_rules() -> Vec<(&'static str, &'static str, Value)> {
    let email = email_rule();
    let username = json!({"pattern": USERNAME_PATTERN});
    let password = json!({"minLength": 8, "maxLength": 256, "pattern": NO_NUL_PATTERN});
    let person = json!({"maxLength": 256, "pattern": PERSON_PATTERN});
    let org_name = json!({"minLength": 1, "maxLength": 256, "pattern": NAME_PATTERN});
    let slug = json!({"pattern": SLUG_PATTERN, "not": {"type": "string", "anyOf": [{"pattern": UUID_PATTERNS[0]}, {"pattern": UUID_PATTERNS[1]}]}});
    let url = json!({"pattern": URL_PATTERN, "maxLength": 2048});
    let description = json!({"maxLength": 4096, "pattern": TEXT_PATTERN});
    let token_name = json!({"minLength": 1, "maxLength": 100, "pattern": NAME_PATTERN});
    let short = json!({"maxLength": 1024, "pattern": TEXT_PATTERN});
    vec![
        ("SignupRequest", "email", email.clone()),
        ("SignupRequest", "password", password.clone()),
        ("SignupRequest", "username", username.clone()),
        ("SignupRequest", "name", person.clone()),
        ("LoginRequest", "login", json!({"maxLength": 254})),
        ("LoginRequest", "password", json!({"maxLength": 1024})),
        ("PasswordResetRequest", "email", email.clone()),
        ("PasswordResetConfirmRequest", "password", password.clone()),
        (
            "PasswordResetConfirmRequest",
            "token",
            json!({"minLength": 1, "maxLength": 256}),
        ),
        ("UpdateMeRequest", "username", username.clone()),
        ("UpdateMeRequest", "name", person.clone()),
        ("UpdateMeRequest", "avatar_url", url.clone()),
        ("UpdateMeRequest", "company", description_short(256)),
        ("UpdateMeRequest", "job_title", description_short(256)),
        (
            "ChangePasswordRequest",
            "current_password",
            json!({"maxLength": 1024}),
        ),
        ("ChangePasswordRequest", "new_password", password.clone()),
        ("CreateUserRequest", "email", email.clone()),
        ("CreateUserRequest", "username", username.clone()),
        ("CreateUserRequest", "name", person.clone()),
        ("CreateUserRequest", "password", password.clone()),
        ("UpdateUserRequest", "username", username.clone()),
        ("UpdateUserRequest", "email", email.clone()),
        ("UpdateUserRequest", "name", person.clone()),
        ("UpdateUserRequest", "avatar_url", url.clone()),
        ("UpdateUserRequest", "company", description_short(256)),
        ("UpdateUserRequest", "job_title", description_short(256)),
        ("CreateOrganizationRequest", "name", org_name.clone()),
        ("CreateOrganizationRequest", "slug", slug.clone()),
        (
            "CreateOrganizationRequest",
            "description",
            description.clone(),
        ),
        ("CreateOrganizationRequest", "logo_url", url.clone()),
        ("UpdateOrganizationRequest", "name", org_name.clone()),
        ("UpdateOrganizationRequest", "slug", slug.clone()),
        (
            "UpdateOrganizationRequest",
            "description",
            description.clone(),
        ),
        ("UpdateOrganizationRequest", "logo_url", url.clone()),
        ("UpdateOrganizationRequest", "status_reason", short.clone()),
        (
            "UpdateOrganizationRequest",
            "managed_by",
            json!({"maxItems": 32}),
        ),
        (
            "ManagedBy",
            "type",
            json!({"minLength": 1, "maxLength": 64}),
        ),
        ("ManagedBy", "id", json!({"minLength": 1, "maxLength": 256})),
        ("AddMemberRequest", "username", username.clone()),
        ("AddMemberRequest", "email", email.clone()),
        ("AddMemberRequest", "name", person.clone()),
        ("CreateTokenRequest", "name", token_name.clone()),
        ("CreateServiceTokenRequest", "name", token_name),
        ("CreateServiceAccountRequest", "name", org_name.clone()),
        ("CreateServiceAccountRequest", "username", username.clone()),
        ("CreateInvitationRequest", "email", email),
        ("AcceptInvitationRequest", "password", password),
        ("AcceptInvitationRequest", "name", person),
        ("AcceptInvitationRequest", "username", username),
        (
            "DeclineInvitationRequest",
            "token",
            json!({"minLength": 1, "maxLength": 256}),
        ),
        ("CreateProjectRequest", "name", org_name.clone()),
        ("CreateProjectRequest", "slug", slug.clone()),
        ("CreateProjectRequest", "description", description.clone()),
        ("UpdateProjectRequest", "name", org_name.clone()),
        ("UpdateProjectRequest", "slug", slug),
        ("UpdateProjectRequest", "description", description.clone()),
        ("CreateApplicationRequest", "name", org_name.clone()),
        (
            "CreateApplicationRequest",
            "description",
            description.clone(),
        ),
        ("UpdateApplicationRequest", "name", org_name.clone()),
        ("UpdateApplicationRequest", "description", description),
        (
            "CreateRoleRequest",
            "key",
            json!({"pattern": ROLE_KEY_PATTERN}),
        ),
        ("CreateRoleRequest", "name", org_name.clone()),
        ("CreateRoleRequest", "description", short.clone()),
        (
            "CreateRoleRequest",
            "permissions",
            json!({"maxItems": 200, "items": permission_item()}),
        ),
        ("UpdateRoleRequest", "name", org_name.clone()),
        ("UpdateRoleRequest", "description", short.clone()),
        (
            "UpdateRoleRequest",
            "permissions",
            json!({"maxItems": 200, "items": permission_item()}),
        ),
        (
            "RegisterPermissionRequest",
            "key",
            json!({"maxLength": 128, "pattern": APP_PERMISSION_PATTERN}),
        ),
        ("RegisterPermissionRequest", "description", short),
        ("PermissionCheck", "permission", permission_name()),
        ("CheckPermissionsRequest", "permission", permission_name()),
        (
            "CheckPermissionsRequest",
            "checks",
            json!({"minItems": 1, "maxItems": 100}),
        ),
        ("ResendVerificationRequest", "email", email_rule()),
        ("CreateLicenseRequest", "name", org_name.clone()),
        ("CreateLicenseRequest", "seats", count()),
        ("CreateLicenseRequest", "max_deployments", count()),
        ("CreateLicenseRequest", "features", features()),
        ("UpdateLicenseRequest", "name", org_name.clone()),
        ("UpdateLicenseRequest", "seats", count()),
        ("UpdateLicenseRequest", "max_deployments", count()),
        ("UpdateLicenseRequest", "features", features()),
        (
            "AttachLicenseRequest",
            "license_key",
            json!({"pattern": LICENSE_KEY_PATTERN}),
        ),
        (
            "RegisterDeploymentRequest",
            "license_key",
            json!({"maxLength": 256}),
        ),
        ("RegisterDeploymentRequest", "name", org_name.clone()),
        (
            "RegisterDeploymentRequest",
            "hostname",
            json!({"minLength": 1, "maxLength": 253, "pattern": NAME_PATTERN}),
        ),
        ("RegisterDeploymentRequest", "version", version()),
        ("HeartbeatRequest", "version", version()),
        (
            "VerifyEmailRequest",
            "token",
            json!({"minLength": 1, "maxLength": 256}),
        ),
        ("CreateWebhookRequest", "url", webhook_url()),
        ("CreateWebhookRequest", "event_types", event_types()),
        ("CreateWebhookRequest", "description", webhook_description()),
        ("UpdateWebhookRequest", "url", webhook_url()),
        ("UpdateWebhookRequest", "event_types", event_types()),
        ("UpdateWebhookRequest", "description", webhook_description()),
        ("AddDomainRequest", "domain", domain()),
        ("CreateSsoProviderRequest", "name", org_name.clone()),
        ("CreateSsoProviderRequest", "issuer", issuer()),
        ("CreateSsoProviderRequest", "client_id", client_text()),
        ("CreateSsoProviderRequest", "client_secret", client_text()),
        ("CreateSsoProviderRequest", "scopes", scopes()),
        ("CreateSsoProviderRequest", "domains", domains()),
        (
            "CreateSsoProviderRequest",
            "default_role",
            json!({"pattern": ROLE_KEY_PATTERN}),
        ),
        ("UpdateSsoProviderRequest", "name", org_name.clone()),
        ("UpdateSsoProviderRequest", "issuer", issuer()),
        ("UpdateSsoProviderRequest", "client_id", client_text()),
        ("UpdateSsoProviderRequest", "client_secret", client_text()),
        ("UpdateSsoProviderRequest", "scopes", scopes()),
        ("UpdateSsoProviderRequest", "domains", domains()),
        (
            "UpdateSsoProviderRequest",
            "default_role",
            json!({"pattern": ROLE_KEY_PATTERN}),
        ),
    ]
}

/// An email domain an organization claims.
fn domain() -> Value {
    json!({"maxLength": 253, "pattern": "^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.?$"})
}

fn domains() -> Value {
    let mut item = domain();
    item["type"] = json!("string");
    json!({"maxItems": crate::routes::sso::MAX_LIST, "items": item})
}

/// An issuer URL: https (an installation with `sso_allow_insecure` also takes http).
fn issuer() -> Value {
    json!({"maxLength": 2048, "pattern": "^https://[A-Za-z0-9._~-]+(:[0-9]{1,5})?(/[^\\s?#]*)?$"})
}

/// A client id or secret.
fn client_text() -> Value {
    json!({"minLength": 1, "maxLength": 512, "pattern": NAME_PATTERN})
}

fn scopes() -> Value {
    json!({
        "minItems": 1,
        "maxItems": crate::routes::sso::MAX_LIST,
        "contains": {"const": "openid"},
        "items": {"type": "string", "pattern": "^[!#-\\[\\]-~]{1,64}$"}
    })
}

/// A webhook target: an absolute http(s) URL with a host (https only, unless the installation
/// allows http; a host resolving to a private address is refused unless allowed).
fn webhook_url() -> Value {
    json!({
        "maxLength": crate::webhooks::MAX_URL,
        "pattern": "^https?://[A-Za-z0-9._~-]+(:[0-9]{1,5})?(/[^\\s#]*)?$"
    })
}

/// An endpoint's event types: from the catalogue, or `*`.
fn event_types() -> Value {
    let mut names: Vec<&str> = vec![crate::webhooks::EVERY];
    names.extend(crate::webhooks::catalogue());
    json!({
        "minItems": 1,
        "maxItems": crate::webhooks::MAX_EVENT_TYPES,
        "items": {"type": "string", "enum": names}
    })
}

fn webhook_description() -> Value {
    json!({"maxLength": crate::routes::webhooks::DESCRIPTION_MAX, "pattern": TEXT_PATTERN})
}

/// A license key as minted (`auth::LICENSE_KEY_PREFIX` and 64 hex digits).
pub const LICENSE_KEY_PATTERN: &str = "^orgd_lic_[0-9a-f]{64}$";

/// A seat or deployment count of a license.
fn count() -> Value {
    json!({"minimum": 0, "maximum": crate::routes::licensing::MAX_COUNT})
}

/// A license's feature labels.
fn features() -> Value {
    use crate::routes::licensing::{FEATURE_PATTERN, MAX_FEATURES};
    json!({"maxItems": MAX_FEATURES, "items": {"type": "string", "pattern": FEATURE_PATTERN}})
}

/// A deployment's version string.
fn version() -> Value {
    json!({"minLength": 1, "maxLength": 64, "pattern": NAME_PATTERN})
}

/// A role key: a built-in one or a custom role's.
pub const ROLE_KEY_PATTERN: &str = "^[a-z][a-z0-9_-]{0,47}$";
/// An application permission's name (`authz::is_app_permission`).
pub const APP_PERMISSION_PATTERN: &str = "^app:[a-z0-9_-]+(:[a-z0-9_-]+){0,7}$";

/// A permission of the catalogue or an application permission.
fn permission_name() -> Value {
    let catalogue: Vec<&str> = crate::authz::Permission::all()
        .map(crate::authz::Permission::as_str)
        .collect();
    json!({
        "maxLength": 128,
        "pattern": format!("^({})$|{APP_PERMISSION_PATTERN}", catalogue.join("|")),
    })
}

/// An item of a list of permissions: the rule replaces the derived item schema, type included.
fn permission_item() -> Value {
    let mut item = permission_name();
    item["type"] = json!("string");
    item
}

fn description_short(max: usize) -> Value {
    json!({"maxLength": max, "pattern": TEXT_PATTERN})
}

/// Whether a property schema is a string with no rule on its characters yet.
fn unconstrained_string(p: &Value) -> bool {
    let is_string = p["type"] == "string"
        || p["type"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == "string"));
    is_string && p.get("pattern").is_none() && p.get("enum").is_none() && p.get("format").is_none()
}

/// Rules across properties, by schema. Only rules that generated clients read as plain
/// constraints belong here: a rule that needs `oneOf` or `not` over the properties (which
/// generators turn into one class per branch, each without the other fields) is enforced by the
/// handler and said in the schema's description instead.
fn object_rules() -> Vec<(&'static str, Value)> {
    vec![
        // A new account needs a password; a signed-in caller sends the token alone.
        (
            "AcceptInvitationRequest",
            json!({"dependentRequired": {"name": ["password"], "username": ["password"]}}),
        ),
    ]
}

/// Properties whose schema is a shared component, nullable like the field: (schema, property,
/// component).
const SHARED_PROPERTIES: &[(&str, &str, &str)] = &[
    ("CreateOrganizationRequest", "country_code", "CountryCode"),
    ("UpdateOrganizationRequest", "country_code", "CountryCode"),
];

/// Component schemas that no Rust type derives.
fn shared_schemas() -> Vec<(&'static str, Value)> {
    vec![(
        "CountryCode",
        json!({
            "type": "string",
            "description": "An ISO 3166-1 alpha-2 country code, upper case.",
            "enum": country::codes(),
        }),
    )]
}

/// Rules for query parameters: (parameter, keywords), applied wherever the parameter appears;
/// `after` depends on the list's order.
fn query_rules(path: &str) -> Vec<(&'static str, Value)> {
    let cursor = if path.ends_with("/members") {
        TIME_CURSOR
    } else {
        ID_CURSOR
    };
    vec![
        ("limit", json!({"minimum": 1, "maximum": 1000})),
        (
            "offset",
            json!({"minimum": 0, "maximum": crate::domain::paging::MAX_OFFSET}),
        ),
        ("after", json!({"pattern": cursor})),
        ("include", json!({"enum": ["members", ""]})),
        ("format", json!({"enum": ["json", "ndjson", ""]})),
        (
            "action",
            json!({"maxLength": 256, "pattern": NO_NUL_PATTERN}),
        ),
        (
            "target_type",
            json!({"maxLength": 256, "pattern": NO_NUL_PATTERN}),
        ),
        (
            "target_id",
            json!({"maxLength": 256, "pattern": NO_NUL_PATTERN}),
        ),
        ("replacement", json!({"pattern": ROLE_KEY_PATTERN})),
        (
            "q",
            json!({"maxLength": crate::routes::SEARCH_MAX, "pattern": NO_NUL_PATTERN}),
        ),
        (
            "name",
            json!({"maxLength": crate::routes::SEARCH_MAX, "pattern": NO_NUL_PATTERN}),
        ),
    ]
}

/// The `Retry-After` header of the answers that ask a client to come back later.
fn retry_after() -> Value {
    json!({
        "description": "Seconds to wait before retrying",
        "schema": {"type": "integer", "minimum": 1}
    })
}

/// The IETF `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers) of the tightest limit a
/// request met, on the answers of a rate-limited operation.
fn rate_limit_headers() -> Value {
    let count = |description: &str| {
        let schema = json!({"type": "integer", "minimum": 0});
        json!({"description": description, "schema": schema})
    };
    json!({
        "RateLimit-Limit": count("Requests the limit allows in its window"),
        "RateLimit-Remaining": count("Requests left in the current window"),
        "RateLimit-Reset": count("Seconds until the window starts again"),
        "RateLimit-Policy": {
            "description": "The limit and its window in seconds, e.g. `60;w=60`",
            "schema": {"type": "string"}
        }
    })
}

/// The name of the component a schema refers to.
fn component(schema: &Value) -> Option<&str> {
    schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
}

/// A description for a response whose handler gives none: every response needs one (OpenAPI
/// requires it, and generated clients print it in their documentation).
fn default_description(status: &str, response: &Value) -> String {
    let error = match status {
        "400" => {
            "`invalid_request`: the request is malformed or invalid; `details` names the fields"
        }
        "401" => "`unauthenticated`: no valid bearer token",
        "403" => "`forbidden`: the caller's role or token does not allow this",
        "404" => "`not_found`: no such resource, or the caller cannot see it",
        "409" => "`conflict`: the request conflicts with the current state",
        "429" => "`rate_limited`: too many requests; retry after `Retry-After`",
        _ => "",
    };
    if !error.is_empty() {
        return error.into();
    }
    let schema = &response["content"]["application/json"]["schema"];
    match (status, component(schema), component(&schema["items"])) {
        (_, Some("Ok"), _) => "Done".into(),
        ("201", Some(name), _) => format!("The new `{name}`"),
        (_, Some(name), _) => format!("The `{name}`"),
        (_, None, Some(name)) if response["headers"].get("link").is_some() => {
            format!("A page of `{name}` items; a `Link` header names the next page")
        }
        (_, None, Some(name)) => format!("The `{name}` items"),
        _ => "Success".into(),
    }
}

/// Completes what every operation shares: its operationId, the error answers any request can
/// get, a description on every response, and examples.
fn complete_operation(path: &str, method: &str, op: &mut Value) {
    let id = OPERATION_IDS
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .map(|(_, _, id)| *id);
    // Without a row, utoipa's (the handler's name) stays, and the conventions test fails.
    if let Some(id) = id {
        op["operationId"] = json!(id);
    }
    // `[{}]` (utoipa's `security(())`) and `[]` both say "no credentials"; generators read
    // only `[]` as public (openapi-python-client wants an authenticated client for sign-up on
    // `[{}]`).
    if op["security"] == json!([{}]) {
        op["security"] = json!([]);
    }
    let has_body = op.get("requestBody").is_some();
    let has_query = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
    if let Some(body) = op
        .pointer_mut("/requestBody/content/application~1json")
        .filter(|body| body.is_object())
        && let Some(example) = component(&body["schema"]).and_then(examples::request)
    {
        body["example"] = example;
    }
    let responses = &mut op["responses"];
    if has_body {
        responses["413"] =
            error_response("`payload_too_large`: the body exceeds the configured limit");
        responses["415"] =
            error_response("`unsupported_media_type`: the body is not `application/json`");
        if responses.get("400").is_none() {
            responses["400"] =
                error_response("`invalid_request`: the body is malformed or invalid");
        }
    }
    if has_query && responses.get("400").is_none() {
        responses["400"] =
            error_response("`invalid_request`: a query parameter is malformed or repeated");
    }
    if id.is_some_and(|id| RATE_LIMITED.contains(&id)) && responses.get("429").is_none() {
        responses["429"] = error_response("");
    }
    responses["500"] = error_response(
        "`internal`: an unexpected error; the server's log tells more under the `request_id`",
    );
    if !id.is_some_and(|id| NO_DATABASE.contains(&id)) {
        // A handler's own reason (say, saturated password hashing) stays beside the database's.
        let own = responses["503"]["description"]
            .as_str()
            .filter(|d| !d.is_empty())
            .map(|d| {
                let mut chars = d.chars();
                let first = chars.next().map(|c| c.to_lowercase().to_string());
                format!(", or {}{}", first.unwrap_or_default(), chars.as_str())
            })
            .unwrap_or_default();
        responses["503"] = error_response(&format!(
            "`unavailable`: the database cannot be reached{own}; retry after `Retry-After`"
        ));
    }
    let limited = id.is_some_and(|id| RATE_LIMITED.contains(&id));
    let adds = id.is_some_and(|id| PLAN_LIMITED.contains(&id));
    let org_write = path.starts_with("/organizations/{org}") && method != "get";
    if let Some(responses) = responses.as_object_mut() {
        for (status, response) in responses.iter_mut() {
            if response["description"].as_str().unwrap_or("").is_empty() {
                response["description"] = json!(default_description(status, response));
            }
            if status == "403" {
                let mut more = String::new();
                if org_write
                    && !response["description"]
                        .as_str()
                        .unwrap_or("")
                        .contains("organization_inactive")
                {
                    more.push_str(
                        "; `organization_suspended` or `organization_inactive`: the organization \
                         is suspended, or deactivated by an owner",
                    );
                }
                if adds {
                    more.push_str(
                        "; `plan_limit_reached`: the plan in force allows no more (the body's \
                         `limit` names the limit, its value and the usage)",
                    );
                }
                if !more.is_empty() {
                    let d = format!("{}{more}", response["description"].as_str().unwrap_or(""));
                    response["description"] = json!(d);
                }
            }
            if status == "429" || status == "503" {
                response["headers"]["Retry-After"] = retry_after();
            }
            if limited && (status == "429" || status.starts_with('2')) {
                let headers = &mut response["headers"];
                if !headers.is_object() {
                    *headers = json!({});
                }
                merge(headers, &rate_limit_headers());
            }
            if !status.starts_with('2') {
                continue;
            }
            if let Some(body) = response.pointer_mut("/content/application~1json") {
                let example = match (
                    component(&body["schema"]),
                    component(&body["schema"]["items"]),
                ) {
                    (Some(name), _) => examples::response(name),
                    (None, Some(name)) => examples::response(name).map(|e| json!([e])),
                    _ => None,
                };
                if let Some(example) = example {
                    body["example"] = example;
                }
            }
        }
    }
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        // NUL is refused in every path segment.
        for param in params.iter_mut().filter(|p| p["in"] == "path") {
            if unconstrained_string(&param["schema"]) {
                merge(&mut param["schema"], &json!({"pattern": NO_NUL_PATTERN}));
            }
        }
        for param in params.iter_mut().filter(|p| p["in"] == "query") {
            let name = param["name"].as_str().unwrap_or("").to_string();
            if let Some((_, rule)) = query_rules(path).into_iter().find(|(n, _)| *n == name) {
                merge(&mut param["schema"], &rule);
            }
        }
    }
}

/// Completes the derived document (see the module comment).
pub fn complete(spec: utoipa::openapi::OpenApi) -> Value {
    let mut v = serde_json::to_value(spec).unwrap_or_default();
    // Relative: the document is generated offline (`orgd openapi`) and served by every node,
    // so a client resolves it against wherever it fetched the document from.
    v["servers"] = json!([{"url": "/", "description": "The orgd serving this document"}]);
    if let Some(paths) = v["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            if let Some(item) = item.as_object_mut() {
                for (method, op) in item.iter_mut() {
                    complete_operation(path, method, op);
                }
            }
        }
    }
    let schemas = &mut v["components"]["schemas"];
    for (name, schema) in shared_schemas() {
        schemas[name] = schema;
    }
    for (schema, property, rule) in body_rules() {
        let target = &mut schemas[schema]["properties"][property];
        assert!(
            target.is_object(),
            "spec rule for a missing property {schema}.{property}"
        );
        merge(target, &rule);
    }
    for (schema, property, shared) in SHARED_PROPERTIES {
        let target = &mut schemas[*schema]["properties"][*property];
        assert!(
            target.is_object(),
            "shared schema for a missing property {schema}.{property}"
        );
        let reference = json!({"$ref": format!("#/components/schemas/{shared}")});
        let mut replaced = json!({"oneOf": [{"type": "null"}, reference]});
        if let Some(description) = target.get("description") {
            replaced["description"] = description.clone();
        }
        *target = replaced;
    }
    for (schema, rule) in object_rules() {
        merge(&mut schemas[schema], &rule);
    }
    // No string in a request may hold a NUL: say so wherever no stricter rule does.
    if let Some(all) = schemas.as_object_mut() {
        for (name, schema) in all.iter_mut() {
            if !name.ends_with("Request") && name != "ManagedBy" {
                continue;
            }
            if let Some(props) = schema["properties"].as_object_mut() {
                for p in props.values_mut() {
                    if unconstrained_string(p) {
                        merge(p, &json!({"pattern": NO_NUL_PATTERN}));
                    }
                }
            }
        }
    }
    v
}
