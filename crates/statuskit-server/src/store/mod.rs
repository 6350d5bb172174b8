//! Persistence behind one trait, so the service runs on SQLite (embedded default) or, later,
//! PostgreSQL without its handlers knowing which.

use std::future::Future;

pub mod sqlite;

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
    /// Anything else; logged, answered 500.
    Other(sqlx::Error),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Duplicate(field) => write!(f, "duplicate value for {field}"),
            StoreError::VersionMoved => f.write_str("the row changed concurrently"),
            StoreError::IdTaken => f.write_str("the id is taken"),
            StoreError::Other(e) => write!(f, "database error: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

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
    /// `access` or `refresh`.
    pub kind: String,
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

/// Everything the service needs from a database.
pub trait Store: CustomerStore + AuthStore {}
impl<T: CustomerStore + AuthStore> Store for T {}

/// What the customers resource needs from a database. Every call is scoped to one account:
/// another account's customers do not exist for it.
pub trait CustomerStore: Clone + Send + Sync + 'static {
    /// Up to `limit` of the account's customers with `id > after`, in id order.
    fn list(&self, account: i64, after: i64, limit: u32) -> impl Future<Output = StoreResult<Vec<Customer>>> + Send;
    /// One customer of the account.
    fn get(&self, account: i64, id: i64) -> impl Future<Output = StoreResult<Option<Customer>>> + Send;
    /// Inserts a new customer with a fresh id.
    fn create(&self, account: i64, data: &CustomerData) -> impl Future<Output = StoreResult<Customer>> + Send;
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
