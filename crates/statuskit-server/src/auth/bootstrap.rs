//! The first user and OAuth client: taken from `STATUSKIT_ADMIN_USER` / `STATUSKIT_ADMIN_PASSWORD`
//! and `STATUSKIT_CLIENT_ID` / `STATUSKIT_CLIENT_SECRET` when set and missing; generated and
//! printed once when unset on an empty database. Also `statuskit users add` / `clients add`.

use super::scope::Scopes;
use super::secrets::{hash_secret, random_string};
use crate::store::{AuthStore, Client, StoreResult};

/// Every grant type the token endpoint supports.
pub const ALL_GRANTS: &str = "password client_credentials refresh_token";

/// The bootstrap settings.
#[derive(Debug, Clone, Default)]
pub struct Bootstrap {
    /// Admin user name.
    pub admin_user: Option<String>,
    /// Admin password.
    pub admin_password: Option<String>,
    /// OAuth client id.
    pub client_id: Option<String>,
    /// OAuth client secret.
    pub client_secret: Option<String>,
}

/// What was generated (to print once), if anything.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Generated {
    /// `(user, password)` of a generated admin.
    pub user: Option<(String, String)>,
    /// `(client id, secret)` of a generated client.
    pub client: Option<(String, String)>,
}

/// Creates the admin user and client as configured; generates them on an empty database.
pub async fn bootstrap<S: AuthStore>(store: &S, b: &Bootstrap) -> StoreResult<Generated> {
    let all = Scopes::all().to_string();
    let user = match (&b.admin_user, &b.admin_password) {
        (Some(u), Some(p)) => Some((u.clone(), p.clone(), false)),
        _ if !store.has_users().await? => Some(("admin".to_owned(), random_string(18), true)),
        _ => None,
    };
    let mut out = Generated::default();
    if let Some((name, password, generated)) = user {
        if store.find_user(&name).await?.is_none() {
            store.add_user(1, &name, &hash_secret(&password), &all).await?;
            if generated {
                out.user = Some((name, password));
            }
        }
    }
    let client_pair = match (&b.client_id, &b.client_secret) {
        (Some(id), Some(secret)) => Some((id.clone(), secret.clone(), false)),
        _ if !store.has_clients().await? => Some(("statuskit".to_owned(), random_string(24), true)),
        _ => None,
    };
    if let Some((id, secret, generated)) = client_pair {
        if store.find_client(&id).await?.is_none() {
            store.add_client(&client(&id, &secret, 1, &all, ALL_GRANTS)).await?;
            if generated {
                out.client = Some((id, secret));
            }
        }
    }
    Ok(out)
}

/// A client row with its secret hashed.
pub fn client(id: &str, secret: &str, account_id: i64, scopes: &str, grants: &str) -> Client {
    Client {
        client_id: id.to_owned(),
        secret_hash: hash_secret(secret),
        account_id,
        scopes: scopes.to_owned(),
        grants: grants.to_owned(),
    }
}
