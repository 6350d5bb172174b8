//! Limit state in Redis, shared by every instance: GCRA in one Lua script, one round trip per
//! decision (EVALSHA; the first NOSCRIPT answer makes the client load the script).
//!
//! The script reads Redis' own clock (`TIME`), so instances with skewed clocks agree; it writes
//! microsecond timestamps with `string.format('%d', …)` (Lua 5.1's `tostring` keeps only 14
//! digits) and sets value and expiry in one `SET … PX`.

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::Script;

use super::{BackendError, Decision, Key, Policy};

const GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then tat = tonumber(stored) end
if tat < now then tat = now end
local ahead = tat - now
if ahead > tolerance then
  return {0, 0, ahead - tolerance}
end
local new_tat = tat + interval
local used = new_tat - now
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil(used / 1000))
return {1, math.floor((tolerance + interval - used) / interval), used}
"#;

/// A Redis-backed limiter. Every call is bounded by `timeout`: a store that does not answer
/// yields an error at once, never a hang. It connects lazily and, after a failed attempt, fails
/// fast for a second before trying again, so a Redis that is down costs little per request.
pub struct RedisLimiter {
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<ConnectionManager>>,
    last_failure: std::sync::Mutex<Option<std::time::Instant>>,
    script: Script,
    prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimiter").field("prefix", &self.prefix).field("timeout", &self.timeout).finish()
    }
}

/// How long a failed connection attempt makes calls fail fast.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

impl RedisLimiter {
    /// A limiter for `url` (e.g. `redis://127.0.0.1:6379`); keys start with `prefix`. Only the
    /// URL is checked here; the connection is made on first use.
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> Result<Self, BackendError> {
        let client = redis::Client::open(url)?;
        Ok(RedisLimiter {
            client,
            conn: tokio::sync::Mutex::new(None),
            last_failure: std::sync::Mutex::new(None),
            script: Script::new(GCRA),
            prefix: prefix.to_owned(),
            timeout,
        })
    }

    async fn connection(&self) -> Result<ConnectionManager, BackendError> {
        if let Some(c) = self.conn.lock().await.as_ref() {
            return Ok(c.clone());
        }
        if self.last_failure.lock().expect("not poisoned").is_some_and(|t| t.elapsed() < RECONNECT_AFTER) {
            return Err(BackendError::NotConnected);
        }
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout)
            .set_number_of_retries(1);
        let made =
            tokio::time::timeout(self.timeout * 2, ConnectionManager::new_with_config(self.client.clone(), config))
                .await
                .map_err(|_| BackendError::Timeout(self.timeout * 2))
                .and_then(|r| r.map_err(BackendError::from));
        match made {
            Ok(c) => {
                *slot = Some(c.clone());
                Ok(c)
            }
            Err(e) => {
                *self.last_failure.lock().expect("not poisoned") = Some(std::time::Instant::now());
                Err(e)
            }
        }
    }

    /// Counts one request.
    pub async fn check(&self, policy: &Policy, key: &Key) -> Result<Decision, BackendError> {
        let mut conn = self.connection().await?;
        let redis_key = format!("{}{}:{}", self.prefix, policy.name(), key);
        let interval = policy.emission_interval().as_micros().max(1) as u64;
        let tolerance = policy.tolerance().as_micros() as u64;
        let mut invocation = self.script.key(redis_key);
        invocation.arg(interval).arg(tolerance);
        let call = invocation.invoke_async::<(i64, i64, i64)>(&mut conn);
        let (allowed, remaining, micros) =
            tokio::time::timeout(self.timeout, call).await.map_err(|_| BackendError::Timeout(self.timeout))??;
        Ok(Decision {
            allowed: allowed == 1,
            remaining: u32::try_from(remaining.max(0)).unwrap_or(u32::MAX),
            reset: Duration::from_micros(micros.max(0) as u64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Option<String> {
        let url = std::env::var("REDIS_URL").ok();
        if url.is_none() {
            eprintln!("SKIPPED redis limiter tests: REDIS_URL is not set (e.g. redis://127.0.0.1:6379)");
        }
        url
    }

    #[tokio::test]
    async fn two_limiters_share_one_quota() {
        let Some(url) = url() else { return };
        let prefix = format!("statuskit-test:{}:", ulid::Ulid::new());
        let a = RedisLimiter::new(&url, &prefix, Duration::from_millis(500)).unwrap();
        let b = RedisLimiter::new(&url, &prefix, Duration::from_millis(500)).unwrap();
        let p = Policy::per_minute("shared", 3);
        let k = Key::Client("c1".into());
        let mut seen = Vec::new();
        for l in [&a, &b, &a, &b] {
            seen.push(l.check(&p, &k).await.unwrap());
        }
        assert_eq!(seen.iter().map(|d| d.allowed).collect::<Vec<_>>(), [true, true, true, false]);
        assert_eq!(seen.iter().map(|d| d.remaining).collect::<Vec<_>>(), [2, 1, 0, 0]);
        let wait = seen[3].reset;
        assert!(wait > Duration::from_secs(19) && wait <= Duration::from_secs(20), "{wait:?}");
        assert!(a.check(&p, &Key::Client("c2".into())).await.unwrap().allowed, "per key");
    }

    #[tokio::test]
    async fn an_unreachable_store_fails_fast() {
        // A closed port on loopback: refused at once.
        let l = RedisLimiter::new("redis://127.0.0.1:9", "x:", Duration::from_millis(200)).unwrap();
        let started = std::time::Instant::now();
        assert!(l.check(&Policy::per_minute("p", 1), &Key::Name("k".into())).await.is_err());
        assert!(l.check(&Policy::per_minute("p", 1), &Key::Name("k".into())).await.is_err());
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }
}
