//! The notes API of `notes-before.rs` after adopting statuskit: the same routes and the same
//! in-memory store, with the library's extractors and responses in place of axum's `Json` and
//! the hand-made error enum. What changed, and what `statuskit probe` says about each version:
//! the README's "Adopting statuskit" section and `tests/adoption.rs`.
//!
//! Usage: `notes-after [ADDR]` (default 127.0.0.1:0); the token is `$NOTES_TOKEN` (default
//! `notes-token`). Prints `listening on http://ADDR` first.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Router, ServiceExt};
use http::Method;
use serde::{Deserialize, Serialize};
use statuskit::auth::Bearer;
use statuskit::body::Valid;
use statuskit::conditional::{Preconditions, Validators};
use statuskit::etag::EntityTag;
use statuskit::methods::{not_found, Resource};
use statuskit::negotiate::Format;
use statuskit::path::Path;
use statuskit::respond::{Created, Location, NoContent, Representation};
use statuskit::validate::{FieldErrors, Validate};
use statuskit::{ContractLayer, Problem};
use tower::Layer;

#[derive(Clone, Serialize)]
struct Note {
    id: u64,
    title: String,
    body: String,
    /// Bumped on every change: the entity tag.
    #[serde(skip)]
    version: u64,
}

#[derive(Deserialize)]
struct NewNote {
    title: String,
    #[serde(default)]
    body: String,
}

impl Validate for NewNote {
    fn validate(&self, errors: &mut FieldErrors) {
        if self.title.trim().is_empty() {
            errors.add("title", "must not be empty");
        }
    }
}

#[derive(Default)]
struct Notes {
    next: u64,
    all: BTreeMap<u64, Note>,
}

type Db = Arc<Mutex<Notes>>;

fn missing(id: u64) -> Problem {
    Problem::not_found(format!("no note has id {id}"))
}

fn validators(note: &Note) -> Validators {
    Validators::new(EntityTag::strong(&format!("v{}", note.version)).expect("digits are valid tag characters"))
}

fn represent(note: &Note, format: Format) -> Result<Representation, Problem> {
    Ok(Representation::new(format, "note", note)?.validators(&validators(note)))
}

async fn list(State(db): State<Db>, format: Format) -> Result<Representation, Problem> {
    let notes: Vec<Note> = db.lock().unwrap().all.values().cloned().collect();
    Representation::new(format, "notes", &notes)
}

async fn create(State(db): State<Db>, format: Format, Valid(new): Valid<NewNote>) -> Result<Created, Problem> {
    let mut notes = db.lock().unwrap();
    notes.next += 1;
    let note = Note { id: notes.next, title: new.title, body: new.body, version: 1 };
    notes.all.insert(note.id, note.clone());
    Ok(Created(Location::new(&format!("/notes/{}", note.id))?, represent(&note, format)?))
}

async fn show(
    State(db): State<Db>,
    format: Format,
    Path(id): Path<u64>,
    pre: Preconditions,
) -> Result<Response, Problem> {
    let note = db.lock().unwrap().all.get(&id).cloned().ok_or_else(|| missing(id))?;
    if let Err(outcome) = pre.evaluate(&Method::GET, Some(&validators(&note))) {
        return Ok(outcome.into_response());
    }
    Ok(represent(&note, format)?.into_response())
}

async fn replace(
    State(db): State<Db>,
    format: Format,
    Path(id): Path<u64>,
    pre: Preconditions,
    Valid(new): Valid<NewNote>,
) -> Result<Representation, Problem> {
    let mut notes = db.lock().unwrap();
    let note = notes.all.get_mut(&id).ok_or_else(|| missing(id))?;
    // A stale If-Match is 412, never a lost update.
    pre.evaluate(&Method::PUT, Some(&validators(note)))?;
    note.title = new.title;
    note.body = new.body;
    note.version += 1;
    represent(note, format)
}

async fn remove(State(db): State<Db>, Path(id): Path<u64>, pre: Preconditions) -> Result<NoContent, Problem> {
    let mut notes = db.lock().unwrap();
    let note = notes.all.get(&id).ok_or_else(|| missing(id))?;
    pre.evaluate(&Method::DELETE, Some(&validators(note)))?;
    notes.all.remove(&id);
    Ok(NoContent::new())
}

/// 401 with a `Bearer` challenge (and 400 for a malformed header), as problems.
async fn require_token(req: Request, next: Next) -> Result<Response, Problem> {
    let realm = Bearer::new("notes");
    let token = realm.token(req.headers())?;
    let expected = std::env::var("NOTES_TOKEN").unwrap_or_else(|_| "notes-token".into());
    if token != expected {
        return Err(realm.invalid_token("the access token is not valid"));
    }
    Ok(next.run(req).await)
}

#[tokio::main]
async fn main() {
    let routes = Router::new()
        .route("/notes", Resource::new().get(list).post(create).into())
        .route("/notes/{id}", Resource::new().get(show).put(replace).delete(remove).into())
        .fallback(not_found)
        .layer(middleware::from_fn(require_token))
        .with_state(Db::default());
    let app = ContractLayer::new().layer(routes);
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    println!("listening on http://{}", listener.local_addr().unwrap());
    axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await.unwrap();
}
