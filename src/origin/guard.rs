//! Origin protection (DESIGN.md §5): every store is wrapped in [`Guarded`], which bounds
//! each attempt by `origin.timeout`, retries transient failures a bounded number of times
//! with jittered backoff, and keeps a circuit breaker so a dead origin costs no latency:
//!
//! - closed: requests pass; [`OPEN_AFTER`] consecutive failures, or more than half of
//!   the last [`RATE_WINDOW`] attempts failing (once at least [`RATE_MIN`] were made),
//!   open it;
//! - open: requests fail at once (a transient error, so the cache serves stale content)
//!   for [`OPEN_FOR`], doubling up to [`MAX_OPEN_FOR`] while probes keep failing;
//! - half-open: one probe at a time passes; its success closes the breaker, its failure
//!   opens it again.
//!
//! "No content" is an answer, not a failure; so is corrupt data (retrying it cannot help,
//! but it does not mean the origin is down either).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::{BoxFuture, Invalidation, Lookup, Origin, OriginError};
use crate::domain::FragmentRequest;
use crate::signals::Metrics;
pub use crate::signals::metrics::BreakerState;

/// Consecutive failures that open the breaker.
pub const OPEN_AFTER: u32 = 5;
/// Attempts the error rate is measured over …
pub const RATE_WINDOW: usize = 20;
/// … once at least this many were made.
pub const RATE_MIN: usize = 10;
/// First open period; doubles while half-open probes fail.
pub const OPEN_FOR: Duration = Duration::from_secs(2);
pub const MAX_OPEN_FOR: Duration = Duration::from_secs(30);
/// Retries after a transient failure (so at most 1 + this many attempts).
pub const RETRIES: u32 = 2;
/// Backoff before retry `n` is uniform in `0..BACKOFF × 2^n` ("full jitter").
pub const BACKOFF: Duration = Duration::from_millis(20);

#[derive(Debug)]
struct Breaker {
    state: BreakerState,
    consecutive: u32,
    /// Recent outcomes, `true` for a failure, newest last.
    recent: VecDeque<bool>,
    open_until: Instant,
    open_for: Duration,
}

/// A store behind timeouts, retries and a circuit breaker.
pub struct Guarded {
    inner: Arc<dyn Origin>,
    timeout: Duration,
    breaker: Mutex<Breaker>,
    /// Set while the one half-open probe runs.
    probing: AtomicBool,
    metrics: Arc<Metrics>,
}

impl Guarded {
    pub fn new(inner: Arc<dyn Origin>, timeout: Duration, metrics: Arc<Metrics>) -> Self {
        metrics.origin_breaker(BreakerState::Closed);
        Self {
            inner,
            timeout,
            breaker: Mutex::new(Breaker {
                state: BreakerState::Closed,
                consecutive: 0,
                recent: VecDeque::with_capacity(RATE_WINDOW),
                open_until: Instant::now(),
                open_for: OPEN_FOR,
            }),
            probing: AtomicBool::new(false),
            metrics,
        }
    }

    pub fn state(&self) -> BreakerState {
        self.lock().state
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Breaker> {
        self.breaker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether an attempt may go to the origin now; `Some(true)` when it is the
    /// half-open probe.
    fn admit(&self) -> Option<bool> {
        let mut b = self.lock();
        match b.state {
            BreakerState::Closed => Some(false),
            BreakerState::Open if Instant::now() < b.open_until => None,
            BreakerState::Open | BreakerState::HalfOpen => {
                if self.probing.swap(true, Ordering::AcqRel) {
                    return None;
                }
                if b.state == BreakerState::Open {
                    b.state = BreakerState::HalfOpen;
                    self.metrics.origin_breaker(BreakerState::HalfOpen);
                }
                Some(true)
            }
        }
    }

    fn record(&self, failed: bool, probe: bool) {
        let mut b = self.lock();
        if probe {
            self.probing.store(false, Ordering::Release);
        }
        if b.recent.len() == RATE_WINDOW {
            b.recent.pop_front();
        }
        b.recent.push_back(failed);
        b.consecutive = if failed { b.consecutive + 1 } else { 0 };
        let to = match (b.state, failed) {
            (BreakerState::HalfOpen, false) => Some(BreakerState::Closed),
            (BreakerState::HalfOpen, true) => {
                b.open_for = (b.open_for * 2).min(MAX_OPEN_FOR);
                Some(BreakerState::Open)
            }
            (BreakerState::Closed, true) => {
                let failures = b.recent.iter().filter(|&&f| f).count();
                let rate_bad = b.recent.len() >= RATE_MIN && failures * 2 > b.recent.len();
                (b.consecutive >= OPEN_AFTER || rate_bad).then_some(BreakerState::Open)
            }
            _ => None,
        };
        match to {
            Some(BreakerState::Open) => {
                b.state = BreakerState::Open;
                b.open_until = Instant::now() + b.open_for;
                tracing::warn!(open_for = ?b.open_for, "origin circuit breaker opened");
                self.metrics.origin_breaker(BreakerState::Open);
            }
            Some(BreakerState::Closed) => {
                b.state = BreakerState::Closed;
                b.open_for = OPEN_FOR;
                b.consecutive = 0;
                b.recent.clear();
                tracing::info!("origin circuit breaker closed: the origin answers again");
                self.metrics.origin_breaker(BreakerState::Closed);
            }
            _ => {}
        }
    }

    /// Runs `attempt` under the breaker, with a timeout per attempt and bounded retries.
    async fn call<'a>(
        &'a self,
        attempt: impl Fn() -> BoxFuture<'a, Result<Lookup, OriginError>>,
    ) -> Result<Lookup, OriginError> {
        let mut tries = 0;
        loop {
            let Some(probe) = self.admit() else {
                return Err(OriginError::Unavailable(
                    "the origin's circuit breaker is open after repeated failures".into(),
                ));
            };
            let result = match tokio::time::timeout(self.timeout, attempt()).await {
                Ok(r) => r,
                Err(_) => Err(OriginError::Timeout(self.timeout)),
            };
            let failed = matches!(&result, Err(e) if e.is_transient());
            self.record(failed, probe);
            if !failed || tries == RETRIES || probe {
                return result;
            }
            tries += 1;
            tokio::time::sleep(jitter(BACKOFF * 2u32.pow(tries - 1))).await;
        }
    }
}

/// A uniformly random duration in `0..max`, from a cheap per-call hash of the clock.
fn jitter(max: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let r = xxhash_rust::xxh3::xxh3_64(&nanos.to_le_bytes());
    max.mul_f64((r >> 11) as f64 / (1u64 << 53) as f64)
}

impl Origin for Guarded {
    fn fetch<'a>(&'a self, req: &'a FragmentRequest) -> BoxFuture<'a, Result<Lookup, OriginError>> {
        Box::pin(self.call(move || self.inner.fetch(req)))
    }

    fn revalidate<'a>(
        &'a self,
        req: &'a FragmentRequest,
        validator: &'a str,
    ) -> BoxFuture<'a, Result<Lookup, OriginError>> {
        Box::pin(self.call(move || self.inner.revalidate(req, validator)))
    }

    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn broadcast<'a>(&'a self, inv: &'a Invalidation) -> BoxFuture<'a, Result<bool, OriginError>> {
        self.inner.broadcast(inv)
    }

    fn product_count(&self) -> BoxFuture<'_, Result<Option<u64>, OriginError>> {
        self.inner.product_count()
    }

    fn invalidations(&self) -> Option<tokio::sync::mpsc::Receiver<Invalidation>> {
        self.inner.invalidations()
    }

    fn listening(&self) -> Option<tokio::sync::watch::Receiver<bool>> {
        self.inner.listening()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// Fails while `down`; counts calls.
    struct Flaky {
        down: AtomicBool,
        hang: AtomicBool,
        calls: AtomicUsize,
    }

    impl Origin for Flaky {
        fn fetch<'a>(
            &'a self,
            _req: &'a FragmentRequest,
        ) -> BoxFuture<'a, Result<Lookup, OriginError>> {
            Box::pin(async move {
                self.calls.fetch_add(1, Ordering::SeqCst);
                if self.hang.load(Ordering::SeqCst) {
                    std::future::pending::<()>().await;
                }
                if self.down.load(Ordering::SeqCst) {
                    Err(OriginError::Unavailable("down".into()))
                } else {
                    Ok(Lookup::NoContent {
                        brand: None,
                        product_id: None,
                    })
                }
            })
        }
        fn kind(&self) -> &'static str {
            "flaky"
        }
    }

    fn setup() -> (Arc<Flaky>, Guarded, FragmentRequest) {
        let flaky = Arc::new(Flaky {
            down: AtomicBool::new(false),
            hang: AtomicBool::new(false),
            calls: AtomicUsize::new(0),
        });
        let g = Guarded::new(
            flaky.clone(),
            Duration::from_millis(100),
            Arc::new(Metrics::new()),
        );
        let req = FragmentRequest::from_query("retailer=a&locale=en&sku=x").unwrap();
        (flaky, g, req)
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_a_bounded_number_of_times() {
        let (flaky, g, req) = setup();
        flaky.down.store(true, Ordering::SeqCst);
        assert!(g.fetch(&req).await.is_err());
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 1 + RETRIES as usize);
        // A hang is cut at the timeout, per attempt.
        let (flaky, g, req) = setup();
        flaky.hang.store(true, Ordering::SeqCst);
        let started = tokio::time::Instant::now();
        let err = g.fetch(&req).await.unwrap_err();
        assert!(matches!(err, OriginError::Timeout(_)), "{err}");
        assert!(started.elapsed() < Duration::from_millis(100 * 3 + 200));
    }

    #[tokio::test(start_paused = true)]
    async fn the_breaker_opens_fails_fast_probes_and_closes() {
        let (flaky, g, req) = setup();
        flaky.down.store(true, Ordering::SeqCst);
        // Two calls of three attempts: six consecutive failures, open after five.
        let _ = g.fetch(&req).await;
        let _ = g.fetch(&req).await;
        assert_eq!(g.state(), BreakerState::Open);
        let calls = flaky.calls.load(Ordering::SeqCst);
        // Open: fails at once, without calling the origin.
        let err = g.fetch(&req).await.unwrap_err();
        assert!(err.is_transient() && err.to_string().contains("circuit breaker"));
        assert_eq!(flaky.calls.load(Ordering::SeqCst), calls);
        // After the open period, one probe; it fails: open again, for twice as long.
        tokio::time::advance(OPEN_FOR).await;
        assert!(g.fetch(&req).await.is_err());
        assert_eq!(
            flaky.calls.load(Ordering::SeqCst),
            calls + 1,
            "one probe, no retries"
        );
        assert_eq!(g.state(), BreakerState::Open);
        tokio::time::advance(OPEN_FOR).await;
        assert!(
            g.fetch(&req).await.is_err(),
            "still open: the period doubled"
        );
        assert_eq!(flaky.calls.load(Ordering::SeqCst), calls + 1);
        // The origin is back: the next probe closes the breaker.
        flaky.down.store(false, Ordering::SeqCst);
        tokio::time::advance(OPEN_FOR).await;
        assert!(g.fetch(&req).await.is_ok());
        assert_eq!(g.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_high_error_rate_opens_it_even_without_a_streak() {
        let (flaky, g, req) = setup();
        // A failing call (three attempts), then a good one: never five failures in a
        // row, but three in four fail.
        for i in 0..RATE_WINDOW {
            flaky.down.store(i % 2 == 0, Ordering::SeqCst);
            let _ = g.call(|| flaky.fetch(&req)).await;
            assert!(g.lock().consecutive < OPEN_AFTER);
            if g.state() == BreakerState::Open {
                return;
            }
        }
        panic!("the breaker stayed closed at a 2/3 error rate");
    }
}
