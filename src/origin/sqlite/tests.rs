//! The SQLite store's own behaviour: files, schema versions, rollups, the read pool, and
//! lookups of what its write interface stored. What both stores share, through a whole
//! catalog import, is tested once for both in `tests/store.rs`.

use bytes::Bytes;
use rusqlite::params;

use super::*;
use crate::domain::{BrandMpn, Gtin14, Locale, Retailer, Sku};
use crate::events::{EventStore as _, RollupKey, StatsFilter, StatsLimit, StatsPage, StatsRow};
use crate::origin::import::{CatalogStore as _, Owner, Prepared, Written};
use crate::origin::{Fragment, Invalidation, content_version};

/// Writes `records` in one transaction through the store's import interface, as the
/// catalog import does (which is tested above this layer).
fn write(origin: &SqliteOrigin, records: Vec<Prepared>) -> anyhow::Result<Vec<Written>> {
    let mut tx = origin.begin()?;
    let written = tx.write(records)?;
    tx.commit(&Invalidation::all())?;
    Ok(written)
}

fn store() -> (tempfile::TempDir, SqliteOrigin) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/synedge.db");
    let origin = SqliteOrigin::open(path.to_str().unwrap(), Duration::from_secs(5)).unwrap();
    (dir, origin)
}

/// A validated record with no variants: the store compresses what it writes.
fn record(
    brand: &str,
    mpn: &str,
    eans: &[&str],
    locale: &str,
    html: &str,
    retailers: &[&str],
) -> Prepared {
    Prepared {
        line: 1,
        brand: brand.to_owned(),
        mpn: mpn.to_owned(),
        id: BrandMpn::parse(brand, mpn).unwrap(),
        eans: eans.iter().map(|e| Gtin14::parse(e).unwrap()).collect(),
        skus: Vec::new(),
        locale: Locale::parse(locale).unwrap(),
        retailers: retailers.iter().map(|r| (*r).to_owned()).collect(),
        html: Bytes::from(html.to_owned()),
        version: content_version(html.as_bytes()),
        variants: None,
    }
}

fn sku(retailer: &str, sku: &str) -> (Retailer, Sku) {
    (Retailer::parse(retailer).unwrap(), Sku::parse(sku).unwrap())
}

fn acme() -> Prepared {
    let mut r = record(
        "Acme",
        "X-100/B",
        &["4006381333931"],
        "en-GB",
        &"<p>Acme X-100/B, the drill</p>".repeat(20),
        &["shop-one"],
    );
    r.skus = vec![sku("shop-one", "SKU-123")];
    r
}

async fn get(origin: &SqliteOrigin, query: &str) -> Lookup {
    let req = FragmentRequest::from_query(query).unwrap();
    origin.fetch(&req).await.unwrap()
}

fn found(l: &Lookup) -> &Fragment {
    match l {
        Lookup::Found(f) => f,
        other => panic!("expected content, got {other:?}"),
    }
}

#[tokio::test]
async fn open_creates_the_file_schema_and_is_empty() {
    let (dir, origin) = store();
    assert!(dir.path().join("nested/dir/synedge.db").exists());
    assert!(origin.is_empty().unwrap());
    assert_eq!(origin.change_counter().unwrap(), 0);
    assert_eq!(origin.kind(), "sqlite");
    drop(origin);
    // Reopening an existing store keeps it.
    let path = dir.path().join("nested/dir/synedge.db");
    let again = SqliteOrigin::open(path.to_str().unwrap(), Duration::from_secs(1)).unwrap();
    assert!(again.is_empty().unwrap());
}

#[test]
fn refuses_foreign_and_future_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    let c = Connection::open(&path).unwrap();
    c.execute_batch("CREATE TABLE t (x)").unwrap();
    drop(c);
    let e = SqliteOrigin::open(path.to_str().unwrap(), Duration::from_secs(1)).unwrap_err();
    assert!(format!("{e:#}").contains("another application"), "{e:#}");

    let path = dir.path().join("future.db");
    let c = Connection::open(&path).unwrap();
    c.pragma_update(None, "user_version", 7).unwrap();
    drop(c);
    let e = SqliteOrigin::open(path.to_str().unwrap(), Duration::from_secs(1)).unwrap_err();
    assert!(format!("{e:#}").contains("schema version 7"), "{e:#}");

    let path = dir.path().join("text.db");
    std::fs::write(
        &path,
        "this is not a database, just some text that is long enough to have a header".repeat(10),
    )
    .unwrap();
    assert!(SqliteOrigin::open(path.to_str().unwrap(), Duration::from_secs(1)).is_err());
    assert!(SqliteOrigin::open(":memory:", Duration::from_secs(1)).is_err());
}

#[test]
fn a_version_1_file_gains_the_rollup_table_and_change_log_and_keeps_its_catalog() {
    let (dir, origin) = store();
    write(&origin, vec![acme()]).unwrap();
    {
        // Turn it back into what a version 1 build wrote.
        let conn = origin.writer();
        conn.execute_batch(
            "DROP TABLE event_rollup; DROP TABLE catalog_changes; DROP INDEX content_versions; \
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    drop(origin);
    let path = dir.path().join("nested/dir/synedge.db");
    let again = SqliteOrigin::open(path.to_str().unwrap(), Duration::from_secs(1)).unwrap();
    assert!(!again.is_empty().unwrap());
    let version: i64 = again
        .writer()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    // The index that lets an import read stored versions cheaply is back.
    assert_eq!(
        again.stored_versions(&[acme().key()]).unwrap(),
        vec![Some(acme().version)]
    );
    assert!(!write(&again, vec![acme()]).unwrap()[0].changed);
    assert_eq!(
        again
            .stats(&StatsFilter::default(), None, StatsLimit::MAX)
            .unwrap(),
        StatsPage::default()
    );
}

#[test]
fn rollups_add_up_across_writes_and_filter_by_retailer_and_days() {
    use crate::events::{Day, EventType, Product};
    let (_dir, origin) = store();
    let key = |day: &str, retailer: &str, kind| RollupKey {
        day: Day::parse(day).unwrap(),
        retailer: Retailer::parse(retailer).unwrap(),
        product: Product::Ean(Gtin14::parse("4006381333931").unwrap()),
        locale: Locale::parse("en-GB").unwrap(),
        kind,
    };
    origin
        .write_rollup(&[
            (key("2025-01-01", "a", EventType::View), 2),
            (key("2025-01-02", "a", EventType::Click), 1),
            (key("2025-01-02", "b", EventType::View), 5),
        ])
        .unwrap();
    origin
        .write_rollup(&[(key("2025-01-01", "a", EventType::View), 3)])
        .unwrap();
    let all = origin
        .stats(&StatsFilter::default(), None, StatsLimit::MAX)
        .unwrap()
        .rows;
    assert_eq!(all.len(), 3);
    assert_eq!(
        all[0],
        StatsRow {
            day: "2025-01-01".into(),
            retailer: "a".into(),
            product: "ean:04006381333931".into(),
            locale: "en-gb".into(),
            kind: "view".into(),
            count: 5,
        }
    );
    let a_on_2nd = origin
        .stats(
            &StatsFilter {
                retailer: Some(Retailer::parse("a").unwrap()),
                from: Some(Day::parse("2025-01-02").unwrap()),
                to: Some(Day::parse("2025-01-02").unwrap()),
            },
            None,
            StatsLimit::MAX,
        )
        .unwrap()
        .rows;
    assert_eq!(a_on_2nd.len(), 1);
    assert_eq!((a_on_2nd[0].kind.as_str(), a_on_2nd[0].count), ("click", 1));
    let before = origin
        .stats(
            &StatsFilter {
                to: Some(Day::parse("2024-12-31").unwrap()),
                ..StatsFilter::default()
            },
            None,
            StatsLimit::MAX,
        )
        .unwrap()
        .rows;
    assert!(before.is_empty());
}

#[test]
fn a_stats_page_is_one_range_of_the_primary_key() {
    // Keyset pagination is only bounded if SQLite seeks to the cursor and reads in
    // key order: no full scan, no sort of everything that matches.
    let (_dir, origin) = store();
    let conn = origin.writer();
    for retailer in [None, Some("a")] {
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", rollups::SQL_STATS))
            .unwrap()
            .query_map(
                params!["2025-01-01", "", "", "", "", "9999-12-31", retailer, 11],
                |r| r.get::<_, String>(3),
            )
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(plan.len(), 1, "{plan:?}");
        assert!(
            plan[0].starts_with(
                "SEARCH event_rollup USING PRIMARY KEY ((day,retailer,product,locale,type)>("
            ),
            "{plan:?}"
        );
    }
}

#[tokio::test]
async fn finds_by_every_identity_spelling() {
    let (_dir, origin) = store();
    let written = write(&origin, vec![acme()]).unwrap();
    assert_eq!(
        written,
        vec![Written {
            changed: true,
            new_identity: true,
            new_grant: true,
            ..Written::default()
        }]
    );
    assert!(!origin.is_empty().unwrap());

    let by_ean = get(&origin, "retailer=shop-one&locale=en-GB&ean=4006381333931").await;
    let f = found(&by_ean);
    assert_eq!(f.brand, "acme");
    assert_eq!(f.product_id, "acme/x100b");
    assert_eq!(f.version, content_version(&f.html));
    assert!(f.gzip.is_some() && f.br.is_some());
    assert!(f.updated_at > 1_600_000_000);
    for q in [
        "retailer=shop-one&locale=en-GB&ean=04006381333931",
        "retailer=shop-one&locale=EN-gb&brand=ACME&mpn=x100b",
        "retailer=shop-one&locale=en-GB&brand=acme&mpn=X+100+B",
        "retailer=shop-one&locale=en-GB&sku=SKU-123",
        // An unknown EAN falls through to the next identity.
        "retailer=shop-one&locale=en-GB&ean=96385074&brand=Acme&mpn=X-100/B",
    ] {
        assert_eq!(get(&origin, q).await, by_ean, "{q}");
    }
}

#[tokio::test]
async fn sku_lookup_is_per_retailer() {
    let (_dir, origin) = store();
    let mut other = record("Acme", "Z-9", &[], "en-GB", "<p>z</p>", &["*"]);
    other.skus = vec![sku("shop-two", "SKU-123")];
    write(&origin, vec![acme(), other]).unwrap();
    let one = get(&origin, "retailer=shop-one&locale=en-GB&sku=SKU-123").await;
    assert_eq!(found(&one).product_id, "acme/x100b");
    let two = get(&origin, "retailer=shop-two&locale=en-GB&sku=SKU-123").await;
    assert_eq!(found(&two).product_id, "acme/z9");
    let three = get(&origin, "retailer=megastore&locale=en-GB&sku=SKU-123").await;
    assert_eq!(
        three,
        Lookup::NoContent {
            brand: None,
            product_id: None
        }
    );
}

#[tokio::test]
async fn grants_decide_who_sees_content() {
    let (_dir, origin) = store();
    let everywhere = record("Borealis", "B1", &["96385074"], "en-GB", "<p>b</p>", &["*"]);
    write(&origin, vec![acme(), everywhere]).unwrap();

    let denied = get(&origin, "retailer=shop-two&locale=en-GB&ean=4006381333931").await;
    assert_eq!(
        denied,
        Lookup::NoContent {
            brand: Some("acme".into()),
            product_id: Some("acme/x100b".into())
        }
    );
    for retailer in ["shop-one", "shop-two", "anyone-else"] {
        let q = format!("retailer={retailer}&locale=en-GB&ean=96385074");
        assert_eq!(
            found(&get(&origin, &q).await).brand,
            "borealis",
            "{retailer}"
        );
    }
    let unknown = get(&origin, "retailer=shop-one&locale=en-GB&ean=0012345678905").await;
    assert_eq!(
        unknown,
        Lookup::NoContent {
            brand: None,
            product_id: None
        }
    );

    // A later import adds grants; it never takes one away.
    let mut more = acme();
    more.retailers = vec!["shop-two".into()];
    assert!(write(&origin, vec![more]).unwrap()[0].new_grant);
    for r in ["shop-one", "shop-two"] {
        let q = format!("retailer={r}&locale=en-GB&ean=4006381333931");
        assert!(matches!(get(&origin, &q).await, Lookup::Found(_)), "{r}");
    }
}

#[tokio::test]
async fn locale_falls_back_to_the_language_only() {
    let (_dir, origin) = store();
    let de = record("Acme", "X-100/B", &[], "de", "<p>Bohrer</p>", &["shop-one"]);
    let de_de = record(
        "Acme",
        "X-100/B",
        &[],
        "de-DE",
        "<p>Bohrer DE</p>",
        &["shop-one"],
    );
    write(&origin, vec![acme(), de, de_de]).unwrap();

    let at = get(&origin, "retailer=shop-one&locale=de-AT&ean=4006381333931").await;
    assert_eq!(&found(&at).html[..], b"<p>Bohrer</p>");
    let de = get(&origin, "retailer=shop-one&locale=de-de&ean=4006381333931").await;
    assert_eq!(&found(&de).html[..], b"<p>Bohrer DE</p>");
    // en-US falls back to "en", which does not exist; en-GB is not a fallback.
    let us = get(&origin, "retailer=shop-one&locale=en-US&ean=4006381333931").await;
    assert_eq!(
        us,
        Lookup::NoContent {
            brand: Some("acme".into()),
            product_id: Some("acme/x100b".into())
        }
    );
}

#[tokio::test]
async fn rewriting_unchanged_content_keeps_it_and_its_updated_at() {
    let (_dir, origin) = store();
    let records = vec![
        acme(),
        record("Acme", "X-100/B", &[], "de", "<p>Bohrer</p>", &["shop-one"]),
    ];
    let first = write(&origin, records.clone()).unwrap();
    assert!(first.iter().all(|w| w.changed));

    // Pretend the first write happened long ago, to see whether updated_at moves.
    origin
        .writer()
        .execute("UPDATE content SET updated_at = 1000", [])
        .unwrap();
    let second = write(&origin, records).unwrap();
    assert_eq!(second, vec![Written::default(), Written::default()]);
    let f = get(&origin, "retailer=shop-one&locale=en-GB&ean=4006381333931").await;
    assert_eq!(found(&f).updated_at, 1000);
    assert_eq!(origin.change_counter().unwrap(), 2);

    // Changed HTML is a change: new version, new updated_at, variants made anew.
    let mut changed = acme();
    changed.html = Bytes::from("<p>new copy</p>".repeat(30));
    changed.version = content_version(&changed.html);
    assert!(write(&origin, vec![changed.clone()]).unwrap()[0].changed);
    let f = get(&origin, "retailer=shop-one&locale=en-GB&ean=4006381333931").await;
    let f = found(&f);
    assert_eq!(f.version, changed.version);
    assert!(f.updated_at > 1000);
    let mut s = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&f.gzip.as_ref().unwrap()[..]),
        &mut s,
    )
    .unwrap();
    assert_eq!(s, changed.html);
}

#[tokio::test]
async fn an_ean_moves_to_the_product_that_claims_it_last_and_names_update() {
    let (_dir, origin) = store();
    write(&origin, vec![acme()]).unwrap();
    let thief = record(
        "ACME ",
        "X-200",
        &["4006381333931"],
        "en-GB",
        "<p>200</p>",
        &["shop-one"],
    );
    let renamed = record("ACME", "x 100 b", &[], "fr", "<p>fr</p>", &["shop-one"]);
    let written = write(&origin, vec![thief, renamed]).unwrap();
    assert_eq!(
        written[0].moved_eans,
        vec![(
            Gtin14::parse("4006381333931").unwrap(),
            Owner {
                brand: "Acme".into(),
                brand_norm: "acme".into(),
                product_id: "acme/x100b".into(),
            }
        )]
    );
    let f = get(&origin, "retailer=shop-one&locale=en-GB&ean=4006381333931").await;
    assert_eq!(found(&f).product_id, "acme/x200");
    let (brand, mpn): (String, String) = origin
        .writer()
        .query_row(
            "SELECT brand, mpn FROM products WHERE mpn_norm = 'x100b'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((brand.as_str(), mpn.as_str()), ("ACME", "x 100 b"));
}

#[tokio::test]
async fn a_failing_transaction_leaves_nothing_behind() {
    let (_dir, origin) = store();
    write(&origin, vec![acme()]).unwrap();
    // Make the second record's content insert fail inside the transaction.
    origin
        .writer()
        .execute_batch(
            "CREATE TRIGGER no_fr BEFORE INSERT ON content WHEN NEW.locale = 'fr' \
             BEGIN SELECT RAISE(ABORT, 'no french'); END;",
        )
        .unwrap();
    let new = record("Borealis", "B1", &["96385074"], "en-GB", "<p>b</p>", &["*"]);
    let fr = record("Borealis", "B1", &[], "fr", "<p>b</p>", &["*"]);
    assert!(write(&origin, vec![new, fr]).is_err());
    let n: i64 = origin
        .writer()
        .query_row("SELECT count(*) FROM products", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(origin.change_counter().unwrap(), 1);
    let b = get(&origin, "retailer=shop-one&locale=en-GB&ean=96385074").await;
    assert_eq!(
        b,
        Lookup::NoContent {
            brand: None,
            product_id: None
        }
    );
}

#[tokio::test]
async fn concurrent_lookups_share_the_pool() {
    let (_dir, origin) = store();
    write(&origin, vec![acme()]).unwrap();
    let origin = Arc::new(origin);
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let o = Arc::clone(&origin);
            tokio::spawn(async move {
                let req =
                    FragmentRequest::from_query("retailer=shop-one&locale=en-GB&ean=4006381333931")
                        .unwrap();
                o.fetch(&req).await
            })
        })
        .collect();
    for t in tasks {
        assert!(matches!(t.await.unwrap(), Ok(Lookup::Found(_))));
    }
    assert!(origin.readers.idle.lock().unwrap().len() <= READ_POOL_SIZE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_that_cannot_start_in_time_is_a_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synedge.db");
    let origin = SqliteOrigin::open(path.to_str().unwrap(), Duration::from_millis(50)).unwrap();
    // Hold every read permit, as if the pool were saturated by slow queries.
    let _all = Arc::clone(&origin.readers.permits)
        .acquire_many_owned(READ_POOL_SIZE as u32)
        .await
        .unwrap();
    let req =
        FragmentRequest::from_query("retailer=shop-one&locale=en-GB&ean=4006381333931").unwrap();
    let e = origin.fetch(&req).await.unwrap_err();
    assert!(matches!(e, OriginError::Timeout(_)), "{e:?}");
    assert!(e.is_transient());
}
