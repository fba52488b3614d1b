//! `synedge simulate` (DESIGN.md §6): replays a traffic profile through the same
//! [`policy::decide`] the scaler loop runs, against a model of instances, next to two
//! baselines, and writes what happened: `timeline.csv`, `chart.svg`, `summary.json`.
//!
//! The model, in 1-second ticks:
//! - demand: the profile's points, linear in between, times `1 ± noise` (uniform,
//!   deterministic: xxh3 of the tick, seeded by the profile's `seed`);
//! - instances: a new one serves `startup` after it was asked for; a removed one leaves at
//!   once (the ones still starting go first, as Kubernetes removes unready pods first);
//! - capacity = ready × `capacity_rps`; served = min(demand, capacity); the rest is shed;
//! - utilization u = served / capacity; p99 = `base_latency_ms` × ln(100) / (1 − u) (the
//!   M/M/1 sojourn-time quantile) below u = 0.99; saturated or shedding, [`saturated_p99`].
//!
//! Policies, over the same demand:
//! - `synedge`: [`policy::decide`] every `scaler.interval`, with its [`History`], fed one
//!   [`Signals`] per ready instance averaged over the interval (p99: the worst tick);
//! - `synedge-no-schedule`: the same without `[[scaler.schedule]]`, like with like next to
//!   the baselines, which know nothing of the schedule either;
//! - `hpa`: Kubernetes HPA v2 with its default behaviour on the same metrics seen 60 s
//!   late ([`hpa`]);
//! - `static`: provisioned for the peak from the start, never changed.
//!
//! The scaler settings are the configuration's `[scaler]`, as in production: the profile
//! only describes the traffic and the instances.

mod chart;
mod hpa;

use std::collections::{BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::config::ScalerConfig;
use crate::scaler::policy::{self, Direction, History};
use crate::signals::Signals;

pub use hpa::Hpa;

/// Where the outputs go without `--out`.
pub const DEFAULT_OUT_DIR: &str = "simulation";
/// Utilization from which an instance counts as saturated.
pub const SATURATION: f64 = 0.99;
/// Longest profile simulated (one week of 1-second ticks).
pub const MAX_PROFILE_MINUTES: f64 = 7.0 * 24.0 * 60.0;
/// Simulated wall-clock start when the profile names none: 2026-11-27T00:00:00Z.
const DEFAULT_START_UNIX: u64 = 1_795_737_600;

/// A traffic profile (TOML).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Shown in the chart's title.
    #[serde(default)]
    pub name: Option<String>,
    /// `[[minute, rps], …]`, minutes increasing; demand is linear between points.
    pub points: Vec<[f64; 2]>,
    /// Demand varies uniformly within ± this fraction, second by second.
    #[serde(default)]
    pub noise: f64,
    /// Seed of the noise.
    #[serde(default)]
    pub seed: u64,
    /// Wall-clock time of minute 0 (RFC 3339), for `[[scaler.schedule]]` floors.
    #[serde(default)]
    pub start: Option<String>,
    pub instance: InstanceModel,
}

/// How one instance behaves.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceModel {
    /// Requests per second one instance serves at 100% utilization.
    pub capacity_rps: f64,
    /// From being asked for to serving (`"60s"`).
    #[serde(with = "crate::config::humantime_serde")]
    pub startup: Duration,
    /// Mean service time at no load, ms.
    pub base_latency_ms: f64,
}

impl Profile {
    /// Reads and validates a profile file.
    ///
    /// # Errors
    /// When the file cannot be read, is not TOML of this shape, or does not validate
    /// (every problem is named).
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the profile {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("profile {}", path.display()))
    }

    /// Parses and validates a profile.
    ///
    /// # Errors
    /// As [`Profile::load`].
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let p: Self =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim_end()))?;
        let problems = p.validate();
        anyhow::ensure!(
            problems.is_empty(),
            "{} problem(s):\n  - {}",
            problems.len(),
            problems.join("\n  - ")
        );
        Ok(p)
    }

    /// Every problem with the profile, empty when it is fine.
    pub fn validate(&self) -> Vec<String> {
        let mut e = Vec::new();
        if self.points.len() < 2 {
            e.push(format!(
                "points: needs at least 2 [minute, rps] points, found {}",
                self.points.len()
            ));
        }
        for (i, &[m, rps]) in self.points.iter().enumerate() {
            if !(m.is_finite() && m >= 0.0) {
                e.push(format!("points[{i}]: minute {m} must be 0 or more"));
            }
            if !(rps.is_finite() && rps >= 0.0) {
                e.push(format!("points[{i}]: rps {rps} must be 0 or more"));
            }
            let prev = i.checked_sub(1).and_then(|j| self.points.get(j));
            if let Some(&[prev, _]) = prev.filter(|p| m <= p[0]) {
                e.push(format!(
                    "points[{i}]: minute {m} must come after the previous point's {prev} (points are sorted by minute)"
                ));
            }
        }
        let span = match (self.points.first(), self.points.last()) {
            (Some(first), Some(last)) => last[0] - first[0],
            _ => 0.0,
        };
        if span > MAX_PROFILE_MINUTES {
            e.push(format!(
                "points: spans {span} minutes, at most {MAX_PROFILE_MINUTES} are simulated"
            ));
        }
        if !(self.noise.is_finite() && (0.0..1.0).contains(&self.noise)) {
            e.push(format!(
                "noise: {} must be a fraction, 0 or more and less than 1",
                self.noise
            ));
        }
        let bad_start = self
            .start
            .as_deref()
            .filter(|s| humantime::parse_rfc3339_weak(s).is_err());
        if let Some(s) = bad_start {
            e.push(format!(
                "start: {s:?} is not an RFC 3339 time such as \"2026-11-27T06:00:00Z\""
            ));
        }
        let i = &self.instance;
        if !(i.capacity_rps.is_finite() && i.capacity_rps > 0.0) {
            e.push(format!(
                "instance.capacity_rps: {} must be more than 0",
                i.capacity_rps
            ));
        }
        if !(i.base_latency_ms.is_finite() && i.base_latency_ms > 0.0) {
            e.push(format!(
                "instance.base_latency_ms: {} must be more than 0",
                i.base_latency_ms
            ));
        }
        if i.startup > Duration::from_secs(86_400) {
            e.push("instance.startup: must be at most a day".to_owned());
        }
        e
    }

    /// First simulated second (the first point's minute).
    pub fn start_s(&self) -> u64 {
        self.points
            .first()
            .map_or(0, |p| (p[0] * 60.0).round() as u64)
    }

    /// One past the last simulated second (the last point's minute).
    pub fn end_s(&self) -> u64 {
        self.points
            .last()
            .map_or(0, |p| (p[0] * 60.0).round() as u64)
            .max(self.start_s() + 1)
    }

    /// The profile's demand at second `t`, without noise: linear between points, the
    /// end points' values outside them.
    pub fn base_rps(&self, t: f64) -> f64 {
        let minute = t / 60.0;
        let Some(&[m0, r0]) = self.points.first() else {
            return 0.0;
        };
        if minute <= m0 {
            return r0;
        }
        for w in self.points.windows(2) {
            let ([a, ra], [b, rb]) = (w[0], w[1]);
            if minute <= b {
                return ra + (rb - ra) * (minute - a) / (b - a);
            }
        }
        self.points.last().map_or(0.0, |p| p[1])
    }

    /// Demand during tick `t`: [`Profile::base_rps`] with the noise applied.
    pub fn demand(&self, t: u64) -> f64 {
        let base = self.base_rps(t as f64);
        if self.noise == 0.0 {
            return base;
        }
        (base * (1.0 + self.noise * unit_noise(self.seed, t))).max(0.0)
    }

    /// Wall-clock time of second `t`.
    pub fn time_at(&self, t: u64) -> SystemTime {
        let start = self
            .start
            .as_deref()
            .and_then(|s| humantime::parse_rfc3339_weak(s).ok())
            .unwrap_or(UNIX_EPOCH + Duration::from_secs(DEFAULT_START_UNIX));
        start + Duration::from_secs(t)
    }

    /// Highest demand over the simulated ticks (noise included).
    pub fn peak_demand(&self) -> f64 {
        (self.start_s()..self.end_s())
            .map(|t| self.demand(t))
            .fold(0.0, f64::max)
    }
}

/// Deterministic noise in [-1, 1) for tick `t`.
pub fn unit_noise(seed: u64, t: u64) -> f64 {
    let h = xxhash_rust::xxh3::xxh3_64_with_seed(&t.to_le_bytes(), seed);
    (h >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

/// p99 of a saturated or shedding instance: at least 10× the SLO, and at least what the
/// curve gives at [`SATURATION`].
pub fn saturated_p99(base_latency_ms: f64, slo_ms: f64) -> f64 {
    (base_latency_ms * 100f64.ln() / (1.0 - SATURATION)).max(10.0 * slo_ms)
}

/// What the fleet did during one second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tick {
    pub demand: f64,
    pub served: f64,
    pub shed: f64,
    /// Served over capacity, 0..=1 (1 with no ready instance).
    pub utilization: f64,
    pub p99_ms: f64,
    pub ready: u32,
    pub starting: u32,
}

/// One second of `demand` on `ready` instances.
pub fn model_tick(demand: f64, ready: u32, inst: &InstanceModel, slo_ms: f64) -> Tick {
    let capacity = f64::from(ready) * inst.capacity_rps;
    let served = demand.min(capacity);
    let shed = demand - served;
    let utilization = if capacity > 0.0 {
        served / capacity
    } else {
        1.0
    };
    let p99_ms = if shed > 0.0 || utilization >= SATURATION {
        saturated_p99(inst.base_latency_ms, slo_ms)
    } else {
        inst.base_latency_ms * 100f64.ln() / (1.0 - utilization)
    };
    Tick {
        demand,
        served,
        shed,
        utilization,
        p99_ms,
        ready,
        starting: 0,
    }
}

/// The instances: ready ones, and when each starting one will be.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fleet {
    pub ready: u32,
    /// Second at which each starting instance serves, ascending.
    starting: VecDeque<u64>,
}

impl Fleet {
    pub fn new(ready: u32) -> Self {
        Self {
            ready,
            starting: VecDeque::new(),
        }
    }

    pub fn starting(&self) -> u32 {
        self.starting.len() as u32
    }

    /// Ready plus starting: what the platform runs (and bills).
    pub fn current(&self) -> u32 {
        self.ready + self.starting()
    }

    /// Starting instances due by second `t` become ready.
    pub fn promote(&mut self, t: u64) {
        while self.starting.front().is_some_and(|&at| at <= t) {
            self.starting.pop_front();
            self.ready += 1;
        }
    }

    /// Asks for `desired` instances at second `t`: new ones serve from `t + startup`;
    /// removed ones leave at once, the last started first.
    pub fn scale_to(&mut self, desired: u32, t: u64, startup: u64) {
        while self.current() < desired {
            self.starting.push_back(t + startup);
        }
        while self.current() > desired {
            if self.starting.pop_back().is_none() {
                self.ready -= 1;
            }
        }
    }
}

/// A scaling decision: the count and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub desired: u32,
    pub reason: String,
}

/// A policy under simulation: sees every tick, sometimes decides.
pub trait Controller {
    fn name(&self) -> &'static str;
    /// Instances at the start.
    fn initial(&self) -> u32;
    /// The reason shown before the first decision.
    fn initial_reason(&self) -> &'static str {
        "initial"
    }
    /// Called after each tick `t` was modelled; a decision takes effect at `t + 1`.
    fn after_tick(&mut self, t: u64, tick: &Tick, fleet: &Fleet) -> Option<Step>;
}

/// Instances the adaptive policies start with: the first point's demand at target, at
/// least `min_instances`.
pub fn initial_instances(profile: &Profile, cfg: &ScalerConfig) -> u32 {
    let first = profile.points.first().map_or(0.0, |p| p[1]);
    ((first / cfg.target_rps_per_instance).ceil() as u32)
        .clamp(cfg.min_instances, cfg.max_instances)
}

/// Whole seconds of `d`, at least 1.
fn secs(d: Duration) -> u64 {
    d.as_secs_f64().round().max(1.0) as u64
}

/// [`policy::decide`] every `scaler.interval`, on signals averaged over the interval.
pub struct Synedge<'a> {
    name: &'static str,
    profile: &'a Profile,
    cfg: &'a ScalerConfig,
    history: History,
    interval: u64,
    // Sums over the current interval.
    served: f64,
    shed: f64,
    utilization: f64,
    p99_ms: f64,
    ticks: u32,
}

impl<'a> Synedge<'a> {
    pub fn new(profile: &'a Profile, cfg: &'a ScalerConfig) -> Self {
        Self {
            name: "synedge",
            profile,
            cfg,
            history: History::default(),
            interval: secs(cfg.interval),
            served: 0.0,
            shed: 0.0,
            utilization: 0.0,
            p99_ms: 0.0,
            ticks: 0,
        }
    }
}

impl Synedge<'_> {
    /// The same policy under another name in the outputs.
    pub fn named(self, name: &'static str) -> Self {
        Self { name, ..self }
    }
}

impl Controller for Synedge<'_> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn initial(&self) -> u32 {
        initial_instances(self.profile, self.cfg)
    }

    fn after_tick(&mut self, t: u64, tick: &Tick, fleet: &Fleet) -> Option<Step> {
        self.served += tick.served;
        self.shed += tick.shed;
        self.utilization += tick.utilization;
        self.p99_ms = self.p99_ms.max(tick.p99_ms);
        self.ticks += 1;
        if (t + 1 - self.profile.start_s()) % self.interval != 0 {
            return None;
        }
        let n = f64::from(self.ticks.max(1));
        let ready = f64::from(fleet.ready.max(1));
        let now = self.profile.time_at(t + 1);
        let ts = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        // Fleet means over the interval, split over the instances ready now: the
        // signals add up to what the fleet saw. p99 is the interval's worst tick; p50
        // and p95 (not read by the policy) follow the same M/M/1 curve at the mean
        // utilization.
        let u = self.utilization / n;
        let rps = self.served / n / ready;
        let mean_ms = self.profile.instance.base_latency_ms / (1.0 - u.min(SATURATION));
        let signals: Vec<Option<Signals>> = (0..fleet.ready)
            .map(|i| {
                Some(Signals {
                    ts,
                    window_s: self.interval,
                    rps,
                    shed_rate: self.shed / n / ready,
                    cpu: u,
                    in_flight: (rps * mean_ms / 1000.0).round() as u64,
                    p99_ms: self.p99_ms,
                    p95_ms: (mean_ms * 20f64.ln()).min(self.p99_ms),
                    p50_ms: (mean_ms * 2f64.ln()).min(self.p99_ms),
                    ..Signals::idle(format!("sim-{i}"))
                })
            })
            .collect();
        (
            self.served,
            self.shed,
            self.utilization,
            self.p99_ms,
            self.ticks,
        ) = (0.0, 0.0, 0.0, 0.0, 0);
        let d = policy::decide(&signals, fleet.current(), self.cfg, now, &self.history);
        self.history.record(now, &d, self.cfg);
        Some(Step {
            desired: d.desired,
            reason: d.reason.as_str().to_owned(),
        })
    }
}

/// Peak provisioning: `ceil(peak demand / target_rps_per_instance)` from the start.
pub struct Static {
    count: u32,
}

impl Static {
    pub fn new(profile: &Profile, cfg: &ScalerConfig) -> Self {
        let count = (profile.peak_demand() / cfg.target_rps_per_instance).ceil() as u32;
        Self {
            count: count.clamp(cfg.min_instances, cfg.max_instances),
        }
    }
}

impl Controller for Static {
    fn name(&self) -> &'static str {
        "static"
    }

    fn initial(&self) -> u32 {
        self.count
    }

    fn initial_reason(&self) -> &'static str {
        "peak_provisioned"
    }

    fn after_tick(&mut self, _: u64, _: &Tick, _: &Fleet) -> Option<Step> {
        None
    }
}

/// One row of `timeline.csv`: one `scaler.interval` of one policy, ending at `t_s`.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub t_s: u64,
    /// Means over the interval.
    pub demand_rps: f64,
    pub served_rps: f64,
    pub shed_rps: f64,
    /// At the interval's last tick, before the decision at `t_s`.
    pub ready: u32,
    pub starting: u32,
    /// The latest decision, as of `t_s`.
    pub desired: u32,
    /// Worst tick of the interval.
    pub p99_ms: f64,
    pub reason: String,
}

/// One policy's totals (`summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub policy: String,
    /// Minutes with a tick over `scaler.latency_slo` or any request shed.
    pub slo_minutes: u64,
    pub shed_requests: u64,
    /// Ready and starting instances, integrated over time.
    pub instance_hours: f64,
    pub peak_instances: u32,
    /// Scaling reversals: up then down, or down then up.
    pub direction_changes: u32,
    /// Flapping: reversals from scaling in to scaling out within
    /// `scaler.scale_down.stabilization` of the last scale-in (capacity handed back, then
    /// asked for again). Any oscillation faster than the window has one. A scale-in soon
    /// after a scale-out (a forecast that did not come true, taken back) is a reversal
    /// but not a flap.
    #[serde(default)]
    pub flaps: u32,
}

/// One policy's run.
#[derive(Debug, Clone)]
pub struct PolicyRun {
    pub rows: Vec<Row>,
    /// Start seconds of the minutes counted in `slo_minutes`.
    pub bad_minutes: Vec<u64>,
    pub summary: Summary,
}

/// Runs one policy over the profile.
pub fn run_policy(
    profile: &Profile,
    cfg: &ScalerConfig,
    controller: &mut dyn Controller,
) -> PolicyRun {
    let slo_ms = cfg.latency_slo.as_secs_f64() * 1000.0;
    let startup = profile.instance.startup.as_secs_f64().round() as u64;
    let interval = secs(cfg.interval);
    let (t0, t_end) = (profile.start_s(), profile.end_s());
    let mut fleet = Fleet::new(controller.initial());
    let mut rows = Vec::new();
    let mut bad = BTreeSet::new();
    let (mut shed_total, mut instance_s, mut peak) = (0.0, 0u64, 0u32);
    let (mut last_dir, mut changes) = (Direction::None, 0u32);
    let stab = cfg.scale_down.stabilization.as_secs();
    let (mut last_down, mut flaps): (Option<u64>, u32) = (None, 0);
    let mut desired = fleet.current();
    let mut reason = controller.initial_reason().to_owned();
    let mut acc = (0.0, 0.0, 0.0, 0.0f64, 0u32);
    for t in t0..t_end {
        fleet.promote(t);
        let mut tick = model_tick(profile.demand(t), fleet.ready, &profile.instance, slo_ms);
        tick.starting = fleet.starting();
        if tick.shed > 0.0 || tick.p99_ms > slo_ms {
            bad.insert(t / 60 * 60);
        }
        shed_total += tick.shed;
        instance_s += u64::from(fleet.current());
        peak = peak.max(fleet.current());
        acc = (
            acc.0 + tick.demand,
            acc.1 + tick.served,
            acc.2 + tick.shed,
            acc.3.max(tick.p99_ms),
            acc.4 + 1,
        );
        if let Some(step) = controller.after_tick(t, &tick, &fleet) {
            let current = fleet.current();
            let dir = match step.desired.cmp(&current) {
                std::cmp::Ordering::Greater => Direction::Up,
                std::cmp::Ordering::Less => Direction::Down,
                std::cmp::Ordering::Equal => Direction::None,
            };
            let last_dir_before = last_dir;
            if dir != Direction::None {
                if last_dir != Direction::None && dir != last_dir {
                    changes += 1;
                }
                last_dir = dir;
            }
            match dir {
                Direction::Down => last_down = Some(t + 1),
                Direction::Up
                    if last_dir_before == Direction::Down
                        && last_down.is_some_and(|d| t + 1 - d < stab) =>
                {
                    flaps += 1;
                }
                _ => {}
            }
            desired = step.desired;
            reason = step.reason;
            fleet.scale_to(desired, t + 1, startup);
        }
        if (t + 1 - t0) % interval == 0 || t + 1 == t_end {
            let n = f64::from(acc.4.max(1));
            rows.push(Row {
                t_s: t + 1,
                demand_rps: acc.0 / n,
                served_rps: acc.1 / n,
                shed_rps: acc.2 / n,
                ready: tick.ready,
                starting: tick.starting,
                desired,
                p99_ms: acc.3,
                reason: reason.clone(),
            });
            acc = (0.0, 0.0, 0.0, 0.0, 0);
        }
    }
    PolicyRun {
        rows,
        summary: Summary {
            policy: controller.name().to_owned(),
            slo_minutes: bad.len() as u64,
            shed_requests: shed_total.round() as u64,
            instance_hours: (instance_s as f64 / 3600.0 * 1000.0).round() / 1000.0,
            peak_instances: peak,
            direction_changes: changes,
            flaps,
        },
        bad_minutes: bad.into_iter().collect(),
    }
}

/// The policies over one profile: `synedge`, `synedge-no-schedule`, `hpa`, `static`.
#[derive(Debug, Clone)]
pub struct Simulation {
    pub runs: Vec<PolicyRun>,
}

impl Simulation {
    pub fn run(profile: &Profile, cfg: &ScalerConfig) -> Self {
        let unscheduled = ScalerConfig {
            schedule: Vec::new(),
            ..cfg.clone()
        };
        let mut synedge = Synedge::new(profile, cfg);
        let mut blind = Synedge::new(profile, &unscheduled).named("synedge-no-schedule");
        let mut hpa = Hpa::new(profile, cfg);
        let mut fixed = Static::new(profile, cfg);
        let controllers: [&mut dyn Controller; 4] =
            [&mut synedge, &mut blind, &mut hpa, &mut fixed];
        Self {
            runs: controllers
                .into_iter()
                .map(|c| run_policy(profile, cfg, c))
                .collect(),
        }
    }

    pub fn summaries(&self) -> Vec<Summary> {
        self.runs.iter().map(|r| r.summary.clone()).collect()
    }

    /// `timeline.csv`.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "policy,t_s,demand_rps,served_rps,shed_rps,ready,starting,desired,p99_ms,reason\n",
        );
        for run in &self.runs {
            for r in &run.rows {
                let _ = writeln!(
                    out,
                    "{},{},{:.1},{:.1},{:.1},{},{},{},{:.1},{}",
                    run.summary.policy,
                    r.t_s,
                    r.demand_rps,
                    r.served_rps,
                    r.shed_rps,
                    r.ready,
                    r.starting,
                    r.desired,
                    r.p99_ms,
                    r.reason
                );
            }
        }
        out
    }

    /// The summary as a table for people.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<19} {:>11} {:>13} {:>14} {:>14} {:>17} {:>5}\n",
            "policy",
            "slo_minutes",
            "shed_requests",
            "instance_hours",
            "peak_instances",
            "direction_changes",
            "flaps"
        );
        for s in self.summaries() {
            let _ = writeln!(
                out,
                "{:<19} {:>11} {:>13} {:>14.2} {:>14} {:>17} {:>5}",
                s.policy,
                s.slo_minutes,
                s.shed_requests,
                s.instance_hours,
                s.peak_instances,
                s.direction_changes,
                s.flaps
            );
        }
        out
    }
}

/// `synedge simulate`: runs the profile at `profile_path` and writes the outputs into
/// `out` (created). Returns the summary table.
///
/// # Errors
/// A profile that does not load or validate; an output that cannot be written.
pub fn simulate(profile_path: &Path, cfg: &ScalerConfig, out: &Path) -> anyhow::Result<String> {
    let profile = Profile::load(profile_path)?;
    if cfg.target_rps_per_instance > profile.instance.capacity_rps {
        tracing::warn!(
            target_rps_per_instance = cfg.target_rps_per_instance,
            capacity_rps = profile.instance.capacity_rps,
            "scaler.target_rps_per_instance is above the profile's instance.capacity_rps: \
             the policy will aim past saturation; run with a [scaler] config made for this profile"
        );
    }
    let sim = Simulation::run(&profile, cfg);
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let write = |name: &str, body: &str| -> anyhow::Result<PathBuf> {
        let path = out.join(name);
        std::fs::write(&path, body).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    };
    write("timeline.csv", &sim.csv())?;
    let title = profile.name.clone().unwrap_or_else(|| {
        profile_path.file_name().map_or_else(
            || "profile".to_owned(),
            |f| f.to_string_lossy().into_owned(),
        )
    });
    write("chart.svg", &chart::svg(&sim, &profile, cfg, &title))?;
    let json = serde_json::to_string_pretty(&sim.summaries())?;
    write("summary.json", &(json + "\n"))?;
    Ok(sim.table())
}

#[cfg(test)]
mod tests;
