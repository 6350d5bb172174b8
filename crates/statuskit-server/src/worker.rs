//! The background worker: claims queued operations from the database, makes the avatar's
//! thumbnails with the `image` crate, reports progress, and stores the result in one transaction.
//! Operations live in the database, so a restart resumes them (running ones are queued again).

use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use image::ImageFormat;
use sha2::{Digest, Sha256};
use statuskit::header::mime;
use tokio::sync::Notify;

use crate::avatars::SIZES;
use crate::images::{self, ImageRejection};
use crate::store::{Claimed, Image, Store, StoreError};

/// Why an avatar's images could not be made. Its `Display` is the reason stored with the failed
/// operation and shown to the client on its monitor; the cause stays in `source`, for the log.
#[derive(Debug, thiserror::Error)]
pub enum MakeImagesError {
    /// The upload does not decode (or would take too much memory to).
    #[error(transparent)]
    Decode(ImageRejection),
    /// A thumbnail could not be encoded as PNG.
    #[error("could not be made into a {size} px thumbnail")]
    Encode {
        /// The thumbnail's size, in pixels.
        size: i64,
        /// The encoder's error.
        #[source]
        source: image::ImageError,
    },
    /// A background task ended without an answer (it panicked or was cancelled).
    #[error("could not be processed")]
    Task(#[source] tokio::task::JoinError),
}

fn etag_of(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// Renders one PNG thumbnail.
fn thumbnail(img: &image::DynamicImage, size: i64) -> Result<Vec<u8>, MakeImagesError> {
    let side = size as u32;
    let thumb = img.resize_to_fill(side, side, image::imageops::FilterType::Triangle);
    let mut out = Vec::new();
    thumb.write_to(&mut Cursor::new(&mut out), ImageFormat::Png).map_err(|e| {
        tracing::error!(error = %e, size, "could not encode a thumbnail");
        MakeImagesError::Encode { size, source: e }
    })?;
    Ok(out)
}

/// Decodes `input` within the memory stated in [`crate::images`] (limits against decompression
/// bombs).
fn decode(input: &[u8]) -> Result<image::DynamicImage, MakeImagesError> {
    images::decode(input).map_err(|e| {
        tracing::warn!(error = %e, source = ?std::error::Error::source(&e), "avatar does not decode");
        MakeImagesError::Decode(e)
    })
}

/// A background task that ended without an answer (the panic stays in the log).
fn task_failed(e: tokio::task::JoinError) -> MakeImagesError {
    tracing::error!(error = %e, "avatar task failed");
    MakeImagesError::Task(e)
}

/// Makes every image of an avatar operation; awaits `on_step(progress)` after each step.
pub async fn make_images<F, Fut>(
    input: Vec<u8>,
    content_type: String,
    mut on_step: F,
) -> Result<Vec<Image>, MakeImagesError>
where
    F: FnMut(i64) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let input = Arc::new(input);
    let decoded = {
        let input = input.clone();
        tokio::task::spawn_blocking(move || decode(&input)).await.map_err(task_failed)??
    };
    let decoded = Arc::new(decoded);
    let mut images = vec![Image { size: 0, content_type, bytes: input.to_vec(), etag: etag_of(&input) }];
    for (i, size) in SIZES.iter().copied().enumerate() {
        let img = decoded.clone();
        let png = tokio::task::spawn_blocking(move || thumbnail(&img, size)).await.map_err(task_failed)??;
        let etag = etag_of(&png);
        images.push(Image { size, content_type: mime::PNG.to_owned(), bytes: png, etag });
        on_step(((i + 1) * 100 / (SIZES.len() + 1)) as i64).await;
    }
    Ok(images)
}

async fn run_one<S: Store>(store: &S, claimed: Claimed, step: Duration, heartbeat: Duration) {
    let Claimed { operation: op, content_type, input } = claimed;
    let work = make_images(input, content_type, |p| {
        let (store, id) = (store.clone(), op.id.clone());
        async move {
            if let Err(e) = store.progress(&id, p).await {
                tracing::warn!(op = %id, error = %e, "could not record progress");
            }
            if !step.is_zero() {
                tokio::time::sleep(step).await;
            }
        }
    });
    tokio::pin!(work);
    // The heartbeat renews the lease while the work runs (a thumbnail may take longer than a
    // lease), and stops the work if another instance took the operation over meanwhile.
    let mut beat = tokio::time::interval(heartbeat);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        tokio::select! {
            result = &mut work => break result,
            _ = beat.tick() => match store.renew(&op.id).await {
                Ok(()) => {}
                Err(StoreError::VersionMoved) => {
                    tracing::warn!(op = %op.id, "lost the lease on an operation; another instance took it over");
                    return;
                }
                Err(e) => tracing::warn!(op = %op.id, error = %e, "could not renew the lease on an operation"),
            },
        }
    };
    let outcome = match result {
        Ok(images) => store.succeed(&op, &images).await,
        Err(reason) => {
            tracing::warn!(op = %op.id, %reason, "avatar operation failed");
            store.fail(&op.id, &reason.to_string()).await
        }
    };
    match outcome {
        Ok(()) => tracing::info!(op = %op.id, "finished an operation"),
        Err(StoreError::VersionMoved) => {
            tracing::warn!(op = %op.id, "another instance took the operation over; this result is dropped")
        }
        Err(e) => {
            tracing::error!(op = %op.id, error = %e, "could not finish an operation; it will be retried when its lease runs out")
        }
    }
}

/// The running worker (see [`spawn`]): stopped at shutdown by [`Worker::stop`].
#[derive(Debug)]
pub struct Worker<S> {
    store: S,
    task: tokio::task::JoinHandle<()>,
    /// The operation being worked on, if any.
    current: Arc<std::sync::Mutex<Option<String>>>,
}

/// Runs the worker until [`Worker::stop`]: one operation at a time, woken by `work` or every
/// second. `step` pauses between thumbnails (0 in production; tests and demos slow it down to
/// watch the monitor move). `lease` is how long the store leases a claimed operation: the worker
/// renews it three times a lease while it works.
pub fn spawn<S: Store>(store: S, work: Arc<Notify>, step: Duration, lease: Duration) -> Worker<S> {
    let heartbeat = (lease / 3).max(Duration::from_millis(1));
    let current = Arc::new(std::sync::Mutex::new(None));
    let (worker_store, worker_current) = (store.clone(), current.clone());
    let task = tokio::spawn(async move {
        let (store, current) = (worker_store, worker_current);
        match store.requeue_running().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(n, "resumed operations left running by the last run"),
            Err(e) => tracing::error!(error = %e, "could not resume operations"),
        }
        loop {
            match store.claim().await {
                Ok(Some(claimed)) => {
                    tracing::info!(op = %claimed.operation.id, "working on an operation");
                    *current.lock().unwrap_or_else(|e| e.into_inner()) = Some(claimed.operation.id.clone());
                    run_one(&store, claimed, step, heartbeat).await;
                    *current.lock().unwrap_or_else(|e| e.into_inner()) = None;
                }
                Ok(None) => {
                    tokio::select! {
                        _ = work.notified() => {}
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "worker could not claim an operation");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    Worker { store, task, current }
}

impl<S: Store> Worker<S> {
    /// Stops the worker and gives back the operation it was working on, if any, so that another
    /// instance resumes it at once (from the start) instead of after its lease runs out.
    pub async fn stop(self) {
        self.task.abort();
        // Cancelled: nothing this worker does from here on can reach the store.
        let _ = self.task.await;
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(id) = current {
            match self.store.release(&id).await {
                Ok(true) => tracing::info!(op = %id, "gave back an unfinished operation"),
                Ok(false) => {}
                Err(e) => tracing::warn!(op = %id, error = %e, "could not give back an unfinished operation"),
            }
        }
    }
}
