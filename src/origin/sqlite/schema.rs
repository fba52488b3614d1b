//! The SQLite store's schema and its migrations (`PRAGMA user_version`).
//!
//! Versions: 1 the catalog; 2 adds the events rollup; 3 adds the change log
//! (`catalog_changes`), what each import asks running servers to drop, and a covering
//! index of content versions, so an import learns what is stored without reading the
//! (multi-page) rows.

use rusqlite::{Connection, TransactionBehavior};

/// The schema version this build writes and reads. Older files are migrated at open.
pub const SCHEMA_VERSION: i64 = 3;

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

/// Version 2 → 3: the change log. One row per committed import, keyed by the change
/// counter it brought the catalog to, holding the [`crate::origin::Invalidation`] (JSON)
/// that running servers apply. Only the latest rows are kept (see `changes`). And the
/// versions of content by product and locale: a content row is kilobytes of HTML and
/// variants over several pages, with `version` after them; this index answers "which
/// version is stored" (every line of every import asks) from a few bytes.
const MIGRATION_3: &str = "
CREATE TABLE catalog_changes (
    counter      INTEGER PRIMARY KEY,      -- catalog_meta.change_counter after the import
    invalidation TEXT NOT NULL             -- JSON origin::Invalidation
);
CREATE INDEX content_versions ON content(product_id, locale, version);
";

/// Creates the schema in a fresh file, upgrades version 1 and 2 files, refuses files
/// from a newer build.
pub(super) fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
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
            tx.execute_batch(MIGRATION_3)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        }
        1 => {
            tx.execute_batch(MIGRATION_2)?;
            tx.execute_batch(MIGRATION_3)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        }
        2 => {
            tx.execute_batch(MIGRATION_3)?;
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
