//! A fresh PostgreSQL database per test, on the server named by
//! `SYNEDGE_TEST_POSTGRES_URL` (`.ci/run` starts one and sets it).
//!
//! Without that variable the PostgreSQL tests print a loud SKIPPED line and pass, unless
//! `SYNEDGE_REQUIRE_POSTGRES` is set: then they fail, so CI cannot skip them silently.
//! The URL must be a plain (non-TLS) one; the helper connects with tokio-postgres alone.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub const URL_VAR: &str = "SYNEDGE_TEST_POSTGRES_URL";
pub const REQUIRE_VAR: &str = "SYNEDGE_REQUIRE_POSTGRES";

/// The server's URL, or `None` after printing why the calling test is skipped.
///
/// # Panics
/// When `SYNEDGE_REQUIRE_POSTGRES` is set but there is no URL.
pub fn server_url(test: &str) -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            super::skip(
                test,
                REQUIRE_VAR,
                &format!(
                    "no PostgreSQL server (set {URL_VAR}, or run `bash .ci/run`, which starts one)"
                ),
            );
            None
        }
    }
}

/// A database created for one test and dropped (connections and all) when this is.
pub struct TestDb {
    /// The URL of the new database.
    pub url: String,
    pub name: String,
    /// The URL the database was created from, to drop it again.
    server: String,
}

impl TestDb {
    /// Creates `synedge_t_<unique>` on the configured server; `None` when skipped.
    pub async fn create(test: &str) -> Option<Self> {
        let server = server_url(test)?;
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "synedge_t_{}_{}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
            nanos
        );
        let client = connect(&server).await;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
        Some(Self {
            url: with_database(&server, &name),
            name,
            server,
        })
    }

    /// A plain client on this test's database, for setup and inspection.
    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.url).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop may run inside a runtime (or while a test unwinds): do the async work on a
        // thread and runtime of its own. Best effort: a leftover database is harmless.
        let (server, name) = (self.server.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&server, tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// Connects with tokio-postgres and drives the connection on the current runtime.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
    tokio::spawn(conn);
    client
}

/// `url` with its database (the path) replaced by `name`, query kept.
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (rest, String::new()),
    };
    let authority = before_query.split('/').next().unwrap_or(before_query);
    format!("{scheme}://{authority}/{name}{query}")
}
