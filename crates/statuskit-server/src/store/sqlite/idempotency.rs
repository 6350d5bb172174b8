//! [`IdempotencyStore`] on SQLite: `Idempotency-Key` records, and the sweep that forgets
//! expired ones (and, at start-up, those a crash left in flight).

use std::time::Duration;

use statuskit::idempotency::{Begin, IdempotencyStore, StoreError as KeyStoreError, StoredResponse};

use super::{map_err, now_ms, SqliteStore};
use crate::store::{KeyRecord, KeyState, Store, StoreResult};

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
        let row: Option<KeyRecord> = sqlx::query_as(
            "SELECT fingerprint, state, status, headers, body FROM idempotency WHERE owner = ? AND key = ?",
        )
        .bind(owner)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(KeyStoreError::new)?;
        let Some(KeyRecord { fingerprint: print, state, status, headers, body }) = row else {
            return Ok(Begin::InFlight); // released between the two statements: another request holds it
        };
        if print != fingerprint {
            return Ok(Begin::Mismatch);
        }
        if state != KeyState::Done {
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
