//! The caller's own profile, and the superuser's user management.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::{Json, Listing, Ok, Path, nullable, ok, paged, parse_id};
use crate::AppState;
use crate::auth::{Caller, SuperuserCaller};
use crate::domain::paging::Cursor;
use crate::domain::validate::{self, Checks};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::store::{NewUser, TokenKind, User, UserPatch};

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    pub username: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub company: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub job_title: Option<Option<String>>,
    /// Free-form JSON object; no string in it (key or value) may contain a NUL character.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// 8 to 256 characters.
    pub new_password: String,
    /// Also revoke every personal access token (they survive a password change otherwise;
    /// the other sessions always end).
    #[serde(default)]
    pub revoke_tokens: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub email: String,
    pub username: Option<String>,
    pub name: Option<String>,
    /// Omit for a password-less account (service accounts never have one).
    pub password: Option<String>,
    #[serde(default)]
    pub is_superuser: bool,
    #[serde(default)]
    pub is_service_account: bool,
    /// Mark the address verified (the superuser vouches for it); default false.
    #[serde(default)]
    pub email_verified: bool,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub username: Option<String>,
    pub email: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub company: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub job_title: Option<Option<String>>,
    /// Free-form JSON object; no string in it (key or value) may contain a NUL character.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    pub is_active: Option<bool>,
    pub is_superuser: Option<bool>,
    /// Mark the address verified or unverified. Changing `email` without it makes the new
    /// address unverified.
    pub email_verified: Option<bool>,
    /// Set a new password (8 to 256 characters) for a forgotten one: every session and personal
    /// access token of the account ends. Not for service accounts.
    pub password: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Substring of username, email or name, case-insensitive.
    pub q: Option<String>,
}

impl super::ListFilters for UserListQuery {
    const ORDER: super::Order = super::Order::Id;
}

/// Validates the profile fields shared by `PATCH /users/me` and `PATCH /users/{user}`.
fn profile_patch(
    c: &mut Checks,
    username: &Option<String>,
    name: &Option<Option<String>>,
    avatar_url: &Option<Option<String>>,
    company: &Option<Option<String>>,
    job_title: &Option<Option<String>>,
    metadata: &Option<Value>,
) -> UserPatch {
    UserPatch {
        username: username
            .as_ref()
            .and_then(|u| c.check("username", validate::username(u))),
        name: c.nullable("name", name, validate::person_name),
        avatar_url: c.nullable("avatar_url", avatar_url, validate::http_url),
        company: c.nullable("company", company, |v| validate::text(v, 256)),
        job_title: c.nullable("job_title", job_title, |v| validate::text(v, 256)),
        metadata: metadata
            .as_ref()
            .and_then(|m| c.check("metadata", validate::metadata(m))),
        ..Default::default()
    }
}

/// The signed-in user.
#[utoipa::path(get, path = "/users/me", tag = "users",
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
pub async fn me(caller: Caller) -> Json<User> {
    Json(std::sync::Arc::unwrap_or_clone(caller.user))
}

/// Update the signed-in user's profile.
#[utoipa::path(patch, path = "/users/me", tag = "users", request_body = UpdateMeRequest,
    responses((status = 200, body = User), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, description = "Username taken", body = ErrorBody)))]
pub async fn update_me(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<UpdateMeRequest>,
) -> ApiResult<Json<User>> {
    let mut c = Checks::new();
    let patch = profile_patch(
        &mut c,
        &req.username,
        &req.name,
        &req.avatar_url,
        &req.company,
        &req.job_title,
        &req.metadata,
    );
    c.finish()?;
    Ok(Json(state.store.update_user(caller.user.id, patch).await?))
}

/// Change the signed-in user's password; their other sessions are revoked. Personal access tokens
/// survive unless `revoke_tokens` is true (then every one goes, including the one presented).
#[utoipa::path(post, path = "/users/me/password", tag = "users", request_body = ChangePasswordRequest,
    responses((status = 200, body = Ok), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Current password is wrong", body = ErrorBody)))]
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<ChangePasswordRequest>,
) -> ApiResult<Json<Ok>> {
    if caller.user.is_service_account {
        return Err(ApiError::forbidden("Service accounts have no password"));
    }
    let mut c = Checks::new();
    let new_password = c.check("new_password", validate::password(&req.new_password));
    c.finish()?;
    let current = state.store.password_hash(caller.user.id).await?;
    if !state
        .passwords
        .verify(req.current_password, current)
        .await?
    {
        return Err(ApiError::forbidden("The current password is wrong"));
    }
    let hash = state
        .passwords
        .hash(new_password.unwrap_or_default())
        .await?;
    let keep = (caller.kind == TokenKind::Session).then_some(caller.token_id);
    state
        .store
        .set_password(caller.user.id, hash, keep, req.revoke_tokens)
        .await?;
    Ok(ok())
}

/// List users (superusers).
#[utoipa::path(get, path = "/users", tag = "users", params(UserListQuery, super::PageQuery),
    responses((status = 200, body = Vec<User>, headers(("link" = String, description = "RFC 8288 next page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_users(
    State(state): State<AppState>,
    _: SuperuserCaller,
    uri: Uri,
    Listing { page, filters: q }: Listing<UserListQuery>,
) -> ApiResult<Response> {
    let search = super::search("q", q.q)?;
    let users = state.store.list_users(search.as_deref(), &page).await?;
    Ok(paged(&uri, &page, users, |u| Cursor::Id(u.id)))
}

/// Provision a user or a service account (superusers).
#[utoipa::path(post, path = "/users", tag = "users", request_body = CreateUserRequest,
    responses((status = 201, body = User), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_user(
    State(state): State<AppState>,
    _: SuperuserCaller,
    Json(req): Json<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let mut c = Checks::new();
    let email = c.check("email", validate::email(&req.email));
    let username = req
        .username
        .as_ref()
        .and_then(|u| c.check("username", validate::username(u)));
    let name = req
        .name
        .as_ref()
        .and_then(|n| c.check("name", validate::person_name(n)));
    let password = req
        .password
        .as_ref()
        .and_then(|p| c.check("password", validate::password(p)));
    if req.is_service_account && req.password.is_some() {
        c.check::<()>(
            "password",
            Err("service accounts authenticate with tokens only".into()),
        );
    }
    if req.is_service_account && req.is_superuser {
        c.check::<()>(
            "is_superuser",
            Err("a service account cannot be a superuser".into()),
        );
    }
    c.finish()?;
    let password_hash = match password {
        Some(p) => Some(state.passwords.hash(p).await?),
        None => None,
    };
    let user = state
        .store
        .create_user(NewUser {
            email: email.unwrap_or_default(),
            username,
            name,
            password_hash,
            is_superuser: req.is_superuser,
            is_service_account: req.is_service_account,
            email_verified: req.email_verified && !req.is_service_account,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// A user (superusers).
#[utoipa::path(get, path = "/users/{user}", tag = "users", params(("user" = String, Path, description = "User id")),
    responses((status = 200, body = User), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_user(
    State(state): State<AppState>,
    _: SuperuserCaller,
    Path(user): Path<String>,
) -> ApiResult<Json<User>> {
    let id = parse_id(&user, "User")?;
    state
        .store
        .user(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("User"))
}

/// Update a user (superusers), including `is_active` and `is_superuser`.
#[utoipa::path(patch, path = "/users/{user}", tag = "users", params(("user" = String, Path, description = "User id")),
    request_body = UpdateUserRequest,
    responses((status = 200, body = User), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_user(
    State(state): State<AppState>,
    SuperuserCaller(caller): SuperuserCaller,
    Path(user): Path<String>,
    Json(req): Json<UpdateUserRequest>,
) -> ApiResult<Json<User>> {
    let id = parse_id(&user, "User")?;
    let mut c = Checks::new();
    let mut patch = profile_patch(
        &mut c,
        &req.username,
        &req.name,
        &req.avatar_url,
        &req.company,
        &req.job_title,
        &req.metadata,
    );
    patch.email = req
        .email
        .as_ref()
        .and_then(|e| c.check("email", validate::email(e)));
    let password = req
        .password
        .as_ref()
        .and_then(|p| c.check("password", validate::password(p)));
    if id == caller.user.id && (req.is_superuser == Some(false) || req.is_active == Some(false)) {
        c.check::<()>(
            "is_superuser",
            Err("superusers cannot demote or deactivate themselves".into()),
        );
    }
    c.finish()?;
    patch.is_active = req.is_active;
    patch.is_superuser = req.is_superuser;
    patch.email_verified = req.email_verified;
    if password.is_some() || patch.is_superuser == Some(true) {
        let target = state
            .store
            .user(id)
            .await?
            .ok_or_else(|| ApiError::not_found("User"))?;
        if target.is_service_account && patch.is_superuser == Some(true) {
            return Err(ApiError::field(
                "is_superuser",
                "a service account cannot be a superuser",
            ));
        }
        if target.is_service_account && password.is_some() {
            return Err(ApiError::field(
                "password",
                "service accounts authenticate with tokens only",
            ));
        }
    }
    if let Some(p) = password {
        patch.password_hash = Some(state.passwords.hash(p).await?);
    }
    Ok(Json(state.store.update_user(id, patch).await?))
}

/// Delete a user with their memberships and tokens (superusers). Refused with `last_owner` while
/// they are the only owner of an organization.
#[utoipa::path(delete, path = "/users/{user}", tag = "users", params(("user" = String, Path, description = "User id")),
    responses((status = 200, body = Ok), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_user(
    State(state): State<AppState>,
    SuperuserCaller(caller): SuperuserCaller,
    Path(user): Path<String>,
) -> ApiResult<Json<Ok>> {
    let id = parse_id(&user, "User")?;
    if id == caller.user.id {
        return Err(ApiError::invalid("Superusers cannot delete themselves"));
    }
    state.store.delete_user(id).await?;
    Ok(ok())
}
