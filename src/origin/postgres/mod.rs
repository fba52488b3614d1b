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
//! [`PostgresOrigin::connect`] (what [`crate::origin::open`] uses) applies them at once and
//! fails early; [`PostgresOrigin::new`], for callers that cannot wait, on first use.
//!
//! Invariants (as in SQLite):
//! - An import is one transaction: a catalog is in the store completely or not at all.
//! - `content.version` is [`content_version`] of `content.html`; `gzip`/`br` compress
//!   that same `html` (or are NULL); `updated_at` changes only when `version` does.
//! - Grants are only ever added by imports.
//! - `catalog_meta.change_counter` grows by one with every committed import.

mod import;
mod notify;
mod rollups;
mod schema;
mod target;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use bytes::Bytes;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use tokio::sync::{OnceCell, mpsc};
use tokio_postgres::error::SqlState;

pub use notify::{CHANNEL, LISTENER_NAME};
pub use schema::SCHEMA_VERSION;

use super::{BoxFuture, Directives, Fragment, Invalidation, Lookup, Origin, OriginError};
use crate::domain::FragmentRequest;

/// Pooled connections at most. Lookups are indexed point reads of well under a
/// millisecond; the cache in front makes misses rare; each connection costs the server
/// a process, and a fleet multiplies this number.
pub const POOL_SIZE: usize = 16;
/// An import that changed more products than this announces `all` instead of a list.
pub const MAX_NOTIFIED_KEYS: usize = 500;
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
    /// Whether the invalidation listener has LISTENed (see [`Origin::listening`]).
    listening: Arc<tokio::sync::watch::Sender<bool>>,
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
            listening: Arc::new(tokio::sync::watch::Sender::new(false)),
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
        pooled(&self.pool, &self.target.shown).await
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
            .execute(import::SQL_NOTIFY, &[&CHANNEL, &payloads])
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

    /// The runtime to run store work on: the current one, else the one the store was
    /// opened on.
    fn handle(&self) -> anyhow::Result<tokio::runtime::Handle> {
        tokio::runtime::Handle::try_current()
            .ok()
            .or_else(|| self.runtime.clone())
            .ok_or_else(|| anyhow!("the postgres store needs a tokio runtime"))
    }

    /// Runs `work` to completion from blocking code (the [`EventStore`] methods): on the
    /// current runtime when called from one of its blocking threads, else on the runtime
    /// the store was opened on.
    fn block_on<T: Send + 'static>(
        &self,
        work: impl Future<Output = anyhow::Result<T>> + Send + 'static,
    ) -> anyhow::Result<T> {
        let handle = self.handle()?;
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
            crate::net::error_chain(e)
        }
    }
}

/// A connection from `pool`, or an error naming the store (`shown`) and why.
async fn pooled(pool: &Pool, shown: &str) -> anyhow::Result<deadpool_postgres::Object> {
    pool.get()
        .await
        .map_err(|e| anyhow!("connecting to {shown}: {}", describe_pool(&e)))
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

    fn product_count(&self) -> BoxFuture<'_, Result<Option<u64>, OriginError>> {
        Box::pin(async move {
            let count = async {
                self.ensure_ready()
                    .await
                    .map_err(|e| OriginError::Unavailable(format!("{e:#}")))?;
                let client = self.pool.get().await.map_err(|e| self.pool_error(&e))?;
                let row = client
                    .query_one("SELECT count(*) FROM products", &[])
                    .await
                    .map_err(|e| self.pg_error(&e))?;
                let n: i64 = row.try_get(0).map_err(|e| self.pg_error(&e))?;
                Ok(Some(u64::try_from(n).unwrap_or(0)))
            };
            tokio::time::timeout(self.timeout, count)
                .await
                .map_err(|_| OriginError::Timeout(self.timeout))?
        })
    }

    fn broadcast<'a>(&'a self, inv: &'a Invalidation) -> BoxFuture<'a, Result<bool, OriginError>> {
        Box::pin(async move {
            tokio::time::timeout(self.timeout, self.notify(inv))
                .await
                .map_err(|_| OriginError::Timeout(self.timeout))??;
            Ok(true)
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
        handle.spawn(notify::run(
            self.target.clone(),
            tx,
            Arc::clone(&self.listening),
        ));
        Some(rx)
    }

    fn listening(&self) -> Option<tokio::sync::watch::Receiver<bool>> {
        Some(self.listening.subscribe())
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
