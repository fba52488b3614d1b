//! Warm start: before a new instance reports ready, it loads its peers' hot sets
//! (`GET /admin/v1/cache/hot` on their admin listeners, the [`crate::cache::wire`] format)
//! into its cache, so joining a fleet under load does not begin with a herd of misses
//! on the origin at the moment it is most fragile. The origin is asked for nothing
//! here: what no peer had is fetched on demand, as always.
//!
//! Invariants: the whole warm-up (resolving `dns://` peers included) ends by its
//! deadline, whatever the peers do; an unreachable or failing peer costs at most that
//! wait and a warning; at most [`CONCURRENCY`] peers are fetched at once; a body that
//! does not decode stores nothing; an entry replaces only an older one; an instance
//! never warms from itself (the export refuses a request carrying its own cache id);
//! nothing is copied before the store's invalidations reach this cache
//! ([`crate::origin::Origin::listening`]).
//!
//! SECURITY: peers are trusted as the origin is: what they send is served as content.
//! They are named by the operator (`cache.warm_from`, `scaler.peers`), reached on their
//! admin listeners (plain HTTP, inside the fleet's network), and sent `admin.token`,
//! which their export requires when set; every field they send is validated before it
//! is stored, so a broken peer can cost a warm-up, not the process.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION};
use http::{HeaderName, HeaderValue, Method, StatusCode};
use tokio::time::Instant;

use crate::cache::hot::Stored;
use crate::cache::{FragmentCache, wire};
use crate::config::Secret;
use crate::net::endpoint::{Endpoint, bearer};
use crate::net::peers::resolve;

/// Peers fetched at once: enough to overlap a slow one, few enough that a large fleet
/// does not make a joining instance hold many hot sets in memory at the same time.
pub const CONCURRENCY: usize = 4;
/// Entries asked of each peer (the export stops earlier at its byte budget).
pub const LIMIT: usize = 10_000;
/// The request header carrying the asking cache's id, so a peer list that includes
/// this instance (a `dns://` name resolving to every pod) costs it nothing.
pub const CACHE_ID_HEADER: &str = "x-synedge-cache-id";
/// The error code of the export's answer to its own instance.
pub const SELF_CODE: &str = "warm_from_self";

/// What a warm-up did, for the log line that reports readiness.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Warmed {
    /// Keys added to the cache (a newer copy from a second peer is not counted again).
    pub entries: usize,
    /// Hot-set bytes received.
    pub bytes: u64,
    /// Peers asked (after `dns://` expansion, itself left out).
    pub peers: usize,
    /// Peers whose hot set was read.
    pub answered: usize,
    pub took: Duration,
}

/// This cache's id as sent in [`CACHE_ID_HEADER`].
pub fn cache_id(cache: &FragmentCache) -> String {
    format!("{:016x}", cache.hot_clock().id())
}

/// Loads `peers`' hot sets into `cache`, sending `token` as the bearer, for at most
/// `timeout`. Never fails: what a peer could not give is logged and skipped.
pub async fn run(
    cache: &FragmentCache,
    peers: &[String],
    token: Option<&Secret>,
    timeout: Duration,
) -> Warmed {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut out = Warmed::default();
    // A purge the store announces before this instance listens would reach the peers
    // and not this cache, which may just have copied what it dropped: hear first, copy
    // after.
    if let Some(mut listening) = cache.origin().listening() {
        let heard = tokio::time::timeout_at(deadline, listening.wait_for(|&up| up)).await;
        if !matches!(heard, Ok(Ok(_))) {
            tracing::warn!(
                ?timeout,
                "warm-up skipped: the store's invalidation listener was not up within cache.warm_timeout, and a copy made without it could keep content a purge dropped"
            );
            out.took = started.elapsed();
            return out;
        }
    }
    let Ok(resolved) = tokio::time::timeout_at(deadline, resolve(peers)).await else {
        tracing::warn!(
            ?timeout,
            "warm-up: resolving cache.warm_from took the whole warm_timeout"
        );
        out.took = started.elapsed();
        return out;
    };
    let auth = match token.map(|t| bearer(t.expose())) {
        Some(Ok(v)) => Some(v),
        Some(Err(why)) => {
            tracing::warn!("warm-up: admin.token {why}; asking peers without it");
            None
        }
        None => None,
    };
    let id = HeaderValue::try_from(cache_id(cache)).expect("invariant: hex is a header value");
    let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    // One peer's entries are stored at a time, so a key two peers hold is added once and
    // counted once (the check and the insert of `warm` are not one step).
    let storing = Arc::new(std::sync::Mutex::new(()));
    let mut set = tokio::task::JoinSet::new();
    for (name, url) in resolved {
        let base = match url {
            Ok(base) => base,
            Err(e) => {
                tracing::warn!(peer = %name, error = %e, "warm-up: peer skipped");
                continue;
            }
        };
        let (cache, permits, auth, id, storing) = (
            cache.clone(),
            permits.clone(),
            auth.clone(),
            id.clone(),
            storing.clone(),
        );
        set.spawn(async move {
            // Fetching, decoding and storing all end by the deadline. Storing has no
            // await inside, so a peer's entries are stored whole or not at all.
            let work = async {
                let body = {
                    let _permit = permits.acquire_owned().await;
                    fetch(&base, auth, id, deadline).await?
                };
                let Some(body) = body else {
                    return Ok(None); // this instance itself
                };
                let bytes = body.len() as u64;
                let stored = store(&cache, body, &storing).await?;
                Ok(Some((stored, bytes)))
            };
            let result = tokio::time::timeout_at(deadline, work)
                .await
                .unwrap_or_else(|_| Err("no hot set within cache.warm_timeout".to_owned()));
            match result {
                Ok(None) => (name, None),
                Ok(Some(got)) => (name, Some(Ok(got))),
                Err(e) => {
                    tracing::warn!(peer = %name, error = %e, "warm-up: nothing from this peer");
                    (name, Some(Err(())))
                }
            }
        });
    }
    while let Some(done) = set.join_next().await {
        match done {
            Ok((_, None)) => {} // itself
            Ok((name, Some(result))) => {
                out.peers += 1;
                if let Ok((stored, bytes)) = result {
                    tracing::debug!(peer = %name, entries = stored, bytes, "warm-up: peer answered");
                    out.answered += 1;
                    out.entries += stored;
                    out.bytes += bytes;
                }
            }
            Err(e) => tracing::warn!(error = %e, "warm-up: a peer's task failed"),
        }
    }
    out.took = started.elapsed();
    out
}

/// One peer's hot set; `None` when the peer is this instance.
async fn fetch(
    base: &str,
    auth: Option<HeaderValue>,
    id: HeaderValue,
    deadline: Instant,
) -> Result<Option<Bytes>, String> {
    let url = format!("{base}/admin/v1/cache/hot?limit={LIMIT}");
    let peer = Endpoint::parse(&url, "cache.warm_from", "the peer", || {
        anyhow::bail!("peers are admin listeners, reached over http://")
    })
    .map_err(|e| e.to_string())?
    .with_answer_limit(wire::MAX_EXPORT_BYTES);
    let mut headers = vec![
        (ACCEPT, HeaderValue::from_static(wire::CONTENT_TYPE)),
        (HeaderName::from_static(CACHE_ID_HEADER), id),
    ];
    if let Some(a) = auth {
        headers.push((AUTHORIZATION, a));
    }
    let left = deadline.saturating_duration_since(Instant::now());
    let answer = peer
        .call(Method::GET, headers, Bytes::new(), left)
        .await
        .map_err(|e| e.to_string())?;
    match answer.status {
        StatusCode::OK => Ok(Some(answer.body)),
        status => {
            let error: Option<serde_json::Value> = serde_json::from_slice(&answer.body).ok();
            let field = |k: &str| {
                error
                    .as_ref()
                    .and_then(|e| e.get(k)?.as_str().map(str::to_owned))
            };
            if field("error").as_deref() == Some(SELF_CODE) {
                return Ok(None);
            }
            let detail = field("detail").unwrap_or_default();
            Err(format!("{} answered HTTP {status} {detail}", peer.shown())
                .trim_end()
                .to_owned())
        }
    }
}

/// Decodes `body` off the async workers and stores what it holds; how many keys it
/// added.
///
/// # Errors
/// The body is not a hot set this instance can read: nothing of it is stored.
async fn store(
    cache: &FragmentCache,
    body: Bytes,
    storing: &std::sync::Mutex<()>,
) -> Result<usize, String> {
    let epoch = cache.hot_clock().epoch();
    let now = Instant::now();
    let decoded = tokio::task::spawn_blocking(move || wire::decode(&body, now, epoch))
        .await
        .map_err(|e| format!("decoding failed: {e}"))?
        .map_err(|e| format!("refused its hot set: {e}"))?;
    let mut stored = 0;
    // Held for a loop without awaits: a few milliseconds per thousand entries.
    let _one_at_a_time = storing.lock().unwrap_or_else(PoisonError::into_inner);
    for d in decoded {
        stored += usize::from(cache.warm(&d.key, Arc::new(d.entry)) == Stored::Added);
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::cache::hot::{HALF_LIFE, Heat};
    use crate::cache::{CacheSettings, CachedFragment, Content, Lifetimes, Surrogates};
    use crate::config::CacheConfig;
    use crate::domain::FragmentRequest;
    use crate::origin::{BoxFuture, Invalidation, Lookup, Origin, OriginError};
    use crate::signals::Metrics;

    /// An origin that must not be asked: counts the calls and answers nothing.
    #[derive(Default)]
    struct Untouched(AtomicUsize);

    impl Origin for Untouched {
        fn fetch<'a>(
            &'a self,
            _req: &'a FragmentRequest,
        ) -> BoxFuture<'a, Result<Lookup, OriginError>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(async {
                Ok(Lookup::NoContent {
                    brand: None,
                    product_id: None,
                })
            })
        }
        fn kind(&self) -> &'static str {
            "untouched"
        }
    }

    fn cache() -> (FragmentCache, Arc<Untouched>) {
        let origin = Arc::new(Untouched::default());
        let c = FragmentCache::new(
            CacheSettings::new(&CacheConfig::default(), Duration::from_secs(2)),
            origin.clone(),
            Arc::new(Metrics::new()),
        );
        (c, origin)
    }

    const Q: &str = "retailer=shop-one&locale=en-GB&ean=4006381333931";

    fn entry(html: &'static str, stored_at: Instant) -> Arc<CachedFragment> {
        Arc::new(CachedFragment::rebuilt(
            Some(Content::new(
                Bytes::from_static(html.as_bytes()),
                None,
                None,
                html,
            )),
            Surrogates {
                retailer: "shop-one".into(),
                brand: Some("acme".into()),
                product: Some("acme/x100b".into()),
            },
            stored_at,
            Lifetimes {
                fresh: Duration::from_secs(60),
                stale_while_revalidate: Duration::from_secs(10),
                stale_if_error: Duration::from_secs(100),
            },
            None,
            HeaderValue::from_static("public, max-age=60"),
            40,
            Heat::default(),
        ))
    }

    fn served_html(c: &FragmentCache) -> Option<Bytes> {
        let req = FragmentRequest::from_query(Q).unwrap();
        let key = req.cache_key();
        c.get_now(&key, || req.clone())
            .and_then(|s| s.entry.content.as_ref().map(|c| c.identity.clone()))
    }

    #[tokio::test(start_paused = true)]
    async fn the_newest_copy_wins_and_the_dead_or_purged_stay_out() {
        tokio::time::advance(Duration::from_secs(1000)).await;
        let (c, origin) = cache();
        let key = FragmentRequest::from_query(Q).unwrap().cache_key();
        let now = Instant::now();
        let older = entry("older", now - Duration::from_secs(30));
        let newer = entry("newer", now - Duration::from_secs(5));
        assert_eq!(c.warm(&key, older.clone()), Stored::Added);
        assert_eq!(c.warm(&key, newer.clone()), Stored::Replaced);
        assert_eq!(c.warm(&key, older), Stored::Skipped);
        assert_eq!(c.warm(&key, newer), Stored::Skipped);
        assert_eq!(served_html(&c).as_deref(), Some(&b"newer"[..]));
        // Past fresh + stale_if_error: nothing could serve it.
        let dead = entry("dead", now - Duration::from_secs(161));
        assert_eq!(c.warm("other-key", dead), Stored::Skipped);
        // A purge applied here: what a peer stored before it may be what it removed.
        let before_purge = entry("before", now - Duration::from_secs(1));
        c.apply(&Invalidation {
            surrogate_keys: vec!["brand:acme".into()],
            ..Invalidation::default()
        })
        .await
        .unwrap();
        assert_eq!(c.warm(&key, before_purge), Stored::Skipped);
        assert_eq!(served_html(&c), None);
        tokio::time::advance(Duration::from_millis(5)).await;
        let after_purge = entry("after", Instant::now());
        assert_eq!(c.warm(&key, after_purge), Stored::Added);
        assert_eq!(served_html(&c).as_deref(), Some(&b"after"[..]));
        assert_eq!(origin.0.load(Ordering::SeqCst), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_hot_set_follows_recent_hits() {
        let (c, _) = cache();
        let now = Instant::now();
        let keys = ["a", "b", "c"];
        for k in keys {
            assert_eq!(c.warm(k, entry("x", now)), Stored::Added);
        }
        let hit = |k: &str, n: usize| {
            for _ in 0..n {
                c.get_now(k, || unreachable!("fresh entries need no request"))
                    .expect("a fresh entry");
            }
        };
        hit("a", 8);
        hit("b", 3);
        let ranked: Vec<(String, u32)> = c.hot(10).into_iter().map(|h| (h.key, h.score)).collect();
        assert_eq!(ranked, [("a".into(), 8), ("b".into(), 3), ("c".into(), 0)]);
        // Later, `c` is what is asked for, and `a`'s burst has decayed.
        tokio::time::advance(HALF_LIFE * 3).await;
        c.upkeep().await;
        assert_eq!(c.warm("c", entry("x", Instant::now())), Stored::Replaced);
        hit("c", 4);
        let top: Vec<String> = c.hot(2).into_iter().map(|h| h.key).collect();
        assert_eq!(top, ["c", "a"]);
    }

    /// A peer that answers every connection with `status` and `body`.
    async fn fake_peer(status: &'static str, body: Vec<u8>) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let body = body.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let head = format!(
                        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = s.write_all(head.as_bytes()).await;
                    let _ = s.write_all(&body).await;
                });
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn a_truncated_or_foreign_answer_stores_nothing() {
        let whole = hot_set_of_one();
        let truncated = whole[..whole.len() - 3].to_vec();
        let peers = vec![
            fake_peer("200 OK", truncated).await,
            fake_peer("200 OK", b"<html>not a hot set</html>".to_vec()).await,
            fake_peer(
                "404 Not Found",
                br#"{"error":"not_found","detail":"no such route"}"#.to_vec(),
            )
            .await,
        ];
        let (c, origin) = cache();
        let got = run(&c, &peers, None, Duration::from_secs(5)).await;
        assert_eq!((got.peers, got.answered, got.entries), (3, 0, 0));
        c.upkeep().await;
        assert_eq!(c.entry_count(), 0);
        assert_eq!(served_html(&c), None);
        // The same body whole is read.
        let peers = vec![fake_peer("200 OK", whole.to_vec()).await];
        let got = run(&c, &peers, None, Duration::from_secs(5)).await;
        assert_eq!((got.peers, got.answered, got.entries), (1, 1, 1));
        assert_eq!(served_html(&c).as_deref(), Some(&b"fresh"[..]));
        assert_eq!(origin.0.load(Ordering::SeqCst), 0);
    }

    /// The hot set a peer holding one fresh entry (`Q`) answers with, encoded.
    fn hot_set_of_one() -> Bytes {
        let (source, _) = cache();
        let key = FragmentRequest::from_query(Q).unwrap().cache_key();
        assert_eq!(c_warm(&source, &key), Stored::Added);
        wire::encode(&source.hot(10), Instant::now(), usize::MAX).body
    }

    /// An origin whose invalidation listener comes up when the test says so.
    struct Listener(tokio::sync::watch::Sender<bool>);

    impl Origin for Listener {
        fn fetch<'a>(
            &'a self,
            _req: &'a FragmentRequest,
        ) -> BoxFuture<'a, Result<Lookup, OriginError>> {
            Box::pin(async { Err(OriginError::Unavailable("not in this test".into())) })
        }
        fn kind(&self) -> &'static str {
            "listener"
        }
        fn listening(&self) -> Option<tokio::sync::watch::Receiver<bool>> {
            Some(self.0.subscribe())
        }
    }

    #[tokio::test]
    async fn nothing_is_copied_before_the_stores_invalidations_are_heard() {
        let whole = hot_set_of_one();
        let peers = vec![fake_peer("200 OK", whole.to_vec()).await];
        let origin = Arc::new(Listener(tokio::sync::watch::Sender::new(false)));
        let c = FragmentCache::new(
            CacheSettings::new(&CacheConfig::default(), Duration::from_secs(2)),
            origin.clone(),
            Arc::new(Metrics::new()),
        );

        // The listener never comes up: no peer is asked, and the warm-up ends on time.
        let timeout = Duration::from_millis(300);
        let got = run(&c, &peers, None, timeout).await;
        assert_eq!((got.peers, got.answered, got.entries), (0, 0, 0));
        assert!(got.took >= timeout, "{got:?}");
        assert_eq!(served_html(&c), None);

        // It comes up while the warm-up waits: then the peers are read.
        let up = origin.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            up.0.send_replace(true);
        });
        let got = run(&c, &peers, None, Duration::from_secs(5)).await;
        assert_eq!((got.peers, got.answered, got.entries), (1, 1, 1));
        assert_eq!(served_html(&c).as_deref(), Some(&b"fresh"[..]));
    }

    fn c_warm(c: &FragmentCache, key: &str) -> Stored {
        c.warm(key, entry("fresh", Instant::now()))
    }
}
