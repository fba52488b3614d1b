//! The fragment cache (DESIGN.md §4): bounded by bytes, keyed by the normalized request,
//! with stale-while-revalidate, stale-if-error and negative caching.
//!
//! The map is quick_cache's: sharded, weighed in bytes, evicting by S3-FIFO (a small
//! probation queue, a main queue and a ghost list of recently evicted keys, so a scan
//! of one-off keys cannot flush what is popular). A read is a shard read-lock, one
//! hash-table probe and at most one relaxed counter increment: no read log to replay
//! later, no access-order list to relink. (moka's TinyLFU, measured on this hit path,
//! cost 13.6% of a hit's CPU in that bookkeeping.)
//!
//! Invariants:
//! - A hit is one map lookup plus a clock read; it never waits on a miss.
//! - Misses for one key share one fetch (a *flight*): the first starts it, if admitted
//!   (load shedding is asked only here), and every other request for the key waits for
//!   its outcome and is woken with it at once, holding no permit. So a herd of thousands
//!   on a cold key costs exactly one origin fetch and one miss permit.
//! - Freshness is judged here, from `stored_at` on tokio's clock. An entry past the last
//!   moment any rule could serve it is *dead*: never returned, dropped by [`upkeep`]'s
//!   sweep, and until then as evictable as any other.
//! - This module knows nothing about HTTP beyond prebuilt header values in entries.
//!
//! [`upkeep`]: FragmentCache::upkeep

mod entry;
pub mod hot;
pub mod wire;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use quick_cache::sync::Cache;
use tokio::sync::watch;
use tokio::time::Instant;

pub use entry::{CachedFragment, Content, Encoding, Lifetimes, SurrogateKey, Surrogates};

use crate::config::CacheConfig;
use crate::domain::{FragmentRequest, InputError};
use crate::origin::{Invalidation, Lookup, Origin, OriginError};
use crate::signals::{CacheResult, Metrics, OriginResult};

/// How long a request for an entry within stale-if-error waits for its refresh before
/// the stale entry is served instead: a healthy local origin answers well within it.
pub const STALE_IF_SLOW: Duration = Duration::from_millis(5);

/// How an answer relates to the cache, for `X-Cache` and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Fresh from the cache, or stored by a concurrent request this one waited for.
    Hit,
    /// Fetched from the origin for this request.
    Miss,
    /// Past `ttl`, served while refreshing or because the origin failed.
    Stale,
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "HIT",
            Self::Miss => "MISS",
            Self::Stale => "STALE",
        }
    }
}

/// An answer: the entry to send and how it was found.
#[derive(Debug, Clone)]
pub struct Served {
    pub entry: Arc<CachedFragment>,
    pub status: CacheStatus,
}

/// Cache timing and size, from `[cache]` and `origin.timeout`.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    pub max_bytes: u64,
    pub ttl: Duration,
    pub negative_ttl: Duration,
    pub stale_while_revalidate: Duration,
    pub stale_if_error: Duration,
    pub origin_timeout: Duration,
}

impl CacheSettings {
    pub fn new(cache: &CacheConfig, origin_timeout: Duration) -> Self {
        Self {
            max_bytes: cache.max_bytes.0,
            ttl: cache.ttl,
            negative_ttl: cache.negative_ttl,
            stale_while_revalidate: cache.stale_while_revalidate,
            stale_if_error: cache.stale_if_error,
            origin_timeout,
        }
    }
}

/// Why [`FragmentCache::get`] has no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GetError {
    #[error(transparent)]
    Origin(#[from] OriginError),
    /// The request would have started an origin fetch, and `admit` refused it.
    #[error("no room for another origin fetch right now")]
    Shed,
}

/// A purge key that is not one: which list (`keys` or `surrogate_keys`), where in it,
/// and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadKey {
    pub field: &'static str,
    pub index: usize,
    pub error: InputError,
}

/// Many surrogate keys at once, as sets, plus "the answers that named no product".
#[derive(Default)]
struct Purge {
    brands: std::collections::HashSet<String>,
    products: std::collections::HashSet<String>,
    retailers: std::collections::HashSet<String>,
    unidentified: bool,
}

impl Purge {
    fn of(keys: Vec<SurrogateKey>) -> Self {
        let mut p = Self::default();
        for k in keys {
            match k {
                SurrogateKey::Brand(b) => p.brands.insert(b),
                SurrogateKey::Product(id) => p.products.insert(id),
                SurrogateKey::Retailer(r) => p.retailers.insert(r),
            };
        }
        p
    }

    fn is_empty(&self) -> bool {
        !self.unidentified
            && self.brands.is_empty()
            && self.products.is_empty()
            && self.retailers.is_empty()
    }

    fn matches(&self, s: &Surrogates) -> bool {
        (self.unidentified && s.product.is_none())
            || self.retailers.contains(&*s.retailer)
            || s.brand.as_deref().is_some_and(|b| self.brands.contains(b))
            || s.product
                .as_deref()
                .is_some_and(|p| self.products.contains(p))
    }
}

/// What a purge named, and what it removed from this instance's cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Purged {
    /// Fragment keys named.
    pub keys: usize,
    /// Surrogate keys named.
    pub surrogate_keys: usize,
    /// Entries dropped here.
    pub entries: usize,
}

/// What every request waiting on one fetch is handed: `None` until it lands.
type Outcome = Option<Result<Served, OriginError>>;

/// A fetch in flight, as one of the requests waiting on it sees it.
struct Flight {
    rx: watch::Receiver<Outcome>,
    /// Whether this request started it (it reports `MISS`; the others `HIT`).
    started: bool,
}

impl Flight {
    async fn outcome(mut self) -> Result<Served, OriginError> {
        match self.rx.wait_for(Option::is_some).await {
            Ok(o) => o
                .clone()
                .expect("invariant: wait_for returns a landed outcome"),
            Err(_) => Err(OriginError::Unavailable(
                "the fetch for this fragment ended without an answer".into(),
            )),
        }
    }
}

/// Removes a flight from the map when its task ends, answered or not.
struct Landing<'a>(&'a Inner, &'a str);

impl Drop for Landing<'_> {
    fn drop(&mut self) {
        self.0
            .flights
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(self.1);
    }
}

/// Weighs an entry in bytes for `cache.max_bytes`.
#[derive(Clone, Copy)]
struct ByBytes;

impl quick_cache::Weighter<String, Arc<CachedFragment>> for ByBytes {
    fn weight(&self, _key: &String, value: &Arc<CachedFragment>) -> u64 {
        u64::from(value.weight())
    }
}

/// What an entry weighs on average (a 6–7 KiB fragment with its gzip and br variants):
/// sizes the map's tables.
const TYPICAL_ENTRY_BYTES: u64 = 10 << 10;
/// The smallest share of `cache.max_bytes` a shard gets. The map is split into up to 4
/// shards per core (each its own lock), evenly, and an entry heavier than its shard's
/// share is served but not kept: so a small cache gets few shards (8 MiB: one), and a
/// large one enough for the cores (512 MiB on 2 cores: 8 of 64 MiB).
const MIN_SHARD_BYTES: u64 = 16 << 20;

/// How often [`FragmentCache::upkeep`] sweeps out dead entries: one pass over the map,
/// holding each shard's write lock in turn.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Where an entry stands at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freshness {
    Fresh,
    /// Within stale-while-revalidate: serve it, refresh in the background.
    Revalidate,
    /// Past that, but within stale-if-error: serve it only if the origin fails.
    IfError,
    /// Too old to serve at all.
    Dead,
}

/// The shared fragment cache. Cheap to clone.
#[derive(Clone)]
pub struct FragmentCache {
    inner: Arc<Inner>,
}

struct Inner {
    /// Keys come from requests, so the hasher is seeded per process (foldhash's fast
    /// `RandomState`, several times quicker than SipHash on these ~40-byte keys).
    map: Cache<String, Arc<CachedFragment>, ByBytes, foldhash::fast::RandomState>,
    origin: Arc<dyn Origin>,
    settings: CacheSettings,
    metrics: Arc<Metrics>,
    /// One origin fetch per key at a time: the requests that miss meanwhile wait for its
    /// outcome here instead of fetching, holding a miss permit or queueing on a lock.
    /// Touched by misses only; the lock is never held across an await.
    flights:
        std::sync::Mutex<HashMap<String, watch::Receiver<Outcome>, foldhash::fast::RandomState>>,
    /// When upkeep last swept out dead entries.
    swept: std::sync::Mutex<Instant>,
    /// What ranks the hot set (`hot`), and what warming from peers must respect.
    hot: hot::HotClock,
}

/// One entry of the hot set, with its key and how hot it is (decayed hit count).
#[derive(Debug, Clone)]
pub struct HotEntry {
    pub key: String,
    pub score: u32,
    pub entry: Arc<CachedFragment>,
}

impl std::fmt::Debug for FragmentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FragmentCache")
            .field("entries", &self.inner.map.len())
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl FragmentCache {
    pub fn new(settings: CacheSettings, origin: Arc<dyn Origin>, metrics: Arc<Metrics>) -> Self {
        let estimated = (settings.max_bytes / TYPICAL_ENTRY_BYTES).max(1);
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let shards = (settings.max_bytes / MIN_SHARD_BYTES).clamp(1, 4 * cores as u64);
        let options = quick_cache::OptionsBuilder::new()
            .estimated_items_capacity(usize::try_from(estimated).unwrap_or(usize::MAX))
            .weight_capacity(settings.max_bytes)
            .shards(usize::try_from(shards).unwrap_or(1))
            .build()
            .expect("invariant: both capacities are set");
        let map = Cache::with_options(
            options,
            ByBytes,
            foldhash::fast::RandomState::default(),
            quick_cache::sync::DefaultLifecycle::default(),
        );
        Self {
            inner: Arc::new(Inner {
                map,
                origin,
                settings,
                metrics,
                flights: std::sync::Mutex::default(),
                swept: std::sync::Mutex::new(Instant::now()),
                hot: hot::HotClock::default(),
            }),
        }
    }

    /// Answers `req` from memory when possible, else from the origin (once per key).
    ///
    /// `admit` is asked only when this request would start an origin fetch, the work
    /// that load shedding protects: whatever it returns is held until that fetch ends,
    /// and `None` refuses it ([`GetError::Shed`]). Hits and requests that wait on a fetch
    /// already in flight for their key never call it.
    ///
    /// # Errors
    /// The origin failed and no entry recent enough for stale-if-error exists, or the
    /// fetch was not admitted.
    pub async fn get<P: Send + 'static>(
        &self,
        req: &FragmentRequest,
        admit: impl FnOnce() -> Option<P>,
    ) -> Result<Served, GetError> {
        let key = req.cache_key();
        if let Some(served) = self.get_now(&key, || req.clone()) {
            return Ok(served);
        }
        let now = Instant::now();
        let served = match self.inner.map.get(&key) {
            // Past stale-while-revalidate but within stale-if-error: ask the origin,
            // and serve this entry if it fails.
            Some(e) if self.freshness(&e, now) == Freshness::IfError => {
                self.refresh_or_stale(&key, req, &e).await
            }
            // A miss, or too old to serve (or stored since `get_now` looked: the flight
            // then finds it without fetching).
            _ => {
                let flight = self.join_or_start(&key, req, now, None, admit)?;
                let joined = !flight.started;
                let mut served = flight.outcome().await?;
                if joined && served.status == CacheStatus::Miss {
                    // Stored by the fetch this request waited for.
                    served.status = CacheStatus::Hit;
                }
                served
            }
        };
        self.count(&served);
        Ok(served)
    }

    /// Answers `req` from memory if that needs no waiting: a fresh entry (a hit), or
    /// one within stale-while-revalidate (served stale while a background refresh
    /// starts). `None` when only [`Self::get`] can answer: a miss, or an entry that
    /// may be served only if the origin fails. `key` is the request's cache key;
    /// `request` makes the request itself, called only to start a refresh.
    pub fn get_now(&self, key: &str, request: impl FnOnce() -> FragmentRequest) -> Option<Served> {
        let e = self.inner.map.get(key)?;
        e.heat.bump(self.inner.hot.epoch());
        let served = match self.freshness(&e, Instant::now()) {
            Freshness::Fresh => Served {
                entry: e,
                status: CacheStatus::Hit,
            },
            Freshness::Revalidate => {
                let _ = self.spawn_refresh(key, &request(), &e);
                Served {
                    entry: e,
                    status: CacheStatus::Stale,
                }
            }
            Freshness::IfError | Freshness::Dead => return None,
        };
        self.count(&served);
        Some(served)
    }

    fn count(&self, served: &Served) {
        let result = match (served.status, served.entry.content.is_some()) {
            (CacheStatus::Stale, _) => CacheResult::Stale,
            (CacheStatus::Miss, _) => CacheResult::Miss,
            (CacheStatus::Hit, true) => CacheResult::Hit,
            (CacheStatus::Hit, false) => CacheResult::Negative,
        };
        self.inner.metrics.cache_request(result);
    }

    fn freshness(&self, e: &CachedFragment, now: Instant) -> Freshness {
        let l = &e.lifetimes;
        let age = now.saturating_duration_since(e.stored_at);
        if age < l.fresh {
            Freshness::Fresh
        } else if age < l.fresh + l.stale_while_revalidate {
            Freshness::Revalidate
        } else if age < l.fresh + l.stale_if_error {
            Freshness::IfError
        } else {
            Freshness::Dead
        }
    }

    /// The fetch in flight for `key`, or a new one if there is none and `admit` lets it
    /// start. The fetch runs in a task of its own, so a client that goes away cancels
    /// nothing the others wait for. `replacing` is the stale entry a background refresh
    /// replaces; a foreground fill passes `None`.
    fn join_or_start<P: Send + 'static>(
        &self,
        key: &str,
        req: &FragmentRequest,
        asked_at: Instant,
        replacing: Option<&Arc<CachedFragment>>,
        admit: impl FnOnce() -> Option<P>,
    ) -> Result<Flight, GetError> {
        let mut flights = self
            .inner
            .flights
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(rx) = flights.get(key) {
            return Ok(Flight {
                rx: rx.clone(),
                started: false,
            });
        }
        let permit = admit().ok_or(GetError::Shed)?;
        let (tx, rx) = watch::channel(None);
        flights.insert(key.to_owned(), rx.clone());
        drop(flights);
        let this = self.clone();
        let (key, req, replacing) = (key.to_owned(), req.clone(), replacing.cloned());
        tokio::spawn(async move {
            // Lands the flight however the task ends, so a panic cannot wedge the key.
            let landing = Landing(&this.inner, &key);
            let outcome = this
                .fetch_and_store(&key, &req, asked_at, replacing.as_ref())
                .await;
            drop(permit);
            if let (Err(_), Some(old)) = (&outcome, &replacing) {
                old.release_refresh();
            }
            drop(landing);
            tx.send_replace(Some(outcome));
        });
        Ok(Flight { rx, started: true })
    }

    /// Fetches and stores the entry for `key` (one flight's work).
    ///
    /// An entry stored meanwhile (newer than `replacing`, or than when the request that
    /// started this asked) is returned without fetching: a request that missed just
    /// before another fetch landed costs nothing. An entry with the origin's validator is
    /// revalidated (a 304 re-stamps it); an answer the origin marked `no-store` answers
    /// the waiting requests and is not kept.
    async fn fetch_and_store(
        &self,
        key: &str,
        req: &FragmentRequest,
        asked_at: Instant,
        replacing: Option<&Arc<CachedFragment>>,
    ) -> Result<Served, OriginError> {
        // A dead entry is as good as none: its validator would revive content no rule
        // may serve any more.
        let now = Instant::now();
        let cur = self
            .inner
            .map
            .get(key)
            .filter(|c| self.freshness(c, now) != Freshness::Dead);
        if let Some(cur) = &cur {
            let newer = match replacing {
                Some(old) => cur.stored_at > old.stored_at,
                None => {
                    cur.stored_at >= asked_at
                        || self.freshness(cur, Instant::now()) == Freshness::Fresh
                }
            };
            if newer {
                return Ok(Served {
                    entry: cur.clone(),
                    status: CacheStatus::Hit,
                });
            }
        }
        let validator = cur.as_ref().and_then(|c| c.validator.as_deref());
        let lookup = self.fetch_origin(req, validator).await?;
        let (entry, keep) = match (lookup, &cur) {
            (Lookup::NotModified { directives }, Some(cur)) => (
                cur.restamped(Instant::now(), &self.inner.settings, &directives),
                true,
            ),
            (Lookup::NotModified { .. }, None) => {
                return Err(OriginError::Corrupt(
                    "the origin answered 304 Not Modified to an unconditional request".into(),
                ));
            }
            (lookup, _) => {
                let no_store = matches!(&lookup, Lookup::Found(f) if f.directives.no_store);
                (self.build_entry(lookup, req, key.len()).await?, !no_store)
            }
        };
        let entry = Arc::new(entry);
        if keep {
            self.inner.map.insert(key.to_owned(), entry.clone());
        } else if cur.is_some() {
            self.inner.map.remove(key);
        }
        Ok(Served {
            entry,
            status: CacheStatus::Miss,
        })
    }

    async fn build_entry(
        &self,
        lookup: Lookup,
        req: &FragmentRequest,
        key_len: usize,
    ) -> Result<CachedFragment, OriginError> {
        let now = Instant::now();
        let settings = &self.inner.settings;
        if !CachedFragment::needs_compression(&lookup) {
            return Ok(CachedFragment::from_lookup(
                lookup,
                &req.retailer,
                key_len,
                now,
                settings,
            ));
        }
        // Compression is CPU work; keep it off the async workers that serve hits.
        let retailer = req.retailer.clone();
        let settings = settings.clone();
        tokio::task::spawn_blocking(move || {
            CachedFragment::from_lookup(lookup, &retailer, key_len, now, &settings)
        })
        .await
        .map_err(|e| OriginError::Unavailable(format!("compressing the fragment failed: {e}")))
    }

    /// One origin lookup, conditional when we hold the origin's `validator`. Bounded by
    /// `origin.timeout` per attempt in the origin's guard, and here, as a backstop for
    /// any origin, by as long as the guard's attempts and backoffs may take.
    async fn fetch_origin(
        &self,
        req: &FragmentRequest,
        validator: Option<&str>,
    ) -> Result<Lookup, OriginError> {
        let started = std::time::Instant::now();
        let timeout = self.inner.settings.origin_timeout * (crate::origin::guard::RETRIES + 1)
            + crate::origin::guard::BACKOFF * 2u32.pow(crate::origin::guard::RETRIES);
        let origin = &self.inner.origin;
        let call = match validator {
            Some(v) => origin.revalidate(req, v),
            None => origin.fetch(req),
        };
        let result = match tokio::time::timeout(timeout, call).await {
            Ok(r) => r,
            Err(_) => Err(OriginError::Timeout(timeout)),
        };
        let outcome = match &result {
            Ok(Lookup::Found(_) | Lookup::NotModified { .. }) => OriginResult::Found,
            Ok(Lookup::NoContent { .. }) => OriginResult::NoContent,
            Err(OriginError::Timeout(_)) => OriginResult::Timeout,
            Err(_) => OriginResult::Error,
        };
        self.inner
            .metrics
            .origin_request(outcome, started.elapsed().as_secs_f64());
        if let Err(e) = &result {
            tracing::warn!(origin = self.inner.origin.kind(), error = %e, "origin lookup failed");
        }
        result
    }

    /// For an entry past stale-while-revalidate but within stale-if-error: refresh it,
    /// but wait for the origin at most [`STALE_IF_SLOW`]; a slow, failing or
    /// breaker-stopped origin gets the stale entry served at once while the refresh
    /// carries on in the background. One refresh per entry: the others meanwhile get
    /// the stale entry without waiting. So a dead or hanging origin costs no latency
    /// for content the cache holds.
    async fn refresh_or_stale(
        &self,
        key: &str,
        req: &FragmentRequest,
        stale: &Arc<CachedFragment>,
    ) -> Served {
        let stale_answer = || Served {
            entry: stale.clone(),
            status: CacheStatus::Stale,
        };
        let Some(refresh) = self.spawn_refresh(key, req, stale) else {
            return stale_answer();
        };
        match tokio::time::timeout(STALE_IF_SLOW, refresh.outcome()).await {
            Ok(Ok(served)) => served,
            Ok(Err(_)) => {
                tracing::debug!("origin failed; serving stale content");
                stale_answer()
            }
            Err(_) => stale_answer(),
        }
    }

    /// Starts the one background refresh of a stale entry (never shed: it replaces
    /// content clients already get); `None` if one is running.
    fn spawn_refresh(
        &self,
        key: &str,
        req: &FragmentRequest,
        stale: &Arc<CachedFragment>,
    ) -> Option<Flight> {
        if !stale.claim_refresh() {
            return None;
        }
        self.join_or_start(key, req, Instant::now(), Some(stale), || Some(()))
            .ok()
    }

    /// Drops the entry for one normalized key at once; whether there was one.
    pub async fn purge_key(&self, key: &str) -> bool {
        self.inner.map.remove(key).is_some()
    }

    /// Drops every entry tagged with `key` at once; how many there were.
    pub async fn purge_surrogate(&self, key: SurrogateKey) -> usize {
        self.purge_where(|s| s.matches(&key)).await
    }

    /// Drops every entry whose surrogates `doomed` accepts, in one pass over the
    /// entries; how many it dropped. Lookups stop returning each at once.
    async fn purge_where(&self, doomed: impl Fn(&Surrogates) -> bool) -> usize {
        let keys: Vec<String> = self
            .inner
            .map
            .iter()
            .filter(|(_, v)| doomed(&v.surrogates))
            .map(|(k, _)| k)
            .collect();
        let mut dropped = 0;
        for k in keys {
            dropped += usize::from(self.inner.map.remove(k.as_str()).is_some());
        }
        dropped
    }

    /// Drops everything; how many entries there were.
    pub fn purge_all(&self) -> usize {
        let entries = self.inner.map.len();
        self.inner.map.clear();
        entries
    }

    /// Applies a purge: every key and surrogate key is validated first, so a bad one
    /// purges nothing. Returns what it named and how many entries it dropped here.
    ///
    /// # Errors
    /// The first key that is not a fragment query, or surrogate key that is unknown,
    /// named by its list and position.
    pub async fn apply(&self, inv: &Invalidation) -> Result<Purged, BadKey> {
        let bad = |field, index| {
            move |error| BadKey {
                field,
                index,
                error,
            }
        };
        let keys = inv
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let q = k.trim_start_matches("/v1/fragment").trim_start_matches('?');
                FragmentRequest::from_query(q)
                    .map(|r| r.cache_key())
                    .map_err(bad("keys", i))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let surrogates = inv
            .surrogate_keys
            .iter()
            .enumerate()
            .map(|(i, s)| SurrogateKey::parse(s).map_err(bad("surrogate_keys", i)))
            .collect::<Result<Vec<_>, _>>()?;
        self.inner.hot.note_purge();
        let mut purged = Purged {
            keys: keys.len(),
            surrogate_keys: surrogates.len(),
            entries: 0,
        };
        if inv.all {
            purged.entries += self.purge_all();
        }
        for k in &keys {
            purged.entries += usize::from(self.purge_key(k).await);
        }
        // An import can name thousands of products: one pass over the entries for all
        // of them, not one per key.
        let purge = Purge {
            unidentified: inv.unidentified,
            ..Purge::of(surrogates)
        };
        if !purge.is_empty() {
            purged.entries += self.purge_where(|s| purge.matches(s)).await;
        }
        self.inner
            .metrics
            .purges
            .increment((purged.keys + purged.surrogate_keys + usize::from(inv.all)) as u64);
        Ok(purged)
    }

    /// The origin behind this cache (for fleet fan-out).
    pub fn origin(&self) -> &Arc<dyn Origin> {
        &self.inner.origin
    }

    /// Sweeps out dead entries (at most every 10 s, `SWEEP_EVERY`) and updates the size
    /// gauges.
    pub async fn upkeep(&self) {
        self.inner.hot.tick();
        let now = Instant::now();
        let due = {
            let mut swept = self
                .inner
                .swept
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let due = now.saturating_duration_since(*swept) >= SWEEP_EVERY;
            if due {
                *swept = now;
            }
            due
        };
        if due {
            self.inner
                .map
                .retain(|_, e| self.freshness(e, now) != Freshness::Dead);
        }
        self.inner
            .metrics
            .cache_entries
            .set(self.inner.map.len() as f64);
        self.inner
            .metrics
            .cache_bytes
            .set(self.inner.map.weight() as f64);
    }

    pub fn entry_count(&self) -> u64 {
        self.inner.map.len() as u64
    }

    pub fn weighted_size(&self) -> u64 {
        self.inner.map.weight()
    }

    pub fn settings(&self) -> &CacheSettings {
        &self.inner.settings
    }

    /// The `limit` entries requested most lately, hottest first; entries too old to
    /// serve are left out. Ranks every entry: for exports, not for the request path.
    pub fn hot(&self, limit: usize) -> Vec<HotEntry> {
        let (epoch, now) = (self.inner.hot.epoch(), Instant::now());
        let live = self
            .inner
            .map
            .iter()
            .filter(|(_, e)| self.freshness(e, now) != Freshness::Dead)
            .map(|(k, e)| (e.heat.score(epoch), (k, e)));
        hot::top(live, limit)
            .into_iter()
            .map(|(score, (key, entry))| HotEntry { key, score, entry })
            .collect()
    }

    /// Stores `entry` (from a peer) under `key` unless this cache holds one as new or
    /// newer, the entry is too old to serve, or it was stored before a purge this cache
    /// applied (the peer may have exported it before that purge reached it).
    /// A key it adds counts in `synedge_cache_warmed_entries_total`.
    pub fn warm(&self, key: &str, entry: Arc<CachedFragment>) -> hot::Stored {
        if self.freshness(&entry, Instant::now()) == Freshness::Dead
            || self.inner.hot.predates_purge(entry.stored_at)
        {
            return hot::Stored::Skipped;
        }
        let stored = match self.inner.map.get(key) {
            Some(cur) if cur.stored_at >= entry.stored_at => return hot::Stored::Skipped,
            Some(_) => hot::Stored::Replaced,
            None => hot::Stored::Added,
        };
        self.inner.map.insert(key.to_owned(), entry);
        if stored == hot::Stored::Added {
            self.inner.metrics.cache_warmed.increment(1);
        }
        stored
    }

    /// The clock the hot set is ranked by, and this cache's identity.
    pub fn hot_clock(&self) -> &hot::HotClock {
        &self.inner.hot
    }
}

#[cfg(test)]
mod tests;
