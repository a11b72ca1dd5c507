//! Projects of an organization and their members.

use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use crate::domain::Timestamp;
use crate::domain::paging::{Cursor, Page};
use crate::domain::validate;
use crate::store::{Project, ProjectMember, ProjectPatch, ProjectRole, StoreError, StoreResult};

use super::engine::Db;
use super::licensing::{Addition, admit};
use super::organizations::{KeptCount, step_count};
use super::tx::{Tx, begin_write, commit, lock_org, role_of};
use super::{SqlStore, err, push_page};

#[derive(FromRow)]
struct ProjectRow {
    id: Uuid,
    name: String,
    slug: String,
    description: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<ProjectRow> for Project {
    fn from(r: ProjectRow) -> Self {
        Project {
            id: r.id,
            name: r.name,
            slug: r.slug,
            description: r.description,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(FromRow)]
struct ProjectMemberRow {
    user_id: Uuid,
    username: String,
    email: String,
    name: Option<String>,
    role: String,
    added_at: Timestamp,
}

impl From<ProjectMemberRow> for ProjectMember {
    fn from(r: ProjectMemberRow) -> Self {
        ProjectMember {
            user_id: r.user_id,
            username: r.username,
            email: r.email,
            name: r.name,
            role: ProjectRole::parse(&r.role).unwrap_or(ProjectRole::Viewer),
            added_at: r.added_at,
        }
    }
}

const PROJECT_MEMBER_SELECT: &str = "SELECT u.id AS user_id, u.username, u.email, u.name, \
     pm.role, pm.created_at AS added_at FROM project_members pm JOIN users u ON u.id = pm.user_id ";

async fn project_in(tx: &mut Tx, org: Uuid, id: Uuid) -> StoreResult<ProjectRow> {
    sqlx::query_as("SELECT * FROM projects WHERE organization_id = $1 AND id = $2")
        .bind(org)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(err)?
        .ok_or(StoreError::NotFound("Project"))
}

async fn project_slug_taken(tx: &mut Tx, org: Uuid, slug: &str, except: Uuid) -> StoreResult<bool> {
    let hit: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM projects WHERE organization_id = $1 AND lower(slug) = lower($2) AND id <> $3",
    )
    .bind(org)
    .bind(slug)
    .bind(except)
    .fetch_optional(&mut **tx)
    .await
    .map_err(err)?;
    Ok(hit.is_some())
}

async fn project_member_in(tx: &mut Tx, project: Uuid, user: Uuid) -> StoreResult<ProjectMember> {
    let mut q = QueryBuilder::<Db>::new(PROJECT_MEMBER_SELECT);
    q.push("WHERE pm.project_id = ");
    q.push_bind(project);
    q.push(" AND pm.user_id = ");
    q.push_bind(user);
    let row: Option<ProjectMemberRow> = q
        .build_query_as()
        .fetch_optional(&mut **tx)
        .await
        .map_err(err)?;
    row.map(ProjectMember::from)
        .ok_or(StoreError::NotFound("Project member"))
}

pub(super) async fn create_project(
    store: &SqlStore,
    org: Uuid,
    name: String,
    slug: Option<String>,
    description: Option<String>,
) -> StoreResult<Project> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    admit(&mut tx, org, Addition::Project).await?;
    let slug = match slug {
        Some(s) => {
            if project_slug_taken(&mut tx, org, &s, Uuid::nil()).await? {
                return Err(StoreError::Conflict("slug is already taken".into()));
            }
            s
        }
        None => {
            let base = validate::slug_from_name(&name);
            let mut candidate = base.clone();
            let mut n = 1;
            while project_slug_taken(&mut tx, org, &candidate, Uuid::nil()).await? {
                n += 1;
                candidate = format!("{base}-{n}");
            }
            candidate
        }
    };
    let now = Timestamp::now();
    let row = ProjectRow {
        id: Uuid::now_v7(),
        name,
        slug,
        description,
        created_at: now,
        updated_at: now,
    };
    crate::audit::target("project", row.id);
    sqlx::query(
        "INSERT INTO projects (id, organization_id, name, slug, description, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(row.id)
    .bind(org)
    .bind(&row.name)
    .bind(&row.slug)
    .bind(&row.description)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    step_count(&mut tx, org, KeptCount::Projects, true).await?;
    commit(tx).await?;
    Ok(row.into())
}

pub(super) async fn list_projects(
    store: &SqlStore,
    org: Uuid,
    page: &Page,
) -> StoreResult<Vec<Project>> {
    let mut q = QueryBuilder::<Db>::new("SELECT * FROM projects WHERE organization_id = ");
    q.push_bind(org);
    if let Some(Cursor::Id(after)) = page.after {
        q.push(" AND id > ");
        q.push_bind(after);
    }
    q.push(" ORDER BY id");
    push_page(&mut q, page);
    let rows: Vec<ProjectRow> = q
        .build_query_as()
        .fetch_all(&store.pool)
        .await
        .map_err(err)?;
    Ok(rows.into_iter().map(Project::from).collect())
}

pub(super) async fn project(store: &SqlStore, org: Uuid, id: Uuid) -> StoreResult<Option<Project>> {
    let row: Option<ProjectRow> =
        sqlx::query_as("SELECT * FROM projects WHERE organization_id = $1 AND id = $2")
            .bind(org)
            .bind(id)
            .fetch_optional(&store.pool)
            .await
            .map_err(err)?;
    Ok(row.map(Project::from))
}

pub(super) async fn update_project(
    store: &SqlStore,
    org: Uuid,
    id: Uuid,
    patch: ProjectPatch,
) -> StoreResult<Project> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    let mut p = project_in(&mut tx, org, id).await?;
    if let Some(slug) = patch.slug {
        if project_slug_taken(&mut tx, org, &slug, id).await? {
            return Err(StoreError::Conflict("slug is already taken".into()));
        }
        p.slug = slug;
    }
    if let Some(v) = patch.name {
        crate::audit::change("name", &p.name, &v);
        p.name = v;
    }
    if let Some(v) = patch.description {
        crate::audit::change("description", &p.description, &v);
        p.description = v;
    }
    p.updated_at = Timestamp::now();
    sqlx::query(
        "UPDATE projects SET name = $1, slug = $2, description = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(&p.name)
    .bind(&p.slug)
    .bind(&p.description)
    .bind(p.updated_at)
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    commit(tx).await?;
    Ok(p.into())
}

pub(super) async fn delete_project(store: &SqlStore, org: Uuid, id: Uuid) -> StoreResult<()> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    let done = sqlx::query("DELETE FROM projects WHERE organization_id = $1 AND id = $2")
        .bind(org)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("Project"));
    }
    step_count(&mut tx, org, KeptCount::Projects, false).await?;
    commit(tx).await
}

pub(super) async fn project_role(
    store: &SqlStore,
    project: Uuid,
    user: Uuid,
) -> StoreResult<Option<ProjectRole>> {
    let role: Option<String> = sqlx::query_scalar(
        "SELECT role FROM project_members WHERE project_id = $1 AND user_id = $2",
    )
    .bind(project)
    .bind(user)
    .fetch_optional(&store.pool)
    .await
    .map_err(err)?;
    Ok(role.as_deref().and_then(ProjectRole::parse))
}

pub(super) async fn list_project_members(
    store: &SqlStore,
    org: Uuid,
    project: Uuid,
    page: &Page,
) -> StoreResult<Vec<ProjectMember>> {
    if self::project(store, org, project).await?.is_none() {
        return Err(StoreError::NotFound("Project"));
    }
    let mut q = QueryBuilder::<Db>::new(PROJECT_MEMBER_SELECT);
    q.push("WHERE pm.project_id = ");
    q.push_bind(project);
    if let Some(Cursor::At(ms, user)) = page.after {
        q.push(" AND (pm.created_at > ");
        q.push_bind(ms);
        q.push(" OR (pm.created_at = ");
        q.push_bind(ms);
        q.push(" AND pm.user_id > ");
        q.push_bind(user);
        q.push("))");
    }
    q.push(" ORDER BY pm.created_at, pm.user_id");
    push_page(&mut q, page);
    let rows: Vec<ProjectMemberRow> = q
        .build_query_as()
        .fetch_all(&store.pool)
        .await
        .map_err(err)?;
    Ok(rows.into_iter().map(ProjectMember::from).collect())
}

pub(super) async fn add_project_member(
    store: &SqlStore,
    org: Uuid,
    project: Uuid,
    user: Uuid,
    role: ProjectRole,
) -> StoreResult<ProjectMember> {
    let mut tx = begin_write(store).await?;
    // The membership cannot vanish under us: removals take the same lock.
    lock_org(&mut tx, org).await?;
    project_in(&mut tx, org, project).await?;
    if role_of(&mut tx, org, user).await?.is_none() {
        return Err(StoreError::Conflict(
            "only members of the organization can join its projects".into(),
        ));
    }
    let exists: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM project_members WHERE project_id = $1 AND user_id = $2")
            .bind(project)
            .bind(user)
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?;
    if exists.is_some() {
        return Err(StoreError::Conflict("already a project member".into()));
    }
    crate::audit::target("user", user);
    sqlx::query("INSERT INTO project_members (project_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
        .bind(project)
        .bind(user)
        .bind(role.as_str())
        .bind(Timestamp::now())
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    let m = project_member_in(&mut tx, project, user).await?;
    commit(tx).await?;
    Ok(m)
}

pub(super) async fn update_project_member(
    store: &SqlStore,
    org: Uuid,
    project: Uuid,
    user: Uuid,
    role: ProjectRole,
) -> StoreResult<ProjectMember> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    project_in(&mut tx, org, project).await?;
    let done =
        sqlx::query("UPDATE project_members SET role = $1 WHERE project_id = $2 AND user_id = $3")
            .bind(role.as_str())
            .bind(project)
            .bind(user)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("Project member"));
    }
    let m = project_member_in(&mut tx, project, user).await?;
    commit(tx).await?;
    Ok(m)
}

pub(super) async fn remove_project_member(
    store: &SqlStore,
    org: Uuid,
    project: Uuid,
    user: Uuid,
) -> StoreResult<()> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    project_in(&mut tx, org, project).await?;
    let done = sqlx::query("DELETE FROM project_members WHERE project_id = $1 AND user_id = $2")
        .bind(project)
        .bind(user)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("Project member"));
    }
    commit(tx).await
}
