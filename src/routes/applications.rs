//! Applications of an organization, optionally inside one of its projects. Any member reads
//! them; owners and admins create, change and delete them.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ById, Json, Listing, Ok, Path, nullable, ok, paged, parse_id};
use crate::AppState;
use crate::auth::OrgContext;
use crate::domain::paging::Cursor;
use crate::domain::validate::{self, Checks};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::store::{Application, ApplicationPatch};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApplicationRequest {
    /// 1 to 256 characters.
    pub name: String,
    /// A project of the same organization.
    pub project_id: Option<Uuid>,
    pub description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateApplicationRequest {
    pub name: Option<String>,
    /// `null` moves the application out of its project.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub project_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

/// Applications of the organization (any member).
#[utoipa::path(get, path = "/organizations/{org}/applications", tag = "applications",
    params(("org" = String, Path, description = "Organization id or slug"), super::PageQuery),
    responses((status = 200, body = Vec<Application>, headers(("link" = String, description = "RFC 8288 next page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    uri: Uri,
    Listing { page, .. }: Listing<ById>,
) -> ApiResult<Response> {
    let items = state.store.list_applications(access.id, &page).await?;
    Ok(paged(&uri, &page, items, |a| Cursor::Id(a.id)))
}

/// Create an application (owners and admins).
#[utoipa::path(post, path = "/organizations/{org}/applications", tag = "applications",
    params(("org" = String, Path, description = "Organization id or slug")), request_body = CreateApplicationRequest,
    responses((status = 201, body = Application), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`project_id` names no project of this organization", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Json(req): Json<CreateApplicationRequest>,
) -> ApiResult<(StatusCode, Json<Application>)> {
    let mut c = Checks::new();
    let name = c.check("name", validate::org_name(&req.name));
    let description = req
        .description
        .as_ref()
        .and_then(|d| c.check("description", validate::text(d, 4096)));
    c.finish()?;
    let app = state
        .store
        .create_application(
            access.id,
            name.unwrap_or_default(),
            req.project_id,
            description,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(app)))
}

/// An application (any member).
#[utoipa::path(get, path = "/organizations/{org}/applications/{id}", tag = "applications",
    params(("org" = String, Path, description = "Organization id or slug"), ("id" = String, Path, description = "Application id")),
    responses((status = 200, body = Application), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id)): Path<(String, String)>,
) -> ApiResult<Json<Application>> {
    let id = parse_id(&id, "Application")?;
    state
        .store
        .application(access.id, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Application"))
}

/// Change an application (owners and admins).
#[utoipa::path(patch, path = "/organizations/{org}/applications/{id}", tag = "applications",
    params(("org" = String, Path, description = "Organization id or slug"), ("id" = String, Path, description = "Application id")),
    request_body = UpdateApplicationRequest,
    responses((status = 200, body = Application), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`project_id` names no project of this organization", body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id)): Path<(String, String)>,
    Json(req): Json<UpdateApplicationRequest>,
) -> ApiResult<Json<Application>> {
    let id = parse_id(&id, "Application")?;
    let mut c = Checks::new();
    let patch = ApplicationPatch {
        name: req
            .name
            .as_ref()
            .and_then(|n| c.check("name", validate::org_name(n))),
        project_id: req.project_id,
        description: c.nullable("description", &req.description, |d| validate::text(d, 4096)),
    };
    c.finish()?;
    Ok(Json(
        state.store.update_application(access.id, id, patch).await?,
    ))
}

/// Delete an application (owners and admins).
#[utoipa::path(delete, path = "/organizations/{org}/applications/{id}", tag = "applications",
    params(("org" = String, Path, description = "Organization id or slug"), ("id" = String, Path, description = "Application id")),
    responses((status = 200, body = Ok), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id)): Path<(String, String)>,
) -> ApiResult<Json<Ok>> {
    let id = parse_id(&id, "Application")?;
    state.store.delete_application(access.id, id).await?;
    Ok(ok())
}
