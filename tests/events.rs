//! `POST /v1/events` end to end: beacons in, rollup counts out of `GET /admin/v1/stats`,
//! over a real SQLite file.

mod common;

use std::time::Duration;

use common::{TOKEN, TestServer};
use http::StatusCode;
use serde_json::{Value, json};
use synedge::events::{EventStore, StatsFilter};
use synedge::origin::sqlite::SqliteOrigin;

/// A server whose writer flushes every 20 ms.
async fn fast() -> TestServer {
    TestServer::start_with(|c| c.events.flush_interval = Duration::from_millis(20)).await
}

fn event(kind: &str, retailer: &str, identity: Value) -> Value {
    let mut e = json!({"type": kind, "retailer": retailer, "locale": "en-GB"});
    e.as_object_mut()
        .unwrap()
        .extend(identity.as_object().unwrap().clone());
    e
}

async fn stats(s: &TestServer, query: &str) -> Vec<Value> {
    let a = s.admin_get(&format!("/admin/v1/stats{query}")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    a.json()["rows"].as_array().unwrap().clone()
}

fn total(rows: &[Value]) -> u64 {
    rows.iter().map(|r| r["count"].as_u64().unwrap()).sum()
}

/// Polls stats until they count `n` events.
async fn wait_for_total(s: &TestServer, n: u64) -> Vec<Value> {
    for _ in 0..300 {
        let rows = stats(s, "").await;
        if total(&rows) == n {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("stats never reached {n}: {:?}", stats(s, "").await);
}

#[tokio::test]
async fn accepted_events_are_counted_per_day_retailer_product_locale_and_type() {
    let s = fast().await;
    let ts = 1_700_000_000_000_i64; // 2023-11-14
    let body = json!([
        event(
            "view",
            "shop-one",
            json!({"ean": "4006381333931", "ts": ts})
        ),
        event(
            "view",
            "shop-one",
            json!({"ean": "04006381333931", "ts": ts})
        ),
        event(
            "view",
            "shop-one",
            json!({"ean": "4006381333931", "brand": "Acme", "mpn": "X", "ts": ts})
        ),
        event(
            "click",
            "shop-one",
            json!({"brand": "ACME", "mpn": "x-100/b", "ts": ts})
        ),
        event(
            "click",
            "shop-one",
            json!({"brand": "acme", "mpn": "X100B", "sku": "zz", "ts": ts})
        ),
        event(
            "impression",
            "shop-two",
            json!({"sku": "SKU-1", "ts": ts + 86_400_000})
        ),
    ]);
    let a = s.post_events(&body.to_string()).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text());
    assert_eq!(a.header("access-control-allow-origin"), "*");
    // sendBeacon posts text/plain; a single object is a batch of one.
    let one = event("no_match", "shop-one", json!({"ean": "0012345678905"}));
    let a = s
        .request(
            "POST",
            "/v1/events",
            Some("text/plain;charset=UTF-8"),
            one.to_string(),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);

    let rows = wait_for_total(&s, 7).await;
    let find = |day: &str, product: &str, kind: &str| {
        rows.iter()
            .find(|r| r["day"] == day && r["product"] == product && r["type"] == kind)
            .map(|r| {
                (
                    r["retailer"].clone(),
                    r["locale"].clone(),
                    r["count"].as_u64().unwrap(),
                )
            })
    };
    assert_eq!(
        find("2023-11-14", "ean:04006381333931", "view"),
        Some((json!("shop-one"), json!("en-gb"), 3)),
        "three spellings, one product: {rows:?}"
    );
    assert_eq!(
        find("2023-11-14", "mpn:acme/x100b", "click").map(|f| f.2),
        Some(2)
    );
    assert_eq!(
        find("2023-11-15", "sku:SKU-1", "impression").map(|f| f.0),
        Some(json!("shop-two"))
    );
    let today = rows
        .iter()
        .find(|r| r["type"] == "no_match")
        .expect("the event without ts");
    assert_eq!(today["product"], "ean:00012345678905");
    assert_ne!(today["day"], "2023-11-14");
    assert_eq!(rows.len(), 4);

    // Filters: retailer, and inclusive day bounds.
    assert_eq!(total(&stats(&s, "?retailer=shop-two").await), 1);
    assert_eq!(total(&stats(&s, "?from=2023-11-14&to=2023-11-14").await), 5);
    assert_eq!(
        total(&stats(&s, "?retailer=shop-one&to=2023-11-15").await),
        5
    );
    assert_eq!(total(&stats(&s, "?from=2023-11-15&to=2023-11-15").await), 1);
    let bad = s.admin_get("/admin/v1/stats?from=2023-02-30").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["error"], "invalid_day");
    assert!(!bad.text().contains("2023-02-30"));

    let metrics = s.admin_get("/metrics").await;
    let text = metrics.text();
    assert!(text.contains("synedge_events_accepted_total 7"), "{text}");
    assert!(text.contains("synedge_events_written_total 7"), "{text}");
    assert!(
        text.contains("synedge_events_flush_duration_seconds_count"),
        "{text}"
    );
    assert!(text.contains("synedge_http_requests_total{route=\"events\",status=\"202\"} 2"));
    s.stop().await;
}

#[tokio::test]
async fn the_preflight_allows_cross_origin_posts() {
    let s = fast().await;
    let a = s.request("OPTIONS", "/v1/events", None, "").await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(a.header("access-control-allow-origin"), "*");
    assert_eq!(a.header("access-control-allow-methods"), "POST");
    assert_eq!(a.header("access-control-allow-headers"), "content-type");
    assert_eq!(a.header("access-control-max-age"), "86400");
    s.stop().await;
}

#[tokio::test]
async fn pause_holds_events_and_resume_drains_them() {
    let s = fast().await;
    let unauthorized = s.admin_post("/admin/v1/events/pause", "", None).await;
    assert_eq!(unauthorized.status, StatusCode::UNAUTHORIZED);
    let a = s
        .admin_post("/admin/v1/events/pause", "", Some(TOKEN))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["paused"], true);
    let body = json!([
        event("view", "shop-one", json!({"sku": "a"})),
        event("view", "shop-one", json!({"sku": "a"})),
    ]);
    for _ in 0..5 {
        assert_eq!(
            s.post_events(&body.to_string()).await.status,
            StatusCode::ACCEPTED
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        stats(&s, "").await.is_empty(),
        "nothing written while paused"
    );
    let ready = s.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert!(
        ready.text().contains("events_queue_depth 10"),
        "{}",
        ready.text()
    );

    let a = s
        .admin_post("/admin/v1/events/resume", "", Some(TOKEN))
        .await;
    assert_eq!(a.json()["paused"], false);
    let rows = wait_for_total(&s, 10).await;
    assert_eq!(rows.len(), 1);
    assert!(
        s.get("/readyz")
            .await
            .text()
            .contains("events_queue_depth 0")
    );
    s.stop().await;
}

#[tokio::test]
async fn a_full_queue_answers_503_and_every_accepted_event_is_written() {
    let s = TestServer::start_with(|c| {
        c.events.queue_capacity = 4;
        c.events.batch_size = 4;
        c.events.flush_interval = Duration::from_millis(20);
    })
    .await;
    s.admin_post("/admin/v1/events/pause", "", Some(TOKEN))
        .await;
    let one = event("click", "shop-one", json!({"sku": "a"}));
    let batch = |n: usize| Value::Array(vec![one.clone(); n]).to_string();
    assert_eq!(s.post_events(&batch(3)).await.status, StatusCode::ACCEPTED);
    let full = s.post_events(&batch(2)).await;
    assert_eq!(full.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(full.header("retry-after"), "1");
    assert_eq!(full.json()["error"], "unavailable");
    assert_eq!(s.post_events(&batch(1)).await.status, StatusCode::ACCEPTED);
    assert_eq!(
        s.post_events(&batch(1)).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    s.admin_post("/admin/v1/events/resume", "", Some(TOKEN))
        .await;
    let rows = wait_for_total(&s, 4).await;
    assert_eq!(rows[0]["count"], 4);
    // Larger than the whole queue: never fits, even when it is empty.
    assert_eq!(
        s.post_events(&batch(5)).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let text = s.admin_get("/metrics").await.text().to_owned();
    assert!(
        text.contains("synedge_events_rejected_total{reason=\"queue_full\"} 3"),
        "{text}"
    );
    assert!(text.contains("synedge_events_accepted_total 4"), "{text}");
    let (db, _dir) = s.stop_keeping_files().await;
    let store = SqliteOrigin::open(db.to_str().unwrap(), Duration::from_secs(5)).unwrap();
    let stored = store.stats(&StatsFilter::default()).unwrap();
    assert_eq!(
        stored.iter().map(|r| r.count).sum::<u64>(),
        4,
        "only accepted events"
    );
}

#[tokio::test]
async fn malformed_bodies_are_refused_and_write_nothing() {
    let s = fast().await;
    let good = event("view", "shop-one", json!({"sku": "a"}));
    let cases: Vec<(String, StatusCode, &str, Option<u64>)> = vec![
        (
            "{not json".into(),
            StatusCode::BAD_REQUEST,
            "invalid_body",
            None,
        ),
        ("42".into(), StatusCode::BAD_REQUEST, "invalid_body", None),
        ("[]".into(), StatusCode::BAD_REQUEST, "invalid_body", None),
        (
            json!([good, {"type": "view", "retailer": 7, "locale": "en", "sku": "a"}]).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_event",
            Some(1),
        ),
        (
            json!([
                good,
                good,
                event("view", "shop-one", json!({"ean": "4006381333932"}))
            ])
            .to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_ean",
            Some(2),
        ),
        (
            json!([event("<script>", "shop-one", json!({"sku": "a"}))]).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_type",
            Some(0),
        ),
        (
            Value::Array(vec![good.clone(); 10_000]).to_string(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            None,
        ),
    ];
    for (body, status, code, index) in cases {
        let a = s.post_events(&body).await;
        assert_eq!(a.status, status, "{}", a.text());
        let j = a.json();
        assert_eq!(j["error"], code);
        assert_eq!(j["index"].as_u64(), index);
        assert_eq!(a.header("access-control-allow-origin"), "*");
        assert!(!a.text().contains("script"));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(stats(&s, "").await.is_empty());
    let text = s.admin_get("/metrics").await.text().to_owned();
    assert!(
        text.contains("synedge_events_rejected_total{reason=\"invalid\"} 6"),
        "{text}"
    );
    assert!(
        text.contains("synedge_events_rejected_total{reason=\"too_large\"} 1"),
        "{text}"
    );
    assert!(text.contains("synedge_events_accepted_total 0"), "{text}");
    s.stop().await;
}

#[tokio::test]
async fn stopping_writes_every_queued_event_first() {
    let s = TestServer::start_with(|c| {
        c.events.flush_interval = Duration::from_secs(3600);
        c.events.batch_size = 100_000;
    })
    .await;
    let body = Value::Array(vec![event("view", "shop-one", json!({"sku": "a"})); 50]).to_string();
    for _ in 0..20 {
        assert_eq!(s.post_events(&body).await.status, StatusCode::ACCEPTED);
    }
    assert!(stats(&s, "").await.is_empty(), "still queued");
    let (db, _dir) = s.stop_keeping_files().await;
    let store = SqliteOrigin::open(db.to_str().unwrap(), Duration::from_secs(5)).unwrap();
    let rows = store.stats(&StatsFilter::default()).unwrap();
    assert_eq!(rows.iter().map(|r| r.count).sum::<u64>(), 1000);
}
