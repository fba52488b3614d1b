//! What a store URL names (`origin.url`, `events.store`): parsed once, shown redacted.
//!
//! A leaf module (it uses only [`crate::url::redact`], itself a leaf): the configuration
//! validates with it, the command line and the catalog import open stores with it, and
//! [`crate::origin::open`] is the one place that turns a [`StoreUrl`] into a store. No one
//! else splits a URL on `://`.
//!
//! | scheme | store | checked here |
//! |---|---|---|
//! | `sqlite://PATH` | the embedded file | a file path (not `:memory:`, not `file:`) |
//! | `postgres://`, `postgresql://` | the fleet database | tokio-postgres can read it; a host; libpq's TLS parameters |
//! | `http://`, `https://` | an upstream content service | a host, a valid port, a path prefix without query |
//!
//! Invariant: no error message contains the URL's password: URLs are shown through
//! [`redact`].

use std::fmt;

use crate::url::redact;

/// Which kind of store a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Sqlite,
    Postgres,
    Http,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::Http => "http",
        }
    }
}

/// A store URL that has been checked for its scheme's shape. Connecting may still fail.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreUrl {
    /// As given, secrets included: what connections are made with. Never shown.
    raw: String,
    scheme: Scheme,
}

/// Why a string is not a store URL: a phrase to follow the key's name (`origin.url must
/// …`), never containing the URL's secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreUrlError(pub String);

/// What every message about an unusable URL ends with.
pub const ACCEPTED: &str = "use sqlite://PATH (for example sqlite://data/synedge.db), postgres://USER@HOST/DATABASE or http(s)://HOST/PREFIX";

impl StoreUrl {
    /// Parses and checks `url`.
    ///
    /// # Errors
    /// An unknown scheme, or a URL its scheme's store could not use.
    pub fn parse(url: &str) -> Result<Self, StoreUrlError> {
        let err = |why: String| Err(StoreUrlError(why));
        let Some((scheme, rest)) = url.split_once("://") else {
            return err(format!("must be a URL; {ACCEPTED}"));
        };
        let scheme = if scheme == "sqlite" {
            Scheme::Sqlite
        } else if scheme == "postgres" || scheme == "postgresql" {
            Scheme::Postgres
        } else if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") {
            Scheme::Http
        } else {
            return err(format!(
                "uses {}://, which this build does not support; {ACCEPTED}",
                redact(scheme)
            ));
        };
        match scheme {
            Scheme::Sqlite => {
                if rest.is_empty() || rest == ":memory:" || rest.starts_with("file:") {
                    return err(format!(
                        "must name a file path, as in sqlite://data/synedge.db (got {:?})",
                        redact(url)
                    ));
                }
            }
            Scheme::Postgres => {
                PostgresParts::parse(url)?;
            }
            Scheme::Http => {
                HttpParts::parse(url)?;
            }
        }
        Ok(Self {
            raw: url.to_owned(),
            scheme,
        })
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The URL as given, secrets included: for connecting only, never for messages.
    pub fn as_secret_str(&self) -> &str {
        &self.raw
    }

    /// The URL with its secrets hidden: for messages and logs.
    pub fn redacted(&self) -> String {
        redact(&self.raw)
    }

    /// The file path of a `sqlite://` URL.
    pub fn sqlite_path(&self) -> Option<&str> {
        (self.scheme == Scheme::Sqlite).then(|| &self.raw["sqlite://".len()..])
    }

    /// The connection settings and TLS parameters of a `postgres://` URL.
    pub fn postgres(&self) -> Option<PostgresParts> {
        (self.scheme == Scheme::Postgres)
            .then(|| PostgresParts::parse(&self.raw).expect("invariant: checked by parse"))
    }

    /// The parts of an `http(s)://` URL.
    pub fn http(&self) -> Option<HttpParts> {
        (self.scheme == Scheme::Http)
            .then(|| HttpParts::parse(&self.raw).expect("invariant: checked by parse"))
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StoreUrl").field(&self.redacted()).finish()
    }
}

impl fmt::Display for StoreUrl {
    /// Redacted, always.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// A `postgres://` URL taken apart: tokio-postgres understands `sslmode=disable|prefer|
/// require` only and never verifies certificates, so libpq's TLS parameters are taken out
/// here (the store turns them into a rustls configuration).
#[derive(Clone)]
pub struct PostgresParts {
    /// Everything but the TLS parameters, as tokio-postgres reads it.
    pub config: tokio_postgres::Config,
    /// `sslmode`, one of disable, allow, prefer, require, verify-ca, verify-full.
    pub sslmode: Option<String>,
    /// `sslrootcert`: a PEM bundle's path, or `system`.
    pub sslrootcert: Option<String>,
    /// The URL without its password.
    pub shown: String,
}

/// The `sslmode` values libpq knows.
pub const SSL_MODES: [&str; 6] = [
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

impl PostgresParts {
    fn parse(url: &str) -> Result<Self, StoreUrlError> {
        let shown = redact(url);
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut kept = Vec::new();
        let mut sslmode = None;
        let mut sslrootcert = None;
        for piece in query.split('&').filter(|p| !p.is_empty()) {
            let Some((key, value)) = form_urlencoded::parse(piece.as_bytes()).next() else {
                continue;
            };
            match &*key {
                "sslmode" => sslmode = Some(value.into_owned()),
                "sslrootcert" => sslrootcert = Some(value.into_owned()),
                "sslcert" | "sslkey" | "sslpassword" | "sslcrl" | "sslcrldir" => {
                    return Err(StoreUrlError(format!(
                        "{shown}: {key} is not supported (client certificates and CRLs); \
                         authenticate with a password or trust rule instead"
                    )));
                }
                _ => kept.push(piece),
            }
        }
        if let Some(mode) = sslmode.as_deref().filter(|m| !SSL_MODES.contains(m)) {
            return Err(StoreUrlError(format!(
                "{shown}: sslmode={mode:?} is not one of {}",
                SSL_MODES.join(", ")
            )));
        }
        let rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let config: tokio_postgres::Config = rest.parse().map_err(|e| {
            StoreUrlError(format!(
                "{shown}: not a usable PostgreSQL URL ({e}); accepted: \
                 postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…&sslrootcert=…]"
            ))
        })?;
        if config.get_hosts().is_empty() {
            return Err(StoreUrlError(format!(
                "{shown}: the URL names no host (postgres://USER@HOST[:PORT]/DATABASE)"
            )));
        }
        Ok(Self {
            config,
            sslmode,
            sslrootcert,
            shown,
        })
    }
}

/// An `http(s)://[user[:password]@]host[:port][/prefix]` URL taken apart.
#[derive(Debug, Clone)]
pub struct HttpParts {
    pub https: bool,
    /// Host and port, as written (no userinfo).
    pub authority: http::uri::Authority,
    /// The path prefix, without a trailing `/`; empty for none.
    pub prefix: String,
    /// The userinfo, percent-decoded (`user:password`), for Basic authentication.
    pub credentials: Option<String>,
}

impl HttpParts {
    fn parse(url: &str) -> Result<Self, StoreUrlError> {
        let bad = |why: &str| Err(StoreUrlError(why.to_owned()));
        let Some((scheme, rest)) = url.split_once("://") else {
            return bad("must look like http://host/prefix");
        };
        let https = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return bad("must start with http:// or https://");
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.contains(['?', '#']) || path.contains(['?', '#']) {
            return bad("must not have a query or fragment: it is a path prefix");
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if hostport.is_empty() {
            return bad("must name a host");
        }
        let Ok(authority) = hostport.parse::<http::uri::Authority>() else {
            return bad("has an invalid host or port");
        };
        // `host:` and out-of-range ports parse as "no port" in `Authority`; refuse them.
        let port_given = hostport.len() > authority.host().len();
        let port_ok = authority.port_u16().is_some_and(|p| p != 0);
        if authority.host().is_empty() || (port_given && !port_ok) {
            return bad("has an invalid host or port");
        }
        let prefix = path.trim_end_matches('/').to_owned();
        if !prefix.is_empty() && prefix.parse::<http::uri::PathAndQuery>().is_err() {
            return bad("has a path prefix with characters that must be percent-encoded");
        }
        let credentials = match userinfo {
            None => None,
            Some(u) => match percent_decode(u) {
                Some(decoded) => Some(decoded),
                None => return bad("has credentials that are not valid percent-encoded UTF-8"),
            },
        };
        Ok(Self {
            https,
            authority,
            prefix,
            credentials,
        })
    }
}

/// `%XX` decoding to UTF-8 (the userinfo keeps `:` literal: it separates user and password).
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scheme_is_recognized_and_shown_without_secrets() {
        let s = StoreUrl::parse("sqlite://data/synedge.db").unwrap();
        assert_eq!(
            (s.scheme(), s.sqlite_path()),
            (Scheme::Sqlite, Some("data/synedge.db"))
        );
        let p = StoreUrl::parse("postgresql://app:hunter2@db.internal/synedge").unwrap();
        assert_eq!(p.scheme(), Scheme::Postgres);
        assert_eq!(p.to_string(), "postgresql://app:***@db.internal/synedge");
        assert!(!format!("{p:?}").contains("hunter2"));
        assert_eq!(
            p.as_secret_str(),
            "postgresql://app:hunter2@db.internal/synedge"
        );
        let h = StoreUrl::parse("HTTPS://edge:pw@content.example:8443/fragments/").unwrap();
        let parts = h.http().unwrap();
        assert!(parts.https);
        assert_eq!(parts.prefix, "/fragments");
        assert_eq!(parts.credentials.as_deref(), Some("edge:pw"));
        assert_eq!(parts.authority.as_str(), "content.example:8443");
    }

    #[test]
    fn unusable_urls_say_why_without_their_secrets() {
        for (url, needle) in [
            ("data/synedge.db", "must be a URL"),
            ("ftp://x", "ftp://, which this build does not support"),
            ("sqlite://", "file path"),
            ("sqlite://:memory:", "file path"),
            (
                "postgres://u:hunter2@db/x?sslmode=sometimes",
                "sslmode=\"sometimes\"",
            ),
            (
                "postgres://u:hunter2@db/x?sslcert=a.pem",
                "sslcert is not supported",
            ),
            ("postgres://u:hunter2@/x", "names no host"),
            ("http://", "must name a host"),
            ("http://host:0/p", "invalid host or port"),
            ("http://host/p?x=1", "query"),
            ("http://a%zz:b@host/p", "percent-encoded"),
        ] {
            let e = StoreUrl::parse(url).unwrap_err().to_string();
            assert!(e.contains(needle), "{url}: {e}");
            assert!(!e.contains("hunter2"), "{url}: {e}");
        }
    }
}
