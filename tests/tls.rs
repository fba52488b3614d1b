//! HTTPS on the public listener, with certificates made here: HTTP/2 and HTTP/1.1 by
//! ALPN, a certificate reload that new connections see and open ones survive, a clear
//! refusal to start with a missing or mismatched key, SIGHUP, and the health probe.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::TestServer;
use common::process::{SERVE_ON_FREE_PORTS, start_serve, synedge};
use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

const FRAGMENT: &str = "/v1/fragment?retailer=shop-one&locale=en-GB&ean=4006381333931";

/// A self-signed certificate for `localhost` and its key, as PEM, plus the DER a client
/// trusts.
struct Pair {
    cert: String,
    key: String,
    der: CertificateDer<'static>,
}

fn pair() -> Pair {
    let c =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    Pair {
        cert: c.cert.pem(),
        key: c.signing_key.serialize_pem(),
        der: c.cert.der().clone(),
    }
}

/// Writes the pair where the server reads it, each file replaced in one rename (as a
/// Kubernetes secret update or cert-manager does).
fn install(dir: &Path, cert: &str, key: &str) -> (PathBuf, PathBuf) {
    let put = |name: &str, pem: &str| {
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, pem).unwrap();
        std::fs::rename(&tmp, dir.join(name)).unwrap();
        dir.join(name)
    };
    (put("tls.crt", cert), put("tls.key", key))
}

/// A TLS connection to `addr` from a client that trusts only `trusted` and offers `alpn`.
async fn connect(
    addr: &str,
    trusted: &CertificateDer<'static>,
    alpn: &[&[u8]],
    tls12_only: bool,
) -> std::io::Result<TlsStream<TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider);
    let builder = if tls12_only {
        builder.with_protocol_versions(&[&rustls::version::TLS12])
    } else {
        builder.with_safe_default_protocol_versions()
    };
    let mut config = builder
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(addr).await?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

/// An HTTP/2 client over an established TLS connection.
async fn h2(tls: TlsStream<TcpStream>) -> hyper::client::conn::http2::SendRequest<Empty<Bytes>> {
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    send
}

/// An answer's status, HTTP version and whole body.
async fn read(res: http::Response<hyper::body::Incoming>) -> (StatusCode, Version, Bytes) {
    let (status, version) = (res.status(), res.version());
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, version, body)
}

async fn h2_get(
    send: &mut hyper::client::conn::http2::SendRequest<Empty<Bytes>>,
    path: &str,
) -> (StatusCode, Version, Bytes) {
    send.ready().await.unwrap();
    let req = Request::get(format!("https://localhost{path}"))
        .body(Empty::new())
        .unwrap();
    read(send.send_request(req).await.unwrap()).await
}

async fn h1_get(tls: TlsStream<TcpStream>, path: &str) -> (StatusCode, Version, Bytes) {
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::get(path)
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
    read(send.send_request(req).await.unwrap()).await
}

async fn https_server(dir: &Path, p: &Pair) -> TestServer {
    let (cert, key) = install(dir, &p.cert, &p.key);
    TestServer::start_with(|c| {
        c.tls.cert = Some(cert);
        c.tls.key = Some(key);
    })
    .await
}

#[tokio::test]
async fn https_answers_http2_and_http1_by_alpn() {
    let dir = tempfile::tempdir().unwrap();
    let a = pair();
    let s = https_server(dir.path(), &a).await;
    let addr = s.public.to_string();

    let tls = connect(&addr, &a.der, &[b"h2", b"http/1.1"], false)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(
        tls.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    let mut send = h2(tls).await;
    let (status, version, body) = h2_get(&mut send, FRAGMENT).await;
    assert_eq!((status, version), (StatusCode::OK, Version::HTTP_2));
    assert!(String::from_utf8_lossy(&body).contains("Acme X-100"));
    // Several requests multiplexed on the one connection.
    let (status, ..) = h2_get(&mut send, "/healthz").await;
    assert_eq!(status, StatusCode::OK);

    for alpn in [&[&b"http/1.1"[..]][..], &[]] {
        let tls = connect(&addr, &a.der, alpn, false).await.unwrap();
        assert_ne!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let (status, version, body) = h1_get(tls, FRAGMENT).await;
        assert_eq!((status, version), (StatusCode::OK, Version::HTTP_11));
        assert!(String::from_utf8_lossy(&body).contains("Acme X-100"));
    }

    // TLS 1.2 clients are still served.
    let tls = connect(&addr, &a.der, &[b"h2"], true).await.unwrap();
    assert_eq!(
        tls.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    let (status, ..) = h2_get(&mut h2(tls).await, FRAGMENT).await;
    assert_eq!(status, StatusCode::OK);

    // Plain HTTP on the HTTPS port gets no answer, let alone content.
    let mut plain = TcpStream::connect(&addr).await.unwrap();
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    plain
        .write_all(format!("GET {FRAGMENT} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut got)).await;
    assert!(!got.starts_with(b"HTTP/1.1 200"), "{got:?}");
}

#[tokio::test]
async fn a_new_certificate_is_served_to_new_connections_and_open_ones_carry_on() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (pair(), pair());
    let s = https_server(dir.path(), &a).await;
    let addr = s.public.to_string();
    let mut open = h2(connect(&addr, &a.der, &[b"h2"], false).await.unwrap()).await;
    assert_eq!(h2_get(&mut open, FRAGMENT).await.0, StatusCode::OK);

    install(dir.path(), &b.cert, &b.key);
    let deadline = Instant::now() + Duration::from_secs(15);
    while connect(&addr, &b.der, &[b"h2"], false).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the new certificate was not served within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let old = connect(&addr, &a.der, &[b"h2"], false).await;
    assert!(old.is_err(), "the old certificate is still served");
    // The connection opened before the swap keeps its session.
    assert_eq!(h2_get(&mut open, FRAGMENT).await.0, StatusCode::OK);
    let metrics = s.admin_get("/metrics").await;
    assert!(
        metrics
            .text()
            .contains("synedge_tls_reloads_total{result=\"ok\"} 1"),
        "{}",
        metrics.text()
    );

    // A certificate whose key is another's is refused; b stays in service.
    let c = pair();
    install(dir.path(), &c.cert, &b.key);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !s
        .admin_get("/metrics")
        .await
        .text()
        .contains("synedge_tls_reloads_total{result=\"error\"} 1")
    {
        assert!(
            Instant::now() < deadline,
            "the mismatched pair was not noticed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let tls = connect(&addr, &b.der, &[b"h2"], false).await.unwrap();
    assert_eq!(h2_get(&mut h2(tls).await, FRAGMENT).await.0, StatusCode::OK);
}

/// The TLS files as `--set` flags.
fn with_tls(cert: &Path, key: &Path) -> Vec<String> {
    vec![
        "--set".into(),
        format!("tls.cert={}", cert.display()),
        "--set".into(),
        format!("tls.key={}", key.display()),
    ]
}

#[test]
fn serve_refuses_a_missing_or_mismatched_key_before_binding() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (pair(), pair());
    let (cert, key) = install(dir.path(), &a.cert, &b.key);
    let missing = dir.path().join("nope.key");
    let not_pem = dir.path().join("garbage.key");
    std::fs::write(&not_pem, "hello").unwrap();
    for (key, says) in [
        (&missing, "tls.key"),
        (&key, "the key does not belong to the certificate"),
        (&not_pem, "no PEM private key"),
    ] {
        let out = synedge(dir.path())
            .args(with_tls(&cert, key))
            .args(SERVE_ON_FREE_PORTS)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // The README: "stops `serve` before anything is bound, with a sentence naming the
        // setting and the file (exit 1)"; one sentence, the cause not repeated after it.
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        let sentence = stderr.lines().find(|l| l.starts_with("synedge: ")).unwrap();
        assert!(sentence.contains(&key.display().to_string()), "{sentence}");
        if key == &missing {
            let cause = std::fs::read(&missing).unwrap_err().to_string();
            assert_eq!(sentence.matches(&cause).count(), 1, "{sentence}");
        }
        assert!(
            !stderr.contains("listening"),
            "bound before refusing: {stderr}"
        );
    }
    // Only one of the two set: a configuration error naming both keys.
    let out = synedge(dir.path())
        .args([
            "--set",
            &format!("tls.cert={}", cert.display()),
            "check-config",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("set both tls.cert and tls.key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_and_the_health_probe_speaks_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (pair(), pair());
    let (cert, key) = install(dir.path(), &a.cert, &a.key);
    let flags = with_tls(&cert, &key);
    let mut args: Vec<&str> = flags.iter().map(String::as_str).collect();
    args.push("--demo");
    let (mut server, public, _admin, log) = start_serve(dir.path(), &args);

    // The probe of the container image: exit 0 once /readyz answers 200 over TLS.
    let probe = |tls: bool| {
        let mut cmd = synedge(dir.path());
        if tls {
            cmd.args(&flags);
        }
        cmd.args(["healthcheck", "--addr", &public])
            .output()
            .unwrap()
            .status
            .success()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !probe(true) {
        assert!(Instant::now() < deadline, "never ready over HTTPS");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!probe(false), "a plain-HTTP probe passed on the HTTPS port");

    let pid = server.0.id().to_string();
    let hangup = || {
        let ok = std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    };
    let await_line = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = log
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no log line with {what:?} within 15 s"));
            if line.contains(what) {
                return line;
            }
        }
    };
    // SIGHUP reloads even when the files look unchanged, and does not stop the server.
    hangup();
    let line = await_line("reloaded the TLS certificate");
    assert!(line.contains("SIGHUP"), "{line}");
    assert!(
        server.0.try_wait().unwrap().is_none(),
        "SIGHUP stopped the server"
    );

    install(dir.path(), &b.cert, &b.key);
    hangup();
    await_line("reloaded the TLS certificate");
    let tls = connect(&public, &b.der, &[b"h2"], false).await.unwrap();
    assert_eq!(
        h2_get(&mut h2(tls).await, "/healthz").await.0,
        StatusCode::OK
    );
    assert!(probe(true));

    server.sigterm();
    assert!(server.wait().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_after_the_handshake_is_closed_at_header_read_timeout() {
    use tokio::io::AsyncReadExt as _;
    let dir = tempfile::tempdir().unwrap();
    let p = pair();
    let (cert, key) = install(dir.path(), &p.cert, &p.key);
    let (mut server, public, _admin, _log) = start_serve(
        dir.path(),
        &[
            &with_tls(&cert, &key)[..],
            &["--set".into(), "server.header_read_timeout=1s".into()],
        ]
        .concat()
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    );
    for alpn in [&b"h2"[..], b"http/1.1"] {
        let started = Instant::now();
        // The handshake completes; then the client says nothing.
        let mut tls = connect(&public, &p.der, &[alpn], false).await.unwrap();
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut buf)).await;
        let after = started.elapsed();
        assert!(read.is_ok(), "still open after {after:?}");
        assert!(
            after >= Duration::from_millis(900) && after < Duration::from_millis(2500),
            "{}: closed after {after:?}, not about 1 s",
            String::from_utf8_lossy(alpn)
        );
    }
    server.sigterm();
    assert!(server.wait().success());
}
