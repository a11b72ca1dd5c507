//! Members of an organization: list, add, change role, remove, leave.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::invitations::{self, SentInvitation};
use super::{Json, Listing, Ok, Path, ok, paged, parse_id};
use crate::AppState;
use crate::auth::{Caller, OrgAccess, OrgContext};
use crate::authz::{Role, RoleKey};
use crate::domain::paging::Cursor;
use crate::domain::validate::{self, Checks};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::store::{Member, MemberFilter, MemberTarget, RoleChange};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemberListQuery {
    /// A built-in role or a custom role's key.
    pub role: Option<RoleKey>,
    /// Substring of username, email or name, case-insensitive.
    pub q: Option<String>,
}

impl super::ListFilters for MemberListQuery {
    const ORDER: super::Order = super::Order::Added;
}

/// Who joins, and with which role. Name the account by exactly one of `user_id`, `username`
/// and `email`; give `role` or the legacy `admin`, not both; give `name` only with `email`.
/// The server checks these rules (`400 invalid_request`, naming the field).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    /// An existing account's id.
    pub user_id: Option<Uuid>,
    /// An existing account's username.
    pub username: Option<String>,
    /// An unknown email provisions a password-less user, who claims the account through
    /// password reset (a link sent to that address).
    pub email: Option<String>,
    /// The provisioned user's name (with `email`).
    pub name: Option<String>,
    /// `owner`, `admin`, `member` (the default) or a custom role's key. The caller must hold
    /// every permission of the role (only owners grant `owner`).
    pub role: Option<RoleKey>,
    /// Legacy: `true` means `admin`, `false` means `member`.
    pub admin: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMemberRequest {
    /// `owner`, `admin`, `member` or a custom role's key.
    pub role: RoleKey,
}

#[derive(Serialize, ToSchema)]
pub struct ToggleAdminResponse {
    pub ok: bool,
    pub admin: bool,
}

/// Members of the organization (any member).
#[utoipa::path(get, path = "/organizations/{org}/members", tag = "members",
    params(("org" = String, Path, description = "Organization id or slug"), MemberListQuery, super::PageQuery),
    responses((status = 200, body = Vec<Member>, headers(("link" = String, description = "RFC 8288 next page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    uri: Uri,
    Listing { page, filters: q }: Listing<MemberListQuery>,
) -> ApiResult<Response> {
    let filter = MemberFilter {
        role: q.role.map(String::from),
        q: super::search("q", q.q)?,
    };
    let members = state.store.list_members(access.id, &filter, &page).await?;
    Ok(paged(&uri, &page, members, |m| {
        Cursor::At(m.joined_at.0, m.user_id)
    }))
}

/// One member (any member).
#[utoipa::path(get, path = "/organizations/{org}/members/{user}", tag = "members",
    params(("org" = String, Path, description = "Organization id or slug"), ("user" = String, Path, description = "User id")),
    responses((status = 200, body = Member), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, user)): Path<(String, String)>,
) -> ApiResult<Json<Member>> {
    let user = parse_id(&user, "Member")?;
    state
        .store
        .member(access.id, user)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Member"))
}

/// Add a member by exactly one of `user_id`, `username`, `email` (owners and admins; only owners
/// add owners). Service accounts cannot be added (they belong to the organization that created
/// them). When the installation sets `member_add_requires_consent`, nobody is added directly:
/// the account is invited instead (`202`).
#[utoipa::path(post, path = "/organizations/{org}/members", tag = "members",
    params(("org" = String, Path, description = "Organization id or slug")), request_body = AddMemberRequest,
    responses((status = 201, body = Member),
        (status = 202, description = "Member additions need consent on this installation: an invitation was sent instead", body = SentInvitation),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Not allowed, or a service account of another organization", body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "Already a member", body = ErrorBody),
        (status = 429, description = "Too many invitations sent by this account (consent mode)", body = ErrorBody)))]
pub async fn add(
    State(state): State<AppState>,
    OrgContext { caller, access }: OrgContext,
    Json(req): Json<AddMemberRequest>,
) -> ApiResult<Response> {
    let mut c = Checks::new();
    let named = [
        req.user_id.is_some(),
        req.username.is_some(),
        req.email.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if named != 1 {
        c.check::<()>(
            "user_id",
            Err("give exactly one of user_id, username, email".into()),
        );
    }
    if req.role.is_some() && req.admin.is_some() {
        c.check::<()>("admin", Err("give role or admin, not both".into()));
    }
    if req.name.is_some() && req.email.is_none() {
        c.check::<()>("name", Err("only with email".into()));
    }
    let name = req
        .name
        .as_ref()
        .and_then(|n| c.check("name", validate::person_name(n)));
    let target = if let Some(id) = req.user_id {
        Some(MemberTarget::UserId(id))
    } else if let Some(u) = &req.username {
        c.check("username", validate::username(u))
            .map(MemberTarget::Username)
    } else if let Some(e) = &req.email {
        c.check("email", validate::email(e))
            .map(|email| MemberTarget::Email { email, name })
    } else {
        None
    };
    c.finish()?;
    let role: String = req
        .role
        .unwrap_or(RoleKey::built_in(if req.admin == Some(true) {
            Role::Admin
        } else {
            Role::Member
        }))
        .into();
    let target = target.ok_or_else(ApiError::internal)?;
    if state.config.member_add_requires_consent {
        return invite_instead(&state, &caller, &access, target, role).await;
    }
    let member = state
        .store
        .add_member(access.id, access.actor, target, role)
        .await?;
    Ok((StatusCode::CREATED, Json(member)).into_response())
}

/// With `member_add_requires_consent`: nobody joins without saying yes. The account is sent an
/// invitation instead (`202`); by email, whether or not an account has it (the answer does not
/// tell); by id or username, with its address masked in every answer to the organization.
async fn invite_instead(
    state: &AppState,
    caller: &Caller,
    access: &OrgAccess,
    target: MemberTarget,
    role: String,
) -> ApiResult<Response> {
    let (email, invitee) = match target {
        MemberTarget::Email { email, .. } => (email, None),
        MemberTarget::UserId(id) => {
            let user = state
                .store
                .user(id)
                .await?
                .ok_or_else(|| ApiError::not_found("User"))?;
            (user.email.clone(), Some(user))
        }
        MemberTarget::Username(name) => {
            let user = state
                .store
                .user_for_login(&name)
                .await?
                .map(|(u, _)| u)
                .filter(|u| u.username.eq_ignore_ascii_case(&name))
                .ok_or_else(|| ApiError::not_found("User"))?;
            (user.email.clone(), Some(user))
        }
    };
    if invitee.as_ref().is_some_and(|u| u.is_service_account) {
        return Err(ApiError::forbidden(
            "A service account belongs to the organization that created it",
        ));
    }
    let (sent, _) = invitations::invite(
        state,
        caller,
        access.id,
        access.actor,
        email,
        role,
        invitee.map(|u| u.id),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(sent)).into_response())
}

/// Change a member's role (owners and admins; only owners grant or take away `owner`; the last
/// owner cannot be demoted).
#[utoipa::path(patch, path = "/organizations/{org}/members/{user}", tag = "members",
    params(("org" = String, Path, description = "Organization id or slug"), ("user" = String, Path, description = "User id")),
    request_body = UpdateMemberRequest,
    responses((status = 200, body = Member), (status = 400, description = "`last_owner` or invalid input", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The role does not exist in this organization", body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, user)): Path<(String, String)>,
    Json(req): Json<UpdateMemberRequest>,
) -> ApiResult<Json<Member>> {
    let user = parse_id(&user, "Member")?;
    Ok(Json(
        state
            .store
            .change_member_role(
                access.id,
                access.actor,
                user,
                RoleChange::Set(req.role.into()),
            )
            .await?,
    ))
}

/// Flip a member between `member` and `admin`; never changes an owner.
#[utoipa::path(post, path = "/organizations/{org}/members/{user}/toggle-admin", tag = "members",
    params(("org" = String, Path, description = "Organization id or slug"), ("user" = String, Path, description = "User id")),
    responses((status = 200, body = ToggleAdminResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn toggle_admin(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, user)): Path<(String, String)>,
) -> ApiResult<Json<ToggleAdminResponse>> {
    let user = parse_id(&user, "Member")?;
    let m = state
        .store
        .change_member_role(access.id, access.actor, user, RoleChange::ToggleAdmin)
        .await?;
    Ok(Json(ToggleAdminResponse {
        ok: true,
        admin: m.admin,
    }))
}

/// Remove a member with their project memberships and organization-scoped tokens (owners and
/// admins; admins cannot remove owners; never the last owner).
#[utoipa::path(delete, path = "/organizations/{org}/members/{user}", tag = "members",
    params(("org" = String, Path, description = "Organization id or slug"), ("user" = String, Path, description = "User id")),
    responses((status = 200, body = Ok), (status = 400, description = "`last_owner`", body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, user)): Path<(String, String)>,
) -> ApiResult<Json<Ok>> {
    let user = parse_id(&user, "Member")?;
    state
        .store
        .remove_member(access.id, access.actor, user)
        .await?;
    Ok(ok())
}

/// Leave the organization (never as its last owner).
#[utoipa::path(post, path = "/organizations/{org}/leave", tag = "members",
    params(("org" = String, Path, description = "Organization id or slug")),
    responses((status = 200, body = Ok), (status = 400, description = "`last_owner`", body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn leave(
    State(state): State<AppState>,
    OrgContext { caller, access }: OrgContext,
) -> ApiResult<Json<Ok>> {
    if access.role.is_none() {
        return Err(ApiError::not_found("Member"));
    }
    state
        .store
        .remove_member(
            access.id,
            crate::authz::Actor::User(caller.user.id),
            caller.user.id,
        )
        .await?;
    Ok(ok())
}
