//! The published OpenAPI document: what utoipa derives from the handlers, completed with what
//! every operation shares and with the validation rules of `domain::validate` written as JSON
//! Schema, so that a request valid by the document is a request orgd accepts.

use serde_json::{Value, json};

use crate::domain::country;

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
    // Null stands for "none" wherever the field is optional.
    let mut codes: Vec<Value> = country::codes().iter().map(|c| json!(c)).collect();
    codes.push(Value::Null);
    let country = json!({"enum": codes});
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
        ("CreateOrganizationRequest", "country_code", country.clone()),
        ("UpdateOrganizationRequest", "name", org_name.clone()),
        ("UpdateOrganizationRequest", "slug", slug.clone()),
        (
            "UpdateOrganizationRequest",
            "description",
            description.clone(),
        ),
        ("UpdateOrganizationRequest", "logo_url", url.clone()),
        ("UpdateOrganizationRequest", "country_code", country.clone()),
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
            json!({"maxItems": 200, "items": permission_name()}),
        ),
        ("UpdateRoleRequest", "name", org_name),
        ("UpdateRoleRequest", "description", short.clone()),
        (
            "UpdateRoleRequest",
            "permissions",
            json!({"maxItems": 200, "items": permission_name()}),
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
        (
            "VerifyEmailRequest",
            "token",
            json!({"minLength": 1, "maxLength": 256}),
        ),
    ]
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

/// Rules across properties, by schema.
fn object_rules() -> Vec<(&'static str, Value)> {
    vec![
        (
            "AddMemberRequest",
            json!({
                "oneOf": [
                    {"required": ["user_id"], "properties": {"user_id": {"type": "string"}}},
                    {"required": ["username"], "properties": {"username": {"type": "string"}}},
                    {"required": ["email"], "properties": {"email": {"type": "string"}}}
                ],
                "not": {"anyOf": [
                    {"required": ["role", "admin"], "properties": {"role": {"type": "string"}, "admin": {"type": "boolean"}}},
                    {"required": ["name", "user_id"], "properties": {"name": {"type": "string"}, "user_id": {"type": "string"}}},
                    {"required": ["name", "username"], "properties": {"name": {"type": "string"}, "username": {"type": "string"}}}
                ]}
            }),
        ),
        // One check, a batch, or both: never neither.
        (
            "CheckPermissionsRequest",
            json!({"anyOf": [{"required": ["permission"]}, {"required": ["checks"]}]}),
        ),
        // A new account needs a password; a signed-in caller sends the token alone.
        (
            "AcceptInvitationRequest",
            json!({"dependentRequired": {"name": ["password"], "username": ["password"]}}),
        ),
    ]
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

/// Completes the derived document (see the module comment).
pub fn complete(spec: utoipa::openapi::OpenApi) -> Value {
    let mut v = serde_json::to_value(spec).unwrap_or_default();
    if let Some(paths) = v["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, op) in item.iter_mut() {
                let name: Vec<String> = path
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(|s| s.trim_matches(|c| c == '{' || c == '}').replace('-', "_"))
                    .collect();
                op["operationId"] = json!(format!("{method}_{}", name.join("_")));
                let has_body = op.get("requestBody").is_some();
                let has_query = op
                    .get("parameters")
                    .and_then(Value::as_array)
                    .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
                let responses = &mut op["responses"];
                if has_body {
                    responses["413"] = error_response(
                        "`payload_too_large`: the body exceeds the configured limit",
                    );
                    responses["415"] = error_response(
                        "`unsupported_media_type`: the body is not `application/json`",
                    );
                    if responses.get("400").is_none() {
                        responses["400"] =
                            error_response("`invalid_request`: the body is malformed or invalid");
                    }
                }
                if has_query && responses.get("400").is_none() {
                    responses["400"] = error_response(
                        "`invalid_request`: a query parameter is malformed or repeated",
                    );
                }
                if path != "/healthz" {
                    responses["503"] = error_response(
                        "`unavailable`: the database cannot be reached; retry after `Retry-After`",
                    );
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
                        if let Some((_, rule)) =
                            query_rules(path).into_iter().find(|(n, _)| *n == name)
                        {
                            merge(&mut param["schema"], &rule);
                        }
                    }
                }
            }
        }
    }
    let schemas = &mut v["components"]["schemas"];
    for (schema, property, rule) in body_rules() {
        let target = &mut schemas[schema]["properties"][property];
        assert!(
            target.is_object(),
            "spec rule for a missing property {schema}.{property}"
        );
        merge(target, &rule);
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
