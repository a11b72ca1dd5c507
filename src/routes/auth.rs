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

/// Sign-up's answer when the installation requires verified addresses: the account exists, and
/// a verification link is on its way to the address; sign in once it is used.
#[derive(Serialize, ToSchema)]
pub struct PendingVerification {
    pub user: User,
    /// Always true.
    pub email_verification_required: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailRequest {
    /// The `orgd_vfy_…` token from the emailed link.
    pub token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendVerificationRequest {
    pub email: String,
}

/// Issues a session token for `user`.
pub async fn new_session(state: &AppState, user: User) -> ApiResult<AuthResponse> {
    let (token, hash) = mint(TokenKind::Session);
    let expires_at = Timestamp::now().plus_secs(state.config.session_lifetime_secs as i64);
    // A sign-in is the user's own act.
    crate::audit::subject(user.id);
    state
        .store
        .create_token(NewToken {
            sso_provider_id: None,
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

/// Create an account and sign in. A verification link goes to the address. When the
/// installation requires verified addresses (`require_verified_email`), the answer is `202`
/// without a session: sign in after using the link.
#[utoipa::path(post, path = "/auth/signup", tag = "auth", security(()), request_body = SignupRequest,
    responses(
        (status = 201, description = "Signed up and signed in", body = AuthResponse),
        (status = 202, description = "Signed up; verify the address, then sign in", body = PendingVerification),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 403, description = "Sign-up is disabled", body = ErrorBody),
        (status = 409, description = "Email or username taken", body = ErrorBody),
        (status = 429, description = "Too many sign-ups from this address", body = ErrorBody),
        (status = 503, description = "Password hashing is saturated", body = ErrorBody)))]
pub async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<SignupRequest>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
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
    crate::mailer::send_verification(&state, user.id).await?;
    if state.config.require_verified_email {
        return Ok((
            StatusCode::ACCEPTED,
            Json(PendingVerification {
                user,
                email_verification_required: true,
            }),
        )
            .into_response());
    }
    Ok((StatusCode::CREATED, Json(new_session(&state, user).await?)).into_response())
}

/// Sign in with email or username and password.
#[utoipa::path(post, path = "/auth/login", tag = "auth", security(()), request_body = LoginRequest,
    responses(
        (status = 200, body = AuthResponse),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Unknown user or wrong password (indistinguishable)", body = ErrorBody),
        (status = 403, description = "`email_not_verified`: the installation requires a verified address (only after a correct password)", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address, or too many failures for this account from this address", body = ErrorBody),
        (status = 503, description = "Password hashing is saturated", body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Json<AuthResponse>> {
    if let Some(limits) = &state.limits {
        limits.login_per_ip.hit(&ip)?;
    }
    if req.login.is_empty() || req.login.len() > 254 || req.password.len() > 1024 {
        return Err(ApiError::invalid_credentials());
    }
    let found = state.store.user_for_login(&req.login).await?;
    // Failures are counted per account (its email and its username are one counter) and client
    // address together: a guesser is stopped, and nobody can lock the owner out from elsewhere.
    // An unknown login is counted by its text, so the answers look alike.
    let failure_key = match &found {
        Some((u, _)) => format!("{}|{ip}", u.id),
        None => format!("{}|{ip}", req.login.to_lowercase()),
    };
    if let Some(limits) = &state.limits {
        limits.login_failures.check(&failure_key)?;
    }
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
                limits.login_failures.reset(&failure_key);
            }
            if state.config.require_verified_email && !user.email_verified {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "email_not_verified",
                    "Verify your email address first: use the link sent to it, or ask for a new \
                     one with POST /auth/verify-email/resend",
                ));
            }
            Ok(Json(new_session(&state, user).await?))
        }
        _ => {
            crate::metrics::METRICS.login_failures.inc();
            if let Some(limits) = &state.limits {
                // Counting the failure may itself exhaust the window; the answer stays 401.
                let _ = limits.login_failures.hit(&failure_key);
            }
            Err(ApiError::invalid_credentials())
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    pub email: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirmRequest {
    /// The token from the emailed link (`orgd_pwr_…`).
    pub token: String,
    /// The new password, 8 to 256 characters.
    pub password: String,
    /// Also revoke every personal access token of the account (sessions always end).
    #[serde(default)]
    pub revoke_tokens: bool,
}

/// Requests that email a link (password reset, verification) count per client address and per
/// address mailed (`kind` keeps each kind's count of an address apart).
fn limit_mail_requests(state: &AppState, ip: &str, kind: &str, email: &str) -> ApiResult<()> {
    if let Some(limits) = &state.limits {
        limits.password_resets.hit(&format!("ip:{ip}"))?;
        limits
            .password_resets
            .hit(&format!("{kind}:{}", email.to_lowercase()))?;
    }
    Ok(())
}

/// How long a password-reset link works.
const RESET_LIFETIME_SECS: i64 = 3600;

/// Ask for a password-reset link. The link goes to the address by email (without a mail server:
/// to the server log only), never into a response; the answer is the same whether or not the
/// address has an account. This is also how an account provisioned without a password (added
/// by email) is claimed.
#[utoipa::path(post, path = "/auth/password-reset", tag = "auth", security(()), request_body = PasswordResetRequest,
    responses(
        (status = 202, description = "If the address has an account, a link is on its way", body = Ok),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 429, description = "Too many requests from this address or for this email", body = ErrorBody)))]
pub async fn request_password_reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<PasswordResetRequest>,
) -> ApiResult<(StatusCode, Json<Ok>)> {
    let mut c = Checks::new();
    let email = c.check("email", validate::email(&req.email));
    c.finish()?;
    let email = email.unwrap_or_default();
    limit_mail_requests(&state, &ip, "email", &email)?;
    let (token, hash) = crate::mailer::mint_reset_token();
    let expires = Timestamp::now().plus_secs(RESET_LIFETIME_SECS);
    if let Some(user) = state
        .store
        .create_password_reset(&email, hash, expires)
        .await?
    {
        // Sent in the background: the answer takes as long whether or not a mail goes out.
        let state = state.clone();
        tokio::spawn(async move {
            crate::mailer::deliver_password_reset(&state, user.id, &user.email, &token).await;
        });
    }
    Ok((StatusCode::ACCEPTED, ok()))
}

/// Set a new password with a reset link's token, once. Every session of the account ends (with
/// `revoke_tokens`, its personal access tokens too); the answer signs in with a new session.
#[utoipa::path(post, path = "/auth/password-reset/confirm", tag = "auth", security(()), request_body = PasswordResetConfirmRequest,
    responses(
        (status = 200, body = AuthResponse),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 404, description = "Unknown, used or expired link", body = ErrorBody),
        (status = 503, description = "Password hashing is saturated", body = ErrorBody)))]
pub async fn confirm_password_reset(
    State(state): State<AppState>,
    Json(req): Json<PasswordResetConfirmRequest>,
) -> ApiResult<Json<AuthResponse>> {
    let mut c = Checks::new();
    let password = c.check("password", validate::password(&req.password));
    c.finish()?;
    if !req.token.starts_with("orgd_pwr_") || req.token.len() > 256 {
        return Err(ApiError::not_found("Password reset link"));
    }
    let hash = crate::auth::hash_token(&req.token);
    let password_hash = state.passwords.hash(password.unwrap_or_default()).await?;
    let user = state
        .store
        .confirm_password_reset(hash, password_hash, req.revoke_tokens)
        .await?;
    Ok(Json(new_session(&state, user).await?))
}

/// Verify an email address with the token of the link sent to it, once. The link works for 24
/// hours, and only while the account still has that address.
#[utoipa::path(post, path = "/auth/verify-email", tag = "auth", security(()), request_body = VerifyEmailRequest,
    responses(
        (status = 200, description = "The address is verified", body = User),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 404, description = "Unknown, used, expired or outdated link", body = ErrorBody)))]
pub async fn verify_email(
    State(state): State<AppState>,
    Json(req): Json<VerifyEmailRequest>,
) -> ApiResult<Json<User>> {
    if !req.token.starts_with("orgd_vfy_") || req.token.len() > 256 {
        return Err(ApiError::not_found("Email verification link"));
    }
    let hash = crate::auth::hash_token(&req.token);
    Ok(Json(state.store.confirm_email_verification(hash).await?))
}

/// Send a new verification link to an address. The answer is the same whether or not the
/// address has an account, and whether or not it is verified already.
#[utoipa::path(post, path = "/auth/verify-email/resend", tag = "auth", security(()), request_body = ResendVerificationRequest,
    responses(
        (status = 202, description = "If the address has an unverified account, a link is on its way", body = Ok),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 429, description = "Too many requests from this address or for this email", body = ErrorBody)))]
pub async fn resend_verification(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<ResendVerificationRequest>,
) -> ApiResult<(StatusCode, Json<Ok>)> {
    let mut c = Checks::new();
    let email = c.check("email", validate::email(&req.email));
    c.finish()?;
    let email = email.unwrap_or_default();
    limit_mail_requests(&state, &ip, "verify", &email)?;
    if let Some(user) = state.store.user_by_email(&email).await?
        && !user.email_verified
    {
        match crate::mailer::send_verification(&state, user.id).await {
            Ok(()) => {}
            // Verified in between: the same answer.
            Err(e) if e.code == "conflict" => {}
            Err(e) => return Err(e),
        }
    }
    Ok((StatusCode::ACCEPTED, ok()))
}

/// Revoke the token this request presents.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses((status = 200, body = Ok), (status = 401, body = ErrorBody)))]
pub async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Ok>> {
    state.store.delete_token(caller.token_id).await?;
    Ok(ok())
}
