//! The real `synedge` binary: configuration errors, check-config, import, seed, and
//! `serve --demo` from start to SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_synedge");

fn synedge(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    // Run where no config/default.toml exists, with no SYNEDGE_* from the caller.
    c.current_dir(dir);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SYNEDGE_")) {
        c.env_remove(k);
    }
    c.env("RUST_LOG", "info");
    c
}

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

/// Sends one HTTP/1.1 request and returns (status, body).
fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Starts `synedge serve` on port 0 with `extra` arguments; returns the child and the
/// public and admin addresses it logged.
fn spawn_serve(dir: &Path, extra: &[&str]) -> (Server, String, String) {
    let mut child = synedge(dir)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The log line "listening public=… admin=…" tells where it bound.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut public, mut admin) = (String::new(), String::new());
    while public.is_empty() && Instant::now() < deadline {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server log ended early");
        if line.contains("listening") {
            let field = |name: &str| {
                line.split(&format!("{name}="))
                    .nth(1)
                    .unwrap()
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .to_owned()
            };
            public = field("public");
            admin = field("admin");
        }
    }
    assert!(!public.is_empty(), "no listening line");
    let mut ready = false;
    while !ready && Instant::now() < deadline {
        ready = http_get(&public, "/readyz").0 == 200;
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ready);
    (Server(child), public, admin)
}

/// A running server, killed if a failing test leaves it running.
struct Server(std::process::Child);

impl Server {
    fn sigterm(&self) {
        std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .unwrap();
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        self.0.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
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

/// Sends one HTTP/1.1 POST and returns the status.
fn http_post(addr: &str, path: &str, body: &str) -> u16 {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out[9..12].parse().unwrap()
}

#[test]
fn sigterm_writes_every_queued_event_before_exiting() {
    use synedge::events::{EventStore, StatsFilter};
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
    let rows = store.stats(&StatsFilter::default()).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].product, "ean:04006381333931");
    assert_eq!(rows[0].count, REQUESTS * 25);
}
