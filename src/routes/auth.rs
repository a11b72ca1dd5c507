//! Sign-up, login and logout.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Json, Ok, ok};
use crate::AppState;
use crate::auth::{Caller, mint};
use crate::domain::Timestamp;
use crate::domain::validate::{self, Checks};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::ratelimit::ClientIp;
use crate::store::{NewToken, NewUser, TokenKind, User};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub email: String,
    /// 8 to 256 characters.
    pub password: String,
    /// `^[a-zA-Z0-9_.-]{1,64}$`; derived from the email when omitted.
    pub username: Option<String>,
    pub name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email or username.
    pub login: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuthResponse {
    pub user: User,
    /// A session token (`orgd_s_…`); shown only here.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    pub expires_at: Timestamp,
}

/// Issues a session token for `user`.
pub async fn new_session(state: &AppState, user: User) -> ApiResult<AuthResponse> {
    let (token, hash) = mint(TokenKind::Session);
    let expires_at = Timestamp::now().plus_secs(state.config.session_lifetime_secs as i64);
    state
        .store
        .create_token(NewToken {
            user_id: user.id,
            kind: TokenKind::Session,
            name: None,
            hash,
            organization_id: None,
            expires_at: Some(expires_at),
        })
        .await?;
    Ok(AuthResponse {
        user,
        access_token: token,
        token_type: "Bearer".into(),
        expires_at,
    })
}

/// Create an account and sign in.
#[utoipa::path(post, path = "/auth/signup", tag = "auth", security(()), request_body = SignupRequest,
    responses(
        (status = 201, body = AuthResponse),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 403, description = "Sign-up is disabled", body = ErrorBody),
        (status = 409, description = "Email or username taken", body = ErrorBody),
        (status = 429, description = "Too many sign-ups from this address", body = ErrorBody),
        (status = 503, description = "Password hashing is saturated", body = ErrorBody)))]
pub async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<SignupRequest>,
) -> ApiResult<(StatusCode, Json<AuthResponse>)> {
    if !state.config.signup_enabled {
        return Err(ApiError::forbidden(
            "Sign-up is disabled on this installation",
        ));
    }
    if let Some(limits) = &state.limits {
        limits.signup_per_ip.hit(&ip)?;
    }
    let mut c = Checks::new();
    let email = c.check("email", validate::email(&req.email));
    let password = c.check("password", validate::password(&req.password));
    let username = match &req.username {
        Some(u) => c.check("username", validate::username(u)).map(Some),
        None => Some(None),
    };
    let name = match &req.name {
        Some(n) => c.check("name", validate::person_name(n)).map(Some),
        None => Some(None),
    };
    c.finish()?;
    let (email, password, username, name) = (
        email.unwrap_or_default(),
        password.unwrap_or_default(),
        username.flatten(),
        name.flatten(),
    );
    let password_hash = state.passwords.hash(password).await?;
    let user = state
        .store
        .create_user(NewUser {
            email,
            username,
            name,
            password_hash: Some(password_hash),
            ..Default::default()
        })
        .await?;
    Ok((StatusCode::CREATED, Json(new_session(&state, user).await?)))
}

/// Sign in with email or username and password.
#[utoipa::path(post, path = "/auth/login", tag = "auth", security(()), request_body = LoginRequest,
    responses(
        (status = 200, body = AuthResponse),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Unknown user or wrong password (indistinguishable)", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address or failures for this account", body = ErrorBody),
        (status = 503, description = "Password hashing is saturated", body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Json<AuthResponse>> {
    let account = req.login.to_lowercase();
    if let Some(limits) = &state.limits {
        limits.login_per_ip.hit(&ip)?;
        limits.login_failures.check(&account)?;
    }
    if req.login.is_empty() || req.login.len() > 254 || req.password.len() > 1024 {
        return Err(ApiError::invalid_credentials());
    }
    let found = state.store.user_for_login(&req.login).await?;
    // Service accounts and deactivated users never sign in with a password; they still cost a
    // verification so the answer takes as long as for anyone else.
    let (user, hash) = match found {
        Some((u, h)) if u.is_active && !u.is_service_account => (Some(u), h),
        _ => (None, None),
    };
    let ok = state.passwords.verify(req.password, hash).await?;
    match user {
        Some(user) if ok => {
            if let Some(limits) = &state.limits {
                limits.login_failures.reset(&account);
            }
            Ok(Json(new_session(&state, user).await?))
        }
        _ => {
            if let Some(limits) = &state.limits {
                // Counting the failure may itself exhaust the window; the answer stays 401.
                let _ = limits.login_failures.hit(&account);
            }
            Err(ApiError::invalid_credentials())
        }
    }
}

/// Revoke the token this request presents.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses((status = 200, body = Ok), (status = 401, body = ErrorBody)))]
pub async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Ok>> {
    state.store.delete_token(caller.token_id).await?;
    Ok(ok())
}
