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

#[test]
fn serve_demo_seeds_an_empty_store_serves_it_and_exits_0_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = synedge(dir.path())
        .args([
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
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
    assert!(
        dir.path().join("data/synedge.db").exists(),
        "the embedded default store is created"
    );
    let mut ready = false;
    while !ready && Instant::now() < deadline {
        ready = http_get(&public, "/readyz").0 == 200;
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ready);
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

    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let hc = synedge(dir.path())
        .args(["healthcheck", "--addr", &public])
        .status()
        .unwrap();
    assert!(!hc.success(), "healthcheck fails once the server is gone");
}
