//! Where the PostgreSQL store lives and how to reach it: `origin.url` parsed into a
//! `tokio_postgres::Config` plus a rustls connector, and the URL as it may be shown.
//!
//! tokio-postgres understands `sslmode=disable|prefer|require` only, and never verifies
//! certificates itself, so the libpq TLS parameters are taken out of the URL here and
//! turned into a rustls configuration with libpq's meaning:
//!
//! | `sslmode` | TLS | certificate check |
//! |---|---|---|
//! | absent, `disable`, `allow` | no | — |
//! | `prefer` | when the server offers it | none |
//! | `require` | yes | none; with `sslrootcert=`, the chain (as libpq does) |
//! | `verify-ca` | yes | the chain, against the roots |
//! | `verify-full` | yes | the chain and the host name |
//!
//! Roots come from `sslrootcert=PATH` (a PEM bundle) or, without it or with
//! `sslrootcert=system`, from the system trust store (rustls-native-certs). Client
//! certificates (`sslcert`, `sslkey`) are refused rather than ignored.
//!
//! Invariant: no message built here or by the store contains the password: URLs are
//! shown through [`crate::url::redact`].

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail};
use rustls::RootCertStore;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::net::tls;
use crate::store_url::{PostgresParts, SSL_MODES, StoreUrl};
use crate::url::redact;

/// `application_name` of pooled connections, unless the URL sets one.
pub const APPLICATION_NAME: &str = "synedge";

/// A parsed `origin.url`: everything needed to open connections.
#[derive(Clone)]
pub struct Target {
    /// Connection settings, TLS mode included; never shown (it holds the password).
    pub pg: tokio_postgres::Config,
    /// Always a rustls connector: with `SslMode::Disable` tokio-postgres never uses it,
    /// and one connector type keeps every connection the same type.
    pub tls: MakeRustlsConnect,
    /// The URL without its password, for messages and logs.
    pub shown: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("url", &self.shown)
            .finish_non_exhaustive()
    }
}

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verify {
    Nothing,
    Chain,
    ChainAndName,
}

impl Target {
    /// Parses a `postgres://` or `postgresql://` URL. `timeout` becomes the connect
    /// timeout unless the URL sets `connect_timeout`.
    ///
    /// # Errors
    /// A URL tokio-postgres cannot read, an unknown `sslmode`, client certificates, or a
    /// CA bundle that cannot be read; each message names the URL without its password.
    pub fn parse(url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let Some(parts) = StoreUrl::parse(url).ok().and_then(|u| u.postgres()) else {
            let shown = redact(url);
            if !matches!(url.split_once("://"), Some(("postgres" | "postgresql", _))) {
                bail!("{shown}: not a postgres:// URL");
            }
            // The leaf's message says what is wrong, without the password.
            let why = StoreUrl::parse(url).err().map(|e| e.0).unwrap_or_default();
            bail!("{why}");
        };
        let PostgresParts {
            config: mut pg,
            sslmode,
            sslrootcert: rootcert,
            shown,
        } = parts;
        let (mode, verify) = match sslmode.as_deref() {
            None | Some("disable" | "allow") => (SslMode::Disable, Verify::Nothing),
            Some("prefer") => (SslMode::Prefer, Verify::Nothing),
            Some("require") if rootcert.is_some() => (SslMode::Require, Verify::Chain),
            Some("require") => (SslMode::Require, Verify::Nothing),
            Some("verify-ca") => (SslMode::Require, Verify::Chain),
            Some("verify-full") => (SslMode::Require, Verify::ChainAndName),
            Some(other) => bail!(
                "{shown}: sslmode={other:?} is not one of {}",
                SSL_MODES.join(", ")
            ),
        };
        pg.ssl_mode(mode);
        let config = if verify == Verify::Nothing {
            tls::unverified_tls()?
        } else {
            let roots = match rootcert.as_deref() {
                None | Some("system") => system_roots(&shown)?,
                Some(path) => file_roots(path, &shown)?,
            };
            tls::verified_tls(roots, verify == Verify::ChainAndName)?
        };
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(timeout);
        }
        if pg.get_application_name().is_none() {
            pg.application_name(APPLICATION_NAME);
        }
        Ok(Self {
            pg,
            tls: MakeRustlsConnect::new(config),
            shown,
        })
    }
}

fn system_roots(shown: &str) -> anyhow::Result<RootCertStore> {
    tls::system_roots().map_err(|e| {
        anyhow!(
            "{shown}: the URL asks for a verified TLS connection, but no trusted root \
             certificates were found on this system{}; install ca-certificates, set \
             SSL_CERT_FILE, or name a CA bundle with sslrootcert=PATH",
            e.why()
        )
    })
}

fn file_roots(path: &str, shown: &str) -> anyhow::Result<RootCertStore> {
    tls::pem_roots(Path::new(path), shown, &format!("sslrootcert {path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(2);

    #[test]
    fn tls_modes_follow_libpq() {
        let t = Target::parse("postgres://u:pw@127.0.0.1:5/db", T).unwrap();
        assert_eq!(t.pg.get_ssl_mode(), SslMode::Disable);
        assert_eq!(t.pg.get_connect_timeout(), Some(&T));
        assert_eq!(t.pg.get_application_name(), Some(APPLICATION_NAME));
        assert_eq!(t.pg.get_dbname(), Some("db"));
        assert_eq!(t.shown, "postgres://u:***@127.0.0.1:5/db");
        for (mode, want) in [
            ("disable", SslMode::Disable),
            ("allow", SslMode::Disable),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
        ] {
            let url = format!(
                "postgresql://u@h/db?sslmode={mode}&application_name=edge-7&connect_timeout=3"
            );
            let t = Target::parse(&url, T).unwrap();
            assert_eq!(t.pg.get_ssl_mode(), want, "{mode}");
            assert_eq!(t.pg.get_application_name(), Some("edge-7"));
            assert_eq!(t.pg.get_connect_timeout(), Some(&Duration::from_secs(3)));
        }
    }

    #[test]
    fn verified_modes_read_the_ca_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").unwrap();
        let e = Target::parse(
            &format!(
                "postgres://u:pw@h/db?sslmode=verify-full&sslrootcert={}",
                empty.display()
            ),
            T,
        )
        .unwrap_err();
        let text = format!("{e:#}");
        assert!(text.contains("holds no PEM certificates"), "{text}");
        // Not just "pw": a temp dir named /tmp/.tmpwh… holds those letters too.
        assert!(!text.contains(":pw@"), "{text}");
        let missing = dir.path().join("missing.pem");
        let e = Target::parse(
            &format!(
                "postgres://u:pw@h/db?sslmode=verify-ca&sslrootcert={}",
                missing.display()
            ),
            T,
        )
        .unwrap_err();
        assert!(
            format!("{e:#}").contains("cannot read sslrootcert"),
            "{e:#}"
        );
    }

    #[test]
    fn bad_urls_are_named_without_their_password() {
        for (url, want) in [
            ("postgres://u:pw@h/db?sslmode=sometimes", "is not one of"),
            (
                "postgres://u:pw@h/db?sslcert=/c.pem",
                "sslcert is not supported",
            ),
            (
                "postgres://u:pw@h/db?bogus=1",
                "not a usable PostgreSQL URL",
            ),
            ("postgres://u:pw@h:port/db", "not a usable PostgreSQL URL"),
            ("mysql://u:pw@h/db", "not a postgres:// URL"),
        ] {
            let e = Target::parse(url, T).unwrap_err();
            let text = format!("{e:#}");
            assert!(text.contains(want), "{url}: {text}");
            assert!(!text.contains(":pw@"), "{url}: {text}");
            assert!(text.contains("u:***@h"), "{url}: {text}");
        }
    }
}
