//! Which `Cache-Control` each route's 2xx (and 304) carries, contract §4: `no-store` on the
//! token endpoints and `/health`; `public, max-age` on the documentation (the error page and the
//! OpenAPI document, the same for everyone and changed only by a deploy); `private` on the rest,
//! which only a bearer token can read (`private, no-cache` where the response has a validator,
//! so the client's cache asks again with `If-None-Match` before it reuses one).

use std::time::Duration;

use statuskit::cache::{CacheControlLayer, CachePolicy};

/// How long the documentation stays fresh in caches.
pub const DOCS_MAX_AGE: Duration = Duration::from_secs(3600);

/// The layer [`crate::app::router`] wraps the routes in.
pub fn layer() -> CacheControlLayer {
    let docs = CachePolicy::Public { max_age: DOCS_MAX_AGE };
    CacheControlLayer::new(CachePolicy::Private)
        .exact(crate::health::PATH, CachePolicy::NoStore)
        .prefix("/oauth/", CachePolicy::NoStore)
        .exact(statuskit::status::DOCS_PATH, docs)
        .exact(crate::openapi::PATH, docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies() {
        let l = layer();
        assert_eq!(l.policy("/health"), CachePolicy::NoStore);
        assert_eq!(l.policy(crate::auth::token_endpoint::TOKEN_PATH), CachePolicy::NoStore);
        assert_eq!(l.policy("/oauth/revoke"), CachePolicy::NoStore);
        assert_eq!(l.policy("/docs/errors"), CachePolicy::Public { max_age: DOCS_MAX_AGE });
        assert_eq!(l.policy("/openapi.json"), CachePolicy::Public { max_age: DOCS_MAX_AGE });
        assert_eq!(l.policy("/v1/customers/1"), CachePolicy::Private);
        assert_eq!(l.policy("/admin/maintenance"), CachePolicy::Private);
    }
}
