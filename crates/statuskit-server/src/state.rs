//! The service's shared state: what every handler and layer of the reference service reads
//! (the store, the settings, the limiters, the switches), built once at start.

use std::sync::Arc;
use std::time::Duration;

use statuskit::rate_limit::Limiter;
use statuskit::unavailable::Shedder;
use tokio::sync::Notify;

use crate::auth::hashing::HashPool;
use crate::auth::login_limit::LoginLimiter;
use crate::auth::token_cache::TokenCache;
use crate::auth::verified::VerifiedSecrets;
use crate::config::{ServeConfig, Switch};
use crate::faults::Faults;
use crate::maintenance::SharedMaintenance;

/// What `Retry-After` a shed request is told, in seconds.
pub const SHED_RETRY_AFTER: u64 = 1;

/// Shared state of the handlers: one pointer, so the per-request clones axum makes of it (one per
/// layer and extractor) cost one reference count, not one per field (measured in a profile of
/// the read path: cloning and dropping the field-by-field state was about 3 % of its CPU).
#[derive(Debug)]
pub struct App<S>(Arc<AppState<S>>);

impl<S> Clone for App<S> {
    fn clone(&self) -> Self {
        App(self.0.clone())
    }
}

impl<S> std::ops::Deref for App<S> {
    type Target = AppState<S>;

    fn deref(&self) -> &AppState<S> {
        &self.0
    }
}

/// What [`App`] points at.
#[derive(Debug)]
pub struct AppState<S> {
    /// The database.
    pub store: S,
    /// The settings it was started with.
    pub config: Arc<ServeConfig>,
    /// Where rate-limit state lives; `None` with `--rate-limits off`.
    pub limiter: Option<Arc<Limiter>>,
    /// Password attempts per username and IP, client-secret attempts per client id and IP;
    /// `None` with `--rate-limits off`.
    pub login: Option<Arc<LoginLimiter>>,
    /// Where every argon2 verification runs, `--hash-concurrency` at once.
    pub hashes: HashPool,
    /// Client secrets verified recently, accepted again without a hash.
    pub verified: VerifiedSecrets,
    /// The maintenance switch, shared with every instance on the database through the store.
    pub maintenance: SharedMaintenance,
    /// Requests in flight against `--max-in-flight`.
    pub shedder: Shedder,
    /// Requests in flight on routes that need no token, against `--max-in-flight-public`.
    pub public_shedder: Shedder,
    /// Injected faults; `None` unless started with `--fault-injection`.
    pub faults: Option<Arc<Faults>>,
    /// Wakes the background worker when work is queued.
    pub work: Arc<Notify>,
    /// Access tokens recently found valid.
    pub tokens: Arc<TokenCache>,
}

impl<S> App<S> {
    /// State for `store` with `config`: rate limits in memory, or in Redis with `--redis-url`.
    pub fn new(store: S, config: ServeConfig) -> Result<Self, statuskit::rate_limit::BackendError> {
        let limiter = match (config.rate_limits, &config.redis_url) {
            (Switch::Off, _) => None,
            (Switch::On, None) => Some(Arc::new(Limiter::memory())),
            (Switch::On, Some(url)) => {
                let timeout = Duration::from_millis(config.redis_timeout_ms.max(1));
                let redis = statuskit::rate_limit::redis::RedisLimiter::new(url, &config.redis_key_prefix, timeout)?;
                Some(Arc::new(Limiter::Redis(Box::new(redis))))
            }
        };
        let login =
            limiter.as_ref().map(|l| Arc::new(LoginLimiter::new(l.clone(), config.login_attempts_per_minute.get())));
        let faults = config.fault_injection.then(|| Arc::new(Faults::default()));
        let shedder = Shedder::new(config.max_in_flight, SHED_RETRY_AFTER);
        let token_cache_seconds = config.token_cache_seconds;
        let config_public = config.max_in_flight_public;
        let hashes = HashPool::new(config.hash_concurrency.map_or_else(HashPool::default_concurrency, |n| n.get()));
        Ok(App(Arc::new(AppState {
            store,
            config: Arc::new(config),
            limiter,
            login,
            hashes,
            verified: VerifiedSecrets::default(),
            maintenance: SharedMaintenance::default(),
            shedder,
            public_shedder: Shedder::new(config_public, SHED_RETRY_AFTER),
            faults,
            work: Arc::new(Notify::new()),
            tokens: Arc::new(TokenCache::new(Duration::from_secs(token_cache_seconds))),
        })))
    }
}
