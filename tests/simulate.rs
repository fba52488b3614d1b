//! The real `synedge simulate` on the shipped Black Friday profile: the three outputs,
//! and the policy against its baselines.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_synedge");
const POLICIES: [&str; 3] = ["synedge", "hpa", "static"];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `synedge` run in `dir`, with no SYNEDGE_* from the caller.
fn synedge(dir: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(BIN);
    c.current_dir(dir);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SYNEDGE_")) {
        c.env_remove(k);
    }
    c.args(args).output().unwrap()
}

fn black_friday(dir: &Path, out: Option<&Path>) -> Output {
    let profile = repo("loadtest/profiles/black-friday.toml");
    let config = repo("loadtest/profiles/black-friday.scaler.toml");
    let mut args = vec![
        "--config",
        config.to_str().unwrap(),
        "simulate",
        "--profile",
        profile.to_str().unwrap(),
    ];
    if let Some(out) = out {
        args.extend(["--out", out.to_str().unwrap()]);
    }
    synedge(dir, &args)
}

#[derive(Debug, serde::Deserialize)]
struct Summary {
    policy: String,
    slo_minutes: u64,
    shed_requests: u64,
    instance_hours: f64,
    peak_instances: u32,
    direction_changes: u32,
}

#[test]
fn black_friday_writes_the_outputs_and_synedge_beats_the_baselines() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sim");
    let run = black_friday(tmp.path(), Some(&out));
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");

    // timeline.csv: the header, and rows for every policy.
    let csv = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
    assert_eq!(
        csv.lines().next(),
        Some("policy,t_s,demand_rps,served_rps,shed_rps,ready,starting,desired,p99_ms,reason")
    );
    for p in POLICIES {
        let rows = csv
            .lines()
            .filter(|l| l.starts_with(&format!("{p},")))
            .count();
        assert_eq!(rows, 75 * 6, "{p}: 75 minutes in 10 s rows");
    }
    assert!(csv.lines().skip(1).all(|l| l.split(',').count() == 10));

    // summary.json: the three policies, and the same table on stdout.
    let json = std::fs::read_to_string(out.join("summary.json")).unwrap();
    let summary: Vec<Summary> = serde_json::from_str(&json).unwrap();
    let names: Vec<&str> = summary.iter().map(|s| s.policy.as_str()).collect();
    assert_eq!(names, POLICIES);
    for s in &summary {
        assert!(stdout.contains(&s.policy), "{stdout}");
        assert!(s.peak_instances >= 2 && s.instance_hours > 0.0, "{s:?}");
    }
    assert!(stdout.contains("slo_minutes") && stdout.contains("instance_hours"));

    // chart.svg: a document with one panel per policy.
    let svg = std::fs::read_to_string(out.join("chart.svg")).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
    assert!(svg.trim_end().ends_with("</svg>"));
    for p in POLICIES {
        assert_eq!(svg.matches(&format!(">{p} policy:")).count(), 1, "{p}");
    }
    assert!(svg.contains("SLO 100 ms"));

    // The target: synedge keeps the SLO and sheds nothing; the HPA baseline does not
    // manage that; and synedge costs less than provisioning for the peak.
    let [syn, hpa, fixed] = [&summary[0], &summary[1], &summary[2]];
    assert_eq!((syn.slo_minutes, syn.shed_requests), (0, 0), "{syn:?}");
    assert!(hpa.slo_minutes > 0 || hpa.shed_requests > 0, "{hpa:?}");
    assert!(
        syn.instance_hours < fixed.instance_hours,
        "{syn:?} vs {fixed:?}"
    );
    assert_eq!(fixed.direction_changes, 0);
    assert!(syn.direction_changes <= 2, "flapping: {syn:?}");
}

#[test]
fn outputs_go_to_simulation_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    let run = black_friday(tmp.path(), None);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for f in ["timeline.csv", "chart.svg", "summary.json"] {
        assert!(tmp.path().join("simulation").join(f).is_file(), "{f}");
    }
}

#[test]
fn a_bad_profile_is_refused_with_every_problem_named() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("bad.toml");
    std::fs::write(
        &profile,
        "points = [[0, 100], [5, -1], [3, 10]]\n[instance]\ncapacity_rps = 0\nstartup = \"60s\"\nbase_latency_ms = 5\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run = synedge(
        tmp.path(),
        &[
            "simulate",
            "--profile",
            profile.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    for needle in [
        "bad.toml",
        "points[1]: rps -1",
        "points[2]: minute 3",
        "instance.capacity_rps",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert!(!out.exists(), "nothing written for a bad profile");

    let missing = synedge(tmp.path(), &["simulate", "--profile", "nope.toml"]);
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("nope.toml"), "{err}");

    let no_profile = synedge(tmp.path(), &["simulate"]);
    assert_eq!(no_profile.status.code(), Some(2), "usage error");
}
