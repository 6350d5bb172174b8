//! What each extractor and layer of this crate (and of axum and tower) can answer.

use http::{HeaderName, Method};
use serde_json::json;

#[cfg(any(feature = "unavailable", feature = "rate-limit", feature = "server"))]
use super::delay_seconds;
use super::{component, entity_tag, text, BodySchema, DescribeInput, DescribeLayer, Operation};
use crate::body::{Body, MergePatch, Valid, BODY_TYPES, PATCH_TYPES};
use crate::conditional::Preconditions;
use crate::header;
use crate::negotiate::Format;
use crate::path::Path;
use crate::query::Query;
use crate::status::{self, Status};

/// The header a 415 names the accepted types in: `Accept-Post` for POST, `Accept-Patch` for
/// PATCH (RFC 5789), `Accept` otherwise (RFC 9110 §15.5.16).
fn accepted_types_header(method: &Method) -> HeaderName {
    match *method {
        Method::POST => header::ACCEPT_POST,
        Method::PATCH => header::ACCEPT_PATCH,
        _ => header::ACCEPT,
    }
}

/// What reading a body can answer: 415 (naming the accepted types, or `Accept-Encoding` when a
/// content coding was the cause), 411, 413, 400 (syntax) and 422 (data).
pub fn body_answers(op: &mut Operation) {
    let named = accepted_types_header(op.method());
    op.problem(&status::UNSUPPORTED_MEDIA_TYPE).header(&named, text(), false).header(
        &header::ACCEPT_ENCODING,
        text(),
        false,
    );
    op.problems(&[
        &status::BAD_REQUEST,
        &status::LENGTH_REQUIRED,
        &status::PAYLOAD_TOO_LARGE,
        &status::UNPROCESSABLE_ENTITY,
    ]);
}

impl<T: BodySchema> DescribeInput for Body<T> {
    /// JSON by the schema of `T`; XML is documented in prose only, as an XML document generated
    /// from a JSON Schema turns JSON's `null` and `[]` into text.
    fn describe(op: &mut Operation) {
        op.schema(T::name(), T::schema());
        for t in BODY_TYPES.iter().filter(|t| t.ends_with("json")) {
            op.request_body(t, Some(component(T::name())));
        }
        op.request_description("Also accepted as application/xml, with the same members as elements.");
        body_answers(op);
    }
}

impl<T: BodySchema> DescribeInput for Valid<T> {
    fn describe(op: &mut Operation) {
        Body::<T>::describe(op);
    }
}

impl DescribeInput for MergePatch {
    /// Any JSON object (RFC 7396); a route names the exact shape with
    /// [`Operation::request_schema`].
    fn describe(op: &mut Operation) {
        for t in PATCH_TYPES {
            op.request_body(t, Some(json!({"type": "object"})));
        }
        body_answers(op);
    }
}

impl DescribeInput for Format {
    /// 406 when neither JSON nor XML is acceptable, 400 for an `Accept` that cannot be read.
    fn describe(op: &mut Operation) {
        op.problems(&[&status::BAD_REQUEST, &status::NOT_ACCEPTABLE]);
    }
}

impl DescribeInput for Preconditions {
    /// 412 for a precondition that fails, 400 for one that cannot be read; on GET, 304 with the
    /// `ETag`, and an `ETag` on every success (the validator the conditions compare against).
    fn describe(op: &mut Operation) {
        op.problems(&[&status::BAD_REQUEST, &status::PRECONDITION_FAILED]);
        if op.method() == Method::GET {
            for r in op.responses_mut().filter(|r| r.status().code.is_success()) {
                if !r.has_header(&header::ETAG) {
                    r.header(&header::ETAG, entity_tag(), true);
                }
            }
            op.answer(&status::NOT_MODIFIED).header(&header::ETAG, entity_tag(), true);
        }
    }
}

impl<T> DescribeInput for Path<T> {
    /// A segment that does not parse names no resource: 404.
    fn describe(op: &mut Operation) {
        op.problem(&status::NOT_FOUND);
    }
}

impl<T> DescribeInput for Query<T> {
    /// A query that does not parse: 400.
    fn describe(op: &mut Operation) {
        op.problem(&status::BAD_REQUEST);
    }
}

impl<T: BodySchema> DescribeInput for axum::Json<T> {
    /// axum's own: a JSON body by the schema of `T`; 415 without a JSON `Content-Type`, 400 for
    /// a syntax error, 422 for data that does not fit `T`, 413 past axum's body limit (the
    /// contract's layer writes each as a problem).
    fn describe(op: &mut Operation) {
        op.schema(T::name(), T::schema()).request_body(crate::header::mime::JSON, Some(component(T::name())));
        op.problems(&[
            &status::UNSUPPORTED_MEDIA_TYPE,
            &status::BAD_REQUEST,
            &status::UNPROCESSABLE_ENTITY,
            &status::PAYLOAD_TOO_LARGE,
        ]);
    }
}

impl<T: BodySchema> DescribeInput for axum::Form<T> {
    /// axum's own: a form body (`application/x-www-form-urlencoded`) by the schema of `T`; 415,
    /// 400, 422 and 413 as for `Json`. On GET and HEAD axum reads the form from the query.
    fn describe(op: &mut Operation) {
        if op.method() != Method::GET && op.method() != Method::HEAD {
            op.schema(T::name(), T::schema()).request_body(crate::header::mime::FORM, Some(component(T::name())));
            op.problems(&[&status::UNSUPPORTED_MEDIA_TYPE, &status::UNPROCESSABLE_ENTITY, &status::PAYLOAD_TOO_LARGE]);
        }
        op.problem(&status::BAD_REQUEST);
    }
}

impl<T> DescribeInput for axum::extract::Query<T> {
    /// axum's own: a query that does not parse as `T` is 400.
    fn describe(op: &mut Operation) {
        op.problem(&status::BAD_REQUEST);
    }
}

impl<T> DescribeInput for axum::extract::Path<T> {
    /// axum's own: a segment that does not parse as `T` is 400 (statuskit's
    /// [`Path`] answers 404: it names no resource).
    fn describe(op: &mut Operation) {
        op.problem(&status::BAD_REQUEST);
    }
}

impl DescribeInput for String {
    /// The body as text: 400 if it is not UTF-8, 413 past axum's body limit.
    fn describe(op: &mut Operation) {
        op.problems(&[&status::BAD_REQUEST, &status::PAYLOAD_TOO_LARGE]);
    }
}

impl DescribeInput for bytes::Bytes {
    /// The body as bytes: 413 past axum's body limit.
    fn describe(op: &mut Operation) {
        op.problem(&status::PAYLOAD_TOO_LARGE);
    }
}

/// Extractors that never refuse a request add nothing.
macro_rules! answers_nothing {
    ($($ty:ty),* $(,)?) => {$(
        impl DescribeInput for $ty {
            fn describe(_: &mut Operation) {}
        }
    )*};
}

impl<T> DescribeInput for axum::extract::State<T> {
    fn describe(_: &mut Operation) {}
}

impl<T> DescribeInput for axum::Extension<T> {
    fn describe(_: &mut Operation) {}
}

/// (Only with the `server` feature, which turns on the axum feature `ConnectInfo` lives behind.)
#[cfg(feature = "server")]
impl<T> DescribeInput for axum::extract::ConnectInfo<T> {
    fn describe(_: &mut Operation) {}
}

impl<T: DescribeInput> DescribeInput for Option<T> {
    /// An optional extractor refuses what its inner one refuses.
    fn describe(op: &mut Operation) {
        T::describe(op);
    }
}

answers_nothing!(axum::extract::OriginalUri, http::HeaderMap, http::Method, http::Uri, axum::extract::Request,);

/// Layers that never answer on their own add nothing; `Either` adds what its part does. (tower's
/// `Stack` does not show its parts: build described stacks with [`super::Layers`].)
impl DescribeLayer for tower::layer::util::Identity {
    fn describe(&self, _: &mut Operation) {}
}

impl<A: DescribeLayer, B: DescribeLayer> DescribeLayer for tower::util::Either<A, B> {
    fn describe(&self, op: &mut Operation) {
        match self {
            tower::util::Either::Left(a) => a.describe(op),
            tower::util::Either::Right(b) => b.describe(op),
        }
    }
}

impl<F, S, T> DescribeLayer for axum::middleware::FromFnLayer<F, S, T> {
    fn describe(&self, _: &mut Operation) {}
}

impl<T> DescribeLayer for tower_http::add_extension::AddExtensionLayer<T> {
    fn describe(&self, _: &mut Operation) {}
}

impl<L: DescribeLayer> DescribeLayer for Option<L> {
    fn describe(&self, op: &mut Operation) {
        if let Some(l) = self {
            l.describe(op);
        }
    }
}

impl<L: DescribeLayer> DescribeLayer for &L {
    fn describe(&self, op: &mut Operation) {
        (*self).describe(op);
    }
}

fn any_status(_: &Status) -> bool {
    true
}

impl DescribeLayer for crate::ContractLayer {
    /// 500 for a panic, and `X-Request-Id` on every response.
    fn describe(&self, op: &mut Operation) {
        op.problem(&status::INTERNAL_SERVER_ERROR);
        op.every_response(any_status, &header::X_REQUEST_ID, text(), true);
    }
}

#[cfg(feature = "limits")]
impl DescribeLayer for crate::limits::RequestLimitsLayer {
    /// 414 and 431 past the limits, 400 for a missing or repeated `Host`.
    fn describe(&self, op: &mut Operation) {
        op.problems(&[&status::URI_TOO_LONG, &status::REQUEST_HEADER_FIELDS_TOO_LARGE, &status::BAD_REQUEST]);
    }
}

#[cfg(feature = "cache")]
impl DescribeLayer for crate::cache::CacheControlLayer {
    /// `Cache-Control` on every 2xx and 304 (contract §4).
    fn describe(&self, op: &mut Operation) {
        fn cached(s: &Status) -> bool {
            s.code.is_success() || s.code == status::NOT_MODIFIED.code
        }
        op.every_response(cached, &header::CACHE_CONTROL, text(), true);
    }
}

/// 503 with `Retry-After`.
#[cfg(feature = "unavailable")]
fn unavailable(op: &mut Operation) {
    op.problem(&status::SERVICE_UNAVAILABLE).header(&header::RETRY_AFTER, delay_seconds(), true);
}

#[cfg(feature = "unavailable")]
impl DescribeLayer for crate::unavailable::MaintenanceLayer {
    /// 503 with `Retry-After` while maintenance is on.
    fn describe(&self, op: &mut Operation) {
        unavailable(op);
    }
}

#[cfg(feature = "unavailable")]
impl DescribeLayer for crate::unavailable::LoadShedLayer {
    /// 503 with `Retry-After` past the bound of requests in flight.
    fn describe(&self, op: &mut Operation) {
        unavailable(op);
    }
}

#[cfg(feature = "deadline")]
impl DescribeLayer for crate::deadline::DeadlineLayer {
    /// 504 past the deadline.
    fn describe(&self, op: &mut Operation) {
        op.problem(&status::GATEWAY_TIMEOUT);
    }
}

#[cfg(feature = "collect")]
impl DescribeLayer for crate::collect::CollectBodyLayer {
    /// 408 for a body that does not arrive in time, 413 past the limit.
    fn describe(&self, op: &mut Operation) {
        op.problems(&[&status::REQUEST_TIMEOUT, &status::PAYLOAD_TOO_LARGE]);
    }
}

#[cfg(feature = "rate-limit")]
impl DescribeLayer for crate::rate_limit::RateLimitLayer {
    /// 429 with `Retry-After` past the limit.
    fn describe(&self, op: &mut Operation) {
        op.problem(&status::TOO_MANY_REQUESTS).header(&header::RETRY_AFTER, delay_seconds(), true);
    }
}

#[cfg(feature = "idempotency")]
impl<St> DescribeLayer for crate::idempotency::IdempotencyLayer<St> {
    /// On POST: 400 for a malformed `Idempotency-Key`, 409 while the first request with the key
    /// is in progress, 422 for the key reused with another request, 413 for a body too large to
    /// fingerprint.
    fn describe(&self, op: &mut Operation) {
        if op.method() == Method::POST {
            // The header itself is not listed as a parameter: OpenAPI tools send an empty value
            // for an optional header they mean to leave out, which is a 400 here (an empty
            // field is no sf-string, and ignoring it would drop the protection the client asked
            // for). An API that wants it listed adds it with `Operation::header_param`.
            op.problems(&[
                &status::BAD_REQUEST,
                &status::CONFLICT,
                &status::UNPROCESSABLE_ENTITY,
                &status::PAYLOAD_TOO_LARGE,
            ]);
        }
    }
}

#[cfg(feature = "server")]
impl DescribeLayer for crate::server::ServerConfig {
    /// The connection's own answers: 408 for a request head that does not arrive in time, 503
    /// with `Retry-After` when every connection is busy, and hyper's refusals as problems (400,
    /// 414, 431).
    fn describe(&self, op: &mut Operation) {
        op.problems(&[
            &status::REQUEST_TIMEOUT,
            &status::BAD_REQUEST,
            &status::URI_TOO_LONG,
            &status::REQUEST_HEADER_FIELDS_TOO_LARGE,
        ]);
        op.problem(&status::SERVICE_UNAVAILABLE).header(&header::RETRY_AFTER, delay_seconds(), true);
    }
}
