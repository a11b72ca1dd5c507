//! Plans, licenses (superusers), an organization's license with its limits and usage, and the
//! deployments of self-hosted installations running under a license.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Json, Listing, Ok, Path, nullable, ok, paged, parse_id};
use crate::AppState;
use crate::auth::{
    Caller, DEPLOYMENT_TOKEN_PREFIX, LICENSE_KEY_PREFIX, OrgContext, SuperuserCaller, bearer,
    hash_token, mint_secret, parse_secret,
};
use crate::domain::Timestamp;
use crate::domain::paging::Cursor;
use crate::domain::plans::{LicenseStatus, Plan, PlanName};
use crate::domain::validate::{self, Checks};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::store::{
    Deployment, License, LicenseFilter, LicensePatch, LicenseRef, NewDeployment, NewLicense,
    OrganizationLicense,
};

/// Most features one license may list.
pub const MAX_FEATURES: usize = 64;
/// Largest seat or deployment count a license may give.
pub const MAX_COUNT: i64 = 1_000_000_000;
/// A feature label, as `check_features` accepts it (published in the OpenAPI document).
pub const FEATURE_PATTERN: &str = "^[a-z0-9_.:-]{1,64}$";

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLicenseRequest {
    pub plan: PlanName,
    /// A label: the customer, the contract. Up to 256 characters.
    pub name: Option<String>,
    /// Replaces the plan's member limit; 0 to 1000000000. Omit to keep the plan's.
    pub seats: Option<i64>,
    /// Extra feature labels (added to the plan's): up to 64 of `^[a-z0-9_.:-]{1,64}$`.
    #[serde(default)]
    pub features: Vec<String>,
    /// A trial license: shown as the organization's `trial_expiry`, never as a subscription.
    /// A trial needs `expires_at`.
    #[serde(default)]
    pub trial: bool,
    /// How many deployments may register under it; omit for no cap.
    pub max_deployments: Option<i64>,
    /// When it takes effect; default now.
    pub starts_at: Option<Timestamp>,
    /// When it ends; after `starts_at`. Omit for a license that does not expire (not for a
    /// trial).
    pub expires_at: Option<Timestamp>,
    /// Attach it to this organization at once (id), replacing the organization's license.
    pub organization_id: Option<Uuid>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateLicenseRequest {
    pub plan: Option<PlanName>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    /// `null` returns to the plan's member limit.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub seats: Option<Option<i64>>,
    pub features: Option<Vec<String>>,
    pub trial: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub max_deployments: Option<Option<i64>>,
    pub starts_at: Option<Timestamp>,
    /// `null`: never expires.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Timestamp>)]
    pub expires_at: Option<Option<Timestamp>>,
}

/// A license with its key, shown only in the response that issued it.
#[derive(Serialize, ToSchema)]
pub struct IssuedLicense {
    #[serde(flatten)]
    pub license: License,
    /// `orgd_lic_…`: shown once; orgd keeps only its hash.
    pub key: String,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LicenseListQuery {
    pub plan: Option<PlanName>,
    /// Only the license held by this organization (id).
    pub organization_id: Option<Uuid>,
}

impl super::ListFilters for LicenseListQuery {
    const ORDER: super::Order = super::Order::Id;
}

/// Which license to attach: exactly one of `license_id` (superusers) and `license_key` (an
/// owner holding it); both or neither is `400`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachLicenseRequest {
    /// Superusers only.
    pub license_id: Option<Uuid>,
    /// The license's key (`orgd_lic_…`).
    pub license_key: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterDeploymentRequest {
    /// The license key (`orgd_lic_…`) the installation runs under.
    pub license_key: String,
    /// 1 to 256 characters.
    pub name: String,
    /// 1 to 253 characters.
    pub hostname: String,
    /// 1 to 64 characters, e.g. `1.4.2`.
    pub version: String,
}

/// A registered deployment and the token that authenticates its heartbeats (shown once).
#[derive(Serialize, ToSchema)]
pub struct RegisteredDeployment {
    pub id: Uuid,
    /// `orgd_dep_…`: send it as `Authorization: Bearer …` with each heartbeat.
    pub token: String,
    pub deployment: Deployment,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    /// 1 to 64 characters: the version now running.
    pub version: String,
}

/// What a heartbeat answers: the deployment, and its license as it stands now.
#[derive(Serialize, ToSchema)]
pub struct HeartbeatResponse {
    pub ok: bool,
    pub deployment: Deployment,
    pub license: LicenseState,
}

/// A license as its deployments see it.
#[derive(Serialize, ToSchema)]
pub struct LicenseState {
    pub plan: PlanName,
    pub status: LicenseStatus,
    pub trial: bool,
    pub expires_at: Option<Timestamp>,
    /// The license's own features.
    pub features: Vec<String>,
}

fn check_features(c: &mut Checks, features: &[String]) {
    let ok = features.len() <= MAX_FEATURES
        && features.iter().all(|f| {
            (1..=64).contains(&f.len())
                && f.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.:-".contains(&b))
        });
    if !ok {
        c.check::<()>(
            "features",
            Err(format!(
                "at most {MAX_FEATURES} labels of ^[a-z0-9_.:-]{{1,64}}$"
            )),
        );
    }
}

fn check_count(c: &mut Checks, field: &str, v: Option<i64>) {
    if v.is_some_and(|n| !(0..=MAX_COUNT).contains(&n)) {
        c.check::<()>(field, Err(format!("must be 0 to {MAX_COUNT}")));
    }
}

/// The plans of this installation, with their limits and features (any signed-in caller).
#[utoipa::path(get, path = "/plans", tag = "licenses",
    responses((status = 200, body = Vec<Plan>), (status = 401, body = ErrorBody)))]
pub async fn list_plans(State(state): State<AppState>, _: Caller) -> Json<Vec<Plan>> {
    Json(state.config.plans.0.to_vec())
}

/// Issue a license (superusers). The key is in this response only.
#[utoipa::path(post, path = "/licenses", tag = "licenses", request_body = CreateLicenseRequest,
    responses((status = 201, body = IssuedLicense), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "`organization_id` names no organization", body = ErrorBody),
        (status = 409, description = "The organization cannot take it", body = ErrorBody)))]
pub async fn create_license(
    State(state): State<AppState>,
    _: SuperuserCaller,
    Json(req): Json<CreateLicenseRequest>,
) -> ApiResult<(StatusCode, Json<IssuedLicense>)> {
    let mut c = Checks::new();
    let name = req
        .name
        .as_ref()
        .and_then(|n| c.check("name", validate::name(n, 256)));
    check_count(&mut c, "seats", req.seats);
    check_count(&mut c, "max_deployments", req.max_deployments);
    check_features(&mut c, &req.features);
    let starts_at = req.starts_at.unwrap_or_else(|| state.now());
    if req.expires_at.is_some_and(|e| e <= starts_at) {
        c.check::<()>("expires_at", Err("must be after starts_at".into()));
    }
    if req.trial && req.expires_at.is_none() {
        c.check::<()>("expires_at", Err("a trial license needs an expiry".into()));
    }
    c.finish()?;
    let (key, key_hash) = mint_secret(LICENSE_KEY_PREFIX);
    let license = state
        .store
        .create_license(NewLicense {
            key_hash,
            key_hint: format!("{}…", &key[..LICENSE_KEY_PREFIX.len() + 6]),
            name,
            plan: req.plan,
            seats: req.seats,
            features: req.features,
            trial: req.trial,
            max_deployments: req.max_deployments,
            starts_at,
            expires_at: req.expires_at,
            organization_id: req.organization_id,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(IssuedLicense { license, key })))
}

/// Licenses (superusers), by id.
#[utoipa::path(get, path = "/licenses", tag = "licenses", params(LicenseListQuery, super::PageQuery),
    responses((status = 200, body = Vec<License>, headers(("link" = String, description = "RFC 8288 next page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_licenses(
    State(state): State<AppState>,
    _: SuperuserCaller,
    uri: Uri,
    Listing { page, filters: q }: Listing<LicenseListQuery>,
) -> ApiResult<Response> {
    let filter = LicenseFilter {
        plan: q.plan,
        organization_id: q.organization_id,
    };
    let licenses = state.store.list_licenses(&filter, &page).await?;
    Ok(paged(&uri, &page, licenses, |l| Cursor::Id(l.id)))
}

/// A license (superusers).
#[utoipa::path(get, path = "/licenses/{id}", tag = "licenses",
    params(("id" = String, Path, description = "License id")),
    responses((status = 200, body = License), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_license(
    State(state): State<AppState>,
    _: SuperuserCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<License>> {
    let id = parse_id(&id, "License")?;
    state
        .store
        .license(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("License"))
}

/// Change a license (superusers); its organization follows at once. A revoked license cannot
/// be changed.
#[utoipa::path(patch, path = "/licenses/{id}", tag = "licenses",
    params(("id" = String, Path, description = "License id")), request_body = UpdateLicenseRequest,
    responses((status = 200, body = License), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "Revoked", body = ErrorBody)))]
pub async fn update_license(
    State(state): State<AppState>,
    _: SuperuserCaller,
    Path(id): Path<String>,
    Json(req): Json<UpdateLicenseRequest>,
) -> ApiResult<Json<License>> {
    let id = parse_id(&id, "License")?;
    let mut c = Checks::new();
    let name = c.nullable("name", &req.name, |n| validate::name(n, 256));
    check_count(&mut c, "seats", req.seats.flatten());
    check_count(&mut c, "max_deployments", req.max_deployments.flatten());
    if let Some(f) = &req.features {
        check_features(&mut c, f);
    }
    c.finish()?;
    let license = state
        .store
        .update_license(
            id,
            LicensePatch {
                name,
                plan: req.plan,
                seats: req.seats,
                features: req.features,
                trial: req.trial,
                max_deployments: req.max_deployments,
                starts_at: req.starts_at,
                expires_at: req.expires_at,
            },
        )
        .await?;
    Ok(Json(license))
}

/// Revoke a license (superusers): its organization is on the free plan at once, and its
/// deployments learn it at their next heartbeat. The record stays.
#[utoipa::path(delete, path = "/licenses/{id}", tag = "licenses",
    params(("id" = String, Path, description = "License id")),
    responses((status = 200, body = License), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_license(
    State(state): State<AppState>,
    _: SuperuserCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<License>> {
    let id = parse_id(&id, "License")?;
    Ok(Json(state.store.revoke_license(id).await?))
}

/// The organization's plan, limits and usage, and its license (any member). Without a license
/// the organization is on the free plan.
#[utoipa::path(get, path = "/organizations/{org}/license", tag = "licenses",
    params(("org" = String, Path, description = "Organization id or slug")),
    responses((status = 200, body = OrganizationLicense), (status = 401, body = ErrorBody),
        (status = 403, description = "`organization_banned`", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn organization_license(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
) -> ApiResult<Json<OrganizationLicense>> {
    Ok(Json(state.store.organization_license(access.id).await?))
}

/// Attach a license, replacing the current one: `license_key` (an owner holding the key) or
/// `license_id` (superusers). A license belongs to at most one organization.
#[utoipa::path(put, path = "/organizations/{org}/license", tag = "licenses",
    params(("org" = String, Path, description = "Organization id or slug")),
    request_body = AttachLicenseRequest,
    responses((status = 200, body = OrganizationLicense),
        (status = 400, description = "Not exactly one of the two, or a malformed key", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not an owner, an id from a non-superuser, `organization_suspended` or `organization_inactive`", body = ErrorBody),
        (status = 404, description = "No such organization, or no usable license with that key (unknown, revoked or expired alike)", body = ErrorBody),
        (status = 409, description = "The license belongs to another organization, or (by id) is revoked or expired", body = ErrorBody)))]
pub async fn attach_license(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Json(req): Json<AttachLicenseRequest>,
) -> ApiResult<Json<OrganizationLicense>> {
    let which = match (req.license_id, req.license_key) {
        (Some(id), None) => LicenseRef::Id(id),
        (None, Some(key)) => LicenseRef::Key(
            parse_secret(key.trim(), LICENSE_KEY_PREFIX)
                .ok_or_else(|| ApiError::invalid("The license key is not valid"))?,
        ),
        _ => {
            return Err(ApiError::invalid(
                "Give exactly one of license_id and license_key",
            ));
        }
    };
    state
        .store
        .attach_license(access.id, access.actor, which)
        .await?;
    Ok(Json(state.store.organization_license(access.id).await?))
}

/// Remove the organization's license: back to the free plan (owners).
#[utoipa::path(delete, path = "/organizations/{org}/license", tag = "licenses",
    params(("org" = String, Path, description = "Organization id or slug")),
    responses((status = 200, body = Ok), (status = 401, body = ErrorBody),
        (status = 403, description = "Not an owner, `organization_suspended` or `organization_inactive`", body = ErrorBody),
        (status = 404, description = "No such organization, or it holds no license", body = ErrorBody)))]
pub async fn detach_license(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
) -> ApiResult<Json<Ok>> {
    state.store.detach_license(access.id, access.actor).await?;
    Ok(ok())
}

/// The deployments registered under the organization's license (owners and admins), with
/// `status` `stale` when no heartbeat arrived within the installation's window.
#[utoipa::path(get, path = "/organizations/{org}/deployments", tag = "licenses",
    params(("org" = String, Path, description = "Organization id or slug"), super::PageQuery),
    responses((status = 200, body = Vec<Deployment>, headers(("link" = String, description = "RFC 8288 next page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_deployments(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    uri: Uri,
    Listing { page, .. }: Listing<super::ById>,
) -> ApiResult<Response> {
    let list = state.store.list_deployments(access.id, &page).await?;
    Ok(paged(&uri, &page, list, |d| Cursor::Id(d.id)))
}

/// Remove a deployment of the organization's license (owners and admins); its token stops
/// working and its seat under the license's deployment cap is free again.
#[utoipa::path(delete, path = "/organizations/{org}/deployments/{id}", tag = "licenses",
    params(("org" = String, Path, description = "Organization id or slug"),
        ("id" = String, Path, description = "Deployment id")),
    responses((status = 200, body = Ok), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_deployment(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id)): Path<(String, String)>,
) -> ApiResult<Json<Ok>> {
    let id = parse_id(&id, "Deployment")?;
    state.store.delete_deployment(access.id, id).await?;
    Ok(ok())
}

fn invalid_license_key() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "The license key is not valid",
    )
}

/// Register a self-hosted installation under a license (no bearer token: the license key is
/// the credential). A key that is unknown, revoked, expired or not yet valid is refused alike.
/// Rate-limited per key.
#[utoipa::path(post, path = "/deployments/register", tag = "licenses", security(()),
    request_body = RegisterDeploymentRequest,
    responses((status = 201, body = RegisteredDeployment), (status = 400, body = ErrorBody),
        (status = 401, description = "`invalid_credentials`: the key is not valid", body = ErrorBody),
        (status = 403, description = "`plan_limit_reached`: the license's deployment cap", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn register_deployment(
    State(state): State<AppState>,
    Json(req): Json<RegisterDeploymentRequest>,
) -> ApiResult<(StatusCode, Json<RegisteredDeployment>)> {
    let mut c = Checks::new();
    let name = c.check("name", validate::name(&req.name, 256));
    let hostname = c.check("hostname", validate::name(&req.hostname, 253));
    let version = c.check("version", validate::name(&req.version, 64));
    c.finish()?;
    let key = req.license_key.trim();
    if let Some(limits) = &state.limits {
        // Keyed by the key's hash: well-formed or not, each key gets its own budget.
        limits
            .deployments
            .hit(&format!("register:{}", hex(&hash_token(key))))?;
    }
    let key_hash = parse_secret(key, LICENSE_KEY_PREFIX).ok_or_else(invalid_license_key)?;
    let (token, token_hash) = mint_secret(DEPLOYMENT_TOKEN_PREFIX);
    let deployment = state
        .store
        .register_deployment(
            key_hash,
            NewDeployment {
                name: name.unwrap_or_default(),
                hostname: hostname.unwrap_or_default(),
                version: version.unwrap_or_default(),
                token_hash,
            },
        )
        .await?
        .ok_or_else(invalid_license_key)?;
    Ok((
        StatusCode::CREATED,
        Json(RegisteredDeployment {
            id: deployment.id,
            token,
            deployment,
        }),
    ))
}

/// A deployment's heartbeat, authenticated by its own token (`Authorization: Bearer
/// orgd_dep_…`). Answers the license as it stands now, so an installation learns of an expiry
/// or a revocation. Rate-limited per deployment.
#[utoipa::path(post, path = "/deployments/{id}/heartbeat", tag = "licenses", security(("deployment" = [])),
    params(("id" = String, Path, description = "Deployment id")), request_body = HeartbeatRequest,
    responses((status = 200, body = HeartbeatResponse), (status = 400, body = ErrorBody),
        (status = 401, description = "Missing token, or not this deployment's", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn heartbeat(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    Json(req): Json<HeartbeatRequest>,
) -> ApiResult<Json<HeartbeatResponse>> {
    let token_hash = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
        .and_then(|t| parse_secret(t, DEPLOYMENT_TOKEN_PREFIX))
        .ok_or_else(ApiError::unauthenticated)?;
    let id = parse_id(&id, "Deployment").map_err(|_| ApiError::unauthenticated())?;
    let mut c = Checks::new();
    let version = c.check("version", validate::name(&req.version, 64));
    c.finish()?;
    if let Some(limits) = &state.limits {
        limits.deployments.hit(&format!("heartbeat:{id}"))?;
    }
    let (deployment, license) = state
        .store
        .heartbeat(id, token_hash, version.unwrap_or_default())
        .await?
        .ok_or_else(ApiError::unauthenticated)?;
    Ok(Json(HeartbeatResponse {
        ok: true,
        deployment,
        license: LicenseState {
            plan: license.plan,
            status: license.status,
            trial: license.trial,
            expires_at: license.expires_at,
            features: license.features,
        },
    }))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
