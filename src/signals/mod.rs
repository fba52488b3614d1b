//! Signals: what this instance measures about itself. For now the Prometheus metrics;
//! the sliding windows the scaler reads come with issue 5.

pub mod metrics;

pub use metrics::{CacheResult, EventRejection, Metrics, OriginResult, Route};
