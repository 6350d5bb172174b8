//! Persistence behind one trait, so the service runs on SQLite (embedded default) or PostgreSQL
//! (scale-out) without its handlers knowing which. [`Database`] says which a `--database` names.

use std::future::Future;
use std::path::{Path, PathBuf};

mod columns;
pub mod postgres;
pub mod sqlite;

/// Ids a PUT may create: positive and exactly representable in JSON numbers everywhere.
pub const MAX_ID: i64 = (1 << 53) - 1;

pub use columns::{KeyState, OperationKind, OperationState, TokenKind, UnknownWord};

/// Which store a `--database` value names: a `postgres://` or `postgresql://` URL opens
/// PostgreSQL; anything else is a SQLite file (a path, or `sqlite:PATH` / `sqlite://PATH`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file, created on first start.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl Database {
    /// Reads a `--database` value.
    pub fn of(value: &Path) -> Self {
        let text = value.to_string_lossy();
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Database::Postgres(text.into_owned());
        }
        match text.strip_prefix("sqlite://").or_else(|| text.strip_prefix("sqlite:")) {
            Some(path) => Database::Sqlite(PathBuf::from(path)),
            None => Database::Sqlite(value.to_path_buf()),
        }
    }
}

/// A stored customer.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Customer {
    /// Primary key.
    pub id: i64,
    /// The account that owns it.
    pub account_id: i64,
    /// Display name.
    pub name: String,
    /// Unique (case-insensitively) e-mail address.
    pub email: String,
    /// Increases on every write.
    pub version: i64,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// Last write, milliseconds since the Unix epoch.
    pub updated_ms: i64,
}

/// The writable fields of a customer, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerData {
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
}

/// Why a store call failed.
#[derive(Debug)]
pub enum StoreError {
    /// A unique field already holds this value (the field's name).
    Duplicate(&'static str),
    /// The row changed between read and write (its version moved on).
    VersionMoved,
    /// The primary key is taken (by a row the caller may not see).
    IdTaken,
    /// Every id a POST may be given (up to [`MAX_ID`]) is taken.
    NoFreeId,
    /// Anything else; logged, answered 500.
    Other(sqlx::Error),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Duplicate(field) => write!(f, "duplicate value for {field}"),
            StoreError::VersionMoved => f.write_str("the row changed concurrently"),
            StoreError::IdTaken => f.write_str("the id is taken"),
            StoreError::NoFreeId => f.write_str("no customer id is free"),
            StoreError::Other(e) => write!(f, "database error: {e}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Other(e) => Some(e),
            _ => None,
        }
    }
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// A user who can sign in with the password grant.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    /// Primary key.
    pub id: i64,
    /// Account the user acts for.
    pub account_id: i64,
    /// Sign-in name (case-insensitive).
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Space-separated scopes the user may be granted.
    pub scopes: String,
}

/// An OAuth client.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Client {
    /// The client id.
    pub client_id: String,
    /// argon2id PHC string of the secret.
    pub secret_hash: String,
    /// Account the client acts for with `client_credentials`.
    pub account_id: i64,
    /// Space-separated scopes the client may request.
    pub scopes: String,
    /// Space-separated grant types the client may use.
    pub grants: String,
}

/// A stored token (only its hash).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Token {
    /// SHA-256 of the token, hex.
    pub hash: String,
    /// An access or a refresh token.
    pub kind: TokenKind,
    /// The client it was issued to.
    pub client_id: String,
    /// The user it acts for, if any.
    pub user_id: Option<i64>,
    /// The account it acts for.
    pub account_id: i64,
    /// Space-separated granted scopes.
    pub scopes: String,
    /// Tokens descended from one grant share a family.
    pub family: String,
    /// Expiry, milliseconds since the Unix epoch.
    pub expires_ms: i64,
    /// Revoked by the client or by refresh-token reuse.
    pub revoked: bool,
    /// A refresh token that was exchanged already.
    pub used: bool,
}

/// What the token endpoint and the bearer check need from a database.
pub trait AuthStore: Clone + Send + Sync + 'static {
    /// The account with this name, created if missing.
    fn ensure_account(&self, name: &str) -> impl Future<Output = StoreResult<i64>> + Send;
    /// A user by name.
    fn find_user(&self, username: &str) -> impl Future<Output = StoreResult<Option<User>>> + Send;
    /// Adds a user; `Duplicate("username")` if taken.
    fn add_user(
        &self,
        account_id: i64,
        username: &str,
        password_hash: &str,
        scopes: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// `true` if there is at least one user.
    fn has_users(&self) -> impl Future<Output = StoreResult<bool>> + Send;
    /// `true` if there is at least one OAuth client.
    fn has_clients(&self) -> impl Future<Output = StoreResult<bool>> + Send;
    /// A client by id.
    fn find_client(&self, client_id: &str) -> impl Future<Output = StoreResult<Option<Client>>> + Send;
    /// Adds a client; `Duplicate("client_id")` if taken.
    fn add_client(&self, client: &Client) -> impl Future<Output = StoreResult<()>> + Send;
    /// Stores new tokens, all or none.
    fn insert_tokens(&self, tokens: &[Token]) -> impl Future<Output = StoreResult<()>> + Send;
    /// A token by hash.
    fn find_token(&self, hash: &str) -> impl Future<Output = StoreResult<Option<Token>>> + Send;
    /// Marks a refresh token used; `false` if it already was (a reuse).
    fn use_refresh(&self, hash: &str) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Revokes one token.
    fn revoke_token(&self, hash: &str) -> impl Future<Output = StoreResult<()>> + Send;
    /// Revokes every token of a family.
    fn revoke_family(&self, family: &str) -> impl Future<Output = StoreResult<()>> + Send;
}

/// A long-running operation.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Operation {
    /// Its id (a ULID).
    pub id: String,
    /// The user it works for.
    pub user_id: i64,
    /// What it does.
    pub kind: OperationKind,
    /// Queued, running, succeeded or failed.
    pub state: OperationState,
    /// 0–100.
    pub progress: i64,
    /// Why it failed.
    pub error: Option<String>,
    /// Created, milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// Last change.
    pub updated_ms: i64,
}

/// A stored image.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Avatar {
    /// Media type.
    pub content_type: String,
    /// The image.
    pub bytes: Vec<u8>,
    /// Its strong entity tag (computed once, at write).
    pub etag: String,
    /// Written, milliseconds since the Unix epoch.
    pub updated_ms: i64,
}

/// An operation a worker claimed, with what it works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The operation, now running under this instance's lease.
    pub operation: Operation,
    /// The media type of the upload.
    pub content_type: String,
    /// The uploaded bytes.
    pub input: Vec<u8>,
}

/// One image an avatar operation made, to be stored when it succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Its size in pixels (square); 0 for the original upload.
    pub size: i64,
    /// Media type.
    pub content_type: String,
    /// The image.
    pub bytes: Vec<u8>,
    /// Its strong entity tag.
    pub etag: String,
}

/// Why an avatar operation was not queued: one of the user's is still queued or running.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("avatar operation {id} is still queued or running")]
pub struct InProgress {
    /// The id of the operation in the way.
    pub id: String,
}

/// What background operations and avatars need from a database.
pub trait OperationStore: Clone + Send + Sync + 'static {
    /// Queues an avatar operation for `user`, unless one is queued or running (then
    /// `Err(InProgress)` naming it, inside `Ok`).
    fn queue_avatar(
        &self,
        user: i64,
        content_type: &str,
        input: &[u8],
    ) -> impl Future<Output = StoreResult<Result<Operation, InProgress>>> + Send;
    /// One of the user's operations.
    fn operation(&self, user: i64, id: &str) -> impl Future<Output = StoreResult<Option<Operation>>> + Send;
    /// Arranges for `work` to be notified when any instance on this store queues an operation
    /// (PostgreSQL: LISTEN/NOTIFY). By default nothing: one process on one store wakes its own
    /// worker, and workers poll every second besides.
    fn wake_on_new_work(&self, work: std::sync::Arc<tokio::sync::Notify>) {
        let _ = work;
    }
    /// Claims the oldest queued operation for a worker (state → running), with its input.
    fn claim(&self) -> impl Future<Output = StoreResult<Option<Claimed>>> + Send;
    /// Records progress (and renews the lease); `VersionMoved` if this instance no longer holds it.
    fn progress(&self, id: &str, progress: i64) -> impl Future<Output = StoreResult<()>> + Send;
    /// Renews the lease on an operation this instance works on (the worker's heartbeat);
    /// `VersionMoved` if another instance took it over.
    fn renew(&self, id: &str) -> impl Future<Output = StoreResult<()>> + Send;
    /// Finishes an operation: its images stored and state `succeeded`, all at once.
    fn succeed(&self, op: &Operation, images: &[Image]) -> impl Future<Output = StoreResult<()>> + Send;
    /// Fails an operation with a reason.
    fn fail(&self, id: &str, error: &str) -> impl Future<Output = StoreResult<()>> + Send;
    /// Queues again what was running when the service stopped; returns how many.
    fn requeue_running(&self) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Gives back, at shutdown, an operation this instance's worker holds: queued again (from the
    /// start), so that another instance's worker takes it at once rather than after its lease runs
    /// out. `false` if it was not held by this instance any more.
    fn release(&self, id: &str) -> impl Future<Output = StoreResult<bool>> + Send;
    /// One of a user's images (size 0 = the original).
    fn avatar(&self, user: i64, size: i64) -> impl Future<Output = StoreResult<Option<Avatar>>> + Send;
}

/// The maintenance switch, kept in the database so that every instance on it follows one switch
/// (each instance polls it; see `crate::maintenance`).
pub trait MaintenanceStore: Clone + Send + Sync + 'static {
    /// The stored switch: `Some(retry_after_seconds)` while maintenance is on, `None` while off
    /// (also when it was never set).
    fn maintenance(&self) -> impl Future<Output = StoreResult<Option<u64>>> + Send;
    /// Stores the switch: `Some(retry_after_seconds)` turns maintenance on, `None` off.
    fn set_maintenance(&self, retry_after_seconds: Option<u64>) -> impl Future<Output = StoreResult<()>> + Send;
}

/// `VersionMoved` unless exactly one row changed: a write guarded by a version or a lease found
/// the row moved on (another writer, or another instance took the lease over).
fn one_row_changed(rows: u64) -> StoreResult<()> {
    if rows == 1 {
        Ok(())
    } else {
        Err(StoreError::VersionMoved)
    }
}

/// An `Idempotency-Key` record as `IdempotencyStore::begin` reads it back, on either store.
#[derive(Debug, sqlx::FromRow)]
struct KeyRecord {
    /// The request's fingerprint, to tell a replay from a different request with the same key.
    fingerprint: String,
    /// In flight or done.
    state: KeyState,
    /// The stored response's status (once done).
    status: Option<i64>,
    /// Its header fields, as a JSON list of name and value pairs.
    headers: Option<String>,
    /// Its body.
    body: Option<Vec<u8>>,
}

/// Everything the service needs from a database.
pub trait Store:
    CustomerStore + AuthStore + OperationStore + MaintenanceStore + statuskit::idempotency::IdempotencyStore
{
    /// Forgets in-flight idempotency keys left by a crash and expired records; returns how many.
    fn sweep_idempotency(&self, startup: bool) -> impl Future<Output = StoreResult<u64>> + Send;
}

/// What the customers resource needs from a database. Every call is scoped to one account:
/// another account's customers do not exist for it.
pub trait CustomerStore: Clone + Send + Sync + 'static {
    /// Up to `limit` of the account's customers with `id > after`, in id order.
    fn list(&self, account: i64, after: i64, limit: u32) -> impl Future<Output = StoreResult<Vec<Customer>>> + Send;
    /// One customer of the account.
    fn get(&self, account: i64, id: i64) -> impl Future<Output = StoreResult<Option<Customer>>> + Send;
    /// Inserts a new customer with a fresh id. With an idempotency key (and how long keys live)
    /// already used in the account within that time, returns the customer it created instead,
    /// and `false`.
    ///
    /// Fresh ids come from a counter of the store's own, shared by all accounts, that ids chosen
    /// with [`create_with_id`](Self::create_with_id) never move: it skips ids found taken, and
    /// stays within `1..=customers::MAX_ID`. So the `Location` of a created customer always
    /// resolves, whatever ids PUT created before (a PUT of the largest id used to push every
    /// later POST past it, into ids no route serves), and concurrent calls never get the same
    /// id. The alternative, letting PUT create only ids below the counter, would take away
    /// client-chosen ids; keeping the counter apart costs one small row and, for each id a PUT
    /// took just ahead of the counter, one step over it. Ids of deleted customers are not given
    /// out again by POST.
    fn create(
        &self,
        account: i64,
        data: &CustomerData,
        idempotency: Option<(&str, std::time::Duration)>,
    ) -> impl Future<Output = StoreResult<(Customer, bool)>> + Send;
    /// Inserts a customer under a chosen id; `IdTaken` if any row has that id.
    fn create_with_id(
        &self,
        account: i64,
        id: i64,
        data: &CustomerData,
    ) -> impl Future<Output = StoreResult<Customer>> + Send;
    /// Replaces the fields if the row is still at `version`; `VersionMoved` otherwise.
    fn update(
        &self,
        account: i64,
        id: i64,
        version: i64,
        data: &CustomerData,
    ) -> impl Future<Output = StoreResult<Customer>> + Send;
    /// Deletes the row if it is still at `version`; `VersionMoved` otherwise.
    fn delete(&self, account: i64, id: i64, version: i64) -> impl Future<Output = StoreResult<()>> + Send;
    /// `Ok` if the database answers.
    fn ping(&self) -> impl Future<Output = StoreResult<()>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_pick_the_store() {
        let of = |s: &str| Database::of(Path::new(s));
        assert_eq!(of("statuskit.db"), Database::Sqlite("statuskit.db".into()));
        assert_eq!(of("/var/lib/x.db"), Database::Sqlite("/var/lib/x.db".into()));
        assert_eq!(of("sqlite:x.db"), Database::Sqlite("x.db".into()));
        assert_eq!(of("sqlite://x.db"), Database::Sqlite("x.db".into()));
        for url in ["postgres://u@h:5432/db", "postgresql://u:p@h/db?sslmode=disable"] {
            assert_eq!(of(url), Database::Postgres(url.into()));
        }
    }
}
