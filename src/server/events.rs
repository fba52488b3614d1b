//! `POST /v1/events` (DESIGN.md §7): beacons from the loader, usually sent with
//! `navigator.sendBeacon`, which posts `text/plain`; so the content type is not checked,
//! the body must parse as JSON whatever it is labelled.
//!
//! The handler only checks the size, parses, validates, queues and answers: no store
//! access and no per-event logging, so a burst of beacons costs microseconds each and
//! can never wait on the database. Everything is cross-origin (the loader runs on
//! retailers' pages), hence CORS on every answer and the `OPTIONS` preflight.

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{AppState, error::ApiError};
use crate::events;
use crate::signals::EventRejection;

/// How long browsers may cache the preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "86400";

/// `body` was read, within its size and time limits, by the public listener's request
/// layer, which also counts bodies refused as too large.
pub async fn post(State(state): State<Arc<AppState>>, body: Bytes) -> Result<Response, ApiError> {
    let m = &state.metrics;
    let batch = events::parse_batch(&body, SystemTime::now()).map_err(|bad| {
        m.event_rejected(EventRejection::Invalid);
        ApiError::BadEvent {
            index: bad.index,
            error: bad.error,
        }
    })?;
    let n = batch.len();
    state.events.try_enqueue(batch).map_err(|_| {
        m.event_rejected(EventRejection::QueueFull);
        ApiError::Unavailable("the events queue is full; retry after the Retry-After delay")
    })?;
    m.events_accepted.increment(n as u64);
    m.events_queue_depth.set(state.events.depth() as f64);
    let mut res = StatusCode::ACCEPTED.into_response();
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// The CORS preflight: browsers ask before posting `application/json` cross-origin.
pub async fn preflight() -> Response {
    // `empty_body`, so that the 204 carries no `Content-Length` over HTTP/2 either.
    let mut res = (StatusCode::NO_CONTENT, super::protocol::empty_body()).into_response();
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(PREFLIGHT_MAX_AGE),
    );
    res
}
