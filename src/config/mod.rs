//! Configuration (DESIGN.md §8): one struct per subsystem, defaults as `DEFAULT_*`
//! consts, layered as built-in defaults ← TOML file ← `SYNEDGE_<SECTION>__<KEY>`
//! environment variables ← `--set section.key=value` flags.
//!
//! Here: the sections with their defaults. `layers`: reading the file, variables and
//! flags into one table, and each section from it key by key. `validate`: what values
//! must satisfy beyond their types. `values`: secrets, byte sizes, durations.
//!
//! Invariants: [`load`] either returns a config that passed [`Config::validate`], or every
//! problem found at once (each key is read on its own, so one bad key does not hide the
//! others, and each is named). Nothing here binds a socket or opens a file other than the
//! config. The environment is passed in (an iterator of pairs), never read here, so tests
//! are hermetic.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::store_url::{Scheme, StoreUrl};

mod layers;
mod validate;
mod values;

pub use layers::{Sources, load, process_env};
pub(crate) use values::humantime_serde;
pub use values::{ByteSize, Secret};

pub const DEFAULT_CONFIG_PATH: &str = "config/default.toml";
pub const ENV_PREFIX: &str = "SYNEDGE_";

pub const DEFAULT_LISTEN: &str = "0.0.0.0:8080";
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_MAX_CONNECTIONS: usize = 16_384;
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9901";
pub const DEFAULT_ORIGIN_URL: &str = "sqlite://data/synedge.db";
pub const DEFAULT_ORIGIN_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_CACHE_MAX_BYTES: u64 = 512 * 1024 * 1024;
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);
pub const DEFAULT_STALE_WHILE_REVALIDATE: Duration = Duration::from_secs(60);
pub const DEFAULT_STALE_IF_ERROR: Duration = Duration::from_secs(86_400);
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(60);
pub const DEFAULT_WARM_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_EVENTS_QUEUE_CAPACITY: usize = 100_000;
pub const DEFAULT_EVENTS_BATCH_SIZE: usize = 5_000;
pub const DEFAULT_EVENTS_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
pub const DEFAULT_SCALER_INTERVAL: Duration = Duration::from_secs(10);
pub const DEFAULT_MIN_INSTANCES: u32 = 2;
pub const DEFAULT_MAX_INSTANCES: u32 = 50;
pub const DEFAULT_TARGET_RPS_PER_INSTANCE: f64 = 5_000.0;
pub const DEFAULT_TARGET_CPU: f64 = 0.6;
pub const DEFAULT_LATENCY_SLO: Duration = Duration::from_millis(100);
pub const DEFAULT_FORECAST_LEAD: Duration = Duration::from_secs(60);
pub const DEFAULT_SCALE_UP_MAX_PERCENT: u32 = 100;
pub const DEFAULT_SCALE_UP_MAX_INSTANCES: u32 = 4;
pub const DEFAULT_SCALE_DOWN_STABILIZATION: Duration = Duration::from_secs(300);
pub const DEFAULT_SCALE_DOWN_MAX_PERCENT_PER_MINUTE: u32 = 10;
pub const DEFAULT_ACTUATOR_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_KUBERNETES_API_URL: &str = "https://kubernetes.default.svc";
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(25);
pub const DEFAULT_PRE_STOP_DELAY: Duration = Duration::from_secs(0);

// Upper bounds. Each value must fit what the runtime can hold: past these a key is a
// configuration error (exit 78 naming it), never a panic or an allocation failure later.

/// Timeouts and waits (`server.*_timeout`, `origin.timeout`, `scaler.actuator.timeout`,
/// `scaler.latency_slo`, `shutdown.grace`, `shutdown.pre_stop_delay`): an hour. A longer
/// wait is a hang, not a timeout; and some consumers overflow far sooner than `Duration`
/// does (SQLite's busy timeout is milliseconds in a C `int`: at most 24.8 days).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// Periods and windows (`events.flush_interval`, `scaler.interval`, `scaler.forecast_lead`,
/// `scaler.scale_down.stabilization`): an hour, as Kubernetes' HPA caps its stabilization
/// window. Events wait at most this long; the scaler reacts within it.
pub const MAX_PERIOD: Duration = Duration::from_secs(3600);
/// Cache lifetimes (`cache.ttl`, `cache.negative_ttl`, `cache.stale_while_revalidate`,
/// `cache.stale_if_error`): 365 days. Well inside `Cache-Control`'s 2^31 seconds, and an
/// entry's whole life (ttl plus the longer stale window) stays within two years.
pub const MAX_CACHE_LIFETIME: Duration = Duration::from_secs(365 * 86_400);
/// `cache.max_bytes`: 1 TiB, more memory than one instance of this server gets.
pub const MAX_CACHE_MAX_BYTES: u64 = 1 << 40;
/// `server.max_connections`: 2^20, Linux's default ceiling on a process's file
/// descriptors (`fs.nr_open`); one is a connection slot in a tokio `Semaphore`.
pub const MAX_MAX_CONNECTIONS: usize = 1 << 20;
/// `events.queue_capacity`: ten million events held in memory (a few GiB at most);
/// also one `Semaphore` permit each.
pub const MAX_EVENTS_QUEUE_CAPACITY: usize = 10_000_000;
/// `events.batch_size`: a million events per transaction; the writer allocates a batch
/// of this many up front.
pub const MAX_EVENTS_BATCH_SIZE: usize = 1_000_000;
/// `scaler.max_instances`: ten thousand. The local source builds one report per
/// instance every round, and Kubernetes counts replicas in an `i32`.
pub const MAX_SCALER_INSTANCES: u32 = 10_000;

// Permits past `Semaphore::MAX_PERMITS` panic in tokio; these bounds stay under it.
const _: () = assert!(MAX_MAX_CONNECTIONS <= tokio::sync::Semaphore::MAX_PERMITS);
const _: () = assert!(MAX_EVENTS_QUEUE_CAPACITY <= tokio::sync::Semaphore::MAX_PERMITS);
const _: () = assert!(MAX_EVENTS_BATCH_SIZE <= MAX_EVENTS_QUEUE_CAPACITY);

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Config {
    pub server: ServerConfig,
    pub admin: AdminConfig,
    pub origin: OriginConfig,
    pub cache: CacheConfig,
    pub tls: TlsConfig,
    pub events: EventsConfig,
    pub scaler: ScalerConfig,
    pub shutdown: ShutdownConfig,
}

/// The public listener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Where retailer pages reach us.
    pub listen: SocketAddr,
    /// Upper bound on one request, origin fetch included; beyond it the client gets 504.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// How long a client may take to send its request headers (slowloris guard).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// How long an idle keep-alive connection (HTTP/1.1 between requests, or HTTP/2 with
    /// no open stream) is kept before it is closed: idle sockets cost a file descriptor
    /// and a `max_connections` slot that a new client could use.
    #[serde(with = "humantime_serde")]
    pub keep_alive_timeout: Duration,
    /// The longest wait between two reads of a request body; past it the client gets 408.
    /// Bounds a body that stalls mid-way (slow POST), which `header_read_timeout` does
    /// not cover once the headers are in.
    #[serde(with = "humantime_serde")]
    pub body_read_timeout: Duration,
    /// Open connections beyond this wait in the kernel's accept queue.
    pub max_connections: usize,
    /// One line per request on stdout, for operators: `off` (the default) or `json`.
    pub access_log: AccessLogFormat,
}

/// `server.access_log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AccessLogFormat {
    #[default]
    Off,
    /// JSON lines: time, client, method, target, status, bytes, duration, cache.
    Json,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN
                .parse()
                .expect("invariant: default listen address parses"),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            keep_alive_timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            access_log: AccessLogFormat::Off,
        }
    }
}

/// The admin listener: metrics, purge, and (later) scaler and events control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Loopback by default: admin calls can purge the cache.
    pub listen: SocketAddr,
    /// Bearer token for mutating admin calls; required on a non-loopback address.
    pub token: Option<Secret>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_ADMIN_LISTEN
                .parse()
                .expect("invariant: default admin address parses"),
            token: None,
        }
    }
}

/// Where content comes from on a miss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OriginConfig {
    /// `sqlite://PATH` (embedded default).
    pub url: String,
    /// Bound on one origin lookup; beyond it the lookup counts as failed (stale-if-error).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for OriginConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_ORIGIN_URL.to_owned(),
            timeout: DEFAULT_ORIGIN_TIMEOUT,
        }
    }
}

/// The in-memory fragment cache (DESIGN.md §4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Memory bound, counted in body bytes (all encodings) plus per-entry overhead.
    pub max_bytes: ByteSize,
    /// How long an entry is fresh; also the `max-age` clients and CDNs see.
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// After `ttl`, how long a stale entry is served while one background refresh runs.
    #[serde(with = "humantime_serde")]
    pub stale_while_revalidate: Duration,
    /// After `ttl`, how long a stale entry is served when the origin fails.
    #[serde(with = "humantime_serde")]
    pub stale_if_error: Duration,
    /// How long a "no content" answer is fresh (shorter: new content should show soon).
    #[serde(with = "humantime_serde")]
    pub negative_ttl: Duration,
    /// Peers' admin listeners (URLs or `dns://NAME:PORT`) whose hot sets a starting
    /// instance loads before it reports ready, so a scale-out does not start with a herd
    /// of misses on the origin. Unset: `scaler.peers`; an empty list: no warm-up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warm_from: Option<Vec<String>>,
    /// The longest a warm-up may hold readiness back; zero: no warm-up.
    #[serde(with = "humantime_serde")]
    pub warm_timeout: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_bytes: ByteSize(DEFAULT_CACHE_MAX_BYTES),
            ttl: DEFAULT_CACHE_TTL,
            stale_while_revalidate: DEFAULT_STALE_WHILE_REVALIDATE,
            stale_if_error: DEFAULT_STALE_IF_ERROR,
            negative_ttl: DEFAULT_NEGATIVE_TTL,
            warm_from: None,
            warm_timeout: DEFAULT_WARM_TIMEOUT,
        }
    }
}

/// HTTPS on the public listener when both are set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// The beacon write path (DESIGN.md §7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// Events held in memory before clients get 503 + Retry-After.
    pub queue_capacity: usize,
    /// A batch is written when it reaches this many events…
    pub batch_size: usize,
    /// …or when this much time has passed, whichever comes first.
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
    /// Where rollups are written: empty for the origin store; `sqlite://PATH` or
    /// `postgres://…` (required when the origin is an HTTP upstream, which keeps none).
    pub store: String,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            queue_capacity: DEFAULT_EVENTS_QUEUE_CAPACITY,
            batch_size: DEFAULT_EVENTS_BATCH_SIZE,
            flush_interval: DEFAULT_EVENTS_FLUSH_INTERVAL,
            store: String::new(),
        }
    }
}

/// The built-in scaler (DESIGN.md §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScalerConfig {
    /// Run the scaler loop inside `serve` (`synedge scaler` runs it regardless).
    pub enabled: bool,
    /// How often signals are collected and a decision is made.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    pub min_instances: u32,
    pub max_instances: u32,
    /// Requests per second one instance should carry (target tracking).
    pub target_rps_per_instance: f64,
    /// Process CPU utilization one instance should run at, 0..1 of its cores.
    pub target_cpu: f64,
    /// p99 above this, or any shedding, scales out whatever the rps says.
    #[serde(with = "humantime_serde")]
    pub latency_slo: Duration,
    /// How long a new instance takes to serve: the forecast looks this far ahead.
    #[serde(with = "humantime_serde")]
    pub forecast_lead: Duration,
    /// Admin URLs of the fleet (`http://10.0.0.7:9901`), or `dns://NAME:PORT` resolved each
    /// interval to every address; empty: this instance only.
    pub peers: Vec<String>,
    pub scale_up: ScaleUpConfig,
    pub scale_down: ScaleDownConfig,
    /// Known peaks: at least `min_instances` between `start` and `end`.
    pub schedule: Vec<ScheduleEntry>,
    pub actuator: ActuatorConfig,
}

impl Default for ScalerConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            interval: DEFAULT_SCALER_INTERVAL,
            min_instances: DEFAULT_MIN_INSTANCES,
            max_instances: DEFAULT_MAX_INSTANCES,
            target_rps_per_instance: DEFAULT_TARGET_RPS_PER_INSTANCE,
            target_cpu: DEFAULT_TARGET_CPU,
            latency_slo: DEFAULT_LATENCY_SLO,
            forecast_lead: DEFAULT_FORECAST_LEAD,
            peers: Vec::new(),
            scale_up: ScaleUpConfig::default(),
            scale_down: ScaleDownConfig::default(),
            schedule: Vec::new(),
            actuator: ActuatorConfig::default(),
        }
    }
}

/// How fast capacity may be added: one step per interval of up to
/// max(current × `max_percent`/100, `max_instances`) instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScaleUpConfig {
    pub max_percent: u32,
    pub max_instances: u32,
}

impl Default for ScaleUpConfig {
    fn default() -> Self {
        Self {
            max_percent: DEFAULT_SCALE_UP_MAX_PERCENT,
            max_instances: DEFAULT_SCALE_UP_MAX_INSTANCES,
        }
    }
}

/// How carefully capacity is removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScaleDownConfig {
    /// A scale-in happens only after every decision this long has recommended it.
    #[serde(with = "humantime_serde")]
    pub stabilization: Duration,
    /// At most this share of the instances removed per minute (at least one).
    pub max_percent_per_minute: u32,
}

impl Default for ScaleDownConfig {
    fn default() -> Self {
        Self {
            stabilization: DEFAULT_SCALE_DOWN_STABILIZATION,
            max_percent_per_minute: DEFAULT_SCALE_DOWN_MAX_PERCENT_PER_MINUTE,
        }
    }
}

/// A scheduled floor: RFC 3339 times (`2026-11-27T06:00:00Z`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleEntry {
    pub start: String,
    pub end: String,
    pub min_instances: u32,
}

impl ScheduleEntry {
    /// `start..end` as times; `None` when either does not parse (validation reports it).
    pub fn window(&self) -> Option<(std::time::SystemTime, std::time::SystemTime)> {
        let t = |s: &str| humantime::parse_rfc3339_weak(s).ok();
        Some((t(&self.start)?, t(&self.end)?))
    }
}

/// What the scaler asks to change the instance count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ActuatorKind {
    /// Dry run: log the decision.
    #[default]
    Log,
    Webhook,
    Command,
    Kubernetes,
}

/// `[scaler.actuator]`: which actuator, and its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActuatorConfig {
    pub kind: ActuatorKind,
    /// Bound on one actuation (HTTP call or command run).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// webhook: where to POST `{desired, current, reason, signals}`.
    pub url: Option<String>,
    /// webhook: sent as `Authorization: Bearer …` when set.
    pub token: Option<Secret>,
    /// command: argv, `{desired}` (and `{current}`) substituted; run without a shell.
    pub command: Vec<String>,
    /// kubernetes: the API server (in-cluster default).
    pub api_url: String,
    /// kubernetes: the namespace; default: the pod's own (from the service account).
    pub namespace: Option<String>,
    /// kubernetes: the Deployment to scale.
    pub deployment: Option<String>,
    /// kubernetes: bearer token file (the pod's service account by default).
    pub token_file: PathBuf,
    /// kubernetes: CA bundle for the API server's certificate.
    pub ca_file: PathBuf,
}

impl Default for ActuatorConfig {
    fn default() -> Self {
        Self {
            kind: ActuatorKind::Log,
            timeout: DEFAULT_ACTUATOR_TIMEOUT,
            url: None,
            token: None,
            command: Vec::new(),
            api_url: DEFAULT_KUBERNETES_API_URL.to_owned(),
            namespace: None,
            deployment: None,
            token_file: Path::new(SERVICE_ACCOUNT_DIR).join("token"),
            ca_file: Path::new(SERVICE_ACCOUNT_DIR).join("ca.crt"),
        }
    }
}

/// Graceful drain on SIGTERM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShutdownConfig {
    /// How long in-flight requests get to finish once we stop accepting.
    #[serde(with = "humantime_serde")]
    pub grace: Duration,
    /// How long we keep accepting after readiness turns 503, so load balancers notice.
    #[serde(with = "humantime_serde")]
    pub pre_stop_delay: Duration,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        Self {
            grace: DEFAULT_SHUTDOWN_GRACE,
            pre_stop_delay: DEFAULT_PRE_STOP_DELAY,
        }
    }
}
/// One configuration problem: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// `section.key`, `section`, the file, or the variable the problem is in.
    pub key: String,
    pub message: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Every problem found, one per line when displayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "{n} configuration problem{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

impl Config {
    /// The effective configuration as TOML, secrets redacted (`synedge check-config`):
    /// tokens are `<redacted>`, and every URL is shown through [`crate::url::redact`].
    pub fn to_toml(&self) -> String {
        use crate::url::redact;
        let mut shown = self.clone();
        shown.origin.url = redact(&self.origin.url);
        shown.events.store = redact(&self.events.store);
        let sc = &mut shown.scaler;
        sc.peers = self.shown_peers();
        shown.cache.warm_from = self
            .cache
            .warm_from
            .as_ref()
            .map(|w| w.iter().map(|p| redact(p)).collect());
        sc.actuator.url = self.scaler.actuator.url.as_deref().map(redact);
        sc.actuator.api_url = redact(&self.scaler.actuator.api_url);
        toml::to_string(&shown).expect("invariant: the config serializes")
    }

    /// `scaler.peers` as they may be shown in logs.
    pub fn shown_peers(&self) -> Vec<String> {
        self.scaler
            .peers
            .iter()
            .map(|p| crate::url::redact(p))
            .collect()
    }

    /// The peers a starting instance warms its cache from: `cache.warm_from`, else
    /// `scaler.peers`; none when `cache.warm_timeout` is zero.
    pub fn warm_peers(&self) -> &[String] {
        if self.cache.warm_timeout.is_zero() {
            return &[];
        }
        self.cache
            .warm_from
            .as_deref()
            .unwrap_or(&self.scaler.peers)
    }

    /// Where event rollups go: `events.store`, else the origin store.
    pub fn events_store_url(&self) -> &str {
        if self.events.store.is_empty() {
            &self.origin.url
        } else {
            &self.events.store
        }
    }
}

#[cfg(test)]
mod tests;
