//! The baseline: a Kubernetes HorizontalPodAutoscaler (autoscaling/v2) with its default
//! behaviour, on the metrics synedge's policy sees, as a metrics pipeline delivers them.
//!
//! - every [`PERIOD`] (the controller's sync period), on metrics [`METRICS_LAG`] old
//!   (scrape interval plus rate window plus adapter cache), averaged over one period;
//! - two metrics: CPU utilization (target `scaler.target_cpu`) and requests per pod
//!   arriving, served or shed, as an ingress counts them (target
//!   `scaler.target_rps_per_instance`); the larger proposal wins;
//! - no change within [`TOLERANCE`] of the target;
//! - pods without metrics yet (started within the lag) are left out when scaling up, and
//!   counted at the target when scaling down, as the HPA does for unready pods;
//! - scale-up: no stabilization, at most max(+100%, +4 pods) per period;
//! - scale-down: the highest recommendation over the last [`DOWN_STABILIZATION`], then
//!   at most 100% per period (no further limit);
//! - clamped to `min_instances..=max_instances`.

use std::collections::VecDeque;

use super::{Controller, Fleet, Profile, Step, Tick, initial_instances};
use crate::config::ScalerConfig;

/// HPA sync period, seconds.
pub const PERIOD: u64 = 15;
/// Age of the metrics the HPA sees, seconds.
pub const METRICS_LAG: u64 = 60;
/// Scale-down stabilization window, seconds.
pub const DOWN_STABILIZATION: u64 = 300;
/// Within this share of the target the HPA does nothing.
pub const TOLERANCE: f64 = 0.1;
/// Default scale-up policy: max(this many pods, 100%) per period.
const UP_PODS: u32 = 4;

/// What one tick looked like, for reading it back later.
#[derive(Debug, Clone, Copy)]
struct Sample {
    ready: u32,
    /// Utilization summed over the ready pods.
    cpu_used: f64,
    /// Requests arriving, served or shed.
    demand: f64,
}

/// The HPA baseline.
pub struct Hpa<'a> {
    profile: &'a Profile,
    cfg: &'a ScalerConfig,
    /// Samples from [`METRICS_LAG`] + [`PERIOD`] ago up to now, oldest first.
    samples: VecDeque<Sample>,
    /// First sample's tick.
    first: Option<u64>,
    /// (tick, recommendation), over [`DOWN_STABILIZATION`].
    recommendations: VecDeque<(u64, u32)>,
}

impl<'a> Hpa<'a> {
    pub fn new(profile: &'a Profile, cfg: &'a ScalerConfig) -> Self {
        Self {
            profile,
            cfg,
            samples: VecDeque::new(),
            first: None,
            recommendations: VecDeque::new(),
        }
    }

    /// The metrics as seen now: the period ending [`METRICS_LAG`] ago (at the start, the
    /// oldest there are): (pods that reported, cpu per pod, rps per pod).
    fn lagged(&self) -> (f64, f64, f64) {
        // samples hold at most LAG + PERIOD ticks; the first PERIOD of them are the window.
        let window: Vec<&Sample> = self.samples.iter().take(PERIOD as usize).collect();
        let n = window.len().max(1) as f64;
        let mean = |f: fn(&Sample) -> f64| window.iter().map(|s| f(s)).sum::<f64>() / n;
        let pods = mean(|s| f64::from(s.ready)).max(1.0);
        (pods, mean(|s| s.cpu_used) / pods, mean(|s| s.demand) / pods)
    }

    /// One HPA sync at second `now` with `fleet` as it is: (desired, reason).
    fn sync(&mut self, now: u64, fleet: &Fleet) -> (u32, &'static str) {
        let cfg = self.cfg;
        let (pods_then, cpu, rps) = self.lagged();
        let cpu_ratio = cpu / cfg.target_cpu;
        let rps_ratio = rps / cfg.target_rps_per_instance;
        let (ratio, mut reason) = if cpu_ratio > rps_ratio {
            (cpu_ratio, "target_cpu")
        } else {
            (rps_ratio, "target_rps")
        };
        let current = fleet.current();
        // Pods that have metrics: ready then and still there.
        let with_metrics = pods_then.min(f64::from(fleet.ready));
        let without = f64::from(current) - with_metrics;
        let recommendation = if (ratio - 1.0).abs() <= TOLERANCE {
            reason = "on_target";
            current
        } else if ratio > 1.0 {
            // Pods without metrics count as idle: never below what runs now.
            ceil(with_metrics * ratio).max(current)
        } else {
            // Pods without metrics count as at target.
            ceil(with_metrics * ratio + without).min(current)
        };
        self.recommendations.push_back((now, recommendation));
        while self
            .recommendations
            .front()
            .is_some_and(|&(t, _)| now - t > DOWN_STABILIZATION)
        {
            self.recommendations.pop_front();
        }
        let mut desired = recommendation;
        if recommendation < current {
            let highest = self
                .recommendations
                .iter()
                .map(|&(_, r)| r)
                .max()
                .unwrap_or(current);
            desired = highest.min(current);
            if desired > recommendation {
                reason = "stabilizing";
            }
        } else if recommendation > current {
            let limit = current.saturating_add(current.max(UP_PODS));
            if desired > limit {
                desired = limit;
                reason = "rate_limited";
            }
        }
        if desired > cfg.max_instances {
            desired = cfg.max_instances;
            reason = "max_instances";
        }
        if desired < cfg.min_instances {
            desired = cfg.min_instances;
            reason = "min_instances";
        }
        (desired, reason)
    }
}

/// Rounds up, forgiving float noise (0.9 / 0.6 × 2 is 3.0000000000000004): the HPA
/// computes in milli-units.
fn ceil(x: f64) -> u32 {
    if x.is_finite() && x > 0.0 {
        (x - 1e-9).ceil().min(f64::from(u32::MAX)) as u32
    } else {
        0
    }
}

impl Controller for Hpa<'_> {
    fn name(&self) -> &'static str {
        "hpa"
    }

    fn initial(&self) -> u32 {
        initial_instances(self.profile, self.cfg)
    }

    fn after_tick(&mut self, t: u64, tick: &Tick, fleet: &Fleet) -> Option<Step> {
        self.first.get_or_insert(t);
        self.samples.push_back(Sample {
            ready: tick.ready,
            cpu_used: tick.utilization * f64::from(tick.ready),
            demand: tick.demand,
        });
        while self.samples.len() > (METRICS_LAG + PERIOD) as usize {
            self.samples.pop_front();
        }
        let first = self.first.unwrap_or(t);
        if (t + 1 - first) % PERIOD != 0 {
            return None;
        }
        let (desired, reason) = self.sync(t + 1, fleet);
        Some(Step {
            desired,
            reason: reason.to_owned(),
        })
    }
}
