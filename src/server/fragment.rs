//! `GET`/`HEAD /v1/fragment` (DESIGN.md §3): parse → normalized key → cache → a response
//! assembled from prebuilt parts. On a hit nothing is copied: the body is a `Bytes` clone
//! and every header value is prebuilt (static, or per entry: `Cache-Control` from the
//! entry's own lifetimes), but for `Age`, which is one integer.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::{AppState, error::ApiError, negotiate};
use crate::cache::{CacheStatus, GetError, Served};
use crate::domain::FragmentRequest;

const TEXT_HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
const ANY_ORIGIN: HeaderValue = HeaderValue::from_static("*");

fn x_cache(status: CacheStatus) -> HeaderValue {
    HeaderValue::from_static(status.as_str())
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

fn respond(req_headers: &HeaderMap, served: &Served) -> Response {
    let entry = &served.entry;
    // How long ago the origin answered (RFC 9111 §5.1), so a cache in front counts this
    // entry's max-age from then, not from now.
    let age = HeaderValue::from(
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
        h.insert("x-cache", x_cache(served.status));
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
    h.insert("x-cache", x_cache(served.status));
    res
}
