//! [`MaintenanceStore`] on PostgreSQL: the one-row maintenance switch every instance polls.

use super::{map_err, now_ms, PgStore};
use crate::store::{MaintenanceStore, StoreResult};

impl MaintenanceStore for PgStore {
    async fn maintenance(&self) -> StoreResult<Option<u64>> {
        let row: Option<(bool, i64)> =
            sqlx::query_as("SELECT enabled, retry_after_seconds FROM maintenance WHERE id = 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(row.and_then(|(enabled, secs)| enabled.then(|| u64::try_from(secs).unwrap_or(1).max(1))))
    }

    async fn set_maintenance(&self, retry_after_seconds: Option<u64>) -> StoreResult<()> {
        let query = match retry_after_seconds {
            Some(secs) => sqlx::query(
                "INSERT INTO maintenance (id, enabled, retry_after_seconds, updated_ms) VALUES (1, TRUE, $1, $2)
                 ON CONFLICT (id) DO UPDATE SET enabled = excluded.enabled,
                 retry_after_seconds = excluded.retry_after_seconds, updated_ms = excluded.updated_ms",
            )
            .bind(i64::try_from(secs.max(1)).unwrap_or(i64::MAX)),
            // The row stays (with the last `Retry-After`); a missing row reads as off anyway.
            None => sqlx::query("UPDATE maintenance SET enabled = FALSE, updated_ms = $1 WHERE id = 1"),
        };
        query.bind(now_ms()).execute(&self.pool).await.map(|_| ()).map_err(map_err)
    }
}
