//! rustls client configurations, all on the ring provider, built explicitly so that no
//! process-wide default provider is needed.
//!
//! Roots come from the system's trust store (rustls-native-certs: the container's
//! ca-certificates, honouring `SSL_CERT_FILE` and `SSL_CERT_DIR`; webpki-roots would
//! freeze a root list into the binary and ignore internal CAs) or from a PEM bundle
//! named in the configuration. Every error names the setting at fault first.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system's trust store held no usable root certificate.
#[derive(Debug)]
pub struct NoSystemRoots {
    /// The loader's first complaint, if it had one (an unreadable `SSL_CERT_FILE`).
    pub first_error: Option<String>,
}

impl NoSystemRoots {
    /// `" (first error)"`, or nothing: to end a sentence that says no roots were found.
    pub fn why(&self) -> String {
        self.first_error
            .as_ref()
            .map_or_else(String::new, |e| format!(" ({e})"))
    }
}

/// The system's trusted root certificates.
///
/// # Errors
/// Not one usable root certificate was found; callers say which setting needed them.
pub fn system_roots() -> Result<RootCertStore, NoSystemRoots> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(NoSystemRoots {
            first_error: found.errors.first().map(ToString::to_string),
        });
    }
    Ok(roots)
}

/// The certificates of the PEM bundle at `path`. Errors read `{named}: cannot read
/// {what}`, `{named}: {what} holds no PEM certificates`, …: `named` is the setting (or
/// the URL, shown without its password), `what` how the file is called in it.
///
/// # Errors
/// The file cannot be read, is not PEM, holds a certificate rustls refuses, or holds
/// no certificate at all.
pub fn pem_roots(path: &Path, named: &str, what: &str) -> anyhow::Result<RootCertStore> {
    let pem = std::fs::read(path).with_context(|| format!("{named}: cannot read {what}"))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| anyhow!("{named}: {what} is not a PEM bundle ({e})"))?;
        roots
            .add(cert)
            .map_err(|e| anyhow!("{named}: {what} holds an unusable certificate ({e})"))?;
    }
    if roots.is_empty() {
        bail!("{named}: {what} holds no PEM certificates");
    }
    Ok(roots)
}

/// An HTTP/1.1 client config over the system's trusted roots (the HTTP origin, the
/// webhook).
///
/// # Errors
/// No usable root certificate on this system. `key` names the setting that asked for
/// https, for the error.
pub fn system_tls(key: &str) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let roots = system_roots().map_err(|e| {
        anyhow!(
            "{key} is https, but no trusted root certificates were found on this \
             system{}; install ca-certificates or set SSL_CERT_FILE",
            e.why()
        )
    })?;
    client_tls(roots)
}

/// An HTTP/1.1 client config trusting only the PEM bundle at `path` (the Kubernetes
/// API's cluster CA). `key` names the setting, for errors.
///
/// # Errors
/// See [`pem_roots`].
pub fn ca_file_tls(path: &Path, key: &str) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    client_tls(pem_roots(path, key, &path.display().to_string())?)
}

/// An HTTP/1.1 client config (ALPN `http/1.1`) trusting exactly `roots` (tests, private
/// CAs).
///
/// # Errors
/// The ring provider refused the default protocol versions (it does not).
pub fn client_tls(roots: RootCertStore) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow!("invariant: ring supports the default TLS versions: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A client config that checks the chain against `roots` and, with `check_name`, the
/// host name too (`sslmode=verify-full`; without it `verify-ca`). No ALPN: PostgreSQL.
///
/// # Errors
/// The verifier cannot be built from `roots`.
pub fn verified_tls(
    roots: RootCertStore,
    check_name: bool,
) -> anyhow::Result<rustls::ClientConfig> {
    let provider = provider();
    let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::clone(&provider),
    )
    .build()
    .context("building the TLS certificate verifier")?;
    let verifier: Arc<dyn ServerCertVerifier> = if check_name {
        webpki
    } else {
        Arc::new(ChainOnly(webpki))
    };
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("invariant: the ring provider supports the default TLS versions")?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// A TLS client config that takes any certificate: for `sslmode=require` towards
/// PostgreSQL, and for `synedge healthcheck` probing its own HTTPS listener.
///
/// # Errors
/// The ring provider refused the default protocol versions (it does not).
pub fn unverified_tls() -> anyhow::Result<rustls::ClientConfig> {
    let provider = provider();
    Ok(
        rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| anyhow!("invariant: ring supports the default TLS versions: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth(),
    )
}

/// `sslmode=verify-ca`: the chain must lead to a trusted root; the name may differ.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Encrypted, not authenticated: `sslmode=require` (and `prefer`) without roots, as
/// libpq does it, and the health probe. The handshake signatures are still checked, so
/// the session is sound against passive listeners.
// SECURITY: this is what the operator asked for with sslmode=require (verify-full is
// the mode that stops an active man in the middle, and the postgres target docs say
// so), and what a probe of the process's own loopback port needs.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_ca_file_is_refused_naming_the_setting_and_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("missing.pem");
        let e = ca_file_tls(&missing, "scaler.actuator.ca_file").expect_err("no such file");
        let text = format!("{e:#}");
        assert!(
            text.starts_with(&format!(
                "scaler.actuator.ca_file: cannot read {}: ",
                missing.display()
            )),
            "{text}"
        );
        // The OS's reason follows, from the chain.
        assert!(text.contains("No such file"), "{text}");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").expect("write");
        let e = pem_roots(&empty, "postgres://u:***@h/db", "sslrootcert /x.pem")
            .expect_err("no certificates");
        assert_eq!(
            e.to_string(),
            "postgres://u:***@h/db: sslrootcert /x.pem holds no PEM certificates"
        );

        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        let e = ca_file_tls(&broken, "k").expect_err("not PEM");
        assert!(
            e.to_string()
                .starts_with(&format!("k: {} is not a PEM bundle (", broken.display())),
            "{e}"
        );
    }

    #[test]
    fn http_configs_announce_http1_and_the_others_nothing() {
        let c = client_tls(RootCertStore::empty()).expect("config");
        assert_eq!(c.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert!(unverified_tls().expect("config").alpn_protocols.is_empty());
        assert!(
            verified_tls(RootCertStore::empty(), true).is_err(),
            "a verifier needs at least one root"
        );
    }

    #[test]
    fn no_system_roots_reads_as_the_end_of_a_sentence() {
        let none = NoSystemRoots { first_error: None };
        assert_eq!(none.why(), "");
        let some = NoSystemRoots {
            first_error: Some("unreadable".to_owned()),
        };
        assert_eq!(some.why(), " (unreadable)");
    }
}
