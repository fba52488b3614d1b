//! The embedded default origin store: one SQLite file (`sqlite://data/synedge.db`).
//!
//! Role: answer cache misses ([`Origin::fetch`], see `lookup`), take catalog imports
//! ([`crate::origin::import::CatalogStore`], see `import`), keep the events rollup
//! ([`crate::events::EventStore`], see `rollups`), and tell a running server what an
//! import by another process changed (the change log, see `changes`). The file and its
//! schema are created on first open; older files are migrated then (see `schema`).
//!
//! Concurrency: the file runs in WAL mode, so readers never wait for the writer and the
//! server keeps answering while `synedge import` writes. Lookups run on a small pool of
//! read-only connections inside `spawn_blocking` (SQLite calls block), at most
//! [`READ_POOL_SIZE`] at once; a tokio semaphore queues the rest without tying up
//! blocking threads. Writes go through one read-write connection behind a mutex.
//!
//! Invariants:
//! - An import is one transaction: a catalog is in the store completely or not at all.
//! - `content.version` is [`crate::origin::content_version`] of `content.html`, and
//!   `gzip`/`br` are compressions of that same `html` (or NULL when not worth it), so the
//!   cache can send them as they are. `updated_at` changes only when `version` does.
//! - Grants are only ever added by imports.
//! - `catalog_meta.change_counter` grows by one with every committed import, and the
//!   change log holds that import's invalidation under the same number.

mod changes;
mod import;
mod lookup;
mod rollups;
mod schema;

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

pub use changes::{CHANGE_LOG_KEEP, CHANGE_POLL_INTERVAL};
pub use schema::SCHEMA_VERSION;

use super::{BoxFuture, Invalidation, Lookup, Origin, OriginError};
use crate::domain::FragmentRequest;

/// Read-only connections kept for lookups. Lookups are indexed point reads that take
/// microseconds; a few connections saturate the two cores this runs on, and the cache
/// in front makes misses rare.
pub const READ_POOL_SIZE: usize = 4;

/// The SQLite origin store. Cheap to share behind an `Arc`.
pub struct SqliteOrigin {
    /// For messages: which file this is.
    path: String,
    /// Bounds every lookup, including the wait for a pooled connection.
    timeout: Duration,
    /// The one read-write connection: imports and maintenance queries. Writers are
    /// serialized by SQLite anyway; the mutex makes that explicit in-process.
    writer: Mutex<Connection>,
    /// Shared with the blocking lookup tasks, which must be `'static`.
    readers: Arc<ReadPool>,
}

/// Read-only connections, opened on demand and kept for reuse.
struct ReadPool {
    path: String,
    timeout: Duration,
    /// Idle connections. Held only to push or pop, never during a query.
    idle: Mutex<Vec<Connection>>,
    /// One permit per connection that may exist: with a permit, popping or opening a
    /// connection never exceeds [`READ_POOL_SIZE`].
    permits: Arc<Semaphore>,
}

impl fmt::Debug for SqliteOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteOrigin")
            .field("path", &self.path)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SqliteOrigin {
    /// Opens the store at `path` (a file path, the part after `sqlite://`), creating the
    /// parent directories, the file and the schema when missing. `timeout` bounds every
    /// lookup and is SQLite's busy timeout (how long a write waits for another writer).
    ///
    /// # Errors
    /// The file cannot be created or opened, is not a SQLite database, or has a schema
    /// version this build does not know.
    pub fn open(path: &str, timeout: Duration) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !path.is_empty() && path != ":memory:" && !path.starts_with("file:"),
            "sqlite origin path must be a file path, as in sqlite://data/synedge.db (got {path:?})"
        );
        if let Some(dir) = Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("creating directory {} for the sqlite origin", dir.display())
            })?;
        }
        let mut writer = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("opening sqlite origin {path}"))?;
        writer.busy_timeout(timeout)?;
        let mode: String = writer
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .with_context(|| format!("{path} is not a usable SQLite database"))?;
        anyhow::ensure!(
            mode.eq_ignore_ascii_case("wal"),
            "sqlite origin {path}: could not switch to WAL mode (journal_mode is {mode})"
        );
        // WAL makes NORMAL durable across application crashes; only an OS crash or power
        // loss can lose the last commits, never corrupt the file.
        writer.pragma_update(None, "synchronous", "NORMAL")?;
        writer.pragma_update(None, "foreign_keys", true)?;
        writer.set_prepared_statement_cache_capacity(32);
        schema::migrate(&mut writer).with_context(|| format!("preparing the schema of {path}"))?;

        Ok(Self {
            path: path.to_owned(),
            timeout,
            writer: Mutex::new(writer),
            readers: Arc::new(ReadPool {
                path: path.to_owned(),
                timeout,
                idle: Mutex::new(Vec::with_capacity(READ_POOL_SIZE)),
                permits: Arc::new(Semaphore::new(READ_POOL_SIZE)),
            }),
        })
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock rolled back its transaction when the guard's
        // `Transaction` dropped; the connection itself is still usable.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ReadPool {
    /// Runs `f` on a pooled read-only connection, on a blocking thread.
    fn run<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> impl std::future::Future<Output = Result<T, OriginError>> + Send + 'static {
        let pool = Arc::clone(self);
        async move {
            let permit = Arc::clone(&pool.permits)
                .acquire_owned()
                .await
                .map_err(|_| OriginError::Unavailable("sqlite read pool closed".to_owned()))?;
            let task = tokio::task::spawn_blocking(move || {
                // The permit lives until the connection is back in the pool.
                let _permit = permit;
                pool.blocking(f).map_err(|e| map_error(&e))
            });
            match task.await {
                Ok(result) => result,
                Err(_) => Err(OriginError::Unavailable(
                    "sqlite lookup task failed".to_owned(),
                )),
            }
        }
    }

    /// Runs `f` on a pooled read-only connection, on this (blocking) thread; without a
    /// permit, as the import's diffing (a batch job) does.
    fn blocking<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let popped = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match popped {
            Some(c) => c,
            None => self.open_reader()?,
        };
        let result = f(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < READ_POOL_SIZE {
            idle.push(conn);
        }
        result
    }

    fn open_reader(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(self.timeout)?;
        conn.set_prepared_statement_cache_capacity(16);
        Ok(conn)
    }
}

/// Damaged data is [`OriginError::Corrupt`] (retrying will not help); anything else,
/// such as a locked or missing file, is [`OriginError::Unavailable`].
fn map_error(e: &rusqlite::Error) -> OriginError {
    use rusqlite::ErrorCode;
    let corrupt = match e {
        rusqlite::Error::SqliteFailure(f, _) => {
            matches!(f.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
        }
        rusqlite::Error::InvalidColumnType(..) | rusqlite::Error::FromSqlConversionFailure(..) => {
            true
        }
        _ => false,
    };
    if corrupt {
        OriginError::Corrupt(format!("sqlite: {e}"))
    } else {
        OriginError::Unavailable(format!("sqlite: {e}"))
    }
}

impl Origin for SqliteOrigin {
    fn fetch<'a>(&'a self, req: &'a FragmentRequest) -> BoxFuture<'a, Result<Lookup, OriginError>> {
        let req = req.clone();
        let work = self.readers.run(move |conn| lookup::lookup(conn, &req));
        let timeout = self.timeout;
        Box::pin(async move {
            tokio::time::timeout(timeout, work)
                .await
                .map_err(|_| OriginError::Timeout(timeout))?
        })
    }

    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn product_count(&self) -> BoxFuture<'_, Result<Option<u64>, OriginError>> {
        let work = self
            .readers
            .run(|c| c.query_row("SELECT count(*) FROM products", [], |r| r.get::<_, i64>(0)));
        Box::pin(async move { Ok(Some(u64::try_from(work.await?).unwrap_or(0))) })
    }

    /// Reads the change log: an import committed by another process (the command line,
    /// while the server runs) drops, within [`CHANGE_POLL_INTERVAL`], exactly what it
    /// changed (see `changes`).
    fn invalidations(&self) -> Option<tokio::sync::mpsc::Receiver<Invalidation>> {
        Some(changes::watch(Arc::clone(&self.readers)))
    }
}

#[cfg(test)]
mod tests;
