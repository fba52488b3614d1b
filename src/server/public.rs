//! The public listener's router: fragments, beacons, the embed and probes, behind the request layer that
//! measures every request and bounds it by `server.request_timeout`.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::shed::Priority;
use super::{AppState, embed, error::ApiError, events, fragment};
use crate::events::MAX_BODY_BYTES;
use crate::signals::Route;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/fragment", get(fragment::fragment))
        .route(
            "/v1/events",
            post(events::post)
                .options(events::preflight)
                // On the route, so the limit is the events one, not a global one.
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .route("/loader.js", get(embed::loader))
        .route("/demo", get(embed::demo))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        // Outermost, so that what it measures is what the client waits for (minus I/O),
        // and the timeout covers routing and every handler alike.
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Admits (or sheds), counts, times and bounds each request.
async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = Route::from_path(req.uri().path());
    let m = &state.metrics;
    if let Err(e) = super::protocol::check_host(&req) {
        m.request_started();
        m.http_request(route, e.status().as_u16(), 0.0);
        return e.into_response();
    }
    let limiter = &state.limiter;
    let admitted = limiter
        .try_acquire(priority(&state, route, &req))
        .or_else(|| {
            // The room for low priority can fill between `priority`'s look and this
            // admission; a cached fragment taken for low then must not be shed for it.
            (route == Route::Fragment && cached(&state, &req))
                .then(|| limiter.try_acquire(Priority::High))
                .flatten()
        });
    let Some(_permit) = admitted else {
        m.shed(route);
        return ApiError::Unavailable(
            "this instance is at its concurrency limit; retry after the Retry-After delay",
        )
        .into_response();
    };
    m.request_started();
    let started = Instant::now();
    let res = match tokio::time::timeout(state.request_timeout, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::Timeout.into_response(),
    };
    m.http_request(
        route,
        res.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    res
}

/// How a request ranks when the instance is near its concurrency limit. Only then is a
/// fragment request looked up in the cache to tell hits (kept) from misses (shed first).
fn priority(state: &AppState, route: Route, req: &Request) -> Priority {
    match route {
        Route::Healthz | Route::Readyz => Priority::Exempt,
        _ if state.limiter.has_room_for_low() => Priority::Low,
        Route::Fragment if cached(state, req) => Priority::High,
        _ => Priority::Low,
    }
}

/// Whether a fragment request would be answered from the cache.
fn cached(state: &AppState, req: &Request) -> bool {
    crate::domain::FragmentRequest::from_query(req.uri().query().unwrap_or(""))
        .is_ok_and(|r| state.cache.contains(&r.cache_key()))
}

/// Liveness: the process runs its event loop.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: 503 while starting or draining, so load balancers stop sending traffic.
///
/// An events backlog does not make the instance unready: the body reports the queue depth
/// and capacity for operators instead. Readiness gates all traffic, and fragments, the
/// main job, are served from memory whatever the events store does; turning 503 because
/// the rollup writer is behind would take fragments down with it. Beacons already get
/// their own back-pressure: 503 with `Retry-After` per request once the queue is full.
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.readiness.is_ready() {
        format!(
            "ready\nevents_queue_depth {}\nevents_queue_capacity {}\n",
            state.events.depth(),
            state.events.capacity()
        )
        .into_response()
    } else {
        ApiError::Unavailable("not ready: starting or draining").into_response()
    }
}
