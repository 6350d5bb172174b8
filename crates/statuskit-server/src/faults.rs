//! Fault injection, for failure tests: `PUT /admin/faults` makes requests under a path prefix wait
//! (past the deadline: 504) or panic (500); `DELETE /admin/faults` clears it. Only routed when the
//! service was started with `--fault-injection`; otherwise `/admin/faults` is 404.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use statuskit::validate::{FieldErrors, Validate};

/// Longest injectable delay.
pub const MAX_DELAY_MS: u64 = 60_000;

/// One injected fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Requests whose path starts with this are affected.
    pub path_prefix: String,
    /// Wait this long before handling them.
    #[serde(default)]
    pub delay_ms: u64,
    /// Panic instead of handling them.
    #[serde(default)]
    pub panic: bool,
}

impl Validate for Fault {
    fn validate(&self, errors: &mut FieldErrors) {
        if !self.path_prefix.starts_with('/') {
            errors.add("path_prefix", "must start with /");
        }
        if self.delay_ms > MAX_DELAY_MS {
            errors.add("delay_ms", format!("must be at most {MAX_DELAY_MS}"));
        }
        if self.delay_ms == 0 && !self.panic {
            errors.add("delay_ms", "give a delay_ms above 0, or panic: true");
        }
    }
}

/// The fault in force, if any.
#[derive(Debug, Default)]
pub struct Faults {
    current: RwLock<Option<Fault>>,
}

impl Faults {
    /// The fault in force, if any.
    pub fn current(&self) -> Option<Fault> {
        self.current.read().expect("not poisoned").clone()
    }

    /// Puts `fault` in force (`None` clears it).
    pub fn set(&self, fault: Option<Fault>) {
        *self.current.write().expect("not poisoned") = fault;
    }

    fn matching(&self, path: &str) -> Option<Fault> {
        self.current.read().expect("not poisoned").as_ref().filter(|f| path.starts_with(&f.path_prefix)).cloned()
    }
}

/// Middleware: applies the fault in force to matching requests.
pub async fn inject(State(faults): State<Arc<Faults>>, req: Request, next: Next) -> Response {
    if let Some(fault) = faults.matching(req.uri().path()) {
        if fault.panic {
            panic!("injected fault: panic under {}", fault.path_prefix);
        }
        tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
    }
    next.run(req).await
}
