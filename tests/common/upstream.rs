//! An upstream content service on 127.0.0.1 for an `http://` origin: answers every
//! fragment path with a body (after a delay, or never), counts what it is asked, and can
//! be killed and started again on the same port.

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use super::process::{Server, spawn_serve};

pub const OK: u8 = 0;
pub const HANG: u8 = 1;
pub const SLOW: u8 = 2;

/// An upstream content service on 127.0.0.1: answers every fragment path with a body,
/// or hangs, or answers after 300 ms (see [`Upstream::slow_ms`]); can be killed (listener and connections gone) and
/// started again on the same port.
pub struct Upstream {
    pub port: u16,
    mode: Arc<AtomicU8>,
    pub requests: Arc<AtomicUsize>,
    /// How long SLOW answers take, in ms.
    slow_ms: Arc<AtomicU64>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Upstream {
    pub async fn start(mode: u8) -> Self {
        let mut u = Self {
            port: 0,
            mode: Arc::new(AtomicU8::new(mode)),
            requests: Arc::default(),
            slow_ms: Arc::new(AtomicU64::new(300)),
            task: None,
        };
        u.restart().await;
        u
    }

    pub async fn restart(&mut self) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(([127, 0, 0, 1], self.port).into()).unwrap();
        let listener = socket.listen(1024).unwrap();
        self.port = listener.local_addr().unwrap().port();
        let (mode, requests, slow) = (
            self.mode.clone(),
            self.requests.clone(),
            self.slow_ms.clone(),
        );
        self.task = Some(tokio::spawn(async move {
            // Connections live in the set: aborting this task drops them all.
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (mode, requests, slow) = (mode.clone(), requests.clone(), slow.clone());
                conns.spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (mode, requests, slow) = (mode.clone(), requests.clone(), slow.clone());
                        async move {
                            requests.fetch_add(1, Ordering::SeqCst);
                            match mode.load(Ordering::SeqCst) {
                                HANG => std::future::pending::<()>().await,
                                SLOW => {
                                    tokio::time::sleep(Duration::from_millis(
                                        slow.load(Ordering::SeqCst),
                                    ))
                                    .await
                                }
                                _ => {}
                            }
                            let body = format!(
                                "<div class=\"inpage\">{}{}</div>",
                                req.uri().path(),
                                " tile".repeat(300)
                            );
                            Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(body))))
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        }));
    }

    pub fn kill(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    /// How long SLOW answers take from now on.
    pub fn slow_ms(&self, ms: u64) {
        self.slow_ms.store(ms, Ordering::SeqCst);
    }

    /// Requests answered or begun so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    pub fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
}

/// `synedge serve` over `upstream`, with `extra` settings.
pub fn serve_over(dir: &Path, upstream: &Upstream, extra: &[&str]) -> (Server, String, String) {
    let origin = format!("origin.url=http://127.0.0.1:{}/fragments", upstream.port);
    let events = format!("events.store=sqlite://{}/events.db", dir.display());
    let mut args = vec!["--set", &origin, "--set", &events];
    for e in extra {
        args.extend(["--set", e]);
    }
    spawn_serve(dir, &args)
}
