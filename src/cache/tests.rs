//! Cache behaviour against a scripted origin, on tokio's paused clock.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

use super::*;
use crate::config::{ByteSize, CacheConfig};
use crate::origin::{BoxFuture, Directives, Fragment, content_version};

/// An origin whose answer the test sets, counting lookups.
struct Scripted {
    calls: AtomicUsize,
    answer: Mutex<Result<Lookup, OriginError>>,
    delay: Duration,
    /// Validators `revalidate` was called with.
    validators: Mutex<Vec<String>>,
    /// When set, `revalidate` answers 304 with these directives.
    not_modified: Mutex<Option<Directives>>,
}

impl Scripted {
    fn new(html: &str) -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicUsize::new(0),
            answer: Mutex::new(Ok(found(html))),
            delay: Duration::from_millis(50),
            validators: Mutex::default(),
            not_modified: Mutex::default(),
        })
    }
    fn set(&self, a: Result<Lookup, OriginError>) {
        *self.answer.lock().unwrap() = a;
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

fn found(html: &str) -> Lookup {
    Lookup::Found(Fragment {
        html: Bytes::from(html.to_owned()),
        gzip: None,
        br: None,
        version: content_version(html.as_bytes()),
        updated_at: 0,
        brand: "acme".into(),
        product_id: "acme/x100b".into(),
        validator: None,
        directives: Default::default(),
    })
}

impl Origin for Scripted {
    fn fetch<'a>(
        &'a self,
        _req: &'a FragmentRequest,
    ) -> BoxFuture<'a, Result<Lookup, OriginError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            self.answer.lock().unwrap().clone()
        })
    }
    fn revalidate<'a>(
        &'a self,
        req: &'a FragmentRequest,
        validator: &'a str,
    ) -> BoxFuture<'a, Result<Lookup, OriginError>> {
        self.validators.lock().unwrap().push(validator.to_owned());
        match *self.not_modified.lock().unwrap() {
            Some(directives) => Box::pin(async move {
                self.calls.fetch_add(1, Ordering::SeqCst);
                Ok(Lookup::NotModified { directives })
            }),
            None => self.fetch(req),
        }
    }
    fn kind(&self) -> &'static str {
        "scripted"
    }
}

/// A fragment as an HTTP origin sends it: with a validator and directives.
fn from_http(html: &str, etag: &str, directives: Directives) -> Lookup {
    let Lookup::Found(mut f) = found(html) else {
        unreachable!()
    };
    f.validator = Some(etag.to_owned());
    f.directives = directives;
    Lookup::Found(f)
}

const TTL: Duration = Duration::from_secs(60);
const SWR: Duration = Duration::from_secs(30);
const SIE: Duration = Duration::from_secs(600);
const NEG: Duration = Duration::from_secs(10);

fn cache(origin: Arc<Scripted>) -> FragmentCache {
    sized_cache(origin, 64 << 20)
}

fn sized_cache(origin: Arc<Scripted>, max_bytes: u64) -> FragmentCache {
    let cfg = CacheConfig {
        max_bytes: ByteSize(max_bytes),
        ttl: TTL,
        stale_while_revalidate: SWR,
        stale_if_error: SIE,
        negative_ttl: NEG,
        ..CacheConfig::default()
    };
    FragmentCache::new(
        CacheSettings::new(&cfg, Duration::from_secs(5)),
        origin,
        Arc::new(Metrics::new()),
    )
}

/// Admission that always lets a fetch start.
fn admit() -> Option<()> {
    Some(())
}

fn req(q: &str) -> FragmentRequest {
    FragmentRequest::from_query(q).unwrap()
}

fn body(s: &Served) -> &[u8] {
    &s.entry.content.as_ref().expect("content").identity
}

const Q: &str = "retailer=shop-one&locale=en-GB&ean=4006381333931";

#[tokio::test(start_paused = true)]
async fn a_herd_on_a_cold_key_costs_one_origin_fetch() {
    let origin = Scripted::new("<p>v1</p>");
    let c = cache(origin.clone());
    let r = req(Q);
    let answers = futures_join_all((0..200).map(|_| {
        let (c, r) = (c.clone(), r.clone());
        tokio::spawn(async move { c.get(&r, admit).await.unwrap() })
    }))
    .await;
    assert_eq!(origin.calls(), 1);
    assert_eq!(
        answers
            .iter()
            .filter(|s| s.status == CacheStatus::Miss)
            .count(),
        1
    );
    assert!(answers.iter().all(|s| body(s) == b"<p>v1</p>"));
}

async fn futures_join_all<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles.collect::<Vec<_>>() {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(start_paused = true)]
async fn stale_while_revalidate_serves_stale_and_refreshes_once() {
    let origin = Scripted::new("<p>v1</p>");
    let c = cache(origin.clone());
    let r = req(Q);
    assert_eq!(c.get(&r, admit).await.unwrap().status, CacheStatus::Miss);
    tokio::time::advance(TTL - Duration::from_secs(1)).await;
    assert_eq!(c.get(&r, admit).await.unwrap().status, CacheStatus::Hit);
    assert_eq!(origin.calls(), 1);

    origin.set(Ok(found("<p>v2</p>")));
    tokio::time::advance(Duration::from_secs(2)).await;
    // Past ttl, within stale-while-revalidate: three requests get the old content at
    // once, without waiting, and cause one background refresh.
    for _ in 0..3 {
        let s = c.get(&r, admit).await.unwrap();
        assert_eq!(s.status, CacheStatus::Stale);
        assert_eq!(body(&s), b"<p>v1</p>");
    }
    tokio::time::sleep(Duration::from_millis(100)).await; // let the refresh finish
    assert_eq!(origin.calls(), 2);
    let s = c.get(&r, admit).await.unwrap();
    assert_eq!((s.status, body(&s)), (CacheStatus::Hit, &b"<p>v2</p>"[..]));
}

#[tokio::test(start_paused = true)]
async fn failed_background_refresh_keeps_stale_and_retries_later() {
    let origin = Scripted::new("<p>v1</p>");
    let c = cache(origin.clone());
    let r = req(Q);
    c.get(&r, admit).await.unwrap();
    origin.set(Err(OriginError::Unavailable("down".into())));
    tokio::time::advance(TTL + Duration::from_secs(1)).await;
    assert_eq!(c.get(&r, admit).await.unwrap().status, CacheStatus::Stale);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(origin.calls(), 2);
    // The claim was released: the next stale hit tries again.
    assert_eq!(c.get(&r, admit).await.unwrap().status, CacheStatus::Stale);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(origin.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn stale_if_error_covers_origin_failures_until_it_runs_out() {
    let origin = Scripted::new("<p>v1</p>");
    let c = cache(origin.clone());
    let r = req(Q);
    c.get(&r, admit).await.unwrap();
    origin.set(Err(OriginError::Timeout(Duration::from_secs(2))));
    // Past stale-while-revalidate: the request itself must ask the origin; it fails,
    // and the old content stands in.
    tokio::time::advance(TTL + SWR + Duration::from_secs(1)).await;
    let s = c.get(&r, admit).await.unwrap();
    assert_eq!(
        (s.status, body(&s)),
        (CacheStatus::Stale, &b"<p>v1</p>"[..])
    );
    assert_eq!(origin.calls(), 2);
    // Past stale-if-error: the error reaches the client.
    tokio::time::advance(SIE).await;
    assert!(matches!(
        c.get(&r, admit).await,
        Err(GetError::Origin(OriginError::Timeout(_)))
    ));
    // A key never seen gets the error, and the error is not cached.
    let other = req("retailer=shop-one&locale=en-GB&sku=A1");
    assert!(c.get(&other, admit).await.is_err());
    origin.set(Ok(found("<p>back</p>")));
    assert_eq!(
        c.get(&other, admit).await.unwrap().status,
        CacheStatus::Miss
    );
}

#[tokio::test(start_paused = true)]
async fn no_content_is_cached_for_negative_ttl() {
    let origin = Scripted::new("");
    origin.set(Ok(Lookup::NoContent {
        brand: None,
        product_id: None,
    }));
    let c = cache(origin.clone());
    let r = req(Q);
    assert!(c.get(&r, admit).await.unwrap().entry.content.is_none());
    tokio::time::advance(NEG - Duration::from_secs(1)).await;
    let s = c.get(&r, admit).await.unwrap();
    assert_eq!(
        (s.status, s.entry.content.is_none()),
        (CacheStatus::Hit, true)
    );
    assert_eq!(origin.calls(), 1);
    // Content appears; once negative_ttl (+ stale-while-revalidate) has passed, the
    // next request refreshes it (this origin takes 50 ms, longer than STALE_IF_SLOW, so
    // that request still gets the old answer) and the one after sees it.
    origin.set(Ok(found("<p>new</p>")));
    tokio::time::advance(NEG + SWR).await;
    let s = c.get(&r, admit).await.unwrap();
    assert_eq!(
        (s.status, s.entry.content.is_none()),
        (CacheStatus::Stale, true)
    );
    tokio::time::sleep(Duration::from_millis(60)).await;
    let s = c.get(&r, admit).await.unwrap();
    assert_eq!((s.status, body(&s)), (CacheStatus::Hit, &b"<p>new</p>"[..]));
}

#[tokio::test(start_paused = true)]
async fn past_stale_while_revalidate_a_fast_origin_answers_and_a_slow_one_is_not_waited_for() {
    let origin = Arc::new(Scripted {
        delay: Duration::from_millis(1),
        ..Arc::into_inner(Scripted::new("<p>v1</p>")).unwrap()
    });
    let c = cache(origin.clone());
    let r = req(Q);
    c.get(&r, admit).await.unwrap();
    origin.set(Ok(found("<p>v2</p>")));
    tokio::time::advance(TTL + SWR + Duration::from_secs(1)).await;
    let s = c.get(&r, admit).await.unwrap();
    assert_eq!((s.status, body(&s)), (CacheStatus::Miss, &b"<p>v2</p>"[..]));

    // A hanging origin: the stale entry comes back after STALE_IF_SLOW, not after the
    // origin timeout; meanwhile others get it at once.
    let slow = Arc::new(Scripted {
        delay: Duration::from_secs(3),
        ..Arc::into_inner(Scripted::new("<p>v1</p>")).unwrap()
    });
    let c = cache(slow.clone());
    c.get(&r, admit).await.unwrap();
    tokio::time::advance(TTL + SWR + Duration::from_secs(1)).await;
    for _ in 0..3 {
        let started = Instant::now();
        let s = c.get(&r, admit).await.unwrap();
        assert_eq!(
            (s.status, body(&s)),
            (CacheStatus::Stale, &b"<p>v1</p>"[..])
        );
        assert!(started.elapsed() <= STALE_IF_SLOW);
    }
    assert_eq!(slow.calls(), 2, "one refresh at a time");
}

#[tokio::test(start_paused = true)]
async fn purges_by_key_and_surrogate_key_take_effect_at_once() {
    let origin = Scripted::new("<p>v1</p>");
    let c = cache(origin.clone());
    let a = req(Q);
    let b = req("retailer=shop-two&locale=en-GB&ean=4006381333931");
    c.get(&a, admit).await.unwrap();
    c.get(&b, admit).await.unwrap();
    assert!(c.purge_key(&a.cache_key()).await);
    assert!(!c.purge_key(&a.cache_key()).await, "already gone");
    assert_eq!(c.get(&a, admit).await.unwrap().status, CacheStatus::Miss);
    assert_eq!(c.get(&b, admit).await.unwrap().status, CacheStatus::Hit);

    let purge = |k: &str| c.purge_surrogate(SurrogateKey::parse(k).unwrap());
    assert_eq!(purge("retailer:shop-two").await, 1);
    assert_eq!(c.get(&a, admit).await.unwrap().status, CacheStatus::Hit);
    assert_eq!(c.get(&b, admit).await.unwrap().status, CacheStatus::Miss);

    assert_eq!(purge("brand:ACME").await, 2);
    assert_eq!(c.get(&a, admit).await.unwrap().status, CacheStatus::Miss);
    assert_eq!(
        purge("product:acme/X-100/B").await,
        1,
        "only a was fetched again"
    );
    assert_eq!(c.get(&b, admit).await.unwrap().status, CacheStatus::Miss);
    assert_eq!(purge("brand:other").await, 0);
    assert_eq!(c.get(&b, admit).await.unwrap().status, CacheStatus::Hit);
}

#[tokio::test]
async fn variants_are_made_once_on_insert_and_the_cache_stays_within_its_byte_bound() {
    let html =
        "<section><h3>Feature</h3><p>Breathable merino, quick-dry.</p></section>".repeat(150);
    let origin = Scripted::new(&html);
    let cfg = CacheConfig {
        max_bytes: ByteSize(1 << 20),
        ..CacheConfig::default()
    };
    let c = FragmentCache::new(
        CacheSettings::new(&cfg, Duration::from_secs(5)),
        origin.clone(),
        Arc::new(Metrics::new()),
    );
    let s = c.get(&req(Q), admit).await.unwrap();
    let content = s.entry.content.as_ref().unwrap();
    assert!(
        content.gzip.is_some() && content.br.is_some(),
        "variants made on insert"
    );
    for i in 0..200 {
        c.get(
            &req(&format!("retailer=shop-one&locale=en-GB&sku=S{i}")),
            admit,
        )
        .await
        .unwrap();
    }
    c.upkeep().await;
    let entry_weight = u64::from(s.entry.weight());
    assert!(entry_weight > html.len() as u64);
    assert!(
        c.weighted_size() <= 1 << 20,
        "weighted size {} over the bound",
        c.weighted_size()
    );
    assert!(
        c.entry_count() < 200,
        "{} entries of {entry_weight} bytes fit in 1 MiB?",
        c.entry_count()
    );
}

#[tokio::test(start_paused = true)]
async fn origin_directives_override_the_configured_lifetimes() {
    let origin = Scripted::new("");
    let d = Directives {
        max_age: Some(Duration::from_secs(5)),
        stale_while_revalidate: Some(Duration::ZERO),
        stale_if_error: Some(Duration::from_secs(20)),
        no_store: false,
    };
    origin.set(Ok(from_http("<p>v1</p>", "\"a\"", d)));
    let c = cache(origin.clone());
    let r = req(Q);
    c.get(&r, admit).await.unwrap();
    tokio::time::advance(Duration::from_secs(4)).await;
    assert_eq!(c.get(&r, admit).await.unwrap().status, CacheStatus::Hit);
    // max-age 5 s, not the configured 60 s; no stale-while-revalidate: a foreground fetch.
    tokio::time::advance(Duration::from_secs(2)).await;
    origin.set(Err(OriginError::Unavailable("down".into())));
    let s = c.get(&r, admit).await.unwrap();
    assert_eq!(
        (s.status, body(&s)),
        (CacheStatus::Stale, &b"<p>v1</p>"[..])
    );
    // stale-if-error 20 s, not the configured 600 s.
    tokio::time::advance(Duration::from_secs(20)).await;
    assert!(c.get(&r, admit).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn entries_with_a_validator_are_revalidated_and_a_304_restamps_them() {
    let origin = Scripted::new("");
    let d = Directives {
        max_age: Some(Duration::from_secs(10)),
        ..Directives::default()
    };
    origin.set(Ok(from_http("<p>v1</p>", "\"e1\"", d)));
    let c = cache(origin.clone());
    let r = req(Q);
    let first = c.get(&r, admit).await.unwrap();
    *origin.not_modified.lock().unwrap() = Some(Directives {
        max_age: Some(Duration::from_secs(100)),
        ..Directives::default()
    });
    // Stale (within the configured stale-while-revalidate): served, refreshed with a
    // conditional request.
    tokio::time::advance(Duration::from_secs(11)).await;
    assert_eq!(c.get(&r, admit).await.unwrap().status, CacheStatus::Stale);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(*origin.validators.lock().unwrap(), ["\"e1\""]);
    // Re-stamped with the 304's max-age: fresh for 100 s more, the same body, shared.
    tokio::time::advance(Duration::from_secs(90)).await;
    let again = c.get(&r, admit).await.unwrap();
    assert_eq!(again.status, CacheStatus::Hit);
    let (a, b) = (
        &first.entry.content.as_ref().unwrap().identity,
        &again.entry.content.as_ref().unwrap().identity,
    );
    assert_eq!(a.as_ptr(), b.as_ptr(), "the body is shared, not copied");
    assert_eq!(origin.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn no_store_answers_are_served_but_never_kept() {
    let origin = Scripted::new("<p>v1</p>");
    let c = cache(origin.clone());
    let r = req(Q);
    c.get(&r, admit).await.unwrap();
    let d = Directives {
        no_store: true,
        ..Directives::default()
    };
    origin.set(Ok(from_http("<p>private</p>", "\"p\"", d)));
    // Past stale-if-error: fetched in the foreground each time, never kept.
    tokio::time::advance(TTL + SIE).await;
    for _ in 0..3 {
        let s = c.get(&r, admit).await.unwrap();
        assert_eq!(
            (s.status, body(&s)),
            (CacheStatus::Miss, &b"<p>private</p>"[..])
        );
    }
    assert_eq!(origin.calls(), 4);
    origin.set(Err(OriginError::Unavailable("down".into())));
    assert!(c.get(&r, admit).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn waiters_on_a_fetch_in_flight_are_never_asked_for_admission() {
    let origin = Scripted::new("<p>v1</p>");
    let c = cache(origin.clone());
    let r = req(Q);
    let asked = Arc::new(AtomicUsize::new(0));
    let answers = futures_join_all((0..500).map(|_| {
        let (c, r, asked) = (c.clone(), r.clone(), asked.clone());
        tokio::spawn(async move {
            // Room for one fetch only: a waiter asking for a permit would be shed.
            c.get(&r, move || {
                (asked.fetch_add(1, Ordering::SeqCst) == 0).then_some(())
            })
            .await
        })
    }))
    .await;
    assert_eq!(
        asked.load(Ordering::SeqCst),
        1,
        "only the fetch was admitted"
    );
    assert_eq!(origin.calls(), 1);
    assert!(
        answers
            .iter()
            .all(|a| a.as_ref().is_ok_and(|s| body(s) == b"<p>v1</p>"))
    );
    // With no room at all, a cold key is shed, and nothing is fetched.
    let cold = req("retailer=shop-one&locale=en-GB&ean=96385074");
    assert!(matches!(
        c.get(&cold, || None::<()>).await,
        Err(GetError::Shed)
    ));
    assert_eq!(origin.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_fetch_outlives_the_request_that_started_it() {
    let origin = Scripted::new("<p>v1</p>");
    let c = cache(origin.clone());
    let r = req(Q);
    // The first client gives up mid-fetch; one that came after still gets the answer.
    let first = tokio::spawn({
        let (c, r) = (c.clone(), r.clone());
        async move { c.get(&r, admit).await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    let second = tokio::spawn({
        let (c, r) = (c.clone(), r.clone());
        async move { c.get(&r, admit).await }
    });
    first.abort();
    let s = second.await.unwrap().unwrap();
    assert_eq!(body(&s), b"<p>v1</p>");
    assert_eq!(s.status, CacheStatus::Hit, "it waited for another's fetch");
    assert_eq!(origin.calls(), 1);
    assert_eq!(c.get(&r, admit).await.unwrap().status, CacheStatus::Hit);
}

#[tokio::test]
async fn a_bad_purge_key_is_named_by_list_and_index_and_purges_nothing() {
    let origin = Scripted::new("<p>v1</p>");
    let c = cache(origin.clone());
    c.get(&req(Q), admit).await.unwrap();
    let good = Q.to_owned();
    let inv = |keys: Vec<String>, surrogate_keys: Vec<String>| Invalidation {
        keys,
        surrogate_keys,
        ..Invalidation::default()
    };
    let too_long = format!("{good}&_={}", "x".repeat(crate::domain::MAX_QUERY_LEN));
    let e = c
        .apply(&inv(
            vec![good.clone(), format!("/v1/fragment?{good}"), too_long],
            vec![],
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (e.field, e.index, e.error.code),
        ("keys", 2, "query_too_long")
    );
    let e = c
        .apply(&inv(
            vec![good],
            vec!["brand:acme".into(), "colour:red".into()],
        ))
        .await
        .unwrap_err();
    assert_eq!((e.field, e.index), ("surrogate_keys", 1));
    assert_eq!(
        c.get(&req(Q), admit).await.unwrap().status,
        CacheStatus::Hit,
        "nothing was purged"
    );
}

#[tokio::test(start_paused = true)]
async fn dead_entries_are_fetched_afresh_and_swept_from_memory() {
    let origin = Scripted::new("");
    origin.set(Ok(from_http("<p>one</p>", "\"v1\"", Directives::default())));
    let c = cache(origin.clone());
    c.get(&req(Q), admit).await.unwrap();
    c.get(
        &req("retailer=shop-two&locale=en-GB&ean=4006381333931"),
        admit,
    )
    .await
    .unwrap();
    c.upkeep().await;
    assert_eq!(c.entry_count(), 2);

    // Past the last moment stale-if-error could serve it, an entry is gone: its
    // validator is not offered to the origin to revive it.
    tokio::time::advance(TTL + SIE + Duration::from_secs(1)).await;
    let s = c.get(&req(Q), admit).await.unwrap();
    assert_eq!(s.status, CacheStatus::Miss);
    assert!(
        origin.validators.lock().unwrap().is_empty(),
        "a dead entry was revalidated"
    );

    // The one nobody asked for again leaves memory at the next sweep.
    tokio::time::advance(SWEEP_EVERY).await;
    c.upkeep().await;
    assert_eq!(c.entry_count(), 1);
    assert_eq!(c.weighted_size(), u64::from(s.entry.weight()));
}

#[tokio::test(start_paused = true)]
async fn a_scan_of_one_off_keys_does_not_flush_the_popular_ones() {
    // Fragments that do not compress to nothing, so each weighs a few KiB.
    let html: String = (0..2_000u32)
        .map(|i| char::from(b'a' + (i.wrapping_mul(2_654_435_761) >> 27) as u8 % 26))
        .collect();
    let origin = Scripted::new(&html);
    let key = |i: usize| format!("retailer=shop-one&locale=en-GB&sku=S{i:05}");
    let weight = {
        let probe = cache(origin.clone());
        u64::from(
            probe
                .get(&req(&key(0)), admit)
                .await
                .unwrap()
                .entry
                .weight(),
        )
    };
    const ROOM: u64 = 200;
    let c = sized_cache(origin.clone(), ROOM * weight);

    // A full cache of products asked for once...
    for i in 0..2 * ROOM as usize {
        c.get(&req(&key(10_000 + i)), admit).await.unwrap();
    }
    // ...ten popular products, each asked for a few times...
    for _ in 0..4 {
        for p in 0..10 {
            c.get(&req(&key(p)), admit).await.unwrap();
        }
    }
    // ...then a crawler walks three times as many products as the cache holds.
    for i in 0..3 * ROOM as usize {
        c.get(&req(&key(1_000 + i)), admit).await.unwrap();
    }
    c.upkeep().await;
    assert!(c.weighted_size() <= ROOM * weight, "over the byte bound");

    let before = origin.calls();
    for p in 0..10 {
        let s = c.get(&req(&key(p)), admit).await.unwrap();
        assert_eq!(
            s.status,
            CacheStatus::Hit,
            "popular product {p} was flushed"
        );
    }
    assert_eq!(origin.calls(), before);
}

#[tokio::test(start_paused = true)]
async fn a_fragment_heavier_than_half_a_small_cache_is_still_kept() {
    let html = "<p>a big fragment</p>".repeat(20_000);
    let origin = Scripted::new(&html);
    let weight = {
        let probe = cache(origin.clone());
        u64::from(probe.get(&req(Q), admit).await.unwrap().entry.weight())
    };
    // The entry is over half the cache: a cache split into two equal shards (as
    // quick_cache would split this many bytes by itself) could not keep it.
    let c = sized_cache(origin.clone(), weight * 7 / 4);
    assert_eq!(
        c.get(&req(Q), admit).await.unwrap().status,
        CacheStatus::Miss
    );
    let again = c.get(&req(Q), admit).await.unwrap();
    assert_eq!(
        again.status,
        CacheStatus::Hit,
        "a {weight}-byte entry was not kept"
    );
    assert_eq!(origin.calls(), 2, "the probe's fetch and this cache's one");
}
