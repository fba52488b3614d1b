//! Reading a request body whole, bounded in size and in time.
//!
//! [`collect`] refuses a body that declares a `Content-Length` over the limit before
//! reading a byte of it, stops a chunked (or lying) body as soon as what arrived crosses
//! the limit, and bounds each wait for the next piece of body by a read timeout, so a
//! client that sends headers and then a trickle (or nothing) holds a connection for that
//! long, not for as long as it likes. Size is enforced by `http_body_util::Limited`; this
//! module adds the early refusal, the timeout and the mapping to [`ApiError`].

use std::time::Duration;

use axum::body::{Body, HttpBody as _};
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::error::ApiError;

/// Reads `body` whole, at most `limit` bytes, waiting at most `read_timeout` for each
/// frame and `total` for the whole (a client sending `limit` bytes one at a time just
/// within `read_timeout` is cut too). A body that arrives in one frame is returned
/// without a copy.
///
/// # Errors
/// - [`ApiError::PayloadTooLarge`] at once when `Content-Length` (or the body's own exact
///   size) is over `limit`, without reading; otherwise as soon as the bytes read cross it.
/// - [`ApiError::BodyTimeout`] when the next frame takes longer than `read_timeout`, or
///   the whole longer than `total`.
/// - [`ApiError::BadBody`] when the connection fails mid-body (reset, bad chunk framing).
pub async fn collect(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
    read_timeout: Duration,
    total: Duration,
) -> Result<Bytes, ApiError> {
    tokio::time::timeout(total, read(body, headers, limit, read_timeout))
        .await
        .map_err(|_| ApiError::BodyTimeout)?
}

async fn read(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
    read_timeout: Duration,
) -> Result<Bytes, ApiError> {
    if declared_len(headers).is_some_and(|n| n > limit as u64)
        || body.size_hint().lower() > limit as u64
    {
        return Err(ApiError::PayloadTooLarge);
    }
    let mut body = Limited::new(body, limit);
    let mut first: Option<Bytes> = None;
    let mut rest = BytesMut::new();
    loop {
        let frame = match tokio::time::timeout(read_timeout, body.frame()).await {
            Err(_elapsed) => return Err(ApiError::BodyTimeout),
            Ok(None) => break,
            Ok(Some(Err(e))) if e.is::<LengthLimitError>() => {
                return Err(ApiError::PayloadTooLarge);
            }
            Ok(Some(Err(e))) => {
                tracing::debug!(error = %e, "reading a request body failed");
                return Err(ApiError::BadBody("the request body could not be read"));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        // Trailers carry nothing we use.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if data.is_empty() {
            continue;
        }
        match first.take() {
            None if rest.is_empty() => first = Some(data),
            earlier => {
                if let Some(earlier) = earlier {
                    rest.extend_from_slice(&earlier);
                }
                rest.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| rest.freeze()))
}

/// The `Content-Length` a request declares, when it is one number. hyper has already
/// refused requests whose lengths disagree or do not parse.
fn declared_len(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::{StreamExt, stream};
    use http::HeaderValue;

    use super::*;

    const T: Duration = Duration::from_secs(5);

    /// A body fed through a channel: frames arrive when the test sends them.
    fn channel() -> (tokio::sync::mpsc::Sender<&'static [u8]>, Body) {
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let s = stream::unfold(rx, |mut rx| async move {
            let chunk = rx.recv().await?;
            Some((Ok::<_, std::io::Error>(Bytes::from_static(chunk)), rx))
        });
        (tx, Body::from_stream(s))
    }

    fn length(n: usize) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
        h
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stalls_times_out() {
        let (tx, body) = channel();
        tx.send(b"{\"keys\":").await.unwrap();
        let started = tokio::time::Instant::now();
        let r = collect(body, &HeaderMap::new(), 1024, T, T * 10).await;
        assert_eq!(r, Err(ApiError::BodyTimeout));
        assert_eq!(started.elapsed(), T);
        drop(tx);
    }

    #[tokio::test(start_paused = true)]
    async fn each_frame_gets_the_whole_timeout() {
        let (tx, body) = channel();
        let feeder = tokio::spawn(async move {
            for chunk in [&b"ab"[..], b"cd", b"ef"] {
                tokio::time::sleep(T - Duration::from_millis(1)).await;
                tx.send(chunk).await.unwrap();
            }
        });
        let r = collect(body, &HeaderMap::new(), 1024, T, T * 10).await;
        assert_eq!(r.as_deref(), Ok(&b"abcdef"[..]));
        feeder.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_dripped_within_the_read_timeout_is_still_bounded_as_a_whole() {
        let (tx, body) = channel();
        let feeder = tokio::spawn(async move {
            while tx.send(b"a").await.is_ok() {
                tokio::time::sleep(T / 2).await;
            }
        });
        let started = tokio::time::Instant::now();
        let r = collect(body, &HeaderMap::new(), 1024, T, T * 3).await;
        assert_eq!(r, Err(ApiError::BodyTimeout));
        assert_eq!(started.elapsed(), T * 3);
        feeder.abort();
    }

    #[tokio::test]
    async fn a_body_that_drips_past_the_limit_is_cut_there() {
        let pulled = Arc::new(AtomicUsize::new(0));
        let counter = pulled.clone();
        let s = stream::iter(0..100).map(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok::<_, std::io::Error>(Bytes::from_static(b"0123456789"))
        });
        let r = collect(Body::from_stream(s), &HeaderMap::new(), 25, T, T * 10).await;
        assert_eq!(r, Err(ApiError::PayloadTooLarge));
        assert_eq!(
            pulled.load(Ordering::SeqCst),
            3,
            "stopped at the frame that crossed"
        );
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_refused_unread() {
        let s = stream::poll_fn(
            |_| -> std::task::Poll<Option<Result<Bytes, std::io::Error>>> {
                panic!("the body was read")
            },
        );
        let r = collect(Body::from_stream(s), &length(2_000_000), 1 << 20, T, T * 10).await;
        assert_eq!(r, Err(ApiError::PayloadTooLarge));
        // A body that knows its own size is refused the same way.
        let big = Body::from(vec![0u8; 11]);
        assert_eq!(
            collect(big, &HeaderMap::new(), 10, T, T * 10).await,
            Err(ApiError::PayloadTooLarge)
        );
    }

    #[tokio::test]
    async fn up_to_the_limit_is_read_whole() {
        let exact = collect(Body::from("0123456789"), &length(10), 10, T, T * 10).await;
        assert_eq!(exact.as_deref(), Ok(&b"0123456789"[..]));
        let s = stream::iter([&b"01234"[..], b"", b"56789"])
            .map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c)));
        let chunked = collect(Body::from_stream(s), &HeaderMap::new(), 10, T, T * 10).await;
        assert_eq!(chunked.as_deref(), Ok(&b"0123456789"[..]));
        let empty = collect(Body::empty(), &HeaderMap::new(), 10, T, T * 10).await;
        assert_eq!(empty.as_deref(), Ok(&b""[..]));
    }

    #[tokio::test]
    async fn a_broken_body_is_a_bad_body() {
        let s = stream::iter([
            Ok(Bytes::from_static(b"01")),
            Err(std::io::Error::other("connection reset")),
        ]);
        let r = collect(Body::from_stream(s), &HeaderMap::new(), 10, T, T * 10).await;
        assert!(matches!(r, Err(ApiError::BadBody(_))), "{r:?}");
    }
}
