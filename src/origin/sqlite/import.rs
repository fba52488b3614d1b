//! Catalog imports into the SQLite store: the narrow write interface of
//! [`crate::origin::import`]. The import itself (validation, diffing, compression, the
//! GTIN rule, the summary) is `catalog::import`'s.
//!
//! One import is one `BEGIN IMMEDIATE` … `COMMIT` on the writer connection: readers (the
//! server's lookups, on their own connections) keep seeing the last committed catalog
//! until the commit, thanks to WAL. The writer lock is held for the whole import, so a
//! server's events writer sharing the file waits and retries meanwhile (its events stay
//! queued).

use std::collections::HashSet;
use std::sync::MutexGuard;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use rusqlite::{Connection, OptionalExtension as _, params};

use super::{SqliteOrigin, changes};
use crate::compress::compress;
use crate::origin::Invalidation;
use crate::origin::import::{CatalogStore, CatalogWrite, ContentKey, Owner, Prepared, Written};

// `INDEXED BY`: the planner would take the primary key's index, equally selective, and
// then read each multi-page row for its version (see `schema`).
const SQL_VERSION_BY_IDENTITY: &str = "SELECT c.version FROM content c INDEXED BY content_versions \
     JOIN products p ON p.id = c.product_id \
     WHERE p.brand_norm = ?1 AND p.mpn_norm = ?2 AND c.locale = ?3";
const SQL_PRODUCT: &str =
    "SELECT id, brand, mpn FROM products WHERE brand_norm = ?1 AND mpn_norm = ?2";
const SQL_INSERT_PRODUCT: &str =
    "INSERT INTO products (brand, brand_norm, mpn, mpn_norm) VALUES (?1, ?2, ?3, ?4) RETURNING id";
const SQL_RENAME_PRODUCT: &str = "UPDATE products SET brand = ?1, mpn = ?2 WHERE id = ?3";
const SQL_EAN_OWNER: &str = "SELECT e.product_id, p.brand, p.brand_norm, p.mpn_norm \
     FROM product_eans e JOIN products p ON p.id = e.product_id WHERE e.gtin14 = ?1";
const SQL_CLAIM_EAN: &str = "INSERT INTO product_eans (gtin14, product_id) VALUES (?1, ?2) \
     ON CONFLICT (gtin14) DO UPDATE SET product_id = excluded.product_id";
const SQL_SKU_OWNER: &str = "SELECT s.product_id, p.brand_norm, p.mpn_norm \
     FROM retailer_skus s JOIN products p ON p.id = s.product_id \
     WHERE s.retailer = ?1 AND s.sku = ?2";
const SQL_CLAIM_SKU: &str = "INSERT INTO retailer_skus (retailer, sku, product_id) VALUES (?1, ?2, ?3) \
     ON CONFLICT (retailer, sku) DO UPDATE SET product_id = excluded.product_id";
const SQL_STORED_VERSION: &str = "SELECT version FROM content INDEXED BY content_versions \
     WHERE product_id = ?1 AND locale = ?2";
const SQL_UPSERT_CONTENT: &str = "INSERT INTO content (product_id, locale, html, gzip, br, version, updated_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
     ON CONFLICT (product_id, locale) DO UPDATE SET html = excluded.html, \
     gzip = excluded.gzip, br = excluded.br, version = excluded.version, \
     updated_at = excluded.updated_at";
const SQL_GRANT: &str = "INSERT OR IGNORE INTO grants (brand_norm, retailer) VALUES (?1, ?2)";

impl CatalogStore for SqliteOrigin {
    fn stored_versions(&self, keys: &[ContentKey<'_>]) -> anyhow::Result<Vec<Option<String>>> {
        self.readers
            .blocking(|conn| {
                let mut stmt = conn.prepare_cached(SQL_VERSION_BY_IDENTITY)?;
                keys.iter()
                    .map(|k| {
                        stmt.query_row(params![k.brand, k.mpn, k.locale], |r| r.get(0))
                            .optional()
                    })
                    .collect()
            })
            .with_context(|| format!("reading the stored catalog of {}", self.path))
    }

    fn begin(&self) -> anyhow::Result<Box<dyn CatalogWrite + '_>> {
        let conn = self.writer();
        conn.execute_batch("BEGIN IMMEDIATE")
            .with_context(|| format!("starting the import transaction on {}", self.path))?;
        Ok(Box::new(SqliteWrite {
            conn,
            path: &self.path,
            open: true,
            granted: HashSet::new(),
            now: unix_now(),
        }))
    }

    fn is_empty(&self) -> anyhow::Result<bool> {
        SqliteOrigin::is_empty(self)
    }

    fn change_counter(&self) -> anyhow::Result<i64> {
        SqliteOrigin::change_counter(self)
    }
}

impl SqliteOrigin {
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

    /// How many imports have been committed to this store, ever.
    ///
    /// # Errors
    /// The query failed.
    pub fn change_counter(&self) -> anyhow::Result<i64> {
        let conn = self.writer();
        Ok(conn.query_row(
            "SELECT change_counter FROM catalog_meta WHERE id = 1",
            [],
            |r| r.get(0),
        )?)
    }
}

/// The open import transaction on the writer connection.
struct SqliteWrite<'a> {
    conn: MutexGuard<'a, Connection>,
    path: &'a str,
    /// Until committed: dropping rolls back.
    open: bool,
    /// (brand, retailer) grants already written by this import.
    granted: HashSet<(String, String)>,
    /// `updated_at` of content this import changes.
    now: i64,
}

impl CatalogWrite for SqliteWrite<'_> {
    fn write(&mut self, batch: Vec<Prepared>) -> anyhow::Result<Vec<Written>> {
        let mut out = Vec::with_capacity(batch.len());
        for p in &batch {
            let w = self
                .write_one(p)
                .with_context(|| format!("writing line {} into {}", p.line, self.path))?;
            out.push(w);
        }
        Ok(out)
    }

    fn commit(mut self: Box<Self>, inv: &Invalidation) -> anyhow::Result<()> {
        changes::record(&self.conn, inv)
            .and_then(|_| self.conn.execute_batch("COMMIT"))
            .with_context(|| format!("committing the import to {}", self.path))?;
        self.open = false;
        Ok(())
    }
}

impl SqliteWrite<'_> {
    fn write_one(&mut self, p: &Prepared) -> rusqlite::Result<Written> {
        let conn = &*self.conn;
        let mut w = Written::default();
        let (brand, mpn) = (p.id.brand.as_str(), p.id.mpn.as_str());
        let existing: Option<(i64, String, String)> = conn
            .prepare_cached(SQL_PRODUCT)?
            .query_row([brand, mpn], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let id = match existing {
            Some((id, shown_brand, shown_mpn)) => {
                if shown_brand != p.brand || shown_mpn != p.mpn {
                    conn.prepare_cached(SQL_RENAME_PRODUCT)?
                        .execute(params![p.brand, p.mpn, id])?;
                }
                id
            }
            None => {
                w.new_identity = true;
                conn.prepare_cached(SQL_INSERT_PRODUCT)?
                    .query_row(params![p.brand, brand, p.mpn, mpn], |r| r.get(0))?
            }
        };
        for ean in &p.eans {
            let owner: Option<(i64, String, String, String)> = conn
                .prepare_cached(SQL_EAN_OWNER)?
                .query_row([ean.as_str()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?;
            match owner {
                Some((owner, ..)) if owner == id => continue,
                Some((_, shown, brand_norm, mpn_norm)) => w.moved_eans.push((
                    *ean,
                    Owner {
                        brand: shown,
                        product_id: format!("{brand_norm}/{mpn_norm}"),
                        brand_norm,
                    },
                )),
                None => w.new_identity = true,
            }
            conn.prepare_cached(SQL_CLAIM_EAN)?
                .execute(params![ean.as_str(), id])?;
        }
        for (retailer, sku) in &p.skus {
            let owner: Option<(i64, String, String)> = conn
                .prepare_cached(SQL_SKU_OWNER)?
                .query_row([retailer.as_str(), sku.as_str()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?;
            match owner {
                Some((owner, ..)) if owner == id => continue,
                Some((_, b, m)) => w.moved_skus_from.push(format!("{b}/{m}")),
                None => w.new_identity = true,
            }
            conn.prepare_cached(SQL_CLAIM_SKU)?.execute(params![
                retailer.as_str(),
                sku.as_str(),
                id
            ])?;
        }
        // Checked in the transaction: another import may have committed since the
        // import read the stored versions.
        let stored: Option<String> = conn
            .prepare_cached(SQL_STORED_VERSION)?
            .query_row(params![id, p.locale.as_str()], |r| r.get(0))
            .optional()?;
        if stored.as_deref() != Some(p.version.as_str()) {
            let (gzip, br) = p.variants.clone().unwrap_or_else(|| compress(&p.html));
            conn.prepare_cached(SQL_UPSERT_CONTENT)?.execute(params![
                id,
                p.locale.as_str(),
                &p.html[..],
                gzip.as_deref(),
                br.as_deref(),
                p.version,
                self.now
            ])?;
            w.changed = true;
        }
        for retailer in &p.retailers {
            if self.granted.insert((brand.to_owned(), retailer.clone())) {
                let added = conn
                    .prepare_cached(SQL_GRANT)?
                    .execute(params![brand, retailer])?;
                w.new_grant |= added > 0;
            }
        }
        Ok(w)
    }
}

impl Drop for SqliteWrite<'_> {
    fn drop(&mut self) {
        if self.open {
            // Best effort: a failed rollback leaves SQLite to roll back when the
            // connection next begins, or at close; nothing was committed either way.
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::warn!(error = %e, path = self.path, "rolling back the import failed");
            }
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
