//! Fault injection against the real binary (issue 7): an HTTP upstream origin this test
//! kills, hangs and slows down; SIGTERM under load; overload; slowloris and oversized
//! requests. Load comes from oha (rate-limited, so figures reflect the server, not a
//! saturated machine); each test asserts numbers and runs for a few seconds.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::process::{http_get, http_post, oha};
use common::upstream::{HANG, OK, SLOW, Upstream, serve_over};
use serde_json::Value;
use synedge::catalog::seed::ean13;

/// These tests measure latency: one at a time, so they do not load each other.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn fragment_path(i: usize) -> String {
    format!(
        "/v1/fragment?retailer=shop-one&locale=en-GB&ean={}",
        ean13(i + 1)
    )
}

/// Writes one full URL per path for `oha --urls-from-file`.
fn url_file(dir: &Path, name: &str, public: &str, paths: &[String]) -> String {
    let file = dir.join(name);
    let text: Vec<String> = paths
        .iter()
        .map(|p| format!("http://{public}{p}"))
        .collect();
    std::fs::write(&file, text.join("\n") + "\n").unwrap();
    file.display().to_string()
}

/// Starts oha: `rate` requests/s (0: as fast as it can) over `conns` connections for
/// `secs`, over the URLs in `urls`; JSON summary on stdout.
fn start_oha(oha: &str, urls: &str, secs: u32, conns: u32, rate: u32) -> std::process::Child {
    let mut c = Command::new(oha);
    c.args([
        "--no-tui",
        "--output-format",
        "json",
        "--urls-from-file",
        urls,
    ])
    .args(["-z", &format!("{secs}s"), "-c", &conns.to_string()]);
    if rate > 0 {
        c.args(["-q", &rate.to_string()]);
    }
    c.stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn oha_result(child: std::process::Child) -> Value {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "oha failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Status code → count, from oha's summary.
fn statuses(v: &Value) -> Vec<(String, u64)> {
    let mut s: Vec<(String, u64)> = v["statusCodeDistribution"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
        .collect();
    s.sort();
    s
}

fn p99_ms(v: &Value) -> f64 {
    v["latencyPercentiles"]["p99"].as_f64().unwrap() * 1000.0
}

/// A metric's value from `/metrics` (first series whose line starts with `series`).
fn metric(admin: &str, series: &str) -> f64 {
    let (_, text) = http_get(admin, "/metrics");
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in /metrics"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_or_hanging_origin_costs_cached_keys_nothing_and_the_breaker_recovers() {
    let _serial = SERIAL.lock().await;
    let Some(oha) = oha() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut upstream = Upstream::start(OK).await;
    let (mut server, public, admin) = serve_over(
        dir.path(),
        &upstream,
        // Entries go stale within a second, so the origin is asked again during the run.
        &[
            "cache.ttl=1s",
            "cache.stale_while_revalidate=1s",
            "origin.timeout=200ms",
        ],
    );
    let paths: Vec<String> = (0..50).map(fragment_path).collect();
    for p in &paths {
        assert_eq!(http_get(&public, p).0, 200);
    }
    let urls = url_file(dir.path(), "cached.txt", &public, &paths);
    let load = start_oha(oha, &urls, 7, 8, 400);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    upstream.kill(); // connections refused
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert!(metric(&admin, "synedge_origin_breaker_opens_total") >= 1.0);
    upstream.restart().await;
    upstream.set(HANG); // accepts, never answers
    tokio::time::sleep(Duration::from_millis(2000)).await;
    upstream.set(OK);
    let result = tokio::task::spawn_blocking(move || oha_result(load))
        .await
        .unwrap();
    let codes = statuses(&result);
    assert_eq!(codes.len(), 1, "every request answered 200: {codes:?}");
    assert_eq!(codes[0].0, "200");
    let p99 = p99_ms(&result);
    eprintln!(
        "origin down/hanging: {} requests, all 200, p99 {p99:.2} ms",
        codes[0].1
    );
    assert!(p99 < 10.0, "p99 {p99} ms");
    // The origin is back: a probe closes the breaker (requests keep coming to trigger it).
    let started = Instant::now();
    while metric(&admin, "synedge_origin_breaker_state") != 0.0 {
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "the breaker stayed open"
        );
        for p in paths.iter().take(5) {
            http_get(&public, p);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A key never seen while the origin is down: an error, not cached.
    upstream.kill();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, body) = http_get(&public, &fragment_path(999));
    assert!(status == 502 || status == 504, "{status} {body}");
    upstream.restart().await;
    let deadline = Instant::now() + Duration::from_secs(40);
    while http_get(&public, &fragment_path(999)).0 != 200 {
        assert!(Instant::now() < deadline, "the error was cached");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.sigterm();
    assert!(server.wait().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_fails_no_request_and_exits_0() {
    let _serial = SERIAL.lock().await;
    let Some(oha) = oha() else { return };
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start(OK).await;
    let (mut server, public, _admin) = serve_over(
        dir.path(),
        &upstream,
        &["shutdown.pre_stop_delay=4s", "shutdown.grace=5s"],
    );
    let paths: Vec<String> = (0..20).map(fragment_path).collect();
    let urls = url_file(dir.path(), "urls.txt", &public, &paths);
    let load = start_oha(oha, &urls, 3, 8, 500);
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.sigterm();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Draining: readiness tells the load balancer, the listener still serves.
    assert_eq!(http_get(&public, "/readyz").0, 503);
    let result = tokio::task::spawn_blocking(move || oha_result(load))
        .await
        .unwrap();
    let codes = statuses(&result);
    eprintln!(
        "SIGTERM under load: {codes:?}, errors {}",
        result["errorDistribution"]
    );
    assert_eq!(codes.len(), 1, "{codes:?}");
    assert_eq!(codes[0].0, "200");
    // oha cancels what is in flight when its own -z deadline comes; nothing else failed.
    let errors = result["errorDistribution"].as_object().unwrap();
    assert!(
        errors.keys().all(|k| k == "aborted due to deadline"),
        "{errors:?}"
    );
    assert!(server.wait().success(), "exit 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_sheds_misses_keeps_hits_fast_and_probes_up_then_recovers() {
    let _serial = SERIAL.lock().await;
    let Some(oha) = oha() else { return };
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start(OK).await;
    let (mut server, public, admin) = serve_over(dir.path(), &upstream, &[]);
    let hot: Vec<String> = (0..5).map(fragment_path).collect();
    for p in &hot {
        assert_eq!(http_get(&public, p).0, 200);
    }
    let hot_urls = url_file(dir.path(), "hot.txt", &public, &hot);
    let baseline = tokio::task::spawn_blocking({
        let (oha, hot_urls) = (oha.to_owned(), hot_urls.clone());
        move || oha_result(start_oha(&oha, &hot_urls, 2, 4, 200))
    })
    .await
    .unwrap();
    let unloaded = p99_ms(&baseline);

    // Far more concurrency than a slow origin can carry, all on keys never seen.
    upstream.set(SLOW);
    let cold: Vec<String> = (100..5100).map(fragment_path).collect();
    let cold_urls = url_file(dir.path(), "cold.txt", &public, &cold);
    // 400 connections asking 1,000 misses a second: ~300 wanted in flight at 300 ms
    // each, where the upstream carries 64.
    let flood = start_oha(oha, &cold_urls, 5, 400, 1000);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let hits = start_oha(oha, &hot_urls, 2, 4, 200);
    let mut healthz = Vec::new();
    for _ in 0..5 {
        healthz.push(http_get(&public, "/healthz").0);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (hits, flood) = tokio::task::spawn_blocking(move || (oha_result(hits), oha_result(flood)))
        .await
        .unwrap();
    let flood_codes = statuses(&flood);
    let shed = flood_codes
        .iter()
        .find(|(c, _)| c == "503")
        .map_or(0, |c| c.1);
    let loaded = p99_ms(&hits);
    let limit_under_load = metric(&admin, "synedge_concurrency_limit");
    eprintln!(
        "overload: flood {flood_codes:?}; hits p99 {loaded:.2} ms vs {unloaded:.2} ms unloaded; \
         limit {limit_under_load}"
    );
    assert!(shed > 0, "nothing was shed: {flood_codes:?}");
    assert_eq!(healthz, [200; 5]);
    let hit_codes = statuses(&hits);
    assert_eq!(hit_codes.len(), 1, "hits are never shed: {hit_codes:?}");
    assert_eq!(hit_codes[0].0, "200");
    // Hits never wait on the flood's misses, which hold 300 ms at the origin: their p99
    // stays a fraction of that, and of the 100 ms latency SLO. (How much slower than
    // unloaded they get is CPU contention of a debug build with two load generators on
    // two shared cores; it is printed above, not bounded: 3.5x to 6x so far.)
    assert!(
        loaded < 50.0,
        "hits p99 {loaded} ms (unloaded {unloaded} ms): hits waited on the shed misses"
    );
    assert!(metric(&admin, "synedge_shed_requests_total{route=\"fragment\"}") > 0.0);
    // Every 503 the clients saw is in the request counter too, shed ones included.
    let answered_503 = metric(
        &admin,
        "synedge_http_requests_total{route=\"fragment\",status=\"503\"}",
    );
    assert!(answered_503 >= shed as f64, "{answered_503} < {shed}");
    // Load gone: the limit climbs back.
    upstream.set(OK);
    let started = Instant::now();
    while metric(&admin, "synedge_concurrency_limit") < 256.0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the limit did not recover"
        );
        for p in &hot {
            http_get(&public, p);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.sigterm();
    assert!(server.wait().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_and_oversized_requests_are_cut_off_without_hurting_others() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start(OK).await;
    let (mut server, public, _admin) = serve_over(
        dir.path(),
        &upstream,
        &[
            "server.header_read_timeout=1s",
            "server.keep_alive_timeout=1s",
        ],
    );
    // 50 clients dribbling a header byte every 200 ms.
    let loris: Vec<std::thread::JoinHandle<Duration>> = (0..50)
        .map(|_| {
            let public = public.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut s = std::net::TcpStream::connect(&public).unwrap();
                s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                    .unwrap();
                for _ in 0..50 {
                    std::thread::sleep(Duration::from_millis(200));
                    if s.write_all(b"X").is_err() {
                        break;
                    }
                }
                let mut buf = [0u8; 256];
                let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
                let _ = s.read(&mut buf);
                started.elapsed()
            })
        })
        .collect();
    // Meanwhile, ordinary clients are served at once.
    for i in 0..20 {
        let started = Instant::now();
        assert_eq!(http_get(&public, &fragment_path(i)).0, 200);
        assert!(started.elapsed() < Duration::from_millis(500));
    }
    for l in loris {
        let held = l.join().unwrap();
        assert!(
            held < Duration::from_secs(4),
            "a slowloris client held on for {held:?}"
        );
    }
    // An idle keep-alive connection is closed after server.keep_alive_timeout.
    let mut idle = std::net::TcpStream::connect(&public).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 512];
    assert!(idle.read(&mut buf).unwrap() > 0);
    let started = Instant::now();
    assert_eq!(idle.read(&mut buf).unwrap_or(0), 0, "closed, not answered");
    let idle_for = started.elapsed();
    assert!(idle_for < Duration::from_millis(2500), "{idle_for:?}");
    // Oversized: headers (431 or cut), query (414), beacon body (413).
    let mut s = std::net::TcpStream::connect(&public).unwrap();
    let big = "a".repeat(100 * 1024);
    let _ = write!(
        s,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n"
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(
        out.is_empty() || out.starts_with("HTTP/1.1 431"),
        "{}",
        &out[..out.len().min(80)]
    );
    let long = format!(
        "/v1/fragment?retailer=shop-one&locale=en-GB&ean=1&pad={}",
        "x".repeat(4000)
    );
    assert_eq!(http_get(&public, &long).0, 414);
    let body = format!("[{}]", vec![r#"{"type":"view"}"#; 6000].join(","));
    assert_eq!(http_post(&public, "/v1/events", &body), 413);
    assert_eq!(http_get(&public, "/healthz").0, 200);
    server.sigterm();
    assert!(server.wait().success());
}
