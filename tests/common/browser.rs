//! Headless Chromium driven over the DevTools protocol (CDP): launch, open a page, wait
//! for its `load` event, evaluate JavaScript and read the result. Just the few commands
//! the browser tests need, over one WebSocket.
//!
//! The browser is found as `$CHROMIUM`, else `chromium`, `chromium-browser`,
//! `google-chrome` on `PATH`. When none is there, [`Browser::launch`] returns `None` and
//! the test says it is skipped, unless `SYNEDGE_REQUIRE_BROWSER` is set (CI sets it
//! after installing Chromium), in which case a missing browser fails the test.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any one protocol step may take before the test fails.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Browser {
    child: Child,
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Events read while waiting for a command's answer, oldest first.
    events: VecDeque<Value>,
    _profile: tempfile::TempDir,
}

/// The Chromium binary to use, if any.
fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
    .find(|p| p.is_file())
}

impl Browser {
    /// Starts a headless Chromium with a fresh profile, or `None` (after saying so) when
    /// there is none on this machine and none is required.
    pub async fn launch(test: &str) -> Option<Self> {
        let Some(bin) = find_chromium() else {
            super::skip(
                test,
                "SYNEDGE_REQUIRE_BROWSER",
                "no Chromium on this machine; install it (apt-get install chromium) or set \
                 CHROMIUM=/path/to/chrome",
            );
            return None;
        };
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(&bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--remote-debugging-port=0",
                "--window-size=1280,800",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        // Chromium writes the port it bound and the browser's WebSocket path here. A cold
        // start beside three others on a busy 2-core machine has taken over 15 s: wait up
        // to a minute (the loop ends as soon as the file is there), unless it died.
        let port_file = profile.path().join("DevToolsActivePort");
        let mut url = None;
        for _ in 0..1200 {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "{} exited ({status}) before opening its DevTools port",
                    bin.display()
                );
            }
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                if let Some((port, path)) = text.split_once('\n') {
                    if !path.trim().is_empty() {
                        url = Some(format!("ws://127.0.0.1:{}{}", port.trim(), path.trim()));
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let url = url.unwrap_or_else(|| {
            panic!(
                "{} did not open its DevTools port within a minute",
                bin.display()
            )
        });
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .unwrap();
        Some(Self {
            child,
            ws,
            next_id: 0,
            events: VecDeque::new(),
            _profile: profile,
        })
    }

    /// Sends one command (to a page when `session` is given) and returns its result.
    pub async fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.ws.send(Message::text(msg.to_string())).await.unwrap();
        loop {
            let m = self.read().await;
            if m["id"].as_u64() == Some(id) {
                assert!(m.get("error").is_none(), "{method} failed: {}", m["error"]);
                return m["result"].clone();
            }
            if m.get("method").is_some() {
                self.events.push_back(m);
            }
        }
    }

    /// Waits for the event `method` from `session`, returning its parameters.
    pub async fn event(&mut self, session: &str, method: &str) -> Value {
        let matches = |m: &Value| m["method"] == method && m["sessionId"] == session;
        if let Some(i) = self.events.iter().position(matches) {
            return self.events.remove(i).unwrap()["params"].clone();
        }
        loop {
            let m = self.read().await;
            if matches(&m) {
                return m["params"].clone();
            }
        }
    }

    async fn read(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(STEP_TIMEOUT, self.ws.next())
                .await
                .expect("Chromium did not answer in time")
                .expect("Chromium closed the DevTools connection")
                .unwrap();
            if let Message::Text(t) = msg {
                return serde_json::from_str(&t).unwrap();
            }
        }
    }

    /// Opens a new tab, runs `init_script` in every document it loads before the page's
    /// own scripts, and returns the tab's session.
    pub async fn new_page(&mut self, init_script: &str) -> String {
        let target = self
            .call(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let session = self
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await["sessionId"]
            .as_str()
            .unwrap()
            .to_owned();
        let s = Some(session.as_str());
        self.call(s, "Page.enable", json!({})).await;
        self.call(
            s,
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": init_script}),
        )
        .await;
        session
    }

    /// Navigates and waits for the `load` event (async scripts included).
    pub async fn goto(&mut self, session: &str, url: &str) {
        self.events.clear();
        let r = self
            .call(Some(session), "Page.navigate", json!({"url": url}))
            .await;
        assert!(r.get("errorText").is_none(), "navigating to {url}: {r}");
        self.event(session, "Page.loadEventFired").await;
    }

    /// Evaluates `expression` in the page, awaiting it if it is a promise; its value.
    pub async fn eval(&mut self, session: &str, expression: &str) -> Value {
        let r = self
            .call(
                Some(session),
                "Runtime.evaluate",
                json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
            )
            .await;
        assert!(
            r.get("exceptionDetails").is_none(),
            "evaluating {expression}: {}",
            r["exceptionDetails"]
        );
        r["result"]["value"].clone()
    }

    /// The whole page (not just the viewport) as a PNG, scaled by `scale`.
    pub async fn screenshot(&mut self, session: &str, scale: f64) -> Vec<u8> {
        use base64::Engine as _;
        let size = self
            .eval(
                session,
                "({w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight})",
            )
            .await;
        let shot = self
            .call(
                Some(session),
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": {"x": 0, "y": 0, "width": size["w"], "height": size["h"], "scale": scale},
                }),
            )
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
