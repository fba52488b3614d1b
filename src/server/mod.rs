//! HTTP: the public and admin routers and the accept loop that serves them.
//!
//! [`serve`] takes a bound listener and a cancellation token (tests bind port 0), runs
//! one hyper connection task per client (HTTP/1.1 with keep-alive, or HTTP/2: by ALPN
//! over TLS, with prior knowledge in clear), caps open connections at
//! `server.max_connections`, and keeps each connection's deadlines ([`conn`]: a complete
//! head within `server.header_read_timeout` of accept, idle connections closed after
//! `server.keep_alive_timeout`); on cancellation it stops accepting and lets open
//! connections finish their in-flight requests within `shutdown.grace`.

pub mod access_log;
pub mod admin;
pub mod body;
mod conn;
pub mod embed;
pub mod error;
pub mod events;
pub mod fragment;
mod negotiate;
pub mod protocol;
pub mod public;
pub mod shed;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cache::FragmentCache;
use crate::config::Secret;
use crate::events::{EventQueue, EventStore};
use crate::shutdown::Readiness;
use crate::signals::Metrics;

pub use conn::AnswerNow;
pub use error::ApiError;

/// What handlers share. Built once by `App::build`.
#[derive(Debug)]
pub struct AppState {
    pub cache: FragmentCache,
    pub metrics: Arc<Metrics>,
    pub readiness: Readiness,
    pub request_timeout: Duration,
    /// The longest wait between two reads of a request body (then 408).
    pub body_read_timeout: Duration,
    pub admin_token: Option<Secret>,
    /// Where `POST /v1/events` queues beacons; also pauses and resumes the writer.
    pub events: EventQueue,
    /// Read by `GET /admin/v1/stats`; the writer task holds its own handle.
    pub event_store: Arc<dyn EventStore>,
    /// `GET /loader.js`, compressed once.
    pub loader: embed::Asset,
    /// What `/demo` loads besides the loader (its script, the illustrations), made once.
    pub demo: embed::DemoAssets,
    /// This instance's name in signals (the host name).
    pub instance: String,
    /// Load shedding for the public listener (shared with the origin fetches it admits).
    pub limiter: Arc<shed::Limiter>,
    /// The scaler's decisions, when it runs in this process (`GET /admin/v1/scaler`).
    pub scaler_log: Arc<crate::scaler::controller::ScalerLog>,
    /// Products in the catalog as last counted (`/readyz`); -1 until counted, and for
    /// stores that cannot count.
    pub catalog_products: std::sync::atomic::AtomicI64,
}

impl AppState {
    /// This instance's signals over the last `window_s` seconds.
    pub fn signals(&self, window_s: u64) -> crate::signals::Signals {
        self.metrics
            .windows
            .snapshot(&self.instance, window_s, self.events.depth() as u64)
    }
}

/// Connection handling knobs, from `[server]`.
#[derive(Clone)]
pub struct ServeOptions {
    /// From accept, and from the first byte of each later HTTP/1.1 head, to a complete
    /// request head; the TLS handshake counts against it.
    pub header_read_timeout: Duration,
    /// How long a connection with nothing in service stays open after its last response.
    pub keep_alive_timeout: Duration,
    pub max_connections: usize,
    /// How long open connections get to finish once we stop accepting.
    pub grace: Duration,
    /// HTTPS when set (the public listener with `tls.cert` and `tls.key`).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// One line per request (the public listener, with `server.access_log`).
    pub access_log: Option<access_log::AccessLog>,
    /// Asked before the router: the public listener answers cache hits here.
    pub answer_now: Option<AnswerNow>,
}

impl ServeOptions {
    /// Plain HTTP with the timeouts and limits of `config`.
    pub fn new(config: &crate::config::Config) -> Self {
        Self {
            header_read_timeout: config.server.header_read_timeout,
            keep_alive_timeout: config.server.keep_alive_timeout,
            max_connections: config.server.max_connections,
            grace: config.shutdown.grace,
            tls: None,
            access_log: None,
            answer_now: None,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then drains.
///
/// # Errors
/// Never for a single connection's failure; only if the listener itself breaks.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    opts: ServeOptions,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper's own header timer is off: it starts only once a head begins and doubles as
    // an idle timer; `conn` keeps both deadlines (see there).
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .keep_alive(true)
        .max_buf_size(64 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256)
        .max_header_list_size(64 * 1024);
    let connections = TaskTracker::new();
    let shared = conn::Shared {
        builder: Arc::new(builder),
        router,
        answer_now: opts.answer_now.clone(),
        tls: opts.tls.clone(),
        timeouts: conn::Timeouts {
            header_read: opts.header_read_timeout,
            keep_alive: opts.keep_alive_timeout,
        },
        drain: CancellationToken::new(),
        force: CancellationToken::new(),
        access_log: opts.access_log.clone(),
    };
    let slots = Arc::new(Semaphore::new(opts.max_connections));
    loop {
        // Wait for a free slot first: over the cap, clients queue in the kernel's
        // backlog instead of costing us memory.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("invariant: the semaphore is never closed"),
            () = shutdown.cancelled() => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let accepted = tokio::time::Instant::now();
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        connections.spawn(async move {
            conn::drive(shared, stream, accepted).await;
            drop(permit);
        });
    }
    drop(listener);
    shared.drain.cancel();
    connections.close();
    if tokio::time::timeout(opts.grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?opts.grace, "connections still open after the grace period; closing them");
        shared.force.cancel();
        connections.wait().await;
    }
    Ok(())
}
