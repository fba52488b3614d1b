//! One table per rule of the policy.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::config::ScheduleEntry;

const T0: u64 = 1_795_000_000; // 2026-11-18

fn at(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0 + s)
}

fn cfg() -> ScalerConfig {
    ScalerConfig {
        min_instances: 2,
        max_instances: 50,
        target_rps_per_instance: 1000.0,
        target_cpu: 0.6,
        latency_slo: Duration::from_millis(100),
        ..ScalerConfig::default()
    }
}

/// `n` instances each at `rps`, `cpu`, `p99` and `shed` rps.
fn fleet(n: usize, rps: f64, cpu: f64, p99: f64, shed: f64) -> Vec<Option<Signals>> {
    (0..n)
        .map(|i| {
            Some(Signals {
                rps,
                cpu,
                p99_ms: p99,
                shed_rate: shed,
                ..Signals::idle(format!("i{i}"))
            })
        })
        .collect()
}

fn once(signals: &[Option<Signals>], current: u32, c: &ScalerConfig) -> Decision {
    decide(signals, current, c, at(0), &History::default())
}

#[test]
fn target_tracking_on_rps_and_cpu_with_tolerance() {
    // (instances, rps each, cpu each, desired, reason)
    let table = [
        (4, 1000.0, 0.3, 4, Reason::OnTarget),  // exactly at target
        (4, 1090.0, 0.3, 4, Reason::OnTarget),  // +9%: within tolerance
        (4, 1110.0, 0.3, 5, Reason::TargetRps), // +11%: ceil(4 × 1.11)
        (4, 2000.0, 0.3, 8, Reason::TargetRps), // double the load, double the fleet
        (4, 500.0, 0.9, 6, Reason::TargetCpu),  // cpu 150% of target wins over rps 50%
        (4, 1500.0, 1.2, 8, Reason::TargetCpu), // both over: the larger (cpu 200%) wins
        (4, 1950.0, 0.3, 8, Reason::TargetRps), // 195%: ceil(7.8)
    ];
    for (n, rps, cpu, want, why) in table {
        let d = once(&fleet(n, rps, cpu, 1.0, 0.0), n as u32, &cfg());
        assert_eq!(
            (d.desired, d.reason),
            (want, why),
            "{n}×{rps} rps cpu {cpu}: {d:?}"
        );
    }
}

#[test]
fn scale_up_is_immediate_but_stepped() {
    // (current, rps each, max_percent, max_instances, desired)
    let table = [
        (2, 10_000.0, 100, 4, 6),   // wants 20; step max(+2, +4) = +4
        (10, 10_000.0, 100, 4, 20), // wants 100; step max(+10, +4) = +10
        (10, 10_000.0, 50, 4, 15),  // step max(+5, +4)
        (10, 1500.0, 100, 4, 15),   // wants 15: within the step
        (40, 10_000.0, 100, 4, 50), // capped by max_instances
    ];
    for (current, rps, pct, inst, want) in table {
        let mut c = cfg();
        c.scale_up.max_percent = pct;
        c.scale_up.max_instances = inst;
        let d = once(&fleet(current, rps, 0.1, 1.0, 0.0), current as u32, &c);
        assert_eq!(d.desired, want, "{current} at {rps}: {d:?}");
        assert_eq!(d.direction, Direction::Up);
    }
}

/// Runs `decide` every 10 s for `secs`, applying each decision; returns the decisions.
fn run(
    c: &ScalerConfig,
    mut current: u32,
    secs: u64,
    load: impl Fn(u64, u32) -> Vec<Option<Signals>>,
) -> Vec<(u64, Decision)> {
    let mut h = History::default();
    let mut out = Vec::new();
    for s in (0..=secs).step_by(10) {
        let d = decide(&load(s, current), current, c, at(s), &h);
        h.record(at(s), &d, c);
        current = d.desired;
        out.push((s, d));
    }
    out
}

/// Fleet demand `total` rps spread over the current instances.
fn spread(total: f64, p99: f64) -> impl Fn(u64, u32) -> Vec<Option<Signals>> {
    move |_, n| fleet(n as usize, total / f64::from(n), 0.1, p99, 0.0)
}

#[test]
fn scale_down_waits_for_the_stabilization_window_then_goes_slowly() {
    let c = cfg(); // stabilization 5 min, −10%/min
    // 20 instances, demand falls to what 5 can carry.
    let ds = run(&c, 20, 900, spread(5000.0, 1.0));
    let first_down = ds
        .iter()
        .find(|(_, d)| d.direction == Direction::Down)
        .unwrap();
    assert_eq!(first_down.0, 300, "not before the window: {:?}", first_down);
    for (s, d) in &ds {
        if *s < 300 {
            assert_eq!((d.desired, d.reason), (20, Reason::Stabilizing), "at {s}s");
        }
    }
    // −10% per minute, at least one: 20 → 18 → 17 → 16 …, one step a minute at most.
    let downs: Vec<(u64, u32)> = ds
        .iter()
        .filter(|(_, d)| d.direction == Direction::Down)
        .map(|(s, d)| (*s, d.desired))
        .collect();
    assert_eq!(&downs[..3], &[(300, 18), (360, 17), (420, 16)]);
    assert!(downs.windows(2).all(|w| w[1].0 - w[0].0 >= 60));
}

#[test]
fn a_single_busy_moment_in_the_window_blocks_scale_down() {
    let c = cfg();
    // Low load, except one spike at 250 s.
    let ds = run(&c, 10, 600, |s, n| {
        let total = if s == 250 { 9500.0 } else { 3000.0 };
        fleet(n as usize, total / f64::from(n), 0.1, 1.0, 0.0)
    });
    let first_down = ds
        .iter()
        .find(|(_, d)| d.direction == Direction::Down)
        .unwrap()
        .0;
    assert!(
        first_down >= 250 + 300,
        "scaled in at {first_down}s, within 5 min of the spike"
    );
}

#[test]
fn latency_guard_scales_out_even_when_rps_looks_fine_and_blocks_scale_in() {
    // (current, rps each, p99 ms, shed rps each, desired, reason)
    let table = [
        (4, 1000.0, 250.0, 0.0, 5, Reason::LatencySlo), // on target, but slow: one step
        (12, 1000.0, 250.0, 0.0, 15, Reason::LatencySlo), // step = a quarter
        (4, 900.0, 5.0, 50.0, 5, Reason::Shedding),     // shedding, even with fast p99
        (4, 3000.0, 250.0, 0.0, 8, Reason::TargetRps),  // rps asks for more than the guard
        (4, 1000.0, 99.0, 0.0, 4, Reason::OnTarget),    // under the SLO: nothing
    ];
    for (n, rps, p99, shed, want, why) in table {
        let d = once(&fleet(n, rps, 0.1, p99, shed), n as u32, &cfg());
        assert_eq!(
            (d.desired, d.reason),
            (want, why),
            "{n}×{rps} p99 {p99} shed {shed}: {d:?}"
        );
    }
    // Idle but slow (a sick dependency): scale-in is held, never done.
    let ds = run(&cfg(), 10, 900, spread(100.0, 400.0));
    assert!(ds.iter().all(|(_, d)| d.desired >= 10), "{:?}", ds.last());
}

#[test]
fn scheduled_floors_apply_inside_their_window_only() {
    let mut c = cfg();
    c.schedule = vec![ScheduleEntry {
        start: "2026-11-18T00:00:00Z".into(),
        end: "2026-11-28T00:00:00Z".into(),
        min_instances: 12,
    }];
    let d = once(&fleet(4, 100.0, 0.05, 1.0, 0.0), 4, &c);
    assert_eq!(
        (d.desired, d.reason),
        (8, Reason::Schedule),
        "stepped towards 12"
    );
    c.schedule[0].start = "2026-11-27T00:00:00Z".into();
    let d = once(&fleet(4, 100.0, 0.05, 1.0, 0.0), 4, &c);
    assert_ne!(d.reason, Reason::Schedule);
}

#[test]
fn forecast_adds_capacity_ahead_of_a_rising_trend_and_never_removes_any() {
    let mut c = cfg();
    c.forecast_lead = Duration::from_secs(60);
    c.scale_up.max_percent = 1000;
    // Demand rising 200 rps every 10 s, capacity always tracked: the forecast is ahead.
    let ds = run(&c, 4, 120, |s, n| {
        let total = 4000.0 + 20.0 * s as f64;
        fleet(n as usize, total / f64::from(n), 0.1, 1.0, 0.0)
    });
    let (_, last) = ds.last().unwrap();
    assert_eq!(last.reason, Reason::Forecast, "{last:?}");
    // At 120 s demand is 6400 (7 instances by target); 60 s ahead, 7600 → 8.
    let f = last.forecast_rps.unwrap();
    assert!((f - 7600.0).abs() < 1.0, "{f}");
    assert_eq!(last.desired, 8);
    // Falling demand: the forecast never asks for less than target tracking.
    let ds = run(&c, 10, 120, |s, n| {
        let total = 9000.0 - 50.0 * s as f64;
        fleet(n as usize, total / f64::from(n), 0.1, 1.0, 0.0)
    });
    assert!(ds.iter().all(|(_, d)| d.reason != Reason::Forecast));
}

#[test]
fn clamped_to_min_and_max() {
    let c = cfg();
    let d = once(&fleet(1, 10.0, 0.01, 1.0, 0.0), 1, &c);
    assert_eq!((d.desired, d.reason), (2, Reason::MinInstances));
    let d = once(&fleet(50, 100_000.0, 0.9, 1.0, 0.0), 50, &c);
    assert_eq!((d.desired, d.reason), (50, Reason::MaxInstances));
    // A lowered maximum applies at once, without waiting for stabilization.
    let d = once(&fleet(60, 1000.0, 0.6, 1.0, 0.0), 60, &c);
    assert_eq!((d.desired, d.reason), (50, Reason::MaxInstances));
}

#[test]
fn instances_without_signals_count_as_fully_loaded() {
    let c = cfg();
    // 4 instances, 2 report near idle, 2 report nothing: counted at target (1000 rps),
    // so the fleet is not idle, and no scale-in is recommended below what they carry.
    let mut s = fleet(2, 100.0, 0.05, 1.0, 0.0);
    s.extend([None, None]);
    let d = once(&s, 4, &c);
    assert_eq!(d.reporting, 2);
    assert!((d.demand_rps - 2200.0).abs() < 1e-6, "{d:?}");
    assert!(d.recommended >= 3, "{d:?}");
    // Unreporting ones next to overloaded ones count as busy as the busiest.
    let mut s = fleet(2, 3000.0, 0.5, 1.0, 0.0);
    s.extend([None, None]);
    let d = once(&s, 4, &c);
    assert!((d.demand_rps - 12_000.0).abs() < 1e-6, "{d:?}");
    assert_eq!(d.desired, 8); // 12 wanted, step +4
    // Instances still starting (run by the platform, not yet listed) add no demand:
    // capacity on its way is not load.
    let d = once(&fleet(2, 3000.0, 0.6, 1.0, 0.0), 6, &c);
    assert_eq!((d.demand_rps, d.desired), (6000.0, 6));
    // Nobody reported: hold, never scale in blind.
    let d = once(&[None, None, None], 10, &c);
    assert_eq!((d.desired, d.reason), (10, Reason::NoSignals));
    let d = once(&[], 10, &c);
    assert_eq!((d.desired, d.reason), (10, Reason::NoSignals));
}

#[test]
fn decide_is_pure() {
    let c = cfg();
    let s = fleet(3, 1700.0, 0.4, 20.0, 0.0);
    let h = History::default();
    assert_eq!(decide(&s, 3, &c, at(5), &h), decide(&s, 3, &c, at(5), &h));
}

#[test]
fn label_tables_are_in_discriminant_order() {
    // Metrics index counters by `as usize`.
    assert!(
        Reason::ALL
            .iter()
            .enumerate()
            .all(|(i, r)| *r as usize == i)
    );
    assert!(
        Direction::ALL
            .iter()
            .enumerate()
            .all(|(i, d)| *d as usize == i)
    );
}

#[test]
fn capacity_still_starting_is_not_asked_for_again() {
    // 3 serving at 90% CPU, 3 more starting: CPU work is 2.7 cores' worth, 5 instances
    // at the 60% target, so nothing more is asked (the 6 on their way are enough).
    let d = once(&fleet(3, 100.0, 0.9, 1.0, 0.0), 6, &cfg());
    assert_eq!((d.recommended, d.desired), (5, 6), "{d:?}");
    // 4 serving over the SLO, 2 starting: the guard's step (one more than the 4) is
    // already on its way; scale-in is held for latency.
    let d = once(&fleet(4, 1000.0, 0.1, 250.0, 0.0), 6, &cfg());
    assert_eq!((d.desired, d.reason), (6, Reason::HeldForLatency), "{d:?}");
    // Over a minute of such rounds the fleet does not run away.
    let ds = run(&cfg(), 6, 60, |_, _| fleet(3, 100.0, 0.9, 150.0, 0.0));
    assert!(ds.iter().all(|(_, d)| d.desired == 6), "{:?}", ds.last());
}
