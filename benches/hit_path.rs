//! The cache-hit path, in process: query parse → normalized key → cache lookup →
//! response with prebuilt headers (through the real router, metrics layer included, and
//! as the server answers hits: `answer_now`, before the router);
//! what a hit records, alone and with a second thread recording beside it;
//! and, for the write path beside it, parsing a beacon body into rollup keys.
//!
//! `cargo bench --bench hit_path`

use std::sync::Arc;

use axum::body::Body;
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use synedge::app::App;
use synedge::catalog::seed;
use synedge::config::Config;
use synedge::domain::FragmentRequest;
use synedge::origin::sqlite::SqliteOrigin;
use tower::ServiceExt;

const PRODUCTS: usize = 1000;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.db");
    let store =
        SqliteOrigin::open(db.to_str().unwrap(), std::time::Duration::from_secs(5)).unwrap();
    synedge::catalog::import::seed_store(&store, PRODUCTS).unwrap();
    let paths = seed::request_paths(PRODUCTS);
    let store = Arc::new(store);
    let app = App::build(Config::default(), store.clone(), store).unwrap();
    let router = app.public_router();
    // Warm every key.
    rt.block_on(async {
        for p in &paths {
            let res = router
                .clone()
                .oneshot(
                    Request::get(p.as_str())
                        .header("host", "edge.example")
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{p}");
        }
    });

    let query = paths[7].split_once('?').unwrap().1.to_owned();
    c.bench_function("parse_and_key", |b| {
        b.iter(|| {
            FragmentRequest::from_query(std::hint::black_box(&query))
                .unwrap()
                .cache_key()
        })
    });

    let mut i = 0usize;
    c.bench_function("hit_through_router_br", |b| {
        b.to_async(&rt).iter(|| {
            i = (i + 1) % paths.len();
            let req = Request::get(paths[i].as_str())
                .header("host", "edge.example")
                .header("accept-encoding", "gzip, deflate, br")
                .body(Body::empty())
                .unwrap();
            let router = router.clone();
            async move {
                let res = router.oneshot(req).await.unwrap();
                assert_eq!(res.status(), 200);
                res
            }
        })
    });

    // What a public connection does first, and what answers every hit in the server:
    // the whole hit (Host check, parse, lookup, headers, metrics) without the router.
    let state = app.state.clone();
    let mut k = 0usize;
    c.bench_function("hit_answered_now_br", |b| {
        b.iter(|| {
            k = (k + 1) % paths.len();
            let req = Request::get(paths[k].as_str())
                .header("host", "edge.example")
                .header("accept-encoding", "gzip, deflate, br")
                .body(Body::empty())
                .unwrap();
            let res = synedge::server::fragment::answer_now(&state, &req).expect("a hit");
            assert_eq!(res.status(), 200);
            res
        })
    });

    let cache = app.state.cache.clone();
    let reqs: Vec<FragmentRequest> = paths
        .iter()
        .map(|p| FragmentRequest::from_query(p.split_once('?').unwrap().1).unwrap())
        .collect();
    let mut j = 0usize;
    c.bench_function("cache_lookup_hit", |b| {
        b.to_async(&rt).iter(|| {
            j = (j + 1) % reqs.len();
            let (cache, r) = (cache.clone(), &reqs[j]);
            async move { cache.get(r, || Some(())).await.unwrap() }
        })
    });
    let keys: Vec<String> = reqs.iter().map(FragmentRequest::cache_key).collect();
    c.bench_function("cache_get_now_hit", |b| {
        b.iter(|| {
            j = (j + 1) % keys.len();
            cache.get_now(&keys[j], || reqs[j].clone()).expect("a hit")
        })
    });
}

/// What a hit records (`cache_request` then `http_answered_at_once`), alone and while a
/// second thread records hits without pause, as the other core does when both serve:
/// the difference is what the two cores' writes to shared counters cost each other.
fn hit_metrics(c: &mut Criterion) {
    use synedge::signals::{CacheResult, Metrics, Route};
    let m = Arc::new(Metrics::new());
    let record = |m: &Metrics| {
        m.cache_request(CacheResult::Hit);
        m.http_answered_at_once(Route::Fragment, 200, std::hint::black_box(0.000_2));
    };
    c.bench_function("hit_metrics", |b| b.iter(|| record(&m)));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let other = {
        let (m, stop) = (m.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for _ in 0..64 {
                    record(&m);
                }
            }
        })
    };
    c.bench_function("hit_metrics_contended", |b| b.iter(|| record(&m)));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    other.join().unwrap();
}

/// A `navigator.sendBeacon` body of 10 events (as loadtest/mixed.sh sends), and one.
fn events_parse(c: &mut Criterion) {
    let event = |i: usize| {
        format!(
            r#"{{"type":"{}","retailer":"shop-one","locale":"en-GB","ean":"4006381333931"}}"#,
            ["impression", "view", "click", "no_match"][i % 4]
        )
    };
    let ten = format!("[{}]", (0..10).map(event).collect::<Vec<_>>().join(","));
    let one = event(0);
    for (name, body) in [("events_parse_10", ten), ("events_parse_1", one)] {
        c.bench_function(name, |b| {
            b.iter(|| {
                synedge::events::parse_batch(
                    std::hint::black_box(body.as_bytes()),
                    std::time::SystemTime::now(),
                )
            })
        });
    }
}

criterion_group!(benches, bench, hit_metrics, events_parse);
criterion_main!(benches);
