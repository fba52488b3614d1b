//! The client side of the network, in one place: every outgoing HTTP(S) request and
//! every TLS client configuration the process makes comes from here.
//!
//! - [`tls`]: rustls client configurations on the ring provider: over the system's
//!   trusted roots, over a PEM CA bundle (`sslrootcert=`, the Kubernetes
//!   service-account CA), verified without the host name (`sslmode=verify-ca`), or not
//!   verified at all (`sslmode=require`, the health probe of our own listener).
//! - [`connector`]: the connector under a hyper-util keep-alive pool (TCP, connect
//!   timeout, TLS with ALPN `http/1.1`) and [`connector::pooled_client`], the one pool
//!   builder; the HTTP origin talks through it.
//! - [`endpoint`]: one HTTP(S) URL called one request per fresh connection: the scaler's
//!   actuators and its reads of peers' signals.
//! - [`peers`]: peers' admin listeners, `dns://NAME:PORT` resolved to every address:
//!   the scaler's sources and the cache's warm-up.
//! - [`probe`]: the blocking `GET /readyz` of `synedge healthcheck`.
//! - [`error_chain`]: an error and its sources on one line, for every message that
//!   quotes a client library's error (hyper, rustls, tokio-postgres).
//!
//! Users: `origin::http` (pool, system roots), `origin::postgres` (TLS for
//! tokio-postgres), `scaler::actuator` and `scaler::controller` (endpoints, the CA file,
//! peers), `warm` (endpoints, peers), and `cli`'s `healthcheck` (the probe, over the unverified configuration).
//!
//! A leaf: it imports nothing of the crate but [`crate::url`] (itself a leaf, for
//! showing URLs without credentials), so every layer may use it. Errors from
//! building a configuration are `anyhow` with the configuration key (`named`) first,
//! because they are startup errors shown to an operator as they are; errors at call
//! time are [`endpoint::CallError`].

pub mod connector;
pub mod endpoint;
pub mod peers;
pub mod probe;
pub mod tls;

/// The `User-Agent` of every request synedge makes.
pub const USER_AGENT: &str = concat!("synedge/", env!("CARGO_PKG_VERSION"));

/// An error and its sources, `: `-joined, skipping a source whose text the message
/// already holds: hyper's and tokio-postgres's top-level messages are terse ("error
/// trying to connect", "error connecting to server") and the useful part is the cause.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Layer(&'static str, #[source] Option<Box<Layer>>);

    fn chain(texts: &[&'static str]) -> Layer {
        texts
            .iter()
            .rev()
            .fold(None, |inner, t| Some(Layer(t, inner.map(Box::new))))
            .expect("at least one layer")
    }

    #[test]
    fn error_chain_joins_sources_and_skips_repeats() {
        assert_eq!(error_chain(&chain(&["alone"])), "alone");
        assert_eq!(
            error_chain(&chain(&[
                "error trying to connect",
                "tcp connect error",
                "Connection refused (os error 111)",
            ])),
            "error trying to connect: tcp connect error: Connection refused (os error 111)"
        );
        // A wrapper that already quotes its cause does not say it twice.
        assert_eq!(
            error_chain(&chain(&[
                "handshake failed: bad cert",
                "bad cert",
                "expired"
            ])),
            "handshake failed: bad cert: expired"
        );
    }
}
