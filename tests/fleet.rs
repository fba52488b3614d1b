//! Content changes and purges reaching running instances: an `import` into the SQLite
//! store while the server runs, and (with PostgreSQL) purges fanned out to a fleet.

mod common;

use std::time::{Duration, Instant};

use common::process::{Server, header_in, http_exchange, http_post, spawn_serve, synedge};
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

/// X-Cache and body of one GET over a fresh connection.
fn get_cache(addr: &str, path: &str) -> (String, String) {
    let out = String::from_utf8(http_exchange(addr, path, "")).unwrap();
    let x_cache = header_in(&out, "x-cache").unwrap_or("").to_owned();
    (x_cache, out)
}

/// Polls every instance until `done` holds for each; the slowest time.
fn on_all(addrs: &[String], within: Duration, done: impl Fn(&str, &str) -> bool) -> Duration {
    let started = Instant::now();
    let mut pending: Vec<&String> = addrs.iter().collect();
    while !pending.is_empty() {
        assert!(
            started.elapsed() < within,
            "not on every instance within {within:?}: {pending:?}"
        );
        pending.retain(|a| {
            let (x, body) = get_cache(a, &acme("shop-one", "en-GB"));
            !done(&x, &body)
        });
        std::thread::sleep(Duration::from_millis(10));
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_instances_on_one_postgres_see_purges_and_imports_within_a_second() {
    let Some(db) = common::postgres::TestDb::create("three_instances_on_one_postgres").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let origin = format!("origin.url={}", db.url);
    let import = |file: &str| {
        let out = synedge(dir.path())
            .args(["--set", &origin, "import", file])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    import(common::FIXTURE);
    let mut fleet: Vec<(Server, String, String)> = (0..3)
        .map(|_| spawn_serve(dir.path(), &["--set", &origin]))
        .collect();
    let publics: Vec<String> = fleet.iter().map(|f| f.1.clone()).collect();
    let path = acme("shop-one", "en-GB");
    for p in &publics {
        assert_eq!(get_cache(p, &path).0, "MISS");
        assert_eq!(get_cache(p, &path).0, "HIT");
    }

    // A purge on one instance empties that entry on all three.
    let status = http_post(
        &fleet[0].2,
        "/admin/v1/purge",
        r#"{"surrogate_keys": ["product:acme/x100b"]}"#,
    );
    assert_eq!(status, 200);
    let took = on_all(&publics, Duration::from_secs(1), |x, _| x == "MISS");
    eprintln!("purge fan-out: every instance within {took:?}");

    // Changed content imported from the command line shows on all three.
    let changed = dir.path().join("changed.ndjson");
    std::fs::write(
        &changed,
        r#"{"brand": "Acme", "mpn": "X-100/B", "ean": ["4006381333931"], "locale": "en-GB", "html": "<div>Acme X-100, now in blue</div>", "retailers": ["shop-one"]}"#,
    )
    .unwrap();
    import(changed.to_str().unwrap());
    let took = on_all(&publics, Duration::from_secs(1), |_, body| {
        body.contains("now in blue")
    });
    eprintln!("import fan-out: every instance within {took:?}");

    // One instance dies: the others serve on, and still hear each other's purges.
    let (mut dead, _, _) = fleet.pop().unwrap();
    dead.0.kill().unwrap();
    dead.wait();
    let live = &publics[..2];
    for p in live {
        assert_eq!(get_cache(p, &path).0, "HIT");
    }
    assert_eq!(
        http_post(
            &fleet[1].2,
            "/admin/v1/purge",
            r#"{"surrogate_keys": ["brand:acme"]}"#
        ),
        200
    );
    on_all(live, Duration::from_secs(1), |x, _| x == "MISS");
    for (server, _, _) in &fleet {
        server.sigterm();
    }
    for (mut server, _, _) in fleet {
        assert!(server.wait().success());
    }
}
