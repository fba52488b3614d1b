//! Writing a validated catalog into a store, streaming, in bounded memory: the one
//! import algorithm every store shares (stores implement only
//! [`crate::origin::import::CatalogStore`]).
//!
//! Three stages run at once, joined by bounded channels, so memory holds a window of
//! batches whatever the catalog's size:
//! 1. a reader hands out batches of lines (or of generated records);
//! 2. one worker per core parses each line, computes its content version, asks the store
//!    which versions it holds, and compresses only the content that changed;
//! 3. this thread writes the prepared batches, in whatever order they come (a checked
//!    catalog's result does not depend on line order), into the store's one
//!    transaction, judges what each record changed, and commits with the invalidation
//!    running servers must apply.
//!
//! Rules applied here, once for every store:
//! - An EAN that another brand's product holds is refused, with both brands named,
//!   unless [`Options::reassign_gtins`]; an EAN moving between two products of one brand
//!   is counted in the summary.
//! - Servers drop exactly what changed: the products whose content changed or that lost
//!   an EAN or SKU, the brands that gained a grant, and the "no such product" answers
//!   when a product, EAN or SKU is new. Past [`MAX_INVALIDATION_KEYS`] keys, everything.
//!
//! Any failure drops the transaction: nothing is written.

use std::collections::HashSet;
use std::fmt;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

use super::{CatalogRecord, LineError, MAX_LINE_ERRORS, parse_bytes};
use crate::compress::compress;
use crate::origin::import::{CatalogStore, Prepared};
use crate::origin::{Invalidation, content_version};

/// Records per batch: enough to amortize a store round trip, few enough that the window
/// of batches in flight stays a few megabytes.
pub const BATCH_RECORDS: usize = 128;
/// Distinct keys an import names to running servers before it says "everything" instead.
pub const MAX_INVALIDATION_KEYS: usize = 10_000;

/// How to import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Let an EAN move to another brand's product (`--reassign-gtins`).
    pub reassign_gtins: bool,
}

/// One unit of input: a catalog line to parse, or a record made in memory (the demo).
#[derive(Debug)]
pub enum Input {
    Line(usize, Vec<u8>),
    Record(usize, CatalogRecord),
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportSummary {
    /// Records (product-locale fragments) in the import.
    pub records: usize,
    /// Distinct products among them.
    pub products: usize,
    /// Content rows inserted or whose HTML changed.
    pub changed: usize,
    /// Content rows whose HTML was already stored as is (kept, with their `updated_at`).
    pub unchanged: usize,
    /// EANs that moved between two products of one brand.
    pub moved_eans: usize,
    /// EANs that moved from another brand's product (only with `--reassign-gtins`).
    pub reassigned_eans: usize,
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        write!(
            f,
            "imported {} fragment{} for {} product{} ({} new or changed, {} unchanged)",
            self.records,
            plural(self.records),
            self.products,
            plural(self.products),
            self.changed,
            self.unchanged
        )?;
        if self.moved_eans > 0 {
            write!(
                f,
                "; {} EAN{} moved between products of one brand",
                self.moved_eans,
                plural(self.moved_eans)
            )?;
        }
        if self.reassigned_eans > 0 {
            write!(
                f,
                "; {} EAN{} reassigned from another brand",
                self.reassigned_eans,
                plural(self.reassigned_eans)
            )?;
        }
        Ok(())
    }
}

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Lines the import refuses (EANs of another brand, or a file that changed since it
    /// was checked), up to [`MAX_LINE_ERRORS`].
    #[error("{} problem{} found; nothing was written", .0.len(), if .0.len() == 1 { "" } else { "s" })]
    Refused(Vec<LineError>),
    /// The store failed; nothing was written.
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// Writes `input` into `store` in one transaction; `progress` gets the number of records
/// written so far. Blocks (it runs threads of its own); call it from a blocking context.
///
/// # Errors
/// See [`WriteError`]; in every case nothing was written.
pub fn write_catalog(
    store: &dyn CatalogStore,
    input: impl Iterator<Item = std::io::Result<Input>> + Send,
    options: Options,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<ImportSummary, WriteError> {
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    std::thread::scope(|s| {
        let (jobs_tx, jobs_rx) = sync_channel::<Vec<Input>>(workers);
        let (done_tx, done_rx) = sync_channel::<Result<Vec<Prepared>, WriteError>>(workers);
        let feeder_done = done_tx.clone();
        s.spawn(move || feed(input, &jobs_tx, &feeder_done));
        let jobs = Arc::new(Mutex::new(jobs_rx));
        for _ in 0..workers {
            let (jobs, done) = (Arc::clone(&jobs), done_tx.clone());
            s.spawn(move || prepare_all(store, &jobs, &done));
        }
        drop(done_tx);
        // Returning drops `done_rx`, which stops the workers and then the feeder.
        write_all(store, done_rx, options, progress)
    })
}

/// Stage 1: batches of input.
fn feed(
    input: impl Iterator<Item = std::io::Result<Input>>,
    jobs: &SyncSender<Vec<Input>>,
    done: &SyncSender<Result<Vec<Prepared>, WriteError>>,
) {
    let mut batch = Vec::with_capacity(BATCH_RECORDS);
    for item in input {
        match item {
            Ok(i) => batch.push(i),
            Err(e) => {
                let e = anyhow::anyhow!("reading the catalog again failed: {e}");
                let _ = done.send(Err(WriteError::Store(e)));
                return;
            }
        }
        if batch.len() == BATCH_RECORDS
            && jobs
                .send(std::mem::replace(
                    &mut batch,
                    Vec::with_capacity(BATCH_RECORDS),
                ))
                .is_err()
        {
            return;
        }
    }
    if !batch.is_empty() {
        let _ = jobs.send(batch);
    }
}

/// Stage 2, on every core: parse, diff against the store, compress what changed.
fn prepare_all(
    store: &dyn CatalogStore,
    jobs: &Mutex<Receiver<Vec<Input>>>,
    done: &SyncSender<Result<Vec<Prepared>, WriteError>>,
) {
    loop {
        // Held only to take the next batch.
        let next = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(batch) = next else { return };
        if done.send(prepare(store, batch)).is_err() {
            return;
        }
    }
}

fn prepare(store: &dyn CatalogStore, batch: Vec<Input>) -> Result<Vec<Prepared>, WriteError> {
    let mut changed_lines = Vec::new();
    let mut out: Vec<Prepared> = Vec::with_capacity(batch.len());
    for input in batch {
        let (line, record) = match input {
            Input::Record(line, r) => (line, r),
            Input::Line(line, bytes) => match parse_bytes(&bytes) {
                Ok(r) => (line, r),
                Err(message) => {
                    changed_lines.push(LineError {
                        line,
                        message: format!(
                            "{message} (the file changed while it was imported; run the import again)"
                        ),
                    });
                    continue;
                }
            },
        };
        let html = Bytes::from(record.html.into_bytes());
        out.push(Prepared {
            line,
            version: content_version(&html),
            brand: record.brand,
            mpn: record.mpn,
            id: record.brand_mpn,
            eans: record.eans,
            skus: record.skus,
            locale: record.locale,
            retailers: record.retailers,
            html,
            variants: None,
        });
    }
    if !changed_lines.is_empty() {
        return Err(WriteError::Refused(changed_lines));
    }
    let keys: Vec<_> = out.iter().map(Prepared::key).collect();
    let stored = store.stored_versions(&keys)?;
    for (p, stored) in out.iter_mut().zip(stored) {
        if stored.as_deref() != Some(p.version.as_str()) {
            p.variants = Some(compress(&p.html));
        }
    }
    Ok(out)
}

/// Stage 3, on this thread: the transaction.
fn write_all(
    store: &dyn CatalogStore,
    done: Receiver<Result<Vec<Prepared>, WriteError>>,
    options: Options,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<ImportSummary, WriteError> {
    let mut tx = store.begin()?;
    let mut summary = ImportSummary::default();
    let mut products: HashSet<u64> = HashSet::new();
    let mut touched = Touched::default();
    let mut written_so_far = 0;
    for batch in done {
        let batch = batch?;
        let facts: Vec<Facts> = batch.iter().map(Facts::of).collect();
        let written = tx.write(batch)?;
        let mut refused = Vec::new();
        for (f, w) in facts.iter().zip(&written) {
            summary.records += 1;
            products.insert(xxhash_rust::xxh3::xxh3_64(f.product_id.as_bytes()));
            if w.changed {
                summary.changed += 1;
                touched.add(format!("product:{}", f.product_id));
            } else {
                summary.unchanged += 1;
            }
            touched.unidentified |= w.new_identity;
            if w.new_grant {
                touched.add(format!("brand:{}", f.brand_norm));
            }
            for from in &w.moved_skus_from {
                touched.add(format!("product:{from}"));
            }
            for (ean, owner) in &w.moved_eans {
                touched.add(format!("product:{}", owner.product_id));
                if owner.brand_norm == f.brand_norm {
                    summary.moved_eans += 1;
                } else if options.reassign_gtins {
                    summary.reassigned_eans += 1;
                } else if refused.len() < MAX_LINE_ERRORS {
                    refused.push(LineError {
                        line: f.line,
                        message: format!(
                            "ean {ean} belongs to {}'s product {}; this line gives it to {}'s product {} \
                             (pass --reassign-gtins to move it to the other brand)",
                            owner.brand, owner.product_id, f.brand, f.product_id
                        ),
                    });
                }
            }
        }
        if !refused.is_empty() {
            // Dropping the transaction rolls back what was written.
            refused.sort_by_key(|e| e.line);
            return Err(WriteError::Refused(refused));
        }
        written_so_far += written.len();
        progress(written_so_far);
    }
    summary.products = products.len();
    tx.commit(&touched.invalidation())?;
    Ok(summary)
}

/// What the writer needs of a record once the store has taken it.
struct Facts {
    line: usize,
    brand: String,
    brand_norm: String,
    product_id: String,
}

impl Facts {
    fn of(p: &Prepared) -> Self {
        Self {
            line: p.line,
            brand: p.brand.clone(),
            brand_norm: p.id.brand.clone(),
            product_id: p.id.product_id(),
        }
    }
}

/// What running servers must drop, gathered as the import goes.
#[derive(Default)]
struct Touched {
    keys: HashSet<String>,
    /// Past [`MAX_INVALIDATION_KEYS`]: everything, and `keys` is no longer kept.
    all: bool,
    unidentified: bool,
}

impl Touched {
    fn add(&mut self, key: String) {
        if self.all {
            return;
        }
        self.keys.insert(key);
        if self.keys.len() > MAX_INVALIDATION_KEYS {
            self.all = true;
            self.keys = HashSet::new();
        }
    }

    fn invalidation(self) -> Invalidation {
        if self.all {
            return Invalidation::all();
        }
        let mut surrogate_keys: Vec<String> = self.keys.into_iter().collect();
        surrogate_keys.sort();
        Invalidation {
            surrogate_keys,
            unidentified: self.unidentified,
            ..Invalidation::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_counts_in_words_that_agree() {
        let one = ImportSummary {
            records: 1,
            products: 1,
            changed: 1,
            ..ImportSummary::default()
        };
        assert_eq!(
            one.to_string(),
            "imported 1 fragment for 1 product (1 new or changed, 0 unchanged)"
        );
        let many = ImportSummary {
            records: 3,
            products: 2,
            unchanged: 3,
            moved_eans: 2,
            reassigned_eans: 1,
            ..ImportSummary::default()
        };
        assert_eq!(
            many.to_string(),
            "imported 3 fragments for 2 products (0 new or changed, 3 unchanged); \
             2 EANs moved between products of one brand; 1 EAN reassigned from another brand"
        );
    }
}
