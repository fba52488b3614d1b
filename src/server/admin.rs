//! The admin listener (DESIGN.md §3): metrics, cache purge, events pause/resume,
//! stats, and the cache's hot set (what a starting peer warms from). Loopback by
//! default; mutating calls, stats and the hot set (business data) need
//! `Authorization: Bearer <admin.token>` when a token is set. Every request passes [`protocol::require_host`] first.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::{AppState, body, error::ApiError, protocol};
use crate::domain::{InputError, Retailer};
use crate::events::{Day, StatsCursor, StatsFilter, StatsLimit, StatsRow};
use crate::origin::Invalidation;
use crate::scaler::controller::ScalerLog;

/// Largest purge body accepted.
const MAX_PURGE_BODY: usize = 1 << 20;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/admin/v1/purge", post(purge))
        .route("/admin/v1/events/pause", post(pause_events))
        .route("/admin/v1/events/resume", post(resume_events))
        .route("/admin/v1/stats", get(stats))
        .route("/admin/v1/signals", get(signals))
        .route("/admin/v1/scaler", get(scaler))
        .route("/admin/v1/cache/hot", get(hot_set))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        // Outermost: a request without a valid Host is refused before anything else.
        .layer(middleware::from_fn(protocol::require_host))
        .with_state(state)
}

/// The admin listener of `synedge scaler`: its metrics and decisions.
pub fn scaler_router(metrics: Arc<crate::signals::Metrics>, log: Arc<ScalerLog>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = metrics.clone();
                async move { prometheus_text(m.render()) }
            }),
        )
        .route(
            "/admin/v1/scaler",
            get(move || {
                let log = log.clone();
                async move { axum::Json(log.to_json()) }
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn(protocol::require_host))
}

fn prometheus_text(body: String) -> Response {
    let mut res = body.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    state.cache.upkeep().await;
    state.metrics.process.refresh();
    prometheus_text(state.metrics.render())
}

/// `GET /admin/v1/signals[?window=10|60]`: this instance's load, as the scaler reads it.
async fn signals(State(state): State<Arc<AppState>>, RawQuery(q): RawQuery) -> Response {
    let mut window = crate::scaler::controller::SIGNALS_WINDOW_S;
    for (k, v) in form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        if k == "window" {
            match v.trim_end_matches('s').parse::<u64>() {
                Ok(w) if (1..=crate::signals::window::MAX_WINDOW_S).contains(&w) => window = w,
                _ => {
                    return ApiError::BadRequest(InputError {
                        code: "invalid_window",
                        detail: "window must be a number of seconds from 1 to 60",
                    })
                    .into_response();
                }
            }
        }
    }
    axum::Json(state.signals(window)).into_response()
}

/// `GET /admin/v1/scaler`: the last decisions, newest first, with their inputs and reasons.
async fn scaler(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(state.scaler_log.to_json()).into_response()
}

/// Checks the bearer token, in constant time, when one is configured.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &state.admin_token else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| bearer_credentials(v.as_bytes()))
        .unwrap_or_default();
    // SECURITY: `ct_eq` on slices takes time independent of where they differ; only a
    // length mismatch returns early, which reveals the length, not the token.
    if bool::from(given.ct_eq(token.expose().as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// The token of `Authorization: Bearer <token>`. The scheme is case-insensitive and
/// may be followed by more than one space (RFC 9110 §11.1, §11.4; RFC 6750 §2.1).
fn bearer_credentials(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(b"Bearer".len())?;
    if !scheme.eq_ignore_ascii_case(b"Bearer") || rest.first() != Some(&b' ') {
        return None;
    }
    Some(rest.trim_ascii_start())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PurgeRequest {
    /// Fragment requests to drop: a query string, with or without `/v1/fragment?`.
    #[serde(default)]
    keys: Vec<String>,
    /// `brand:<b>`, `product:<brand>/<mpn>`, `retailer:<slug>`.
    #[serde(default)]
    surrogate_keys: Vec<String>,
}

/// `POST /admin/v1/purge`. The token is checked before a byte of the body is read, and
/// the body is read under [`MAX_PURGE_BODY`] and the body read timeout; every key is
/// checked before anything is purged, and a bad one is named by its list and position.
async fn purge(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let body = body::collect(
        body,
        &headers,
        MAX_PURGE_BODY,
        state.body_read_timeout,
        state.request_timeout,
    )
    .await?;
    let req: PurgeRequest = serde_json::from_slice(&body).map_err(|_| {
        ApiError::BadBody(r#"the body must be JSON like {"keys": ["retailer=…&locale=…&ean=…"]} or {"surrogate_keys": ["brand:acme"]}"#)
    })?;
    if req.keys.is_empty() && req.surrogate_keys.is_empty() {
        return Err(ApiError::BadBody(
            "name at least one key or surrogate key to purge",
        ));
    }
    let inv = Invalidation {
        keys: req.keys,
        surrogate_keys: req.surrogate_keys,
        ..Invalidation::default()
    };
    let purged = state.cache.apply(&inv).await?;
    tracing::info!(
        keys = purged.keys,
        surrogate_keys = purged.surrogate_keys,
        entries = purged.entries,
        "purged"
    );
    // Then every other instance sharing the store (fleet mode). Purged here either way;
    // a failed fan-out is an error so the caller retries (purging is idempotent).
    let broadcast = match state.cache.origin().broadcast(&inv).await {
        Ok(sent) => sent,
        Err(e) => {
            tracing::warn!(error = %e, "purge fan-out failed");
            return Err(ApiError::FanoutFailed);
        }
    };
    // `entries`: what this instance dropped (others report their own in their logs).
    Ok(axum::Json(serde_json::json!({
        "purged": {
            "entries": purged.entries,
            "keys": purged.keys,
            "surrogate_keys": purged.surrogate_keys,
        },
        "broadcast": broadcast,
    }))
    .into_response())
}

/// Stops the events writer; beacons keep queueing until the queue is full.
async fn pause_events(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    state.events.pause();
    tracing::info!(queued = state.events.depth(), "events writer paused");
    Ok(events_status(&state))
}

/// Restarts the events writer, which first drains what queued up while paused.
async fn resume_events(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    state.events.resume();
    tracing::info!(queued = state.events.depth(), "events writer resumed");
    Ok(events_status(&state))
}

fn events_status(state: &AppState) -> Response {
    axum::Json(serde_json::json!({
        "paused": state.events.is_paused(),
        "queued": state.events.depth(),
    }))
    .into_response()
}

const E_DUPLICATE: InputError = InputError {
    code: "duplicate_parameter",
    detail: "a parameter was given more than once",
};

const E_FROM_AFTER_TO: InputError = InputError {
    code: "invalid_range",
    detail: "from must not be after to",
};

/// `GET /admin/v1/stats?retailer=&from=&to=&limit=&cursor=`: one page of stored counts
/// (days inclusive), `{"rows": [...], "next": "<cursor>" | null}`. Business data, so it
/// needs the token when one is set, like the mutating calls.
///
/// At most `limit` rows (default 1,000, at most 10,000) per call, so memory stays bounded
/// however many rows are stored; `cursor=<next>` continues after the last row. Empty
/// values count as absent (`cursor=` is the first page), as in HTML forms.
async fn stats(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let mut filter = StatsFilter::default();
    let mut limit = None;
    let mut cursor = None;
    for (k, v) in form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes()) {
        if v.is_empty() {
            continue;
        }
        let duplicate = match &*k {
            "retailer" => filter.retailer.replace(Retailer::parse(&v)?).is_some(),
            "from" => filter.from.replace(Day::parse(&v)?).is_some(),
            "to" => filter.to.replace(Day::parse(&v)?).is_some(),
            "limit" => limit.replace(StatsLimit::parse(&v)?).is_some(),
            "cursor" => cursor.replace(StatsCursor::decode(&v)?).is_some(),
            _ => false,
        };
        if duplicate {
            return Err(ApiError::BadRequest(E_DUPLICATE));
        }
    }
    if filter
        .from
        .zip(filter.to)
        .is_some_and(|(from, to)| from > to)
    {
        return Err(ApiError::BadRequest(E_FROM_AFTER_TO));
    }
    let limit = limit.unwrap_or_default();
    let store = Arc::clone(&state.event_store);
    let page = tokio::task::spawn_blocking(move || store.stats(&filter, cursor.as_ref(), limit))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "stats task failed");
            ApiError::Internal
        })?
        .map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "reading stats failed");
            ApiError::Internal
        })?;
    // Serialized straight from the rows: no JSON tree of the page in between.
    Ok(axum::Json(StatsAnswer {
        rows: &page.rows,
        next: page.next.as_ref().map(StatsCursor::encode),
    })
    .into_response())
}

/// Entries a hot-set export holds when `limit` is not given.
const HOT_DEFAULT_LIMIT: usize = 1_000;
/// The largest `limit` of a hot-set export.
const HOT_MAX_LIMIT: usize = 50_000;

const E_HOT_LIMIT: InputError = InputError {
    code: "invalid_limit",
    detail: "limit must be a whole number from 1 to 50000",
};

const E_FROM_SELF: InputError = InputError {
    code: crate::warm::SELF_CODE,
    detail: "this is the instance asking: an instance does not warm its cache from itself",
};

/// `GET /admin/v1/cache/hot?limit=N`: the `N` entries requested most lately (default
/// 1,000, at most 50,000), hottest first, whole (every variant's bytes, validators,
/// lifetimes and age), in the binary format of [`crate::cache::wire`], at most
/// [`crate::cache::wire::MAX_EXPORT_BYTES`]. What a starting peer warms its cache from.
/// Content is business data, so it needs the token when one is set.
async fn hot_set(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    use crate::cache::wire;
    use crate::warm;
    authorize(&state, &headers)?;
    let mut limit = None;
    for (k, v) in form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes()) {
        if k == "limit" && !v.is_empty() {
            let n = v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=HOT_MAX_LIMIT).contains(n))
                .ok_or(ApiError::BadRequest(E_HOT_LIMIT))?;
            if limit.replace(n).is_some() {
                return Err(ApiError::BadRequest(E_DUPLICATE));
            }
        }
    }
    let asking = headers
        .get(warm::CACHE_ID_HEADER)
        .map(HeaderValue::as_bytes);
    if asking == Some(warm::cache_id(&state.cache).as_bytes()) {
        return Err(ApiError::BadRequest(E_FROM_SELF));
    }
    let cache = state.cache.clone();
    let now = tokio::time::Instant::now();
    let limit = limit.unwrap_or(HOT_DEFAULT_LIMIT);
    let started = std::time::Instant::now();
    // Ranking every entry and copying the bodies is CPU work: off the async workers.
    let encoded = tokio::task::spawn_blocking(move || {
        wire::encode(&cache.hot(limit), now, wire::MAX_EXPORT_BYTES)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "hot-set export failed");
        ApiError::Internal
    })?;
    tracing::info!(
        entries = encoded.entries,
        bytes = encoded.body.len(),
        took_ms = started.elapsed().as_millis() as u64,
        "exported the hot set"
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(wire::CONTENT_TYPE),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::HeaderName::from_static("x-synedge-hot-entries"),
                HeaderValue::from(encoded.entries),
            ),
        ],
        encoded.body,
    )
        .into_response())
}

/// The body of a stats answer.
#[derive(Serialize)]
struct StatsAnswer<'a> {
    rows: &'a [StatsRow],
    /// `null` on the last page.
    next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for (value, token) in [
            ("Bearer abc", Some("abc")),
            ("bearer abc", Some("abc")),
            ("BEARER abc", Some("abc")),
            ("bEaReR   abc", Some("abc")),
            ("Bearer", None),
            ("Bearer ", Some("")),
            ("Bearerabc", None),
            ("Basic abc", None),
            ("Bear abc", None),
            ("", None),
        ] {
            assert_eq!(
                bearer_credentials(value.as_bytes()),
                token.map(str::as_bytes),
                "{value:?}"
            );
        }
    }
}
