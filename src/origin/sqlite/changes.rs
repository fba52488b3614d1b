//! The change log: how a running server learns what an import by another process (the
//! command line) changed, in the spirit of the PostgreSQL store's NOTIFY.
//!
//! Every committed import bumps `catalog_meta.change_counter` and, in the same
//! transaction, stores its [`Invalidation`] under the new counter ([`record`]). A server
//! polls the counter (one indexed row, every [`CHANGE_POLL_INTERVAL`]) and, when it moved,
//! reads the rows since the counter it saw and applies them in order ([`watch`]).
//! Only the last [`CHANGE_LOG_KEEP`] imports are kept: a server that fell further behind
//! (or finds a row it cannot read) drops everything instead, which is always correct.

use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, params};
use tokio::sync::mpsc;

use super::ReadPool;
use crate::origin::Invalidation;

/// How often a running server looks for imports made by other processes.
pub const CHANGE_POLL_INTERVAL: Duration = Duration::from_millis(250);
/// Imports whose invalidations are kept. A server polling every 250 ms misses one only
/// if this many imports commit between two of its polls.
pub const CHANGE_LOG_KEEP: i64 = 64;

const SQL_CHANGE_COUNTER: &str = "SELECT change_counter FROM catalog_meta WHERE id = 1";
const SQL_CHANGES_SINCE: &str = "SELECT counter, invalidation FROM catalog_changes \
     WHERE counter > ?1 AND counter <= ?2 ORDER BY counter";

/// Counts one more import and stores `inv` under its number; drops rows past the
/// retention. Call it inside the import's transaction.
pub(super) fn record(conn: &Connection, inv: &Invalidation) -> rusqlite::Result<i64> {
    conn.execute(
        "UPDATE catalog_meta SET change_counter = change_counter + 1 WHERE id = 1",
        [],
    )?;
    let counter: i64 = conn.query_row(SQL_CHANGE_COUNTER, [], |r| r.get(0))?;
    let json = serde_json::to_string(inv).expect("invariant: an Invalidation serializes");
    conn.execute(
        "INSERT INTO catalog_changes (counter, invalidation) VALUES (?1, ?2)",
        params![counter, json],
    )?;
    conn.execute(
        "DELETE FROM catalog_changes WHERE counter <= ?1",
        [counter - CHANGE_LOG_KEEP],
    )?;
    Ok(counter)
}

/// The invalidations of imports committed from now on, until the receiver is dropped.
/// Spawns the poller; call it from within the runtime.
pub(super) fn watch(readers: Arc<ReadPool>) -> mpsc::Receiver<Invalidation> {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHANGE_POLL_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut seen: Option<i64> = None;
        while !tx.is_closed() {
            tick.tick().await;
            let now = match readers
                .run(|c| c.query_row(SQL_CHANGE_COUNTER, [], |r| r.get::<_, i64>(0)))
                .await
            {
                Ok(now) => now,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the catalog's change counter failed");
                    continue;
                }
            };
            let Some(before) = seen.filter(|&b| b != now) else {
                seen = Some(now);
                continue;
            };
            let rows = readers
                .run(move |c| {
                    c.prepare_cached(SQL_CHANGES_SINCE)?
                        .query_map([before, now], |r| {
                            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                        })?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .await;
            let rows = match rows {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the catalog's change log failed");
                    continue;
                }
            };
            for inv in replay(before, now, &rows) {
                if inv.is_empty() {
                    continue;
                }
                tracing::info!(
                    counter = now,
                    keys = inv.keys.len(),
                    surrogate_keys = inv.surrogate_keys.len(),
                    all = inv.all,
                    "the catalog changed; dropping what the import changed"
                );
                if tx.send(inv).await.is_err() {
                    return;
                }
            }
            seen = Some(now);
        }
    });
    rx
}

/// What a server that saw counter `before` must apply to reach `now`, given the change
/// log rows after `before`: each import's invalidation in order, or one `all` when a row
/// is missing (pruned) or unreadable.
fn replay(before: i64, now: i64, rows: &[(i64, String)]) -> Vec<Invalidation> {
    let complete = now > before
        && rows.len() as i64 == now - before
        && rows
            .iter()
            .zip(before + 1..)
            .all(|((c, _), want)| *c == want);
    if !complete {
        tracing::warn!(
            seen = before,
            counter = now,
            "the change log does not reach back to the last import this server saw; dropping every cached fragment"
        );
        return vec![Invalidation::all()];
    }
    let mut out = Vec::with_capacity(rows.len());
    for (counter, json) in rows {
        match serde_json::from_str::<Invalidation>(json) {
            Ok(inv) => out.push(inv),
            Err(e) => {
                tracing::warn!(counter, error = %e, "unreadable change log row; dropping every cached fragment");
                return vec![Invalidation::all()];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(counter: i64, inv: &Invalidation) -> (i64, String) {
        (counter, serde_json::to_string(inv).unwrap())
    }

    #[test]
    fn replay_applies_each_import_or_drops_everything_after_a_gap() {
        let one = Invalidation {
            surrogate_keys: vec!["product:acme/x1".into()],
            ..Invalidation::default()
        };
        let two = Invalidation {
            unidentified: true,
            ..Invalidation::default()
        };
        let rows = [row(5, &one), row(6, &two)];
        assert_eq!(replay(4, 6, &rows), vec![one.clone(), two]);
        // Row 5 was pruned: the server cannot know what it changed.
        assert_eq!(replay(4, 6, &rows[1..]), vec![Invalidation::all()]);
        assert_eq!(replay(3, 6, &rows), vec![Invalidation::all()]);
        assert_eq!(
            replay(4, 5, &[(5, "{not json".into())]),
            vec![Invalidation::all()]
        );
    }
}
