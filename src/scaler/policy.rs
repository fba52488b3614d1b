//! The scaling policy (DESIGN.md §6): a pure function from what the fleet measured to how
//! many instances it should run. The loop (`scaler::controller`) and the simulator
//! (`scaler::simulate`) call the same [`decide`], and keep its [`History`].
//!
//! Rules, in the order they combine:
//! 1. target tracking: `ceil(current × load / target)` on rps per instance (served plus
//!    shed: shed requests are demand too) and on CPU, the larger wins; within ±10% of the
//!    target nothing changes;
//! 2. forecast (scale-out only): a least-squares line through the last 2 × `forecast_lead`
//!    of fleet demand, read `forecast_lead` ahead;
//! 3. latency guard: p99 over `latency_slo`, or any shedding, asks for at least one
//!    guard step more than the instances serving now, whatever the rps says;
//! 4. scheduled floors; then `min_instances..=max_instances`;
//! 5. scale-out at once, in steps of at most max(current × `max_percent`, `max_instances`);
//!    scale-in only when every recommendation over `stabilization` was below the current
//!    count (to the highest of them), never while p99 is over the SLO, and at most
//!    `max_percent_per_minute` (at least one instance) per minute.
//!
//! `signals` lists the instances the fleet knows (the peers): one that did not report
//! (`None`: unready, unreachable) counts as fully loaded, as busy as the busiest instance
//! and at least at target, never as idle. Instances the platform runs beyond that list
//! (`current` > `signals.len()`: still starting) add no demand, so capacity on its way
//! is not mistaken for load. With no report at all, nothing changes.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::config::ScalerConfig;
use crate::signals::Signals;

/// The most demand history the forecast fits: twice `forecast_lead`, within
/// [`MIN_FORECAST_WINDOW`]..=[`FORECAST_WINDOW`]. Short enough that a surge's slope is not
/// diluted by the flat minutes before it, nor a finished surge's by its ramp.
pub const FORECAST_WINDOW: Duration = Duration::from_secs(300);
pub const MIN_FORECAST_WINDOW: Duration = Duration::from_secs(30);
/// Target tracking leaves the count alone within this share of the target.
pub const TOLERANCE: f64 = 0.1;
/// The scale-in rate limit is per this period.
const SCALE_DOWN_PERIOD: Duration = Duration::from_secs(60);
/// Fewest demand samples the forecast fits a line through.
const FORECAST_MIN_SAMPLES: usize = 3;

/// Which rule set the desired count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Within tolerance of the targets: no change.
    OnTarget,
    TargetRps,
    TargetCpu,
    Forecast,
    LatencySlo,
    Shedding,
    Schedule,
    MinInstances,
    MaxInstances,
    /// Scale-in recommended, but not yet for the whole stabilization window.
    Stabilizing,
    /// Scale-in recommended, but p99 is over the SLO.
    HeldForLatency,
    /// Scale-in recommended, but the last one was under a minute ago.
    RateLimited,
    /// No instance reported: nothing to decide from, so nothing changes.
    NoSignals,
}

impl Reason {
    pub const ALL: [Reason; 13] = [
        Self::OnTarget,
        Self::TargetRps,
        Self::TargetCpu,
        Self::Forecast,
        Self::LatencySlo,
        Self::Shedding,
        Self::Schedule,
        Self::MinInstances,
        Self::MaxInstances,
        Self::Stabilizing,
        Self::HeldForLatency,
        Self::RateLimited,
        Self::NoSignals,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnTarget => "on_target",
            Self::TargetRps => "target_rps",
            Self::TargetCpu => "target_cpu",
            Self::Forecast => "forecast",
            Self::LatencySlo => "latency_slo",
            Self::Shedding => "shedding",
            Self::Schedule => "schedule",
            Self::MinInstances => "min_instances",
            Self::MaxInstances => "max_instances",
            Self::Stabilizing => "stabilizing",
            Self::HeldForLatency => "held_for_latency",
            Self::RateLimited => "rate_limited",
            Self::NoSignals => "no_signals",
        }
    }
}

/// Up, down, or no change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Up,
    Down,
    None,
}

impl Direction {
    pub const ALL: [Direction; 3] = [Self::Up, Self::Down, Self::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::None => "none",
        }
    }
}

/// What [`decide`] concluded, with what it saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub desired: u32,
    pub current: u32,
    /// What the rules asked for before the step limits and scale-in gating.
    pub recommended: u32,
    pub direction: Direction,
    pub reason: Reason,
    /// A sentence for people: the numbers behind the reason.
    pub detail: String,
    /// Fleet demand (served + shed rps, unreporting instances imputed).
    pub demand_rps: f64,
    /// Demand expected `forecast_lead` ahead, when there was enough history.
    pub forecast_rps: Option<f64>,
    /// Highest p99 among reporting instances, ms.
    pub p99_ms: f64,
    /// Mean CPU across instances (imputed for unreporting ones).
    pub cpu: f64,
    /// Instances that reported signals.
    pub reporting: usize,
}

/// What earlier decisions leave for later ones. Updated by [`History::record`] after each
/// [`decide`]; `decide` itself only reads it.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Fleet demand per decision, oldest first, over [`FORECAST_WINDOW`].
    demand: VecDeque<(SystemTime, f64)>,
    /// Recommended counts per decision, oldest first, over the stabilization window.
    recommended: VecDeque<(SystemTime, u32)>,
    /// When the count last went down.
    last_scale_down: Option<SystemTime>,
    /// When the first decision was recorded: stabilization needs a full window of them.
    since: Option<SystemTime>,
}

impl History {
    pub fn record(&mut self, now: SystemTime, d: &Decision, cfg: &ScalerConfig) {
        self.since.get_or_insert(now);
        self.demand.push_back((now, d.demand_rps));
        self.recommended.push_back((now, d.recommended));
        if d.desired < d.current {
            self.last_scale_down = Some(now);
        }
        let keep =
            |t: SystemTime, window: Duration| now.duration_since(t).unwrap_or_default() <= window;
        while self
            .demand
            .front()
            .is_some_and(|&(t, _)| !keep(t, FORECAST_WINDOW))
        {
            self.demand.pop_front();
        }
        let stab = cfg.scale_down.stabilization;
        while self
            .recommended
            .front()
            .is_some_and(|&(t, _)| !keep(t, stab))
        {
            self.recommended.pop_front();
        }
    }
}

/// Decides how many instances the fleet should run. Pure: same inputs, same answer.
///
/// `signals` has one entry per instance the fleet has (`None`: it did not report);
/// `current` is how many instances the platform runs now.
pub fn decide(
    signals: &[Option<Signals>],
    current: u32,
    cfg: &ScalerConfig,
    now: SystemTime,
    history: &History,
) -> Decision {
    let current = current.max(1);
    let n = f64::from(current);
    let reports: Vec<&Signals> = signals.iter().flatten().collect();
    let reporting = reports.len();
    let missing = (signals.len() - reporting) as f64;
    let busiest_rps = reports
        .iter()
        .map(|s| s.rps + s.shed_rate)
        .fold(cfg.target_rps_per_instance, f64::max);
    let busiest_cpu = reports.iter().map(|s| s.cpu).fold(cfg.target_cpu, f64::max);
    let demand_rps =
        reports.iter().map(|s| s.rps + s.shed_rate).sum::<f64>() + missing * busiest_rps;
    // CPU in instances' worth of cores, like demand in requests: what it takes does not
    // depend on how many instances are still starting.
    let cpu_load = reports.iter().map(|s| s.cpu).sum::<f64>() + missing * busiest_cpu;
    let listed = signals.len();
    let cpu = cpu_load / (listed as f64).max(1.0);
    let p99_ms = reports.iter().map(|s| s.p99_ms).fold(0.0, f64::max);
    let shedding = reports.iter().any(|s| s.shed_rate > 0.0);
    let slo_ms = cfg.latency_slo.as_secs_f64() * 1000.0;
    let over_slo = p99_ms > slo_ms;

    // 1. Target tracking.
    let rps_ratio = demand_rps / n / cfg.target_rps_per_instance;
    let cpu_ratio = cpu_load / n / cfg.target_cpu;
    let (ratio, mut reason) = if cpu_ratio > rps_ratio {
        (cpu_ratio, Reason::TargetCpu)
    } else {
        (rps_ratio, Reason::TargetRps)
    };
    let mut recommended = if (ratio - 1.0).abs() <= TOLERANCE {
        reason = Reason::OnTarget;
        current
    } else {
        ceil_u32(n * ratio)
    };
    let mut detail = format!(
        "demand {demand_rps:.0} rps over {current} instances ({:.0}% of target), cpu {:.0}% ({:.0}% of target)",
        rps_ratio * 100.0,
        cpu * 100.0,
        cpu_ratio * 100.0
    );

    // 2. Forecast: scale-out only.
    let forecast_rps = forecast(history, now, demand_rps, cfg.forecast_lead);
    if let Some(f) = forecast_rps {
        let want = ceil_u32(f / cfg.target_rps_per_instance);
        if f > demand_rps && want > recommended {
            recommended = want;
            reason = Reason::Forecast;
            detail = format!(
                "demand {demand_rps:.0} rps rising; {f:.0} rps expected in {}s",
                cfg.forecast_lead.as_secs()
            );
        }
    }

    // 3. Latency guard: one step over the instances that serve now; instances already
    // starting count towards it, so a slow minute does not add a step every interval.
    if over_slo || shedding {
        let serving = u32::try_from(listed).unwrap_or(u32::MAX);
        let want = serving.saturating_add(guard_step(serving));
        if want > recommended {
            recommended = want;
            (reason, detail) = if shedding {
                (
                    Reason::Shedding,
                    format!("shedding requests; p99 {p99_ms:.1} ms"),
                )
            } else {
                (
                    Reason::LatencySlo,
                    format!("p99 {p99_ms:.1} ms is over the {slo_ms:.0} ms SLO"),
                )
            };
        }
    }

    // 4. Floors and bounds.
    let floor = cfg
        .schedule
        .iter()
        .filter(|w| w.window().is_some_and(|(a, b)| a <= now && now < b))
        .map(|w| w.min_instances)
        .max();
    if let Some(f) = floor.filter(|&f| f > recommended) {
        recommended = f;
        reason = Reason::Schedule;
        detail = format!("scheduled floor of {f} instances");
    }
    if recommended < cfg.min_instances {
        recommended = cfg.min_instances;
        reason = Reason::MinInstances;
    }
    if recommended > cfg.max_instances {
        recommended = cfg.max_instances;
        reason = Reason::MaxInstances;
        detail.push_str(&format!("; capped at max_instances {}", cfg.max_instances));
    }

    // 5. Steps and scale-in gating.
    let mut desired = recommended;
    if reporting == 0 && recommended <= current {
        // Blind (every peer unreachable, DNS failing): never scale in on no data.
        desired = current;
        reason = Reason::NoSignals;
        detail = "no instance reported signals".to_owned();
    } else if recommended > current {
        let step = ceil_u32(n * f64::from(cfg.scale_up.max_percent) / 100.0)
            .max(cfg.scale_up.max_instances)
            .max(1);
        desired = recommended.min(current.saturating_add(step));
    } else if recommended < current && current > cfg.max_instances {
        // Over the maximum (it was lowered): go there at once.
        desired = cfg.max_instances;
        reason = Reason::MaxInstances;
    } else if recommended < current {
        let stab = cfg.scale_down.stabilization;
        let full_window = history
            .since
            .is_some_and(|t| now.duration_since(t).unwrap_or_default() >= stab);
        // The highest recommendation over the window, this one included (as HPA does).
        let highest = history
            .recommended
            .iter()
            .filter(|&&(t, _)| now.duration_since(t).unwrap_or_default() <= stab)
            .map(|&(_, r)| r)
            .fold(recommended, u32::max);
        let since_last = history
            .last_scale_down
            .map(|t| now.duration_since(t).unwrap_or_default());
        if over_slo {
            desired = current;
            reason = Reason::HeldForLatency;
            detail = format!("would scale in, but p99 {p99_ms:.1} ms is over the SLO");
        } else if !full_window || highest >= current {
            desired = current;
            detail = format!(
                "would scale in to {recommended}, but not yet recommended for {}s",
                stab.as_secs()
            );
            reason = Reason::Stabilizing;
        } else if since_last.is_some_and(|d| d < SCALE_DOWN_PERIOD) {
            desired = current;
            reason = Reason::RateLimited;
            detail = format!("would scale in to {highest}, but scaled in under a minute ago");
        } else {
            let most = (f64::from(current) * f64::from(cfg.scale_down.max_percent_per_minute)
                / 100.0)
                .floor()
                .max(1.0) as u32;
            desired = highest
                .max(current.saturating_sub(most))
                .max(cfg.min_instances);
        }
    }
    let direction = match desired.cmp(&current) {
        std::cmp::Ordering::Greater => Direction::Up,
        std::cmp::Ordering::Less => Direction::Down,
        std::cmp::Ordering::Equal => Direction::None,
    };
    Decision {
        desired,
        current,
        recommended,
        direction,
        reason,
        detail,
        demand_rps,
        forecast_rps,
        p99_ms,
        cpu,
        reporting,
    }
}

/// The latency guard's step: one instance, or a quarter more for large fleets.
fn guard_step(current: u32) -> u32 {
    current.div_ceil(4).max(1)
}

fn ceil_u32(x: f64) -> u32 {
    if x.is_finite() && x > 0.0 {
        x.ceil().min(f64::from(u32::MAX)) as u32
    } else {
        0
    }
}

/// Demand expected `lead` from now: a least-squares line through the recorded demand
/// and now's, over the last 2 × `lead` (see [`FORECAST_WINDOW`]). `None` with too little
/// history.
fn forecast(history: &History, now: SystemTime, demand: f64, lead: Duration) -> Option<f64> {
    let window = (lead * 2).clamp(MIN_FORECAST_WINDOW, FORECAST_WINDOW);
    let points: Vec<(f64, f64)> = history
        .demand
        .iter()
        .filter_map(|&(t, v)| {
            let age = now.duration_since(t).ok()?;
            (age <= window).then(|| (-age.as_secs_f64(), v))
        })
        .chain(std::iter::once((0.0, demand)))
        .collect();
    if points.len() < FORECAST_MIN_SAMPLES {
        return None;
    }
    let k = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), &(x, y)| (a + x, b + y));
    let (mx, my) = (sx / k, sy / k);
    let (sxy, sxx) = points.iter().fold((0.0, 0.0), |(a, b), &(x, y)| {
        (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
    });
    if sxx <= f64::EPSILON {
        return None;
    }
    let slope = sxy / sxx;
    // From now's value, not the line's intercept: the line smooths, now is what is.
    Some((demand + slope * lead.as_secs_f64()).max(0.0))
}

#[cfg(test)]
mod tests;
