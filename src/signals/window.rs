//! Sliding windows over the last minute, second by second: what the scaler reads.
//!
//! A ring of per-second slots of atomic counters and log-scale latency histograms, so
//! memory is fixed (about 70 KiB a ring) whatever the traffic, and recording is a few
//! relaxed atomic adds. There is one ring per stripe ([`Striped`]): a thread records in
//! its own, so cores answering requests side by side write no common cache line, and a
//! reading sums the rings. A slot is reused when its second comes round again; a writer
//! that races the reset (another thread on its stripe) may lose a count, which signals
//! can afford and request paths cannot afford to wait for.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::Signals;
use super::striped::Striped;

/// Seconds of history kept; windows up to this long can be read.
pub const MAX_WINDOW_S: u64 = 60;
const SLOTS: usize = 64;
/// Latency buckets: bucket `i` holds samples up to `FIRST_BOUND_US × GROWTH^i` µs;
/// 20 µs … about 27 s at 12% resolution.
const BUCKETS: usize = 128;
const FIRST_BOUND_US: f64 = 20.0;
const GROWTH: f64 = 1.12;
const EMPTY: u64 = u64::MAX;

/// One second of one ring, on cache lines of its own.
#[derive(Default)]
#[repr(align(128))]
struct Slot {
    second: AtomicU64,
    requests: AtomicU64,
    /// Answers the server is judged on: all but client errors (4xx).
    judged: AtomicU64,
    errors: AtomicU64,
    shed: AtomicU64,
    cache_hits: AtomicU64,
    cache_lookups: AtomicU64,
    origin: AtomicU64,
    origin_errors: AtomicU64,
    latency: Histogram,
    origin_latency: Histogram,
}

struct Histogram([AtomicU32; BUCKETS]);

impl Default for Histogram {
    fn default() -> Self {
        Self(std::array::from_fn(|_| AtomicU32::new(0)))
    }
}

fn bucket(seconds: f64) -> usize {
    let us = seconds * 1e6;
    if us <= FIRST_BOUND_US {
        return 0;
    }
    (((us / FIRST_BOUND_US).ln() / GROWTH.ln()).ceil() as usize).min(BUCKETS - 1)
}

fn upper_bound_ms(i: usize) -> f64 {
    FIRST_BOUND_US * GROWTH.powi(i as i32) / 1000.0
}

/// One ring of per-second slots.
struct Ring(Box<[Slot]>);

impl Default for Ring {
    fn default() -> Self {
        let slots: Vec<Slot> = (0..SLOTS).map(|_| Slot::default()).collect();
        for s in &slots {
            s.second.store(EMPTY, Relaxed);
        }
        Self(slots.into_boxed_slice())
    }
}

/// The per-second rings, and the process CPU samples beside them.
pub struct Windows {
    epoch: Instant,
    /// One ring per stripe.
    rings: Striped<Ring>,
    in_flight: AtomicI64,
    /// (second, process CPU seconds), one per tick, newest last.
    cpu: Mutex<Vec<(u64, f64)>>,
    cores: f64,
}

impl std::fmt::Debug for Windows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Windows").finish_non_exhaustive()
    }
}

impl Default for Windows {
    fn default() -> Self {
        Self::new()
    }
}

/// Sums over the slots of one window.
#[derive(Default)]
struct Totals {
    requests: u64,
    judged: u64,
    errors: u64,
    shed: u64,
    cache_hits: u64,
    cache_lookups: u64,
    origin: u64,
    origin_errors: u64,
    latency: Vec<u64>,
    origin_latency: Vec<u64>,
}

impl Windows {
    pub fn new() -> Self {
        Self {
            epoch: Instant::now(),
            rings: Striped::new(),
            in_flight: AtomicI64::new(0),
            cpu: Mutex::new(Vec::new()),
            cores: std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64),
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_secs()
    }

    /// The slot for `second` in this thread's ring, reset first if it still holds an
    /// older second.
    fn slot(&self, second: u64) -> &Slot {
        let s = &self.rings.local().0[(second % SLOTS as u64) as usize];
        let seen = s.second.load(Relaxed);
        if seen != second
            && s.second
                .compare_exchange(seen, second, Relaxed, Relaxed)
                .is_ok()
        {
            for c in [
                &s.requests,
                &s.judged,
                &s.errors,
                &s.shed,
                &s.cache_hits,
                &s.cache_lookups,
                &s.origin,
                &s.origin_errors,
            ] {
                c.store(0, Relaxed);
            }
            for b in s.latency.0.iter().chain(&s.origin_latency.0) {
                b.store(0, Relaxed);
            }
        }
        s
    }

    pub fn request_started(&self) {
        self.in_flight.fetch_add(1, Relaxed);
    }

    /// A request answered the moment it arrived (a cache hit before the router): in
    /// flight for no time, so it is counted as answered without the in-flight count's
    /// two writes, which both cores would otherwise contend for on every hit.
    pub fn request_answered_at_once(&self, status: u16, seconds: f64) {
        self.record_request(self.now(), status, seconds);
    }

    /// One answered request: its status and how long it took; `load` false for requests
    /// that only leave the in-flight count (health probes).
    pub fn request_finished(&self, status: u16, seconds: f64, load: bool) {
        self.in_flight.fetch_sub(1, Relaxed);
        if load {
            self.record_request(self.now(), status, seconds);
        }
    }

    /// One answer. Client errors (4xx) count in the request rate (they are load) but
    /// not in latency or the error rate: a slow or broken client must not read as a
    /// slow or failing server.
    fn record_request(&self, second: u64, status: u16, seconds: f64) {
        let s = self.slot(second);
        s.requests.fetch_add(1, Relaxed);
        if super::metrics::is_client_error(status) {
            return;
        }
        s.judged.fetch_add(1, Relaxed);
        if status >= 500 {
            s.errors.fetch_add(1, Relaxed);
        }
        s.latency.0[bucket(seconds)].fetch_add(1, Relaxed);
    }

    /// A started request refused to protect the instance (load shedding).
    pub fn shed(&self) {
        self.in_flight.fetch_sub(1, Relaxed);
        self.slot(self.now()).shed.fetch_add(1, Relaxed);
    }

    /// One cache lookup; `hit` when answered from memory (fresh, stale or negative).
    pub fn cache_lookup(&self, hit: bool) {
        self.cache_lookup_at(self.now(), hit);
    }

    fn cache_lookup_at(&self, second: u64, hit: bool) {
        let s = self.slot(second);
        s.cache_lookups.fetch_add(1, Relaxed);
        if hit {
            s.cache_hits.fetch_add(1, Relaxed);
        }
    }

    pub fn origin_request(&self, ok: bool, seconds: f64) {
        let s = self.slot(self.now());
        s.origin.fetch_add(1, Relaxed);
        if !ok {
            s.origin_errors.fetch_add(1, Relaxed);
        }
        s.origin_latency.0[bucket(seconds)].fetch_add(1, Relaxed);
    }

    /// Samples the process's CPU time; call about once a second.
    pub fn sample_cpu(&self, cpu_seconds: f64) {
        let now = self.now();
        let mut v = self
            .cpu
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if v.last().is_some_and(|&(s, _)| s == now) {
            v.pop();
        }
        v.push((now, cpu_seconds));
        let keep_from = now.saturating_sub(MAX_WINDOW_S + 1);
        v.retain(|&(s, _)| s >= keep_from);
    }

    fn totals(&self, now: u64, window: u64) -> Totals {
        let mut t = Totals {
            latency: vec![0; BUCKETS],
            origin_latency: vec![0; BUCKETS],
            ..Totals::default()
        };
        // The last `window` complete seconds.
        let from = now.saturating_sub(window);
        for s in self.rings.iter().flat_map(|r| r.0.iter()) {
            let sec = s.second.load(Relaxed);
            if sec == EMPTY || sec < from || sec >= now {
                continue;
            }
            t.requests += s.requests.load(Relaxed);
            t.judged += s.judged.load(Relaxed);
            t.errors += s.errors.load(Relaxed);
            t.shed += s.shed.load(Relaxed);
            t.cache_hits += s.cache_hits.load(Relaxed);
            t.cache_lookups += s.cache_lookups.load(Relaxed);
            t.origin += s.origin.load(Relaxed);
            t.origin_errors += s.origin_errors.load(Relaxed);
            for (a, b) in t.latency.iter_mut().zip(&s.latency.0) {
                *a += u64::from(b.load(Relaxed));
            }
            for (a, b) in t.origin_latency.iter_mut().zip(&s.origin_latency.0) {
                *a += u64::from(b.load(Relaxed));
            }
        }
        t
    }

    /// CPU utilization over the window, as a share of the cores this process may use.
    fn cpu_over(&self, now: u64, window: u64) -> f64 {
        let v = self
            .cpu
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let from = now.saturating_sub(window);
        let (Some(first), Some(last)) = (v.iter().find(|&&(s, _)| s >= from), v.last()) else {
            return 0.0;
        };
        let secs = last.0.saturating_sub(first.0);
        if secs == 0 {
            return 0.0;
        }
        ((last.1 - first.1) / secs as f64 / self.cores).clamp(0.0, 1.0)
    }

    /// The signals over the last `window_s` seconds (at most [`MAX_WINDOW_S`]).
    pub fn snapshot(&self, instance: &str, window_s: u64, events_queue_depth: u64) -> Signals {
        self.snapshot_at(self.now(), instance, window_s, events_queue_depth)
    }

    fn snapshot_at(&self, now: u64, instance: &str, window_s: u64, depth: u64) -> Signals {
        let window = window_s.clamp(1, MAX_WINDOW_S);
        let t = self.totals(now, window);
        let w = window as f64;
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        Signals {
            instance: instance.to_owned(),
            ts: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_millis() as f64 / 1000.0),
            window_s: window,
            rps: t.requests as f64 / w,
            in_flight: self.in_flight.load(Relaxed).max(0) as u64,
            p50_ms: quantile(&t.latency, 0.50),
            p95_ms: quantile(&t.latency, 0.95),
            p99_ms: quantile(&t.latency, 0.99),
            cpu: self.cpu_over(now, window),
            error_rate: ratio(t.errors, t.judged),
            shed_rate: t.shed as f64 / w,
            cache_hit_ratio: ratio(t.cache_hits, t.cache_lookups),
            origin_p99_ms: quantile(&t.origin_latency, 0.99),
            origin_error_rate: ratio(t.origin_errors, t.origin),
            events_queue_depth: depth,
        }
    }
}

/// The `q` quantile of a bucketed histogram, in ms: interpolated inside its bucket.
fn quantile(buckets: &[u64], q: f64) -> f64 {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let rank = (q * total as f64).ceil().max(1.0);
    let mut seen = 0u64;
    for (i, &n) in buckets.iter().enumerate() {
        if n == 0 {
            continue;
        }
        if (seen + n) as f64 >= rank {
            let lo = if i == 0 { 0.0 } else { upper_bound_ms(i - 1) };
            let hi = upper_bound_ms(i);
            let within = (rank - seen as f64) / n as f64;
            return lo + (hi - lo) * within;
        }
        seen += n;
    }
    upper_bound_ms(BUCKETS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_ratios_over_complete_seconds() {
        let w = Windows::new();
        for sec in 100..110 {
            for i in 0..50 {
                w.record_request(sec, if i < 5 { 503 } else { 200 }, 0.001);
            }
        }
        // Second 110 is still running: not counted.
        w.record_request(110, 200, 0.001);
        let s = w.snapshot_at(110, "a", 10, 7);
        assert_eq!(s.rps, 50.0);
        assert!((s.error_rate - 0.1).abs() < 1e-9);
        assert_eq!(s.events_queue_depth, 7);
        // Over 60 s, the same requests spread thinner.
        assert!((w.snapshot_at(110, "a", 60, 0).rps - 500.0 / 60.0).abs() < 1e-9);
        // A minute later they have left both windows.
        assert_eq!(w.snapshot_at(175, "a", 60, 0).rps, 0.0);
    }

    #[test]
    fn client_errors_are_load_but_not_latency_or_errors() {
        let w = Windows::new();
        for _ in 0..90 {
            w.record_request(5, 200, 0.001);
        }
        // Ten slow-body clients answered 408 after 5 s, and a 503.
        for _ in 0..9 {
            w.record_request(5, 408, 5.0);
        }
        w.record_request(5, 503, 0.001);
        let s = w.snapshot_at(6, "a", 1, 0);
        assert_eq!(s.rps, 100.0);
        assert!(s.p99_ms < 2.0, "{}", s.p99_ms);
        assert!((s.error_rate - 1.0 / 91.0).abs() < 1e-9, "{}", s.error_rate);
    }

    #[test]
    fn quantiles_come_within_the_bucket_resolution() {
        let w = Windows::new();
        // 1..=1000 ms, one request each.
        for ms in 1..=1000 {
            w.record_request(5, 200, f64::from(ms) / 1000.0);
        }
        let s = w.snapshot_at(6, "a", 10, 0);
        for (got, want) in [(s.p50_ms, 500.0), (s.p95_ms, 950.0), (s.p99_ms, 990.0)] {
            assert!((got - want).abs() / want < 0.12, "{got} vs {want}");
        }
    }

    #[test]
    fn slots_are_reused_a_ring_later() {
        let w = Windows::new();
        w.record_request(3, 200, 0.001);
        w.record_request(3 + SLOTS as u64, 200, 0.001);
        let s = w.snapshot_at(4 + SLOTS as u64, "a", 1, 0);
        assert_eq!(s.rps, 1.0, "the old second's count was cleared");
    }

    #[test]
    fn what_many_threads_record_is_all_read_and_ages_out_per_ring() {
        let w = Windows::new();
        std::thread::scope(|scope| {
            for t in 0..8 {
                let w = &w;
                scope.spawn(move || {
                    for i in 0..500 {
                        let status = if t == 0 && i < 40 { 503 } else { 200 };
                        w.record_request(7, status, 0.001);
                        w.cache_lookup_at(7, i % 4 != 0);
                    }
                });
            }
        });
        let s = w.snapshot_at(8, "a", 1, 0);
        assert_eq!(s.rps, 4000.0);
        assert!((s.error_rate - 0.01).abs() < 1e-9, "{}", s.error_rate);
        assert!(
            (s.cache_hit_ratio - 0.75).abs() < 1e-9,
            "{}",
            s.cache_hit_ratio
        );
        assert!((s.p50_ms - 1.0).abs() < 0.12, "{}", s.p50_ms);
        // A ring later, one thread records again: the other rings' slots for that
        // position still hold second 7, which no longer counts.
        std::thread::scope(|scope| {
            scope.spawn(|| w.record_request(7 + SLOTS as u64, 200, 0.001));
        });
        let s = w.snapshot_at(8 + SLOTS as u64, "a", 1, 0);
        assert_eq!(s.rps, 1.0);
        assert_eq!(s.error_rate, 0.0);
    }

    #[test]
    fn cpu_is_a_share_of_the_cores() {
        let w = Windows::new();
        let cores = w.cores;
        {
            let mut v = w.cpu.lock().unwrap();
            // Half the cores busy for 10 s.
            v.extend([(0, 100.0), (10, 100.0 + 5.0 * cores)]);
        }
        assert!((w.cpu_over(10, 10) - 0.5).abs() < 1e-9);
    }
}
