//! The access log (`server.access_log = "json"`): one JSON line per answered request on
//! stdout, for operators: time, client address, method, path and query, status, body
//! bytes, duration and cache status.
//!
//! Lines are handed to a thread of their own over a bounded queue, so a slow reader of
//! stdout never blocks a request: past [`QUEUE_LINES`] waiting lines, new ones are
//! dropped and counted, and the writer says how many once it catches up. Off (the
//! default), nothing here runs: connections carry no log handle, and requests pay
//! nothing.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method};

/// Lines that may wait for the writer; a burst beyond it is dropped.
pub const QUEUE_LINES: usize = 65_536;

/// A handle to the access log; cheap to clone.
#[derive(Debug, Clone)]
pub struct AccessLog {
    lines: SyncSender<String>,
    dropped: Arc<AtomicU64>,
}

/// One answered request.
pub struct Entry<'a> {
    pub client: SocketAddr,
    pub method: &'a Method,
    /// Path and query, as the client sent them.
    pub target: &'a str,
    pub status: u16,
    /// Body bytes when known in advance (every answer of ours), else `None`.
    pub bytes: Option<u64>,
    /// From the request's arrival to its answer's headers.
    pub duration: Duration,
    /// The response headers (`x-cache` is read from them).
    pub headers: &'a HeaderMap,
}

impl AccessLog {
    /// Starts the writer thread, onto stdout.
    ///
    /// # Errors
    /// The thread could not be started.
    pub fn stdout() -> std::io::Result<Self> {
        let (lines, rx) = sync_channel(QUEUE_LINES);
        let dropped = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&dropped);
        std::thread::Builder::new()
            .name("synedge-access-log".into())
            .spawn(move || write_lines(&rx, &counted, std::io::stdout().lock()))?;
        Ok(Self { lines, dropped })
    }

    /// Queues the line for `e`; drops it (counted) when the writer is behind.
    pub fn record(&self, e: &Entry<'_>) {
        let line = serde_json::json!({
            "time": humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            "client": e.client.to_string(),
            "method": e.method.as_str(),
            "target": e.target,
            "status": e.status,
            "bytes": e.bytes,
            "duration_ms": (e.duration.as_secs_f64() * 1e6).round() / 1e3,
            "cache": e.headers.get("x-cache").and_then(|v| v.to_str().ok()),
        })
        .to_string();
        match self.lines.try_send(line) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The writer: lines as they come, flushed whenever the queue runs dry.
fn write_lines(rx: &Receiver<String>, dropped: &AtomicU64, out: impl std::io::Write) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(line) = next {
            if writeln!(out, "{line}").is_err() {
                return; // stdout is gone; nothing more can be logged
            }
            next = rx.try_recv().ok();
        }
        if out.flush().is_err() {
            return;
        }
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            tracing::warn!(
                lines = lost,
                "dropped access log lines: stdout did not keep up"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_holds_every_field_and_a_full_queue_drops_and_counts() {
        let (lines, rx) = sync_channel(1);
        let log = AccessLog {
            lines,
            dropped: Arc::new(AtomicU64::new(0)),
        };
        let mut headers = HeaderMap::new();
        headers.insert("x-cache", http::HeaderValue::from_static("HIT"));
        let e = Entry {
            client: "127.0.0.1:5000".parse().unwrap(),
            method: &Method::GET,
            target: "/v1/fragment?retailer=r&locale=en&ean=96385074",
            status: 200,
            bytes: Some(1234),
            duration: Duration::from_micros(1500),
            headers: &headers,
        };
        log.record(&e);
        log.record(&e);
        assert_eq!(log.dropped.load(Ordering::Relaxed), 1);
        let line: serde_json::Value = serde_json::from_str(&rx.recv().unwrap()).unwrap();
        assert_eq!(line["client"], "127.0.0.1:5000");
        assert_eq!(line["method"], "GET");
        assert_eq!(
            line["target"],
            "/v1/fragment?retailer=r&locale=en&ean=96385074"
        );
        assert_eq!(line["status"], 200);
        assert_eq!(line["bytes"], 1234);
        assert_eq!(line["duration_ms"], 1.5);
        assert_eq!(line["cache"], "HIT");
        assert!(line["time"].as_str().unwrap().ends_with('Z'), "{line}");
    }
}
