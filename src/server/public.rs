//! The public listener's router: fragments, beacons, the embed and probes, behind the
//! request layer (`observe`) that checks the Host, reads the body within its limits,
//! admits, bounds the work by `server.request_timeout` and measures it, from the request
//! fully received to the response ready.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, HttpBody as _};
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::{AppState, body, embed, error::ApiError, events, fragment};
use crate::events::MAX_BODY_BYTES;
use crate::signals::{EventRejection, Route};

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/fragment", get(fragment::fragment))
        .route(
            "/v1/events",
            // The body is read (and its size bounded) by `observe`.
            post(events::post).options(events::preflight),
        )
        .route("/loader.js", get(embed::loader))
        .route("/demo", get(embed::demo))
        .route("/demo/page.js", get(embed::demo_script))
        .route("/demo/img/{name}", get(embed::demo_image))
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
        m.http_refused(route, e.status().as_u16());
        return e.into_response();
    }
    // The body first, bounded in size and time, before admission and the clock: a
    // permit and the server's latency are for server work, never for waiting on a client.
    let req = if req.body().is_end_stream() {
        req
    } else {
        match read_body(&state, route, req).await {
            Ok(req) => req,
            Err(e) => {
                if route == Route::Events && e == ApiError::PayloadTooLarge {
                    m.event_rejected(EventRejection::TooLarge);
                }
                m.http_refused(route, e.status().as_u16());
                return e.into_response();
            }
        }
    };
    m.request_started();
    // Fragment requests are admitted by the cache, and only when they start an origin
    // fetch (see `fragment`); probes never are.
    let gated = !matches!(route, Route::Fragment | Route::Healthz | Route::Readyz);
    // Held until the answer is ready.
    let permit = gated.then(|| state.limiter.try_acquire());
    if let Some(None) = permit {
        m.shed(route);
        return shed();
    }
    let started = Instant::now();
    let res = match tokio::time::timeout(state.request_timeout, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::Timeout.into_response(),
    };
    if res.extensions().get::<Shed>().is_some() {
        m.shed(route);
    } else {
        m.http_request(
            route,
            res.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    res
}

/// The largest request body a route takes: beacons up to [`MAX_BODY_BYTES`], the other
/// routes (all `GET`) none.
fn body_limit(route: Route) -> usize {
    match route {
        Route::Events => MAX_BODY_BYTES,
        _ => 0,
    }
}

/// `req` with its body read into memory: each read within `server.body_read_timeout`
/// of the last, the whole within `server.request_timeout`.
async fn read_body(state: &AppState, route: Route, req: Request) -> Result<Request, ApiError> {
    let (parts, body) = req.into_parts();
    let bytes = body::collect(
        body,
        &parts.headers,
        body_limit(route),
        state.body_read_timeout,
        state.request_timeout,
    )
    .await?;
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// Marks an answer as shed (refused to protect the instance), for [`observe`] to count.
#[derive(Debug, Clone, Copy)]
pub struct Shed;

/// The answer to a request refused at the concurrency limit.
pub fn shed() -> Response {
    let mut res = ApiError::Unavailable(
        "this instance is at its concurrency limit; retry after the Retry-After delay",
    )
    .into_response();
    res.extensions_mut().insert(Shed);
    res
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
        let mut body = format!(
            "ready\nevents_queue_depth {}\nevents_queue_capacity {}\n",
            state.events.depth(),
            state.events.capacity()
        );
        let products = state
            .catalog_products
            .load(std::sync::atomic::Ordering::Relaxed);
        if products >= 0 {
            body.push_str(&format!("catalog_products {products}\n"));
        }
        body.into_response()
    } else {
        ApiError::Unavailable("not ready: starting or draining").into_response()
    }
}
