//! [`OperationStore`] on SQLite: the queue of background operations, the leases workers hold on
//! them, and the avatars they make.

use super::{map_err, now_ms, SqliteStore};
use crate::store::{one_row_changed, Avatar, Claimed, Image, InProgress, Operation, OperationStore, StoreResult};

const OP_COLUMNS: &str = "id, user_id, kind, state, progress, error, created_ms, updated_ms";

impl OperationStore for SqliteStore {
    async fn queue_avatar(
        &self,
        user: i64,
        content_type: &str,
        input: &[u8],
    ) -> StoreResult<Result<Operation, InProgress>> {
        // One statement, so the check and the insert are atomic (a read-then-write transaction
        // would fail with SQLITE_BUSY_SNAPSHOT whenever the worker writes in between).
        let now = now_ms();
        let queued: Option<Operation> = sqlx::query_as(&format!(
            "INSERT INTO operations (id, user_id, kind, state, progress, input, content_type, created_ms, updated_ms)
             SELECT ?, ?, 'avatar', 'queued', 0, ?, ?, ?, ?
             WHERE NOT EXISTS (SELECT 1 FROM operations
                               WHERE user_id = ? AND kind = 'avatar' AND state IN ('queued', 'running'))
             RETURNING {OP_COLUMNS}"
        ))
        .bind(ulid::Ulid::new().to_string())
        .bind(user)
        .bind(input)
        .bind(content_type)
        .bind(now)
        .bind(now)
        .bind(user)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        if let Some(op) = queued {
            return Ok(Ok(op));
        }
        let running: Option<String> = sqlx::query_scalar(
            "SELECT id FROM operations WHERE user_id = ? AND kind = 'avatar' AND state IN ('queued', 'running')",
        )
        .bind(user)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(Err(InProgress { id: running.unwrap_or_default() }))
    }

    async fn operation(&self, user: i64, id: &str) -> StoreResult<Option<Operation>> {
        sqlx::query_as(&format!("SELECT {OP_COLUMNS} FROM operations WHERE id = ? AND user_id = ?"))
            .bind(id)
            .bind(user)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)
    }

    /// The oldest queued operation, or a running one whose lease ran out (its worker died or
    /// stalled); one statement, and SQLite runs one writer at a time, so two workers never claim
    /// one operation. A resumed one starts over.
    async fn claim(&self) -> StoreResult<Option<Claimed>> {
        let now = now_ms();
        let row: Option<(String,)> = sqlx::query_as(
            "UPDATE operations SET state = 'running', progress = 0, lease_owner = ?, lease_expires_ms = ?,
                    updated_ms = ?
             WHERE id = (SELECT id FROM operations
                         WHERE state = 'queued'
                            OR (state = 'running' AND (lease_expires_ms IS NULL OR lease_expires_ms <= ?))
                         ORDER BY created_ms LIMIT 1)
             RETURNING id",
        )
        .bind(&self.instance)
        .bind(self.lease_end(now))
        .bind(now)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        let Some((id,)) = row else { return Ok(None) };
        let op: Operation = sqlx::query_as(&format!("SELECT {OP_COLUMNS} FROM operations WHERE id = ?"))
            .bind(&id)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        let (content_type, input): (Option<String>, Option<Vec<u8>>) =
            sqlx::query_as("SELECT content_type, input FROM operations WHERE id = ?")
                .bind(&id)
                .fetch_one(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(Some(Claimed {
            operation: op,
            content_type: content_type.unwrap_or_default(),
            input: input.unwrap_or_default(),
        }))
    }

    async fn renew(&self, id: &str) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE operations SET lease_expires_ms = ? WHERE id = ? AND state = 'running' AND lease_owner = ?",
        )
        .bind(self.lease_end(now_ms()))
        .bind(id)
        .bind(&self.instance)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        one_row_changed(done.rows_affected())
    }

    /// Records progress and renews the lease; `VersionMoved` if this process no longer holds it.
    async fn progress(&self, id: &str, progress: i64) -> StoreResult<()> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE operations SET progress = ?, updated_ms = ?, lease_expires_ms = ?
             WHERE id = ? AND state = 'running' AND lease_owner = ?",
        )
        .bind(progress)
        .bind(now)
        .bind(self.lease_end(now))
        .bind(id)
        .bind(&self.instance)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        one_row_changed(done.rows_affected())
    }

    async fn succeed(&self, op: &Operation, images: &[Image]) -> StoreResult<()> {
        let now = now_ms();
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        // First: the write lock SQLite takes here keeps the row ours until the images are in.
        let done = sqlx::query(
            "UPDATE operations SET state = 'succeeded', progress = 100, input = NULL, updated_ms = ?,
                    lease_owner = NULL, lease_expires_ms = NULL
             WHERE id = ? AND state = 'running' AND lease_owner = ?",
        )
        .bind(now)
        .bind(&op.id)
        .bind(&self.instance)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        one_row_changed(done.rows_affected())?;
        for image in images {
            sqlx::query(
                "INSERT INTO avatars (user_id, size, content_type, bytes, etag, updated_ms) VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (user_id, size) DO UPDATE SET content_type = excluded.content_type,
                 bytes = excluded.bytes, etag = excluded.etag, updated_ms = excluded.updated_ms",
            )
            .bind(op.user_id)
            .bind(image.size)
            .bind(&image.content_type)
            .bind(&image.bytes)
            .bind(&image.etag)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }

    /// Fails the operation, only while this process holds its lease; `VersionMoved` otherwise.
    async fn fail(&self, id: &str, error: &str) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE operations SET state = 'failed', error = ?, input = NULL, updated_ms = ?,
                    lease_owner = NULL, lease_expires_ms = NULL
             WHERE id = ? AND state = 'running' AND lease_owner = ?",
        )
        .bind(error)
        .bind(now_ms())
        .bind(id)
        .bind(&self.instance)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        one_row_changed(done.rows_affected())
    }

    /// Queues again the running operations whose lease ran out; those another live process on
    /// this file still holds are left to it.
    async fn requeue_running(&self) -> StoreResult<u64> {
        sqlx::query(
            "UPDATE operations SET state = 'queued', progress = 0, lease_owner = NULL, lease_expires_ms = NULL
             WHERE state = 'running' AND (lease_expires_ms IS NULL OR lease_expires_ms <= ?)",
        )
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map(|r| r.rows_affected())
        .map_err(map_err)
    }

    async fn release(&self, id: &str) -> StoreResult<bool> {
        sqlx::query(
            "UPDATE operations SET state = 'queued', progress = 0, lease_owner = NULL, lease_expires_ms = NULL
             WHERE id = ? AND state = 'running' AND lease_owner = ?",
        )
        .bind(id)
        .bind(&self.instance)
        .execute(&self.pool)
        .await
        .map(|r| r.rows_affected() > 0)
        .map_err(map_err)
    }

    async fn avatar(&self, user: i64, size: i64) -> StoreResult<Option<Avatar>> {
        sqlx::query_as("SELECT content_type, bytes, etag, updated_ms FROM avatars WHERE user_id = ? AND size = ?")
            .bind(user)
            .bind(size)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)
    }
}
