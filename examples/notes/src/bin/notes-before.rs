//! A notes API written the usual way: axum's `Json` extractor, an error enum of its own that
//! answers `{"error": "..."}`, a bearer-token check in a middleware. It works, and it is what
//! most tutorials show. `tests/adoption.rs` runs `statuskit probe` against it and against
//! `notes-after.rs`, the same API after adopting statuskit.
//!
//! Usage: `notes-before [ADDR]` (default 127.0.0.1:0); the token is `$NOTES_TOKEN` (default
//! `notes-token`). Prints `listening on http://ADDR` first.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize)]
struct Note {
    id: u64,
    title: String,
    body: String,
}

#[derive(Deserialize)]
struct NewNote {
    title: String,
    #[serde(default)]
    body: String,
}

#[derive(Default)]
struct Notes {
    next: u64,
    all: BTreeMap<u64, Note>,
}

type Db = Arc<Mutex<Notes>>;

/// The API's errors, each answered as `{"error": "..."}`.
enum AppError {
    NotFound,
    Invalid(&'static str),
    Unauthorized,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            AppError::NotFound => (StatusCode::NOT_FOUND, "note not found"),
            AppError::Invalid(why) => (StatusCode::UNPROCESSABLE_ENTITY, why),
            AppError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

async fn list(State(db): State<Db>) -> Json<Vec<Note>> {
    Json(db.lock().unwrap().all.values().cloned().collect())
}

async fn create(State(db): State<Db>, Json(new): Json<NewNote>) -> Result<(StatusCode, Json<Note>), AppError> {
    if new.title.trim().is_empty() {
        return Err(AppError::Invalid("title must not be empty"));
    }
    let mut notes = db.lock().unwrap();
    notes.next += 1;
    let note = Note { id: notes.next, title: new.title, body: new.body };
    notes.all.insert(note.id, note.clone());
    Ok((StatusCode::CREATED, Json(note)))
}

async fn show(State(db): State<Db>, Path(id): Path<u64>) -> Result<Json<Note>, AppError> {
    db.lock().unwrap().all.get(&id).cloned().map(Json).ok_or(AppError::NotFound)
}

async fn replace(State(db): State<Db>, Path(id): Path<u64>, Json(new): Json<NewNote>) -> Result<Json<Note>, AppError> {
    if new.title.trim().is_empty() {
        return Err(AppError::Invalid("title must not be empty"));
    }
    let mut notes = db.lock().unwrap();
    let note = notes.all.get_mut(&id).ok_or(AppError::NotFound)?;
    note.title = new.title;
    note.body = new.body;
    Ok(Json(note.clone()))
}

async fn remove(State(db): State<Db>, Path(id): Path<u64>) -> Result<StatusCode, AppError> {
    db.lock().unwrap().all.remove(&id).map(|_| StatusCode::NO_CONTENT).ok_or(AppError::NotFound)
}

async fn require_token(req: Request, next: Next) -> Result<Response, AppError> {
    let token = std::env::var("NOTES_TOKEN").unwrap_or_else(|_| "notes-token".into());
    let expected = format!("Bearer {token}");
    match req.headers().get("authorization") {
        Some(v) if v.as_bytes() == expected.as_bytes() => Ok(next.run(req).await),
        _ => Err(AppError::Unauthorized),
    }
}

#[tokio::main]
async fn main() {
    let app = Router::new()
        .route("/notes", get(list).post(create))
        .route("/notes/{id}", get(show).put(replace).delete(remove))
        .layer(middleware::from_fn(require_token))
        .with_state(Db::default());
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    println!("listening on http://{}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}
