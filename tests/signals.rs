//! `GET /admin/v1/signals` and the `synedge_signals_*` gauges: this instance's load as the
//! scaler reads it, from real requests.

mod common;

use std::time::Duration;

use common::{TestServer, acme};
use http::StatusCode;

#[tokio::test]
async fn signals_report_rate_latency_and_cache_hits_from_real_requests() {
    let s = TestServer::start().await;
    let idle = s.admin_get("/admin/v1/signals").await.json();
    assert_eq!(idle["rps"], 0.0);
    assert_eq!(idle["window_s"], 10);
    // 1 miss then 39 hits, and probes that must not count as load.
    for _ in 0..40 {
        assert_eq!(
            s.get(&acme("shop-one", "en-GB")).await.status,
            StatusCode::OK
        );
        s.get("/healthz").await;
    }
    s.get("/v1/fragment?retailer=shop-one").await; // 400: not an error of ours
    // Windows count complete seconds.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let v = s.admin_get("/admin/v1/signals").await.json();
    for field in [
        "instance",
        "ts",
        "window_s",
        "rps",
        "in_flight",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "cpu",
        "error_rate",
        "shed_rate",
        "cache_hit_ratio",
        "origin_p99_ms",
        "origin_error_rate",
        "events_queue_depth",
    ] {
        assert!(v.get(field).is_some(), "missing {field}: {v}");
    }
    assert!(
        (v["rps"].as_f64().unwrap() - 4.1).abs() < 1e-9,
        "41 requests over 10 s: {v}"
    );
    assert_eq!(v["error_rate"], 0.0);
    assert!(
        (v["cache_hit_ratio"].as_f64().unwrap() - 39.0 / 40.0).abs() < 1e-9,
        "{v}"
    );
    let (p50, p99) = (v["p50_ms"].as_f64().unwrap(), v["p99_ms"].as_f64().unwrap());
    assert!(p50 > 0.0 && p50 <= p99 && p99 < 1000.0, "{v}");
    assert!(
        v["origin_p99_ms"].as_f64().unwrap() > 0.0,
        "one origin lookup: {v}"
    );
    assert_eq!(v["in_flight"], 0);
    assert!(v["instance"].as_str().is_some_and(|i| !i.is_empty()));

    let v60 = s.admin_get("/admin/v1/signals?window=60").await.json();
    assert_eq!(v60["window_s"], 60);
    assert!(
        (v60["rps"].as_f64().unwrap() - 41.0 / 60.0).abs() < 1e-9,
        "{v60}"
    );
    let bad = s.admin_get("/admin/v1/signals?window=3600").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["error"], "invalid_window");

    // The same values on /metrics, refreshed every second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let m = s.admin_get("/metrics").await;
    let line = m
        .text()
        .lines()
        .find(|l| l.starts_with("synedge_signals_requests_per_second{window=\"10s\"}"))
        .unwrap_or_else(|| panic!("no rps gauge:\n{}", m.text()))
        .to_owned();
    assert!(line.ends_with(" 4.1"), "{line}");
    assert!(
        m.text()
            .contains("synedge_signals_latency_p99_seconds{window=\"60s\"}")
    );
    // Not running here: the scaler log says so.
    let log = s.admin_get("/admin/v1/scaler").await.json();
    assert_eq!(
        (&log["running"], &log["decisions"]),
        (&serde_json::json!(false), &serde_json::json!([]))
    );
    s.stop().await;
}

#[tokio::test]
async fn a_fleet_controller_reads_every_peer_and_counts_a_silent_one_as_loaded() {
    let a = TestServer::start().await;
    let b = TestServer::start().await;
    let peers = vec![
        format!("http://{}", a.admin),
        format!("http://{}/", b.admin),
        "http://127.0.0.1:1".to_owned(), // nobody listens there
    ];
    let c = TestServer::start_with(|c| {
        c.scaler.peers = peers;
        c.scaler.min_instances = 1;
    })
    .await;
    let mut scaler = c.app.scaler().unwrap();
    scaler.round().await;
    let log = c.app.state.scaler_log.to_json();
    let d = &log["decisions"][0];
    let instances = d["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 3, "{d:#}");
    assert!(instances[0]["signals"]["rps"].is_number());
    assert!(instances[1]["signals"]["rps"].is_number());
    assert!(instances[2]["signals"].is_null());
    assert!(
        instances[2]["error"]
            .as_str()
            .unwrap()
            .contains("connecting"),
        "{d:#}"
    );
    assert_eq!(d["reporting"], 2);
    // Two idle peers and a silent one: the silent one counts at target, so the fleet is
    // not read as idle.
    assert_eq!(d["demand_rps"], c.app.config.scaler.target_rps_per_instance);
    assert_eq!(d["actuated"], false, "the log actuator only logs: {d:#}");
    for s in [a, b, c] {
        s.stop().await;
    }
}

#[tokio::test]
async fn dns_peers_are_resolved_to_every_address_each_round() {
    let a = TestServer::start().await;
    let port = a.admin.port();
    let c =
        TestServer::start_with(|c| c.scaler.peers = vec![format!("dns://localhost:{port}")]).await;
    let mut scaler = c.app.scaler().unwrap();
    scaler.round().await;
    let log = c.app.state.scaler_log.to_json();
    let instances = log["decisions"][0]["instances"].as_array().unwrap().clone();
    let v4 = instances
        .iter()
        .find(|i| i["instance"] == format!("127.0.0.1:{port}"))
        .unwrap_or_else(|| panic!("localhost did not resolve to 127.0.0.1: {instances:?}"));
    assert!(v4["signals"]["rps"].is_number(), "{v4}");
    // A name that does not resolve is one silent instance, not a failed round.
    let c2 = TestServer::start_with(|c| {
        c.scaler.peers = vec!["dns://no-such-host.invalid:9901".to_owned()];
        c.scaler.min_instances = 1;
    })
    .await;
    let mut scaler = c2.app.scaler().unwrap();
    scaler.round().await;
    let d = &c2.app.state.scaler_log.to_json()["decisions"][0];
    assert_eq!(d["reporting"], 0);
    assert!(
        d["instances"][0]["error"]
            .as_str()
            .unwrap()
            .contains("resolving"),
        "{d}"
    );
    assert_eq!(d["reason"], "no_signals");
    for s in [a, c, c2] {
        s.stop().await;
    }
}
