//! The real `synedge` binary as a child process: start it on port 0, talk HTTP/1.1 to it,
//! stop it; and `oha` for load.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_synedge");

/// `synedge serve` on free loopback ports, public and admin.
pub const SERVE_ON_FREE_PORTS: [&str; 5] = [
    "serve",
    "--listen",
    "127.0.0.1:0",
    "--admin-listen",
    "127.0.0.1:0",
];

pub fn synedge(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    // Run where no config/default.toml exists, with no SYNEDGE_* from the caller.
    c.current_dir(dir);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SYNEDGE_")) {
        c.env_remove(k);
    }
    c.env("RUST_LOG", "info");
    c
}

/// One HTTP/1.1 GET over a fresh connection, with `extra` header lines (each ending in
/// `\r\n`): the whole answer, as sent.
pub fn http_exchange(addr: &str, path: &str, extra: &str) -> Vec<u8> {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    out
}

/// The value of header `name` (lowercase, as the server writes it) in a whole answer.
pub fn header_in<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    answer
        .split("\r\n\r\n")
        .next()?
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
}

/// Sends one HTTP/1.1 request and returns (status, body).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    let out = String::from_utf8(http_exchange(addr, path, "")).unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Starts `synedge serve` on port 0 with `extra` arguments and waits until `/readyz`
/// answers 200; returns the child and the public and admin addresses it logged.
pub fn spawn_serve(dir: &Path, extra: &[&str]) -> (Server, String, String) {
    let (server, public, admin, _log) = start_serve(dir, extra);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut ready = false;
    while !ready && Instant::now() < deadline {
        ready = http_get(&public, "/readyz").0 == 200;
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ready);
    (server, public, admin)
}

/// Starts `synedge serve` on port 0 with `extra` arguments and returns as soon as it has
/// logged where it listens (it may not be ready yet): the child, the public and admin
/// addresses, and its log lines from then on.
pub fn start_serve(
    dir: &Path,
    extra: &[&str],
) -> (Server, String, String, std::sync::mpsc::Receiver<String>) {
    let mut child = synedge(dir)
        .args(SERVE_ON_FREE_PORTS)
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The log line "listening public=… admin=…" tells where it bound. The reader thread
    // keeps draining the pipe after the receiver is dropped, so logging never blocks.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut public, mut admin) = (String::new(), String::new());
    while public.is_empty() && Instant::now() < deadline {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server log ended early");
        if line.contains("listening") {
            public = log_field(&line, "public");
            admin = log_field(&line, "admin");
        }
    }
    assert!(!public.is_empty(), "no listening line");
    (Server(child), public, admin, rx)
}

/// The value of `name=` in a log line.
pub fn log_field(line: &str, name: &str) -> String {
    line.split(&format!("{name}="))
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// A running server, killed if a failing test leaves it running.
pub struct Server(pub std::process::Child);

impl Server {
    pub fn sigterm(&self) {
        std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .unwrap();
    }

    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.0.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Sends one HTTP/1.1 POST and returns the status.
pub fn http_post(addr: &str, path: &str, body: &str) -> u16 {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out[9..12].parse().unwrap()
}

/// `oha`, when installed; `.ci/run` installs it and sets `SYNEDGE_REQUIRE_OHA`, so a
/// missing one fails there instead of skipping.
pub fn oha() -> Option<&'static str> {
    let found = Command::new("oha").arg("--version").output().is_ok();
    if !found {
        super::skip(
            "the closed-loop scaler test",
            "SYNEDGE_REQUIRE_OHA",
            "no oha on PATH; install it (cargo install oha --locked)",
        );
        return None;
    }
    Some("oha")
}
