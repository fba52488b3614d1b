//! The scaling policy (DESIGN.md §6): a pure function from what the fleet measured to how
//! many instances it should run. The loop (`scaler::controller`) and the simulator
//! (`scaler::simulate`) call the same [`decide`], and keep its [`History`].
//!
//! Rules, in the order they combine:
//! 1. target tracking on rps per instance (served plus shed: shed requests are demand
//!    too) and on CPU, the larger wins. Within the tolerance band (±10% of the target)
//!    nothing changes; above it the fleet grows to the target (`ceil(current × load /
//!    target)`); below it, it shrinks to the fewest instances the band still holds (load
//!    at most target + 10%), as a forecast is sized: a fleet sizes the same at rest
//!    whether it came from above or below. For a stabilization window after a scale-in,
//!    the band reaches [`AFTER_SCALE_IN_TOLERANCE`] over the target: what was just handed
//!    back is asked for again on a real rise, not on a wobble (the latency guard still acts
//!    at once);
//! 2. forecast (scale-out only), on fleet demand: a surge is a rise over the last
//!    [`SURGE_WINDOW`] (least-squares slope) that the latest interval confirms, each
//!    worth more than the tolerance over `forecast_lead`; while one lasts, demand is read
//!    `forecast_lead` ahead on the latest interval's slope. Once the latest interval rises
//!    less than that (under half the window's slope, or under the tolerance), demand has
//!    levelled off and nothing is extrapolated: a finished ramp's slope is not carried past
//!    its top. A forecast is a guess, so it is sized to the top of the band in force
//!    (`target × 1.1` per instance, `× 1.25` just after a scale-in); target tracking adds
//!    the rest once it is measured;
//! 3. latency guard: p99 over `latency_slo`, or any shedding, asks for at least one
//!    guard step more than the instances serving now, whatever the rps says;
//! 4. scheduled floors; then `min_instances..=max_instances`;
//! 5. scale-out at once, in steps of at most max(current × `max_percent`, `max_instances`);
//!    scale-in only when every recommendation over `stabilization` was below the current
//!    count (to the highest of them; a forecast's only for `forecast_lead`, by when it
//!    came true or not), never while demand is rising or p99 is over the SLO, never below
//!    what the remembered peak needs (see [`remembered_peak`]: a dip between two surges
//!    does not dump the capacity the next one needs), and at most
//!    `max_percent_per_minute` (at least one instance) per minute, except that what only
//!    a forecast asked for, and no measurement since, goes at once, however recent the
//!    last scale-in.
//!
//! `signals` lists the instances the fleet knows (the peers): one that did not report
//! (`None`: unready, unreachable) counts as fully loaded, as busy as the busiest instance
//! and at least at target, never as idle. Instances the platform runs beyond that list
//! (`current` > `signals.len()`: still starting) add no demand, so capacity on its way
//! is not mistaken for load. With no report at all, nothing changes.

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::config::ScalerConfig;
use crate::signals::Signals;

/// The forecast reads a surge's slope over this window (at least two decisions back):
/// short, so a surge shows within about 30 s of its start, and a finished ramp leaves it
/// as fast.
pub const SURGE_WINDOW: Duration = Duration::from_secs(30);
/// The peak memory holds a demand peak at full weight for this many stabilization
/// windows after it was seen (with a 5-minute window: 8¾ minutes, a dip of about 6
/// after a 2-minute fall) ...
pub const PEAK_HOLD_WINDOWS: f64 = 1.75;
/// ... then lets it fade linearly to nothing over this many more.
pub const PEAK_FADE_WINDOWS: f64 = 1.0;
/// Target tracking leaves the count alone within this share of the target.
pub const TOLERANCE: f64 = 0.1;
/// For a stabilization window after a scale-in, the band's upper edge: load may rise this
/// share over the target before target tracking or a forecast asks for more again.
/// Scale-in sizes to the band's top, so a few percent of noise would otherwise undo it
/// (a flap); a real rise passes this edge, and the latency guard does not wait for it.
pub const AFTER_SCALE_IN_TOLERANCE: f64 = 0.25;
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
    /// Scale-in recommended, but the recently seen peak (fading) still needs these
    /// instances: the dip may be between two surges.
    PeakMemory,
}

impl Reason {
    pub const ALL: [Reason; 14] = [
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
        Self::PeakMemory,
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
            Self::PeakMemory => "peak_memory",
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
    /// `recommended` without the forecast: what was measured. The stabilization window
    /// holds a forecast's ask for `forecast_lead` only (by then it came true or not), a
    /// measured one for the whole window.
    pub measured: u32,
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
    /// Fleet demand per decision, oldest first, over the peak memory's horizon
    /// ([`peak_horizon`]) and at least the forecast's window.
    demand: VecDeque<(SystemTime, f64)>,
    /// Per decision, oldest first, over the stabilization window: (when, measured,
    /// recommended); see [`Decision::measured`].
    recommended: VecDeque<(SystemTime, u32, u32)>,
    /// When the count last went down.
    last_scale_down: Option<SystemTime>,
    /// After a scale-out the forecast asked for (more than was measured): the most
    /// instances measurement asked for since. What is above it only the forecast wanted,
    /// and it did not come true. `None` after any other change.
    measured_since_forecast: Option<u32>,
    /// When the first decision was recorded: stabilization needs a full window of them.
    since: Option<SystemTime>,
}

impl History {
    pub fn record(&mut self, now: SystemTime, d: &Decision, cfg: &ScalerConfig) {
        self.since.get_or_insert(now);
        self.demand.push_back((now, d.demand_rps));
        self.recommended.push_back((now, d.measured, d.recommended));
        if d.desired < d.current {
            self.last_scale_down = Some(now);
        }
        self.measured_since_forecast = match d.desired.cmp(&d.current) {
            Ordering::Greater if d.measured < d.desired => Some(d.measured),
            Ordering::Greater => None,
            // Kept while some of what the forecast asked for is still there.
            _ => self
                .measured_since_forecast
                .map(|m| m.max(d.measured))
                .filter(|&m| m < d.desired),
        };
        let keep =
            |t: SystemTime, window: Duration| now.duration_since(t).unwrap_or_default() <= window;
        let demand_window = peak_horizon(cfg).max(surge_window(cfg));
        while self
            .demand
            .front()
            .is_some_and(|&(t, _)| !keep(t, demand_window))
        {
            self.demand.pop_front();
        }
        let stab = cfg.scale_down.stabilization;
        while self
            .recommended
            .front()
            .is_some_and(|&(t, _, _)| !keep(t, stab))
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
    let just_scaled_in = history
        .last_scale_down
        .is_some_and(|t| now.duration_since(t).unwrap_or_default() < cfg.scale_down.stabilization);
    let up_tolerance = if just_scaled_in {
        AFTER_SCALE_IN_TOLERANCE
    } else {
        TOLERANCE
    };
    let on_target = (1.0 - TOLERANCE..=1.0 + up_tolerance).contains(&ratio);
    let tracked = if on_target {
        current
    } else if ratio > 1.0 {
        ceil_u32(n * ratio)
    } else {
        ceil_u32(n * ratio / (1.0 + TOLERANCE))
    };
    let mut recommended = tracked;
    if on_target {
        reason = Reason::OnTarget;
    }
    let mut detail = format!(
        "demand {demand_rps:.0} rps over {current} instances ({:.0}% of target), cpu {:.0}% ({:.0}% of target)",
        rps_ratio * 100.0,
        cpu * 100.0,
        cpu_ratio * 100.0
    );
    if on_target && ratio > 1.0 + TOLERANCE {
        detail.push_str(&format!(
            "; up to {:.0}% over target is on target for {}s after a scale-in",
            AFTER_SCALE_IN_TOLERANCE * 100.0,
            cfg.scale_down.stabilization.as_secs()
        ));
    }

    // 2. Forecast: scale-out only.
    let outlook = outlook(history, now, demand_rps, cfg);
    let forecast_rps = outlook.forecast;
    let mut forecast_want = 0;
    if let Some(f) = forecast_rps {
        // A guess, so sized to bring the forecast within the band in force, not to the
        // target: target tracking adds the rest once the demand is measured.
        let want = ceil_u32(f / (cfg.target_rps_per_instance * (1.0 + up_tolerance)));
        if f > demand_rps && want > recommended {
            forecast_want = want;
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
    let mut guard_want = 0;
    if over_slo || shedding {
        let serving = u32::try_from(listed).unwrap_or(u32::MAX);
        let want = serving.saturating_add(guard_step(serving));
        guard_want = want;
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

    // The same without the forecast, when it raised the count: target tracking, the
    // guard, the floor, the bounds.
    let measured = if forecast_want == 0 {
        recommended
    } else {
        tracked
            .max(guard_want)
            .max(floor.unwrap_or(0))
            .max(cfg.min_instances)
            .min(recommended)
    };

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
        // The highest recommendation over the window, this one included (as HPA does);
        // a forecast's only while it is `forecast_lead` old at most.
        let highest = history
            .recommended
            .iter()
            .filter_map(|&(t, measured, r)| {
                let age = now.duration_since(t).unwrap_or_default();
                (age <= stab).then_some(if age <= cfg.forecast_lead {
                    r
                } else {
                    measured
                })
            })
            .fold(recommended, u32::max);
        let since_last = history
            .last_scale_down
            .map(|t| now.duration_since(t).unwrap_or_default());
        // What only a forecast asked for, and no measurement since (it did not come
        // true), goes at once; what was needed goes at the rate limit.
        let needed = history
            .measured_since_forecast
            .map_or(current, |m| m.max(measured));
        if outlook.rising {
            // Demand is rising: what it measures now will not last.
            desired = current;
            reason = Reason::Forecast;
            detail = format!("would scale in to {recommended}, but demand is rising");
        } else if over_slo {
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
        } else if current <= needed && since_last.is_some_and(|d| d < SCALE_DOWN_PERIOD) {
            desired = current;
            reason = Reason::RateLimited;
            detail = format!("would scale in to {highest}, but scaled in under a minute ago");
        } else {
            let most = (f64::from(current) * f64::from(cfg.scale_down.max_percent_per_minute)
                / 100.0)
                .floor()
                .max(1.0) as u32;
            // The peak is sized as the band sizes any load at rest.
            let peak = remembered_peak(history, now, cfg);
            let for_peak = ceil_u32(peak / (cfg.target_rps_per_instance * (1.0 + TOLERANCE)))
                .min(cfg.max_instances);
            desired = if current > needed {
                highest.max(needed)
            } else {
                highest.max(current.saturating_sub(most))
            }
            .max(cfg.min_instances);
            if for_peak > desired {
                desired = for_peak.min(current);
                reason = Reason::PeakMemory;
                detail = format!(
                    "would scale in to {highest}, but a recent peak of {peak:.0} rps (fading) needs {for_peak}"
                );
            }
        }
    }
    let direction = match desired.cmp(&current) {
        Ordering::Greater => Direction::Up,
        Ordering::Less => Direction::Down,
        Ordering::Equal => Direction::None,
    };
    Decision {
        desired,
        current,
        recommended,
        measured,
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

/// Rounds up, forgiving float noise (7 × 5000 / 7000 is 5.000000000000001).
fn ceil_u32(x: f64) -> u32 {
    if x.is_finite() && x > 0.0 {
        (x - 1e-9).ceil().min(f64::from(u32::MAX)) as u32
    } else {
        0
    }
}

/// [`SURGE_WINDOW`], at least two intervals: three samples to fit.
fn surge_window(cfg: &ScalerConfig) -> Duration {
    SURGE_WINDOW.max(cfg.interval * 2)
}

/// How long the peak memory reaches back: [`PEAK_HOLD_WINDOWS`] + [`PEAK_FADE_WINDOWS`]
/// stabilization windows.
pub fn peak_horizon(cfg: &ScalerConfig) -> Duration {
    cfg.scale_down
        .stabilization
        .mul_f64(PEAK_HOLD_WINDOWS + PEAK_FADE_WINDOWS)
}

/// The demand a recent peak still asks capacity for: each recorded demand, at full
/// weight for [`PEAK_HOLD_WINDOWS`] stabilization windows after it was seen, then fading
/// linearly to nothing over [`PEAK_FADE_WINDOWS`] more; the largest of them. A dip
/// shorter than the hold keeps the peak's capacity; a longer quiet gives it back
/// gradually, at most `max_percent_per_minute` a minute as any scale-in.
pub fn remembered_peak(history: &History, now: SystemTime, cfg: &ScalerConfig) -> f64 {
    let stab = cfg.scale_down.stabilization.as_secs_f64();
    let (hold, fade) = (stab * PEAK_HOLD_WINDOWS, stab * PEAK_FADE_WINDOWS);
    history
        .demand
        .iter()
        .filter_map(|&(t, v)| {
            let age = now.duration_since(t).ok()?.as_secs_f64();
            let weight = if age <= hold {
                1.0
            } else if fade > 0.0 {
                1.0 - (age - hold) / fade
            } else {
                0.0
            };
            (weight > 0.0).then_some(v * weight)
        })
        .fold(0.0, f64::max)
}

/// What the recent demand says about the next `forecast_lead`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Outlook {
    /// Demand expected `forecast_lead` from now; `None` with too little history (fewer
    /// than [`FORECAST_MIN_SAMPLES`] over the window).
    forecast: Option<f64>,
    /// Demand rose by more than the tolerance (over the lead) across the surge window:
    /// no time to scale in, even when the latest interval paused.
    rising: bool,
}

/// Reads the recorded demand and now's.
///
/// A surge: the least-squares slope over [`SURGE_WINDOW`] (at least two decisions back)
/// and the latest interval's slope each add more than [`TOLERANCE`] of demand over the
/// lead, and the latest is at least half the window's (the rise is not fading). Then
/// demand rises on the latest slope for the lead. Otherwise demand has levelled off (or
/// falls, or only wobbles) and the forecast is demand as it is.
fn outlook(history: &History, now: SystemTime, demand: f64, cfg: &ScalerConfig) -> Outlook {
    let none = Outlook {
        forecast: None,
        rising: false,
    };
    let lead = cfg.forecast_lead.as_secs_f64();
    let window = surge_window(cfg);
    let recent: Vec<(f64, f64)> = history
        .demand
        .iter()
        .filter_map(|&(t, v)| {
            let age = now.duration_since(t).ok()?;
            (age <= window && !age.is_zero()).then(|| (-age.as_secs_f64(), v))
        })
        .collect();
    let Some(&(x_last, v_last)) = recent.last() else {
        return none;
    };
    let points: Vec<(f64, f64)> = recent
        .iter()
        .copied()
        .chain(std::iter::once((0.0, demand)))
        .collect();
    if points.len() < FORECAST_MIN_SAMPLES {
        return none;
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
        return none;
    }
    let trend = sxy / sxx;
    let latest = (demand - v_last) / -x_last;
    // What counts as a rise: more than the tolerance band over the lead, measured
    // against at least one instance's target so that a near-idle fleet's noise is none.
    let significant =
        |slope: f64| slope * lead > TOLERANCE * demand.max(cfg.target_rps_per_instance);
    let surging = significant(trend) && significant(latest) && latest >= trend / 2.0;
    // From now's value, not a line's intercept: the line smooths, now is what is.
    Outlook {
        forecast: Some(if surging {
            demand + latest * lead
        } else {
            demand
        }),
        rising: significant(trend),
    }
}

#[cfg(test)]
mod tests;
