//! The maintenance switch shared by every instance on one database.
//!
//! The switch is kept in the store ([`MaintenanceStore`]). Requests are answered from each
//! instance's own in-process [`Maintenance`] (one atomic load per request, never a query), which
//! every instance refreshes from the store every `--maintenance-poll-ms`. `PUT
//! /admin/maintenance` writes the store and sets the local switch at once: the instance that
//! received it answers 503 (or serves again) straight away, and every other instance follows
//! within one poll interval (plus one store query). An instance reads the stored switch before it
//! serves, so one started during maintenance answers 503 from its first request. A poll that
//! fails is logged and the last state kept.

use statuskit::unavailable::Maintenance;

use crate::store::{MaintenanceStore, StoreResult};

/// This instance's copy of the switch, and the order in which it is written: a write and a
/// refresh never interleave, so a refresh that read the store just before a write cannot undo
/// that write's local effect.
#[derive(Debug, Default)]
pub struct SharedMaintenance {
    switch: Maintenance,
    order: tokio::sync::Mutex<()>,
}

impl SharedMaintenance {
    /// The local switch: what the 503 layers and `/health` read.
    pub fn switch(&self) -> &Maintenance {
        &self.switch
    }

    /// Stores the switch for every instance (`Some(retry_after_seconds)`: on; `None`: off), then
    /// applies it here. On a store error nothing changes here either.
    pub async fn set<S: MaintenanceStore>(&self, store: &S, retry_after_seconds: Option<u64>) -> StoreResult<()> {
        let _order = self.order.lock().await;
        store.set_maintenance(retry_after_seconds).await?;
        self.apply(retry_after_seconds);
        Ok(())
    }

    /// Reads the stored switch and applies it here; returns it. On a store error the local switch
    /// keeps its last state.
    pub async fn refresh<S: MaintenanceStore>(&self, store: &S) -> StoreResult<Option<u64>> {
        let _order = self.order.lock().await;
        let stored = store.maintenance().await?;
        if stored != self.switch.active() {
            match stored {
                Some(secs) => tracing::warn!(retry_after = secs, "maintenance mode on, as stored in the database"),
                None => tracing::warn!("maintenance mode off, as stored in the database"),
            }
        }
        self.apply(stored);
        Ok(stored)
    }

    fn apply(&self, retry_after_seconds: Option<u64>) {
        match retry_after_seconds {
            Some(secs) => self.switch.enable(secs),
            None => self.switch.disable(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::store::StoreError;

    /// A stored switch that can be made to fail (`Err(())`: the database does not answer).
    #[derive(Debug, Clone)]
    struct Stored(Arc<Mutex<Result<Option<u64>, ()>>>);

    impl Default for Stored {
        fn default() -> Self {
            Stored(Arc::new(Mutex::new(Ok(None))))
        }
    }

    fn down() -> StoreError {
        StoreError::Other(sqlx::Error::PoolTimedOut)
    }

    impl MaintenanceStore for Stored {
        async fn maintenance(&self) -> StoreResult<Option<u64>> {
            (*self.0.lock().unwrap()).map_err(|()| down())
        }

        async fn set_maintenance(&self, retry_after_seconds: Option<u64>) -> StoreResult<()> {
            let mut stored = self.0.lock().unwrap();
            stored.map_err(|()| down())?;
            *stored = Ok(retry_after_seconds);
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_write_applies_here_and_a_refresh_follows_the_store() {
        let store = Stored::default();
        let shared = SharedMaintenance::default();
        shared.set(&store, Some(90)).await.unwrap();
        assert_eq!(shared.switch().active(), Some(90));
        // Another instance turns it off.
        *store.0.lock().unwrap() = Ok(None);
        assert_eq!(shared.switch().active(), Some(90), "not before the next refresh");
        assert_eq!(shared.refresh(&store).await.unwrap(), None);
        assert_eq!(shared.switch().active(), None);
        *store.0.lock().unwrap() = Ok(Some(30));
        assert_eq!(shared.refresh(&store).await.unwrap(), Some(30));
        assert_eq!(shared.switch().active(), Some(30));
    }

    #[tokio::test]
    async fn a_store_error_keeps_the_last_state() {
        let store = Stored::default();
        let shared = SharedMaintenance::default();
        shared.set(&store, Some(60)).await.unwrap();
        *store.0.lock().unwrap() = Err(());
        assert!(shared.refresh(&store).await.is_err());
        assert_eq!(shared.switch().active(), Some(60), "a failed poll keeps maintenance on");
        assert!(shared.set(&store, None).await.is_err());
        assert_eq!(shared.switch().active(), Some(60), "a failed write changes nothing here either");
    }
}
