//! The `synedge import FILE.ndjson` and `synedge seed --demo` commands: check or
//! generate a catalog and stream it into the store named by `origin.url`, with progress
//! bars.
//!
//! Invariant: a catalog with any bad line writes nothing. The whole file is checked first
//! ([`super::check_ndjson`], in bounded memory) before the store is touched (it is not
//! even created or connected to); then it is read again and written in one transaction
//! ([`super::write`]), which a refused EAN or a store error rolls back.
//!
//! Progress bars draw on stderr only when it is a terminal, so logs and CI output stay
//! clean. These are CLI edges, hence `anyhow`.

use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal as _, Write as _};
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::write::{ImportSummary, Input, Options, WriteError, write_catalog};
use super::{LineError, check_ndjson, read_lines, seed};
use crate::origin::{self, import::CatalogStore};
use crate::store_url::StoreUrl;

/// Read buffer for catalog files.
const READ_BUFFER: usize = 1 << 20;

/// Imports the NDJSON catalog `file` into the store at `origin_url` (`sqlite://PATH` or
/// `postgres://…`). Prints every problem to stderr. Returns the summary for the caller
/// to print.
///
/// # Errors
/// The URL names no store that takes imports, the file cannot be read, any line is
/// invalid or refused (then nothing was written), or the store cannot be opened or
/// written.
pub fn run_import(
    origin_url: &str,
    file: &Path,
    timeout: Duration,
    options: Options,
) -> anyhow::Result<ImportSummary> {
    let url = catalog_url(origin_url)?;
    let open = || -> std::io::Result<BufReader<File>> {
        Ok(BufReader::with_capacity(READ_BUFFER, File::open(file)?))
    };
    let reader = open().with_context(|| format!("opening catalog {}", file.display()))?;
    let len = reader.get_ref().metadata().map(|m| m.len()).ok();

    let bar = progress_bar(
        len,
        "{msg:>9} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
        "checking",
    );
    let checked = check_ndjson(reader, |n| bar.set_position(n), open);
    bar.finish_and_clear();
    let records = checked.map_err(|errors| refused(file, &errors))?;

    let lines = read_lines(open().with_context(|| format!("opening catalog {}", file.display()))?)
        .map(|l| l.map(|(line, bytes)| Input::Line(line, bytes)));
    with_store(&url, timeout, |store| {
        write_records(store, lines, records, options).map_err(|e| match e {
            WriteError::Refused(errors) => refused(file, &errors),
            WriteError::Store(e) => e,
        })
    })
}

/// Streams `seed::demo_records(products)` into the store at `origin_url`, and writes one
/// request path per product (see [`seed::request_paths`]) to `paths_out` when given, for
/// load tests.
///
/// # Errors
/// The URL names no store that takes imports, `products` is 0, or the store or the
/// paths file cannot be written.
pub fn run_seed(
    origin_url: &str,
    products: usize,
    paths_out: Option<&Path>,
    timeout: Duration,
) -> anyhow::Result<ImportSummary> {
    let url = catalog_url(origin_url)?;
    anyhow::ensure!(products > 0, "--products must be at least 1");
    let summary = with_store(&url, timeout, |store| seed_store(store, products))?;
    if let Some(out) = paths_out {
        write_paths(out, products)
            .with_context(|| format!("writing request paths to {}", out.display()))?;
    }
    Ok(summary)
}

/// Writes the demo catalog of `products` products into `store` (`serve --demo`, `seed`).
/// Blocks.
///
/// # Errors
/// The store failed; nothing was written.
pub fn seed_store(store: &dyn CatalogStore, products: usize) -> anyhow::Result<ImportSummary> {
    // Two locales per product, four for every third (see `seed`).
    let total = products.saturating_mul(2) + products.div_ceil(3).saturating_mul(2);
    let records = seed::demo_records(products)
        .enumerate()
        .map(|(i, r)| Ok(Input::Record(i + 1, r)));
    write_records(store, records, total, Options::default()).map_err(|e| match e {
        WriteError::Store(e) => e,
        refused => anyhow::anyhow!("the demo catalog was refused: {refused}"),
    })
}

fn write_paths(out: &Path, products: usize) -> std::io::Result<()> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut w = BufWriter::new(File::create(out)?);
    for i in 0..products {
        writeln!(w, "{}", seed::request_path(i))?;
    }
    w.flush()
}

/// `origin_url` as a store that takes imports.
fn catalog_url(origin_url: &str) -> anyhow::Result<StoreUrl> {
    const WHICH: &str = "import writes to a SQLite or PostgreSQL store";
    let url =
        StoreUrl::parse(origin_url).map_err(|e| anyhow::anyhow!("{WHICH}; origin.url {e}"))?;
    anyhow::ensure!(
        url.scheme() != crate::store_url::Scheme::Http,
        "{WHICH}; origin.url is an http(s) upstream, set it to sqlite://PATH or \
         postgres://USER@HOST/DATABASE (for example with SYNEDGE_ORIGIN__URL)"
    );
    Ok(url)
}

/// Opens the store at `url` on a runtime of its own (the PostgreSQL store's connections
/// live on it) and runs `f` while the runtime runs, on a thread of its own, so that this
/// works from synchronous code and from within another runtime alike.
fn with_store<T: Send>(
    url: &StoreUrl,
    timeout: Duration,
    f: impl FnOnce(&dyn CatalogStore) -> anyhow::Result<T> + Send,
) -> anyhow::Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("synedge-import")
                .enable_all()
                .build()
                .context("starting the async runtime for the import")?;
            let store = runtime.block_on(origin::open(url, timeout))?;
            let catalog = store
                .catalog
                .context("this store does not take catalog imports")?;
            f(catalog.as_ref())
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Prints `errors` and says how many there were.
fn refused(file: &Path, errors: &[LineError]) -> anyhow::Error {
    let mut stderr = std::io::stderr().lock();
    for e in errors {
        // Best effort: failing to print a problem must not hide the failure.
        let _ = writeln!(stderr, "{}: {e}", file.display());
    }
    anyhow::anyhow!(
        "{}: {} problem{} found; nothing was written",
        file.display(),
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    )
}

fn write_records(
    store: &dyn CatalogStore,
    input: impl Iterator<Item = std::io::Result<Input>> + Send,
    total: usize,
    options: Options,
) -> Result<ImportSummary, WriteError> {
    let bar = progress_bar(
        Some(total as u64),
        "{msg:>9} [{bar:40}] {human_pos}/{human_len} fragments ({per_sec}, {eta} left)",
        "writing",
    );
    let progress = |n: usize| {
        bar.set_position(n as u64);
        if n >= total {
            bar.set_message("committing");
        }
    };
    let summary = write_catalog(store, input, options, &progress);
    bar.finish_and_clear();
    summary
}

fn progress_bar(len: Option<u64>, template: &str, message: &'static str) -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(len, target);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message);
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FragmentRequest;
    use crate::origin::sqlite::SqliteOrigin;
    use crate::origin::{Lookup, Origin as _};

    const LINE: &str = r#"{"brand": "Acme", "mpn": "X-100/B", "ean": ["4006381333931"], "locale": "en-GB", "html": "<div>hi</div>", "retailers": ["shop-one", "*"], "skus": {"shop-one": "SKU-123"}}"#;

    #[test]
    fn imports_a_file_and_reimports_as_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("catalog.ndjson");
        std::fs::write(&file, format!("{LINE}\n{}\n", LINE.replace("en-GB", "de"))).unwrap();
        let url = format!("sqlite://{}", dir.path().join("db/synedge.db").display());
        let s = run_import(&url, &file, Duration::from_secs(5), Options::default()).unwrap();
        assert_eq!(
            s.to_string(),
            "imported 2 fragments for 1 product (2 new or changed, 0 unchanged)"
        );
        let s = run_import(&url, &file, Duration::from_secs(5), Options::default()).unwrap();
        assert_eq!((s.changed, s.unchanged), (0, 2));
    }

    #[test]
    fn one_bad_line_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("synedge.db");
        let url = format!("sqlite://{}", db.display());
        // A store with content already; the failed import must leave it as it was.
        let good = dir.path().join("good.ndjson");
        std::fs::write(&good, format!("{LINE}\n")).unwrap();
        run_import(&url, &good, Duration::from_secs(5), Options::default()).unwrap();

        let bad = dir.path().join("bad.ndjson");
        let other = LINE
            .replace("X-100/B", "X-200")
            .replace("4006381333931", "96385074")
            .replace("SKU-123", "SKU-200");
        std::fs::write(
            &bad,
            format!(
                "{other}\n{}\n",
                LINE.replace("\"html\": \"<div>hi</div>\"", "\"html\": \"\"")
            ),
        )
        .unwrap();
        let e = run_import(&url, &bad, Duration::from_secs(5), Options::default()).unwrap_err();
        assert!(
            e.to_string()
                .contains("1 problem found; nothing was written"),
            "{e}"
        );

        let origin = SqliteOrigin::open(db.to_str().unwrap(), Duration::from_secs(5)).unwrap();
        assert_eq!(origin.change_counter().unwrap(), 1);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let req =
            FragmentRequest::from_query("retailer=shop-one&locale=en-GB&ean=96385074").unwrap();
        let l = rt.block_on(origin.fetch(&req)).unwrap();
        assert_eq!(
            l,
            Lookup::NoContent {
                brand: None,
                product_id: None
            }
        );

        // A bad catalog never creates a store either.
        let fresh = dir.path().join("fresh.db");
        let url = format!("sqlite://{}", fresh.display());
        assert!(run_import(&url, &bad, Duration::from_secs(5), Options::default()).is_err());
        assert!(!fresh.exists());
    }

    #[test]
    fn refuses_other_stores_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("catalog.ndjson");
        std::fs::write(&file, LINE).unwrap();
        let e = run_import(
            "mysql://db/synedge",
            &file,
            Duration::from_secs(1),
            Options::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("SQLite or PostgreSQL store"), "{e}");
        // A PostgreSQL server that is not there: named, without the password.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = format!("postgres://synedge:hunter2@127.0.0.1:{port}/synedge");
        let e = run_import(&pg, &file, Duration::from_secs(1), Options::default()).unwrap_err();
        let text = format!("{e:#}");
        assert!(
            text.contains(&format!("synedge:***@127.0.0.1:{port}")),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
        assert!(
            run_import(
                "data/synedge.db",
                &file,
                Duration::from_secs(1),
                Options::default()
            )
            .is_err()
        );
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let e = run_import(
            &url,
            &dir.path().join("missing.ndjson"),
            Duration::from_secs(1),
            Options::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("missing.ndjson"), "{e}");
        assert!(run_seed(&url, 0, None, Duration::from_secs(1)).is_err());
    }

    #[test]
    fn every_seeded_request_path_resolves() {
        const N: usize = 150;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("synedge.db");
        let paths = dir.path().join("out/paths.txt");
        let url = format!("sqlite://{}", db.display());
        let s = run_seed(&url, N, Some(&paths), Duration::from_secs(5)).unwrap();
        assert_eq!(s.products, N);
        assert_eq!(s.records, seed::demo_catalog(N).len());
        assert_eq!(s.changed, s.records);

        let text = std::fs::read_to_string(&paths).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), N);

        let origin = SqliteOrigin::open(db.to_str().unwrap(), Duration::from_secs(5)).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            for path in &lines {
                let query = path.strip_prefix("/v1/fragment?").unwrap();
                let req = FragmentRequest::from_query(query).unwrap();
                assert!(
                    matches!(origin.fetch(&req).await.unwrap(), Lookup::Found(_)),
                    "{path}"
                );
            }
            // The demo cases: language fallback, and a retailer without rights.
            let q = "retailer=shop-one&locale=de-AT&ean=4006381333931";
            let Lookup::Found(f) = origin
                .fetch(&FragmentRequest::from_query(q).unwrap())
                .await
                .unwrap()
            else {
                panic!("de-AT should fall back to de");
            };
            assert!(
                std::str::from_utf8(&f.html)
                    .unwrap()
                    .contains("lang=\"de\"")
            );
            let mut denied = 0;
            for path in &lines {
                let q = path
                    .strip_prefix("/v1/fragment?")
                    .unwrap()
                    .replace("shop-one", "outlet-24");
                if let Lookup::NoContent { brand: Some(_), .. } = origin
                    .fetch(&FragmentRequest::from_query(&q).unwrap())
                    .await
                    .unwrap()
                {
                    denied += 1;
                }
            }
            assert!(denied > 0 && denied < N, "{denied}");
        });
    }
}
