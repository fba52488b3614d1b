//! `GET`/`HEAD /v1/fragment` (DESIGN.md §3): parse → normalized key → cache → a response
//! assembled from prebuilt parts. On a hit nothing is formatted or copied: the body is a
//! `Bytes` clone and every header value is prebuilt (static, per config, or per entry).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::{AppState, error::ApiError, negotiate};
use crate::cache::{CacheStatus, GetError, Served};
use crate::domain::FragmentRequest;

const TEXT_HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
const ANY_ORIGIN: HeaderValue = HeaderValue::from_static("*");

/// `Cache-Control` values, built once from `[cache]`.
#[derive(Debug, Clone)]
pub struct FragmentHeaders {
    pub positive: HeaderValue,
    pub negative: HeaderValue,
}

impl FragmentHeaders {
    pub fn new(s: &crate::cache::CacheSettings) -> Self {
        let cc = |max_age: std::time::Duration| {
            HeaderValue::try_from(format!(
                "public, max-age={}, stale-while-revalidate={}, stale-if-error={}",
                max_age.as_secs(),
                s.stale_while_revalidate.as_secs(),
                s.stale_if_error.as_secs()
            ))
            .expect("invariant: digits and ASCII make a valid header value")
        };
        Self {
            positive: cc(s.ttl),
            negative: cc(s.negative_ttl),
        }
    }
}

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
        Ok(served) => respond(&state, &parts.headers, &served),
        Err(GetError::Origin(e)) => ApiError::from(e).into_response(),
        Err(GetError::Shed) => super::public::shed(),
    }
}

fn respond(state: &AppState, req_headers: &HeaderMap, served: &Served) -> Response {
    let Some(content) = &served.entry.content else {
        // A 204 never carries `Content-Length` (RFC 9110 §8.6), not even for `HEAD`.
        let mut res = Response::new(super::protocol::empty_body());
        *res.status_mut() = StatusCode::NO_CONTENT;
        let h = res.headers_mut();
        h.insert(
            header::CACHE_CONTROL,
            state.fragment_headers.negative.clone(),
        );
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, ANY_ORIGIN);
        h.insert("x-cache", x_cache(served.status));
        return res;
    };
    let mut res = negotiate::send(
        content,
        req_headers,
        TEXT_HTML,
        state.fragment_headers.positive.clone(),
        2,
    );
    let h = res.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, ANY_ORIGIN);
    h.insert("x-cache", x_cache(served.status));
    res
}
