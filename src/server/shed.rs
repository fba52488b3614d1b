//! Load shedding with an adaptive concurrency limit, in the spirit of Netflix's
//! concurrency-limits "gradient" algorithm: the limit on requests in flight follows
//! measured latency instead of being a fixed constant.
//!
//! Every [`WINDOW`], the mean latency of the requests that finished in it (`short`) is
//! compared with a slowly moving baseline (`long`):
//! `gradient = clamp(TOLERANCE × long / short, 0.5, 1)`. At gradient 1 (latency within
//! tolerance) a limit in use grows by √limit a window; below 1 it moves, smoothed,
//! towards `limit × gradient + √limit`, i.e. shrinks towards what brings latency back to
//! the baseline. The baseline drifts towards the short-term mean slowly, and snaps back
//! down when latency falls; an idle, fast instance climbs back to the initial limit, so
//! the limit recovers once the overload is gone.
//!
//! What takes a permit is work that can pile up: an origin fetch (taken by the request
//! that starts it, held by the fetch, see `FragmentCache::get`), a beacon body being
//! queued, and every route other than fragments and probes. Cache hits take none (they
//! finish within one poll, so they cannot pile up), nor do requests that wait on a fetch
//! already in flight for their key (a herd of them costs one fetch), nor probes. Over the
//! limit a request is answered 503 at once, with `Retry-After`: nothing queues.
//!
//! Invariants: admission is one atomic add (and a subtraction when refused); the limit
//! is recomputed by whichever permit ends a window first, under a `try_lock`, never
//! waited for.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the limit is recomputed.
pub const WINDOW: Duration = Duration::from_millis(100);
/// The limit never goes below this (a trickle always gets through) …
pub const MIN_LIMIT: usize = 16;
/// … and starts here.
pub const INITIAL_LIMIT: usize = 256;
/// Latency may exceed the baseline by this factor before the limit shrinks.
const TOLERANCE: f64 = 1.5;
/// How much of each new estimate enters the limit.
const SMOOTHING: f64 = 0.2;
/// How fast the baseline follows the short-term latency (per window).
const BASELINE_DRIFT: f64 = 0.01;
/// Windows with fewer finished requests than this say nothing.
const MIN_SAMPLES: u64 = 10;

/// The limiter. One per public listener.
#[derive(Debug)]
pub struct Limiter {
    /// Permits held right now.
    in_flight: AtomicUsize,
    limit: AtomicUsize,
    max_limit: usize,
    /// This window's finished requests: count, summed latency (µs), peak in flight.
    count: AtomicU64,
    sum_us: AtomicU64,
    peak: AtomicUsize,
    /// Start of this window, µs after `epoch`; requests read it, one claims the update.
    window_started_us: AtomicU64,
    epoch: Instant,
    state: Mutex<Gradient>,
}

#[derive(Debug)]
struct Gradient {
    /// Baseline latency, µs (0 until the first window with samples).
    long_us: f64,
    /// The limit before rounding.
    estimate: f64,
}

/// Admission: holds a place in flight until dropped.
#[derive(Debug)]
pub struct Permit<'a> {
    limiter: &'a Limiter,
    started: Instant,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.limiter.release(self.started);
    }
}

/// A [`Permit`] that can move into a task of its own (an origin fetch).
#[derive(Debug)]
pub struct OwnedPermit {
    limiter: Arc<Limiter>,
    started: Instant,
}

impl Drop for OwnedPermit {
    fn drop(&mut self) {
        self.limiter.release(self.started);
    }
}

impl Limiter {
    /// A limiter that never allows more than `max_limit` in flight.
    pub fn new(max_limit: usize) -> Self {
        let max_limit = max_limit.max(MIN_LIMIT);
        let initial = INITIAL_LIMIT.clamp(MIN_LIMIT, max_limit);
        Self {
            in_flight: AtomicUsize::new(0),
            limit: AtomicUsize::new(initial),
            max_limit,
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
            peak: AtomicUsize::new(0),
            window_started_us: AtomicU64::new(0),
            epoch: Instant::now(),
            state: Mutex::new(Gradient {
                long_us: 0.0,
                estimate: initial as f64,
            }),
        }
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.limit.load(Relaxed)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Relaxed)
    }

    /// Admits one more, or `None`: shed it.
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        self.admit().then(|| Permit {
            limiter: self,
            started: Instant::now(),
        })
    }

    /// [`Self::try_acquire`], for a permit that outlives the caller's borrow.
    pub fn try_acquire_owned(self: &Arc<Self>) -> Option<OwnedPermit> {
        self.admit().then(|| OwnedPermit {
            limiter: self.clone(),
            started: Instant::now(),
        })
    }

    fn admit(&self) -> bool {
        let total = self.in_flight.fetch_add(1, Relaxed) + 1;
        if total > self.limit() {
            self.in_flight.fetch_sub(1, Relaxed);
            return false;
        }
        self.peak.fetch_max(total, Relaxed);
        true
    }

    fn release(&self, started: Instant) {
        self.in_flight.fetch_sub(1, Relaxed);
        self.finish(started.elapsed());
    }

    fn finish(&self, took: Duration) {
        self.count.fetch_add(1, Relaxed);
        self.sum_us
            .fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Relaxed);
        self.maybe_update();
    }

    /// Recomputes the limit if a window has passed; of the requests that notice, one
    /// does it (a plain load first: the common case writes nothing shared).
    fn maybe_update(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        let started = self.window_started_us.load(Relaxed);
        if now.saturating_sub(started) < WINDOW.as_micros() as u64
            || self
                .window_started_us
                .compare_exchange(started, now, Relaxed, Relaxed)
                .is_err()
        {
            return;
        }
        let count = self.count.swap(0, Relaxed);
        let sum = self.sum_us.swap(0, Relaxed);
        let peak = self.peak.swap(self.in_flight(), Relaxed);
        let Ok(mut g) = self.state.try_lock() else {
            return;
        };
        let limit = if count < MIN_SAMPLES {
            // Too few requests to judge latency by: a quiet instance, which recovers, one
            // step per window that passed (when nothing ends a permit, [`Self::tick`]
            // is what notices, once in a while).
            let windows = (now.saturating_sub(started) / WINDOW.as_micros() as u64).clamp(1, 100);
            (0..windows).fold(0, |_, _| Self::recover(&mut g))
        } else {
            self.update(&mut g, (sum as f64 / count as f64).max(1.0), peak)
        };
        self.limit.store(limit, Relaxed);
    }

    /// Lets the limit recover while no permit ends (traffic all hits, or none): called
    /// about once a second by the app's upkeep task.
    pub fn tick(&self) {
        self.maybe_update();
    }

    /// An idle, fast window: an unused limit is no evidence for a higher one, but a
    /// limit squeezed by an earlier overload climbs back to the initial one.
    fn recover(g: &mut Gradient) -> usize {
        if g.estimate < INITIAL_LIMIT as f64 {
            g.estimate = (g.estimate + g.estimate.sqrt()).min(INITIAL_LIMIT as f64);
        }
        g.estimate.round() as usize
    }

    /// One gradient step: the new limit, given this window's mean latency (µs) and the
    /// most requests that were in flight at once.
    fn update(&self, g: &mut Gradient, short_us: f64, peak: usize) -> usize {
        if g.long_us == 0.0 || short_us < g.long_us {
            // First sample, or latency fell: the baseline follows down at once.
            g.long_us = short_us;
        } else {
            g.long_us += (short_us - g.long_us) * BASELINE_DRIFT;
        }
        let limit = g.estimate;
        let healthy = short_us <= g.long_us * TOLERANCE;
        let next = if (peak as f64) < limit / 2.0 && healthy {
            return Self::recover(g);
        } else {
            let gradient = (TOLERANCE * g.long_us / short_us).clamp(0.5, 1.0);
            if gradient >= 1.0 {
                // Used and fast: grow by the queue allowance.
                limit + limit.sqrt()
            } else {
                // Slow: shrink towards the limit that brings latency back, smoothly.
                limit * (1.0 - SMOOTHING) + (limit * gradient + limit.sqrt()) * SMOOTHING
            }
        };
        g.estimate = next.clamp(MIN_LIMIT as f64, self.max_limit as f64);
        g.estimate.round() as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `windows` windows of `latency_us` with `peak` in flight; the last limit.
    fn drive(l: &Limiter, windows: usize, latency_us: f64, peak: usize) -> usize {
        let mut g = l.state.lock().unwrap();
        let mut limit = 0;
        for _ in 0..windows {
            limit = l.update(&mut g, latency_us, peak);
        }
        limit
    }

    #[test]
    fn the_limit_grows_while_used_at_steady_latency() {
        let l = Limiter::new(10_000);
        let grown = drive(&l, 50, 200.0, 10_000);
        assert!(grown > INITIAL_LIMIT * 2, "{grown}");
        // Idle (little in flight): no growth beyond the initial limit.
        let l = Limiter::new(10_000);
        assert_eq!(drive(&l, 50, 200.0, 3), INITIAL_LIMIT);
        // Never past the maximum.
        let l = Limiter::new(300);
        assert_eq!(drive(&l, 50, 200.0, 10_000), 300);
    }

    #[test]
    fn rising_latency_shrinks_the_limit_and_it_recovers_after() {
        let l = Limiter::new(10_000);
        drive(&l, 10, 200.0, 300);
        let before = l.state.lock().unwrap().estimate;
        // Latency ×20 (a slow origin, an overloaded CPU): down towards the minimum.
        let squeezed = drive(&l, 40, 4000.0, 300);
        assert!(squeezed < (before / 4.0) as usize, "{before} -> {squeezed}");
        assert!(squeezed >= MIN_LIMIT);
        // Latency back to normal, load gone: back to the initial limit within 3 s.
        let recovered = drive(&l, 30, 200.0, 0);
        assert_eq!(recovered, INITIAL_LIMIT, "{squeezed} -> {recovered}");
    }

    #[test]
    fn with_no_permit_ending_a_tick_lets_a_squeezed_limit_recover() {
        let mut l = Limiter::new(10_000);
        drive(&l, 10, 200.0, 300);
        let squeezed = drive(&l, 40, 4000.0, 300);
        l.limit.store(squeezed, Relaxed);
        assert!(squeezed < INITIAL_LIMIT / 4);
        // Three seconds in which nothing ended a permit (all hits, say): one tick catches up.
        l.epoch = Instant::now() - Duration::from_secs(3);
        l.tick();
        assert_eq!(l.limit(), INITIAL_LIMIT, "from {squeezed}");
    }

    #[test]
    fn admission_stops_at_the_limit_and_permits_come_back() {
        let l = Arc::new(Limiter::new(10_000));
        let held: Vec<_> = (0..INITIAL_LIMIT / 2)
            .map(|_| l.try_acquire().unwrap())
            .collect();
        let owned: Vec<_> = (0..INITIAL_LIMIT / 2)
            .map(|_| l.try_acquire_owned().unwrap())
            .collect();
        assert_eq!(l.in_flight(), INITIAL_LIMIT);
        assert!(l.try_acquire().is_none(), "at the limit");
        assert!(l.try_acquire_owned().is_none(), "at the limit");
        assert_eq!(l.in_flight(), INITIAL_LIMIT, "a refusal holds nothing");
        drop(owned);
        assert!(l.try_acquire().is_some());
        drop(held);
        assert_eq!(l.in_flight(), 0);
    }
}
