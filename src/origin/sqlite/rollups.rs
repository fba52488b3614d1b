//! The events rollup (DESIGN.md §7) in the SQLite store: one row per day, retailer,
//! product, locale and event type, counts added by the events writer.

use rusqlite::{TransactionBehavior, params};

use super::SqliteOrigin;
use crate::events::{
    EventStore, EventStoreError, RollupKey, StatsCursor, StatsFilter, StatsLimit, StatsPage,
    StatsRow,
};

const SQL_ROLLUP_ADD: &str = "INSERT INTO event_rollup (day, retailer, product, locale, type, count) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
     ON CONFLICT (day, retailer, product, locale, type) DO UPDATE SET count = count + excluded.count";
/// One stats page: the rows after a key (the cursor, or the start of `from`) up to the
/// last day, in primary-key order. The row-value comparison on the primary key's columns
/// makes it one range of the table's own b-tree, so a page costs its rows, not the rows
/// before it. A retailer filter is checked on the rows of that range.
pub(super) const SQL_STATS: &str = "SELECT day, retailer, product, locale, type, count FROM event_rollup \
     WHERE (day, retailer, product, locale, type) > (?1, ?2, ?3, ?4, ?5) AND day <= ?6 \
     AND (?7 IS NULL OR retailer = ?7) \
     ORDER BY day, retailer, product, locale, type LIMIT ?8";

impl EventStore for SqliteOrigin {
    fn write_rollup(&self, rows: &[(RollupKey, u64)]) -> Result<(), EventStoreError> {
        self.write_rollup_sql(rows)
            .map_err(|e| self.event_error("writing events into", &e))
    }

    fn stats(
        &self,
        filter: &StatsFilter,
        after: Option<&StatsCursor>,
        limit: StatsLimit,
    ) -> Result<StatsPage, EventStoreError> {
        self.stats_sql(filter, after, limit)
            .map_err(|e| self.event_error("reading events from", &e))
    }
}

impl SqliteOrigin {
    fn event_error(&self, doing: &str, e: &rusqlite::Error) -> EventStoreError {
        let why = format!("{doing} {}: {e}", self.path);
        match super::map_error(e) {
            crate::origin::OriginError::Corrupt(_) => EventStoreError::Corrupt(why),
            _ => EventStoreError::Unavailable(why),
        }
    }

    fn write_rollup_sql(&self, rows: &[(RollupKey, u64)]) -> rusqlite::Result<()> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut add = tx.prepare_cached(SQL_ROLLUP_ADD)?;
            for (key, count) in rows {
                add.execute(params![
                    key.day.to_string(),
                    key.retailer.as_str(),
                    key.product.key(),
                    key.locale.as_str(),
                    key.kind.as_str(),
                    i64::try_from(*count).unwrap_or(i64::MAX),
                ])?;
            }
        }
        tx.commit()
    }

    fn stats_sql(
        &self,
        filter: &StatsFilter,
        after: Option<&StatsCursor>,
        limit: StatsLimit,
    ) -> rusqlite::Result<StatsPage> {
        let start = filter.start_after(after);
        // One row more than the page, to know whether another follows.
        let read = limit.get() + 1;
        let conn = self.writer();
        let mut stmt = conn.prepare_cached(SQL_STATS)?;
        let mut rows = Vec::with_capacity(read);
        let mut found = stmt.query(params![
            start.day,
            start.retailer,
            start.product,
            start.locale,
            start.kind,
            filter.last_day(),
            filter.retailer.as_ref().map(|r| r.as_str()),
            i64::try_from(read).unwrap_or(i64::MAX),
        ])?;
        while let Some(r) = found.next()? {
            rows.push(StatsRow {
                day: r.get(0)?,
                retailer: r.get(1)?,
                product: r.get(2)?,
                locale: r.get(3)?,
                kind: r.get(4)?,
                count: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
            });
        }
        Ok(StatsPage::from_rows(rows, limit))
    }
}
