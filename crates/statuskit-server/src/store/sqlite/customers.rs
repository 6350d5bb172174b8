//! [`CustomerStore`] on SQLite: the customers of each account, and the counter POST ids come
//! from.

use std::time::Duration;

use super::{map_err, now_ms, SqliteStore};
use crate::store::{one_row_changed, Customer, CustomerData, CustomerStore, StoreError, StoreResult};

const COLUMNS: &str = "id, account_id, name, email, version, created_ms, updated_ms";

/// How often a POST takes another id when a PUT took the one it was given between its choice and
/// its insert (not with SQLite, which runs one writer at a time; kept for stores that do not).
const ID_ATTEMPTS: usize = 3;

/// How many taken ids the search for a free POST id reads at a time.
const ID_SCAN: i64 = 64;

/// A primary-key clash on `customers.id`.
fn is_id_clash(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation() && db.message().contains("customers.id"))
}

impl SqliteStore {
    /// Inserts a customer under the next POST id, in one transaction with the counter; `None`
    /// if the account's idempotency key is already on a row.
    ///
    /// The counter (`customer_ids`, migration 0004) hands out POST ids in order and is never
    /// moved by ids a PUT chose: it skips the ones it finds taken, reading only the run of taken
    /// ids that starts at it, and moves past them, so each PUT-made id is stepped over once. The
    /// transaction starts by writing the counter, so concurrent POSTs queue for SQLite's write
    /// lock and never see the same value. A store with concurrent writers (PostgreSQL) does the
    /// same under `SELECT … FOR UPDATE` of the counter row; a PUT that takes the chosen id in
    /// between makes the insert fail with `IdTaken`, and the caller tries again.
    async fn insert_new(
        &self,
        account: i64,
        data: &CustomerData,
        key: Option<&str>,
        now: i64,
    ) -> StoreResult<Option<Customer>> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let mut free: i64 = sqlx::query_scalar("UPDATE customer_ids SET next_id = next_id RETURNING next_id")
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        loop {
            let taken: Vec<i64> = sqlx::query_scalar("SELECT id FROM customers WHERE id >= ? ORDER BY id LIMIT ?")
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
        sqlx::query("UPDATE customer_ids SET next_id = ?").bind(free + 1).execute(&mut *tx).await.map_err(map_err)?;
        let inserted: Option<Customer> = sqlx::query_as(&format!(
            "INSERT INTO customers (id, account_id, name, email, version, created_ms, updated_ms, idempotency_key)
             VALUES (?, ?, ?, ?, 1, ?, ?, ?)
             ON CONFLICT (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
             RETURNING {COLUMNS}"
        ))
        .bind(free)
        .bind(account)
        .bind(&data.name)
        .bind(&data.email)
        .bind(now)
        .bind(now)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| if is_id_clash(&e) { StoreError::IdTaken } else { map_err(e) })?;
        if inserted.is_some() {
            tx.commit().await.map_err(map_err)?;
        }
        // Otherwise dropped: rolled back, the counter unmoved.
        Ok(inserted)
    }
}

impl CustomerStore for SqliteStore {
    async fn list(&self, account: i64, after: i64, limit: u32) -> StoreResult<Vec<Customer>> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM customers WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?"))
            .bind(account)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)
    }

    async fn get(&self, account: i64, id: i64) -> StoreResult<Option<Customer>> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM customers WHERE id = ? AND account_id = ?"))
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
            let existing: Customer = sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM customers WHERE account_id = ? AND idempotency_key = ?"
            ))
            .bind(account)
            .bind(key)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
            let ttl_ms = idempotency.map_or(0, |(_, ttl)| ttl.as_millis() as i64);
            if existing.created_ms >= now - ttl_ms {
                return Ok((existing, false));
            }
            // The key outlived its time: it is free again.
            sqlx::query("UPDATE customers SET idempotency_key = NULL WHERE id = ?")
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
             VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING {COLUMNS}"
        ))
        .bind(id)
        .bind(account)
        .bind(&data.name)
        .bind(&data.email)
        .bind(now)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::IdTaken)
    }

    async fn update(&self, account: i64, id: i64, version: i64, data: &CustomerData) -> StoreResult<Customer> {
        sqlx::query_as(&format!(
            "UPDATE customers SET name = ?, email = ?, version = version + 1, updated_ms = ?
             WHERE id = ? AND account_id = ? AND version = ? RETURNING {COLUMNS}"
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
        let done = sqlx::query("DELETE FROM customers WHERE id = ? AND account_id = ? AND version = ?")
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
