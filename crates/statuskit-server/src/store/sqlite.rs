//! The embedded default: one SQLite file in WAL mode with `synchronous = FULL`, so a write is on
//! disk before its 2xx is sent. The file and its schema are created on first start.

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use super::{AuthStore, Client, Customer, CustomerData, CustomerStore, StoreError, StoreResult, Token, User};

/// A pool over one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn map_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            for field in ["email", "username", "client_id"] {
                if db.message().contains(field) {
                    return StoreError::Duplicate(field);
                }
            }
        }
    }
    StoreError::Other(e)
}

const COLUMNS: &str = "id, account_id, name, email, version, created_ms, updated_ms";

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
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
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

    async fn create(&self, account: i64, data: &CustomerData) -> StoreResult<Customer> {
        let now = now_ms();
        sqlx::query_as(&format!(
            "INSERT INTO customers (account_id, name, email, version, created_ms, updated_ms)
             VALUES (?, ?, ?, 1, ?, ?) RETURNING {COLUMNS}"
        ))
        .bind(account)
        .bind(&data.name)
        .bind(&data.email)
        .bind(now)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)
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
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::VersionMoved)
        }
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ()).map_err(map_err)
    }
}

const TOKEN_COLUMNS: &str = "hash, kind, client_id, user_id, account_id, scopes, family, expires_ms, revoked, used";

impl AuthStore for SqliteStore {
    async fn ensure_account(&self, name: &str) -> StoreResult<i64> {
        sqlx::query("INSERT INTO accounts (name) VALUES (?) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        sqlx::query_scalar("SELECT id FROM accounts WHERE name = ?")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)
    }

    async fn find_user(&self, username: &str) -> StoreResult<Option<User>> {
        sqlx::query_as("SELECT id, account_id, username, password_hash, scopes FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)
    }

    async fn add_user(&self, account_id: i64, username: &str, password_hash: &str, scopes: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO users (account_id, username, password_hash, scopes) VALUES (?, ?, ?, ?)")
            .bind(account_id)
            .bind(username)
            .bind(password_hash)
            .bind(scopes)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    async fn has_users(&self) -> StoreResult<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users)").fetch_one(&self.pool).await.map_err(map_err)
    }

    async fn has_clients(&self) -> StoreResult<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM oauth_clients)").fetch_one(&self.pool).await.map_err(map_err)
    }

    async fn find_client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        sqlx::query_as(
            "SELECT client_id, secret_hash, account_id, scopes, grants FROM oauth_clients WHERE client_id = ?",
        )
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)
    }

    async fn add_client(&self, c: &Client) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO oauth_clients (client_id, secret_hash, account_id, scopes, grants) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&c.client_id)
        .bind(&c.secret_hash)
        .bind(c.account_id)
        .bind(&c.scopes)
        .bind(&c.grants)
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(map_err)
    }

    async fn insert_tokens(&self, tokens: &[Token]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        for t in tokens {
            sqlx::query(&format!("INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
                .bind(&t.hash)
                .bind(&t.kind)
                .bind(&t.client_id)
                .bind(t.user_id)
                .bind(t.account_id)
                .bind(&t.scopes)
                .bind(&t.family)
                .bind(t.expires_ms)
                .bind(t.revoked)
                .bind(t.used)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn find_token(&self, hash: &str) -> StoreResult<Option<Token>> {
        sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = ?"))
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)
    }

    async fn use_refresh(&self, hash: &str) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE tokens SET used = 1 WHERE hash = ? AND kind = 'refresh' AND used = 0")
            .bind(hash)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_token(&self, hash: &str) -> StoreResult<()> {
        sqlx::query("UPDATE tokens SET revoked = 1 WHERE hash = ?")
            .bind(hash)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    async fn revoke_family(&self, family: &str) -> StoreResult<()> {
        sqlx::query("UPDATE tokens SET revoked = 1 WHERE family = ?")
            .bind(family)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(map_err)
    }
}
