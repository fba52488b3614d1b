//! The embedded default origin store: one SQLite file (`sqlite://data/synedge.db`).
//!
//! Role: answer cache misses ([`Origin::fetch`]), take catalog imports
//! ([`SqliteOrigin::import`]), and keep the events rollup ([`EventStore`]). The file and
//! its schema are created on first open; version 1 files gain the rollup table then.
//!
//! Concurrency: the file runs in WAL mode, so readers never wait for the writer and the
//! server keeps answering while `synedge import` writes. Lookups run on a small pool of
//! read-only connections inside `spawn_blocking` (SQLite calls block), at most
//! [`READ_POOL_SIZE`] at once; a tokio semaphore queues the rest without tying up
//! blocking threads. Writes go through one read-write connection behind a mutex.
//!
//! Invariants:
//! - An import is one transaction: a catalog is in the store completely or not at all.
//! - `content.version` is [`content_version`] of `content.html`, and `gzip`/`br` are
//!   compressions of that same `html` (or NULL when not worth it), so the cache can send
//!   them as they are. `updated_at` changes only when `version` does.
//! - Grants are only ever added by imports.
//! - `catalog_meta.change_counter` grows by one with every committed import, so other
//!   processes can notice that the catalog changed by polling one row.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use bytes::Bytes;
use rusqlite::{Connection, OpenFlags, OptionalExtension as _, TransactionBehavior, params};
use tokio::sync::Semaphore;

use super::{BoxFuture, Fragment, Invalidation, Lookup, Origin, OriginError, content_version};
use crate::catalog::CatalogRecord;
use crate::compress::compress;
use crate::domain::FragmentRequest;
use crate::events::{
    EventStore, RollupKey, StatsCursor, StatsFilter, StatsLimit, StatsPage, StatsRow,
};

/// Read-only connections kept for lookups. Lookups are indexed point reads that take
/// microseconds; a few connections saturate the two cores this runs on, and the cache
/// in front makes misses rare.
pub const READ_POOL_SIZE: usize = 4;

/// The schema version this build writes and reads (`PRAGMA user_version`). Version 1
/// files (no events rollup) are migrated at open.
pub const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE products (
    id         INTEGER PRIMARY KEY,
    brand      TEXT NOT NULL,              -- as written in the catalog, for display
    brand_norm TEXT NOT NULL,              -- domain::normalize_brand
    mpn        TEXT NOT NULL,              -- as written, for display
    mpn_norm   TEXT NOT NULL,              -- domain::normalize_identity
    UNIQUE (brand_norm, mpn_norm)
);
CREATE TABLE product_eans (
    gtin14     TEXT PRIMARY KEY,           -- 14 digits, see domain::Gtin14
    product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE
);
CREATE INDEX product_eans_by_product ON product_eans(product_id);
CREATE TABLE retailer_skus (
    retailer   TEXT NOT NULL,
    sku        TEXT NOT NULL,
    product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    PRIMARY KEY (retailer, sku)
) WITHOUT ROWID;
CREATE INDEX retailer_skus_by_product ON retailer_skus(product_id);
CREATE TABLE content (
    product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    locale     TEXT NOT NULL,              -- lowercase BCP 47, see domain::Locale
    html       BLOB NOT NULL,
    gzip       BLOB,                       -- NULL: not worth compressing
    br         BLOB,
    version    TEXT NOT NULL,              -- origin::content_version(html)
    updated_at INTEGER NOT NULL,           -- unix seconds of the last change of version
    PRIMARY KEY (product_id, locale)
);
CREATE TABLE grants (
    brand_norm TEXT NOT NULL,
    retailer   TEXT NOT NULL,              -- a retailer slug, or '*' for all
    PRIMARY KEY (brand_norm, retailer)
) WITHOUT ROWID;
CREATE TABLE catalog_meta (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    change_counter INTEGER NOT NULL       -- +1 per committed import
);
INSERT INTO catalog_meta (id, change_counter) VALUES (1, 0);
";

/// Version 1 → 2: the events rollup (DESIGN.md §7), one row per day, retailer, product,
/// locale and event type. `day` is `YYYY-MM-DD` text, so ranges compare as strings.
const MIGRATION_2: &str = "
CREATE TABLE event_rollup (
    day TEXT NOT NULL,
    retailer TEXT NOT NULL,
    product TEXT NOT NULL,
    locale TEXT NOT NULL,
    type TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (day, retailer, product, locale, type)
) WITHOUT ROWID;
CREATE INDEX event_rollup_by_retailer ON event_rollup(retailer, day);
";

const SQL_ROLLUP_ADD: &str = "INSERT INTO event_rollup (day, retailer, product, locale, type, count) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
     ON CONFLICT (day, retailer, product, locale, type) DO UPDATE SET count = count + excluded.count";
/// One stats page: the rows after a key (the cursor, or the start of `from`) up to the
/// last day, in primary-key order. The row-value comparison on the primary key's columns
/// makes it one range of the table's own b-tree, so a page costs its rows, not the rows
/// before it. A retailer filter is checked on the rows of that range.
const SQL_STATS: &str = "SELECT day, retailer, product, locale, type, count FROM event_rollup \
     WHERE (day, retailer, product, locale, type) > (?1, ?2, ?3, ?4, ?5) AND day <= ?6 \
     AND (?7 IS NULL OR retailer = ?7) \
     ORDER BY day, retailer, product, locale, type LIMIT ?8";

const SQL_PRODUCT_BY_EAN: &str = "SELECT p.id, p.brand_norm, p.mpn_norm FROM product_eans e \
     JOIN products p ON p.id = e.product_id WHERE e.gtin14 = ?1";
const SQL_PRODUCT_BY_BRAND_MPN: &str =
    "SELECT id, brand_norm, mpn_norm FROM products WHERE brand_norm = ?1 AND mpn_norm = ?2";
const SQL_PRODUCT_BY_SKU: &str = "SELECT p.id, p.brand_norm, p.mpn_norm FROM retailer_skus s \
     JOIN products p ON p.id = s.product_id WHERE s.retailer = ?1 AND s.sku = ?2";
const SQL_GRANTED: &str =
    "SELECT EXISTS (SELECT 1 FROM grants WHERE brand_norm = ?1 AND retailer IN (?2, '*'))";
const SQL_CONTENT: &str = "SELECT html, gzip, br, version, updated_at FROM content \
     WHERE product_id = ?1 AND locale = ?2";
const SQL_VERSION_BY_IDENTITY: &str = "SELECT c.version FROM content c \
     JOIN products p ON p.id = c.product_id \
     WHERE p.brand_norm = ?1 AND p.mpn_norm = ?2 AND c.locale = ?3";

const SQL_CHANGE_COUNTER: &str = "SELECT change_counter FROM catalog_meta WHERE id = 1";
/// How often a running server looks for imports made by other processes.
pub const CHANGE_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// The SQLite origin store. Cheap to share behind an `Arc`.
pub struct SqliteOrigin {
    /// For messages: which file this is.
    path: String,
    /// Bounds every lookup, including the wait for a pooled connection.
    timeout: Duration,
    /// The one read-write connection: imports and maintenance queries. Writers are
    /// serialized by SQLite anyway; the mutex makes that explicit in-process.
    writer: Mutex<Connection>,
    /// Shared with the blocking lookup tasks, which must be `'static`.
    readers: Arc<ReadPool>,
}

/// Read-only connections, opened on demand and kept for reuse.
struct ReadPool {
    path: String,
    timeout: Duration,
    /// Idle connections. Held only to push or pop, never during a query.
    idle: Mutex<Vec<Connection>>,
    /// One permit per connection that may exist: with a permit, popping or opening a
    /// connection never exceeds [`READ_POOL_SIZE`].
    permits: Arc<Semaphore>,
}

impl fmt::Debug for SqliteOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteOrigin")
            .field("path", &self.path)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportSummary {
    /// Records (product-locale fragments) in the import.
    pub records: usize,
    /// Distinct products among them.
    pub products: usize,
    /// Content rows inserted or whose HTML changed.
    pub changed: usize,
    /// Content rows whose HTML was already stored as is (kept, with their `updated_at`).
    pub unchanged: usize,
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "imported {} fragments for {} products ({} new or changed, {} unchanged)",
            self.records, self.products, self.changed, self.unchanged
        )
    }
}

impl SqliteOrigin {
    /// Opens the store at `path` (a file path, the part after `sqlite://`), creating the
    /// parent directories, the file and the schema when missing. `timeout` bounds every
    /// lookup and is SQLite's busy timeout (how long a write waits for another writer).
    ///
    /// # Errors
    /// The file cannot be created or opened, is not a SQLite database, or has a schema
    /// version this build does not know.
    pub fn open(path: &str, timeout: Duration) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !path.is_empty() && path != ":memory:" && !path.starts_with("file:"),
            "sqlite origin path must be a file path, as in sqlite://data/synedge.db (got {path:?})"
        );
        if let Some(dir) = Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("creating directory {} for the sqlite origin", dir.display())
            })?;
        }
        let mut writer = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("opening sqlite origin {path}"))?;
        writer.busy_timeout(timeout)?;
        let mode: String = writer
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .with_context(|| format!("{path} is not a usable SQLite database"))?;
        anyhow::ensure!(
            mode.eq_ignore_ascii_case("wal"),
            "sqlite origin {path}: could not switch to WAL mode (journal_mode is {mode})"
        );
        // WAL makes NORMAL durable across application crashes; only an OS crash or power
        // loss can lose the last commits, never corrupt the file.
        writer.pragma_update(None, "synchronous", "NORMAL")?;
        writer.pragma_update(None, "foreign_keys", true)?;
        writer.set_prepared_statement_cache_capacity(32);
        migrate(&mut writer).with_context(|| format!("preparing the schema of {path}"))?;

        Ok(Self {
            path: path.to_owned(),
            timeout,
            writer: Mutex::new(writer),
            readers: Arc::new(ReadPool {
                path: path.to_owned(),
                timeout,
                idle: Mutex::new(Vec::with_capacity(READ_POOL_SIZE)),
                permits: Arc::new(Semaphore::new(READ_POOL_SIZE)),
            }),
        })
    }

    /// Whether the store holds no content at all (then `serve --demo` seeds it).
    ///
    /// # Errors
    /// The query failed.
    pub fn is_empty(&self) -> anyhow::Result<bool> {
        let conn = self.writer();
        let any: bool =
            conn.query_row("SELECT EXISTS (SELECT 1 FROM content)", [], |r| r.get(0))?;
        Ok(!any)
    }

    /// How many imports have been committed to this store, ever. Changes exactly when
    /// an import commits, so a poller can tell that cached fragments may be outdated.
    ///
    /// # Errors
    /// The query failed.
    pub fn change_counter(&self) -> anyhow::Result<i64> {
        let conn = self.writer();
        Ok(conn.query_row(SQL_CHANGE_COUNTER, [], |r| r.get(0))?)
    }

    /// Imports `records` in one transaction: all of them or, on error, none.
    ///
    /// Products are upserted by normalized brand + MPN (display spellings take the new
    /// values); an EAN or SKU that belonged to another product moves to this one;
    /// content is replaced when its HTML changed, and left alone (with its `updated_at`,
    /// and without recompressing) when it did not; grants are added, never removed.
    ///
    /// Compression, the slow part, runs first, in parallel over all cores, before the
    /// write transaction starts, so the write lock is held only for the inserts.
    /// `on_progress` is called with the number of records prepared so far (compressed,
    /// or found unchanged); it reaches `records.len()` just before the transaction.
    ///
    /// Blocks; call it from a blocking context.
    ///
    /// # Errors
    /// A database error (nothing was written), for example another writer holding the
    /// lock for longer than the timeout.
    pub fn import(
        &self,
        records: &[CatalogRecord],
        mut on_progress: impl FnMut(usize),
    ) -> anyhow::Result<ImportSummary> {
        let versions: Vec<String> = records
            .iter()
            .map(|r| content_version(r.html.as_bytes()))
            .collect();

        // What is stored now, to skip compressing content that did not change. Read
        // outside the transaction; the transaction checks again (see below).
        let mut stored_same = vec![false; records.len()];
        {
            let conn = self.writer();
            let mut stmt = conn.prepare_cached(SQL_VERSION_BY_IDENTITY)?;
            for (i, r) in records.iter().enumerate() {
                let stored: Option<String> = stmt
                    .query_row(
                        params![r.brand_mpn.brand, r.brand_mpn.mpn, r.locale.as_str()],
                        |row| row.get(0),
                    )
                    .optional()?;
                stored_same[i] = stored.as_deref() == Some(versions[i].as_str());
            }
        }
        let todo: Vec<usize> = (0..records.len()).filter(|&i| !stored_same[i]).collect();
        let mut compressed =
            compress_all(records, &todo, records.len() - todo.len(), &mut on_progress);

        let now = unix_now();
        let mut products = HashSet::new();
        let mut summary = ImportSummary {
            records: records.len(),
            ..ImportSummary::default()
        };
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .with_context(|| format!("starting the import transaction on {}", self.path))?;
        {
            let mut upsert_product = tx.prepare_cached(
                "INSERT INTO products (brand, brand_norm, mpn, mpn_norm) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (brand_norm, mpn_norm) DO UPDATE SET brand = excluded.brand, mpn = excluded.mpn \
                 RETURNING id",
            )?;
            let mut upsert_ean = tx.prepare_cached(
                "INSERT INTO product_eans (gtin14, product_id) VALUES (?1, ?2) \
                 ON CONFLICT (gtin14) DO UPDATE SET product_id = excluded.product_id \
                 WHERE product_id IS NOT excluded.product_id",
            )?;
            let mut upsert_sku = tx.prepare_cached(
                "INSERT INTO retailer_skus (retailer, sku, product_id) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (retailer, sku) DO UPDATE SET product_id = excluded.product_id \
                 WHERE product_id IS NOT excluded.product_id",
            )?;
            let mut stored_version = tx.prepare_cached(
                "SELECT version FROM content WHERE product_id = ?1 AND locale = ?2",
            )?;
            let mut upsert_content = tx.prepare_cached(
                "INSERT INTO content (product_id, locale, html, gzip, br, version, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT (product_id, locale) DO UPDATE SET html = excluded.html, \
                 gzip = excluded.gzip, br = excluded.br, version = excluded.version, \
                 updated_at = excluded.updated_at",
            )?;
            let mut insert_grant = tx.prepare_cached(
                "INSERT OR IGNORE INTO grants (brand_norm, retailer) VALUES (?1, ?2)",
            )?;
            let mut granted = HashSet::new();

            for (i, r) in records.iter().enumerate() {
                let id: i64 = upsert_product.query_row(
                    params![r.brand, r.brand_mpn.brand, r.mpn, r.brand_mpn.mpn],
                    |row| row.get(0),
                )?;
                products.insert(id);
                for ean in &r.eans {
                    upsert_ean.execute(params![ean.as_str(), id])?;
                }
                for (retailer, sku) in &r.skus {
                    upsert_sku.execute(params![retailer.as_str(), sku.as_str(), id])?;
                }
                // Checked again inside the transaction: another import may have
                // committed since the read above, or this import may repeat a record.
                let stored: Option<String> = stored_version
                    .query_row(params![id, r.locale.as_str()], |row| row.get(0))
                    .optional()?;
                if stored.as_deref() == Some(versions[i].as_str()) {
                    summary.unchanged += 1;
                } else {
                    let (gzip, br) = compressed
                        .remove(&i)
                        .unwrap_or_else(|| compress(r.html.as_bytes()));
                    upsert_content.execute(params![
                        id,
                        r.locale.as_str(),
                        r.html.as_bytes(),
                        gzip.as_deref(),
                        br.as_deref(),
                        versions[i],
                        now
                    ])?;
                    summary.changed += 1;
                }
                for retailer in &r.retailers {
                    if granted.insert((r.brand_mpn.brand.as_str(), retailer.as_str())) {
                        insert_grant.execute(params![r.brand_mpn.brand, retailer])?;
                    }
                }
            }
            tx.execute(
                "UPDATE catalog_meta SET change_counter = change_counter + 1 WHERE id = 1",
                [],
            )?;
        }
        tx.commit()
            .with_context(|| format!("committing the import to {}", self.path))?;
        summary.products = products.len();
        Ok(summary)
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock rolled back its transaction when the guard's
        // `Transaction` dropped; the connection itself is still usable.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Creates the schema in a fresh file, upgrades version 1 files, refuses files from a
/// newer build.
fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    // IMMEDIATE: two processes opening a new file at once must not both create tables.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    match version {
        0 => {
            let tables: i64 = tx.query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
                [],
                |r| r.get(0),
            )?;
            anyhow::ensure!(
                tables == 0,
                "the file holds tables but no synedge schema version; is it another application's database?"
            );
            tx.execute_batch(SCHEMA)?;
            tx.execute_batch(MIGRATION_2)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        }
        1 => {
            tx.execute_batch(MIGRATION_2)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        }
        SCHEMA_VERSION => {}
        v => anyhow::bail!(
            "schema version {v} is not supported by this build (it knows version {SCHEMA_VERSION}); \
             use a newer synedge"
        ),
    }
    tx.commit()?;
    Ok(())
}

use crate::compress::Variants;

/// Compresses the records at `todo` on every core. `already` records need no work and
/// count as done for `on_progress`.
fn compress_all(
    records: &[CatalogRecord],
    todo: &[usize],
    already: usize,
    on_progress: &mut impl FnMut(usize),
) -> HashMap<usize, Variants> {
    on_progress(already);
    if todo.is_empty() {
        return HashMap::new();
    }
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(todo.len());
    let chunk = todo.len().div_ceil(workers);
    let done = AtomicUsize::new(0);
    let mut out = HashMap::with_capacity(todo.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = todo
            .chunks(chunk)
            .map(|indices| {
                let done = &done;
                s.spawn(move || {
                    indices
                        .iter()
                        .map(|&i| {
                            let v = compress(records[i].html.as_bytes());
                            done.fetch_add(1, Ordering::Relaxed);
                            (i, v)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        // This thread reports progress while the workers run.
        while !handles
            .iter()
            .all(std::thread::ScopedJoinHandle::is_finished)
        {
            on_progress(already + done.load(Ordering::Relaxed));
            std::thread::sleep(Duration::from_millis(50));
        }
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part),
                // Re-raise a worker's panic here: it is a bug, not a data problem.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    on_progress(already + todo.len());
    out
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl ReadPool {
    /// Runs `f` on a pooled read-only connection, on a blocking thread.
    fn run<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> impl std::future::Future<Output = Result<T, OriginError>> + Send + 'static {
        let pool = Arc::clone(self);
        async move {
            let permit = Arc::clone(&pool.permits)
                .acquire_owned()
                .await
                .map_err(|_| OriginError::Unavailable("sqlite read pool closed".to_owned()))?;
            let task = tokio::task::spawn_blocking(move || {
                // The permit lives until the connection is back in the pool.
                let _permit = permit;
                let popped = pool
                    .idle
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .pop();
                let conn = match popped {
                    Some(c) => c,
                    None => pool.open_reader().map_err(map_error)?,
                };
                let result = f(&conn).map_err(map_error);
                pool.idle
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(conn);
                result
            });
            match task.await {
                Ok(result) => result,
                Err(_) => Err(OriginError::Unavailable(
                    "sqlite lookup task failed".to_owned(),
                )),
            }
        }
    }

    fn open_reader(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(self.timeout)?;
        conn.set_prepared_statement_cache_capacity(16);
        Ok(conn)
    }
}

/// Damaged data is [`OriginError::Corrupt`] (retrying will not help); anything else,
/// such as a locked or missing file, is [`OriginError::Unavailable`].
fn map_error(e: rusqlite::Error) -> OriginError {
    use rusqlite::ErrorCode;
    let corrupt = match &e {
        rusqlite::Error::SqliteFailure(f, _) => {
            matches!(f.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
        }
        rusqlite::Error::InvalidColumnType(..) | rusqlite::Error::FromSqlConversionFailure(..) => {
            true
        }
        _ => false,
    };
    if corrupt {
        OriginError::Corrupt(format!("sqlite: {e}"))
    } else {
        OriginError::Unavailable(format!("sqlite: {e}"))
    }
}

/// The product a request names: row id, normalized brand, normalized MPN.
type ProductRow = (i64, String, String);

/// The whole lookup of DESIGN.md §2 on one connection: identity, grant, locale.
fn lookup(conn: &Connection, req: &FragmentRequest) -> rusqlite::Result<Lookup> {
    let product_row = |row: &rusqlite::Row<'_>| -> rusqlite::Result<ProductRow> {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
    };
    let mut product: Option<ProductRow> = None;
    if let Some(ean) = &req.ean {
        product = conn
            .prepare_cached(SQL_PRODUCT_BY_EAN)?
            .query_row([ean.as_str()], product_row)
            .optional()?;
    }
    if product.is_none() {
        if let Some(bm) = &req.brand_mpn {
            product = conn
                .prepare_cached(SQL_PRODUCT_BY_BRAND_MPN)?
                .query_row([&bm.brand, &bm.mpn], product_row)
                .optional()?;
        }
    }
    if product.is_none() {
        if let Some(sku) = &req.sku {
            product = conn
                .prepare_cached(SQL_PRODUCT_BY_SKU)?
                .query_row([req.retailer.as_str(), sku.as_str()], product_row)
                .optional()?;
        }
    }
    let Some((id, brand, mpn)) = product else {
        return Ok(Lookup::NoContent {
            brand: None,
            product_id: None,
        });
    };
    let product_id = format!("{brand}/{mpn}");

    let granted: bool = conn
        .prepare_cached(SQL_GRANTED)?
        .query_row([brand.as_str(), req.retailer.as_str()], |r| r.get(0))?;
    if !granted {
        return Ok(Lookup::NoContent {
            brand: Some(brand),
            product_id: Some(product_id),
        });
    }

    let mut content = conn.prepare_cached(SQL_CONTENT)?;
    for locale in req.locale.fallbacks() {
        let found = content
            .query_row(params![id, locale], |row| {
                Ok((
                    row.get::<_, Vec<u8>>(0)?,
                    row.get::<_, Option<Vec<u8>>>(1)?,
                    row.get::<_, Option<Vec<u8>>>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, i64>(4)?,
                ))
            })
            .optional()?;
        if let Some((html, gzip, br, version, updated_at)) = found {
            return Ok(Lookup::Found(Fragment {
                html: Bytes::from(html),
                gzip: gzip.map(Bytes::from),
                br: br.map(Bytes::from),
                version,
                updated_at,
                brand,
                product_id,
                validator: None,
                directives: super::Directives::default(),
            }));
        }
    }
    Ok(Lookup::NoContent {
        brand: Some(brand),
        product_id: Some(product_id),
    })
}

impl EventStore for SqliteOrigin {
    fn write_rollup(&self, rows: &[(RollupKey, u64)]) -> anyhow::Result<()> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut add = tx.prepare_cached(SQL_ROLLUP_ADD)?;
            for (key, count) in rows {
                add.execute(params![
                    key.day.to_string(),
                    key.retailer.as_str(),
                    key.product.key(),
                    key.locale.as_str(),
                    key.kind.as_str(),
                    i64::try_from(*count).unwrap_or(i64::MAX),
                ])?;
            }
        }
        tx.commit()
            .with_context(|| format!("writing events into {}", self.path))
    }

    fn stats(
        &self,
        filter: &StatsFilter,
        after: Option<&StatsCursor>,
        limit: StatsLimit,
    ) -> anyhow::Result<StatsPage> {
        let start = filter.start_after(after);
        // One row more than the page, to know whether another follows.
        let read = limit.get() + 1;
        let conn = self.writer();
        let mut stmt = conn.prepare_cached(SQL_STATS)?;
        let mut rows = Vec::with_capacity(read);
        let mut found = stmt.query(params![
            start.day,
            start.retailer,
            start.product,
            start.locale,
            start.kind,
            filter.last_day(),
            filter.retailer.as_ref().map(|r| r.as_str()),
            i64::try_from(read).unwrap_or(i64::MAX),
        ])?;
        while let Some(r) = found.next()? {
            rows.push(StatsRow {
                day: r.get(0)?,
                retailer: r.get(1)?,
                product: r.get(2)?,
                locale: r.get(3)?,
                kind: r.get(4)?,
                count: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
            });
        }
        Ok(StatsPage::from_rows(rows, limit))
    }
}

impl Origin for SqliteOrigin {
    fn fetch<'a>(&'a self, req: &'a FragmentRequest) -> BoxFuture<'a, Result<Lookup, OriginError>> {
        let req = req.clone();
        let work = self.readers.run(move |conn| lookup(conn, &req));
        let timeout = self.timeout;
        Box::pin(async move {
            tokio::time::timeout(timeout, work)
                .await
                .map_err(|_| OriginError::Timeout(timeout))?
        })
    }

    fn kind(&self) -> &'static str {
        "sqlite"
    }

    /// Polls the change counter: an `import` committed by another process (the command
    /// line, while the server runs) drops every cached entry within
    /// [`CHANGE_POLL_INTERVAL`]. Imports are rare and lookups here are local, so "drop
    /// everything" costs a refill from disk, not an outage.
    fn invalidations(&self) -> Option<tokio::sync::mpsc::Receiver<Invalidation>> {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let readers = Arc::clone(&self.readers);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(CHANGE_POLL_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut seen = None;
            while !tx.is_closed() {
                tick.tick().await;
                let counter = readers
                    .run(|c| c.query_row(SQL_CHANGE_COUNTER, [], |r| r.get::<_, i64>(0)))
                    .await;
                match counter {
                    Ok(now) => {
                        if seen.is_some_and(|before| before != now) {
                            tracing::info!(
                                counter = now,
                                "the catalog changed; dropping cached fragments"
                            );
                            if tx.send(Invalidation::all()).await.is_err() {
                                return;
                            }
                        }
                        seen = Some(now);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "reading the catalog's change counter failed")
                    }
                }
            }
        });
        Some(rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{parse_line, parse_ndjson};

    fn store() -> (tempfile::TempDir, SqliteOrigin) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/synedge.db");
        let origin = SqliteOrigin::open(path.to_str().unwrap(), Duration::from_secs(5)).unwrap();
        (dir, origin)
    }

    fn record(
        brand: &str,
        mpn: &str,
        eans: &[&str],
        locale: &str,
        html: &str,
        retailers: &[&str],
    ) -> CatalogRecord {
        let line = serde_json::json!({
            "brand": brand, "mpn": mpn, "ean": eans, "locale": locale, "html": html, "retailers": retailers,
        });
        parse_line(&line.to_string()).unwrap()
    }

    fn acme() -> CatalogRecord {
        let mut r = record(
            "Acme",
            "X-100/B",
            &["4006381333931"],
            "en-GB",
            &"<p>Acme X-100/B, the drill</p>".repeat(20),
            &["shop-one"],
        );
        r.skus = vec![(
            crate::domain::Retailer::parse("shop-one").unwrap(),
            crate::domain::Sku::parse("SKU-123").unwrap(),
        )];
        r
    }

    async fn get(origin: &SqliteOrigin, query: &str) -> Lookup {
        let req = FragmentRequest::from_query(query).unwrap();
        origin.fetch(&req).await.unwrap()
    }

    fn found(l: &Lookup) -> &Fragment {
        match l {
            Lookup::Found(f) => f,
            other => panic!("expected content, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn open_creates_the_file_schema_and_is_empty() {
        let (dir, origin) = store();
        assert!(dir.path().join("nested/dir/synedge.db").exists());
        assert!(origin.is_empty().unwrap());
        assert_eq!(origin.change_counter().unwrap(), 0);
        assert_eq!(origin.kind(), "sqlite");
        drop(origin);
        // Reopening an existing store keeps it.
        let path = dir.path().join("nested/dir/synedge.db");
        let again = SqliteOrigin::open(path.to_str().unwrap(), Duration::from_secs(1)).unwrap();
        assert!(again.is_empty().unwrap());
    }

    #[test]
    fn refuses_foreign_and_future_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        let c = Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE t (x)").unwrap();
        drop(c);
        let e = SqliteOrigin::open(path.to_str().unwrap(), Duration::from_secs(1)).unwrap_err();
        assert!(format!("{e:#}").contains("another application"), "{e:#}");

        let path = dir.path().join("future.db");
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 7).unwrap();
        drop(c);
        let e = SqliteOrigin::open(path.to_str().unwrap(), Duration::from_secs(1)).unwrap_err();
        assert!(format!("{e:#}").contains("schema version 7"), "{e:#}");

        let path = dir.path().join("text.db");
        std::fs::write(
            &path,
            "this is not a database, just some text that is long enough to have a header"
                .repeat(10),
        )
        .unwrap();
        assert!(SqliteOrigin::open(path.to_str().unwrap(), Duration::from_secs(1)).is_err());
        assert!(SqliteOrigin::open(":memory:", Duration::from_secs(1)).is_err());
    }

    #[test]
    fn a_version_1_file_gains_the_rollup_table_and_keeps_its_catalog() {
        let (dir, origin) = store();
        origin.import(&[acme()], |_| {}).unwrap();
        {
            // Turn it back into what a version 1 build wrote.
            let conn = origin.writer();
            conn.execute_batch("DROP TABLE event_rollup; PRAGMA user_version = 1;")
                .unwrap();
        }
        drop(origin);
        let path = dir.path().join("nested/dir/synedge.db");
        let again = SqliteOrigin::open(path.to_str().unwrap(), Duration::from_secs(1)).unwrap();
        assert!(!again.is_empty().unwrap());
        let version: i64 = again
            .writer()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(
            again
                .stats(&StatsFilter::default(), None, StatsLimit::MAX)
                .unwrap(),
            StatsPage::default()
        );
    }

    #[test]
    fn rollups_add_up_across_writes_and_filter_by_retailer_and_days() {
        use crate::domain::{Gtin14, Locale, Retailer};
        use crate::events::{Day, EventType, Product};
        let (_dir, origin) = store();
        let key = |day: &str, retailer: &str, kind| RollupKey {
            day: Day::parse(day).unwrap(),
            retailer: Retailer::parse(retailer).unwrap(),
            product: Product::Ean(Gtin14::parse("4006381333931").unwrap()),
            locale: Locale::parse("en-GB").unwrap(),
            kind,
        };
        origin
            .write_rollup(&[
                (key("2025-01-01", "a", EventType::View), 2),
                (key("2025-01-02", "a", EventType::Click), 1),
                (key("2025-01-02", "b", EventType::View), 5),
            ])
            .unwrap();
        origin
            .write_rollup(&[(key("2025-01-01", "a", EventType::View), 3)])
            .unwrap();
        let all = origin
            .stats(&StatsFilter::default(), None, StatsLimit::MAX)
            .unwrap()
            .rows;
        assert_eq!(all.len(), 3);
        assert_eq!(
            all[0],
            StatsRow {
                day: "2025-01-01".into(),
                retailer: "a".into(),
                product: "ean:04006381333931".into(),
                locale: "en-gb".into(),
                kind: "view".into(),
                count: 5,
            }
        );
        let a_on_2nd = origin
            .stats(
                &StatsFilter {
                    retailer: Some(Retailer::parse("a").unwrap()),
                    from: Some(Day::parse("2025-01-02").unwrap()),
                    to: Some(Day::parse("2025-01-02").unwrap()),
                },
                None,
                StatsLimit::MAX,
            )
            .unwrap()
            .rows;
        assert_eq!(a_on_2nd.len(), 1);
        assert_eq!((a_on_2nd[0].kind.as_str(), a_on_2nd[0].count), ("click", 1));
        let before = origin
            .stats(
                &StatsFilter {
                    to: Some(Day::parse("2024-12-31").unwrap()),
                    ..StatsFilter::default()
                },
                None,
                StatsLimit::MAX,
            )
            .unwrap()
            .rows;
        assert!(before.is_empty());
    }

    #[test]
    fn a_stats_page_is_one_range_of_the_primary_key() {
        // Keyset pagination is only bounded if SQLite seeks to the cursor and reads in
        // key order: no full scan, no sort of everything that matches.
        let (_dir, origin) = store();
        let conn = origin.writer();
        for retailer in [None, Some("a")] {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {SQL_STATS}"))
                .unwrap()
                .query_map(
                    params!["2025-01-01", "", "", "", "", "9999-12-31", retailer, 11],
                    |r| r.get::<_, String>(3),
                )
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(plan.len(), 1, "{plan:?}");
            assert!(
                plan[0].starts_with(
                    "SEARCH event_rollup USING PRIMARY KEY ((day,retailer,product,locale,type)>("
                ),
                "{plan:?}"
            );
        }
    }

    #[tokio::test]
    async fn finds_by_every_identity_spelling() {
        let (_dir, origin) = store();
        let s = origin.import(&[acme()], |_| {}).unwrap();
        assert_eq!(
            s,
            ImportSummary {
                records: 1,
                products: 1,
                changed: 1,
                unchanged: 0
            }
        );
        assert!(!origin.is_empty().unwrap());

        let by_ean = get(&origin, "retailer=shop-one&locale=en-GB&ean=4006381333931").await;
        let f = found(&by_ean);
        assert_eq!(f.brand, "acme");
        assert_eq!(f.product_id, "acme/x100b");
        assert_eq!(f.version, content_version(&f.html));
        assert!(f.gzip.is_some() && f.br.is_some());
        assert!(f.updated_at > 1_600_000_000);
        for q in [
            "retailer=shop-one&locale=en-GB&ean=04006381333931",
            "retailer=shop-one&locale=EN-gb&brand=ACME&mpn=x100b",
            "retailer=shop-one&locale=en-GB&brand=acme&mpn=X+100+B",
            "retailer=shop-one&locale=en-GB&sku=SKU-123",
            // An unknown EAN falls through to the next identity.
            "retailer=shop-one&locale=en-GB&ean=96385074&brand=Acme&mpn=X-100/B",
        ] {
            assert_eq!(get(&origin, q).await, by_ean, "{q}");
        }
    }

    #[tokio::test]
    async fn sku_lookup_is_per_retailer() {
        let (_dir, origin) = store();
        let mut other = record("Acme", "Z-9", &[], "en-GB", "<p>z</p>", &["*"]);
        other.skus = vec![(
            crate::domain::Retailer::parse("shop-two").unwrap(),
            crate::domain::Sku::parse("SKU-123").unwrap(),
        )];
        origin.import(&[acme(), other], |_| {}).unwrap();
        let one = get(&origin, "retailer=shop-one&locale=en-GB&sku=SKU-123").await;
        assert_eq!(found(&one).product_id, "acme/x100b");
        let two = get(&origin, "retailer=shop-two&locale=en-GB&sku=SKU-123").await;
        assert_eq!(found(&two).product_id, "acme/z9");
        let three = get(&origin, "retailer=megastore&locale=en-GB&sku=SKU-123").await;
        assert_eq!(
            three,
            Lookup::NoContent {
                brand: None,
                product_id: None
            }
        );
    }

    #[tokio::test]
    async fn grants_decide_who_sees_content() {
        let (_dir, origin) = store();
        let everywhere = record("Borealis", "B1", &["96385074"], "en-GB", "<p>b</p>", &["*"]);
        origin.import(&[acme(), everywhere], |_| {}).unwrap();

        let denied = get(&origin, "retailer=shop-two&locale=en-GB&ean=4006381333931").await;
        assert_eq!(
            denied,
            Lookup::NoContent {
                brand: Some("acme".into()),
                product_id: Some("acme/x100b".into())
            }
        );
        for retailer in ["shop-one", "shop-two", "anyone-else"] {
            let q = format!("retailer={retailer}&locale=en-GB&ean=96385074");
            assert_eq!(
                found(&get(&origin, &q).await).brand,
                "borealis",
                "{retailer}"
            );
        }
        let unknown = get(&origin, "retailer=shop-one&locale=en-GB&ean=0012345678905").await;
        assert_eq!(
            unknown,
            Lookup::NoContent {
                brand: None,
                product_id: None
            }
        );

        // A later import adds grants; it never takes one away.
        let mut more = acme();
        more.retailers = vec!["shop-two".into()];
        origin.import(&[more], |_| {}).unwrap();
        for r in ["shop-one", "shop-two"] {
            let q = format!("retailer={r}&locale=en-GB&ean=4006381333931");
            assert!(matches!(get(&origin, &q).await, Lookup::Found(_)), "{r}");
        }
    }

    #[tokio::test]
    async fn locale_falls_back_to_the_language_only() {
        let (_dir, origin) = store();
        let de = record("Acme", "X-100/B", &[], "de", "<p>Bohrer</p>", &["shop-one"]);
        let de_de = record(
            "Acme",
            "X-100/B",
            &[],
            "de-DE",
            "<p>Bohrer DE</p>",
            &["shop-one"],
        );
        origin.import(&[acme(), de, de_de], |_| {}).unwrap();

        let at = get(&origin, "retailer=shop-one&locale=de-AT&ean=4006381333931").await;
        assert_eq!(&found(&at).html[..], b"<p>Bohrer</p>");
        let de = get(&origin, "retailer=shop-one&locale=de-de&ean=4006381333931").await;
        assert_eq!(&found(&de).html[..], b"<p>Bohrer DE</p>");
        // en-US falls back to "en", which does not exist; en-GB is not a fallback.
        let us = get(&origin, "retailer=shop-one&locale=en-US&ean=4006381333931").await;
        assert_eq!(
            us,
            Lookup::NoContent {
                brand: Some("acme".into()),
                product_id: Some("acme/x100b".into())
            }
        );
    }

    #[tokio::test]
    async fn reimport_is_idempotent_and_keeps_updated_at() {
        let (_dir, origin) = store();
        let records = vec![
            acme(),
            record("Acme", "X-100/B", &[], "de", "<p>Bohrer</p>", &["shop-one"]),
        ];
        let first = origin.import(&records, |_| {}).unwrap();
        assert_eq!(first.changed, 2);
        assert_eq!(
            first.to_string(),
            "imported 2 fragments for 1 products (2 new or changed, 0 unchanged)"
        );

        // Pretend the first import happened long ago, to see whether updated_at moves.
        origin
            .writer()
            .execute("UPDATE content SET updated_at = 1000", [])
            .unwrap();
        let mut progress = Vec::new();
        let second = origin.import(&records, |n| progress.push(n)).unwrap();
        assert_eq!(
            second,
            ImportSummary {
                records: 2,
                products: 1,
                changed: 0,
                unchanged: 2
            }
        );
        assert_eq!(progress.last(), Some(&2));
        let f = get(&origin, "retailer=shop-one&locale=en-GB&ean=4006381333931").await;
        assert_eq!(found(&f).updated_at, 1000);
        assert_eq!(origin.change_counter().unwrap(), 2);

        // Changed HTML is a change: new version, new updated_at.
        let mut changed = acme();
        changed.html = "<p>new copy</p>".repeat(30);
        let third = origin.import(&[changed.clone()], |_| {}).unwrap();
        assert_eq!((third.changed, third.unchanged), (1, 0));
        let f = get(&origin, "retailer=shop-one&locale=en-GB&ean=4006381333931").await;
        let f = found(&f);
        assert_eq!(f.version, content_version(changed.html.as_bytes()));
        assert!(f.updated_at > 1000);
        let mut s = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&f.gzip.as_ref().unwrap()[..]),
            &mut s,
        )
        .unwrap();
        assert_eq!(s, changed.html);
    }

    #[tokio::test]
    async fn an_ean_moves_to_the_product_that_claims_it_last_and_names_update() {
        let (_dir, origin) = store();
        origin.import(&[acme()], |_| {}).unwrap();
        let thief = record(
            "ACME ",
            "X-200",
            &["4006381333931"],
            "en-GB",
            "<p>200</p>",
            &["shop-one"],
        );
        let renamed = record("ACME", "x 100 b", &[], "fr", "<p>fr</p>", &["shop-one"]);
        let s = origin.import(&[thief, renamed], |_| {}).unwrap();
        assert_eq!(s.products, 2);
        let f = get(&origin, "retailer=shop-one&locale=en-GB&ean=4006381333931").await;
        assert_eq!(found(&f).product_id, "acme/x200");
        let (brand, mpn): (String, String) = origin
            .writer()
            .query_row(
                "SELECT brand, mpn FROM products WHERE mpn_norm = 'x100b'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((brand.as_str(), mpn.as_str()), ("ACME", "x 100 b"));
    }

    #[tokio::test]
    async fn a_catalog_with_one_bad_line_imports_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("synedge.db");
        let good = serde_json::json!({
            "brand": "Acme", "mpn": "X-100/B", "ean": ["4006381333931"], "locale": "en-GB",
            "html": "<p>x</p>", "retailers": ["shop-one"],
        })
        .to_string();
        let input = format!(
            "{good}\n{}\n{{\"brand\": \"Acme\"}}\n",
            good.replace("en-GB", "de")
        );
        let errors = parse_ndjson(input.as_bytes(), |_| {}).unwrap_err();
        assert_eq!(errors[0].line, 3);
        // The caller writes nothing when parsing failed; the store stays empty.
        let origin = SqliteOrigin::open(path.to_str().unwrap(), Duration::from_secs(1)).unwrap();
        assert!(origin.is_empty().unwrap());
    }

    #[tokio::test]
    async fn a_failing_transaction_leaves_nothing_behind() {
        let (_dir, origin) = store();
        origin.import(&[acme()], |_| {}).unwrap();
        // Make the second record's content insert fail inside the transaction.
        origin
            .writer()
            .execute_batch(
                "CREATE TRIGGER no_fr BEFORE INSERT ON content WHEN NEW.locale = 'fr' \
                 BEGIN SELECT RAISE(ABORT, 'no french'); END;",
            )
            .unwrap();
        let new = record("Borealis", "B1", &["96385074"], "en-GB", "<p>b</p>", &["*"]);
        let fr = record("Borealis", "B1", &[], "fr", "<p>b</p>", &["*"]);
        assert!(origin.import(&[new, fr], |_| {}).is_err());
        let n: i64 = origin
            .writer()
            .query_row("SELECT count(*) FROM products", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(origin.change_counter().unwrap(), 1);
        let b = get(&origin, "retailer=shop-one&locale=en-GB&ean=96385074").await;
        assert_eq!(
            b,
            Lookup::NoContent {
                brand: None,
                product_id: None
            }
        );
    }

    #[tokio::test]
    async fn concurrent_lookups_share_the_pool() {
        let (_dir, origin) = store();
        origin.import(&[acme()], |_| {}).unwrap();
        let origin = Arc::new(origin);
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let o = Arc::clone(&origin);
                tokio::spawn(async move {
                    let req = FragmentRequest::from_query(
                        "retailer=shop-one&locale=en-GB&ean=4006381333931",
                    )
                    .unwrap();
                    o.fetch(&req).await
                })
            })
            .collect();
        for t in tasks {
            assert!(matches!(t.await.unwrap(), Ok(Lookup::Found(_))));
        }
        assert!(origin.readers.idle.lock().unwrap().len() <= READ_POOL_SIZE);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lookup_that_cannot_start_in_time_is_a_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("synedge.db");
        let origin = SqliteOrigin::open(path.to_str().unwrap(), Duration::from_millis(50)).unwrap();
        // Hold every read permit, as if the pool were saturated by slow queries.
        let _all = Arc::clone(&origin.readers.permits)
            .acquire_many_owned(READ_POOL_SIZE as u32)
            .await
            .unwrap();
        let req = FragmentRequest::from_query("retailer=shop-one&locale=en-GB&ean=4006381333931")
            .unwrap();
        let e = origin.fetch(&req).await.unwrap_err();
        assert!(matches!(e, OriginError::Timeout(_)), "{e:?}");
        assert!(e.is_transient());
    }
}
