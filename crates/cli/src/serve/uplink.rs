//! `POST /uplink`: forward an uplink (202), ignore an event that is not one (200), answer a
//! webhook retried (200, a duplicate), or refuse (4xx, 503).
//!
//! The Things Stack posts every event of a webhook to the same URL when several message
//! kinds are enabled, and counts any answer other than 2xx as a failed try (retried, and
//! after enough failures the webhook is disabled): so joins, downlink events and port-0
//! uplinks are answered `200 {"ignored":"<kind>"}`, and an uplink whose key the outbox holds
//! already `200 {"key":..,"duplicate":true}`. 400 is kept for bodies that are not JSON or
//! not any known event.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use lorafield_microshare::outbox::{Enqueued, NewRecord};
use lorafield_microshare::queue::{Backend, Queue};
use lorafield_microshare::throttle::Held;
use subtle::ConstantTimeEq;

use super::{App, reply};
use crate::intake::{self, Decoded, Skipped};

/// What to do with a body that is not an uplink to forward.
enum NotForwarded {
    /// 200 `{"ignored":kind}`.
    Ignore(&'static str),
    /// An error status and its reason.
    Reject(StatusCode, String),
}

pub(super) async fn uplink(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Body,
) -> Response {
    app.metrics.received.fetch_add(1, Ordering::Relaxed);
    match take(&app, &headers, &query, body).await {
        Ok(response) => response,
        Err(NotForwarded::Ignore(kind)) => {
            app.metrics.ignore(kind);
            tracing::debug!("ignored a {kind} event from {peer}");
            reply(
                StatusCode::OK,
                serde_json::json!({ "ignored": kind }).to_string(),
            )
        }
        Err(NotForwarded::Reject(status, reason)) => {
            app.metrics.rejected.fetch_add(1, Ordering::Relaxed);
            let kind = match status.as_u16() {
                400 => "rejected 400",
                401 => "rejected 401",
                413 => "rejected 413",
                _ => "rejected 5xx",
            };
            if let Some(held) = app.throttle.admit(kind, Instant::now()) {
                if status.is_server_error() {
                    tracing::error!(
                        "webhook from {peer} answered {status}: {reason}{}",
                        Held(held)
                    );
                } else {
                    tracing::warn!(
                        "webhook from {peer} rejected ({status}): {reason}{}",
                        Held(held)
                    );
                }
            }
            reply(status, serde_json::json!({ "error": reason }).to_string())
        }
    }
}

/// Decodes a webhook body; what to answer when it is not an uplink to forward.
fn decode(app: &App, text: &str) -> Result<Decoded, NotForwarded> {
    intake::decode(&app.selection, &app.options.rec_type, text).map_err(|skipped| match skipped {
        Skipped::Ignored(kind) => NotForwarded::Ignore(kind),
        Skipped::NotJson(reason) | Skipped::NotAnUplink(reason) => {
            NotForwarded::Reject(StatusCode::BAD_REQUEST, reason)
        }
    })
}

/// Checks, decodes and enqueues one webhook body.
async fn take(
    app: &Arc<App>,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    body: Body,
) -> Result<Response, NotForwarded> {
    let m = &app.metrics;
    // The limit is applied here rather than by a layer, so that a 413 is counted too.
    let limit = app.options.body_limit;
    let body: Bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        NotForwarded::Reject(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {limit} bytes (--body-limit), or was cut off"),
        )
    })?;
    if let Some((name, secret)) = &app.options.secret {
        let given = headers.get(name).map_or(&b""[..], |v| v.as_bytes());
        if !bool::from(given.ct_eq(secret.expose().as_bytes())) {
            return Err(NotForwarded::Reject(
                StatusCode::UNAUTHORIZED,
                format!("missing or wrong {name} header"),
            ));
        }
    }
    match query.get("event").map(String::as_str) {
        None | Some("up") => {}
        Some(event) => {
            return Err(match intake::chirpstack_event(event) {
                Some(kind) => NotForwarded::Ignore(kind),
                None => NotForwarded::Reject(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "event {event:?} is not one ChirpStack sends (uplinks come with ?event=up)"
                    ),
                ),
            });
        }
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return Err(NotForwarded::Reject(
            StatusCode::BAD_REQUEST,
            "the body is not UTF-8 text".into(),
        ));
    };
    let decoded = match &app.scripts {
        // Scripts run on threads of their own, off the async executor: a script may work for
        // as long as its limits allow.
        Some(pool) => {
            let job_app = app.clone();
            let body = body.clone();
            pool.run(move || {
                let text = std::str::from_utf8(&body).unwrap_or_default();
                decode(&job_app, text)
            })
            .await
            .map_err(|e| NotForwarded::Reject(StatusCode::SERVICE_UNAVAILABLE, e))??
        }
        None => decode(app, text)?,
    };
    let Decoded {
        out,
        decoded,
        key,
        rec_type,
        reason,
    } = decoded;
    if decoded {
        m.decoded.fetch_add(1, Ordering::Relaxed);
    } else {
        m.decode_failures.fetch_add(1, Ordering::Relaxed);
    }
    let record = NewRecord {
        key: key.clone(),
        rec_type,
        body: out,
    };
    match app.queue.enqueue(record).await {
        Ok(Enqueued::Added(id)) => {
            m.enqueued.fetch_add(1, Ordering::Relaxed);
            // The record's row in the outbox, or its sequence in the stream.
            let id_name = match app.queue {
                Backend::Outbox(_) => "outbox_id",
                Backend::JetStream(_) => "stream_seq",
            };
            let mut answer = serde_json::json!({ "key": key, id_name: id, "decoded": decoded });
            if let Some(reason) = reason {
                answer["decode_error"] = reason.into();
            }
            Ok(reply(StatusCode::ACCEPTED, answer.to_string()))
        }
        Ok(Enqueued::Duplicate(_)) => {
            m.duplicates.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("{key}: held already (a webhook retried), not stored again");
            Ok(reply(
                StatusCode::OK,
                serde_json::json!({ "key": key, "duplicate": true }).to_string(),
            ))
        }
        Err(e) => Err(NotForwarded::Reject(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the uplink could not be stored: {e}"),
        )),
    }
}
