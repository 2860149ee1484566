//! The HTTP routes: the pages, their static files, Spark's REST API, ember's figures,
//! `/metrics`, and the kill action (refused unless `spark.ui.killEnabled`).
//!
//! Every handler reads the status under its short locks and answers at once; nothing here
//! blocks the engine. Unknown applications, batches, receivers and output operations are 404s
//! with Spark's one-line messages, in plain text.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;

use crate::ui::rest::{self, Problem};
use crate::ui::{Shared, assets, prometheus};

type S = State<Arc<Shared>>;

/// The server's routes over `shared`.
pub(super) fn router(shared: Arc<Shared>) -> Router {
    let app = "/api/v1/applications/{app}";
    Router::new()
        .route("/", get(|| async { found("/streaming/") }))
        .route("/streaming", get(|| async { found("/streaming/") }))
        .route("/streaming/", get(|| async { asset(&assets::INDEX) }))
        .route("/streaming/batch", get(|| async { asset(&assets::BATCH) }))
        .route("/streaming/batch/", get(|| async { asset(&assets::BATCH) }))
        .route("/streaming/kill", post(kill))
        .route("/streaming/kill/", post(kill))
        .route("/static/{file}", get(static_file))
        .route("/metrics", get(metrics))
        .route("/api/v1/applications", get(applications))
        .route(app, get(application))
        .route(&format!("{app}/streaming/statistics"), get(statistics))
        .route(&format!("{app}/streaming/receivers"), get(receivers))
        .route(&format!("{app}/streaming/receivers/{{id}}"), get(receiver))
        .route(&format!("{app}/streaming/batches"), get(batches))
        .route(&format!("{app}/streaming/batches/{{id}}"), get(batch))
        .route(
            &format!("{app}/streaming/batches/{{id}}/operations"),
            get(operations),
        )
        .route(
            &format!("{app}/streaming/batches/{{id}}/operations/{{op}}"),
            get(operation),
        )
        .route(&format!("{app}/streaming/ember"), get(ember))
        .fallback(not_found)
        .with_state(shared)
}

/// A 302 to `to`.
fn found(to: &'static str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

fn asset(a: &'static assets::Asset) -> Response {
    (
        [
            (header::CONTENT_TYPE, a.content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        a.bytes,
    )
        .into_response()
}

fn text(status: StatusCode, message: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message + "\n",
    )
        .into_response()
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        match self {
            Problem::NotFound(m) => text(StatusCode::NOT_FOUND, m),
            Problem::BadRequest(m) => text(StatusCode::BAD_REQUEST, m),
        }
    }
}

/// Indented JSON, as Spark's REST API writes it.
fn json(value: &impl Serialize) -> Response {
    match serde_json::to_vec_pretty(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn answer<T: Serialize>(r: Result<T, Problem>) -> Response {
    match r {
        Ok(v) => json(&v),
        Err(p) => p.into_response(),
    }
}

/// The application `id` names, or Spark's 404.
fn check_app(shared: &Shared, id: &str) -> Result<(), Problem> {
    if id == shared.app.id {
        Ok(())
    } else {
        Err(Problem::NotFound(format!("unknown app: {id}")))
    }
}

async fn not_found(uri: Uri) -> Response {
    text(
        StatusCode::NOT_FOUND,
        format!("no such page: {}", uri.path()),
    )
}

async fn static_file(Path(file): Path<String>) -> Response {
    match assets::find(&file) {
        Some(a) => asset(a),
        None => text(StatusCode::NOT_FOUND, format!("no such file: {file}")),
    }
}

async fn metrics(State(shared): S) -> Response {
    (
        [(header::CONTENT_TYPE, prometheus::CONTENT_TYPE)],
        prometheus::render(&shared.status),
    )
        .into_response()
}

async fn kill(State(shared): S) -> Response {
    match &shared.kill {
        Some(kill) => {
            kill();
            text(StatusCode::OK, "stopping the stream gracefully".to_owned())
        }
        None => text(
            StatusCode::METHOD_NOT_ALLOWED,
            "killing the stream from the UI is off (spark.ui.killEnabled=false)".to_owned(),
        ),
    }
}

async fn applications(State(shared): S) -> Response {
    json(&[rest::application(&shared.app)])
}

async fn application(State(shared): S, Path(app): Path<String>) -> Response {
    answer(check_app(&shared, &app).map(|()| rest::application(&shared.app)))
}

async fn statistics(State(shared): S, Path(app): Path<String>) -> Response {
    answer(check_app(&shared, &app).map(|()| rest::statistics(&shared.app, &shared.status)))
}

async fn receivers(State(shared): S, Path(app): Path<String>) -> Response {
    answer(check_app(&shared, &app).map(|()| rest::receivers(&shared.status)))
}

async fn receiver(State(shared): S, Path((app, id)): Path<(String, String)>) -> Response {
    answer(check_app(&shared, &app).and_then(|()| rest::receiver(&shared.status, &id)))
}

async fn batches(State(shared): S, Path(app): Path<String>, RawQuery(q): RawQuery) -> Response {
    answer(
        check_app(&shared, &app)
            .and_then(|()| rest::statuses(q.as_deref()))
            .map(|statuses| rest::batches(&shared.status, &statuses)),
    )
}

async fn batch(State(shared): S, Path((app, id)): Path<(String, String)>) -> Response {
    answer(check_app(&shared, &app).and_then(|()| rest::batch(&shared.status, &id)))
}

async fn operations(State(shared): S, Path((app, id)): Path<(String, String)>) -> Response {
    answer(check_app(&shared, &app).and_then(|()| rest::operations(&shared.status, &id)))
}

async fn operation(
    State(shared): S,
    Path((app, id, op)): Path<(String, String, String)>,
) -> Response {
    answer(check_app(&shared, &app).and_then(|()| rest::operation(&shared.status, &id, &op)))
}

async fn ember(State(shared): S, Path(app): Path<String>) -> Response {
    answer(check_app(&shared, &app).map(|()| rest::ember(&shared.app, &shared.status)))
}
