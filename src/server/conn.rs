//! One client connection, from accept to close: the TLS handshake, hyper's HTTP/1.1 or
//! HTTP/2 connection, and the lifecycle deadlines that hyper alone does not keep, as
//! nginx's `client_header_timeout` / `keepalive_timeout` and Envoy's idle timeouts do:
//!
//! - **From accept**, a connection has `server.header_read_timeout` to send one complete
//!   request head: the TLS handshake, the HTTP/2 preface and its first stream all count
//!   against it. A socket that sends nothing is closed then (hyper's own header timer only
//!   starts once a head begins, and its protocol sniffing waits forever).
//! - **Idle** (no request in service: HTTP/1.1 between requests, HTTP/2 with no open
//!   stream), a connection is closed `server.keep_alive_timeout` after its last response
//!   ended; HTTP/2 gets a GOAWAY first.
//! - **Between requests on HTTP/1.1**, once the first byte of the next head arrives, the
//!   head must be complete within `server.header_read_timeout` of that byte.
//! - **While a request is in service** the connection has no deadline of its own: the
//!   request's body reads and its work are bounded per request (`server.body_read_timeout`,
//!   `server.request_timeout`).
//!
//! How, cheaply: the I/O wrapper ([`Watched`]) notes when the first byte of a new head
//! arrives; the service wrapper ([`Tracked`]) counts requests in service and stamps the
//! moment the connection goes idle; one timer per connection (the watchdog in [`drive`])
//! reads those stamps when it fires and re-arms itself for the real deadline. It is
//! never reset per request, so a busy keep-alive connection costs a timer wake about once
//! per `min(header_read_timeout, keep_alive_timeout)`, and a request two clock reads and a
//! few relaxed atomics.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Body;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::access_log::{AccessLog, Entry};

/// How long an HTTP/2 connection gets, after its GOAWAY, to close by itself.
const GOAWAY_GRACE: Duration = Duration::from_secs(1);
/// The client preface that opens every HTTP/2 connection (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// `head_started_us` when no head has begun since the connection last went idle.
const NONE: u64 = u64::MAX;

/// The connection deadlines, from `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub header_read: Duration,
    pub keep_alive: Duration,
}

/// What one connection's parts share. Times are µs after `accepted`.
#[derive(Debug)]
struct Lifecycle {
    accepted: Instant,
    /// Requests (HTTP/1.1) or streams (HTTP/2) between their head and the end of their
    /// response body.
    active: AtomicU32,
    /// Whether any request head has been complete yet.
    served: AtomicBool,
    /// When `active` last fell to 0.
    idle_since_us: AtomicU64,
    /// When the first byte of the next HTTP/1.1 head arrived after going idle, or [`NONE`].
    head_started_us: AtomicU64,
    /// HTTP/2 (seen in the preface): bytes on an idle connection are pings and settings,
    /// not the start of a request, and closing sends a GOAWAY.
    h2: AtomicBool,
}

impl Lifecycle {
    fn new(accepted: Instant) -> Self {
        Self {
            accepted,
            active: AtomicU32::new(0),
            served: AtomicBool::new(false),
            idle_since_us: AtomicU64::new(0),
            head_started_us: AtomicU64::new(NONE),
            h2: AtomicBool::new(false),
        }
    }

    fn now_us(&self) -> u64 {
        u64::try_from(self.accepted.elapsed().as_micros()).unwrap_or(NONE - 1)
    }

    fn at(&self, us: u64) -> Instant {
        self.accepted + Duration::from_micros(us)
    }

    /// A request head is complete and its request enters service.
    fn begin(self: &Arc<Self>) -> InService {
        self.active.fetch_add(1, Relaxed);
        self.served.store(true, Relaxed);
        self.head_started_us.store(NONE, Relaxed);
        InService(self.clone())
    }

    /// Bytes arrived (`first`: the connection's first read).
    fn on_read(&self, bytes: &[u8], first: bool) {
        if first && H2_PREFACE.starts_with(&bytes[..bytes.len().min(H2_PREFACE.len())]) {
            self.h2.store(true, Relaxed);
        }
        if self.h2.load(Relaxed) || self.head_started_us.load(Relaxed) != NONE {
            return;
        }
        if self.active.load(Relaxed) == 0 && self.served.load(Relaxed) {
            self.head_started_us.store(self.now_us(), Relaxed);
        }
    }

    /// When the connection is due to close, if nothing changes before then; `None` while
    /// a request is in service.
    fn deadline(&self, t: Timeouts) -> Option<Instant> {
        if self.active.load(Relaxed) > 0 {
            return None;
        }
        if !self.served.load(Relaxed) {
            return Some(self.accepted + t.header_read);
        }
        let idle = self.idle_since_us.load(Relaxed);
        let head = self.head_started_us.load(Relaxed);
        Some(if head != NONE && head >= idle {
            self.at(head) + t.header_read
        } else {
            self.at(idle) + t.keep_alive
        })
    }
}

/// A request in service; dropped when its response body has been sent (or the request
/// was abandoned).
#[derive(Debug)]
struct InService(Arc<Lifecycle>);

impl Drop for InService {
    fn drop(&mut self) {
        let life = &self.0;
        if life.active.fetch_sub(1, Relaxed) == 1 {
            life.idle_since_us.store(life.now_us(), Relaxed);
        }
    }
}

/// The socket (or TLS stream) with a note to the lifecycle on every read.
struct Watched<T> {
    io: T,
    life: Arc<Lifecycle>,
    read_any: bool,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.io).poll_read(cx, buf))?;
        let new = &buf.filled()[before..];
        if !new.is_empty() {
            let first = !self.read_any;
            self.read_any = true;
            self.life.on_read(new, first);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Answers a request at once, without the router, when it can (a cache hit); `None`
/// hands it to the router.
pub type AnswerNow = Arc<dyn Fn(&Request<Incoming>) -> Option<Response<Body>> + Send + Sync>;

/// The router as hyper calls it (after [`AnswerNow`], where set), counting each request
/// in service until its response body is sent.
#[derive(Clone)]
struct Tracked {
    router: axum::Router,
    answer_now: Option<AnswerNow>,
    life: Arc<Lifecycle>,
    /// The access log and the client's address, when the log is on.
    log: Option<(AccessLog, SocketAddr)>,
}

/// What the access log needs of a request before it is handed on.
struct Logged {
    log: AccessLog,
    client: SocketAddr,
    method: http::Method,
    target: String,
    started: std::time::Instant,
}

impl hyper::service::Service<Request<Incoming>> for Tracked {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = TrackedFuture;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        use tower::ServiceExt as _;
        let logged = self.log.as_ref().map(|(log, client)| Logged {
            log: log.clone(),
            client: *client,
            method: req.method().clone(),
            target: req
                .uri()
                .path_and_query()
                .map_or_else(|| req.uri().path().to_owned(), ToString::to_string),
            started: std::time::Instant::now(),
        });
        let inner = match self.answer_now.as_ref().and_then(|answer| answer(&req)) {
            Some(res) => Answer::Now { res: Some(res) },
            None => Answer::Routed {
                fut: self.router.clone().oneshot(req.map(Body::new)),
            },
        };
        TrackedFuture {
            service: Some(self.life.begin()),
            logged,
            inner,
        }
    }
}

pin_project_lite::pin_project! {
    struct TrackedFuture {
        service: Option<InService>,
        logged: Option<Logged>,
        #[pin]
        inner: Answer,
    }
}

pin_project_lite::pin_project! {
    /// A response already made, or the router's future.
    #[project = AnswerProj]
    enum Answer {
        Now { res: Option<Response<Body>> },
        Routed { #[pin] fut: tower::util::Oneshot<axum::Router, Request<Body>> },
    }
}

impl Future for Answer {
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            AnswerProj::Now { res } => Poll::Ready(Ok(res
                .take()
                .expect("invariant: an answer made at once is polled once"))),
            AnswerProj::Routed { fut } => fut.poll(cx),
        }
    }
}

impl Future for TrackedFuture {
    type Output = Result<Response<TrackedBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let res = ready!(this.inner.poll(cx))?;
        if let Some(l) = this.logged.take() {
            use http_body::Body as _;
            l.log.record(&Entry {
                client: l.client,
                method: &l.method,
                target: &l.target,
                status: res.status().as_u16(),
                bytes: res.body().size_hint().exact(),
                duration: l.started.elapsed(),
                headers: res.headers(),
            });
        }
        let service = this.service.take();
        Poll::Ready(Ok(res.map(|body| TrackedBody {
            body,
            _service: service,
        })))
    }
}

/// A response body that ends the request's time in service when it is dropped.
struct TrackedBody {
    body: Body,
    _service: Option<InService>,
}

impl http_body::Body for TrackedBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// What every connection of one listener shares.
#[derive(Clone)]
pub struct Shared {
    pub builder: Arc<auto::Builder<hyper_util::rt::TokioExecutor>>,
    pub router: axum::Router,
    /// Asked before the router (the public listener: cache hits).
    pub answer_now: Option<AnswerNow>,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub timeouts: Timeouts,
    /// Asks every connection to finish what is in service and close (GOAWAY on HTTP/2).
    pub drain: CancellationToken,
    /// Closes what is still open when the drain's grace period ends.
    pub force: CancellationToken,
    /// One line per request, when `server.access_log` is on (public listener only).
    pub access_log: Option<AccessLog>,
}

/// Serves one connection, accepted at `accepted`, until it closes, its deadline
/// passes, or `shared.force`.
pub async fn drive(shared: Shared, stream: TcpStream, accepted: Instant) {
    let life = Arc::new(Lifecycle::new(accepted));
    let log = match (&shared.access_log, stream.peer_addr()) {
        (Some(log), Ok(client)) => Some((log.clone(), client)),
        _ => None,
    };
    match shared.tls.clone() {
        None => serve(stream, shared, life, log).await,
        Some(config) => {
            let deadline = accepted + shared.timeouts.header_read;
            if let Some(stream) = super::tls::accept(config, stream, deadline).await {
                serve(stream, shared, life, log).await;
            }
        }
    }
}

async fn serve<T>(io: T, shared: Shared, life: Arc<Lifecycle>, log: Option<(AccessLog, SocketAddr)>)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Shared {
        builder,
        router,
        answer_now,
        timeouts: t,
        drain,
        force,
        ..
    } = shared;
    let io = Watched {
        io,
        life: life.clone(),
        read_any: false,
    };
    let service = Tracked {
        router,
        answer_now,
        life: life.clone(),
        log,
    };
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let watchdog = tokio::time::sleep_until(life.accepted + t.header_read);
    tokio::pin!(watchdog);
    // Re-checks while a request is in service come no later than any deadline could.
    let recheck = t.header_read.min(t.keep_alive);
    let mut draining = false;
    // Made once: a `cancelled()` made per turn of the loop would register with its
    // token (a lock) every time the connection wakes.
    let drained = drain.cancelled();
    let forced = force.cancelled();
    tokio::pin!(drained, forced);
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = &mut watchdog => {
                let now = Instant::now();
                match life.deadline(t) {
                    None => watchdog.as_mut().reset(now + recheck),
                    Some(due) if due > now => watchdog.as_mut().reset(due),
                    Some(_) => break,
                }
            }
            () = &mut drained, if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            () = &mut forced => return,
        }
    }
    // Past its deadline with nothing in service: an HTTP/1.1 connection is dropped (an
    // unfinished head gets no answer, as with nginx); HTTP/2 is told with a GOAWAY.
    if life.h2.load(Relaxed) {
        conn.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(GOAWAY_GRACE, conn).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts {
        header_read: Duration::from_secs(2),
        keep_alive: Duration::from_secs(10),
    };

    #[tokio::test(start_paused = true)]
    async fn deadlines_follow_the_connection_through_its_life() {
        let life = Arc::new(Lifecycle::new(Instant::now()));
        let start = life.accepted;
        // Nothing sent yet, or half a head: due header_read after accept.
        assert_eq!(life.deadline(T), Some(start + T.header_read));
        life.on_read(b"GET / HTTP/1.1\r\n", true);
        assert_eq!(life.deadline(T), Some(start + T.header_read));
        // In service: no deadline.
        let req = life.begin();
        assert_eq!(life.deadline(T), None);
        tokio::time::advance(Duration::from_secs(3)).await;
        drop(req);
        // Idle after the response: keep-alive from then.
        let idle = start + Duration::from_secs(3);
        assert_eq!(life.deadline(T), Some(idle + T.keep_alive));
        // The next head starts: header_read from its first byte.
        tokio::time::advance(Duration::from_secs(4)).await;
        life.on_read(b"G", false);
        let head = start + Duration::from_secs(7);
        assert_eq!(life.deadline(T), Some(head + T.header_read));
        // Further bytes of that head do not move it.
        tokio::time::advance(Duration::from_secs(1)).await;
        life.on_read(b"ET", false);
        assert_eq!(life.deadline(T), Some(head + T.header_read));
    }

    #[tokio::test(start_paused = true)]
    async fn http2_bytes_on_an_idle_connection_do_not_start_a_head() {
        let life = Arc::new(Lifecycle::new(Instant::now()));
        life.on_read(&H2_PREFACE[..10], true);
        assert!(life.h2.load(Relaxed));
        // Until the first stream, the accept deadline holds whatever frames arrive.
        life.on_read(b"\0\0\0\x04\0\0\0\0\0", false);
        assert_eq!(life.deadline(T), Some(life.accepted + T.header_read));
        let (a, b) = (life.begin(), life.begin());
        drop(a);
        assert_eq!(life.deadline(T), None, "one stream still open");
        tokio::time::advance(Duration::from_secs(1)).await;
        drop(b);
        life.on_read(b"ping", false);
        let idle = life.accepted + Duration::from_secs(1);
        assert_eq!(life.deadline(T), Some(idle + T.keep_alive));
    }
}
