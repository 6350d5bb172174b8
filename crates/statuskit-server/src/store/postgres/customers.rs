//! [`CustomerStore`] on PostgreSQL: the customers of each account, and the counter POST ids come
//! from, locked by each POST's transaction.

use std::time::Duration;

use super::{map_err, now_ms, PgStore};
use crate::store::{one_row_changed, Customer, CustomerData, CustomerStore, StoreError, StoreResult};

const COLUMNS: &str = "id, account_id, name, email, version, created_ms, updated_ms";

/// How often a POST takes another id when a PUT took the one it was given between its choice and
/// its insert.
const ID_ATTEMPTS: usize = 3;

/// How many taken ids the search for a free POST id reads at a time.
const ID_SCAN: i64 = 64;

impl PgStore {
    /// Inserts a customer under the next POST id, in one transaction with the counter; `None`
    /// if the account's idempotency key is already on a row.
    ///
    /// The counter row is locked first (`SELECT … FOR UPDATE`), so POSTs queue for it and never
    /// see the same value; the run of taken ids that starts at it is skipped, as on SQLite.
    async fn insert_new(
        &self,
        account: i64,
        data: &CustomerData,
        key: Option<&str>,
        now: i64,
    ) -> StoreResult<Option<Customer>> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let mut free: i64 = sqlx::query_scalar("SELECT next_id FROM customer_ids FOR UPDATE")
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        loop {
            let taken: Vec<i64> = sqlx::query_scalar("SELECT id FROM customers WHERE id >= $1 ORDER BY id LIMIT $2")
                .bind(free)
                .bind(ID_SCAN)
                .fetch_all(&mut *tx)
                .await
                .map_err(map_err)?;
            let run = taken.iter().zip(free..).take_while(|(id, want)| *id == want).count();
            free += run as i64;
            if run < taken.len() || taken.len() < ID_SCAN as usize {
                break;
            }
        }
        if free > crate::store::MAX_ID {
            return Err(StoreError::NoFreeId);
        }
        sqlx::query("UPDATE customer_ids SET next_id = $1").bind(free + 1).execute(&mut *tx).await.map_err(map_err)?;
        let inserted: Option<Customer> = sqlx::query_as(&format!(
            "INSERT INTO customers (id, account_id, name, email, version, created_ms, updated_ms, idempotency_key)
             VALUES ($1, $2, $3, $4, 1, $5, $5, $6)
             ON CONFLICT (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
             RETURNING {COLUMNS}"
        ))
        .bind(free)
        .bind(account)
        .bind(&data.name)
        .bind(&data.email)
        .bind(now)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        if inserted.is_some() {
            tx.commit().await.map_err(map_err)?;
        }
        // Otherwise dropped: rolled back, the counter unmoved.
        Ok(inserted)
    }
}

impl CustomerStore for PgStore {
    async fn list(&self, account: i64, after: i64, limit: u32) -> StoreResult<Vec<Customer>> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM customers WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(account)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)
    }

    async fn get(&self, account: i64, id: i64) -> StoreResult<Option<Customer>> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM customers WHERE id = $1 AND account_id = $2"))
            .bind(id)
            .bind(account)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)
    }

    async fn create(
        &self,
        account: i64,
        data: &CustomerData,
        idempotency: Option<(&str, Duration)>,
    ) -> StoreResult<(Customer, bool)> {
        let key = idempotency.map(|(k, _)| k);
        for _ in 0..2 {
            let now = now_ms();
            let mut inserted = Err(StoreError::IdTaken);
            for _ in 0..ID_ATTEMPTS {
                inserted = self.insert_new(account, data, key, now).await;
                if !matches!(inserted, Err(StoreError::IdTaken)) {
                    break;
                }
            }
            if let Some(c) = inserted? {
                return Ok((c, true));
            }
            let existing: Option<Customer> = sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM customers WHERE account_id = $1 AND idempotency_key = $2"
            ))
            .bind(account)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
            // Gone between the two statements (its key expired and was freed): try again.
            let Some(existing) = existing else { continue };
            let ttl_ms = idempotency.map_or(0, |(_, ttl)| ttl.as_millis() as i64);
            if existing.created_ms >= now - ttl_ms {
                return Ok((existing, false));
            }
            // The key outlived its time: it is free again.
            sqlx::query("UPDATE customers SET idempotency_key = NULL WHERE id = $1")
                .bind(existing.id)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
        }
        Err(StoreError::VersionMoved)
    }

    async fn create_with_id(&self, account: i64, id: i64, data: &CustomerData) -> StoreResult<Customer> {
        let now = now_ms();
        sqlx::query_as(&format!(
            "INSERT INTO customers (id, account_id, name, email, version, created_ms, updated_ms)
             VALUES ($1, $2, $3, $4, 1, $5, $5) ON CONFLICT (id) DO NOTHING RETURNING {COLUMNS}"
        ))
        .bind(id)
        .bind(account)
        .bind(&data.name)
        .bind(&data.email)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::IdTaken)
    }

    async fn update(&self, account: i64, id: i64, version: i64, data: &CustomerData) -> StoreResult<Customer> {
        sqlx::query_as(&format!(
            "UPDATE customers SET name = $1, email = $2, version = version + 1, updated_ms = $3
             WHERE id = $4 AND account_id = $5 AND version = $6 RETURNING {COLUMNS}"
        ))
        .bind(&data.name)
        .bind(&data.email)
        .bind(now_ms())
        .bind(id)
        .bind(account)
        .bind(version)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::VersionMoved)
    }

    async fn delete(&self, account: i64, id: i64, version: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM customers WHERE id = $1 AND account_id = $2 AND version = $3")
            .bind(id)
            .bind(account)
            .bind(version)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        one_row_changed(done.rows_affected())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ()).map_err(map_err)
    }
}
