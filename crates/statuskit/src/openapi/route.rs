//! A [`Resource`] that keeps the description of each of its handlers, and described layer stacks.

use std::convert::Infallible;
use std::sync::Arc;

use axum::handler::Handler;
use axum::response::IntoResponse;
use http::Method;
use serde_json::{json, Value};
use tower::layer::util::{Identity, Stack};
use tower::util::Either;
use tower::{Layer, Service};

use super::{DescribeHandler, DescribeLayer, Operation};
use crate::methods::{Allow, Resource};

/// A path's handlers, as [`Resource`], each with its [`Operation`]: what the route says in a
/// closure beside the handler (id, summary, success answers), then what the handler's
/// arguments can answer ([`DescribeHandler`]), then what the layers put around it can
/// ([`route_layer`](Self::route_layer)). Turn it into a router and a document with
/// [`ApiDoc::route`](super::ApiDoc::route).
#[must_use]
pub struct Route<S = ()> {
    resource: Resource<S>,
    operations: Vec<Operation>,
    path_params: Vec<Value>,
    accept_post: Option<&'static [&'static str]>,
    accept_patch: Option<&'static [&'static str]>,
}

impl<S> std::fmt::Debug for Route<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route").field("operations", &self.operations).finish_non_exhaustive()
    }
}

impl<S: Clone + Send + Sync + 'static> Default for Route<S> {
    fn default() -> Self {
        Route {
            resource: Resource::new(),
            operations: Vec::new(),
            path_params: Vec::new(),
            accept_post: None,
            accept_patch: None,
        }
    }
}

macro_rules! method {
    ($($fn:ident => $method:ident),*) => {$(
        #[doc = concat!("Routes ", stringify!($method), " to `handler`, described by `doc` and by its arguments.")]
        pub fn $fn<H, T, D>(mut self, handler: H, doc: impl FnOnce(&mut Operation)) -> Self
        where
            H: Handler<T, S> + DescribeHandler<D>,
            T: 'static,
        {
            let mut op = Operation::new(Method::$method);
            doc(&mut op);
            H::describe(&mut op);
            self.operations.push(op);
            self.resource = self.resource.$fn(handler);
            self
        }
    )*};
}

impl<S: Clone + Send + Sync + 'static> Route<S> {
    /// No handlers yet.
    pub fn new() -> Self {
        Self::default()
    }

    method!(get => GET, post => POST, put => PUT, patch => PATCH, delete => DELETE);

    /// Declares a path parameter of the template (`{name}`) with its schema.
    pub fn path_param(mut self, name: &str, schema: Value) -> Self {
        self.path_params.push(json!({"name": name, "in": "path", "required": true, "schema": schema}));
        self
    }

    /// As [`Resource::accept_post`].
    pub fn accept_post(mut self, types: &'static [&'static str]) -> Self {
        self.resource = self.resource.accept_post(types);
        self.accept_post = Some(types);
        self
    }

    /// As [`Resource::accept_patch`].
    pub fn accept_patch(mut self, types: &'static [&'static str]) -> Self {
        self.resource = self.resource.accept_patch(types);
        self.accept_patch = Some(types);
        self
    }

    /// Wraps the handlers added so far in `layer` (as `MethodRouter::route_layer`: after the
    /// 405 check) and adds what it can answer to each of their operations.
    pub fn route_layer<L>(mut self, layer: L) -> Self
    where
        L: DescribeLayer + Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: Clone + Send + Sync + 'static,
        <L::Service as Service<axum::extract::Request>>::Response: IntoResponse + 'static,
        L::Service: Service<axum::extract::Request, Error = Infallible>,
        <L::Service as Service<axum::extract::Request>>::Future: Send + 'static,
    {
        self.operations.iter_mut().for_each(|op| layer.describe(op));
        self.resource = self.resource.map_routes(|routes| routes.route_layer(layer));
        self
    }

    /// The `Allow` this route answers with.
    pub fn allow(&self) -> Allow {
        self.resource.allow()
    }

    /// The operations, one per method routed (HEAD and OPTIONS are added by the document).
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// The routes without their descriptions.
    pub fn into_resource(self) -> Resource<S> {
        self.resource
    }

    pub(super) fn into_parts(self) -> RouteParts<S> {
        RouteParts {
            resource: self.resource,
            operations: self.operations,
            path_params: self.path_params,
            accept_post: self.accept_post,
            accept_patch: self.accept_patch,
        }
    }
}

/// What a document keeps of a [`Route`].
pub(super) struct RouteParts<S> {
    pub resource: Resource<S>,
    pub operations: Vec<Operation>,
    pub path_params: Vec<Value>,
    pub accept_post: Option<&'static [&'static str]>,
    pub accept_patch: Option<&'static [&'static str]>,
}

type Describer = Arc<dyn Fn(&mut Operation) + Send + Sync>;

/// A stack of layers, built as tower's `ServiceBuilder` (the first added is outermost), that
/// also remembers what each can answer: tower's `Stack` does not show its parts, so a stack is
/// described as it is built.
///
/// ```
/// use statuskit::deadline::DeadlineLayer;
/// use statuskit::openapi::{DescribeLayer, Layers, Operation};
///
/// let layers = Layers::new().layer(DeadlineLayer::new(std::time::Duration::from_secs(5)));
/// let mut op = Operation::new(http::Method::GET);
/// layers.describe(&mut op);
/// assert!(op.to_json(false, &|_| serde_json::json!({}))["responses"]["504"].is_object());
/// ```
#[derive(Clone)]
#[must_use]
pub struct Layers<L> {
    inner: L,
    described: Vec<Describer>,
}

impl<L> std::fmt::Debug for Layers<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layers").field("layers", &self.described.len()).finish()
    }
}

impl Default for Layers<Identity> {
    fn default() -> Self {
        Layers { inner: Identity::new(), described: Vec::new() }
    }
}

impl Layers<Identity> {
    /// No layers yet.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<L> Layers<L> {
    /// Adds `layer` inside those added so far.
    pub fn layer<T>(mut self, layer: T) -> Layers<Stack<T, L>>
    where
        T: DescribeLayer + Clone + Send + Sync + 'static,
    {
        let d = layer.clone();
        self.described.push(Arc::new(move |op| d.describe(op)));
        Layers { inner: Stack::new(layer, self.inner), described: self.described }
    }

    /// Adds `layer` if there is one.
    pub fn option_layer<T>(self, layer: Option<T>) -> Layers<Stack<Either<T, Identity>, L>>
    where
        T: DescribeLayer + Clone + Send + Sync + 'static,
    {
        self.layer(match layer {
            Some(l) => Either::Left(l),
            None => Either::Right(Identity::new()),
        })
    }

    /// The tower stack.
    pub fn into_inner(self) -> L {
        self.inner
    }
}

impl<L> DescribeLayer for Layers<L> {
    fn describe(&self, op: &mut Operation) {
        self.described.iter().for_each(|d| d(op));
    }
}

impl<S, L: Layer<S>> Layer<S> for Layers<L> {
    type Service = L::Service;

    fn layer(&self, inner: S) -> Self::Service {
        self.inner.layer(inner)
    }
}
