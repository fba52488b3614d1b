//! The hot-set format: every field survives a round trip, and anything malformed is
//! refused with a reason, never a panic.

use std::sync::Arc;

use super::*;
use crate::cache::Encoding;
use crate::cache::hot::Heat;

fn lifetimes() -> Lifetimes {
    Lifetimes {
        fresh: Duration::from_secs(300),
        stale_while_revalidate: Duration::from_secs(60),
        stale_if_error: Duration::from_secs(86_400),
    }
}

fn positive(stored_at: Instant) -> HotEntry {
    let content = Content::new(
        Bytes::from_static(b"<div>Acme X-100</div>"),
        Some(Bytes::from_static(b"\x1f\x8bgzip-bytes")),
        Some(Bytes::from_static(b"br-bytes")),
        "3f2a9c",
    );
    let entry = CachedFragment::rebuilt(
        Some(content),
        Surrogates {
            retailer: "shop-one".into(),
            brand: Some("acme".into()),
            product: Some("acme/x100b".into()),
        },
        stored_at,
        lifetimes(),
        Some("\"upstream-etag\"".into()),
        HeaderValue::from_static("public, max-age=300, stale-while-revalidate=60"),
        "shop-one|en-gb|e:04006381333931".len(),
        Heat::default(),
    );
    HotEntry {
        key: "shop-one|en-gb|e:04006381333931".into(),
        score: 42,
        entry: Arc::new(entry),
    }
}

fn negative(stored_at: Instant) -> HotEntry {
    let entry = CachedFragment::rebuilt(
        None,
        Surrogates {
            retailer: "shop-two".into(),
            brand: None,
            product: None,
        },
        stored_at,
        Lifetimes {
            fresh: Duration::from_secs(60),
            ..lifetimes()
        },
        None,
        HeaderValue::from_static("public, max-age=60"),
        "shop-two|de|e:00000000000000".len(),
        Heat::default(),
    );
    HotEntry {
        key: "shop-two|de|e:00000000000000".into(),
        score: 0,
        entry: Arc::new(entry),
    }
}

fn sample() -> (Instant, Vec<HotEntry>, Bytes) {
    let now = Instant::now();
    let hot = vec![
        positive(now - Duration::from_secs(7)),
        negative(now - Duration::from_millis(1500)),
    ];
    let enc = encode(&hot, now, usize::MAX);
    assert_eq!(enc.entries, 2);
    (now, hot, enc.body)
}

#[tokio::test(start_paused = true)]
async fn every_field_survives_a_round_trip() {
    tokio::time::advance(Duration::from_secs(3600)).await;
    let (exported_at, hot, body) = sample();
    // Read a little later, on an instance whose epoch is 9: ages carry over.
    tokio::time::advance(Duration::from_millis(250)).await;
    let now = Instant::now();
    let got = decode(&body, now, 9).expect("a valid hot set");
    assert_eq!(got.len(), 2);
    for (sent, read) in hot.iter().zip(&got) {
        let (a, b) = (&sent.entry, &read.entry);
        assert_eq!(read.key, sent.key);
        // The age at export, measured from the reader's now.
        assert_eq!(
            now - b.stored_at,
            exported_at - a.stored_at,
            "{}: age carries over",
            sent.key
        );
        assert_eq!(b.lifetimes, a.lifetimes);
        assert_eq!(b.validator, a.validator);
        assert_eq!(b.cache_control, a.cache_control);
        assert_eq!(b.surrogates.retailer, a.surrogates.retailer);
        assert_eq!(b.surrogates.brand, a.surrogates.brand);
        assert_eq!(b.surrogates.product, a.surrogates.product);
        assert_eq!(b.weight(), a.weight());
        assert_eq!(b.heat.score(9), sent.score);
        assert_eq!(b.content.is_some(), a.content.is_some());
        if let (Some(x), Some(y)) = (&a.content, &b.content) {
            assert_eq!(y.version, x.version);
            assert_eq!(y.identity, x.identity);
            assert_eq!(y.gzip, x.gzip);
            assert_eq!(y.br, x.br);
            for enc in [Encoding::Identity, Encoding::Gzip, Encoding::Br] {
                let (e1, body1, etag1) = x.variant(enc);
                let (e2, body2, etag2) = y.variant(enc);
                assert_eq!((e1, body1, etag1), (e2, body2, etag2));
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_variant_left_out_stays_left_out() {
    tokio::time::advance(Duration::from_secs(60)).await;
    let now = Instant::now();
    let mut e = positive(now);
    let c = Content::new(Bytes::from_static(b"tiny"), None, None, "v1");
    e.entry = Arc::new(CachedFragment::rebuilt(
        Some(c),
        e.entry.surrogates.clone(),
        now,
        lifetimes(),
        None,
        e.entry.cache_control.clone(),
        10,
        Heat::default(),
    ));
    let body = encode(&[e], now, usize::MAX).body;
    let got = decode(&body, now, 0).unwrap();
    let c = got[0].entry.content.as_ref().unwrap();
    assert!(c.gzip.is_none() && c.br.is_none() && got[0].entry.validator.is_none());
}

#[tokio::test(start_paused = true)]
async fn every_truncation_is_refused() {
    tokio::time::advance(Duration::from_secs(3600)).await;
    let (now, _, body) = sample();
    for cut in 0..body.len() {
        let err = decode(&body[..cut], now, 0).expect_err("a truncated hot set");
        assert!(
            matches!(
                err,
                WireError::NotAHotSet | WireError::Truncated { .. } | WireError::Corrupt { .. }
            ),
            "cut at {cut}: {err}"
        );
    }
    let mut longer = body.to_vec();
    longer.push(0);
    assert_eq!(
        decode(&longer, now, 0).unwrap_err(),
        WireError::TrailingBytes
    );
}

#[tokio::test(start_paused = true)]
async fn corrupt_bytes_are_refused_or_read_never_panic() {
    tokio::time::advance(Duration::from_secs(3600)).await;
    let (now, _, body) = sample();
    // Flip each byte in turn: whatever it does, decoding returns.
    for i in 0..body.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut b = body.to_vec();
            b[i] ^= flip;
            let _ = decode(&b, now, 0);
        }
    }
    let mut bad = body.to_vec();
    bad[7] = VERSION + 1;
    assert_eq!(decode(&bad, now, 0).unwrap_err(), WireError::NotAHotSet);
    assert_eq!(decode(b"", now, 0).unwrap_err(), WireError::NotAHotSet);
    // The first entry's flags with an unknown bit.
    let mut bad = body.to_vec();
    bad[16] |= 0x80;
    let err = decode(&bad, now, 0).unwrap_err();
    assert_eq!(
        err,
        WireError::Corrupt {
            index: 0,
            why: "unknown flags"
        }
    );
    assert_eq!(
        err.to_string(),
        "entry 0 of the hot set is corrupt: unknown flags"
    );
    // A count larger than the body holds.
    let mut bad = body.to_vec();
    bad[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        decode(&bad, now, 0).unwrap_err(),
        WireError::Truncated {
            index: 2,
            count: u32::MAX as usize
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_bad_retailer_or_version_is_refused() {
    tokio::time::advance(Duration::from_secs(60)).await;
    let now = Instant::now();
    let mut e = positive(now);
    e.entry = Arc::new(CachedFragment::rebuilt(
        None,
        Surrogates {
            retailer: "Not A Slug".into(),
            brand: None,
            product: None,
        },
        now,
        lifetimes(),
        None,
        HeaderValue::from_static("no-store"),
        10,
        Heat::default(),
    ));
    let body = encode(&[e], now, usize::MAX).body;
    assert_eq!(
        decode(&body, now, 0).unwrap_err(),
        WireError::Corrupt {
            index: 0,
            why: "not a retailer slug"
        }
    );
}

#[tokio::test(start_paused = true)]
async fn the_byte_budget_leaves_out_what_does_not_fit() {
    tokio::time::advance(Duration::from_secs(60)).await;
    let now = Instant::now();
    let hot = vec![positive(now), negative(now)];
    let whole = encode(&hot, now, usize::MAX);
    let first = encode(&hot[..1], now, usize::MAX);
    // Room for the header and the first entry only.
    let budget = first.body.len();
    let cut = encode(&hot, now, budget);
    assert_eq!(cut.entries, 1);
    assert_eq!(cut.body, first.body);
    assert!(whole.body.len() > budget);
    assert_eq!(decode(&cut.body, now, 0).unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_entry_dead_on_arrival_is_left_out() {
    let now = Instant::now();
    let e = positive(now);
    let longest = e.entry.lifetimes.longest();
    let body = encode(&[e], now, usize::MAX).body.to_vec();
    // The age field: after magic (8), count (4), length (4), flags (1), key (2 + len).
    let at = 8 + 4 + 4 + 1 + 2 + "shop-one|en-gb|e:04006381333931".len();
    for (age, kept) in [
        (longest - Duration::from_millis(1), 1),
        (longest, 0),
        (Duration::from_millis(u64::MAX), 0),
    ] {
        let mut b = body.clone();
        let ms = u64::try_from(age.as_millis()).unwrap();
        b[at..at + 8].copy_from_slice(&ms.to_be_bytes());
        assert_eq!(decode(&b, now, 0).unwrap().len(), kept, "age {age:?}");
    }
}
