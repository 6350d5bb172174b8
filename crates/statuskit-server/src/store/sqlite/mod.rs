//! The embedded default: one SQLite file in WAL mode with `synchronous = FULL`, so a write is on
//! disk before its 2xx is sent. The file and its schema are created on first start.
//!
//! This module holds the store type, how it opens (and migrates) the file, and what every part
//! shares; each trait of [`super::Store`] is implemented in a module of its own: `customers`,
//! `auth` (users, clients, tokens), `operations` (the queue, leases, avatars),
//! `idempotency` (Idempotency-Keys and their sweep) and `maintenance`.

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use super::StoreError;

mod auth;
mod customers;
mod idempotency;
mod maintenance;
mod operations;

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
