//! [`OperationStore`] on PostgreSQL: the queue of background operations shared by every
//! instance, the leases workers hold on them, the LISTEN/NOTIFY wake-up, and the avatars they make.

use std::time::Duration;

use sqlx::postgres::PgRow;
use sqlx::{FromRow, Row};

use super::{map_err, now_ms, PgStore};
use crate::store::{
    one_row_changed, Avatar, Claimed, Image, InProgress, Operation, OperationStore, StoreError, StoreResult,
};

const OP_COLUMNS: &str = "id, user_id, kind, state, progress, error, created_ms, updated_ms";

/// How often queueing is tried again when the operation in the way finished in between.
const QUEUE_ATTEMPTS: usize = 3;

/// The LISTEN/NOTIFY channel on which a queued operation wakes every instance's worker.
const WORK_CHANNEL: &str = "statuskit_work";

impl OperationStore for PgStore {
    fn wake_on_new_work(&self, work: std::sync::Arc<tokio::sync::Notify>) {
        let pool = self.pool.clone();
        tokio::spawn(async move {
            loop {
                let listened: Result<std::convert::Infallible, sqlx::Error> = async {
                    let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
                    listener.listen(WORK_CHANNEL).await?;
                    loop {
                        // `recv` reconnects by itself after a lost connection.
                        listener.recv().await?;
                        work.notify_one();
                    }
                }
                .await;
                let Err(e) = listened;
                tracing::warn!(error = %e, "LISTEN for queued operations failed; workers poll until it is back");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    async fn queue_avatar(
        &self,
        user: i64,
        content_type: &str,
        input: &[u8],
    ) -> StoreResult<Result<Operation, InProgress>> {
        for _ in 0..QUEUE_ATTEMPTS {
            // The partial unique index `operations_one_active` makes the check and the insert
            // one atomic step, whichever instance queues.
            let now = now_ms();
            let queued: Option<Operation> = sqlx::query_as(&format!(
                "INSERT INTO operations (id, user_id, kind, state, progress, input, content_type, created_ms, updated_ms)
                 VALUES ($1, $2, 'avatar', 'queued', 0, $3, $4, $5, $5)
                 ON CONFLICT (user_id, kind) WHERE state IN ('queued', 'running') DO NOTHING
                 RETURNING {OP_COLUMNS}"
            ))
            .bind(ulid::Ulid::new().to_string())
            .bind(user)
            .bind(input)
            .bind(content_type)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
            if let Some(op) = queued {
                // Wakes the workers of every instance (see `wake_on_new_work`); a lost
                // notification only costs the workers' one-second poll.
                if let Err(e) = sqlx::query("SELECT pg_notify($1, '')").bind(WORK_CHANNEL).execute(&self.pool).await {
                    tracing::warn!(error = %e, "could not notify the workers of a queued operation");
                }
                return Ok(Ok(op));
            }
            let running: Option<String> = sqlx::query_scalar(
                "SELECT id FROM operations WHERE user_id = $1 AND kind = 'avatar' AND state IN ('queued', 'running')",
            )
            .bind(user)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
            if let Some(id) = running {
                return Ok(Err(InProgress { id }));
            }
            // It finished between the two statements: the way is free again.
        }
        Err(StoreError::VersionMoved)
    }

    async fn operation(&self, user: i64, id: &str) -> StoreResult<Option<Operation>> {
        sqlx::query_as(&format!("SELECT {OP_COLUMNS} FROM operations WHERE id = $1 AND user_id = $2"))
            .bind(id)
            .bind(user)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)
    }

    async fn claim(&self) -> StoreResult<Option<Claimed>> {
        // The oldest queued operation, or a running one whose lease ran out or whose instance is
        // gone; rows other workers are claiming at this moment are skipped, not waited for. A
        // resumed one starts over.
        let now = now_ms();
        let row: Option<PgRow> = sqlx::query(&format!(
            "UPDATE operations SET state = 'running', progress = 0, lease_owner = $1, lease_expires_ms = $2,
                    updated_ms = $3
             WHERE id = (SELECT id FROM operations
                         WHERE state = 'queued' OR (state = 'running' AND (lease_expires_ms <= $3 OR NOT {alive}))
                         ORDER BY created_ms LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING {OP_COLUMNS}, content_type, input",
            alive = alive!("lease_owner")
        ))
        .bind(&self.instance)
        .bind(self.lease_end(now))
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        let Some(row) = row else { return Ok(None) };
        let op = Operation::from_row(&row).map_err(map_err)?;
        let content_type: Option<String> = row.try_get("content_type").map_err(map_err)?;
        let input: Option<Vec<u8>> = row.try_get("input").map_err(map_err)?;
        Ok(Some(Claimed {
            operation: op,
            content_type: content_type.unwrap_or_default(),
            input: input.unwrap_or_default(),
        }))
    }

    async fn renew(&self, id: &str) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE operations SET lease_expires_ms = $1 WHERE id = $2 AND state = 'running' AND lease_owner = $3",
        )
        .bind(self.lease_end(now_ms()))
        .bind(id)
        .bind(&self.instance)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        one_row_changed(done.rows_affected())
    }

    /// Records progress and renews the lease; `VersionMoved` if this instance no longer holds it.
    async fn progress(&self, id: &str, progress: i64) -> StoreResult<()> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE operations SET progress = $1, updated_ms = $2, lease_expires_ms = $3
             WHERE id = $4 AND state = 'running' AND lease_owner = $5",
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

    /// Stores the images and marks the operation succeeded, all at once, only while this instance
    /// holds its lease; `VersionMoved` (nothing stored) otherwise.
    async fn succeed(&self, op: &Operation, images: &[Image]) -> StoreResult<()> {
        let now = now_ms();
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        // First, so the row stays locked (and ours) until the images are in.
        let fenced = sqlx::query(
            "UPDATE operations SET state = 'succeeded', progress = 100, input = NULL, updated_ms = $1,
                    lease_owner = NULL, lease_expires_ms = NULL
             WHERE id = $2 AND state = 'running' AND lease_owner = $3",
        )
        .bind(now)
        .bind(&op.id)
        .bind(&self.instance)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        one_row_changed(fenced.rows_affected())?;
        for image in images {
            sqlx::query(
                "INSERT INTO avatars (user_id, size, content_type, bytes, etag, updated_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)
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

    /// Fails the operation, only while this instance holds its lease; `VersionMoved` otherwise.
    async fn fail(&self, id: &str, error: &str) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE operations SET state = 'failed', error = $1, input = NULL, updated_ms = $2,
                    lease_owner = NULL, lease_expires_ms = NULL
             WHERE id = $3 AND state = 'running' AND lease_owner = $4",
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

    /// Queues again the running operations whose instance is gone or whose lease ran out; those
    /// other live instances hold are left to them.
    async fn requeue_running(&self) -> StoreResult<u64> {
        sqlx::query(concat!(
            "UPDATE operations SET state = 'queued', progress = 0, lease_owner = NULL, lease_expires_ms = NULL
             WHERE state = 'running' AND (lease_expires_ms IS NULL OR lease_expires_ms <= $1 OR NOT ",
            alive!("lease_owner"),
            ")"
        ))
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map(|r| r.rows_affected())
        .map_err(map_err)
    }

    async fn release(&self, id: &str) -> StoreResult<bool> {
        let released = sqlx::query(
            "UPDATE operations SET state = 'queued', progress = 0, lease_owner = NULL, lease_expires_ms = NULL
             WHERE id = $1 AND state = 'running' AND lease_owner = $2",
        )
        .bind(id)
        .bind(&self.instance)
        .execute(&self.pool)
        .await
        .map_err(map_err)?
        .rows_affected();
        if released > 0 {
            // Wakes the other instances' workers now, as a newly queued operation does.
            if let Err(e) = sqlx::query("SELECT pg_notify($1, '')").bind(WORK_CHANNEL).execute(&self.pool).await {
                tracing::warn!(error = %e, "could not notify the workers of released operations");
            }
        }
        Ok(released > 0)
    }

    async fn avatar(&self, user: i64, size: i64) -> StoreResult<Option<Avatar>> {
        sqlx::query_as("SELECT content_type, bytes, etag, updated_ms FROM avatars WHERE user_id = $1 AND size = $2")
            .bind(user)
            .bind(size)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)
    }
}
