//! The PostgreSQL schema and its versioned migrations.
//!
//! The logical schema is the SQLite store's (`origin::sqlite`): products, identifiers,
//! content per locale with precompressed variants, grants, the events rollup and the
//! change counter. Text keys are `COLLATE "C"`: byte order, as SQLite compares, so
//! `stats` orders rows the same on both stores whatever the database's locale.
//!
//! Migrations run in one transaction that first takes a transaction-level advisory lock,
//! so instances starting at once apply each migration exactly once: the others wait for
//! the lock, then find the version already recorded in `schema_version`.

use anyhow::{Context as _, bail};

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i32 = 1;

/// Key of the advisory lock held while migrating: "synedge" in ASCII, so that it is
/// unlikely to collide with another application's lock in the same database.
const MIGRATION_LOCK: i64 = 0x73_79_6e_65_64_67_65;

/// Every migration, in order: (version, SQL).
const MIGRATIONS: &[(i32, &str)] = &[(1, V1)];

const V1: &str = r#"
CREATE TABLE products (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    brand      text NOT NULL,               -- as written in the catalog, for display
    brand_norm text COLLATE "C" NOT NULL,   -- domain::normalize_brand
    mpn        text NOT NULL,               -- as written, for display
    mpn_norm   text COLLATE "C" NOT NULL,   -- domain::normalize_identity
    UNIQUE (brand_norm, mpn_norm)
);
CREATE TABLE product_eans (
    gtin14     text COLLATE "C" PRIMARY KEY, -- 14 digits, see domain::Gtin14
    product_id bigint NOT NULL REFERENCES products(id) ON DELETE CASCADE
);
CREATE INDEX product_eans_by_product ON product_eans (product_id);
CREATE TABLE retailer_skus (
    retailer   text COLLATE "C" NOT NULL,
    sku        text COLLATE "C" NOT NULL,
    product_id bigint NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    PRIMARY KEY (retailer, sku)
);
CREATE INDEX retailer_skus_by_product ON retailer_skus (product_id);
CREATE TABLE content (
    product_id bigint NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    locale     text COLLATE "C" NOT NULL,   -- lowercase BCP 47, see domain::Locale
    html       bytea NOT NULL,
    gzip       bytea,                       -- NULL: not worth compressing
    br         bytea,
    version    text COLLATE "C" NOT NULL,   -- origin::content_version(html)
    updated_at bigint NOT NULL,             -- unix seconds of the last change of version
    PRIMARY KEY (product_id, locale)
);
-- Already compressed: storing them as they are saves PostgreSQL a pointless pglz pass.
ALTER TABLE content ALTER COLUMN gzip SET STORAGE EXTERNAL;
ALTER TABLE content ALTER COLUMN br SET STORAGE EXTERNAL;
CREATE TABLE grants (
    brand_norm text COLLATE "C" NOT NULL,
    retailer   text COLLATE "C" NOT NULL,   -- a retailer slug, or '*' for all
    PRIMARY KEY (brand_norm, retailer)
);
CREATE TABLE catalog_meta (
    id             integer PRIMARY KEY CHECK (id = 1),
    change_counter bigint NOT NULL          -- +1 per committed import
);
INSERT INTO catalog_meta (id, change_counter) VALUES (1, 0);
-- The events rollup (DESIGN.md section 7): `day` is YYYY-MM-DD text, as in SQLite, so
-- ranges compare as strings.
CREATE TABLE event_rollup (
    day      text COLLATE "C" NOT NULL,
    retailer text COLLATE "C" NOT NULL,
    product  text COLLATE "C" NOT NULL,
    locale   text COLLATE "C" NOT NULL,
    type     text COLLATE "C" NOT NULL,
    count    bigint NOT NULL,
    PRIMARY KEY (day, retailer, product, locale, type)
);
CREATE INDEX event_rollup_by_retailer ON event_rollup (retailer, day);
"#;

/// Brings the database to [`SCHEMA_VERSION`]: creates the schema in an empty database,
/// applies missing migrations, refuses a database from a newer build or one that holds
/// tables of the same names without a synedge version.
///
/// # Errors
/// A database error (nothing was changed), or one of the refusals above.
pub async fn migrate(client: &mut tokio_postgres::Client) -> anyhow::Result<()> {
    let tx = client.transaction().await?;
    // Waiting for another instance's migration may take longer than a lookup may; the
    // "already exists" notices of CREATE ... IF NOT EXISTS are noise.
    tx.batch_execute(
        "SET LOCAL statement_timeout = '5min'; SET LOCAL lock_timeout = '5min'; \
         SET LOCAL client_min_messages = warning",
    )
    .await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .context("waiting for the migration lock")?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version    integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let current: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
        .await?
        .get(0);
    if current > SCHEMA_VERSION {
        bail!(
            "schema version {current} is not supported by this build (it knows version \
             {SCHEMA_VERSION}); use a newer synedge"
        );
    }
    if current == 0 {
        let foreign: bool = tx
            .query_one("SELECT to_regclass('products') IS NOT NULL", &[])
            .await?
            .get(0);
        if foreign {
            bail!(
                "the database holds a products table but no synedge schema version; is it \
                 another application's database? Point origin.url at an empty database"
            );
        }
    }
    for &(version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(sql)
            .await
            .with_context(|| format!("applying schema migration {version}"))?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&version],
        )
        .await?;
        tracing::info!(version, "applied PostgreSQL schema migration");
    }
    tx.commit().await?;
    Ok(())
}
