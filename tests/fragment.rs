//! `/v1/fragment` end to end: a real server on port 0 over a real SQLite catalog.

mod common;

use std::io::Read;
use std::time::Duration;

use common::{TestServer, acme};
use http::StatusCode;

#[tokio::test]
async fn a_fragment_is_served_with_every_header_then_from_memory() {
    let s = TestServer::start().await;
    let a = s.get(&acme("shop-one", "en-GB")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.text().contains("Acme X-100 cordless drill"));
    assert_eq!(a.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(a.header("x-cache"), "MISS");
    assert_eq!(a.header("vary"), "Accept-Encoding");
    assert_eq!(a.header("access-control-allow-origin"), "*");
    assert_eq!(
        a.header("cache-control"),
        "public, max-age=300, stale-while-revalidate=60, stale-if-error=86400"
    );
    assert_eq!(a.header("content-encoding"), "");
    let etag = a.header("etag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() == 18,
        "{etag}"
    );

    let b = s.get(&acme("shop-one", "en-GB")).await;
    assert_eq!(b.header("x-cache"), "HIT");
    assert_eq!(b.body, a.body);
    assert_eq!(b.header("etag"), etag);
    s.stop().await;
}

#[tokio::test]
async fn brotli_and_gzip_variants_follow_accept_encoding() {
    let s = TestServer::start().await;
    let plain = s.get(&acme("shop-one", "en-GB")).await.body;
    let br = s
        .get_with(
            &acme("shop-one", "en-GB"),
            &[("accept-encoding", "gzip, deflate, br")],
        )
        .await;
    assert_eq!(br.header("content-encoding"), "br");
    assert!(br.body.len() < plain.len());
    let mut out = Vec::new();
    brotli::Decompressor::new(&br.body[..], 4096)
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, plain);

    let gz = s
        .get_with(
            &acme("shop-one", "en-GB"),
            &[("accept-encoding", "br;q=0.1, gzip;q=0.9")],
        )
        .await;
    assert_eq!(gz.header("content-encoding"), "gzip");
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, plain);
    assert_ne!(
        gz.header("etag"),
        br.header("etag"),
        "each representation has its own ETag"
    );

    let id = s
        .get_with(
            &acme("shop-one", "en-GB"),
            &[("accept-encoding", "br;q=0, gzip;q=0")],
        )
        .await;
    assert_eq!(
        (id.header("content-encoding"), id.body.len()),
        ("", plain.len())
    );
    s.stop().await;
}

#[tokio::test]
async fn if_none_match_answers_304_without_a_body() {
    let s = TestServer::start().await;
    let a = s
        .get_with(&acme("shop-one", "en-GB"), &[("accept-encoding", "gzip")])
        .await;
    let etag = a.header("etag").to_owned();
    let b = s
        .get_with(
            &acme("shop-one", "en-GB"),
            &[("accept-encoding", "gzip"), ("if-none-match", &etag)],
        )
        .await;
    assert_eq!(b.status, StatusCode::NOT_MODIFIED);
    assert!(b.body.is_empty());
    assert_eq!(b.header("etag"), etag);
    assert_eq!(b.header("vary"), "Accept-Encoding");
    // Same content, other encoding: still not modified.
    let c = s
        .get_with(
            &acme("shop-one", "en-GB"),
            &[("accept-encoding", "br"), ("if-none-match", &etag)],
        )
        .await;
    assert_eq!(c.status, StatusCode::NOT_MODIFIED);
    let d = s
        .get_with(
            &acme("shop-one", "en-GB"),
            &[("if-none-match", "\"0000000000000000\"")],
        )
        .await;
    assert_eq!(d.status, StatusCode::OK);
    s.stop().await;
}

#[tokio::test]
async fn head_answers_headers_only() {
    let s = TestServer::start().await;
    let get = s.get(&acme("shop-one", "en-GB")).await;
    let head = s
        .send(
            http::Request::head(format!("http://{}{}", s.public, acme("shop-one", "en-GB")))
                .body(Default::default())
                .unwrap(),
        )
        .await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-length"), get.body.len().to_string());
    assert_eq!(head.header("etag"), get.header("etag"));
    s.stop().await;
}

#[tokio::test]
async fn spellings_of_one_product_share_one_cache_entry() {
    let s = TestServer::start().await;
    let first = s
        .get("/v1/fragment?retailer=shop-one&locale=en-GB&ean=0012345678905")
        .await;
    assert_eq!(
        (first.status, first.header("x-cache")),
        (StatusCode::OK, "MISS")
    );
    for spelling in [
        "/v1/fragment?retailer=shop-one&locale=en-gb&ean=012345678905",
        "/v1/fragment?locale=EN-GB&ean=00012345678905&retailer=shop-one",
        "/v1/fragment?retailer=shop-one&locale=en-GB&ean=0012345678905&_=cachebuster",
    ] {
        assert_eq!(s.get(spelling).await.header("x-cache"), "HIT", "{spelling}");
    }
    let bm = s
        .get("/v1/fragment?retailer=shop-one&locale=en-GB&brand=Acme&mpn=X-100%2FB")
        .await;
    assert_eq!((bm.status, bm.header("x-cache")), (StatusCode::OK, "MISS"));
    assert!(bm.text().contains("cordless drill"));
    let bm2 = s
        .get("/v1/fragment?retailer=shop-one&locale=en-GB&brand=ACME&mpn=x100b")
        .await;
    assert_eq!(bm2.header("x-cache"), "HIT");
    s.stop().await;
}

#[tokio::test]
async fn identities_are_tried_in_order_and_sku_is_per_retailer() {
    let s = TestServer::start().await;
    // An EAN nobody has, then brand+mpn that resolves.
    let a = s
        .get("/v1/fragment?retailer=shop-one&locale=en-GB&ean=96385074&brand=Acme&mpn=X-100/B")
        .await;
    assert_eq!(
        a.status,
        StatusCode::NO_CONTENT,
        "96385074 is Exclusive Co, not granted to shop-one"
    );
    let b = s
        .get("/v1/fragment?retailer=shop-one&locale=en-GB&ean=4012345678901&brand=Acme&mpn=X-100/B")
        .await;
    assert_eq!(b.status, StatusCode::OK);
    assert!(b.text().contains("cordless drill"));
    let sku = s
        .get("/v1/fragment?retailer=shop-one&locale=en-GB&sku=S1-0001")
        .await;
    assert_eq!(sku.status, StatusCode::OK);
    let other = s
        .get("/v1/fragment?retailer=shop-two&locale=en-GB&sku=S1-0001")
        .await;
    assert_eq!(
        other.status,
        StatusCode::NO_CONTENT,
        "that SKU is shop-one's"
    );
    s.stop().await;
}

#[tokio::test]
async fn locale_falls_back_to_the_language_and_no_further() {
    let s = TestServer::start().await;
    let de_at = s.get(&acme("shop-one", "de-AT")).await;
    assert_eq!(de_at.status, StatusCode::OK);
    assert!(de_at.text().contains("Akku-Bohrschrauber"));
    assert_eq!(
        s.get(&acme("shop-one", "en-US")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.get(&acme("shop-one", "fr-FR")).await.status,
        StatusCode::NO_CONTENT
    );
    s.stop().await;
}

#[tokio::test]
async fn without_a_grant_a_retailer_gets_no_content_and_that_answer_is_cached() {
    let s = TestServer::start().await;
    let path = acme("outlet-9", "en-GB");
    let a = s.get(&path).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert!(a.body.is_empty());
    assert_eq!(a.header("x-cache"), "MISS");
    assert_eq!(
        a.header("cache-control"),
        "public, max-age=60, stale-while-revalidate=60, stale-if-error=86400"
    );
    assert_eq!(a.header("access-control-allow-origin"), "*");
    assert_eq!(s.get(&path).await.header("x-cache"), "HIT");
    // A "*" grant reaches every retailer.
    let star = s
        .get("/v1/fragment?retailer=outlet-9&locale=en-GB&ean=0012345678905")
        .await;
    assert_eq!(star.status, StatusCode::OK);
    // Granted to shop-two only.
    assert_eq!(
        s.get("/v1/fragment?retailer=shop-one&locale=en-GB&ean=96385074")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.get("/v1/fragment?retailer=shop-two&locale=en-GB&ean=96385074")
            .await
            .status,
        StatusCode::OK
    );
    s.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_json_error_that_echoes_nothing() {
    let s = TestServer::start().await;
    let cases: &[(&str, StatusCode, &str)] = &[
        ("/v1/fragment", StatusCode::BAD_REQUEST, "missing_parameter"),
        (
            "/v1/fragment?retailer=shop-one&locale=en-GB",
            StatusCode::BAD_REQUEST,
            "missing_parameter",
        ),
        (
            "/v1/fragment?retailer=shop-one&locale=en-GB&ean=4006381333932",
            StatusCode::BAD_REQUEST,
            "invalid_ean",
        ),
        (
            "/v1/fragment?retailer=shop-one&locale=en-GB&ean=%FF%FE",
            StatusCode::BAD_REQUEST,
            "invalid_encoding",
        ),
        (
            "/v1/fragment?retailer=%3Cscript%3Ealert(1)%3C/script%3E&locale=en&ean=4006381333931",
            StatusCode::BAD_REQUEST,
            "invalid_retailer",
        ),
        (
            "/v1/fragment?retailer=shop-one&locale=%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E&ean=4006381333931",
            StatusCode::BAD_REQUEST,
            "invalid_locale",
        ),
        (
            "/v1/fragment?retailer=shop-one&locale=en&brand=%3Cb%3E&mpn=%00",
            StatusCode::BAD_REQUEST,
            "invalid_mpn",
        ),
        (
            "/v1/fragment?retailer=shop-one&retailer=shop-two&locale=en&sku=1",
            StatusCode::BAD_REQUEST,
            "duplicate_parameter",
        ),
    ];
    for (path, status, code) in cases {
        let a = s.get(path).await;
        assert_eq!(a.status, *status, "{path}");
        assert_eq!(a.header("content-type"), "application/json", "{path}");
        let j = a.json();
        assert_eq!(j["error"], *code, "{path}");
        assert!(j["detail"].as_str().unwrap().len() > 10);
        for needle in ["<script", "<img", "onerror", "alert", "<b>"] {
            assert!(!a.text().contains(needle), "{path} echoed {needle}");
        }
    }
    let long = format!(
        "/v1/fragment?retailer=shop-one&locale=en&sku={}",
        "x".repeat(20_000)
    );
    let a = s.get(&long).await;
    assert_eq!(a.status, StatusCode::URI_TOO_LONG);
    assert_eq!(a.json()["error"], "query_too_long");
    assert!(!a.text().contains("xxxx"));
    s.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let s = TestServer::start().await;
    let a = s.get("/nope").await;
    assert_eq!(
        (a.status, a.json()["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let b = s
        .send(
            http::Request::post(format!("http://{}/v1/fragment", s.public))
                .body(Default::default())
                .unwrap(),
        )
        .await;
    assert_eq!(
        (b.status, b.json()["error"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
    s.stop().await;
}

/// `/readyz` and `synedge_catalog_products` say how many products the catalog holds,
/// counted at start and again when an import adds some.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_and_metrics_count_the_catalogs_products() {
    let s = TestServer::start().await;
    let wait_for = |want: &'static str| {
        let s = &s;
        async move {
            for _ in 0..200 {
                let ready = s.get("/readyz").await;
                if ready.text().contains(want) {
                    return ready;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            panic!("/readyz never said {want:?}");
        }
    };
    wait_for("catalog_products 3\n").await;
    let m = s.admin_get("/metrics").await;
    assert!(
        m.text().contains("\nsynedge_catalog_products 3\n"),
        "{}",
        m.text()
    );

    let dir = tempfile::tempdir().unwrap();
    let more = dir.path().join("more.ndjson");
    std::fs::write(
        &more,
        r#"{"brand":"Borealis","mpn":"Tent 3P","locale":"en-GB","html":"<p>3P</p>","retailers":["*"]}"#,
    )
    .unwrap();
    let url = format!("sqlite://{}", s.db.display());
    tokio::task::spawn_blocking(move || {
        synedge::catalog::import::run_import(
            &url,
            &more,
            Duration::from_secs(5),
            synedge::catalog::write::Options::default(),
        )
    })
    .await
    .unwrap()
    .unwrap();
    wait_for("catalog_products 4\n").await;
    let m = s.admin_get("/metrics").await;
    assert!(
        m.text().contains("\nsynedge_catalog_products 4\n"),
        "{}",
        m.text()
    );
    s.stop().await;
}

#[tokio::test]
async fn probes_and_metrics() {
    let s = TestServer::start().await;
    assert_eq!(s.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(s.get("/readyz").await.status, StatusCode::OK);
    s.get(&acme("shop-one", "en-GB")).await;
    s.get(&acme("shop-one", "en-GB")).await;
    s.get("/v1/fragment?retailer=shop-one").await;
    let m = s.admin_get("/metrics").await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(
        m.header("content-type")
            .starts_with("text/plain; version=0.0.4")
    );
    let text = m.text();
    for line in [
        "synedge_http_requests_total{route=\"fragment\",status=\"200\"} 2",
        "synedge_http_requests_total{route=\"fragment\",status=\"400\"} 1",
        // The hit (answered before the router) is timed like the miss; the 400 is not.
        "synedge_http_request_duration_seconds_count{route=\"fragment\"} 2",
        "synedge_cache_requests_total{result=\"hit\"} 1",
        "synedge_cache_requests_total{result=\"miss\"} 1",
        "synedge_origin_requests_total{result=\"found\"} 1",
        "synedge_cache_entries 1",
        "synedge_http_in_flight_requests 0",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    for name in [
        "synedge_http_request_duration_seconds_bucket",
        "synedge_origin_request_duration_seconds_bucket",
        "synedge_cache_bytes",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "# HELP synedge_cache_requests_total",
    ] {
        assert!(text.contains(name), "missing {name}");
    }
    s.stop().await;
}

#[tokio::test]
async fn purge_needs_the_token_and_takes_effect_at_once() {
    let s = TestServer::start().await;
    let path = acme("shop-one", "en-GB");
    s.get(&path).await;
    assert_eq!(s.get(&path).await.header("x-cache"), "HIT");

    let body = r#"{"keys": ["retailer=shop-one&locale=en-GB&ean=4006381333931"]}"#;
    let denied = s.admin_post("/admin/v1/purge", body, None).await;
    assert_eq!(
        (denied.status, denied.json()["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    assert_eq!(denied.header("www-authenticate"), "Bearer");
    assert_eq!(
        s.admin_post("/admin/v1/purge", body, Some("wrong-token-0123456789"))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.get(&path).await.header("x-cache"),
        "HIT",
        "a refused purge purges nothing"
    );

    let ok = s
        .admin_post("/admin/v1/purge", body, Some(common::TOKEN))
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.json()["purged"]["keys"], 1);
    assert_eq!(ok.json()["purged"]["entries"], 1, "{}", ok.text());
    assert_eq!(ok.json()["broadcast"], false, "a SQLite store has no fleet");
    // Purging it again, or a brand nobody has, removes nothing, and says so.
    for nothing in [body, r#"{"surrogate_keys": ["brand:nobody"]}"#] {
        let r = s
            .admin_post("/admin/v1/purge", nothing, Some(common::TOKEN))
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["purged"]["entries"], 0, "{nothing}: {}", r.text());
    }
    assert_eq!(s.get(&path).await.header("x-cache"), "MISS");

    // Surrogate keys: by brand, product and retailer.
    let other = "/v1/fragment?retailer=shop-two&locale=de&ean=4006381333931";
    s.get(other).await;
    for (sk, hit_after, entries) in [
        ("retailer:shop-two", false, 1),
        ("brand:ACME", false, 2),
        ("product:acme/x100b", false, 2),
    ] {
        s.get(&path).await;
        s.get(other).await;
        let r = s
            .admin_post(
                "/admin/v1/purge",
                &format!(r#"{{"surrogate_keys": ["{sk}"]}}"#),
                Some(common::TOKEN),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{sk}");
        assert_eq!(r.json()["purged"]["entries"], entries, "{sk}: {}", r.text());
        assert_eq!(
            s.get(other).await.header("x-cache") == "HIT",
            hit_after,
            "{sk}"
        );
    }
    // Retailer purge leaves other retailers' entries alone.
    s.get(&path).await;
    s.admin_post(
        "/admin/v1/purge",
        r#"{"surrogate_keys": ["retailer:shop-two"]}"#,
        Some(common::TOKEN),
    )
    .await;
    assert_eq!(s.get(&path).await.header("x-cache"), "HIT");

    for bad in [
        r#"{"surrogate_keys": ["colour:red"]}"#,
        "not json",
        "{}",
        r#"{"keys": ["retailer=x"]}"#,
    ] {
        let r = s
            .admin_post("/admin/v1/purge", bad, Some(common::TOKEN))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(r.json()["detail"].is_string());
    }
    s.stop().await;
}

#[tokio::test]
async fn a_herd_of_requests_for_a_cold_key_costs_one_origin_fetch() {
    let s = TestServer::start().await;
    let url: http::Uri = format!("http://{}{}", s.public, acme("shop-one", "en-GB"))
        .parse()
        .unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move { client.get(url).await.unwrap().status() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    let m = s.admin_get("/metrics").await;
    assert!(
        m.text()
            .contains("synedge_origin_requests_total{result=\"found\"} 1\n"),
        "{}",
        m.text()
    );
    assert!(
        m.text()
            .contains("synedge_cache_requests_total{result=\"miss\"} 1\n")
    );
    s.stop().await;
}

/// The public listener answers hits before the router (`fragment::answer_now`); the
/// router answers the same request when that path declines it. Both must give the
/// client the same answer, whatever it asks: an encoding, a `HEAD`, a revalidation.
#[tokio::test]
async fn a_hit_answered_before_the_router_is_the_routed_answer() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    let s = TestServer::start().await;
    let path = acme("shop-one", "en-GB");
    assert_eq!(s.get(&path).await.header("x-cache"), "MISS");
    let etag = s.get(&path).await.header("etag").to_owned();
    let asks: [(&str, &[(&str, &str)]); 6] = [
        ("GET", &[]),
        ("GET", &[("accept-encoding", "gzip, deflate, br")]),
        ("GET", &[("accept-encoding", "gzip")]),
        ("GET", &[("accept-encoding", "br;q=0, gzip;q=0")]),
        ("HEAD", &[("accept-encoding", "br")]),
        ("GET", &[("if-none-match", &etag)]),
    ];
    for (method, headers) in asks {
        let request = || {
            let mut b = http::Request::builder()
                .method(method)
                .uri(path.as_str())
                .header("host", "edge.example");
            for (k, v) in headers {
                b = b.header(*k, *v);
            }
            b.body(axum::body::Body::empty()).unwrap()
        };
        let now = synedge::server::fragment::answer_now(&s.app.state, &request())
            .unwrap_or_else(|| panic!("{method} {headers:?}: a hit is answered at once"));
        let routed = s.app.public_router().oneshot(request()).await.unwrap();
        assert_eq!(now.status(), routed.status(), "{method} {headers:?}");
        let mut names: Vec<_> = now
            .headers()
            .keys()
            .chain(routed.headers().keys())
            .collect();
        names.sort_by_key(|n| n.as_str());
        names.dedup();
        // The router's stack writes `Content-Length` as a header (and empties a HEAD's
        // body); otherwise hyper writes it from the body's exact size (and sends no body
        // for HEAD). The length the client is told must agree.
        let told = |res: &http::Response<axum::body::Body>| {
            res.headers()
                .get(http::header::CONTENT_LENGTH)
                .map(|v| v.to_str().unwrap().parse::<u64>().unwrap())
                .or_else(|| http_body::Body::size_hint(res.body()).exact())
        };
        assert_eq!(told(&now), told(&routed), "{method} {headers:?}: length");
        for name in names
            .into_iter()
            .filter(|n| *n != http::header::CONTENT_LENGTH)
        {
            assert_eq!(
                now.headers().get_all(name).iter().collect::<Vec<_>>(),
                routed.headers().get_all(name).iter().collect::<Vec<_>>(),
                "{method} {headers:?}: {name}"
            );
        }
        assert_eq!(now.headers()["x-cache"], "HIT");
        let (now, routed) = (
            now.into_body().collect().await.unwrap().to_bytes(),
            routed.into_body().collect().await.unwrap().to_bytes(),
        );
        if method != "HEAD" {
            assert_eq!(now, routed, "{method} {headers:?}");
        }
    }
    // What the fast path leaves to the router: a miss, a bad query, another route.
    let declined = |uri: &str| {
        let req = http::Request::get(uri)
            .header("host", "edge.example")
            .body(axum::body::Body::empty())
            .unwrap();
        synedge::server::fragment::answer_now(&s.app.state, &req).is_none()
    };
    assert!(declined(&acme("shop-one", "de-AT")));
    assert!(declined("/v1/fragment?retailer=shop-one&locale=en-GB"));
    assert!(declined("/healthz"));
    s.stop().await;
}
