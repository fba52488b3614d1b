//! Catalog imports into the PostgreSQL store: the narrow write interface of
//! [`crate::origin::import`], with the SQLite store's semantics.
//!
//! One import is one transaction on one pooled connection, owned by a task on the
//! store's runtime; the blocking [`CatalogWrite`] side sends it batches over a channel
//! and waits for each answer. Within a batch, statements are pipelined (all sent before
//! any answer is awaited): round trips, not the server, bound an import's speed. The
//! commit NOTIFYs the import's invalidation in the same transaction, so listening
//! instances hear of it when, and only if, it commits.

use std::collections::HashSet;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::anyhow;
use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::ToSql;

use super::notify::{self, CHANNEL};
use super::{ARRAY_CHUNK, MAX_NOTIFIED_KEYS, PostgresOrigin, describe, pooled};
use crate::compress::compress;
use crate::domain::Gtin14;
use crate::origin::Invalidation;
use crate::origin::import::{CatalogStore, CatalogWrite, ContentKey, Owner, Prepared, Written};

/// The stored version of each wanted (brand, mpn, locale), by its position (1-based).
const SQL_STORED_VERSIONS: &str = "
SELECT want.i, c.version::text
  FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS want(brand_norm, mpn_norm, locale, i)
  JOIN products p ON p.brand_norm = want.brand_norm AND p.mpn_norm = want.mpn_norm
  JOIN content c ON c.product_id = p.id AND c.locale = want.locale";

/// Upserts a product; a row (`inserted`) when it was inserted or renamed.
const SQL_UPSERT_PRODUCT: &str = "
INSERT INTO products (brand, brand_norm, mpn, mpn_norm) VALUES ($1, $2, $3, $4)
ON CONFLICT (brand_norm, mpn_norm) DO UPDATE SET brand = excluded.brand, mpn = excluded.mpn
 WHERE (products.brand, products.mpn) IS DISTINCT FROM (excluded.brand, excluded.mpn)
RETURNING (xmax = 0) AS inserted";

/// Claims an EAN for a product. No row: it was this product's already. One row: claimed,
/// with the product it was taken from (all NULL when the EAN is new).
const SQL_CLAIM_EAN: &str = "
WITH before AS (
    SELECT p.brand::text AS brand, p.brand_norm::text AS brand_norm, p.mpn_norm::text AS mpn_norm
      FROM product_eans e JOIN products p ON p.id = e.product_id
     WHERE e.gtin14 = $1::text
), claimed AS (
    INSERT INTO product_eans (gtin14, product_id)
    SELECT $1::text, id FROM products WHERE brand_norm = $2::text AND mpn_norm = $3::text
    ON CONFLICT (gtin14) DO UPDATE SET product_id = excluded.product_id
     WHERE product_eans.product_id <> excluded.product_id
    RETURNING 1
)
SELECT b.brand, b.brand_norm, b.mpn_norm FROM claimed LEFT JOIN before b ON true";

/// Maps a retailer's SKU to a product; rows as for [`SQL_CLAIM_EAN`].
const SQL_CLAIM_SKU: &str = "
WITH before AS (
    SELECT p.brand_norm::text AS brand_norm, p.mpn_norm::text AS mpn_norm
      FROM retailer_skus s JOIN products p ON p.id = s.product_id
     WHERE s.retailer = $1::text AND s.sku = $2::text
), claimed AS (
    INSERT INTO retailer_skus (retailer, sku, product_id)
    SELECT $1::text, $2::text, id FROM products WHERE brand_norm = $3::text AND mpn_norm = $4::text
    ON CONFLICT (retailer, sku) DO UPDATE SET product_id = excluded.product_id
     WHERE retailer_skus.product_id <> excluded.product_id
    RETURNING 1
)
SELECT b.brand_norm, b.mpn_norm FROM claimed LEFT JOIN before b ON true";

/// Writes content unless the stored version is the same; 1 row affected = changed.
const SQL_UPSERT_CONTENT: &str = "
INSERT INTO content (product_id, locale, html, gzip, br, version, updated_at)
SELECT id, $3::text, $4::bytea, $5::bytea, $6::bytea, $7::text, $8::bigint
  FROM products WHERE brand_norm = $1::text AND mpn_norm = $2::text
ON CONFLICT (product_id, locale) DO UPDATE SET html = excluded.html, gzip = excluded.gzip,
       br = excluded.br, version = excluded.version, updated_at = excluded.updated_at
 WHERE content.version <> excluded.version";

/// Adds the variants of content written without them (it changed after the import read
/// the stored versions, so nothing was compressed for it).
const SQL_FIX_VARIANTS: &str = "
UPDATE content SET gzip = $4::bytea, br = $5::bytea
 WHERE product_id = (SELECT id FROM products WHERE brand_norm = $1::text AND mpn_norm = $2::text)
   AND locale = $3::text AND version = $6::text";

const SQL_GRANT: &str =
    "INSERT INTO grants (brand_norm, retailer) VALUES ($1, $2) ON CONFLICT DO NOTHING";

pub(super) const SQL_NOTIFY: &str = "SELECT pg_notify($1::text, p) FROM unnest($2::text[]) AS p";

impl CatalogStore for PostgresOrigin {
    fn stored_versions(&self, keys: &[ContentKey<'_>]) -> anyhow::Result<Vec<Option<String>>> {
        let columns: [Vec<String>; 3] = [
            keys.iter().map(|k| k.brand.to_owned()).collect(),
            keys.iter().map(|k| k.mpn.to_owned()).collect(),
            keys.iter().map(|k| k.locale.to_owned()).collect(),
        ];
        let n = keys.len();
        let (pool, shown) = (self.pool.clone(), self.target.shown.clone());
        self.block_on_ready()?;
        self.block_on(async move {
            let client = pooled(&pool, &shown).await?;
            let read = async {
                let stmt = client.prepare_cached(SQL_STORED_VERSIONS).await?;
                let mut out = vec![None; n];
                let mut start = 0;
                while start < n {
                    let end = (start + ARRAY_CHUNK).min(n);
                    let c = |k: usize| &columns[k][start..end];
                    for row in client.query(&stmt, &[&c(0), &c(1), &c(2)]).await? {
                        let i: i64 = row.try_get(0)?;
                        if let Some(slot) = usize::try_from(i - 1)
                            .ok()
                            .and_then(|i| out.get_mut(start + i))
                        {
                            *slot = Some(row.try_get::<_, String>(1)?);
                        }
                    }
                    start = end;
                }
                Ok::<_, tokio_postgres::Error>(out)
            };
            read.await
                .map_err(|e| anyhow!("reading the stored catalog of {shown}: {}", describe(&e)))
        })
    }

    fn begin(&self) -> anyhow::Result<Box<dyn CatalogWrite + '_>> {
        self.block_on_ready()?;
        let handle = self.handle()?;
        let (cmds, rx) = mpsc::channel(1);
        let (began_tx, began) = oneshot::channel();
        handle.spawn(run(
            self.pool.clone(),
            self.target.shown.clone(),
            rx,
            began_tx,
        ));
        began
            .blocking_recv()
            .map_err(|_| anyhow!("the import task of {} stopped", self.target.shown))??;
        Ok(Box::new(PgWrite {
            cmds,
            shown: self.target.shown.clone(),
        }))
    }

    fn is_empty(&self) -> anyhow::Result<bool> {
        let any: bool = self.read_one("SELECT EXISTS (SELECT 1 FROM content)")?;
        Ok(!any)
    }

    fn change_counter(&self) -> anyhow::Result<i64> {
        self.read_one("SELECT change_counter FROM catalog_meta WHERE id = 1")
    }
}

impl PostgresOrigin {
    /// The one value `sql` selects, from blocking code.
    fn read_one<T>(&self, sql: &'static str) -> anyhow::Result<T>
    where
        T: for<'a> tokio_postgres::types::FromSql<'a> + Send + 'static,
    {
        let (pool, shown) = (self.pool.clone(), self.target.shown.clone());
        self.block_on_ready()?;
        self.block_on(async move {
            let client = pooled(&pool, &shown).await?;
            let row = client
                .query_one(sql, &[])
                .await
                .map_err(|e| anyhow!("reading {shown}: {}", describe(&e)))?;
            row.try_get(0)
                .map_err(|e| anyhow!("reading {shown}: {}", describe(&e)))
        })
    }
}

/// What the blocking side asks of the import task.
enum Cmd {
    Write(Vec<Prepared>, oneshot::Sender<anyhow::Result<Vec<Written>>>),
    Commit(Invalidation, oneshot::Sender<anyhow::Result<()>>),
}

/// The blocking side of an open import transaction.
struct PgWrite {
    cmds: mpsc::Sender<Cmd>,
    shown: String,
}

impl PgWrite {
    fn ask<T>(&self, cmd: Cmd, reply: oneshot::Receiver<anyhow::Result<T>>) -> anyhow::Result<T> {
        let gone = || anyhow!("the import task of {} stopped", self.shown);
        self.cmds.blocking_send(cmd).map_err(|_| gone())?;
        reply.blocking_recv().map_err(|_| gone())?
    }
}

impl CatalogWrite for PgWrite {
    fn write(&mut self, batch: Vec<Prepared>) -> anyhow::Result<Vec<Written>> {
        let (tx, rx) = oneshot::channel();
        self.ask(Cmd::Write(batch, tx), rx)
    }

    fn commit(self: Box<Self>, inv: &Invalidation) -> anyhow::Result<()> {
        let (tx, rx) = oneshot::channel();
        self.ask(Cmd::Commit(inv.clone(), tx), rx)
    }
}

/// The import task: opens the transaction, writes batches as they come, commits when
/// asked; when the blocking side goes away (or a write fails), the transaction is
/// dropped, which rolls it back.
async fn run(
    pool: Pool,
    shown: String,
    mut cmds: mpsc::Receiver<Cmd>,
    began: oneshot::Sender<anyhow::Result<()>>,
) {
    let mut client = match pooled(&pool, &shown).await {
        Ok(c) => c,
        Err(e) => {
            let _ = began.send(Err(e));
            return;
        }
    };
    let fail = |what: &str, e: &tokio_postgres::Error| {
        anyhow!("{what} {shown}: {}; nothing was written", describe(e))
    };
    let tx = match client.transaction().await {
        Ok(tx) => tx,
        Err(e) => {
            let _ = began.send(Err(fail("starting the import transaction on", &e)));
            return;
        }
    };
    let statements = async {
        // An import may take minutes; the lookup timeout is for lookups.
        tx.batch_execute("SET LOCAL statement_timeout = 0").await?;
        Ok::<_, tokio_postgres::Error>(Statements {
            product: tx.prepare_cached(SQL_UPSERT_PRODUCT).await?,
            ean: tx.prepare_cached(SQL_CLAIM_EAN).await?,
            sku: tx.prepare_cached(SQL_CLAIM_SKU).await?,
            content: tx.prepare_cached(SQL_UPSERT_CONTENT).await?,
            grant: tx.prepare_cached(SQL_GRANT).await?,
            fix: tx.prepare_cached(SQL_FIX_VARIANTS).await?,
        })
    };
    let st = match statements.await {
        Ok(st) => st,
        Err(e) => {
            let _ = began.send(Err(fail("preparing the import on", &e)));
            return;
        }
    };
    if began.send(Ok(())).is_err() {
        return;
    }
    let mut granted: HashSet<(String, String)> = HashSet::new();
    let now = unix_now();
    while let Some(cmd) = cmds.recv().await {
        match cmd {
            Cmd::Write(batch, reply) => {
                let result = write_batch(&tx, &st, &mut granted, now, &batch)
                    .await
                    .map_err(|e| fail("importing into", &e));
                let failed = result.is_err();
                let _ = reply.send(result);
                if failed {
                    return;
                }
            }
            Cmd::Commit(inv, reply) => {
                let commit = async {
                    tx.execute(
                        "UPDATE catalog_meta SET change_counter = change_counter + 1 WHERE id = 1",
                        &[],
                    )
                    .await?;
                    let inv = if inv.surrogate_keys.len() + inv.keys.len() > MAX_NOTIFIED_KEYS {
                        Invalidation::all()
                    } else {
                        inv
                    };
                    let payloads = notify::payloads(&inv);
                    if !payloads.is_empty() {
                        tx.execute(SQL_NOTIFY, &[&CHANNEL, &payloads]).await?;
                    }
                    tx.commit().await
                };
                let _ = reply.send(
                    commit
                        .await
                        .map_err(|e| fail("committing the import to", &e)),
                );
                return;
            }
        }
    }
}

/// Prepared statements of one import transaction.
struct Statements {
    product: tokio_postgres::Statement,
    ean: tokio_postgres::Statement,
    sku: tokio_postgres::Statement,
    content: tokio_postgres::Statement,
    grant: tokio_postgres::Statement,
    fix: tokio_postgres::Statement,
}

/// What a pipelined step's outcome means, for the record at `index` of the batch.
enum Meaning {
    Product { index: usize },
    Ean { index: usize, ean: Gtin14 },
    Sku { index: usize },
    Content { index: usize },
    Grant { index: usize },
}

enum Outcome {
    Count(u64),
    Rows(Vec<tokio_postgres::Row>),
}

/// Writes one batch, pipelined, and reads back what each record changed.
async fn write_batch(
    tx: &tokio_postgres::Transaction<'_>,
    st: &Statements,
    granted: &mut HashSet<(String, String)>,
    now: i64,
    batch: &[Prepared],
) -> Result<Vec<Written>, tokio_postgres::Error> {
    let mut steps: Vec<Step<'_>> = Vec::new();
    let mut meaning = Vec::new();
    for (index, p) in batch.iter().enumerate() {
        let (brand, mpn) = (p.id.brand.as_str(), p.id.mpn.as_str());
        let (shown_brand, shown_mpn) = (p.brand.as_str(), p.mpn.as_str());
        steps.push(Box::pin(async move {
            let params: [Param<'_>; 4] = [&shown_brand, &brand, &shown_mpn, &mpn];
            tx.query(&st.product, &params).await.map(Outcome::Rows)
        }));
        meaning.push(Meaning::Product { index });
        for ean in &p.eans {
            let code = ean.as_str();
            steps.push(Box::pin(async move {
                let params: [Param<'_>; 3] = [&code, &brand, &mpn];
                tx.query(&st.ean, &params).await.map(Outcome::Rows)
            }));
            meaning.push(Meaning::Ean { index, ean: *ean });
        }
        for (retailer, sku) in &p.skus {
            let (retailer, sku) = (retailer.as_str(), sku.as_str());
            steps.push(Box::pin(async move {
                let params: [Param<'_>; 4] = [&retailer, &sku, &brand, &mpn];
                tx.query(&st.sku, &params).await.map(Outcome::Rows)
            }));
            meaning.push(Meaning::Sku { index });
        }
        let (gzip, br) = p.variants.clone().unwrap_or((None, None));
        let (locale, html, version) = (p.locale.as_str(), &p.html[..], p.version.as_str());
        steps.push(Box::pin(async move {
            let (gzip, br) = (gzip.as_deref(), br.as_deref());
            let params: [Param<'_>; 8] = [&brand, &mpn, &locale, &html, &gzip, &br, &version, &now];
            tx.execute(&st.content, &params).await.map(Outcome::Count)
        }));
        meaning.push(Meaning::Content { index });
        for retailer in &p.retailers {
            if granted.insert((brand.to_owned(), retailer.clone())) {
                let retailer = retailer.as_str();
                steps.push(Box::pin(async move {
                    let params: [Param<'_>; 2] = [&brand, &retailer];
                    tx.execute(&st.grant, &params).await.map(Outcome::Count)
                }));
                meaning.push(Meaning::Grant { index });
            }
        }
    }
    let outcomes = pipeline(steps).await?;
    let mut written = vec![Written::default(); batch.len()];
    let mut uncompressed = Vec::new();
    for (outcome, meaning) in outcomes.into_iter().zip(meaning) {
        match (meaning, outcome) {
            (Meaning::Product { index }, Outcome::Rows(rows)) => {
                if let Some(row) = rows.first() {
                    written[index].new_identity |= row.try_get::<_, bool>(0)?;
                }
            }
            (Meaning::Ean { index, ean }, Outcome::Rows(rows)) => {
                let Some(row) = rows.first() else { continue };
                let brand: Option<String> = row.try_get(0)?;
                let brand_norm: Option<String> = row.try_get(1)?;
                let mpn_norm: Option<String> = row.try_get(2)?;
                match (brand, brand_norm, mpn_norm) {
                    (Some(brand), Some(brand_norm), Some(mpn_norm)) => {
                        written[index].moved_eans.push((
                            ean,
                            Owner {
                                brand,
                                product_id: format!("{brand_norm}/{mpn_norm}"),
                                brand_norm,
                            },
                        ));
                    }
                    _ => written[index].new_identity = true,
                }
            }
            (Meaning::Sku { index }, Outcome::Rows(rows)) => {
                let Some(row) = rows.first() else { continue };
                let brand_norm: Option<String> = row.try_get(0)?;
                let mpn_norm: Option<String> = row.try_get(1)?;
                match (brand_norm, mpn_norm) {
                    (Some(b), Some(m)) => written[index].moved_skus_from.push(format!("{b}/{m}")),
                    _ => written[index].new_identity = true,
                }
            }
            (Meaning::Content { index }, Outcome::Count(n)) if n > 0 => {
                written[index].changed = true;
                if batch[index].variants.is_none() {
                    uncompressed.push(index);
                }
            }
            (Meaning::Grant { index }, Outcome::Count(n)) => written[index].new_grant |= n > 0,
            _ => {}
        }
    }
    // Content that changed after the import read the stored versions (another import
    // committed in between) was written without variants; add them now.
    for index in uncompressed {
        let p = &batch[index];
        let (gzip, br) = compress(&p.html);
        tx.execute(
            &st.fix,
            &[
                &p.id.brand,
                &p.id.mpn,
                &p.locale.as_str(),
                &gzip.as_deref(),
                &br.as_deref(),
                &p.version,
            ],
        )
        .await?;
    }
    Ok(written)
}

type Step<'a> = Pin<Box<dyn Future<Output = Result<Outcome, tokio_postgres::Error>> + Send + 'a>>;

type Param<'a> = &'a (dyn ToSql + Sync);

/// Runs `steps` pipelined: every request is sent, in order, before any answer is awaited;
/// the server runs them in that order. The outcomes come back in order; the first error
/// (the statement that failed, not the ones refused after it) is returned.
async fn pipeline(mut steps: Vec<Step<'_>>) -> Result<Vec<Outcome>, tokio_postgres::Error> {
    let mut outcomes: Vec<Option<Result<Outcome, tokio_postgres::Error>>> =
        steps.iter().map(|_| None).collect();
    let mut sent = false;
    let mut next = 0;
    poll_fn(|cx| {
        if !sent {
            // First poll of each step sends its request; keep whatever is already done.
            for (step, out) in steps.iter_mut().zip(outcomes.iter_mut()) {
                if let Poll::Ready(r) = step.as_mut().poll(cx) {
                    *out = Some(r);
                }
            }
            sent = true;
        }
        // Answers arrive in order: wait on the first step still open.
        while next < steps.len() {
            if outcomes[next].is_none() {
                match steps[next].as_mut().poll(cx) {
                    Poll::Ready(r) => outcomes[next] = Some(r),
                    Poll::Pending => return Poll::Pending,
                }
            }
            next += 1;
        }
        Poll::Ready(())
    })
    .await;
    outcomes
        .into_iter()
        .map(|o| o.expect("invariant: every step completed"))
        .collect()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
