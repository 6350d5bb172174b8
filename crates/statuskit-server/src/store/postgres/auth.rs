//! [`AuthStore`] on PostgreSQL: accounts, users, OAuth clients and tokens (stored by hash only).

use super::{map_err, PgStore};
use crate::store::{AuthStore, Client, StoreResult, Token, User};

const TOKEN_COLUMNS: &str = "hash, kind, client_id, user_id, account_id, scopes, family, expires_ms, revoked, used";

impl AuthStore for PgStore {
    async fn ensure_account(&self, name: &str) -> StoreResult<i64> {
        sqlx::query("INSERT INTO accounts (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        sqlx::query_scalar("SELECT id FROM accounts WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)
    }

    async fn find_user(&self, username: &str) -> StoreResult<Option<User>> {
        // Names compare as SQLite's NOCASE does (ASCII letters folded), through the unique index.
        sqlx::query_as(
            "SELECT id, account_id, username, password_hash, scopes FROM users WHERE nocase(username) = nocase($1)",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)
    }

    async fn add_user(&self, account_id: i64, username: &str, password_hash: &str, scopes: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO users (account_id, username, password_hash, scopes) VALUES ($1, $2, $3, $4)")
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
            "SELECT client_id, secret_hash, account_id, scopes, grants FROM oauth_clients WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)
    }

    async fn add_client(&self, c: &Client) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO oauth_clients (client_id, secret_hash, account_id, scopes, grants)
             VALUES ($1, $2, $3, $4, $5)",
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
            sqlx::query(&format!(
                "INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ))
            .bind(&t.hash)
            .bind(t.kind)
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
        sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = $1"))
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)
    }

    async fn use_refresh(&self, hash: &str) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE tokens SET used = TRUE WHERE hash = $1 AND kind = 'refresh' AND NOT used")
            .bind(hash)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_token(&self, hash: &str) -> StoreResult<()> {
        sqlx::query("UPDATE tokens SET revoked = TRUE WHERE hash = $1")
            .bind(hash)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    async fn revoke_family(&self, family: &str) -> StoreResult<()> {
        sqlx::query("UPDATE tokens SET revoked = TRUE WHERE family = $1")
            .bind(family)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(map_err)
    }
}
