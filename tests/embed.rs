//! `GET /loader.js` and `GET /demo` over HTTP: what a browser and a CDN in front of us see.
//! (What the loader does in a page is in `tests/browser.rs`.)

mod common;

use common::TestServer;
use http::StatusCode;

#[tokio::test]
async fn loader_is_small_cacheable_javascript_in_every_encoding() {
    let s = TestServer::start().await;
    let plain = s.get("/loader.js").await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(
        plain.header("content-type"),
        "application/javascript; charset=utf-8"
    );
    assert!(plain.body.len() < 4096, "{} bytes", plain.body.len());
    assert!(plain.text().contains("document.currentScript"));
    assert_eq!(
        plain.header("cache-control"),
        "public, max-age=300, stale-while-revalidate=3600"
    );
    assert_eq!(plain.header("vary"), "Accept-Encoding");
    assert_eq!(plain.header("x-content-type-options"), "nosniff");
    assert_eq!(plain.header("access-control-allow-origin"), "*");
    let etag = plain.header("etag").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");

    for (ae, ce) in [("br, gzip", "br"), ("gzip", "gzip")] {
        let a = s.get_with("/loader.js", &[("accept-encoding", ae)]).await;
        assert_eq!(a.header("content-encoding"), ce);
        assert!(
            a.body.len() < plain.body.len() / 2,
            "{ce}: {}",
            a.body.len()
        );
        assert_ne!(a.header("etag"), etag, "each encoding has its own tag");
    }
    // Revalidation: 304, no body, whichever variant's tag the client holds.
    let again = s
        .get_with(
            "/loader.js",
            &[("if-none-match", &etag), ("accept-encoding", "br")],
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    s.stop().await;
}

#[tokio::test]
async fn demo_page_embeds_the_tag_under_the_documented_csp() {
    let s = TestServer::start().await;
    let a = s.get("/demo").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.header("content-type"), "text/html; charset=utf-8");
    let csp = a.header("content-security-policy");
    for directive in [
        "script-src 'self'",
        "connect-src 'self'",
        "default-src 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    let html = a.text();
    assert!(html.contains(
        "<script async src=\"/loader.js\" data-retailer=\"shop-one\" data-locale=\"en-GB\" \
         data-ean=\"4006381333931\" data-brand=\"Acme\" data-mpn=\"X-100/B\" \
         data-target=\"synedge-inpage\"></script>"
    ));
    assert!(html.contains("<div id=\"synedge-inpage\""));
    // Linked examples: another locale, no content, a comparison.
    for link in [
        "locale=de-DE",
        "ean=4006381333948",
        "compare=4006381333931,2900000000018",
    ] {
        assert!(html.contains(link), "{link}");
    }

    let de = s
        .get("/demo?retailer=megastore&locale=de-DE&ean=4006381333931")
        .await;
    let html = de.text();
    assert!(html.contains(
        "data-retailer=\"megastore\" data-locale=\"de-DE\" data-ean=\"4006381333931\" data-target"
    ));
    assert!(!html.contains("data-mpn"), "only the identity asked for");

    let evil = s
        .get("/demo?retailer=%3C%2Fscript%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        .await;
    assert_eq!(evil.status, StatusCode::OK);
    assert!(!evil.text().contains("<script>alert"), "{}", evil.text());
    assert!(
        evil.text()
            .contains("&lt;/script&gt;&lt;script&gt;alert(1)")
    );

    let long = format!("/demo?mpn={}", "x".repeat(3000));
    let a = s.get(&long).await;
    assert_eq!(a.status, StatusCode::URI_TOO_LONG);
    assert_eq!(a.json()["error"], "query_too_long");
    s.stop().await;
}

#[tokio::test]
async fn demo_images_and_script_are_a_fixed_cacheable_set() {
    let s = TestServer::start().await;
    let svg = s.get("/demo/img/drill-hero.svg").await;
    assert_eq!(svg.status, StatusCode::OK);
    assert_eq!(svg.header("content-type"), "image/svg+xml");
    assert_eq!(
        svg.header("cache-control"),
        "public, max-age=300, stale-while-revalidate=3600"
    );
    assert_eq!(svg.header("x-content-type-options"), "nosniff");
    assert!(svg.text().starts_with("<svg "), "{}", svg.text());
    let etag = svg.header("etag").to_owned();
    let br = s
        .get_with("/demo/img/drill-hero.svg", &[("accept-encoding", "br")])
        .await;
    assert_eq!(br.header("content-encoding"), "br");
    assert!(br.body.len() < svg.body.len());
    let again = s
        .get_with("/demo/img/drill-hero.svg", &[("if-none-match", &etag)])
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    // Every name the catalog uses is there; anything else is a 404 that echoes nothing.
    for (name, _) in synedge::catalog::art::images() {
        assert_eq!(
            s.get(&format!("/demo/img/{name}")).await.status,
            StatusCode::OK
        );
    }
    for bad in [
        "/demo/img/nope.svg",
        "/demo/img/drill-hero.svg%3Cscript%3E",
        "/demo/img/..%2Floader.js",
        "/demo/img/",
    ] {
        let a = s.get(bad).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{bad}");
        assert_eq!(a.json()["error"], "not_found", "{bad}");
        assert!(
            !a.text().contains("script") && !a.text().contains("nope"),
            "{bad}"
        );
    }
    let js = s.get("/demo/page.js").await;
    assert_eq!(
        js.header("content-type"),
        "application/javascript; charset=utf-8"
    );
    assert!(js.text().contains("synedge:noshow"));
    assert!(js.header("etag").starts_with('"'));
    s.stop().await;
}

#[tokio::test]
async fn demo_pages_name_the_product_and_compare_specs() {
    let s = TestServer::start().await;
    let page = s.get("/demo").await;
    let html = page.text();
    assert!(
        html.contains("<h1>Acme Cordless Drill X-100/B</h1>"),
        "{html}"
    );
    assert!(html.contains("<img src=\"/demo/img/drill-hero.svg\" width=\"400\" height=\"300\""));
    assert!(html.contains("<script src=\"/demo/page.js\"></script>"));
    assert!(html.contains("<div id=\"synedge-inpage-from\" class=\"from\"><h2>"));
    assert!(html.contains("shop's own CSS"));
    let cmp = s
        .get("/demo?compare=4006381333931,2900000000018,4006381333948")
        .await;
    let cmp = cmp.text();
    assert!(cmp.contains("<table class=\"versus\">"), "{cmp}");
    assert!(
        cmp.contains("<tr><th scope=\"row\">Max. torque</th><td>"),
        "{cmp}"
    );
    // A product the page knows nothing about gets a column of dashes, not an error.
    assert!(cmp.contains("Product 4006381333948"), "{cmp}");
    assert!(cmp.contains("<td>–</td>"), "{cmp}");
    s.stop().await;
}

#[tokio::test]
async fn embed_routes_are_measured_under_their_own_labels() {
    let s = TestServer::start().await;
    s.get("/loader.js").await;
    s.get("/demo").await;
    let m = s.admin_get("/metrics").await;
    let text = m.text();
    for line in [
        "synedge_http_requests_total{route=\"loader\",status=\"200\"} 1",
        "synedge_http_requests_total{route=\"demo\",status=\"200\"} 1",
    ] {
        assert!(text.contains(line), "{line}");
    }
    s.stop().await;
}
