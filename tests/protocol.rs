//! HTTP rules a client library would hide, checked on the wire against the real server:
//! `Host` lines, `Content-Length` on bodiless answers, body limits and timeouts answered
//! before the body is sent, the bearer scheme, and JSON on every error either listener
//! produces.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use common::{TOKEN, TestServer, acme};
use http::StatusCode;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// How long any one answer may take to arrive in these tests.
const PATIENCE: Duration = Duration::from_secs(10);

/// One answer as it came off the wire.
#[derive(Debug)]
struct Raw {
    status: u16,
    /// In order, names lowercased, every line kept (so duplicates show).
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    /// The `error` code of a JSON error body, after checking it has a `detail` too.
    fn error(&self) -> String {
        let j = self.json();
        assert!(j["detail"].as_str().is_some_and(|d| d.len() > 10), "{j}");
        j["error"].as_str().unwrap().to_owned()
    }
}

/// Reads one answer: the head, then as many body bytes as `Content-Length` says (none
/// for `HEAD`, 204 and 304), or until EOF without one.
async fn read_answer(s: &mut TcpStream, head_request: bool) -> Raw {
    let mut buf = Vec::new();
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = timeout(PATIENCE, s.read(&mut chunk))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(
            n > 0,
            "closed before a whole head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    let mut body = buf[end..].to_vec();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map(|(_, v)| v.parse::<usize>().unwrap());
    let bodiless = head_request || status == 204 || status == 304;
    match length {
        _ if bodiless => {}
        Some(n) => {
            while body.len() < n {
                let mut chunk = vec![0u8; n - body.len()];
                let got = timeout(PATIENCE, s.read(&mut chunk))
                    .await
                    .unwrap()
                    .unwrap();
                assert!(got > 0, "closed mid-body");
                body.extend_from_slice(&chunk[..got]);
            }
        }
        None => {
            timeout(PATIENCE, s.read_to_end(&mut body))
                .await
                .unwrap()
                .unwrap();
        }
    }
    Raw {
        status,
        headers,
        body,
    }
}

/// Sends `request` as is on a new connection and reads one answer.
async fn exchange(addr: SocketAddr, request: &str) -> Raw {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    read_answer(&mut s, request.starts_with("HEAD ")).await
}

/// Whether the server closes `s` (EOF, or a reset) within [`PATIENCE`], reading and
/// discarding anything before that.
async fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut sink = Vec::new();
    timeout(PATIENCE, s.read_to_end(&mut sink)).await.is_ok()
}

/// `synedge_http_requests_total{route,status}` as scraped now.
async fn requests_total(s: &TestServer, route: &str, status: &str) -> u64 {
    let needle = format!("synedge_http_requests_total{{route=\"{route}\",status=\"{status}\"}} ");
    let m = s.admin_get("/metrics").await;
    m.text()
        .lines()
        .find_map(|l| l.strip_prefix(&needle))
        .map_or(0, |v| v.parse().unwrap())
}

#[tokio::test]
async fn http11_needs_exactly_one_valid_host_on_both_listeners() {
    let s = TestServer::start().await;
    for addr in [s.public, s.admin] {
        let host = format!("Host: {addr}\r\n");
        for (request, why) in [
            (
                "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n".to_owned(),
                "no Host",
            ),
            (
                format!("GET /healthz HTTP/1.1\r\n{host}{host}Connection: close\r\n\r\n"),
                "two Host lines",
            ),
            (
                format!(
                    "GET /healthz HTTP/1.1\r\n{host}Host: other.example\r\nConnection: close\r\n\r\n"
                ),
                "two different hosts",
            ),
            (
                "GET /healthz HTTP/1.1\r\nHost: zq zq\r\nConnection: close\r\n\r\n".to_owned(),
                "a space",
            ),
            (
                format!("GET /healthz HTTP/1.1\r\nHost: user@{addr}\r\nConnection: close\r\n\r\n"),
                "userinfo",
            ),
            (
                "GET /healthz HTTP/1.1\r\nHost: [::1\r\nConnection: close\r\n\r\n".to_owned(),
                "an unclosed IPv6 literal",
            ),
            (
                "GET /healthz HTTP/1.0\r\nHost: a b\r\n\r\n".to_owned(),
                "HTTP/1.0 with a bad Host",
            ),
        ] {
            let a = exchange(addr, &request).await;
            assert_eq!(a.status, 400, "{why} on {addr}: {a:?}");
            assert_eq!(a.error(), "invalid_host", "{why}");
            assert!(
                !String::from_utf8_lossy(&a.body).contains("zq"),
                "echoed the host"
            );
        }
        for (request, why) in [
            (
                format!("GET /healthz HTTP/1.1\r\n{host}Connection: close\r\n\r\n"),
                "host:port",
            ),
            (
                "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".to_owned(),
                "a name",
            ),
            (
                "GET /healthz HTTP/1.1\r\nHost: [::1]:9\r\nConnection: close\r\n\r\n".to_owned(),
                "IPv6",
            ),
            (
                "GET /healthz HTTP/1.0\r\n\r\n".to_owned(),
                "HTTP/1.0 without Host",
            ),
        ] {
            let a = exchange(addr, &request).await;
            assert_eq!(a.status, 200, "{why} on {addr}: {a:?}");
        }
    }
    // The public listener counts what it refused.
    assert_eq!(requests_total(&s, "healthz", "400").await, 7);
    s.stop().await;
}

#[tokio::test]
async fn http2_names_its_authority_without_a_host_header() {
    let s = TestServer::start().await;
    for addr in [s.public, s.admin] {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (mut send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
                .await
                .unwrap();
        tokio::spawn(conn);
        let req = http::Request::get(format!("http://{addr}/healthz"))
            .body(Empty::<Bytes>::new())
            .unwrap();
        assert!(req.headers().get("host").is_none());
        let res = send.send_request(req).await.unwrap();
        assert_eq!(res.version(), http::Version::HTTP_2);
        assert_eq!(res.status(), StatusCode::OK, "{addr}");
    }
    s.stop().await;
}

#[tokio::test]
async fn bodiless_answers_carry_no_content_length_not_even_for_head() {
    let s = TestServer::start().await;
    let path = acme("shop-one", "en-GB");
    let host = format!("Host: {}\r\n", s.public);
    let get = exchange(
        s.public,
        &format!("GET {path} HTTP/1.1\r\n{host}Connection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(get.status, 200);
    let etag = get.header("etag").unwrap().to_owned();
    let length = get.body.len().to_string();

    let head = exchange(
        s.public,
        &format!("HEAD {path} HTTP/1.1\r\n{host}Connection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(length.as_str()),
        "HEAD 200 says the GET's length"
    );

    for method in ["GET", "HEAD"] {
        let a = exchange(
            s.public,
            &format!(
                "{method} {path} HTTP/1.1\r\n{host}If-None-Match: {etag}\r\nConnection: close\r\n\r\n"
            ),
        )
        .await;
        assert_eq!(a.status, 304, "{method}");
        assert_eq!(a.header("content-length"), None, "{method} 304: {a:?}");
        assert_eq!(a.header("transfer-encoding"), None, "{method} 304");
        assert_eq!(a.header("etag"), Some(etag.as_str()));

        // 204 (no grant for this retailer): never a Content-Length.
        let a = exchange(
            s.public,
            &format!(
                "{method} {} HTTP/1.1\r\n{host}Connection: close\r\n\r\n",
                acme("outlet-9", "en-GB")
            ),
        )
        .await;
        assert_eq!(a.status, 204, "{method}");
        assert_eq!(a.header("content-length"), None, "{method} 204: {a:?}");

        // The loader's 304 goes the same way.
        let loader = exchange(
            s.public,
            &format!("GET /loader.js HTTP/1.1\r\n{host}Connection: close\r\n\r\n"),
        )
        .await;
        let a = exchange(
            s.public,
            &format!(
                "{method} /loader.js HTTP/1.1\r\n{host}If-None-Match: {}\r\nConnection: close\r\n\r\n",
                loader.header("etag").unwrap()
            ),
        )
        .await;
        assert_eq!(
            (a.status, a.header("content-length")),
            (304, None),
            "{method} loader"
        );
    }

    s.stop().await;
}

/// axum writes `content-length: 0` for a body of exactly known size 0, and hyper's HTTP/2
/// side passes it through even for `GET`; HTTP/1.1 drops it for `GET` only.
#[tokio::test]
async fn http2_bodiless_answers_carry_no_content_length() {
    let s = TestServer::start().await;
    let path = acme("shop-one", "en-GB");
    let etag = s.get(&path).await.header("etag").to_owned();
    let tcp = TcpStream::connect(s.public).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let no_grant = acme("outlet-9", "en-GB");
    for (method, p, inm, want) in [
        (
            "GET",
            path.as_str(),
            Some(etag.as_str()),
            StatusCode::NOT_MODIFIED,
        ),
        ("GET", no_grant.as_str(), None, StatusCode::NO_CONTENT),
        ("OPTIONS", "/v1/events", None, StatusCode::NO_CONTENT),
    ] {
        let mut b = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{p}", s.public));
        if let Some(inm) = inm {
            b = b.header("if-none-match", inm);
        }
        let res = send
            .send_request(b.body(Empty::<Bytes>::new()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), want, "{method} {p}");
        assert!(
            res.headers().get("content-length").is_none(),
            "h2 {method} {want}: {:?}",
            res.headers()
        );
        assert!(
            res.into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .is_empty()
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn purge_checks_the_token_then_the_declared_length_before_the_body_is_sent() {
    let s = TestServer::start().await;
    let host = format!("Host: {}\r\n", s.admin);
    let head = |auth: &str| {
        format!(
            "POST /admin/v1/purge HTTP/1.1\r\n{host}{auth}Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n"
        )
    };

    // No token: 401 at once, body never sent; the scheme to use is named.
    let mut c = TcpStream::connect(s.admin).await.unwrap();
    c.write_all(head("").as_bytes()).await.unwrap();
    let a = read_answer(&mut c, false).await;
    assert_eq!(a.status, 401, "{a:?}");
    assert_eq!(a.error(), "unauthorized");
    assert_eq!(a.header("www-authenticate"), Some("Bearer"));

    // A wrong token: the same.
    let mut c = TcpStream::connect(s.admin).await.unwrap();
    c.write_all(head("Authorization: Bearer not-the-token\r\n").as_bytes())
        .await
        .unwrap();
    let a = read_answer(&mut c, false).await;
    assert_eq!(
        (a.status, a.header("www-authenticate")),
        (401, Some("Bearer"))
    );

    // The token, and 2 MB declared: 413 JSON, before a byte of body, then the close.
    let mut c = TcpStream::connect(s.admin).await.unwrap();
    c.write_all(head(&format!("Authorization: Bearer {TOKEN}\r\n")).as_bytes())
        .await
        .unwrap();
    let a = read_answer(&mut c, false).await;
    assert_eq!(a.status, 413, "{a:?}");
    assert_eq!(a.error(), "payload_too_large");
    assert_eq!(a.header("connection"), Some("close"));
    assert!(closed_by_server(&mut c).await);
    s.stop().await;
}

#[tokio::test]
async fn a_chunked_purge_body_is_cut_once_it_crosses_the_limit() {
    let s = TestServer::start().await;
    let c = TcpStream::connect(s.admin).await.unwrap();
    let (mut rd, mut wr) = c.into_split();
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        let _ = timeout(PATIENCE, rd.read_to_end(&mut got)).await;
        got
    });
    let head = format!(
        "POST /admin/v1/purge HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n",
        s.admin
    );
    wr.write_all(head.as_bytes()).await.unwrap();
    // 64 KiB chunks, up to 4 MiB; the server answers after 1 MiB and stops reading.
    let chunk = format!("10000\r\n{}\r\n", " ".repeat(0x10000));
    let mut sent = 0;
    for _ in 0..64 {
        if wr.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
        sent += 0x10000;
    }
    let _ = wr.shutdown().await;
    let got = reader.await.unwrap();
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
    assert!(text.contains("content-type: application/json"), "{text}");
    assert!(text.contains("\"error\":\"payload_too_large\""), "{text}");
    assert!(sent >= 1 << 20, "sent {sent}");
    s.stop().await;
}

#[tokio::test]
async fn a_purge_body_that_stalls_gets_408_and_the_connection_closed() {
    let s = TestServer::start_with(|c| c.server.request_timeout = Duration::from_millis(300)).await;
    let mut c = TcpStream::connect(s.admin).await.unwrap();
    let req = format!(
        "POST /admin/v1/purge HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 100\r\n\r\n{{\"keys\": [",
        s.admin
    );
    c.write_all(req.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let a = read_answer(&mut c, false).await;
    assert_eq!(a.status, 408, "{a:?}");
    assert_eq!(a.error(), "body_timeout");
    assert_eq!(a.header("connection"), Some("close"));
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(
        closed_by_server(&mut c).await,
        "the connection is closed after a 408"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_bad_purge_key_is_named_by_list_and_index_and_nothing_is_purged() {
    let s = TestServer::start().await;
    let path = acme("shop-one", "en-GB");
    s.get(&path).await;
    let good = "retailer=shop-one&locale=en-GB&ean=4006381333931";
    let long = format!("{good}&_={}", "x".repeat(2048));
    let body = serde_json::json!({ "keys": [good, format!("/v1/fragment?{good}"), long] });
    let a = s
        .admin_post("/admin/v1/purge", &body.to_string(), Some(TOKEN))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let j = a.json();
    assert_eq!(
        (&j["error"], &j["index"], &j["field"]),
        (&"query_too_long".into(), &2.into(), &"keys".into()),
        "{j}"
    );
    assert!(!a.text().contains("xxxx"), "echoed the key");
    assert_eq!(
        s.get(&path).await.header("x-cache"),
        "HIT",
        "all or nothing"
    );

    for (body, field, index, code) in [
        (
            serde_json::json!({ "keys": [good, "retailer=shop-one&locale=en&ean=4006381333932"] }),
            "keys",
            1,
            "invalid_ean",
        ),
        (
            serde_json::json!({ "keys": [good], "surrogate_keys": ["brand:acme", "retailer:shop-one", "colour:red"] }),
            "surrogate_keys",
            2,
            "invalid_surrogate_key",
        ),
    ] {
        let a = s
            .admin_post("/admin/v1/purge", &body.to_string(), Some(TOKEN))
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        let j = a.json();
        assert_eq!(j["error"], code, "{j}");
        assert_eq!(
            (j["field"].as_str(), j["index"].as_u64()),
            (Some(field), Some(index)),
            "{j}"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let s = TestServer::start().await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let a = s
            .send(
                http::Request::post(format!("http://{}/admin/v1/events/pause", s.admin))
                    .header("authorization", format!("{scheme} {TOKEN}"))
                    .body(Default::default())
                    .unwrap(),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{scheme}");
    }
    for wrong in [
        format!("Basic {TOKEN}"),
        format!("Bearer{TOKEN}"),
        TOKEN.to_owned(),
    ] {
        let a = s
            .send(
                http::Request::post(format!("http://{}/admin/v1/events/resume", s.admin))
                    .header("authorization", wrong.as_str())
                    .body(Default::default())
                    .unwrap(),
            )
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{wrong}");
        assert_eq!(a.header("www-authenticate"), "Bearer");
        assert_eq!(a.json()["error"], "unauthorized");
    }
    s.stop().await;
}

/// Extractor rejections, fallbacks, 405 (also for `OPTIONS` and for `HEAD` on a POST-only
/// route), bad bodies: all JSON with their status, on both listeners.
#[tokio::test]
async fn every_error_either_listener_produces_is_json() {
    let s = TestServer::start().await;
    let big = format!("[{}]", "0,".repeat(40_000));
    // "<listener> <method> <target>", body, status, code (for 404 and 405: theirs).
    let cases: &[(&str, &str, u16, &str)] = &[
        ("public GET /nope", "", 404, ""),
        ("public OPTIONS *", "", 404, ""),
        ("public POST /v1/fragment", "", 405, ""),
        ("public OPTIONS /v1/fragment", "", 405, ""),
        ("public DELETE /loader.js", "", 405, ""),
        ("public PUT /healthz", "", 405, ""),
        ("public GET /v1/events", "", 405, ""),
        ("public HEAD /v1/events", "", 405, ""),
        ("public POST /v1/events", "not json", 400, "invalid_body"),
        ("public POST /v1/events", &big, 413, "payload_too_large"),
        ("admin GET /nope", "", 404, ""),
        ("admin GET /admin/v1/purge", "", 405, ""),
        ("admin HEAD /admin/v1/purge", "", 405, ""),
        ("admin OPTIONS /metrics", "", 405, ""),
        ("admin DELETE /admin/v1/stats", "", 405, ""),
        (
            "admin POST /admin/v1/purge",
            "not json",
            400,
            "invalid_body",
        ),
        ("admin POST /admin/v1/purge", "{}", 400, "invalid_body"),
        (
            "admin GET /admin/v1/signals?window=0",
            "",
            400,
            "invalid_window",
        ),
        ("admin GET /admin/v1/stats?from=May", "", 400, ""),
    ];
    for &(what, body, status, code) in cases {
        let (listener, line) = what.split_once(' ').unwrap();
        let addr = if listener == "public" {
            s.public
        } else {
            s.admin
        };
        let req = format!(
            "{line} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let a = exchange(addr, &req).await;
        assert_eq!(a.status, status, "{what}: {a:?}");
        assert_eq!(a.header("content-type"), Some("application/json"), "{what}");
        let code = match status {
            404 => "not_found",
            405 => "method_not_allowed",
            _ => code,
        };
        if line.starts_with("HEAD ") {
            assert!(a.body.is_empty(), "{what}");
        } else if code.is_empty() {
            a.error();
        } else {
            assert_eq!(a.error(), code, "{what}");
        }
        if status == 405 {
            assert!(
                a.header("allow").is_some(),
                "{what}: 405 names the methods it takes"
            );
        }
    }
    s.stop().await;
}
