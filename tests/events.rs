//! `POST /v1/events` end to end: beacons in, rollup counts out of `GET /admin/v1/stats`,
//! over a real SQLite file.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{TOKEN, TestServer};
use http::StatusCode;
use serde_json::{Value, json};
use synedge::domain::{Locale, Retailer, Sku};
use synedge::events::{
    Day, EventStore, EventType, Product, RollupKey, StatsCursor, StatsFilter, StatsLimit,
};
use synedge::origin::sqlite::SqliteOrigin;

const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(since.as_millis()).unwrap()
}

/// The UTC day of a unix time in milliseconds, as stats write it.
fn day_of(ms: i64) -> String {
    Day::from_unix_millis(ms).to_string()
}

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

/// `GET /admin/v1/stats<query>` with the token: the whole answer.
async fn stats_page(s: &TestServer, query: &str) -> Value {
    let a = s
        .admin_get_auth(&format!("/admin/v1/stats{query}"), Some(TOKEN))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.header("content-type"), "application/json");
    a.json()
}

/// The rows of a stats answer that fits in one page.
async fn stats(s: &TestServer, query: &str) -> Vec<Value> {
    let page = stats_page(s, query).await;
    assert_eq!(page["next"], Value::Null, "one page: {page}");
    page["rows"].as_array().unwrap().clone()
}

/// A stats error: its code, after checking it is a 400 that does not echo `secret`.
async fn stats_error(s: &TestServer, query: &str, secret: &str) -> String {
    let a = s
        .admin_get_auth(&format!("/admin/v1/stats{query}"), Some(TOKEN))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{query}: {}", a.text());
    assert!(!a.text().contains(secret), "{query}: {}", a.text());
    a.json()["error"].as_str().unwrap().to_owned()
}

/// Adds `rows` straight to the server's rollup store, as the writer would.
async fn store_rows(s: &TestServer, rows: Vec<(RollupKey, u64)>) {
    let store = Arc::clone(&s.app.state.event_store);
    tokio::task::spawn_blocking(move || store.write_rollup(&rows))
        .await
        .unwrap()
        .unwrap();
}

fn rollup_key(day: &str, retailer: &str, sku: &str, kind: EventType) -> RollupKey {
    RollupKey {
        day: Day::parse(day).unwrap(),
        retailer: Retailer::parse(retailer).unwrap(),
        product: Product::Sku(Sku::parse(sku).unwrap()),
        locale: Locale::parse("en-GB").unwrap(),
        kind,
    }
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
    // Two days ago and yesterday: within the week a ts may lie in the past.
    let ts = now_ms() - 2 * DAY_MS;
    let (day1, day2) = (day_of(ts), day_of(ts + DAY_MS));
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
            json!({"sku": "SKU-1", "ts": ts + DAY_MS})
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
        find(&day1, "ean:04006381333931", "view"),
        Some((json!("shop-one"), json!("en-gb"), 3)),
        "three spellings, one product: {rows:?}"
    );
    assert_eq!(find(&day1, "mpn:acme/x100b", "click").map(|f| f.2), Some(2));
    assert_eq!(
        find(&day2, "sku:SKU-1", "impression").map(|f| f.0),
        Some(json!("shop-two"))
    );
    let today = rows
        .iter()
        .find(|r| r["type"] == "no_match")
        .expect("the event without ts");
    assert_eq!(today["product"], "ean:00012345678905");
    assert!(today["day"].as_str().unwrap() > day2.as_str());
    assert_eq!(rows.len(), 4);

    // Filters: retailer, and inclusive day bounds.
    assert_eq!(total(&stats(&s, "?retailer=shop-two").await), 1);
    let q = |q: &str| q.replace("D1", &day1).replace("D2", &day2);
    assert_eq!(total(&stats(&s, &q("?from=D1&to=D1")).await), 5);
    assert_eq!(total(&stats(&s, &q("?retailer=shop-one&to=D2")).await), 5);
    assert_eq!(total(&stats(&s, &q("?from=D2&to=D2")).await), 1);
    assert_eq!(
        stats_error(&s, "?from=2023-02-30", "2023-02-30").await,
        "invalid_day"
    );

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
    let stored = store
        .stats(&StatsFilter::default(), None, StatsLimit::MAX)
        .unwrap()
        .rows;
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
    let rows = store
        .stats(&StatsFilter::default(), None, StatsLimit::MAX)
        .unwrap()
        .rows;
    assert_eq!(rows.iter().map(|r| r.count).sum::<u64>(), 1000);
}

#[tokio::test]
async fn stats_need_the_admin_token_when_one_is_set() {
    let s = fast().await;
    for (token, status) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("wrong-token-wrong-token"), StatusCode::UNAUTHORIZED),
        (Some(&TOKEN[..TOKEN.len() - 1]), StatusCode::UNAUTHORIZED),
        (Some(TOKEN), StatusCode::OK),
    ] {
        let a = s.admin_get_auth("/admin/v1/stats", token).await;
        assert_eq!(a.status, status, "{token:?}: {}", a.text());
        if status == StatusCode::OK {
            assert_eq!(a.json(), json!({"rows": [], "next": null}));
        } else {
            assert_eq!(a.json()["error"], "unauthorized");
        }
    }
    // The token is checked first: without it, nothing is said about the parameters.
    let a = s.admin_get("/admin/v1/stats?limit=0&from=nope").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    s.stop().await;

    // Without a token configured (loopback only), stats are open as before.
    let open = TestServer::start_with(|c| c.admin.token = None).await;
    let a = open.admin_get("/admin/v1/stats").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    open.stop().await;
}

/// The key order of the stats answer, as a tuple.
fn row_key(r: &Value) -> (String, String, String, String, String) {
    let f = |k: &str| r[k].as_str().unwrap().to_owned();
    (
        f("day"),
        f("retailer"),
        f("product"),
        f("locale"),
        f("type"),
    )
}

/// Follows `next` from the first page of `query` to the last; every row, in order.
async fn walk(s: &TestServer, query: &str, limit: usize) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let page = stats_page(s, &format!("?limit={limit}&cursor={cursor}{query}")).await;
        let got = page["rows"].as_array().unwrap();
        assert!(got.len() <= limit, "page {pages}: {} rows", got.len());
        rows.extend(got.iter().cloned());
        pages += 1;
        match &page["next"] {
            Value::Null => return rows,
            Value::String(next) => {
                assert_eq!(got.len(), limit, "only the last page is short");
                assert!(next.bytes().all(|b| b.is_ascii_alphanumeric()), "{next}");
                cursor = next.clone();
            }
            other => panic!("next is {other}"),
        }
    }
}

#[tokio::test]
async fn stats_come_in_pages_that_hold_every_row_once_in_order() {
    let s = fast().await;
    // 5 days × 11 retailers × 250 products × 4 types = 55,000 rows.
    let days = [
        "2025-11-27",
        "2025-11-28",
        "2025-11-29",
        "2025-11-30",
        "2025-12-01",
    ];
    let kinds = [
        EventType::Impression,
        EventType::View,
        EventType::Click,
        EventType::NoMatch,
    ];
    let mut rows = Vec::with_capacity(55_000);
    for day in days {
        for r in 0..11 {
            for p in 0..250 {
                for kind in kinds {
                    let key = rollup_key(day, &format!("shop-{r}"), &format!("P{p}"), kind);
                    rows.push((key, 1 + p as u64));
                }
            }
        }
    }
    let n = rows.len();
    assert_eq!(n, 55_000);
    store_rows(&s, rows).await;

    let all = walk(&s, "", 1_000).await;
    assert_eq!(all.len(), n, "every row");
    let keys: Vec<_> = all.iter().map(row_key).collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "strictly increasing: in key order, none twice"
    );
    assert_eq!(
        all.iter()
            .map(|r| r["count"].as_u64().unwrap())
            .sum::<u64>(),
        (1..=250u64).sum::<u64>() * 5 * 11 * 4
    );
    // The default page is 1,000 rows; the largest 10,000; the same rows either way.
    let first = stats_page(&s, "").await;
    assert_eq!(first["rows"].as_array().unwrap().len(), 1_000);
    assert!(first["next"].is_string());
    assert_eq!(walk(&s, "", 10_000).await, all);

    // With filters: the matching rows, in the same order.
    let want: Vec<_> = all
        .iter()
        .filter(|r| {
            let day = r["day"].as_str().unwrap();
            r["retailer"] == "shop-3" && ("2025-11-28"..="2025-11-30").contains(&day)
        })
        .cloned()
        .collect();
    assert_eq!(want.len(), 3 * 250 * 4);
    assert_eq!(
        walk(&s, "&retailer=shop-3&from=2025-11-28&to=2025-11-30", 777).await,
        want
    );
    s.stop().await;
}

#[tokio::test]
async fn stats_parameters_are_checked() {
    let s = fast().await;
    store_rows(
        &s,
        (0..3)
            .map(|i| {
                (
                    rollup_key("2025-01-01", "shop-one", &i.to_string(), EventType::View),
                    1,
                )
            })
            .collect(),
    )
    .await;
    for bad in [
        "0",
        "10001",
        "-1",
        "1.5",
        "1e3",
        "abc",
        "99999999999999999999",
    ] {
        let code = stats_error(&s, &format!("?limit={bad}"), &format!("={bad}")).await;
        assert_eq!(code, "invalid_limit", "{bad}");
    }
    let one = stats_page(&s, "?limit=1").await;
    assert_eq!(one["rows"].as_array().unwrap().len(), 1);
    let next = one["next"].as_str().unwrap().to_owned();
    assert_eq!(
        stats_page(&s, "?limit=10000").await["rows"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // Days: unparseable, or from after to.
    assert_eq!(
        stats_error(&s, "?to=2025-13-01", "2025-13").await,
        "invalid_day"
    );
    assert_eq!(
        stats_error(&s, "?from=2025-01-02&to=2025-01-01", "2025-01-0").await,
        "invalid_range"
    );
    assert_eq!(stats(&s, "?from=2025-01-01&to=2025-01-01").await.len(), 3);
    // Cursors: only what an answer gave, unchanged.
    let mut altered = next.clone().into_bytes();
    altered[3] = if altered[3] == b'0' { b'1' } else { b'0' };
    let altered = String::from_utf8(altered).unwrap();
    for bad in [
        "zz",
        "%3Cscript%3E",
        &next[..next.len() - 2],
        &format!("{next}00"),
        &altered,
        &next.to_uppercase(),
    ] {
        let code = stats_error(&s, &format!("?cursor={bad}"), "script").await;
        assert_eq!(code, "invalid_cursor", "{bad}");
    }
    let rest = stats_page(&s, &format!("?cursor={next}")).await;
    assert_eq!(rest["rows"].as_array().unwrap().len(), 2);
    assert_eq!(rest["next"], Value::Null);
    // An empty cursor is the first page.
    assert_eq!(stats(&s, "?cursor=").await.len(), 3);
    // A cursor is just a position: it decodes to the last row's key.
    let last = &one["rows"][0];
    assert_eq!(row_key(last).0, StatsCursor::decode(&next).unwrap().day);
    for dup in ["?limit=1&limit=2", &format!("?cursor={next}&cursor={next}")] {
        assert_eq!(stats_error(&s, dup, "script").await, "duplicate_parameter");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_ts_outside_the_last_week_or_ahead_of_the_clock_is_refused_with_its_index() {
    let s = fast().await;
    let at = |ts: i64| event("view", "shop-one", json!({"sku": "a", "ts": ts}));
    let now = now_ms();
    let ok = at(now - 3_600_000);
    for ts in [1, now - 8 * DAY_MS, now + 11 * 60_000, now + 365 * DAY_MS] {
        // A single object is event 0.
        let a = s.post_events(&at(ts).to_string()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{ts}: {}", a.text());
        let j = a.json();
        assert_eq!(
            (j["error"].as_str(), j["index"].as_u64()),
            (Some("invalid_ts"), Some(0)),
            "{ts}"
        );
        assert!(ts == 1 || !a.text().contains(&ts.to_string()), "echoed");
        let a = s.post_events(&json!([ok, ok, at(ts)]).to_string()).await;
        let j = a.json();
        assert_eq!(
            (j["error"].as_str(), j["index"].as_u64()),
            (Some("invalid_ts"), Some(2)),
            "{ts}"
        );
    }
    // A number serde_json cannot hold names its event too, not just "invalid body".
    let huge = |ts: &str| {
        format!(r#"{{"type":"view","retailer":"shop-one","locale":"en-GB","sku":"a","ts":{ts}}}"#)
    };
    for (body, index) in [
        (huge("1e400"), 0),
        (format!("[{ok},{}]", huge("1e400")), 1),
        (format!("[{ok},{ok},{}]", huge("-1e400")), 2),
    ] {
        let a = s.post_events(&body).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        let j = a.json();
        assert_eq!(j["error"], "invalid_event", "{body}");
        assert_eq!(j["index"].as_u64(), Some(index), "{body}");
    }
    // Refused bodies queue nothing; a week-old and a just-ahead ts are counted.
    let edge = json!([at(now - 7 * DAY_MS + 60_000), at(now + 9 * 60_000)]);
    let a = s.post_events(&edge.to_string()).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text());
    let rows = wait_for_total(&s, 2).await;
    let days: Vec<&str> = rows.iter().map(|r| r["day"].as_str().unwrap()).collect();
    assert_eq!(
        days,
        [day_of(now - 7 * DAY_MS + 60_000), day_of(now + 9 * 60_000)]
    );
    s.stop().await;
}
