//! The retailer embed in a real browser: headless Chromium opens `/demo` pages served by a
//! real server over the demo catalog, and the assertions read the rendered DOM (shadow
//! roots included), the loader's events and the beacons the server counted.
//!
//! Skipped, with a message, only when no Chromium is on the machine (see
//! `common::browser`); `.ci/run` installs one and makes a missing one an error.

mod common;

use std::time::Duration;

use common::browser::Browser;
use common::{TOKEN, TestServer};
use serde_json::{Value, json};
use synedge::catalog::seed::{DEMO_EAN, NO_CONTENT_EAN, ean13};

/// Runs before the page's own scripts: records the loader's outcomes (as events and
/// through the callback list), Content-Security-Policy violations and `alert` calls.
const RECORDER: &str = r#"
window.__seen = { outcomes: [], callbacks: [], violations: [], alerts: 0 };
for (const type of ['load', 'noshow']) {
  document.addEventListener('synedge:' + type, (e) => __seen.outcomes.push(
    { type, target: e.target.id, reason: e.detail.reason || null, ean: e.detail.ean || null }), true);
}
window.synedgeCallbacks = [(type, d) => __seen.callbacks.push(type + ' ' + d.target.id)];
document.addEventListener('securitypolicyviolation',
  (e) => __seen.violations.push(e.violatedDirective + ' ' + e.blockedURI), true);
window.alert = () => { __seen.alerts += 1; };
"#;

/// Waits (in the page) until the loader reported `n` outcomes, then describes the page:
/// the outcomes, per embed target whether it has a shadow root and what is in it, and
/// every image (in the page and in shadow roots) once it has loaded or failed. Lazy
/// images are made eager first, so "not loaded" means broken, not "not scrolled to".
fn settle(n: usize) -> String {
    format!(
        r#"new Promise((resolve) => {{
  const t0 = Date.now();
  const poll = async () => {{
    if (__seen.outcomes.length < {n} && Date.now() - t0 < 10000) return setTimeout(poll, 20);
    const images = async (root) => Promise.all([...root.querySelectorAll('img')].map((i) => {{
      i.loading = 'eager';
      return i.decode().catch(() => null).then(() => ({{
        src: i.currentSrc, alt: i.alt, naturalWidth: i.naturalWidth,
        width: i.getAttribute('width'), height: i.getAttribute('height') }}));
    }}));
    const targets = {{}};
    for (const el of document.querySelectorAll('.inpage, [id^="synedge"]')) {{
      if (el.id.endsWith('-from')) continue;
      const root = el.shadowRoot;
      const h2 = root && root.querySelector('h2');
      const from = document.getElementById(el.id + '-from');
      targets[el.id] = {{
        shadow: !!root,
        product: root && root.querySelector('[data-product]')?.dataset.product || null,
        text: (h2 ? h2.textContent : el.textContent).trim(),
        height: el.getBoundingClientRect().height,
        h2Colour: h2 ? getComputedStyle(h2).color : null,
        h2Transform: h2 ? getComputedStyle(h2).textTransform : null,
        headings: root ? [...root.querySelectorAll('h1, h2, h3, h4')].map((h) => h.textContent.trim()) : [],
        tiles: root ? root.querySelectorAll('.si-tile').length : 0,
        images: root ? await images(root) : [],
        fromShown: from ? from.getBoundingClientRect().height > 0 : null,
      }};
    }}
    resolve({{ ...__seen, targets,
      pageH2Colour: getComputedStyle(document.querySelector('h2')).color,
      imgs: document.querySelectorAll('img').length,
      pageImages: await images(document),
      pageHeight: document.documentElement.scrollHeight,
      pageWidth: innerWidth }});
  }};
  poll();
}})"#
    )
}

/// Asserts that every image in `images` (as `settle` describes them) loaded, is sized
/// and says what it shows.
fn assert_images_load(images: &Value) {
    for i in images.as_array().unwrap() {
        assert!(
            i["naturalWidth"].as_u64().unwrap() > 0,
            "image did not load: {i}"
        );
        assert!(i["width"].is_string() && i["height"].is_string(), "{i}");
        assert!(i["alt"].as_str().unwrap().len() > 10, "{i}");
    }
}

/// Asserts that no heading appears twice within one fragment.
fn assert_headings_unique(target: &Value) {
    let headings: Vec<&str> = target["headings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    let unique: std::collections::HashSet<_> = headings.iter().collect();
    assert_eq!(
        unique.len(),
        headings.len(),
        "a heading repeats: {headings:?}"
    );
}

/// A server over a small demo catalog whose beacons are written within milliseconds.
async fn server() -> TestServer {
    TestServer::start_demo(4, |c| {
        c.events.flush_interval = Duration::from_millis(20);
    })
    .await
}

/// Polls `GET /admin/v1/stats` until the count of `kind` events for the EAN reaches
/// `want`; returns the last count seen.
async fn beacons(s: &TestServer, kind: &str, ean: &str, want: u64) -> u64 {
    let product = format!("{ean:0>14}");
    let mut count = 0;
    for _ in 0..250 {
        let rows = s
            .admin_get_auth("/admin/v1/stats?limit=10000", Some(TOKEN))
            .await
            .json()["rows"]
            .clone();
        count = rows
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["type"] == kind && r["product"].as_str().unwrap().contains(&product))
            .map(|r| r["count"].as_u64().unwrap())
            .sum();
        if count >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    count
}

async fn open(b: &mut Browser, s: &TestServer, path: &str, outcomes: usize) -> Value {
    let page = b.new_page(RECORDER).await;
    b.goto(&page, &format!("http://{}{path}", s.public)).await;
    b.eval(&page, &settle(outcomes)).await
}

#[tokio::test]
async fn demo_page_shows_the_fragment_in_a_shadow_root_and_reports_it() {
    let Some(mut b) = Browser::launch("demo_page_shows_the_fragment").await else {
        return;
    };
    let s = server().await;
    let page = b.new_page(RECORDER).await;
    b.goto(&page, &format!("http://{}/demo", s.public)).await;
    let seen = b.eval(&page, &settle(1)).await;

    assert_eq!(
        seen["outcomes"],
        json!([{"type": "load", "target": "synedge-inpage", "reason": null, "ean": DEMO_EAN}]),
        "{seen:#}"
    );
    assert_eq!(seen["callbacks"], json!(["load synedge-inpage"]));
    let t = &seen["targets"]["synedge-inpage"];
    assert_eq!(t["shadow"], true, "{seen:#}");
    assert_eq!(t["product"], "acme/x100b");
    assert!(t["text"].as_str().unwrap().contains("Acme"), "{t}");
    assert!(t["height"].as_f64().unwrap() > 100.0, "{t}");
    // Content a brand would show: every image loads (served by synedge, its relative URL
    // resolved by the loader), 6-8 tiles, no heading twice; and a page of sensible height.
    let images = t["images"].as_array().unwrap();
    assert!(images.len() >= 3, "{t}");
    for i in images {
        assert!(
            i["src"]
                .as_str()
                .unwrap()
                .starts_with(&format!("http://{}/demo/img/", s.public)),
            "{i}"
        );
    }
    assert_images_load(&t["images"]);
    assert_images_load(&seen["pageImages"]);
    assert!((6..=8).contains(&t["tiles"].as_u64().unwrap()), "{t}");
    assert_headings_unique(t);
    assert_eq!(seen["pageWidth"], 1280);
    let height = seen["pageHeight"].as_u64().unwrap();
    assert!((1800..=2700).contains(&height), "page height {height} px");
    assert_eq!(t["fromShown"], true, "{t}");
    // The retailer's `h2 { color: hotpink; text-transform: uppercase }` stays outside.
    assert_eq!(seen["pageH2Colour"], "rgb(255, 105, 180)");
    assert_ne!(t["h2Colour"], seen["pageH2Colour"], "{t}");
    assert_eq!(t["h2Transform"], "none", "{t}");
    // The page runs under the CSP the README documents, and nothing broke it.
    assert_eq!(seen["violations"], json!([]));
    assert_eq!(beacons(&s, "impression", DEMO_EAN, 1).await, 1);
    // `SYNEDGE_WRITE_SCREENSHOT=docs/demo.png` writes the README's picture of this page.
    if let Some(path) = std::env::var_os("SYNEDGE_WRITE_SCREENSHOT") {
        let png = b.screenshot(&page, 0.75).await;
        std::fs::write(&path, png).unwrap();
    }

    // A click on a link inside the shadow root is a `click` beacon (navigation cancelled
    // here so the page stays); scrolled into view for a second, a `view` beacon.
    b.eval(
        &page,
        r#"document.addEventListener('click', (e) => e.preventDefault());
           const host = document.getElementById('synedge-inpage');
           host.scrollIntoView();
           host.shadowRoot.querySelector('a[href]').click();"#,
    )
    .await;
    assert_eq!(beacons(&s, "click", DEMO_EAN, 1).await, 1);
    assert_eq!(beacons(&s, "view", DEMO_EAN, 1).await, 1);
    s.stop().await;
}

#[tokio::test]
async fn no_content_page_shows_nothing_and_fires_noshow() {
    let Some(mut b) = Browser::launch("no_content_page_shows_nothing").await else {
        return;
    };
    let s = server().await;
    let seen = open(&mut b, &s, &format!("/demo?ean={NO_CONTENT_EAN}"), 1).await;
    assert_eq!(
        seen["outcomes"],
        json!([{"type": "noshow", "target": "synedge-inpage", "reason": "no content", "ean": NO_CONTENT_EAN}]),
        "{seen:#}"
    );
    assert_eq!(seen["callbacks"], json!(["noshow synedge-inpage"]));
    let t = &seen["targets"]["synedge-inpage"];
    assert_eq!((&t["shadow"], &t["text"]), (&json!(false), &json!("")));
    assert_eq!(t["height"], 0.0, "an empty target takes no room: {t}");
    // The page hides its "From the manufacturer" heading, as the README shows how.
    assert_eq!(t["fromShown"], false, "{t}");
    assert_eq!(beacons(&s, "no_match", NO_CONTENT_EAN, 1).await, 1);
    assert_eq!(beacons(&s, "impression", NO_CONTENT_EAN, 0).await, 0);
    s.stop().await;
}

#[tokio::test]
async fn comparison_page_fills_each_target_with_its_own_product() {
    let Some(mut b) = Browser::launch("comparison_page_fills_each_target").await else {
        return;
    };
    let s = server().await;
    let second = ean13(1);
    let page = b.new_page(RECORDER).await;
    b.goto(
        &page,
        &format!("http://{}/demo?compare={DEMO_EAN},{second}", s.public),
    )
    .await;
    let seen = b.eval(&page, &settle(2)).await;
    let mut outcomes: Vec<_> = seen["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["type"].clone(), o["target"].clone(), o["ean"].clone()))
        .collect();
    outcomes.sort_by_key(|o| o.1.to_string());
    assert_eq!(
        outcomes,
        [
            (json!("load"), json!("synedge-compare-1"), json!(DEMO_EAN)),
            (json!("load"), json!("synedge-compare-2"), json!(second)),
        ],
        "{seen:#}"
    );
    let (one, two) = (
        &seen["targets"]["synedge-compare-1"],
        &seen["targets"]["synedge-compare-2"],
    );
    assert_eq!(
        (&one["shadow"], &two["shadow"]),
        (&json!(true), &json!(true))
    );
    assert_eq!(one["product"], "acme/x100b");
    assert!(
        two["product"].is_string() && two["product"] != one["product"],
        "{seen:#}"
    );
    for t in [one, two] {
        assert_images_load(&t["images"]);
        assert_headings_unique(t);
        assert_eq!(t["fromShown"], true, "{t}");
    }
    assert_images_load(&seen["pageImages"]);
    // The page compares: two drills, their specs side by side, row by row.
    let rows = b
        .eval(
            &page,
            "[...document.querySelectorAll('table.versus tbody tr')].map((r) => \
             [...r.cells].map((c) => c.textContent))",
        )
        .await;
    let rows = rows.as_array().unwrap();
    assert!(rows.len() >= 6, "{rows:?}");
    for r in rows {
        let cells = r.as_array().unwrap();
        assert_eq!(cells.len(), 3, "{r}");
        assert!(cells[1] != "–" && cells[2] != "–", "{r}");
    }
    assert_eq!(rows[0][0], "Weight (with battery)");
    let title = b
        .eval(&page, "document.querySelector('h1').textContent")
        .await;
    assert!(
        title.as_str().unwrap().matches("Cordless Drill").count() == 2,
        "{title}"
    );
    assert_eq!(beacons(&s, "impression", &second, 1).await, 1);
    s.stop().await;
}

#[tokio::test]
async fn markup_in_data_attributes_executes_nothing() {
    let Some(mut b) = Browser::launch("markup_in_data_attributes").await else {
        return;
    };
    let s = server().await;
    let evil = r#""><img src=x onerror=alert(1)>"#;
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("brand", "Acme")
        .append_pair("mpn", evil)
        .append_pair("retailer", evil)
        .finish();
    let page = b.new_page(RECORDER).await;
    b.goto(&page, &format!("http://{}/demo?{q}", s.public))
        .await;
    let seen = b.eval(&page, &settle(1)).await;
    assert_eq!(seen["outcomes"][0]["type"], "noshow", "{seen:#}");
    assert_eq!(
        (&seen["alerts"], &seen["imgs"]),
        (&json!(0), &json!(0)),
        "{seen:#}"
    );
    // No handler was even attempted: the CSP would have reported it.
    assert_eq!(seen["violations"], json!([]), "{seen:#}");
    // The attributes reached the loader as the literal text.
    let attr = b
        .eval(
            &page,
            "document.querySelector('script[data-target]').dataset.mpn",
        )
        .await;
    assert_eq!(attr, evil);
    s.stop().await;
}
