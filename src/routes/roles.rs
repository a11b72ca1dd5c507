//! Roles and permissions: the permission catalogue with the permissions applications register,
//! an organization's custom roles, and the permission check that client applications call on
//! every request of theirs.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Json, Ok, Path, Query, nullable, ok};
use crate::AppState;
use crate::auth::{Caller, OrgContext, SuperuserCaller};
use crate::authz::{Grant, Permission, Role, is_app_permission};
use crate::domain::validate::{self, Checks};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::store::{NewRole, OrgKey, PermissionInfo, RoleInfo, RolePatch};

/// The most checks one request may carry.
pub const MAX_CHECKS: usize = 100;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoleRequest {
    /// A lowercase letter, then up to 47 lowercase letters, digits, `_` or `-`; not a built-in
    /// role's key.
    #[schema(example = "billing")]
    pub key: String,
    /// 1 to 256 characters.
    #[schema(example = "Billing")]
    pub name: String,
    pub description: Option<String>,
    /// Permissions of the catalogue or registered application permissions, each held by the
    /// caller. `organization:read` is always included.
    #[schema(example = json!(["members:read", "app:invoices:read"]))]
    pub permissions: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRoleRequest {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Replaces the role's permissions; the caller holds every permission the role had and
    /// gets.
    pub permissions: Option<Vec<String>>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteRoleQuery {
    /// The role that the deleted role's members and pending invitations get instead; required
    /// when there are any. Not `owner`.
    pub replacement: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DeleteRoleResponse {
    pub ok: bool,
    /// Members moved to the replacement role.
    pub members_moved: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterPermissionRequest {
    /// `app:` then up to 8 segments of lowercase letters, digits, `_` or `-`, separated by `:`.
    #[schema(example = "app:invoices:read")]
    pub key: String,
    pub description: Option<String>,
}

/// One check: may the subject (the caller when `user_id` is absent) do `permission`?
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionCheck {
    #[schema(example = "members:write")]
    pub permission: String,
    /// Another member of the organization (needs `members:read`); default the caller.
    pub user_id: Option<Uuid>,
}

/// One check (`permission`), a batch (`checks`), or both, answered in `allowed` and `results`.
/// At least one of `permission` and `checks` (the server checks this: `400 invalid_request`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckPermissionsRequest {
    #[schema(example = "members:write")]
    pub permission: Option<String>,
    /// Whom the checks are about when they do not say (another member needs `members:read`);
    /// default the caller.
    pub user_id: Option<Uuid>,
    /// A batch of 1 to 100 checks, answered in order in `results`.
    pub checks: Option<Vec<PermissionCheck>>,
}

#[derive(Serialize, ToSchema)]
pub struct CheckResult {
    pub permission: String,
    pub user_id: Uuid,
    pub allowed: bool,
}

/// `allowed` for a single check, `results` for a batch.
#[derive(Serialize, ToSchema)]
pub struct CheckPermissionsResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<Vec<CheckResult>>,
}

#[derive(Serialize, ToSchema)]
pub struct MemberPermissions {
    pub user_id: Uuid,
    /// The member's role key.
    pub role: String,
    /// Every permission the member holds here, application permissions included.
    pub permissions: Vec<String>,
}

/// The catalogue, then the application permissions registered for the installation and, with
/// `org`, for that organization.
async fn usable_permissions(state: &AppState, org: Option<Uuid>) -> ApiResult<Vec<PermissionInfo>> {
    let mut all = catalogue();
    all.extend(state.store.app_permissions(org).await?.iter().cloned());
    Ok(all)
}

/// The catalogue's entries.
fn catalogue() -> Vec<PermissionInfo> {
    Permission::all()
        .map(|p| PermissionInfo {
            key: p.as_str().into(),
            description: Some(p.description().into()),
            source: "catalogue".into(),
            built_in_roles: [Role::Owner, Role::Admin, Role::Member]
                .into_iter()
                .filter(|r| r.grants(p))
                .map(|r| r.as_str().into())
                .collect(),
            created_at: None,
        })
        .collect()
}

fn description(c: &mut Checks, d: &Option<String>) -> Option<String> {
    d.as_ref()
        .and_then(|d| c.check("description", validate::text(d, 1024)))
}

/// The permission catalogue and the application permissions registered for the installation
/// (any signed-in caller).
#[utoipa::path(get, path = "/permissions", tag = "roles",
    responses((status = 200, body = Vec<PermissionInfo>), (status = 401, body = ErrorBody)))]
pub async fn catalogue_list(
    State(state): State<AppState>,
    _: Caller,
) -> ApiResult<Json<Vec<PermissionInfo>>> {
    Ok(Json(usable_permissions(&state, None).await?))
}

/// Register an application permission for every organization (superusers).
#[utoipa::path(post, path = "/permissions", tag = "roles", request_body = RegisterPermissionRequest,
    responses((status = 201, body = PermissionInfo), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, description = "Registered already", body = ErrorBody)))]
pub async fn register_installation_permission(
    State(state): State<AppState>,
    SuperuserCaller(caller): SuperuserCaller,
    Json(req): Json<RegisterPermissionRequest>,
) -> ApiResult<(StatusCode, Json<PermissionInfo>)> {
    let mut c = Checks::new();
    let description = description(&mut c, &req.description);
    c.finish()?;
    let info = state
        .store
        .register_permission(None, caller.actor(), req.key, description)
        .await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// Remove an application permission of the installation (superusers); refused while a role
/// grants it.
#[utoipa::path(delete, path = "/permissions/{key}", tag = "roles",
    params(("key" = String, Path, description = "The permission, `app:…`")),
    responses((status = 200, body = Ok), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "A role grants it", body = ErrorBody)))]
pub async fn remove_installation_permission(
    State(state): State<AppState>,
    SuperuserCaller(caller): SuperuserCaller,
    Path(key): Path<String>,
) -> ApiResult<Json<Ok>> {
    state
        .store
        .remove_permission(None, caller.actor(), &key)
        .await?;
    Ok(ok())
}

/// The permissions usable in this organization: the catalogue, the installation's and the
/// organization's application permissions (any member).
#[utoipa::path(get, path = "/organizations/{org}/permissions", tag = "roles",
    params(("org" = String, Path, description = "Organization id or slug")),
    responses((status = 200, body = Vec<PermissionInfo>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn organization_permissions(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
) -> ApiResult<Json<Vec<PermissionInfo>>> {
    Ok(Json(usable_permissions(&state, Some(access.id)).await?))
}

/// Register an application permission for this organization (`permissions:write`).
#[utoipa::path(post, path = "/organizations/{org}/permissions", tag = "roles",
    params(("org" = String, Path, description = "Organization id or slug")), request_body = RegisterPermissionRequest,
    responses((status = 201, body = PermissionInfo), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "Registered already", body = ErrorBody)))]
pub async fn register_permission(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Json(req): Json<RegisterPermissionRequest>,
) -> ApiResult<(StatusCode, Json<PermissionInfo>)> {
    let mut c = Checks::new();
    let description = description(&mut c, &req.description);
    c.finish()?;
    let info = state
        .store
        .register_permission(Some(access.id), access.actor, req.key, description)
        .await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// Remove one of this organization's application permissions (`permissions:write`); refused
/// while a role grants it.
#[utoipa::path(delete, path = "/organizations/{org}/permissions/{key}", tag = "roles",
    params(("org" = String, Path, description = "Organization id or slug"), ("key" = String, Path, description = "The permission, `app:…`")),
    responses((status = 200, body = Ok), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "A role grants it", body = ErrorBody)))]
pub async fn remove_permission(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, key)): Path<(String, String)>,
) -> ApiResult<Json<Ok>> {
    state
        .store
        .remove_permission(Some(access.id), access.actor, &key)
        .await?;
    Ok(ok())
}

/// The organization's roles: the built-in ones, then its custom roles (`roles:read`).
#[utoipa::path(get, path = "/organizations/{org}/roles", tag = "roles",
    params(("org" = String, Path, description = "Organization id or slug")),
    responses((status = 200, body = Vec<RoleInfo>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
) -> ApiResult<Json<Vec<RoleInfo>>> {
    Ok(Json(state.store.list_roles(access.id).await?))
}

/// Define a custom role (`roles:write`; the caller holds every permission it grants).
#[utoipa::path(post, path = "/organizations/{org}/roles", tag = "roles",
    params(("org" = String, Path, description = "Organization id or slug")), request_body = CreateRoleRequest,
    responses((status = 201, body = RoleInfo), (status = 400, description = "Invalid key or unknown permissions (the message lists the valid ones)", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "A permission the caller does not hold", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The key is taken", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Json(req): Json<CreateRoleRequest>,
) -> ApiResult<(StatusCode, Json<RoleInfo>)> {
    let mut c = Checks::new();
    let name = c.check("name", validate::org_name(&req.name));
    let description = description(&mut c, &req.description);
    if req.permissions.len() > 200 {
        c.check::<()>("permissions", Err("at most 200".into()));
    }
    c.finish()?;
    let role = state
        .store
        .create_role(
            access.id,
            access.actor,
            NewRole {
                key: req.key,
                name: name.unwrap_or_default(),
                description,
                permissions: req.permissions,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(role)))
}

/// A role of the organization (`roles:read`).
#[utoipa::path(get, path = "/organizations/{org}/roles/{key}", tag = "roles",
    params(("org" = String, Path, description = "Organization id or slug"), ("key" = String, Path, description = "Role key")),
    responses((status = 200, body = RoleInfo), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, key)): Path<(String, String)>,
) -> ApiResult<Json<RoleInfo>> {
    state
        .store
        .role(access.id, &key)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Role"))
}

/// Change a custom role (`roles:write`; the caller holds every permission the role had and
/// gets). Built-in roles cannot be changed. Members holding the role hold the new permissions
/// from the moment this answers.
#[utoipa::path(patch, path = "/organizations/{org}/roles/{key}", tag = "roles",
    params(("org" = String, Path, description = "Organization id or slug"), ("key" = String, Path, description = "Role key")),
    request_body = UpdateRoleRequest,
    responses((status = 200, body = RoleInfo), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "A built-in role, or a permission the caller does not hold", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "An application permission that is not registered", body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, key)): Path<(String, String)>,
    Json(req): Json<UpdateRoleRequest>,
) -> ApiResult<Json<RoleInfo>> {
    let mut c = Checks::new();
    let patch = RolePatch {
        name: req
            .name
            .as_ref()
            .and_then(|n| c.check("name", validate::org_name(n))),
        description: c.nullable("description", &req.description, |d| validate::text(d, 1024)),
        permissions: req.permissions,
    };
    if patch.permissions.as_ref().is_some_and(|p| p.len() > 200) {
        c.check::<()>("permissions", Err("at most 200".into()));
    }
    c.finish()?;
    Ok(Json(
        state
            .store
            .update_role(access.id, access.actor, &key, patch)
            .await?,
    ))
}

/// Delete a custom role (`roles:write`). A role that members or pending invitations hold is
/// deleted only with `?replacement=KEY`, which they get in the same transaction; without it,
/// `409`.
#[utoipa::path(delete, path = "/organizations/{org}/roles/{key}", tag = "roles",
    params(("org" = String, Path, description = "Organization id or slug"), ("key" = String, Path, description = "Role key"), DeleteRoleQuery),
    responses((status = 200, body = DeleteRoleResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "A built-in role, or one holding permissions the caller does not", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The role is in use and no replacement was named", body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, key)): Path<(String, String)>,
    Query(q): Query<DeleteRoleQuery>,
) -> ApiResult<Json<DeleteRoleResponse>> {
    let moved = state
        .store
        .delete_role(access.id, access.actor, &key, q.replacement.as_deref())
        .await?;
    Ok(Json(DeleteRoleResponse {
        ok: true,
        members_moved: moved,
    }))
}

/// What `subject` holds in the organization: the caller's own standing, or another user's
/// membership (a non-member, or a deactivated user, holds nothing).
async fn subject_grant(
    state: &AppState,
    ctx: &OrgContext,
    subject: Uuid,
) -> ApiResult<Option<Grant>> {
    if subject == ctx.caller.user.id {
        return Ok(Some(ctx.access.grant.clone()));
    }
    if !ctx.access.allows(Permission::MembersRead) {
        return Err(ApiError::forbidden(
            "Checking another member's permissions requires the members:read permission",
        ));
    }
    Ok(state
        .store
        .organization_access(&OrgKey::Id(ctx.access.id), subject)
        .await?
        .and_then(|row| row.grant))
}

/// Whether `grant` holds the permission named `name`; unknown names are refused.
async fn decide(
    state: &AppState,
    org: Uuid,
    grant: Option<&Grant>,
    name: &str,
    field: &str,
) -> ApiResult<bool> {
    if let Some(p) = Permission::parse(name) {
        return Ok(grant.is_some_and(|g| g.perms.has(p)));
    }
    if !is_app_permission(name) {
        return Err(unknown(field, name));
    }
    // A role names only registered permissions: holding it by name settles it. Otherwise the
    // registry says whether it exists (and an owner holds every registered one).
    if grant.is_some_and(|g| g.perms.app_names().any(|a| a == name)) {
        return Ok(true);
    }
    let registered = state.store.app_permissions(Some(org)).await?;
    if !registered.iter().any(|p| p.key == name) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "{field}: the application permission '{name}' is not registered here: GET \
                 /organizations/{{org}}/permissions lists them"
            ),
        ));
    }
    Ok(grant.is_some_and(|g| g.perms.holds_every_app_permission()))
}

fn unknown(field: &str, name: &str) -> ApiError {
    let mut c = Checks::new();
    c.check::<()>(
        field,
        Err(format!(
            "unknown permission '{}': GET /organizations/{{org}}/permissions lists them",
            name.chars().take(140).collect::<String>()
        )),
    );
    c.finish().expect_err("one failed check")
}

/// Check permissions: may the caller (or, with `members:read`, another member) do
/// `permission` here? One check in `permission`, up to 100 in `checks`, or both. A user who is
/// not a member is `allowed: false`. Answers reflect every change committed on this node before
/// the request. A malformed permission is `400`; a well-formed application permission that is
/// not registered is `409`.
#[utoipa::path(post, path = "/organizations/{org}/permissions/check", tag = "roles",
    params(("org" = String, Path, description = "Organization id or slug")), request_body = CheckPermissionsRequest,
    responses((status = 200, body = CheckPermissionsResponse), (status = 400, description = "Malformed request or permission name", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "Checking another member without `members:read`", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "An application permission that is not registered", body = ErrorBody)))]
pub async fn check(
    State(state): State<AppState>,
    ctx: OrgContext,
    Json(req): Json<CheckPermissionsRequest>,
) -> ApiResult<Json<CheckPermissionsResponse>> {
    if req.permission.is_none() && req.checks.is_none() {
        return Err(field_error(
            "permission",
            "give permission, checks, or both",
        ));
    }
    if req
        .checks
        .as_ref()
        .is_some_and(|c| c.is_empty() || c.len() > MAX_CHECKS)
    {
        return Err(field_error("checks", "give 1 to 100 checks"));
    }
    let subject = req.user_id.unwrap_or(ctx.caller.user.id);
    let mut grants: Vec<(Uuid, Option<Grant>)> = Vec::new();
    let mut grant_of = async |user: Uuid| -> ApiResult<Option<Grant>> {
        if let Some((_, g)) = grants.iter().find(|(u, _)| *u == user) {
            return Ok(g.clone());
        }
        let g = subject_grant(&state, &ctx, user).await?;
        grants.push((user, g.clone()));
        Ok(g)
    };
    let allowed = match &req.permission {
        Some(permission) => {
            let grant = grant_of(subject).await?;
            Some(
                decide(
                    &state,
                    ctx.access.id,
                    grant.as_ref(),
                    permission,
                    "permission",
                )
                .await?,
            )
        }
        None => None,
    };
    let results = match req.checks {
        Some(checks) => {
            let mut results = Vec::with_capacity(checks.len());
            for (i, check) in checks.into_iter().enumerate() {
                let user = check.user_id.unwrap_or(subject);
                let grant = grant_of(user).await?;
                let allowed = decide(
                    &state,
                    ctx.access.id,
                    grant.as_ref(),
                    &check.permission,
                    &format!("checks[{i}].permission"),
                )
                .await?;
                results.push(CheckResult {
                    permission: check.permission,
                    user_id: user,
                    allowed,
                });
            }
            Some(results)
        }
        None => None,
    };
    Ok(Json(CheckPermissionsResponse { allowed, results }))
}

fn field_error(field: &str, message: &str) -> ApiError {
    let mut c = Checks::new();
    c.check::<()>(field, Err(message.into()));
    c.finish().expect_err("one failed check")
}

/// A member's effective permissions here, application permissions included (`members:read`,
/// or oneself).
#[utoipa::path(get, path = "/organizations/{org}/members/{user}/permissions", tag = "roles",
    params(("org" = String, Path, description = "Organization id or slug"), ("user" = String, Path, description = "User id")),
    responses((status = 200, body = MemberPermissions), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn member_permissions(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, user)): Path<(String, String)>,
) -> ApiResult<Json<MemberPermissions>> {
    let user = super::parse_id(&user, "Member")?;
    let row = state
        .store
        .organization_access(&OrgKey::Id(access.id), user)
        .await?;
    let (Some(role), Some(grant)) = row.map(|r| (r.role, r.grant)).unwrap_or_default() else {
        return Err(ApiError::not_found("Member"));
    };
    let mut permissions = grant.perms.names();
    if grant.perms.holds_every_app_permission() {
        permissions.extend(
            state
                .store
                .app_permissions(Some(access.id))
                .await?
                .iter()
                .map(|p| p.key.clone()),
        );
    }
    Ok(Json(MemberPermissions {
        user_id: user,
        role,
        permissions,
    }))
}
