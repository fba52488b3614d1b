//! A real synedge server on 127.0.0.1 port 0 over a real SQLite file, and an HTTP client.
#![allow(dead_code)] // each test binary uses a different part of this module

pub mod browser;
pub mod postgres;
pub mod process;
pub mod upstream;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use synedge::app::App;
use synedge::config::Config;
use synedge::origin::sqlite::SqliteOrigin;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Says that `test` is skipped and why (`why` names the tool and how to install it),
/// where `cargo test` shows it although the test passes: straight to the process's
/// stderr, since the harness swallows a passing test's `eprintln!`. When `require_var`
/// is set (`.ci/run` sets one per tool it installs), fails instead: there, nothing skips.
pub fn skip(test: &str, require_var: &str, why: &str) {
    use std::io::Write as _;
    assert!(
        std::env::var_os(require_var).is_none(),
        "{require_var} is set, but {test} cannot run: {why}"
    );
    let line = format!("SKIPPED {test}: {why}");
    let direct = std::fs::OpenOptions::new()
        .append(true)
        .open("/dev/stderr")
        .and_then(|mut f| writeln!(f, "{line}"));
    if direct.is_err() {
        eprintln!("{line}");
    }
}

pub const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/catalog.ndjson");
pub const TOKEN: &str = "test-admin-token-0123456789";

pub struct TestServer {
    pub public: SocketAddr,
    pub admin: SocketAddr,
    pub app: App,
    pub db: PathBuf,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    client: Client<HttpConnector, Full<Bytes>>,
    _dir: tempfile::TempDir,
}

/// An answer, read whole.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// Imports an NDJSON file into a fresh SQLite store at `db`.
pub fn import_fixture(db: &Path, file: &str) {
    let url = format!("sqlite://{}", db.display());
    synedge::catalog::import::run_import(
        &url,
        Path::new(file),
        Duration::from_secs(5),
        synedge::catalog::write::Options::default(),
    )
    .unwrap();
}

impl TestServer {
    /// Starts a server over the fixture catalog, with an admin token set.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::start_over(|db| import_fixture(db, FIXTURE), tweak).await
    }

    /// A server over the first `products` products of the demo catalog (`seed --demo`).
    pub async fn start_demo(products: usize, tweak: impl FnOnce(&mut Config)) -> Self {
        let seed = |db: &Path| {
            let url = format!("sqlite://{}", db.display());
            synedge::catalog::import::run_seed(&url, products, None, Duration::from_secs(5))
                .unwrap();
        };
        Self::start_over(seed, tweak).await
    }

    /// A server over the store `fill` writes at the path it is given.
    pub async fn start_over(fill: impl FnOnce(&Path), tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("catalog.db");
        fill(&db);
        let mut config = Config::default();
        config.origin.url = format!("sqlite://{}", db.display());
        config.admin.token = Some(synedge::config::Secret::new(TOKEN));
        tweak(&mut config);
        assert_eq!(config.validate(), vec![]);
        let origin = Arc::new(
            SqliteOrigin::open(
                synedge::store_url::StoreUrl::parse(&config.origin.url)
                    .unwrap()
                    .sqlite_path()
                    .unwrap(),
                config.origin.timeout,
            )
            .unwrap(),
        );
        Self::launch(config, origin.clone(), origin, db, dir).await
    }

    /// Builds the app, runs it on two port-0 listeners, and waits until it is ready.
    async fn launch(
        config: Config,
        origin: Arc<dyn synedge::origin::Origin>,
        events: Arc<dyn synedge::events::EventStore>,
        db: PathBuf,
        dir: tempfile::TempDir,
    ) -> Self {
        let public_l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin_l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (public, admin) = (
            public_l.local_addr().unwrap(),
            admin_l.local_addr().unwrap(),
        );
        let app = App::build(config, origin, events).unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(app.clone().run(public_l, admin_l, shutdown.clone()));
        let client = Client::builder(TokioExecutor::new()).build_http();
        let s = Self {
            public,
            admin,
            app,
            db,
            shutdown,
            task,
            client,
            _dir: dir,
        };
        // Ready once run() has flipped readiness (asked over HTTP unless it is HTTPS).
        let https = s.app.config.tls.cert.is_some();
        for _ in 0..100 {
            if https && s.app.state.readiness.is_ready()
                || !https && s.get("/readyz").await.status == StatusCode::OK
            {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("server did not become ready");
    }

    pub async fn send(&self, req: Request<Full<Bytes>>) -> Answer {
        let res = self.client.request(req).await.unwrap();
        let (parts, body) = res.into_parts();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await.unwrap().to_bytes(),
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.get_with(path, &[]).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut b = Request::get(format!("http://{}{path}", self.public));
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        self.send(b.body(Full::default()).unwrap()).await
    }

    pub async fn admin_get(&self, path: &str) -> Answer {
        self.send(
            Request::get(format!("http://{}{path}", self.admin))
                .body(Full::default())
                .unwrap(),
        )
        .await
    }

    /// A GET on the admin listener with `Authorization: Bearer <token>` when `token` is set.
    pub async fn admin_get_auth(&self, path: &str, token: Option<&str>) -> Answer {
        let mut b = Request::get(format!("http://{}{path}", self.admin));
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        self.send(b.body(Full::default()).unwrap()).await
    }

    pub async fn admin_post(&self, path: &str, body: &str, token: Option<&str>) -> Answer {
        let mut b = Request::post(format!("http://{}{path}", self.admin))
            .header("content-type", "application/json");
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        self.send(b.body(Full::from(body.to_owned())).unwrap())
            .await
    }

    /// A request to the public listener with a body (and its content type, if any).
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<Bytes>,
    ) -> Answer {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.public));
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        self.send(b.body(Full::new(body.into())).unwrap()).await
    }

    /// `POST /v1/events` with a JSON body.
    pub async fn post_events(&self, body: &str) -> Answer {
        self.request(
            "POST",
            "/v1/events",
            Some("application/json"),
            body.to_owned(),
        )
        .await
    }

    /// Stops the server and waits for `App::run` to return (the events queue drained).
    pub async fn stop(self) {
        self.stop_keeping_files().await;
    }

    /// [`Self::stop`], keeping the store: the directory lives as long as the guard.
    pub async fn stop_keeping_files(self) -> (PathBuf, tempfile::TempDir) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
        (self.db, self._dir)
    }
}

/// A path for the fixture's Acme drill.
pub fn acme(retailer: &str, locale: &str) -> String {
    format!("/v1/fragment?retailer={retailer}&locale={locale}&ean=4006381333931")
}

impl TestServer {
    /// A server over any `origin` (an HTTP upstream, a stub), with events kept in a
    /// scratch SQLite file (`db`). `tweak` sets `origin.url` and the rest.
    pub async fn start_with_origin(
        origin: Arc<dyn synedge::origin::Origin>,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("events.db");
        let mut config = Config::default();
        config.admin.token = Some(synedge::config::Secret::new(TOKEN));
        config.events.store = format!("sqlite://{}", db.display());
        tweak(&mut config);
        assert_eq!(config.validate(), vec![]);
        let events =
            Arc::new(SqliteOrigin::open(db.to_str().unwrap(), config.origin.timeout).unwrap());
        Self::launch(config, origin, events, db, dir).await
    }
}
