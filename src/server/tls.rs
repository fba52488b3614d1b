//! HTTPS on the public listener: rustls on the ring provider, TLS 1.3 and 1.2 only,
//! ALPN `h2` then `http/1.1`, and a certificate that can be replaced while serving.
//!
//! The served certificate lives behind a resolver that every new handshake asks, so a
//! reload swaps one `Arc` and touches no open connection: they keep the session they
//! negotiated. [`Tls::run`] reloads when either PEM file changes (polled; a Kubernetes
//! secret update swaps a symlink, which a new inode shows) or on SIGHUP. A reload that
//! fails (a half-written file, a key that does not match) is logged and counted, and the
//! previous certificate stays in service.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

use crate::config::TlsConfig;
use crate::signals::Metrics;

/// How often the certificate files are checked for changes (a `stat` of each).
pub const RELOAD_POLL: Duration = Duration::from_secs(2);

/// A certificate or key that cannot be served. Each names the setting and the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The I/O error is in the message, not a `source`: `{e:#}` would print it twice.
    #[error("{key} {}: cannot read it ({cause})", path.display())]
    Read {
        key: &'static str,
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("tls.cert {}: no PEM certificate in it ({detail})", path.display())]
    NoCertificate { path: PathBuf, detail: String },
    #[error("tls.key {}: no PEM private key in it ({detail})", path.display())]
    NoKey { path: PathBuf, detail: String },
    #[error("tls.key {}: the key does not belong to the certificate in tls.cert {}", key.display(), cert.display())]
    Mismatch { cert: PathBuf, key: PathBuf },
    #[error("tls.key {}: unusable private key ({detail})", path.display())]
    BadKey { path: PathBuf, detail: String },
}

/// The HTTPS side of the public listener: the server config every handshake uses, and
/// what reloading needs.
#[derive(Debug, Clone)]
pub struct Tls {
    server: Arc<rustls::ServerConfig>,
    resolver: Arc<Resolver>,
    cert: PathBuf,
    key: PathBuf,
}

impl Tls {
    /// Loads `tls.cert` and `tls.key`; `None` when neither is set (config validation
    /// refuses one without the other).
    ///
    /// # Errors
    /// A file that cannot be read, holds no PEM certificate or key, or a key that does
    /// not match the certificate.
    pub fn load(config: &TlsConfig) -> Result<Option<Self>, TlsError> {
        let (Some(cert), Some(key)) = (&config.cert, &config.key) else {
            return Ok(None);
        };
        let resolver = Arc::new(Resolver(RwLock::new(Arc::new(certified_key(cert, key)?))));
        let mut server = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .expect("invariant: the ring provider supports TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Some(Self {
            server: Arc::new(server),
            resolver,
            cert: cert.clone(),
            key: key.clone(),
        }))
    }

    /// What the listener hands each connection's handshake.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        self.server.clone()
    }

    /// Reads both files again and, if they make a usable pair, serves them to every
    /// handshake from now on.
    ///
    /// # Errors
    /// As [`Tls::load`]; the certificate in service is then unchanged.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = Arc::new(certified_key(&self.cert, &self.key)?);
        *self
            .resolver
            .0
            .write()
            .unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }

    /// Reloads on SIGHUP and whenever either file changes, until `shutdown`.
    pub async fn run(self, metrics: Arc<Metrics>, shutdown: CancellationToken) {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangup = match signal(SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; certificates reload on file changes only");
                None
            }
        };
        let mut seen = self.fingerprint();
        let mut tick = tokio::time::interval(RELOAD_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let forced = tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => false,
                Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => true,
            };
            let now = self.fingerprint();
            if !forced && now == seen {
                continue;
            }
            // Remembered even when the reload fails: one warning per change, not one a tick.
            seen = now;
            match self.reload() {
                Ok(()) => {
                    metrics.tls_reload(true);
                    tracing::info!(cert = %self.cert.display(), trigger = if forced { "SIGHUP" } else { "file change" }, "reloaded the TLS certificate");
                }
                Err(e) => {
                    metrics.tls_reload(false);
                    tracing::warn!(error = %e, "TLS certificate not reloaded; still serving the previous one");
                }
            }
        }
    }

    /// What tells a changed file: identity, size and modification time of both files,
    /// through symlinks.
    fn fingerprint(&self) -> [Option<(u64, u64, u64, SystemTime)>; 2] {
        use std::os::unix::fs::MetadataExt as _;
        [&self.cert, &self.key].map(|p| {
            let m = std::fs::metadata(p).ok()?;
            Some((m.dev(), m.ino(), m.len(), m.modified().ok()?))
        })
    }
}

/// The server side of a TLS handshake on `stream`, to finish by `deadline`; `None` (logged
/// at debug: scanners and impatient clients are routine) when it fails or takes too long.
pub async fn accept(
    config: Arc<rustls::ServerConfig>,
    stream: TcpStream,
    deadline: tokio::time::Instant,
) -> Option<TlsStream<TcpStream>> {
    match tokio::time::timeout_at(deadline, TlsAcceptor::from(config).accept(stream)).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            None
        }
    }
}

/// Hands every handshake the certificate in service.
#[derive(Debug)]
struct Resolver(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.0
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|cause| TlsError::Read {
        key,
        path: path.to_owned(),
        cause,
    })
}

/// The chain in `cert` (leaf first) with the private key in `key`, checked to match.
fn certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let pem = read("tls.cert", cert)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::NoCertificate {
            path: cert.to_owned(),
            detail: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert.to_owned(),
            detail: "expected -----BEGIN CERTIFICATE-----".into(),
        });
    }
    let der =
        PrivateKeyDer::from_pem_slice(&read("tls.key", key)?).map_err(|e| TlsError::NoKey {
            path: key.to_owned(),
            detail: match e {
                rustls::pki_types::pem::Error::NoItemsFound => {
                    "expected -----BEGIN PRIVATE KEY----- (PKCS#8), RSA or EC PRIVATE KEY".into()
                }
                e => e.to_string(),
            },
        })?;
    CertifiedKey::from_der(chain, der, &provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::Mismatch {
            cert: cert.to_owned(),
            key: key.to_owned(),
        },
        rustls::Error::InvalidCertificate(e) => TlsError::NoCertificate {
            path: cert.to_owned(),
            detail: format!("the first certificate is unusable: {e}"),
        },
        e => TlsError::BadKey {
            path: key.to_owned(),
            detail: e.to_string(),
        },
    })
}
