//! Origin stores: where fragments come from on a cache miss (DESIGN.md §5).
//!
//! The set of stores is closed, so [`open`] matches on the scheme of a
//! [`StoreUrl`] — the one place that does. It returns what the store provides: the
//! [`Origin`] the cache talks to (object-safe, which is also what tests stub), and for the
//! catalog stores the [`EventStore`] and the [`import::CatalogStore`] an import writes
//! through.
//!
//! Invariants: "no content" is a normal answer ([`Lookup::NoContent`]), never an error;
//! an [`OriginError`] says whether it is worth serving stale content instead
//! ([`OriginError::is_transient`]).

pub mod guard;
pub mod http;
pub mod import;
pub mod postgres;
pub mod sqlite;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::domain::FragmentRequest;
use crate::events::EventStore;
use crate::store_url::{Scheme, StoreUrl};

/// A boxed future, so that [`Origin`] stays object-safe. Only misses pay for the box.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One product's content in one locale, as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// The HTML, identity-encoded.
    pub html: Bytes,
    /// Gzip and brotli variants, when the store keeps them precompressed (made once at
    /// import). `None` means "not stored": the cache compresses once on insert.
    pub gzip: Option<Bytes>,
    pub br: Option<Bytes>,
    /// Content hash of `html` (16 lowercase hex digits, see [`content_version`]); the ETag.
    pub version: String,
    /// Unix seconds of the last change to this content.
    pub updated_at: i64,
    /// Normalized brand, for the `brand:` surrogate key.
    pub brand: String,
    /// Product id (`<brand>/<mpn>`, normalized), for the `product:` surrogate key.
    pub product_id: String,
    /// The origin's own validator (an HTTP origin's `ETag`, as sent), for a conditional
    /// [`Origin::revalidate`] later. Stores have none.
    pub validator: Option<String>,
    /// What the origin says about reusing this answer (an HTTP origin's `Cache-Control`).
    pub directives: Directives,
}

/// Caching directives from the origin (DESIGN.md §5: an HTTP origin's `Cache-Control`).
/// Each field overrides the `[cache]` setting it names; all empty (the default) for
/// stores, which leave every decision to `[cache]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Directives {
    /// `s-maxage`, else `max-age`: fresh for this long instead of `cache.ttl`.
    pub max_age: Option<Duration>,
    pub stale_while_revalidate: Option<Duration>,
    pub stale_if_error: Option<Duration>,
    /// `no-store` (or `private`): answer the request that fetched it, keep nothing.
    pub no_store: bool,
}

/// A purge to apply on every instance sharing a store (DESIGN.md §4): the same shape as
/// `POST /admin/v1/purge`, plus `all` for "drop everything" (after a missed notification,
/// or an import too large to list).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Invalidation {
    /// Normalized fragment keys.
    pub keys: Vec<String>,
    /// `brand:<b>`, `product:<id>`, `retailer:<r>`.
    pub surrogate_keys: Vec<String>,
    pub all: bool,
    /// Drop the cached answers that named no product: an import added a product, an EAN
    /// or a SKU that such a request may find now.
    pub unidentified: bool,
}

impl Invalidation {
    pub fn all() -> Self {
        Self {
            all: true,
            ..Self::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.all && !self.unidentified && self.keys.is_empty() && self.surrogate_keys.is_empty()
    }
}

/// The answer to a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(Fragment),
    /// No product, no grant for this retailer, or no content in this locale. When a
    /// product was identified, its brand and id are given so purges can reach the
    /// cached negative answer too.
    NoContent {
        brand: Option<String>,
        product_id: Option<String>,
    },
    /// Only from [`Origin::revalidate`]: the content held under the validator is still
    /// current (HTTP 304), reusable as the directives now say.
    NotModified {
        directives: Directives,
    },
}

/// Why a store could not answer. Cheap to build; the string is for logs only.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OriginError {
    #[error("origin timed out after {0:?}")]
    Timeout(Duration),
    #[error("origin unavailable: {0}")]
    Unavailable(String),
    #[error("origin returned corrupt data: {0}")]
    Corrupt(String),
}

impl OriginError {
    /// Whether the failure may pass (worth serving stale content and retrying later).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Timeout(_) | Self::Unavailable(_))
    }
}

/// A fragment store.
pub trait Origin: Send + Sync + 'static {
    /// Looks up the fragment for `req`, applying identity order, syndication grants and
    /// locale fallback (DESIGN.md §2).
    fn fetch<'a>(&'a self, req: &'a FragmentRequest) -> BoxFuture<'a, Result<Lookup, OriginError>>;

    /// Asks again for content held under `validator` (from [`Fragment::validator`]):
    /// [`Lookup::NotModified`] when it has not changed. Stores without validators look it
    /// up afresh, which is what this default does.
    fn revalidate<'a>(
        &'a self,
        req: &'a FragmentRequest,
        validator: &'a str,
    ) -> BoxFuture<'a, Result<Lookup, OriginError>> {
        let _ = validator;
        self.fetch(req)
    }

    /// A short name for logs and metrics (`sqlite`, `postgres`, `http`).
    fn kind(&self) -> &'static str;

    /// How many products the catalog holds; `None` when the store cannot tell (an HTTP
    /// upstream). Counted, so asked rarely: at start and after imports.
    fn product_count(&self) -> BoxFuture<'_, Result<Option<u64>, OriginError>> {
        Box::pin(async { Ok(None) })
    }

    /// Tells every other instance sharing this store to apply `inv` (PostgreSQL: NOTIFY);
    /// whether there is a fleet to tell. The default, for stores no fleet shares, has no
    /// one to tell.
    fn broadcast<'a>(&'a self, inv: &'a Invalidation) -> BoxFuture<'a, Result<bool, OriginError>> {
        let _ = inv;
        Box::pin(async { Ok(false) })
    }

    /// Invalidations made elsewhere (other instances' purges, imports into the store),
    /// as they happen, until the receiver is dropped. Called once, from within the
    /// runtime, when the server starts; `None` when the store cannot tell (then content
    /// changes show once entries expire).
    fn invalidations(&self) -> Option<tokio::sync::mpsc::Receiver<Invalidation>> {
        None
    }

    /// Whether [`Self::invalidations`] is live yet: `true` once the store would report a
    /// change made from now on. `None` when the store's stream is live as soon as it is
    /// asked for (or there is none). A cache filled from elsewhere (peers' hot sets)
    /// waits for this first, so that no purge can fall between what it copies and what
    /// it hears.
    fn listening(&self) -> Option<tokio::sync::watch::Receiver<bool>> {
        None
    }
}

/// The content version (ETag value, unquoted) of an HTML body: 16 hex digits of xxh3-64.
/// Stable across processes and machines, so every instance of a fleet agrees.
pub fn content_version(html: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(html))
}

/// What a store provides, from [`open`].
pub struct Store {
    /// Answers cache misses.
    pub origin: Arc<dyn Origin>,
    /// Keeps the events rollup; `None` for an HTTP upstream, which keeps none.
    pub events: Option<Arc<dyn EventStore>>,
    /// Takes catalog imports; `None` for an HTTP upstream.
    pub catalog: Option<Arc<dyn import::CatalogStore>>,
    /// Which kind of store this is.
    pub scheme: Scheme,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("kind", &self.origin.kind())
            .finish_non_exhaustive()
    }
}

/// Opens the store named by `url`: a SQLite file (created when missing), a PostgreSQL
/// database (connected to and migrated now, so a wrong URL or a foreign database fails
/// at start), or an HTTP upstream (connected to on first use). `timeout` bounds every
/// lookup. The one scheme dispatch of the crate.
///
/// # Errors
/// The store cannot be opened; the message names it without its password.
pub async fn open(url: &StoreUrl, timeout: Duration) -> anyhow::Result<Store> {
    use anyhow::Context as _;
    let shown = url.redacted();
    Ok(match url.scheme() {
        Scheme::Sqlite => {
            let path = url
                .sqlite_path()
                .expect("invariant: a sqlite:// URL has a path");
            let s = Arc::new(
                sqlite::SqliteOrigin::open(path, timeout)
                    .with_context(|| format!("opening the store {shown}"))?,
            );
            Store {
                origin: s.clone(),
                events: Some(s.clone()),
                catalog: Some(s),
                scheme: Scheme::Sqlite,
            }
        }
        Scheme::Postgres => {
            // Errors name the URL without its password.
            let s =
                Arc::new(postgres::PostgresOrigin::connect(url.as_secret_str(), timeout).await?);
            Store {
                origin: s.clone(),
                events: Some(s.clone()),
                catalog: Some(s),
                scheme: Scheme::Postgres,
            }
        }
        Scheme::Http => Store {
            origin: Arc::new(http::HttpOrigin::connect(url.as_secret_str(), timeout)?),
            events: None,
            catalog: None,
            scheme: Scheme::Http,
        },
    })
}
