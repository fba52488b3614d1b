//! The operations kit against the real server: the Prometheus rules and alerts
//! (`deploy/prometheus/synedge.rules.yml`, unit-tested by `synedge.rules.test.yml`) and
//! the Grafana dashboard (`deploy/grafana/synedge.json`).
//!
//! Every metric name and label value that a PromQL expression of the rules or of the
//! dashboard selects must be in a real `/metrics` scrape of a server that answered a few
//! requests; recording rules used anywhere must be defined in the rules file. `promtool`
//! (Debian `prometheus`) checks the rules, runs their unit tests and lints the scrape;
//! without it those checks print SKIPPED, unless `SYNEDGE_REQUIRE_PROMTOOL` is set (as
//! `.ci/run` does after installing it), in which case a missing promtool fails.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{TestServer, acme};
use http::StatusCode;
use serde_json::Value;

const RULES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/deploy/prometheus/synedge.rules.yml"
);
const RULES_TEST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/deploy/prometheus/synedge.rules.test.yml"
);
const DASHBOARD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/grafana/synedge.json");

// ---------------------------------------------------------------------------------------
// A real scrape.

/// One sample line of the text exposition.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed `/metrics` answer.
#[derive(Debug)]
struct Scrape {
    text: String,
    samples: Vec<Sample>,
    /// `# TYPE` of each family.
    types: BTreeMap<String, String>,
}

impl Scrape {
    fn parse(text: &str) -> Self {
        let mut samples = Vec::new();
        let mut types = BTreeMap::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(t) = line.strip_prefix("# TYPE ") {
                let (name, kind) = t.split_once(' ').expect("# TYPE name kind");
                types.insert(name.to_owned(), kind.trim().to_owned());
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let name_end = line.find(['{', ' ']).expect("a sample has a value");
            let name = line[..name_end].to_owned();
            let mut labels = BTreeMap::new();
            let mut rest = &line[name_end..];
            if rest.starts_with('{') {
                let (pairs, after) = parse_label_pairs(&rest[1..]);
                labels = pairs;
                rest = after;
            }
            let value = rest
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no value in {line:?}"));
            samples.push(Sample {
                name,
                labels,
                value,
            });
        }
        Self {
            text: text.to_owned(),
            samples,
            types,
        }
    }

    fn has_name(&self, name: &str) -> bool {
        self.samples.iter().any(|s| s.name == name)
    }

    fn has_label(&self, name: &str, label: &str, value: &str) -> bool {
        self.samples
            .iter()
            .any(|s| s.name == name && s.labels.get(label).is_some_and(|v| v == value))
    }

    /// The sum of the samples of `name` whose labels include `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).is_some_and(|x| x == v))
            })
            .map(|s| s.value)
            .sum()
    }
}

/// `a="x",b="y"}` → the pairs and what follows the `}`.
fn parse_label_pairs(s: &str) -> (BTreeMap<String, String>, &str) {
    let mut out = BTreeMap::new();
    let b = s.as_bytes();
    let mut i = 0;
    loop {
        while i < b.len() && (b[i] == b',' || b[i].is_ascii_whitespace()) {
            i += 1;
        }
        if i >= b.len() {
            panic!("unterminated labels in {s:?}");
        }
        if b[i] == b'}' {
            return (out, &s[i + 1..]);
        }
        let k0 = i;
        while b[i] != b'=' {
            i += 1;
        }
        let key = s[k0..i].trim().to_owned();
        i += 1;
        assert_eq!(b[i], b'"', "label value not quoted in {s:?}");
        let (value, len) = read_string(&s[i..]);
        i += len;
        out.insert(key, value);
    }
}

/// Reads a quoted string at the start of `s` (`"`, `'` or a backtick); returns its value
/// and the bytes it took, quotes included.
fn read_string(s: &str) -> (String, usize) {
    let quote = s.chars().next().unwrap();
    let mut value = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if quote != '`' => {
                let (_, e) = chars.next().expect("escape at end of string");
                value.push(match e {
                    'n' => '\n',
                    other => other,
                });
            }
            c if c == quote => return (value, i + 1),
            c => value.push(c),
        }
    }
    panic!("unterminated string in {s:?}");
}

/// A server that answered one request of each kind, and its `/metrics`.
async fn exercised_scrape() -> Scrape {
    let s = TestServer::start_with(|c| c.events.flush_interval = Duration::from_millis(20)).await;
    let miss = s.get(&acme("shop-one", "en-GB")).await;
    assert_eq!(miss.status, StatusCode::OK);
    assert_eq!(miss.header("x-cache"), "MISS");
    let hit = s.get(&acme("shop-one", "en-GB")).await;
    assert_eq!(hit.header("x-cache"), "HIT");
    let etag = hit.header("etag").to_owned();
    let not_modified = s
        .get_with(&acme("shop-one", "en-GB"), &[("if-none-match", &etag)])
        .await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    // No content in that locale: 204, then cached ("negative").
    let no_content = acme("shop-one", "fr-FR");
    assert_eq!(s.get(&no_content).await.status, StatusCode::NO_CONTENT);
    assert_eq!(s.get(&no_content).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        s.get("/v1/fragment?retailer=shop-one").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(s.get("/nowhere").await.status, StatusCode::NOT_FOUND);
    assert_eq!(s.get("/loader.js").await.status, StatusCode::OK);
    assert_eq!(s.get("/demo").await.status, StatusCode::OK);
    let beacon =
        r#"[{"type":"view","retailer":"shop-one","locale":"en-GB","ean":"4006381333931"}]"#;
    assert_eq!(s.post_events(beacon).await.status, StatusCode::ACCEPTED);
    assert_eq!(
        s.post_events("not json").await.status,
        StatusCode::BAD_REQUEST
    );
    // Written by the batch writer, then published by the once-a-second upkeep.
    let mut scrape = None;
    for _ in 0..300 {
        let m = s.admin_get("/metrics").await;
        assert_eq!(m.status, StatusCode::OK);
        let parsed = Scrape::parse(m.text());
        if parsed.value("synedge_events_written_total", &[]) >= 1.0
            && parsed.value("synedge_events_flush_duration_seconds_count", &[]) >= 1.0
        {
            scrape = Some(parsed);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    s.stop().await;
    let scrape = scrape.expect("the beacon was never written");
    // The requests above, as the metrics the dashboard and alerts read.
    for (name, labels) in [
        (
            "synedge_http_requests_total",
            &[("route", "fragment"), ("status", "200")][..],
        ),
        (
            "synedge_http_requests_total",
            &[("route", "fragment"), ("status", "204")],
        ),
        (
            "synedge_http_requests_total",
            &[("route", "fragment"), ("status", "304")],
        ),
        (
            "synedge_http_requests_total",
            &[("route", "fragment"), ("status", "400")],
        ),
        (
            "synedge_http_requests_total",
            &[("route", "events"), ("status", "202")],
        ),
        (
            "synedge_http_request_duration_seconds_bucket",
            &[("route", "fragment"), ("le", "0.1")],
        ),
        ("synedge_cache_requests_total", &[("result", "hit")]),
        ("synedge_cache_requests_total", &[("result", "miss")]),
        ("synedge_cache_requests_total", &[("result", "negative")]),
        ("synedge_origin_requests_total", &[("result", "found")]),
        ("synedge_origin_request_duration_seconds_count", &[]),
        ("synedge_events_accepted_total", &[]),
        ("synedge_events_rejected_total", &[("reason", "invalid")]),
        ("synedge_concurrency_limit", &[]),
        ("process_resident_memory_bytes", &[]),
    ] {
        assert!(
            scrape.value(name, labels) > 0.0,
            "{name}{labels:?} is 0 after the requests:\n{}",
            scrape.text
        );
    }
    scrape
}

// ---------------------------------------------------------------------------------------
// PromQL: the metric names and label matchers an expression selects.

/// `(label, op, value)`, op one of `=`, `!=`, `=~`, `!~`.
type Matcher = (String, String, String);

/// A vector selector: `name{label op "value", ...}`.
#[derive(Debug, Clone, PartialEq)]
struct Selector {
    name: String,
    matchers: Vec<Matcher>,
}

const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

const FUNCTIONS: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "avg_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "cos",
    "cosh",
    "count_over_time",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "deg",
    "delta",
    "deriv",
    "double_exponential_smoothing",
    "end",
    "exp",
    "floor",
    "histogram_avg",
    "histogram_count",
    "histogram_fraction",
    "histogram_quantile",
    "histogram_stddev",
    "histogram_stdvar",
    "histogram_sum",
    "holt_winters",
    "hour",
    "idelta",
    "increase",
    "info",
    "irate",
    "label_join",
    "label_replace",
    "last_over_time",
    "ln",
    "log10",
    "log2",
    "mad_over_time",
    "max_over_time",
    "min_over_time",
    "minute",
    "month",
    "pi",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rad",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sin",
    "sinh",
    "sort",
    "sort_by_label",
    "sort_by_label_desc",
    "sort_desc",
    "sqrt",
    "start",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
    "tan",
    "tanh",
    "time",
    "timestamp",
    "vector",
    "year",
];

/// Keywords followed by a parenthesized list of label names (skipped).
const LABEL_LIST_KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// Other keywords that are not metric names.
const KEYWORDS: &[&str] = &[
    "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan",
];

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_ident(c: u8) -> bool {
    is_ident_start(c) || c.is_ascii_digit()
}

/// Index just past the bracket that closes the one at `open`.
fn skip_balanced(s: &str, open: usize) -> Result<usize, String> {
    let b = s.as_bytes();
    let (o, c) = (b[open], if b[open] == b'(' { b')' } else { b']' });
    let mut depth = 0;
    let mut i = open;
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' | b'`' => i += read_string(&s[i..]).1 - 1,
            x if x == o => depth += 1,
            x if x == c => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Err(format!("unbalanced {:?} in {s:?}", o as char))
}

/// Parses `label op "value", ...}` from just after a `{`; returns the matchers and the
/// index just past the `}`.
fn parse_matchers(s: &str, mut i: usize) -> Result<(Vec<Matcher>, usize), String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    loop {
        while i < b.len() && (b[i] == b',' || b[i].is_ascii_whitespace()) {
            i += 1;
        }
        match b.get(i) {
            None => return Err(format!("unterminated {{ in {s:?}")),
            Some(b'}') => return Ok((out, i + 1)),
            Some(c) if is_ident_start(*c) => {}
            Some(c) => return Err(format!("unexpected {:?} in a matcher of {s:?}", *c as char)),
        }
        let k0 = i;
        while i < b.len() && is_ident(b[i]) {
            i += 1;
        }
        let label = s[k0..i].to_owned();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let op = ["=~", "!~", "!=", "="]
            .into_iter()
            .find(|op| s[i..].starts_with(op))
            .ok_or_else(|| format!("no operator after {label:?} in {s:?}"))?;
        i += op.len();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if !matches!(b.get(i), Some(b'"' | b'\'' | b'`')) {
            return Err(format!("label value of {label:?} not quoted in {s:?}"));
        }
        let (value, len) = read_string(&s[i..]);
        i += len;
        out.push((label, op.to_owned(), value));
    }
}

/// The vector selectors of a PromQL expression (Grafana variables such as `$job` and
/// `$__rate_interval` allowed). An identifier is a metric name unless it is a function,
/// an aggregation, a keyword, or a label name in `{...}` or in a `by (...)`-style list;
/// a call of a function this parser does not know is an error, not a metric.
fn selectors(expr: &str) -> Result<Vec<Selector>, String> {
    let b = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let next_non_space = |mut j: usize| {
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        j
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' | b'\'' | b'`' => i += read_string(&expr[i..]).1,
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            // Ranges, subqueries: durations only.
            b'[' => i = skip_balanced(expr, i)?,
            // A selector without a name: `{__name__="x"}`.
            b'{' => {
                let (matchers, end) = parse_matchers(expr, i + 1)?;
                let name = matchers
                    .iter()
                    .find(|(l, op, _)| l == "__name__" && op == "=")
                    .map(|(_, _, v)| v.clone())
                    .ok_or_else(|| format!("a selector without a metric name in {expr:?}"))?;
                out.push(Selector { name, matchers });
                i = end;
            }
            b'$' => {
                i += 1;
                if b.get(i) == Some(&b'{') {
                    while i < b.len() && b[i] != b'}' {
                        i += 1;
                    }
                    i += 1;
                } else {
                    while i < b.len() && is_ident(b[i]) {
                        i += 1;
                    }
                }
            }
            c if c.is_ascii_digit()
                || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) =>
            {
                // A number or a duration: 0.1, 1e-3, 14.4, 5m, 1h30m, 0x1F.
                while i < b.len() {
                    if (b[i] == b'e' || b[i] == b'E') && matches!(b.get(i + 1), Some(b'+' | b'-')) {
                        i += 2;
                    } else if b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_' {
                        i += 1;
                    } else {
                        break;
                    }
                }
            }
            c if is_ident_start(c) => {
                let start = i;
                while i < b.len() && is_ident(b[i]) {
                    i += 1;
                }
                let word = &expr[start..i];
                let lower = word.to_ascii_lowercase();
                let after = next_non_space(i);
                let call = b.get(after) == Some(&b'(');
                if LABEL_LIST_KEYWORDS.contains(&lower.as_str()) {
                    if call {
                        i = skip_balanced(expr, after)?;
                    }
                } else if KEYWORDS.contains(&lower.as_str())
                    || AGGREGATIONS.contains(&word)
                    || FUNCTIONS.contains(&word)
                {
                    // Not a metric; a call's arguments are read on.
                } else if call {
                    return Err(format!("unknown PromQL function {word:?} in {expr:?}"));
                } else {
                    let mut matchers = Vec::new();
                    if b.get(after) == Some(&b'{') {
                        let (m, end) = parse_matchers(expr, after + 1)?;
                        matchers = m;
                        i = end;
                    }
                    out.push(Selector {
                        name: word.to_owned(),
                        matchers,
                    });
                }
            }
            _ => i += 1,
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// The rules file and the dashboard.

/// What a Prometheus rules file (YAML) defines and queries, read without a YAML parser:
/// `record:` names, and every `expr:` (inline, or a `|`/`>` block scalar).
#[derive(Debug, Default)]
struct RulesFile {
    records: BTreeSet<String>,
    alerts: BTreeSet<String>,
    /// `(where, expr)`.
    exprs: Vec<(String, String)>,
}

fn yaml_scalar(v: &str) -> String {
    let v = v.trim();
    if (v.starts_with('"') && v.ends_with('"') || v.starts_with('\'') && v.ends_with('\''))
        && v.len() >= 2
    {
        v[1..v.len() - 1].replace("''", "'")
    } else {
        v.to_owned()
    }
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn parse_rules(text: &str) -> RulesFile {
    let mut out = RulesFile::default();
    let lines: Vec<&str> = text.lines().collect();
    let mut current = String::from("(top)");
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim_start().trim_start_matches("- ").trim_start();
        if let Some(name) = t.strip_prefix("record:") {
            current = yaml_scalar(name);
            out.records.insert(current.clone());
        } else if let Some(name) = t.strip_prefix("alert:") {
            current = yaml_scalar(name);
            out.alerts.insert(current.clone());
        } else if let Some(v) = t.strip_prefix("expr:") {
            let v = v.trim();
            if v.starts_with('|') || v.starts_with('>') {
                let base = indent_of(line);
                let mut body = Vec::new();
                while i + 1 < lines.len()
                    && (lines[i + 1].trim().is_empty() || indent_of(lines[i + 1]) > base)
                {
                    i += 1;
                    body.push(lines[i].trim());
                }
                out.exprs.push((current.clone(), body.join("\n")));
            } else {
                out.exprs.push((current.clone(), yaml_scalar(v)));
            }
        }
        i += 1;
    }
    out
}

/// `(where, expr)` of every dashboard query: panel targets and `label_values(...)`
/// variable queries (their selector argument).
fn dashboard_exprs(d: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in all_panels(d) {
        let title = p["title"].as_str().unwrap_or("?");
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(e) = t["expr"].as_str() {
                out.push((format!("panel {title:?}"), e.to_owned()));
            }
        }
    }
    for v in d["templating"]["list"].as_array().into_iter().flatten() {
        if v["type"] != "query" {
            continue;
        }
        let q = v["query"]["query"]
            .as_str()
            .or(v["query"].as_str())
            .unwrap_or_default();
        if let Some(inner) = q
            .trim()
            .strip_prefix("label_values(")
            .and_then(|r| r.strip_suffix(')'))
        {
            let selector = inner.rsplit_once(',').map_or(inner, |(s, _)| s);
            out.push((format!("variable ${}", v["name"]), selector.to_owned()));
        } else {
            out.push((format!("variable ${}", v["name"]), q.to_owned()));
        }
    }
    out
}

/// Panels, those nested in collapsed rows included.
fn all_panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().into_iter().flatten() {
        out.push(p);
        for inner in p["panels"].as_array().into_iter().flatten() {
            out.push(inner);
        }
    }
    out
}

/// Checks `exprs` against a scrape: every metric name is exported (or is a recording
/// rule in `records`), and every `label="value"` matcher names a label value some
/// exported series has. Returns the problems, one a line, and the names seen.
fn check_exprs(
    exprs: &[(String, String)],
    records: &BTreeSet<String>,
    scrape: &Scrape,
) -> (Vec<String>, BTreeSet<String>) {
    let mut problems = Vec::new();
    let mut names = BTreeSet::new();
    for (place, expr) in exprs {
        let sels = match selectors(expr) {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("{place}: {e}"));
                continue;
            }
        };
        if sels.is_empty() && !expr.trim().is_empty() {
            problems.push(format!("{place}: no metric selected by {expr:?}"));
        }
        for sel in sels {
            names.insert(sel.name.clone());
            if sel.name.contains(':') {
                if !records.contains(&sel.name) {
                    problems.push(format!(
                        "{place}: recording rule {} is not defined in the rules file",
                        sel.name
                    ));
                }
                continue;
            }
            if !scrape.has_name(&sel.name) {
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| sel.name.strip_suffix(suffix));
                let hint = match scrape.types.get(&sel.name) {
                    Some(kind) => {
                        format!(" (a {kind} family: query its _bucket, _sum or _count series)")
                    }
                    None if family.is_some_and(|f| scrape.types.contains_key(f)) => {
                        format!(
                            " ({} is a {}, not a histogram)",
                            family.unwrap(),
                            scrape.types[family.unwrap()]
                        )
                    }
                    None => String::new(),
                };
                problems.push(format!(
                    "{place}: metric {} is not in the scrape{hint}",
                    sel.name
                ));
                continue;
            }
            for (label, op, value) in &sel.matchers {
                // Target labels are Prometheus's, and variables are Grafana's.
                if op != "=" || value.contains('$') || ["job", "instance"].contains(&label.as_str())
                {
                    continue;
                }
                if !scrape.has_label(&sel.name, label, value) {
                    problems.push(format!(
                        "{place}: no {}{{{label}=\"{value}\"}} series in the scrape",
                        sel.name
                    ));
                }
            }
        }
    }
    (problems, names)
}

// ---------------------------------------------------------------------------------------
// The tests.

#[tokio::test]
async fn every_metric_the_rules_and_the_dashboard_query_is_exported() {
    let scrape = exercised_scrape().await;
    let rules = parse_rules(&std::fs::read_to_string(RULES).unwrap());
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(DASHBOARD).unwrap())
        .expect("the dashboard is JSON");
    assert!(rules.records.len() >= 16, "{:?}", rules.records);
    assert!(rules.alerts.len() >= 10, "{:?}", rules.alerts);

    let (problems, rule_names) = check_exprs(&rules.exprs, &rules.records, &scrape);
    assert!(problems.is_empty(), "{RULES}:\n{}", problems.join("\n"));
    let dash = dashboard_exprs(&dashboard);
    let (problems, dash_names) = check_exprs(&dash, &rules.records, &scrape);
    assert!(problems.is_empty(), "{DASHBOARD}:\n{}", problems.join("\n"));

    // The parse found what is there, rather than passing on nothing.
    for name in [
        "synedge_http_requests_total",
        "synedge_shed_requests_total",
        "synedge_http_request_duration_seconds_bucket",
        "synedge_http_request_duration_seconds_count",
        "synedge_origin_breaker_state",
        "synedge_scaler_decisions_total",
        "synedge_events_queue_depth",
        "job:synedge_fragment_availability_errors:ratio_rate1h",
        "job:synedge_fragment_latency_slow:ratio_rate5m",
    ] {
        assert!(rule_names.contains(name), "{name} not found in the rules");
    }
    for name in [
        "synedge_http_requests_total",
        "synedge_http_request_duration_seconds_bucket",
        "synedge_cache_requests_total",
        "synedge_origin_request_duration_seconds_bucket",
        "synedge_origin_breaker_state",
        "synedge_shed_requests_total",
        "synedge_events_queue_depth",
        "synedge_events_accepted_total",
        "synedge_events_written_total",
        "synedge_scaler_desired_instances",
        "synedge_scaler_current_instances",
        "synedge_http_in_flight_requests",
        "synedge_concurrency_limit",
        "job:synedge_fragment_availability_errors:ratio_rate30d",
        "job:synedge_fragment_latency_slow:ratio_rate30d",
    ] {
        assert!(
            dash_names.contains(name),
            "{name} not found in the dashboard"
        );
    }

    // The unit tests feed series the server really exports.
    let test_text = std::fs::read_to_string(RULES_TEST).unwrap();
    let series: Vec<(String, String)> = test_text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- series:"))
        .map(|s| ("rules test input".to_owned(), yaml_scalar(s)))
        .collect();
    assert!(series.len() > 20, "{series:?}");
    let (problems, _) = check_exprs(&series, &rules.records, &scrape);
    assert!(
        problems.is_empty(),
        "{RULES_TEST}:\n{}",
        problems.join("\n")
    );

    // And the check does fail on a misspelling in the real files.
    let text = std::fs::read_to_string(RULES).unwrap();
    for (from, to, expect) in [
        (
            "synedge_shed_requests_total[5m]",
            "synedge_shed_request_total[5m]",
            "metric synedge_shed_request_total is not in the scrape",
        ),
        (
            "le=\"0.1\"",
            "le=\"0.10\"",
            "no synedge_http_request_duration_seconds_bucket{le=\"0.10\"} series",
        ),
        (
            "reason=\"max_instances\", direction",
            "reason=\"max\", direction",
            "no synedge_scaler_decisions_total{reason=\"max\"} series",
        ),
    ] {
        let broken = parse_rules(&text.replacen(from, to, 1));
        let (problems, _) = check_exprs(&broken.exprs, &broken.records, &scrape);
        assert!(
            problems.iter().any(|p| p.contains(expect)),
            "{from} → {to} not caught: {problems:?}"
        );
    }
}

#[test]
fn the_promql_reader_tells_metrics_from_functions_labels_and_variables() {
    let names = |e: &str| -> Vec<String> {
        selectors(e)
            .unwrap_or_else(|err| panic!("{err}"))
            .into_iter()
            .map(|s| s.name)
            .collect()
    };
    assert_eq!(
        names(concat!(
            "sum without (direction, reason) ",
            "(rate(a_total{reason=\"x}\", direction!=\"down\"}[10m])) / on (job) ",
            "group_left (instance) sum by (job)(rate(b_total[$__rate_interval] offset 1h))"
        )),
        ["a_total", "b_total"]
    );
    assert_eq!(
        names(concat!(
            "histogram_quantile(0.99, sum by (le) ",
            "(rate(h_bucket{route=\"fragment\", instance=~\"$instance\"}[5m]))) > bool 1e-3 ",
            "and job:x:ratio_rate5m > (14.4 * 0.0001) unless max_over_time(c[1h:5m])",
            " # a comment naming not_a_metric\n",
        )),
        ["h_bucket", "job:x:ratio_rate5m", "c"]
    );
    let m = &selectors("x{le=\"0.1\", route=~'a|b'}").unwrap()[0];
    assert_eq!(
        m.matchers,
        [
            ("le".to_owned(), "=".to_owned(), "0.1".to_owned()),
            ("route".to_owned(), "=~".to_owned(), "a|b".to_owned())
        ]
    );
    assert!(
        selectors("rates(x[5m])")
            .unwrap_err()
            .contains("unknown PromQL function")
    );

    // Against a scrape: a misspelled metric, a histogram queried by its family name, a
    // label value that does not exist, and an undefined recording rule are all reported.
    let scrape = Scrape::parse(
        "# TYPE synedge_http_requests_total counter\n\
         synedge_http_requests_total{route=\"fragment\",status=\"200\"} 3\n\
         # TYPE synedge_http_request_duration_seconds histogram\n\
         synedge_http_request_duration_seconds_bucket{route=\"fragment\",le=\"0.1\"} 3\n\
         synedge_http_request_duration_seconds_bucket{route=\"fragment\",le=\"+Inf\"} 3\n\
         synedge_http_request_duration_seconds_sum{route=\"fragment\"} 0.01\n\
         synedge_http_request_duration_seconds_count{route=\"fragment\"} 3\n",
    );
    let records = BTreeSet::from(["job:ok:ratio".to_owned()]);
    let check = |e: &str| check_exprs(&[("t".to_owned(), e.to_owned())], &records, &scrape).0;
    assert_eq!(
        check(
            "sum(rate(synedge_http_requests_total{route=\"fragment\"}[5m])) / job:ok:ratio \
             + rate(synedge_http_request_duration_seconds_bucket{le=\"0.1\"}[5m])"
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        check("sum(rate(synedge_http_request_total[5m]))"),
        ["t: metric synedge_http_request_total is not in the scrape"]
    );
    assert!(
        check("rate(synedge_http_request_duration_seconds[5m])")[0].contains("a histogram family")
    );
    assert!(check("rate(synedge_http_requests_total_count[5m])")[0].contains("not in the scrape"));
    assert_eq!(
        check("synedge_http_requests_total{route=\"fragments\"}"),
        ["t: no synedge_http_requests_total{route=\"fragments\"} series in the scrape"]
    );
    assert!(check("job:missing:ratio > 1")[0].contains("not defined"));
}

#[test]
fn the_dashboard_is_grafana_json_with_a_query_in_every_panel() {
    let text = std::fs::read_to_string(DASHBOARD).unwrap();
    let d: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    assert!(d["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(d["uid"].as_str().is_some_and(|t| !t.is_empty()));
    let schema = d["schemaVersion"].as_u64().expect("schemaVersion");
    assert!((36..=41).contains(&schema), "schemaVersion {schema}");

    // Variables: a Prometheus data source one, and the ones the queries use.
    let vars = d["templating"]["list"].as_array().expect("templating.list");
    let ds = vars
        .iter()
        .find(|v| v["type"] == "datasource")
        .expect("a data source variable");
    assert_eq!(ds["query"], "prometheus");
    let ds_ref = format!("${{{}}}", ds["name"].as_str().unwrap());
    let defined: BTreeSet<&str> = vars.iter().filter_map(|v| v["name"].as_str()).collect();
    assert!(
        defined.contains("instance") || defined.contains("pod"),
        "{defined:?}"
    );
    for v in vars.iter().filter(|v| v["type"] == "query") {
        assert_eq!(
            v["datasource"]["uid"],
            ds_ref.as_str(),
            "variable {}",
            v["name"]
        );
    }

    let panels = all_panels(&d);
    assert!(panels.len() >= 15, "{} panels", panels.len());
    let mut ids = BTreeSet::new();
    let mut titles = Vec::new();
    for p in &panels {
        let title = p["title"].as_str().unwrap_or_default();
        assert!(!title.trim().is_empty(), "a panel without a title: {p}");
        titles.push(title.to_owned());
        let id = p["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("{title:?} has no id"));
        assert!(ids.insert(id), "panel id {id} is used twice ({title:?})");
        let pos = &p["gridPos"];
        for k in ["x", "y", "w", "h"] {
            assert!(pos[k].is_u64(), "{title:?}: gridPos.{k}");
        }
        assert!(
            pos["x"].as_u64().unwrap() + pos["w"].as_u64().unwrap() <= 24,
            "{title:?}"
        );
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["type"], "prometheus", "{title:?}");
        assert_eq!(p["datasource"]["uid"], ds_ref.as_str(), "{title:?}");
        let targets = p["targets"].as_array().filter(|t| !t.is_empty());
        let targets = targets.unwrap_or_else(|| panic!("{title:?} has no targets"));
        let mut refs = BTreeSet::new();
        for t in targets {
            let expr = t["expr"].as_str().unwrap_or_default();
            assert!(!expr.trim().is_empty(), "{title:?}: a target without expr");
            assert!(
                refs.insert(t["refId"].as_str().unwrap_or_default()),
                "{title:?}: refId used twice"
            );
            assert_eq!(t["datasource"]["uid"], ds_ref.as_str(), "{title:?}");
            // Every $variable is defined (or one of Grafana's own).
            for var in expr.split('$').skip(1) {
                let name: String = var
                    .trim_start_matches('{')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                assert!(
                    name.starts_with("__") || defined.contains(name.as_str()),
                    "{title:?}: ${name} is not a dashboard variable"
                );
            }
        }
    }
    // What the operations issue asks the dashboard to show.
    for wanted in [
        "requests per second by status",
        "p50 / p95 / p99",
        "cache hit ratio",
        "origin latency",
        "origin circuit breaker",
        "shed rate",
        "event queue depth",
        "accepted / written",
        "desired vs current",
        "availability error budget remaining",
        "latency error budget remaining",
        "in-flight",
        "concurrency limit",
    ] {
        assert!(
            titles.iter().any(|t| t.to_lowercase().contains(wanted)),
            "no panel about {wanted:?} in {titles:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// promtool.

/// `promtool` from `$PROMTOOL` or `PATH`; `None` (after saying so) when there is none and
/// none is required.
fn promtool(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PROMTOOL").map(PathBuf::from).or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|dir| dir.join("promtool"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        common::skip(
            test,
            "SYNEDGE_REQUIRE_PROMTOOL",
            "no promtool on this machine; install it (apt-get install prometheus) or set \
             PROMTOOL=/path/to/promtool",
        );
    }
    found
}

/// Runs `promtool args...` (with `stdin`, if any); returns success and its output.
fn run_promtool(bin: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {}: {e}", bin.display()));
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("$ promtool {}\n{text}", args.join(" "));
    (out.status.success(), text)
}

#[tokio::test]
async fn promtool_accepts_the_rules_passes_their_tests_and_lints_the_scrape_clean() {
    let Some(bin) =
        promtool("promtool_accepts_the_rules_passes_their_tests_and_lints_the_scrape_clean")
    else {
        return;
    };
    let (ok, out) = run_promtool(&bin, &["--version"], None);
    assert!(ok, "{out}");

    let (ok, out) = run_promtool(&bin, &["check", "rules", RULES], None);
    assert!(
        ok && out.contains("SUCCESS"),
        "promtool check rules:\n{out}"
    );

    let (ok, out) = run_promtool(&bin, &["test", "rules", RULES_TEST], None);
    assert!(ok && out.contains("SUCCESS"), "promtool test rules:\n{out}");

    let scrape = exercised_scrape().await;
    let (ok, out) = run_promtool(&bin, &["check", "metrics"], Some(&scrape.text));
    assert!(
        ok && out.trim().is_empty(),
        "promtool check metrics on a real scrape:\n{out}"
    );
}
