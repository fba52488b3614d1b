//! Prometheus metrics (DESIGN.md §6): names, help texts, and handles registered once.
//!
//! Each [`Metrics`] owns its own recorder instead of installing a global one, so two
//! servers in one process (tests) keep separate counts, and no handle silently records
//! into a no-op recorder installed too late. Hot-path code records through handles held
//! in this struct: no name lookup, no label allocation per request.
//!
//! The families a cache hit writes (`synedge_http_requests_total`,
//! `synedge_http_request_duration_seconds`, `synedge_cache_requests_total`) are kept
//! apart, in per-thread stripes ([`Striped`]), so two cores answering hits write no
//! common cache line; [`Metrics::render`] sums the stripes and writes those families as
//! the exporter writes its own.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use metrics::{Counter, Gauge, Histogram, Key, Label, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::formatting::{write_help_line, write_type_line};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use super::striped::Striped;

/// Where the origin circuit breaker stands, as exported (`synedge_origin_breaker_state`:
/// the discriminant). Defined here, with the gauge it sets, so that signals imports
/// nothing from `origin`; `origin::guard` re-exports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed = 0,
    HalfOpen = 1,
    Open = 2,
}

/// Label values of `synedge_scaler_decisions_total{direction}`: the scaler policy's
/// `Direction::as_str`, listed here so that every series exists (at zero) from the
/// start and signals imports nothing from `scaler` (a scaler test keeps the lists equal).
pub const SCALER_DIRECTIONS: [&str; 3] = ["up", "down", "none"];
/// Label values of `synedge_scaler_decisions_total{reason}`: the policy's
/// `Reason::as_str`, in `Reason::ALL` order (see [`SCALER_DIRECTIONS`]).
pub const SCALER_REASONS: [&str; 14] = [
    "on_target",
    "target_rps",
    "target_cpu",
    "forecast",
    "latency_slo",
    "shedding",
    "schedule",
    "min_instances",
    "max_instances",
    "stabilizing",
    "held_for_latency",
    "rate_limited",
    "no_signals",
    "peak_memory",
];
const SCALER_DECISIONS_HELP: &str =
    "Scaler decisions, by direction and the rule that set the count.";

/// Request latency buckets, in seconds: fine below a millisecond, where cache hits live.
const LATENCY_BUCKETS: [f64; 16] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// `(name, help)` of the families a cache hit writes, kept in [`HitCounts`].
const HTTP_REQUESTS: (&str, &str) = (
    "synedge_http_requests_total",
    "HTTP requests answered on the public listener, by route and status code.",
);
const HTTP_DURATION: (&str, &str) = (
    "synedge_http_request_duration_seconds",
    "Time from request fully received (headers and body) to response headers ready, by route; client errors (4xx) are not timed.",
);
const CACHE_REQUESTS: (&str, &str) = (
    "synedge_cache_requests_total",
    "Fragment lookups by cache result: hit, miss, stale (served past ttl), negative (cached no-content).",
);

/// Routes of the public listener, as bounded label values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Fragment,
    Events,
    Loader,
    Demo,
    Healthz,
    Readyz,
    Other,
}

impl Route {
    pub const ALL: [Route; 7] = [
        Route::Fragment,
        Route::Events,
        Route::Loader,
        Route::Demo,
        Route::Healthz,
        Route::Readyz,
        Route::Other,
    ];

    pub fn from_path(path: &str) -> Self {
        match path {
            "/v1/fragment" => Self::Fragment,
            "/v1/events" => Self::Events,
            "/loader.js" => Self::Loader,
            // The page and what it loads: a fixed set of paths (unknown ones are 404s).
            p if p == "/demo" || p.starts_with("/demo/") => Self::Demo,
            "/healthz" => Self::Healthz,
            "/readyz" => Self::Readyz,
            _ => Self::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fragment => "fragment",
            Self::Events => "events",
            Self::Loader => "loader",
            Self::Demo => "demo",
            Self::Healthz => "healthz",
            Self::Readyz => "readyz",
            Self::Other => "other",
        }
    }
}

/// Status codes we label individually; anything else is `other`.
const STATUSES: [&str; 16] = [
    "200", "202", "204", "304", "400", "401", "404", "405", "408", "413", "414", "500", "502",
    "503", "504", "other",
];

fn status_index(code: u16) -> usize {
    match code {
        200 => 0,
        202 => 1,
        204 => 2,
        304 => 3,
        400 => 4,
        401 => 5,
        404 => 6,
        405 => 7,
        408 => 8,
        413 => 9,
        414 => 10,
        500 => 11,
        502 => 12,
        503 => 13,
        504 => 14,
        _ => 15,
    }
}

/// Whether `status` is the client's doing (4xx), which no server figure counts.
pub fn is_client_error(status: u16) -> bool {
    (400..500).contains(&status)
}

/// How a fragment request was answered by the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheResult {
    Hit,
    Miss,
    Stale,
    /// A cached "no content" answer.
    Negative,
}

impl CacheResult {
    pub const ALL: [CacheResult; 4] = [Self::Hit, Self::Miss, Self::Stale, Self::Negative];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Stale => "stale",
            Self::Negative => "negative",
        }
    }
}

/// How an origin lookup ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginResult {
    Found,
    NoContent,
    Error,
    Timeout,
}

impl OriginResult {
    pub const ALL: [OriginResult; 4] = [Self::Found, Self::NoContent, Self::Error, Self::Timeout];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Found => "found",
            Self::NoContent => "no_content",
            Self::Error => "error",
            Self::Timeout => "timeout",
        }
    }
}

/// Why a beacon body was refused, as bounded label values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventRejection {
    /// Not JSON, wrong shape, or an event that does not validate.
    Invalid,
    /// Over the body size limit.
    TooLarge,
    /// No room in the queue.
    QueueFull,
}

impl EventRejection {
    pub const ALL: [EventRejection; 3] = [Self::Invalid, Self::TooLarge, Self::QueueFull];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::TooLarge => "too_large",
            Self::QueueFull => "queue_full",
        }
    }
}

/// Handles for every metric this process records.
pub struct Metrics {
    handle: PrometheusHandle,
    /// `synedge_http_requests_total`, `synedge_http_request_duration_seconds` and
    /// `synedge_cache_requests_total`: written on every hit, so striped.
    hits: Striped<HitCounts>,
    pub http_in_flight: Gauge,
    pub cache_bytes: Gauge,
    pub cache_entries: Gauge,
    /// Products in the catalog, when the store can count them.
    pub catalog_products: Gauge,
    origin_requests: [Counter; 4],
    pub origin_duration: Histogram,
    pub purges: Counter,
    /// Entries a starting instance loaded from its peers' hot sets.
    pub cache_warmed: Counter,
    pub events_accepted: Counter,
    pub events_written: Counter,
    events_rejected: [Counter; 3],
    pub events_queue_depth: Gauge,
    pub events_flush_duration: Histogram,
    pub process: ProcessMetrics,
    /// The sliding windows the scaler reads; fed by the same calls as the counters.
    pub windows: super::window::Windows,
    /// `[route]`.
    shed_requests: Vec<Counter>,
    origin_breaker_state: Gauge,
    origin_breaker_opens: Counter,
    /// The adaptive concurrency limit of the public listener.
    pub concurrency_limit: Gauge,
    scaler_desired: Gauge,
    scaler_current: Gauge,
    /// `[direction][reason]`, in [`SCALER_DIRECTIONS`] and [`SCALER_REASONS`] order.
    scaler_decisions: [[Counter; SCALER_REASONS.len()]; SCALER_DIRECTIONS.len()],
    /// `[ok, error]`.
    scaler_actuations: [Counter; 2],
    /// `[ok, error]`: certificate reloads of the HTTPS listener.
    tls_reloads: [Counter; 2],
    /// `[window][field]`: the windows' values as gauges ([`SIGNAL_GAUGES`]).
    signal_gauges: [[Gauge; SIGNAL_GAUGES.len()]; SIGNAL_WINDOWS.len()],
    /// Kept to register a decision series whose labels are not in the lists above (a
    /// label added to the policy before it is added here), so no decision goes uncounted.
    reg: Reg,
}

/// Windows exported on `/metrics`, in seconds, with their label values.
pub const SIGNAL_WINDOWS: [(u64, &str); 2] = [(10, "10s"), (60, "60s")];
/// `(name, help)` of each exported signal, in [`Metrics::publish_signals`] order.
const SIGNAL_GAUGES: [(&str, &str); 9] = [
    (
        "synedge_signals_requests_per_second",
        "Requests answered per second over the window (probes excluded).",
    ),
    (
        "synedge_signals_latency_p50_seconds",
        "Median request latency over the window.",
    ),
    (
        "synedge_signals_latency_p95_seconds",
        "95th percentile request latency over the window.",
    ),
    (
        "synedge_signals_latency_p99_seconds",
        "99th percentile request latency over the window.",
    ),
    (
        "synedge_signals_cpu_ratio",
        "Process CPU use over the window, as a share of the cores it may use.",
    ),
    (
        "synedge_signals_error_ratio",
        "Share of answers that were 5xx over the window (client errors, 4xx, left out).",
    ),
    (
        "synedge_signals_shed_per_second",
        "Requests shed per second over the window.",
    ),
    (
        "synedge_signals_cache_hit_ratio",
        "Share of cache lookups answered from memory over the window.",
    ),
    (
        "synedge_signals_origin_error_ratio",
        "Share of origin lookups that failed over the window.",
    ),
];

/// The standard `process_*` metrics, refreshed by the upkeep task from /proc.
pub struct ProcessMetrics {
    pub cpu_seconds: Counter,
    pub resident_memory: Gauge,
    pub virtual_memory: Gauge,
    pub open_fds: Gauge,
    pub max_fds: Gauge,
    pub start_time: Gauge,
    pub threads: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

static META: Metadata<'static> = Metadata::new(module_path!(), metrics::Level::INFO, None);

struct Reg(PrometheusRecorder);

impl Reg {
    fn key(name: &'static str, labels: &[(&'static str, &'static str)]) -> Key {
        Key::from_parts(
            name,
            labels
                .iter()
                .map(|(k, v)| Label::from_static_parts(k, v))
                .collect::<Vec<_>>(),
        )
    }
    fn counter(
        &self,
        name: &'static str,
        unit: Option<Unit>,
        help: &'static str,
        labels: &[(&'static str, &'static str)],
    ) -> Counter {
        self.0
            .describe_counter(name.into(), unit, SharedString::const_str(help));
        self.0.register_counter(&Self::key(name, labels), &META)
    }
    fn gauge(
        &self,
        name: &'static str,
        unit: Option<Unit>,
        help: &'static str,
        labels: &[(&'static str, &'static str)],
    ) -> Gauge {
        self.0
            .describe_gauge(name.into(), unit, SharedString::const_str(help));
        self.0.register_gauge(&Self::key(name, labels), &META)
    }
    fn histogram(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &'static str)],
    ) -> Histogram {
        self.0.describe_histogram(
            name.into(),
            Some(Unit::Seconds),
            SharedString::const_str(help),
        );
        self.0.register_histogram(&Self::key(name, labels), &META)
    }
}

impl Metrics {
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&LATENCY_BUCKETS)
            .expect("invariant: bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        let r = Reg(recorder);
        let origin_requests = OriginResult::ALL.map(|res| {
            r.counter(
                "synedge_origin_requests_total",
                None,
                "Origin lookups by result: found, no_content, error, timeout.",
                &[("result", res.as_str())],
            )
        });
        let events_rejected = EventRejection::ALL.map(|reason| {
            r.counter(
                "synedge_events_rejected_total",
                None,
                "Beacon bodies refused, by reason: invalid, too_large, queue_full.",
                &[("reason", reason.as_str())],
            )
        });
        Self {
            events_accepted: r.counter(
                "synedge_events_accepted_total",
                None,
                "Events queued (answered 202).",
                &[],
            ),
            events_written: r.counter(
                "synedge_events_written_total",
                None,
                "Events written to the rollup table.",
                &[],
            ),
            events_queue_depth: r.gauge(
                "synedge_events_queue_depth",
                None,
                "Events queued and not yet written.",
                &[],
            ),
            events_flush_duration: r.histogram(
                "synedge_events_flush_duration_seconds",
                "Time one batch write took, failed attempts included.",
                &[],
            ),
            http_in_flight: r.gauge(
                "synedge_http_in_flight_requests",
                None,
                "Requests being answered on the public listener right now.",
                &[],
            ),
            cache_bytes: r.gauge(
                "synedge_cache_bytes",
                Some(Unit::Bytes),
                "Weighted size of the fragment cache (bodies in all encodings plus overhead).",
                &[],
            ),
            cache_entries: r.gauge(
                "synedge_cache_entries",
                None,
                "Entries in the fragment cache.",
                &[],
            ),
            catalog_products: r.gauge(
                "synedge_catalog_products",
                None,
                "Products in the catalog store (counted at start and after imports; absent for an HTTP origin).",
                &[],
            ),
            origin_duration: r.histogram(
                "synedge_origin_request_duration_seconds",
                "Time an origin lookup took, failures included.",
                &[],
            ),
            purges: r.counter(
                "synedge_cache_purges_total",
                None,
                "Purge requests applied (keys plus surrogate keys).",
                &[],
            ),
            cache_warmed: r.counter(
                "synedge_cache_warmed_entries_total",
                None,
                "Cache entries loaded from peers' hot sets while starting (warm-up).",
                &[],
            ),
            process: ProcessMetrics {
                cpu_seconds: r.counter(
                    "process_cpu_seconds_total",
                    Some(Unit::Seconds),
                    "Total user and system CPU time spent in seconds.",
                    &[],
                ),
                resident_memory: r.gauge(
                    "process_resident_memory_bytes",
                    Some(Unit::Bytes),
                    "Resident memory size in bytes.",
                    &[],
                ),
                virtual_memory: r.gauge(
                    "process_virtual_memory_bytes",
                    Some(Unit::Bytes),
                    "Virtual memory size in bytes.",
                    &[],
                ),
                open_fds: r.gauge(
                    "process_open_fds",
                    None,
                    "Number of open file descriptors.",
                    &[],
                ),
                max_fds: r.gauge(
                    "process_max_fds",
                    None,
                    "Maximum number of open file descriptors.",
                    &[],
                ),
                start_time: r.gauge(
                    "process_start_time_seconds",
                    Some(Unit::Seconds),
                    "Start time of the process since unix epoch in seconds.",
                    &[],
                ),
                threads: r.gauge(
                    "process_threads",
                    None,
                    "Number of OS threads in the process.",
                    &[],
                ),
            },
            hits: Striped::new(),
            origin_requests,
            events_rejected,
            shed_requests: Route::ALL
                .iter()
                .map(|route| {
                    r.counter(
                        "synedge_shed_requests_total",
                        None,
                        "Requests answered 503 at once because the instance was at its concurrency limit.",
                        &[("route", route.as_str())],
                    )
                })
                .collect(),
            origin_breaker_state: r.gauge(
                "synedge_origin_breaker_state",
                None,
                "The origin circuit breaker: 0 closed, 1 half-open (probing), 2 open (failing fast).",
                &[],
            ),
            origin_breaker_opens: r.counter(
                "synedge_origin_breaker_opens_total",
                None,
                "Times the origin circuit breaker opened.",
                &[],
            ),
            concurrency_limit: r.gauge(
                "synedge_concurrency_limit",
                None,
                "The adaptive limit on requests in flight on the public listener.",
                &[],
            ),
            scaler_desired: r.gauge(
                "synedge_scaler_desired_instances",
                None,
                "Instances the scaler's last decision asked for.",
                &[],
            ),
            scaler_current: r.gauge(
                "synedge_scaler_current_instances",
                None,
                "Instances the platform ran at the scaler's last decision.",
                &[],
            ),
            scaler_decisions: SCALER_DIRECTIONS.map(|direction| {
                SCALER_REASONS.map(|reason| {
                    r.counter(
                        "synedge_scaler_decisions_total",
                        None,
                        SCALER_DECISIONS_HELP,
                        &[("direction", direction), ("reason", reason)],
                    )
                })
            }),
            scaler_actuations: ["ok", "error"].map(|result| {
                r.counter(
                    "synedge_scaler_actuations_total",
                    None,
                    "Calls to the scaler's actuator, by result.",
                    &[("result", result)],
                )
            }),
            tls_reloads: ["ok", "error"].map(|result| {
                r.counter(
                    "synedge_tls_reloads_total",
                    None,
                    "Certificate reloads of the HTTPS listener, by result (an error keeps the previous certificate).",
                    &[("result", result)],
                )
            }),
            windows: super::window::Windows::new(),
            signal_gauges: SIGNAL_WINDOWS.map(|(_, label)| {
                SIGNAL_GAUGES.map(|(name, help)| r.gauge(name, None, help, &[("window", label)]))
            }),
            handle,
            reg: r,
        }
    }

    /// A request arrived on the public listener.
    pub fn request_started(&self) {
        self.http_in_flight.increment(1.0);
        self.windows.request_started();
    }

    /// Records one answered request (after [`Self::request_started`]), `seconds` from its
    /// request fully received to its response ready. A client error (4xx: a bad
    /// parameter, a body too large or too slow) is counted with its status but not timed:
    /// it measures the client, not the server, and must not move latency SLOs or the
    /// scaler.
    pub fn http_request(&self, route: Route, status: u16, seconds: f64) {
        self.http_answered(route, status, seconds);
        self.http_in_flight.decrement(1.0);
        // Probes are the platform's, not load.
        let load = !matches!(route, Route::Healthz | Route::Readyz);
        self.windows.request_finished(status, seconds, load);
    }

    /// A request answered the moment it arrived, with nothing to wait for (a cache hit
    /// before the router): as [`Self::request_started`] then [`Self::http_request`],
    /// less the in-flight gauges' increment and decrement back to back, two contended
    /// writes per hit that no reader could tell from none.
    pub fn http_answered_at_once(&self, route: Route, status: u16, seconds: f64) {
        self.http_answered(route, status, seconds);
        self.windows.request_answered_at_once(status, seconds);
    }

    /// The Prometheus side of an answer: counted with its status, timed unless a client
    /// error.
    fn http_answered(&self, route: Route, status: u16, seconds: f64) {
        let r = route as usize;
        let hits = self.hits.local();
        hits.http_requests[r][status_index(status)].fetch_add(1, Relaxed);
        if !is_client_error(status) {
            hits.http_duration[r].record(seconds);
        }
    }

    /// A request answered before it was started: a client error found while its body
    /// was read (408, 413). Counted with its status; nothing else.
    pub fn http_refused(&self, route: Route, status: u16) {
        self.hits.local().http_requests[route as usize][status_index(status)].fetch_add(1, Relaxed);
    }

    pub fn cache_request(&self, result: CacheResult) {
        self.hits.local().cache_requests[result as usize].fetch_add(1, Relaxed);
        self.windows.cache_lookup(result != CacheResult::Miss);
    }

    pub fn origin_request(&self, result: OriginResult, seconds: f64) {
        self.origin_requests[result as usize].increment(1);
        self.origin_duration.record(seconds);
        let ok = matches!(result, OriginResult::Found | OriginResult::NoContent);
        self.windows.origin_request(ok, seconds);
    }

    /// The origin breaker moved to `state`.
    pub fn origin_breaker(&self, state: BreakerState) {
        self.origin_breaker_state.set(f64::from(state as u8));
        if state == BreakerState::Open {
            self.origin_breaker_opens.increment(1);
        }
    }

    /// A request (after [`Self::request_started`]) answered 503 to protect the
    /// instance: counted as answered (with its status, as the client saw it) and as
    /// shed, but not timed and not in the windows' latency, which would read the
    /// microseconds a refusal takes as fast service.
    pub fn shed(&self, route: Route) {
        let r = route as usize;
        self.shed_requests[r].increment(1);
        self.hits.local().http_requests[r][status_index(503)].fetch_add(1, Relaxed);
        self.http_in_flight.decrement(1.0);
        self.windows.shed();
    }

    /// Records one scaler decision; `direction` and `reason` are the policy's label
    /// values (`Direction::as_str`, `Reason::as_str`).
    pub fn scaler_decision(
        &self,
        direction: &'static str,
        reason: &'static str,
        desired: u32,
        current: u32,
    ) {
        let d = SCALER_DIRECTIONS.iter().position(|l| *l == direction);
        let r = SCALER_REASONS.iter().position(|l| *l == reason);
        match (d, r) {
            (Some(d), Some(r)) => self.scaler_decisions[d][r].increment(1),
            // Once per scaler interval at most, so registering on the spot costs nothing.
            _ => self
                .reg
                .counter(
                    "synedge_scaler_decisions_total",
                    None,
                    SCALER_DECISIONS_HELP,
                    &[("direction", direction), ("reason", reason)],
                )
                .increment(1),
        }
        self.scaler_desired.set(f64::from(desired));
        self.scaler_current.set(f64::from(current));
    }

    pub fn scaler_actuation(&self, ok: bool) {
        self.scaler_actuations[usize::from(!ok)].increment(1);
    }

    pub fn tls_reload(&self, ok: bool) {
        self.tls_reloads[usize::from(!ok)].increment(1);
    }

    /// Samples CPU into the windows and sets the `synedge_signals_*` gauges; once a second.
    pub fn publish_signals(&self, events_queue_depth: u64) {
        self.windows.sample_cpu(self.process.cpu_seconds_now());
        for ((window, _), gauges) in SIGNAL_WINDOWS.iter().zip(&self.signal_gauges) {
            let s = self.windows.snapshot("", *window, events_queue_depth);
            let values = [
                s.rps,
                s.p50_ms / 1000.0,
                s.p95_ms / 1000.0,
                s.p99_ms / 1000.0,
                s.cpu,
                s.error_rate,
                s.shed_rate,
                s.cache_hit_ratio,
                s.origin_error_rate,
            ];
            for (g, v) in gauges.iter().zip(values) {
                g.set(v);
            }
        }
    }

    pub fn event_rejected(&self, reason: EventRejection) {
        self.events_rejected[reason as usize].increment(1);
    }

    /// The Prometheus text exposition: the exporter's families, with the striped ones
    /// summed and written as the exporter would (counters first, histograms last, as
    /// it orders its own).
    pub fn render(&self) -> String {
        let hits = HitTotals::sum(&self.hits);
        let mut out = String::with_capacity(64 * 1024);
        hits.write_counters(&mut out);
        out.push_str(&self.handle.render());
        hits.write_histograms(&mut out);
        out
    }

    /// Folds recorded histogram samples into buckets; call periodically so memory stays
    /// bounded when nobody scrapes.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// One route's latency in one stripe, in [`LATENCY_BUCKETS`]: fixed memory, whatever
/// the traffic.
#[derive(Default)]
struct Timing {
    /// `[i]`: samples at most `LATENCY_BUCKETS[i]` and over the bound before it (not
    /// cumulative: one add per sample); samples over the last bound are only counted.
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    /// The samples' sum, as `f64` bits.
    sum: AtomicU64,
}

impl Timing {
    fn record(&self, seconds: f64) {
        if let Some(i) = LATENCY_BUCKETS.iter().position(|&b| seconds <= b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        // Only threads that share this stripe race here: the loop runs once, nearly always.
        let _ = self.sum.fetch_update(Relaxed, Relaxed, |bits| {
            Some((f64::from_bits(bits) + seconds).to_bits())
        });
    }
}

/// The families a cache hit writes, one copy per stripe ([`Metrics::hits`]).
#[derive(Default)]
struct HitCounts {
    /// `[route][status]`: `synedge_http_requests_total`.
    http_requests: [[AtomicU64; STATUSES.len()]; Route::ALL.len()],
    /// `[route]`: `synedge_http_request_duration_seconds`.
    http_duration: [Timing; Route::ALL.len()],
    /// `[result]`: `synedge_cache_requests_total`.
    cache_requests: [AtomicU64; CacheResult::ALL.len()],
}

/// One route's latency summed over the stripes.
#[derive(Default, Clone, Copy)]
struct TimingTotal {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// [`HitCounts`] summed over the stripes, for one render.
#[derive(Default)]
struct HitTotals {
    http_requests: [[u64; STATUSES.len()]; Route::ALL.len()],
    http_duration: [TimingTotal; Route::ALL.len()],
    cache_requests: [u64; CacheResult::ALL.len()],
}

impl HitTotals {
    fn sum(stripes: &Striped<HitCounts>) -> Self {
        let mut t = Self::default();
        for s in stripes.iter() {
            for (tr, sr) in t.http_requests.iter_mut().zip(&s.http_requests) {
                for (a, b) in tr.iter_mut().zip(sr) {
                    *a += b.load(Relaxed);
                }
            }
            for (td, sd) in t.http_duration.iter_mut().zip(&s.http_duration) {
                for (a, b) in td.buckets.iter_mut().zip(&sd.buckets) {
                    *a += b.load(Relaxed);
                }
                td.count += sd.count.load(Relaxed);
                td.sum += f64::from_bits(sd.sum.load(Relaxed));
            }
            for (a, b) in t.cache_requests.iter_mut().zip(&s.cache_requests) {
                *a += b.load(Relaxed);
            }
        }
        t
    }

    /// `synedge_http_requests_total` and `synedge_cache_requests_total`, as the exporter
    /// writes a counter family: help, type, one line a series, a blank line.
    fn write_counters(&self, out: &mut String) {
        let (name, help) = HTTP_REQUESTS;
        family_head(out, name, help, "counter");
        for (route, by_status) in Route::ALL.iter().zip(&self.http_requests) {
            for (status, n) in STATUSES.iter().zip(by_status) {
                let _ = writeln!(
                    out,
                    "{name}{{route=\"{}\",status=\"{status}\"}} {n}",
                    route.as_str()
                );
            }
        }
        out.push('\n');
        let (name, help) = CACHE_REQUESTS;
        family_head(out, name, help, "counter");
        for (result, n) in CacheResult::ALL.iter().zip(&self.cache_requests) {
            let _ = writeln!(out, "{name}{{result=\"{}\"}} {n}", result.as_str());
        }
        out.push('\n');
    }

    /// `synedge_http_request_duration_seconds`, as the exporter writes a histogram:
    /// cumulative buckets, `+Inf`, `_sum`, `_count`.
    fn write_histograms(&self, out: &mut String) {
        let (name, help) = HTTP_DURATION;
        family_head(out, name, help, "histogram");
        for (route, t) in Route::ALL.iter().zip(&self.http_duration) {
            let route = route.as_str();
            let mut cumulative = 0;
            for (le, n) in LATENCY_BUCKETS.iter().zip(&t.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "{name}_bucket{{route=\"{route}\",le=\"{le}\"}} {cumulative}"
                );
            }
            // A render racing a record may read its bucket and not yet its count:
            // `+Inf` and `_count` never fall below the buckets.
            let count = t.count.max(cumulative);
            let _ = writeln!(
                out,
                "{name}_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(out, "{name}_sum{{route=\"{route}\"}} {}", t.sum);
            let _ = writeln!(out, "{name}_count{{route=\"{route}\"}} {count}");
        }
        out.push('\n');
    }
}

/// The `# HELP` and `# TYPE` lines of a family, by the exporter's own functions.
fn family_head(out: &mut String, name: &str, help: &str, kind: &str) {
    write_help_line(out, name, None, None, help);
    write_type_line(out, name, None, None, kind);
}

/// Linux reports times in USER_HZ, 100 on every mainstream architecture.
const TICKS_PER_SECOND: f64 = 100.0;

impl ProcessMetrics {
    /// User plus system CPU seconds of this process so far (0 where /proc is missing).
    pub fn cpu_seconds_now(&self) -> f64 {
        let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
            return 0.0;
        };
        let f: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, r)| r)
            .split_whitespace()
            .collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (num(11) + num(12)) / TICKS_PER_SECOND
    }

    /// Refreshes the values from /proc/self (Linux); silently keeps old values elsewhere.
    pub fn refresh(&self) {
        let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
            return;
        };
        // Fields after the command name, which is in parentheses and may hold spaces.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            return;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        // RSS is in pages (4 KiB on x86-64 and aarch64); reading it needs no libc call.
        const TICKS: f64 = TICKS_PER_SECOND;
        const PAGE: f64 = 4096.0;
        // Indices are relative to field 3 (state) of proc(5).
        self.cpu_seconds
            .absolute(((num(11) + num(12)) / TICKS) as u64);
        self.threads.set(num(17));
        self.virtual_memory.set(num(20));
        self.resident_memory.set(num(21) * PAGE);
        // No let chains: they need Rust 1.88, and the README promises 1.85.
        let btime = std::fs::read_to_string("/proc/stat").ok().and_then(|boot| {
            boot.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<f64>().ok())
        });
        if let Some(btime) = btime {
            self.start_time.set(btime + num(19) / TICKS);
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            self.open_fds.set(dir.count() as f64);
        }
        let max = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|limits| {
                limits
                    .lines()
                    .find(|l| l.starts_with("Max open files"))
                    .and_then(|l| l.split_whitespace().nth(3))
                    .and_then(|v| v.parse::<f64>().ok())
            });
        if let Some(max) = max {
            self.max_fds.set(max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_values_are_exported_with_help() {
        let m = Metrics::new();
        m.http_request(Route::Fragment, 200, 0.0002);
        m.http_request(Route::Fragment, 599, 0.0002);
        m.cache_request(CacheResult::Stale);
        m.process.refresh();
        let text = m.render();
        assert!(
            text.contains("synedge_http_requests_total{route=\"fragment\",status=\"200\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("synedge_http_requests_total{route=\"fragment\",status=\"other\"} 1")
        );
        assert!(text.contains("synedge_cache_requests_total{result=\"stale\"} 1"));
        assert!(text.contains("# HELP synedge_http_request_duration_seconds"));
        assert!(text.contains(
            "synedge_http_request_duration_seconds_bucket{route=\"fragment\",le=\"0.00025\"} 2"
        ));
        assert!(text.contains("process_resident_memory_bytes"));
        assert!(
            !text.contains("process_resident_memory_bytes 0\n"),
            "{text}"
        );
    }

    /// `text`'s families by name: their `# HELP`/`# TYPE` lines, and their series
    /// lines sorted (the exporter orders neither families nor series).
    fn families(text: &str) -> std::collections::HashMap<String, (Vec<String>, Vec<String>)> {
        text.split("\n\n")
            .filter(|block| !block.trim().is_empty())
            .map(|block| {
                let (mut head, mut series): (Vec<String>, Vec<String>) = block
                    .lines()
                    .map(str::to_owned)
                    .partition(|l| l.starts_with('#'));
                head.sort();
                series.sort();
                let name = head
                    .iter()
                    .find_map(|l| l.strip_prefix("# TYPE "))
                    .and_then(|l| l.split(' ').next())
                    .expect("a TYPE line")
                    .to_owned();
                (name, (head, series))
            })
            .collect()
    }

    /// What each thread of [`striped_families_render_as_the_exporter_would`] records, and
    /// the same through a plain exporter recorder (the storage they had before).
    fn record_answers(m: &Metrics) {
        m.http_answered_at_once(Route::Fragment, 200, 0.000_244_140_625);
        m.http_request(Route::Fragment, 200, 0.5);
        m.http_request(Route::Fragment, 404, 0.25);
        m.http_request(Route::Events, 202, 0.007_812_5);
        m.http_request(Route::Other, 599, 32.0);
        m.http_refused(Route::Loader, 413);
        m.shed(Route::Demo);
        m.cache_request(CacheResult::Hit);
        m.cache_request(CacheResult::Miss);
    }

    #[test]
    fn striped_families_render_as_the_exporter_would() {
        let m = Metrics::new();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| record_answers(&m));
            }
        });
        let recorder = PrometheusBuilder::new()
            .set_buckets(&LATENCY_BUCKETS)
            .unwrap()
            .build_recorder();
        let handle = recorder.handle();
        let r = Reg(recorder);
        let requests = |route: Route, status: &'static str| {
            r.counter(
                HTTP_REQUESTS.0,
                None,
                HTTP_REQUESTS.1,
                &[("route", route.as_str()), ("status", status)],
            )
        };
        let duration = |route: Route| {
            r.histogram(
                HTTP_DURATION.0,
                HTTP_DURATION.1,
                &[("route", route.as_str())],
            )
        };
        let cache = |res: CacheResult| {
            r.counter(
                CACHE_REQUESTS.0,
                None,
                CACHE_REQUESTS.1,
                &[("result", res.as_str())],
            )
        };
        // Every series exists from the start, at zero, as in `Metrics::new`.
        for route in Route::ALL {
            for status in STATUSES {
                drop(requests(route, status));
            }
            drop(duration(route));
        }
        for res in CacheResult::ALL {
            drop(cache(res));
        }
        for _ in 0..4 {
            requests(Route::Fragment, "200").increment(2);
            duration(Route::Fragment).record(0.000_244_140_625);
            duration(Route::Fragment).record(0.5);
            requests(Route::Fragment, "404").increment(1);
            requests(Route::Events, "202").increment(1);
            duration(Route::Events).record(0.007_812_5);
            requests(Route::Other, "other").increment(1);
            duration(Route::Other).record(32.0);
            requests(Route::Loader, "413").increment(1);
            requests(Route::Demo, "503").increment(1);
            cache(CacheResult::Hit).increment(1);
            cache(CacheResult::Miss).increment(1);
        }
        let (got, want) = (families(&m.render()), families(&handle.render()));
        for name in [HTTP_REQUESTS.0, HTTP_DURATION.0, CACHE_REQUESTS.0] {
            assert_eq!(got.get(name), want.get(name), "{name}");
        }
        assert!(
            want[HTTP_DURATION.0].1.contains(
                &"synedge_http_request_duration_seconds_sum{route=\"fragment\"} 2.0009765625"
                    .to_owned()
            ),
            "{:?}",
            want[HTTP_DURATION.0]
        );
        // Every family the exporter wrote is still there, once.
        let text = m.render();
        assert_eq!(text.matches("# TYPE ").count(), families(&text).len());
    }

    #[test]
    fn scaler_decisions_exist_from_the_start_and_unknown_labels_still_count() {
        let m = Metrics::new();
        let text = m.render();
        assert!(
            text.contains(
                "synedge_scaler_decisions_total{direction=\"none\",reason=\"no_signals\"} 0"
            ),
            "{text}"
        );
        m.scaler_decision("up", "target_rps", 3, 2);
        m.scaler_decision("up", "a_new_rule", 4, 3);
        let text = m.render();
        assert!(
            text.contains(
                "synedge_scaler_decisions_total{direction=\"up\",reason=\"target_rps\"} 1"
            )
        );
        assert!(
            text.contains(
                "synedge_scaler_decisions_total{direction=\"up\",reason=\"a_new_rule\"} 1"
            )
        );
        assert!(text.contains("synedge_scaler_desired_instances 4"));
    }
}
