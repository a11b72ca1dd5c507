//! Invitations: invite by email, list, revoke, resend; accept or decline by token.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::AuthResponse;
use super::{ById, Json, Listing, Ok, Path, ok, paged, parse_id};
use crate::AppState;
use crate::auth::{Caller, MaybeCaller, OrgContext};
use crate::authz::{Role, RoleKey};
use crate::domain::Timestamp;
use crate::domain::paging::Cursor;
use crate::domain::validate::{self, Checks};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::mailer::{accept_link, deliver, mint_invitation_token};
use crate::ratelimit::ClientIp;
use crate::store::{Invitation, Invitee, Member, NewInvitation};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    pub email: String,
    /// `owner`, `admin`, `member` (the default) or a custom role's key; the inviter must hold
    /// every permission of the role (only owners invite owners).
    pub role: Option<RoleKey>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    /// The token from the accept link.
    pub token: String,
    /// For an invitee without an account: the password of the account this creates. Never sets
    /// the password of an existing account.
    pub password: Option<String>,
    /// For a new account only (with `password`); otherwise not used.
    pub name: Option<String>,
    /// For a new account only (with `password`); otherwise not used.
    pub username: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclineInvitationRequest {
    pub token: String,
}

/// An invitation as its inviter sees it right after sending it.
#[derive(Serialize, ToSchema)]
pub struct SentInvitation {
    #[serde(flatten)]
    pub invitation: Invitation,
    /// Only when no mail server is configured (development): the accept link, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_url: Option<String>,
    /// Only when no mail server is configured: the invitation token, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AcceptedInvitation {
    pub organization_id: uuid::Uuid,
    pub member: Member,
    /// When the invitation created the account: a session for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<AuthResponse>,
}

/// Delivers the link. The token comes back to the inviter only in development (no mail server)
/// and only for an invitation by email address: one made for an existing account named by id
/// or username (`user_id`) is that account's to accept, and its link goes to the account alone.
async fn send(state: &AppState, inv: Invitation, token: String) -> SentInvitation {
    let outcome = deliver(state, inv.id, &inv.email, &inv.organization.name, &token, 0).await;
    let dev = state.mailer.is_none() && inv.user_id.is_none();
    SentInvitation {
        accept_url: dev.then(|| accept_link(state, &token)),
        token: dev.then_some(token),
        invitation: as_seen_by_organization(Invitation {
            delivery: outcome.delivery.into(),
            delivery_error: outcome.error,
            ..inv
        }),
    }
}

/// An invitation made for an existing account by id or username shows its address masked: the
/// organization named the account, and learns nothing more about it.
pub fn as_seen_by_organization(mut inv: Invitation) -> Invitation {
    if inv.user_id.is_some() {
        inv.email = validate::mask_email(&inv.email);
    }
    inv
}

/// Creates (or refreshes) an invitation after the checks every way of inviting shares; returns
/// it as delivered and whether it refreshed a pending one.
pub async fn invite(
    state: &AppState,
    caller: &Caller,
    org: uuid::Uuid,
    actor: crate::authz::Actor,
    email: String,
    role: String,
    invitee_id: Option<uuid::Uuid>,
) -> ApiResult<(SentInvitation, bool)> {
    if let Some(limits) = &state.limits {
        limits
            .invitations_per_account
            .hit(&caller.user.id.to_string())?;
    }
    let (token, hash) = mint_invitation_token();
    let new = NewInvitation {
        organization_id: org,
        email,
        role,
        hash,
        expires_at: Timestamp::now().plus_secs(state.config.invitation_lifetime_secs as i64),
        delivery: if state.mailer.is_some() {
            "pending"
        } else {
            "none"
        },
        invitee_id,
    };
    let (inv, refreshed) = state.store.create_invitation(new, actor).await?;
    Ok((send(state, inv, token).await, refreshed))
}

/// Invitations of the organization (owners and admins).
#[utoipa::path(get, path = "/organizations/{org}/invitations", tag = "invitations",
    params(("org" = String, Path, description = "Organization id or slug"), super::PageQuery),
    responses((status = 200, body = Vec<Invitation>, headers(("link" = String, description = "RFC 8288 next page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    uri: Uri,
    Listing { page, .. }: Listing<ById>,
) -> ApiResult<Response> {
    let items = state.store.list_invitations(access.id, &page).await?;
    let items: Vec<Invitation> = items.into_iter().map(as_seen_by_organization).collect();
    Ok(paged(&uri, &page, items, |i| Cursor::Id(i.id)))
}

/// Invite someone by email (owners and admins; only owners invite owners). Inviting an address
/// with a pending invitation refreshes it (`200`) instead of making a second one.
#[utoipa::path(post, path = "/organizations/{org}/invitations", tag = "invitations",
    params(("org" = String, Path, description = "Organization id or slug")), request_body = CreateInvitationRequest,
    responses((status = 201, body = SentInvitation), (status = 200, description = "A pending invitation was refreshed", body = SentInvitation),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Already a member", body = ErrorBody),
        (status = 429, description = "Too many invitations sent by this account", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    OrgContext { caller, access }: OrgContext,
    Json(req): Json<CreateInvitationRequest>,
) -> ApiResult<Response> {
    let mut c = Checks::new();
    let email = c.check("email", validate::email(&req.email));
    c.finish()?;
    let (sent, refreshed) = invite(
        &state,
        &caller,
        access.id,
        access.actor,
        email.unwrap_or_default(),
        req.role.unwrap_or(RoleKey::built_in(Role::Member)).into(),
        None,
    )
    .await?;
    let status = if refreshed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(sent)).into_response())
}

/// Revoke a pending invitation (owners and admins; only owners revoke owner invitations).
#[utoipa::path(delete, path = "/organizations/{org}/invitations/{id}", tag = "invitations",
    params(("org" = String, Path, description = "Organization id or slug"), ("id" = String, Path, description = "Invitation id")),
    responses((status = 200, body = Ok), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "No longer pending", body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id)): Path<(String, String)>,
) -> ApiResult<Json<Ok>> {
    let id = parse_id(&id, "Invitation")?;
    state
        .store
        .revoke_invitation(access.id, access.actor, id)
        .await?;
    Ok(ok())
}

/// Send a pending invitation again, with a new link and a new expiry; the old link stops working.
/// Owners and admins; only owners resend owner invitations (the link grants the role).
#[utoipa::path(post, path = "/organizations/{org}/invitations/{id}/resend", tag = "invitations",
    params(("org" = String, Path, description = "Organization id or slug"), ("id" = String, Path, description = "Invitation id")),
    responses((status = 200, body = SentInvitation), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "No longer pending", body = ErrorBody),
        (status = 429, description = "Too many invitations sent by this account", body = ErrorBody)))]
pub async fn resend(
    State(state): State<AppState>,
    OrgContext { caller, access }: OrgContext,
    Path((_org, id)): Path<(String, String)>,
) -> ApiResult<Json<SentInvitation>> {
    let id = parse_id(&id, "Invitation")?;
    if let Some(limits) = &state.limits {
        limits
            .invitations_per_account
            .hit(&caller.user.id.to_string())?;
    }
    let (token, hash) = mint_invitation_token();
    let expires = Timestamp::now().plus_secs(state.config.invitation_lifetime_secs as i64);
    let inv = state
        .store
        .rotate_invitation(access.id, access.actor, id, hash, Some(expires))
        .await?;
    Ok(Json(send(&state, inv, token).await))
}

/// Pending invitations addressed to the signed-in user's email.
#[utoipa::path(get, path = "/users/me/invitations", tag = "invitations",
    responses((status = 200, body = Vec<Invitation>), (status = 401, body = ErrorBody)))]
pub async fn mine(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<Invitation>>> {
    let mut items = state
        .store
        .invitations_for_email(&caller.user.email)
        .await?;
    if let Some(scope) = caller.scope {
        items.retain(|i| i.organization.id == scope);
    }
    Ok(Json(items))
}

fn token_hash(token: &str) -> ApiResult<[u8; 32]> {
    if token.is_empty() || token.len() > 256 {
        return Err(ApiError::not_found("Invitation"));
    }
    Ok(crate::auth::hash_token(token))
}

/// Accept an invitation, once. With `password`: creates the invitee's account and the response
/// carries a session; this counts as a sign-up. An invitation never sets or changes the password
/// of an existing account: when any account has the invited email (one provisioned without a
/// password, or a deactivated one, included) the answer is `409`, and the invitee signs in to
/// accept (a password-less account is claimed through `POST /auth/password-reset`). Without
/// `password`: the signed-in caller accepts, and their email must be the invited one.
#[utoipa::path(post, path = "/invitations/accept", tag = "invitations", request_body = AcceptInvitationRequest,
    security((), ("bearer" = [])),
    responses((status = 200, body = AcceptedInvitation), (status = 400, description = "Expired, used, revoked or declined; or invalid input", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "Invited address differs", body = ErrorBody),
        (status = 404, description = "Unknown token", body = ErrorBody), (status = 409, description = "Account exists: sign in to accept", body = ErrorBody),
        (status = 429, description = "Too many sign-ups from this address", body = ErrorBody)))]
pub async fn accept(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    MaybeCaller(caller): MaybeCaller,
    Json(req): Json<AcceptInvitationRequest>,
) -> ApiResult<Json<AcceptedInvitation>> {
    let hash = token_hash(&req.token)?;
    // With a password this is the new-account flow, whoever calls; without one, the caller's
    // own account accepts.
    let invitee = match (&req.password, &caller) {
        (None, Some(c)) => {
            if c.scope.is_some() || c.user.is_service_account {
                return Err(ApiError::forbidden(
                    "Accept invitations with a personal session",
                ));
            }
            Invitee::User(c.user.id)
        }
        (None, None) => {
            return Err(ApiError::field(
                "password",
                "sign in, or give a password for a new account",
            ));
        }
        (Some(password), _) => {
            // Creating an account this way is a sign-up, and counts as one.
            if let Some(limits) = &state.limits {
                limits.signup_per_ip.hit(&ip)?;
            }
            let mut c = Checks::new();
            let password = c.check("password", validate::password(password));
            let name = req
                .name
                .as_ref()
                .and_then(|n| c.check("name", validate::person_name(n)));
            let username = req
                .username
                .as_ref()
                .and_then(|u| c.check("username", validate::username(u)));
            c.finish()?;
            let password_hash = state.passwords.hash(password.unwrap_or_default()).await?;
            Invitee::NewAccount {
                password_hash,
                name,
                username,
            }
        }
    };
    let new_account = req.password.is_some();
    let (user, org) = state.store.accept_invitation(hash, invitee).await?;
    let member = state
        .store
        .member(org, user.id)
        .await?
        // Written, then removed by a concurrent request before it could be read back.
        .ok_or_else(|| ApiError::not_found("Member"))?;
    let session = if new_account {
        Some(super::auth::new_session(&state, user).await?)
    } else {
        None
    };
    Ok(Json(AcceptedInvitation {
        organization_id: org,
        member,
        session,
    }))
}

/// Decline an invitation (signed in: only one's own).
#[utoipa::path(post, path = "/invitations/decline", tag = "invitations", request_body = DeclineInvitationRequest,
    security((), ("bearer" = [])),
    responses((status = 200, body = Ok), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "No longer pending", body = ErrorBody)))]
pub async fn decline(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Json(req): Json<DeclineInvitationRequest>,
) -> ApiResult<Json<Ok>> {
    let hash = token_hash(&req.token)?;
    state
        .store
        .decline_invitation(hash, caller.map(|c| c.user.id))
        .await?;
    Ok(ok())
}

/// The invitation `id` addressed to the signed-in caller, who answers it without the link: only
/// with a personal session and a verified email, since the link is what proves the address
/// otherwise.
async fn own_invitation(state: &AppState, caller: &Caller, id: uuid::Uuid) -> ApiResult<[u8; 32]> {
    if caller.scope.is_some() || caller.user.is_service_account {
        return Err(ApiError::forbidden(
            "Answer invitations with a personal session",
        ));
    }
    if !caller.user.email_verified {
        return Err(ApiError::forbidden(
            "Verify your email address first, or use the link from the invitation email",
        ));
    }
    let mine = state
        .store
        .invitations_for_email(&caller.user.email)
        .await?
        .into_iter()
        .any(|i| i.id == id);
    if !mine {
        return Err(ApiError::not_found("Invitation"));
    }
    state
        .store
        .invitation_hash(id)
        .await?
        .ok_or_else(|| ApiError::not_found("Invitation"))
}

/// Accept one of one's own pending invitations (from `GET /users/me/invitations`) without its
/// link. The caller's email must be verified and be the invited address.
#[utoipa::path(post, path = "/users/me/invitations/{id}/accept", tag = "invitations",
    params(("id" = String, Path, description = "Invitation id")),
    responses((status = 200, body = AcceptedInvitation), (status = 401, body = ErrorBody),
        (status = 403, description = "Email not verified, or not a personal session", body = ErrorBody),
        (status = 404, description = "No pending invitation to the caller with this id", body = ErrorBody),
        (status = 409, description = "No longer pending", body = ErrorBody)))]
pub async fn accept_mine(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AcceptedInvitation>> {
    let id = parse_id(&id, "Invitation")?;
    let hash = own_invitation(&state, &caller, id).await?;
    let (user, org) = state
        .store
        .accept_invitation(hash, Invitee::User(caller.user.id))
        .await?;
    let member = state
        .store
        .member(org, user.id)
        .await?
        .ok_or_else(|| ApiError::not_found("Member"))?;
    Ok(Json(AcceptedInvitation {
        organization_id: org,
        member,
        session: None,
    }))
}

/// Decline one of one's own pending invitations without its link (verified email only).
#[utoipa::path(post, path = "/users/me/invitations/{id}/decline", tag = "invitations",
    params(("id" = String, Path, description = "Invitation id")),
    responses((status = 200, body = Ok), (status = 401, body = ErrorBody),
        (status = 403, description = "Email not verified, or not a personal session", body = ErrorBody),
        (status = 404, description = "No pending invitation to the caller with this id", body = ErrorBody),
        (status = 409, description = "No longer pending", body = ErrorBody)))]
pub async fn decline_mine(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Ok>> {
    let id = parse_id(&id, "Invitation")?;
    let hash = own_invitation(&state, &caller, id).await?;
    state
        .store
        .decline_invitation(hash, Some(caller.user.id))
        .await?;
    Ok(ok())
}
