//! Layering: built-in defaults ← TOML file ← `SYNEDGE_*` variables ← `--set` flags,
//! each section read key by key so that every bad key is reported by its own name.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::*;

/// Where the configuration comes from; see [`load`].
#[derive(Debug, Default)]
pub struct Sources<'a> {
    /// `--config FILE`: must exist. Without it, [`DEFAULT_CONFIG_PATH`] is read when present.
    pub file: Option<&'a Path>,
    /// Environment pairs; only `SYNEDGE_<SECTION>__<KEY>` ones are used.
    pub env: Vec<(String, String)>,
    /// `section.key=value` overrides from flags, applied last.
    pub overrides: Vec<String>,
}

/// Builds the effective configuration from its layers and validates it.
///
/// # Errors
/// Every problem found: unreadable file, bad TOML, unknown keys, bad values, and what
/// [`Config::validate`] finds.
pub fn load(sources: &Sources<'_>) -> Result<Config, ConfigErrors> {
    let mut errors = Vec::new();
    let mut table = match sources.file {
        Some(path) => read_file(path, &mut errors),
        None if Path::new(DEFAULT_CONFIG_PATH).exists() => {
            read_file(Path::new(DEFAULT_CONFIG_PATH), &mut errors)
        }
        None => toml::Table::new(),
    };
    let defaults =
        toml::Table::try_from(Config::default()).expect("invariant: the default config serializes");
    let mut from = Provenance::new();
    for (name, value) in &sources.env {
        let Some(path) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if is_service_link(path) {
            continue;
        }
        let path = path.to_ascii_lowercase().replace("__", ".");
        set_path(&mut table, &defaults, &path, value, name, &mut errors);
        from.insert(path, name.clone());
    }
    for o in &sources.overrides {
        match o.split_once('=') {
            Some((path, value)) => {
                set_path(
                    &mut table,
                    &defaults,
                    path.trim(),
                    value,
                    "--set",
                    &mut errors,
                );
                from.insert(path.trim().to_owned(), format!("--set {o}"));
            }
            None => errors.push(ConfigError::new(
                "--set",
                format!("{o:?} is not section.key=value"),
            )),
        }
    }
    let config = from_table(table, &from, &mut errors);
    errors.extend(config.validate());
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(errors))
    }
}

fn read_file(path: &Path, errors: &mut Vec<ConfigError>) -> toml::Table {
    let where_ = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => text.parse::<toml::Table>().unwrap_or_else(|e| {
            // file:line:column, as editors and compilers point at a place.
            let at = e.span().map_or(where_.clone(), |span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!("{where_}:{line}:{column}")
            });
            errors.push(ConfigError::new(
                at,
                format!("not valid TOML: {}", e.message().trim()),
            ));
            toml::Table::new()
        }),
        Err(e) => {
            errors.push(ConfigError::new(
                where_,
                format!("cannot read the config file: {e}"),
            ));
            toml::Table::new()
        }
    }
}

/// Whether `SYNEDGE_<rest>` is one of the variables Kubernetes gives every pod for each
/// Service in its namespace (`SYNEDGE_SERVICE_HOST`, `SYNEDGE_PORT_8080_TCP_ADDR`,
/// `SYNEDGE_ADMIN_SERVICE_PORT` for Services named `synedge` and `synedge-admin`, …):
/// not configuration, though it has our prefix. None has the `__` every key has.
fn is_service_link(rest: &str) -> bool {
    !rest.contains("__")
        && (rest.contains("SERVICE_HOST")
            || rest.contains("SERVICE_PORT")
            || rest.split('_').any(|w| w == "PORT"))
}

/// Sets `section.key[.sub…]` from a string, typed like the default value at that path
/// (so `SYNEDGE_ADMIN__TOKEN=1234` stays a string and `…MAX_CONNECTIONS=10` a number).
fn set_path(
    table: &mut toml::Table,
    defaults: &toml::Table,
    path: &str,
    raw: &str,
    source: &str,
    errors: &mut Vec<ConfigError>,
) {
    let parts: Vec<&str> = path.split('.').collect();
    if parts.len() < 2 || parts.iter().any(|p| p.is_empty()) {
        errors.push(ConfigError::new(
            source,
            format!("{path:?} does not name section.key"),
        ));
        return;
    }
    let default = parts
        .iter()
        .try_fold(None::<&toml::Value>, |cur, p| match cur {
            None => defaults.get(*p).map(Some),
            Some(v) => v.get(*p).map(Some),
        })
        .flatten();
    let value = match default {
        Some(toml::Value::String(_)) | None if !looks_like_toml_collection(raw) => {
            toml::Value::String(raw.to_owned())
        }
        _ => match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
            Ok(mut t) => t.remove("v").expect("invariant: the key v was just parsed"),
            // Not a TOML literal: keep it as a string and let the section report the type.
            Err(_) => toml::Value::String(raw.to_owned()),
        },
    };
    let (last, dirs) = parts.split_last().expect("invariant: at least two parts");
    let mut cur = table;
    for d in dirs {
        let slot = cur
            .entry((*d).to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(t) = slot else {
            errors.push(ConfigError::new(source, format!("{d:?} is not a section")));
            return;
        };
        cur = t;
    }
    cur.insert((*last).to_owned(), value);
}

fn looks_like_toml_collection(raw: &str) -> bool {
    let t = raw.trim_start();
    t.starts_with('[') || t.starts_with('{')
}

/// Where each key set by a variable or a flag came from (`SYNEDGE_CACHE__TTL`, `--set`),
/// so that its problem says so; keys not in it came from the file.
type Provenance = std::collections::HashMap<String, String>;

const SECTIONS: [&str; 8] = [
    "server", "admin", "origin", "cache", "tls", "events", "scaler", "shutdown",
];

/// Reads each section key by key, so that every bad key is reported, by its own name.
fn from_table(mut table: toml::Table, from: &Provenance, errors: &mut Vec<ConfigError>) -> Config {
    let config = Config {
        server: section(&mut table, "server", from, errors),
        admin: section(&mut table, "admin", from, errors),
        origin: section(&mut table, "origin", from, errors),
        cache: section(&mut table, "cache", from, errors),
        tls: section(&mut table, "tls", from, errors),
        events: section(&mut table, "events", from, errors),
        scaler: section(&mut table, "scaler", from, errors),
        shutdown: section(&mut table, "shutdown", from, errors),
    };
    for unknown in table.keys() {
        let hint = nearest(unknown, SECTIONS.iter().copied())
            .map_or_else(String::new, |n| format!("did you mean [{n}]? "));
        errors.push(ConfigError::new(
            unknown.clone(),
            format!(
                "unknown section; {hint}the sections are {}",
                SECTIONS.join(", ")
            ),
        ));
    }
    config
}

/// Section `name` of `table`: its defaults, with each given key that reads well on its
/// own; a key that does not is reported (with the default as an example of a good value)
/// and left at its default.
fn section<T>(
    table: &mut toml::Table,
    name: &str,
    from: &Provenance,
    errors: &mut Vec<ConfigError>,
) -> T
where
    T: for<'de> Deserialize<'de> + Serialize + Default,
{
    let Some(given) = table.remove(name) else {
        return T::default();
    };
    let toml::Value::Table(given) = given else {
        errors.push(ConfigError::new(
            name,
            format!("must be a section ([{name}]), not a single value"),
        ));
        return T::default();
    };
    let defaults =
        toml::Table::try_from(T::default()).expect("invariant: every section's defaults serialize");
    let mut accepted = defaults.clone();
    let mut path = vec![name.to_owned()];
    check_keys::<T>(&defaults, &given, &mut path, &mut accepted, from, errors);
    toml::Value::Table(accepted)
        .try_into()
        .unwrap_or_else(|e: toml::de::Error| {
            errors.push(ConfigError::new(name, e.message().trim().to_owned()));
            T::default()
        })
}

/// Tries each value of `given` (at `path` below the section) alone on top of the
/// section's defaults; keeps those that read, reports the others.
fn check_keys<T>(
    defaults: &toml::Table,
    given: &toml::Table,
    path: &mut Vec<String>,
    accepted: &mut toml::Table,
    from: &Provenance,
    errors: &mut Vec<ConfigError>,
) where
    T: for<'de> Deserialize<'de>,
{
    for (k, v) in given {
        path.push(k.clone());
        let below = &path[1..];
        let default = value_at(defaults, below);
        match (v, default) {
            // A sub-table with defaults of its own (`[scaler.up]`): key by key too.
            (toml::Value::Table(sub), Some(toml::Value::Table(_))) => {
                check_keys::<T>(defaults, sub, path, accepted, from, errors);
            }
            _ => {
                let mut trial = defaults.clone();
                set_value_at(&mut trial, below, v.clone());
                match toml::Value::Table(trial).try_into::<T>() {
                    Ok(_) => set_value_at(accepted, below, v.clone()),
                    Err(e) => {
                        let key = path.join(".");
                        let mut message =
                            explain(e.message().trim(), v, default, &path[..path.len() - 1]);
                        if let Some(source) = from.get(&key) {
                            message.push_str(&format!(" (set by {source})"));
                        }
                        errors.push(ConfigError::new(key, message));
                    }
                }
            }
        }
        path.pop();
    }
}

fn value_at<'a>(t: &'a toml::Table, path: &[String]) -> Option<&'a toml::Value> {
    let (first, rest) = path.split_first()?;
    let v = t.get(first)?;
    if rest.is_empty() {
        Some(v)
    } else {
        value_at(v.as_table()?, rest)
    }
}

fn set_value_at(t: &mut toml::Table, path: &[String], value: toml::Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        t.insert(first.clone(), value);
        return;
    }
    let slot = t
        .entry(first.clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(sub) = slot {
        set_value_at(sub, rest, value);
    }
}

/// serde's message for one bad value, said for a person: an unknown key with the
/// nearest known one, a wrong type with the default as an example of a good value.
fn explain(
    message: &str,
    given: &toml::Value,
    default: Option<&toml::Value>,
    parent: &[String],
) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let known: Vec<&str> = rest
            .split('`')
            .skip(1)
            .filter(|p| p.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !p.is_empty())
            .collect();
        let name = rest.split('`').next().unwrap_or_default();
        let prefix = parent.join(".");
        return match nearest(name, known.iter().copied()) {
            Some(n) => format!("unknown key; did you mean {prefix}.{n}?"),
            None => format!(
                "unknown key; the keys of [{prefix}] are {}",
                known.join(", ")
            ),
        };
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let wanted = rest.split_once(", expected ").map_or("", |(_, w)| w);
        let wanted = match wanted {
            "usize" | "u64" | "u32" | "u16" | "u8" | "i64" | "i32" => "a whole number",
            "f64" | "f32" => "a number",
            w => w,
        };
        let example = default.map_or_else(String::new, |d| format!("; write e.g. {d}"));
        return format!("{given} is not {wanted}{example}");
    }
    message.to_owned()
}

/// The candidate closest to `word` in edit distance, if close enough to be a typo.
fn nearest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = (diag + usize::from(ca != *cb)).min(row[j] + 1).min(up + 1);
            diag = up;
        }
    }
    row[b.len()]
}

/// The environment pairs of this process, for [`Sources::env`].
pub fn process_env() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect()
}
