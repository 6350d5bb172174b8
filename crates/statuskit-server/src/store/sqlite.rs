//! The embedded default: one SQLite file in WAL mode with `synchronous = FULL`, so a write is on
//! disk before its 2xx is sent. The file and its schema are created on first start.

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use statuskit::idempotency::{Begin, IdempotencyStore, StoreError as KeyStoreError, StoredResponse};

use super::{
    one_row_changed, AuthStore, Avatar, Client, Customer, CustomerData, CustomerStore, MaintenanceStore, Operation,
    OperationStore, Store, StoreError, StoreResult, Token, User,
};

/// A pool over one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// This process's name: the owner of the operations it leases.
    instance: String,
    lease_ms: i64,
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
        let instance = format!("statuskit {}", ulid::Ulid::new());
        Ok(SqliteStore { pool, instance, lease_ms: super::postgres::LEASE.as_millis() as i64 })
    }

    /// The same store, leasing the operations it claims for `lease` at a time (as
    /// [`PgStore::with_lease`](super::postgres::PgStore::with_lease); SQLite cannot tell whether
    /// another process is alive, so a dead one's operation waits for its lease to run out).
    pub fn with_lease(self, lease: Duration) -> Self {
        SqliteStore { lease_ms: i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2), ..self }
    }

    fn lease_end(&self, now: i64) -> i64 {
        now.saturating_add(self.lease_ms)
    }
}

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
        if free > crate::customers::MAX_ID {
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

/// fingerprint, state, status, headers (JSON), body.
type IdempotencyRow = (String, String, Option<i64>, Option<String>, Option<Vec<u8>>);

const OP_COLUMNS: &str = "id, user_id, kind, state, progress, error, created_ms, updated_ms";

impl OperationStore for SqliteStore {
    async fn queue_avatar(
        &self,
        user: i64,
        content_type: &str,
        input: &[u8],
    ) -> StoreResult<Result<Operation, String>> {
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
        Ok(Err(running.unwrap_or_default()))
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
    async fn claim(&self) -> StoreResult<Option<(Operation, String, Vec<u8>)>> {
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
        Ok(Some((op, content_type.unwrap_or_default(), input.unwrap_or_default())))
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

    async fn succeed(&self, op: &Operation, images: &[(i64, String, Vec<u8>, String)]) -> StoreResult<()> {
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
        for (size, content_type, bytes, etag) in images {
            sqlx::query(
                "INSERT INTO avatars (user_id, size, content_type, bytes, etag, updated_ms) VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (user_id, size) DO UPDATE SET content_type = excluded.content_type,
                 bytes = excluded.bytes, etag = excluded.etag, updated_ms = excluded.updated_ms",
            )
            .bind(op.user_id)
            .bind(size)
            .bind(content_type)
            .bind(bytes)
            .bind(etag)
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

impl IdempotencyStore for SqliteStore {
    async fn begin(&self, owner: &str, key: &str, fingerprint: &str, ttl: Duration) -> Result<Begin, KeyStoreError> {
        let now = now_ms();
        // An expired record is forgotten first, so the key starts over.
        sqlx::query("DELETE FROM idempotency WHERE owner = ? AND key = ? AND expires_ms <= ?")
            .bind(owner)
            .bind(key)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(KeyStoreError::new)?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency (owner, key, fingerprint, state, expires_ms) VALUES (?, ?, ?, 'in_flight', ?)
             ON CONFLICT (owner, key) DO NOTHING",
        )
        .bind(owner)
        .bind(key)
        .bind(fingerprint)
        .bind(now + ttl.as_millis() as i64)
        .execute(&self.pool)
        .await
        .map_err(KeyStoreError::new)?;
        if inserted.rows_affected() == 1 {
            return Ok(Begin::New);
        }
        let row: Option<IdempotencyRow> = sqlx::query_as(
            "SELECT fingerprint, state, status, headers, body FROM idempotency WHERE owner = ? AND key = ?",
        )
        .bind(owner)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(KeyStoreError::new)?;
        let Some((print, state, status, headers, body)) = row else {
            return Ok(Begin::InFlight); // released between the two statements: another request holds it
        };
        if print != fingerprint {
            return Ok(Begin::Mismatch);
        }
        if state != "done" {
            return Ok(Begin::InFlight);
        }
        let headers: Vec<(String, Vec<u8>)> =
            serde_json::from_str::<Vec<(String, String)>>(&headers.unwrap_or_default())
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.into_bytes()))
                .collect();
        Ok(Begin::Done(StoredResponse {
            status: status.unwrap_or(500) as u16,
            headers,
            body: body.unwrap_or_default(),
        }))
    }

    async fn complete(&self, owner: &str, key: &str, response: &StoredResponse) -> Result<(), KeyStoreError> {
        let headers: Vec<(String, String)> =
            response.headers.iter().map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned())).collect();
        sqlx::query(
            "UPDATE idempotency SET state = 'done', status = ?, headers = ?, body = ? WHERE owner = ? AND key = ?",
        )
        .bind(i64::from(response.status))
        .bind(serde_json::to_string(&headers).map_err(KeyStoreError::new)?)
        .bind(&response.body)
        .bind(owner)
        .bind(key)
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(KeyStoreError::new)
    }

    async fn abandon(&self, owner: &str, key: &str) -> Result<(), KeyStoreError> {
        sqlx::query("DELETE FROM idempotency WHERE owner = ? AND key = ? AND state = 'in_flight'")
            .bind(owner)
            .bind(key)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(KeyStoreError::new)
    }
}

impl MaintenanceStore for SqliteStore {
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
                "INSERT INTO maintenance (id, enabled, retry_after_seconds, updated_ms) VALUES (1, 1, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET enabled = excluded.enabled,
                 retry_after_seconds = excluded.retry_after_seconds, updated_ms = excluded.updated_ms",
            )
            .bind(i64::try_from(secs.max(1)).unwrap_or(i64::MAX)),
            // The row stays (with the last `Retry-After`); a missing row reads as off anyway.
            None => sqlx::query("UPDATE maintenance SET enabled = 0, updated_ms = ? WHERE id = 1"),
        };
        query.bind(now_ms()).execute(&self.pool).await.map(|_| ()).map_err(map_err)
    }
}

impl Store for SqliteStore {
    async fn sweep_idempotency(&self, startup: bool) -> StoreResult<u64> {
        // At start-up nothing is in flight: a key held so belonged to a request the crash cut off.
        let sql = if startup {
            "DELETE FROM idempotency WHERE state = 'in_flight' OR expires_ms <= ?"
        } else {
            "DELETE FROM idempotency WHERE expires_ms <= ?"
        };
        sqlx::query(sql).bind(now_ms()).execute(&self.pool).await.map(|r| r.rows_affected()).map_err(map_err)
    }
}
