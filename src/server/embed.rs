//! The retailer embed (DESIGN.md §3): `GET /loader.js`, the script tag retailers paste,
//! and `GET /demo`, a sample retailer product page that embeds it, with what that page
//! loads: `GET /demo/page.js` (the page's own script) and `GET /demo/img/NAME.svg` (the
//! demo catalog's product illustrations, [`crate::catalog::art`]).
//!
//! The loader, the page script and the illustrations are made once at startup and served
//! like a fragment (variants, strong ETags, 304). The illustrations are a fixed set: a
//! name outside it is a 404, and nothing of the request is echoed. The demo page is
//! rendered per request from its query; every value it echoes is HTML-escaped, and it is
//! sent with the Content-Security-Policy the README tells retailers to use, so the page
//! also proves that policy is enough.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, header};

use super::{AppState, error::ApiError, negotiate};
use crate::cache::Content;
use crate::catalog::art;
use crate::catalog::seed::{
    DEMO_BRAND, DEMO_EAN, DEMO_MPN, DemoProduct, NO_CONTENT_EAN, demo_product, ean13,
};
use crate::domain::MAX_QUERY_LEN;

/// The loader's source, as served.
pub const LOADER_JS: &str = include_str!("assets/loader.js");
/// The demo page's own script (`/demo/page.js`).
const DEMO_JS: &str = include_str!("assets/demo.js");
const SVG: HeaderValue = HeaderValue::from_static("image/svg+xml");
/// Short enough that a fixed loader reaches every page within minutes; revalidation is a
/// 304 thanks to the ETag.
const LOADER_CACHE_CONTROL: &str = "public, max-age=300, stale-while-revalidate=3600";
const JAVASCRIPT: HeaderValue = HeaderValue::from_static("application/javascript; charset=utf-8");

/// The policy a retailer page needs for the embed (README, "Content-Security-Policy"),
/// tightened to what the demo page itself uses.
pub const DEMO_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
     img-src 'self' https: data:; style-src 'unsafe-inline'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";
/// Most targets one comparison page fills.
const MAX_COMPARE: usize = 4;

/// A file made once at startup (compiled in, or generated), stored ready to send like a
/// cached fragment.
#[derive(Debug)]
pub struct Asset {
    content: Content,
    content_type: HeaderValue,
    cache_control: HeaderValue,
}

impl Asset {
    fn new(body: Bytes, content_type: HeaderValue, cache_control: &'static str) -> Self {
        let (gzip, br) = crate::compress::compress(&body);
        let version = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&body));
        Self {
            content: Content::new(body, gzip, br, &version),
            content_type,
            cache_control: HeaderValue::from_static(cache_control),
        }
    }

    /// `loader.js`.
    pub fn loader() -> Self {
        Self::new(
            Bytes::from_static(LOADER_JS.as_bytes()),
            JAVASCRIPT,
            LOADER_CACHE_CONTROL,
        )
    }

    fn send(&self, req: &Request) -> Response {
        negotiate::send(
            &self.content,
            req.headers(),
            self.content_type.clone(),
            self.cache_control.clone(),
            1,
        )
    }
}

/// What the demo page loads besides the loader, made once.
#[derive(Debug)]
pub struct DemoAssets {
    script: Asset,
    /// Every illustration by file name (`drill-hero.svg`): a fixed, finite set.
    images: HashMap<String, Asset>,
}

impl DemoAssets {
    pub fn build() -> Self {
        Self {
            script: Asset::new(
                Bytes::from_static(DEMO_JS.as_bytes()),
                JAVASCRIPT,
                LOADER_CACHE_CONTROL,
            ),
            images: art::images()
                .map(|(name, svg)| {
                    (
                        name,
                        Asset::new(Bytes::from(svg), SVG, LOADER_CACHE_CONTROL),
                    )
                })
                .collect(),
        }
    }
}

pub async fn loader(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let mut res = state.loader.send(&req);
    // For pages that load it with `crossorigin` (subresource integrity).
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}

pub async fn demo_script(State(state): State<Arc<AppState>>, req: Request) -> Response {
    state.demo.script.send(&req)
}

/// `GET /demo/img/NAME`: one of the fixed illustrations, or 404 (the name is only looked
/// up, never echoed). Retailer pages load these from another origin, which `<img>` may.
pub async fn demo_image(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    match state.demo.images.get(&name) {
        Some(image) => image.send(&req),
        None => ApiError::NotFound.into_response(),
    }
}

/// What `/demo` embeds: one product, or several side by side (`compare=EAN,EAN`).
#[derive(Debug, Default, PartialEq)]
struct DemoQuery {
    retailer: Option<String>,
    locale: Option<String>,
    ean: Option<String>,
    brand: Option<String>,
    mpn: Option<String>,
    sku: Option<String>,
    compare: Option<String>,
}

impl DemoQuery {
    fn parse(query: &str) -> Self {
        let mut q = Self::default();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let slot = match &*k {
                "retailer" => &mut q.retailer,
                "locale" => &mut q.locale,
                "ean" => &mut q.ean,
                "brand" => &mut q.brand,
                "mpn" => &mut q.mpn,
                "sku" => &mut q.sku,
                "compare" => &mut q.compare,
                _ => continue,
            };
            // The first value wins, as in fragment lookups.
            slot.get_or_insert_with(|| v.into_owned());
        }
        // No identity at all: the demo product, by every identity the loader takes.
        if q.compare.is_none()
            && q.ean.is_none()
            && q.brand.is_none()
            && q.mpn.is_none()
            && q.sku.is_none()
        {
            q.ean = Some(DEMO_EAN.into());
            q.brand = Some(DEMO_BRAND.into());
            q.mpn = Some(DEMO_MPN.into());
        }
        q
    }

    fn retailer(&self) -> &str {
        self.retailer.as_deref().unwrap_or("shop-one")
    }
}

pub async fn demo(req: Request) -> Response {
    let query = req.uri().query().unwrap_or("");
    if query.len() > MAX_QUERY_LEN {
        return ApiError::UriTooLong.into_response();
    }
    let html = render_demo(&DemoQuery::parse(query));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(DEMO_CSP),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        html,
    )
        .into_response()
}

/// Escapes text for HTML content and quoted attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One embed: a target element and the tag that fills it, exactly as a retailer writes it.
fn tag(out: &mut String, q: &DemoQuery, ids: &[(&str, &str)], target: &str) {
    let _ = write!(
        out,
        "<div id=\"{t}\" class=\"inpage\"></div>\n<script async src=\"/loader.js\" \
         data-retailer=\"{r}\" data-locale=\"{l}\"",
        t = esc(target),
        r = esc(q.retailer()),
        l = esc(q.locale.as_deref().unwrap_or("en-GB")),
    );
    for (name, value) in ids {
        let _ = write!(out, " data-{name}=\"{}\"", esc(value));
    }
    let _ = writeln!(out, " data-target=\"{}\"></script>", esc(target));
}

/// A price that looks real and stays the same for a product.
fn price(key: &str) -> String {
    let h = xxhash_rust::xxh3::xxh3_64(key.as_bytes());
    format!(
        "{}.{:02}",
        19 + h % 480,
        [0, 49, 90, 95, 99][(h >> 16) as usize % 5]
    )
}

/// What the page knows of the product behind `ean`: the demo catalog's facts, as the
/// retailer's own product data would be.
fn known(ean: Option<&str>, q: &DemoQuery) -> Option<DemoProduct> {
    demo_product(ean?, q.locale.as_deref().unwrap_or("en-GB"))
}

/// The heading above an embed (and `note` under it), with the id the page script hides
/// them by on `noshow`.
fn from_heading(out: &mut String, target: &str, note: &str) {
    let _ = writeln!(
        out,
        "<div id=\"{}-from\" class=\"from\"><h2>From the manufacturer</h2>{note}</div>",
        esc(target),
    );
}

/// The retailer's own picture of a product.
fn picture(p: Option<&DemoProduct>, title: &str) -> String {
    match p {
        Some(p) => format!(
            "<img src=\"{}\" width=\"{}\" height=\"{}\" alt=\"{}\">",
            esc(&p.image),
            art::WIDTH,
            art::HEIGHT,
            esc(title)
        ),
        None => "<div class=\"placeholder\">No image</div>".into(),
    }
}

fn full_name(p: &DemoProduct) -> String {
    format!("{} {} {}", p.brand, p.name, p.mpn)
}

/// The one-line note that the pink heading is this page's CSS, not the content's.
const CSS_NOTE: &str = "<p class=\"css-note\">The pink, letter-spaced headings are this \
    shop's own CSS (<code>h2 {color: hotpink}</code>); the brand content sits in a shadow \
    root, so that CSS does not reach it.</p>";

fn render_demo(q: &DemoQuery) -> String {
    let mut body = String::with_capacity(8192);
    let title;
    let mut crumb = "Products";
    if let Some(list) = &q.compare {
        let eans: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .take(MAX_COMPARE)
            .collect();
        let products: Vec<Option<DemoProduct>> = eans.iter().map(|e| known(Some(e), q)).collect();
        let names: Vec<String> = eans
            .iter()
            .zip(&products)
            .map(|(e, p)| p.as_ref().map_or_else(|| format!("Product {e}"), full_name))
            .collect();
        title = format!("Compare {}", names.join(" and "));
        if let Some(Some(p)) = products.first() {
            crumb = p.name;
        }
        // The retailer's comparison: one column per product, one row per spec.
        let _ = write!(
            body,
            "<h1>{}</h1>\n<table class=\"versus\">\n<thead><tr><td></td>",
            esc(&title)
        );
        for ((e, p), name) in eans.iter().zip(&products).zip(&names) {
            let _ = write!(
                body,
                "<th scope=\"col\">{}<span>{}</span><span class=\"price\">€{}</span></th>",
                picture(p.as_ref(), name),
                esc(name),
                price(e)
            );
        }
        body.push_str("</tr></thead>\n<tbody>\n");
        let mut labels: Vec<&str> = Vec::new();
        for p in products.iter().flatten() {
            for (label, _) in &p.specs {
                if !labels.contains(label) {
                    labels.push(label);
                }
            }
        }
        for label in labels {
            let _ = write!(body, "<tr><th scope=\"row\">{}</th>", esc(label));
            for p in &products {
                let value = p
                    .iter()
                    .flat_map(|p| &p.specs)
                    .find(|(l, _)| *l == label)
                    .map_or("–", |(_, v)| v.as_str());
                let _ = write!(body, "<td>{}</td>", esc(value));
            }
            body.push_str("</tr>\n");
        }
        body.push_str("</tbody>\n</table>\n");
        body.push_str(CSS_NOTE);
        body.push_str("\n<section class=\"compare\">\n");
        for (i, ean) in eans.iter().enumerate() {
            let target = format!("synedge-compare-{}", i + 1);
            body.push_str("<article>\n");
            from_heading(&mut body, &target, "");
            tag(&mut body, q, &[("ean", ean)], &target);
            body.push_str("</article>\n");
        }
        body.push_str("</section>\n");
    } else {
        let product = known(q.ean.as_deref(), q);
        title = match (&product, &q.brand, &q.mpn, &q.ean, &q.sku) {
            (Some(p), ..) => full_name(p),
            (_, Some(b), Some(m), _, _) => format!("{b} {m}"),
            (_, _, _, Some(e), _) => format!("Product {e}"),
            (_, _, _, _, Some(s)) => format!("Item {s}"),
            _ => "Product".into(),
        };
        if let Some(p) = &product {
            crumb = p.name;
        }
        let key = q.ean.as_deref().or(q.mpn.as_deref()).unwrap_or("");
        let _ = write!(
            body,
            "<section class=\"product\">\n<div class=\"gallery\">{img}</div>\n\
             <div class=\"buy\"><h1>{t}</h1><p class=\"price\">€{p}</p>\
             <p class=\"stock\">In stock, delivered in 2–3 days</p>\
             <button type=\"button\">Add to basket</button></div>\n</section>\n",
            img = picture(product.as_ref(), &title),
            t = esc(&title),
            p = price(key),
        );
        from_heading(&mut body, "synedge-inpage", CSS_NOTE);
        let ids: Vec<(&str, &str)> = [
            ("ean", &q.ean),
            ("brand", &q.brand),
            ("mpn", &q.mpn),
            ("sku", &q.sku),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v.as_deref()?)))
        .collect();
        tag(&mut body, q, &ids, "synedge-inpage");
    }
    let retailer = q.retailer();
    let link = |extra: &str| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        s.append_pair("retailer", retailer);
        format!("/demo?{}&{extra}", s.finish())
    };
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} · Demo Shop</title>\n<style>{css}</style>\n\
         <script src=\"/demo/page.js\"></script>\n</head>\n<body>\n\
         <header><strong>Demo Shop</strong> <span>a sample retailer page embedding synedge \
         as <code>{retailer}</code></span></header>\n<main>\n\
         <nav><a href=\"/demo\">Home</a> › {crumb} › {title}</nav>\n{body}</main>\n\
         <footer><p>Try:\n\
         <a href=\"{de}\">this product in German</a> ·\n\
         <a href=\"{none}\">a product with no content</a> ·\n\
         <a href=\"{cmp}\">a comparison of two drills</a></p>\n\
         <p>Each embed is one <code>&lt;script&gt;</code> tag; see the README.</p></footer>\n\
         </body>\n</html>\n",
        title = esc(&title),
        crumb = esc(crumb),
        retailer = esc(retailer),
        css = DEMO_CSS,
        de = esc(&link(&format!("locale=de-DE&ean={DEMO_EAN}"))),
        none = esc(&link(&format!("ean={NO_CONTENT_EAN}"))),
        cmp = esc(&link(&format!("compare={DEMO_EAN},{}", ean13(1)))),
    )
}

/// The retailer's own styles, deliberately heavy-handed on bare elements (`h2`, `p`,
/// `img`, `div`): the embed's shadow root keeps them off the brand content.
const DEMO_CSS: &str = "
body{margin:0;font:16px/1.5 Georgia,serif;color:#222;background:#fafafa}
header{background:#1b3a4b;color:#fff;padding:.8rem 2rem}header span{opacity:.7;font-size:.85rem;margin-left:1rem}
main{max-width:1100px;margin:0 auto;padding:1rem 2rem}nav{font-size:.85rem;color:#666}
h1{font-size:1.6rem;line-height:1.25}
h2{color:hotpink;text-transform:uppercase;letter-spacing:.2em}p{margin:.3em 0}img{border:4px dashed red}
.product{display:flex;gap:2rem;margin:1rem 0 1.5rem;align-items:center}
.gallery{flex:1;display:flex;justify-content:center;background:#fff;border:1px solid #eee;border-radius:6px}
.gallery img,.versus img{border:0;max-width:100%;height:auto}
.placeholder{min-height:240px;display:flex;align-items:center;color:#999}
.buy{flex:1}.price{display:block;font-size:1.6rem;color:#b12704}.stock{color:#007600}
button{background:#ffd814;border:0;border-radius:2rem;padding:.7rem 2rem;font-size:1rem}
.from h2{margin:1.5rem 0 0}.css-note{font-size:.8rem;color:#888;margin-bottom:1rem}
.versus{width:100%;border-collapse:collapse;background:#fff;margin-bottom:1rem}
.versus th,.versus td{padding:.4rem .8rem;border-bottom:1px solid #eee;text-align:left;width:40%}
.versus tbody th,.versus thead td{width:20%;font-weight:normal;color:#555}.versus thead img{width:240px}
.versus thead span{display:block}
.compare{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:2rem}
.inpage{margin:1rem 0}footer{border-top:1px solid #ddd;margin-top:3rem;padding:1rem 2rem;font-size:.9rem}
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_identity_means_the_demo_product() {
        let q = DemoQuery::parse("retailer=megastore");
        assert_eq!(q.retailer.as_deref(), Some("megastore"));
        assert_eq!(q.ean.as_deref(), Some(DEMO_EAN));
        assert_eq!(q.mpn.as_deref(), Some(DEMO_MPN));
        let q = DemoQuery::parse("sku=A-1&sku=B-2");
        assert_eq!((q.sku.as_deref(), q.ean), (Some("A-1"), None));
    }

    #[test]
    fn echoed_values_are_escaped() {
        let evil = "\"><img src=x onerror=alert(1)>";
        let html = render_demo(&DemoQuery::parse(&format!(
            "brand=Acme&mpn={}",
            form_urlencoded::byte_serialize(evil.as_bytes()).collect::<String>()
        )));
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("data-mpn=\"&quot;&gt;&lt;img src=x onerror=alert(1)&gt;\""));
    }

    #[test]
    fn comparison_has_one_target_per_product() {
        let html = render_demo(&DemoQuery::parse(
            "compare=4006381333931,%202900000000018,,x",
        ));
        for t in [
            "synedge-compare-1",
            "synedge-compare-2",
            "synedge-compare-3",
        ] {
            assert!(html.contains(&format!("data-target=\"{t}\"")), "{t}");
        }
        assert!(!html.contains("synedge-compare-4"));
        assert!(html.contains("data-ean=\"2900000000018\""));
        // Each tag names only its own product.
        assert!(!html.contains("data-mpn"));
    }

    #[test]
    fn loader_stays_small() {
        assert!(LOADER_JS.len() < 4096, "{} bytes", LOADER_JS.len());
    }
}
