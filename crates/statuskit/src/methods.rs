//! Methods: 405 with an `Allow` computed from every handler on the path (HEAD and OPTIONS
//! included), OPTIONS answered with `Allow`, and unknown paths answered 404 as a problem.
//!
//! ```
//! use axum::Router;
//! use statuskit::methods::{not_found, Resource};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app: Router = Router::new()
//!     .route("/things", Resource::new().get(|| async { "list" }).post(|| async { "made" }).into())
//!     .fallback(not_found);
//! let req = http::Request::delete("/things").body(axum::body::Body::empty()).unwrap();
//! let res = app.clone().oneshot(req).await.unwrap();
//! assert_eq!(res.status(), 405);
//! assert_eq!(res.headers()["allow"], "GET, HEAD, POST, OPTIONS");
//! let req = http::Request::options("/things").body(axum::body::Body::empty()).unwrap();
//! assert_eq!(app.oneshot(req).await.unwrap().headers()["allow"], "GET, HEAD, POST, OPTIONS");
//! # });
//! ```

use std::fmt;

use axum::handler::Handler;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use http::{HeaderValue, Method, Uri};

use crate::header::{ACCEPT_PATCH, ACCEPT_POST, ALLOW};
use crate::problem::Problem;
use crate::status;

/// The methods a path accepts, in a fixed order, as sent in `Allow`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow(Vec<Method>);

const ORDER: [Method; 7] =
    [Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS];

impl Allow {
    /// The handled methods, plus HEAD when GET is there (axum answers HEAD with GET's handler)
    /// and OPTIONS (always answered).
    pub fn from_methods(methods: impl IntoIterator<Item = Method>) -> Self {
        let mut set: Vec<Method> = methods.into_iter().collect();
        if set.contains(&Method::GET) {
            set.push(Method::HEAD);
        }
        set.push(Method::OPTIONS);
        let mut ordered: Vec<Method> = ORDER.iter().filter(|m| set.contains(m)).cloned().collect();
        ordered.extend(set.into_iter().filter(|m| !ORDER.contains(m)));
        ordered.dedup();
        Allow(ordered)
    }

    /// `true` if `method` is allowed.
    pub fn contains(&self, method: &Method) -> bool {
        self.0.contains(method)
    }

    /// The methods, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Method> {
        self.0.iter()
    }

    /// The field value, e.g. `GET, HEAD, OPTIONS`.
    pub fn to_header_value(&self) -> HeaderValue {
        HeaderValue::try_from(self.to_string()).expect("method names are tokens")
    }
}

impl fmt::Display for Allow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(m.as_str())?;
        }
        Ok(())
    }
}

/// A path's handlers, built like axum's `MethodRouter`, that also answers OPTIONS and 405 with
/// the exact `Allow` (and `Accept-Post` / `Accept-Patch` where declared).
#[derive(Debug)]
#[must_use]
pub struct Resource<S = ()> {
    router: MethodRouter<S>,
    methods: Vec<Method>,
    accept_post: Option<&'static [&'static str]>,
    accept_patch: Option<&'static [&'static str]>,
}

impl<S> Default for Resource<S>
where
    S: Clone + Send + Sync + 'static,
{
    fn default() -> Self {
        Resource { router: MethodRouter::new(), methods: Vec::new(), accept_post: None, accept_patch: None }
    }
}

macro_rules! method {
    ($($fn:ident => $method:ident),*) => {$(
        #[doc = concat!("Routes ", stringify!($method), " to `handler`.")]
        pub fn $fn<H, T>(mut self, handler: H) -> Self
        where
            H: Handler<T, S>,
            T: 'static,
        {
            self.router = self.router.$fn(handler);
            self.methods.push(Method::$method);
            self
        }
    )*};
}

impl<S> Resource<S>
where
    S: Clone + Send + Sync + 'static,
{
    /// No handlers yet.
    pub fn new() -> Self {
        Self::default()
    }

    method!(get => GET, post => POST, put => PUT, patch => PATCH, delete => DELETE);

    /// Wraps the handlers added so far (not OPTIONS, not the 405 fallback) — e.g. with
    /// `MethodRouter::route_layer` — so middleware runs only for methods the path serves, after
    /// the 405 check, as the contract orders it.
    pub fn map_routes(mut self, f: impl FnOnce(MethodRouter<S>) -> MethodRouter<S>) -> Self {
        self.router = f(self.router);
        self
    }

    /// Declares the media types POST accepts (sent as `Accept-Post` on OPTIONS; a type that
    /// cannot be sent in a header is left out of it).
    pub fn accept_post(mut self, types: &'static [&'static str]) -> Self {
        self.accept_post = Some(types);
        self
    }

    /// Declares the media types PATCH accepts (sent as `Accept-Patch` on OPTIONS; a type that
    /// cannot be sent in a header is left out of it).
    pub fn accept_patch(mut self, types: &'static [&'static str]) -> Self {
        self.accept_patch = Some(types);
        self
    }

    /// The `Allow` this resource answers with.
    pub fn allow(&self) -> Allow {
        Allow::from_methods(self.methods.iter().cloned())
    }
}

impl<S> From<Resource<S>> for MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    fn from(resource: Resource<S>) -> MethodRouter<S> {
        let allow = resource.allow();
        let allow_for_405 = allow.clone();
        let options = Options { allow, accept_post: resource.accept_post, accept_patch: resource.accept_patch };
        resource
            .router
            .options(move || {
                let options = options.clone();
                async move { options.into_response() }
            })
            .fallback(move |method: Method| {
                let allow = allow_for_405.clone();
                async move { Problem::method_not_allowed(&method, &allow) }
            })
    }
}

#[derive(Debug, Clone)]
struct Options {
    allow: Allow,
    accept_post: Option<&'static [&'static str]>,
    accept_patch: Option<&'static [&'static str]>,
}

impl IntoResponse for Options {
    fn into_response(self) -> Response {
        let mut res = status::NO_CONTENT.code.into_response();
        let h = res.headers_mut();
        h.insert(ALLOW, self.allow.to_header_value());
        for (name, types) in [(ACCEPT_POST, self.accept_post), (ACCEPT_PATCH, self.accept_patch)] {
            if let Some(types) = types {
                // A type that cannot be sent in a header is left out rather than failing OPTIONS.
                let sendable: Vec<&str> = types.iter().copied().filter(|t| HeaderValue::from_str(t).is_ok()).collect();
                if let Ok(value) = HeaderValue::try_from(sendable.join(", ")) {
                    h.insert(name, value);
                }
            }
        }
        res
    }
}

/// Router fallback: 404 as a problem, naming the path.
pub async fn not_found(uri: Uri) -> Problem {
    Problem::not_found(format!("nothing is at {}", uri.path()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_is_ordered_and_complete() {
        let a = Allow::from_methods([Method::DELETE, Method::GET, Method::PATCH, Method::PUT]);
        assert_eq!(a.to_string(), "GET, HEAD, PUT, PATCH, DELETE, OPTIONS");
        assert_eq!(Allow::from_methods([Method::POST]).to_string(), "POST, OPTIONS");
        assert_eq!(Allow::from_methods([]).to_string(), "OPTIONS");
    }

    #[tokio::test]
    async fn options_leaves_out_types_that_are_no_header_value() {
        use tower::ServiceExt;
        let resource = Resource::new().post(|| async {}).accept_post(&["application/json", "bad\ntype"]);
        let app: axum::Router = axum::Router::new().route("/", resource.into());
        let req = http::Request::options("/").body(axum::body::Body::empty()).unwrap();
        let res = app.oneshot(req).await.unwrap();
        assert_eq!(res.status(), status::NO_CONTENT.code);
        assert_eq!(res.headers()[ACCEPT_POST], "application/json");
    }
}
