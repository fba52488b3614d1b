//! The README's examples, run as written against the real binary: every `curl` line of
//! its `sh` blocks (ports rewritten to the test server's), the stats pagination loop, the
//! configuration-error output, the import example and its summary line, and the identity
//! spellings it says share one cache entry. Where the README says what comes back (a
//! status, headers, JSON keys, in the comments beside a command), that is checked too.
//! Not run here: the HTTPS example (certificate paths under /etc; tests/tls.rs covers
//! HTTPS), Docker and kubectl (no container engine or cluster; tests/deploy.rs checks the
//! files), `cargo run -- simulate` (tests/simulate.rs) and `loadtest/` scripts.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::process::{Server, http_get, spawn_serve, synedge};

const README: &str = include_str!("../README.md");

/// The README's fenced code blocks, each as (info string, lines).
fn blocks() -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut open: Option<(String, Vec<String>)> = None;
    for line in README.lines() {
        if let Some(info) = line.strip_prefix("```") {
            match open.take() {
                Some(block) => out.push(block),
                None => open = Some((info.trim().to_owned(), Vec::new())),
            }
        } else if let Some((_, lines)) = open.as_mut() {
            lines.push(line.to_owned());
        }
    }
    assert!(open.is_none(), "README has an unclosed code block");
    out
}

/// The one block whose text contains `needle`.
fn block_with(needle: &str) -> Vec<String> {
    let found: Vec<_> = blocks()
        .into_iter()
        .filter(|(_, lines)| lines.join("\n").contains(needle))
        .collect();
    assert_eq!(found.len(), 1, "expected one README block with {needle:?}");
    found.into_iter().next().unwrap().1
}

/// A command of an `sh` block: its text (continuation lines joined), the comment written
/// beside it, and the comment lines right below it.
#[derive(Debug)]
struct Example {
    command: String,
    comment: String,
    below: Vec<String>,
}

fn curl_examples() -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    for (_, lines) in blocks().into_iter().filter(|(info, _)| info == "sh") {
        let mut lines = lines.into_iter();
        let mut last_was_curl = false;
        while let Some(line) = lines.next() {
            if let Some(note) = line.trim_start().strip_prefix('#') {
                if last_was_curl {
                    out.last_mut().unwrap().below.push(note.to_owned());
                }
                continue;
            }
            let mut command = line.clone();
            while command.ends_with('\\') {
                command.pop();
                command.push_str(&lines.next().expect("a continued last line"));
            }
            last_was_curl = command.starts_with("curl ");
            if !last_was_curl || command.contains("https://") {
                last_was_curl = false;
                continue;
            }
            let (command, comment) = match command.find("  #") {
                Some(at) => (
                    command[..at].trim().to_owned(),
                    command[at + 3..].trim().to_owned(),
                ),
                None => (command.trim().to_owned(), String::new()),
            };
            out.push(Example {
                command,
                comment,
                below: Vec::new(),
            });
        }
    }
    out
}

/// Rewrites the README's fixed addresses to the test server's.
fn localize(text: &str, public: &str, admin: &str) -> String {
    text.replace("http://127.0.0.1:8080", &format!("http://{public}"))
        .replace("localhost:8080", public)
        .replace("http://127.0.0.1:9901", &format!("http://{admin}"))
        .replace("localhost:9901", admin)
}

fn bash(script: &str) -> (bool, String, String) {
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .env("TOKEN", common::TOKEN)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The JSON keys written in `text` (`"name":`).
fn json_keys(text: &str) -> Vec<String> {
    let parts: Vec<&str> = text.split('"').collect();
    (1..parts.len().saturating_sub(1))
        .step_by(2)
        .filter(|&i| parts[i + 1].trim_start().starts_with(':'))
        .map(|i| parts[i].to_owned())
        .collect()
}

/// The header names written in `text` (`Name: value`).
fn header_names(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter_map(|w| w.strip_suffix(':'))
        .filter(|w| w.starts_with(|c: char| c.is_ascii_uppercase()) && w.len() > 1)
        .map(str::to_owned)
        .collect()
}

fn need_tools(test: &str) -> bool {
    let missing: Vec<&str> = ["curl", "jq"]
        .into_iter()
        .filter(|t| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    common::skip(
        test,
        "SYNEDGE_REQUIRE_README_TOOLS",
        &format!(
            "{} not installed (apt-get install curl jq, or run `bash .ci/run`)",
            missing.join(" and ")
        ),
    );
    false
}

fn serve_demo(dir: &Path) -> (Server, String, String) {
    spawn_serve(
        dir,
        &[
            "--demo",
            "--set",
            &format!("admin.token={}", common::TOKEN),
            "--set",
            "events.flush_interval=100ms",
        ],
    )
}

#[test]
fn every_curl_example_answers_as_the_readme_says() {
    if !need_tools("readme::every_curl_example_answers_as_the_readme_says") {
        return;
    }
    let examples = curl_examples();
    assert!(
        examples.len() >= 15,
        "the README's curl examples were not found: {examples:#?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let (_server, public, admin) = serve_demo(dir.path());
    let mut etag: Option<String> = None;
    for ex in &examples {
        let mut command = localize(&ex.command, &public, &admin);
        if let Some(tag) = &etag {
            command = command.replace("\"<etag from above>\"", tag);
        }
        assert!(
            !command.contains('<'),
            "a placeholder left in {command:?} (no ETag seen before it)"
        );
        let piped = command.contains('|');
        let own_format = command.contains(" -w ");
        let script = if piped || own_format {
            command.clone()
        } else {
            command.replacen("curl ", "curl -w '\\n%{http_code}\\n' ", 1)
        };
        let (ok, stdout, stderr) = bash(&script);
        assert!(ok, "{command}\nfailed: {stderr}\n{stdout}");
        assert!(!stdout.trim().is_empty(), "{command}\nprinted nothing");
        if piped {
            continue;
        }
        let status: u16 = if own_format {
            stdout.split_whitespace().next().unwrap().parse().unwrap()
        } else {
            stdout.trim_end().lines().last().unwrap().parse().unwrap()
        };
        // `# 304`, `# 400 {…}`: the status the README promises; otherwise a success.
        match ex.comment.get(..3).and_then(|s| s.parse::<u16>().ok()) {
            Some(want) => assert_eq!(status, want, "{command}\n{stdout}"),
            None => assert!((200..300).contains(&status), "{command}\n{stdout}"),
        }
        let lower = stdout.to_ascii_lowercase();
        if etag.is_none() {
            etag = stdout.lines().find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("etag")
                    .then(|| value.trim().to_owned())
            });
        }
        let notes = format!("{} {}", ex.comment, ex.below.join(" "));
        for name in header_names(&ex.below.join(" ")) {
            assert!(
                lower.contains(&format!("\n{}:", name.to_ascii_lowercase())),
                "{command}\nthe README says it carries {name}:\n{stdout}"
            );
        }
        for key in json_keys(&notes) {
            assert!(
                stdout.contains(&format!("\"{key}\"")),
                "{command}\nthe README shows the key {key:?}:\n{stdout}"
            );
        }
    }
    assert!(etag.is_some(), "no example answered with an ETag");

    // The stats pagination loop, once the beacon posted above is counted.
    let walk = localize(&block_with("while :").join("\n"), &public, &admin);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (ok, stdout, stderr) = bash(&walk);
        assert!(ok, "the pagination loop failed: {stderr}");
        if stdout.contains("\"view\"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the loop never listed the view posted by the README's beacon example: {stdout:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_configuration_error_example_is_what_synedge_prints() {
    let shown = block_with("configuration problems:");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("synedge.toml"),
        "[cache]\ntll = \"5m\"\nttl = \"5mn\"\n",
    )
    .unwrap();
    let out = synedge(dir.path())
        .args(["--config", "synedge.toml", "check-config"])
        .env("SYNEDGE_SERVER__MAX_CONNECTIONS", "many")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let printed = String::from_utf8_lossy(&out.stderr);
    for line in &shown {
        // The README cuts the parser's own wording short with "…".
        let want = line.split('…').next().unwrap();
        assert!(
            printed.lines().any(|l| l.starts_with(want)),
            "the README shows {line:?}; synedge printed:\n{printed}"
        );
    }
}

#[test]
fn the_import_example_imports_and_ends_with_the_summary_line() {
    let record = block_with("\"mpn\": \"X-100/B\"").join(" ");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("catalog.ndjson"), format!("{record}\n")).unwrap();
    let out = synedge(dir.path())
        .args(["import", "catalog.ndjson"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    // The README's summary line, for this one-record file.
    let shown = block_with("unchanged); 1 EAN moved").join("");
    assert!(shown.starts_with("imported 1200 fragments for 400 products ("));
    assert!(
        text.contains("imported 1 fragment for 1 product (1 new or changed, 0 unchanged)"),
        "{text}"
    );
}

#[test]
fn the_spellings_the_readme_names_share_one_cache_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, public, _) = serve_demo(dir.path());
    let q = "/v1/fragment?retailer=shop-one&locale=en-GB";
    // The UPC-A, EAN-13 and GTIN-14 of one product, and brand + MPN in two spellings:
    // after the first of each group, the others are hits on the same entry.
    for group in [
        [
            "ean=036000291452",
            "ean=0036000291452",
            "ean=00036000291452",
        ],
        [
            "brand=Acme&mpn=X-100/B",
            "brand=acme&mpn=x100b",
            "brand=ACME&mpn=X_100.B",
        ],
    ] {
        let answers: Vec<String> = group
            .iter()
            .map(|id| cache_status(&public, &format!("{q}&{id}&cb=1")))
            .collect();
        assert_eq!(answers[1..], ["HIT", "HIT"], "{group:?}: {answers:?}");
    }
    assert_eq!(http_get(&public, "/readyz").0, 200);
}

fn cache_status(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.lines()
        .find_map(|l| l.strip_prefix("x-cache: "))
        .unwrap_or("none")
        .to_owned()
}
