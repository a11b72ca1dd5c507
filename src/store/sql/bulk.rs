//! Bulk loading for `orgd admin seed`.

use async_trait::async_trait;
use sqlx::QueryBuilder;
use sqlx::types::Json;

use crate::domain::Timestamp;
use crate::store::{Bulk, SeedBatch, StoreResult};

use super::engine::{AFTER_ANALYZE, Db};
use super::tx::{begin_write, commit};
use super::{SqlStore, err};

/// Rows per INSERT statement: 4 to 6 parameters a row stays far below both engines' limits.
const BULK_ROWS: usize = 2000;

#[async_trait]
impl Bulk for SqlStore {
    async fn load(&self, batch: SeedBatch) -> StoreResult<()> {
        let now = Timestamp::now();
        let mut tx = begin_write(self).await?;
        for chunk in batch.users.chunks(BULK_ROWS) {
            let mut q = QueryBuilder::<Db>::new(
                "INSERT INTO users (id, username, email, password_hash, metadata, created_at, updated_at) ",
            );
            q.push_values(chunk, |mut row, (id, username, email, hash)| {
                row.push_bind(*id)
                    .push_bind(username.clone())
                    .push_bind(email.clone())
                    .push_bind(hash.clone())
                    .push_bind(Json(serde_json::json!({})))
                    .push_bind(now)
                    .push_bind(now);
            });
            q.build().execute(&mut *tx).await.map_err(err)?;
        }
        for chunk in batch.organizations.chunks(BULK_ROWS) {
            let mut q = QueryBuilder::<Db>::new(
                "INSERT INTO organizations (id, name, slug, owner_id, managed_by, metadata, created_at, updated_at) ",
            );
            q.push_values(chunk, |mut row, (id, name, slug, owner)| {
                row.push_bind(*id)
                    .push_bind(name.clone())
                    .push_bind(slug.clone())
                    .push_bind(*owner)
                    .push_bind(Json(serde_json::json!([])))
                    .push_bind(Json(serde_json::json!({})))
                    .push_bind(now)
                    .push_bind(now);
            });
            q.build().execute(&mut *tx).await.map_err(err)?;
        }
        for chunk in batch.memberships.chunks(BULK_ROWS) {
            let mut q = QueryBuilder::<Db>::new(
                "INSERT INTO memberships (organization_id, user_id, role, created_at) ",
            );
            q.push_values(chunk, |mut row, (org, user, role)| {
                row.push_bind(*org)
                    .push_bind(*user)
                    .push_bind(role.as_str())
                    .push_bind(now);
            });
            q.build().execute(&mut *tx).await.map_err(err)?;
        }
        // The kept member counts of every organization the batch touched.
        let mut orgs: Vec<uuid::Uuid> = batch.memberships.iter().map(|(o, _, _)| *o).collect();
        orgs.sort_unstable();
        orgs.dedup();
        for chunk in orgs.chunks(BULK_ROWS) {
            let mut q = QueryBuilder::<Db>::new(
                "UPDATE organizations SET member_count = (SELECT COUNT(*) FROM memberships m \
                 JOIN users u ON u.id = m.user_id WHERE m.organization_id = organizations.id \
                 AND u.is_active) WHERE id IN (",
            );
            let mut ids = q.separated(", ");
            for id in chunk {
                ids.push_bind(*id);
            }
            q.push(")");
            q.build().execute(&mut *tx).await.map_err(err)?;
        }
        commit(tx).await
    }

    async fn analyze(&self) -> StoreResult<()> {
        sqlx::query("ANALYZE")
            .execute(&self.pool)
            .await
            .map_err(err)?;
        for statement in AFTER_ANALYZE {
            // Absent when SQLite was built without STAT4: nothing to undo then.
            if let Err(e) = sqlx::query(*statement).execute(&self.pool).await {
                tracing::debug!(error = %e, "after ANALYZE");
            }
        }
        crate::store::cache::bump_all();
        Ok(())
    }
}
