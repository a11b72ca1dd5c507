//! Organizations: create, list, read, change, transfer, delete.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Json, Listing, Ok, Query, nullable, ok, paged};
use crate::AppState;
use crate::auth::{Caller, OrgContext};
use crate::domain::paging::{Cursor, Page};
use crate::domain::plans::PlanName;
use crate::domain::validate::{self, Checks};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::store::{
    ManagedBy, MemberFilter, NewOrganization, OrgFilter, OrgPatch, OrgStatus, Organization,
};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganizationRequest {
    /// 1 to 256 characters.
    pub name: String,
    /// `^[a-zA-Z0-9-]+$`, 1 to 253 characters, unique case-insensitively; derived from the name
    /// when omitted.
    pub slug: Option<String>,
    pub description: Option<String>,
    /// An http(s) URL.
    pub logo_url: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country_code: Option<String>,
    /// Free-form JSON object; no string in it (key or value) may contain a NUL character.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Superusers only: create the organization for someone else.
    pub owner_id: Option<Uuid>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganizationRequest {
    pub name: Option<String>,
    pub slug: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub logo_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub country_code: Option<Option<String>>,
    /// Free-form JSON object; no string in it (key or value) may contain a NUL character.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Primary owner or superuser: transfer primary ownership to another member.
    pub owner_id: Option<Uuid>,
    /// Superusers only.
    pub status: Option<OrgStatus>,
    /// Superusers only.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub status_reason: Option<Option<String>>,
    /// Superusers only.
    pub verified: Option<bool>,
    /// Superusers only.
    pub managed_by: Option<Vec<ManagedBy>>,
    /// Owners and admins: whether a service account's own token may create further tokens.
    pub service_accounts_can_mint_tokens: Option<bool>,
    /// Owners (and superusers): `false` deactivates the organization (its members can read it,
    /// nothing else changes), `true` reactivates it. The only change a deactivated
    /// organization accepts besides a superuser's status fields.
    pub active: Option<bool>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrgListQuery {
    /// Substring of the name, case-insensitive.
    pub name: Option<String>,
    pub owner_id: Option<Uuid>,
    pub status: Option<OrgStatus>,
    /// Only organizations in use: status `active` and not deactivated by an owner.
    pub active_only: Option<bool>,
    /// Only organizations on this plan now.
    pub plan: Option<PlanName>,
}

impl super::ListFilters for OrgListQuery {
    const ORDER: super::Order = super::Order::Id;
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrgGetQuery {
    /// `members` embeds the first page of members.
    pub include: Option<String>,
}

/// Organizations the caller belongs to (a superuser sees all).
#[utoipa::path(get, path = "/organizations", tag = "organizations", params(OrgListQuery, super::PageQuery),
    responses((status = 200, body = Vec<Organization>, headers(("link" = String, description = "RFC 8288 next page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Listing { page, filters: q }: Listing<OrgListQuery>,
) -> ApiResult<Response> {
    let filter = OrgFilter {
        member: (!caller.is_superuser()).then_some(caller.user.id),
        viewer: caller.user.id,
        only: caller.scope,
        name: super::search("name", q.name)?,
        owner_id: q.owner_id,
        status: q.status,
        active_only: q.active_only.unwrap_or(false),
        plan: q.plan.map(|p| (p, state.now())),
    };
    let orgs = state.show_all(state.store.list_organizations(&filter, &page).await?);
    Ok(paged(&uri, &page, orgs, |o| Cursor::Id(o.id)))
}

/// Create an organization; the caller becomes its owner.
#[utoipa::path(post, path = "/organizations", tag = "organizations", request_body = CreateOrganizationRequest,
    responses((status = 201, body = Organization), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "`forbidden` or `organization_limit_exceeded`", body = ErrorBody),
        (status = 409, description = "Slug taken", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateOrganizationRequest>,
) -> ApiResult<(StatusCode, Json<Organization>)> {
    if caller.user.is_service_account {
        return Err(ApiError::forbidden(
            "Service accounts cannot create organizations",
        ));
    }
    if caller.scope.is_some() {
        return Err(ApiError::forbidden(
            "A token scoped to an organization cannot create organizations",
        ));
    }
    if req.owner_id.is_some_and(|o| o != caller.user.id) && !caller.is_superuser() {
        return Err(ApiError::forbidden(
            "Only superusers can create an organization for someone else",
        ));
    }
    let mut c = Checks::new();
    let name = c.check("name", validate::org_name(&req.name));
    let slug = req
        .slug
        .as_ref()
        .and_then(|s| c.check("slug", validate::slug(s)));
    let description = req
        .description
        .as_ref()
        .and_then(|d| c.check("description", validate::text(d, 4096)));
    let logo_url = req
        .logo_url
        .as_ref()
        .and_then(|u| c.check("logo_url", validate::http_url(u)));
    let country_code = req
        .country_code
        .as_ref()
        .and_then(|cc| c.check("country_code", validate::country_code(cc)));
    let metadata = match &req.metadata {
        Some(m) => c.check("metadata", validate::metadata(m)),
        None => Some(serde_json::json!({})),
    };
    c.finish()?;
    let new = NewOrganization {
        name: name.unwrap_or_default(),
        slug,
        description,
        logo_url,
        country_code,
        metadata: metadata.unwrap_or_default(),
        owner_id: req.owner_id.unwrap_or(caller.user.id),
    };
    let id = state
        .store
        .create_organization(new, state.config.max_organizations_per_user)
        .await?;
    let org = state
        .store
        .organization(id, caller.user.id)
        .await?
        // Written, then removed by a concurrent request before it could be read back.
        .ok_or_else(|| ApiError::not_found("Organization"))?;
    Ok((
        StatusCode::CREATED,
        Json(state.show(Organization { role: None, ..org })),
    ))
}

/// An organization (any member).
#[utoipa::path(get, path = "/organizations/{org}", tag = "organizations",
    params(("org" = String, Path, description = "Organization id or slug"), OrgGetQuery),
    responses((status = 200, body = Organization), (status = 401, body = ErrorBody),
        (status = 403, description = "`organization_banned`", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Query(q): Query<OrgGetQuery>,
) -> ApiResult<Json<Organization>> {
    let include_members = match q.include.as_deref() {
        None | Some("") => false,
        Some("members") => true,
        Some(_) => return Err(ApiError::field("include", "must be `members`")),
    };
    // Read with the access decision: one statement after authentication.
    let mut found = std::sync::Arc::unwrap_or_clone(access.organization);
    found.role = None;
    if include_members {
        found.members = Some(
            state
                .store
                .list_members(access.id, &MemberFilter::default(), &Page::default())
                .await?
                .into_iter()
                .take(Page::default().limit as usize)
                .collect(),
        );
    }
    Ok(Json(state.show(found)))
}

/// Change an organization. Owners and admins: profile fields; the primary owner (or a
/// superuser): `owner_id`; superusers: `status`, `status_reason`, `verified`, `managed_by`.
#[utoipa::path(patch, path = "/organizations/{org}", tag = "organizations",
    params(("org" = String, Path, description = "Organization id or slug")), request_body = UpdateOrganizationRequest,
    responses((status = 200, body = Organization), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    OrgContext { caller, access }: OrgContext,
    Json(req): Json<UpdateOrganizationRequest>,
) -> ApiResult<Json<Organization>> {
    let mut c = Checks::new();
    let patch = OrgPatch {
        name: req
            .name
            .as_ref()
            .and_then(|n| c.check("name", validate::org_name(n))),
        slug: req
            .slug
            .as_ref()
            .and_then(|s| c.check("slug", validate::slug(s))),
        description: c.nullable("description", &req.description, |d| validate::text(d, 4096)),
        logo_url: c.nullable("logo_url", &req.logo_url, validate::http_url),
        country_code: c.nullable("country_code", &req.country_code, validate::country_code),
        metadata: req
            .metadata
            .as_ref()
            .and_then(|m| c.check("metadata", validate::metadata(m))),
        owner_id: req.owner_id,
        service_accounts_can_mint_tokens: req.service_accounts_can_mint_tokens,
        status: req.status,
        status_reason: c.nullable("status_reason", &req.status_reason, |r| {
            validate::text(r, 1024)
        }),
        verified: req.verified,
        managed_by: req.managed_by.clone(),
        active: req.active,
    };
    if let Some(list) = &req.managed_by
        && (list.len() > 32
            || list.iter().any(|m| {
                m.kind.is_empty() || m.kind.len() > 64 || m.id.is_empty() || m.id.len() > 256
            }))
    {
        c.check::<()>(
            "managed_by",
            Err("at most 32 entries of non-empty type (≤ 64) and id (≤ 256)".into()),
        );
    }
    c.finish()?;
    state
        .store
        .update_organization(access.id, access.actor, patch)
        .await?;
    let mut found = state
        .store
        .organization(access.id, caller.user.id)
        .await?
        .ok_or_else(|| ApiError::not_found("Organization"))?;
    found.role = None;
    Ok(Json(state.show(found)))
}

/// Delete an organization with everything under it (owners).
#[utoipa::path(delete, path = "/organizations/{org}", tag = "organizations",
    params(("org" = String, Path, description = "Organization id or slug")),
    responses((status = 200, body = Ok), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
) -> ApiResult<Json<Ok>> {
    state
        .store
        .delete_organization(access.id, access.actor)
        .await?;
    Ok(ok())
}
