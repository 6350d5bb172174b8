//! `statuskit users add` and `statuskit clients add`.

use crate::auth::bootstrap::client;
use crate::auth::scope::Scopes;
use crate::auth::secrets::{hash_secret, random_string};
use crate::config::{ClientsCommand, UsersCommand};
use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;
use crate::store::{AuthStore, Database};

/// Names stored from the command line follow the rule for all stored text: no control characters
/// ([`statuskit::validate::forbidden_char`]).
fn check_text(what: &str, value: &str) -> Result<(), Box<dyn std::error::Error>> {
    match statuskit::validate::forbidden_char(value) {
        Some(c) => Err(format!("{what} can't contain control characters (found U+{:04X})", u32::from(c)).into()),
        None => Ok(()),
    }
}

fn check_scopes(list: &str) -> Result<String, Box<dyn std::error::Error>> {
    Ok(Scopes::parse(list)?.to_string())
}

/// Runs `statuskit users …`.
pub async fn users(command: UsersCommand) -> Result<(), Box<dyn std::error::Error>> {
    let UsersCommand::Add { database, username, account, .. } = &command;
    check_text("the username", username)?;
    check_text("the account name", account)?;
    match Database::of(database) {
        Database::Sqlite(path) => add_user(&SqliteStore::open(&path).await?, command).await,
        Database::Postgres(url) => add_user(&PgStore::open(&url).await?, command).await,
    }
}

async fn add_user<S: AuthStore>(store: &S, command: UsersCommand) -> Result<(), Box<dyn std::error::Error>> {
    let UsersCommand::Add { username, password, scopes, account, .. } = command;
    let account_id = store.ensure_account(&account).await?;
    let generated = password.is_none();
    let password = password.unwrap_or_else(|| random_string(18));
    store.add_user(account_id, &username, &hash_secret(&password), &check_scopes(&scopes)?).await?;
    if generated {
        println!("user `{username}` added to account `{account}` with password `{password}`");
    } else {
        println!("user `{username}` added to account `{account}`");
    }
    Ok(())
}

/// Runs `statuskit clients …`.
pub async fn clients(command: ClientsCommand) -> Result<(), Box<dyn std::error::Error>> {
    let ClientsCommand::Add { database, client_id, account, .. } = &command;
    check_text("the client id", client_id)?;
    check_text("the account name", account)?;
    match Database::of(database) {
        Database::Sqlite(path) => add_client(&SqliteStore::open(&path).await?, command).await,
        Database::Postgres(url) => add_client(&PgStore::open(&url).await?, command).await,
    }
}

async fn add_client<S: AuthStore>(store: &S, command: ClientsCommand) -> Result<(), Box<dyn std::error::Error>> {
    let ClientsCommand::Add { client_id, secret, scopes, grants, account, .. } = command;
    let account_id = store.ensure_account(&account).await?;
    for g in grants.split(' ').filter(|g| !g.is_empty()) {
        if !crate::auth::bootstrap::ALL_GRANTS.split(' ').any(|known| known == g) {
            return Err(format!("unknown grant type `{g}`").into());
        }
    }
    let generated = secret.is_none();
    let secret = secret.unwrap_or_else(|| random_string(24));
    store.add_client(&client(&client_id, &secret, account_id, &check_scopes(&scopes)?, &grants)).await?;
    if generated {
        println!("client `{client_id}` added to account `{account}` with secret `{secret}`");
    } else {
        println!("client `{client_id}` added to account `{account}`");
    }
    Ok(())
}
