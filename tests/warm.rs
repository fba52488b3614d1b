//! Warm start: the hot-set export on the admin listener, a new instance loading its
//! peers' hot sets before it reports ready, what a dead or hung peer costs, and (with
//! PostgreSQL and oha) a third instance joining a loaded fleet.

mod common;

use std::time::{Duration, Instant};

use common::process::{http_get, start_serve};
use common::{TOKEN, TestServer, acme};
use http::StatusCode;
use synedge::cache::{warm, wire};

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
                "--demo",
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
