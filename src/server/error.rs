//! `ApiError`: the one place where errors become HTTP answers (status, JSON body
//! `{"error","detail"}`, `Retry-After` on 503, `WWW-Authenticate` on 401,
//! `Connection: close` on 408 and 413). Details are fixed sentences: request input is
//! never echoed back, so nothing a client sends can be reflected into a page.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::domain::InputError;
use crate::origin::OriginError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// A parameter is missing or invalid.
    BadRequest(InputError),
    /// The query string is longer than we parse.
    UriTooLong,
    /// The body is not what the route takes (bad JSON, wrong shape).
    BadBody(&'static str),
    /// A beacon body was refused: which event (when one is to blame) and why.
    BadEvent {
        index: Option<usize>,
        error: InputError,
    },
    /// A purge named a key or surrogate key that does not parse: which list, which
    /// position in it, and why.
    BadPurgeKey {
        /// `"keys"` or `"surrogate_keys"`, the field of the purge body.
        field: &'static str,
        index: usize,
        error: InputError,
    },
    /// The body is larger than the route takes (declared or as read).
    PayloadTooLarge,
    /// The client paused longer than the body read timeout between two pieces of body.
    BodyTimeout,
    Unauthorized,
    NotFound,
    MethodNotAllowed,
    /// The origin failed and nothing stale could stand in.
    OriginUnavailable,
    OriginTimeout,
    /// A purge applied here could not be sent to the rest of the fleet.
    FanoutFailed,
    /// The request took longer than `server.request_timeout`.
    Timeout,
    /// Starting, draining or overloaded: try again shortly.
    Unavailable(&'static str),
    Internal,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::BadRequest(e) => (StatusCode::BAD_REQUEST, e.code, e.detail),
            Self::UriTooLong => (
                StatusCode::URI_TOO_LONG,
                "query_too_long",
                "the query string is longer than 2048 bytes",
            ),
            Self::BadBody(detail) => (StatusCode::BAD_REQUEST, "invalid_body", detail),
            Self::BadEvent { error, .. } | Self::BadPurgeKey { error, .. } => {
                (StatusCode::BAD_REQUEST, error.code, error.detail)
            }
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is larger than this route accepts",
            ),
            Self::BodyTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "the request body stopped arriving before it was complete",
            ),
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this call needs the header Authorization: Bearer <admin.token>",
            ),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found", "no such route"),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            ),
            Self::OriginUnavailable => (
                StatusCode::BAD_GATEWAY,
                "origin_unavailable",
                "the content store failed and no cached copy of this fragment exists",
            ),
            Self::FanoutFailed => (
                StatusCode::BAD_GATEWAY,
                "fanout_failed",
                "purged on this instance, but the purge could not be sent to the other instances sharing the store; retry it",
            ),
            Self::OriginTimeout => (
                StatusCode::GATEWAY_TIMEOUT,
                "origin_timeout",
                "the content store did not answer in time and no cached copy of this fragment exists",
            ),
            Self::Timeout => (
                StatusCode::GATEWAY_TIMEOUT,
                "request_timeout",
                "the request took longer than server.request_timeout",
            ),
            Self::Unavailable(detail) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "an internal error occurred; it has been logged",
            ),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.parts().0
    }
}

impl From<InputError> for ApiError {
    fn from(e: InputError) -> Self {
        if e.code == "query_too_long" {
            Self::UriTooLong
        } else {
            Self::BadRequest(e)
        }
    }
}

impl From<crate::cache::BadKey> for ApiError {
    fn from(b: crate::cache::BadKey) -> Self {
        Self::BadPurgeKey {
            field: b.field,
            index: b.index,
            error: b.error,
        }
    }
}

impl From<OriginError> for ApiError {
    fn from(e: OriginError) -> Self {
        match e {
            OriginError::Timeout(_) => Self::OriginTimeout,
            _ => Self::OriginUnavailable,
        }
    }
}

#[derive(serde::Serialize)]
struct Body {
    error: &'static str,
    detail: &'static str,
    /// For [`ApiError::BadEvent`]: the position of the first bad event in the array;
    /// for [`ApiError::BadPurgeKey`], of the first bad key in its list.
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
    /// For [`ApiError::BadPurgeKey`]: which list `index` points into.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error, detail) = self.parts();
        let (index, field) = match self {
            Self::BadEvent { index, .. } => (index, None),
            Self::BadPurgeKey { field, index, .. } => (Some(index), Some(field)),
            _ => (None, None),
        };
        let body = serde_json::to_vec(&Body {
            error,
            detail,
            index,
            field,
        })
        .unwrap_or_default();
        let mut res = (status, body).into_response();
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // Errors are read by the loader from other origins; they must not be opaque.
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match status {
            StatusCode::SERVICE_UNAVAILABLE => {
                h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            // RFC 9110 §11.6.1: a 401 names the scheme that would be accepted.
            StatusCode::UNAUTHORIZED => {
                h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            // The body was not read to its end, so the connection cannot carry another
            // request: say so, and hyper closes it after this answer (HTTP/1.1; HTTP/2
            // drops the header, its streams end on their own).
            StatusCode::REQUEST_TIMEOUT | StatusCode::PAYLOAD_TOO_LARGE => {
                h.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        res
    }
}
