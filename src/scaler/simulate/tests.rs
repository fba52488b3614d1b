//! The model, the profile, the policies under simulation, and the outputs.

use std::time::Duration;

use super::*;

fn inst() -> InstanceModel {
    InstanceModel {
        capacity_rps: 500.0,
        startup: Duration::from_secs(60),
        base_latency_ms: 5.0,
    }
}

fn profile(points: &[[f64; 2]]) -> Profile {
    Profile {
        name: None,
        points: points.to_vec(),
        noise: 0.0,
        seed: 0,
        start: None,
        instance: inst(),
    }
}

fn cfg() -> ScalerConfig {
    ScalerConfig {
        interval: Duration::from_secs(10),
        min_instances: 2,
        max_instances: 40,
        target_rps_per_instance: 300.0,
        target_cpu: 0.6,
        latency_slo: Duration::from_millis(100),
        forecast_lead: Duration::from_secs(60),
        ..ScalerConfig::default()
    }
}

/// A controller that asks for a fixed sequence of counts at given seconds.
struct Script(Vec<(u64, u32)>, u32);

impl Controller for Script {
    fn name(&self) -> &'static str {
        "script"
    }
    fn initial(&self) -> u32 {
        self.1
    }
    fn after_tick(&mut self, t: u64, _: &Tick, _: &Fleet) -> Option<Step> {
        let (_, desired) = *self.0.iter().find(|&&(at, _)| at == t + 1)?;
        Some(Step {
            desired,
            reason: "script".to_owned(),
        })
    }
}

// --- the model ---

#[test]
fn new_instances_serve_only_after_startup() {
    let mut f = Fleet::new(2);
    f.scale_to(5, 100, 60);
    assert_eq!((f.ready, f.starting(), f.current()), (2, 3, 5));
    f.promote(159);
    assert_eq!(f.ready, 2, "not before startup");
    f.promote(160);
    assert_eq!((f.ready, f.starting()), (5, 0));
}

#[test]
fn removal_is_immediate_and_takes_starting_instances_first() {
    let mut f = Fleet::new(4);
    f.scale_to(6, 0, 60);
    f.scale_to(5, 10, 60);
    assert_eq!((f.ready, f.starting()), (4, 1));
    f.scale_to(2, 20, 60);
    assert_eq!((f.ready, f.starting()), (2, 0));
}

#[test]
fn startup_delay_holds_in_a_run() {
    // 2 ready; at t=10 ask for 6: capacity stays 1000 rps until t=70.
    let p = profile(&[[0.0, 2000.0], [3.0, 2000.0]]);
    let mut c = Script(vec![(10, 6)], 2);
    let run = run_policy(&p, &cfg(), &mut c);
    let at = |t: u64| run.rows.iter().find(|r| r.t_s == t).unwrap();
    assert_eq!((at(70).ready, at(70).starting), (2, 4));
    assert!((at(70).shed_rps - 1000.0).abs() < 1e-6);
    assert_eq!((at(80).ready, at(80).starting), (6, 0));
    assert_eq!(at(80).shed_rps, 0.0);
    // Shedding during seconds 0..70: 70 s × 1000 rps.
    assert_eq!(run.summary.shed_requests, 70_000);
    assert_eq!(run.summary.slo_minutes, 2, "minutes 0 and 1");
    // Starting instances are paid for: 2 × 180 s + 4 × 170 s.
    let want = (2.0 * 180.0 + 4.0 * 170.0) / 3600.0;
    assert!(
        (run.summary.instance_hours - want).abs() < 1e-3,
        "{}",
        run.summary.instance_hours
    );
    assert_eq!(run.summary.peak_instances, 6);
}

#[test]
fn demand_over_capacity_is_shed_and_saturates_latency() {
    let t = model_tick(1200.0, 2, &inst(), 100.0);
    assert_eq!((t.served, t.shed, t.utilization), (1000.0, 200.0, 1.0));
    assert!(t.p99_ms >= 1000.0, "at least 10× the SLO: {}", t.p99_ms);
    let none = model_tick(10.0, 0, &inst(), 100.0);
    assert_eq!((none.served, none.shed), (0.0, 10.0));
    let fine = model_tick(900.0, 2, &inst(), 100.0);
    assert_eq!(fine.shed, 0.0);
}

#[test]
fn p99_rises_with_utilization() {
    let mut last = 0.0;
    for i in 1..99 {
        let demand = 1000.0 * f64::from(i) / 100.0;
        let t = model_tick(demand, 2, &inst(), 100.0);
        let u = demand / 1000.0;
        assert!((t.p99_ms - 5.0 * 100f64.ln() / (1.0 - u)).abs() < 1e-9);
        assert!(t.p99_ms > last, "{u}: {} after {last}", t.p99_ms);
        last = t.p99_ms;
    }
    // Around 77% utilization, p99 crosses 100 ms with a 5 ms service time.
    assert!(model_tick(760.0, 2, &inst(), 100.0).p99_ms < 100.0);
    assert!(model_tick(780.0, 2, &inst(), 100.0).p99_ms > 100.0);
    assert!(model_tick(995.0, 2, &inst(), 100.0).p99_ms >= last);
}

// --- the profile ---

#[test]
fn demand_is_linear_between_points() {
    let p = profile(&[[0.0, 100.0], [10.0, 1100.0], [20.0, 1100.0], [30.0, 100.0]]);
    for (t, want) in [
        (0, 100.0),
        (60, 200.0),
        (300, 600.0),
        (600, 1100.0),
        (900, 1100.0),
        (1500, 600.0),
        (1800, 100.0),
        (5000, 100.0),
    ] {
        assert!((p.demand(t) - want).abs() < 1e-9, "t={t}: {}", p.demand(t));
    }
    assert_eq!((p.start_s(), p.end_s()), (0, 1800));
    let late = profile(&[[5.0, 10.0], [6.0, 20.0]]);
    assert_eq!((late.start_s(), late.end_s()), (300, 360));
    assert_eq!(late.demand(0), 10.0);
}

#[test]
fn noise_is_deterministic_and_bounded() {
    let mut p = profile(&[[0.0, 1000.0], [60.0, 1000.0]]);
    p.noise = 0.05;
    p.seed = 7;
    let a: Vec<f64> = (0..3600).map(|t| p.demand(t)).collect();
    let b: Vec<f64> = (0..3600).map(|t| p.demand(t)).collect();
    assert_eq!(a, b);
    assert!(a.iter().all(|&d| (950.0..=1050.0).contains(&d)));
    let mean = a.iter().sum::<f64>() / a.len() as f64;
    assert!((mean - 1000.0).abs() < 5.0, "mean {mean}");
    assert!(a.windows(2).any(|w| w[0] != w[1]), "it does vary");
    p.seed = 8;
    assert_ne!(a, (0..3600).map(|t| p.demand(t)).collect::<Vec<_>>());
}

#[test]
fn profiles_parse_with_durations_and_integers() {
    let p = Profile::parse(
        "points = [[0, 750], [10, 3750.5]]\nnoise = 0.02\n[instance]\ncapacity_rps = 500\nstartup = \"90s\"\nbase_latency_ms = 5\n",
    )
    .unwrap();
    assert_eq!(p.points, vec![[0.0, 750.0], [10.0, 3750.5]]);
    assert_eq!(p.instance.startup, Duration::from_secs(90));
}

#[test]
fn bad_profiles_name_every_problem() {
    let instance = "[instance]\ncapacity_rps = 0\nstartup = \"60s\"\nbase_latency_ms = -1\n";
    let e = Profile::parse(&format!(
        "points = [[0, 10], [5, -3], [4, 1]]\nnoise = 1.5\n{instance}"
    ))
    .unwrap_err()
    .to_string();
    for needle in [
        "points[1]: rps -3",
        "points[2]: minute 4 must come after",
        "noise",
        "instance.capacity_rps",
        "instance.base_latency_ms",
    ] {
        assert!(e.contains(needle), "missing {needle:?} in {e}");
    }
    let one = Profile::parse(&format!("points = [[0, 10]]\n{instance}")).unwrap_err();
    assert!(one.to_string().contains("at least 2"), "{one}");
    let unknown = Profile::parse("points = [[0, 1], [1, 1]]\nspeed = 3\n[instance]\ncapacity_rps = 1\nstartup = \"1s\"\nbase_latency_ms = 1\n")
        .unwrap_err();
    assert!(unknown.to_string().contains("speed"), "{unknown}");
    let duration = Profile::parse("points = [[0, 1], [1, 1]]\n[instance]\ncapacity_rps = 1\nstartup = \"soon\"\nbase_latency_ms = 1\n")
        .unwrap_err();
    assert!(
        duration.to_string().contains("\"soon\" is not a duration"),
        "{duration}"
    );
    let start = Profile::parse("points = [[0, 1], [1, 1]]\nstart = \"Friday\"\n[instance]\ncapacity_rps = 1\nstartup = \"1s\"\nbase_latency_ms = 1\n")
        .unwrap_err();
    assert!(start.to_string().contains("RFC 3339"), "{start}");
}

// --- the policies ---

#[test]
fn adaptive_policies_start_at_target_and_static_at_peak() {
    let p = profile(&[[0.0, 750.0], [10.0, 3750.0], [20.0, 750.0]]);
    let c = cfg();
    assert_eq!(initial_instances(&p, &c), 3);
    assert_eq!(Static::new(&p, &c).initial(), 13);
    let quiet = profile(&[[0.0, 10.0], [10.0, 10.0]]);
    assert_eq!(initial_instances(&quiet, &c), 2, "min_instances");
    let run = run_policy(&p, &c, &mut Static::new(&p, &c));
    assert!(run.rows.iter().all(|r| r.ready == 13 && r.desired == 13));
    assert_eq!(run.summary.direction_changes, 0);
}

#[test]
fn synedge_runs_the_policy_every_interval() {
    // A slow doubling: target tracking follows it without shedding.
    let p = profile(&[[0.0, 600.0], [10.0, 600.0], [30.0, 1200.0], [40.0, 1200.0]]);
    let c = cfg();
    let run = run_policy(&p, &c, &mut Synedge::new(&p, &c));
    assert_eq!(run.rows.len(), 240, "one row per 10 s over 40 minutes");
    assert!(run.rows.iter().all(|r| r.t_s % 10 == 0));
    assert!(
        run.rows
            .iter()
            .any(|r| r.reason == "target_rps" || r.reason == "target_cpu")
    );
    assert_eq!(run.rows.first().unwrap().ready, 2);
    assert!(run.rows.last().unwrap().ready >= 4);
    assert_eq!(run.summary.shed_requests, 0);
    assert_eq!(run.summary.slo_minutes, 0);
}

/// The first row at or after `from` whose desired count differs from `was`.
fn first_change(run: &PolicyRun, from: u64, was: u32) -> &Row {
    run.rows
        .iter()
        .find(|r| r.t_s >= from && r.desired != was)
        .expect("a change")
}

#[test]
fn hpa_sees_metrics_a_minute_late() {
    // 4 instances at 1200 rps (on target); a jump to 2400 rps at minute 5.
    let p = profile(&[[0.0, 1200.0], [5.0, 1200.0], [5.01, 2400.0], [15.0, 2400.0]]);
    let c = cfg();
    let hpa = run_policy(&p, &c, &mut Hpa::new(&p, &c));
    let syn = run_policy(&p, &c, &mut Synedge::new(&p, &c));
    let h = first_change(&hpa, 300, 4);
    let s = first_change(&syn, 300, 4);
    assert!(h.t_s >= 300 + hpa::METRICS_LAG, "hpa reacted at {}", h.t_s);
    assert!(
        h.t_s <= 300 + hpa::METRICS_LAG + 2 * hpa::PERIOD,
        "hpa reacted at {}",
        h.t_s
    );
    assert!(s.t_s <= 320, "synedge reacted at {}", s.t_s);
    assert!(h.desired > 4);
}

#[test]
fn hpa_scale_up_is_limited_to_double_or_four_pods_per_period() {
    let p = profile(&[
        [0.0, 600.0],
        [1.0, 600.0],
        [1.01, 20_000.0],
        [10.0, 20_000.0],
    ]);
    let c = cfg();
    let run = run_policy(&p, &c, &mut Hpa::new(&p, &c));
    let mut counts: Vec<u32> = run.rows.iter().map(|r| r.desired).collect();
    counts.dedup();
    assert_eq!(&counts[..4], &[2, 6, 12, 24], "{counts:?}");
    assert_eq!(*counts.last().unwrap(), 40, "max_instances");
}

#[test]
fn hpa_scales_down_only_after_the_stabilization_window_then_at_once() {
    // 3000 rps (10 instances) until minute 10, then 600 rps.
    let p = profile(&[[0.0, 3000.0], [10.0, 3000.0], [10.01, 600.0], [25.0, 600.0]]);
    let c = cfg();
    let run = run_policy(&p, &c, &mut Hpa::new(&p, &c));
    assert_eq!(run.rows.first().unwrap().desired, 10);
    let down = first_change(&run, 600, 10);
    let earliest = 600 + hpa::METRICS_LAG + hpa::DOWN_STABILIZATION;
    assert!(down.t_s >= earliest, "scaled down at {}", down.t_s);
    assert!(
        down.t_s <= earliest + 2 * hpa::PERIOD,
        "scaled down at {}",
        down.t_s
    );
    // The sync whose lagged window straddled the drop recommended 3; once that is out of
    // the window too, straight to 2: no rate limit beyond the window.
    assert!(down.desired <= 3, "{down:?}");
    if down.desired != 2 {
        let two = first_change(&run, down.t_s, down.desired);
        assert_eq!(two.desired, 2, "{two:?}");
        assert!(two.t_s <= down.t_s + 2 * hpa::PERIOD, "{two:?}");
    }
    assert!(
        run.rows
            .iter()
            .filter(|r| (600..down.t_s).contains(&r.t_s))
            .all(|r| r.desired == 10)
    );
}

#[test]
fn hpa_ignores_pods_without_metrics_when_scaling_up() {
    // Moderate growth: HPA asks once, then waits rather than multiplying the pods that
    // are still starting.
    let p = profile(&[[0.0, 600.0], [1.0, 600.0], [1.01, 900.0], [6.0, 900.0]]);
    let c = cfg();
    let run = run_policy(&p, &c, &mut Hpa::new(&p, &c));
    let peak = run.rows.iter().map(|r| r.desired).max().unwrap();
    assert_eq!(
        peak,
        3,
        "{:?}",
        run.rows.iter().map(|r| r.desired).collect::<Vec<_>>()
    );
}

// --- accounting and outputs ---

#[test]
fn direction_changes_count_reversals_only() {
    let p = profile(&[[0.0, 100.0], [5.0, 100.0]]);
    let mut c = Script(
        vec![
            (10, 3),
            (20, 4),
            (30, 4),
            (40, 2),
            (50, 2),
            (60, 5),
            (70, 6),
        ],
        2,
    );
    let run = run_policy(&p, &cfg(), &mut c);
    assert_eq!(run.summary.direction_changes, 2, "up, down, up");
    assert_eq!(run.summary.peak_instances, 6);
    assert_eq!(run.summary.flaps, 1, "up again 20 s after the scale-in");
}

#[test]
fn flaps_are_scale_outs_within_the_window_of_a_scale_in() {
    let p = profile(&[[0.0, 100.0], [30.0, 100.0]]);
    let c = cfg(); // stabilization 5 min
    // (decisions (second, desired) from 4 instances, flaps)
    let table: [(&[(u64, u32)], u32); 6] = [
        (&[(60, 6), (120, 3)], 0),           // up, then a forecast taken back
        (&[(60, 3), (300, 5)], 1),           // down, up 4 min later
        (&[(60, 3), (400, 5)], 0),           // down, up 5 min 40 s later
        (&[(60, 3), (120, 2), (500, 5)], 0), // the last scale-in counts
        (&[(60, 3), (90, 5), (120, 3), (150, 6)], 2), // oscillating
        (&[(60, 5), (120, 6), (180, 2), (200, 2)], 0), // no scale-out after the scale-in
    ];
    for (steps, flaps) in table {
        let mut s = Script(steps.to_vec(), 4);
        let run = run_policy(&p, &c, &mut s);
        assert_eq!(run.summary.flaps, flaps, "{steps:?}");
    }
}

#[test]
fn outputs_have_every_policy() {
    let mut p = profile(&[[0.0, 750.0], [2.0, 750.0], [3.0, 3000.0], [8.0, 750.0]]);
    p.noise = 0.02;
    p.name = Some("a & b <test>".to_owned());
    let c = cfg();
    let sim = Simulation::run(&p, &c);
    let csv = sim.csv();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("policy,t_s,demand_rps,served_rps,shed_rps,ready,starting,desired,p99_ms,reason")
    );
    for policy in ["synedge", "synedge-no-schedule", "hpa", "static"] {
        assert_eq!(
            csv.lines()
                .filter(|l| l.starts_with(&format!("{policy},")))
                .count(),
            48,
            "{policy}: 8 minutes in 10 s rows"
        );
    }
    assert!(lines.all(|l| l.split(',').count() == 10));
    let names: Vec<String> = sim.summaries().into_iter().map(|s| s.policy).collect();
    assert_eq!(names, ["synedge", "synedge-no-schedule", "hpa", "static"]);
    let table = sim.table();
    assert_eq!(table.lines().count(), 5);
    let svg = chart::svg(&sim, &p, &c, p.name.as_deref().unwrap());
    assert!(svg.starts_with("<svg"));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("a &amp; b &lt;test&gt;"));
    assert_eq!(svg.matches(r#"class="panel-title""#).count(), 4);
    for policy in ["synedge", "synedge-no-schedule", "hpa", "static"] {
        assert!(svg.contains(&format!(">{policy} policy:")), "{policy}");
    }
    assert_eq!(svg.matches("<g").count(), svg.matches("</g>").count());
}

#[test]
fn long_runs_are_merged_for_the_chart() {
    let rows: Vec<Row> = (1..=4000u64)
        .map(|i| Row {
            t_s: i * 10,
            demand_rps: 100.0,
            served_rps: 100.0,
            shed_rps: 0.0,
            ready: 2,
            starting: 0,
            desired: 2,
            p99_ms: if i == 1234 { 900.0 } else { 20.0 },
            reason: "on_target".to_owned(),
        })
        .collect();
    let merged = chart::downsample(&rows, 1500);
    assert!(merged.len() <= 1500, "{}", merged.len());
    assert_eq!(merged.last().unwrap().t_s, 40_000);
    assert!(
        merged.iter().any(|r| r.p99_ms == 900.0),
        "the worst p99 survives"
    );
    assert!(merged.iter().all(|r| (r.demand_rps - 100.0).abs() < 1e-9));
    assert_eq!(chart::downsample(&rows[..10], 1500).len(), 10);
}
