//! The fleet origin store: one PostgreSQL database shared by many edge instances
//! (`origin.url = "postgres://…"`, DESIGN.md §5).
//!
//! Role: the SQLite store's (`origin::sqlite`), with the same schema and the same answers
//! — identity order ean → brand+mpn → sku, grants including `*`, locale fallback exact →
//! language, imports all or nothing with precompressed variants made once, the events
//! rollup — plus purge fan-out: [`Origin::broadcast`] NOTIFYs every instance and
//! [`Origin::invalidations`] LISTENs (see `notify`). An import NOTIFYs the products it
//! changed in its own transaction, so instances hear of exactly what committed.
//!
//! Connections: a deadpool pool for lookups, imports and rollups, each connection with
//! `statement_timeout` = `origin.timeout`; every lookup is also bounded client-side by
//! the same timeout, including the wait for a connection. The listener holds one
//! connection of its own. TLS per the URL's `sslmode` (see `target`).
//!
//! Schema: versioned migrations applied once per process before first use, under an
//! advisory lock so instances starting together do not race (see `schema`).
//! [`PostgresOrigin::connect`] applies them at once and fails early; [`PostgresOrigin::new`]
//! (what [`crate::origin::connect`] uses, which cannot wait) applies them on first use.
//!
//! Invariants (as in SQLite):
//! - An import is one transaction: a catalog is in the store completely or not at all.
//! - `content.version` is [`content_version`] of `content.html`; `gzip`/`br` compress
//!   that same `html` (or are NULL); `updated_at` changes only when `version` does.
//! - Grants are only ever added by imports.
//! - `catalog_meta.change_counter` grows by one with every committed import.

mod notify;
mod schema;
mod target;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, anyhow};
use bytes::Bytes;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use tokio::sync::{OnceCell, mpsc};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

pub use notify::{CHANNEL, LISTENER_NAME};
pub use schema::SCHEMA_VERSION;

use super::{
    BoxFuture, Directives, Fragment, Invalidation, Lookup, Origin, OriginError, content_version,
};
use crate::catalog::CatalogRecord;
use crate::compress::compress;
use crate::domain::FragmentRequest;
use crate::events::{
    EventStore, RollupKey, StatsCursor, StatsFilter, StatsLimit, StatsPage, StatsRow,
};
pub use crate::origin::sqlite::ImportSummary;

/// Pooled connections at most. Lookups are indexed point reads of well under a
/// millisecond; the cache in front makes misses rare; each connection costs the server
/// a process, and a fleet multiplies this number.
pub const POOL_SIZE: usize = 16;
/// An import that changed more products than this announces `all` instead of a list.
pub const MAX_NOTIFIED_KEYS: usize = 500;
/// Records whose statements are sent to the server at once, without waiting for each
/// answer (pipelining): round trips, not the server, bound an import's speed.
const IMPORT_CHUNK: usize = 256;
/// Rows per statement when reading stored versions or writing rollups.
const ARRAY_CHUNK: usize = 5000;

/// The whole lookup of DESIGN.md §2 in one round trip: the first identity that names a
/// product (rank 1 ean, 2 brand+mpn, 3 the retailer's sku), whether its brand is granted
/// to the retailer or to `*`, and the first content in the locale fallback chain `$6`
/// (read only when granted). No row: no product.
const SQL_LOOKUP: &str = "
WITH candidate AS (
    SELECT 1 AS rank, p.id, p.brand_norm, p.mpn_norm
      FROM product_eans e JOIN products p ON p.id = e.product_id
     WHERE e.gtin14 = $1::text
    UNION ALL
    SELECT 2, p.id, p.brand_norm, p.mpn_norm
      FROM products p
     WHERE p.brand_norm = $2::text AND p.mpn_norm = $3::text
    UNION ALL
    SELECT 3, p.id, p.brand_norm, p.mpn_norm
      FROM retailer_skus s JOIN products p ON p.id = s.product_id
     WHERE s.retailer = $4::text AND s.sku = $5::text
), product AS (
    SELECT c.id, c.brand_norm, c.mpn_norm,
           EXISTS (SELECT 1 FROM grants g
                    WHERE g.brand_norm = c.brand_norm AND g.retailer IN ($4::text, '*')) AS granted
      FROM candidate c
     ORDER BY c.rank
     LIMIT 1
)
SELECT p.brand_norm, p.mpn_norm, p.granted, c.html, c.gzip, c.br, c.version, c.updated_at
  FROM product p
  LEFT JOIN LATERAL (
      SELECT html, gzip, br, version, updated_at
        FROM content
       WHERE p.granted AND product_id = p.id AND locale = ANY($6::text[])
       ORDER BY array_position($6::text[], locale::text)
       LIMIT 1
  ) c ON true";

const SQL_STORED_VERSIONS: &str = "
SELECT p.brand_norm::text, p.mpn_norm::text, c.locale::text, c.version::text
  FROM unnest($1::text[], $2::text[], $3::text[]) AS want(brand_norm, mpn_norm, locale)
  JOIN products p ON p.brand_norm = want.brand_norm AND p.mpn_norm = want.mpn_norm
  JOIN content c ON c.product_id = p.id AND c.locale = want.locale";

const SQL_UPSERT_PRODUCT: &str = "
INSERT INTO products (brand, brand_norm, mpn, mpn_norm) VALUES ($1, $2, $3, $4)
ON CONFLICT (brand_norm, mpn_norm) DO UPDATE SET brand = excluded.brand, mpn = excluded.mpn
 WHERE (products.brand, products.mpn) IS DISTINCT FROM (excluded.brand, excluded.mpn)";

/// Claims an EAN for a product; returns the product id it was taken from, if any.
const SQL_CLAIM_EAN: &str = "
WITH before AS (
    SELECT p.brand_norm || '/' || p.mpn_norm AS id
      FROM product_eans e JOIN products p ON p.id = e.product_id
     WHERE e.gtin14 = $1::text
), claimed AS (
    INSERT INTO product_eans (gtin14, product_id)
    SELECT $1::text, id FROM products WHERE brand_norm = $2::text AND mpn_norm = $3::text
    ON CONFLICT (gtin14) DO UPDATE SET product_id = excluded.product_id
     WHERE product_eans.product_id <> excluded.product_id
    RETURNING 1
)
SELECT before.id::text FROM before WHERE EXISTS (SELECT 1 FROM claimed)";

/// Maps a retailer's SKU to a product; returns the product id it was taken from, if any.
const SQL_CLAIM_SKU: &str = "
WITH before AS (
    SELECT p.brand_norm || '/' || p.mpn_norm AS id
      FROM retailer_skus s JOIN products p ON p.id = s.product_id
     WHERE s.retailer = $1::text AND s.sku = $2::text
), claimed AS (
    INSERT INTO retailer_skus (retailer, sku, product_id)
    SELECT $1::text, $2::text, id FROM products WHERE brand_norm = $3::text AND mpn_norm = $4::text
    ON CONFLICT (retailer, sku) DO UPDATE SET product_id = excluded.product_id
     WHERE retailer_skus.product_id <> excluded.product_id
    RETURNING 1
)
SELECT before.id::text FROM before WHERE EXISTS (SELECT 1 FROM claimed)";

/// Writes content unless the stored version is the same; 1 row affected = changed.
const SQL_UPSERT_CONTENT: &str = "
INSERT INTO content (product_id, locale, html, gzip, br, version, updated_at)
SELECT id, $3::text, $4::bytea, $5::bytea, $6::bytea, $7::text, $8::bigint
  FROM products WHERE brand_norm = $1::text AND mpn_norm = $2::text
ON CONFLICT (product_id, locale) DO UPDATE SET html = excluded.html, gzip = excluded.gzip,
       br = excluded.br, version = excluded.version, updated_at = excluded.updated_at
 WHERE content.version <> excluded.version";

const SQL_FIX_VARIANTS: &str = "
UPDATE content SET gzip = $4::bytea, br = $5::bytea
 WHERE product_id = (SELECT id FROM products WHERE brand_norm = $1::text AND mpn_norm = $2::text)
   AND locale = $3::text AND version = $6::text";

const SQL_GRANT: &str =
    "INSERT INTO grants (brand_norm, retailer) VALUES ($1, $2) ON CONFLICT DO NOTHING";

const SQL_NOTIFY: &str = "SELECT pg_notify($1::text, p) FROM unnest($2::text[]) AS p";

/// Adds counts; equal keys within one batch are summed first (ON CONFLICT may touch a
/// row once per statement).
const SQL_ROLLUP_ADD: &str = "
INSERT INTO event_rollup (day, retailer, product, locale, type, count)
SELECT day, retailer, product, locale, type, sum(count)::bigint
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
       AS r(day, retailer, product, locale, type, count)
 GROUP BY 1, 2, 3, 4, 5
ON CONFLICT (day, retailer, product, locale, type)
DO UPDATE SET count = event_rollup.count + excluded.count";

/// One stats page: the rows after a key (the cursor, or the start of `from`) up to the
/// last day, in primary-key order. The row-value comparison is an index condition on the
/// primary key, so a page costs its rows, not the rows before it; the columns' `COLLATE
/// "C"` wins over the parameters' default collation, so the order is byte order, the one
/// [`StatsFilter::start_after`] compares cursors in.
const SQL_STATS: &str = "
SELECT day::text, retailer::text, product::text, locale::text, type::text, count
  FROM event_rollup
 WHERE (day, retailer, product, locale, type)
       > ($1::text, $2::text, $3::text, $4::text, $5::text)
   AND day <= $6::text
   AND ($7::text IS NULL OR retailer = $7::text)
 ORDER BY day, retailer, product, locale, type
 LIMIT $8::bigint";

/// The PostgreSQL origin store. Cheap to share behind an `Arc`.
pub struct PostgresOrigin {
    /// The URL (for messages without its password) and how to connect, for the listener.
    target: target::Target,
    /// Bounds every lookup and broadcast, and is each connection's `statement_timeout`.
    timeout: Duration,
    pool: Pool,
    /// Set once the schema is migrated; until then every operation tries to migrate.
    ready: OnceCell<()>,
    /// The runtime the store was opened on, for the blocking [`EventStore`] methods when
    /// they are called outside any runtime.
    runtime: Option<tokio::runtime::Handle>,
}

impl fmt::Debug for PostgresOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresOrigin")
            .field("url", &self.target.shown)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl PostgresOrigin {
    /// Prepares the store at `url` without touching the network: the pool connects, and
    /// the schema is migrated, on first use. `timeout` bounds every lookup and is each
    /// connection's `statement_timeout` and connect timeout.
    ///
    /// # Errors
    /// The URL cannot be read, or names a CA bundle that cannot be read.
    pub fn new(url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let target = target::Target::parse(url, timeout)?;
        let manager = Manager::from_config(
            target.pg.clone(),
            target.tls.clone(),
            ManagerConfig {
                // A closed connection is noticed without a query per checkout; a broken
                // one fails its lookup once and is dropped.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let statement_timeout = format!(
            "SET statement_timeout = {}",
            timeout.as_millis().clamp(1, i32::MAX as u128)
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .post_create(deadpool_postgres::Hook::async_fn(move |client, _| {
                let sql = statement_timeout.clone();
                Box::pin(async move {
                    client
                        .batch_execute(&sql)
                        .await
                        .map_err(deadpool_postgres::HookError::Backend)
                })
            }))
            .build()
            .with_context(|| format!("building the connection pool for {}", target.shown))?;
        Ok(Self {
            target,
            timeout,
            pool,
            ready: OnceCell::new(),
            runtime: tokio::runtime::Handle::try_current().ok(),
        })
    }

    /// Opens the store at `url` and migrates its schema now, so that a wrong URL, an
    /// unreachable server or a foreign database fail at start.
    ///
    /// # Errors
    /// As [`Self::new`], plus: the server cannot be reached within `timeout`, refuses
    /// the login, or holds a schema this build cannot use.
    pub async fn connect(url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let store = Self::new(url, timeout)?;
        store.ensure_ready().await?;
        Ok(store)
    }

    /// The URL without its password.
    pub fn url(&self) -> &str {
        &self.target.shown
    }

    async fn ensure_ready(&self) -> anyhow::Result<()> {
        self.ready
            .get_or_try_init(|| async {
                let mut client = self.client().await?;
                schema::migrate(&mut client)
                    .await
                    .with_context(|| format!("preparing the schema of {}", self.target.shown))
            })
            .await
            .map(|_| ())
    }

    async fn client(&self) -> anyhow::Result<deadpool_postgres::Object> {
        self.pool
            .get()
            .await
            .map_err(|e| anyhow!("connecting to {}: {}", self.target.shown, describe_pool(&e)))
    }

    /// Whether the store holds no content at all (then `serve --demo` seeds it).
    ///
    /// # Errors
    /// The query failed.
    pub async fn is_empty(&self) -> anyhow::Result<bool> {
        self.ensure_ready().await?;
        let client = self.client().await?;
        let any: bool = client
            .query_one("SELECT EXISTS (SELECT 1 FROM content)", &[])
            .await
            .with_context(|| format!("reading {}", self.target.shown))?
            .get(0);
        Ok(!any)
    }

    /// How many imports have been committed to this store, ever.
    ///
    /// # Errors
    /// The query failed.
    pub async fn change_counter(&self) -> anyhow::Result<i64> {
        self.ensure_ready().await?;
        let client = self.client().await?;
        Ok(client
            .query_one("SELECT change_counter FROM catalog_meta WHERE id = 1", &[])
            .await
            .with_context(|| format!("reading {}", self.target.shown))?
            .get(0))
    }

    /// Imports `records` in one transaction: all of them or, on error, none — with the
    /// SQLite store's semantics (`SqliteOrigin::import`): products upserted by normalized
    /// brand + MPN, EANs and SKUs moving to the product that claims them last, content
    /// replaced only when its HTML changed, grants only added. In the same transaction it
    /// NOTIFYs every listening instance of the products whose answers may have changed
    /// (or of `all`, past [`MAX_NOTIFIED_KEYS`]).
    ///
    /// Compression runs first, on every core, for the content that is not stored as is;
    /// `on_progress` gets the number of records prepared so far and reaches
    /// `records.len()` just before the transaction.
    ///
    /// # Errors
    /// A database error; nothing was written.
    pub async fn import(
        &self,
        records: &[CatalogRecord],
        mut on_progress: impl FnMut(usize) + Send,
    ) -> anyhow::Result<ImportSummary> {
        let shown = &self.target.shown;
        self.ensure_ready().await?;
        let versions: Vec<String> = records
            .iter()
            .map(|r| content_version(r.html.as_bytes()))
            .collect();

        // What is stored now, to skip compressing content that did not change. Read
        // outside the transaction; the transaction checks again.
        let stored = self
            .stored_versions(records)
            .await
            .with_context(|| format!("reading the stored catalog of {shown}"))?;
        let todo: Vec<usize> = (0..records.len())
            .filter(|&i| {
                let r = &records[i];
                let key = (
                    r.brand_mpn.brand.as_str(),
                    r.brand_mpn.mpn.as_str(),
                    r.locale.as_str(),
                );
                stored.get(&key) != Some(&versions[i])
            })
            .collect();
        let mut compressed = compress_all(records, &todo, &mut on_progress).await?;

        let now = unix_now();
        let mut summary = ImportSummary {
            records: records.len(),
            products: records
                .iter()
                .map(|r| (&r.brand_mpn.brand, &r.brand_mpn.mpn))
                .collect::<HashSet<_>>()
                .len(),
            ..ImportSummary::default()
        };
        let mut touched: HashSet<String> = HashSet::new();
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .with_context(|| format!("starting the import transaction on {shown}"))?;
        let work = async {
            // An import may take minutes; the lookup timeout is for lookups.
            tx.batch_execute("SET LOCAL statement_timeout = 0").await?;
            let st = ImportStatements {
                product: tx.prepare_cached(SQL_UPSERT_PRODUCT).await?,
                ean: tx.prepare_cached(SQL_CLAIM_EAN).await?,
                sku: tx.prepare_cached(SQL_CLAIM_SKU).await?,
                content: tx.prepare_cached(SQL_UPSERT_CONTENT).await?,
                grant: tx.prepare_cached(SQL_GRANT).await?,
            };
            let mut granted: HashSet<(&str, &str)> = HashSet::new();
            let mut uncompressed_changes = Vec::new();
            let indices: Vec<usize> = (0..records.len()).collect();
            for chunk in indices.chunks(IMPORT_CHUNK) {
                let mut steps: Vec<Step<'_>> = Vec::new();
                let mut meaning = Vec::new();
                for &i in chunk {
                    let r = &records[i];
                    let (brand, mpn) = (r.brand_mpn.brand.as_str(), r.brand_mpn.mpn.as_str());
                    let (shown_brand, shown_mpn) = (r.brand.as_str(), r.mpn.as_str());
                    let (tx, st) = (&tx, &st);
                    steps.push(Box::pin(async move {
                        let p: [Param<'_>; 4] = [&shown_brand, &brand, &shown_mpn, &mpn];
                        tx.execute(&st.product, &p).await.map(Outcome::Count)
                    }));
                    meaning.push(Meaning::Nothing);
                    for ean in &r.eans {
                        let ean = ean.as_str();
                        steps.push(Box::pin(async move {
                            let p: [Param<'_>; 3] = [&ean, &brand, &mpn];
                            tx.query(&st.ean, &p).await.map(Outcome::Rows)
                        }));
                        meaning.push(Meaning::Moved);
                    }
                    for (retailer, sku) in &r.skus {
                        let (retailer, sku) = (retailer.as_str(), sku.as_str());
                        steps.push(Box::pin(async move {
                            let p: [Param<'_>; 4] = [&retailer, &sku, &brand, &mpn];
                            tx.query(&st.sku, &p).await.map(Outcome::Rows)
                        }));
                        meaning.push(Meaning::Moved);
                    }
                    let was_compressed = todo.binary_search(&i).is_ok();
                    let (gzip, br) = compressed.remove(&i).unwrap_or((None, None));
                    let (locale, html, version) =
                        (r.locale.as_str(), r.html.as_bytes(), versions[i].as_str());
                    steps.push(Box::pin(async move {
                        let (gzip, br) = (gzip.as_deref(), br.as_deref());
                        let p: [Param<'_>; 8] =
                            [&brand, &mpn, &locale, &html, &gzip, &br, &version, &now];
                        tx.execute(&st.content, &p).await.map(Outcome::Count)
                    }));
                    meaning.push(Meaning::Content {
                        index: i,
                        was_compressed,
                    });
                    for retailer in &r.retailers {
                        let retailer = retailer.as_str();
                        if granted.insert((brand, retailer)) {
                            steps.push(Box::pin(async move {
                                let p: [Param<'_>; 2] = [&brand, &retailer];
                                tx.execute(&st.grant, &p).await.map(Outcome::Count)
                            }));
                            meaning.push(Meaning::Grant { brand });
                        }
                    }
                }
                let outcomes = pipeline(steps).await?;
                for (outcome, meaning) in outcomes.into_iter().zip(meaning) {
                    match (meaning, outcome) {
                        (Meaning::Moved, Outcome::Rows(rows)) => {
                            for row in rows {
                                let from: String = row.try_get(0)?;
                                touched.insert(format!("product:{from}"));
                            }
                        }
                        (
                            Meaning::Content {
                                index,
                                was_compressed,
                            },
                            Outcome::Count(n),
                        ) => {
                            if n > 0 {
                                summary.changed += 1;
                                let r = &records[index];
                                touched.insert(format!("product:{}", r.brand_mpn.product_id()));
                                if !was_compressed {
                                    uncompressed_changes.push(index);
                                }
                            } else {
                                summary.unchanged += 1;
                            }
                        }
                        (Meaning::Grant { brand }, Outcome::Count(n)) if n > 0 => {
                            touched.insert(format!("brand:{brand}"));
                        }
                        // Product upserts, grants that existed, claims that moved nothing.
                        _ => {}
                    }
                }
            }
            // Content that changed after the read above (another import committed in
            // between) was written without variants; add them now, in the transaction.
            if !uncompressed_changes.is_empty() {
                let fix = tx.prepare_cached(SQL_FIX_VARIANTS).await?;
                for i in uncompressed_changes {
                    let r = &records[i];
                    let (gzip, br) = compress(r.html.as_bytes());
                    tx.execute(
                        &fix,
                        &[
                            &r.brand_mpn.brand,
                            &r.brand_mpn.mpn,
                            &r.locale.as_str(),
                            &gzip.as_deref(),
                            &br.as_deref(),
                            &versions[i],
                        ],
                    )
                    .await?;
                }
            }
            tx.execute(
                "UPDATE catalog_meta SET change_counter = change_counter + 1 WHERE id = 1",
                &[],
            )
            .await?;
            // NOTIFY is transactional: listeners hear of it when, and only if, it commits.
            let inv = if touched.len() > MAX_NOTIFIED_KEYS {
                Invalidation::all()
            } else {
                let mut keys: Vec<String> = touched.into_iter().collect();
                keys.sort();
                Invalidation {
                    surrogate_keys: keys,
                    ..Invalidation::default()
                }
            };
            let payloads = notify::payloads(&inv);
            if !payloads.is_empty() {
                tx.execute(SQL_NOTIFY, &[&CHANNEL, &payloads]).await?;
            }
            Ok::<_, tokio_postgres::Error>(())
        };
        work.await
            .map_err(|e| anyhow!("{}", describe(&e)))
            .with_context(|| format!("importing into {shown}; nothing was written"))?;
        tx.commit()
            .await
            .map_err(|e| anyhow!("{}", describe(&e)))
            .with_context(|| format!("committing the import to {shown}; nothing was written"))?;
        Ok(summary)
    }

    /// Stored versions of the (brand, mpn, locale) triples in `records`.
    async fn stored_versions<'r>(
        &self,
        records: &'r [CatalogRecord],
    ) -> anyhow::Result<HashMap<(&'r str, &'r str, &'r str), String>> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(SQL_STORED_VERSIONS).await?;
        let mut out = HashMap::new();
        let mut interned: HashMap<(String, String, String), (&str, &str, &str)> = HashMap::new();
        for r in records {
            let key = (
                r.brand_mpn.brand.as_str(),
                r.brand_mpn.mpn.as_str(),
                r.locale.as_str(),
            );
            interned.insert((key.0.to_owned(), key.1.to_owned(), key.2.to_owned()), key);
        }
        for chunk in records.chunks(ARRAY_CHUNK) {
            let brands: Vec<&str> = chunk.iter().map(|r| r.brand_mpn.brand.as_str()).collect();
            let mpns: Vec<&str> = chunk.iter().map(|r| r.brand_mpn.mpn.as_str()).collect();
            let locales: Vec<&str> = chunk.iter().map(|r| r.locale.as_str()).collect();
            for row in client.query(&stmt, &[&brands, &mpns, &locales]).await? {
                let key: (String, String, String) =
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                if let Some(&k) = interned.get(&key) {
                    out.insert(k, row.try_get(3)?);
                }
            }
        }
        Ok(out)
    }

    async fn lookup(&self, req: &FragmentRequest) -> Result<Lookup, OriginError> {
        self.ensure_ready()
            .await
            .map_err(|e| OriginError::Unavailable(format!("{e:#}")))?;
        let client = self.pool.get().await.map_err(|e| self.pool_error(&e))?;
        let stmt = client
            .prepare_cached(SQL_LOOKUP)
            .await
            .map_err(|e| self.pg_error(&e))?;
        let locales: Vec<&str> = req.locale.fallbacks().collect();
        let brand = req.brand_mpn.as_ref().map(|b| b.brand.as_str());
        let mpn = req.brand_mpn.as_ref().map(|b| b.mpn.as_str());
        let row = client
            .query_opt(
                &stmt,
                &[
                    &req.ean.as_ref().map(|e| e.as_str()),
                    &brand,
                    &mpn,
                    &req.retailer.as_str(),
                    &req.sku.as_ref().map(|s| s.as_str()),
                    &locales,
                ],
            )
            .await
            .map_err(|e| self.pg_error(&e))?;
        let Some(row) = row else {
            return Ok(Lookup::NoContent {
                brand: None,
                product_id: None,
            });
        };
        let corrupt = |e: tokio_postgres::Error| {
            OriginError::Corrupt(format!("postgres {}: {e}", self.target.shown))
        };
        let brand: String = row.try_get(0).map_err(corrupt)?;
        let mpn: &str = row.try_get(1).map_err(corrupt)?;
        let product_id = format!("{brand}/{mpn}");
        let html: Option<&[u8]> = row.try_get(3).map_err(corrupt)?;
        let Some(html) = html else {
            return Ok(Lookup::NoContent {
                brand: Some(brand),
                product_id: Some(product_id),
            });
        };
        let gzip: Option<&[u8]> = row.try_get(4).map_err(corrupt)?;
        let br: Option<&[u8]> = row.try_get(5).map_err(corrupt)?;
        Ok(Lookup::Found(Fragment {
            html: Bytes::copy_from_slice(html),
            gzip: gzip.map(Bytes::copy_from_slice),
            br: br.map(Bytes::copy_from_slice),
            version: row.try_get(6).map_err(corrupt)?,
            updated_at: row.try_get(7).map_err(corrupt)?,
            brand,
            product_id,
            validator: None,
            directives: Directives::default(),
        }))
    }

    async fn notify(&self, inv: &Invalidation) -> Result<(), OriginError> {
        let payloads = notify::payloads(inv);
        if payloads.is_empty() {
            return Ok(());
        }
        self.ensure_ready()
            .await
            .map_err(|e| OriginError::Unavailable(format!("{e:#}")))?;
        let client = self.pool.get().await.map_err(|e| self.pool_error(&e))?;
        // One statement: all of the invalidation's notifications, or none.
        client
            .execute(SQL_NOTIFY, &[&CHANNEL, &payloads])
            .await
            .map_err(|e| self.pg_error(&e))?;
        Ok(())
    }

    fn pg_error(&self, e: &tokio_postgres::Error) -> OriginError {
        match e.code() {
            Some(c) if *c == SqlState::QUERY_CANCELED => OriginError::Timeout(self.timeout),
            Some(c) if *c == SqlState::DATA_CORRUPTED || *c == SqlState::INDEX_CORRUPTED => {
                OriginError::Corrupt(format!("postgres {}: {}", self.target.shown, describe(e)))
            }
            _ => {
                OriginError::Unavailable(format!("postgres {}: {}", self.target.shown, describe(e)))
            }
        }
    }

    fn pool_error(&self, e: &PoolError) -> OriginError {
        match e {
            PoolError::Timeout(_) => OriginError::Timeout(self.timeout),
            PoolError::Backend(e) => self.pg_error(e),
            other => OriginError::Unavailable(format!(
                "postgres {}: {}",
                self.target.shown,
                describe_pool(other)
            )),
        }
    }

    /// Runs `work` to completion from blocking code (the [`EventStore`] methods): on the
    /// current runtime when called from one of its blocking threads, else on the runtime
    /// the store was opened on.
    fn block_on<T: Send + 'static>(
        &self,
        work: impl Future<Output = anyhow::Result<T>> + Send + 'static,
    ) -> anyhow::Result<T> {
        let handle = tokio::runtime::Handle::try_current()
            .ok()
            .or_else(|| self.runtime.clone())
            .ok_or_else(|| anyhow!("the postgres store needs a tokio runtime"))?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        handle.spawn(async move {
            // The receiver waits for this; it is gone only if the caller is.
            let _ = tx.send(work.await);
        });
        rx.recv()
            .map_err(|_| anyhow!("the runtime stopped before the postgres store answered"))?
    }
}

/// A tokio-postgres error with the server's message, detail and hint when there are.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{}: {}", db.severity(), db.message());
            if let Some(d) = db.detail() {
                s.push_str(&format!(" ({d})"));
            }
            if let Some(h) = db.hint() {
                s.push_str(&format!("; hint: {h}"));
            }
            s
        }
        None => {
            // "error connecting to server" alone hides the useful part, the cause.
            let mut s = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                let text = cause.to_string();
                if !s.contains(&text) {
                    s.push_str(": ");
                    s.push_str(&text);
                }
                source = cause.source();
            }
            s
        }
    }
}

fn describe_pool(e: &PoolError) -> String {
    match e {
        PoolError::Backend(e) => describe(e),
        PoolError::Timeout(_) => "timed out waiting for a connection".to_owned(),
        PoolError::PostCreateHook(deadpool_postgres::HookError::Backend(e)) => {
            format!("setting up the connection: {}", describe(e))
        }
        other => other.to_string(),
    }
}

/// Prepared statements of one import transaction.
struct ImportStatements {
    product: tokio_postgres::Statement,
    ean: tokio_postgres::Statement,
    sku: tokio_postgres::Statement,
    content: tokio_postgres::Statement,
    grant: tokio_postgres::Statement,
}

/// What a pipelined step's outcome means for the summary and the notification.
enum Meaning<'a> {
    Nothing,
    /// Rows name the product an EAN or SKU was taken from.
    Moved,
    Content {
        index: usize,
        was_compressed: bool,
    },
    Grant {
        brand: &'a str,
    },
}

enum Outcome {
    Count(u64),
    Rows(Vec<tokio_postgres::Row>),
}

type Step<'a> = Pin<Box<dyn Future<Output = Result<Outcome, tokio_postgres::Error>> + Send + 'a>>;

type Param<'a> = &'a (dyn ToSql + Sync);

/// Runs `steps` pipelined: every request is sent, in order, before any answer is awaited;
/// the server runs them in that order. The outcomes come back in order; the first error
/// (the statement that failed, not the ones refused after it) is returned.
async fn pipeline(mut steps: Vec<Step<'_>>) -> Result<Vec<Outcome>, tokio_postgres::Error> {
    let mut outcomes: Vec<Option<Result<Outcome, tokio_postgres::Error>>> =
        steps.iter().map(|_| None).collect();
    let mut sent = false;
    let mut next = 0;
    poll_fn(|cx| {
        if !sent {
            // First poll of each step sends its request; keep whatever is already done.
            for (step, out) in steps.iter_mut().zip(outcomes.iter_mut()) {
                if let Poll::Ready(r) = step.as_mut().poll(cx) {
                    *out = Some(r);
                }
            }
            sent = true;
        }
        // Answers arrive in order: wait on the first step still open.
        while next < steps.len() {
            if outcomes[next].is_none() {
                match steps[next].as_mut().poll(cx) {
                    Poll::Ready(r) => outcomes[next] = Some(r),
                    Poll::Pending => return Poll::Pending,
                }
            }
            next += 1;
        }
        Poll::Ready(())
    })
    .await;
    outcomes
        .into_iter()
        .map(|o| o.expect("invariant: every step completed"))
        .collect()
}

use crate::compress::Variants;

/// Compresses the records at `todo` on every core, off the async threads, reporting
/// progress (records prepared, counting the ones that need no work) as it goes.
async fn compress_all(
    records: &[CatalogRecord],
    todo: &[usize],
    on_progress: &mut (impl FnMut(usize) + Send),
) -> anyhow::Result<HashMap<usize, Variants>> {
    let already = records.len() - todo.len();
    on_progress(already);
    if todo.is_empty() {
        return Ok(HashMap::new());
    }
    // The blocking task must own what it reads.
    let work: Vec<(usize, Bytes)> = todo
        .iter()
        .map(|&i| (i, Bytes::copy_from_slice(records[i].html.as_bytes())))
        .collect();
    let done = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&done);
    let mut task = tokio::task::spawn_blocking(move || {
        let workers = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(work.len());
        let chunk = work.len().div_ceil(workers);
        std::thread::scope(|s| {
            let handles: Vec<_> = work
                .chunks(chunk)
                .map(|part| {
                    let counter = &counter;
                    s.spawn(move || {
                        part.iter()
                            .map(|(i, html)| {
                                let v = compress(html);
                                counter.fetch_add(1, Ordering::Relaxed);
                                (*i, v)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut out = HashMap::with_capacity(work.len());
            for h in handles {
                match h.join() {
                    Ok(part) => out.extend(part),
                    // A worker's panic is a bug, not a data problem: re-raise it.
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            out
        })
    });
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            r = &mut task => {
                let out = r.context("compressing the catalog failed")?;
                on_progress(already + todo.len());
                return Ok(out);
            }
            _ = tick.tick() => on_progress(already + done.load(Ordering::Relaxed)),
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl EventStore for PostgresOrigin {
    fn write_rollup(&self, rows: &[(RollupKey, u64)]) -> anyhow::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut columns: [Vec<String>; 5] = Default::default();
        let mut counts = Vec::with_capacity(rows.len());
        for (key, count) in rows {
            columns[0].push(key.day.to_string());
            columns[1].push(key.retailer.as_str().to_owned());
            columns[2].push(key.product.key());
            columns[3].push(key.locale.as_str().to_owned());
            columns[4].push(key.kind.as_str().to_owned());
            counts.push(i64::try_from(*count).unwrap_or(i64::MAX));
        }
        let pool = self.pool.clone();
        let shown = self.target.shown.clone();
        let ready = self.block_on_ready();
        self.block_on(async move {
            ready?;
            let mut client = pool
                .get()
                .await
                .map_err(|e| anyhow!("connecting to {shown}: {}", describe_pool(&e)))?;
            let write = async {
                let tx = client.transaction().await?;
                let stmt = tx.prepare_cached(SQL_ROLLUP_ADD).await?;
                let n = counts.len();
                let mut start = 0;
                while start < n {
                    let end = (start + ARRAY_CHUNK).min(n);
                    let c = |k: usize| &columns[k][start..end];
                    tx.execute(
                        &stmt,
                        &[&c(0), &c(1), &c(2), &c(3), &c(4), &&counts[start..end]],
                    )
                    .await?;
                    start = end;
                }
                tx.commit().await
            };
            write
                .await
                .map_err(|e| anyhow!("writing events into {shown}: {}", describe(&e)))
        })
    }

    fn stats(
        &self,
        filter: &StatsFilter,
        after: Option<&StatsCursor>,
        limit: StatsLimit,
    ) -> anyhow::Result<StatsPage> {
        let pool = self.pool.clone();
        let shown = self.target.shown.clone();
        let start = filter.start_after(after);
        let last_day = filter.last_day();
        let retailer = filter.retailer.as_ref().map(|r| r.as_str().to_owned());
        // One row more than the page, to know whether another follows.
        let read = i64::try_from(limit.get() + 1).unwrap_or(i64::MAX);
        let ready = self.block_on_ready();
        self.block_on(async move {
            ready?;
            let client = pool
                .get()
                .await
                .map_err(|e| anyhow!("connecting to {shown}: {}", describe_pool(&e)))?;
            let read_page = async {
                let stmt = client.prepare_cached(SQL_STATS).await?;
                let rows = client
                    .query(
                        &stmt,
                        &[
                            &start.day,
                            &start.retailer,
                            &start.product,
                            &start.locale,
                            &start.kind,
                            &last_day,
                            &retailer,
                            &read,
                        ],
                    )
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok(StatsRow {
                            day: r.try_get(0)?,
                            retailer: r.try_get(1)?,
                            product: r.try_get(2)?,
                            locale: r.try_get(3)?,
                            kind: r.try_get(4)?,
                            count: u64::try_from(r.try_get::<_, i64>(5)?).unwrap_or(0),
                        })
                    })
                    .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            };
            let rows = read_page
                .await
                .map_err(|e| anyhow!("reading events from {shown}: {}", describe(&e)))?;
            Ok(StatsPage::from_rows(rows, limit))
        })
    }
}

impl PostgresOrigin {
    /// Migrates (once) from blocking code, before an [`EventStore`] method's work.
    fn block_on_ready(&self) -> anyhow::Result<()> {
        if self.ready.initialized() {
            return Ok(());
        }
        // The spawned future must own what it uses.
        let pool = self.pool.clone();
        let shown = self.target.shown.clone();
        self.block_on(async move {
            let mut client = pool
                .get()
                .await
                .map_err(|e| anyhow!("connecting to {shown}: {}", describe_pool(&e)))?;
            schema::migrate(&mut client)
                .await
                .with_context(|| format!("preparing the schema of {shown}"))
        })?;
        // Another caller may have set it meanwhile; either way the schema is current.
        let _ = self.ready.set(());
        Ok(())
    }
}

impl Origin for PostgresOrigin {
    fn fetch<'a>(&'a self, req: &'a FragmentRequest) -> BoxFuture<'a, Result<Lookup, OriginError>> {
        Box::pin(async move {
            tokio::time::timeout(self.timeout, self.lookup(req))
                .await
                .map_err(|_| OriginError::Timeout(self.timeout))?
        })
    }

    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn broadcast<'a>(&'a self, inv: &'a Invalidation) -> BoxFuture<'a, Result<(), OriginError>> {
        Box::pin(async move {
            tokio::time::timeout(self.timeout, self.notify(inv))
                .await
                .map_err(|_| OriginError::Timeout(self.timeout))?
        })
    }

    fn invalidations(&self) -> Option<mpsc::Receiver<Invalidation>> {
        let handle = match tokio::runtime::Handle::try_current() {
            Ok(h) => h,
            Err(_) => {
                tracing::error!(origin = %self.target.shown, "invalidations() called outside the runtime; purges of other instances will not reach this one");
                return None;
            }
        };
        let (tx, rx) = mpsc::channel(notify::QUEUE);
        handle.spawn(notify::run(self.target.clone(), tx));
        Some(rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn new_touches_nothing_and_unreachable_servers_are_transient() {
        // A port nobody listens on: bound, then closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("postgres://synedge:hunter2@127.0.0.1:{port}/synedge");
        let store = PostgresOrigin::new(&url, Duration::from_millis(500)).unwrap();
        assert_eq!(store.kind(), "postgres");
        assert_eq!(
            store.url(),
            format!("postgres://synedge:***@127.0.0.1:{port}/synedge")
        );
        let req = FragmentRequest::from_query("retailer=shop-one&locale=en-GB&ean=4006381333931")
            .unwrap();
        let started = std::time::Instant::now();
        let e = store.fetch(&req).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert!(e.is_transient(), "{e:?}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = PostgresOrigin::connect(&url, Duration::from_millis(500))
            .await
            .unwrap_err();
        let text = format!("{e:#}");
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
