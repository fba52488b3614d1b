//! Warm start: before a new instance reports ready, it loads its peers' hot sets
//! (`GET /admin/v1/cache/hot` on their admin listeners, the [`super::wire`] format)
//! into its cache, so joining a fleet under load does not begin with a herd of misses
//! on the origin at the moment it is most fragile. The origin is asked for nothing
//! here: what no peer had is fetched on demand, as always.
//!
//! Invariants: the whole warm-up (resolving `dns://` peers included) ends by its
//! deadline, whatever the peers do; an unreachable or failing peer costs at most that
//! wait and a warning; at most [`CONCURRENCY`] peers are fetched at once; a body that
//! does not decode stores nothing; an entry replaces only an older one; an instance
//! never warms from itself (the export refuses a request carrying its own cache id).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION};
use http::{HeaderName, HeaderValue, Method, StatusCode};
use tokio::time::Instant;

use super::FragmentCache;
use super::wire;
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
    /// Entries stored (after dropping duplicates, older copies and dead entries).
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
    let mut set = tokio::task::JoinSet::new();
    for (name, url) in resolved {
        let base = match url {
            Ok(base) => base,
            Err(e) => {
                tracing::warn!(peer = %name, error = %e, "warm-up: peer skipped");
                continue;
            }
        };
        let (cache, permits, auth, id) = (cache.clone(), permits.clone(), auth.clone(), id.clone());
        set.spawn(async move {
            let fetched = tokio::time::timeout_at(deadline, async {
                let _permit = permits.acquire_owned().await;
                fetch(&base, auth, id, deadline).await
            })
            .await
            .unwrap_or_else(|_| Err("no answer within cache.warm_timeout".to_owned()));
            let body = match fetched {
                Ok(Some(body)) => body,
                Ok(None) => return (name, None),
                Err(e) => {
                    tracing::warn!(peer = %name, error = %e, "warm-up: no hot set from this peer");
                    return (name, Some(Err(())));
                }
            };
            let bytes = body.len() as u64;
            match store(&cache, body).await {
                Ok(stored) => (name, Some(Ok((stored, bytes)))),
                Err(e) => {
                    tracing::warn!(peer = %name, error = %e, "warm-up: refused this peer's hot set");
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

/// Decodes `body` off the async workers and stores what it holds; how many entries
/// were stored.
async fn store(cache: &FragmentCache, body: Bytes) -> Result<usize, String> {
    let epoch = cache.hot_clock().epoch();
    let now = Instant::now();
    let decoded = tokio::task::spawn_blocking(move || wire::decode(&body, now, epoch))
        .await
        .map_err(|e| format!("decoding failed: {e}"))?
        .map_err(|e| e.to_string())?;
    let mut stored = 0;
    for d in decoded {
        stored += usize::from(cache.warm(&d.key, Arc::new(d.entry)));
    }
    cache.inner.metrics.cache_warmed.increment(stored as u64);
    Ok(stored)
}
