//! Content changes and purges reaching running instances: an `import` into the SQLite
//! store while the server runs, and (with PostgreSQL) purges fanned out to a fleet.

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, acme};
use http::StatusCode;

/// Polls `path` until its body contains `needle`; how long that took.
async fn wait_for_body(s: &TestServer, path: &str, needle: &str, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let a = s.get(path).await;
        if a.status == StatusCode::OK && a.text().contains(needle) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "not within {within:?}: {}",
            a.text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_import_while_serving_shows_within_a_second() {
    let s = TestServer::start().await;
    let path = acme("shop-one", "en-GB");
    let before = s.get(&path).await;
    assert_eq!(before.header("x-cache"), "MISS");
    assert_eq!(s.get(&path).await.header("x-cache"), "HIT");

    // Another process (the command line) imports changed content into the same file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("changed.ndjson");
    std::fs::write(
        &file,
        r#"{"brand": "Acme", "mpn": "X-100/B", "ean": ["4006381333931"], "locale": "en-GB", "html": "<div>Acme X-100, now with a second battery</div>", "retailers": ["shop-one"]}"#,
    )
    .unwrap();
    common::import_fixture(&s.db, file.to_str().unwrap());
    let took = wait_for_body(&s, &path, "second battery", Duration::from_secs(1)).await;
    eprintln!("the import showed after {took:?}");
    s.stop().await;
}
