//! Warm start: the hot-set export on the admin listener, a new instance loading its
//! peers' hot sets before it reports ready, what a dead or hung peer costs, and (with
//! PostgreSQL and oha) a third instance joining a loaded fleet.

mod common;

use std::time::{Duration, Instant};

use common::process::{http_get, start_serve};
use common::{TOKEN, TestServer, acme};
use http::StatusCode;
use synedge::cache::wire;
use synedge::warm;

/// The value of a Prometheus sample, 0 when absent.
fn sample(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v.parse::<f64>().unwrap())
        .sum()
}

/// The sum of every sample of `family` (all label values).
fn family(metrics: &str, family: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(family) && l[family.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(_, v)| v.parse::<f64>().unwrap())
        .sum()
}

#[tokio::test]
async fn the_hot_set_export_needs_the_token_ranks_by_heat_and_honours_its_limit() {
    let s = TestServer::start().await;
    let (hot, warm_key, negative) = (
        acme("shop-one", "en-GB"),
        acme("shop-one", "fr-FR"),
        acme("nobody", "en-GB"),
    );
    for (path, times) in [(&hot, 6), (&warm_key, 3), (&negative, 1)] {
        for _ in 0..times {
            s.get(path).await;
        }
    }
    let refused = s.admin_get("/admin/v1/cache/hot").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json()["error"], "unauthorized");
    let wrong = s
        .admin_get_auth("/admin/v1/cache/hot", Some("not-the-admin-token"))
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    let all = s.admin_get_auth("/admin/v1/cache/hot", Some(TOKEN)).await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.header("content-type"), wire::CONTENT_TYPE);
    assert_eq!(all.header("cache-control"), "no-store");
    assert_eq!(all.header("x-synedge-hot-entries"), "3");
    let read = wire::decode(&all.body, tokio::time::Instant::now(), 0).unwrap();
    assert_eq!(read.len(), 3);
    // Hottest first: five hits, then two, then none (the negative entry travels too).
    let scores: Vec<u32> = read.iter().map(|d| d.entry.heat.score(0)).collect();
    assert_eq!(scores, [5, 2, 0]);
    assert!(read[0].entry.content.is_some() && read[2].entry.content.is_none());

    let one = s
        .admin_get_auth("/admin/v1/cache/hot?limit=1", Some(TOKEN))
        .await;
    assert_eq!(one.header("x-synedge-hot-entries"), "1");
    let read1 = wire::decode(&one.body, tokio::time::Instant::now(), 0).unwrap();
    assert_eq!(read1.len(), 1);
    assert_eq!(read1[0].key, read[0].key);

    for bad in ["limit=0", "limit=50001", "limit=many", "limit=1&limit=2"] {
        let a = s
            .admin_get_auth(&format!("/admin/v1/cache/hot?{bad}"), Some(TOKEN))
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}");
        let detail = a.json()["detail"].as_str().unwrap().to_owned();
        assert!(!detail.contains("many"), "input echoed: {detail}");
    }
    let a = s
        .admin_get_auth("/admin/v1/cache/hot?limit=0", Some(TOKEN))
        .await;
    assert_eq!(
        a.json()["detail"],
        "limit must be a whole number from 1 to 50000"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_new_instance_serves_its_peers_hot_set_without_asking_its_origin() {
    let peer = TestServer::start().await;
    let paths = [
        acme("shop-one", "en-GB"),
        acme("shop-one", "fr-FR"),
        acme("nobody", "en-GB"),
    ];
    let mut before = Vec::new();
    for p in &paths {
        peer.get(p).await;
        before.push(peer.get(p).await);
    }
    let admin = format!("http://{}", peer.admin);
    let joined = TestServer::start_with(|c| c.cache.warm_from = Some(vec![admin])).await;
    let metrics = joined.admin_get("/metrics").await.text().to_owned();
    assert_eq!(
        sample(&metrics, "synedge_cache_warmed_entries_total"),
        3.0,
        "{metrics}"
    );
    for (p, was) in paths.iter().zip(&before) {
        let a = joined.get_with(p, &[("accept-encoding", "br")]).await;
        let b = peer.get_with(p, &[("accept-encoding", "br")]).await;
        assert_eq!(a.status, was.status, "{p}");
        assert_eq!(a.header("x-cache"), "HIT", "{p}");
        for h in ["etag", "cache-control", "content-encoding", "content-type"] {
            assert_eq!(a.header(h), b.header(h), "{p}: {h}");
        }
        assert_eq!(a.body, b.body, "{p}");
        // The age carried over: the new instance does not restart the entry's life.
        let age: u64 = a.header("age").parse().unwrap_or(0);
        let peer_age: u64 = b.header("age").parse().unwrap_or(0);
        assert!(
            age + 1 >= peer_age,
            "{p}: age {age} vs the peer's {peer_age}"
        );
    }
    let metrics = joined.admin_get("/metrics").await.text().to_owned();
    assert_eq!(
        family(&metrics, "synedge_origin_requests_total"),
        0.0,
        "the origin was asked: {metrics}"
    );
    assert_eq!(
        sample(&metrics, "synedge_cache_requests_total{result=\"miss\"}"),
        0.0
    );

    // A purge still reaches what was warmed.
    let purged = joined
        .admin_post(
            "/admin/v1/purge",
            r#"{"surrogate_keys": ["product:acme/x100b"]}"#,
            Some(TOKEN),
        )
        .await;
    assert_eq!(purged.status, StatusCode::OK);
    assert_eq!(joined.get(&paths[0]).await.header("x-cache"), "MISS");
    joined.stop().await;
    peer.stop().await;
}

#[tokio::test]
async fn a_peer_with_another_token_gives_nothing_and_costs_nothing_more() {
    let peer = TestServer::start().await;
    peer.get(&acme("shop-one", "en-GB")).await;
    let admin = format!("http://{}", peer.admin);
    let joined = TestServer::start_with(|c| {
        c.cache.warm_from = Some(vec![admin]);
        c.admin.token = Some(synedge::config::Secret::new("a-different-admin-token"));
    })
    .await;
    let metrics = joined.admin_get("/metrics").await.text().to_owned();
    assert_eq!(sample(&metrics, "synedge_cache_warmed_entries_total"), 0.0);
    assert_eq!(
        joined
            .get(&acme("shop-one", "en-GB"))
            .await
            .header("x-cache"),
        "MISS"
    );
    joined.stop().await;
    peer.stop().await;
}

#[tokio::test]
async fn an_instance_never_warms_from_itself() {
    let s = TestServer::start().await;
    s.get(&acme("shop-one", "en-GB")).await;
    let id = warm::cache_id(&s.app.state.cache);
    let refused = s
        .send(
            http::Request::get(format!("http://{}/admin/v1/cache/hot", s.admin))
                .header("authorization", format!("Bearer {TOKEN}"))
                .header(warm::CACHE_ID_HEADER, &id)
                .body(Default::default())
                .unwrap(),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.json()["error"], warm::SELF_CODE);
    // Its own admin URL in the list: asked, recognised, skipped, not counted.
    let got = warm::run(
        &s.app.state.cache,
        &[format!("http://{}", s.admin)],
        s.app.config.admin.token.as_ref(),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!((got.peers, got.answered, got.entries), (0, 0, 0));
    s.stop().await;
}

/// Waits for the `ready` log line of a server started with [`start_serve`]; the line.
fn ready_line(log: &std::sync::mpsc::Receiver<String>, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = log.recv_timeout(left).expect("no ready line in time");
        if line.contains("synedge::app: ready") {
            return line;
        }
    }
}

/// The number after `name=` in a log line.
fn field(line: &str, name: &str) -> u64 {
    common::process::log_field(line, name)
        .trim_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .unwrap_or_else(|_| panic!("no {name} in {line}"))
}

#[test]
fn a_dead_peer_costs_nothing_and_a_hung_one_only_the_warm_timeout() {
    let dir = tempfile::tempdir().unwrap();
    // A closed port: refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    // A listener that never accepts: connects (the kernel's backlog), never answers.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hung_addr = hung.local_addr().unwrap();

    let warm_from = |peers: &[std::net::SocketAddr]| {
        let list: Vec<String> = peers.iter().map(|a| format!("\"http://{a}\"")).collect();
        format!("cache.warm_from=[{}]", list.join(", "))
    };
    let run = |peers: &[std::net::SocketAddr], timeout: &str| {
        let started = Instant::now();
        let (server, public, _admin, log) = start_serve(
            dir.path(),
            &[
                "--set",
                &warm_from(peers),
                "--set",
                &format!("cache.warm_timeout={timeout}"),
            ],
        );
        let line = ready_line(&log, Duration::from_secs(60));
        let took = started.elapsed();
        assert_eq!(http_get(&public, "/readyz").0, 200, "{line}");
        (server, line, took)
    };

    let (mut s, line, took) = run(&[closed_addr], "30s");
    eprintln!("a closed port: ready after {took:?}: {line}");
    assert_eq!(field(&line, "peers"), 1, "{line}");
    assert_eq!(field(&line, "peers_answered"), 0, "{line}");
    // Far less than the 30 s it was allowed: a refused connection is not waited on.
    assert!(field(&line, "warm_ms") < 15_000, "{line}");
    s.sigterm();
    assert!(s.wait().success());

    let (mut s, line, took) = run(&[closed_addr, hung_addr], "2s");
    eprintln!("a closed port and a hung peer: ready after {took:?}: {line}");
    assert_eq!(field(&line, "peers"), 2, "{line}");
    assert_eq!(field(&line, "peers_answered"), 0, "{line}");
    let warm_ms = field(&line, "warm_ms");
    assert!(
        warm_ms >= 1_900,
        "waited for the hung peer only {warm_ms} ms"
    );
    s.sigterm();
    assert!(s.wait().success());
    drop(hung);
}

/// The catalog of the fleet test: every product once, as `shop-one` in `en-GB`.
const FLEET_PRODUCTS: usize = 800;
/// Requests per second oha sends each instance (rate-limited: the figures are about
/// the cache, not about how fast this machine is).
const FLEET_RPS: u32 = 150;
/// How long the joiner's traffic is measured: its first seconds of traffic.
const FIRST_SECS: u32 = 10;

/// One full URL per line for `oha --urls-from-file` (which picks lines at random), the
/// product of rank `r` on `round(200 / r)` lines and at least one: a Zipf distribution
/// (s = 1) over the whole catalog.
fn zipf_urls(dir: &std::path::Path, public: &str) -> String {
    let mut lines = Vec::new();
    for (rank, path) in synedge::catalog::seed::request_paths(FLEET_PRODUCTS)
        .iter()
        .enumerate()
    {
        let n = (200.0 / (rank + 1) as f64).round().max(1.0) as usize;
        lines.extend(std::iter::repeat_n(format!("http://{public}{path}"), n));
    }
    let file = dir.join(format!("zipf-{}.txt", public.replace([':', '.'], "-")));
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    file.display().to_string()
}

/// oha at [`FLEET_RPS`] for `secs` on each of `publics`, all at once; waits for all.
fn load(oha: &str, dir: &std::path::Path, publics: &[&str], secs: u32) {
    let children: Vec<std::process::Child> = publics
        .iter()
        .map(|p| {
            std::process::Command::new(oha)
                .args(["--no-tui", "--urls-from-file", &zipf_urls(dir, p)])
                .args(["-z", &format!("{secs}s"), "-c", "4"])
                .args(["-q", &FLEET_RPS.to_string()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "oha failed");
    }
}

/// Cache answers from memory (hit, stale, negative) and lookups in all, from /metrics.
fn cache_counts(admin: &str) -> (f64, f64) {
    let (status, m) = http_get(admin, "/metrics");
    assert_eq!(status, 200);
    let n = |r: &str| {
        sample(
            &m,
            &format!("synedge_cache_requests_total{{result=\"{r}\"}}"),
        )
    };
    let hits = n("hit") + n("stale") + n("negative");
    (hits, hits + n("miss"))
}

fn origin_requests(admin: &str) -> f64 {
    family(
        &http_get(admin, "/metrics").1,
        "synedge_origin_requests_total",
    )
}

/// `synedge serve` with `args`, waited on until `/readyz` says 200: the server, its
/// addresses, its log from then on, and how long it took to become ready.
fn serve_ready(
    dir: &std::path::Path,
    args: &[&str],
) -> (
    common::process::Server,
    String,
    String,
    std::sync::mpsc::Receiver<String>,
    Duration,
) {
    let started = Instant::now();
    let (server, public, admin, log) = start_serve(dir, args);
    while http_get(&public, "/readyz").0 != 200 {
        assert!(started.elapsed() < Duration::from_secs(60), "not ready");
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = started.elapsed();
    (server, public, admin, log, took)
}

/// Three `synedge serve` processes on one PostgreSQL: two warm ones under Zipf load,
/// then a third joins with `cache.warm_from` naming them. Over its first seconds of
/// traffic it answers from memory as often as they do, and it asks the origin for
/// almost nothing; the same join without the warm-up is measured for comparison.
#[tokio::test(flavor = "multi_thread")]
async fn a_third_instance_joining_a_loaded_fleet_starts_warm() {
    let Some(db) = common::postgres::TestDb::create("warm_join").await else {
        return;
    };
    let Some(oha) = common::process::oha() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let origin = format!("origin.url={}", db.url);
    let token = format!("admin.token={TOKEN}");
    let seeded = common::process::synedge(dir.path())
        .args(["--set", &origin, "seed", "--demo", "--products"])
        .arg(FLEET_PRODUCTS.to_string())
        .output()
        .unwrap();
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let base = ["--set", origin.as_str(), "--set", token.as_str()];
    let (_a, a_pub, a_admin, a_log, _) = serve_ready(dir.path(), &base);
    let (_b, b_pub, b_admin, _b_log, _) = serve_ready(dir.path(), &base);

    // The warm instances have served for a while: every product once (a long-running
    // instance holds the whole active catalog), then Zipf traffic ranks the hot set.
    let paths = synedge::catalog::seed::request_paths(FLEET_PRODUCTS);
    std::thread::scope(|s| {
        for public in [&a_pub, &b_pub] {
            for part in paths.chunks(FLEET_PRODUCTS / 4) {
                s.spawn(move || {
                    for p in part {
                        assert_eq!(http_get(public, p).0, 200, "{p}");
                    }
                });
            }
        }
    });
    load(oha, dir.path(), &[&a_pub, &b_pub], 4);

    // The joiner, warming from both.
    let warm_from = format!("cache.warm_from=[\"http://{a_admin}\", \"http://{b_admin}\"]");
    let mut args = base.to_vec();
    args.extend(["--set", &warm_from]);
    let (_c, c_pub, c_admin, c_log, c_ready) = serve_ready(dir.path(), &args);
    let ready = ready_line(&c_log, Duration::from_secs(5));
    let warmed = field(&ready, "warmed_entries");
    let exported = std::iter::from_fn(|| a_log.recv_timeout(Duration::from_secs(5)).ok())
        .find(|l| l.contains("exported the hot set"))
        .expect("the warm instance logged its export");
    eprintln!(
        "warm join: ready {c_ready:?} after start; {ready}\n  peer export: entries={} bytes={} took_ms={}",
        field(&exported, "entries"),
        field(&exported, "bytes"),
        field(&exported, "took_ms"),
    );
    assert_eq!(field(&ready, "peers_answered"), 2, "{ready}");
    // Both peers hold every product: each key is added (and counted) once.
    assert_eq!(warmed as usize, FLEET_PRODUCTS, "{ready}");
    let origin_before = origin_requests(&c_admin);

    // The joiner's first seconds of traffic, and the warm ones' over the same seconds.
    let before = [cache_counts(&a_admin), cache_counts(&b_admin)];
    load(oha, dir.path(), &[&a_pub, &b_pub, &c_pub], FIRST_SECS);
    let after = [cache_counts(&a_admin), cache_counts(&b_admin)];
    let (c_hits, c_lookups) = cache_counts(&c_admin);
    let warm_hits: f64 = (0..2).map(|i| after[i].0 - before[i].0).sum();
    let warm_lookups: f64 = (0..2).map(|i| after[i].1 - before[i].1).sum();
    let warm_ratio = warm_hits / warm_lookups;
    let joined_ratio = c_hits / c_lookups;
    let fetched = origin_requests(&c_admin);
    eprintln!(
        "first {FIRST_SECS} s: warm instances {:.2}% of {warm_lookups} lookups from memory; \
         the warmed joiner {:.2}% of {c_lookups}; its origin requests {fetched} \
         ({origin_before} before traffic) = {:.2}% of the {warmed} entries warmed",
        warm_ratio * 100.0,
        joined_ratio * 100.0,
        fetched / warmed as f64 * 100.0,
    );
    assert!(c_lookups > 100.0, "the joiner got no load: {c_lookups}");
    assert!(
        joined_ratio >= warm_ratio - 0.02,
        "the joiner answered {joined_ratio:.4} from memory, the warm ones {warm_ratio:.4}"
    );
    assert!(
        fetched <= (warmed as f64 * 0.01).max(1.0),
        "the join cost {fetched} origin requests for a warm set of {warmed}"
    );

    // The same join without a warm-up: what a new instance got before.
    let mut args = base.to_vec();
    args.extend(["--set", "cache.warm_from=[]"]);
    let (_d, d_pub, d_admin, _d_log, d_ready) = serve_ready(dir.path(), &args);
    load(oha, dir.path(), &[&a_pub, &b_pub, &d_pub], FIRST_SECS);
    let (d_hits, d_lookups) = cache_counts(&d_admin);
    let cold_ratio = d_hits / d_lookups;
    let cold_fetched = origin_requests(&d_admin);
    eprintln!(
        "cold join: ready {d_ready:?} after start; first {FIRST_SECS} s: {:.2}% of {d_lookups} \
         lookups from memory; {cold_fetched} origin requests = {:.2}% of the catalog",
        cold_ratio * 100.0,
        cold_fetched / FLEET_PRODUCTS as f64 * 100.0,
    );
    assert!(
        joined_ratio > cold_ratio + 0.05,
        "warm {joined_ratio:.4} vs cold {cold_ratio:.4}"
    );
    assert!(cold_fetched > fetched * 10.0, "{cold_fetched} vs {fetched}");
}
