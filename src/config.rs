//! Configuration (DESIGN.md §8): one struct per subsystem, defaults as `DEFAULT_*`
//! consts, layered as built-in defaults ← TOML file ← `SYNEDGE_<SECTION>__<KEY>`
//! environment variables ← `--set section.key=value` flags.
//!
//! Invariants: [`load`] either returns a config that passed [`Config::validate`], or every
//! problem found at once (each section is read on its own, so one bad section does not
//! hide the others). Nothing here binds a socket or opens a file other than the config.
//! The environment is passed in (an iterator of pairs), never read here, so tests are
//! hermetic.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::store_url::{Scheme, StoreUrl};

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
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_bytes: ByteSize(DEFAULT_CACHE_MAX_BYTES),
            ttl: DEFAULT_CACHE_TTL,
            stale_while_revalidate: DEFAULT_STALE_WHILE_REVALIDATE,
            stale_if_error: DEFAULT_STALE_IF_ERROR,
            negative_ttl: DEFAULT_NEGATIVE_TTL,
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

/// A secret string: `Debug` and `Serialize` never show it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret itself, for comparison only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

/// A size in bytes, written `"512MiB"`, `"64KiB"`, `"1GB"` or as a plain integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// # Errors
    /// When `s` is not a number followed by an optional unit (B, KB, KiB, MB, MiB, GB, GiB).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("{s:?} is not a size such as \"512MiB\" or \"64KiB\""))?;
        let mult: u64 = match unit.trim() {
            "" | "B" => 1,
            "KB" | "kB" => 1000,
            "KiB" => 1 << 10,
            "MB" => 1_000_000,
            "MiB" => 1 << 20,
            "GB" => 1_000_000_000,
            "GiB" => 1 << 30,
            other => {
                return Err(format!(
                    "unknown size unit {other:?}; use B, KB, KiB, MB, MiB, GB or GiB"
                ));
            }
        };
        n.checked_mul(mult)
            .map(Self)
            .ok_or_else(|| format!("{s:?} is too large"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, m) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if self.0 >= m && self.0 % m == 0 {
                return write!(f, "{}{unit}", self.0 / m);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(Self(n)),
            Raw::Str(s) => Self::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

/// Durations as humantime strings (`"5m"`, `"250ms"`).
pub(crate) mod humantime_serde {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(|e| {
            serde::de::Error::custom(format!(
                "{s:?} is not a duration; write e.g. \"5m\", \"30s\" or \"250ms\" ({e})"
            ))
        })
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

/// Where the configuration comes from; see [`load`].
#[derive(Debug, Default)]
pub struct Sources<'a> {
    /// `--config FILE`: must exist. Without it, [`DEFAULT_CONFIG_PATH`] is read when present.
    pub file: Option<&'a Path>,
    /// Environment pairs; only `SYNEDGE_<SECTION>__<KEY>` ones are used.
    pub env: Vec<(String, String)>,
    /// `section.key=value` overrides from flags, applied last.
    pub overrides: Vec<String>,
}

/// Builds the effective configuration from its layers and validates it.
///
/// # Errors
/// Every problem found: unreadable file, bad TOML, unknown keys, bad values, and what
/// [`Config::validate`] finds.
pub fn load(sources: &Sources<'_>) -> Result<Config, ConfigErrors> {
    let mut errors = Vec::new();
    let mut table = match sources.file {
        Some(path) => read_file(path, &mut errors),
        None if Path::new(DEFAULT_CONFIG_PATH).exists() => {
            read_file(Path::new(DEFAULT_CONFIG_PATH), &mut errors)
        }
        None => toml::Table::new(),
    };
    let defaults =
        toml::Table::try_from(Config::default()).expect("invariant: the default config serializes");
    let mut from = Provenance::new();
    for (name, value) in &sources.env {
        let Some(path) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if is_service_link(path) {
            continue;
        }
        let path = path.to_ascii_lowercase().replace("__", ".");
        set_path(&mut table, &defaults, &path, value, name, &mut errors);
        from.insert(path, name.clone());
    }
    for o in &sources.overrides {
        match o.split_once('=') {
            Some((path, value)) => {
                set_path(
                    &mut table,
                    &defaults,
                    path.trim(),
                    value,
                    "--set",
                    &mut errors,
                );
                from.insert(path.trim().to_owned(), format!("--set {o}"));
            }
            None => errors.push(ConfigError::new(
                "--set",
                format!("{o:?} is not section.key=value"),
            )),
        }
    }
    let config = from_table(table, &from, &mut errors);
    errors.extend(config.validate());
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(errors))
    }
}

fn read_file(path: &Path, errors: &mut Vec<ConfigError>) -> toml::Table {
    let where_ = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => text.parse::<toml::Table>().unwrap_or_else(|e| {
            // file:line:column, as editors and compilers point at a place.
            let at = e.span().map_or(where_.clone(), |span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!("{where_}:{line}:{column}")
            });
            errors.push(ConfigError::new(
                at,
                format!("not valid TOML: {}", e.message().trim()),
            ));
            toml::Table::new()
        }),
        Err(e) => {
            errors.push(ConfigError::new(
                where_,
                format!("cannot read the config file: {e}"),
            ));
            toml::Table::new()
        }
    }
}

/// Whether `SYNEDGE_<rest>` is one of the variables Kubernetes gives every pod for each
/// Service in its namespace (`SYNEDGE_SERVICE_HOST`, `SYNEDGE_PORT_8080_TCP_ADDR`,
/// `SYNEDGE_ADMIN_SERVICE_PORT` for Services named `synedge` and `synedge-admin`, …):
/// not configuration, though it has our prefix. None has the `__` every key has.
fn is_service_link(rest: &str) -> bool {
    !rest.contains("__")
        && (rest.contains("SERVICE_HOST")
            || rest.contains("SERVICE_PORT")
            || rest.split('_').any(|w| w == "PORT"))
}

/// Sets `section.key[.sub…]` from a string, typed like the default value at that path
/// (so `SYNEDGE_ADMIN__TOKEN=1234` stays a string and `…MAX_CONNECTIONS=10` a number).
fn set_path(
    table: &mut toml::Table,
    defaults: &toml::Table,
    path: &str,
    raw: &str,
    source: &str,
    errors: &mut Vec<ConfigError>,
) {
    let parts: Vec<&str> = path.split('.').collect();
    if parts.len() < 2 || parts.iter().any(|p| p.is_empty()) {
        errors.push(ConfigError::new(
            source,
            format!("{path:?} does not name section.key"),
        ));
        return;
    }
    let default = parts
        .iter()
        .try_fold(None::<&toml::Value>, |cur, p| match cur {
            None => defaults.get(*p).map(Some),
            Some(v) => v.get(*p).map(Some),
        })
        .flatten();
    let value = match default {
        Some(toml::Value::String(_)) | None if !looks_like_toml_collection(raw) => {
            toml::Value::String(raw.to_owned())
        }
        _ => match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
            Ok(mut t) => t.remove("v").expect("invariant: the key v was just parsed"),
            // Not a TOML literal: keep it as a string and let the section report the type.
            Err(_) => toml::Value::String(raw.to_owned()),
        },
    };
    let (last, dirs) = parts.split_last().expect("invariant: at least two parts");
    let mut cur = table;
    for d in dirs {
        let slot = cur
            .entry((*d).to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(t) = slot else {
            errors.push(ConfigError::new(source, format!("{d:?} is not a section")));
            return;
        };
        cur = t;
    }
    cur.insert((*last).to_owned(), value);
}

fn looks_like_toml_collection(raw: &str) -> bool {
    let t = raw.trim_start();
    t.starts_with('[') || t.starts_with('{')
}

/// Where each key set by a variable or a flag came from (`SYNEDGE_CACHE__TTL`, `--set`),
/// so that its problem says so; keys not in it came from the file.
type Provenance = std::collections::HashMap<String, String>;

const SECTIONS: [&str; 8] = [
    "server", "admin", "origin", "cache", "tls", "events", "scaler", "shutdown",
];

/// Reads each section key by key, so that every bad key is reported, by its own name.
fn from_table(mut table: toml::Table, from: &Provenance, errors: &mut Vec<ConfigError>) -> Config {
    let config = Config {
        server: section(&mut table, "server", from, errors),
        admin: section(&mut table, "admin", from, errors),
        origin: section(&mut table, "origin", from, errors),
        cache: section(&mut table, "cache", from, errors),
        tls: section(&mut table, "tls", from, errors),
        events: section(&mut table, "events", from, errors),
        scaler: section(&mut table, "scaler", from, errors),
        shutdown: section(&mut table, "shutdown", from, errors),
    };
    for unknown in table.keys() {
        let hint = nearest(unknown, SECTIONS.iter().copied())
            .map_or_else(String::new, |n| format!("did you mean [{n}]? "));
        errors.push(ConfigError::new(
            unknown.clone(),
            format!(
                "unknown section; {hint}the sections are {}",
                SECTIONS.join(", ")
            ),
        ));
    }
    config
}

/// Section `name` of `table`: its defaults, with each given key that reads well on its
/// own; a key that does not is reported (with the default as an example of a good value)
/// and left at its default.
fn section<T>(
    table: &mut toml::Table,
    name: &str,
    from: &Provenance,
    errors: &mut Vec<ConfigError>,
) -> T
where
    T: for<'de> Deserialize<'de> + Serialize + Default,
{
    let Some(given) = table.remove(name) else {
        return T::default();
    };
    let toml::Value::Table(given) = given else {
        errors.push(ConfigError::new(
            name,
            format!("must be a section ([{name}]), not a single value"),
        ));
        return T::default();
    };
    let defaults =
        toml::Table::try_from(T::default()).expect("invariant: every section's defaults serialize");
    let mut accepted = defaults.clone();
    let mut path = vec![name.to_owned()];
    check_keys::<T>(&defaults, &given, &mut path, &mut accepted, from, errors);
    toml::Value::Table(accepted)
        .try_into()
        .unwrap_or_else(|e: toml::de::Error| {
            errors.push(ConfigError::new(name, e.message().trim().to_owned()));
            T::default()
        })
}

/// Tries each value of `given` (at `path` below the section) alone on top of the
/// section's defaults; keeps those that read, reports the others.
fn check_keys<T>(
    defaults: &toml::Table,
    given: &toml::Table,
    path: &mut Vec<String>,
    accepted: &mut toml::Table,
    from: &Provenance,
    errors: &mut Vec<ConfigError>,
) where
    T: for<'de> Deserialize<'de>,
{
    for (k, v) in given {
        path.push(k.clone());
        let below = &path[1..];
        let default = value_at(defaults, below);
        match (v, default) {
            // A sub-table with defaults of its own (`[scaler.up]`): key by key too.
            (toml::Value::Table(sub), Some(toml::Value::Table(_))) => {
                check_keys::<T>(defaults, sub, path, accepted, from, errors);
            }
            _ => {
                let mut trial = defaults.clone();
                set_value_at(&mut trial, below, v.clone());
                match toml::Value::Table(trial).try_into::<T>() {
                    Ok(_) => set_value_at(accepted, below, v.clone()),
                    Err(e) => {
                        let key = path.join(".");
                        let mut message =
                            explain(e.message().trim(), v, default, &path[..path.len() - 1]);
                        if let Some(source) = from.get(&key) {
                            message.push_str(&format!(" (set by {source})"));
                        }
                        errors.push(ConfigError::new(key, message));
                    }
                }
            }
        }
        path.pop();
    }
}

fn value_at<'a>(t: &'a toml::Table, path: &[String]) -> Option<&'a toml::Value> {
    let (first, rest) = path.split_first()?;
    let v = t.get(first)?;
    if rest.is_empty() {
        Some(v)
    } else {
        value_at(v.as_table()?, rest)
    }
}

fn set_value_at(t: &mut toml::Table, path: &[String], value: toml::Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        t.insert(first.clone(), value);
        return;
    }
    let slot = t
        .entry(first.clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(sub) = slot {
        set_value_at(sub, rest, value);
    }
}

/// serde's message for one bad value, said for a person: an unknown key with the
/// nearest known one, a wrong type with the default as an example of a good value.
fn explain(
    message: &str,
    given: &toml::Value,
    default: Option<&toml::Value>,
    parent: &[String],
) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let known: Vec<&str> = rest
            .split('`')
            .skip(1)
            .filter(|p| p.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !p.is_empty())
            .collect();
        let name = rest.split('`').next().unwrap_or_default();
        let prefix = parent.join(".");
        return match nearest(name, known.iter().copied()) {
            Some(n) => format!("unknown key; did you mean {prefix}.{n}?"),
            None => format!(
                "unknown key; the keys of [{prefix}] are {}",
                known.join(", ")
            ),
        };
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let wanted = rest.split_once(", expected ").map_or("", |(_, w)| w);
        let wanted = match wanted {
            "usize" | "u64" | "u32" | "u16" | "u8" | "i64" | "i32" => "a whole number",
            "f64" | "f32" => "a number",
            w => w,
        };
        let example = default.map_or_else(String::new, |d| format!("; write e.g. {d}"));
        return format!("{given} is not {wanted}{example}");
    }
    message.to_owned()
}

/// The candidate closest to `word` in edit distance, if close enough to be a typo.
fn nearest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = (diag + usize::from(ca != *cb)).min(row[j] + 1).min(up + 1);
            diag = up;
        }
    }
    row[b.len()]
}

impl Config {
    /// Every semantic problem at once (types were already checked while reading).
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        let mut check = |ok: bool, key: &str, msg: &str| {
            if !ok {
                e.push(ConfigError::new(key, msg));
            }
        };
        let s = &self.server;
        check(
            !s.request_timeout.is_zero(),
            "server.request_timeout",
            "must be more than zero",
        );
        check(
            !s.header_read_timeout.is_zero(),
            "server.header_read_timeout",
            "must be more than zero",
        );
        check(
            !s.keep_alive_timeout.is_zero(),
            "server.keep_alive_timeout",
            "must be more than zero",
        );
        check(
            !s.body_read_timeout.is_zero(),
            "server.body_read_timeout",
            "must be more than zero",
        );
        check(
            s.max_connections > 0,
            "server.max_connections",
            "must be at least 1",
        );
        // SECURITY: admin calls purge the cache and (later) steer the fleet; off loopback
        // they must be authenticated.
        check(
            self.admin.listen.ip().is_loopback()
                || self.admin.token.as_ref().is_some_and(|t| !t.0.is_empty()),
            "admin.listen",
            "a non-loopback admin address needs admin.token to be set",
        );
        check(
            self.admin.token.as_ref().is_none_or(|t| t.0.len() >= 16),
            "admin.token",
            "must be at least 16 characters",
        );
        check(
            self.admin.listen != s.listen || s.listen.port() == 0,
            "admin.listen",
            "must differ from server.listen",
        );
        // One parser for store URLs (the leaf `store_url`); its messages never show a
        // password.
        let origin = StoreUrl::parse(&self.origin.url);
        if let Err(why) = &origin {
            check(false, "origin.url", &why.0);
        }
        let http = origin.as_ref().is_ok_and(|u| u.scheme() == Scheme::Http);
        if self.events.store.is_empty() {
            check(
                !http,
                "events.store",
                "an http(s) origin keeps no event counts: set events.store to sqlite://PATH or postgres://USER@HOST/DATABASE",
            );
        } else {
            match StoreUrl::parse(&self.events.store) {
                Ok(u) if u.scheme() == Scheme::Http => check(
                    false,
                    "events.store",
                    "must be empty (the origin store), sqlite://PATH or postgres://USER@HOST/DATABASE",
                ),
                Ok(_) => {}
                Err(why) => check(false, "events.store", &why.0),
            }
        }
        check(
            !self.origin.timeout.is_zero(),
            "origin.timeout",
            "must be more than zero",
        );
        let c = &self.cache;
        check(
            c.max_bytes.0 >= 1 << 20,
            "cache.max_bytes",
            "must be at least 1MiB",
        );
        check(!c.ttl.is_zero(), "cache.ttl", "must be more than zero");
        check(
            !c.negative_ttl.is_zero(),
            "cache.negative_ttl",
            "must be more than zero",
        );
        // Refuse rather than serve plain HTTP to someone who asked for HTTPS.
        check(
            self.tls.cert.is_some() == self.tls.key.is_some(),
            "tls",
            "set both tls.cert and tls.key (PEM files) for HTTPS, or neither for plain HTTP",
        );
        let ev = &self.events;
        check(ev.batch_size > 0, "events.batch_size", "must be at least 1");
        check(
            ev.queue_capacity >= ev.batch_size,
            "events.queue_capacity",
            "must be at least events.batch_size",
        );
        check(
            !ev.flush_interval.is_zero(),
            "events.flush_interval",
            "must be more than zero",
        );
        check(
            !self.shutdown.grace.is_zero(),
            "shutdown.grace",
            "must be more than zero",
        );
        let sc = &self.scaler;
        check(
            !sc.interval.is_zero(),
            "scaler.interval",
            "must be more than zero",
        );
        check(
            sc.min_instances >= 1,
            "scaler.min_instances",
            "must be at least 1",
        );
        check(
            sc.max_instances >= sc.min_instances,
            "scaler.max_instances",
            "must be at least scaler.min_instances",
        );
        check(
            sc.target_rps_per_instance.is_finite() && sc.target_rps_per_instance > 0.0,
            "scaler.target_rps_per_instance",
            "must be more than zero",
        );
        check(
            sc.target_cpu > 0.0 && sc.target_cpu <= 1.0,
            "scaler.target_cpu",
            "must be a share of the cores, more than 0 and at most 1",
        );
        check(
            !sc.latency_slo.is_zero(),
            "scaler.latency_slo",
            "must be more than zero",
        );
        check(
            sc.scale_up.max_percent > 0 || sc.scale_up.max_instances > 0,
            "scaler.scale_up",
            "max_percent or max_instances must be more than zero",
        );
        check(
            sc.scale_down.max_percent_per_minute <= 100,
            "scaler.scale_down.max_percent_per_minute",
            "must be at most 100",
        );
        for p in &sc.peers {
            check(
                p.starts_with("http://") || p.starts_with("https://") || p.starts_with("dns://"),
                "scaler.peers",
                "each peer is an admin URL (http://HOST:PORT) or dns://NAME:PORT",
            );
        }
        for (i, w) in sc.schedule.iter().enumerate() {
            let ok = w.window().is_some_and(|(a, b)| a < b);
            check(
                ok,
                &format!("scaler.schedule[{i}]"),
                "start and end must be RFC 3339 times (2026-11-27T06:00:00Z), start before end",
            );
        }
        let a = &sc.actuator;
        match a.kind {
            ActuatorKind::Log => {}
            ActuatorKind::Webhook => check(
                a.url
                    .as_deref()
                    .is_some_and(|u| u.starts_with("http://") || u.starts_with("https://")),
                "scaler.actuator.url",
                "the webhook actuator needs an http:// or https:// url",
            ),
            ActuatorKind::Command => check(
                !a.command.is_empty() && a.command.iter().any(|arg| arg.contains("{desired}")),
                "scaler.actuator.command",
                "the command actuator needs an argv list with {desired} in it",
            ),
            ActuatorKind::Kubernetes => check(
                a.deployment.as_deref().is_some_and(|d| !d.is_empty()),
                "scaler.actuator.deployment",
                "the kubernetes actuator needs the Deployment's name",
            ),
        }
        check(
            !a.timeout.is_zero(),
            "scaler.actuator.timeout",
            "must be more than zero",
        );
        self.check_bounds(&mut e);
        e
    }

    /// Every duration, size and count against its upper bound (`MAX_*`).
    fn check_bounds(&self, e: &mut Vec<ConfigError>) {
        let (s, c, ev, sc) = (&self.server, &self.cache, &self.events, &self.scaler);
        let durations = [
            ("server.request_timeout", s.request_timeout, MAX_TIMEOUT),
            (
                "server.header_read_timeout",
                s.header_read_timeout,
                MAX_TIMEOUT,
            ),
            (
                "server.keep_alive_timeout",
                s.keep_alive_timeout,
                MAX_TIMEOUT,
            ),
            ("server.body_read_timeout", s.body_read_timeout, MAX_TIMEOUT),
            ("origin.timeout", self.origin.timeout, MAX_TIMEOUT),
            ("cache.ttl", c.ttl, MAX_CACHE_LIFETIME),
            (
                "cache.stale_while_revalidate",
                c.stale_while_revalidate,
                MAX_CACHE_LIFETIME,
            ),
            ("cache.stale_if_error", c.stale_if_error, MAX_CACHE_LIFETIME),
            ("cache.negative_ttl", c.negative_ttl, MAX_CACHE_LIFETIME),
            ("events.flush_interval", ev.flush_interval, MAX_PERIOD),
            ("scaler.interval", sc.interval, MAX_PERIOD),
            ("scaler.latency_slo", sc.latency_slo, MAX_TIMEOUT),
            ("scaler.forecast_lead", sc.forecast_lead, MAX_PERIOD),
            (
                "scaler.scale_down.stabilization",
                sc.scale_down.stabilization,
                MAX_PERIOD,
            ),
            ("scaler.actuator.timeout", sc.actuator.timeout, MAX_TIMEOUT),
            ("shutdown.grace", self.shutdown.grace, MAX_TIMEOUT),
            (
                "shutdown.pre_stop_delay",
                self.shutdown.pre_stop_delay,
                MAX_TIMEOUT,
            ),
        ];
        for (key, value, max) in durations {
            if value > max {
                e.push(ConfigError::new(
                    key,
                    format!(
                        "must be at most {} (got {})",
                        show_duration(max),
                        show_duration(value)
                    ),
                ));
            }
        }
        if c.max_bytes.0 > MAX_CACHE_MAX_BYTES {
            e.push(ConfigError::new(
                "cache.max_bytes",
                format!(
                    "must be at most {} (got {})",
                    ByteSize(MAX_CACHE_MAX_BYTES),
                    c.max_bytes
                ),
            ));
        }
        let counts = [
            (
                "server.max_connections",
                s.max_connections,
                MAX_MAX_CONNECTIONS,
            ),
            (
                "events.queue_capacity",
                ev.queue_capacity,
                MAX_EVENTS_QUEUE_CAPACITY,
            ),
            ("events.batch_size", ev.batch_size, MAX_EVENTS_BATCH_SIZE),
            (
                "scaler.max_instances",
                usize::try_from(sc.max_instances).unwrap_or(usize::MAX),
                MAX_SCALER_INSTANCES as usize,
            ),
        ];
        for (key, value, max) in counts {
            if value > max {
                e.push(ConfigError::new(
                    key,
                    format!("must be at most {max} (got {value})"),
                ));
            }
        }
    }

    /// The effective configuration as TOML, secrets redacted (`synedge check-config`):
    /// tokens are `<redacted>`, and every URL is shown through [`crate::url::redact`].
    pub fn to_toml(&self) -> String {
        use crate::url::redact;
        let mut shown = self.clone();
        shown.origin.url = redact(&self.origin.url);
        shown.events.store = redact(&self.events.store);
        let sc = &mut shown.scaler;
        sc.peers = self.shown_peers();
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

    /// Where event rollups go: `events.store`, else the origin store.
    pub fn events_store_url(&self) -> &str {
        if self.events.store.is_empty() {
            &self.origin.url
        } else {
            &self.events.store
        }
    }
}

/// `d` in days and smaller units (`"365days"`, `"1h 30m"`, `"250ms"`), as humantime reads
/// it back. Unlike `humantime::format_duration`, no months or years: humantime's are
/// 30.44 and 365.25 days, so a bound of 365 days would read "11months 30days 3h 50m 24s".
fn show_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let nanos = d.subsec_nanos();
    let parts = [
        (secs / 86_400, "day"),
        (secs / 3600 % 24, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
        (u64::from(nanos / 1_000_000), "ms"),
        (u64::from(nanos / 1000 % 1000), "us"),
        (u64::from(nanos % 1000), "ns"),
    ];
    let shown: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|&(n, unit)| match unit {
            "day" if n == 1 => "1day".to_owned(),
            "day" => format!("{n}days"),
            _ => format!("{n}{unit}"),
        })
        .collect();
    if shown.is_empty() {
        "0s".to_owned()
    } else {
        shown.join(" ")
    }
}

/// The environment pairs of this process, for [`Sources::env`].
pub fn process_env() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(
        toml: &str,
        env: &[(&str, &str)],
        overrides: &[&str],
    ) -> Result<Config, ConfigErrors> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, toml).unwrap();
        load(&Sources {
            file: Some(&path),
            env: env
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            overrides: overrides.iter().map(|s| (*s).into()).collect(),
        })
    }

    #[test]
    fn default_config_validates() {
        assert_eq!(Config::default().validate(), vec![]);
    }

    #[test]
    fn shipped_default_toml_equals_builtin_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_CONFIG_PATH);
        let cfg = load(&Sources {
            file: Some(&path),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(cfg, Config::default());
    }

    #[test]
    fn file_env_and_flags_layer_in_order() {
        let cfg = load_str(
            "[cache]\nttl = \"10m\"\nmax_bytes = \"64MiB\"\n[server]\nmax_connections = 10\n",
            &[
                ("SYNEDGE_CACHE__TTL", "90s"),
                ("SYNEDGE_ADMIN__TOKEN", "1234567890123456"),
                ("SYNEDGE_SERVER__MAX_CONNECTIONS", "20"),
                ("OTHER", "x"),
            ],
            &["server.max_connections=30"],
        )
        .unwrap();
        assert_eq!(cfg.cache.ttl, Duration::from_secs(90));
        assert_eq!(cfg.cache.max_bytes, ByteSize(64 << 20));
        assert_eq!(
            cfg.admin.token.as_ref().unwrap().expose(),
            "1234567890123456"
        );
        assert_eq!(cfg.server.max_connections, 30);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = load_str(
            "[cache]\nttl = \"soon\"\n[server]\nlisten = \"nowhere\"\n[admin]\nlisten = \"0.0.0.0:9901\"\n[bogus]\nx = 1\n[origin]\nurl = \"ftp://x\"\n",
            &[("SYNEDGE_EVENTS__BATCH_SIZE", "many")],
            &[],
        )
        .unwrap_err();
        let keys: Vec<&str> = err.0.iter().map(|e| e.key.as_str()).collect();
        for k in [
            "cache.ttl",
            "server.listen",
            "events.batch_size",
            "bogus",
            "admin.listen",
            "origin.url",
        ] {
            assert!(keys.contains(&k), "missing {k} in {err}");
        }
        let text = err.to_string();
        assert!(text.contains("\"soon\" is not a duration"), "{text}");
        assert!(text.contains("needs admin.token"), "{text}");
    }

    #[test]
    fn each_bad_key_is_named_with_an_example_however_many_share_a_section() {
        let err = load_str(
            "[cache]\nttl = \"5mn\"\nmax_bytes = \"lots\"\nnegative_ttl = 5\n[server]\nmax_connections = \"many\"\n",
            &[("SYNEDGE_EVENTS__BATCH_SIZE", "abc")],
            &["scaler.scale_up.max_instances=big"],
        )
        .unwrap_err();
        let lines: Vec<String> = err.0.iter().map(ToString::to_string).collect();
        assert_eq!(err.0.len(), 6, "{err}");
        assert!(
            err.to_string().starts_with("6 configuration problems:\n"),
            "{err}"
        );
        for want in [
            "cache.ttl: \"5mn\" is not a duration; write e.g. \"5m\"",
            "cache.max_bytes: ",
            "cache.negative_ttl: ",
            "server.max_connections: \"many\" is not a whole number; write e.g. 16384",
            "events.batch_size: \"abc\" is not a whole number; write e.g. ",
            "scaler.scale_up.max_instances: \"big\" is not a whole number; write e.g. ",
        ] {
            assert!(
                lines.iter().any(|l| l.starts_with(want)),
                "{want:?} not in {err}"
            );
        }
        // Where a value came from, when not from the file.
        assert!(
            lines.iter().any(|l| l.starts_with("events.batch_size")
                && l.ends_with("(set by SYNEDGE_EVENTS__BATCH_SIZE)")),
            "{err}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("scaler.scale_up.max_instances")
                    && l.ends_with("(set by --set scaler.scale_up.max_instances=big)")),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_and_sections_get_the_nearest_known_one() {
        let err = load_str(
            "[cache]\ntll = \"5m\"\n[servr]\nlisten = \"0.0.0.0:1\"\n",
            &[],
            &[],
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("cache.tll: unknown key; did you mean cache.ttl?"),
            "{text}"
        );
        assert!(
            text.contains("servr: unknown section; did you mean [server]?"),
            "{text}"
        );
        let err = load_str("", &[("SYNEDGE_SERVER__LISTN", "0.0.0.0:1")], &[]).unwrap_err();
        assert!(err.to_string().contains("server.listn: unknown key; did you mean server.listen? (set by SYNEDGE_SERVER__LISTN)"), "{err}");
    }

    #[test]
    fn toml_syntax_errors_point_at_file_line_and_column() {
        let err = load_str("[cache]\nttl = \"5m\"\nmax_bytes = = 1\n", &[], &[]).unwrap_err();
        assert_eq!(err.0.len(), 1, "{err}");
        let e = &err.0[0];
        assert!(e.key.ends_with("c.toml:3:13"), "{e}");
        assert!(e.message.starts_with("not valid TOML: "), "{e}");
    }

    #[test]
    fn kubernetes_service_links_are_not_configuration() {
        let links = [
            ("SYNEDGE_SERVICE_HOST", "10.0.0.1"),
            ("SYNEDGE_SERVICE_PORT", "80"),
            ("SYNEDGE_SERVICE_PORT_HTTP", "80"),
            ("SYNEDGE_PORT", "tcp://10.0.0.1:80"),
            ("SYNEDGE_PORT_80_TCP", "tcp://10.0.0.1:80"),
            ("SYNEDGE_PORT_80_TCP_PROTO", "tcp"),
            ("SYNEDGE_PORT_80_TCP_PORT", "80"),
            ("SYNEDGE_PORT_80_TCP_ADDR", "10.0.0.1"),
            ("SYNEDGE_ADMIN_SERVICE_HOST", "10.0.0.2"),
            ("SYNEDGE_ADMIN_PORT_9901_TCP_ADDR", "10.0.0.2"),
            ("SYNEDGE_CACHE__TTL", "90s"),
        ];
        let config = load_str("", &links, &[]).unwrap();
        assert_eq!(config.cache.ttl, Duration::from_secs(90));
        // A misspelt key is still named, not skipped.
        let err = load_str("", &[("SYNEDGE_SERVER_LISTEN", "0.0.0.0:1")], &[]).unwrap_err();
        assert!(err.to_string().contains("SYNEDGE_SERVER_LISTEN"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_sizes_are_named() {
        let err = load_str("[cache]\nmax_bytez = 1\n", &[], &[]).unwrap_err();
        assert!(err.to_string().contains("max_bytez"), "{err}");
        let err = load_str("[cache]\nmax_bytes = \"12 parsecs\"\n", &[], &[]).unwrap_err();
        assert!(err.to_string().contains("unknown size unit"), "{err}");
        let err = load_str("[tls]\ncert = \"/etc/c.pem\"\n", &[], &[]).unwrap_err();
        assert!(
            err.to_string().contains("set both tls.cert and tls.key"),
            "{err}"
        );
        let both = load_str(
            "[tls]\ncert = \"/etc/c.pem\"\nkey = \"/etc/k.pem\"\n",
            &[],
            &[],
        );
        assert!(both.is_ok(), "{both:?}");
    }

    #[test]
    fn the_fleet_example_validates() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/fleet.example.toml");
        // The token comes from the environment, as the file says.
        let sources = |env: Vec<(String, String)>| Sources {
            file: Some(&path),
            env,
            ..Default::default()
        };
        let err = load(&sources(vec![])).unwrap_err();
        assert!(err.to_string().contains("needs admin.token"), "{err}");
        let token = (
            "SYNEDGE_ADMIN__TOKEN".into(),
            "0123456789abcdef-token".into(),
        );
        let cfg = load(&sources(vec![token])).unwrap_or_else(|e| panic!("{e}"));
        assert!(cfg.origin.url.starts_with("postgres://"));
        assert_eq!(cfg.scaler.actuator.kind, ActuatorKind::Kubernetes);
    }

    #[test]
    fn an_http_origin_needs_an_events_store() {
        let err = load_str(
            "[origin]\nurl = \"https://content.example/fragments\"\n",
            &[],
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("events.store"), "{err}");
        let ok = load_str(
            "[origin]\nurl = \"https://content.example/fragments\"\n[events]\nstore = \"sqlite://data/events.db\"\n",
            &[],
            &[],
        );
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn secrets_are_redacted() {
        let mut cfg = Config::default();
        cfg.admin.token = Some(Secret::new("super-secret-token-value"));
        assert!(!format!("{cfg:?}").contains("super-secret"));
        assert!(!cfg.to_toml().contains("super-secret"));
        assert!(cfg.to_toml().contains("<redacted>"));
        cfg.origin.url = "postgres://synedge:hunter2-secret@db.internal/synedge".into();
        cfg.events.store = "postgres://ev:ev-secret@db.internal/events".into();
        let shown = cfg.to_toml();
        assert!(
            !shown.contains("hunter2") && !shown.contains("ev-secret"),
            "{shown}"
        );
        assert!(
            shown.contains("postgres://synedge:***@db.internal/synedge"),
            "{shown}"
        );

        // Every URL of the config, with a password or a secret parameter.
        cfg.origin.url = "https://edge:origin-SECRET@content.example/fragments".into();
        cfg.events.store = "postgres://ev@db/events?password=events-SECRET".into();
        cfg.scaler.peers = vec![
            "http://peer:peer-SECRET@10.0.0.7:9901".into(),
            "dns://dns:dns-SECRET@synedge-admin:9901".into(),
        ];
        cfg.scaler.actuator.url = Some("https://hooks.example/scale?token=hook-SECRET".into());
        cfg.scaler.actuator.api_url = "https://k8s:api-SECRET@kubernetes.example".into();
        let shown = cfg.to_toml();
        assert!(!shown.contains("SECRET"), "{shown}");
        for url in [
            "https://edge:***@content.example/fragments",
            "postgres://ev@db/events?password=***",
            "http://peer:***@10.0.0.7:9901",
            "dns://dns:***@synedge-admin:9901",
            "https://hooks.example/scale?token=***",
            "https://k8s:***@kubernetes.example",
        ] {
            assert!(shown.contains(url), "{url} not in {shown}");
        }
        assert_eq!(
            cfg.shown_peers(),
            [
                "http://peer:***@10.0.0.7:9901",
                "dns://dns:***@synedge-admin:9901"
            ]
        );
        // Only what is shown changes.
        assert!(cfg.scaler.peers[0].contains("peer-SECRET"));
    }

    #[test]
    fn keep_alive_and_body_read_timeouts_are_read_and_must_be_positive() {
        let cfg = load_str(
            "[server]\nkeep_alive_timeout = \"90s\"\nbody_read_timeout = \"250ms\"\n",
            &[],
            &[],
        )
        .unwrap();
        assert_eq!(cfg.server.keep_alive_timeout, Duration::from_secs(90));
        assert_eq!(cfg.server.body_read_timeout, Duration::from_millis(250));
        let err = load_str(
            "",
            &[("SYNEDGE_SERVER__KEEP_ALIVE_TIMEOUT", "0s")],
            &["server.body_read_timeout=0ms"],
        )
        .unwrap_err();
        let keys: Vec<&str> = err.0.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            ["server.keep_alive_timeout", "server.body_read_timeout"],
            "{err}"
        );
    }

    /// Every duration key with its bound: at the bound it loads, just past it it is named.
    const DURATION_BOUNDS: [(&str, Duration); 17] = [
        ("server.request_timeout", MAX_TIMEOUT),
        ("server.header_read_timeout", MAX_TIMEOUT),
        ("server.keep_alive_timeout", MAX_TIMEOUT),
        ("server.body_read_timeout", MAX_TIMEOUT),
        ("origin.timeout", MAX_TIMEOUT),
        ("cache.ttl", MAX_CACHE_LIFETIME),
        ("cache.stale_while_revalidate", MAX_CACHE_LIFETIME),
        ("cache.stale_if_error", MAX_CACHE_LIFETIME),
        ("cache.negative_ttl", MAX_CACHE_LIFETIME),
        ("events.flush_interval", MAX_PERIOD),
        ("scaler.interval", MAX_PERIOD),
        ("scaler.latency_slo", MAX_TIMEOUT),
        ("scaler.forecast_lead", MAX_PERIOD),
        ("scaler.scale_down.stabilization", MAX_PERIOD),
        ("scaler.actuator.timeout", MAX_TIMEOUT),
        ("shutdown.grace", MAX_TIMEOUT),
        ("shutdown.pre_stop_delay", MAX_TIMEOUT),
    ];

    #[test]
    fn every_duration_is_bounded() {
        // The list above is every duration of the config: each default that reads as one.
        let defaults = toml::Table::try_from(Config::default()).unwrap();
        let mut found = Vec::new();
        fn walk(prefix: &str, t: &toml::Table, found: &mut Vec<String>) {
            for (k, v) in t {
                let key = format!("{prefix}{k}");
                match v {
                    toml::Value::Table(sub) => walk(&format!("{key}."), sub, found),
                    toml::Value::String(s) if humantime::parse_duration(s).is_ok() => {
                        found.push(key);
                    }
                    _ => {}
                }
            }
        }
        walk("", &defaults, &mut found);
        let mut listed: Vec<String> = DURATION_BOUNDS.iter().map(|(k, _)| (*k).into()).collect();
        found.sort();
        listed.sort();
        assert_eq!(found, listed);

        for (key, max) in DURATION_BOUNDS {
            let at = format!("{key}={}", show_duration(max));
            let ok = load_str("", &[], &[&at]);
            assert!(ok.is_ok(), "{at}: {ok:?}");
            let past = format!("{key}={}", show_duration(max + Duration::from_millis(1)));
            let err = load_str("", &[], &[&past]).unwrap_err();
            assert_eq!(err.0.len(), 1, "{past}: {err}");
            assert_eq!(err.0[0].key, key, "{err}");
            let bound = format!("must be at most {}", show_duration(max));
            assert!(err.0[0].message.contains(&bound), "{err}");
        }
        // What used to pass validation and panic in `serve` (SQLite's busy timeout).
        let err = load_str("[origin]\ntimeout = \"25days\"\n", &[], &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "1 configuration problem:\n  - origin.timeout: must be at most 1h (got 25days)\n"
        );
    }

    #[test]
    fn sizes_and_counts_are_bounded() {
        let at_bounds = [
            format!("cache.max_bytes={}", MAX_CACHE_MAX_BYTES),
            format!("server.max_connections={MAX_MAX_CONNECTIONS}"),
            format!("events.queue_capacity={MAX_EVENTS_QUEUE_CAPACITY}"),
            format!("events.batch_size={MAX_EVENTS_BATCH_SIZE}"),
            format!("scaler.max_instances={MAX_SCALER_INSTANCES}"),
        ];
        let at: Vec<&str> = at_bounds.iter().map(String::as_str).collect();
        let ok = load_str("", &[], &at);
        assert!(ok.is_ok(), "{ok:?}");

        let err = load_str(
            "[cache]\nmax_bytes = \"1025GiB\"\n[events]\nqueue_capacity = 10000001\nbatch_size = 1000001\n",
            &[("SYNEDGE_SERVER__MAX_CONNECTIONS", "3000000000000000000")],
            &["scaler.max_instances=4294967295"],
        )
        .unwrap_err();
        let text = err.to_string();
        for line in [
            "cache.max_bytes: must be at most 1024GiB (got 1025GiB)",
            "server.max_connections: must be at most 1048576 (got 3000000000000000000)",
            "events.queue_capacity: must be at most 10000000 (got 10000001)",
            "events.batch_size: must be at most 1000000 (got 1000001)",
            "scaler.max_instances: must be at most 10000 (got 4294967295)",
        ] {
            assert!(text.contains(line), "missing {line:?} in {text}");
        }
        assert_eq!(err.0.len(), 5, "{text}");
    }

    #[test]
    fn durations_are_shown_in_days_at_most() {
        assert_eq!(show_duration(MAX_CACHE_LIFETIME), "365days");
        assert_eq!(
            show_duration(Duration::from_secs(86_400 + 90)),
            "1day 1m 30s"
        );
        assert_eq!(show_duration(Duration::from_micros(1_250)), "1ms 250us");
        assert_eq!(show_duration(Duration::ZERO), "0s");
        for d in [MAX_TIMEOUT, MAX_CACHE_LIFETIME, Duration::new(3661, 7)] {
            assert_eq!(humantime::parse_duration(&show_duration(d)).unwrap(), d);
        }
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(ByteSize::parse("512MiB").unwrap().0, 512 << 20);
        assert_eq!(ByteSize::parse("64 KiB").unwrap().0, 64 << 10);
        assert_eq!(ByteSize::parse("1GB").unwrap().0, 1_000_000_000);
        assert_eq!(ByteSize::parse("100").unwrap().0, 100);
        assert!(ByteSize::parse("-1").is_err());
        assert_eq!(ByteSize(512 << 20).to_string(), "512MiB");
    }
}
