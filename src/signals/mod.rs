//! Signals: what this instance measures about itself. The Prometheus metrics
//! ([`metrics`]), and the sliding windows the scaler reads ([`window`]), summed up in a
//! [`Signals`] snapshot (`GET /admin/v1/signals`). What every request writes is kept in
//! per-thread stripes ([`striped`]), so cores serving side by side do not contend.

pub mod metrics;
pub mod striped;
pub mod window;

use serde::{Deserialize, Serialize};

pub use metrics::{CacheResult, EventRejection, Metrics, OriginResult, Route};

/// One instance's load over one window: what `GET /admin/v1/signals` returns and what
/// the scaler decides from. Rates are per second; ratios are 0..1; `cpu` is the process's
/// share of the cores it may use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signals {
    pub instance: String,
    /// Unix time of the snapshot, in seconds.
    pub ts: f64,
    /// The window the rates and quantiles cover, in seconds.
    pub window_s: u64,
    pub rps: f64,
    pub in_flight: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub cpu: f64,
    /// Share of answers that were 5xx, of all but client errors (4xx).
    pub error_rate: f64,
    /// Requests shed (refused under overload) per second.
    pub shed_rate: f64,
    pub cache_hit_ratio: f64,
    pub origin_p99_ms: f64,
    /// Share of origin lookups that failed or timed out.
    pub origin_error_rate: f64,
    pub events_queue_depth: u64,
}

impl Signals {
    /// An idle instance (for tests and the simulator to start from).
    pub fn idle(instance: impl Into<String>) -> Self {
        Self {
            instance: instance.into(),
            ts: 0.0,
            window_s: 10,
            rps: 0.0,
            in_flight: 0,
            p50_ms: 0.0,
            p95_ms: 0.0,
            p99_ms: 0.0,
            cpu: 0.0,
            error_rate: 0.0,
            shed_rate: 0.0,
            cache_hit_ratio: 0.0,
            origin_p99_ms: 0.0,
            origin_error_rate: 0.0,
            events_queue_depth: 0,
        }
    }
}
