//! Personal access tokens and service-account tokens.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Json, Ok, Path, ok, parse_id};
use crate::AppState;
use crate::auth::{Caller, mint};
use crate::domain::Timestamp;
use crate::domain::validate::{self, Checks};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::store::{NewToken, TokenInfo, TokenKind};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// 1 to 100 characters.
    pub name: String,
    /// Organization id or slug: the token then acts only inside it (and on its owner's profile).
    pub organization: Option<String>,
    /// When the token stops working; omit for one that does not expire. (A time in the past
    /// makes a token that is expired from the start.)
    pub expires_at: Option<Timestamp>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub info: TokenInfo,
    /// The secret, shown only in this response.
    pub token: String,
}

/// Validates a token's name.
pub fn token_fields(name: &str) -> ApiResult<String> {
    let mut c = Checks::new();
    let name = c.check("name", validate::name(name, 100));
    c.finish()?;
    Ok(name.unwrap_or_default())
}

/// Mints a token of `kind` for `user` and stores its hash. A token minted from an SSO session
/// carries its provider (`sso_provider_id`), as force SSO asks.
pub async fn issue(
    state: &AppState,
    user: Uuid,
    kind: TokenKind,
    name: String,
    organization_id: Option<Uuid>,
    expires_at: Option<Timestamp>,
    sso_provider_id: Option<Uuid>,
) -> ApiResult<CreatedToken> {
    let (token, hash) = mint(kind);
    let id = state
        .store
        .create_token(NewToken {
            sso_provider_id,
            user_id: user,
            kind,
            name: Some(name.clone()),
            hash,
            organization_id,
            expires_at,
        })
        .await?;
    let info = state
        .store
        .token_info(user, id)
        .await?
        // Written, then removed with its organization by a concurrent request.
        .ok_or_else(|| {
            ApiError::not_found(if organization_id.is_some() {
                "Organization"
            } else {
                "Token"
            })
        })?;
    Ok(CreatedToken { info, token })
}

/// The caller's personal access (or service-account) tokens; sessions are not listed.
#[utoipa::path(get, path = "/tokens", tag = "tokens",
    responses((status = 200, body = Vec<TokenInfo>), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<TokenInfo>>> {
    let mut tokens = state.store.list_tokens(caller.user.id).await?;
    if let Some(scope) = caller.scope {
        tokens.retain(|t| t.organization_id == Some(scope));
    }
    Ok(Json(tokens))
}

/// A signed-in session of the caller, as listed.
#[derive(Serialize, ToSchema)]
pub struct SessionInfo {
    #[serde(flatten)]
    pub session: TokenInfo,
    /// The session this request was made with.
    pub current: bool,
}

/// The caller's live sessions (sign-ins), newest first; `DELETE /tokens/{id}` ends one. A token
/// scoped to an organization lists none.
#[utoipa::path(get, path = "/users/me/sessions", tag = "tokens",
    responses((status = 200, body = Vec<SessionInfo>), (status = 401, body = ErrorBody)))]
pub async fn sessions(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<SessionInfo>>> {
    if caller.scope.is_some() {
        return Ok(Json(Vec::new()));
    }
    let sessions = state.store.list_sessions(caller.user.id).await?;
    Ok(Json(
        sessions
            .into_iter()
            .map(|s| SessionInfo {
                current: s.id == caller.token_id,
                session: s,
            })
            .collect(),
    ))
}

/// Create a token; its secret is in this response only. A scoped token can only create tokens
/// with the same scope, and no token grants more than its owner has. A service account creates
/// tokens only in an organization with `service_accounts_can_mint_tokens`. A scoped token is
/// created in one transaction with the membership check, so it never outlives a removal.
#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = CreateTokenRequest,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, description = "No such organization for the caller", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let name = token_fields(&req.name)?;
    let organization_id = match &req.organization {
        Some(key) => Some(caller.org(&state, key).await?.id),
        None => None,
    };
    // A service account's token mints further tokens only where its organization allows it:
    // otherwise one leaked token could renew itself for ever.
    if caller.user.is_service_account {
        let allowed = match organization_id {
            Some(org) => state
                .store
                .organization(org, caller.user.id)
                .await?
                .is_some_and(|o| o.service_accounts_can_mint_tokens),
            None => false,
        };
        if !allowed {
            return Err(ApiError::forbidden(
                "Service accounts can create tokens only in an organization that allows it \
                 (service_accounts_can_mint_tokens)",
            ));
        }
    }
    if let Some(scope) = caller.scope {
        if organization_id.is_some_and(|o| o != scope) {
            return Err(ApiError::not_found("Organization"));
        }
        if organization_id.is_none() {
            return Err(ApiError::forbidden(
                "A scoped token can only create tokens with the same scope",
            ));
        }
    }
    // A token never outlives the token that created it.
    if let Some(limit) = caller
        .expires_at
        .filter(|_| caller.scope.is_some() || caller.user.is_service_account)
        && req.expires_at.is_none_or(|e| e > limit)
    {
        return Err(ApiError::field(
            "expires_at",
            "must not be later than the expiry of the token used to create it",
        ));
    }
    let kind = if caller.user.is_service_account {
        TokenKind::Sa
    } else {
        TokenKind::Pat
    };
    let created = issue(
        &state,
        caller.user.id,
        kind,
        name,
        organization_id,
        req.expires_at,
        caller.sso_provider_id,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revoke one of the caller's tokens; it fails on the very next request.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens", params(("id" = String, Path, description = "Token id")),
    responses((status = 200, body = Ok), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Ok>> {
    let id = parse_id(&id, "Token")?;
    let token = state
        .store
        .token_info(caller.user.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Token"))?;
    if caller.scope.is_some() && token.organization_id != caller.scope {
        return Err(ApiError::not_found("Token"));
    }
    state.store.revoke_token(caller.user.id, id).await?;
    Ok(ok())
}
