//! `chart.svg`: one panel per policy, stacked, on the same axes so they compare at a
//! glance. Each panel: requests per second (demand, ready capacity, shed) with the
//! running instances on the right axis, and below it p99 on a log scale with the SLO
//! dashed; minutes over the SLO shaded. Hand-written SVG: no dependency.

use std::fmt::Write as _;

use super::{Profile, Row, Simulation};
use crate::config::ScalerConfig;

const W: f64 = 1200.0;
const ML: f64 = 80.0;
const MR: f64 = 80.0;
const PW: f64 = W - ML - MR;
const HEADER: f64 = 70.0;
const TITLE_H: f64 = 44.0;
const RPS_H: f64 = 200.0;
const GAP: f64 = 16.0;
const P99_H: f64 = 100.0;
const AXIS_H: f64 = 40.0;
const BLOCK_GAP: f64 = 24.0;
const BLOCK_H: f64 = TITLE_H + RPS_H + GAP + P99_H + AXIS_H + BLOCK_GAP;

const DEMAND: &str = "#1f77b4";
const CAPACITY: &str = "#2ca02c";
const SHED: &str = "#d62728";
const INSTANCES: &str = "#ff7f0e";
const P99: &str = "#9467bd";
const SLO: &str = "#d62728";
const GRID: &str = "#e5e5e5";
/// More rows than this per policy are merged (long profiles): the chart is ~1000 px wide.
const MAX_POINTS: usize = 1500;
const FLOOR: &str = "#17becf";

/// The chart for `sim` as an SVG document.
pub fn svg(sim: &Simulation, profile: &Profile, cfg: &ScalerConfig, title: &str) -> String {
    let (t0, t1) = (profile.start_s() as f64, profile.end_s() as f64);
    let cap = profile.instance.capacity_rps;
    let slo_ms = cfg.latency_slo.as_secs_f64() * 1000.0;
    let rows = || sim.runs.iter().flat_map(|r| r.rows.iter());
    // One scale for both: instances on the right, their capacity on the left, so the
    // running-instances line lies on the capacity line once they are all ready.
    let needed = rows()
        .map(|r| {
            (r.demand_rps / cap)
                .max(f64::from(r.ready + r.starting))
                .max(f64::from(r.desired))
        })
        .fold(1.0, f64::max)
        * 1.05;
    let inst_step = nice_step(needed / 4.0);
    let inst_max = inst_step * 4.0;
    let rps_max = inst_max * cap;
    let p99_hi = 10f64.powf(
        rows()
            .map(|r| r.p99_ms)
            .fold(slo_ms * 2.0, f64::max)
            .log10()
            .ceil(),
    );
    let p99_lo = 10f64.powf(
        rows()
            .map(|r| r.p99_ms)
            .filter(|&p| p > 0.0)
            .fold(slo_ms, f64::min)
            .log10()
            .floor(),
    );
    let height = HEADER + BLOCK_H * sim.runs.len() as f64;
    let x = |t: f64| ML + (t - t0) / (t1 - t0).max(1.0) * PW;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" viewBox="0 0 {W} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{ML}" y="28" font-size="18" font-weight="bold">synedge simulate: {}</text>"#,
        esc(title)
    );
    let _ = writeln!(
        s,
        r##"<text x="{ML}" y="50" fill="#555">instance: {cap} rps capacity, {}s start-up, {} ms base latency · scaler: {} rps/instance target, cpu target {:.0}%, interval {}s, forecast {}s, {}..={} instances · p99 SLO {slo_ms:.0} ms</text>"##,
        profile.instance.startup.as_secs(),
        profile.instance.base_latency_ms,
        cfg.target_rps_per_instance,
        cfg.target_cpu * 100.0,
        cfg.interval.as_secs(),
        cfg.forecast_lead.as_secs(),
        cfg.min_instances,
        cfg.max_instances,
    );

    for (i, run) in sim.runs.iter().enumerate() {
        let top = HEADER + BLOCK_H * i as f64;
        let sm = &run.summary;
        let _ = writeln!(s, r#"<g class="panel" id="panel-{}">"#, esc(&sm.policy));
        let _ = writeln!(
            s,
            r#"<text class="panel-title" x="{ML}" y="{}" font-size="15" font-weight="bold">{} policy: {} min over SLO, {} requests shed, {:.1} instance-hours, peak {} instances, {} direction changes</text>"#,
            top + 18.0,
            esc(&sm.policy),
            sm.slo_minutes,
            sm.shed_requests,
            sm.instance_hours,
            sm.peak_instances,
            sm.direction_changes
        );
        let rps_top = top + TITLE_H;
        let p99_top = rps_top + RPS_H + GAP;
        let y_rps = |v: f64| rps_top + RPS_H - v / rps_max * RPS_H;
        let y_inst = |v: f64| rps_top + RPS_H - v / inst_max * RPS_H;
        let y_p99 = |v: f64| {
            let v = v.clamp(p99_lo, p99_hi);
            p99_top + P99_H
                - (v.log10() - p99_lo.log10()) / (p99_hi.log10() - p99_lo.log10()) * P99_H
        };

        // Scheduled floors (they apply to synedge's policy only), along the top.
        if sm.policy == "synedge" {
            for w in &cfg.schedule {
                let Some((a, b)) = w.window() else { continue };
                let rel = |t: std::time::SystemTime| match t.duration_since(profile.time_at(0)) {
                    Ok(d) => d.as_secs_f64(),
                    Err(e) => -e.duration().as_secs_f64(),
                };
                let (a, b) = (x(rel(a)).max(ML), x(rel(b)).min(ML + PW));
                if b > a {
                    let _ = writeln!(
                        s,
                        r#"<rect x="{a:.1}" y="{rps_top}" width="{:.1}" height="{RPS_H}" fill="{FLOOR}" fill-opacity="0.10"/><text x="{:.1}" y="{:.1}" font-size="11" fill="{FLOOR}">floor {}</text>"#,
                        b - a,
                        a + 4.0,
                        rps_top + 14.0,
                        w.min_instances
                    );
                }
            }
        }

        // Minutes over the SLO, shaded in both plots.
        for &m in &run.bad_minutes {
            let (a, b) = (x(m as f64).max(ML), x((m + 60) as f64).min(ML + PW));
            for (y0, h) in [(rps_top, RPS_H), (p99_top, P99_H)] {
                let _ = writeln!(
                    s,
                    r#"<rect x="{a:.1}" y="{y0:.1}" width="{:.1}" height="{h}" fill="{SHED}" fill-opacity="0.10"/>"#,
                    (b - a).max(0.5)
                );
            }
        }

        // Grid and axes.
        for k in 0..=4 {
            let v = rps_max * f64::from(k) / 4.0;
            let y = y_rps(v);
            let _ = writeln!(
                s,
                r#"<line x1="{ML}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="{GRID}"/><text x="{}" y="{:.1}" text-anchor="end">{}</text><text x="{}" y="{:.1}" fill="{INSTANCES}">{}</text>"#,
                ML + PW,
                ML - 6.0,
                y + 4.0,
                fmt_num(v),
                ML + PW + 6.0,
                y + 4.0,
                fmt_num(inst_max * f64::from(k) / 4.0)
            );
        }
        let mut decade = p99_lo;
        while decade <= p99_hi * 1.001 {
            let y = y_p99(decade);
            let _ = writeln!(
                s,
                r#"<line x1="{ML}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="{GRID}"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                ML + PW,
                ML - 6.0,
                y + 4.0,
                fmt_num(decade)
            );
            decade *= 10.0;
        }
        let step = minute_step((t1 - t0) / 60.0);
        let mut m = (t0 / 60.0 / step).ceil() * step;
        while m * 60.0 <= t1 + 0.5 {
            let xm = x(m * 60.0);
            let _ = writeln!(
                s,
                r#"<line x1="{xm:.1}" y1="{rps_top}" x2="{xm:.1}" y2="{}" stroke="{GRID}"/><line x1="{xm:.1}" y1="{p99_top}" x2="{xm:.1}" y2="{}" stroke="{GRID}"/><text x="{xm:.1}" y="{}" text-anchor="middle">{}</text>"#,
                rps_top + RPS_H,
                p99_top + P99_H,
                p99_top + P99_H + 16.0,
                fmt_num(m)
            );
            m += step;
        }
        for (y0, h) in [(rps_top, RPS_H), (p99_top, P99_H)] {
            let _ = writeln!(
                s,
                r##"<rect x="{ML}" y="{y0}" width="{PW}" height="{h}" fill="none" stroke="#888"/>"##
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">minutes</text>"#,
            ML + PW / 2.0,
            p99_top + P99_H + 32.0
        );
        let _ = writeln!(
            s,
            r#"<text transform="translate({},{}) rotate(-90)" text-anchor="middle">requests/s</text>"#,
            ML - 58.0,
            rps_top + RPS_H / 2.0
        );
        let _ = writeln!(
            s,
            r#"<text transform="translate({},{}) rotate(90)" text-anchor="middle" fill="{INSTANCES}">instances</text>"#,
            ML + PW + 50.0,
            rps_top + RPS_H / 2.0
        );
        let _ = writeln!(
            s,
            r#"<text transform="translate({},{}) rotate(-90)" text-anchor="middle">p99 ms (log)</text>"#,
            ML - 58.0,
            p99_top + P99_H / 2.0
        );

        // Series.
        let merged = downsample(&run.rows, MAX_POINTS);
        let mut demand = Vec::new();
        let mut capacity = Vec::new();
        let mut running = Vec::new();
        let mut p99 = Vec::new();
        let mut shed = vec![(x(t0), y_rps(0.0))];
        let mut prev = t0;
        for r in &merged {
            let t = r.t_s as f64;
            let mid = (prev + t) / 2.0;
            demand.push((x(mid), y_rps(r.demand_rps)));
            p99.push((x(mid), y_p99(r.p99_ms)));
            for tx in [prev, t] {
                capacity.push((x(tx), y_rps(f64::from(r.ready) * cap)));
                running.push((x(tx), y_inst(f64::from(r.ready + r.starting))));
                shed.push((x(tx), y_rps(r.shed_rps)));
            }
            prev = t;
        }
        shed.push((x(prev), y_rps(0.0)));
        if merged.iter().any(|r| r.shed_rps > 0.0) {
            let _ = writeln!(
                s,
                r#"<polygon points="{}" fill="{SHED}" fill-opacity="0.5" stroke="none"/>"#,
                points(&shed)
            );
        }
        let line = |s: &mut String, pts: &[(f64, f64)], color: &str, width: f64, dash: &str| {
            let _ = writeln!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="{width}"{dash}/>"#,
                points(pts)
            );
        };
        line(&mut s, &capacity, CAPACITY, 1.8, "");
        line(
            &mut s,
            &running,
            INSTANCES,
            1.4,
            r#" stroke-dasharray="6 3""#,
        );
        line(&mut s, &demand, DEMAND, 1.8, "");
        line(&mut s, &p99, P99, 1.4, "");
        let ys = y_p99(slo_ms);
        let _ = writeln!(
            s,
            r#"<line x1="{ML}" y1="{ys:.1}" x2="{}" y2="{ys:.1}" stroke="{SLO}" stroke-width="1.4" stroke-dasharray="6 4"/><text x="{}" y="{:.1}" fill="{SLO}" text-anchor="end">SLO {slo_ms:.0} ms</text>"#,
            ML + PW,
            ML + PW - 4.0,
            ys - 4.0
        );

        // Legend, top right of the panel.
        let items: [(&str, &str, &str); 8] = [
            ("demand rps", DEMAND, "line"),
            ("capacity rps (ready)", CAPACITY, "line"),
            ("shed rps", SHED, "box"),
            ("instances incl. starting (right axis)", INSTANCES, "dash"),
            ("p99", P99, "line"),
            ("SLO", SLO, "dash"),
            ("minute over SLO", SHED, "shade"),
            ("scheduled floor", FLOOR, "shade"),
        ];
        let mut lx = ML;
        let ly = top + TITLE_H - 8.0;
        let floors = sm.policy == "synedge" && !cfg.schedule.is_empty();
        for (label, color, kind) in items {
            if label == "scheduled floor" && !floors {
                continue;
            }
            let mark = match kind {
                "box" => format!(
                    r#"<rect x="{lx}" y="{}" width="16" height="8" fill="{color}" fill-opacity="0.5"/>"#,
                    ly - 7.0
                ),
                "shade" => format!(
                    r##"<rect x="{lx}" y="{}" width="16" height="10" fill="{color}" fill-opacity="0.15" stroke="#ccc"/>"##,
                    ly - 8.0
                ),
                "dash" => format!(
                    r#"<line x1="{lx}" y1="{}" x2="{}" y2="{}" stroke="{color}" stroke-width="2" stroke-dasharray="4 2"/>"#,
                    ly - 3.0,
                    lx + 16.0,
                    ly - 3.0
                ),
                _ => format!(
                    r#"<line x1="{lx}" y1="{}" x2="{}" y2="{}" stroke="{color}" stroke-width="2"/>"#,
                    ly - 3.0,
                    lx + 16.0,
                    ly - 3.0
                ),
            };
            let _ = writeln!(
                s,
                r#"{mark}<text x="{}" y="{ly}" font-size="11">{label}</text>"#,
                lx + 20.0
            );
            lx += 34.0 + label.chars().count() as f64 * 6.0;
        }
        let _ = writeln!(s, "</g>");
    }
    s.push_str("</svg>\n");
    s
}

/// At most about `max` rows: runs of consecutive rows merged into one (means of the
/// rates, the worst p99, the last counts).
pub(super) fn downsample(rows: &[Row], max: usize) -> Vec<Row> {
    let k = rows.len().div_ceil(max.max(1)).max(1);
    if k == 1 {
        return rows.to_vec();
    }
    rows.chunks(k)
        .filter_map(|c| {
            let last = c.last()?;
            let n = c.len() as f64;
            let mean = |f: fn(&Row) -> f64| c.iter().map(f).sum::<f64>() / n;
            Some(Row {
                demand_rps: mean(|r| r.demand_rps),
                served_rps: mean(|r| r.served_rps),
                shed_rps: mean(|r| r.shed_rps),
                p99_ms: c.iter().map(|r| r.p99_ms).fold(0.0, f64::max),
                ..last.clone()
            })
        })
        .collect()
}

fn points(pts: &[(f64, f64)]) -> String {
    let mut out = String::with_capacity(pts.len() * 14);
    for (x, y) in pts {
        let _ = write!(out, "{x:.1},{y:.1} ");
    }
    out.pop();
    out
}

/// The smallest whole 1, 2, 2.5 or 5 × 10ⁿ (2.5 from 25 up) at least `v`.
fn nice_step(v: f64) -> f64 {
    let p = 10f64.powf(v.max(1.0).log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .filter(|c| c.fract() == 0.0)
        .find(|&c| c >= v)
        .unwrap_or(10.0 * p)
}

/// Minutes between x-axis labels for a span of `minutes`: about 6 to 15 labels.
fn minute_step(minutes: f64) -> f64 {
    [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 240.0, 480.0, 1440.0,
    ]
    .into_iter()
    .find(|&s| minutes / s <= 15.0)
    .unwrap_or(1440.0)
}

fn fmt_num(v: f64) -> String {
    if v >= 10.0 || v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Escapes text for SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
