//! Projects and their members. Any organization member reads them; owners and admins create,
//! change and delete them; project admins (and organization owners and admins) manage a
//! project's members.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ByAdded, ById, Json, Listing, Ok, Path, nullable, ok, paged, parse_id};
use crate::AppState;
use crate::auth::{OrgAccess, OrgContext};
use crate::domain::paging::Cursor;
use crate::domain::validate::{self, Checks};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::store::{Project, ProjectMember, ProjectPatch, ProjectRole};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectRequest {
    /// 1 to 256 characters.
    pub name: String,
    /// `^[a-zA-Z0-9-]+$`, unique in the organization; derived from the name when omitted.
    pub slug: Option<String>,
    pub description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProjectRequest {
    pub name: Option<String>,
    pub slug: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddProjectMemberRequest {
    /// A member of the organization.
    pub user_id: Uuid,
    /// Default `viewer`.
    pub role: Option<ProjectRole>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProjectMemberRequest {
    pub role: ProjectRole,
}

async fn project_id(state: &AppState, access: &OrgAccess, raw: &str) -> ApiResult<Uuid> {
    let id = parse_id(raw, "Project")?;
    state
        .store
        .project(access.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Project"))?;
    Ok(id)
}

/// Projects of the organization (any member).
#[utoipa::path(get, path = "/organizations/{org}/projects", tag = "projects",
    params(("org" = String, Path, description = "Organization id or slug"), super::PageQuery),
    responses((status = 200, body = Vec<Project>, headers(("link" = String, description = "RFC 8288 next page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    uri: Uri,
    Listing { page, .. }: Listing<ById>,
) -> ApiResult<Response> {
    let items = state.store.list_projects(access.id, &page).await?;
    Ok(paged(&uri, &page, items, |p| Cursor::Id(p.id)))
}

/// Create a project (owners and admins).
#[utoipa::path(post, path = "/organizations/{org}/projects", tag = "projects",
    params(("org" = String, Path, description = "Organization id or slug")), request_body = CreateProjectRequest,
    responses((status = 201, body = Project), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Json(req): Json<CreateProjectRequest>,
) -> ApiResult<(StatusCode, Json<Project>)> {
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
    c.finish()?;
    let p = state
        .store
        .create_project(access.id, name.unwrap_or_default(), slug, description)
        .await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// A project (any member).
#[utoipa::path(get, path = "/organizations/{org}/projects/{id}", tag = "projects",
    params(("org" = String, Path, description = "Organization id or slug"), ("id" = String, Path, description = "Project id")),
    responses((status = 200, body = Project), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id)): Path<(String, String)>,
) -> ApiResult<Json<Project>> {
    let id = parse_id(&id, "Project")?;
    state
        .store
        .project(access.id, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Project"))
}

/// Change a project (owners and admins).
#[utoipa::path(patch, path = "/organizations/{org}/projects/{id}", tag = "projects",
    params(("org" = String, Path, description = "Organization id or slug"), ("id" = String, Path, description = "Project id")),
    request_body = UpdateProjectRequest,
    responses((status = 200, body = Project), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id)): Path<(String, String)>,
    Json(req): Json<UpdateProjectRequest>,
) -> ApiResult<Json<Project>> {
    let id = parse_id(&id, "Project")?;
    let mut c = Checks::new();
    let patch = ProjectPatch {
        name: req
            .name
            .as_ref()
            .and_then(|n| c.check("name", validate::org_name(n))),
        slug: req
            .slug
            .as_ref()
            .and_then(|s| c.check("slug", validate::slug(s))),
        description: c.nullable("description", &req.description, |d| validate::text(d, 4096)),
    };
    c.finish()?;
    Ok(Json(
        state.store.update_project(access.id, id, patch).await?,
    ))
}

/// Delete a project with its memberships; its applications stay, outside any project.
#[utoipa::path(delete, path = "/organizations/{org}/projects/{id}", tag = "projects",
    params(("org" = String, Path, description = "Organization id or slug"), ("id" = String, Path, description = "Project id")),
    responses((status = 200, body = Ok), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id)): Path<(String, String)>,
) -> ApiResult<Json<Ok>> {
    let id = parse_id(&id, "Project")?;
    state.store.delete_project(access.id, id).await?;
    Ok(ok())
}

/// Members of a project (any organization member).
#[utoipa::path(get, path = "/organizations/{org}/projects/{id}/members", tag = "projects",
    params(("org" = String, Path, description = "Organization id or slug"), ("id" = String, Path, description = "Project id"), super::PageQuery),
    responses((status = 200, body = Vec<ProjectMember>, headers(("link" = String, description = "RFC 8288 next page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_members(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    uri: Uri,
    Path((_org, id)): Path<(String, String)>,
    Listing { page, .. }: Listing<ByAdded>,
) -> ApiResult<Response> {
    let id = parse_id(&id, "Project")?;
    let items = state
        .store
        .list_project_members(access.id, id, &page)
        .await?;
    Ok(paged(&uri, &page, items, |m| {
        Cursor::At(m.added_at.0, m.user_id)
    }))
}

/// Add an organization member to a project.
#[utoipa::path(post, path = "/organizations/{org}/projects/{id}/members", tag = "projects",
    params(("org" = String, Path, description = "Organization id or slug"), ("id" = String, Path, description = "Project id")),
    request_body = AddProjectMemberRequest,
    responses((status = 201, body = ProjectMember), (status = 400, description = "Not an organization member, or invalid input", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn add_member(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id)): Path<(String, String)>,
    Json(req): Json<AddProjectMemberRequest>,
) -> ApiResult<(StatusCode, Json<ProjectMember>)> {
    let project = project_id(&state, &access, &id).await?;
    let m = state
        .store
        .add_project_member(
            access.id,
            project,
            req.user_id,
            req.role.unwrap_or(ProjectRole::Viewer),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(m)))
}

/// Change a project member's role.
#[utoipa::path(patch, path = "/organizations/{org}/projects/{id}/members/{user}", tag = "projects",
    params(("org" = String, Path, description = "Organization id or slug"), ("id" = String, Path, description = "Project id"), ("user" = String, Path, description = "User id")),
    request_body = UpdateProjectMemberRequest,
    responses((status = 200, body = ProjectMember), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_member(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id, user)): Path<(String, String, String)>,
    Json(req): Json<UpdateProjectMemberRequest>,
) -> ApiResult<Json<ProjectMember>> {
    let project = project_id(&state, &access, &id).await?;
    let user = parse_id(&user, "Project member")?;
    Ok(Json(
        state
            .store
            .update_project_member(access.id, project, user, req.role)
            .await?,
    ))
}

/// Remove a project member.
#[utoipa::path(delete, path = "/organizations/{org}/projects/{id}/members/{user}", tag = "projects",
    params(("org" = String, Path, description = "Organization id or slug"), ("id" = String, Path, description = "Project id"), ("user" = String, Path, description = "User id")),
    responses((status = 200, body = Ok), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_member(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id, user)): Path<(String, String, String)>,
) -> ApiResult<Json<Ok>> {
    let project = project_id(&state, &access, &id).await?;
    let user = parse_id(&user, "Project member")?;
    state
        .store
        .remove_project_member(access.id, project, user)
        .await?;
    Ok(ok())
}
