//! Applications of an organization, each in at most one of its projects.

use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use crate::domain::Timestamp;
use crate::domain::paging::{Cursor, Page};
use crate::store::{Application, ApplicationPatch, StoreError, StoreResult};

use super::engine::Db;
use super::licensing::{Addition, admit};
use super::organizations::{KeptCount, step_count};
use super::tx::{Tx, begin_write, commit, lock_org};
use super::{SqlStore, err, push_page};

#[derive(FromRow)]
struct ApplicationRow {
    id: Uuid,
    name: String,
    project_id: Option<Uuid>,
    description: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<ApplicationRow> for Application {
    fn from(r: ApplicationRow) -> Self {
        Application {
            id: r.id,
            name: r.name,
            project_id: r.project_id,
            description: r.description,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

async fn check_app_project(tx: &mut Tx, org: Uuid, project: Option<Uuid>) -> StoreResult<()> {
    if let Some(p) = project {
        let hit: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM projects WHERE organization_id = $1 AND id = $2")
                .bind(org)
                .bind(p)
                .fetch_optional(&mut **tx)
                .await
                .map_err(err)?;
        if hit.is_none() {
            return Err(StoreError::Conflict(
                "project_id does not name a project of this organization".into(),
            ));
        }
    }
    Ok(())
}

pub(super) async fn create_application(
    store: &SqlStore,
    org: Uuid,
    name: String,
    project: Option<Uuid>,
    description: Option<String>,
) -> StoreResult<Application> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    admit(&mut tx, org, Addition::Application).await?;
    check_app_project(&mut tx, org, project).await?;
    let now = Timestamp::now();
    let row = ApplicationRow {
        id: Uuid::now_v7(),
        name,
        project_id: project,
        description,
        created_at: now,
        updated_at: now,
    };
    crate::audit::target("application", row.id);
    sqlx::query(
        "INSERT INTO applications (id, organization_id, project_id, name, description, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(row.id)
    .bind(org)
    .bind(row.project_id)
    .bind(&row.name)
    .bind(&row.description)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    step_count(&mut tx, org, KeptCount::Applications, true).await?;
    commit(tx).await?;
    Ok(row.into())
}

pub(super) async fn list_applications(
    store: &SqlStore,
    org: Uuid,
    page: &Page,
) -> StoreResult<Vec<Application>> {
    let mut q = QueryBuilder::<Db>::new(
        "SELECT id, name, project_id, description, created_at, updated_at FROM applications \
         WHERE organization_id = ",
    );
    q.push_bind(org);
    if let Some(Cursor::Id(after)) = page.after {
        q.push(" AND id > ");
        q.push_bind(after);
    }
    q.push(" ORDER BY id");
    push_page(&mut q, page);
    let rows: Vec<ApplicationRow> = q
        .build_query_as()
        .fetch_all(&store.pool)
        .await
        .map_err(err)?;
    Ok(rows.into_iter().map(Application::from).collect())
}

pub(super) async fn application(
    store: &SqlStore,
    org: Uuid,
    id: Uuid,
) -> StoreResult<Option<Application>> {
    let row: Option<ApplicationRow> = sqlx::query_as(
        "SELECT id, name, project_id, description, created_at, updated_at FROM applications \
         WHERE organization_id = $1 AND id = $2",
    )
    .bind(org)
    .bind(id)
    .fetch_optional(&store.pool)
    .await
    .map_err(err)?;
    Ok(row.map(Application::from))
}

pub(super) async fn update_application(
    store: &SqlStore,
    org: Uuid,
    id: Uuid,
    patch: ApplicationPatch,
) -> StoreResult<Application> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    let mut a: ApplicationRow = sqlx::query_as(
        "SELECT id, name, project_id, description, created_at, updated_at FROM applications \
         WHERE organization_id = $1 AND id = $2",
    )
    .bind(org)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(err)?
    .ok_or(StoreError::NotFound("Application"))?;
    if let Some(p) = patch.project_id {
        check_app_project(&mut tx, org, p).await?;
        a.project_id = p;
    }
    if let Some(v) = patch.name {
        crate::audit::change("name", &a.name, &v);
        a.name = v;
    }
    if let Some(v) = patch.description {
        crate::audit::change("description", &a.description, &v);
        a.description = v;
    }
    a.updated_at = Timestamp::now();
    sqlx::query(
        "UPDATE applications SET name = $1, project_id = $2, description = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(&a.name)
    .bind(a.project_id)
    .bind(&a.description)
    .bind(a.updated_at)
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    commit(tx).await?;
    Ok(a.into())
}

pub(super) async fn delete_application(store: &SqlStore, org: Uuid, id: Uuid) -> StoreResult<()> {
    let mut tx = begin_write(store).await?;
    lock_org(&mut tx, org).await?;
    let done = sqlx::query("DELETE FROM applications WHERE organization_id = $1 AND id = $2")
        .bind(org)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("Application"));
    }
    step_count(&mut tx, org, KeptCount::Applications, false).await?;
    commit(tx).await
}
