//! The scale-out store: PostgreSQL, shared by any number of instances. The same semantics as
//! [`SqliteStore`](super::sqlite::SqliteStore), with what several writers at once need on top:
//!
//! - Unique violations are told apart by the name of the constraint (or unique index) PostgreSQL
//!   reports ([`UNIQUE`]), never by the message text.
//! - POST ids come from the one-row counter `customer_ids`, locked by each POST's transaction, so
//!   concurrent POSTs on any instances never get the same id; a PUT that takes the chosen id
//!   between the choice and the insert makes the insert fail with `IdTaken`, and it is tried again.
//! - Operations are leased: a worker claims the oldest queued operation (or a running one whose
//!   lease ran out or whose instance is gone) with `FOR UPDATE SKIP LOCKED`, becomes its owner for
//!   the lease's length ([`LEASE`] by default), renews the lease at every progress step and by the worker's heartbeat, and can
//!   finish or fail it only while it still owns it (a stale worker's late result is refused, never
//!   stored over a newer one).
//! - At most one avatar operation per user is queued or running, by a partial unique index, so
//!   two instances cannot both queue one.
//! - Each instance names its sessions (`application_name`) after itself, so any instance can see
//!   whether another is alive: PostgreSQL drops a killed process's sessions at once. An
//!   Idempotency-Key held in flight by an instance that is gone is forgotten (a start-up sweep
//!   cannot forget every in-flight key, as on SQLite: other instances may be holding theirs);
//!   one held longer than [`STALE_IN_FLIGHT`] too. Only the holder may complete or abandon it.
//!
//! Queries are built at run time (no compile-time checking), so building never needs a database.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{FromRow, Row};

use statuskit::idempotency::{Begin, IdempotencyStore, StoreError as KeyStoreError, StoredResponse};

use super::{
    one_row_changed, AuthStore, Avatar, Client, Customer, CustomerData, CustomerStore, MaintenanceStore, Operation,
    OperationStore, Store, StoreError, StoreResult, Token, User,
};

/// How long a claimed operation stays its worker's without a renewal (a progress step or the
/// worker's heartbeat), on either store, unless
/// [`PgStore::with_lease`] says otherwise.
pub const LEASE: Duration = Duration::from_secs(10);

/// How long an Idempotency-Key may stay in flight before it counts as abandoned by a dead
/// instance: far longer than any request may run (its deadline answers 504 well before).
pub const STALE_IN_FLIGHT: Duration = Duration::from_secs(600);

/// Unique constraints (and unique indexes) of the schema, by the name PostgreSQL reports, and
/// the error each one means.
pub const UNIQUE: [(&str, Option<&'static str>); 4] = [
    ("customers_account_email_unique", Some("email")),
    ("users_username_unique", Some("username")),
    ("oauth_clients_client_id_unique", Some("client_id")),
    // The primary key of customers: the id is taken.
    ("customers_id_unique", None),
];

/// A connection pool over a PostgreSQL database, and this instance's name: the owner of the
/// operations and Idempotency-Keys it holds, and the `application_name` of its sessions.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    instance: String,
    lease_ms: i64,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn map_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            let known = db.constraint().and_then(|name| UNIQUE.iter().find(|(c, _)| *c == name));
            match known {
                Some((_, Some(field))) => return StoreError::Duplicate(field),
                Some((_, None)) => return StoreError::IdTaken,
                None => {}
            }
        }
    }
    StoreError::Other(e)
}

const COLUMNS: &str = "id, account_id, name, email, version, created_ms, updated_ms";

/// SQL: `true` if the instance named in column `$holder` has a session open (is alive).
macro_rules! alive {
    ($holder:literal) => {
        concat!("EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = ", $holder, ")")
    };
}

impl PgStore {
    /// Connects to `url` (`postgres://…` or `postgresql://…`) and runs the embedded migrations
    /// (PostgreSQL's advisory lock keeps instances starting together from running them twice).
    ///
    /// The pool keeps one session open at all times: it is what tells the other instances that
    /// this one is alive.
    pub async fn open(url: &str) -> Result<Self, sqlx::Error> {
        let instance = format!("statuskit {}", ulid::Ulid::new());
        let options = PgConnectOptions::from_str(url)?.application_name(&instance);
        let pool = PgPoolOptions::new()
            .min_connections(1)
            // Never recycled for age: a gap with no session would look like a dead instance.
            .max_lifetime(None)
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PgStore { pool, instance, lease_ms: LEASE.as_millis() as i64 })
    }

    /// The same store, leasing the operations it claims for `lease` at a time.
    pub fn with_lease(self, lease: Duration) -> Self {
        PgStore { lease_ms: i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2), ..self }
    }

    /// This instance's name: the owner of the operations and keys it holds, and the
    /// `application_name` of its sessions.
    pub fn instance(&self) -> &str {
        &self.instance
    }
}

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
        if free > crate::customers::MAX_ID {
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

/// fingerprint, state, status, headers (JSON), body.
type IdempotencyRow = (String, String, Option<i64>, Option<String>, Option<Vec<u8>>);

const OP_COLUMNS: &str = "id, user_id, kind, state, progress, error, created_ms, updated_ms";

/// How often queueing is tried again when the operation in the way finished in between.
const QUEUE_ATTEMPTS: usize = 3;

impl PgStore {
    /// The lease's end for a claim or a renewal made now.
    fn lease_end(&self, now: i64) -> i64 {
        now.saturating_add(self.lease_ms)
    }
}

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
    ) -> StoreResult<Result<Operation, String>> {
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
                return Ok(Err(id));
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

    async fn claim(&self) -> StoreResult<Option<(Operation, String, Vec<u8>)>> {
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
        Ok(Some((op, content_type.unwrap_or_default(), input.unwrap_or_default())))
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
    async fn succeed(&self, op: &Operation, images: &[(i64, String, Vec<u8>, String)]) -> StoreResult<()> {
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
        for (size, content_type, bytes, etag) in images {
            sqlx::query(
                "INSERT INTO avatars (user_id, size, content_type, bytes, etag, updated_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)
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

impl IdempotencyStore for PgStore {
    async fn begin(&self, owner: &str, key: &str, fingerprint: &str, ttl: Duration) -> Result<Begin, KeyStoreError> {
        let now = now_ms();
        // An expired record, or a claim left in flight by an instance that is gone (or for too
        // long), is forgotten first, so the key starts over.
        sqlx::query(concat!(
            "DELETE FROM idempotency WHERE owner = $1 AND key = $2
             AND (expires_ms <= $3 OR (state = 'in_flight' AND (started_ms <= $4 OR NOT ",
            alive!("holder"),
            ")))"
        ))
        .bind(owner)
        .bind(key)
        .bind(now)
        .bind(now - STALE_IN_FLIGHT.as_millis() as i64)
        .execute(&self.pool)
        .await
        .map_err(KeyStoreError::new)?;
        // Atomic across instances: of two requests with one key, exactly one inserts.
        let inserted = sqlx::query(
            "INSERT INTO idempotency (owner, key, fingerprint, state, holder, started_ms, expires_ms)
             VALUES ($1, $2, $3, 'in_flight', $4, $5, $6)
             ON CONFLICT (owner, key) DO NOTHING",
        )
        .bind(owner)
        .bind(key)
        .bind(fingerprint)
        .bind(&self.instance)
        .bind(now)
        .bind(now + ttl.as_millis() as i64)
        .execute(&self.pool)
        .await
        .map_err(KeyStoreError::new)?;
        if inserted.rows_affected() == 1 {
            return Ok(Begin::New);
        }
        let row: Option<IdempotencyRow> = sqlx::query_as(
            "SELECT fingerprint, state, status, headers, body FROM idempotency WHERE owner = $1 AND key = $2",
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
            // A `done` row always has its status; a missing one would be a bug, answered as such.
            status: status.map_or(statuskit::status::INTERNAL_SERVER_ERROR.code.as_u16(), |s| s as u16),
            headers,
            body: body.unwrap_or_default(),
        }))
    }

    async fn complete(&self, owner: &str, key: &str, response: &StoredResponse) -> Result<(), KeyStoreError> {
        let headers: Vec<(String, String)> =
            response.headers.iter().map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned())).collect();
        sqlx::query(
            "UPDATE idempotency SET state = 'done', status = $1, headers = $2, body = $3
             WHERE owner = $4 AND key = $5 AND state = 'in_flight' AND holder = $6",
        )
        .bind(i64::from(response.status))
        .bind(serde_json::to_string(&headers).map_err(KeyStoreError::new)?)
        .bind(&response.body)
        .bind(owner)
        .bind(key)
        .bind(&self.instance)
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(KeyStoreError::new)
    }

    async fn abandon(&self, owner: &str, key: &str) -> Result<(), KeyStoreError> {
        sqlx::query("DELETE FROM idempotency WHERE owner = $1 AND key = $2 AND state = 'in_flight' AND holder = $3")
            .bind(owner)
            .bind(key)
            .bind(&self.instance)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(KeyStoreError::new)
    }
}

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

impl Store for PgStore {
    /// Forgets expired records, and keys left in flight by instances that are gone (or for longer
    /// than [`STALE_IN_FLIGHT`]), at start-up as at any other time: other instances may hold keys
    /// in flight right now.
    async fn sweep_idempotency(&self, _startup: bool) -> StoreResult<u64> {
        let now = now_ms();
        sqlx::query(concat!(
            "DELETE FROM idempotency WHERE expires_ms <= $1
             OR (state = 'in_flight' AND (started_ms <= $2 OR NOT ",
            alive!("holder"),
            "))"
        ))
        .bind(now)
        .bind(now - STALE_IN_FLIGHT.as_millis() as i64)
        .execute(&self.pool)
        .await
        .map(|r| r.rows_affected())
        .map_err(map_err)
    }
}
