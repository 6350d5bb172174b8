//! The embedded default: one SQLite file in WAL mode with `synchronous = FULL`, so a write is on
//! disk before its 2xx is sent. The file and its schema are created on first start.

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{Customer, CustomerData, Store, StoreError, StoreResult};

/// A pool over one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn map_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() && db.message().contains("email") {
            return StoreError::Duplicate("email");
        }
    }
    StoreError::Other(e)
}

const COLUMNS: &str = "id, name, email, version, created_ms, updated_ms";

impl SqliteStore {
    /// Opens (creating if missing) the database file and runs the embedded migrations.
    pub async fn open(path: &Path) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }
}

impl Store for SqliteStore {
    async fn list(&self, after: i64, limit: u32) -> StoreResult<Vec<Customer>> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM customers WHERE id > ? ORDER BY id LIMIT ?"
        ))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)
    }

    async fn get(&self, id: i64) -> StoreResult<Option<Customer>> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM customers WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)
    }

    async fn create(&self, data: &CustomerData) -> StoreResult<Customer> {
        let now = now_ms();
        sqlx::query_as(&format!(
            "INSERT INTO customers (name, email, version, created_ms, updated_ms) VALUES (?, ?, 1, ?, ?) RETURNING {COLUMNS}"
        ))
        .bind(&data.name)
        .bind(&data.email)
        .bind(now)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)
    }

    async fn create_with_id(&self, id: i64, data: &CustomerData) -> StoreResult<Customer> {
        let now = now_ms();
        sqlx::query_as(&format!(
            "INSERT INTO customers (id, name, email, version, created_ms, updated_ms) VALUES (?, ?, ?, 1, ?, ?)
             ON CONFLICT (id) DO NOTHING RETURNING {COLUMNS}"
        ))
        .bind(id)
        .bind(&data.name)
        .bind(&data.email)
        .bind(now)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::VersionMoved)
    }

    async fn update(&self, id: i64, version: i64, data: &CustomerData) -> StoreResult<Customer> {
        sqlx::query_as(&format!(
            "UPDATE customers SET name = ?, email = ?, version = version + 1, updated_ms = ?
             WHERE id = ? AND version = ? RETURNING {COLUMNS}"
        ))
        .bind(&data.name)
        .bind(&data.email)
        .bind(now_ms())
        .bind(id)
        .bind(version)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::VersionMoved)
    }

    async fn delete(&self, id: i64, version: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM customers WHERE id = ? AND version = ?")
            .bind(id)
            .bind(version)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::VersionMoved)
        }
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(map_err)
    }
}
