//! The HTTP side: the router, its handlers and the error answers.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::conn::Conn;
use super::state::{Begun, Shared};
use super::wire::path_tags;
use super::{MAX_BODY, SimStats};

/// The API routes behind the [gate](super::remote::gate) (latency, rate limit, cap), and the
/// stats beside them.
pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/oauth2/token", post(token))
        .route("/share/{rec_type}", get(list).post(create))
        .route(
            "/share/{rec_type}/tags/{*tags}",
            get(list_tagged).post(create_tagged),
        )
        .route("/share/{rec_type}/{id}", get(get_one).delete(delete_one))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            super::remote::gate,
        ))
        .route("/_sim/stats", get(stats))
        .fallback(|| async { error(404, "not_found", "no such endpoint") })
        .with_state(shared)
}

type Sim = State<Arc<Shared>>;
type ConnInfo = ConnectInfo<Conn>;

#[derive(Deserialize)]
pub(super) struct TokenQuery {
    pub(super) username: Option<String>,
    pub(super) password: Option<String>,
    pub(super) client_id: Option<String>,
    pub(super) grant_type: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ListQuery {
    pub(super) details: Option<String>,
    pub(super) page: Option<String>,
    #[serde(rename = "perPage")]
    pub(super) per_page: Option<String>,
}

async fn token(
    State(sim): Sim,
    ConnectInfo(conn): ConnInfo,
    Query(q): Query<TokenQuery>,
) -> Response {
    faulted(&sim, &conn, || sim.grant(&q)).await
}

/// Draws the request's fault, does `work` unless the fault refuses it first, and answers
/// through the fault (a drop, a delay) as [`Shared::finish`] does.
async fn faulted<E: IntoResponse>(
    sim: &Shared,
    conn: &Conn,
    work: impl FnOnce() -> Result<Response, E>,
) -> Response {
    let fault = match sim.begin(conn) {
        Ok(fault) => fault,
        Err(refusal) => return refusal.into_response(),
    };
    let response = work().unwrap_or_else(IntoResponse::into_response);
    sim.finish(fault, conn, response).await
}

async fn create(
    State(sim): Sim,
    ConnectInfo(conn): ConnInfo,
    Path(rec_type): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let begun = sim.begin(&conn);
    create_share(
        &sim,
        &conn,
        begun,
        rec_type,
        Some(Vec::new()),
        &headers,
        body,
    )
    .await
}

async fn create_tagged(
    State(sim): Sim,
    ConnectInfo(conn): ConnInfo,
    Path((rec_type, _)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let begun = sim.begin(&conn);
    let tags = path_tags(uri.path());
    create_share(&sim, &conn, begun, rec_type, tags, &headers, body).await
}

async fn create_share(
    sim: &Shared,
    conn: &Conn,
    begun: Begun,
    rec_type: String,
    tags: Option<Vec<String>>,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let fault = match begun {
        Ok(fault) => fault,
        Err(refusal) => return refusal.into_response(),
    };
    let response = async {
        let user = sim.authorize(headers, true)?;
        let tags = tags.ok_or_else(|| {
            error(
                400,
                "bad_request",
                "a tag is not valid percent-encoded UTF-8",
            )
        })?;
        let bytes = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|_| error(413, "payload_too_large", "the body is too large or broken"))?;
        let data = serde_json::from_slice::<Box<RawValue>>(&bytes)
            .ok()
            .filter(|raw| raw.get().starts_with('{'))
            .ok_or_else(|| error(400, "bad_request", "the body must be a JSON object"))?;
        Ok::<_, Refusal>(sim.store(rec_type, tags, data, user))
    }
    .await
    .unwrap_or_else(IntoResponse::into_response);
    sim.finish(fault, conn, response).await
}

async fn list(
    State(sim): Sim,
    ConnectInfo(conn): ConnInfo,
    Path(rec_type): Path<String>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    faulted(&sim, &conn, || sim.page(&rec_type, &q, &headers)).await
}

async fn list_tagged(
    State(sim): Sim,
    ConnectInfo(conn): ConnInfo,
    Path((rec_type, _)): Path<(String, String)>,
    uri: Uri,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    let tags = path_tags(uri.path());
    faulted(&sim, &conn, || sim.tagged(&rec_type, tags, &q, &headers)).await
}

async fn get_one(
    State(sim): Sim,
    ConnectInfo(conn): ConnInfo,
    Path((rec_type, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    faulted(&sim, &conn, || sim.read(&rec_type, &id, &headers)).await
}

async fn delete_one(
    State(sim): Sim,
    ConnectInfo(conn): ConnInfo,
    Path((rec_type, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    faulted(&sim, &conn, || sim.delete(&rec_type, &id, &headers)).await
}

async fn stats(State(sim): Sim) -> Json<SimStats> {
    Json(sim.stats())
}

// ---- Answers ----

/// An error answer: a status and a small JSON body (`Retry-After: 1` with 429).
#[derive(Clone, Copy, Debug)]
pub(super) struct Refusal {
    status: u16,
    code: &'static str,
    message: &'static str,
}

pub(super) fn error(status: u16, code: &'static str, message: &'static str) -> Refusal {
    Refusal {
        status,
        code,
        message,
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({ "error": self.code, "message": self.message, "status": self.status });
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::TOO_MANY_REQUESTS {
            let retry_after = HeaderValue::from_static("1");
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after);
        }
        response
    }
}

/// The `meta` of an answer about one share.
pub(super) fn one_meta() -> Value {
    json!({ "totalPages": 1, "currentPage": 1, "perPage": 1, "totalCount": 1, "currentCount": 1 })
}

pub(super) fn expired() -> Refusal {
    error(
        401,
        "invalid_token",
        "the access token expired or was revoked",
    )
}

pub(super) fn json_response<T: Serialize>(body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(_) => error(500, "internal_error", "cannot serialize the answer").into_response(),
    }
}

/// A query parameter that must be a whole number from 1, or `default` when absent; `message`
/// says so.
pub(super) fn positive(
    value: Option<&str>,
    default: u64,
    message: &'static str,
) -> Result<u64, Refusal> {
    match value.map(|v| v.trim().parse::<u64>()) {
        None => Ok(default),
        Some(Ok(n)) if n > 0 => Ok(n),
        Some(_) => Err(error(400, "bad_request", message)),
    }
}
