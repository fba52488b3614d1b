//! The real `synedge` binary: configuration errors, check-config, import, seed, and
//! `serve --demo` from start to SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::process::{Server, http_get, http_post, oha, spawn_serve, synedge};

#[test]
fn a_bad_config_names_every_problem_and_exits_78_before_binding() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "[server]\nlisten = \"127.0.0.1:1\"\nrequest_timeout = \"forever\"\n[admin]\nlisten = \"0.0.0.0:9901\"\n[cache]\nmax_bytes = \"lots\"\n",
    )
    .unwrap();
    let out = synedge(dir.path())
        .args(["--config", cfg.to_str().unwrap(), "serve"])
        .env("SYNEDGE_ORIGIN__URL", "mysql://x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "[server]",
        "\"forever\" is not a duration",
        "[cache]",
        "admin.listen",
        "origin.url",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert!(
        !err.contains("listening"),
        "it must not get as far as binding:\n{err}"
    );
    assert!(!dir.path().join("data").exists(), "nothing may be created");
}

#[test]
fn check_config_prints_the_effective_config_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let out = synedge(dir.path())
        .args(["--set", "cache.ttl=90s", "check-config"])
        .env("SYNEDGE_ADMIN__TOKEN", "a-very-secret-token-value")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("ttl = \"1m 30s\""), "{text}");
    assert!(text.contains("token = \"<redacted>\""), "{text}");
    assert!(!text.contains("a-very-secret"));
}

#[test]
fn import_rejects_a_bad_file_atomically_then_accepts_a_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/catalog.ndjson"
    ))
    .unwrap();
    let mut lines: Vec<&str> = good.lines().collect();
    lines.insert(2, r#"{"brand":"Acme","mpn":"Z","ean":["4006381333932"],"locale":"en-GB","html":"<p>x</p>","retailers":["shop-one"]}"#);
    let bad = dir.path().join("bad.ndjson");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let db = dir.path().join("c.db");
    let url = format!("sqlite://{}", db.display());

    let out = synedge(dir.path())
        .args([
            "--set",
            &format!("origin.url={url}"),
            "import",
            bad.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    let store =
        synedge::origin::sqlite::SqliteOrigin::open(db.to_str().unwrap(), Duration::from_secs(2))
            .unwrap();
    assert!(store.is_empty().unwrap(), "a bad file must write nothing");

    let good_path = dir.path().join("good.ndjson");
    std::fs::write(&good_path, &good).unwrap();
    let out = synedge(dir.path())
        .args([
            "--set",
            &format!("origin.url={url}"),
            "import",
            good_path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("imported 4 fragments"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!store.is_empty().unwrap());
}

#[test]
fn serve_demo_seeds_an_empty_store_serves_it_and_exits_0_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, public, admin) = spawn_serve(dir.path(), &["--demo"]);
    assert!(
        dir.path().join("data/synedge.db").exists(),
        "the embedded default store is created"
    );
    let (status, body) = http_get(
        &public,
        "/v1/fragment?retailer=shop-one&locale=en-GB&ean=4006381333931",
    );
    assert_eq!(status, 200);
    assert!(body.contains("synedge-inpage"), "{body}");
    assert_eq!(http_get(&admin, "/metrics").0, 200);

    // `healthcheck` probes /readyz of the running instance.
    let hc = synedge(dir.path())
        .args(["healthcheck", "--addr", &public])
        .status()
        .unwrap();
    assert!(hc.success());

    child.sigterm();
    let status = child.wait();
    assert_eq!(status.code(), Some(0));
    let hc = synedge(dir.path())
        .args(["healthcheck", "--addr", &public])
        .status()
        .unwrap();
    assert!(!hc.success(), "healthcheck fails once the server is gone");
}

#[test]
fn sigterm_writes_every_queued_event_before_exiting() {
    use synedge::events::{EventStore, StatsFilter, StatsLimit};
    let dir = tempfile::tempdir().unwrap();
    // Nothing is due before SIGTERM: an hour between flushes, batches larger than N.
    let (mut child, public, _admin) = spawn_serve(
        dir.path(),
        &[
            "--set",
            "events.flush_interval=1h",
            "--set",
            "events.batch_size=100000",
        ],
    );
    let event = r#"{"type":"view","retailer":"shop-one","locale":"en-GB","ean":"4006381333931"}"#;
    let body = format!("[{}]", vec![event; 25].join(","));
    const REQUESTS: u64 = 40;
    for _ in 0..REQUESTS {
        assert_eq!(http_post(&public, "/v1/events", &body), 202);
    }
    let (_, ready) = http_get(&public, "/readyz");
    assert!(ready.contains("events_queue_depth 1000"), "{ready}");
    child.sigterm();
    assert_eq!(child.wait().code(), Some(0));

    let db = dir.path().join("data/synedge.db");
    let store =
        synedge::origin::sqlite::SqliteOrigin::open(db.to_str().unwrap(), Duration::from_secs(5))
            .unwrap();
    let rows = store
        .stats(&StatsFilter::default(), None, StatsLimit::MAX)
        .unwrap()
        .rows;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].product, "ean:04006381333931");
    assert_eq!(rows[0].count, REQUESTS * 25);
}

/// Polls the desired count the command actuator wrote until `ok` holds; the last value.
fn wait_desired(file: &Path, within: Duration, ok: impl Fn(u32) -> bool) -> Option<u32> {
    let deadline = Instant::now() + within;
    let mut last = None;
    while Instant::now() < deadline {
        last = std::fs::read_to_string(file)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        if last.is_some_and(&ok) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    last
}

#[test]
fn the_embedded_scaler_scales_out_under_load_and_back_in_after_it() {
    let Some(oha) = oha() else { return };
    let dir = tempfile::tempdir().unwrap();
    let desired = dir.path().join("desired");
    let command = format!(
        r#"scaler.actuator.command=["/bin/sh", "-c", "printf %s \"$1\" > \"$2\"", "sh", "{{desired}}", "{}"]"#,
        desired.display()
    );
    let (mut child, public, admin) = spawn_serve(
        dir.path(),
        &[
            "--demo",
            "--set",
            "scaler.enabled=true",
            "--set",
            "scaler.interval=1s",
            "--set",
            "scaler.min_instances=1",
            "--set",
            "scaler.max_instances=6",
            "--set",
            "scaler.target_rps_per_instance=100.0",
            "--set",
            "scaler.scale_down.stabilization=3s",
            "--set",
            "scaler.scale_down.max_percent_per_minute=100",
            "--set",
            "scaler.actuator.kind=command",
            "--set",
            &command,
        ],
    );
    // Idle: nothing asked yet (the count stays at the minimum, 1, which runs).
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!desired.exists(), "no actuation while idle");

    // Load, with oha, for 6 s: far over 100 rps.
    let url =
        format!("http://{public}/v1/fragment?retailer=shop-one&locale=en-GB&ean=4006381333931");
    let load = Command::new(oha)
        .args(["-z", "6s", "-c", "4", "--no-tui", &url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let peak = wait_desired(&desired, Duration::from_secs(8), |d| d > 1);
    assert!(
        peak.is_some_and(|d| d > 1),
        "no scale-out under load: {peak:?}"
    );
    let mut load = load;
    assert!(load.wait().unwrap().success());
    let peak = wait_desired(&desired, Duration::from_millis(10), |_| true).unwrap();

    // Load gone: after the 10 s signal window empties and 3 s of stabilization, it
    // scales back in.
    let after = wait_desired(&desired, Duration::from_secs(30), |d| d < peak);
    assert!(
        after.is_some_and(|d| d < peak),
        "no scale-in after the load: {after:?} (peak {peak})"
    );

    let (status, body) = http_get(&admin, "/admin/v1/scaler");
    assert_eq!(status, 200);
    let log: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(log["running"], true);
    assert_eq!(log["actuator"], "command");
    let reasons: Vec<&str> = log["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["actuated"] == true)
        .map(|d| d["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"target_rps"), "{reasons:?}");
    let (_, metrics) = http_get(&admin, "/metrics");
    assert!(
        metrics.contains("synedge_scaler_decisions_total{direction=\"up\",reason=\"target_rps\"}")
    );
    child.sigterm();
    assert!(child.wait().success());
}

#[test]
fn synedge_scaler_reads_its_peers_and_refuses_to_run_without_any() {
    let dir = tempfile::tempdir().unwrap();
    let out = synedge(dir.path())
        .args(["--set", "admin.listen=127.0.0.1:0", "scaler"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("set scaler.peers"));

    let (_server, _public, peer) = spawn_serve(dir.path(), &[]);
    let mut child = synedge(dir.path())
        .args([
            "--set",
            "admin.listen=127.0.0.1:0",
            "--set",
            "scaler.interval=200ms",
            "--set",
            &format!(r#"scaler.peers=["http://{peer}"]"#),
            "scaler",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read the log on a thread for as long as the child runs: a pipe nobody reads
    // would stall its writes.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx
        .iter()
        .find(|l| l.contains("scaler running"))
        .expect("no 'scaler running' line");
    let admin = line
        .split("admin=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let child = Server(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    let log = loop {
        let (status, body) = http_get(&admin, "/admin/v1/scaler");
        assert_eq!(status, 200);
        let log: serde_json::Value = serde_json::from_str(&body).unwrap();
        if log["decisions"].as_array().is_some_and(|d| !d.is_empty()) || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Newest first: the first round is the last one listed.
    let d = log["decisions"].as_array().unwrap().last().unwrap();
    assert_eq!(
        d["instances"][0]["instance"],
        format!("http://{peer}"),
        "{log:#}"
    );
    assert!(d["instances"][0]["signals"]["rps"].is_number(), "{log:#}");
    assert_eq!(d["current"], 1);
    // Idle but at the minimum of 2: asks for it, through the log actuator.
    assert_eq!(
        (&d["desired"], &d["reason"]),
        (&serde_json::json!(2), &serde_json::json!("min_instances"))
    );
    let (_, metrics) = http_get(&admin, "/metrics");
    assert!(
        metrics.contains("synedge_scaler_desired_instances 2"),
        "{metrics}"
    );
    child.sigterm();
}
