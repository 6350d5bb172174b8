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
//!
//! This module holds the store type, how it connects (and migrates), and what every part shares;
//! each trait of [`super::Store`] is implemented in a module of its own: `customers`, `auth`
//! (users, clients, tokens), `operations` (the queue, leases, avatars), `idempotency`
//! (Idempotency-Keys and their sweep) and `maintenance`.

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::StoreError;

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

/// SQL: `true` if the instance named in column `$holder` has a session open (is alive).
macro_rules! alive {
    ($holder:literal) => {
        concat!("EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = ", $holder, ")")
    };
}

mod auth;
mod customers;
mod idempotency;
mod maintenance;
mod operations;

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

impl PgStore {
    /// The lease's end for a claim or a renewal made now.
    fn lease_end(&self, now: i64) -> i64 {
        now.saturating_add(self.lease_ms)
    }
}
