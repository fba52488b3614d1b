//! The actuators against real things: a local HTTP(S) server on 127.0.0.1 port 0 for the
//! webhook, real processes for the command actuator, and for Kubernetes a local server
//! that checks each request the way the API server would (method, path, content type,
//! bearer token, body) and answers with `autoscaling/v1` Scale and `v1` Status objects.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use synedge::config::{ActuatorConfig, ActuatorKind, Secret};
use synedge::scaler::actuator::{self, ActuatorError, ScaleRequest};
use tokio::net::TcpListener;

/// A test CA (P-256, valid until 2126) that signed [`SERVER_CERT`].
const CA_PEM: &str = "\
-----BEGIN CERTIFICATE-----
MIIBmjCCAUGgAwIBAgIUEJxc8Ucte0gx5ImIwwVxbitB1iMwCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPc3luZWRnZSB0ZXN0IENBMCAXDTI2MTEyMzE0MDI0OFoYDzIx
MjYxMDMwMTQwMjQ4WjAaMRgwFgYDVQQDDA9zeW5lZGdlIHRlc3QgQ0EwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAAQVZ/RMHah5rHJdDVplSkmWkepVNZSjNIeIjTsb
E9VRlmbrnRHLbz4jn9xzihmM1YcxeJRwRALO9qCmU3hIX41do2MwYTAdBgNVHQ4E
FgQUVcZucVtlHDObRlv/aF1l0bI/m9gwHwYDVR0jBBgwFoAUVcZucVtlHDObRlv/
aF1l0bI/m9gwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwCgYIKoZI
zj0EAwIDRwAwRAIgUsqa+LWNkxd76cgVHsOKlFm2Hfwdk1WODj5qVWzmsdACIFRH
b9C0OsHmos12DJgtFGtYiusYDQHKrOJ9l3M+vQGK
-----END CERTIFICATE-----
";
/// `CN=localhost`, SAN `DNS:localhost, IP:127.0.0.1`, signed by [`CA_PEM`].
const SERVER_CERT: &str = "\
-----BEGIN CERTIFICATE-----
MIIBxTCCAWugAwIBAgIUcrycxJvBR/AvyoITtQEouXNSaXcwCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPc3luZWRnZSB0ZXN0IENBMCAXDTI2MTEyMzE0MDI0OFoYDzIx
MjYxMDMwMTQwMjQ4WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAATjPeEzEUAfNyFFFJ6LfZ4oxptcOYwSbeVXYQHlq22glC0M
YRFprMqfuUUb/ayfXNSjh2xzQ2oXfS84fxV9yX/5o4GSMIGPMAwGA1UdEwEB/wQC
MAAwDgYDVR0PAQH/BAQDAgeAMBMGA1UdJQQMMAoGCCsGAQUFBwMBMBoGA1UdEQQT
MBGCCWxvY2FsaG9zdIcEfwAAATAdBgNVHQ4EFgQU5fQHmehXIwpZeP1Dehwt0tjX
HrIwHwYDVR0jBBgwFoAUVcZucVtlHDObRlv/aF1l0bI/m9gwCgYIKoZIzj0EAwID
SAAwRQIgIQfhBmtS//WPxK35ZDLSQxIYY83zmMwMgCRfP6zXIqQCIQCXJavD5Ls3
4hVgdNqxwT0LlQ5vg8MpMwa5D/zNIegY4g==
-----END CERTIFICATE-----
";
const SERVER_KEY: &str = "\
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgH0bHZcyENdTepNwm
3j3PUShUonxRWviHv/t0LxmhAj+hRANCAATjPeEzEUAfNyFFFJ6LfZ4oxptcOYwS
beVXYQHlq22glC0MYRFprMqfuUUb/ayfXNSjh2xzQ2oXfS84fxV9yX/5
-----END PRIVATE KEY-----
";

// ---------------------------------------------------------------------------------------
// A recording HTTP server

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

type Handler = Arc<dyn Fn(&Seen) -> (StatusCode, String) + Send + Sync>;

/// An HTTP/1.1 server on 127.0.0.1 port 0 that records every request and answers with
/// `handler`; over TLS with [`SERVER_CERT`] when `tls` is set. Lives until the test ends.
async fn serve(tls: bool, handler: Handler) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let acceptor = tls.then(tls_acceptor);
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (handler, log, acceptor) = (handler.clone(), log.clone(), acceptor.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let (handler, log) = (handler.clone(), log.clone());
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let seen = Seen {
                            method: parts.method,
                            path: parts.uri.to_string(),
                            headers: parts.headers,
                            body,
                        };
                        let (status, answer) = handler(&seen);
                        log.lock().expect("lock").push(seen);
                        let resp = Response::builder()
                            .status(status)
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from(answer)))
                            .expect("response");
                        Ok::<_, Infallible>(resp)
                    }
                });
                match acceptor {
                    None => {
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(tcp), service)
                            .await;
                    }
                    Some(acceptor) => {
                        if let Ok(tls) = acceptor.accept(tcp).await {
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(tls), service)
                                .await;
                        }
                    }
                }
            });
        }
    });
    (addr, seen)
}

fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    let certs = CertificateDer::pem_slice_iter(SERVER_CERT.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("server cert");
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY.as_bytes()).expect("server key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

fn request(desired: u32, current: u32) -> ScaleRequest {
    ScaleRequest {
        desired,
        current,
        reason: "p99 over the latency SLO".to_owned(),
        signals: json!({"rps": 1234.5, "p99_ms": 310}),
    }
}

fn config(kind: ActuatorKind) -> ActuatorConfig {
    ActuatorConfig {
        kind,
        timeout: Duration::from_secs(5),
        ..ActuatorConfig::default()
    }
}

fn build_error(cfg: &ActuatorConfig) -> String {
    match actuator::build(cfg) {
        Ok(a) => panic!("expected a build error, got {a:?}"),
        Err(e) => format!("{e:#}"),
    }
}

// ---------------------------------------------------------------------------------------
// log

#[tokio::test]
async fn log_actuator_is_a_dry_run() {
    let a = actuator::build(&ActuatorConfig::default()).expect("build");
    assert_eq!(a.name(), "log");
    assert_eq!(a.current().await.expect("current"), None);
    a.apply(&request(5, 3)).await.expect("apply");
}

// ---------------------------------------------------------------------------------------
// webhook

#[tokio::test]
async fn webhook_posts_the_request_as_json_with_the_bearer_token() {
    let (addr, seen) = serve(
        false,
        Arc::new(|_: &Seen| (StatusCode::NO_CONTENT, String::new())),
    )
    .await;
    let mut cfg = config(ActuatorKind::Webhook);
    cfg.url = Some(format!("http://{addr}/hooks/scale?source=synedge"));
    cfg.token = Some(Secret::new("hook-secret"));
    let a = actuator::build(&cfg).expect("build");
    assert_eq!(a.name(), "webhook");
    assert_eq!(a.current().await.expect("current"), None);

    a.apply(&request(7, 4)).await.expect("apply");

    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.method, Method::POST);
    assert_eq!(r.path, "/hooks/scale?source=synedge");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("authorization"), Some("Bearer hook-secret"));
    assert_eq!(r.header("host"), Some(addr.to_string().as_str()));
    let body: Value = serde_json::from_slice(&r.body).expect("JSON body");
    assert_eq!(
        body,
        json!({
            "desired": 7,
            "current": 4,
            "reason": "p99 over the latency SLO",
            "signals": {"rps": 1234.5, "p99_ms": 310},
        })
    );
}

#[tokio::test]
async fn webhook_without_token_sends_no_authorization() {
    let (addr, seen) = serve(
        false,
        Arc::new(|_: &Seen| (StatusCode::OK, "{}".to_owned())),
    )
    .await;
    let mut cfg = config(ActuatorKind::Webhook);
    cfg.url = Some(format!("http://{addr}/"));
    actuator::build(&cfg)
        .expect("build")
        .apply(&request(2, 3))
        .await
        .expect("apply");
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen[0].header("authorization"), None);
}

#[tokio::test]
async fn webhook_error_status_names_the_status_and_the_body() {
    let (addr, _) = serve(
        false,
        Arc::new(|_: &Seen| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "database is down\n".repeat(100),
            )
        }),
    )
    .await;
    let mut cfg = config(ActuatorKind::Webhook);
    cfg.url = Some(format!("http://{addr}/scale"));
    cfg.token = Some(Secret::new("hook-secret"));
    let err = actuator::build(&cfg)
        .expect("build")
        .apply(&request(7, 4))
        .await
        .expect_err("500");
    assert!(
        matches!(err, ActuatorError::Status { status, .. } if status == StatusCode::INTERNAL_SERVER_ERROR)
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "the webhook at http://{addr}/scale answered HTTP 500"
        )),
        "{msg}"
    );
    assert!(msg.contains("database is down"), "{msg}");
    assert!(msg.len() < 600, "the body is truncated: {msg}");
    assert!(!msg.contains("hook-secret"), "{msg}");
}

#[tokio::test]
async fn webhook_that_never_answers_hits_the_timeout() {
    // Accepts connections and reads nothing, answers nothing.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    let mut cfg = config(ActuatorKind::Webhook);
    cfg.url = Some(format!("http://{addr}/scale"));
    cfg.timeout = Duration::from_millis(200);
    let a = actuator::build(&cfg).expect("build");
    let started = Instant::now();
    let err = a.apply(&request(7, 4)).await.expect_err("timeout");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, ActuatorError::Timeout { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("the webhook at http://{addr}/scale did not answer within 200ms")
    );
}

#[tokio::test]
async fn webhook_refused_connection_is_unreachable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let mut cfg = config(ActuatorKind::Webhook);
    cfg.url = Some(format!("http://{addr}/scale"));
    let err = actuator::build(&cfg)
        .expect("build")
        .apply(&request(1, 2))
        .await
        .expect_err("refused");
    assert!(matches!(err, ActuatorError::Unreachable { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("could not reach the webhook at"),
        "{err}"
    );
}

#[test]
fn webhook_build_errors_name_the_key() {
    let cfg = config(ActuatorKind::Webhook);
    assert!(build_error(&cfg).contains("scaler.actuator.url"));
    let mut cfg = config(ActuatorKind::Webhook);
    cfg.url = Some("ftp://example.com/".to_owned());
    assert!(build_error(&cfg).contains("scaler.actuator.url"));
    cfg.url = Some("http://user:pw@example.com/".to_owned());
    let msg = build_error(&cfg);
    assert!(
        msg.contains("scaler.actuator.url") && !msg.contains("pw@"),
        "{msg}"
    );
    cfg.url = Some("http://example.com/".to_owned());
    cfg.token = Some(Secret::new("bad\ntoken"));
    assert!(build_error(&cfg).contains("scaler.actuator.token"));
}

// ---------------------------------------------------------------------------------------
// command

fn command(argv: &[&str]) -> ActuatorConfig {
    let mut cfg = config(ActuatorKind::Command);
    cfg.command = argv.iter().map(|s| (*s).to_owned()).collect();
    cfg
}

#[tokio::test]
async fn command_runs_argv_with_the_counts_substituted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("desired");
    let out_arg = out.to_str().expect("utf-8 path");
    // The shell here is the command under test; the actuator itself runs argv directly,
    // so `;` and `$(…)` in an argument would reach `sh` as data, not code.
    let cfg = command(&[
        "sh",
        "-c",
        r#"printf '%s %s' "$1" "$2" > "$3""#,
        "sh",
        "{desired}",
        "was={current}",
        out_arg,
    ]);
    let a = actuator::build(&cfg).expect("build");
    assert_eq!(a.name(), "command");
    assert_eq!(a.current().await.expect("current"), None);
    a.apply(&request(9, 6)).await.expect("apply");
    assert_eq!(std::fs::read_to_string(&out).expect("output"), "9 was=6");
}

#[tokio::test]
async fn command_arguments_are_not_interpreted_by_a_shell() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("pwned");
    let out = dir.path().join("args");
    // A script that writes its arguments verbatim; an argument that would run code if a
    // shell saw it must arrive as plain text.
    let script = dir.path().join("record.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$OUT_FILE\"\n",
    )
    .expect("script");
    make_executable(&script);
    let evil = format!("{{desired}}; touch {}", marker.display());
    let cfg = command(&[
        "env",
        &format!("OUT_FILE={}", out.display()),
        script.to_str().expect("utf-8"),
        &evil,
    ]);
    actuator::build(&cfg)
        .expect("build")
        .apply(&request(3, 2))
        .await
        .expect("apply");
    let written = std::fs::read_to_string(&out).expect("output");
    assert_eq!(written, format!("3; touch {}\n", marker.display()));
    assert!(!marker.exists());
}

#[tokio::test]
async fn command_non_zero_exit_is_an_error_with_the_code_and_last_stderr_line() {
    let cfg = command(&[
        "sh",
        "-c",
        "echo 'contacting the cloud API' >&2; echo 'quota exceeded for instances' >&2; echo noise; exit 3",
        "sh",
        "{desired}",
    ]);
    let err = actuator::build(&cfg)
        .expect("build")
        .apply(&request(40, 10))
        .await
        .expect_err("exit 3");
    assert!(
        matches!(err, ActuatorError::CommandFailed { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the command `sh` failed with exit code 3: quota exceeded for instances"
    );
}

#[tokio::test]
async fn command_without_stderr_says_so() {
    let cfg = command(&["false"]);
    let err = actuator::build(&cfg)
        .expect("build")
        .apply(&request(1, 1))
        .await
        .expect_err("false");
    assert_eq!(
        err.to_string(),
        "the command `false` failed with exit code 1: it wrote nothing to stderr"
    );
}

#[tokio::test]
async fn command_overrunning_the_timeout_is_killed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("pid");
    // `exec` keeps one process, so its pid is the child's and we can check it is gone.
    let mut cfg = command(&[
        "sh",
        "-c",
        r#"echo $$ > "$1"; exec sleep 10"#,
        "sh",
        pid_file.to_str().expect("utf-8"),
    ]);
    cfg.timeout = Duration::from_millis(200);
    let a = actuator::build(&cfg).expect("build");
    let started = Instant::now();
    let err = a.apply(&request(5, 4)).await.expect_err("timeout");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(err, ActuatorError::CommandTimeout { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the command `sh` did not finish within 200ms and was killed"
    );
    let pid = std::fs::read_to_string(&pid_file).expect("pid file");
    let proc_dir = format!("/proc/{}", pid.trim());
    if Path::new("/proc/self").exists() {
        assert!(
            !Path::new(&proc_dir).exists(),
            "the child {} still exists",
            pid.trim()
        );
    }
}

#[test]
fn command_build_errors_name_the_key() {
    assert!(build_error(&command(&[])).contains("scaler.actuator.command"));
    let msg = build_error(&command(&["/no/such/scale-tool", "{desired}"]));
    assert!(
        msg.contains("scaler.actuator.command") && msg.contains("/no/such/scale-tool"),
        "{msg}"
    );
    let msg = build_error(&command(&["no-such-scale-tool-on-path", "{desired}"]));
    assert!(msg.contains("scaler.actuator.command"), "{msg}");
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mut perm = std::fs::metadata(path).expect("metadata").permissions();
    perm.set_mode(0o755);
    std::fs::set_permissions(path, perm).expect("chmod");
}

// ---------------------------------------------------------------------------------------
// kubernetes

const GOOD_TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.synedge-sa.signature";
const SCALE_PATH: &str = "/apis/apps/v1/namespaces/shop/deployments/synedge/scale";

/// A Kubernetes `v1` Status, as the API server sends for failures.
fn k8s_status(code: StatusCode, reason: &str, message: &str) -> (StatusCode, String) {
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": {"name": "synedge", "group": "apps", "kind": "deployments"},
        "code": code.as_u16(),
    });
    (code, body.to_string())
}

/// An `autoscaling/v1` Scale, as the API server returns it. `replicas` is omitted when zero
/// (the Go type has `omitempty`).
fn k8s_scale(replicas: u32) -> String {
    let spec = if replicas == 0 {
        json!({})
    } else {
        json!({"replicas": replicas})
    };
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": "synedge",
            "namespace": "shop",
            "uid": "5b1e1f4e-8d0c-4a43-9d5e-1c2f3a4b5c6d",
            "resourceVersion": "48213",
            "creationTimestamp": "2026-11-01T09:00:00Z"
        },
        "spec": spec,
        "status": {"replicas": replicas, "selector": "app.kubernetes.io/name=synedge"}
    })
    .to_string()
}

/// The API server's side of `deployments/scale`, strict about everything a real one checks.
fn fake_api_server(replicas: Arc<Mutex<u32>>) -> Handler {
    Arc::new(move |req: &Seen| {
        if req.header("authorization") != Some(&format!("Bearer {GOOD_TOKEN}")) {
            return k8s_status(
                StatusCode::FORBIDDEN,
                "Forbidden",
                r#"deployments.apps "synedge" is forbidden: User "system:serviceaccount:shop:other" cannot patch resource "deployments/scale" in API group "apps" in the namespace "shop""#,
            );
        }
        if req.path != SCALE_PATH {
            return k8s_status(
                StatusCode::NOT_FOUND,
                "NotFound",
                r#"deployments.apps "synedge" not found"#,
            );
        }
        if req.header("accept") != Some("application/json") {
            return k8s_status(
                StatusCode::NOT_ACCEPTABLE,
                "NotAcceptable",
                "only application/json here",
            );
        }
        match req.method {
            Method::GET if req.body.is_empty() => {
                let n = *replicas.lock().expect("lock");
                (StatusCode::OK, k8s_scale(n))
            }
            Method::PATCH => {
                if req.header("content-type") != Some("application/merge-patch+json") {
                    return k8s_status(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "UnsupportedMediaType",
                        "the body of the request was in an unknown format",
                    );
                }
                let Some(n) = std::str::from_utf8(&req.body)
                    .ok()
                    .and_then(|b| b.strip_prefix(r#"{"spec":{"replicas":"#))
                    .and_then(|b| b.strip_suffix("}}"))
                    .and_then(|n| n.parse::<u32>().ok())
                else {
                    return k8s_status(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        "unexpected patch body",
                    );
                };
                *replicas.lock().expect("lock") = n;
                (StatusCode::OK, k8s_scale(n))
            }
            _ => k8s_status(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "the server does not allow this method",
            ),
        }
    })
}

/// A service-account directory like the kubelet mounts: token, namespace, ca.crt.
fn service_account(token: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("token"), token).expect("token");
    std::fs::write(dir.path().join("namespace"), "shop").expect("namespace");
    std::fs::write(dir.path().join("ca.crt"), CA_PEM).expect("ca");
    dir
}

fn kubernetes(api_url: String, sa: &Path, namespace: Option<&str>) -> ActuatorConfig {
    let mut cfg = config(ActuatorKind::Kubernetes);
    cfg.api_url = api_url;
    cfg.namespace = namespace.map(str::to_owned);
    cfg.deployment = Some("synedge".to_owned());
    cfg.token_file = sa.join("token");
    cfg.ca_file = sa.join("ca.crt");
    cfg
}

#[tokio::test]
async fn kubernetes_current_reads_spec_replicas() {
    let replicas = Arc::new(Mutex::new(3));
    let (addr, seen) = serve(false, fake_api_server(replicas.clone())).await;
    let sa = service_account(GOOD_TOKEN);
    let a = actuator::build(&kubernetes(
        format!("http://{addr}"),
        sa.path(),
        Some("shop"),
    ))
    .expect("build");
    assert_eq!(a.name(), "kubernetes");
    assert_eq!(a.current().await.expect("current"), Some(3));
    *replicas.lock().expect("lock") = 0;
    assert_eq!(
        a.current().await.expect("current"),
        Some(0),
        "an omitted spec.replicas is zero"
    );
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen[0].method, Method::GET);
    assert_eq!(seen[0].path, SCALE_PATH);
}

#[tokio::test]
async fn kubernetes_apply_sends_the_exact_merge_patch() {
    let replicas = Arc::new(Mutex::new(3));
    let (addr, seen) = serve(false, fake_api_server(replicas.clone())).await;
    let sa = service_account(GOOD_TOKEN);
    // A trailing slash on the API URL is tolerated.
    let a = actuator::build(&kubernetes(
        format!("http://{addr}/"),
        sa.path(),
        Some("shop"),
    ))
    .expect("build");
    a.apply(&request(8, 3)).await.expect("apply");
    assert_eq!(*replicas.lock().expect("lock"), 8);
    assert_eq!(a.current().await.expect("current"), Some(8));

    let seen = seen.lock().expect("lock").clone();
    let patch = &seen[0];
    assert_eq!(patch.method, Method::PATCH);
    assert_eq!(patch.path, SCALE_PATH);
    assert_eq!(
        patch.header("content-type"),
        Some("application/merge-patch+json")
    );
    assert_eq!(patch.header("accept"), Some("application/json"));
    assert_eq!(
        patch.header("authorization"),
        Some(format!("Bearer {GOOD_TOKEN}").as_str())
    );
    assert_eq!(
        patch.body,
        Bytes::from_static(br#"{"spec":{"replicas":8}}"#)
    );
}

#[tokio::test]
async fn kubernetes_wrong_token_is_a_403_with_the_status_message() {
    let (addr, _) = serve(false, fake_api_server(Arc::new(Mutex::new(3)))).await;
    let sa = service_account("not-the-right-token");
    let a = actuator::build(&kubernetes(
        format!("http://{addr}"),
        sa.path(),
        Some("shop"),
    ))
    .expect("build");

    let err = a.apply(&request(8, 3)).await.expect_err("forbidden");
    assert!(
        matches!(err, ActuatorError::Status { status, .. } if status == StatusCode::FORBIDDEN),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("answered HTTP 403 Forbidden"), "{msg}");
    assert!(
        msg.contains(
            r#"deployments.apps "synedge" is forbidden: User "system:serviceaccount:shop:other""#
        ),
        "{msg}"
    );
    assert!(!msg.contains("not-the-right-token"), "{msg}");
    assert!(
        a.current()
            .await
            .expect_err("forbidden")
            .to_string()
            .contains("403")
    );
}

#[tokio::test]
async fn kubernetes_rereads_the_token_on_every_call() {
    let (addr, _) = serve(false, fake_api_server(Arc::new(Mutex::new(2)))).await;
    let sa = service_account("expired-token");
    let a = actuator::build(&kubernetes(
        format!("http://{addr}"),
        sa.path(),
        Some("shop"),
    ))
    .expect("build");
    assert!(a.current().await.is_err());
    // The kubelet rotates the projected token in place.
    std::fs::write(sa.path().join("token"), format!("{GOOD_TOKEN}\n")).expect("rotate");
    assert_eq!(a.current().await.expect("current after rotation"), Some(2));
    std::fs::remove_file(sa.path().join("token")).expect("remove");
    let err = a.current().await.expect_err("no token");
    assert!(matches!(err, ActuatorError::File { .. }), "{err:?}");
    assert!(err.to_string().contains("service-account token"), "{err}");
}

#[tokio::test]
async fn kubernetes_namespace_defaults_to_the_service_account_namespace_file() {
    let replicas = Arc::new(Mutex::new(1));
    let (addr, seen) = serve(false, fake_api_server(replicas.clone())).await;
    let sa = service_account(GOOD_TOKEN);
    let a = actuator::build(&kubernetes(format!("http://{addr}"), sa.path(), None)).expect("build");
    a.apply(&request(4, 1)).await.expect("apply");
    assert_eq!(*replicas.lock().expect("lock"), 4);
    assert_eq!(seen.lock().expect("lock")[0].path, SCALE_PATH);

    // A configured namespace wins over the file (and here the fake server has no such one).
    let a = actuator::build(&kubernetes(
        format!("http://{addr}"),
        sa.path(),
        Some("other"),
    ))
    .expect("build");
    let err = a.current().await.expect_err("not found");
    assert!(
        err.to_string()
            .contains(r#"404 Not Found: deployments.apps "synedge" not found"#),
        "{err}"
    );
}

#[tokio::test]
async fn kubernetes_over_https_verifies_the_api_server_with_the_ca_file() {
    let replicas = Arc::new(Mutex::new(6));
    let (addr, _) = serve(true, fake_api_server(replicas.clone())).await;
    let sa = service_account(GOOD_TOKEN);
    let a =
        actuator::build(&kubernetes(format!("https://{addr}"), sa.path(), None)).expect("build");
    assert_eq!(a.current().await.expect("current over TLS"), Some(6));
    a.apply(&request(10, 6)).await.expect("apply over TLS");
    assert_eq!(*replicas.lock().expect("lock"), 10);

    // The certificate's name is checked too: `localhost` is in it.
    let a = actuator::build(&kubernetes(
        format!("https://localhost:{}", addr.port()),
        sa.path(),
        None,
    ));
    if let Ok(a) = a {
        // `localhost` may resolve to ::1 first where the server does not listen; only a
        // certificate failure would be wrong here.
        if let Err(e) = a.current().await {
            assert!(!e.to_string().contains("certificate"), "{e}");
        }
    }

    // A CA that did not sign the server's certificate is refused.
    std::fs::write(sa.path().join("ca.crt"), SERVER_CERT).expect("wrong ca");
    let a =
        actuator::build(&kubernetes(format!("https://{addr}"), sa.path(), None)).expect("build");
    let err = a.current().await.expect_err("untrusted");
    assert!(matches!(err, ActuatorError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("TLS handshake failed"), "{err}");
}

#[tokio::test]
async fn kubernetes_timeout_bounds_the_call() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    let sa = service_account(GOOD_TOKEN);
    let mut cfg = kubernetes(format!("http://{addr}"), sa.path(), None);
    cfg.timeout = Duration::from_millis(200);
    let err = actuator::build(&cfg)
        .expect("build")
        .current()
        .await
        .expect_err("timeout");
    assert!(matches!(err, ActuatorError::Timeout { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with("the Kubernetes API at http://"),
        "{err}"
    );
}

#[test]
fn kubernetes_build_errors_name_the_key() {
    let sa = service_account(GOOD_TOKEN);
    let base = kubernetes("https://kubernetes.default.svc".to_owned(), sa.path(), None);
    actuator::build(&base).expect("the in-cluster defaults build");

    let mut cfg = base.clone();
    cfg.token_file = sa.path().join("missing-token");
    let msg = build_error(&cfg);
    assert!(
        msg.contains("scaler.actuator.token_file") && msg.contains("missing-token"),
        "{msg}"
    );

    let mut cfg = base.clone();
    cfg.ca_file = sa.path().join("missing-ca.crt");
    assert!(build_error(&cfg).contains("scaler.actuator.ca_file"));
    std::fs::write(sa.path().join("junk.crt"), "not a certificate").expect("junk");
    cfg.ca_file = sa.path().join("junk.crt");
    assert!(build_error(&cfg).contains("scaler.actuator.ca_file"));

    let mut cfg = base.clone();
    cfg.deployment = None;
    assert!(build_error(&cfg).contains("scaler.actuator.deployment"));
    cfg.deployment = Some("../../secrets".to_owned());
    assert!(build_error(&cfg).contains("scaler.actuator.deployment"));

    let mut cfg = base.clone();
    cfg.namespace = Some("Shop/x".to_owned());
    assert!(build_error(&cfg).contains("scaler.actuator.namespace"));

    let mut cfg = base.clone();
    std::fs::remove_file(sa.path().join("namespace")).expect("remove");
    cfg.namespace = None;
    let msg = build_error(&cfg);
    let beside_token = sa.path().join("namespace");
    assert!(
        msg.contains("scaler.actuator.namespace")
            && msg.contains(&beside_token.display().to_string()),
        "{msg}"
    );

    let mut cfg = base;
    cfg.namespace = Some("shop".to_owned());
    cfg.api_url = "kubernetes.default.svc".to_owned();
    assert!(build_error(&cfg).contains("scaler.actuator.api_url"));
}
