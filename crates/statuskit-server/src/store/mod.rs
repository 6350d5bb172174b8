//! Persistence behind one trait, so the service runs on SQLite (embedded default) or, later,
//! PostgreSQL without its handlers knowing which.

use std::future::Future;

pub mod sqlite;

/// A stored customer.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Customer {
    /// Primary key.
    pub id: i64,
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
    /// Anything else; logged, answered 500.
    Other(sqlx::Error),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Duplicate(field) => write!(f, "duplicate value for {field}"),
            StoreError::VersionMoved => f.write_str("the row changed concurrently"),
            StoreError::Other(e) => write!(f, "database error: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// What the customers resource needs from a database.
pub trait Store: Clone + Send + Sync + 'static {
    /// Up to `limit` customers with `id > after`, in id order.
    fn list(
        &self,
        after: i64,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<Customer>>> + Send;
    /// One customer.
    fn get(&self, id: i64) -> impl Future<Output = StoreResult<Option<Customer>>> + Send;
    /// Inserts a new customer with a fresh id.
    fn create(&self, data: &CustomerData) -> impl Future<Output = StoreResult<Customer>> + Send;
    /// Inserts a customer under a chosen id; `VersionMoved` if the id exists by now.
    fn create_with_id(
        &self,
        id: i64,
        data: &CustomerData,
    ) -> impl Future<Output = StoreResult<Customer>> + Send;
    /// Replaces the fields if the row is still at `version`; `VersionMoved` otherwise.
    fn update(
        &self,
        id: i64,
        version: i64,
        data: &CustomerData,
    ) -> impl Future<Output = StoreResult<Customer>> + Send;
    /// Deletes the row if it is still at `version`; `VersionMoved` otherwise.
    fn delete(&self, id: i64, version: i64) -> impl Future<Output = StoreResult<()>> + Send;
    /// `Ok` if the database answers.
    fn ping(&self) -> impl Future<Output = StoreResult<()>> + Send;
}
