//! HTTP: the public and admin routers and the accept loop that serves them.
//!
//! [`serve`] takes a bound listener and a cancellation token (tests bind port 0), runs
//! one hyper connection task per client (HTTP/1.1 with keep-alive, or HTTP/2: by ALPN
//! over TLS, with prior knowledge in clear), caps open connections at
//! `server.max_connections`, cuts clients that do not finish their TLS handshake or their
//! headers within `server.header_read_timeout`, and on cancellation stops accepting and
//! lets open connections finish their in-flight requests.

pub mod admin;
pub mod body;
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

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::cache::FragmentCache;
use crate::config::Secret;
use crate::events::{EventQueue, EventStore};
use crate::shutdown::Readiness;
use crate::signals::Metrics;

pub use error::ApiError;
pub use fragment::FragmentHeaders;

/// What handlers share. Built once by `App::build`.
#[derive(Debug)]
pub struct AppState {
    pub cache: FragmentCache,
    pub metrics: Arc<Metrics>,
    pub readiness: Readiness,
    /// `Cache-Control` values, formatted once from `[cache]`.
    pub fragment_headers: FragmentHeaders,
    pub request_timeout: Duration,
    pub admin_token: Option<Secret>,
    /// Where `POST /v1/events` queues beacons; also pauses and resumes the writer.
    pub events: EventQueue,
    /// Read by `GET /admin/v1/stats`; the writer task holds its own handle.
    pub event_store: Arc<dyn EventStore>,
    /// `GET /loader.js`, compressed once.
    pub loader: embed::Asset,
    /// This instance's name in signals (the host name).
    pub instance: String,
    /// Load shedding for the public listener.
    pub limiter: shed::Limiter,
    /// The scaler's decisions, when it runs in this process (`GET /admin/v1/scaler`).
    pub scaler_log: Arc<crate::scaler::controller::ScalerLog>,
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
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    /// How long open connections get to finish once we stop accepting.
    pub grace: Duration,
    /// HTTPS when set (the public listener with `tls.cert` and `tls.key`).
    pub tls: Option<Arc<rustls::ServerConfig>>,
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
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout)
        .keep_alive(true)
        .max_buf_size(64 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256);
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(opts.max_connections));
    loop {
        // Wait for a free slot first: over the cap, clients queue in the kernel's
        // backlog instead of costing us memory.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("invariant: the semaphore is never closed"),
            () = shutdown.cancelled() => break,
        };
        let (stream, _peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        // Taken before the handshake, so a drain waits for connections still shaking hands.
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let tls = opts.tls.clone();
        let handshake_timeout = opts.header_read_timeout;
        tokio::spawn(async move {
            let served = match tls {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(conn.into_owned()).await
                }
                Some(config) => {
                    let Some(stream) = tls::accept(config, stream, handshake_timeout).await else {
                        return;
                    };
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(conn.into_owned()).await
                }
            };
            if let Err(e) = served {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(opts.grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?opts.grace, "connections still open after the grace period; closing them");
    }
    Ok(())
}
