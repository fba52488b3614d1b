//! The origin stores' behaviour, written once and run against both stores: a fresh
//! SQLite file (`sqlite::*`) and a fresh PostgreSQL database (`postgres::*`). Then the
//! PostgreSQL-only behaviour (`pg_*`): migrations under concurrency, LISTEN/NOTIFY
//! fan-out and its reconnects, import notifications, unreachable servers.
//!
//! PostgreSQL tests need `SYNEDGE_TEST_POSTGRES_URL` (`.ci/run` starts a server and sets
//! it); without it they print SKIPPED and pass, unless `SYNEDGE_REQUIRE_POSTGRES` is set.

mod common;

use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::postgres::TestDb;
use synedge::catalog::write::{ImportSummary, Input, Options, WriteError, write_catalog};
use synedge::catalog::{CatalogRecord, parse_line};
use synedge::domain::{BrandMpn, FragmentRequest, Gtin14, Locale, Retailer, Sku};
use synedge::events::{
    Day, EventStore, EventType, Product, RollupKey, StatsCursor, StatsFilter, StatsLimit,
    StatsPage, StatsRow,
};
use synedge::origin::import::CatalogStore;
use synedge::origin::postgres::{LISTENER_NAME, PostgresOrigin, SCHEMA_VERSION};
use synedge::origin::sqlite::{CHANGE_POLL_INTERVAL, SqliteOrigin};
use synedge::origin::{Fragment, Invalidation, Lookup, Origin, content_version};

const TIMEOUT: Duration = Duration::from_secs(5);

/// Writes `records` through the shared import (what `synedge import` runs), on a
/// blocking thread.
async fn import(
    store: Arc<dyn CatalogStore>,
    records: &[CatalogRecord],
    options: Options,
) -> Result<ImportSummary, WriteError> {
    let records = records.to_vec();
    tokio::task::spawn_blocking(move || {
        let input = records
            .into_iter()
            .enumerate()
            .map(|(i, r)| Ok(Input::Record(i + 1, r)));
        write_catalog(store.as_ref(), input, options, &|_| {})
    })
    .await
    .unwrap()
}

// ---------------------------------------------------------------------------------------
// One store, either kind.

enum Backend {
    Sqlite {
        store: Arc<SqliteOrigin>,
        path: PathBuf,
        _dir: tempfile::TempDir,
    },
    Postgres {
        store: Arc<PostgresOrigin>,
        db: TestDb,
    },
}

struct Store(Backend);

impl Store {
    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("synedge.db");
        let store = Arc::new(SqliteOrigin::open(path.to_str().unwrap(), TIMEOUT).unwrap());
        Self(Backend::Sqlite {
            store,
            path,
            _dir: dir,
        })
    }

    async fn postgres(test: &str) -> Option<Self> {
        let db = TestDb::create(test).await?;
        let store = Arc::new(PostgresOrigin::connect(&db.url, TIMEOUT).await.unwrap());
        Some(Self(Backend::Postgres { store, db }))
    }

    fn origin(&self) -> &dyn Origin {
        match &self.0 {
            Backend::Sqlite { store, .. } => store.as_ref(),
            Backend::Postgres { store, .. } => store.as_ref(),
        }
    }

    fn events(&self) -> Arc<dyn EventStore> {
        match &self.0 {
            Backend::Sqlite { store, .. } => store.clone(),
            Backend::Postgres { store, .. } => store.clone(),
        }
    }

    async fn import(&self, records: &[CatalogRecord]) -> Result<ImportSummary, WriteError> {
        self.import_with(records, Options::default()).await
    }

    async fn import_with(
        &self,
        records: &[CatalogRecord],
        options: Options,
    ) -> Result<ImportSummary, WriteError> {
        let store: Arc<dyn CatalogStore> = match &self.0 {
            Backend::Sqlite { store, .. } => store.clone(),
            Backend::Postgres { store, .. } => store.clone(),
        };
        import(store, records, options).await
    }

    /// What a running server on this store hears of imports: another origin on the same
    /// file or database, listening (kept alive by the caller) from the moment this returns.
    async fn listen(&self) -> (Box<dyn Origin>, tokio::sync::mpsc::Receiver<Invalidation>) {
        match &self.0 {
            Backend::Sqlite { path, .. } => {
                let edge = SqliteOrigin::open(path.to_str().unwrap(), TIMEOUT).unwrap();
                let rx = edge.invalidations().unwrap();
                // The poller's first read of the change counter is its starting point.
                tokio::time::sleep(CHANGE_POLL_INTERVAL * 2).await;
                (Box::new(edge), rx)
            }
            Backend::Postgres { db, .. } => {
                let edge = PostgresOrigin::connect(&db.url, TIMEOUT).await.unwrap();
                let rx = edge.invalidations().unwrap();
                wait_listening(db, 1).await;
                (Box::new(edge), rx)
            }
        }
    }

    async fn is_empty(&self) -> bool {
        match &self.0 {
            Backend::Sqlite { store, .. } => store.is_empty().unwrap(),
            Backend::Postgres { store, .. } => store.is_empty().await.unwrap(),
        }
    }

    async fn change_counter(&self) -> i64 {
        match &self.0 {
            Backend::Sqlite { store, .. } => store.change_counter().unwrap(),
            Backend::Postgres { store, .. } => store.change_counter().await.unwrap(),
        }
    }

    async fn get(&self, query: &str) -> Lookup {
        let req = FragmentRequest::from_query(query).unwrap();
        self.origin()
            .fetch(&req)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"))
    }

    async fn write_rollup(&self, rows: Vec<(RollupKey, u64)>) {
        let events = self.events();
        tokio::task::spawn_blocking(move || events.write_rollup(&rows))
            .await
            .unwrap()
            .unwrap();
    }

    /// The rows of the first page of the largest size (the tests store fewer).
    async fn stats(&self, filter: StatsFilter) -> Vec<StatsRow> {
        let page = self.stats_page(filter, None, StatsLimit::MAX).await;
        assert_eq!(page.next, None, "more rows than one page");
        page.rows
    }

    async fn stats_page(
        &self,
        filter: StatsFilter,
        after: Option<StatsCursor>,
        limit: StatsLimit,
    ) -> StatsPage {
        let events = self.events();
        tokio::task::spawn_blocking(move || events.stats(&filter, after.as_ref(), limit))
            .await
            .unwrap()
            .unwrap()
    }

    /// Runs `sqlite` or `postgres` (statements for the respective store) on a connection
    /// of the test's own, behind the store's back.
    async fn sql(&self, sqlite: &str, postgres: &str) {
        match &self.0 {
            Backend::Sqlite { path, .. } => {
                let c = rusqlite::Connection::open(path).unwrap();
                c.execute_batch(sqlite).unwrap();
            }
            Backend::Postgres { db, .. } => {
                db.client().await.batch_execute(postgres).await.unwrap()
            }
        }
    }

    /// From now on, writing content in locale `fr` fails ("no french") inside the
    /// transaction, behind the store's back.
    async fn refuse_french_content(&self) {
        self.sql(
            "CREATE TRIGGER no_fr BEFORE INSERT ON content WHEN NEW.locale = 'fr' \
             BEGIN SELECT RAISE(ABORT, 'no french'); END;",
            "CREATE FUNCTION no_fr() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.locale = 'fr' THEN RAISE EXCEPTION 'no french'; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER no_fr BEFORE INSERT ON content FOR EACH ROW EXECUTE FUNCTION no_fr();",
        )
        .await;
    }

    /// The first column of the first row of `query` (same SQL on both stores), as text.
    async fn scalar(&self, query: &str) -> String {
        match &self.0 {
            Backend::Sqlite { path, .. } => {
                let c = rusqlite::Connection::open(path).unwrap();
                c.query_row(query, [], |r| {
                    Ok(match r.get_ref(0)? {
                        rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                        v => v.as_str().unwrap().to_owned(),
                    })
                })
                .unwrap()
            }
            Backend::Postgres { db, .. } => {
                let rows = db.client().await.simple_query(query).await.unwrap();
                rows.iter()
                    .find_map(|m| match m {
                        tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
                        _ => None,
                    })
                    .unwrap()
            }
        }
    }
}

fn record(
    brand: &str,
    mpn: &str,
    eans: &[&str],
    locale: &str,
    html: &str,
    retailers: &[&str],
) -> CatalogRecord {
    let line = serde_json::json!({
        "brand": brand, "mpn": mpn, "ean": eans, "locale": locale, "html": html, "retailers": retailers,
    });
    parse_line(&line.to_string()).unwrap()
}

fn with_skus(r: CatalogRecord, skus: &[(&str, &str)]) -> CatalogRecord {
    let mut line = serde_json::json!({
        "brand": r.brand, "mpn": r.mpn, "ean": r.eans.iter().map(|e| e.as_str().to_owned()).collect::<Vec<_>>(),
        "locale": r.locale.as_str(), "html": r.html, "retailers": r.retailers,
    });
    let map: serde_json::Map<String, serde_json::Value> = skus
        .iter()
        .map(|(r, s)| ((*r).to_owned(), serde_json::Value::from(*s)))
        .collect();
    line["skus"] = serde_json::Value::Object(map);
    parse_line(&line.to_string()).unwrap()
}

/// Acme X-100/B, EAN 4006381333931, SKU-123 at shop-one, granted to shop-one, long
/// enough to be worth compressing.
fn acme() -> CatalogRecord {
    with_skus(
        record(
            "Acme",
            "X-100/B",
            &["4006381333931"],
            "en-GB",
            &"<p>Acme X-100/B, the drill</p>".repeat(20),
            &["shop-one"],
        ),
        &[("shop-one", "SKU-123")],
    )
}

fn found(l: &Lookup) -> &Fragment {
    match l {
        Lookup::Found(f) => f,
        other => panic!("expected content, got {other:?}"),
    }
}

fn nothing() -> Lookup {
    Lookup::NoContent {
        brand: None,
        product_id: None,
    }
}

fn denied(brand: &str, product: &str) -> Lookup {
    Lookup::NoContent {
        brand: Some(brand.into()),
        product_id: Some(product.into()),
    }
}

fn gunzip(b: &[u8]) -> String {
    let mut s = String::new();
    flate2::read::GzDecoder::new(b)
        .read_to_string(&mut s)
        .unwrap();
    s
}

// ---------------------------------------------------------------------------------------
// The behaviour both stores share.

/// Generates `sqlite::NAME` and `postgres::NAME` for each shared test `NAME`.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Store::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let test = concat!("postgres::", stringify!($name));
                    if let Some(store) = super::Store::postgres(test).await {
                        super::$name(store).await;
                    }
                }
            )*
        }
    };
}

on_both_stores!(
    a_new_store_is_empty,
    identities_are_tried_ean_then_brand_mpn_then_sku,
    eans_are_normalized_to_gtin14,
    grants_decide_who_sees_content_including_star,
    locale_falls_back_to_the_language_only,
    variants_are_made_once_at_import,
    reimport_keeps_versions_and_updated_at,
    a_failing_import_leaves_nothing_behind,
    skus_map_to_products_per_retailer,
    an_ean_moves_to_the_product_that_claims_it_last,
    change_counter_counts_committed_imports,
    an_ean_of_another_brand_is_refused_unless_reassigned,
    imports_tell_running_servers_only_what_changed,
    an_import_is_seen_whole_or_not_at_all,
    event_rollups_add_up_and_filter,
    event_rollups_page_in_key_order,
    concurrent_lookups_all_answer,
);

async fn a_new_store_is_empty(s: Store) {
    assert!(s.is_empty().await);
    assert_eq!(s.change_counter().await, 0);
    assert!(["sqlite", "postgres"].contains(&s.origin().kind()));
    assert_eq!(
        s.get("retailer=shop-one&locale=en-GB&ean=4006381333931")
            .await,
        nothing()
    );
    assert_eq!(s.stats(StatsFilter::default()).await, vec![]);
    s.import(&[acme()]).await.unwrap();
    assert!(!s.is_empty().await);
}

async fn identities_are_tried_ean_then_brand_mpn_then_sku(s: Store) {
    let borealis = with_skus(
        record(
            "Borealis",
            "B1",
            &["96385074"],
            "en-GB",
            "<p>b1</p>",
            &["shop-one"],
        ),
        &[("shop-one", "SKU-B1")],
    );
    s.import(&[acme(), borealis]).await.unwrap();
    let id = |l: &Lookup| found(l).product_id.clone();
    // Each identity alone.
    for (q, want) in [
        ("ean=4006381333931", "acme/x100b"),
        ("brand=ACME&mpn=x+100+b", "acme/x100b"),
        ("sku=SKU-123", "acme/x100b"),
        ("sku=SKU-B1", "borealis/b1"),
    ] {
        let l = s.get(&format!("retailer=shop-one&locale=en-GB&{q}")).await;
        assert_eq!(id(&l), want, "{q}");
    }
    // EAN beats brand+mpn beats SKU, when they disagree.
    let l = s
        .get("retailer=shop-one&locale=en-GB&ean=4006381333931&brand=Borealis&mpn=B1&sku=SKU-B1")
        .await;
    assert_eq!(id(&l), "acme/x100b");
    let l = s
        .get("retailer=shop-one&locale=en-GB&brand=Borealis&mpn=B1&sku=SKU-123")
        .await;
    assert_eq!(id(&l), "borealis/b1");
    // An identity that names nothing falls through to the next.
    let l = s
        .get("retailer=shop-one&locale=en-GB&ean=0012345678905&brand=Nobody&mpn=N1&sku=SKU-B1")
        .await;
    assert_eq!(id(&l), "borealis/b1");
    let l = s
        .get("retailer=shop-one&locale=en-GB&ean=0012345678905&brand=Nobody&mpn=N1&sku=SKU-0")
        .await;
    assert_eq!(l, nothing());
}

async fn eans_are_normalized_to_gtin14(s: Store) {
    // Imported as a 12-digit UPC-A.
    let upc = record(
        "Acme",
        "U-1",
        &["012345678905"],
        "en-GB",
        "<p>u</p>",
        &["*"],
    );
    s.import(&[upc]).await.unwrap();
    let mut answers = Vec::new();
    for ean in ["012345678905", "0012345678905", "00012345678905"] {
        let l = s
            .get(&format!("retailer=shop-one&locale=en-GB&ean={ean}"))
            .await;
        assert_eq!(found(&l).product_id, "acme/u1", "{ean}");
        answers.push(l);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]));
}

async fn grants_decide_who_sees_content_including_star(s: Store) {
    let everywhere = record("Borealis", "B1", &["96385074"], "en-GB", "<p>b</p>", &["*"]);
    s.import(&[acme(), everywhere]).await.unwrap();

    let acme_q = |r: &str| format!("retailer={r}&locale=en-GB&ean=4006381333931");
    assert!(matches!(s.get(&acme_q("shop-one")).await, Lookup::Found(_)));
    assert_eq!(
        s.get(&acme_q("shop-two")).await,
        denied("acme", "acme/x100b")
    );
    for retailer in ["shop-one", "shop-two", "anyone-else"] {
        let l = s
            .get(&format!("retailer={retailer}&locale=en-GB&ean=96385074"))
            .await;
        assert_eq!(found(&l).brand, "borealis", "{retailer}");
    }
    // A later import adds grants; it never takes one away. Grants are per brand.
    let mut more = record("ACME", "Other", &[], "en-GB", "<p>o</p>", &["shop-two"]);
    more.retailers = vec!["shop-two".into()];
    s.import(&[more]).await.unwrap();
    for r in ["shop-one", "shop-two"] {
        assert!(matches!(s.get(&acme_q(r)).await, Lookup::Found(_)), "{r}");
    }
    assert_eq!(
        s.get(&acme_q("shop-three")).await,
        denied("acme", "acme/x100b")
    );
}

async fn locale_falls_back_to_the_language_only(s: Store) {
    let de = record("Acme", "X-100/B", &[], "de", "<p>Bohrer</p>", &["shop-one"]);
    let de_de = record(
        "Acme",
        "X-100/B",
        &[],
        "de-DE",
        "<p>Bohrer DE</p>",
        &["shop-one"],
    );
    s.import(&[acme(), de, de_de]).await.unwrap();
    let q = |locale: &str| format!("retailer=shop-one&locale={locale}&ean=4006381333931");
    assert_eq!(&found(&s.get(&q("de-AT")).await).html[..], b"<p>Bohrer</p>");
    assert_eq!(
        &found(&s.get(&q("de-de")).await).html[..],
        b"<p>Bohrer DE</p>"
    );
    assert_eq!(&found(&s.get(&q("DE")).await).html[..], b"<p>Bohrer</p>");
    // en-US falls back to "en", which does not exist; en-GB is not a fallback.
    assert_eq!(s.get(&q("en-US")).await, denied("acme", "acme/x100b"));
}

async fn variants_are_made_once_at_import(s: Store) {
    let tiny = record("Acme", "T-1", &["96385074"], "en-GB", "<p>t</p>", &["*"]);
    s.import(&[acme(), tiny]).await.unwrap();
    let l = s
        .get("retailer=shop-one&locale=en-GB&ean=4006381333931")
        .await;
    let f = found(&l);
    assert_eq!(f.version, content_version(&f.html));
    assert_eq!(gunzip(f.gzip.as_ref().unwrap()), acme().html);
    let br = f.br.as_ref().unwrap();
    assert!(br.len() < f.html.len());
    let mut unbr = Vec::new();
    brotli::Decompressor::new(&br[..], 4096)
        .read_to_end(&mut unbr)
        .unwrap();
    assert_eq!(unbr, acme().html.as_bytes());
    // Not worth compressing: no variants stored.
    let l = s.get("retailer=x&locale=en-GB&ean=96385074").await;
    let f = found(&l);
    assert_eq!((f.gzip.as_ref(), f.br.as_ref()), (None, None));
    assert!(f.updated_at > 1_600_000_000);
}

async fn reimport_keeps_versions_and_updated_at(s: Store) {
    let records = vec![
        acme(),
        record("Acme", "X-100/B", &[], "de", "<p>Bohrer</p>", &["shop-one"]),
    ];
    let first = s.import(&records).await.unwrap();
    assert_eq!(
        first.to_string(),
        "imported 2 fragments for 1 product (2 new or changed, 0 unchanged)"
    );
    // Pretend the first import happened long ago, to see whether updated_at moves.
    let age = "UPDATE content SET updated_at = 1000";
    s.sql(age, age).await;
    let second = s.import(&records).await.unwrap();
    assert_eq!(
        second,
        ImportSummary {
            records: 2,
            products: 1,
            changed: 0,
            unchanged: 2,
            ..ImportSummary::default()
        }
    );
    let q = "retailer=shop-one&locale=en-GB&ean=4006381333931";
    let before = s.get(q).await;
    assert_eq!(found(&before).updated_at, 1000);
    assert_eq!(
        found(&before).version,
        content_version(acme().html.as_bytes())
    );

    // Changed HTML is a change: new version, new updated_at, new variants.
    let mut changed = acme();
    changed.html = "<p>new copy</p>".repeat(30);
    let third = s.import(std::slice::from_ref(&changed)).await.unwrap();
    assert_eq!((third.changed, third.unchanged), (1, 0));
    let after = s.get(q).await;
    let f = found(&after);
    assert_eq!(f.version, content_version(changed.html.as_bytes()));
    assert_ne!(f.version, found(&before).version);
    assert!(f.updated_at > 1000);
    assert_eq!(gunzip(f.gzip.as_ref().unwrap()), changed.html);
    // The untouched locale kept its version and time.
    let de = s.get("retailer=shop-one&locale=de&ean=4006381333931").await;
    assert_eq!(found(&de).updated_at, 1000);
    // A record repeated within one import counts once as changed, then as unchanged.
    let again = s.import(&[changed.clone(), changed.clone()]).await.unwrap();
    assert_eq!((again.changed, again.unchanged, again.products), (0, 2, 1));
}

async fn a_failing_import_leaves_nothing_behind(s: Store) {
    s.import(&[acme()]).await.unwrap();
    // Make the second record's content insert fail inside the transaction.
    s.refuse_french_content().await;
    let new = record("Borealis", "B1", &["96385074"], "en-GB", "<p>b</p>", &["*"]);
    let fr = record("Borealis", "B1", &[], "fr", "<p>b</p>", &["*"]);
    let mut changed = acme();
    changed.html = "<p>changed</p>".into();
    let e = s.import(&[changed, new, fr]).await.unwrap_err();
    assert!(format!("{e:#}").contains("no french"), "{e:#}");
    assert_eq!(s.scalar("SELECT count(*) FROM products").await, "1");
    assert_eq!(s.scalar("SELECT count(*) FROM grants").await, "1");
    assert_eq!(s.change_counter().await, 1);
    assert_eq!(
        s.get("retailer=shop-one&locale=en-GB&ean=96385074").await,
        nothing()
    );
    let l = s
        .get("retailer=shop-one&locale=en-GB&ean=4006381333931")
        .await;
    assert_eq!(found(&l).html, acme().html.as_bytes());
}

async fn skus_map_to_products_per_retailer(s: Store) {
    let other = with_skus(
        record("Acme", "Z-9", &[], "en-GB", "<p>z</p>", &["*"]),
        &[("shop-two", "SKU-123")],
    );
    s.import(&[acme(), other]).await.unwrap();
    let q = |r: &str| format!("retailer={r}&locale=en-GB&sku=SKU-123");
    assert_eq!(found(&s.get(&q("shop-one")).await).product_id, "acme/x100b");
    assert_eq!(found(&s.get(&q("shop-two")).await).product_id, "acme/z9");
    assert_eq!(s.get(&q("megastore")).await, nothing());
    // SKUs are compared as written.
    assert_eq!(
        s.get("retailer=shop-one&locale=en-GB&sku=sku-123").await,
        nothing()
    );
    // A SKU moves to the product that claims it last.
    let moved = with_skus(
        record("Acme", "Z-9", &[], "en-GB", "<p>z</p>", &["*"]),
        &[("shop-one", "SKU-123")],
    );
    s.import(&[moved]).await.unwrap();
    assert_eq!(found(&s.get(&q("shop-one")).await).product_id, "acme/z9");
}

async fn an_ean_moves_to_the_product_that_claims_it_last(s: Store) {
    s.import(&[acme()]).await.unwrap();
    let thief = record(
        "ACME ",
        "X-200",
        &["4006381333931"],
        "en-GB",
        "<p>200</p>",
        &["shop-one"],
    );
    let renamed = record("ACME", "x 100 b", &[], "fr", "<p>fr</p>", &["shop-one"]);
    let summary = s.import(&[thief, renamed]).await.unwrap();
    assert_eq!((summary.products, summary.moved_eans), (2, 1));
    assert!(
        summary
            .to_string()
            .ends_with("; 1 EAN moved between products of one brand"),
        "{summary}"
    );
    let l = s
        .get("retailer=shop-one&locale=en-GB&ean=4006381333931")
        .await;
    assert_eq!(found(&l).product_id, "acme/x200");
    // Display names take the latest spelling; identity stays.
    assert_eq!(
        s.scalar("SELECT brand || '|' || mpn FROM products WHERE mpn_norm = 'x100b'")
            .await,
        "ACME|x 100 b"
    );
    assert_eq!(s.scalar("SELECT count(*) FROM products").await, "2");
}

async fn an_ean_of_another_brand_is_refused_unless_reassigned(s: Store) {
    s.import(&[acme()]).await.unwrap();
    let borealis = record("Borealis", "B1", &["96385074"], "en-GB", "<p>b</p>", &["*"]);
    let evil = record(
        "Evil",
        "E1",
        &["4006381333931"],
        "en-GB",
        "<p>evil</p>",
        &["*"],
    );
    let ean = "retailer=shop-one&locale=en-GB&ean=4006381333931";
    match s.import(&[borealis.clone(), evil.clone()]).await {
        Err(WriteError::Refused(lines)) => {
            assert_eq!(lines.len(), 1, "{lines:?}");
            assert_eq!(lines[0].line, 2);
            let m = &lines[0].message;
            for part in [
                "ean 04006381333931",
                "Acme's product acme/x100b",
                "Evil's product evil/e1",
                "--reassign-gtins",
            ] {
                assert!(m.contains(part), "{part:?} not in {m}");
            }
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Nothing of that import was written, not even the line before the conflict.
    assert_eq!(found(&s.get(ean).await).product_id, "acme/x100b");
    assert_eq!(s.scalar("SELECT count(*) FROM products").await, "1");
    assert_eq!(s.change_counter().await, 1);

    let reassign = Options {
        reassign_gtins: true,
    };
    let summary = s.import_with(&[borealis, evil], reassign).await.unwrap();
    assert_eq!((summary.reassigned_eans, summary.moved_eans), (1, 0));
    assert!(
        summary
            .to_string()
            .ends_with("; 1 EAN reassigned from another brand"),
        "{summary}"
    );
    assert_eq!(found(&s.get(ean).await).product_id, "evil/e1");
    // Acme's product is still there by brand and MPN.
    let by_mpn = s
        .get("retailer=shop-one&locale=en-GB&brand=Acme&mpn=X-100/B")
        .await;
    assert_eq!(found(&by_mpn).product_id, "acme/x100b");
}

async fn imports_tell_running_servers_only_what_changed(s: Store) {
    let (_edge, mut rx) = s.listen().await;
    let quiet = |rx: &mut tokio::sync::mpsc::Receiver<Invalidation>| {
        assert!(rx.try_recv().is_err(), "unexpected invalidation");
    };
    // Long enough for a poll of the SQLite change log, and for a NOTIFY to arrive.
    let within = CHANGE_POLL_INTERVAL * 4;

    let borealis = record("Borealis", "B1", &["96385074"], "en-GB", "<p>b</p>", &["*"]);
    s.import(&[acme(), borealis.clone()]).await.unwrap();
    let inv = recv_within(&mut rx, within).await;
    assert_eq!(
        inv.surrogate_keys,
        vec![
            "brand:acme",
            "brand:borealis",
            "product:acme/x100b",
            "product:borealis/b1"
        ]
    );
    assert!(!inv.all);

    // Nothing changed, nothing said.
    s.import(&[acme(), borealis.clone()]).await.unwrap();
    tokio::time::sleep(within).await;
    quiet(&mut rx);

    // New copy for one product; an EAN moving reaches the product that lost it.
    let mut changed = acme();
    changed.html = "<p>new</p>".into();
    let thief = record(
        "Borealis",
        "B2",
        &["4006381333931"],
        "en-GB",
        "<p>b2</p>",
        &["*"],
    );
    let reassign = Options {
        reassign_gtins: true,
    };
    s.import_with(&[changed, thief, borealis], reassign)
        .await
        .unwrap();
    let inv = recv_within(&mut rx, within).await;
    assert_eq!(
        inv.surrogate_keys,
        vec!["product:acme/x100b", "product:borealis/b2"]
    );
    assert!(!inv.all);

    // A failed import says nothing: the change log and NOTIFY are transactional.
    s.refuse_french_content().await;
    let mut fresh = acme();
    fresh.html = "<p>newer</p>".into();
    let fr = record("Acme", "X-100/B", &[], "fr", "<p>fr</p>", &["shop-one"]);
    assert!(s.import(&[fresh, fr]).await.is_err());
    tokio::time::sleep(within).await;
    quiet(&mut rx);
}

/// A lookup during an import sees the catalog before it or after it, never a mix:
/// once the first product written shows its new copy, so does the last.
async fn an_import_is_seen_whole_or_not_at_all(s: Store) {
    const N: usize = 1_000;
    let catalog = |copy: &str| -> Vec<CatalogRecord> {
        (0..N)
            .map(|i| {
                // Long enough to be compressed, so the import takes a while.
                let html = format!("<p>{copy} {i}</p>").repeat(30);
                record("Bulk", &format!("M{i}"), &[], "en", &html, &["*"])
            })
            .collect()
    };
    s.import(&catalog("old")).await.unwrap();
    let copy = |l: &Lookup| -> &'static str {
        let html = std::str::from_utf8(&found(l).html).unwrap().to_owned();
        if html.starts_with("<p>old") {
            "old"
        } else {
            assert!(html.starts_with("<p>new"), "{html}");
            "new"
        }
    };
    let first = "retailer=r&locale=en&brand=Bulk&mpn=M0";
    let last = format!("retailer=r&locale=en&brand=Bulk&mpn=M{}", N - 1);
    let done = std::sync::atomic::AtomicBool::new(false);
    let new = catalog("new");
    let (imported, seen) = tokio::join!(
        async {
            let r = s.import(&new).await;
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            r
        },
        async {
            let mut seen = Vec::new();
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let a = copy(&s.get(first).await);
                let b = copy(&s.get(&last).await);
                seen.push((a, b));
            }
            seen
        }
    );
    imported.unwrap();
    assert!(
        !seen.contains(&("new", "old")),
        "a lookup saw half an import: {seen:?}"
    );
    assert!(
        seen.contains(&("old", "old")),
        "no lookup ran during the import"
    );
    assert_eq!(copy(&s.get(first).await), "new");
    assert_eq!(copy(&s.get(&last).await), "new");
}

async fn change_counter_counts_committed_imports(s: Store) {
    assert_eq!(s.change_counter().await, 0);
    s.import(&[acme()]).await.unwrap();
    assert_eq!(s.change_counter().await, 1);
    // Unchanged content is still a committed import.
    s.import(&[acme()]).await.unwrap();
    assert_eq!(s.change_counter().await, 2);
    s.sql(
        "CREATE TRIGGER no_more BEFORE INSERT ON products BEGIN SELECT RAISE(ABORT, 'closed'); END;",
        "CREATE FUNCTION no_more() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN RAISE EXCEPTION 'closed'; END $$; \
         CREATE TRIGGER no_more BEFORE INSERT ON products FOR EACH ROW EXECUTE FUNCTION no_more();",
    )
    .await;
    let new = record("Borealis", "B1", &["96385074"], "en-GB", "<p>b</p>", &["*"]);
    assert!(s.import(&[new]).await.is_err());
    assert_eq!(s.change_counter().await, 2);
}

fn rollup_key(day: &str, retailer: &str, kind: EventType) -> RollupKey {
    RollupKey {
        day: Day::parse(day).unwrap(),
        retailer: Retailer::parse(retailer).unwrap(),
        product: Product::Ean(Gtin14::parse("4006381333931").unwrap()),
        locale: Locale::parse("en-GB").unwrap(),
        kind,
    }
}

async fn event_rollups_add_up_and_filter(s: Store) {
    s.write_rollup(vec![
        (rollup_key("2025-01-01", "a", EventType::View), 2),
        (rollup_key("2025-01-02", "a", EventType::Click), 1),
        (rollup_key("2025-01-02", "b", EventType::View), 5),
        (rollup_key("2025-01-02", "b", EventType::NoMatch), 1),
    ])
    .await;
    // A second batch adds to the stored counts; equal keys within a batch add up too.
    s.write_rollup(vec![
        (rollup_key("2025-01-01", "a", EventType::View), 3),
        (rollup_key("2025-01-01", "a", EventType::View), 4),
    ])
    .await;
    s.write_rollup(vec![]).await;
    let all = s.stats(StatsFilter::default()).await;
    let brief: Vec<(&str, &str, &str, u64)> = all
        .iter()
        .map(|r| {
            (
                r.day.as_str(),
                r.retailer.as_str(),
                r.kind.as_str(),
                r.count,
            )
        })
        .collect();
    // Ordered by day, retailer, product, locale, type (byte order: "no_match" < "view").
    assert_eq!(
        brief,
        vec![
            ("2025-01-01", "a", "view", 9),
            ("2025-01-02", "a", "click", 1),
            ("2025-01-02", "b", "no_match", 1),
            ("2025-01-02", "b", "view", 5),
        ]
    );
    assert_eq!(
        all[0],
        StatsRow {
            day: "2025-01-01".into(),
            retailer: "a".into(),
            product: "ean:04006381333931".into(),
            locale: "en-gb".into(),
            kind: "view".into(),
            count: 9,
        }
    );
    let a_on_2nd = s
        .stats(StatsFilter {
            retailer: Some(Retailer::parse("a").unwrap()),
            from: Some(Day::parse("2025-01-02").unwrap()),
            to: Some(Day::parse("2025-01-02").unwrap()),
        })
        .await;
    assert_eq!(a_on_2nd.len(), 1);
    assert_eq!((a_on_2nd[0].kind.as_str(), a_on_2nd[0].count), ("click", 1));
    let from_2nd = s
        .stats(StatsFilter {
            from: Some(Day::parse("2025-01-02").unwrap()),
            ..StatsFilter::default()
        })
        .await;
    assert_eq!(from_2nd.len(), 3);
    let before = s
        .stats(StatsFilter {
            to: Some(Day::parse("2024-12-31").unwrap()),
            ..StatsFilter::default()
        })
        .await;
    assert!(before.is_empty());
}

/// The sort key of a stats row, as the stores order rows: byte order, field by field.
fn sort_key(r: &StatsRow) -> (String, String, String, String, String) {
    (
        r.day.clone(),
        r.retailer.clone(),
        r.product.clone(),
        r.locale.clone(),
        r.kind.clone(),
    )
}

/// Reads every page of `filter`, `limit` rows at a time, checking each page's size and
/// cursor; the rows in the order they came.
async fn walk(s: &Store, filter: &StatsFilter, limit: usize) -> Vec<StatsRow> {
    let limit = StatsLimit::new(limit).unwrap();
    let mut rows: Vec<StatsRow> = Vec::new();
    let mut after = None;
    loop {
        let page = s.stats_page(filter.clone(), after.take(), limit).await;
        assert!(page.rows.len() <= limit.get());
        rows.extend_from_slice(&page.rows);
        match page.next {
            Some(next) => {
                assert_eq!(page.rows.len(), limit.get(), "only the last page is short");
                assert_eq!(next, StatsCursor::after(page.rows.last().unwrap()));
                // Through the text clients see.
                after = Some(StatsCursor::decode(&next.encode()).unwrap());
            }
            None => return rows,
        }
    }
}

async fn event_rollups_page_in_key_order(s: Store) {
    // Keys whose byte order is not their alphabetical one (upper case first, accented
    // letters last, prefixes first), so both stores must order as the cursor compares.
    let days = ["2025-01-01", "2025-01-02", "2025-01-03"];
    let retailers = ["a", "a-b", "ab", "b"];
    let products = || {
        [
            Product::Ean(Gtin14::parse("4006381333931").unwrap()),
            Product::BrandMpn(BrandMpn::parse("acme", "x").unwrap()),
            Product::BrandMpn(BrandMpn::parse("acme", "x1").unwrap()),
        ]
        .into_iter()
        .chain(
            ["A", "a", "B", "Z9", "Ä", "é", "a b"]
                .into_iter()
                .map(|k| Product::Sku(Sku::parse(k).unwrap())),
        )
    };
    let kinds = [
        EventType::Impression,
        EventType::View,
        EventType::Click,
        EventType::NoMatch,
    ];
    let mut keys = Vec::new();
    for day in days {
        for retailer in retailers {
            for product in products() {
                for locale in ["de", "de-AT", "en-GB"] {
                    for kind in kinds {
                        keys.push(RollupKey {
                            day: Day::parse(day).unwrap(),
                            retailer: Retailer::parse(retailer).unwrap(),
                            product: product.clone(),
                            locale: Locale::parse(locale).unwrap(),
                            kind,
                        });
                    }
                }
            }
        }
        // And bulk, so pages of the largest size are full.
        for retailer in ["a", "b"] {
            for n in 0..2_000 {
                keys.push(RollupKey {
                    day: Day::parse(day).unwrap(),
                    retailer: Retailer::parse(retailer).unwrap(),
                    product: Product::Sku(Sku::parse(&format!("bulk-{n}")).unwrap()),
                    locale: Locale::parse("en").unwrap(),
                    kind: EventType::View,
                });
            }
        }
    }
    let rows: Vec<(RollupKey, u64)> = keys.into_iter().zip(1..).collect();
    let n = rows.len();
    assert!(n > 12_000);
    s.write_rollup(rows).await;

    let all = walk(&s, &StatsFilter::default(), 997).await;
    assert_eq!(all.len(), n, "every row exactly once");
    let mut expected = all.clone();
    expected.sort_by_key(sort_key);
    expected.dedup_by_key(|r| sort_key(r));
    assert_eq!(expected.len(), n, "no row twice");
    assert_eq!(all, expected, "in key order");
    assert_eq!(walk(&s, &StatsFilter::default(), 10_000).await, all);

    // Filters and pages together: exactly the matching rows, in the same order.
    let day = |d: &str| Some(Day::parse(d).unwrap());
    for filter in [
        StatsFilter {
            retailer: Some(Retailer::parse("a-b").unwrap()),
            from: day("2025-01-02"),
            to: day("2025-01-02"),
        },
        StatsFilter {
            retailer: Some(Retailer::parse("b").unwrap()),
            ..StatsFilter::default()
        },
        StatsFilter {
            from: day("2025-01-02"),
            ..StatsFilter::default()
        },
        StatsFilter {
            to: day("2025-01-01"),
            ..StatsFilter::default()
        },
    ] {
        let want: Vec<StatsRow> = all
            .iter()
            .filter(|r| {
                filter
                    .retailer
                    .as_ref()
                    .is_none_or(|x| x.as_str() == r.retailer)
                    && filter.from.is_none_or(|d| d.to_string() <= r.day)
                    && filter.to.is_none_or(|d| d.to_string() >= r.day)
            })
            .cloned()
            .collect();
        assert!(!want.is_empty());
        assert_eq!(walk(&s, &filter, 333).await, want, "{filter:?}");
    }
    let small = StatsFilter {
        retailer: Some(Retailer::parse("ab").unwrap()),
        from: day("2025-01-03"),
        to: day("2025-01-03"),
    };
    let few = walk(&s, &small, 1).await;
    assert_eq!(few.len(), products().count() * 3 * 4);

    // A page of exactly the rows left says there is no next one.
    let exact = s
        .stats_page(small.clone(), None, StatsLimit::new(few.len()).unwrap())
        .await;
    assert_eq!((exact.rows.len(), exact.next), (few.len(), None));
    let short = s
        .stats_page(small.clone(), None, StatsLimit::new(few.len() - 1).unwrap())
        .await;
    let rest = s
        .stats_page(small, short.next.clone(), StatsLimit::MAX)
        .await;
    assert_eq!(
        (rest.rows.as_slice(), rest.next),
        (&few[few.len() - 1..], None)
    );

    // A cursor from an earlier day with a later `from`: the page starts at `from`.
    let early = StatsCursor::after(&all[5]);
    let later = s
        .stats_page(
            StatsFilter {
                from: day("2025-01-03"),
                ..StatsFilter::default()
            },
            Some(early),
            StatsLimit::new(1).unwrap(),
        )
        .await;
    assert_eq!(
        later.rows,
        vec![all.iter().find(|r| r.day == "2025-01-03").unwrap().clone()]
    );
    // After the very last row: an empty last page.
    let end = StatsCursor::after(all.last().unwrap());
    assert_eq!(
        s.stats_page(StatsFilter::default(), Some(end), StatsLimit::MAX)
            .await,
        StatsPage::default()
    );
}

async fn concurrent_lookups_all_answer(s: Store) {
    s.import(&[acme()]).await.unwrap();
    let s = Arc::new(s);
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                let q = if i % 2 == 0 {
                    "retailer=shop-one&locale=en-GB&ean=4006381333931"
                } else {
                    "retailer=shop-one&locale=en-GB&sku=SKU-123"
                };
                s.get(q).await
            })
        })
        .collect();
    for t in tasks {
        assert!(matches!(t.await.unwrap(), Lookup::Found(_)));
    }
}

// ---------------------------------------------------------------------------------------
// PostgreSQL only.

/// Waits until `n` listener connections are LISTENing on `db`.
async fn wait_listening(db: &TestDb, n: i64) {
    let client = db.client().await;
    let started = Instant::now();
    loop {
        let count: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 \
                 AND application_name = $2 AND query LIKE 'LISTEN%'",
                &[&db.name, &LISTENER_NAME],
            )
            .await
            .unwrap()
            .get(0);
        if count == n {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{count} listeners, want {n}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn recv_within(
    rx: &mut tokio::sync::mpsc::Receiver<Invalidation>,
    limit: Duration,
) -> Invalidation {
    tokio::time::timeout(limit, rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no invalidation within {limit:?}"))
        .expect("the listener ended")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_migrations_are_idempotent_and_safe_when_run_at_once() {
    let Some(db) = TestDb::create("pg_migrations_are_idempotent_and_safe_when_run_at_once").await
    else {
        return;
    };
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move { PostgresOrigin::connect(&url, TIMEOUT).await })
        })
        .collect();
    let mut stores = Vec::new();
    for s in starts {
        stores.push(s.await.unwrap().unwrap());
    }
    // And once more, later: nothing to do.
    let again = PostgresOrigin::connect(&db.url, TIMEOUT).await.unwrap();
    assert!(again.is_empty().await.unwrap());
    let client = db.client().await;
    let row = client
        .query_one("SELECT count(*), max(version) FROM schema_version", &[])
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, i32>(1)),
        (1, SCHEMA_VERSION)
    );
    let meta: i64 = client
        .query_one("SELECT count(*) FROM catalog_meta", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(meta, 1);

    // A newer build's database is refused, by name, without the password.
    client
        .batch_execute("INSERT INTO schema_version (version) VALUES (99)")
        .await
        .unwrap();
    let e = PostgresOrigin::connect(&db.url, TIMEOUT).await.unwrap_err();
    assert!(
        format!("{e:#}").contains("schema version 99 is not supported"),
        "{e:#}"
    );
    assert!(format!("{e:#}").contains(&db.name), "{e:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_another_applications_database_is_refused() {
    let Some(db) = TestDb::create("pg_another_applications_database_is_refused").await else {
        return;
    };
    db.client()
        .await
        .batch_execute("CREATE TABLE products (sku text)")
        .await
        .unwrap();
    let e = PostgresOrigin::connect(&db.url, TIMEOUT).await.unwrap_err();
    assert!(
        format!("{e:#}").contains("another application's database"),
        "{e:#}"
    );
    // A lookup says so too, as an error rather than "no content".
    let store = PostgresOrigin::new(&db.url, TIMEOUT).unwrap();
    let req = FragmentRequest::from_query("retailer=a&locale=en&ean=96385074").unwrap();
    assert!(store.fetch(&req).await.is_err());
}

/// What a warm-up waits for: a store says it listens only once its invalidations are
/// asked for and LISTEN is done; a purge broadcast right then reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_listening_means_a_broadcast_from_then_on_is_heard() {
    let Some(db) = TestDb::create("pg_listening_means_a_broadcast_from_then_on_is_heard").await
    else {
        return;
    };
    let a = PostgresOrigin::connect(&db.url, TIMEOUT).await.unwrap();
    let b = PostgresOrigin::connect(&db.url, TIMEOUT).await.unwrap();
    let mut listening = b.listening().expect("postgres stores say when they listen");
    assert!(!*listening.borrow(), "listening before anyone asked to");
    let mut rx = b.invalidations().unwrap();
    tokio::time::timeout(Duration::from_secs(5), listening.wait_for(|&up| up))
        .await
        .expect("listening within 5 s")
        .unwrap();
    let inv = Invalidation {
        surrogate_keys: vec!["brand:acme".into()],
        ..Invalidation::default()
    };
    a.broadcast(&inv).await.unwrap();
    assert_eq!(recv_within(&mut rx, Duration::from_secs(1)).await, inv);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_broadcast_reaches_another_instance_within_a_second() {
    let Some(db) = TestDb::create("pg_broadcast_reaches_another_instance_within_a_second").await
    else {
        return;
    };
    // Two instances: two pools on the same database.
    let a = PostgresOrigin::connect(&db.url, TIMEOUT).await.unwrap();
    let b = PostgresOrigin::connect(&db.url, TIMEOUT).await.unwrap();
    let mut rx = b.invalidations().expect("postgres stores can listen");
    wait_listening(&db, 1).await;

    let inv = Invalidation {
        keys: vec!["shop-one|en-gb|ean:04006381333931".into()],
        surrogate_keys: vec!["brand:acme".into()],
        ..Invalidation::default()
    };
    let sent = Instant::now();
    assert!(
        a.broadcast(&inv).await.unwrap(),
        "a PostgreSQL store has a fleet to tell"
    );
    assert_eq!(recv_within(&mut rx, Duration::from_secs(1)).await, inv);
    eprintln!("broadcast → invalidation in {:?}", sent.elapsed());

    // Too long for one notification: split, and every key arrives.
    let big = Invalidation {
        keys: vec![],
        surrogate_keys: (0..2000)
            .map(|i| format!("product:brand{i}/mpn-{i:05}"))
            .collect(),
        ..Invalidation::default()
    };
    a.broadcast(&big).await.unwrap();
    let mut got = Vec::new();
    while got.len() < big.surrogate_keys.len() {
        let part = recv_within(&mut rx, Duration::from_secs(1)).await;
        assert!(!part.all);
        got.extend(part.surrogate_keys);
    }
    assert_eq!(got, big.surrogate_keys);

    a.broadcast(&Invalidation::all()).await.unwrap();
    assert_eq!(
        recv_within(&mut rx, Duration::from_secs(1)).await,
        Invalidation::all()
    );
    // Nothing to say, nothing sent.
    a.broadcast(&Invalidation::default()).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(200), rx.recv())
            .await
            .is_err()
    );

    // The listener ends, and its connection closes, once the receiver is dropped.
    drop(rx);
    wait_listening(&db, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_the_listener_reconnects_and_then_drops_everything() {
    let Some(db) = TestDb::create("pg_the_listener_reconnects_and_then_drops_everything").await
    else {
        return;
    };
    let a = PostgresOrigin::connect(&db.url, TIMEOUT).await.unwrap();
    let mut rx = a.invalidations().unwrap();
    wait_listening(&db, 1).await;
    let killed: i64 = db
        .client()
        .await
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = $1 AND query LIKE 'LISTEN%'",
            &[&db.name],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(killed, 1);
    // It cannot know what it missed meanwhile.
    assert_eq!(
        recv_within(&mut rx, Duration::from_secs(5)).await,
        Invalidation::all()
    );
    wait_listening(&db, 1).await;
    let inv = Invalidation {
        surrogate_keys: vec!["retailer:shop-one".into()],
        ..Invalidation::default()
    };
    a.broadcast(&inv).await.unwrap();
    assert_eq!(recv_within(&mut rx, Duration::from_secs(1)).await, inv);
}

/// What an import changed is also in `imports_tell_running_servers_only_what_changed`;
/// here, what does not fit one NOTIFY payload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_an_import_too_large_to_name_drops_everything() {
    let Some(db) = TestDb::create("pg_an_import_too_large_to_name_drops_everything").await else {
        return;
    };
    let importer = Arc::new(PostgresOrigin::connect(&db.url, TIMEOUT).await.unwrap());
    let edge = PostgresOrigin::connect(&db.url, TIMEOUT).await.unwrap();
    let mut rx = edge.invalidations().unwrap();
    wait_listening(&db, 1).await;
    // Many products at once: "everything".
    let many: Vec<CatalogRecord> = (0..600)
        .map(|i| {
            record(
                "Bulk",
                &format!("M{i}"),
                &[],
                "en",
                "<p>m</p>",
                &["shop-one"],
            )
        })
        .collect();
    import(importer.clone(), &many, Options::default())
        .await
        .unwrap();
    assert_eq!(
        recv_within(&mut rx, Duration::from_secs(1)).await,
        Invalidation::all()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_the_event_store_works_from_plain_threads_too() {
    let Some(db) = TestDb::create("pg_the_event_store_works_from_plain_threads_too").await else {
        return;
    };
    // Opened lazily: the first blocking call migrates.
    let store = Arc::new(PostgresOrigin::new(&db.url, TIMEOUT).unwrap());
    let s = Arc::clone(&store);
    std::thread::spawn(move || {
        s.write_rollup(&[(rollup_key("2025-03-01", "a", EventType::Impression), 7)])
            .unwrap();
        let page = s
            .stats(&StatsFilter::default(), None, StatsLimit::DEFAULT)
            .unwrap();
        assert_eq!((page.rows[0].count, page.next), (7, None));
    })
    .join()
    .unwrap();
}

/// Needs no server: the port is closed, or the "server" never answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_an_unreachable_server_fails_within_the_timeout() {
    let timeout = Duration::from_millis(400);
    let req =
        FragmentRequest::from_query("retailer=shop-one&locale=en-GB&ean=4006381333931").unwrap();

    // Nobody listening: refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("postgres://synedge:hunter2@{closed}/synedge");
    let store = PostgresOrigin::new(&url, timeout).unwrap();
    let started = Instant::now();
    let e = store.fetch(&req).await.unwrap_err();
    assert!(
        started.elapsed() < timeout + Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(e.is_transient(), "{e:?}");
    assert!(!e.to_string().contains("hunter2"), "{e}");
    let e = PostgresOrigin::connect(&url, timeout).await.unwrap_err();
    let text = format!("{e:#}");
    assert!(text.contains(&format!("synedge:***@{closed}")), "{text}");
    assert!(!text.contains("hunter2"), "{text}");

    // A server that accepts and never answers: a timeout, also transient.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            held.push(sock);
        }
    });
    let store =
        PostgresOrigin::new(&format!("postgres://synedge@{addr}/synedge"), timeout).unwrap();
    let started = Instant::now();
    let e = store.fetch(&req).await.unwrap_err();
    let took = started.elapsed();
    assert!(took < timeout + Duration::from_millis(500), "{took:?}");
    assert!(e.is_transient(), "{e:?}");
    let inv = Invalidation::all();
    assert!(store.broadcast(&inv).await.unwrap_err().is_transient());
    hold.abort();
}

/// Prints lookup latency against the test server (run with --nocapture to see it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_lookup_latency() {
    let Some(db) = TestDb::create("pg_lookup_latency").await else {
        return;
    };
    let store = Arc::new(PostgresOrigin::connect(&db.url, TIMEOUT).await.unwrap());
    let records: Vec<CatalogRecord> = (0..200)
        .map(|i| {
            with_skus(
                record(
                    "Bulk",
                    &format!("M{i}"),
                    &[],
                    "de",
                    &"<p>Produkt</p>".repeat(40),
                    &["*"],
                ),
                &[("shop-one", &format!("S{i}"))],
            )
        })
        .collect();
    import(store.clone(), &records, Options::default())
        .await
        .unwrap();
    let queries: Vec<FragmentRequest> = (0..200)
        .map(|i| {
            FragmentRequest::from_query(&format!("retailer=shop-one&locale=de-AT&sku=S{i}"))
                .unwrap()
        })
        .collect();
    for q in &queries {
        assert!(matches!(store.fetch(q).await.unwrap(), Lookup::Found(_)));
    }
    let mut took = Vec::new();
    for q in queries.iter().cycle().take(2000) {
        let t = Instant::now();
        store.fetch(q).await.unwrap();
        took.push(t.elapsed());
    }
    took.sort();
    let p = |q: f64| took[((took.len() as f64 * q) as usize).min(took.len() - 1)];
    eprintln!(
        "postgres lookup latency (sku, locale fallback, 2000 sequential): p50 {:?} p99 {:?} max {:?}",
        p(0.5),
        p(0.99),
        took[took.len() - 1]
    );
    assert!(p(0.5) < Duration::from_millis(50));
}

// ---------------------------------------------------------------------------------------
// A running server.

/// With 10,000 fragments warm, an import that changes one product (run as `synedge
/// import` does, beside the server) leaves every other key a hit; re-importing the same
/// file drops nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_server_drops_only_what_an_import_changed() {
    use futures_util::StreamExt as _;
    const N: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, changed: Option<usize>| {
        let mut out = String::new();
        for i in 0..N {
            let copy = if Some(i) == changed { "new" } else { "old" };
            let line = serde_json::json!({
                "brand": "Bulk", "mpn": format!("M{i}"), "locale": "en",
                "html": format!("<p>{copy} {i}</p>"), "retailers": ["*"],
            });
            out.push_str(&line.to_string());
            out.push('\n');
        }
        let path = dir.path().join(name);
        std::fs::write(&path, out).unwrap();
        path
    };
    let (first, second) = (write("first.ndjson", None), write("second.ndjson", Some(0)));
    let server = common::TestServer::start_over(
        |db| common::import_fixture(db, first.to_str().unwrap()),
        |_| {},
    )
    .await;
    let path = |i: usize| format!("/v1/fragment?retailer=shop-one&locale=en&brand=Bulk&mpn=M{i}");
    let hits = || {
        futures_util::stream::iter(0..N)
            .map(|i| {
                let p = path(i);
                let server = &server;
                async move {
                    let a = server.get(&p).await;
                    assert_eq!(a.status, 200, "{p}: {}", a.text());
                    a.header("x-cache") == "HIT"
                }
            })
            .buffer_unordered(16)
            .filter(|hit| std::future::ready(*hit))
            .count()
    };
    assert_eq!(hits().await, 0, "a fresh server has nothing cached");
    assert_eq!(hits().await, N, "every fragment is cached after one pass");

    let url = format!("sqlite://{}", server.db.display());
    let import = |file: PathBuf| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            synedge::catalog::import::run_import(&url, &file, TIMEOUT, Options::default())
        })
    };
    import(second.clone()).await.unwrap().unwrap();
    // The server's poller applies the change log within a few polls.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.get(&path(0)).await.text().contains("new 0") {
        assert!(
            Instant::now() < deadline,
            "the changed product was not refetched"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let warm = hits().await;
    assert!(
        warm >= N - N / 1000,
        "only {warm} of {N} keys still hit after an import that changed one product"
    );

    import(second).await.unwrap().unwrap();
    tokio::time::sleep(CHANGE_POLL_INTERVAL * 4).await;
    assert_eq!(
        hits().await,
        N,
        "re-importing unchanged content dropped fragments"
    );
    server.stop().await;
}
