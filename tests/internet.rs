//! The public (and admin) listener against clients of the open internet, tried with raw
//! sockets against the real binary: silent sockets, idle keep-alive, HTTP/2 without a
//! stream, a host filling `max_connections` with silent sockets.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::process::{Server, http_get, spawn_serve};

/// `synedge serve` with these `section.key=value` settings.
fn serve(dir: &std::path::Path, settings: &[&str]) -> (Server, String, String) {
    let mut args = Vec::new();
    for s in settings {
        args.extend(["--set", s]);
    }
    spawn_serve(dir, &args)
}

/// Reads until the peer closes (or `limit` passes, which fails the test); returns what
/// was read and how long after `since` the close came.
fn read_until_closed(s: &mut TcpStream, since: Instant, limit: Duration) -> (Vec<u8>, Duration) {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, since.elapsed()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (got, since.elapsed());
            }
            Err(e) => panic!("still open after {:?} ({e})", since.elapsed()),
        }
    }
}

/// The status and head of the first answer in `got`, once it is all there (its body as
/// long as its `Content-Length`).
fn complete_answer(got: &[u8]) -> Option<(u16, String)> {
    let end = got.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&got[..end]).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .unwrap_or(0);
    (got.len() >= end + 4 + len).then(|| (head[9..12].parse().unwrap(), head))
}

/// One keep-alive `GET` on `s`; its head, once the whole answer is read.
fn keep_alive_get(s: &mut TcpStream, path: &str) -> String {
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed before answering");
        got.extend_from_slice(&buf[..n]);
        if let Some((_, head)) = complete_answer(&got) {
            return head;
        }
    }
}

/// The HTTP/2 frame types in `bytes` (9-byte frame headers, RFC 9113 §4.1).
fn h2_frame_types(mut bytes: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    while bytes.len() >= 9 {
        let len = usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
        types.push(bytes[3]);
        bytes = &bytes[(9 + len).min(bytes.len())..];
    }
    types
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame.
const H2_SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];
const GOAWAY: u8 = 7;

#[test]
fn silent_connections_are_closed_header_read_timeout_after_accept_on_both_listeners() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, public, admin) = serve(
        dir.path(),
        &[
            "server.header_read_timeout=1s",
            "server.keep_alive_timeout=30s",
        ],
    );
    let h2 = [H2_PREFACE, H2_SETTINGS].concat();
    let cases: Vec<(&str, &str, &[u8])> = vec![
        ("public, nothing sent", &public, b""),
        ("admin, nothing sent", &admin, b""),
        (
            "public, half a head",
            &public,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
        ),
        ("public, h2 preface + SETTINGS, no stream", &public, &h2),
        ("admin, h2 preface + SETTINGS, no stream", &admin, &h2),
    ];
    let threads: Vec<_> = cases
        .into_iter()
        .map(|(what, addr, send)| {
            let (addr, send) = (addr.to_owned(), send.to_vec());
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut s = TcpStream::connect(&addr).unwrap();
                s.write_all(&send).unwrap();
                let (got, after) = read_until_closed(&mut s, started, Duration::from_secs(10));
                (what, send, got, after)
            })
        })
        .collect();
    for t in threads {
        let (what, send, got, after) = t.join().unwrap();
        assert!(
            after >= Duration::from_millis(900) && after < Duration::from_millis(2500),
            "{what}: closed after {after:?}, not about 1 s"
        );
        if send.starts_with(H2_PREFACE) {
            assert!(
                h2_frame_types(&got).contains(&GOAWAY),
                "{what}: no GOAWAY in {got:?}"
            );
        } else {
            assert!(
                got.is_empty(),
                "{what}: answered {:?}",
                String::from_utf8_lossy(&got)
            );
        }
    }
}

#[test]
fn idle_keep_alive_lasts_keep_alive_timeout_and_a_new_head_header_read_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, public, admin) = serve(
        dir.path(),
        &[
            "server.header_read_timeout=1s",
            "server.keep_alive_timeout=3s",
        ],
    );
    for addr in [&public, &admin] {
        // Idle after a response: open past header_read_timeout, closed at keep_alive_timeout.
        let mut s = TcpStream::connect(addr).unwrap();
        assert!(keep_alive_get(&mut s, "/healthz").starts_with("HTTP/1.1 200"));
        let idle = Instant::now();
        std::thread::sleep(Duration::from_millis(1800));
        assert!(
            keep_alive_get(&mut s, "/healthz").starts_with("HTTP/1.1 200"),
            "closed early"
        );
        let idle_again = Instant::now();
        let (_, after) = read_until_closed(&mut s, idle_again, Duration::from_secs(10));
        assert!(
            after >= Duration::from_millis(2800) && after < Duration::from_millis(4500),
            "{addr}: idle keep-alive closed after {after:?}, not about 3 s"
        );
        assert!(idle.elapsed() > Duration::from_secs(4));
    }
    // A head started on a kept-alive connection gets header_read_timeout from its first byte.
    let mut s = TcpStream::connect(&public).unwrap();
    keep_alive_get(&mut s, "/healthz");
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    s.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
    let (got, after) = read_until_closed(&mut s, started, Duration::from_secs(10));
    assert!(got.is_empty());
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_millis(2000),
        "a dribbled head was cut after {after:?}, not about 1 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_http2_connection_gets_a_goaway_after_keep_alive_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, public, _admin) = serve(
        dir.path(),
        &[
            "server.header_read_timeout=1s",
            "server.keep_alive_timeout=3s",
        ],
    );
    let tcp = tokio::net::TcpStream::connect(&public).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    let conn = tokio::spawn(conn);
    // Two streams, 1.5 s apart: the connection outlives header_read_timeout while used.
    for _ in 0..2 {
        let req = http::Request::get(format!("http://{public}/healthz"))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        let res = send.send_request(req).await.unwrap();
        assert_eq!(res.status(), 200);
        http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    let idle = Instant::now() - Duration::from_millis(1500);
    // Then nothing: the server ends the connection (GOAWAY, close) about 3 s after the last stream.
    tokio::time::timeout(Duration::from_secs(10), conn)
        .await
        .expect("the idle HTTP/2 connection stayed open")
        .unwrap()
        .ok();
    let after = idle.elapsed();
    assert!(
        after >= Duration::from_millis(2800) && after < Duration::from_millis(4500),
        "closed {after:?} after the last stream, not about 3 s"
    );
}

#[test]
fn silent_sockets_up_to_max_connections_do_not_lock_out_real_clients() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, public, admin) = serve(
        dir.path(),
        &["server.header_read_timeout=2s", "server.max_connections=20"],
    );
    for addr in [&public, &admin] {
        // One host takes every slot with sockets that say nothing…
        let silent: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(addr).unwrap()).collect();
        std::thread::sleep(Duration::from_millis(100));
        // …and a real client is still answered once they are cut, within 2 s + 1 s.
        let started = Instant::now();
        let (status, _) = http_get(addr, "/healthz");
        let took = started.elapsed();
        assert_eq!(status, 200);
        assert!(
            took < Duration::from_secs(3),
            "{addr}: /healthz took {took:?}"
        );
        drop(silent);
    }
}

/// One `GET` on an open keep-alive connection: its status, and how long until the whole
/// answer was read.
async fn ask(s: &mut tokio::net::TcpStream, path: &str) -> (u16, Duration) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let started = Instant::now();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before answering");
        got.extend_from_slice(&buf[..n]);
        if let Some((status, _)) = complete_answer(&got) {
            return (status, started.elapsed());
        }
    }
}

/// `clients` keep-alive connections, each accepted and used once (so the herd below
/// measures the cache, not connection set-up), then all asking at once, client `i` for
/// `path(i)`. Returns each answer's status and latency, sorted by latency.
async fn herd(
    public: &str,
    clients: usize,
    path: impl Fn(usize) -> String,
) -> Vec<(u16, Duration)> {
    let mut conns = Vec::new();
    for _ in 0..clients {
        let mut s = tokio::net::TcpStream::connect(public).await.unwrap();
        s.set_nodelay(true).unwrap();
        assert_eq!(ask(&mut s, "/healthz").await.0, 200);
        conns.push(s);
    }
    let go = std::sync::Arc::new(tokio::sync::Barrier::new(clients));
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, mut s)| {
            let (go, path) = (go.clone(), path(i));
            tokio::spawn(async move {
                go.wait().await;
                ask(&mut s, &path).await
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out.sort_by_key(|a| a.1);
    out
}

fn p99(answers: &[(u16, Duration)]) -> Duration {
    answers[(answers.len() * 99).div_ceil(100) - 1].1
}

fn statuses(answers: &[(u16, Duration)]) -> Vec<(u16, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for (s, _) in answers {
        *counts.entry(*s).or_insert(0) += 1;
    }
    counts.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_herd_costs_one_origin_fetch_and_no_client_is_shed() {
    use common::upstream::{SLOW, Upstream, serve_over};
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start(SLOW).await;
    upstream.slow_ms(100);
    let (_server, public, _admin) = serve_over(dir.path(), &upstream, &[]);
    let path = |i: usize| {
        format!(
            "/v1/fragment?retailer=shop-one&locale=en-GB&ean={}",
            synedge::catalog::seed::ean13(i + 1)
        )
    };
    // A product launch: 2,000 browsers at once on one key nobody asked for before.
    let one = herd(&public, 2000, |_| path(0)).await;
    // Latency is printed, not bounded: this is a debug build on a shared machine, and
    // loadtest/herd.sh measures the release build beside nginx.
    let p99_one = p99(&one);
    eprintln!(
        "herd, 1 key x 2000: {:?}, p99 {p99_one:?}, origin fetches {}",
        statuses(&one),
        upstream.requests()
    );
    assert_eq!(statuses(&one), [(200, 2000)]);
    assert_eq!(
        upstream.requests(),
        1,
        "one origin fetch for the whole herd"
    );
    // A newsletter: 50 new keys, 40 browsers each (all 2,000 at once: over the miss
    // limit, were each waiter admitted as a miss of its own).
    let many = herd(&public, 2000, |i| path(1 + i % 50)).await;
    let p99_many = p99(&many);
    eprintln!(
        "herd, 50 keys x 40: {:?}, p99 {p99_many:?}, origin fetches {}",
        statuses(&many),
        upstream.requests() - 1
    );
    assert_eq!(statuses(&many), [(200, 2000)]);
    assert_eq!(upstream.requests(), 51, "one origin fetch per key");
}

/// Writes `head` (and `body`) on a new connection to `addr`.
fn send_raw(addr: &str, head: &str, body: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    s
}

const BEACON_HEAD: &str = "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n";

#[test]
fn request_bodies_are_bounded_in_time_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, public, admin) = serve(dir.path(), &["server.body_read_timeout=1s"]);
    // A body dripped, then stalled: 408 JSON once a read waits 1 s, and the connection closes.
    let started = Instant::now();
    let mut s = send_raw(
        &public,
        &format!("{BEACON_HEAD}Content-Length: 100\r\n\r\n"),
        b"[",
    );
    std::thread::sleep(Duration::from_millis(600));
    s.write_all(b"{").unwrap();
    let (got, after) = read_until_closed(&mut s, started, Duration::from_secs(10));
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        text.contains("application/json") && text.contains("\"error\":\"body_timeout\""),
        "{text}"
    );
    assert!(
        after >= Duration::from_millis(1500) && after < Duration::from_millis(3000),
        "408 after {after:?}: not 1 s after the last read"
    );
    // A declared length over the route's limit: 413 at once, nothing read.
    for (addr, head) in [
        (
            &public,
            format!("{BEACON_HEAD}Content-Length: 70000\r\n\r\n"),
        ),
        (
            &public,
            "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n".to_owned(),
        ),
        (
            &admin,
            "POST /admin/v1/purge HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n"
                .to_owned(),
        ),
    ] {
        let started = Instant::now();
        let mut s = send_raw(addr, &head, b"");
        let (got, after) = read_until_closed(&mut s, started, Duration::from_secs(10));
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 413"), "{head}: {text}");
        assert!(text.contains("\"error\":\"payload_too_large\""), "{text}");
        assert!(
            after < Duration::from_millis(500),
            "{head}: 413 after {after:?}"
        );
    }
    // A chunked body: 413 as soon as it crosses 64 KiB, while more is still coming.
    let mut s = send_raw(
        &public,
        &format!("{BEACON_HEAD}Transfer-Encoding: chunked\r\n\r\n"),
        b"",
    );
    let chunk = format!("4000\r\n{}\r\n", "x".repeat(0x4000));
    for _ in 0..5 {
        s.write_all(chunk.as_bytes()).unwrap();
    }
    let (got, _) = read_until_closed(&mut s, Instant::now(), Duration::from_secs(10));
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 413"));
    // Every refusal is counted with its status, and none as a server error.
    let (_, metrics) = http_get(&admin, "/metrics");
    for series in [
        "synedge_http_requests_total{route=\"events\",status=\"408\"} 1",
        "synedge_http_requests_total{route=\"events\",status=\"413\"} 2",
        "synedge_http_requests_total{route=\"healthz\",status=\"413\"} 1",
        "synedge_events_rejected_total{reason=\"too_large\"} 2",
    ] {
        assert!(metrics.contains(series), "no {series} in\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_holding_bodies_take_no_permit_from_cache_misses() {
    use common::upstream::{OK, Upstream, serve_over};
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start(OK).await;
    let (_server, public, _admin) =
        serve_over(dir.path(), &upstream, &["server.body_read_timeout=20s"]);
    // 200 HTTP/1.1 connections, each with a beacon body begun and stalled…
    let held: Vec<TcpStream> = (0..200)
        .map(|_| {
            send_raw(
                &public,
                &format!("{BEACON_HEAD}Content-Length: 100\r\n\r\n"),
                b"[",
            )
        })
        .collect();
    // …and one HTTP/2 connection with 200 such streams.
    let tcp = tokio::net::TcpStream::connect(&public).await.unwrap();
    let (mut h2, conn) =
        hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .max_concurrent_reset_streams(1000)
            .handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let mut streams = Vec::new();
    for _ in 0..200 {
        use futures_util::StreamExt as _;
        let stalled = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(
            http_body::Frame::data(bytes::Bytes::from_static(b"[")),
        )])
        .chain(futures_util::stream::pending());
        let req = http::Request::post(format!("http://{public}/v1/events"))
            .header("content-length", "100")
            .body(http_body_util::StreamBody::new(stalled))
            .unwrap();
        h2.ready().await.unwrap();
        streams.push(h2.send_request(req));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Meanwhile 300 cold keys, 50 at a time: every one is fetched and answered.
    let mut codes = std::collections::BTreeMap::new();
    for wave in 0..6 {
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let public = public.clone();
                tokio::task::spawn_blocking(move || {
                    let ean = synedge::catalog::seed::ean13(1 + wave * 50 + i);
                    http_get(
                        &public,
                        &format!("/v1/fragment?retailer=shop-one&locale=en-GB&ean={ean}"),
                    )
                    .0
                })
            })
            .collect();
        for t in tasks {
            *codes.entry(t.await.unwrap()).or_insert(0) += 1;
        }
    }
    assert_eq!(codes.into_iter().collect::<Vec<_>>(), [(200, 300)]);
    drop((held, streams));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_body_clients_do_not_steer_the_scaler() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, public, admin) = serve(
        dir.path(),
        &[
            "server.body_read_timeout=1s",
            "scaler.enabled=true",
            "scaler.interval=1s",
            "scaler.min_instances=2",
            "scaler.latency_slo=100ms",
        ],
    );
    let metric = |name: &str| -> f64 {
        let (_, text) = http_get(&admin, "/metrics");
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {name}"))
    };
    // 50 clients for 30 s, each dripping a beacon body and starting again after its 408.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..50)
        .map(|_| {
            let (public, stop) = (public.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut answered = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let mut s = send_raw(
                        &public,
                        &format!("{BEACON_HEAD}Content-Length: 100\r\n\r\n"),
                        b"[",
                    );
                    let (got, _) =
                        read_until_closed(&mut s, Instant::now(), Duration::from_secs(10));
                    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 408"));
                    answered += 1;
                }
                answered
            })
        })
        .collect();
    let mut desired = Vec::new();
    for _ in 0..30 {
        // Some ordinary traffic beside them.
        for _ in 0..20 {
            assert_eq!(http_get(&public, "/healthz").0, 200);
            http_get(
                &public,
                "/v1/fragment?retailer=shop-one&locale=en-GB&ean=4006381333931",
            );
        }
        std::thread::sleep(Duration::from_millis(1000));
        desired.push(metric("synedge_scaler_desired_instances"));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let timed_out: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    let (_, signals) = http_get(&admin, "/admin/v1/signals");
    let signals: serde_json::Value = serde_json::from_str(&signals).unwrap();
    eprintln!(
        "slow bodies: {timed_out} answered 408; desired instances {desired:?}; signals {signals}"
    );
    assert!(timed_out >= 50 * 20, "{timed_out} 408s");
    assert!(
        desired.iter().all(|&d| d == 2.0),
        "the scaler moved: {desired:?}"
    );
    assert!(signals["p99_ms"].as_f64().unwrap() < 100.0, "{signals}");
    assert_eq!(signals["error_rate"].as_f64().unwrap(), 0.0, "{signals}");
    assert!(metric("synedge_http_requests_total{route=\"events\",status=\"408\"}") >= 1000.0);
}
