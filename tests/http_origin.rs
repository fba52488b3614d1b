//! The HTTP upstream origin against real servers on 127.0.0.1 port 0: a small hyper
//! upstream written here (it records every request and counts connections), raw TCP for
//! broken answers, rustls for HTTPS, and Debian's nginx when it is installed.

mod common;

use std::convert::Infallible;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use synedge::store_url::StoreUrl;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use synedge::domain::FragmentRequest;
use synedge::net::tls::client_tls;
use synedge::origin::http::{HttpOrigin, MAX_BODY_BYTES, MAX_IN_FLIGHT};
use synedge::origin::{Directives, Lookup, Origin, OriginError, content_version};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

const TIMEOUT: Duration = Duration::from_secs(5);
const EAN: &str = "04006381333931";

/// What the test upstream saw of one request.
#[derive(Debug, Clone, Default)]
struct Seen {
    /// The raw (percent-encoded) path.
    path: String,
    if_none_match: Option<String>,
    accept_encoding: Option<String>,
    authorization: Option<String>,
}

/// What the test upstream answers.
#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Bytes,
    /// Waits this long before answering.
    delay: Duration,
    /// Sends the body in chunks without `Content-Length`.
    chunked: bool,
}

impl Reply {
    fn status(status: u16) -> Self {
        Self {
            status,
            headers: vec![],
            body: Bytes::new(),
            delay: Duration::ZERO,
            chunked: false,
        }
    }
    fn ok(body: impl Into<Bytes>) -> Self {
        Self {
            body: body.into(),
            ..Self::status(200)
        }
    }
    fn not_found() -> Self {
        Self {
            body: Bytes::from_static(b"<h1>404 Not Found</h1>"),
            ..Self::status(404)
        }
    }
    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
}

type Routes = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// A hyper HTTP/1.1 upstream with keep-alive, on port 0.
struct Upstream {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    async fn start(routes: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let routes: Routes = Arc::new(routes);
        let task = tokio::spawn({
            let (connections, seen) = (connections.clone(), seen.clone());
            async move {
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        return;
                    };
                    connections.fetch_add(1, Ordering::SeqCst);
                    let (seen, routes) = (seen.clone(), routes.clone());
                    tokio::spawn(async move {
                        let svc = service_fn(move |req: Request<Incoming>| {
                            let header = |n: &str| {
                                req.headers().get(n).map(|v| v.to_str().unwrap().to_owned())
                            };
                            let s = Seen {
                                path: req.uri().path().to_owned(),
                                if_none_match: header("if-none-match"),
                                accept_encoding: header("accept-encoding"),
                                authorization: header("authorization"),
                            };
                            seen.lock().unwrap().push(s.clone());
                            let reply = routes(&s);
                            async move { Ok::<_, Infallible>(respond(reply).await) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(tcp), svc)
                            .await;
                    });
                }
            }
        });
        Self {
            addr,
            connections,
            seen,
            task,
        }
    }

    fn url(&self, prefix: &str) -> String {
        format!("http://{}{prefix}", self.addr)
    }

    fn origin(&self, prefix: &str) -> HttpOrigin {
        HttpOrigin::connect(&self.url(prefix), TIMEOUT).unwrap()
    }

    fn paths(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.path.clone())
            .collect()
    }

    fn last(&self) -> Seen {
        self.seen.lock().unwrap().last().cloned().unwrap()
    }

    fn forget(&self) {
        self.seen.lock().unwrap().clear();
    }
}

async fn respond(reply: Reply) -> Response<BoxBody<Bytes, Infallible>> {
    tokio::time::sleep(reply.delay).await;
    let body = if reply.chunked {
        let chunks: Vec<Result<Frame<Bytes>, Infallible>> = reply
            .body
            .chunks(64 << 10)
            .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
            .collect();
        BoxBody::new(StreamBody::new(futures_util::stream::iter(chunks)))
    } else {
        BoxBody::new(Full::new(reply.body))
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap();
    for (k, v) in reply.headers {
        resp.headers_mut().append(k, v.parse().unwrap());
    }
    resp
}

fn req(q: &str) -> FragmentRequest {
    FragmentRequest::from_query(q).unwrap()
}

fn found(l: Lookup) -> synedge::origin::Fragment {
    match l {
        Lookup::Found(f) => f,
        other => panic!("expected a fragment, got {other:?}"),
    }
}

fn secs(n: u64) -> Option<Duration> {
    Some(Duration::from_secs(n))
}

#[tokio::test]
async fn paths_are_built_from_normalized_percent_encoded_segments() {
    let up = Upstream::start(|s| match s.path.as_str() {
        "/api/v1/shop-one/en/mpn/b%C3%B6schpro/x100b%C3%BC" => Reply::ok("<p>bosch</p>"),
        "/api/v1/shop-one/en/sku/AB%2012%2F%C3%BC%3F%23" => Reply::ok("<p>sku</p>"),
        "/shop-one/en/ean/04006381333931" => Reply::ok("<p>ean</p>"),
        _ => Reply::not_found(),
    })
    .await;
    // A trailing slash on the prefix changes nothing.
    let o = up.origin("/api/v1/");
    let f = found(
        o.fetch(&req(
            "retailer=shop-one&locale=EN&brand=B%C3%B6sch+Pro&mpn=X-100%2FB+%C3%BC",
        ))
        .await
        .unwrap(),
    );
    assert_eq!(f.html, "<p>bosch</p>");
    assert_eq!(f.brand, "böschpro");
    assert_eq!(f.product_id, "böschpro/x100bü");

    let f = found(
        o.fetch(&req(
            "retailer=shop-one&locale=en&sku=+AB+12%2F%C3%BC%3F%23+",
        ))
        .await
        .unwrap(),
    );
    assert_eq!(f.html, "<p>sku</p>");
    assert_eq!((f.brand.as_str(), f.product_id.as_str()), ("", ""));

    // No prefix; the EAN in its GTIN-14 form whatever the spelling.
    let o = up.origin("");
    let f = found(
        o.fetch(&req("retailer=shop-one&locale=en&ean=4006381333931"))
            .await
            .unwrap(),
    );
    assert_eq!(f.html, "<p>ean</p>");

    // A SKU that would climb out of its segment is never asked for.
    up.forget();
    let l = o
        .fetch(&req(
            "retailer=shop-one&locale=en&sku=..%2F..%2Fother%2Fen%2Fean%2F04006381333931",
        ))
        .await
        .unwrap();
    assert_eq!(
        l,
        Lookup::NoContent {
            brand: None,
            product_id: None
        }
    );
    assert!(up.paths().is_empty(), "{:?}", up.paths());
}

#[tokio::test]
async fn identities_then_locales_are_tried_in_order() {
    let up = Upstream::start(|s| match s.path.as_str() {
        "/c/shop/de/sku/S1" => Reply::ok("<p>de sku</p>")
            .header("x-synedge-brand", "ACME")
            .header("x-synedge-product", "Acme/X-1"),
        _ => Reply::not_found(),
    })
    .await;
    let o = up.origin("/c");
    let f = found(
        o.fetch(&req(
            "retailer=shop&locale=de-AT&sku=S1&ean=4006381333931&brand=Acme&mpn=X-1",
        ))
        .await
        .unwrap(),
    );
    assert_eq!(f.html, "<p>de sku</p>");
    assert_eq!(
        up.paths(),
        [
            "/c/shop/de-AT/ean/04006381333931",
            "/c/shop/de/ean/04006381333931",
            "/c/shop/de-AT/mpn/acme/x1",
            "/c/shop/de/mpn/acme/x1",
            "/c/shop/de-AT/sku/S1",
            "/c/shop/de/sku/S1",
        ]
    );
    // Found by SKU alone, the upstream's headers name the product.
    let f = found(
        o.fetch(&req("retailer=shop&locale=de&sku=S1"))
            .await
            .unwrap(),
    );
    assert_eq!(
        (f.brand.as_str(), f.product_id.as_str()),
        ("acme", "acme/x1")
    );

    // The exact locale, when it exists, stops the chain.
    up.forget();
    assert!(matches!(
        o.fetch(&req("retailer=shop&locale=fr&sku=S2"))
            .await
            .unwrap(),
        Lookup::NoContent { .. }
    ));
    assert_eq!(up.paths(), ["/c/shop/fr/sku/S2"]);
}

/// A content service keyed on canonical BCP 47 casing (what the README, the embed
/// attributes and most services write) finds its content whatever casing the page used,
/// and the language fallback asks for the bare language.
#[tokio::test]
async fn the_upstream_is_asked_in_canonical_locale_casing() {
    let up = Upstream::start(|s| match s.path.as_str() {
        "/c/shop/en-GB/ean/04006381333931" => Reply::ok("<p>en-GB</p>"),
        "/c/shop/zh-Hant-TW/ean/04006381333931" => Reply::ok("<p>zh-Hant-TW</p>"),
        "/c/shop/fr/ean/04006381333931" => Reply::ok("<p>fr</p>"),
        _ => Reply::not_found(),
    })
    .await;
    let o = up.origin("/c");
    for (locale, html) in [
        ("en-GB", "<p>en-GB</p>"),
        ("en-gb", "<p>en-GB</p>"),
        ("EN-GB", "<p>en-GB</p>"),
        ("zh-hant-tw", "<p>zh-Hant-TW</p>"),
        // fr-BE is not there; its language is.
        ("fr-be", "<p>fr</p>"),
    ] {
        let q = format!("retailer=shop&locale={locale}&ean=4006381333931");
        let f = found(o.fetch(&req(&q)).await.unwrap());
        assert_eq!(f.html, html, "{locale}");
    }
    assert_eq!(
        up.paths()[up.paths().len() - 2..],
        [
            "/c/shop/fr-BE/ean/04006381333931",
            "/c/shop/fr/ean/04006381333931"
        ]
    );
}

#[tokio::test]
async fn no_content_names_the_product_when_anyone_can() {
    let up = Upstream::start(|s| {
        if s.path.contains("/sku/KNOWN") {
            Reply::not_found()
                .header("x-synedge-brand", "Acme")
                .header("x-synedge-product", "X-9")
        } else {
            Reply::not_found()
        }
    })
    .await;
    let o = up.origin("");
    let none = Lookup::NoContent {
        brand: None,
        product_id: None,
    };
    assert_eq!(
        o.fetch(&req("retailer=shop&locale=en&ean=4006381333931"))
            .await
            .unwrap(),
        none
    );
    assert_eq!(
        o.fetch(&req("retailer=shop&locale=en&sku=KNOWN"))
            .await
            .unwrap(),
        Lookup::NoContent {
            brand: Some("acme".into()),
            product_id: Some("acme/x9".into())
        }
    );
    assert_eq!(
        o.fetch(&req("retailer=shop&locale=en&brand=Acme&mpn=Z-1"))
            .await
            .unwrap(),
        Lookup::NoContent {
            brand: Some("acme".into()),
            product_id: Some("acme/z1".into())
        }
    );
}

#[tokio::test]
async fn statuses_map_to_found_no_content_or_unavailable() {
    let up = Upstream::start(|s| match s.path.as_str() {
        "/shop/en/sku/OK" => Reply::ok("<p>ok</p>")
            .header("last-modified", "Tue, 14 Nov 2023 22:13:20 GMT")
            .header("content-type", "text/html"),
        "/shop/en/sku/GONE" => Reply::status(410),
        "/shop/en/sku/E500" | "/shop/en-GB/sku/E500" => Reply::status(500),
        "/shop/en/sku/E503" => Reply::status(503).header("retry-after", "5"),
        "/shop/en/sku/MOVED" => Reply::status(302).header("location", "/elsewhere"),
        "/shop/en/sku/E403" => Reply::status(403),
        _ => Reply::not_found(),
    })
    .await;
    let o = up.origin("");
    let f = found(
        o.fetch(&req("retailer=shop&locale=en&sku=OK"))
            .await
            .unwrap(),
    );
    assert_eq!(f.html, "<p>ok</p>");
    assert_eq!(f.version, content_version(b"<p>ok</p>"));
    assert_eq!(f.updated_at, 1_700_000_000);
    assert_eq!(f.validator, None);
    assert_eq!(f.directives, Directives::default());
    assert!(f.gzip.is_none() && f.br.is_none());

    // Without Last-Modified: now.
    let up2 = Upstream::start(|_| Reply::ok("x")).await;
    let f = found(
        up2.origin("")
            .fetch(&req("retailer=shop&locale=en&sku=A"))
            .await
            .unwrap(),
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - f.updated_at).abs() <= 2, "{}", f.updated_at);

    assert!(matches!(
        o.fetch(&req("retailer=shop&locale=en&sku=MISSING"))
            .await
            .unwrap(),
        Lookup::NoContent { .. }
    ));
    assert!(matches!(
        o.fetch(&req("retailer=shop&locale=en&sku=GONE"))
            .await
            .unwrap(),
        Lookup::NoContent { .. }
    ));
    for sku in ["E500", "E503", "MOVED", "E403"] {
        let e = o
            .fetch(&req(&format!("retailer=shop&locale=en&sku={sku}")))
            .await
            .unwrap_err();
        assert!(matches!(e, OriginError::Unavailable(_)), "{sku}: {e}");
        assert!(e.is_transient());
    }
    // A failure stops the chain: it must not be read as "no content here".
    up.forget();
    let e = o
        .fetch(&req(
            "retailer=shop&locale=en-GB&sku=E500&ean=4006381333931",
        ))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("500"), "{e}");
    assert_eq!(
        up.paths(),
        [
            "/shop/en-GB/ean/04006381333931",
            "/shop/en/ean/04006381333931",
            "/shop/en-GB/sku/E500"
        ]
    );
}

#[tokio::test]
async fn etags_are_kept_and_revalidated_with_if_none_match() {
    let up = Upstream::start(|s| {
        if s.if_none_match.as_deref() == Some("\"v1\"") {
            Reply::status(304)
                .header("etag", "\"v1\"")
                .header("cache-control", "max-age=120, stale-if-error=60")
        } else {
            Reply::ok("<p>v1</p>")
                .header("etag", "\"v1\"")
                .header("cache-control", "max-age=60")
        }
    })
    .await;
    let o = up.origin("/p");
    let r = req("retailer=shop&locale=en&ean=4006381333931");
    let f = found(o.fetch(&r).await.unwrap());
    assert_eq!(f.validator.as_deref(), Some("\"v1\""));
    assert_eq!(f.directives.max_age, secs(60));
    assert_eq!(up.last().if_none_match, None);

    let l = o.revalidate(&r, "\"v1\"").await.unwrap();
    assert_eq!(
        l,
        Lookup::NotModified {
            directives: Directives {
                max_age: secs(120),
                stale_if_error: secs(60),
                ..Directives::default()
            }
        }
    );
    assert_eq!(up.last().if_none_match.as_deref(), Some("\"v1\""));

    // Changed upstream: the new content, with its validator.
    let f = found(o.revalidate(&r, "\"v0\"").await.unwrap());
    assert_eq!(f.html, "<p>v1</p>");
    assert_eq!(f.validator.as_deref(), Some("\"v1\""));

    // A 304 to a request that asked nothing is a broken upstream.
    let up = Upstream::start(|_| Reply::status(304)).await;
    let e = up
        .origin("")
        .fetch(&r)
        .await
        .expect_err("304 to an unconditional GET");
    assert!(matches!(e, OriginError::Unavailable(_)), "{e}");
}

#[tokio::test]
async fn cache_control_becomes_directives() {
    let up = Upstream::start(|s| {
        let cc = match s.path.rsplit('/').next().unwrap() {
            "shared" => {
                "public, max-age=5, s-maxage=30, stale-while-revalidate=10, stale-if-error=600"
            }
            "private" => "private, max-age=60",
            "nostore" => "no-store",
            "nocache" => "no-cache, stale-if-error=99",
            "strict" => "max-age=60, must-revalidate",
            _ => "",
        };
        let r = Reply::ok("<p>x</p>").header("age", "3");
        if cc.is_empty() {
            r.header("expires", "Thu, 01 Jan 1970 00:00:00 GMT")
        } else {
            r.header("cache-control", cc)
        }
    })
    .await;
    let o = up.origin("");
    let d = |sku: &'static str| {
        let o = &o;
        async move {
            found(
                o.fetch(&req(&format!("retailer=shop&locale=en&sku={sku}")))
                    .await
                    .unwrap(),
            )
            .directives
        }
    };
    assert_eq!(
        d("shared").await,
        Directives {
            max_age: secs(27),
            stale_while_revalidate: secs(10),
            stale_if_error: secs(600),
            no_store: false
        }
    );
    assert!(d("private").await.no_store);
    assert!(d("nostore").await.no_store);
    let nc = d("nocache").await;
    assert_eq!((nc.max_age, nc.stale_if_error), (secs(0), secs(99)));
    let strict = d("strict").await;
    assert_eq!(
        (strict.stale_while_revalidate, strict.stale_if_error),
        (secs(0), secs(0))
    );
    assert_eq!(d("expired").await.max_age, secs(0));
}

#[tokio::test]
async fn gzip_answers_are_decoded() {
    let html = "<section><h2>Acme drill</h2><p>Feature tile</p></section>".repeat(500);
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(html.as_bytes()).unwrap();
        Bytes::from(e.finish().unwrap())
    };
    let small_gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b"<p>small</p>").unwrap();
        Bytes::from(e.finish().unwrap())
    };
    let up = Upstream::start(move |s| {
        assert_eq!(s.accept_encoding.as_deref(), Some("gzip"));
        let body = match s.path.rsplit('/').next().unwrap() {
            "BIG" => gz.clone(),
            "SMALL" => small_gz.clone(),
            _ => return Reply::ok("x").header("content-encoding", "br"),
        };
        Reply {
            body,
            ..Reply::ok("").header("content-encoding", "gzip")
        }
    })
    .await;
    let o = up.origin("");
    let f = found(
        o.fetch(&req("retailer=shop&locale=en&sku=BIG"))
            .await
            .unwrap(),
    );
    assert_eq!(f.html, html);
    assert_eq!(f.version, content_version(html.as_bytes()));
    let f = found(
        o.fetch(&req("retailer=shop&locale=en&sku=SMALL"))
            .await
            .unwrap(),
    );
    assert_eq!(f.html, "<p>small</p>");
    // An encoding we did not ask for is a bad answer.
    let e = o
        .fetch(&req("retailer=shop&locale=en&sku=BR"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("content-encoding"), "{e}");
}

#[tokio::test]
async fn a_slow_upstream_times_out_within_the_bound() {
    let up = Upstream::start(|_| Reply {
        delay: Duration::from_secs(5),
        ..Reply::ok("late")
    })
    .await;
    let timeout = Duration::from_millis(300);
    let o = HttpOrigin::connect(&up.url(""), timeout).unwrap();
    let started = Instant::now();
    let e = o
        .fetch(&req("retailer=shop&locale=en&ean=4006381333931"))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(e, OriginError::Timeout(t) if t == timeout), "{e}");
    assert!(
        took >= timeout && took < timeout + Duration::from_millis(700),
        "{took:?}"
    );

    // A chain of candidates shares one deadline: 4 slow 404s do not take 4 timeouts.
    let up = Upstream::start(|_| Reply {
        delay: Duration::from_millis(200),
        ..Reply::not_found()
    })
    .await;
    let o = HttpOrigin::connect(&up.url(""), timeout).unwrap();
    let started = Instant::now();
    let e = o
        .fetch(&req("retailer=shop&locale=en-GB&ean=4006381333931&sku=S"))
        .await
        .unwrap_err();
    assert!(matches!(e, OriginError::Timeout(_)), "{e}");
    assert!(
        started.elapsed() < timeout + Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn connection_refused_is_unavailable_at_once() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let o = HttpOrigin::connect(&format!("http://127.0.0.1:{port}/x"), TIMEOUT).unwrap();
    let started = Instant::now();
    let e = o
        .fetch(&req("retailer=shop&locale=en&ean=4006381333931"))
        .await
        .unwrap_err();
    assert!(matches!(e, OriginError::Unavailable(_)), "{e}");
    assert!(e.to_string().contains("connect"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// A raw TCP server that answers every request with `head` and `body`, then closes.
async fn raw_server(head: &'static str, body: &'static [u8]) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tcp.write_all(head.as_bytes()).await;
                let _ = tcp.write_all(body).await;
                let _ = tcp.flush().await;
                // Dropped here: the answer ends mid-body.
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_connection_closed_mid_body_or_a_garbage_answer_is_unavailable() {
    let r = req("retailer=shop&locale=en&ean=4006381333931");
    let addr = raw_server(
        "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nContent-Type: text/html\r\n\r\n",
        b"<p>only the beginn",
    )
    .await;
    let o = HttpOrigin::connect(&format!("http://{addr}"), TIMEOUT).unwrap();
    let e = o.fetch(&r).await.unwrap_err();
    assert!(matches!(e, OriginError::Unavailable(_)), "{e}");
    assert!(e.to_string().contains("body"), "{e}");

    let addr = raw_server("this is not HTTP\r\n\r\n", b"").await;
    let o = HttpOrigin::connect(&format!("http://{addr}"), TIMEOUT).unwrap();
    let e = o.fetch(&r).await.unwrap_err();
    assert!(matches!(e, OriginError::Unavailable(_)), "{e}");
}

#[tokio::test]
async fn sequential_fetches_reuse_one_keep_alive_connection() {
    let up = Upstream::start(|s| {
        if s.path.ends_with("/sku/HIT") {
            Reply::ok("<p>hit</p>")
        } else {
            Reply::not_found()
        }
    })
    .await;
    let o = up.origin("/k");
    for i in 0..10 {
        let q = if i % 2 == 0 {
            "retailer=shop&locale=en&sku=HIT"
        } else {
            "retailer=shop&locale=en-GB&ean=4006381333931"
        };
        o.fetch(&req(q)).await.unwrap();
    }
    assert_eq!(up.paths().len(), 15);
    assert_eq!(up.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_surge_of_misses_is_bounded_by_the_in_flight_limit() {
    let up = Upstream::start(|_| Reply {
        delay: Duration::from_millis(100),
        ..Reply::ok("<p>slowish</p>")
    })
    .await;
    let o = Arc::new(up.origin(""));
    let started = Instant::now();
    let tasks: Vec<_> = (0..2 * MAX_IN_FLIGHT)
        .map(|i| {
            let o = o.clone();
            tokio::spawn(async move {
                o.fetch(&req(&format!("retailer=shop&locale=en&sku=S{i}")))
                    .await
                    .unwrap()
            })
        })
        .collect();
    for t in tasks {
        found(t.await.unwrap());
    }
    // Two waves of MAX_IN_FLIGHT, over at most MAX_IN_FLIGHT connections.
    assert!(started.elapsed() >= Duration::from_millis(200));
    let conns = up.connections.load(Ordering::SeqCst);
    assert!(conns <= MAX_IN_FLIGHT, "{conns} connections");
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let big = Bytes::from(vec![b'x'; MAX_BODY_BYTES + 1]);
    let exact = Bytes::from(vec![b'y'; MAX_BODY_BYTES]);
    let up = Upstream::start(move |s| match s.path.rsplit('/').next().unwrap() {
        "LENGTH" => Reply::ok(big.clone()),
        "CHUNKED" => Reply {
            chunked: true,
            ..Reply::ok(big.clone())
        },
        _ => Reply {
            chunked: true,
            ..Reply::ok(exact.clone())
        },
    })
    .await;
    let o = up.origin("");
    for sku in ["LENGTH", "CHUNKED"] {
        let e = o
            .fetch(&req(&format!("retailer=shop&locale=en&sku={sku}")))
            .await
            .unwrap_err();
        assert!(matches!(e, OriginError::Unavailable(_)), "{e}");
        assert!(e.to_string().contains("larger than 4 MiB"), "{sku}: {e}");
    }
    let f = found(
        o.fetch(&req("retailer=shop&locale=en&sku=EXACT"))
            .await
            .unwrap(),
    );
    assert_eq!(f.html.len(), MAX_BODY_BYTES);
}

#[tokio::test]
async fn credentials_in_the_url_become_basic_auth_and_are_never_shown() {
    let up = Upstream::start(|s| {
        if s.authorization.as_deref() == Some("Basic ZWRnZTpzM2NyZXRAcGFzcw==") {
            Reply::status(500)
        } else {
            Reply::status(401)
        }
    })
    .await;
    let url = format!("http://edge:s3cret%40pass@{}/secure", up.addr);
    assert!(StoreUrl::parse(&url).is_ok());
    let o = HttpOrigin::connect(&url, TIMEOUT).unwrap();
    let e = o
        .fetch(&req("retailer=shop&locale=en&sku=S"))
        .await
        .unwrap_err();
    // 500, not 401: the credentials arrived.
    assert!(e.to_string().contains("500"), "{e}");
    for shown in [e.to_string(), format!("{o:?}"), o.shown_url()] {
        assert!(
            !shown.contains("s3cret") && !shown.contains("edge:"),
            "{shown}"
        );
    }
    // And through the generic constructor the config uses.
    let store = synedge::origin::open(&StoreUrl::parse(&url).unwrap(), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(store.origin.kind(), "http");
    assert!(store.events.is_none() && store.catalog.is_none());
}

#[tokio::test]
async fn a_fragment_from_the_upstream_is_served_miss_then_hit() {
    let html = "<div class=\"inpage\"><h2>From the content service</h2></div>";
    let up = Upstream::start(move |s| {
        if s.path == "/content/shop-one/en-GB/ean/04006381333931" {
            Reply::ok(html)
                .header("etag", "\"upstream-1\"")
                .header("cache-control", "max-age=300")
        } else {
            Reply::not_found()
        }
    })
    .await;
    let url = up.url("/content");
    let origin = synedge::origin::open(&StoreUrl::parse(&url).unwrap(), TIMEOUT)
        .await
        .unwrap()
        .origin;
    let s = common::TestServer::start_with_origin(origin, |c| c.origin.url = url.clone()).await;
    let path = common::acme("shop-one", "en-GB");
    let a = s.get(&path).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.text(), html);
    assert_eq!(a.header("x-cache"), "MISS");
    assert_eq!(
        a.header("etag"),
        format!("\"{}\"", content_version(html.as_bytes()))
    );
    let b = s.get(&path).await;
    assert_eq!(b.status, StatusCode::OK);
    assert_eq!(b.text(), html);
    assert_eq!(b.header("x-cache"), "HIT");
    assert_eq!(up.paths(), ["/content/shop-one/en-GB/ean/04006381333931"]);

    // No content upstream: 204, cached as a negative answer.
    let a = s.get(&common::acme("shop-two", "fr")).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    s.stop().await;
}

/// What clients and CDNs are told follows each entry's own lifetimes: the upstream's
/// `max-age=30` and `stale-if-error`, `no-store` passed on; and hits carry `Age`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_control_follows_each_entry_and_hits_carry_age() {
    let up = Upstream::start(|s| match s.path.as_str() {
        "/c/shop-one/en-GB/ean/04006381333931" => {
            Reply::ok("<p>thirty</p>").header("cache-control", "max-age=30, stale-if-error=600")
        }
        "/c/shop-two/en-GB/ean/04006381333931" => {
            Reply::ok("<p>private</p>").header("cache-control", "no-store")
        }
        "/c/shop-three/en-GB/ean/04006381333931" => Reply::ok("<p>defaults</p>"),
        _ => Reply::not_found(),
    })
    .await;
    let url = up.url("/c");
    let origin = synedge::origin::open(&StoreUrl::parse(&url).unwrap(), TIMEOUT)
        .await
        .unwrap()
        .origin;
    let s = common::TestServer::start_with_origin(origin, |c| {
        c.origin.url = url.clone();
        c.cache.ttl = Duration::from_secs(300);
        c.cache.stale_while_revalidate = Duration::from_secs(60);
        c.cache.stale_if_error = Duration::from_secs(3600);
    })
    .await;

    let thirty = common::acme("shop-one", "en-GB");
    let miss = s.get(&thirty).await;
    assert_eq!(miss.header("x-cache"), "MISS");
    let want = "public, max-age=30, stale-while-revalidate=60, stale-if-error=600";
    assert_eq!(miss.header("cache-control"), want);
    assert_eq!(miss.header("age"), "0");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let hit = s.get(&thirty).await;
    assert_eq!(hit.header("x-cache"), "HIT");
    assert_eq!(hit.header("cache-control"), want);
    let age: u64 = hit.header("age").parse().unwrap();
    assert!((1..30).contains(&age), "age {age}");

    let private = s.get(&common::acme("shop-two", "en-GB")).await;
    assert_eq!(private.status, StatusCode::OK);
    assert_eq!(private.header("cache-control"), "no-store");

    let defaults = s.get(&common::acme("shop-three", "en-GB")).await;
    assert_eq!(
        defaults.header("cache-control"),
        "public, max-age=300, stale-while-revalidate=60, stale-if-error=3600"
    );
    s.stop().await;
}

/// Runs `openssl` with `args` in `dir`; `false` when it is missing or fails.
fn openssl(dir: &Path, args: &[&str]) -> bool {
    std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test]
async fn https_upstreams_are_verified_against_the_given_roots() {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("leaf.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let made = openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=synedge test CA",
        ],
    ) && openssl(
        d,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=localhost",
        ],
    ) && openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ],
    );
    if !made {
        common::skip(
            "https_upstreams_are_verified_against_the_given_roots",
            "SYNEDGE_REQUIRE_OPENSSL",
            "openssl cannot make test certificates; install it (apt-get install openssl)",
        );
        return;
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(d.join("leaf.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(d.join("leaf.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    let server = tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = service_fn(|req: Request<Incoming>| async move {
                    let reply = if req.uri().path() == "/tls/shop/en/sku/S" {
                        Reply::ok("<p>over tls</p>")
                    } else {
                        Reply::not_found()
                    };
                    Ok::<_, Infallible>(respond(reply).await)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });

    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(d.join("ca.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let tls = client_tls(roots).unwrap();
    let r = req("retailer=shop&locale=en&sku=S");
    for host in ["localhost", "127.0.0.1"] {
        let o = HttpOrigin::with_tls(&format!("https://{host}:{port}/tls"), TIMEOUT, tls.clone())
            .unwrap();
        for _ in 0..3 {
            assert_eq!(found(o.fetch(&r).await.unwrap()).html, "<p>over tls</p>");
        }
    }
    // One connection per origin, kept alive across fetches.
    assert_eq!(connections.load(Ordering::SeqCst), 2);

    // A certificate the roots do not vouch for is refused.
    let o = HttpOrigin::with_tls(
        &format!("https://localhost:{port}/tls"),
        TIMEOUT,
        client_tls(rustls::RootCertStore::empty()).unwrap(),
    )
    .unwrap();
    let e = o.fetch(&r).await.unwrap_err();
    assert!(matches!(e, OriginError::Unavailable(_)), "{e}");
    server.abort();
}

/// Debian's nginx serving files: ETag/304, gzip, Last-Modified, percent-decoding.
#[tokio::test]
async fn real_nginx_serving_files() {
    const NGINX: &str = "/usr/sbin/nginx";
    if !Path::new(NGINX).exists() {
        common::skip(
            "real_nginx_serving_files",
            "SYNEDGE_REQUIRE_NGINX",
            &format!("no {NGINX}; install it (apt-get install nginx)"),
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Readable by whatever user nginx may switch to.
    std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let www = d.join("www/content");
    let html = "<section class=\"inpage\"><h2>Acme X-100</h2><p>A tile.</p></section>".repeat(40);
    let files = [
        (format!("shop/de/ean/{EAN}"), html.clone()),
        (
            "shop/en/mpn/böschpro/x100bü".to_owned(),
            "<p>bösch</p>".to_owned(),
        ),
    ];
    let mtime = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for (rel, body) in &files {
        let p = www.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, body).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
    }
    for sub in ["www", "www/content", "www/content/shop"] {
        std::fs::set_permissions(
            d.join(sub),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dp = d.display();
    let conf = format!(
        r#"daemon off;
master_process off;
pid {dp}/nginx.pid;
error_log {dp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dp}/tmp-body;
    proxy_temp_path {dp}/tmp-proxy;
    fastcgi_temp_path {dp}/tmp-fastcgi;
    uwsgi_temp_path {dp}/tmp-uwsgi;
    scgi_temp_path {dp}/tmp-scgi;
    types {{ }}
    default_type text/html;
    gzip on;
    gzip_min_length 256;
    etag on;
    server {{
        listen 127.0.0.1:{port};
        root {dp}/www;
        location /content/ {{
            add_header Cache-Control "max-age=60, stale-if-error=300" always;
        }}
    }}
}}
"#
    );
    std::fs::write(d.join("nginx.conf"), conf).unwrap();
    let mut child = tokio::process::Command::new(NGINX)
        .arg("-p")
        .arg(d)
        .arg("-e")
        .arg(d.join("error.log"))
        .arg("-c")
        .arg(d.join("nginx.conf"))
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(d.join("error.log")).unwrap_or_default();
            panic!("nginx exited with {status}: {log}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(up, "nginx did not start listening");

    let o = HttpOrigin::connect(&format!("http://127.0.0.1:{port}/content/"), TIMEOUT).unwrap();
    // Locale fallback de-AT → de, gzip decoded, Last-Modified, Cache-Control, ETag.
    let r = req(&format!("retailer=shop&locale=de-AT&ean={EAN}"));
    let f = found(o.fetch(&r).await.unwrap());
    assert_eq!(f.html, html);
    assert_eq!(f.version, content_version(html.as_bytes()));
    assert_eq!(f.updated_at, 1_700_000_000);
    assert_eq!(f.directives.max_age, secs(60));
    assert_eq!(f.directives.stale_if_error, secs(300));
    let etag = f.validator.clone().expect("nginx sends an ETag");
    // nginx weakens the ETag of what it gzips on the fly; weak comparison still matches.
    assert!(etag.starts_with("W/\""), "{etag}");
    match o.revalidate(&r, &etag).await.unwrap() {
        Lookup::NotModified { directives } => assert_eq!(directives.max_age, secs(60)),
        other => panic!("expected 304, got {other:?}"),
    }
    let f2 = found(o.revalidate(&r, "\"something-else\"").await.unwrap());
    assert_eq!(f2.html, html);

    // Unicode path segments, percent-encoded by us, decoded by nginx to the file name.
    let f = found(
        o.fetch(&req(
            "retailer=shop&locale=en&brand=B%C3%B6sch+Pro&mpn=X-100%2FB+%C3%BC",
        ))
        .await
        .unwrap(),
    );
    assert_eq!(f.html, "<p>bösch</p>");

    // Missing files: no content.
    assert!(matches!(
        o.fetch(&req("retailer=shop&locale=fr&sku=NOPE"))
            .await
            .unwrap(),
        Lookup::NoContent { .. }
    ));
    child.kill().await.unwrap();
}
