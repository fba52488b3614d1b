//! `GET`/`HEAD /v1/fragment` (DESIGN.md §3): parse → normalized key → cache → a response
//! assembled from prebuilt parts. On a hit nothing is copied: the body is a `Bytes` clone
//! and every header value is prebuilt (static, or per entry: `Cache-Control` from the
//! entry's own lifetimes), but for `Age`, which is one integer.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};

use super::{AppState, error::ApiError, negotiate};
use crate::cache::{CacheStatus, GetError, Served};
use crate::domain::{FragmentQuery, FragmentRequest};
use crate::signals::Route;

const TEXT_HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
const ANY_ORIGIN: HeaderValue = HeaderValue::from_static("*");

const X_CACHE: HeaderName = HeaderName::from_static("x-cache");

fn x_cache(status: CacheStatus) -> HeaderValue {
    HeaderValue::from_static(status.as_str())
}

/// A `GET`/`HEAD /v1/fragment` answered from memory with nothing to wait for (a fresh
/// or revalidating entry): the public listener's connections ask this before the
/// router, so a hit costs no routing, no request layer and no future. It keeps what
/// the request layer (`public::observe`) and [`fragment`] would do for it: the `Host`
/// check, the answer, the metrics and latency. `None` for anything else (another route
/// or method, a body, a bad `Host` or query, a miss): the router answers that as usual.
pub fn answer_now<B: http_body::Body>(
    state: &AppState,
    req: &http::Request<B>,
) -> Option<Response> {
    if req.uri().path() != "/v1/fragment"
        || !matches!(*req.method(), Method::GET | Method::HEAD)
        || !req.body().is_end_stream()
        || super::protocol::check_host(req).is_err()
    {
        return None;
    }
    let started = std::time::Instant::now();
    let query = FragmentQuery::parse(req.uri().query().unwrap_or("")).ok()?;
    // One key buffer per thread: a hit allocates nothing to find its entry.
    thread_local!(static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) });
    let served = KEY.with_borrow_mut(|key| {
        key.clear();
        query.write_key(key);
        state.cache.get_now(key, || query.to_request())
    })?;
    let res = respond(req.headers(), &served);
    state.metrics.http_answered_at_once(
        Route::Fragment,
        res.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    Some(res)
}

pub async fn fragment(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (parts, _body) = req.into_parts();
    let query = parts.uri.query().unwrap_or("");
    let freq = match FragmentRequest::from_query(query) {
        Ok(r) => r,
        Err(e) => return ApiError::from(e).into_response(),
    };
    match state
        .cache
        .get(&freq, || state.limiter.try_acquire_owned())
        .await
    {
        Ok(served) => respond(&parts.headers, &served),
        Err(GetError::Origin(e)) => ApiError::from(e).into_response(),
        Err(GetError::Shed) => super::public::shed(),
    }
}

/// The `Age` header for `secs`. Values up to an hour are made once, as static values:
/// a hit then formats no integer, allocates nothing and touches no shared count.
fn age_value(secs: u64) -> HeaderValue {
    static AGES: std::sync::LazyLock<Box<[HeaderValue]>> = std::sync::LazyLock::new(|| {
        (0..=3600u64)
            .map(|n| HeaderValue::from_static(Box::leak(n.to_string().into_boxed_str())))
            .collect()
    });
    usize::try_from(secs)
        .ok()
        .and_then(|i| AGES.get(i).cloned())
        .unwrap_or_else(|| HeaderValue::from(secs))
}

fn respond(req_headers: &HeaderMap, served: &Served) -> Response {
    let entry = &served.entry;
    // How long ago the origin answered (RFC 9111 §5.1), so a cache in front counts this
    // entry's max-age from then, not from now.
    let age = age_value(
        tokio::time::Instant::now()
            .saturating_duration_since(entry.stored_at)
            .as_secs(),
    );
    let Some(content) = &entry.content else {
        // A 204 never carries `Content-Length` (RFC 9110 §8.6), not even for `HEAD`.
        let mut res = Response::new(super::protocol::empty_body());
        *res.status_mut() = StatusCode::NO_CONTENT;
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, entry.cache_control.clone());
        h.insert(header::AGE, age);
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, ANY_ORIGIN);
        h.insert(X_CACHE, x_cache(served.status));
        return res;
    };
    let mut res = negotiate::send(
        content,
        req_headers,
        TEXT_HTML,
        entry.cache_control.clone(),
        3,
    );
    let h = res.headers_mut();
    h.insert(header::AGE, age);
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, ANY_ORIGIN);
    h.insert(X_CACHE, x_cache(served.status));
    res
}
