//! The README's examples, run as written against the real binary: every `curl` line of
//! its `sh` blocks (ports rewritten to the test server's), the stats pagination loop, the
//! configuration-error output, the import example and its summary line, and the identity
//! spellings it says share one cache entry. Where the README says what comes back (a
//! status, headers, JSON keys, in the comments beside a command), that is checked too.
//! And what it lists, against the binary: the Commands block against `--help` (and the
//! usage exit code), the configuration table's keys and defaults against `check-config`
//! (and config/default.toml), the Metrics list against a scrape, the purge answers, the
//! access-log line, the simulation table, loader.js's size and caching, the embed
//! attributes against the loader, and the Rust version against Cargo.toml.
//! Not run here: the HTTPS example (certificate paths under /etc; tests/tls.rs covers
//! HTTPS), Docker and kubectl (no container engine or cluster; tests/deploy.rs checks the
//! files) and the `loadtest/` scripts.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::process::{
    BIN, SERVE_ON_FREE_PORTS, Server, header_in, http_exchange, http_get, spawn_serve, synedge,
};

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
        if command.contains("\"surrogate_keys\"") {
            // "answers with what it removed": the README's answer, but for `entries`,
            // which depends on what was cached.
            let body = stdout.trim_end().rsplit_once('\n').map_or("", |(b, _)| b);
            let mut got: serde_json::Value = serde_json::from_str(body).unwrap();
            let mut want = readme_json("\"purged\"");
            assert!(got["purged"]["entries"].is_u64(), "{body}");
            got["purged"]["entries"] = 0.into();
            want["purged"]["entries"] = 0.into();
            assert_eq!(got, want, "{command}");
        }
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

    // A purge whose third key is longer than a fragment query may be: the README's 400.
    let long = format!(
        "retailer=shop-one&locale=en-GB&ean=4006381333931&x={}",
        "a".repeat(2048)
    );
    let body = serde_json::json!({"keys": [
        "retailer=shop-one&locale=en-GB&ean=4006381333931",
        "/v1/fragment?retailer=shop-two&locale=de&brand=Acme&mpn=X-100/B",
        long,
    ]});
    let file = dir.path().join("purge.json");
    std::fs::write(&file, body.to_string()).unwrap();
    let (ok, stdout, stderr) = bash(&format!(
        "curl -s -w '\\n%{{http_code}}' -X POST http://{admin}/admin/v1/purge \
         -H \"Authorization: Bearer $TOKEN\" --data-binary @{}",
        file.display()
    ));
    assert!(ok, "{stderr}");
    let (answer, status) = stdout.rsplit_once('\n').unwrap();
    assert_eq!(status, "400", "{stdout}");
    let got: serde_json::Value = serde_json::from_str(answer).unwrap();
    assert_eq!(got, readme_json("\"query_too_long\""));

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
    let answer = String::from_utf8(http_exchange(addr, path, "")).unwrap();
    header_in(&answer, "x-cache").unwrap_or("none").to_owned()
}

/// The README's `json` block containing `needle`, parsed.
fn readme_json(needle: &str) -> serde_json::Value {
    let text = block_with(needle).join("\n");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}\n{e}"))
}

/// `--name` flags in `text`, in order.
fn flags(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(str::to_owned)
        .collect()
}

/// The option flags `synedge ARGS --help` lists (without --help and --version).
fn help_flags(args: &[&str]) -> Vec<String> {
    let out = Command::new(BIN).args(args).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let options = text.split("Options:").nth(1).unwrap();
    let mut found: Vec<String> = options
        .lines()
        .filter_map(|l| flags(l).into_iter().next())
        .filter(|f| f != "--help" && f != "--version")
        .collect();
    found.sort();
    found
}

#[test]
fn the_commands_block_is_what_help_lists() {
    let block = block_with("  check-config ");
    let global = flags(&block[0]);
    assert!(block[0].starts_with("synedge "), "{block:?}");
    let mut want = global.clone();
    want.sort();
    assert_eq!(help_flags(&[]), want, "{}", block[0]);
    let mut commands = Vec::new();
    for line in &block[1..] {
        // "  serve [--demo] …   what it does": the synopsis ends at three spaces.
        let synopsis = line.trim_start().split("   ").next().unwrap();
        let command = synopsis.split_whitespace().next().unwrap();
        let mut want = flags(synopsis);
        want.extend(global.iter().cloned());
        want.sort();
        assert_eq!(help_flags(&[command]), want, "README: {line}");
        commands.push(command.to_owned());
    }
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let listed: Vec<&str> = text
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    commands.sort();
    let mut listed: Vec<String> = listed.into_iter().map(str::to_owned).collect();
    listed.sort();
    assert_eq!(commands, listed);
    // "A command line clap cannot parse (an unknown command or flag) exits 2".
    assert!(README.contains("(an unknown command or flag) exits 2"));
    for args in [&["no-such-command"][..], &["serve", "--no-such-flag"]] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "synedge {args:?}");
    }
}

/// The configuration table: each key the README names, with the default it gives (when
/// the row gives one per key, or one for all).
fn config_table() -> Vec<(String, Option<String>)> {
    let mut rows = README
        .lines()
        .skip_while(|l| !l.starts_with("| key | default | meaning |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'));
    let mut out = Vec::new();
    for row in rows.by_ref() {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let mut keys: Vec<String> = Vec::new();
        for name in cells[1].split('`').skip(1).step_by(2) {
            let name = name.trim_start_matches("[[").trim_end_matches("]]");
            match name.strip_prefix('.') {
                Some(rel) => {
                    let first = &keys[0];
                    keys.push(format!("{}.{rel}", &first[..first.rfind('.').unwrap()]));
                }
                None => keys.push(name.to_owned()),
            }
        }
        let defaults: Vec<String> = cells[2]
            .replace('`', "")
            .split(", ")
            .map(str::to_owned)
            .collect();
        for (i, key) in keys.iter().enumerate() {
            let default = match defaults.len() {
                1 => Some(defaults[0].clone()),
                n if n == keys.len() => Some(defaults[i].clone()),
                _ => None,
            };
            out.push((key.clone(), default));
        }
    }
    out
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => flatten(&key, t, out),
            v => out.push((key, v.clone())),
        }
    }
}

/// Milliseconds of a duration written like "250ms", "5s", "1m", "1day".
fn millis(text: &str) -> Option<u64> {
    let at = text.find(|c: char| !c.is_ascii_digit())?;
    let n: u64 = text[..at].parse().ok()?;
    let unit = match &text[at..] {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => return None,
    };
    Some(n * unit)
}

fn same_default(readme: &str, actual: Option<&toml::Value>) -> bool {
    use toml::Value;
    match (readme, actual) {
        ("unset", None) => true,
        ("unset" | "none" | "empty", Some(Value::String(s))) => s.is_empty(),
        ("unset" | "none" | "empty", Some(Value::Array(a))) => a.is_empty(),
        (_, None) => false,
        (r, Some(Value::String(s))) => r == s || (millis(r).is_some() && millis(r) == millis(s)),
        (r, Some(Value::Integer(i))) => r.parse::<i64>().ok() == Some(*i),
        (r, Some(Value::Float(f))) => r.parse::<f64>().ok() == Some(*f),
        (r, Some(Value::Boolean(b))) => r == b.to_string(),
        (r, Some(Value::Array(a))) => r == "[]" && a.is_empty(),
        _ => false,
    }
}

#[test]
fn the_configuration_table_names_every_key_and_its_default() {
    let dir = tempfile::tempdir().unwrap();
    let out = synedge(dir.path()).arg("check-config").output().unwrap();
    assert!(out.status.success());
    let printed: toml::Table = String::from_utf8_lossy(&out.stdout).parse().unwrap();
    let mut effective = Vec::new();
    flatten("", &printed, &mut effective);
    let table = config_table();
    assert!(
        table.len() > 40,
        "the README's configuration table was not found"
    );
    for (key, default) in &table {
        let actual = effective.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        if actual.is_none() {
            // Unset by default, so check-config leaves it out: a real key all the same.
            let out = synedge(dir.path())
                .args(["--set", &format!("{key}=x"), "check-config"])
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!err.contains("unknown key"), "README names {key}: {err}");
        }
        if let Some(default) = default {
            assert!(
                same_default(default, actual),
                "README: {key} defaults to {default}; check-config: {actual:?}"
            );
        }
    }
    for (key, _) in &effective {
        assert!(
            table.iter().any(|(k, _)| k == key),
            "{key} is missing from the README's configuration table"
        );
    }
    // "`config/default.toml` is the defaults, written out."
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml");
    let out = synedge(dir.path())
        .args(["--config", &shipped.display().to_string(), "check-config"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let from_file: toml::Table = String::from_utf8_lossy(&out.stdout).parse().unwrap();
    assert_eq!(
        from_file, printed,
        "config/default.toml is not the built-in defaults"
    );
}

#[test]
fn the_metrics_list_is_what_metrics_exports() {
    let listed: Vec<&str> = README
        .lines()
        .skip_while(|l| !l.starts_with("Metrics (Prometheus text"))
        .skip(1)
        .take_while(|l| l.starts_with("- ") || l.starts_with("  "))
        .collect();
    let mut names = Vec::new();
    let mut prefixes = Vec::new();
    for line in &listed {
        for (i, _) in line.match_indices("synedge_") {
            let rest = &line[i..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if rest[end..].starts_with('*') {
                prefixes.push(rest[..end].to_owned());
            } else {
                names.push(rest[..end].to_owned());
            }
        }
    }
    assert!(names.len() >= 15, "the README's Metrics list was not found");
    let dir = tempfile::tempdir().unwrap();
    let (_server, _, admin) = serve_demo(dir.path());
    let (status, text) = http_get(&admin, "/metrics");
    assert_eq!(status, 200);
    let exported: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for name in &names {
        assert!(
            exported.contains(&name.as_str()),
            "README lists {name}; not on /metrics"
        );
    }
    for prefix in &prefixes {
        assert!(
            exported.iter().any(|e| e.starts_with(prefix.as_str())),
            "README lists {prefix}*; nothing on /metrics"
        );
    }
    assert!(exported.iter().any(|e| e.starts_with("process_")));
    for name in exported.iter().filter(|e| e.starts_with("synedge_")) {
        assert!(
            names.iter().any(|n| n == name)
                || prefixes.iter().any(|p| name.starts_with(p.as_str())),
            "{name} is on /metrics but not in the README's Metrics list"
        );
    }
}

#[test]
fn the_access_log_line_is_what_synedge_writes() {
    use std::io::BufRead;
    use std::process::Stdio;
    let shown: serde_json::Value = readme_json("\"duration_ms\"");
    let target = shown["target"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // As the README turns it on: SYNEDGE_SERVER__ACCESS_LOG=json.
    let mut child = synedge(dir.path())
        .args(SERVE_ON_FREE_PORTS)
        .arg("--demo")
        .env("SYNEDGE_SERVER__ACCESS_LOG", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let stdout = child.stdout.take().unwrap();
    let _server = Server(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut public = String::new();
    let mut lines = stderr.lines().map_while(Result::ok);
    for line in lines.by_ref() {
        if line.contains("listening") {
            public = common::process::log_field(&line, "public");
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    assert!(!public.is_empty(), "no listening line");
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get(&public, "/readyz").0 != 200 {
        assert!(Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The README's line is a hit: ask twice.
    http_get(&public, target);
    let (status, body) = http_get(&public, target);
    assert_eq!(status, 200);
    let mut logged = None;
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["target"] == target && v["cache"] == "HIT" {
            logged = Some(v);
            break;
        }
    }
    let logged = logged.expect("no access-log line for the README's hit");
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&logged), keys(&shown), "{logged}");
    for field in ["method", "target", "status", "cache"] {
        assert_eq!(logged[field], shown[field], "{field}: {logged}");
    }
    assert_eq!(logged["bytes"], body.len(), "{logged}");
    assert!(logged["duration_ms"].is_f64(), "{logged}");
    let time = logged["time"].as_str().unwrap();
    let shown_time = shown["time"].as_str().unwrap();
    assert_eq!(time.len(), shown_time.len(), "{time}");
    assert!(time.ends_with('Z'), "{time}");
}

/// The simulation's printed summary, one row per policy: the README's table columns.
fn simulate(args: &[&str]) -> Vec<Vec<String>> {
    let out = synedge(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .skip_while(|l| !l.starts_with("policy "))
        .skip(1)
        .take_while(|l| !l.starts_with("synedge: wrote"))
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

/// Runs the README's `simulate` example for `profile` and checks that its table, the
/// `nth` (from 0) under a `| policy | minutes over SLO` header, is what it prints.
/// Returns the arguments run (`--out` into `out`).
fn check_simulation_table(profile: &str, nth: usize, out: &Path) -> Vec<String> {
    let block = block_with(&format!("simulate --profile {profile}"));
    let command = block.join(" ").replace('\\', " ");
    let args: Vec<String> = command
        .split_whitespace()
        .skip_while(|w| *w != "simulate")
        .map(|w| {
            if w == "simulation" {
                out.display().to_string()
            } else {
                w.to_owned()
            }
        })
        .collect();
    assert!(args.contains(&"--out".to_owned()), "{command}");
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let printed = simulate(&arg_refs);
    let header = README
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("| policy | minutes over SLO"))
        .nth(nth)
        .map(|(i, _)| i)
        .unwrap_or_else(|| panic!("no simulation table #{nth} in the README"));
    let table: Vec<Vec<String>> = README
        .lines()
        .skip(header + 2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.split('|')
                .map(|c| c.trim().replace(',', ""))
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(table.len(), 4, "{profile}: the README's simulation table");
    assert_eq!(printed.len(), table.len(), "{printed:?}");
    for (got, want) in printed.iter().zip(&table) {
        // Instance-hours are rounded to one decimal in the README.
        let hours: f64 = got[3].parse().unwrap();
        let mut got = got.clone();
        got[3] = format!("{hours:.1}");
        assert_eq!(
            got.as_slice(),
            want.as_slice(),
            "{profile}: README row {want:?}"
        );
    }
    args
}

#[test]
fn the_simulation_examples_print_the_readme_tables() {
    let out = tempfile::tempdir().unwrap();
    check_simulation_table("loadtest/profiles/unannounced.toml", 1, out.path());
    let args = check_simulation_table("loadtest/profiles/black-friday.toml", 0, out.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    // "Without it" (the scheduled floor), what synedge does.
    let config = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("loadtest/profiles/black-friday.scaler.toml"),
    )
    .unwrap();
    let unscheduled = out.path().join("no-schedule.toml");
    std::fs::write(
        &unscheduled,
        config.split("[[scaler.schedule]]").next().unwrap(),
    )
    .unwrap();
    let unscheduled = unscheduled.display().to_string();
    let mut args = args.clone();
    let at = args.iter().position(|a| *a == "--config").unwrap() + 1;
    args[at] = &unscheduled;
    let printed = simulate(&args);
    let synedge = &printed[0];
    let shed: u64 = synedge[2].parse().unwrap();
    let shed = thousands(shed);
    let prose = README.split_whitespace().collect::<Vec<_>>().join(" ");
    let said = format!(
        "synedge then has {} minutes over the SLO and sheds {shed} requests",
        synedge[1]
    );
    assert!(prose.contains(&said), "the README should say: {said}");
    assert!(
        prose.contains(&format!("on {} instance-hours", synedge[3])),
        "{synedge:?}"
    );
}

/// 35587 as the README writes it: 35,587.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn the_embed_attributes_are_what_the_loader_reads() {
    const LOADER: &str = include_str!("../src/server/assets/loader.js");
    let documented: Vec<&str> = README
        .lines()
        .skip_while(|l| !l.starts_with("| attribute | meaning |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .flat_map(|l| l.split('|').nth(1).unwrap().split('`').skip(1).step_by(2))
        .filter_map(|a| a.strip_prefix("data-"))
        .collect();
    assert!(documented.len() >= 5, "{documented:?}");
    // The loader reads `d.NAME` (d = script.dataset), and the identities by name.
    let read: Vec<&str> = LOADER
        .split("d.")
        .skip(1)
        .map(|rest| {
            rest.split(|c: char| !c.is_ascii_alphanumeric())
                .next()
                .unwrap()
        })
        .chain(["ean", "brand", "mpn", "sku"])
        .filter(|n| !n.is_empty())
        .collect();
    for name in &documented {
        assert!(
            read.contains(name),
            "README documents data-{name}; the loader ignores it"
        );
    }
    for name in &read {
        assert!(
            documented.contains(name),
            "the loader reads data-{name}; the README omits it"
        );
    }
    // And the example tag uses only documented attributes.
    let tag = block_with("<script async src=").join(" ");
    for attr in tag
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("data-"))
    {
        let name = attr.split('=').next().unwrap();
        assert!(
            documented.contains(&name),
            "the example tag sets data-{name}"
        );
    }
}

/// The Rust files of the package (src/, tests/, benches/).
fn rust_sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_rust_version_the_readme_names_is_the_packages() {
    // "Both need Rust 1.85 or newer": Cargo.toml's rust-version says the same, so clippy
    // (incompatible_msrv) refuses standard-library items newer than it.
    let said = README
        .split("need Rust ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("the README names no Rust version");
    let manifest = include_str!("../Cargo.toml");
    assert!(
        manifest.contains(&format!("rust-version = \"{said}\"")),
        "the README says Rust {said}; Cargo.toml's rust-version differs"
    );
    // Clippy does not check language features: let chains need Rust 1.88.
    let minor: u32 = said.split('.').nth(1).unwrap().parse().unwrap();
    if minor < 88 {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let chain = ["&&", " let "].concat(); // not written out: this file is scanned too
        let mut files = Vec::new();
        for dir in ["src", "tests", "benches"] {
            rust_sources(&root.join(dir), &mut files);
        }
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap();
                assert!(
                    !code.contains(&chain),
                    "{}:{}: a let chain needs Rust 1.88, the README says {said}",
                    file.display(),
                    n + 1
                );
            }
        }
    }
}

/// One HTTP/1.1 GET with `extra` header lines: (head, lowercased; body length).
fn get_head(addr: &str, path: &str, extra: &str) -> (String, usize) {
    let out = http_exchange(addr, path, extra);
    let at = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..at]).to_ascii_lowercase();
    (head, out.len() - at - 4)
}

#[test]
fn the_loader_is_as_small_and_cached_as_the_readme_says() {
    // "`/loader.js`, under 4 KiB, fresh for 5 minutes, then revalidated by ETag in the
    // background for up to an hour: `stale-while-revalidate=3600`", "(br/gzip, ETag,
    // max-age=300)".
    assert!(README.contains("`/loader.js`, under 4 KiB, fresh for 5 minutes"));
    assert!(README.contains("`stale-while-revalidate=3600`"));
    let dir = tempfile::tempdir().unwrap();
    let (_server, public, _) = spawn_serve(dir.path(), &[]);
    let (head, len) = get_head(&public, "/loader.js", "");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(len < 4096, "loader.js is {len} bytes");
    assert!(head.contains("\r\netag: \""), "{head}");
    assert!(
        head.contains("\r\ncache-control: public, max-age=300, stale-while-revalidate=3600\r\n"),
        "{head}"
    );
    for encoding in ["br", "gzip"] {
        let (head, _) = get_head(
            &public,
            "/loader.js",
            &format!("Accept-Encoding: {encoding}\r\n"),
        );
        assert!(
            head.contains(&format!("\r\ncontent-encoding: {encoding}\r\n")),
            "{head}"
        );
    }
}
