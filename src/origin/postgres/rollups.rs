//! The events rollup (DESIGN.md §7) in the PostgreSQL store, from blocking code: the
//! events writer and the stats handler call it on blocking threads.

use anyhow::{Context as _, anyhow};

use super::{ARRAY_CHUNK, PostgresOrigin, describe, pooled, schema};
use crate::events::{
    EventStore, EventStoreError, RollupKey, StatsCursor, StatsFilter, StatsLimit, StatsPage,
    StatsRow,
};

/// Adds counts; equal keys within one batch are summed first (ON CONFLICT may touch a
/// row once per statement).
const SQL_ROLLUP_ADD: &str = "
INSERT INTO event_rollup (day, retailer, product, locale, type, count)
SELECT day, retailer, product, locale, type, sum(count)::bigint
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
       AS r(day, retailer, product, locale, type, count)
 GROUP BY 1, 2, 3, 4, 5
ON CONFLICT (day, retailer, product, locale, type)
DO UPDATE SET count = event_rollup.count + excluded.count";

/// One stats page: the rows after a key (the cursor, or the start of `from`) up to the
/// last day, in primary-key order. The row-value comparison is an index condition on the
/// primary key, so a page costs its rows, not the rows before it; the columns' `COLLATE
/// "C"` wins over the parameters' default collation, so the order is byte order, the one
/// [`StatsFilter::start_after`] compares cursors in.
const SQL_STATS: &str = "
SELECT day::text, retailer::text, product::text, locale::text, type::text, count
  FROM event_rollup
 WHERE (day, retailer, product, locale, type)
       > ($1::text, $2::text, $3::text, $4::text, $5::text)
   AND day <= $6::text
   AND ($7::text IS NULL OR retailer = $7::text)
 ORDER BY day, retailer, product, locale, type
 LIMIT $8::bigint";

impl EventStore for PostgresOrigin {
    fn write_rollup(&self, rows: &[(RollupKey, u64)]) -> Result<(), EventStoreError> {
        self.add_rollups(rows)
            .map_err(|e| EventStoreError::Unavailable(format!("{e:#}")))
    }

    fn stats(
        &self,
        filter: &StatsFilter,
        after: Option<&StatsCursor>,
        limit: StatsLimit,
    ) -> Result<StatsPage, EventStoreError> {
        self.read_stats(filter, after, limit)
            .map_err(|e| EventStoreError::Unavailable(format!("{e:#}")))
    }
}

impl PostgresOrigin {
    fn add_rollups(&self, rows: &[(RollupKey, u64)]) -> anyhow::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut columns: [Vec<String>; 5] = Default::default();
        let mut counts = Vec::with_capacity(rows.len());
        for (key, count) in rows {
            columns[0].push(key.day.to_string());
            columns[1].push(key.retailer.as_str().to_owned());
            columns[2].push(key.product.key());
            columns[3].push(key.locale.as_str().to_owned());
            columns[4].push(key.kind.as_str().to_owned());
            counts.push(i64::try_from(*count).unwrap_or(i64::MAX));
        }
        let pool = self.pool.clone();
        let shown = self.target.shown.clone();
        let ready = self.block_on_ready();
        self.block_on(async move {
            ready?;
            let mut client = pooled(&pool, &shown).await?;
            let write = async {
                let tx = client.transaction().await?;
                let stmt = tx.prepare_cached(SQL_ROLLUP_ADD).await?;
                let n = counts.len();
                let mut start = 0;
                while start < n {
                    let end = (start + ARRAY_CHUNK).min(n);
                    let c = |k: usize| &columns[k][start..end];
                    tx.execute(
                        &stmt,
                        &[&c(0), &c(1), &c(2), &c(3), &c(4), &&counts[start..end]],
                    )
                    .await?;
                    start = end;
                }
                tx.commit().await
            };
            write
                .await
                .map_err(|e| anyhow!("writing events into {shown}: {}", describe(&e)))
        })
    }

    fn read_stats(
        &self,
        filter: &StatsFilter,
        after: Option<&StatsCursor>,
        limit: StatsLimit,
    ) -> anyhow::Result<StatsPage> {
        let pool = self.pool.clone();
        let shown = self.target.shown.clone();
        let start = filter.start_after(after);
        let last_day = filter.last_day();
        let retailer = filter.retailer.as_ref().map(|r| r.as_str().to_owned());
        // One row more than the page, to know whether another follows.
        let read = i64::try_from(limit.get() + 1).unwrap_or(i64::MAX);
        let ready = self.block_on_ready();
        self.block_on(async move {
            ready?;
            let client = pooled(&pool, &shown).await?;
            let read_page = async {
                let stmt = client.prepare_cached(SQL_STATS).await?;
                let rows = client
                    .query(
                        &stmt,
                        &[
                            &start.day,
                            &start.retailer,
                            &start.product,
                            &start.locale,
                            &start.kind,
                            &last_day,
                            &retailer,
                            &read,
                        ],
                    )
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok(StatsRow {
                            day: r.try_get(0)?,
                            retailer: r.try_get(1)?,
                            product: r.try_get(2)?,
                            locale: r.try_get(3)?,
                            kind: r.try_get(4)?,
                            count: u64::try_from(r.try_get::<_, i64>(5)?).unwrap_or(0),
                        })
                    })
                    .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            };
            let rows = read_page
                .await
                .map_err(|e| anyhow!("reading events from {shown}: {}", describe(&e)))?;
            Ok(StatsPage::from_rows(rows, limit))
        })
    }
}

impl PostgresOrigin {
    /// Migrates (once) from blocking code, before an [`EventStore`] method's work.
    pub(super) fn block_on_ready(&self) -> anyhow::Result<()> {
        if self.ready.initialized() {
            return Ok(());
        }
        // The spawned future must own what it uses.
        let pool = self.pool.clone();
        let shown = self.target.shown.clone();
        self.block_on(async move {
            let mut client = pooled(&pool, &shown).await?;
            schema::migrate(&mut client)
                .await
                .with_context(|| format!("preparing the schema of {shown}"))
        })?;
        // Another caller may have set it meanwhile; either way the schema is current.
        let _ = self.ready.set(());
        Ok(())
    }
}
