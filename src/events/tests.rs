use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

#[test]
fn days_convert_both_ways() {
    for (days, text) in [
        (0, "1970-01-01"),
        (-1, "1969-12-31"),
        (59, "1970-03-01"),
        (11_016, "2000-02-29"),
        (19_417, "2023-03-01"),
        (20_415, "2025-11-23"),
        (2_932_896, "9999-12-31"),
    ] {
        assert_eq!(Day(days).to_string(), text);
        assert_eq!(Day::parse(text), Ok(Day(days)), "{text}");
    }
    // Every day of four centuries round-trips, leap years and all.
    for d in -1_000..146_097 {
        let (y, m, dd) = civil_from_days(d);
        assert_eq!(days_from_civil(y, m, dd), d);
    }
    assert_eq!(
        Day::from_unix_millis(1_700_000_000_000).to_string(),
        "2023-11-14"
    );
    assert_eq!(
        Day::from_unix_millis(MAX_TS_MILLIS).to_string(),
        "9999-12-31"
    );
}

#[test]
fn day_parse_refuses_what_is_not_a_date() {
    for bad in [
        "",
        "2023-2-01",
        "2023-02-29",
        "2024-02-30",
        "2023-13-01",
        "2023-00-10",
        "2023-01-00",
        "2023/01/01",
        "+023-01-01",
        "2023-01-01T",
    ] {
        assert!(Day::parse(bad).is_err(), "{bad}");
    }
    assert!(Day::parse("2024-02-29").is_ok());
}

fn cursor(day: &str, retailer: &str, product: &str, locale: &str, kind: &str) -> StatsCursor {
    StatsCursor {
        day: day.into(),
        retailer: retailer.into(),
        product: product.into(),
        locale: locale.into(),
        kind: kind.into(),
    }
}

#[test]
fn cursors_round_trip_and_are_url_safe() {
    let long_mpn = format!("mpn:acme/{}", "ä".repeat(200));
    for c in [
        cursor("2025-01-01", "a", "ean:04006381333931", "en-gb", "view"),
        cursor(
            "9999-12-31",
            &"r".repeat(64),
            &long_mpn,
            "zh-hant-tw",
            "no_match",
        ),
        cursor("1970-01-01", "shop-1", "sku:A&B=c?d/e%20", "de", "click"),
    ] {
        let text = c.encode();
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{text}"
        );
        assert_eq!(StatsCursor::decode(&text), Ok(c));
    }
}

#[test]
fn malformed_cursors_are_refused() {
    let good = cursor("2025-01-01", "a", "sku:1", "en", "view").encode();
    let flip_version = format!("02{}", &good[2..]);
    let bad_day = cursor("2025-02-30", "a", "sku:1", "en", "view").encode();
    let bad_type = cursor("2025-01-01", "a", "sku:1", "en", "hover").encode();
    let bad_retailer = cursor("2025-01-01", "A!", "sku:1", "en", "view").encode();
    let no_product = cursor("2025-01-01", "a", "", "en", "view").encode();
    let huge = "0".repeat(5000);
    for bad in [
        "",
        "0",
        "zz",
        "<script>",
        &good[..good.len() - 2],
        &good[..good.len() - 1],
        &format!("{good}00"),
        &flip_version,
        &bad_day,
        &bad_type,
        &bad_retailer,
        &no_product,
        // A length running past the end, and one that never ends.
        "01ff",
        "01ffffffffff",
        // Not UTF-8.
        "0101ff",
        &huge,
    ] {
        let err = StatsCursor::decode(bad).unwrap_err();
        assert_eq!(err.code, "invalid_cursor", "{bad}");
    }
}

#[test]
fn limits_are_whole_numbers_from_1_to_10000() {
    assert_eq!(StatsLimit::default().get(), 1_000);
    for (text, n) in [("1", 1), ("10000", 10_000), ("0042", 42)] {
        assert_eq!(
            StatsLimit::parse(text).map(StatsLimit::get),
            Ok(n),
            "{text}"
        );
    }
    for bad in [
        "0",
        "10001",
        "-1",
        "+5",
        "1.5",
        "1e3",
        " 5",
        "abc",
        "",
        "99999999999999999999999999",
    ] {
        assert_eq!(
            StatsLimit::parse(bad).unwrap_err().code,
            "invalid_limit",
            "{bad}"
        );
    }
}

fn row(day: &str, product: &str) -> StatsRow {
    StatsRow {
        day: day.into(),
        retailer: "a".into(),
        product: product.into(),
        locale: "en".into(),
        kind: "view".into(),
        count: 1,
    }
}

#[test]
fn a_page_keeps_limit_rows_and_points_after_the_last() {
    let rows: Vec<_> = (0..4)
        .map(|i| row("2025-01-01", &format!("sku:{i}")))
        .collect();
    let limit = StatsLimit::new(3).unwrap();
    let page = StatsPage::from_rows(rows.clone(), limit);
    assert_eq!(page.rows, rows[..3]);
    assert_eq!(page.next, Some(StatsCursor::after(&rows[2])));
    let last = StatsPage::from_rows(rows[..3].to_vec(), limit);
    assert_eq!((last.rows.len(), last.next), (3, None));
    assert_eq!(StatsPage::from_rows(vec![], limit), StatsPage::default());
}

#[test]
fn a_page_starts_after_the_cursor_or_before_from_whichever_is_later() {
    let from = |d: &str| StatsFilter {
        from: Some(Day::parse(d).unwrap()),
        ..StatsFilter::default()
    };
    let at = cursor("2025-01-05", "a", "sku:1", "en", "view");
    // No bound at all: before every row.
    assert_eq!(
        StatsFilter::default().start_after(None),
        StatsCursor::default()
    );
    assert_eq!(StatsFilter::default().start_after(Some(&at)), at);
    // `from` later than the cursor wins, and sorts before every row of that day.
    let start = from("2025-01-06").start_after(Some(&at));
    assert_eq!(start, cursor("2025-01-06", "", "", "", ""));
    assert!(start < cursor("2025-01-06", "a", "", "", ""));
    assert!(start > cursor("2025-01-05", "zzz", "", "", ""));
    // A cursor within or after `from` wins.
    assert_eq!(from("2025-01-05").start_after(Some(&at)), at);
    assert_eq!(from("2025-01-01").start_after(Some(&at)), at);
    assert_eq!(StatsFilter::default().last_day(), "9999-12-31");
    let to = StatsFilter {
        to: Some(Day::parse("2025-01-31").unwrap()),
        ..StatsFilter::default()
    };
    assert_eq!(to.last_day(), "2025-01-31");
}

const TODAY: Day = Day(20_000);
/// Noon of [`TODAY`], in unix milliseconds: when the tests' bodies arrive.
const NOW_MS: i64 = 20_000 * MILLIS_PER_DAY + MILLIS_PER_DAY / 2;

fn at(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap())
}

fn parse(body: &str) -> Result<Vec<RollupKey>, BadEvent> {
    parse_batch(body.as_bytes(), at(NOW_MS))
}

#[test]
fn parses_one_object_or_an_array_and_normalizes_identities() {
    let one =
        parse(r#"{"type":"view","retailer":"shop-one","locale":"en-GB","ean":"4006381333931"}"#)
            .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].day, TODAY);
    assert_eq!(one[0].locale.as_str(), "en-gb");
    assert_eq!(one[0].product.key(), "ean:04006381333931");

    let many = parse(
        r#"[
        {"type":"click","retailer":"s","locale":"de","ean":"0012345678905","brand":"Acme","mpn":"X-1","ts":1727870400000},
        {"type":"click","retailer":"s","locale":"de","ean":"012345678905"},
        {"type":"impression","retailer":"s","locale":"de","brand":"Acme Corp.","mpn":"X-100/B","sku":"A1"},
        {"type":"no_match","retailer":"s","locale":"de","sku":" A1 ","ean":""}
    ]"#,
    )
    .unwrap();
    assert_eq!(many[0].day, Day(19_998), "counted on the day of its ts");
    assert_eq!(many[0].product, many[1].product, "one GTIN, two spellings");
    assert_eq!(many[0].product.key(), "ean:00012345678905");
    assert_eq!(many[2].product.key(), "mpn:acmecorp/x100b");
    assert_eq!(many[3].product.key(), "sku:A1");
    assert_eq!(many[3].kind, EventType::NoMatch);
}

#[test]
fn bodies_the_one_pass_parser_declines_give_the_same_events() {
    let plain =
        parse(r#"[{"type":"view","retailer":"shop-one","locale":"en-GB","ean":"4006381333931"}]"#)
            .unwrap();
    for body in [
        // Escapes cannot be borrowed from the body.
        r#"[{"type":"vi\u0065w","retailer":"shop\u002done","locale":"en-GB","ean":"4006381333931"}]"#,
        // A repeated key: the last one counts, as JSON parsers agree.
        r#"[{"type":"click","type":"view","retailer":"shop-one","locale":"en-GB","ean":"4006381333931"}]"#,
        // Fields it does not know are ignored, whitespace is not a problem.
        " \n[{\"v\":2,\"type\":\"view\",\"retailer\":\"shop-one\",\"locale\":\"en-GB\",\"ean\":\"4006381333931\"}] ",
    ] {
        assert_eq!(parse(body).unwrap(), plain, "{body}");
    }
}

#[test]
fn names_the_first_bad_event_without_echoing_it() {
    let ok = r#"{"type":"view","retailer":"s","locale":"en","sku":"1"}"#;
    let cases = [
        (
            r#"{"type":"hover","retailer":"s","locale":"en","sku":"1"}"#,
            "invalid_type",
        ),
        (
            r#"{"type":"view","retailer":"S!","locale":"en","sku":"1"}"#,
            "invalid_retailer",
        ),
        (
            r#"{"type":"view","retailer":"s","locale":"en","ean":"4006381333932"}"#,
            "invalid_ean",
        ),
        (
            r#"{"type":"view","retailer":"s","locale":"en"}"#,
            "missing_field",
        ),
        (
            r#"{"type":"view","retailer":"s","locale":"en","brand":"a"}"#,
            "missing_field",
        ),
        (
            r#"{"type":"view","retailer":"s","locale":"en","sku":"1","ts":-5}"#,
            "invalid_ts",
        ),
        (
            r#"{"type":"view","retailer":"s","locale":"en","sku":"1","ts":1.5}"#,
            "invalid_event",
        ),
        (
            r#"{"type":"view","retailer":"s","locale":"en","sku":1}"#,
            "invalid_event",
        ),
        (r#"["view"]"#, "invalid_event"),
    ];
    for (bad, code) in cases {
        let body = format!("[{ok},{ok},{bad}]");
        let err = parse(&body).unwrap_err();
        assert_eq!(err.index, Some(2), "{bad}");
        assert_eq!(err.error.code, code, "{bad}");
        assert!(!err.error.detail.contains("hover") && !err.error.detail.contains("S!"));
    }
    for whole in ["", "nope", "[", "42", r#""x""#, "[]", "null"] {
        assert_eq!(parse(whole).unwrap_err().index, None, "{whole}");
    }
}

fn with_ts(ts: &str) -> String {
    format!(r#"{{"type":"view","retailer":"s","locale":"en","sku":"1","ts":{ts}}}"#)
}

#[test]
fn ts_must_lie_from_a_week_before_now_to_ten_minutes_after() {
    const WEEK: i64 = 7 * MILLIS_PER_DAY;
    const TEN_MINUTES: i64 = 10 * 60 * 1000;
    for (ts, day) in [
        (NOW_MS, TODAY),
        (NOW_MS - WEEK, Day(19_993)),
        (NOW_MS + TEN_MINUTES, TODAY),
    ] {
        let got = parse(&with_ts(&ts.to_string())).unwrap();
        assert_eq!(got[0].day, day, "{ts}");
    }
    let ok = with_ts(&NOW_MS.to_string());
    for ts in [
        NOW_MS - WEEK - 1,
        NOW_MS + TEN_MINUTES + 1,
        1,
        0,
        -5,
        i64::MAX,
        MAX_TS_MILLIS,
    ] {
        // Alone, and as the third event: the index names it.
        let err = parse(&with_ts(&ts.to_string())).unwrap_err();
        assert_eq!((err.index, err.error.code), (Some(0), "invalid_ts"), "{ts}");
        let err = parse(&format!("[{ok},{ok},{}]", with_ts(&ts.to_string()))).unwrap_err();
        assert_eq!((err.index, err.error.code), (Some(2), "invalid_ts"), "{ts}");
    }
    // The window moves with the time the body arrives.
    let old = with_ts(&(NOW_MS - 30 * MILLIS_PER_DAY).to_string());
    assert!(parse(&old).is_err());
    let then = parse_batch(old.as_bytes(), at(NOW_MS - 29 * MILLIS_PER_DAY)).unwrap();
    assert_eq!(then[0].day, Day(19_970));
    // Without ts, an event counts on the day the body arrived.
    let late = parse_batch(
        br#"{"type":"view","retailer":"s","locale":"en","sku":"1"}"#,
        at(NOW_MS + MILLIS_PER_DAY),
    )
    .unwrap();
    assert_eq!(late[0].day, Day(20_001));
}

#[test]
fn a_number_out_of_range_is_blamed_on_its_event() {
    let ok = with_ts(&NOW_MS.to_string());
    let huge = format!("1{}", "0".repeat(400));
    for bad in ["1e400", "-1e400", huge.as_str()] {
        // A single object is event 0.
        let err = parse(&with_ts(bad)).unwrap_err();
        assert_eq!(err.index, Some(0), "{bad}");
        assert_eq!(err.error.code, "invalid_event", "{bad}");
        let err = parse(&format!("[{ok},{}]", with_ts(bad))).unwrap_err();
        assert_eq!(err.index, Some(1), "{bad}");
        // In any field, the event holding it is named.
        let elsewhere = format!(
            r#"[{ok},{ok},{ok},{{"type":"view","retailer":"s","locale":"en","sku":{bad}}}]"#
        );
        assert_eq!(parse(&elsewhere).unwrap_err().index, Some(3), "{bad}");
    }
    // The first bad event is named, whichever way it is bad.
    let wrong_type = r#"{"type":"hover","retailer":"s","locale":"en","sku":"1"}"#;
    let err = parse(&format!("[{ok},{wrong_type},{}]", with_ts("1e400"))).unwrap_err();
    assert_eq!((err.index, err.error.code), (Some(1), "invalid_type"));
    let err = parse(&format!("[{ok},{},{wrong_type}]", with_ts("1e400"))).unwrap_err();
    assert_eq!((err.index, err.error.code), (Some(1), "invalid_event"));
    // Not JSON at all is still the body's fault.
    assert_eq!(parse(r#"[{"ts":1e400}"#).unwrap_err().index, None);
    assert_eq!(parse("1e400").unwrap_err().index, None);
}

fn key(n: u8) -> RollupKey {
    RollupKey {
        day: TODAY,
        retailer: Retailer::parse("shop").unwrap(),
        product: Product::Sku(Sku::parse(&n.to_string()).unwrap()),
        locale: Locale::parse("en").unwrap(),
        kind: EventType::View,
    }
}

/// An in-memory store that fails its first `failures` writes.
#[derive(Debug, Default)]
struct MemStore {
    rows: Mutex<HashMap<RollupKey, u64>>,
    failures: AtomicUsize,
    writes: AtomicUsize,
}

impl MemStore {
    fn total(&self) -> u64 {
        self.rows.lock().unwrap().values().sum()
    }
}

impl EventStore for MemStore {
    fn write_rollup(&self, rows: &[(RollupKey, u64)]) -> Result<(), EventStoreError> {
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |f| f.checked_sub(1))
            .is_ok()
        {
            return Err(EventStoreError::Unavailable("disk on fire".into()));
        }
        self.writes.fetch_add(1, Ordering::SeqCst);
        let mut map = self.rows.lock().unwrap();
        for (k, n) in rows {
            *map.entry(k.clone()).or_default() += n;
        }
        Ok(())
    }

    fn stats(
        &self,
        _: &StatsFilter,
        _: Option<&StatsCursor>,
        _: StatsLimit,
    ) -> Result<StatsPage, EventStoreError> {
        Ok(StatsPage::default())
    }
}

fn setup(capacity: usize, batch: usize, interval: Duration) -> (Arc<MemStore>, EventQueue, Writer) {
    let store = Arc::new(MemStore::default());
    let config = EventsConfig {
        queue_capacity: capacity,
        batch_size: batch,
        flush_interval: interval,
        ..EventsConfig::default()
    };
    let (q, w) = channel(&config, store.clone(), Arc::new(Metrics::new()));
    (store, q, w)
}

#[test]
fn enqueue_is_all_or_nothing() {
    let (_store, q, _w) = setup(5, 5, Duration::from_secs(1));
    q.try_enqueue(vec![key(1), key(2), key(3)]).unwrap();
    assert_eq!(q.try_enqueue(vec![key(4), key(5), key(6)]), Err(QueueFull));
    assert_eq!(q.depth(), 3, "nothing of the refused batch was queued");
    q.try_enqueue(vec![key(4), key(5)]).unwrap();
    assert_eq!(q.depth(), 5);
    let (_store, q, _w) = setup(5, 5, Duration::from_secs(1));
    assert_eq!(q.try_enqueue((0..6).map(key).collect()), Err(QueueFull));
}

#[tokio::test(start_paused = true)]
async fn writes_on_batch_size_or_interval_and_adds_up_equal_keys() {
    let (store, q, w) = setup(100, 4, Duration::from_secs(10));
    let stop = CancellationToken::new();
    let task = tokio::spawn(w.run(stop.clone()));
    q.try_enqueue(vec![key(1), key(1), key(1), key(2)]).unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    wait_for(|| store.total() == 4).await;
    assert_eq!(store.rows.lock().unwrap()[&key(1)], 3);
    q.try_enqueue(vec![key(3)]).unwrap();
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert_eq!(store.total(), 4, "not due yet");
    tokio::time::sleep(Duration::from_secs(2)).await;
    wait_for(|| store.total() == 5).await;
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_body_larger_than_a_batch_is_split_across_batches() {
    let (store, q, w) = setup(100, 4, Duration::from_secs(10));
    let stop = CancellationToken::new();
    let task = tokio::spawn(w.run(stop.clone()));
    q.try_enqueue((0..10).map(key).collect()).unwrap();
    wait_for(|| store.total() == 8).await;
    assert_eq!(
        store.writes.load(Ordering::SeqCst),
        2,
        "two whole batches at once"
    );
    wait_for(|| q.depth() == 2).await; // the rest waits for the interval
    tokio::time::sleep(Duration::from_secs(11)).await;
    wait_for(|| store.total() == 10).await;
    assert_eq!(store.writes.load(Ordering::SeqCst), 3);
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_bodies_are_all_written_exactly_once() {
    let (store, q, w) = setup(1_000_000, 50, Duration::from_millis(5));
    let stop = CancellationToken::new();
    let task = tokio::spawn(w.run(stop.clone()));
    let producers: Vec<_> = (0..8u8)
        .map(|p| {
            let q = q.clone();
            tokio::spawn(async move {
                let mut sent = 0u64;
                for i in 0..500usize {
                    let n = 1 + (i + usize::from(p)) % 7;
                    q.try_enqueue((0..n).map(|_| key(p)).collect()).unwrap();
                    sent += n as u64;
                    if i % 50 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                sent
            })
        })
        .collect();
    let mut sent = 0;
    for p in producers {
        sent += p.await.unwrap();
    }
    // Most is written while it runs; the rest by the drain.
    tokio::time::sleep(Duration::from_millis(20)).await;
    stop.cancel();
    task.await.unwrap();
    assert_eq!(store.total(), sent);
    for p in 0..8u8 {
        let want: u64 = (0..500usize)
            .map(|i| 1 + ((i + usize::from(p)) % 7) as u64)
            .sum();
        assert_eq!(store.rows.lock().unwrap()[&key(p)], want, "producer {p}");
    }
    assert_eq!(q.depth(), 0);
}

#[tokio::test(start_paused = true)]
async fn pause_holds_resume_drains_and_shutdown_drains_even_when_paused() {
    let (store, q, w) = setup(10, 2, Duration::from_millis(10));
    let stop = CancellationToken::new();
    let task = tokio::spawn(w.run(stop.clone()));
    q.pause();
    q.try_enqueue((0..10).map(key).collect()).unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(store.total(), 0, "paused: nothing written");
    assert_eq!(q.try_enqueue(vec![key(1)]), Err(QueueFull));
    q.resume();
    wait_for(|| store.total() == 10).await;
    wait_for(|| q.depth() == 0).await;

    q.pause();
    q.try_enqueue((0..7).map(key).collect()).unwrap();
    stop.cancel();
    task.await.unwrap();
    assert_eq!(
        store.total(),
        17,
        "shutdown writes what is queued, paused or not"
    );
    assert!(
        q.try_enqueue(vec![key(1)]).is_err(),
        "closed after the drain"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_write_is_retried_with_the_same_counts() {
    let (store, q, w) = setup(10, 3, Duration::from_millis(10));
    store.failures.store(3, Ordering::SeqCst);
    let stop = CancellationToken::new();
    let task = tokio::spawn(w.run(stop.clone()));
    q.try_enqueue(vec![key(1), key(2), key(2)]).unwrap();
    wait_for(|| store.total() == 3).await;
    assert_eq!(store.failures.load(Ordering::SeqCst), 0);
    assert_eq!(store.writes.load(Ordering::SeqCst), 1);
    assert_eq!(store.rows.lock().unwrap()[&key(2)], 2);
    stop.cancel();
    task.await.unwrap();
}

/// Lets (paused) time pass until `done` holds; writes run on blocking threads, which
/// paused time does not wait for.
async fn wait_for(done: impl Fn() -> bool) {
    for _ in 0..2_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("condition not reached");
}
