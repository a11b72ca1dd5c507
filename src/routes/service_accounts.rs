//! Service accounts: token-only principals that are members of an organization.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::tokens::{CreatedToken, issue, token_fields};
use super::{Json, Ok, Path, ok, parse_id};
use crate::AppState;
use crate::auth::{OrgContext, SuperuserCaller};
use crate::authz::{Role, RoleKey};
use crate::domain::Timestamp;
use crate::domain::validate::{self, Checks};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::store::{Member, NewToken, TokenInfo, TokenKind, User};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceAccountRequest {
    /// 1 to 256 characters.
    pub name: String,
    /// Derived from the name when omitted.
    pub username: Option<String>,
    /// `owner`, `admin`, `member` (the default) or a custom role's key; the caller must hold
    /// every permission of the role (only owners create owners).
    pub role: Option<RoleKey>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceTokenRequest {
    /// 1 to 100 characters.
    pub name: String,
    pub expires_at: Option<Timestamp>,
    /// Superuser route only: organization id or slug to scope the token to.
    pub organization: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedServiceAccount {
    pub user: User,
    pub member: Member,
    /// A first `orgd_sa_` token scoped to the organization, shown only here.
    pub token: CreatedToken,
}

/// Service accounts of the organization (owners and admins).
#[utoipa::path(get, path = "/organizations/{org}/service-accounts", tag = "service accounts",
    params(("org" = String, Path, description = "Organization id or slug")),
    responses((status = 200, body = Vec<Member>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
) -> ApiResult<Json<Vec<Member>>> {
    Ok(Json(state.store.list_service_accounts(access.id).await?))
}

/// Create a service account as a member of the organization, with a first token.
#[utoipa::path(post, path = "/organizations/{org}/service-accounts", tag = "service accounts",
    params(("org" = String, Path, description = "Organization id or slug")), request_body = CreateServiceAccountRequest,
    responses((status = 201, body = CreatedServiceAccount), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Json(req): Json<CreateServiceAccountRequest>,
) -> ApiResult<(StatusCode, Json<CreatedServiceAccount>)> {
    let mut c = Checks::new();
    let name = c.check("name", validate::org_name(&req.name));
    let username = req
        .username
        .as_ref()
        .and_then(|u| c.check("username", validate::username(u)));
    c.finish()?;
    let name = name.unwrap_or_default();
    let (user, member) = state
        .store
        .create_service_account(
            access.id,
            access.actor,
            username,
            name.clone(),
            req.role.unwrap_or(RoleKey::built_in(Role::Member)).into(),
        )
        .await?;
    let token = issue(
        &state,
        user.id,
        TokenKind::Sa,
        format!("{name} (initial)"),
        Some(access.id),
        None,
        None,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedServiceAccount {
            user,
            member,
            token,
        }),
    ))
}

/// Remove a service account from the organization; one that belongs nowhere else is deleted.
#[utoipa::path(delete, path = "/organizations/{org}/service-accounts/{user}", tag = "service accounts",
    params(("org" = String, Path, description = "Organization id or slug"), ("user" = String, Path, description = "Service account id")),
    responses((status = 200, body = Ok), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, user)): Path<(String, String)>,
) -> ApiResult<Json<Ok>> {
    let user = parse_id(&user, "Service account")?;
    state
        .store
        .delete_service_account(access.id, access.actor, user)
        .await?;
    Ok(ok())
}

/// Issue another `orgd_sa_` token for a service account of the organization, scoped to it.
#[utoipa::path(post, path = "/organizations/{org}/service-accounts/{user}/tokens", tag = "service accounts",
    params(("org" = String, Path, description = "Organization id or slug"), ("user" = String, Path, description = "Service account id")),
    request_body = CreateServiceTokenRequest,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, user)): Path<(String, String)>,
    Json(req): Json<CreateServiceTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let user = parse_id(&user, "Service account")?;
    if req.organization.is_some() {
        return Err(ApiError::field(
            "organization",
            "tokens made here are scoped to this organization",
        ));
    }
    let name = token_fields(&req.name)?;
    let (token, hash) = crate::auth::mint(TokenKind::Sa);
    let new = NewToken {
        sso_provider_id: None,
        user_id: user,
        kind: TokenKind::Sa,
        name: Some(name),
        hash,
        organization_id: Some(access.id),
        expires_at: req.expires_at,
    };
    let id = state
        .store
        .issue_service_account_token(access.id, access.actor, new)
        .await?;
    let info = state
        .store
        .token_info(user, id)
        .await?
        // Written, then removed by a concurrent request before it could be read back.
        .ok_or_else(|| ApiError::not_found("Token"))?;
    let created = CreatedToken { info, token };
    Ok((StatusCode::CREATED, Json(created)))
}

/// The tokens of a service account of the organization (owners and admins with at least the
/// account's role), never with their secrets.
#[utoipa::path(get, path = "/organizations/{org}/service-accounts/{user}/tokens", tag = "service accounts",
    params(("org" = String, Path, description = "Organization id or slug"), ("user" = String, Path, description = "Service account id")),
    responses((status = 200, body = Vec<TokenInfo>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, user)): Path<(String, String)>,
) -> ApiResult<Json<Vec<TokenInfo>>> {
    let user = parse_id(&user, "Service account")?;
    let tokens = state
        .store
        .service_account_tokens(access.id, access.actor, user)
        .await?;
    Ok(Json(tokens))
}

/// Revoke a token of a service account of the organization (owners and admins with at least the
/// account's role); it fails on the very next request.
#[utoipa::path(delete, path = "/organizations/{org}/service-accounts/{user}/tokens/{id}", tag = "service accounts",
    params(("org" = String, Path, description = "Organization id or slug"), ("user" = String, Path, description = "Service account id"),
        ("id" = String, Path, description = "Token id")),
    responses((status = 200, body = Ok), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, user, id)): Path<(String, String, String)>,
) -> ApiResult<Json<Ok>> {
    let user = parse_id(&user, "Service account")?;
    let id = parse_id(&id, "Token")?;
    state
        .store
        .revoke_service_account_token(access.id, access.actor, user, id)
        .await?;
    Ok(ok())
}

/// Issue a token for any service account (superusers), optionally scoped to an organization.
#[utoipa::path(post, path = "/users/{user}/tokens", tag = "service accounts",
    params(("user" = String, Path, description = "Service account id")), request_body = CreateServiceTokenRequest,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_token_as_superuser(
    State(state): State<AppState>,
    SuperuserCaller(caller): SuperuserCaller,
    Path(user): Path<String>,
    Json(req): Json<CreateServiceTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let user = parse_id(&user, "User")?;
    let name = token_fields(&req.name)?;
    let target = state
        .store
        .user(user)
        .await?
        .ok_or_else(|| ApiError::not_found("User"))?;
    if !target.is_service_account {
        return Err(ApiError::invalid(
            "Tokens are issued here for service accounts only",
        ));
    }
    let scope = match &req.organization {
        Some(key) => Some(caller.org(&state, key).await?.id),
        None => None,
    };
    let created = issue(
        &state,
        user,
        TokenKind::Sa,
        name,
        scope,
        req.expires_at,
        None,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}
