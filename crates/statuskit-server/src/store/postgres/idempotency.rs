//! [`IdempotencyStore`] on PostgreSQL: `Idempotency-Key` records held by live instances, and the
//! sweep that forgets expired ones and those left in flight by instances that are gone.

use std::time::Duration;

use statuskit::idempotency::{Begin, IdempotencyStore, StoreError as KeyStoreError, StoredResponse};

use super::{map_err, now_ms, PgStore, STALE_IN_FLIGHT};
use crate::store::{KeyRecord, KeyState, Store, StoreResult};

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
        let row: Option<KeyRecord> = sqlx::query_as(
            "SELECT fingerprint, state, status, headers, body FROM idempotency WHERE owner = $1 AND key = $2",
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
