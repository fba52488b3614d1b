//! The real `synedge` binary: configuration errors, check-config, import, seed, and
//! `serve --demo` from start to SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::process::{
    SERVE_ON_FREE_PORTS, Server, http_get, http_post, log_field, oha, spawn_serve, start_serve,
    synedge,
};

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
        "4 configuration problems:",
        "server.request_timeout: \"forever\" is not a duration; write e.g. \"5m\"",
        "cache.max_bytes: \"lots\" is not a size",
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

/// Every duration key of the configuration: the defaults that read as a duration.
fn duration_keys() -> Vec<String> {
    fn walk(prefix: &str, t: &toml::Table, out: &mut Vec<String>) {
        for (k, v) in t {
            let key = format!("{prefix}{k}");
            match v {
                toml::Value::Table(sub) => walk(&format!("{key}."), sub, out),
                toml::Value::String(s) if humantime::parse_duration(s).is_ok() => out.push(key),
                _ => {}
            }
        }
    }
    let defaults = toml::Table::try_from(synedge::config::Config::default()).unwrap();
    let mut keys = Vec::new();
    walk("", &defaults, &mut keys);
    keys
}

#[test]
fn check_config_refuses_every_duration_past_its_bound_with_exit_78() {
    let keys = duration_keys();
    for expected in [
        "server.request_timeout",
        "server.header_read_timeout",
        "server.keep_alive_timeout",
        "server.body_read_timeout",
        "origin.timeout",
        "cache.ttl",
        "cache.stale_while_revalidate",
        "cache.stale_if_error",
        "cache.negative_ttl",
        "events.flush_interval",
        "scaler.interval",
        "scaler.latency_slo",
        "scaler.forecast_lead",
        "scaler.scale_down.stabilization",
        "scaler.actuator.timeout",
        "shutdown.grace",
        "shutdown.pre_stop_delay",
    ] {
        assert!(
            keys.iter().any(|k| k == expected),
            "{expected} not in {keys:?}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    // Past every bound (an hour, or 365 days for cache lifetimes), within `Duration`.
    for key in &keys {
        let out = synedge(dir.path())
            .args(["--set", &format!("{key}=400days"), "check-config"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{key}: {err}");
        assert!(
            err.contains(&format!("{key}: must be at most ")),
            "{key} not named with its bound in:\n{err}"
        );
        assert!(out.stdout.is_empty(), "{key}: printed a config it refused");
    }
}

#[test]
fn serve_with_a_25_day_origin_timeout_exits_78_not_101() {
    // 25 days passed validation, then panicked when SQLite's busy timeout (milliseconds
    // in a C int) was set from it.
    let dir = tempfile::tempdir().unwrap();
    let mut child = synedge(dir.path())
        .args(["--set", "origin.timeout=25days"])
        .args(SERVE_ON_FREE_PORTS)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve with origin.timeout=25days did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(78), "{err}");
    assert!(
        err.contains("origin.timeout: must be at most 1h (got 25days)"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!dir.path().join("data").exists(), "nothing may be created");
}

#[test]
fn check_config_shows_every_url_without_its_credentials() {
    // Every secret below has SECRET in it; none may be printed.
    let dir = tempfile::tempdir().unwrap();
    let out = synedge(dir.path())
        .args([
            "--set",
            "events.store=postgres://ev:evSECRET@db.internal/events?sslmode=disable",
            "--set",
            "scaler.actuator.kind=webhook",
            "--set",
            "scaler.actuator.url=https://hook:hookSECRET@hooks.example/scale?token=hookSECRETtoken",
            "--set",
            "scaler.actuator.api_url=https://k8s:k8sSECRET@kubernetes.example?access_token=k8sSECRETtoken",
            "--set",
            r#"scaler.peers=["http://peer:peerSECRET@10.0.0.7:9901", "dns://dns:dnsSECRET@synedge-admin:9901?sig=dnsSECRETsig"]"#,
            "check-config",
        ])
        .env(
            "SYNEDGE_ORIGIN__URL",
            "postgres://app:pgSECRET@db.internal/synedge?password=pgSECRETparam&sslmode=disable",
        )
        .env("SYNEDGE_ADMIN__TOKEN", "tokenSECRET-0123456789")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stdout.contains("SECRET"),
        "check-config showed a secret:\n{stdout}"
    );
    assert!(
        !stderr.contains("SECRET"),
        "check-config logged a secret:\n{stderr}"
    );
    for shown in [
        "postgres://app:***@db.internal/synedge?password=***&sslmode=disable",
        "postgres://ev:***@db.internal/events?sslmode=disable",
        "https://hook:***@hooks.example/scale?token=***",
        "https://k8s:***@kubernetes.example?access_token=***",
        "http://peer:***@10.0.0.7:9901",
        "dns://dns:***@synedge-admin:9901?sig=***",
    ] {
        assert!(stdout.contains(shown), "{shown} not in:\n{stdout}");
    }
}

/// Reads a child's stderr on a thread (a pipe nobody reads would stall its writes).
fn log_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

#[test]
fn log_lines_and_the_scaler_json_name_urls_without_their_credentials() {
    let dir = tempfile::tempdir().unwrap();
    // `serve`: the listening line names the origin (an upstream with basic auth).
    let mut child = synedge(dir.path())
        .args([
            "--set",
            "origin.url=http://edge:originSECRET@127.0.0.1:9/fragments",
            "--set",
            "events.store=sqlite://events.db",
        ])
        .args(SERVE_ON_FREE_PORTS)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = log_lines(&mut child);
    let mut server = Server(child);
    let listening = rx
        .iter()
        .find(|l| l.contains("listening"))
        .expect("no 'listening' line");
    assert!(
        listening.contains("origin=http://edge:***@127.0.0.1:9/fragments"),
        "{listening}"
    );
    server.sigterm();
    assert_eq!(server.wait().code(), Some(0));
    // The child is gone: the reader ends with its last line.
    let serve_log: Vec<String> = rx.iter().collect();

    // `synedge scaler`: the startup line and the decisions name the peers.
    let peer = "http://peer:peerSECRET@127.0.0.1:9/?token=peerSECRETtoken";
    let mut child = synedge(dir.path())
        .args([
            "--set",
            "admin.listen=127.0.0.1:0",
            "--set",
            "scaler.interval=200ms",
            "--set",
            &format!(r#"scaler.peers=["{peer}", "dns://dns:dnsSECRET@synedge-admin"]"#),
            "scaler",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = log_lines(&mut child);
    let mut scaler = Server(child);
    let running = rx
        .iter()
        .find(|l| l.contains("scaler running"))
        .expect("no 'scaler running' line");
    let admin = log_field(&running, "admin");
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        let (status, body) = http_get(&admin, "/admin/v1/scaler");
        assert_eq!(status, 200);
        let log: serde_json::Value = serde_json::from_str(&body).unwrap();
        if log["decisions"].as_array().is_some_and(|d| !d.is_empty()) {
            break body;
        }
        assert!(Instant::now() < deadline, "no decision: {body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    scaler.sigterm();
    scaler.wait();
    let log: serde_json::Value = serde_json::from_str(&body).unwrap();
    let instances = &log["decisions"][0]["instances"];
    assert_eq!(
        instances[0]["instance"], "http://peer:***@127.0.0.1:9/?token=***",
        "{log:#}"
    );
    assert_eq!(
        instances[1]["instance"], "dns://dns:***@synedge-admin",
        "{log:#}"
    );
    assert!(!body.contains("SECRET"), "{body}");
    assert!(
        running.contains(
            r#"peers=["http://peer:***@127.0.0.1:9/?token=***", "dns://dns:***@synedge-admin"]"#
        ),
        "{running}"
    );
    for line in [listening, running]
        .into_iter()
        .chain(serve_log)
        .chain(rx.iter())
    {
        assert!(
            !line.contains("SECRET"),
            "a log line shows a secret: {line}"
        );
    }
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
fn import_refuses_an_ean_of_another_brand_unless_told_to_reassign() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let set = format!("origin.url=sqlite://{}", db.display());
    let import = |file: &Path, extra: &[&str]| {
        synedge(dir.path())
            .args(["--set", &set, "import"])
            .arg(file)
            .args(extra)
            .output()
            .unwrap()
    };
    let fixture = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/catalog.ndjson"
    ));
    assert!(import(fixture, &[]).status.success());
    // The fixture gives 4006381333931 to Acme's X-100/B.
    let evil = dir.path().join("evil.ndjson");
    std::fs::write(
        &evil,
        concat!(
            r#"{"brand":"Borealis","mpn":"B1","locale":"en-GB","html":"<p>b</p>","retailers":["*"]}"#,
            "\n",
            r#"{"brand":"Evil","mpn":"E1","ean":["4006381333931"],"locale":"en-GB","html":"<p>evil</p>","retailers":["*"]}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = import(&evil, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for part in [
        "evil.ndjson: line 2:",
        "Acme's product acme/x100b",
        "Evil's product evil/e1",
        "--reassign-gtins",
        "1 problem found; nothing was written",
    ] {
        assert!(err.contains(part), "{part:?} not in {err}");
    }
    let store =
        synedge::origin::sqlite::SqliteOrigin::open(db.to_str().unwrap(), Duration::from_secs(2))
            .unwrap();
    let change_counter = store.change_counter().unwrap();

    let out = import(&evil, &["--reassign-gtins"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("imported 2 fragments for 2 products")
            && said.contains("; 1 EAN reassigned from another brand"),
        "{said}"
    );
    assert_eq!(store.change_counter().unwrap(), change_counter + 1);
}

#[test]
fn serve_warns_when_the_catalog_is_empty_naming_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = synedge(dir.path())
        .args(SERVE_ON_FREE_PORTS)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut before_listening = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.contains("listening") {
            break;
        }
        before_listening.push(line);
    }
    let _ = child.kill();
    let _ = child.wait();
    // The relative default, shown as the absolute path it resolved to.
    let db = dir.path().canonicalize().unwrap().join("data/synedge.db");
    let warning = before_listening
        .iter()
        .find(|l| l.contains("WARN") && l.contains("no products"))
        .unwrap_or_else(|| panic!("no warning in {before_listening:#?}"));
    assert!(warning.contains(&db.display().to_string()), "{warning}");
    assert!(warning.contains("synedge import FILE.ndjson"), "{warning}");
    assert!(warning.contains("204"), "{warning}");
}

#[test]
fn the_access_log_writes_one_json_line_per_request_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = synedge(dir.path())
        .args(SERVE_ON_FREE_PORTS)
        .args(["--demo", "--set", "server.access_log=json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut public = String::new();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains("listening") {
            public = log_field(&line, "public");
            break;
        }
    }
    // Keep draining the log so the server never blocks on it.
    std::thread::spawn(move || lines.for_each(drop));
    let path = "/v1/fragment?retailer=shop-one&locale=en-GB&ean=4006381333931";
    assert_eq!(http_get(&public, path).0, 200);
    assert_eq!(http_get(&public, path).0, 200);
    assert_eq!(http_get(&public, "/v1/fragment?retailer=shop-one").0, 400);
    let mut server = Server(child);
    server.sigterm();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut server.0.stdout.take().unwrap(), &mut out).unwrap();
    assert_eq!(server.wait().code(), Some(0));
    let logged: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(logged.len(), 3, "{out}");
    let (miss, hit, bad) = (&logged[0], &logged[1], &logged[2]);
    assert_eq!(miss["method"], "GET");
    assert_eq!(miss["target"], path);
    assert_eq!(miss["status"], 200);
    assert_eq!(
        (miss["cache"].as_str(), hit["cache"].as_str()),
        (Some("MISS"), Some("HIT"))
    );
    assert!(miss["bytes"].as_u64().unwrap() > 100, "{miss}");
    assert!(miss["duration_ms"].as_f64().unwrap() >= 0.0);
    assert!(
        miss["client"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{miss}"
    );
    assert!(miss["time"].as_str().unwrap().ends_with('Z'), "{miss}");
    assert_eq!(
        (bad["status"].as_u64(), bad["cache"].as_str()),
        (Some(400), None)
    );
}

#[test]
fn serve_demo_seeds_an_empty_store_serves_it_and_exits_0_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, public, admin, log) = start_serve(dir.path(), &["--demo"]);
    // It says where the demo is, right after where it listens.
    let demo = log
        .recv_timeout(Duration::from_secs(10))
        .expect("no line after the listening one");
    assert!(
        demo.contains(&format!("the demo is at http://{public}/demo")),
        "{demo}"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get(&public, "/readyz").0 != 200 {
        assert!(Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(20));
    }
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
