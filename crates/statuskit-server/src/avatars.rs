//! `/v1/me/avatar`: upload a PNG or JPEG (202 with a status monitor while thumbnails are made),
//! then read the original and its 32, 64, 128 and 256 px thumbnails with ETags.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method};
use serde::Serialize;
use statuskit::body::RawBody;
use statuskit::conditional::{Preconditions, Validators};
use statuskit::etag::EntityTag;
use statuskit::header::{mime, ACCEPT, VARY};
use statuskit::negotiate::{select, Accept};
use statuskit::path::Path;
use statuskit::respond::{Accepted, Location, Representation};
use statuskit::retry_after::RetryAfter;
use statuskit::validate::FieldErrors;
use statuskit::Problem;

use serde_json::json;
use statuskit::openapi::{delay_seconds, text, Operation, Route};
use statuskit::status;

use crate::auth::{Auth, Caller, Read, Write};
use crate::images::{self, ImageRejection};
use crate::operations::{monitor_path, OperationView};
use crate::state::App;
use crate::store::Store;

/// Where a user's avatar lives.
pub const PATH: &str = "/v1/me/avatar";

/// The thumbnail sizes, in pixels (square).
pub const SIZES: [i64; 4] = [32, 64, 128, 256];
/// The media types an upload may have.
pub const UPLOAD_TYPES: &[&str] = &[mime::PNG, mime::JPEG];
pub use crate::images::MAX_SIDE;

/// A refused image as a 422 on the `body` field, in words.
fn not_an_image(why: ImageRejection) -> Problem {
    tracing::debug!(error = %why, source = ?std::error::Error::source(&why), "avatar refused");
    let mut errors = FieldErrors::new();
    errors.add("body", why.to_string());
    Problem::unprocessable_entity(errors)
}

/// Checks that the bytes are an image of the declared type, of a sane size, that decodes within
/// the memory stated in [`crate::images`] (reading the header only; the worker decodes the
/// whole image).
fn check_image(bytes: &[u8], declared: &str) -> Result<(), Problem> {
    images::check(bytes, declared).map(|_| ()).map_err(not_an_image)
}

#[derive(Serialize)]
struct Links {
    status: crate::customers::model::Link,
}

#[derive(Serialize)]
struct AcceptedBody<'a> {
    #[serde(flatten)]
    operation: OperationView<'a>,
    #[serde(rename = "_links")]
    links: Links,
}

/// The routes of the caller's avatar, each with its description.
pub fn routes<S: Store>() -> Vec<(&'static str, Route<App<S>>)> {
    let image = |op: &mut Operation| {
        op.problems(&[&status::BAD_REQUEST, &status::NOT_ACCEPTABLE, &status::NOT_FOUND]);
        let ok = op.answer(&status::OK);
        for t in UPLOAD_TYPES {
            ok.body(t, json!({"type": "string", "contentMediaType": t}));
        }
    };
    let original = Route::new()
        .get(original::<S>, |op| {
            op.id("getAvatar").summary("The caller's avatar as uploaded");
            image(op);
        })
        .put(upload::<S>, |op| {
            op.id("uploadAvatar")
                .summary("Upload an avatar; thumbnails are made in the background")
                .schema("Operation", crate::operations::schema());
            for t in UPLOAD_TYPES {
                op.request_body(t, Some(json!({"type": "string", "contentMediaType": t})));
            }
            statuskit::openapi::body_answers(op);
            op.answer(&status::ACCEPTED)
                .negotiated_body("Operation")
                .describe("Queued: `Location` and the `status` link name the monitor.")
                .header(&statuskit::header::LOCATION, text(), true)
                .header(&statuskit::header::RETRY_AFTER, delay_seconds(), false);
            op.problem(&status::CONFLICT);
        });
    let thumbnail =
        Route::new().path_param("size", json!({"type": "integer", "enum": SIZES})).get(thumbnail::<S>, |op| {
            op.id("getAvatarThumbnail").summary("A square thumbnail of the caller's avatar");
            image(op);
        });
    vec![(PATH, original), ("/v1/me/avatar/{size}", thumbnail)]
}

/// `PUT /v1/me/avatar`: 202 and a status monitor; 409 while an upload is still being processed.
pub async fn upload<S: Store>(
    Auth(caller, ..): Auth<Write>,
    State(app): State<App<S>>,
    format: statuskit::negotiate::Format,
    mut req: Request,
) -> Result<Response, Problem> {
    let user = caller.acting_user()?;
    req.extensions_mut().insert(statuskit::body::BodyLimit(app.config.max_avatar_bytes));
    let body = RawBody::read(req, UPLOAD_TYPES).await?;
    let (declared, bytes) = (body.media_type(), body.into_bytes());
    check_image(&bytes, declared)?;
    let op = match app.store.queue_avatar(user, declared, &bytes).await? {
        Ok(op) => op,
        Err(running) => {
            return Err(Problem::conflict(format!(
                "an avatar upload is still being processed; wait for {} to finish",
                monitor_path(&running)
            )))
        }
    };
    app.work.notify_one();
    let monitor = monitor_path(&op.id);
    let body = AcceptedBody {
        operation: OperationView::from(&op),
        links: Links { status: crate::customers::model::Link { href: monitor.clone() } },
    };
    Ok(Accepted {
        monitor: Location::new(&monitor)?,
        body: Representation::new(format, "operation", &body)?,
        retry_after: RetryAfter::seconds(1),
    }
    .into_response())
}

async fn serve_image<S: Store>(
    app: &App<S>,
    caller: &Caller,
    size: i64,
    pre: &Preconditions,
    req_accept: Option<Accept>,
) -> Result<Response, Problem> {
    let user = caller.acting_user()?;
    let Some(avatar) = app.store.avatar(user, size).await? else {
        return Err(Problem::not_found("no avatar yet; upload one with PUT /v1/me/avatar"));
    };
    if select(req_accept.as_ref(), &[avatar.content_type.as_str()]).is_none() {
        return Err(Problem::not_acceptable(&[avatar.content_type.as_str()]));
    }
    let tag = EntityTag::strong(&avatar.etag).map_err(Problem::internal_server_error)?;
    let v = Validators::new(tag)
        .last_modified(std::time::UNIX_EPOCH + std::time::Duration::from_millis(avatar.updated_ms.max(0) as u64));
    if let Err(outcome) = pre.evaluate(&Method::GET, Some(&v)) {
        return Ok(outcome.into_response());
    }
    let content_type = HeaderValue::try_from(avatar.content_type).map_err(Problem::internal_server_error)?;
    Ok(Representation::raw(content_type, avatar.bytes)
        .validators(&v)
        .header(VARY, HeaderValue::from_name(ACCEPT))
        .into_response())
}

fn accept_of(headers: &http::HeaderMap) -> Result<Option<Accept>, Problem> {
    Accept::from_headers(headers).map_err(|e| Problem::bad_request(e.to_string()))
}

/// `GET /v1/me/avatar`: the original upload.
pub async fn original<S: Store>(
    Auth(caller, ..): Auth<Read>,
    State(app): State<App<S>>,
    pre: Preconditions,
    headers: http::HeaderMap,
) -> Result<Response, Problem> {
    serve_image(&app, &caller, 0, &pre, accept_of(&headers)?).await
}

/// `GET /v1/me/avatar/{size}`: a thumbnail (PNG).
pub async fn thumbnail<S: Store>(
    Auth(caller, ..): Auth<Read>,
    State(app): State<App<S>>,
    Path(size): Path<i64>,
    pre: Preconditions,
    headers: http::HeaderMap,
) -> Result<Response, Problem> {
    if !SIZES.contains(&size) {
        return Err(Problem::not_found(format!("thumbnails come in sizes {SIZES:?}")));
    }
    serve_image(&app, &caller, size, &pre, accept_of(&headers)?).await
}
