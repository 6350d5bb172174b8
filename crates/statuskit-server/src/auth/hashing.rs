//! Argon2 off the request workers: every verification of a password or a client secret runs on
//! tokio's blocking pool, a bounded number at once, and waiting for a turn is bounded too.
//!
//! Why bound it: one verification holds a core for about 35 ms and 19 MiB of memory (argon2id's
//! default parameters). Unbounded, a flood of guesses from many addresses takes every core and
//! N × 19 MiB, and requests that need no hash at all (signed-in callers' reads) wait behind them.
//! With at most `--hash-concurrency` running (half the cores by default), the other cores stay
//! free for the request workers, and memory for hashing stays under `concurrency × 19 MiB`.
//!
//! Why bound the wait: a request waiting for a turn holds an in-flight slot. At most
//! [`WAITING_PER_SLOT`] requests per slot may wait, none longer than [`MAX_WAIT`]; past either,
//! the answer is 503 with `Retry-After` at once, rather than a queue that grows until the
//! deadline answers 504 and the shedder starts refusing everyone.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use statuskit::retry_after::RetryAfter;
use statuskit::Problem;
use tokio::sync::Semaphore;

use super::secrets::{verify_nothing, verify_secret};

/// Requests that may wait for a turn, per slot. At about 35 ms a verification, eight waiting
/// per slot wait under 0.3 s.
pub const WAITING_PER_SLOT: usize = 8;

/// Longest a request waits for a turn before it is answered 503.
pub const MAX_WAIT: Duration = Duration::from_secs(1);

/// What a busy answer tells the client to wait, in seconds.
const BUSY_RETRY_AFTER: u64 = 1;

/// Why a verification did not run to an answer.
#[derive(Debug)]
pub enum HashError {
    /// Too many verifications running and waiting: try again shortly (503).
    Busy,
    /// The verification task ended without an answer (it panicked).
    Failed(tokio::task::JoinError),
}

impl std::fmt::Display for HashError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HashError::Busy => f.write_str("too many credentials are being checked at once"),
            HashError::Failed(_) => f.write_str("a credential check ended without an answer"),
        }
    }
}

impl std::error::Error for HashError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HashError::Busy => None,
            HashError::Failed(e) => Some(e),
        }
    }
}

impl From<HashError> for Problem {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => Problem::service_unavailable(
                RetryAfter::seconds(BUSY_RETRY_AFTER),
                "too many sign-ins are being checked at once; try again in a second",
            ),
            HashError::Failed(e) => Problem::internal_server_error(e),
        }
    }
}

/// The bounded pool of argon2 verifications.
#[derive(Debug)]
pub struct HashPool {
    slots: Arc<Semaphore>,
    concurrency: usize,
    waiting: AtomicUsize,
}

impl HashPool {
    /// At most `concurrency` verifications at once (at least 1).
    pub fn new(concurrency: usize) -> Self {
        let concurrency = concurrency.max(1);
        HashPool { slots: Arc::new(Semaphore::new(concurrency)), concurrency, waiting: AtomicUsize::new(0) }
    }

    /// Half the cores this process may use, at least 1.
    pub fn default_concurrency() -> usize {
        std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
    }

    /// Verifications that may run at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// `true` if `secret` matches the PHC string `phc`; with `None` (no such user or client),
    /// spends the same work and answers `false`, so both take as long.
    pub async fn verify(&self, secret: &str, phc: Option<&str>) -> Result<bool, HashError> {
        let permit = match self.slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                let _waiting = Waiting::enter(&self.waiting, self.concurrency * WAITING_PER_SLOT)?;
                tokio::time::timeout(MAX_WAIT, self.slots.clone().acquire_owned())
                    .await
                    .map_err(|_| HashError::Busy)?
                    .expect("the semaphore is never closed")
            }
        };
        let (secret, phc) = (secret.to_owned(), phc.map(str::to_owned));
        // The permit moves into the task: if the request is dropped (its deadline passed), the
        // slot stays taken until the hash is done, so the bound holds for work, not requests.
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            match phc {
                Some(phc) => verify_secret(&secret, &phc),
                None => {
                    verify_nothing(&secret);
                    false
                }
            }
        })
        .await
        .map_err(HashError::Failed)
    }
}

/// One request counted among those waiting for a slot, for as long as it lives.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize, max: usize) -> Result<Self, HashError> {
        if count.fetch_add(1, Ordering::AcqRel) >= max {
            count.fetch_sub(1, Ordering::AcqRel);
            return Err(HashError::Busy);
        }
        Ok(Waiting(count))
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::secrets::hash_secret;

    #[tokio::test]
    async fn verifies_and_refuses_past_the_queue() {
        let pool = Arc::new(HashPool::new(1));
        let phc = hash_secret("pw");
        assert!(pool.verify("pw", Some(&phc)).await.unwrap());
        assert!(!pool.verify("nope", Some(&phc)).await.unwrap());
        assert!(!pool.verify("pw", None).await.unwrap());

        // 1 running + 8 waiting fit; the rest are refused at once.
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let (pool, phc) = (pool.clone(), phc.clone());
                tokio::spawn(async move { pool.verify("pw", Some(&phc)).await })
            })
            .collect();
        let mut busy = 0;
        let mut verified = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(true) => verified += 1,
                Err(HashError::Busy) => busy += 1,
                other => panic!("{other:?}"),
            }
        }
        assert!(verified >= 1, "{verified} verified, {busy} busy");
        assert!(busy >= 40 - 1 - WAITING_PER_SLOT, "{verified} verified, {busy} busy");
        assert_eq!(pool.waiting.load(Ordering::Acquire), 0);
    }
}
